/* bench_span.c — CPU ns per span on the hot path of the C core, on one
 * thread and on 1, 2 and 4 threads sharing one tracer.
 *
 *   sampled root   start + 3 tags (str, int, bool) + finish + free, a root
 *                  span (so sampler tags are written too)
 *   sampled child  the same with a parent context
 *   unsampled      start + finish + free under const 0 (tags skipped)
 *   unsampled+tags the same with the 3 tag calls (each a no-op)
 *   N threads      sampled root spans from N threads on one tracer, with
 *                  reporter "none" (records freed at once: the span model,
 *                  counters and caches) and with the UDP pipeline reporter
 *                  (records queued for its thread: adds the queue)
 *
 * Figures are CPU time, not wall time: the machine is shared (builds and
 * other suites run beside this), and CPU time leaves out the periods a
 * thread was descheduled. Each thread reads its own CLOCK_THREAD_CPUTIME_ID
 * around its loop; the figure is the sum over the span-making threads
 * divided by the spans they made (the reporter thread's CPU is not in it),
 * so "N threads" is directly comparable with the 1-thread figure printed
 * beside it: equal means perfect scaling, 2x means every span costs twice
 * as much CPU because the threads fight over shared cache lines. The
 * threads start together (barrier); "parallelism" is their summed CPU
 * time over the run's wall time: 2.00 for two threads means they really ran
 * at the same time, ~1 means they took turns on a loaded box -- which hides
 * cache-line contention, so read a ratio together with its parallelism.
 * Each figure is the best of 5 runs.
 * Usage: bench_span [N]     (N spans per thread and run, default 2000000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tracewire.h"

/* The UDP rows: spans per thread and run, and a queue that holds 4 threads'
 * worth, so every span takes the queue's accept path (never "queue full",
 * which is cheaper and would flatter the figure); the queue is drained
 * between runs. */
#define UDP_SPANS 25000
#define UDP_QUEUE "110000"

static double clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static tw_tracer *tracer(const char *param, int udp_port)
{
    tw_config *c;
    tw_tracer *t;
    char port[16];
    snprintf(port, sizeof port, "%d", udp_port);
    if (tw_config_new(&c) || tw_config_set(c, "service_name", "bench") ||
        tw_config_set(c, "sampler.type", "const") || tw_config_set(c, "sampler.param", param) ||
        (udp_port ? tw_config_set(c, "reporter.protocols", "udp") ||
                    tw_config_set(c, "reporter.agent_host", "127.0.0.1") ||
                    tw_config_set(c, "reporter.agent_port", port) ||
                    tw_config_set(c, "reporter.queue_size", UDP_QUEUE)
                  : tw_config_set(c, "reporter.protocols", "none")) ||
        tw_tracer_new(c, &t)) {
        fprintf(stderr, "tracer setup failed\n");
        exit(1);
    }
    tw_config_free(c);
    return t;
}

typedef struct run {
    tw_tracer *t;
    const tw_span_context *parent;
    int tags;
    long n;
    pthread_barrier_t *bar;
    int drain;                             /* flush the tracer after each run */
    double cpu_ns, wall_start, wall_end;   /* out, per thread */
} run;

static void *loop(void *p)
{
    run *r = p;
    tw_span_ref ref = {TW_REF_CHILD_OF, r->parent};
    if (r->bar)
        pthread_barrier_wait(r->bar);
    r->wall_start = clock_ns(CLOCK_MONOTONIC);
    double c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < r->n; i++) {
        tw_span *s;
        if (tw_span_start(r->t, "GET /api/items", 14, r->parent ? &ref : NULL, r->parent ? 1 : 0, 0, &s))
            abort();
        if (r->tags) {
            tw_span_set_tag_str(s, "http.method", "GET");
            tw_span_set_tag_int(s, "http.status_code", 200);
            tw_span_set_tag_bool(s, "error", 0);
        }
        tw_span_finish(s, 0);
        tw_span_free(s);
    }
    r->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    r->wall_end = clock_ns(CLOCK_MONOTONIC);
    return NULL;
}

/* Best of 5: CPU ns per span over all threads; *overlap_out: the best
 * run's parallelism (summed thread CPU / wall time from first start to last
 * end). */
static double best_ns(const run *proto, int threads, double *overlap_out)
{
    double best = 1e18, best_overlap = 0;
    for (int rep = 0; rep < 5; rep++) {
        pthread_t th[8];
        run rs[8];
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, (unsigned)threads);
        for (int i = 0; i < threads; i++) {
            rs[i] = *proto;
            rs[i].bar = threads > 1 ? &bar : NULL;
        }
        if (threads == 1)
            loop(&rs[0]);
        else {
            for (int i = 0; i < threads; i++)
                pthread_create(&th[i], NULL, loop, &rs[i]);
            for (int i = 0; i < threads; i++)
                pthread_join(th[i], NULL);
        }
        pthread_barrier_destroy(&bar);
        double cpu = 0, first_start = 1e300, last_start = 0, first_end = 1e300, last_end = 0;
        for (int i = 0; i < threads; i++) {
            cpu += rs[i].cpu_ns;
            if (rs[i].wall_start < first_start) first_start = rs[i].wall_start;
            if (rs[i].wall_start > last_start) last_start = rs[i].wall_start;
            if (rs[i].wall_end < first_end) first_end = rs[i].wall_end;
            if (rs[i].wall_end > last_end) last_end = rs[i].wall_end;
        }
        (void)first_end;
        (void)last_start;
        double per = cpu / (double)(proto->n * threads);
        if (per < best) {
            best = per;
            best_overlap = cpu / (last_end - first_start);
        }
        if (proto->drain)   /* empty the queue before the next run */
            tw_tracer_flush(proto->t, 30000);
    }
    if (overlap_out)
        *overlap_out = best_overlap;
    return best;
}

/* A bound UDP socket nobody reads: datagrams land in its buffer and, once
 * it is full, are dropped by the kernel without an error to the sender. */
static int udp_sink(int *fd_out)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        perror("udp sink");
        exit(1);
    }
    *fd_out = fd;
    return ntohs(a.sin_port);
}

static void threads_rows(const char *label, tw_tracer *t, long n, int drain)
{
    run r = {t, NULL, 1, n, NULL, drain, 0, 0, 0};
    double one = best_ns(&r, 1, NULL);
    printf("%-30s 1 thread  %7.1f ns/span\n", label, one);
    for (int th = 2; th <= 4; th *= 2) {
        double ov;
        double per = best_ns(&r, th, &ov);
        printf("%-30s %d threads %7.1f ns/span  = %.2fx the 1-thread figure (parallelism %.2f)\n",
               label, th, per, per / one, ov);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    if (n <= 0)
        n = 2000000;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double l[3] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
            l[0] = -1;
        fclose(la);
    }
    printf("%ld CPUs online, load average %.2f (figures are CPU time; contention only shows "
           "while threads run at once: see parallelism)\n", cpus, l[0]);
    double t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    volatile int64_t sink = 0;
    for (long i = 0; i < n; i++)
        sink += tw_now_us();
    printf("%-34s %7.1f ns/call\n", "calibration: tw_now_us()",
           (clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / (double)n);
    tw_tracer *on = tracer("1", 0), *off = tracer("0", 0);
    tw_span *parent;
    tw_span_start(on, "parent", 6, NULL, 0, 0, &parent);

    run r = {on, NULL, 1, n, NULL, 0, 0, 0, 0};
    loop(&r);   /* warm caches */
    printf("%-34s %7.1f ns/span\n", "sampled root (start+3 tags+finish)", best_ns(&r, 1, NULL));
    r.parent = tw_span_get_context(parent);
    printf("%-34s %7.1f ns/span\n", "sampled child (start+3 tags+finish)", best_ns(&r, 1, NULL));
    run u = {off, NULL, 0, n, NULL, 0, 0, 0, 0};
    loop(&u);
    printf("%-34s %7.1f ns/span\n", "unsampled (start+finish)", best_ns(&u, 1, NULL));
    u.tags = 1;
    printf("%-34s %7.1f ns/span\n", "unsampled (start+3 tags+finish)", best_ns(&u, 1, NULL));

    threads_rows("sampled root, reporter none", on, n / 2, 0);

    int sink_fd;
    tw_tracer *udp = tracer("1", udp_sink(&sink_fd));
    run w = {udp, NULL, 1, UDP_SPANS, NULL, 1, 0, 0, 0};
    loop(&w);
    tw_tracer_flush(udp, 5000);
    threads_rows("sampled root, reporter udp", udp, UDP_SPANS, 1);
    tw_tracer_close(udp, 5000);

    tw_counters c;
    tw_tracer_counters(on, &c);
    printf("none tracer: %llu started, %llu discarded by reporter none\n",
           (unsigned long long)c.spans_started, (unsigned long long)c.spans_discarded);
    tw_tracer_counters(udp, &c);
    printf("udp tracer:  %llu finished = %llu reported + %llu queue full + %llu send failed "
           "+ %llu on close\n",
           (unsigned long long)c.spans_finished, (unsigned long long)c.spans_reported,
           (unsigned long long)c.dropped_queue_full, (unsigned long long)c.dropped_send_failed,
           (unsigned long long)c.dropped_on_close);
    tw_tracer_free(udp);
    close(sink_fd);
    tw_span_free(parent);
    tw_tracer_free(on);
    tw_tracer_free(off);
    return 0;
}
