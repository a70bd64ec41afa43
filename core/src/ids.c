/* ids.c — span and trace ids.
 *
 * Every thread owns a xoshiro256** generator (256-bit state, a few ns per id)
 * seeded from getrandom(2), so threads never share state or locks. Fork safety
 * without a getpid() on the hot path: a process-wide generation counter is
 * bumped by the atfork child handler (twp_ids_after_fork, called from
 * tracer.c's handler); a thread whose saved generation differs reseeds before
 * its next id. The forking thread is the only thread of the child, so one
 * check covers every case. If getrandom is unavailable the seed mixes time,
 * pid, tid and addresses through splitmix64 — weaker, never fatal.
 *
 * Global state: fork_gen (documented above); per-thread: the generator.
 */
#include "internal.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic unsigned fork_gen = 1;

static __thread struct {
    uint64_t s[4];
    unsigned gen;     /* 0 = never seeded */
} rng;

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* cold and out of line: keeps the hot path free of callee-saved spills */
__attribute__((noinline, cold)) static void reseed(unsigned gen)
{
    uint64_t seed[4] = {0, 0, 0, 0};
    size_t got = 0;
    while (got < sizeof(seed)) {
        ssize_t n = getrandom((char *)seed + got, sizeof(seed) - got, GRND_NONBLOCK);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    /* Always mix in process-specific entropy too: cheap, and it keeps the
     * fallback (no getrandom) from repeating across forks. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                 ((uint64_t)getpid() << 16) ^ (uint64_t)syscall(SYS_gettid) ^
                 (uint64_t)(uintptr_t)&rng ^ rng.s[0];
    for (int i = 0; i < 4; i++)
        seed[i] ^= splitmix64(&x);
    if ((seed[0] | seed[1] | seed[2] | seed[3]) == 0)
        seed[0] = 1;   /* xoshiro's only forbidden state */
    memcpy(rng.s, seed, sizeof(seed));
    rng.gen = gen;
}

static inline uint64_t next(void)
{
    uint64_t *s = rng.s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t twp_random_id(void)
{
    unsigned g = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (__builtin_expect(rng.gen != g, 0))
        reseed(g);
    uint64_t r;
    do {
        r = next();
    } while (__builtin_expect(r == 0, 0));
    return r;
}

void twp_random_id2(uint64_t *a, uint64_t *b)
{
    unsigned g = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (__builtin_expect(rng.gen != g, 0))
        reseed(g);
    do {
        *a = next();
    } while (__builtin_expect(*a == 0, 0));
    do {
        *b = next();
    } while (__builtin_expect(*b == 0, 0));
}

void twp_ids_after_fork(void)
{
    unsigned g = atomic_load_explicit(&fork_gen, memory_order_relaxed) + 1;
    if (g == 0)
        g = 1;    /* 0 marks "never seeded" */
    atomic_store_explicit(&fork_gen, g, memory_order_relaxed);
}
