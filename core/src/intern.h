/* intern.h — the process's table of short strings (tag keys, operation
 * names) that packed span records (span_pack.c) refer to instead of
 * holding a copy. Private to core/.
 *
 * Why: a buffered span's strings are mostly the same few keys and names
 * in every span ("http.method", "GET /api"): one shared copy each lets a
 * packed span hold a 1-2 byte reference and its values only (issues #21,
 * #16). The hot path does not look strings up (a lookup costs more
 * instructions than copying a short key into the record's arena);
 * twp_span_pack does, for spans that wait long (the memory reporter). The
 * table is one per process (twp_strings), never freed: an entry outlives
 * every packed span and unpacked record that refers to it, whichever
 * tracer made it, and a forked child inherits it as it is (a slot claimed
 * by a thread that is gone in the child stays unused).
 *
 * Shape: open addressing over a fixed array of slots, each holding up to
 * TWP_INTERN_MAX_LEN bytes inline. Lookups are lock-free reads of slots that
 * never change once published (a slot's state is stored with release after
 * its bytes, read with acquire), so threads finding a key share a read-only
 * cache line and never write. An insert claims an empty slot with one CAS;
 * two threads inserting the same new key at once may both succeed, leaving
 * two equal copies, which is harmless. The table stops taking new strings
 * when TWP_INTERN_FULL slots are used (callers give operation names, whose
 * cardinality the application controls, a lower limit so keys keep room):
 * a string it does not hold is simply copied into the record, as before.
 */
#ifndef TW_INTERN_H
#define TW_INTERN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TWP_INTERN_SLOTS   512u   /* power of two */
#define TWP_INTERN_MAX_LEN 31u    /* + NUL in a slot's 32 bytes */
#define TWP_INTERN_FULL    384u   /* slots in use at which inserts stop */
#define TWP_INTERN_PROBES  16u

typedef struct twp_intern_slot {
    char str[TWP_INTERN_MAX_LEN + 1];   /* NUL-terminated, zero-padded */
    _Atomic uint32_t state;             /* 0 empty, 1 being written, 2 + len ready */
} twp_intern_slot;

typedef struct twp_intern {
    _Atomic uint32_t used;              /* slots claimed (written by inserts only) */
    twp_intern_slot slot[TWP_INTERN_SLOTS];
} twp_intern;

/* Loads of at most n bytes, within [p, p + n): the first and last 8 (or 4)
 * bytes, overlapping for short strings; for n < 4 the bytes one by one. */
static inline void twp_intern_words(const char *p, size_t n, uint64_t *a, uint64_t *b)
{
    if (n >= 8) {
        memcpy(a, p, 8);
        memcpy(b, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        *a = x;
        *b = y;
    } else {
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++)
            x |= (uint64_t)(unsigned char)p[i] << (8 * i);
        *a = x;
        *b = 0;
    }
}

/* Equality of the n bytes at p and q (n <= TWP_INTERN_MAX_LEN), given p's
 * words from twp_intern_words. */
static inline bool twp_intern_eq(const char *q, const char *p, size_t n, uint64_t a, uint64_t b)
{
    uint64_t c, d;
    twp_intern_words(q, n, &c, &d);
    if (a != c || b != d)
        return false;
    if (n > 16) {   /* the middle bytes the two words did not cover */
        uint64_t e, f, g, h;
        memcpy(&e, p + 8, 8);
        memcpy(&f, p + n - 16, 8);
        memcpy(&g, q + 8, 8);
        memcpy(&h, q + n - 16, 8);
        return e == g && f == h;
    }
    return true;
}

static inline uint32_t twp_intern_hash(size_t n, uint64_t a, uint64_t b)
{
    uint64_t h = (a ^ ((b << 29) | (b >> 35)) ^ (uint64_t)n) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 40);
}

extern twp_intern twp_strings;   /* intern.c: the process's table */

const char *twp_intern_insert(twp_intern *t, const char *p, size_t n, uint32_t h,
                              uint32_t limit);   /* intern.c, cold */

/* The table's copy of p[0..n) (NUL-terminated), inserting it while the
 * table has room (up to limit slots used); NULL when n is too long or the
 * table is full. Never blocks. */
static inline const char *twp_intern_get(twp_intern *t, const char *p, size_t n, uint32_t limit)
{
    if (n > TWP_INTERN_MAX_LEN)
        return NULL;
    uint64_t a, b;
    twp_intern_words(p, n, &a, &b);
    uint32_t h = twp_intern_hash(n, a, b);
    for (uint32_t i = 0; i < TWP_INTERN_PROBES; i++) {
        twp_intern_slot *s = &t->slot[(h + i) & (TWP_INTERN_SLOTS - 1)];
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == 2 + n && twp_intern_eq(s->str, p, n, a, b))
            return s->str;
        if (st == 0)
            break;
    }
    return twp_intern_insert(t, p, n, h, limit);
}

#endif
