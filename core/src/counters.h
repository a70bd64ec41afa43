/* counters.h — the tracer's live counters (tw_counters as atomics), private to core/.
 */
#ifndef TW_COUNTERS_H
#define TW_COUNTERS_H

#define TW_BUILDING 1
#include "tracewire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ counters */

/* Live counters, owned by the tracer, written by span.c and the reporter. */
typedef struct twp_counters {
    _Atomic uint64_t spans_started, spans_sampled, spans_finished, spans_reported;
    _Atomic uint64_t dropped_queue_full, dropped_too_large, dropped_send_failed, dropped_on_close;
    _Atomic uint64_t send_failures, batches_sent, bytes_sent, sampler_updates;
    _Atomic uint64_t baggage_dropped;   /* propagation.c via tw_tracer_inject/extract */
    _Atomic uint64_t spans_discarded;
} twp_counters;

#define TWP_INC(c, field, n) atomic_fetch_add_explicit(&(c)->field, (uint64_t)(n), memory_order_relaxed)

#endif
