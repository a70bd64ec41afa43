/* clock.c — wall-clock time for span timestamps.
 *
 * clock_gettime(CLOCK_REALTIME) is served by the vDSO on Linux (no syscall,
 * ~20 ns), which is cheaper than any caching scheme that stays correct across
 * threads. Unsampled spans never call it.
 */
#include "internal.h"

#include <time.h>

int64_t tw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t twp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
