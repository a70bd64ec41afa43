/* clock.c — wall-clock time for span timestamps.
 *
 * A sampled span reads the clock twice, so the read is a large share of the
 * span's cost. clock_gettime(CLOCK_REALTIME) goes through the vDSO (no
 * syscall) but orders its TSC read (rdtscp / lfence) and walks the kernel's
 * seqlock: ~28 ns on the reference VM, where a plain rdtsc costs ~11 ns.
 *
 * So on x86-64, when the kernel itself keeps time with the TSC (current
 * clocksource "tsc", which it only selects when the TSC is invariant and
 * synchronised across CPUs) we do what the vDSO does, without the ordering:
 *   now = anchor_ns + (rdtsc() - anchor_tsc) * ns_per_tick
 * The anchor is re-taken from clock_gettime at least every ~250 ms, which
 * also re-measures ns_per_tick over that interval, so NTP slewing, clock
 * steps and VM migration are followed within a quarter second; the error in
 * between is bounded by the frequency error (< 1 µs per 250 ms in practice).
 * A re-anchor never moves time back by less than 100 µs (the new anchor
 * starts where the old one had got to), so span durations do not shrink
 * across it; larger steps are real clock steps and are followed.
 * The first ~20 ms of a process use clock_gettime while the first frequency
 * measurement accumulates. Anything unexpected (TSC behind the anchor, an
 * implausible frequency, a re-anchor race) falls back to clock_gettime for
 * that call. TW_CLOCK=vdso in the environment disables the TSC path.
 *
 * The anchor is a seqlock over atomics: readers never block; one writer at a
 * time (try-lock), others fall back to clock_gettime meanwhile. Unsampled
 * spans never read the clock.
 */
#include "process_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#  include <x86intrin.h>
#  define TW_HAVE_TSC 1
#else
#  define TW_HAVE_TSC 0
#endif

static inline int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t twp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#if TW_HAVE_TSC

enum { MODE_UNKNOWN, MODE_VDSO, MODE_CALIBRATING, MODE_TSC };

#define FIRST_CALIBRATION_NS 20000000    /* 20 ms */
#define REANCHOR_NS          250000000   /* 250 ms */

static _Atomic int mode = MODE_UNKNOWN;
static _Atomic uint64_t seq;            /* odd while the anchor is written */
static _Atomic uint64_t a_tsc, a_ns, a_mult, a_max_delta;   /* mult: ns/tick << 32 */
static atomic_flag writer = ATOMIC_FLAG_INIT;

/* Whether the kernel keeps time with the TSC and the CPU says it is invariant. */
static bool tsc_trusted(void)
{
    const char *e = getenv("TW_CLOCK");
    if (e && strcmp(e, "vdso") == 0)
        return false;
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x80000007u)
        return false;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000007u), "c"(0));
    if (!(d & (1u << 8)))    /* invariant TSC */
        return false;
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
    if (!f)
        return false;
    char buf[32] = "";
    bool ok = fgets(buf, sizeof buf, f) && strncmp(buf, "tsc\n", 4) == 0;
    fclose(f);
    return ok;
}

/* A (tsc, ns) pair read close together: a pair whose clock_gettime took
 * longer than ~4000 ticks (~1-2 µs; preempted or interrupted) is retried,
 * and after a few tries the sample is refused. */
static bool sample(uint64_t *tsc, int64_t *ns)
{
    for (int i = 0; i < 4; i++) {
        uint64_t t1 = __rdtsc();
        *ns = realtime_ns();
        uint64_t t2 = __rdtsc();
        if (t2 > t1 && t2 - t1 < 4000) {
            *tsc = t1 + (t2 - t1) / 2;
            return true;
        }
    }
    return false;
}

static void publish(uint64_t tsc, int64_t ns, uint64_t mult)
{
    /* ~REANCHOR_NS of ticks, so (delta * mult) fits in 64 bits */
    uint64_t max_delta = (uint64_t)(((unsigned __int128)REANCHOR_NS << 32) / mult);
    /* Seqlock without fences (TSan supports no atomic_thread_fence): the
     * field stores are release stores after the odd sequence number, so a
     * reader whose acquire load sees a new field also sees seq moved on. */
    uint64_t s = atomic_fetch_add_explicit(&seq, 1, memory_order_acq_rel);
    atomic_store_explicit(&a_tsc, tsc, memory_order_release);
    atomic_store_explicit(&a_ns, (uint64_t)ns, memory_order_release);
    atomic_store_explicit(&a_mult, mult, memory_order_release);
    atomic_store_explicit(&a_max_delta, max_delta, memory_order_release);
    atomic_store_explicit(&seq, s + 2, memory_order_release);
}

/* ns per tick << 32 from two samples; 0 if implausible (0.05 .. 20 GHz). */
static uint64_t measure(uint64_t t0, int64_t n0, uint64_t t1, int64_t n1)
{
    if (t1 <= t0 || n1 <= n0)
        return 0;
    uint64_t mult = (uint64_t)(((unsigned __int128)(uint64_t)(n1 - n0) << 32) / (t1 - t0));
    if (mult < (1ull << 32) / 20 || mult > (1ull << 32) * 20)
        return 0;
    return mult;
}

/* Slow path: decide, calibrate, re-anchor. Always returns a valid time. */
__attribute__((noinline, cold)) static int64_t slow_now_ns(int m)
{
    static uint64_t cal_tsc;
    static int64_t cal_ns;
    if (m == MODE_UNKNOWN) {
        if (atomic_flag_test_and_set_explicit(&writer, memory_order_acquire))
            return realtime_ns();
        if (atomic_load(&mode) == MODE_UNKNOWN) {
            if (tsc_trusted() && sample(&cal_tsc, &cal_ns)) {
                atomic_store(&mode, MODE_CALIBRATING);
            } else {
                atomic_store(&mode, MODE_VDSO);
            }
        }
        atomic_flag_clear_explicit(&writer, memory_order_release);
        return realtime_ns();
    }
    if (atomic_flag_test_and_set_explicit(&writer, memory_order_acquire))
        return realtime_ns();   /* someone else re-anchors right now */
    uint64_t t;
    int64_t ns;
    if (!sample(&t, &ns)) {
        atomic_flag_clear_explicit(&writer, memory_order_release);
        return realtime_ns();   /* try again on a later call */
    }
    if (atomic_load(&mode) == MODE_CALIBRATING) {
        if (ns - cal_ns >= FIRST_CALIBRATION_NS) {
            uint64_t mult = measure(cal_tsc, cal_ns, t, ns);
            if (mult) {
                publish(t, ns, mult);
                atomic_store(&mode, MODE_TSC);
            } else {
                atomic_store(&mode, MODE_VDSO);
            }
        }
    } else {
        /* re-anchor, re-measuring the frequency over the elapsed interval */
        uint64_t t0 = atomic_load_explicit(&a_tsc, memory_order_relaxed);
        int64_t n0 = (int64_t)atomic_load_explicit(&a_ns, memory_order_relaxed);
        uint64_t old_mult = atomic_load_explicit(&a_mult, memory_order_relaxed);
        uint64_t mult = measure(t0, n0, t, ns);
        if (!mult || t - t0 < 1000)   /* clock stepped back, or too close: keep the rate */
            mult = old_mult;
        /* Where the old anchor says we are. If it is slightly ahead of the
         * fresh reading (frequency error), start the new anchor there, so
         * time never steps back at a re-anchor; a real clock step (more than
         * 100 µs) is followed as is. */
        if (t > t0 && t - t0 <= atomic_load_explicit(&a_max_delta, memory_order_relaxed) * 2) {
            int64_t extrap = n0 + (int64_t)(((unsigned __int128)(t - t0) * old_mult) >> 32);
            if (extrap > ns && extrap - ns < 100000)
                ns = extrap;
        }
        publish(t, ns, mult);
    }
    atomic_flag_clear_explicit(&writer, memory_order_release);
    return ns;
}

static inline int64_t now_ns(void)
{
    int m = atomic_load_explicit(&mode, memory_order_relaxed);
    if (__builtin_expect(m == MODE_VDSO, 0))
        return realtime_ns();
    if (__builtin_expect(m != MODE_TSC, 0))
        return slow_now_ns(m);
    uint64_t s = atomic_load_explicit(&seq, memory_order_acquire);
    uint64_t t0 = atomic_load_explicit(&a_tsc, memory_order_acquire);
    uint64_t n0 = atomic_load_explicit(&a_ns, memory_order_acquire);
    uint64_t mult = atomic_load_explicit(&a_mult, memory_order_acquire);
    uint64_t max_delta = atomic_load_explicit(&a_max_delta, memory_order_acquire);
    if (__builtin_expect((s & 1) || atomic_load_explicit(&seq, memory_order_relaxed) != s, 0))
        return realtime_ns();
    uint64_t d = __rdtsc() - t0;
    if (__builtin_expect(d > max_delta, 0))   /* stale anchor, or TSC behind it */
        return slow_now_ns(m);
    return (int64_t)(n0 + ((d * mult) >> 32));
}

int64_t tw_now_us(void)
{
    return now_ns() / 1000;
}

void twp_clock_after_fork(void)
{
    /* a thread of the parent may have been re-anchoring at fork time */
    atomic_flag_clear(&writer);
}

#else /* !TW_HAVE_TSC */

int64_t tw_now_us(void)
{
    return realtime_ns() / 1000;
}

void twp_clock_after_fork(void)
{
}

#endif
