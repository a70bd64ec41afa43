/* sampler.h — the sampler (sampler.c), private to core/.
 */
#ifndef TW_SAMPLER_H
#define TW_SAMPLER_H

#include "config.h"

/* Remote-sampling strategy JSON -> sampler (sampler.c). TW_ERR_CORRUPTED on bad
 * JSON; then nothing changes. */
typedef struct twp_sampler twp_sampler;
tw_status twp_sampler_apply_json(twp_sampler *s, const char *body, size_t len);

/* sampler.c. One sampler per tracer; decide() may be called from any thread
 * concurrently with twp_sampler_apply_json. */
typedef struct twp_sample_result {
    const char *type;       /* const|probabilistic|ratelimiting|lowerbound: a value
                             * slot's string (const_tags.h), so the sampler.type tag
                             * borrows it and the encoder copies its bytes whole */
    uint32_t type_len;
    double param;
    bool param_is_bool;     /* const sampler: param is a bool tag */
} twp_sample_result;
tw_status twp_sampler_new(const tw_config *cfg, twp_sampler **out);
void twp_sampler_free(twp_sampler *s);
bool twp_sampler_decide(twp_sampler *s, uint64_t trace_lo, const char *op, size_t op_len,
                        twp_sample_result *res);
/* Tests only: the rate limiters read now_ns() (monotonic nanoseconds)
 * instead of the monotonic clock; NULL restores the clock. Process-wide; set
 * it before creating the tracer whose limiters it should drive. */
void twp_sampler_set_clock_for_tests(int64_t (*now_ns)(void));
/* atfork: the rate limiters' spinlocks are reset in the child. */
void twp_sampler_after_fork_child(twp_sampler *s);

#endif
