/* ids.h — the id generator's hot path, inline for span.c (ids.c has the
 * design notes, the seeding and the fork handling). */
#ifndef TW_IDS_H
#define TW_IDS_H

#include "process_state.h"
#include "span_data.h"

typedef struct twp_rng {
    uint64_t s[4];    /* xoshiro256** state */
    unsigned gen;     /* fork generation it was seeded in; 0 = never */
} twp_rng;

/* All of the core's per-thread state in one block, so a span start in a
 * shared library (general-dynamic TLS) resolves one address, not two:
 * the id generator and span.c's handle/record free lists. */
struct twp_home;
typedef struct twp_tls_state {
    twp_rng rng;
    struct {
        struct tw_span *spans;
        twp_span_data *datas;
        unsigned nspans, ndatas;
        bool registered, dead;
        struct twp_home *home;      /* where this thread's records come back (span.c) */
        char *ops;                  /* span.c: free operation-name blocks */
        unsigned nops;
    } cache;
    unsigned ctr_shard;   /* counter shard + 1 (counters.h); 0 = not assigned yet */
    /* span.c: records of other threads' homes this thread frees, gathered
     * per home and handed back a chain at a time (cold: the reporter's
     * thread) */
    struct twp_ret {
        struct twp_home *home;
        twp_span_data *head, *tail;
        unsigned n;
    } ret[4];
} twp_tls_state;

extern _Atomic unsigned twp_fork_gen;
extern __thread twp_tls_state twp_tls;

/* &twp_tls, computed once and kept: without the empty asm gcc treats the
 * address as a constant and recomputes it after calls, and in a shared
 * library (general-dynamic TLS: the Python extension, the nginx and Redis
 * modules) every recomputation is a __tls_get_addr call -- callgrind of the
 * nginx module counted 5 in one span start and 4 per record freed. */
static inline __attribute__((always_inline)) twp_tls_state *twp_tls_get(void)
{
    twp_tls_state *p = &twp_tls;
    __asm__("" : "+r"(p));
    return p;
}
#define twp_rng_tls (twp_tls.rng)
void twp_rng_reseed(unsigned gen);   /* cold */

static inline uint64_t twp_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t twp_rng_next(twp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = twp_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = twp_rotl(s[3], 45);
    return result;
}

static inline twp_rng *twp_rng_get(twp_tls_state *tls)
{
    twp_rng *r = &tls->rng;
    unsigned g = atomic_load_explicit(&twp_fork_gen, memory_order_relaxed);
    if (__builtin_expect(r->gen != g, 0))
        twp_rng_reseed(g);
    return r;
}

/* tls: &twp_tls, fetched once by the caller (one TLS lookup per call). */
static inline uint64_t twp_random_id_inline(twp_tls_state *tls)
{
    twp_rng *r = twp_rng_get(tls);
    uint64_t v;
    do {
        v = twp_rng_next(r);
    } while (__builtin_expect(v == 0, 0));
    return v;
}

static inline void twp_random_id2_inline(twp_tls_state *tls, uint64_t *a, uint64_t *b)
{
    twp_rng *r = twp_rng_get(tls);
    do {
        *a = twp_rng_next(r);
    } while (__builtin_expect(*a == 0, 0));
    do {
        *b = twp_rng_next(r);
    } while (__builtin_expect(*b == 0, 0));
}

/* This thread's counter shard (counters.h twp_counters), assigned
 * round-robin on first use so threads started together spread out. */
unsigned twp_ctr_shard_assign(twp_tls_state *tls);   /* cold */
static inline unsigned twp_ctr_shard_inline(twp_tls_state *tls)
{
    unsigned s = tls->ctr_shard;
    if (__builtin_expect(s == 0, 0))
        s = twp_ctr_shard_assign(tls);
    return s - 1;
}

#endif
