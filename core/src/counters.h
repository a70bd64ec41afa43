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

/* Live counters, owned by the tracer, written by span.c and the reporter.
 *
 * The four counters every span writes on the application's thread (started,
 * sampled, finished, discarded by reporter none) are sharded: each thread
 * adds to one of TWP_CTR_SHARDS cache-line-sized shards (picked round-robin
 * the first time it counts, twp_ctr_shard_index) and readers sum the shards.
 * Two threads then never write the same cache line per span -- one shared
 * line cost 3.6x the single-thread CPU per span with two threads (issue
 * #21). The adds stay atomic (threads beyond the shard count share one), so
 * every sum read once the writers stopped is exact. The other counters move
 * on the reporter's thread or on rare paths and stay single, on their own
 * cache line (the struct is 64-byte aligned: its owner, tracer.c, allocates
 * it so). */
#define TWP_CTR_SHARDS 16
typedef struct twp_ctr_shard {
    _Alignas(64) _Atomic uint64_t spans_started;
    _Atomic uint64_t spans_sampled, spans_finished, spans_discarded;
} twp_ctr_shard;

typedef struct twp_counters {
    _Alignas(64) _Atomic uint64_t spans_reported;
    _Atomic uint64_t dropped_queue_full, dropped_too_large, dropped_send_failed, dropped_on_close;
    _Atomic uint64_t send_failures, batches_sent, bytes_sent, sampler_updates;
    _Atomic uint64_t baggage_dropped;   /* propagation.c via tw_tracer_inject/extract */
    /* the agent's controls (throttler.c, baggage_restrictions.c, span.c) */
    _Atomic uint64_t throttled_debug_spans, throttler_updates_ok, throttler_updates_err;
    _Atomic uint64_t baggage_updates_ok, baggage_updates_err, baggage_truncations;
    _Atomic uint64_t baggage_restrictions_updates_ok, baggage_restrictions_updates_err;
    twp_ctr_shard shard[TWP_CTR_SHARDS];
} twp_counters;

/* This thread's shard (0 .. TWP_CTR_SHARDS-1), assigned on first use
 * (tracer.c; span.c uses ids.h's inline twp_ctr_shard_inline). */
unsigned twp_ctr_shard_index(void);
/* A sharded counter's value: the sum of its shards. */
uint64_t twp_ctr_sum(const twp_counters *c, size_t offset);
#define TWP_SHARDED_SUM(c, field) twp_ctr_sum((c), offsetof(twp_ctr_shard, field))
/* Adds to a sharded counter from any thread. */
#define TWP_INC_SHARDED(c, field, n) \
    atomic_fetch_add_explicit(&(c)->shard[twp_ctr_shard_index()].field, (uint64_t)(n), \
                              memory_order_relaxed)

#define TWP_INC(c, field, n) atomic_fetch_add_explicit(&(c)->field, (uint64_t)(n), memory_order_relaxed)

#endif
