/* exporter.c — what the exporters share: Jaeger ClientStats from the
 * tracer's counters, and the accounting of an HTTP POST's result (used by
 * the Thrift HTTP and OTLP exporters alike). The interface is exporter.h.
 */
#include "exporter.h"

#include <inttypes.h>
#include <stdio.h>

void twp_exporter_client_stats(const twp_exporter_env *env, int64_t too_large_pending,
                               twp_client_stats *cs)
{
    cs->full_queue_dropped = (int64_t)atomic_load(&env->ctr->dropped_queue_full);
    cs->too_large_dropped = (int64_t)atomic_load(&env->ctr->dropped_too_large) + too_large_pending;
    cs->failed_to_emit = (int64_t)atomic_load(&env->ctr->dropped_send_failed);
}

tw_status twp_exporter_http_result(const twp_exporter_env *env, const char *url,
                                   const twp_batch *b, tw_status st,
                                   const twp_http_result *res, size_t len, char *why,
                                   size_t cap)
{
    if (res->failures)
        TWP_INC(env->ctr, send_failures, res->failures);
    if (st == TW_OK) {
        TWP_INC(env->ctr, batches_sent, 1);
        TWP_INC(env->ctr, bytes_sent, len);
        /* OTLP partial success: the receiver does not say which spans it
         * rejected, only how many; the counts stay exact */
        size_t ok = b->n;
        if (res->rejected > 0)
            ok = res->rejected >= (int64_t)b->n ? 0 : b->n - (size_t)res->rejected;
        for (size_t i = 0; i < ok; i++)
            b->state[i] |= TWP_SPAN_DELIVERED;
        if (res->rejected > 0) {
            snprintf(why, cap, "POST %s: the receiver rejected %" PRId64 " spans", url,
                     res->rejected);
            return TW_ERR_IO;
        }
        return TW_OK;
    }
    if (st == TW_ERR_TIMEOUT)
        for (size_t i = 0; i < b->n; i++)
            b->state[i] |= TWP_SPAN_ABANDONED;
    snprintf(why, cap, "POST %s: %s (%d attempt%s)", url, res->error, res->attempts,
             res->attempts == 1 ? "" : "s");
    return st;
}
