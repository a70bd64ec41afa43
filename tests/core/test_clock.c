/* test_clock.c — tw_now_us against CLOCK_REALTIME: inside the window of two
 * clock_gettime reads, never backwards, across the TSC re-anchor interval and
 * in a forked child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static int64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Max distance (µs) of tw_now_us outside [before, after] over ms milliseconds. */
static int64_t worst_outside_window(int ms)
{
    int64_t worst = 0;
    int64_t end = realtime_us() + (int64_t)ms * 1000;
    while (realtime_us() < end) {
        int64_t a = realtime_us(), b = tw_now_us(), c = realtime_us();
        int64_t d = b < a ? a - b : (b > c ? b - c : 0);
        if (d > worst)
            worst = d;
        struct timespec nap = {0, 100000};
        nanosleep(&nap, NULL);
    }
    return worst;
}

static void now_tracks_the_realtime_clock(void **state)
{
    (void)state;
    /* 1.2 s: the first calibration and several re-anchors */
    int64_t worst = worst_outside_window(1200);
    printf("tw_now_us: worst %lld us outside the clock_gettime window\n", (long long)worst);
    assert_true(worst <= 20);
}

static void now_never_goes_backwards(void **state)
{
    (void)state;
    int64_t prev = tw_now_us(), end = realtime_us() + 600000;
    long n = 0, back = 0;
    while (realtime_us() < end) {
        int64_t t = tw_now_us();
        back += t < prev;
        prev = t;
        n++;
    }
    printf("tw_now_us: %ld reads, %ld backwards\n", n, back);
    assert_int_equal(back, 0);
}

static void forked_child_keeps_good_time(void **state)
{
    (void)state;
    tw_tracer *t;
    assert_int_equal(tw_tracer_new(NULL, &t), TW_OK);   /* atfork registered */
    (void)tw_now_us();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(worst_outside_window(400) <= 20 ? 0 : 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(now_tracks_the_realtime_clock),
        cmocka_unit_test(now_never_goes_backwards),
        cmocka_unit_test(forked_child_keeps_good_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
