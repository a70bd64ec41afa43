/* test_http_head.c — raw HTTP/1.x request heads as carriers: the request
 * line splits into method and target, headers are found case-insensitively
 * and trimmed, lines that are not headers are skipped, nothing after the
 * blank line is read, and extract through tw_http_head_foreach gives the same
 * context as the header table would (Jaeger, W3C with baggage, B3). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "span_helpers.h"

static tw_http_head head_of(const char *s)
{
    tw_http_head h = {s, strlen(s)};
    return h;
}

static void assert_line(const char *raw, const char *method, const char *target)
{
    tw_http_head h = head_of(raw);
    const char *m, *t;
    size_t ml, tl;
    assert_int_equal(tw_http_head_request_line(&h, &m, &ml, &t, &tl), TW_OK);
    assert_int_equal(ml, strlen(method));
    assert_memory_equal(m, method, ml);
    assert_int_equal(tl, strlen(target));
    assert_memory_equal(t, target, tl);
}

static void request_line(void **state)
{
    (void)state;
    assert_line("GET /static/x.txt?a=1 HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/static/x.txt?a=1");
    assert_line("POST /p HTTP/1.0\n", "POST", "/p");
    assert_line("OPTIONS * HTTP/1.1", "OPTIONS", "*");
    assert_line("GET http://a.example/x HTTP/1.1\r\n", "GET", "http://a.example/x");

    const char *bad[] = {"", "GET", "GET /", "GET / ", "GET  / HTTP/1.1", " GET / HTTP/1.1",
                         "GET / FTP/1.1", "GET / HTTP/", "G\x01T / HTTP/1.1", "GET /a\x7f HTTP/1.1",
                         "\r\nHost: a\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tw_http_head h = head_of(bad[i]);
        const char *m = NULL, *t = NULL;
        size_t ml = 0, tl = 0;
        assert_int_equal(tw_http_head_request_line(&h, &m, &ml, &t, &tl), TW_ERR_CORRUPTED);
    }
    assert_int_equal(tw_http_head_request_line(NULL, NULL, NULL, NULL, NULL), TW_ERR_INVALID_ARG);
}

static void assert_header(const tw_http_head *h, const char *name, const char *want)
{
    const char *v = NULL;
    size_t vl = 0;
    tw_status st = tw_http_head_header(h, name, &v, &vl);
    if (want == NULL) {
        assert_int_equal(st, TW_ERR_NOT_FOUND);
        return;
    }
    assert_int_equal(st, TW_OK);
    assert_int_equal(vl, strlen(want));
    assert_memory_equal(v, want, vl);
}

static void headers(void **state)
{
    (void)state;
    tw_http_head h = head_of("GET / HTTP/1.1\r\n"
                             "Host:   example.com:8080 \t\r\n"
                             "X-Empty:\r\n"
                             "X-Twice: first\r\n"
                             "x-twice: second\r\n"
                             "Bad Name: skipped\r\n"
                             " folded: skipped\r\n"
                             "no colon here\r\n"
                             ": no name\r\n"
                             "LF-Only: yes\n"
                             "\r\n"
                             "After: the blank line is body\r\n");
    assert_header(&h, "host", "example.com:8080");
    assert_header(&h, "HOST", "example.com:8080");
    assert_header(&h, "x-empty", "");
    assert_header(&h, "x-twice", "first");
    assert_header(&h, "bad name", NULL);
    assert_header(&h, "folded", NULL);
    assert_header(&h, "lf-only", "yes");
    assert_header(&h, "after", NULL);
    assert_header(&h, "get / http/1.1", NULL);   /* the request line is no header */

    tw_http_head none = head_of("GET / HTTP/1.1");
    assert_header(&none, "host", NULL);
    tw_http_head empty = {NULL, 0};
    assert_header(&empty, "host", NULL);
    tw_http_head broken = {NULL, 5};
    const char *v;
    size_t vl;
    assert_int_equal(tw_http_head_header(&broken, "host", &v, &vl), TW_ERR_INVALID_ARG);
}

struct seen {
    char buf[512];
    size_t n;
};

static int collect(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    struct seen *s = ud;
    s->n += (size_t)snprintf(s->buf + s->n, sizeof s->buf - s->n, "[%.*s=%.*s]", (int)kl, k, (int)vl, v);
    return 0;
}

static void foreach_visits_every_header_in_order(void **state)
{
    (void)state;
    tw_http_head h = head_of("GET / HTTP/1.1\r\nA: 1\r\nb:2\r\nA: 3\r\n\r\nC: 4\r\n");
    struct seen s = {{0}, 0};
    assert_int_equal(tw_http_head_foreach(&h, collect, &s), 0);
    assert_string_equal(s.buf, "[A=1][b=2][A=3]");
    assert_int_not_equal(tw_http_head_foreach(NULL, collect, &s), 0);
}

static tw_span_context *extract(tw_tracer *t, const char *raw, tw_status want)
{
    tw_http_head h = head_of(raw);
    tw_span_context *c = NULL;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_MULTI | TW_PROP_B3_SINGLE,
                                       tw_http_head_foreach, &h, &c), want);
    if (want != TW_OK)
        assert_null(c);
    return c;
}

static void extract_from_raw_heads(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    uint64_t hi, lo;
    const char *v;
    size_t vl;

    tw_span_context *c = extract(t, "GET / HTTP/1.1\r\nHost: a\r\n"
                                    "Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
                                    "baggage: user=alice, tier = gold\r\n\r\n", TW_OK);
    tw_span_context_trace_id(c, &hi, &lo);
    assert_int_equal(hi, 0x4bf92f3577b34da6ULL);
    assert_int_equal(lo, 0xa3ce929d0e0e4736ULL);
    assert_int_equal(tw_span_context_span_id(c), 0x00f067aa0ba902b7ULL);
    assert_true(tw_span_context_flags(c) & TW_FLAG_SAMPLED);
    assert_int_equal(tw_span_context_baggage(c, "tier", 4, &v, &vl), TW_OK);
    assert_int_equal(vl, 4);
    assert_memory_equal(v, "gold", 4);
    tw_span_context_free(c);

    c = extract(t, "GET / HTTP/1.1\nUber-Trace-Id: 1f:2a:0:0\nuberctx-k: v%20w\n", TW_OK);
    tw_span_context_trace_id(c, &hi, &lo);
    assert_int_equal(lo, 0x1f);
    assert_int_equal(tw_span_context_span_id(c), 0x2a);
    assert_false(tw_span_context_flags(c) & TW_FLAG_SAMPLED);
    assert_int_equal(tw_span_context_baggage(c, "k", 1, &v, &vl), TW_OK);
    assert_memory_equal(v, "v w", 3);
    tw_span_context_free(c);

    c = extract(t, "GET / HTTP/1.1\r\nX-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\n"
                   "X-B3-SpanId: e457b5a2e4d86bd1\r\nX-B3-Sampled: 1\r\n\r\n", TW_OK);
    assert_int_equal(tw_span_context_span_id(c), 0xe457b5a2e4d86bd1ULL);
    tw_span_context_free(c);

    /* context headers after the blank line are body, not headers */
    extract(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n",
            TW_ERR_NOT_FOUND);
    extract(t, "GET / HTTP/1.1\r\ntraceparent: 00-zz-00f067aa0ba902b7-01\r\n\r\n", TW_ERR_CORRUPTED);
    extract(t, "", TW_ERR_NOT_FOUND);
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_line),
        cmocka_unit_test(headers),
        cmocka_unit_test(foreach_visits_every_header_in_order),
        cmocka_unit_test(extract_from_raw_heads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
