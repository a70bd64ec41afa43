/* counter_names.c — tw_counters by name, the one list every face reads.
 *
 * Python's Tracer.metrics(), Lua's tracer:counters() and the Redis module's
 * INFO section all list every counter; each kept its own list, so a counter
 * added to the core (the agent controls' of #20) reached one face and not
 * another. They now walk this table. The static assertion below fails the
 * build when tw_counters gains a field this table does not name.
 */
#define TW_BUILDING 1
#include "tracewire.h"

#include <stddef.h>

#define C(f) { #f, offsetof(tw_counters, f) }
static const struct counter_name {
    const char *name;
    size_t off;
} names[] = {
    C(spans_started), C(spans_sampled), C(spans_finished), C(spans_reported),
    C(dropped_queue_full), C(dropped_too_large), C(dropped_send_failed), C(dropped_on_close),
    C(send_failures), C(batches_sent), C(bytes_sent), C(sampler_updates),
    C(baggage_dropped), C(spans_discarded),
    C(throttled_debug_spans), C(throttler_updates_ok), C(throttler_updates_err),
    C(baggage_updates_ok), C(baggage_updates_err), C(baggage_truncations),
    C(baggage_restrictions_updates_ok), C(baggage_restrictions_updates_err),
};
#undef C
#define NNAMES (sizeof names / sizeof names[0])

/* every field is a uint64_t counter, and every one is named above */
_Static_assert(sizeof(tw_counters) == NNAMES * sizeof(uint64_t),
               "tw_counters has a field counter_names.c does not name");

int tw_counters_at(const tw_counters *c, size_t i, const char **name, uint64_t *value)
{
    if (i >= NNAMES)
        return 0;
    if (name)
        *name = names[i].name;
    if (value)
        *value = c ? *(const uint64_t *)(const void *)((const char *)c + names[i].off) : 0;
    return 1;
}
