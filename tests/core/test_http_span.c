/* test_http_span.c — the gateway helpers every HTTP face shares: the server
 * span of a request (tw_span_set_http_request) and of its response
 * (tw_span_set_http_status), the one-call pair tw_http_span_start /
 * tw_http_span_finish, as the memory reporter records them, and the
 * propagation header names a gateway clears (tw_tracer_header_names),
 * checked against what inject writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "span_helpers.h"

static tw_http_request req(const char *method, const char *target, const char *host,
                           const char *scheme, const char *component)
{
    tw_http_request r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.method_len = strlen(method);
    r.target = target;
    r.target_len = strlen(target);
    r.host = host;
    r.host_len = host ? strlen(host) : 0;
    r.scheme = scheme;
    r.scheme_len = scheme ? strlen(scheme) : 0;
    r.component = component;
    r.component_len = component ? strlen(component) : 0;
    return r;
}

static void tags_the_request_and_response(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "1", NULL);
    tw_span *s = start(t, "op", NULL);
    tw_http_request r = req("GET", "/a?b=1", "ex.com:8443", "https", "edge");
    assert_int_equal(tw_span_set_http_request(s, &r), TW_OK);
    assert_int_equal(tw_span_set_http_status(s, 502), TW_OK);
    finish_free(s);
    assert_int_equal(tw_span_set_http_status(NULL, 200), TW_ERR_INVALID_ARG);
    json_t *a = recorded(t, 1);
    json_t *sp = span_named(a, "op");
    json_t *tags = json_object_get(sp, "tags");
    assert_string_equal(jstr(sp, "kind"), "server");
    assert_string_equal(jstr(tags, "component"), "edge");
    assert_string_equal(jstr(tags, "http.method"), "GET");
    assert_string_equal(jstr(tags, "http.url"), "https://ex.com:8443/a?b=1");
    assert_int_equal(json_integer_value(json_object_get(tags, "http.status_code")), 502);
    assert_true(json_is_true(json_object_get(tags, "error")));
    json_decref(a);
    tw_tracer_free(t);
}

static void url_without_host_or_absolute_is_the_target(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "1",
                              "max_tag_value_length", "8192", NULL);
    const char *cases[][3] = {
        {"/p", NULL, "/p"},
        {"http://up:81/q", "h", "http://up:81/q"},
        {"/p", "h", "http://h/p"},          /* scheme defaults to http */
    };
    for (size_t i = 0; i < 3; i++) {
        tw_span *s = start(t, "op", NULL);
        tw_http_request r = req("GET", cases[i][0], cases[i][1], NULL, NULL);
        assert_int_equal(tw_span_set_http_request(s, &r), TW_OK);
        finish_free(s);
        json_t *a = recorded(t, 1);
        json_t *tags = json_object_get(span_named(a, "op"), "tags");
        assert_string_equal(jstr(tags, "http.url"), cases[i][2]);
        assert_null(json_object_get(tags, "component"));
        assert_null(json_object_get(tags, "http.status_code"));
        json_decref(a);
    }
    /* a long URL goes through the heap, whole */
    char host[3000];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    tw_span *s = start(t, "op", NULL);
    tw_http_request r = req("GET", "/x", host, "https", NULL);
    assert_int_equal(tw_span_set_http_request(s, &r), TW_OK);
    finish_free(s);
    json_t *a = recorded(t, 1);
    assert_int_equal(strlen(jstr(json_object_get(span_named(a, "op"), "tags"), "http.url")),
                     strlen("https://") + strlen(host) + 2);
    json_decref(a);
    tw_tracer_free(t);
}

static void unsampled_and_finished_spans_get_nothing(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_span *s = start(t, "op", NULL);
    tw_http_request r = req("GET", "/p", "h", NULL, "nginx");
    assert_int_equal(tw_span_set_http_request(s, &r), TW_OK);
    assert_int_equal(tw_span_set_http_status(s, 500), TW_OK);
    assert_int_equal(tw_span_finish(s, 0), TW_OK);
    assert_int_equal(tw_span_set_http_request(s, &r), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_http_status(s, 500), TW_ERR_FINISHED);
    tw_span_free(s);
    json_t *a = recorded(t, 1);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    r.method = NULL;      /* method_len 3 without a pointer */
    s = start(t, "op", NULL);
    assert_int_equal(tw_span_set_http_request(s, &r), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_set_http_request(s, NULL), TW_ERR_INVALID_ARG);
    tw_span_free(s);
    tw_tracer_free(t);
}


/* The one-call pair: a name borrowed from a contiguous request line, a
 * parent, the start time, peer.address, and the response's tags. */
static void one_call_start_and_finish(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "1", NULL);
    tw_span_context *parent;
    assert_int_equal(tw_span_context_new(0x1122, 0x3344, 0x55, 0, TW_FLAG_SAMPLED, &parent), TW_OK);
    const char *line = "POST /api/v1?x=1 HTTP/1.1";
    tw_http_request r = req("POST", "/api/v1?x=1", "ex.com", NULL, "nginx");
    r.method = line;                 /* "POST" and the target inside one line */
    r.target = line + 5;
    tw_span *s;
    assert_int_equal(tw_http_span_start(t, &r, "10.1.2.3", 8, parent, 1700000000000000, &s), TW_OK);
    tw_span_context_free(parent);
    tw_http_response resp = {503, "10.0.0.2:80, 10.0.0.3:80", 24, 12};
    assert_int_equal(tw_http_span_finish(s, &resp, 1700000000250000), TW_OK);
    assert_int_equal(tw_http_span_finish(s, &resp, 0), TW_ERR_FINISHED);
    tw_span_free(s);
    json_t *a = recorded(t, 1);
    assert_int_equal(json_array_size(a), 1);
    json_t *sp = span_named(a, "POST /api/v1");
    json_t *tags = json_object_get(sp, "tags");
    assert_string_equal(jstr(sp, "kind"), "server");
    assert_string_equal(jstr(sp, "trace_id"), "00000000000011220000000000003344");
    assert_string_equal(jstr(sp, "parent_id"), "0000000000000055");
    assert_int_equal(json_integer_value(json_object_get(sp, "start_us")), 1700000000000000);
    assert_int_equal(json_integer_value(json_object_get(sp, "duration_us")), 250000);
    assert_string_equal(jstr(tags, "component"), "nginx");
    assert_string_equal(jstr(tags, "http.method"), "POST");
    assert_string_equal(jstr(tags, "http.url"), "http://ex.com/api/v1?x=1");
    assert_string_equal(jstr(tags, "peer.address"), "10.1.2.3");
    assert_int_equal(json_integer_value(json_object_get(tags, "http.status_code")), 503);
    assert_true(json_is_true(json_object_get(tags, "error")));
    assert_string_equal(jstr(tags, "upstream.address"), "10.0.0.2:80, 10.0.0.3:80");
    assert_int_equal(json_integer_value(json_object_get(tags, "upstream.response_time_ms")), 12);
    json_decref(a);
    tw_tracer_free(t);
}

/* Method and target apart (HTTP/2), names cut to TW_HTTP_MAX_NAME, values
 * cut to max_tag_value_length outside a UTF-8 sequence, no peer, no
 * response figures. */
static void one_call_bounds(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "1",
                              "max_tag_value_length", "12", NULL);
    static char target[3000];
    target[0] = '/';
    memset(target + 1, 'p', sizeof target - 2);
    target[sizeof target - 1] = '\0';
    tw_http_request r = req("GET", target, NULL, NULL, NULL);
    tw_span *s;
    assert_int_equal(tw_http_span_start(t, &r, NULL, 0, NULL, 0, &s), TW_OK);
    size_t nlen;
    tw_span_operation_name(s, &nlen);
    assert_int_equal(nlen, TW_HTTP_MAX_NAME);
    tw_http_response resp = {-1, NULL, 0, -1};
    assert_int_equal(tw_http_span_finish(s, &resp, 0), TW_OK);
    tw_span_free(s);
    /* "/é" repeated: a cut at 12 bytes would land inside the 6th "é" */
    r = req("GET", "/\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "h", NULL, NULL);
    assert_int_equal(tw_http_span_start(t, &r, "0123456789abcdef", 16, NULL, 0, &s), TW_OK);
    assert_int_equal(tw_http_span_finish(s, NULL, 0), TW_OK);
    tw_span_free(s);
    json_t *a = recorded(t, 1);
    assert_int_equal(json_array_size(a), 2);
    json_t *t0 = json_object_get(json_array_get(a, 0), "tags");
    assert_int_equal(strlen(jstr(json_array_get(a, 0), "operation_name")), TW_HTTP_MAX_NAME);
    assert_string_equal(jstr(t0, "http.url"), "/ppppppppppp");
    assert_null(json_object_get(t0, "peer.address"));
    assert_null(json_object_get(t0, "component"));
    assert_null(json_object_get(t0, "http.status_code"));
    assert_null(json_object_get(t0, "upstream.address"));
    assert_null(json_object_get(t0, "upstream.response_time_ms"));
    json_t *t1 = json_object_get(json_array_get(a, 1), "tags");
    assert_string_equal(jstr(t1, "http.url"), "http://h/\xc3\xa9");   /* 11 bytes, whole chars */
    assert_string_equal(jstr(t1, "peer.address"), "0123456789ab");
    assert_null(json_object_get(t1, "http.status_code"));
    json_decref(a);
    tw_tracer_free(t);
}

/* Methods and components: the usual ones are matched to literals (not
 * copied), anything else -- look-alikes included -- is copied as given; a
 * method longer than max_tag_value_length is cut like any value. The
 * request's strings are overwritten before the spans are read, so a value
 * borrowed from them by mistake would show. */
static void one_call_methods_and_components(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "1",
                              "max_tag_value_length", "16", NULL);
    static const char *const methods[] = {"GET", "PUT", "POST", "HEAD", "PATCH", "TRACE",
                                          "DELETE", "OPTIONS", "CONNECT", "GEX", "Get",
                                          "POSTS", "PROPFIND", "", "A-VERY-LONG-METHOD-NAME"};
    static const char *const comps[] = {"nginx", "nginy", "edge", NULL, "nginx"};
    size_t n = sizeof methods / sizeof methods[0];
    for (size_t i = 0; i < n; i++) {
        char m[64], c[16], host[16] = "e.io", target[16] = "/p?q";
        snprintf(m, sizeof m, "%s", methods[i]);
        const char *comp = comps[i % 5];
        if (comp)
            snprintf(c, sizeof c, "%s", comp);
        tw_http_request r = req(m, target, host, "http", comp ? c : NULL);
        tw_span *s;
        assert_int_equal(tw_http_span_start(t, &r, "1.2.3.4", 7, NULL, 0, &s), TW_OK);
        memset(m, 'x', sizeof m);
        memset(c, 'x', sizeof c);
        memset(host, 'x', sizeof host);
        memset(target, 'x', sizeof target);
        assert_int_equal(tw_http_span_finish(s, NULL, 0), TW_OK);
        tw_span_free(s);
    }
    json_t *a = recorded(t, 1);
    assert_int_equal(json_array_size(a), n);
    for (size_t i = 0; i < n; i++) {
        json_t *tags = json_object_get(json_array_get(a, i), "tags");
        char want[32];
        snprintf(want, sizeof want, "%.16s", methods[i]);
        assert_string_equal(jstr(tags, "http.method"), want);
        if (comps[i % 5])
            assert_string_equal(jstr(tags, "component"), comps[i % 5]);
        else
            assert_null(json_object_get(tags, "component"));
        assert_string_equal(jstr(tags, "http.url"), "http://e.io/p?q");
        assert_string_equal(jstr(tags, "peer.address"), "1.2.3.4");
    }
    json_decref(a);
    tw_tracer_free(t);
}

/* The name is the target up to its first '?', whatever the target's length
 * (short ones are scanned a word at a time) and whatever bytes sit around
 * the '?' (bytes next to 0x3f, and 0xbf = '?' with the high bit, which a
 * word scan could take for one). Each target is a heap block of exactly its
 * length, so a read past it fails under ASan. */
static void one_call_name_stops_at_the_query(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "1", NULL);
    static const unsigned char fill[] = {'/', '>', '@', 0xbf, 0x7f, 0x3e, 'a', 0x01, 0xff};
    for (size_t n = 1; n <= 40; n++) {
        for (size_t qpos = 0; qpos <= n; qpos++) {             /* n: no '?' */
            for (size_t k = 0; k < 2; k++) {                 /* one '?' or two */
                char *target = malloc(n);
                assert_non_null(target);
                for (size_t i = 0; i < n; i++)
                    target[i] = (char)fill[(i + n + k) % sizeof fill];
                if (qpos < n)
                    target[qpos] = '?';
                if (k && qpos + 2 < n)
                    target[qpos + 2] = '?';
                tw_http_request r = req("GET", "", NULL, NULL, NULL);
                r.target = target;
                r.target_len = n;
                tw_span *s;
                assert_int_equal(tw_http_span_start(t, &r, NULL, 0, NULL, 0, &s), TW_OK);
                size_t nlen;
                const char *name = tw_span_operation_name(s, &nlen);
                size_t plen = qpos < n ? qpos : n;
                assert_int_equal(nlen, 4 + plen);
                assert_memory_equal(name, "GET ", 4);
                assert_memory_equal(name + 4, target, plen);
                tw_span_free(s);
                free(target);
            }
        }
    }
    tw_tracer_free(t);
}

static void one_call_unsampled_and_bad_input(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_http_request r = req("GET", "/p", "h", NULL, "nginx");
    tw_span *s = (tw_span *)&r;
    assert_int_equal(tw_http_span_start(NULL, &r, NULL, 0, NULL, 0, &s), TW_ERR_INVALID_ARG);
    assert_null(s);
    assert_int_equal(tw_http_span_start(t, NULL, NULL, 0, NULL, 0, &s), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_http_span_start(t, &r, NULL, 3, NULL, 0, &s), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_http_span_start(t, &r, NULL, 0, NULL, 0, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_http_span_start(t, &r, "1.2.3.4", 7, NULL, 0, &s), TW_OK);
    size_t nlen;
    assert_string_equal(tw_span_operation_name(s, &nlen), "GET /p");
    tw_http_response resp = {500, NULL, 4, -1};
    assert_int_equal(tw_http_span_finish(s, &resp, 0), TW_ERR_INVALID_ARG);   /* len without a pointer */
    assert_int_equal(tw_http_span_tag_response(s, NULL), TW_ERR_INVALID_ARG);
    resp.upstream_addr_len = 0;
    assert_int_equal(tw_http_span_tag_response(s, &resp), TW_OK);
    assert_int_equal(tw_http_span_finish(s, &resp, 0), TW_OK);
    assert_int_equal(tw_http_span_tag_response(s, &resp), TW_ERR_FINISHED);
    assert_int_equal(tw_http_span_finish(NULL, &resp, 0), TW_ERR_INVALID_ARG);
    tw_span_free(s);
    json_t *a = recorded(t, 1);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    tw_tracer_free(t);
}

typedef struct seen {
    char names[32][64];
    int n, prefixes;
    char prefix[64];
} seen;

static int collect(void *ud, const char *name, size_t len, int is_prefix)
{
    seen *s = ud;
    assert_true(len < 64);
    if (is_prefix) {
        memcpy(s->prefix, name, len);
        s->prefix[len] = '\0';
        s->prefixes++;
    } else {
        assert_true(s->n < 32);
        memcpy(s->names[s->n], name, len);
        s->names[s->n++][len] = '\0';
    }
    return 0;
}

static int has(const seen *s, const char *k)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], k) == 0)
            return 1;
    return s->prefixes && strncmp(k, s->prefix, strlen(s->prefix)) == 0;
}

static int check_named(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    (void)v; (void)vl;
    char key[128];
    assert_true(kl < sizeof key);
    memcpy(key, k, kl);
    key[kl] = '\0';
    assert_true(has(ud, key));
    return 0;
}

static void header_names_cover_what_inject_writes(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "1",
                              "propagation.inject", "jaeger,w3c,b3,b3multi",
                              "propagation.extract", "w3c",
                              "trace_id_header", "X-My-Trace", "baggage_header_prefix", "x-bag-", NULL);
    seen all = {0}, dflt = {0}, w3c = {0};
    assert_int_equal(tw_tracer_header_names(t, TW_PROP_ALL, collect, &all), TW_OK);
    assert_int_equal(all.n, 12);
    assert_int_equal(all.prefixes, 1);
    assert_string_equal(all.prefix, "x-bag-");
    assert_true(has(&all, "x-my-trace") && !has(&all, "uber-trace-id"));
    assert_true(has(&all, "jaeger-debug-id") && has(&all, "b3") && has(&all, "x-b3-flags"));
    assert_int_equal(tw_tracer_header_names(t, TW_PROP_DEFAULT, collect, &dflt), TW_OK);
    assert_int_equal(dflt.n, 12);                   /* inject names every format */
    assert_int_equal(tw_tracer_header_names(t, TW_PROP_W3C, collect, &w3c), TW_OK);
    assert_int_equal(w3c.n, 3);
    assert_int_equal(w3c.prefixes, 0);
    assert_true(has(&w3c, "traceparent") && has(&w3c, "tracestate") && has(&w3c, "baggage"));
    assert_int_equal(tw_tracer_header_names(t, 0x100, collect, &w3c), TW_ERR_UNSUPPORTED);
    assert_int_equal(tw_tracer_header_names(NULL, 0, collect, &w3c), TW_ERR_INVALID_ARG);

    tw_span *s = start(t, "op", NULL);
    assert_int_equal(tw_span_set_baggage(s, "k", 1, "v", 1), TW_OK);
    assert_int_equal(tw_tracer_inject(t, tw_span_get_context(s), TW_PROP_DEFAULT, check_named, &dflt),
                     TW_OK);
    finish_free(s);
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tags_the_request_and_response),
        cmocka_unit_test(url_without_host_or_absolute_is_the_target),
        cmocka_unit_test(unsampled_and_finished_spans_get_nothing),
        cmocka_unit_test(one_call_start_and_finish),
        cmocka_unit_test(one_call_bounds),
        cmocka_unit_test(one_call_methods_and_components),
        cmocka_unit_test(one_call_name_stops_at_the_query),
        cmocka_unit_test(one_call_unsampled_and_bad_input),
        cmocka_unit_test(header_names_cover_what_inject_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
