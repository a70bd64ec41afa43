/* test_baggage_bounds.c — too much baggage is counted, never a lost trace
 * (issue #19 items 3 and 4).
 *
 * Inject: a span accepts items that together exceed max_baggage_size; inject
 * sends whole items while each header stays within the bound and counts the
 * rest in baggage_dropped (decoded from the headers it wrote, per format and
 * with both on). Extract: 100,000 uberctx-* headers, more than 180 items, or
 * a baggage header over 8192 bytes keep the trace context (ids asserted) and
 * drop only the excess, counted exactly. The counts are read back through
 * tw_tracer_counters of a real tracer, and the drops are said through the
 * diagnostics hook by the reporter thread (first at once, then a summary). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "prop_carrier.h"
#include "span_helpers.h"
#include "propagation.h"

#define TID_HI 0x4bf92f3577b34da6ULL
#define TID_LO 0xa3ce929d0e0e4736ULL
#define SID    0x00f067aa0ba902b7ULL
#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define UBER "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"

static uint64_t dropped_of(tw_tracer *t)
{
    tw_counters c;
    tw_tracer_counters(t, &c);
    return c.baggage_dropped;
}

static void assert_trace(const tw_span_context *c)
{
    uint64_t hi, lo;
    tw_span_context_trace_id(c, &hi, &lo);
    assert_true(hi == TID_HI);
    assert_true(lo == TID_LO);
    assert_true(tw_span_context_span_id(c) == SID);
    assert_int_equal(tw_span_context_flags(c) & TW_FLAG_SAMPLED, TW_FLAG_SAMPLED);
}

static int count_item(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    (void)k; (void)kl; (void)v; (void)vl;
    (*(size_t *)ud)++;
    return 0;
}

static size_t nbaggage(const tw_span_context *c)
{
    size_t n = 0;
    tw_span_context_foreach_baggage(c, count_item, &n);
    return n;
}

static size_t count_prefix(const carrier *c, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (size_t i = 0; i < c->n; i++)
        if (c->name_len[i] >= pl && memcmp(c->name[i], prefix, pl) == 0)
            n++;
    return n;
}

/* Members of the W3C baggage header the injector wrote. */
static size_t w3c_members(const carrier *c)
{
    const char *b = carrier_get(c, "baggage");
    if (!b)
        return 0;
    size_t n = 1;
    for (const char *p = b; *p; p++)
        n += *p == ',';
    return n;
}

/* A span with five 2,000-byte items (each fits 8192, together they do not). */
static tw_span *five_big_items(tw_tracer *t)
{
    tw_span *s;
    assert_int_equal(tw_span_start(t, "op", 2, NULL, 0, 0, &s), TW_OK);
    char val[2000];
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 5; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(tw_span_set_baggage(s, key, 2, val, sizeof val), TW_OK);
    }
    return s;
}

static void inject_counts_what_it_left_out(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("propagation", "jaeger", NULL);
    tw_span *s = five_big_items(t);
    carrier out = {0};
    assert_int_equal(tw_tracer_inject(t, tw_span_get_context(s), TW_PROP_JAEGER, carrier_set, &out), TW_OK);
    /* 4 x (2 + 2000) = 8008 <= 8192; a fifth would be 10010 */
    assert_int_equal(count_prefix(&out, "uberctx-"), 4);
    assert_non_null(carrier_get(&out, "uberctx-k3"));
    assert_null(carrier_get(&out, "uberctx-k4"));
    assert_non_null(carrier_get(&out, "uber-trace-id"));
    assert_int_equal(dropped_of(t), 1);
    carrier_clear(&out);

    /* W3C alone: the same four members */
    assert_int_equal(tw_tracer_inject(t, tw_span_get_context(s), TW_PROP_W3C, carrier_set, &out), TW_OK);
    assert_int_equal(w3c_members(&out), 4);
    assert_true(strlen(carrier_get(&out, "baggage")) <= 8192);
    assert_int_equal(dropped_of(t), 2);
    carrier_clear(&out);

    /* both formats: one item missing from both headers counts once */
    assert_int_equal(tw_tracer_inject(t, tw_span_get_context(s), TW_PROP_JAEGER | TW_PROP_W3C,
                                      carrier_set, &out), TW_OK);
    assert_int_equal(count_prefix(&out, "uberctx-"), 4);
    assert_int_equal(w3c_members(&out), 4);
    assert_int_equal(dropped_of(t), 3);
    carrier_clear(&out);

    /* B3 carries no baggage by design: nothing dropped, nothing counted */
    assert_int_equal(tw_tracer_inject(t, tw_span_get_context(s), TW_PROP_B3_SINGLE, carrier_set, &out), TW_OK);
    assert_int_equal(dropped_of(t), 3);
    carrier_clear(&out);

    /* what fits is not counted */
    tw_span *small;
    assert_int_equal(tw_span_start(t, "op", 2, NULL, 0, 0, &small), TW_OK);
    assert_int_equal(tw_span_set_baggage(small, "a", 1, "1", 1), TW_OK);
    assert_int_equal(tw_tracer_inject(t, tw_span_get_context(small), TW_PROP_JAEGER | TW_PROP_W3C,
                                      carrier_set, &out), TW_OK);
    assert_int_equal(dropped_of(t), 3);
    carrier_clear(&out);

    /* a failing setter: no count (nothing was decided about the rest) */
    out.fail_at = 2;
    out.fail_rc = (int)TW_ERR_IO;
    assert_int_equal(tw_tracer_inject(t, tw_span_get_context(s), TW_PROP_JAEGER, carrier_set, &out),
                     TW_ERR_IO);
    assert_int_equal(dropped_of(t), 3);
    carrier_clear(&out);

    tw_span_free(small);
    tw_span_free(s);
    tw_tracer_free(t);
}

/* A binary context may hold more than 180 items; each header sends 180. */
static void inject_counts_items_beyond_180(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    char buf[37 + 200 * 16];
    memset(buf, 0, 37);
    buf[7] = 1;                  /* trace lo = 1 */
    buf[23] = 2;                 /* span = 2 */
    buf[32] = 1;
    buf[36] = 200;               /* 200 items */
    size_t o = 37;
    for (int i = 0; i < 200; i++) {
        char k[5];
        snprintf(k, sizeof k, "%04d", i);
        memcpy(buf + o, "\0\0\0\4", 4);
        memcpy(buf + o + 4, k, 4);
        memcpy(buf + o + 8, "\0\0\0\4", 4);
        memcpy(buf + o + 12, "vvvv", 4);
        o += 16;
    }
    tw_span_context *c;
    assert_int_equal(tw_span_context_from_binary(buf, o, &c), TW_OK);
    carrier out = {0};
    assert_int_equal(tw_tracer_inject(t, c, TW_PROP_JAEGER | TW_PROP_W3C, carrier_set, &out), TW_OK);
    assert_int_equal(count_prefix(&out, "uberctx-"), 180);
    assert_int_equal(w3c_members(&out), 180);
    assert_int_equal(dropped_of(t), 20);
    carrier_clear(&out);
    tw_span_context_free(c);
    tw_tracer_free(t);
}

/* A carrier generated on the fly: uber-trace-id then N uberctx-* headers
 * (prop_carrier.h's table holds 512). */
typedef struct many {
    size_t n;
    const char *first_name, *first_val;
} many;

static int many_each(void *ud, tw_kv_fn visit, void *vud)
{
    many *m = ud;
    if (m->first_name && visit(vud, m->first_name, strlen(m->first_name), m->first_val,
                               strlen(m->first_val)))
        return 0;
    char name[32], val[16];
    for (size_t i = 0; i < m->n; i++) {
        int nl = snprintf(name, sizeof name, "uberctx-k%zu", i);
        int vl = snprintf(val, sizeof val, "v%zu", i);
        if (visit(vud, name, (size_t)nl, val, (size_t)vl))
            return 0;
    }
    return 0;
}

static void extract_100k_uberctx_keeps_the_trace(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("propagation", "jaeger,w3c", NULL);
    many m = {100000, "uber-trace-id", UBER};
    tw_span_context *c = NULL;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, many_each, &m, &c), TW_OK);
    assert_non_null(c);
    assert_trace(c);
    assert_int_equal(nbaggage(c), 180);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(c, "k0", 2, &v, &vl), TW_OK);
    assert_int_equal(vl, 2);
    assert_memory_equal(v, "v0", 2);
    assert_int_equal(tw_span_context_baggage(c, "k179", 4, &v, &vl), TW_OK);
    assert_int_equal(tw_span_context_baggage(c, "k180", 4, &v, &vl), TW_ERR_NOT_FOUND);
    assert_int_equal(dropped_of(t), 100000 - 180);

    /* a child of it continues the trace */
    tw_span_ref ref = {TW_REF_CHILD_OF, c};
    tw_span *s;
    assert_int_equal(tw_span_start(t, "child", 5, &ref, 1, 0, &s), TW_OK);
    uint64_t hi, lo;
    tw_span_context_trace_id(tw_span_get_context(s), &hi, &lo);
    assert_true(hi == TID_HI && lo == TID_LO);
    assert_true(tw_span_context_parent_id(tw_span_get_context(s)) == SID);
    tw_span_free(s);
    tw_span_context_free(c);
    tw_tracer_free(t);
}

static void extract_181_w3c_items_keeps_180(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("propagation", "jaeger,w3c", NULL);
    carrier in = {0};
    char b[4096];
    size_t o = 0;
    for (int i = 0; i < 181; i++)
        o += (size_t)snprintf(b + o, sizeof b - o, "%sk%d=1", i ? "," : "", i);
    carrier_add(&in, "traceparent", TP);
    carrier_add(&in, "baggage", b);
    tw_span_context *c = NULL;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &c), TW_OK);
    assert_trace(c);
    assert_int_equal(nbaggage(c), 180);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(c, "k180", 4, &v, &vl), TW_ERR_NOT_FOUND);
    assert_int_equal(dropped_of(t), 1);
    tw_span_context_free(c);
    carrier_clear(&in);

    /* 170 uberctx-* plus 20 new W3C keys: the merge keeps 180, drops 10 */
    for (int i = 0; i < 170; i++) {
        char k[32];
        snprintf(k, sizeof k, "uberctx-u%d", i);
        carrier_add(&in, k, "1");
    }
    o = 0;
    for (int i = 0; i < 20; i++)
        o += (size_t)snprintf(b + o, sizeof b - o, "%sw%d=1", i ? "," : "", i);
    carrier_add(&in, "uber-trace-id", UBER);
    carrier_add(&in, "baggage", b);
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &c), TW_OK);
    assert_trace(c);
    assert_int_equal(nbaggage(c), 180);
    assert_int_equal(dropped_of(t), 11);
    tw_span_context_free(c);
    carrier_clear(&in);
    tw_tracer_free(t);
}

static void extract_oversized_baggage_headers_keep_a_prefix(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("propagation", "jaeger,w3c", NULL);
    /* W3C baggage of 10 members of 1,000 bytes: 8 fit (8 x 1003 + 7 commas) */
    static char b[12000];
    size_t o = 0;
    for (int i = 0; i < 10; i++) {
        o += (size_t)snprintf(b + o, sizeof b - o, "%sk%d=", i ? ", " : "", i);
        memset(b + o, 'x', 1000);
        o += 1000;
    }
    b[o] = '\0';
    carrier in = {0};
    carrier_add(&in, "traceparent", TP);
    carrier_add(&in, "baggage", b);
    tw_span_context *c = NULL;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &c), TW_OK);
    assert_trace(c);
    assert_int_equal(nbaggage(c), 8);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(c, "k7", 2, &v, &vl), TW_OK);
    assert_int_equal(vl, 1000);     /* whole values only, never a cut one */
    assert_int_equal(tw_span_context_baggage(c, "k8", 2, &v, &vl), TW_ERR_NOT_FOUND);
    assert_int_equal(dropped_of(t), 2);
    tw_span_context_free(c);
    carrier_clear(&in);

    /* one jaeger-baggage member over the bound: dropped, the ids stay */
    memset(b, 'x', 8300);
    memcpy(b, "k=", 2);
    b[8300] = '\0';
    carrier_add(&in, "uber-trace-id", UBER);
    carrier_add(&in, "jaeger-baggage", b);
    carrier_add(&in, "jaeger-baggage", "small=1");
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &c), TW_OK);
    assert_trace(c);
    assert_int_equal(nbaggage(c), 1);
    assert_int_equal(tw_span_context_baggage(c, "small", 5, &v, &vl), TW_OK);
    assert_int_equal(dropped_of(t), 3);
    tw_span_context_free(c);
    carrier_clear(&in);

    /* uberctx-* over 8192 together: a is kept, b skipped, c (small) still fits */
    memset(b, 'x', 8189);
    b[8189] = '\0';
    carrier_add(&in, "uber-trace-id", UBER);
    carrier_add(&in, "uberctx-a", b);
    carrier_add(&in, "uberctx-b", "xxxx");
    carrier_add(&in, "uberctx-c", "x");
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &c), TW_OK);
    assert_trace(c);
    assert_int_equal(nbaggage(c), 2);
    assert_int_equal(tw_span_context_baggage(c, "c", 1, &v, &vl), TW_OK);
    assert_int_equal(tw_span_context_baggage(c, "b", 1, &v, &vl), TW_ERR_NOT_FOUND);
    assert_int_equal(dropped_of(t), 4);
    tw_span_context_free(c);
    carrier_clear(&in);

    /* nothing but one oversized item: no context, and the drop is counted */
    memset(b, 'x', 8300);
    b[8300] = '\0';
    carrier_add(&in, "uberctx-big", b);
    c = (tw_span_context *)(uintptr_t)1;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &c), TW_ERR_NOT_FOUND);
    assert_null(c);
    assert_int_equal(dropped_of(t), 5);
    carrier_clear(&in);

    /* malformed is still malformed: a bad escape in a kept member */
    carrier_add(&in, "traceparent", TP);
    carrier_add(&in, "baggage", "k=%zz");
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &c), TW_ERR_CORRUPTED);
    assert_int_equal(dropped_of(t), 5);
    carrier_clear(&in);
    tw_tracer_free(t);
}

/* The internal entry points count without a tracer (fuzzers use them). */
static void counted_entry_points(void **state)
{
    (void)state;
    tw_config cfg;
    test_config(&cfg);
    cfg.max_baggage_size = 16;
    carrier in = {0};
    carrier_add(&in, "traceparent", TP);
    carrier_add(&in, "baggage", "a=1,b=2,c=3,d=4,e=5");   /* 19 bytes: "a=1,b=2,c=3,d=4" fits */
    tw_span_context *c = NULL;
    uint64_t dropped = 99;
    assert_int_equal(twp_extract_counted(&cfg, 0, carrier_each, &in, &c, &dropped), TW_OK);
    assert_int_equal(dropped, 1);
    assert_int_equal(nbaggage(c), 4);
    carrier out = {0};
    dropped = 99;
    /* uberctx: a1 b2 c3 d4 = 8 bytes of key+value; all fit 16; w3c "a=1,b=2,c=3,d=4" = 15 */
    assert_int_equal(twp_inject_counted(&cfg, c, TW_PROP_JAEGER | TW_PROP_W3C, carrier_set, &out,
                                        &dropped), TW_OK);
    assert_int_equal(dropped, 0);
    carrier_clear(&out);
    cfg.max_baggage_size = 12;   /* w3c fits 3 members (11 bytes), jaeger all 4 (8 bytes) */
    assert_int_equal(twp_inject_counted(&cfg, c, TW_PROP_JAEGER | TW_PROP_W3C, carrier_set, &out,
                                        &dropped), TW_OK);
    assert_int_equal(dropped, 1);
    assert_int_equal(count_prefix(&out, "uberctx-"), 4);
    assert_int_equal(w3c_members(&out), 3);
    carrier_clear(&out);
    tw_span_context_free(c);
    carrier_clear(&in);
}

/* ---------------------------------------------------------------- it speaks */

typedef struct said {
    pthread_mutex_t mu;
    int calls;
    uint64_t count[8];
    char msg[8][400];
    int kind[8];
    pthread_t thread[8];
} said;

static void hook(void *ud, tw_diag_kind kind, tw_status st, const char *msg, uint64_t count)
{
    (void)st;
    said *h = ud;
    pthread_mutex_lock(&h->mu);
    if (h->calls < 8) {
        h->kind[h->calls] = (int)kind;
        h->count[h->calls] = count;
        h->thread[h->calls] = pthread_self();
        snprintf(h->msg[h->calls], sizeof h->msg[0], "%s", msg);
    }
    h->calls++;
    pthread_mutex_unlock(&h->mu);
}

static int calls_of(said *h)
{
    pthread_mutex_lock(&h->mu);
    int n = h->calls;
    pthread_mutex_unlock(&h->mu);
    return n;
}

static void drops_are_said_by_the_reporter_thread(void **state)
{
    (void)state;
    int sock = socket(AF_INET, SOCK_DGRAM, 0);      /* a live agent: nothing else to say */
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(sock, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(sock, (struct sockaddr *)&a, &al), 0);
    char port[8];
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    said h;
    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.mu, NULL);
    tw_config *cfg;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_int_equal(tw_config_set(cfg, "service_name", "bag"), TW_OK);
    assert_int_equal(tw_config_set(cfg, "reporter.protocols", "udp"), TW_OK);
    assert_int_equal(tw_config_set(cfg, "reporter.agent_host", "127.0.0.1"), TW_OK);
    assert_int_equal(tw_config_set(cfg, "reporter.agent_port", port), TW_OK);
    assert_int_equal(tw_config_set(cfg, "reporter.flush_interval_ms", "20"), TW_OK);
    assert_int_equal(tw_config_set_diagnostics(cfg, hook, &h), TW_OK);
    tw_tracer *t;
    assert_int_equal(tw_tracer_new(cfg, &t), TW_OK);
    tw_config_free(cfg);

    /* extract counts on this thread and says nothing here */
    many m = {100000, "uber-trace-id", UBER};
    tw_span_context *c = NULL;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, many_each, &m, &c), TW_OK);
    assert_int_equal(calls_of(&h), 0);
    tw_span *s;
    assert_int_equal(tw_span_start(t, "s", 1, NULL, 0, 0, &s), TW_OK);
    assert_int_equal(tw_span_finish(s, 0), TW_OK);  /* the reporter thread starts */
    for (int i = 0; i < 300 && calls_of(&h) == 0; i++)
        usleep(10000);
    assert_int_equal(calls_of(&h), 1);
    assert_int_equal(h.kind[0], TW_DIAG_BAGGAGE);
    assert_true(h.count[0] == 100000 - 180);
    assert_non_null(strstr(h.msg[0], "99820 baggage items dropped"));
    assert_non_null(strstr(h.msg[0], "max_baggage_size=8192"));
    assert_false(pthread_equal(h.thread[0], pthread_self()));

    /* more drops within the interval: one summary, here at close */
    tw_span_context_free(c);
    m.n = 181;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, many_each, &m, &c), TW_OK);
        tw_span_context_free(c);
    }
    usleep(100000);
    assert_int_equal(calls_of(&h), 1);
    assert_int_equal(tw_tracer_close(t, 2000), TW_OK);
    assert_int_equal(calls_of(&h), 2);
    assert_int_equal(h.kind[1], TW_DIAG_BAGGAGE);
    assert_true(h.count[1] == 10);
    assert_non_null(strstr(h.msg[1], "10 more baggage items dropped"));
    assert_true(dropped_of(t) == 100000 - 180 + 10);
    tw_span_free(s);
    tw_tracer_free(t);
    close(sock);
    pthread_mutex_destroy(&h.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inject_counts_what_it_left_out),
        cmocka_unit_test(inject_counts_items_beyond_180),
        cmocka_unit_test(extract_100k_uberctx_keeps_the_trace),
        cmocka_unit_test(extract_181_w3c_items_keeps_180),
        cmocka_unit_test(extract_oversized_baggage_headers_keep_a_prefix),
        cmocka_unit_test(counted_entry_points),
        cmocka_unit_test(drops_are_said_by_the_reporter_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
