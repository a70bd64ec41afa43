/* wire_driver.c — emits spans through the real tracer and reporter so the
 * wire tests (test_*.py) can decode what reaches a real local listener.
 *
 *   wire_driver SCENARIO [config.key=value ...]
 *
 * Config keys go to tw_config_set unchanged. Scenarios:
 *   full      a handful of spans using every field (128-bit ids, references,
 *             every tag type, logs, kinds, an error tag); prints one JSON line
 *             per span describing exactly what was recorded.
 *   load N PAYLOAD   N spans with a PAYLOAD-byte string tag, paced in bursts;
 *             prints finish() latency percentiles.
 *   fault N PAYLOAD  phase "before": N spans, flush; prints latencies; prints
 *             "READY" and waits for a line on stdin (the test switches its
 *             listener into a fault); phase "during": 5*N spans, then close(1000)
 *             and prints the latencies and close() duration.
 *   big       300 spans of ~1 KB (one Thrift batch > 65000 bytes) plus one span
 *             carrying a 70 KB tag.
 *   fork N CHILDREN  the parent and CHILDREN forked children each finish N
 *             spans; every process prints its counters.
 *   rate N RATE      N spans offered at RATE spans/s (for delivered fraction).
 *   otel      the OTel face's core features: two instrumentation scopes (one
 *             with version, schema_url and attributes) and the default one,
 *             ARRAY attributes of every item type (and NULL items, an empty
 *             array, an array in an event), links added after start with
 *             and without attributes; prints one JSON line per span.
 *   w3c       extracts traceparent (flags 03: sampled + random) + tracestate
 *             (the W3C example ids) and
 *             finishes one SERVER child span of that remote parent.
 *   gateway N N spans as a gateway makes them (tw_http_span_start/finish:
 *             methods, components, statuses, upstreams that vary span to
 *             span; every 5th a plain span of kind client/producer/consumer);
 *             prints one JSON line per span with the inputs, the test works
 *             out the tags (the core's constant tag slots, const_tags.h).
 * Every scenario ends with close() and one "counters" JSON line.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracewire.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, tw_status st)
{
    fprintf(stderr, "wire_driver: %s: %s\n", what, tw_strerror(st));
    exit(2);
}

#ifdef __SANITIZE_ADDRESS__
#define SANITIZED 1   /* ASan's quarantine keeps freed memory: RSS means little */
#else
#define SANITIZED 0
#endif

static long maxrss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static void print_counters(tw_tracer *t, const char *label, int64_t close_ns, tw_status close_st)
{
    tw_counters c;
    tw_tracer_counters(t, &c);
    printf("{\"type\":\"counters\",\"label\":\"%s\",\"pid\":%d,\"started\":%" PRIu64
           ",\"sampled\":%" PRIu64 ",\"finished\":%" PRIu64 ",\"reported\":%" PRIu64
           ",\"dropped_queue_full\":%" PRIu64 ",\"dropped_too_large\":%" PRIu64
           ",\"dropped_send_failed\":%" PRIu64 ",\"dropped_on_close\":%" PRIu64
           ",\"send_failures\":%" PRIu64 ",\"batches_sent\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
           ",\"sampler_updates\":%" PRIu64 ",\"close_ms\":%.3f,\"close_status\":%d,"
           "\"maxrss_kb\":%ld,\"sanitized\":%d}\n",
           label, (int)getpid(), c.spans_started, c.spans_sampled, c.spans_finished,
           c.spans_reported, c.dropped_queue_full, c.dropped_too_large, c.dropped_send_failed,
           c.dropped_on_close, c.send_failures, c.batches_sent, c.bytes_sent, c.sampler_updates,
           (double)close_ns / 1e6, (int)close_st, maxrss_kb(), SANITIZED);
    fflush(stdout);
}

static bool settled(tw_tracer *t)
{
    tw_counters c;
    tw_tracer_counters(t, &c);
    return c.spans_finished == c.spans_reported + c.dropped_queue_full + c.dropped_too_large +
                               c.dropped_send_failed + c.dropped_on_close;
}

/* close(); when it gave up (TW_ERR_TIMEOUT) the worker may still be
 * unwinding and the counters settle when it exits: wait for that (at most
 * 2 s, outside the measured close time) so the printed counters are final. */
static void close_and_report(tw_tracer *t, const char *label, int timeout_ms)
{
    int64_t t0 = mono_ns();
    tw_status st = tw_tracer_close(t, timeout_ms);
    int64_t took = mono_ns() - t0;
    for (int i = 0; i < 200 && st == TW_ERR_TIMEOUT && !settled(t); i++) {
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    print_counters(t, label, took, st);
}

/* ------------------------------------------------------------ full */

static void hex_ids(const tw_span_context *c, char *out)
{
    uint64_t hi, lo;
    tw_span_context_trace_id(c, &hi, &lo);
    sprintf(out, "\"trace_hi\":\"%" PRIu64 "\",\"trace_lo\":\"%" PRIu64 "\",\"span_id\":\"%" PRIu64
                 "\",\"parent_id\":\"%" PRIu64 "\",\"flags\":%u",
            hi, lo, tw_span_context_span_id(c), tw_span_context_parent_id(c),
            tw_span_context_flags(c));
}

static void scenario_full(tw_tracer *t)
{
    const int64_t base = 1700000000000000LL;
    tw_span *root, *child, *follower;
    tw_status st = tw_span_start(t, "root-op", 7, NULL, 0, base, &root);
    if (st)
        die("start root", st);
    tw_span_set_tag_str(root, "http.method", "GET");
    tw_span_set_tag_int(root, "big", INT64_MIN + 1);
    tw_span_set_tag_int(root, "neg", -3);
    tw_span_set_tag_double(root, "pi", 3.25);
    tw_span_set_tag_double(root, "nan", NAN);
    tw_span_set_tag_double(root, "inf", -INFINITY);
    tw_span_set_tag_bool(root, "yes", 1);
    tw_span_set_tag_bool(root, "no", 0);
    tw_field bin = { .key = "blob", .key_len = 4, .type = TW_VAL_BINARY,
                     .v.str = { "\x00\x01\xfe\xff", 4 } };
    tw_span_set_tag(root, &bin);
    tw_span_set_kind(root, TW_KIND_SERVER);
    tw_field f1[3] = {
        { .key = "event", .key_len = 5, .type = TW_VAL_STRING, .v.str = { "cache-miss", 10 } },
        { .key = "n", .key_len = 1, .type = TW_VAL_INT64, .v.i64 = 42 },
        { .key = "ratio", .key_len = 5, .type = TW_VAL_DOUBLE, .v.f64 = 0.5 },
    };
    tw_span_log(root, base + 100, f1, 3);
    tw_field f2[1] = { { .key = "ok", .key_len = 2, .type = TW_VAL_BOOL, .v.b = 1 } };
    tw_span_log(root, base + 200, f2, 1);

    tw_span_ref r1 = { TW_REF_CHILD_OF, tw_span_get_context(root) };
    st = tw_span_start(t, "child-op", 8, &r1, 1, base + 10, &child);
    if (st)
        die("start child", st);
    tw_span_set_tag_bool(child, "error", 1);
    tw_span_set_kind(child, TW_KIND_CLIENT);
    tw_span_finish(child, base + 510);

    tw_span_ref r2[2] = { { TW_REF_CHILD_OF, tw_span_get_context(root) },
                          { TW_REF_FOLLOWS_FROM, tw_span_get_context(child) } };
    st = tw_span_start(t, "follower", 8, r2, 2, base + 600, &follower);
    if (st)
        die("start follower", st);
    tw_span_set_kind(follower, TW_KIND_PRODUCER);
    tw_span_set_tag_str(follower, "unicode", "h\xc3\xa9llo");
    tw_span_finish(follower, base + 700);
    tw_span_finish(root, base + 1500);

    char ids[512];
    hex_ids(tw_span_get_context(root), ids);
    printf("{\"type\":\"span\",\"op\":\"root-op\",%s,\"start\":%" PRId64 ",\"duration\":1500,"
           "\"kind\":2,\"refs\":[],\"tags\":["
           "[\"http.method\",\"string\",\"GET\"],[\"big\",\"int\",\"%" PRId64 "\"],"
           "[\"neg\",\"int\",\"-3\"],[\"pi\",\"double\",3.25],[\"nan\",\"double\",\"nan\"],"
           "[\"inf\",\"double\",\"-inf\"],[\"yes\",\"bool\",true],[\"no\",\"bool\",false],"
           "[\"blob\",\"binary\",\"0001feff\"]],"
           "\"logs\":[[%" PRId64 ",[[\"event\",\"string\",\"cache-miss\"],[\"n\",\"int\",\"42\"],"
           "[\"ratio\",\"double\",0.5]]],[%" PRId64 ",[[\"ok\",\"bool\",true]]]]}\n",
           ids, base, INT64_MIN + 1, base + 100, base + 200);

    uint64_t hi, lo;
    tw_span_context_trace_id(tw_span_get_context(root), &hi, &lo);
    uint64_t rid = tw_span_context_span_id(tw_span_get_context(root));
    uint64_t cid = tw_span_context_span_id(tw_span_get_context(child));
    hex_ids(tw_span_get_context(child), ids);
    printf("{\"type\":\"span\",\"op\":\"child-op\",%s,\"start\":%" PRId64 ",\"duration\":500,"
           "\"kind\":3,\"refs\":[[0,\"%" PRIu64 "\",\"%" PRIu64 "\",\"%" PRIu64 "\"]],"
           "\"tags\":[[\"error\",\"bool\",true]],\"logs\":[]}\n",
           ids, base + 10, hi, lo, rid);
    hex_ids(tw_span_get_context(follower), ids);
    printf("{\"type\":\"span\",\"op\":\"follower\",%s,\"start\":%" PRId64 ",\"duration\":100,"
           "\"kind\":4,\"refs\":[[0,\"%" PRIu64 "\",\"%" PRIu64 "\",\"%" PRIu64 "\"],"
           "[1,\"%" PRIu64 "\",\"%" PRIu64 "\",\"%" PRIu64 "\"]],"
           "\"tags\":[[\"unicode\",\"string\",\"h\xc3\xa9llo\"]],\"logs\":[]}\n",
           ids, base + 600, hi, lo, rid, hi, lo, cid);
    fflush(stdout);
    tw_span_free(follower);
    tw_span_free(child);
    tw_span_free(root);
    close_and_report(t, "full", 5000);
}

/* ------------------------------------------------------------ load helpers */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Emits n spans with a payload tag; records finish() latency (ns) in lat. */
static void emit(tw_tracer *t, int n, const char *payload, int64_t *lat, double rate)
{
    int64_t t0 = mono_ns();
    for (int i = 0; i < n; i++) {
        if (rate > 0) {
            int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
            while (mono_ns() < due) {
                int64_t d = due - mono_ns();
                if (d > 200000) {
                    struct timespec ts = { 0, d - 100000 };
                    nanosleep(&ts, NULL);
                }
            }
        }
        tw_span *s;
        if (tw_span_start(t, "load", 4, NULL, 0, 0, &s) != TW_OK)
            continue;
        tw_span_set_tag_int(s, "i", i);
        if (payload)
            tw_span_set_tag_str(s, "payload", payload);
        int64_t a = mono_ns();
        tw_span_finish(s, 0);
        if (lat)
            lat[i] = mono_ns() - a;
        tw_span_free(s);
    }
}

static void print_latency(const char *phase, int64_t *lat, int n)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    printf("{\"type\":\"latency\",\"phase\":\"%s\",\"n\":%d,\"p50_us\":%.3f,\"p99_us\":%.3f,"
           "\"p999_us\":%.3f,\"max_us\":%.3f}\n",
           phase, n, lat[n / 2] / 1e3, lat[(int)(n * 0.99)] / 1e3, lat[(int)(n * 0.999)] / 1e3,
           lat[n - 1] / 1e3);
    fflush(stdout);
}

static char *make_payload(int size)
{
    if (size <= 0)
        return NULL;
    char *p = malloc((size_t)size + 1);
    if (!p)
        die("payload", TW_ERR_NOMEM);
    for (int i = 0; i < size; i++)
        p[i] = (char)('a' + i % 26);
    p[size] = 0;
    return p;
}

static void scenario_fault(tw_tracer *t, int n, int size)
{
    char *payload = make_payload(size);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    emit(t, n, payload, lat, 0);
    tw_status st = tw_tracer_flush(t, 5000);
    print_latency("before", lat, n);
    print_counters(t, "before", 0, st);
    printf("READY\n");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        die("stdin", TW_ERR_IO);
    int m = 5 * n;
    int64_t *lat2 = calloc((size_t)m, sizeof *lat2);
    emit(t, m, payload, lat2, 0);
    print_latency("during", lat2, m);
    free(lat2);
    close_and_report(t, "during", 1000);
    free(lat);
    free(payload);
}

static void scenario_load(tw_tracer *t, int n, int size, double rate)
{
    char *payload = make_payload(size);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    int64_t t0 = mono_ns();
    emit(t, n, payload, lat, rate);
    double secs = (double)(mono_ns() - t0) / 1e9;
    tw_status st = tw_tracer_flush(t, 10000);
    double secs_flushed = (double)(mono_ns() - t0) / 1e9;
    print_latency("load", lat, n);
    printf("{\"type\":\"rate\",\"offered\":%d,\"emit_s\":%.4f,\"offered_per_s\":%.0f,"
           "\"flushed_s\":%.4f,\"flush_status\":%d}\n",
           n, secs, n / secs, secs_flushed, (int)st);
    close_and_report(t, "load", 5000);
    free(lat);
    free(payload);
}

static void scenario_big(tw_tracer *t)
{
    char *kb = make_payload(1000);
    emit(t, 150, kb, NULL, 0);
    tw_span *s;
    if (tw_span_start(t, "huge", 4, NULL, 0, 0, &s) == TW_OK) {
        char *huge = make_payload(70 * 1024);
        tw_field f = { .key = "huge", .key_len = 4, .type = TW_VAL_STRING,
                       .v.str = { huge, 70 * 1024 } };
        tw_span_set_tag(s, &f);
        uint64_t hi, lo;
        tw_span_context_trace_id(tw_span_get_context(s), &hi, &lo);
        printf("{\"type\":\"huge\",\"span_id\":\"%" PRIu64 "\"}\n",
               tw_span_context_span_id(tw_span_get_context(s)));
        tw_span_finish(s, 0);
        tw_span_free(s);
        free(huge);
    }
    emit(t, 150, kb, NULL, 0);
    free(kb);
    close_and_report(t, "big", 5000);
}

/* ------------------------------------------------------------ gateway */

static void scenario_gateway(tw_tracer *t, int n)
{
    static const char *const methods[] = { "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS",
                                           "PATCH", "PROPFIND", "get", "GETS", "" };
    static const char *const comps[] = { "nginx", NULL, "lua", "nginx-ingress", "ngin" };
    static const int64_t statuses[] = { 200, 404, 503, -1, 500, 302 };
    static const tw_span_kind kinds[] = { TW_KIND_CLIENT, TW_KIND_PRODUCER, TW_KIND_CONSUMER };
    for (int i = 0; i < n; i++) {
        tw_span *s;
        char ids[256];
        if (i % 5 == 4) {
            tw_span_kind k = kinds[(i / 5) % 3];
            if (tw_span_start(t, "plain", 5, NULL, 0, 0, &s) != TW_OK)
                die("start plain", TW_ERR_NOMEM);
            tw_span_set_kind(s, k);
            tw_span_set_tag_str(s, "component", "nginx");
            hex_ids(tw_span_get_context(s), ids);
            printf("{\"type\":\"plain\",%s,\"kind\":%d}\n", ids, (int)k);
            tw_span_finish(s, 0);
            tw_span_free(s);
            continue;
        }
        const char *m = methods[i % (sizeof methods / sizeof methods[0])];
        const char *c = comps[i % (sizeof comps / sizeof comps[0])];
        char target[64], peer[32], up[48];
        snprintf(target, sizeof target, "/p/%d?x=%d", i, i * 7);
        snprintf(peer, sizeof peer, "10.0.%d.%d:%d", i % 7, i % 250, 1024 + i);
        snprintf(up, sizeof up, "127.0.0.1:%d, 127.0.0.2:%d", 8000 + i % 9, 9000 + i % 5);
        tw_http_request rq = { m, strlen(m), target, strlen(target), "h.example", 9, "http", 4,
                               c, c ? strlen(c) : 0 };
        if (tw_http_span_start(t, &rq, peer, strlen(peer), NULL, 0, &s) != TW_OK)
            die("start gateway", TW_ERR_NOMEM);
        int64_t status = statuses[i % (sizeof statuses / sizeof statuses[0])];
        bool upstream = i % 3 == 0;
        tw_http_response resp = { status, upstream ? up : NULL, upstream ? strlen(up) : 0,
                                  upstream ? i % 50 : -1 };
        hex_ids(tw_span_get_context(s), ids);
        printf("{\"type\":\"gateway\",%s,\"method\":\"%s\",\"target\":\"%s\","
               "\"component\":%s%s%s,\"peer\":\"%s\",\"status\":%" PRId64 ","
               "\"upstream\":%s%s%s,\"upstream_ms\":%d}\n",
               ids, m, target, c ? "\"" : "", c ? c : "null", c ? "\"" : "", peer, status,
               upstream ? "\"" : "", upstream ? up : "null", upstream ? "\"" : "",
               upstream ? i % 50 : -1);
        tw_http_span_finish(s, &resp, 0);
        tw_span_free(s);
    }
    close_and_report(t, "gateway", 10000);
}

typedef struct hdr { const char *k, *v; } hdr;

static int walk_headers(void *carrier, tw_kv_fn visit, void *ud)
{
    for (const hdr *h = carrier; h->k; h++)
        if (visit(ud, h->k, strlen(h->k), h->v, strlen(h->v)))
            break;
    return 0;
}

static void scenario_w3c(tw_tracer *t)
{
    hdr carrier[] = {
        { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03" },
        { "tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" },
        { NULL, NULL },
    };
    tw_span_context *remote;
    tw_status st = tw_tracer_extract(t, TW_PROP_W3C, walk_headers, carrier, &remote);
    if (st)
        die("extract", st);
    tw_span_ref ref = { TW_REF_CHILD_OF, remote };
    tw_span *s;
    if ((st = tw_span_start(t, "w3c-child", 9, &ref, 1, 1700000000000000LL, &s)))
        die("start", st);
    tw_span_set_kind(s, TW_KIND_SERVER);
    tw_span_finish(s, 1700000000000042LL);
    printf("{\"type\":\"w3c\",\"span_id\":\"%" PRIu64 "\"}\n",
           tw_span_context_span_id(tw_span_get_context(s)));
    tw_span_free(s);
    tw_span_context_free(remote);
    close_and_report(t, "w3c", 5000);
}

static tw_field item_s(const char *v)
{
    tw_field f = {.type = TW_VAL_STRING};
    f.v.str.ptr = v;
    f.v.str.len = strlen(v);
    return f;
}

static tw_field arr(const char *k, const tw_field *items, size_t n)
{
    tw_field f = {.key = k, .key_len = strlen(k), .type = TW_VAL_ARRAY};
    f.v.arr.items = items;
    f.v.arr.n = n;
    return f;
}

static void print_otel(const char *op, tw_span *s)
{
    char ids[256];
    hex_ids(tw_span_get_context(s), ids);
    printf("{\"type\":\"span\",\"op\":\"%s\",%s}\n", op, ids);
}

static void scenario_otel(tw_tracer *t)
{
    tw_status st;
    const tw_scope *lib, *plain, *again;
    tw_field sattr[2] = {{.key = "lib.attr", .key_len = 8, .type = TW_VAL_INT64},
                         {.key = "lib.tags", .key_len = 8}};
    sattr[0].v.i64 = 7;
    tw_field tags[2] = {item_s("a"), item_s("b")};
    sattr[1] = arr("lib.tags", tags, 2);
    if ((st = tw_tracer_scope(t, "my.lib", 6, "1.2.3", 5, "https://opentelemetry.io/schemas/1.21.0",
                              39, sattr, 2, &lib)) ||
        (st = tw_tracer_scope(t, "plain.lib", 9, NULL, 0, NULL, 0, NULL, 0, &plain)) ||
        (st = tw_tracer_scope(t, "plain.lib", 9, NULL, 0, NULL, 0, NULL, 0, &again)))
        die("scope", st);
    if (plain != again)
        die("scope interning", TW_ERR_INVALID_ARG);

    tw_span *a, *b, *c, *d;
    if ((st = tw_span_start(t, "otel-a", 6, NULL, 0, 1700000000000000LL, &a)))
        die("start", st);
    tw_span_ref pref = {TW_REF_CHILD_OF, tw_span_get_context(a)};
    if ((st = tw_span_start(t, "otel-b", 6, &pref, 1, 1700000000000010LL, &b)) ||
        (st = tw_span_start(t, "otel-c", 6, &pref, 1, 1700000000000020LL, &c)) ||
        (st = tw_span_start(t, "otel-d", 6, &pref, 1, 1700000000000030LL, &d)))
        die("start", st);
    if ((st = tw_span_set_scope(a, lib)) || (st = tw_span_set_scope(b, plain)) ||
        (st = tw_span_set_scope(d, lib)))
        die("set_scope", st);

    tw_field strs[3] = {item_s("x"), item_s("\xc3\xa9\"q"), item_s("")};
    tw_field ints[3] = {{.type = TW_VAL_INT64}, {.type = TW_VAL_INT64}, {.type = TW_VAL_INT64}};
    ints[0].v.i64 = 1;
    ints[1].v.i64 = -2;
    ints[2].v.i64 = 4611686018427387904LL;
    tw_field dbls[2] = {{.type = TW_VAL_DOUBLE}, {.type = TW_VAL_DOUBLE}};
    dbls[0].v.f64 = 1.5;
    dbls[1].v.f64 = -0.25;
    tw_field bools[2] = {{.type = TW_VAL_BOOL}, {.type = TW_VAL_BOOL}};
    bools[0].v.b = 1;
    tw_field nulls[3] = {item_s("n"), {.type = TW_VAL_NULL}, item_s("m")};
    tw_field attrs[6] = {arr("arr.str", strs, 3), arr("arr.int", ints, 3),
                         arr("arr.double", dbls, 2), arr("arr.bool", bools, 2),
                         arr("arr.empty", NULL, 0), arr("arr.null", nulls, 3)};
    for (int i = 0; i < 6; i++)
        if ((st = tw_span_set_tag(a, &attrs[i])))
            die("array tag", st);
    /* mixed types and a nested array are refused, nothing recorded */
    tw_field mixed[2] = {item_s("s"), {.type = TW_VAL_INT64}};
    tw_field bad = arr("arr.mixed", mixed, 2);
    if (tw_span_set_tag(a, &bad) != TW_ERR_INVALID_ARG)
        die("mixed array accepted", TW_ERR_INVALID_ARG);
    tw_field nested = arr("arr.nested", attrs, 1);
    if (tw_span_set_tag(a, &nested) != TW_ERR_INVALID_ARG)
        die("nested array accepted", TW_ERR_INVALID_ARG);
    tw_field ev[2] = {{.key = "event", .key_len = 5, .type = TW_VAL_STRING}, arr("ev.ints", ints, 3)};
    ev[0].v.str.ptr = "with-array";
    ev[0].v.str.len = 10;
    if ((st = tw_span_log(a, 1700000000000005LL, ev, 2)))
        die("log", st);

    /* links after start: b links to c (with attributes) and to d (none) */
    tw_field lattr[2] = {{.key = "link.kind", .key_len = 9, .type = TW_VAL_STRING},
                         arr("link.ids", ints, 2)};
    lattr[0].v.str.ptr = "retry";
    lattr[0].v.str.len = 5;
    if ((st = tw_span_add_link(b, tw_span_get_context(c), lattr, 2)) ||
        (st = tw_span_add_link(b, tw_span_get_context(d), NULL, 0)))
        die("add_link", st);
    /* by ids: a tracestate and flags; an invalid context kept for its
     * attributes (the SDK's rule), and refused without any */
    if ((st = tw_span_add_link_ids(b, 0, 5, 6, 1, "k=v", 3, NULL, 0)) ||
        (st = tw_span_add_link_ids(b, 0, 0, 0, 0, NULL, 0, lattr, 1)))
        die("add_link_ids", st);
    if (tw_span_add_link_ids(b, 0, 0, 0, 0, NULL, 0, NULL, 0) != TW_ERR_INVALID_ARG)
        die("empty invalid link accepted", TW_ERR_INVALID_ARG);
    tw_span_finish(d, 1700000000000040LL);
    tw_span_finish(c, 1700000000000050LL);
    tw_span_finish(b, 1700000000000060LL);
    tw_span_finish(a, 1700000000000070LL);
    if (tw_span_add_link(b, tw_span_get_context(c), NULL, 0) != TW_ERR_FINISHED ||
        tw_span_set_scope(b, lib) != TW_ERR_FINISHED)
        die("write after finish accepted", TW_ERR_INVALID_ARG);
    print_otel("otel-a", a);
    print_otel("otel-b", b);
    print_otel("otel-c", c);
    print_otel("otel-d", d);
    tw_span_free(a);
    tw_span_free(b);
    tw_span_free(c);
    tw_span_free(d);
    close_and_report(t, "otel", 5000);
}

static void scenario_fork(tw_tracer *t, int n, int children)
{
    /* the parent reports before forking: its worker thread and queue exist at
     * fork time, which is the case the atfork handlers must get right */
    emit(t, n / 2, NULL, NULL, 0);
    pid_t pids[64];
    int k = 0;
    for (int c = 0; c < children && c < 64; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            emit(t, n, NULL, NULL, 0);
            close_and_report(t, "child", 10000);
            tw_tracer_free(t);
            _exit(0);
        }
        if (pid > 0)
            pids[k++] = pid;
    }
    emit(t, n - n / 2, NULL, NULL, 0);
    int bad = 0;
    for (int i = 0; i < k; i++) {
        int wst;
        if (waitpid(pids[i], &wst, 0) < 0 || !WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
            bad++;
    }
    printf("{\"type\":\"children\",\"forked\":%d,\"failed\":%d}\n", k, bad);
    close_and_report(t, "parent", 10000);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: wire_driver SCENARIO [args] [key=value ...]\n");
        return 2;
    }
    const char *sc = argv[1];
    int nargs = 0;
    if (!strcmp(sc, "load") || !strcmp(sc, "fault") || !strcmp(sc, "fork") || !strcmp(sc, "rate") ||
        !strcmp(sc, "gateway"))
        nargs = 2;
    if (argc < 2 + nargs) {
        fprintf(stderr, "wire_driver: %s needs %d arguments\n", sc, nargs);
        return 2;
    }
    tw_config *cfg;
    tw_status st = tw_config_new(&cfg);
    if (st)
        die("config", st);
    for (int i = 2 + nargs; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "wire_driver: bad option %s\n", argv[i]);
            return 2;
        }
        *eq = 0;
        if ((st = tw_config_set(cfg, argv[i], eq + 1)) != TW_OK) {
            fprintf(stderr, "wire_driver: %s: %s\n", argv[i], tw_strerror(st));
            return 2;
        }
    }
    tw_tracer *t;
    if ((st = tw_tracer_new(cfg, &t)) != TW_OK)
        die("tracer", st);
    tw_config_free(cfg);
    if (!strcmp(sc, "full"))
        scenario_full(t);
    else if (!strcmp(sc, "load"))
        scenario_load(t, atoi(argv[2]), atoi(argv[3]), 0);
    else if (!strcmp(sc, "rate"))
        scenario_load(t, atoi(argv[2]), 0, atof(argv[3]));
    else if (!strcmp(sc, "fault"))
        scenario_fault(t, atoi(argv[2]), atoi(argv[3]));
    else if (!strcmp(sc, "big"))
        scenario_big(t);
    else if (!strcmp(sc, "w3c"))
        scenario_w3c(t);
    else if (!strcmp(sc, "gateway"))
        scenario_gateway(t, atoi(argv[2]));
    else if (!strcmp(sc, "otel"))
        scenario_otel(t);
    else if (!strcmp(sc, "fork"))
        scenario_fork(t, atoi(argv[2]), atoi(argv[3]));
    else {
        fprintf(stderr, "wire_driver: unknown scenario %s\n", sc);
        return 2;
    }
    tw_tracer_free(t);
    return 0;
}
