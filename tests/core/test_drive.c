/* test_drive.c — the driven reporter (tw_tracer_drive_start / tw_tracer_drive,
 * issue #15) through the public API and a real local UDP socket:
 *   - driven, this process never gets a second thread, and every span
 *     reaches the agent in datagrams the counters account for;
 *   - a full batch leaves on the next turn, a partial one only once its
 *     flush interval passed; the turn says when the next one is due;
 *   - the kick fires when a batch fills and on the first span after an idle
 *     turn, not per span;
 *   - flush() and close() send on their caller's thread;
 *   - a refused port is counted dropped_send_failed, said once through the
 *     diagnostics hook, and a turn never blocks on it;
 *   - reporter.driver: auto keeps the thread for a configuration that could
 *     block (HTTP, OTLP, a remote sampler, a throttler, a host name); thread
 *     declines the loop; loop refuses such a configuration at tw_tracer_new;
 *   - a forked child is not driven (its parent's loop is not there).
 * This file starts no thread of its own, so /proc/self/task is the proof. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "tracewire.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int udp_sink(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    int big = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    return fd;
}

typedef struct heard {
    int calls[8];
    uint64_t count[8];
    char last[8][512];
} heard;

static void listen_diag(void *ud, tw_diag_kind kind, tw_status st, const char *msg, uint64_t n)
{
    (void)st;
    heard *h = ud;
    if ((int)kind < 0 || kind >= 8)
        return;
    h->calls[kind]++;
    h->count[kind] += n;
    snprintf(h->last[kind], sizeof h->last[kind], "%s", msg);
}

static tw_status make(tw_tracer **t, heard *h, const char *k, ...)
{
    tw_config *c;
    assert_int_equal(tw_config_new(&c), TW_OK);
    if (h)
        assert_int_equal(tw_config_set_diagnostics(c, listen_diag, h), TW_OK);
    va_list ap;
    va_start(ap, k);
    for (const char *key = k; key; key = va_arg(ap, const char *))
        assert_int_equal(tw_config_set(c, key, va_arg(ap, const char *)), TW_OK);
    va_end(ap);
    tw_status st = tw_tracer_new(c, t);
    tw_config_free(c);
    return st;
}

static tw_tracer *udp_tracer(int port, heard *h, const char *batch, const char *flush_ms)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    tw_tracer *t;
    assert_int_equal(make(&t, h, "reporter.protocols", "udp", "reporter.agent_port", ps,
                          "reporter.batch_size", batch, "reporter.flush_interval_ms", flush_ms,
                          NULL),
                     TW_OK);
    return t;
}

static void emit(tw_tracer *t, int n)
{
    for (int i = 0; i < n; i++) {
        tw_span *s;
        assert_int_equal(tw_span_start(t, "op", 2, NULL, 0, 0, &s), TW_OK);
        tw_span_set_tag_int(s, "i", i);
        assert_int_equal(tw_span_finish(s, 0), TW_OK);
        tw_span_free(s);
    }
}

static int thread_count(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Spans in compact emitBatch datagrams, counted by operation name ("op":
 * field header 0x18, length 2); every datagram checked to be emitBatch. */
static uint64_t drain_udp(int fd, uint64_t *datagrams, uint64_t *bytes)
{
    static char buf[70000];
    struct timeval tv = { 0, 200000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint64_t spans = 0;
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
        (*datagrams)++;
        *bytes += (uint64_t)n;
        assert_int_equal((unsigned char)buf[0], 0x82);   /* compact protocol id */
        assert_int_equal((unsigned char)buf[1], 0x81);   /* ONEWAY call, version 1 */
        for (char *p = buf; (p = memmem(p, (size_t)(buf + n - p), "\x18\x02op", 4)); p += 4)
            spans++;
    }
    return spans;
}

static void assert_balanced(const tw_counters *c)
{
    assert_int_equal(c->spans_finished, c->spans_reported + c->spans_discarded +
                                            c->dropped_queue_full + c->dropped_too_large +
                                            c->dropped_send_failed + c->dropped_on_close);
}

static int kicks;
static void count_kick(void *ud)
{
    assert_ptr_equal(ud, &kicks);
    kicks++;
}

static void driven_reports_every_span_with_no_thread(void **state)
{
    (void)state;
    assert_int_equal(thread_count(), 1);
    int port;
    int fd = udp_sink(&port);
    tw_tracer *t = udp_tracer(port, NULL, "50", "1000");
    assert_int_equal(tw_tracer_drive_start(t, count_kick, &kicks), TW_OK);
    uint64_t datagrams = 0, bytes = 0, spans = 0;
    for (int round = 0; round < 20; round++) {
        emit(t, 50);
        int64_t ms = tw_tracer_drive(t);   /* the full batch leaves now */
        assert_true(ms >= 1 && ms <= 1000);
        tw_counters c;
        tw_tracer_counters(t, &c);
        assert_int_equal(c.spans_reported, 50 * (uint64_t)(round + 1));
    }
    spans = drain_udp(fd, &datagrams, &bytes);   /* 8 MB of receive buffer holds them */
    assert_int_equal(thread_count(), 1);   /* never a reporter thread */
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 1000);
    assert_int_equal(spans, 1000);
    assert_int_equal(datagrams, c.batches_sent);
    assert_int_equal(bytes, c.bytes_sent);
    assert_int_equal(c.batches_sent, 20);
    assert_balanced(&c);
    assert_int_equal(tw_tracer_close(t, 2000), TW_OK);
    assert_int_equal(tw_tracer_drive(t), -1);   /* closed: nothing to drive */
    assert_int_equal(thread_count(), 1);
    tw_tracer_free(t);
    close(fd);
}

static void partial_batch_waits_for_its_flush_interval(void **state)
{
    (void)state;
    int port;
    int fd = udp_sink(&port);
    tw_tracer *t = udp_tracer(port, NULL, "100", "1000");
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_OK);
    assert_int_equal(tw_tracer_drive(t), 1000);   /* nothing queued: only diagnostics' ticks */
    emit(t, 3);
    double t0 = now_ms();
    int64_t ms = tw_tracer_drive(t);
    assert_true(ms >= 1 && ms <= 1000);   /* due at the partial batch's flush deadline */
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 0);   /* not yet: the batch is partial */
    while (now_ms() - t0 < 1050)
        usleep(10000);
    tw_tracer_drive(t);
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 3);
    uint64_t d = 0, b = 0;
    assert_int_equal(drain_udp(fd, &d, &b), 3);
    assert_int_equal(d, 1);
    assert_int_equal(thread_count(), 1);
    tw_tracer_free(t);
    close(fd);
}

static void kick_on_full_batch_and_after_idle_only(void **state)
{
    (void)state;
    int port;
    int fd = udp_sink(&port);
    tw_tracer *t = udp_tracer(port, NULL, "10", "1000");
    kicks = 0;
    assert_int_equal(tw_tracer_drive_start(t, count_kick, &kicks), TW_OK);
    emit(t, 1);
    assert_int_equal(kicks, 1);   /* the first span after an idle reporter */
    emit(t, 8);
    assert_int_equal(kicks, 1);   /* 9 queued: no kick per span */
    emit(t, 1);
    assert_int_equal(kicks, 2);   /* 10: a full batch */
    emit(t, 25);
    assert_int_equal(kicks, 2);   /* the host has not taken its turn yet: no more */
    tw_tracer_drive(t);           /* 35 behind: they leave at once, as on the thread */
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 35);
    emit(t, 1);
    assert_int_equal(kicks, 3);   /* the first span after an idle turn */
    emit(t, 4);
    tw_tracer_drive(t);           /* 5 pending: a partial batch */
    emit(t, 1);
    assert_int_equal(kicks, 3);   /* not idle: the partial batch is due by its timer */
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 35);
    assert_int_equal(tw_tracer_flush(t, 1000), TW_OK);   /* sends on this thread */
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 41);
    tw_tracer_drive(t);   /* idle again */
    emit(t, 1);
    assert_int_equal(kicks, 4);
    assert_int_equal(tw_tracer_close(t, 1000), TW_OK);   /* close sends the last one */
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 42);
    assert_balanced(&c);
    uint64_t d = 0, b = 0;
    assert_int_equal(drain_udp(fd, &d, &b), 42);
    assert_int_equal(thread_count(), 1);
    tw_tracer_free(t);
    close(fd);
}

static void close_sends_everything_queued_without_a_turn(void **state)
{
    (void)state;
    int port;
    int fd = udp_sink(&port);
    tw_tracer *t = udp_tracer(port, NULL, "100", "60000");
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_OK);
    emit(t, 950);   /* nine full batches and a partial one, never driven */
    assert_int_equal(tw_tracer_close(t, 3000), TW_OK);
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 950);
    assert_int_equal(c.dropped_on_close, 0);
    assert_balanced(&c);
    uint64_t d = 0, b = 0;
    assert_int_equal(drain_udp(fd, &d, &b), 950);
    assert_int_equal(thread_count(), 1);
    tw_tracer_free(t);
    close(fd);
}

static void refused_port_is_counted_said_and_never_blocks(void **state)
{
    (void)state;
    int port;
    int fd = udp_sink(&port);
    close(fd);   /* nobody listens: the kernel answers port unreachable */
    heard h;
    memset(&h, 0, sizeof h);
    tw_tracer *t = udp_tracer(port, &h, "5", "1000");
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_OK);
    double worst = 0;
    for (int round = 0; round < 4; round++) {
        emit(t, 5);
        double t0 = now_ms();
        tw_tracer_drive(t);
        double took = now_ms() - t0;
        worst = took > worst ? took : worst;
    }
    assert_true(worst < 1000);   /* a hang check, not a timing: nothing waits on a refusal */
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 0);
    assert_int_equal(c.dropped_send_failed, 20);
    assert_true(c.send_failures >= 2);
    assert_balanced(&c);
    assert_int_equal(h.calls[TW_DIAG_SEND_FAILED], 1);   /* rate-limited: one line so far */
    assert_non_null(strstr(h.last[TW_DIAG_SEND_FAILED], "udp sender failed"));
    assert_non_null(strstr(h.last[TW_DIAG_SEND_FAILED], "5 of 5 spans not delivered"));
    tw_tracer_close(t, 1000);
    assert_int_equal(h.calls[TW_DIAG_SEND_FAILED], 2);   /* close says the held-back summary */
    assert_int_equal(thread_count(), 1);
    tw_tracer_free(t);
}

static void driver_key_decides_who_sends(void **state)
{
    (void)state;
    tw_tracer *t;
    /* auto: a configuration that could block keeps the thread */
    static const char *const blocking[][4] = {
        { "reporter.protocols", "http", NULL, NULL },
        { "reporter.protocols", "udp,otlp", NULL, NULL },
        { "sampler.type", "remote", NULL, NULL },
        { "throttler", "true", NULL, NULL },
        { "baggage_restrictions", "true", NULL, NULL },
        { "reporter.agent_host", "localhost", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof blocking / sizeof blocking[0]; i++) {
        assert_int_equal(make(&t, NULL, blocking[i][0], blocking[i][1], NULL), TW_OK);
        assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_ERR_UNSUPPORTED);
        assert_int_equal(tw_tracer_drive(t), -1);
        tw_tracer_free(t);
        /* ... and loop refuses it outright */
        assert_int_equal(make(&t, NULL, blocking[i][0], blocking[i][1], "reporter.driver",
                              "loop", NULL),
                         TW_ERR_CONFIG);
        assert_null(t);
    }
    /* the loop-friendly ones: auto and loop accept, thread declines */
    assert_int_equal(make(&t, NULL, "sampler.type", "probabilistic", "sampler.param", "0.5",
                          "reporter.agent_host", "::1", NULL),
                     TW_OK);
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_OK);
    tw_tracer_free(t);
    assert_int_equal(make(&t, NULL, "reporter.protocols", "udp,memory", "reporter.driver", "loop",
                          NULL),
                     TW_OK);
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_OK);
    tw_tracer_free(t);
    assert_int_equal(make(&t, NULL, "reporter.driver", "thread", NULL), TW_OK);
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_ERR_UNSUPPORTED);
    tw_tracer_free(t);
    /* no thread to spare: memory only, none */
    assert_int_equal(make(&t, NULL, "reporter.protocols", "memory", NULL), TW_OK);
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_ERR_UNSUPPORTED);
    tw_tracer_close(t, 0);
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_ERR_CLOSED);
    tw_tracer_free(t);
    assert_int_equal(tw_tracer_drive_start(NULL, NULL, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_tracer_drive(NULL), -1);
    char v[16];
    assert_int_equal(make(&t, NULL, NULL), TW_OK);
    assert_int_equal(tw_tracer_config_get(t, "reporter.driver", v, sizeof v), TW_OK);
    assert_string_equal(v, "auto");
    tw_tracer_free(t);
    tw_config *c;
    assert_int_equal(tw_config_new(&c), TW_OK);
    assert_int_equal(tw_config_set(c, "reporter.driver", "fibers"), TW_ERR_CONFIG);
    tw_config_free(c);
    assert_int_equal(thread_count(), 1);   /* none of these started one */
}

static void forked_child_is_not_driven(void **state)
{
    (void)state;
    int port;
    int fd = udp_sink(&port);
    tw_tracer *t = udp_tracer(port, NULL, "100", "1000");
    assert_int_equal(tw_tracer_drive_start(t, NULL, NULL), TW_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the parent's loop is not here: the child's spans go by its own thread */
        int ok = tw_tracer_drive(t) == -1;
        emit(t, 7);
        ok = ok && tw_tracer_flush(t, 3000) == TW_OK && thread_count() == 2;
        tw_counters c;
        tw_tracer_counters(t, &c);
        _exit(ok && c.spans_reported == 7 ? 0 : 1);
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    emit(t, 4);
    tw_tracer_drive(t);
    assert_int_equal(tw_tracer_flush(t, 1000), TW_OK);
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_reported, 4);
    uint64_t d = 0, b = 0;
    assert_int_equal(drain_udp(fd, &d, &b), 11);
    assert_int_equal(thread_count(), 1);
    tw_tracer_free(t);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(driven_reports_every_span_with_no_thread),
        cmocka_unit_test(partial_batch_waits_for_its_flush_interval),
        cmocka_unit_test(kick_on_full_batch_and_after_idle_only),
        cmocka_unit_test(close_sends_everything_queued_without_a_turn),
        cmocka_unit_test(refused_port_is_counted_said_and_never_blocks),
        cmocka_unit_test(driver_key_decides_who_sends),
        cmocka_unit_test(forked_child_is_not_driven),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
