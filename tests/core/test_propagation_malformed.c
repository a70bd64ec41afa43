/* test_propagation_malformed.c — every malformed carrier gives a clean "no
 * context": TW_ERR_CORRUPTED when a context header of an enabled format is
 * present but bad (wrong lengths, non-hex, zero ids, version ff, oversized ids
 * or tracestate, badly encoded baggage, conflicting duplicates, embedded NULs, empty
 * values, too many tracestate entries, formats disagreeing), TW_ERR_NOT_FOUND
 * when nothing relevant is there — and *out is always left NULL. The table is
 * run under ASan/UBSan in the sanitizer build; a seeded mutation loop then
 * checks that arbitrary byte damage to valid headers never does worse.
 * Too much baggage is not malformed: test_baggage_bounds.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "prop_carrier.h"
#include "propagation.h"
#include "text.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

typedef struct hdr {
    const char *name, *val;
    size_t len;               /* 0: strlen(val); else exact (embedded NULs) */
} hdr;

typedef struct bad_case {
    const char *what;
    hdr h[4];
    unsigned formats;         /* 0: every format */
    tw_status want;
    int big;                  /* >0: replaces h[0].val with a generated value (see build_big) */
} bad_case;

enum { BIG_NONE, BIG_TRACESTATE_33, BIG_TRACESTATE_BYTES, BIG_TRACEPARENT };

static const bad_case CASES[] = {
    /* --- traceparent */
    { "traceparent one char short", {{"traceparent", "00-" TID "-" SID "-0", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent v00 with trailing data", {{"traceparent", TP "-extra", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent version ff", {{"traceparent", "ff-" TID "-" SID "-01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent upper-case trace id", {{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent upper-case version", {{"traceparent", "0A-" TID "-" SID "-01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent all-zero trace id", {{"traceparent", "00-00000000000000000000000000000000-" SID "-01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent all-zero parent id", {{"traceparent", "00-" TID "-0000000000000000-01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent non-hex trace id", {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e473g-" SID "-01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent non-hex flags", {{"traceparent", "00-" TID "-" SID "-0g", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent wrong separator", {{"traceparent", "00_" TID "-" SID "-01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent 31-hex trace id", {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent 17-hex parent id", {{"traceparent", "00-" TID "-00f067aa0ba902b70-1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent future version, no dash after flags", {{"traceparent", "cc-" TID "-" SID "-01.future", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent empty", {{"traceparent", "", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent embedded NUL", {{"traceparent", "00-" TID "-" SID "-0\0", 55}}, 0, TW_ERR_CORRUPTED, 0 },
    { "traceparent oversized", {{"traceparent", NULL, 0}}, 0, TW_ERR_CORRUPTED, BIG_TRACEPARENT },
    { "traceparent duplicate, different values", {{"traceparent", TP, 0}, {"TraceParent", "00-" TID "-" SID "-00", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    /* --- tracestate (with a valid traceparent) */
    { "tracestate 33 entries", {{"tracestate", NULL, 0}, {"traceparent", TP, 0}}, 0, TW_ERR_CORRUPTED, BIG_TRACESTATE_33 },
    { "tracestate oversized", {{"tracestate", NULL, 0}, {"traceparent", TP, 0}}, 0, TW_ERR_CORRUPTED, BIG_TRACESTATE_BYTES },
    { "tracestate upper-case key", {{"traceparent", TP, 0}, {"tracestate", "Rojo=00f067aa0ba902b7", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "tracestate duplicate key", {{"traceparent", TP, 0}, {"tracestate", "a=1,b=2,a=3", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "tracestate member without '='", {{"traceparent", TP, 0}, {"tracestate", "rojo", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "tracestate value with '='", {{"traceparent", TP, 0}, {"tracestate", "a=b=c", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "tracestate empty value", {{"traceparent", TP, 0}, {"tracestate", "a=", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "tracestate control character", {{"traceparent", TP, 0}, {"tracestate", "a=b\x01", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    /* --- W3C baggage */
    { "baggage bad percent escape", {{"baggage", "k=%zz", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage truncated percent escape", {{"baggage", "k=abc%4", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage empty key", {{"baggage", "=v", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage member without '='", {{"baggage", "k1=v1,k2", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage empty member", {{"baggage", "a=1,,b=2", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage raw space inside value", {{"baggage", "k=a b", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage non-token key", {{"baggage", "k(y)=1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage raw non-ASCII value", {{"baggage", "k=\xc3\xa9", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage bad property", {{"baggage", "k=v;p(1)", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "baggage bad, valid traceparent", {{"traceparent", TP, 0}, {"baggage", "k=%g0", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    /* --- Jaeger */
    { "uber-trace-id three fields", {{"uber-trace-id", "abc:def:0", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id five fields", {{"uber-trace-id", "abc:def:0:1:2", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id non-hex trace id", {{"uber-trace-id", "xyz:def:0:1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id 33-hex trace id", {{"uber-trace-id", "1" TID ":def:0:1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id 17-hex span id", {{"uber-trace-id", "abc:100f067aa0ba902b7:0:1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id zero trace id", {{"uber-trace-id", "0:def:0:1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id zero span id", {{"uber-trace-id", "abc:0000:0:1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id empty field", {{"uber-trace-id", "abc::0:1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id three-digit flags", {{"uber-trace-id", "abc:def:0:100", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id bad percent escape", {{"uber-trace-id", "abc%3Zdef:0:1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id empty", {{"uber-trace-id", "", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id embedded NUL", {{"uber-trace-id", "abc:def\0:0:1", 12}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uber-trace-id duplicate, different values", {{"uber-trace-id", "abc:def:0:1", 0}, {"Uber-Trace-Id", "abc:def:0:0", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uberctx bad percent escape", {{"uberctx-k", "a%2", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uberctx control character", {{"uberctx-k", "a\x01" "b", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "uberctx same key twice, different values", {{"uberctx-K", "1", 0}, {"uberctx-k", "2", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "jaeger-baggage item without '='", {{"jaeger-baggage", "k1=v1, k2", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "jaeger-baggage empty key", {{"jaeger-baggage", "=v", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "jaeger-debug-id with NUL", {{"jaeger-debug-id", "ab\0c", 4}}, 0, TW_ERR_CORRUPTED, 0 },
    /* --- B3 single */
    { "b3 15-hex trace id", {{"b3", "a3ce929d0e0e473-" SID "-1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 15-hex span id", {{"b3", "a3ce929d0e0e4736-0f067aa0ba902b7-1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 bad sampling state", {{"b3", "a3ce929d0e0e4736-" SID "-2", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 bad sampling-only value", {{"b3", "true", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 five fields", {{"b3", "a3ce929d0e0e4736-" SID "-1-" SID "-x", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 upper-case hex", {{"b3", "A3CE929D0E0E4736-" SID "-1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 all-zero trace id", {{"b3", "0000000000000000-" SID "-1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 zero parent id", {{"b3", "a3ce929d0e0e4736-" SID "-1-0000000000000000", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 empty", {{"b3", "", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 trailing dash", {{"b3", "a3ce929d0e0e4736-" SID "-", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    /* --- B3 multi */
    { "x-b3 trace id without span id", {{"X-B3-TraceId", "a3ce929d0e0e4736", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "x-b3 span id without trace id", {{"X-B3-SpanId", SID, 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "x-b3 parent without ids", {{"X-B3-ParentSpanId", SID, 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "x-b3 20-hex trace id", {{"X-B3-TraceId", "a3ce929d0e0e47361234", 0}, {"X-B3-SpanId", SID, 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "x-b3-sampled yes", {{"X-B3-TraceId", "a3ce929d0e0e4736", 0}, {"X-B3-SpanId", SID, 0}, {"X-B3-Sampled", "yes", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "x-b3-flags 2", {{"X-B3-Flags", "2", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "x-b3-sampled empty", {{"X-B3-Sampled", "", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    /* --- formats that disagree */
    { "traceparent and uber-trace-id name different traces", {{"traceparent", TP, 0}, {"uber-trace-id", "abc:def:0:1", 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 and traceparent name different traces", {{"b3", "a3ce929d0e0e4736-" SID "-1", 0}, {"traceparent", TP, 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "b3 single and multi name different traces", {{"b3", TID "-" SID "-1", 0}, {"x-b3-traceid", "a3ce929d0e0e4736", 0}, {"x-b3-spanid", SID, 0}}, 0, TW_ERR_CORRUPTED, 0 },
    { "malformed format not enabled is still bad when enabled", {{"b3", "zz", 0}, {"traceparent", TP, 0}}, TW_PROP_B3_SINGLE | TW_PROP_W3C, TW_ERR_CORRUPTED, 0 },
    /* --- nothing there */
    { "no headers", {{NULL, NULL, 0}}, 0, TW_ERR_NOT_FOUND, 0 },
    { "unrelated headers only", {{"content-type", "text/plain", 0}, {"x-b3", "1", 0}, {"uber-trace", "abc:def:0:1", 0}}, 0, TW_ERR_NOT_FOUND, 0 },
    { "tracestate without traceparent", {{"tracestate", "rojo=1", 0}}, 0, TW_ERR_NOT_FOUND, 0 },
    { "traceparent when only jaeger is enabled", {{"traceparent", TP, 0}}, TW_PROP_JAEGER, TW_ERR_NOT_FOUND, 0 },
    { "malformed b3 when b3 is disabled", {{"b3", "zz", 0}}, TW_PROP_JAEGER | TW_PROP_W3C, TW_ERR_NOT_FOUND, 0 },
    { "empty baggage header", {{"baggage", "  ", 0}}, 0, TW_ERR_NOT_FOUND, 0 },
    { "uberctx- prefix with no key", {{"uberctx-", "v", 0}}, 0, TW_ERR_NOT_FOUND, 0 },
    { "empty jaeger-debug-id", {{"jaeger-debug-id", "", 0}}, 0, TW_ERR_NOT_FOUND, 0 },
};

#define NCASES (sizeof CASES / sizeof *CASES)

/* Generated oversized values; returned buffer is malloc'ed. */
static char *build_big(int kind, size_t *len)
{
    size_t cap = 40000, o = 0;
    char *b = malloc(cap);
    switch (kind) {
    case BIG_TRACESTATE_33:
        for (int i = 0; i < 33; i++)
            o += (size_t)snprintf(b + o, cap - o, "%sk%d=1", i ? "," : "", i);
        break;
    case BIG_TRACESTATE_BYTES:
        for (int i = 0; i < 20; i++) {
            o += (size_t)snprintf(b + o, cap - o, "%sk%d=", i ? "," : "", i);
            memset(b + o, 'v', 256);
            o += 256;
        }
        for (int i = 0; i < 12; i++) {   /* 32 entries but > 8192 bytes */
            o += (size_t)snprintf(b + o, cap - o, ",z%d=", i);
            memset(b + o, 'v', 256);
            o += 256;
        }
        break;
    case BIG_TRACEPARENT:
        o = (size_t)snprintf(b, cap, "cc-%s-%s-01-", TID, SID);
        memset(b + o, 'f', 600);
        o += 600;
        break;
    default:
        break;
    }
    b[o] = '\0';
    *len = o;
    return b;
}

static void malformed_table(void **state)
{
    (void)state;
    tw_config cfg;
    test_config(&cfg);
    size_t corrupted = 0, not_found = 0;
    for (size_t i = 0; i < NCASES; i++) {
        const bad_case *bc = &CASES[i];
        carrier c = {0};
        char *big = NULL;
        for (int j = 0; j < 4 && bc->h[j].name; j++) {
            const char *v = bc->h[j].val;
            size_t vl = bc->h[j].len ? bc->h[j].len : (v ? strlen(v) : 0);
            if (j == 0 && bc->big) {
                big = build_big(bc->big, &vl);
                v = big;
            }
            carrier_addn(&c, bc->h[j].name, strlen(bc->h[j].name), v, vl);
        }
        tw_span_context *out = (tw_span_context *)(uintptr_t)0x1;   /* must be reset */
        tw_status st = twp_extract(&cfg, bc->formats ? bc->formats : ALL_PROP, carrier_each, &c, &out);
        if (st != bc->want || out != NULL)
            fprintf(stderr, "case %zu \"%s\": got status %d, want %d, out %p\n", i, bc->what,
                    st, bc->want, (void *)out);
        assert_int_equal(st, bc->want);
        assert_null(out);
        if (st == TW_ERR_CORRUPTED)
            corrupted++;
        else
            not_found++;
        free(big);
        carrier_clear(&c);
    }
    printf("[ malformed ] %zu cases: %zu TW_ERR_CORRUPTED, %zu TW_ERR_NOT_FOUND, all *out NULL\n",
           NCASES, corrupted, not_found);
    fflush(stdout);
    assert_true(corrupted >= 40);
}

/* Every parser on its own, directly over (ptr, len), as a fuzzer calls them:
 * the bad inputs of the table are rejected without the collection step. */
static tw_status sink_ok(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    (void)ud; (void)k; (void)kl; (void)v; (void)vl;
    return TW_OK;
}

static void parsers_reject_directly(void **state)
{
    (void)state;
    twp_ids ids;
    char out[64];
    size_t ol;
    assert_int_equal(twp_w3c_parse_traceparent("ff-" TID "-" SID "-01", 55, &ids), TW_ERR_CORRUPTED);
    assert_int_equal(twp_w3c_parse_traceparent(TP, 54, &ids), TW_ERR_CORRUPTED);
    assert_int_equal(twp_w3c_parse_traceparent(TP, 55, &ids), TW_OK);
    assert_int_equal(twp_jaeger_parse_trace_header("a:b:c", 5, &ids), TW_ERR_CORRUPTED);
    assert_int_equal(twp_jaeger_parse_trace_header("a:b:c:1", 7, &ids), TW_OK);
    assert_int_equal(twp_b3_parse_single("1-2", 3, &ids), TW_ERR_CORRUPTED);
    assert_int_equal(twp_b3_parse_single("d", 1, &ids), TW_OK);
    assert_int_equal(twp_w3c_parse_tracestate("a=1,a=2", 7, out, &ol), TW_ERR_CORRUPTED);
    assert_int_equal(twp_w3c_parse_baggage("k=%2", 4, sink_ok, NULL), TW_ERR_CORRUPTED);
    assert_int_equal(twp_jaeger_parse_baggage_header("k", 1, sink_ok, NULL), TW_ERR_CORRUPTED);
    assert_int_equal(twp_percent_decode("%4", 2, false, out, &ol), TW_ERR_CORRUPTED);
    assert_int_equal(twp_percent_decode("%4g", 3, false, out, &ol), TW_ERR_CORRUPTED);
    assert_int_equal(twp_percent_decode("a%41+", 5, true, out, &ol), TW_OK);
    assert_int_equal(ol, 3);
    assert_memory_equal(out, "aA ", 3);
    /* a zero-length buffer is fine for every parser */
    assert_int_equal(twp_w3c_parse_traceparent("", 0, &ids), TW_ERR_CORRUPTED);
    assert_int_equal(twp_jaeger_parse_trace_header("", 0, &ids), TW_ERR_CORRUPTED);
    assert_int_equal(twp_b3_parse_single("", 0, &ids), TW_ERR_CORRUPTED);
    assert_int_equal(twp_w3c_parse_tracestate("", 0, out, &ol), TW_OK);
    assert_int_equal(twp_w3c_parse_baggage("", 0, sink_ok, NULL), TW_OK);
}

/* The walker reporting failure on its own, and bad arguments. */
static int broken_carrier(void *carrier, tw_kv_fn visit, void *ud)
{
    (void)carrier; (void)visit; (void)ud;
    return -1;
}

static void bad_arguments_and_broken_carrier(void **state)
{
    (void)state;
    tw_config cfg;
    test_config(&cfg);
    carrier c = {0};
    tw_span_context *out = (tw_span_context *)(uintptr_t)0x1;
    assert_int_equal(twp_extract(&cfg, 0, broken_carrier, &c, &out), TW_ERR_INVALID_ARG);
    assert_null(out);
    out = (tw_span_context *)(uintptr_t)0x1;
    assert_int_equal(twp_extract(NULL, 0, carrier_each, &c, &out), TW_ERR_INVALID_ARG);
    assert_null(out);
    out = (tw_span_context *)(uintptr_t)0x1;
    assert_int_equal(twp_extract(&cfg, 0, NULL, &c, &out), TW_ERR_INVALID_ARG);
    assert_null(out);
    out = (tw_span_context *)(uintptr_t)0x1;
    assert_int_equal(twp_extract(&cfg, 0x40, carrier_each, &c, &out), TW_ERR_UNSUPPORTED);
    assert_null(out);
    assert_int_equal(twp_extract(&cfg, 0, carrier_each, &c, NULL), TW_ERR_INVALID_ARG);
}

/* Seeded byte damage to a valid carrier of every format: the result is OK,
 * CORRUPTED or NOT_FOUND, *out is set exactly on OK, and the sanitizers see
 * nothing. Deterministic (xorshift with a fixed seed). */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void mutations_never_misbehave(void **state)
{
    (void)state;
    tw_config cfg;
    test_config(&cfg);
    static const char *base[][2] = {
        { "uber-trace-id", TID ":" SID ":0:1" },
        { "uberctx-user", "alice%20b" },
        { "jaeger-baggage", "a=1, b=2" },
        { "traceparent", TP },
        { "tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE" },
        { "baggage", "k=v%20x;p=1,k2=v2" },
        { "b3", TID "-" SID "-1-" SID },
        { "x-b3-traceid", TID },
        { "x-b3-spanid", SID },
        { "x-b3-sampled", "1" },
    };
    static const char alphabet[] = "0123456789abcdefABCDEF-:,;=% \t\0zg+";
    size_t nb = sizeof base / sizeof *base;
    size_t ok = 0, corrupted = 0, not_found = 0;
    for (int iter = 0; iter < 20000; iter++) {
        carrier c = {0};
        size_t pick = next_rand() % nb;
        for (size_t i = 0; i < nb; i++) {
            char v[256];
            size_t vl = strlen(base[i][1]);
            memcpy(v, base[i][1], vl);
            if (i == pick || next_rand() % 8 == 0) {
                int edits = 1 + (int)(next_rand() % 3);
                for (int e = 0; e < edits; e++) {
                    size_t at = vl ? next_rand() % vl : 0;
                    switch (next_rand() % 3) {
                    case 0:
                        if (vl)
                            v[at] = alphabet[next_rand() % (sizeof alphabet - 1)];
                        break;
                    case 1:
                        if (vl) {
                            memmove(v + at, v + at + 1, vl - at - 1);
                            vl--;
                        }
                        break;
                    default:
                        if (vl < sizeof v - 1) {
                            memmove(v + at + 1, v + at, vl - at);
                            v[at] = alphabet[next_rand() % (sizeof alphabet - 1)];
                            vl++;
                        }
                    }
                }
            }
            if (next_rand() % 4)
                carrier_addn(&c, base[i][0], strlen(base[i][0]), v, vl);
        }
        tw_span_context *out = (tw_span_context *)(uintptr_t)0x1;
        tw_status st = twp_extract(&cfg, ALL_PROP, carrier_each, &c, &out);
        assert_true(st == TW_OK || st == TW_ERR_CORRUPTED || st == TW_ERR_NOT_FOUND);
        if (st == TW_OK) {
            assert_non_null(out);
            ok++;
            /* whatever was accepted re-injects and re-extracts to the same ids */
            carrier again = {0};
            assert_int_equal(twp_inject(&cfg, out, ALL_PROP, carrier_set, &again), TW_OK);
            tw_span_context *back = NULL;
            tw_status st2 = twp_extract(&cfg, ALL_PROP, carrier_each, &again, &back);
            if (out->trace_lo || out->trace_hi) {
                assert_int_equal(st2, TW_OK);
                assert_true(back->trace_hi == out->trace_hi && back->trace_lo == out->trace_lo);
                assert_true(back->span_id == out->span_id);
            }
            tw_span_context_free(back);
            carrier_clear(&again);
            tw_span_context_free(out);
        } else {
            assert_null(out);
            if (st == TW_ERR_CORRUPTED)
                corrupted++;
            else
                not_found++;
        }
        carrier_clear(&c);
    }
    printf("[ mutations ] 20000 carriers: %zu ok, %zu corrupted, %zu not found\n", ok, corrupted,
           not_found);
    fflush(stdout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_table),
        cmocka_unit_test(parsers_reject_directly),
        cmocka_unit_test(bad_arguments_and_broken_carrier),
        cmocka_unit_test(mutations_never_misbehave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
