/* intern.c — inserts into a tracer's string table (intern.h has the design
 * and the lock-free lookup every span uses). */
#include "intern.h"

twp_intern twp_strings;

const char *twp_intern_insert(twp_intern *t, const char *p, size_t n, uint32_t h, uint32_t limit)
{
    if (atomic_load_explicit(&t->used, memory_order_relaxed) >= limit)
        return NULL;
    uint64_t a, b;
    twp_intern_words(p, n, &a, &b);
    for (uint32_t i = 0; i < TWP_INTERN_PROBES; i++) {
        twp_intern_slot *s = &t->slot[(h + i) & (TWP_INTERN_SLOTS - 1)];
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == 0 && atomic_compare_exchange_strong_explicit(&s->state, &st, 1,
                                                               memory_order_acquire,
                                                               memory_order_acquire)) {
            memset(s->str, 0, sizeof s->str);
            memcpy(s->str, p, n);
            atomic_fetch_add_explicit(&t->used, 1, memory_order_relaxed);
            atomic_store_explicit(&s->state, 2 + (uint32_t)n, memory_order_release);
            return s->str;
        }
        /* taken meanwhile, possibly by this very string */
        if (st == 2 + n && twp_intern_eq(s->str, p, n, a, b))
            return s->str;
    }
    return NULL;
}
