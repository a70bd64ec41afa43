/* tracer.h — the tracer struct, shared by tracer.c and span.c only.
 * Everything else reaches the tracer through tracewire.h and the
 * per-concept private headers. */
#ifndef TW_TRACER_H
#define TW_TRACER_H

#include "baggage_restrictions.h"
#include "config.h"
#include "counters.h"
#include "reporter.h"
#include "sampler.h"
#include "span_data.h"
#include "throttler.h"

struct tw_tracer {
    tw_config cfg;                 /* deep copy, immutable after tw_tracer_new */
    twp_process proc;              /* strings in proc_arena */
    twp_arena proc_arena;
    char *client_uuid;             /* our generated client-uuid value in proc_arena,
                                      NULL when the config's tags replaced it */
    twp_counters ctr;
    twp_sampler *sampler;
    twp_reporter *reporter;
    twp_sampling_hook hook;
    twp_throttler *throttler;      /* NULL: debug spans are not throttled */
    twp_restrictions *restrictions;   /* NULL: every baggage key is allowed */
    _Atomic int closed;
    size_t max_tag_len;            /* cfg.max_tag_value_length, unsigned */
    size_t max_tb_len;             /* cfg.max_traceback_length: a log's "stack" field */
    int const_decision;            /* const sampler: 0/1, else -1 (ask the sampler) */
    _Atomic unsigned sampling_kick_gen;  /* fork generation whose reporter was started
                                            for remote polling (span.c), 0 = none */
    struct tw_tracer *live_prev, *live_next;   /* atfork list (tracer.c) */
    void *alloc_base;              /* the block this 64-byte aligned struct lies in */
    twp_scope *scopes;             /* instrumentation scopes (scope.c), freed with the tracer */
    uint32_t nscopes;
};

/* scope.c: frees the tracer's scopes (tw_tracer_free, after the reporter). */
void twp_scopes_free(tw_tracer *t);
/* span.c: fills v from f (key and value copied into a), strings clipped to
 * max bytes; ARRAY values included. For records and scopes alike. */
tw_status twp_value_fill(twp_arena *a, size_t max, twp_value *v, const tw_field *f);

#endif
