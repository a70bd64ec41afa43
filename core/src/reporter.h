/* reporter.h — what the tracer hands finished spans to, private to core/:
 * the reporter interface (twp_reporter_ops), the factory that builds
 * reporters from a config (reporter_factory.c), the memory reporter
 * (reporter_memory.c) and the pipeline reporter (reporter.c: queue + thread
 * over the exporters of exporter.h).
 */
#ifndef TW_REPORTER_H
#define TW_REPORTER_H

#include "config.h"
#include "counters.h"
#include "span_data.h"

/* ------------------------------------------------------------ reporter hook */

/* The tracer hands every finished sampled span to exactly one reporter.
 * report() takes ownership of the record (frees it with twp_span_data_free
 * when done or dropped) and must not block or make syscalls on the caller's
 * thread. shard: the counter shard (counters.h) of the thread that started
 * the span, where the reporter counts and queues it (the finishing thread's
 * own would cost a thread-local lookup per span; any shard is correct). */
typedef struct twp_reporter twp_reporter;
typedef struct twp_reporter_ops {
    void (*report)(twp_reporter *r, twp_span_data *span, unsigned shard);
    tw_status (*flush)(twp_reporter *r, int timeout_ms);
    tw_status (*close)(twp_reporter *r, int timeout_ms);
    void (*free)(twp_reporter *r);
    /* pthread_atfork, called by tracer.c for every live tracer: prepare takes
     * the reporter's locks, parent releases them, child resets them, drops
     * inherited spans and forgets the (non-existent) thread. */
    void (*before_fork)(twp_reporter *r);
    void (*after_fork_parent)(twp_reporter *r);
    void (*after_fork_child)(twp_reporter *r);
    /* driven reporting (tw_tracer_drive_start / tw_tracer_drive); NULL:
     * this reporter has no thread to spare (memory, none) and declines */
    tw_status (*drive_start)(twp_reporter *r, tw_drive_kick_fn kick, void *ud);
    int64_t (*drive)(twp_reporter *r);
} twp_reporter_ops;
struct twp_reporter { const twp_reporter_ops *ops; };

/* ------------------------------------------------------------ reporter factory */

/* Remote sampling: the reporter thread fetches cfg->sampler_url?service=NAME
 * every sampler_refresh_ms (only when sampler_type is REMOTE) and hands the
 * body to apply(); sampler.c parses it and swaps strategies. A fetch failure
 * or bad body changes nothing. */
typedef struct twp_sampling_hook {
    tw_status (*apply)(void *ud, const char *body, size_t len);
    void *ud;
    /* the agent's other controls the same thread polls (NULL: off), borrowed */
    struct twp_throttler *throttler;
    struct twp_restrictions *restrictions;
} twp_sampling_hook;

/* new: builds the reporter(s) the config names (composite when several).
 * Borrows cfg, proc, ctr and hook for its whole life (the tracer owns them).
 * Starts no thread: the first report() or flush() does (lazily, per pid). */
tw_status twp_reporter_new(const tw_config *cfg, const twp_process *proc,
                           twp_counters *ctr, const twp_sampling_hook *hook,
                           twp_reporter **out);

/* Memory reporter access for tw_tracer_memory_spans. NULL if none configured. */
tw_status twp_reporter_memory_json(twp_reporter *r, int clear, char **json_out);

/* reporter_memory.c: the "memory" reporter. count_reported: whether it counts
 * spans_reported (off when it only mirrors another reporter). */
tw_status twp_memory_reporter_new(const tw_config *cfg, twp_counters *ctr, bool count_reported,
                                  twp_reporter **out);
bool twp_is_memory_reporter(const twp_reporter *r);
tw_status twp_memory_reporter_json(twp_reporter *r, int clear, char **json_out);


/* reporter.c — the queue + background thread reporter, over nexp exporters
 * (exporter.h; at most TWP_MAX_EXPORTERS) that it takes ownership of, even
 * when it fails. new: same borrowing contract as twp_reporter_new. */
#define TWP_MAX_EXPORTERS 8
typedef struct twp_exporter twp_exporter;
tw_status twp_pipeline_reporter_new(const tw_config *cfg, const twp_process *proc,
                                    twp_counters *ctr, const twp_sampling_hook *hook,
                                    twp_exporter *const *exporters, size_t nexp,
                                    twp_reporter **out);

#endif
