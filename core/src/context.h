/* context.h — the span context's layout and builders (context.c), private to core/.
 */
#ifndef TW_CONTEXT_H
#define TW_CONTEXT_H

#define TW_BUILDING 1
#include "tracewire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ span context */

/* Immutable once built; one malloc holds the struct, the baggage array and
 * every string (context.c). A context with trace_lo == trace_hi == 0 carries
 * only baggage and/or a debug id (from a carrier without ids). */
typedef struct twp_baggage_item {
    const char *key, *val;
    uint32_t key_len, val_len;
} twp_baggage_item;

struct tw_span_context {
    uint64_t trace_hi, trace_lo, span_id, parent_id;
    unsigned flags;                  /* TW_FLAG_* */
    const char *debug_id;            /* jaeger-debug-id value or NULL */
    const char *tracestate;          /* W3C tracestate to re-emit, or NULL */
    const twp_baggage_item *baggage;
    uint32_t nbaggage;
    uint32_t debug_id_len, tracestate_len;
    bool trace_id_128bit_hex;        /* print 32 hex chars even if trace_hi == 0 */
};

/* new (tw_span_context_free): copies everything. baggage may be NULL when n is
 * 0. To add/replace one item use twp_context_with_baggage. */
tw_status twp_context_build(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
                            uint64_t parent_id, unsigned flags,
                            const twp_baggage_item *baggage, uint32_t nbaggage,
                            const char *debug_id, size_t debug_id_len,
                            const char *tracestate, size_t tracestate_len,
                            tw_span_context **out);
/* new: a copy of c with key set to val (replacing an existing key). */
tw_status twp_context_with_baggage(const tw_span_context *c, const char *key, size_t key_len,
                                   const char *val, size_t val_len, tw_span_context **out);
/* new: a copy of c with different ids/flags, keeping baggage and tracestate
 * (used by span start: child ids + parent's baggage). */
tw_status twp_context_child(const tw_span_context *parent, uint64_t trace_hi, uint64_t trace_lo,
                            uint64_t span_id, uint64_t parent_id, unsigned flags,
                            tw_span_context **out);

#endif
