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
 * The hot path (twp_random_id_inline and friends) is inline in ids.h so a
 * span start makes no call for its ids; this file keeps the seeding.
 *
 * Global state: twp_fork_gen (documented above). Per-thread: twp_tls, the
 * core's one TLS block (the generator here, span.c's free lists beside it).
 */
#include "ids.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Atomic unsigned twp_fork_gen = 1;
__thread twp_tls_state twp_tls;

#define fork_gen twp_fork_gen
#define rng twp_rng_tls

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* cold and out of line: keeps the hot path free of callee-saved spills */
__attribute__((noinline, cold)) void twp_rng_reseed(unsigned gen)
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

uint64_t twp_random_id(void)
{
    return twp_random_id_inline(&twp_tls);
}

void twp_ids_after_fork(void)
{
    unsigned g = atomic_load_explicit(&fork_gen, memory_order_relaxed) + 1;
    if (g == 0)
        g = 1;    /* 0 marks "never seeded" */
    atomic_store_explicit(&fork_gen, g, memory_order_relaxed);
}
