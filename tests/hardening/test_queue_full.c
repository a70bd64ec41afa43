/* test_queue_full.c — the queue stays full for a long time.
 *
 *   test_queue_full [SECONDS] [http|udp-badhost]
 *
 * The collector hangs (accepts, never answers; 300 ms timeout, 1 retry), so
 * the queue (1000 spans) fills in milliseconds and stays full for SECONDS
 * (default 20) while one thread creates spans as fast as it can and a second
 * one at an ordinary rate. Checked and printed, per second and overall: spans
 * created, queue-full drops, RSS (must stay flat: growth after the first
 * second below HZ_RSS_SLACK_KB), span latency (p99 below 1 ms and calls over
 * 50 ms rare: a full queue never blocks the caller), and finished = reported
 * + dropped after close.
 */
#include "harness.h"

#include <string.h>

#define HZ_RSS_SLACK_KB (32 * 1024)

typedef struct producer {
    tw_tracer *t;
    _Atomic int *stop;
    int pause_us;
    uint64_t n;
    hz_lat lat;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    while (!atomic_load(p->stop)) {
        hz_lat_add(&p->lat, hz_one_span(p->t, "queue-full-op"));
        p->n++;
        if (p->pause_us) {
            struct timespec ts = { 0, p->pause_us * 1000L };
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 20;
    if (seconds < 2)
        seconds = 2;
    hz_http_server srv;
    if (hz_http_start(&srv, HZ_HANG) != 0)
        return 2;
    char ep[128];
    snprintf(ep, sizeof ep, "reporter.endpoint=http://127.0.0.1:%d/api/traces", srv.port);
    const char *kv[] = { "service_name=hardening-queue", "reporter.protocols=http", ep,
                         "reporter.timeout_ms=300", "reporter.retries=1", "reporter.queue_size=1000",
                         "reporter.batch_size=100", "reporter.flush_interval_ms=50",
                         "sampler.type=const", "sampler.param=1", NULL };
    tw_tracer *t = hz_tracer(kv);
    printf("queue-full: hanging collector, queue 1000, %d s\n", seconds);

    _Atomic int stop = 0;
    producer fast = { .t = t, .stop = &stop }, slow = { .t = t, .stop = &stop, .pause_us = 1000 };
    pthread_t a, b;
    pthread_create(&a, NULL, produce, &fast);
    pthread_create(&b, NULL, produce, &slow);
    long rss0 = 0, rss_max = 0;
    uint64_t last_n = 0, last_full = 0;
    for (int s = 1; s <= seconds; s++) {
        hz_sleep_ms(1000);
        tw_counters c;
        tw_tracer_counters(t, &c);
        long rss = hz_rss_kb();
        if (s == 1)
            rss0 = rss;
        if (rss > rss_max)
            rss_max = rss;
        uint64_t n = fast.n + slow.n;
        if (s <= 3 || s == seconds || s % 10 == 0)
            printf("  t=%2ds spans/s=%llu queue_full drops/s=%llu rss=%ld kB\n", s,
                   (unsigned long long)(n - last_n),
                   (unsigned long long)(c.dropped_queue_full - last_full), rss);
        last_n = n;
        last_full = c.dropped_queue_full;
    }
    atomic_store(&stop, 1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);

    hz_lat_summary lf = hz_lat_report(&fast.lat, "fast producer latency");
    hz_lat_summary ls = hz_lat_report(&slow.lat, "1 kHz producer latency");
    int64_t c0 = hz_mono_ns();
    tw_status cst = tw_tracer_close(t, 1000);
    double close_ms = (hz_mono_ns() - c0) / 1e6;
    printf("  close(1000)=%s in %.0f ms; rss first second=%ld kB max=%ld kB growth=%ld kB\n",
           tw_strerror(cst), close_ms, rss0, rss_max, rss_max - rss0);
    tw_counters c;
    hz_check_balance(t, "counters", &c);
    HZ_CHECK(c.dropped_queue_full > 0, "the queue never filled");
    HZ_CHECK(c.spans_reported == 0, "reported %llu through a hanging collector",
             (unsigned long long)c.spans_reported);
    /* never blocked by the full queue or the hanging collector: p99 stays in
     * microseconds and calls over 50 ms (preemption) stay rare */
    HZ_CHECK(lf.p99_us < 1000 && ls.p99_us < 1000, "p99 %.0f / %.0f us", lf.p99_us, ls.p99_us);
    HZ_CHECK(lf.slow <= lf.n / 10000 + 3 && ls.slow <= ls.n / 1000 + 3,
             "slow calls: %llu of %llu / %llu of %llu", (unsigned long long)lf.slow,
             (unsigned long long)lf.n, (unsigned long long)ls.slow, (unsigned long long)ls.n);
    HZ_CHECK(rss_max - rss0 < HZ_RSS_SLACK_KB, "RSS grew by %ld kB while the queue was full",
             rss_max - rss0);
    HZ_CHECK(close_ms < 1000 + 700, "close took %.0f ms", close_ms);
    tw_tracer_free(t);
    hz_http_stop(&srv);
    hz_lat_free(&fast.lat);
    hz_lat_free(&slow.lat);
    printf("  %s\n", hz_failures ? "FAILED" : "ok");
    return hz_failures ? 1 : 0;
}
