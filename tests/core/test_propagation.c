/* test_propagation.c — inject/extract for Jaeger, W3C and B3: the examples
 * of each specification decode to the ids they name, inject writes the exact
 * header text (lower-case names, zero-padded ids, percent-encoded values),
 * round trips through every format keep ids, sampling and baggage, header
 * names match case-insensitively, precedence between formats is the
 * documented one. Malformed inputs live in test_propagation_malformed.c. */
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

static tw_config cfg;

static int setup(void **state)
{
    (void)state;
    test_config(&cfg);
    return 0;
}

static tw_span_context *extract_ok(carrier *c, unsigned formats)
{
    tw_span_context *ctx = (tw_span_context *)(uintptr_t)1;
    tw_status st = twp_extract(&cfg, formats, carrier_each, c, &ctx);
    if (st != TW_OK)
        fprintf(stderr, "extract: %d\n", st);
    assert_int_equal(st, TW_OK);
    assert_non_null(ctx);
    return ctx;
}

static void assert_ids(const tw_span_context *c, uint64_t hi, uint64_t lo, uint64_t span,
                       uint64_t parent, unsigned flags)
{
    uint64_t h, l;
    tw_span_context_trace_id(c, &h, &l);
    assert_true(h == hi);
    assert_true(l == lo);
    assert_true(tw_span_context_span_id(c) == span);
    assert_true(tw_span_context_parent_id(c) == parent);
    assert_int_equal(tw_span_context_flags(c), flags);
}

static void assert_baggage(const tw_span_context *c, const char *k, const char *v, size_t vl)
{
    const char *got;
    size_t gl;
    assert_int_equal(tw_span_context_baggage(c, k, strlen(k), &got, &gl), TW_OK);
    assert_int_equal(gl, vl);
    assert_memory_equal(got, v, vl);
}

static tw_span_context *make_ctx(uint64_t hi, uint64_t lo, uint64_t span, uint64_t parent,
                                 unsigned flags, const twp_baggage_item *b, uint32_t nb)
{
    tw_span_context *c;
    assert_int_equal(twp_context_build(hi, lo, span, parent, flags, b, nb, NULL, 0, NULL, 0, &c),
                     TW_OK);
    return c;
}

#define ITEM(k, v) { k, v, (uint32_t)(sizeof(k) - 1), (uint32_t)(sizeof(v) - 1) }

/* ---------------------------------------------------------------- W3C vectors */

static void w3c_spec_example_sampled(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_W3C);
    assert_ids(ctx, 0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL, 0,
               TW_FLAG_SAMPLED);
    char hex[33];
    tw_span_context_trace_id_hex(ctx, hex);
    assert_string_equal(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

static void w3c_spec_example_not_sampled(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_W3C);
    assert_ids(ctx, 0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL, 0, 0);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* W3C trace-flags round-trip unchanged: 0x02 is W3C "random" (never Jaeger
 * debug) and the reserved bits are passed on; the Jaeger view of the flags
 * (tw_span_context_flags, uber-trace-id, b3) sees only the sampled bit. */
static void w3c_trace_flags_round_trip_unchanged(void **state)
{
    (void)state;
    static const struct { const char *in; unsigned jaeger; const char *uber_flag, *b3; } v[] = {
        { "03", TW_FLAG_SAMPLED, "1", "1" }, { "02", 0, "0", "0" }, { "ff", TW_FLAG_SAMPLED, "1", "1" },
        { "01", TW_FLAG_SAMPLED, "1", "1" }, { "00", 0, "0", "0" }, { "84", 0, "0", "0" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char tp[64];
        snprintf(tp, sizeof tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-%s", v[i].in);
        carrier c = {0}, out = {0};
        carrier_add(&c, "traceparent", tp);
        tw_span_context *ctx = extract_ok(&c, TW_PROP_W3C);
        assert_int_equal(tw_span_context_flags(ctx), v[i].jaeger);
        assert_int_equal(twp_inject(&cfg, ctx, TW_PROP_W3C | TW_PROP_JAEGER | TW_PROP_B3_SINGLE,
                                    carrier_set, &out), TW_OK);
        assert_string_equal(carrier_get(&out, "traceparent"), tp);
        const char *uber = carrier_get(&out, "uber-trace-id");
        assert_string_equal(uber + strlen(uber) - 1, v[i].uber_flag);
        const char *b3 = carrier_get(&out, "b3");
        assert_string_equal(b3 + strlen(b3) - 1, v[i].b3);
        char alone[55];
        tw_span_context_to_traceparent(ctx, alone);
        assert_memory_equal(alone, tp, 55);
        tw_span_context_free(ctx);
        assert_int_equal(tw_span_context_from_traceparent(tp, 55, &ctx), TW_OK);
        tw_span_context_to_traceparent(ctx, alone);
        assert_memory_equal(alone, tp, 55);
        tw_span_context_free(ctx);
        carrier_clear(&c);
        carrier_clear(&out);
    }
}

/* With Jaeger and W3C headers both present, the W3C bits come from the
 * traceparent whichever header decides sampling. */
static void w3c_bits_kept_beside_uber_trace_id(void **state)
{
    (void)state;
    carrier c = {0}, out = {0};
    carrier_add(&c, "uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1");
    carrier_add(&c, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_W3C | TW_PROP_JAEGER);
    assert_int_equal(tw_span_context_flags(ctx), TW_FLAG_SAMPLED);
    assert_int_equal(twp_inject(&cfg, ctx, TW_PROP_W3C, carrier_set, &out), TW_OK);
    assert_string_equal(carrier_get(&out, "traceparent"),
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
    tw_span_context_free(ctx);
    carrier_clear(&c);
    carrier_clear(&out);
}

/* A higher version is parsed by its first four fields (W3C test suite). */
static void w3c_future_version_is_lenient(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "traceparent",
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_W3C);
    assert_ids(ctx, 0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL, 0,
               TW_FLAG_SAMPLED);
    tw_span_context_free(ctx);
    carrier_clear(&c);
    carrier_add(&c, "traceparent", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    ctx = extract_ok(&c, TW_PROP_W3C);
    assert_int_equal(tw_span_context_flags(ctx), 0);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

static void w3c_tracestate_is_kept_and_reemitted(void **state)
{
    (void)state;
    carrier c = {0}, out = {0};
    carrier_add(&c, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    carrier_add(&c, "tracestate", "rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE");
    carrier_add(&c, "tracestate", "fw529a3039@dt=hello world,,");   /* a second header: joined */
    tw_span_context *ctx = extract_ok(&c, TW_PROP_W3C);
    assert_int_equal(twp_inject(&cfg, ctx, TW_PROP_W3C, carrier_set, &out), TW_OK);
    assert_string_equal(carrier_get(&out, "traceparent"),
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert_string_equal(carrier_get(&out, "tracestate"),
                        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,fw529a3039@dt=hello world");
    tw_span_context_free(ctx);
    carrier_clear(&c);
    carrier_clear(&out);
}

/* The examples of the W3C Baggage specification. */
static void w3c_baggage_spec_examples(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "baggage", "key1=value1;property1;property2, key2 = value2, "
                               "key3=value3; propertyKey=propertyValue");
    carrier_add(&c, "baggage", "serverNode=DF%2028,userId=Am%C3%A9lie,isProduction=false");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_W3C);
    uint64_t hi, lo;
    tw_span_context_trace_id(ctx, &hi, &lo);
    assert_true(hi == 0 && lo == 0);          /* baggage only: zero ids */
    assert_baggage(ctx, "key1", "value1", 6);
    assert_baggage(ctx, "key2", "value2", 6);
    assert_baggage(ctx, "key3", "value3", 6);
    assert_baggage(ctx, "serverNode", "DF 28", 5);
    assert_baggage(ctx, "userId", "Am\xc3\xa9lie", 7);
    assert_baggage(ctx, "isProduction", "false", 5);
    assert_int_equal(ctx->nbaggage, 6);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* ---------------------------------------------------------------- B3 vectors */

/* openzipkin/b3-propagation README examples */
static void b3_single_full(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_B3_SINGLE);
    assert_ids(ctx, 0x80f198ee56343ba8ULL, 0x64fe8b2a57d3eff7ULL, 0xe457b5a2e4d86bd1ULL,
               0x05e3ac9a4f6e3b90ULL, TW_FLAG_SAMPLED);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

static void b3_single_debug_and_64bit(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "b3", "a3ce929d0e0e4736-00f067aa0ba902b7-d");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_B3_SINGLE);
    assert_ids(ctx, 0, 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL, 0,
               TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
    char hex[33];
    tw_span_context_trace_id_hex(ctx, hex);
    assert_string_equal(hex, "a3ce929d0e0e4736");
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* "b3: 0" is a deny decision without ids: a zero-id context, not sampled. */
static void b3_single_deny_only(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "b3", "0");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_B3_SINGLE);
    assert_ids(ctx, 0, 0, 0, 0, 0);
    tw_span_context_free(ctx);
    carrier_clear(&c);
    carrier_add(&c, "b3", "d");
    ctx = extract_ok(&c, TW_PROP_B3_SINGLE);
    assert_ids(ctx, 0, 0, 0, 0, TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

static void b3_multi_full(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7");
    carrier_add(&c, "X-B3-ParentSpanId", "05e3ac9a4f6e3b90");
    carrier_add(&c, "X-B3-SpanId", "e457b5a2e4d86bd1");
    carrier_add(&c, "X-B3-Sampled", "1");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_B3_MULTI);
    assert_ids(ctx, 0x80f198ee56343ba8ULL, 0x64fe8b2a57d3eff7ULL, 0xe457b5a2e4d86bd1ULL,
               0x05e3ac9a4f6e3b90ULL, TW_FLAG_SAMPLED);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

static void b3_multi_flags_debug_and_legacy_true(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "x-b3-traceid", "a3ce929d0e0e4736");
    carrier_add(&c, "x-b3-spanid", "00f067aa0ba902b7");
    carrier_add(&c, "x-b3-flags", "1");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_B3_MULTI);
    assert_int_equal(tw_span_context_flags(ctx), TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
    tw_span_context_free(ctx);
    carrier_clear(&c);
    carrier_add(&c, "x-b3-traceid", "a3ce929d0e0e4736");
    carrier_add(&c, "x-b3-spanid", "00f067aa0ba902b7");
    carrier_add(&c, "x-b3-sampled", "true");
    ctx = extract_ok(&c, TW_PROP_B3_MULTI);
    assert_int_equal(tw_span_context_flags(ctx), TW_FLAG_SAMPLED);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* ---------------------------------------------------------------- Jaeger vectors */

/* Jaeger clients write ids without leading zeros and the parent as "0". */
static void jaeger_short_ids(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "uber-trace-id", "abc:def:0:1");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_JAEGER);
    assert_ids(ctx, 0, 0xabc, 0xdef, 0, TW_FLAG_SAMPLED);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

static void jaeger_128bit_debug_and_parent(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:53ce929d0e0e4736:3");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_JAEGER);
    assert_ids(ctx, 0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL,
               0x53ce929d0e0e4736ULL, TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* Some proxies url-encode the colons. */
static void jaeger_url_encoded_colons(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "uber-trace-id", "abc%3Adef%3A0%3A0");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_JAEGER);
    assert_ids(ctx, 0, 0xabc, 0xdef, 0, 0);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

static void jaeger_baggage_headers(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "uber-trace-id", "abc:def:0:1");
    carrier_add(&c, "uberctx-user", "alice%20and+bob");
    carrier_add(&c, "Uberctx-Tenant", "acme");
    carrier_add(&c, "jaeger-baggage", "k1=v1, k2=v%2C2");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_JAEGER);
    assert_baggage(ctx, "user", "alice and bob", 13);
    assert_baggage(ctx, "tenant", "acme", 4);     /* key lower-cased, as Jaeger does */
    assert_baggage(ctx, "k1", "v1", 2);
    assert_baggage(ctx, "k2", "v,2", 3);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* jaeger-debug-id alone: a context with zero ids carrying the debug id. */
static void jaeger_debug_id_only(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "jaeger-debug-id", "my-debug-id");
    tw_span_context *ctx = extract_ok(&c, TW_PROP_JAEGER);
    assert_ids(ctx, 0, 0, 0, 0, 0);
    assert_non_null(ctx->debug_id);
    assert_int_equal(ctx->debug_id_len, 11);
    assert_memory_equal(ctx->debug_id, "my-debug-id", 11);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

static void jaeger_configured_header_names(void **state)
{
    (void)state;
    tw_config mine = cfg;
    mine.trace_id_header = "x-trace";
    mine.baggage_header_prefix = "x-bag-";
    carrier c = {0}, out = {0};
    carrier_add(&c, "X-Trace", "abc:def:0:1");
    carrier_add(&c, "X-Bag-K", "v");
    carrier_add(&c, "uber-trace-id", "1:2:0:1");   /* not the configured name: ignored */
    tw_span_context *ctx = NULL;
    assert_int_equal(twp_extract(&mine, TW_PROP_JAEGER, carrier_each, &c, &ctx), TW_OK);
    assert_ids(ctx, 0, 0xabc, 0xdef, 0, TW_FLAG_SAMPLED);
    assert_baggage(ctx, "k", "v", 1);
    assert_int_equal(twp_inject(&mine, ctx, TW_PROP_JAEGER, carrier_set, &out), TW_OK);
    assert_string_equal(carrier_get(&out, "x-trace"), "0000000000000abc:0000000000000def:0:1");
    assert_string_equal(carrier_get(&out, "x-bag-k"), "v");
    assert_int_equal((int)out.n, 2);
    tw_span_context_free(ctx);
    carrier_clear(&c);
    carrier_clear(&out);
}

/* ---------------------------------------------------------------- inject text */

static void inject_exact_text_every_format(void **state)
{
    (void)state;
    twp_baggage_item b[] = { ITEM("user", "alice") };
    tw_span_context *ctx = make_ctx(0, 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL,
                                    0x53ce929d0e0e4736ULL, TW_FLAG_SAMPLED, b, 1);
    carrier out = {0};
    assert_int_equal(twp_inject(&cfg, ctx, ALL_PROP, carrier_set, &out), TW_OK);
    /* 64-bit trace ids: 16 hex in jaeger and b3, always 32 in traceparent */
    assert_string_equal(carrier_get(&out, "uber-trace-id"),
                        "a3ce929d0e0e4736:00f067aa0ba902b7:53ce929d0e0e4736:1");
    assert_string_equal(carrier_get(&out, "uberctx-user"), "alice");
    assert_string_equal(carrier_get(&out, "traceparent"),
                        "00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert_string_equal(carrier_get(&out, "baggage"), "user=alice");
    assert_string_equal(carrier_get(&out, "x-b3-traceid"), "a3ce929d0e0e4736");
    assert_string_equal(carrier_get(&out, "x-b3-spanid"), "00f067aa0ba902b7");
    assert_string_equal(carrier_get(&out, "x-b3-parentspanid"), "53ce929d0e0e4736");
    assert_string_equal(carrier_get(&out, "x-b3-sampled"), "1");
    assert_string_equal(carrier_get(&out, "b3"),
                        "a3ce929d0e0e4736-00f067aa0ba902b7-1-53ce929d0e0e4736");
    assert_null(carrier_get(&out, "tracestate"));
    assert_int_equal((int)out.n, 9);
    /* every name lower-case */
    for (size_t i = 0; i < out.n; i++)
        for (size_t j = 0; j < out.name_len[i]; j++)
            assert_false(out.name[i][j] >= 'A' && out.name[i][j] <= 'Z');
    tw_span_context_free(ctx);
    carrier_clear(&out);
}

static void inject_debug_root_and_128bit(void **state)
{
    (void)state;
    tw_span_context *ctx = make_ctx(0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL,
                                    0x00f067aa0ba902b7ULL, 0, TW_FLAG_SAMPLED | TW_FLAG_DEBUG,
                                    NULL, 0);
    carrier out = {0};
    assert_int_equal(twp_inject(&cfg, ctx, ALL_PROP, carrier_set, &out), TW_OK);
    assert_string_equal(carrier_get(&out, "uber-trace-id"),
                        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:3");
    assert_string_equal(carrier_get(&out, "traceparent"),
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert_string_equal(carrier_get(&out, "x-b3-flags"), "1");
    assert_null(carrier_get(&out, "x-b3-sampled"));       /* debug implies accept */
    assert_null(carrier_get(&out, "x-b3-parentspanid"));  /* root */
    assert_string_equal(carrier_get(&out, "b3"), "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d");
    assert_null(carrier_get(&out, "baggage"));
    tw_span_context_free(ctx);
    carrier_clear(&out);
}

/* TW_PROP_DEFAULT uses cfg->inject_formats (jaeger + w3c here). */
static void inject_default_uses_config(void **state)
{
    (void)state;
    tw_span_context *ctx = make_ctx(0, 1, 2, 0, TW_FLAG_SAMPLED, NULL, 0);
    carrier out = {0};
    assert_int_equal(twp_inject(&cfg, ctx, TW_PROP_DEFAULT, carrier_set, &out), TW_OK);
    assert_non_null(carrier_get(&out, "uber-trace-id"));
    assert_non_null(carrier_get(&out, "traceparent"));
    assert_null(carrier_get(&out, "b3"));
    assert_null(carrier_get(&out, "x-b3-traceid"));
    tw_span_context_free(ctx);
    carrier_clear(&out);
}

static void inject_percent_encodes_values(void **state)
{
    (void)state;
    twp_baggage_item b[] = { ITEM("k", "a b,c;d%\xc3\xa9=+"), ITEM("bad key", "x"),
                             ITEM("nul", "a\0b") };
    tw_span_context *ctx = make_ctx(0, 1, 2, 0, TW_FLAG_SAMPLED, b, 3);
    carrier out = {0};
    assert_int_equal(twp_inject(&cfg, ctx, TW_PROP_JAEGER | TW_PROP_W3C, carrier_set, &out), TW_OK);
    assert_string_equal(carrier_get(&out, "uberctx-k"), "a%20b%2Cc%3Bd%25%C3%A9%3D%2B");
    assert_string_equal(carrier_get(&out, "uberctx-nul"), "a%00b");
    /* W3C keeps baggage-octets ('=' and '+' among them); a non-token key is skipped */
    assert_string_equal(carrier_get(&out, "baggage"), "k=a%20b%2Cc%3Bd%25%C3%A9=+,nul=a%00b");
    assert_null(carrier_get(&out, "uberctx-bad key"));
    /* and the values come back byte for byte */
    tw_span_context *back = extract_ok(&out, TW_PROP_JAEGER);
    assert_baggage(back, "k", "a b,c;d%\xc3\xa9=+", 12);
    assert_baggage(back, "nul", "a\0b", 3);
    tw_span_context_free(back);
    back = extract_ok(&out, TW_PROP_W3C);
    assert_baggage(back, "k", "a b,c;d%\xc3\xa9=+", 12);
    assert_baggage(back, "nul", "a\0b", 3);
    tw_span_context_free(back);
    tw_span_context_free(ctx);
    carrier_clear(&out);
}

static void inject_zero_id_context_writes_only_baggage(void **state)
{
    (void)state;
    twp_baggage_item b[] = { ITEM("k", "v") };
    tw_span_context *ctx = make_ctx(0, 0, 0, 0, 0, b, 1);
    carrier out = {0};
    assert_int_equal(twp_inject(&cfg, ctx, ALL_PROP, carrier_set, &out), TW_OK);
    assert_int_equal((int)out.n, 2);
    assert_string_equal(carrier_get(&out, "uberctx-k"), "v");
    assert_string_equal(carrier_get(&out, "baggage"), "k=v");
    tw_span_context_free(ctx);
    carrier_clear(&out);
}

/* The setter's first failure is returned and nothing further is written. */
static void inject_stops_at_setter_failure(void **state)
{
    (void)state;
    tw_span_context *ctx = make_ctx(0, 1, 2, 0, TW_FLAG_SAMPLED, NULL, 0);
    carrier out = {0};
    out.fail_at = 2;
    out.fail_rc = (int)TW_ERR_NOMEM;
    assert_int_equal(twp_inject(&cfg, ctx, ALL_PROP, carrier_set, &out), TW_ERR_NOMEM);
    assert_int_equal(out.calls, 2);
    assert_int_equal((int)out.n, 1);
    carrier_clear(&out);
    out.fail_at = 1;
    out.fail_rc = -1;               /* not a tw_status: reported as IO */
    assert_int_equal(twp_inject(&cfg, ctx, ALL_PROP, carrier_set, &out), TW_ERR_IO);
    tw_span_context_free(ctx);
    carrier_clear(&out);
}

static void inject_bad_args(void **state)
{
    (void)state;
    tw_span_context *ctx = make_ctx(0, 1, 2, 0, 0, NULL, 0);
    carrier out = {0};
    assert_int_equal(twp_inject(NULL, ctx, 0, carrier_set, &out), TW_ERR_INVALID_ARG);
    assert_int_equal(twp_inject(&cfg, NULL, 0, carrier_set, &out), TW_ERR_INVALID_ARG);
    assert_int_equal(twp_inject(&cfg, ctx, 0, NULL, &out), TW_ERR_INVALID_ARG);
    assert_int_equal(twp_inject(&cfg, ctx, 0x100, carrier_set, &out), TW_ERR_UNSUPPORTED);
    assert_int_equal((int)out.n, 0);
    tw_span_context_free(ctx);
}

/* Inject bounds W3C baggage to max_baggage_size by dropping whole items. */
static void inject_bounds_baggage(void **state)
{
    (void)state;
    tw_config small = cfg;
    small.max_baggage_size = 20;
    twp_baggage_item b[] = { ITEM("a", "1234567890"), ITEM("b", "1234567890"), ITEM("c", "1") };
    tw_span_context *ctx = make_ctx(0, 1, 2, 0, 0, b, 3);
    carrier out = {0};
    assert_int_equal(twp_inject(&small, ctx, TW_PROP_W3C | TW_PROP_JAEGER, carrier_set, &out), TW_OK);
    assert_string_equal(carrier_get(&out, "baggage"), "a=1234567890,c=1");
    assert_null(carrier_get(&out, "uberctx-b"));
    tw_span_context *back = NULL;
    assert_int_equal(twp_extract(&small, TW_PROP_W3C | TW_PROP_JAEGER, carrier_each, &out, &back),
                     TW_OK);
    assert_int_equal(back->nbaggage, 2);
    tw_span_context_free(back);
    tw_span_context_free(ctx);
    carrier_clear(&out);
}

/* ---------------------------------------------------------------- round trips */

static tw_span_context *hop(const tw_span_context *in, unsigned inject, unsigned extract)
{
    carrier out = {0};
    assert_int_equal(twp_inject(&cfg, in, inject, carrier_set, &out), TW_OK);
    tw_span_context *ctx = extract_ok(&out, extract);
    carrier_clear(&out);
    return ctx;
}

static void check_same(const tw_span_context *a, const tw_span_context *b, bool baggage)
{
    assert_true(a->trace_hi == b->trace_hi && a->trace_lo == b->trace_lo);
    assert_true(a->span_id == b->span_id);
    assert_int_equal(a->flags & TW_FLAG_SAMPLED, b->flags & TW_FLAG_SAMPLED);
    if (!baggage)
        return;
    assert_int_equal(a->nbaggage, b->nbaggage);
    for (uint32_t i = 0; i < a->nbaggage; i++)
        assert_baggage(b, a->baggage[i].key, a->baggage[i].val, a->baggage[i].val_len);
}

/* jaeger -> W3C -> B3 multi -> B3 single -> jaeger -> W3C, for sampled and
 * not sampled, 64- and 128-bit ids. B3 defines no baggage field, so the B3
 * hops carry baggage in the W3C baggage header next to the B3 headers (a
 * mixed fleet's default); ids must agree across the two. */
static void round_trip_every_format(void **state)
{
    (void)state;
    twp_baggage_item b[] = { ITEM("user", "alice smith"), ITEM("tenant", "a,b;c=d%"),
                             ITEM("utf8", "\xc3\xa9t\xc3\xa9") };
    uint64_t his[] = { 0, 0x4bf92f3577b34da6ULL };
    unsigned flagsets[] = { 0, TW_FLAG_SAMPLED };
    for (int h = 0; h < 2; h++) {
        for (int f = 0; f < 2; f++) {
            tw_span_context *orig = make_ctx(his[h], 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL,
                                             0x1111111111111111ULL, flagsets[f], b, 3);
            tw_span_context *j = hop(orig, TW_PROP_JAEGER, TW_PROP_JAEGER);
            check_same(orig, j, true);
            tw_span_context *w = hop(j, TW_PROP_W3C, TW_PROP_W3C);
            check_same(orig, w, true);
            tw_span_context *bm = hop(w, TW_PROP_B3_MULTI | TW_PROP_W3C,
                                      TW_PROP_B3_MULTI | TW_PROP_W3C);
            check_same(orig, bm, true);
            assert_true(bm->parent_id == 0x1111111111111111ULL || bm->parent_id == 0);
            tw_span_context *bs = hop(bm, TW_PROP_B3_SINGLE | TW_PROP_W3C,
                                      TW_PROP_B3_SINGLE | TW_PROP_W3C);
            check_same(orig, bs, true);
            tw_span_context *j2 = hop(bs, TW_PROP_JAEGER, TW_PROP_JAEGER);
            check_same(orig, j2, true);
            tw_span_context *w2 = hop(j2, TW_PROP_W3C, TW_PROP_W3C);
            check_same(orig, w2, true);
            /* ids alone through pure B3, both shapes */
            tw_span_context *pb = hop(orig, TW_PROP_B3_MULTI, TW_PROP_B3_MULTI);
            check_same(orig, pb, false);
            assert_true(pb->parent_id == 0x1111111111111111ULL);
            tw_span_context *ps = hop(orig, TW_PROP_B3_SINGLE, TW_PROP_B3_SINGLE);
            check_same(orig, ps, false);
            assert_true(ps->parent_id == 0x1111111111111111ULL);
            tw_span_context *all = hop(orig, ALL_PROP, ALL_PROP);
            check_same(orig, all, true);
            tw_span_context *ctxs[] = { orig, j, w, bm, bs, j2, w2, pb, ps, all };
            for (size_t i = 0; i < sizeof ctxs / sizeof *ctxs; i++)
                tw_span_context_free(ctxs[i]);
        }
    }
}

static void round_trip_debug_flag(void **state)
{
    (void)state;
    tw_span_context *orig = make_ctx(0, 5, 6, 0, TW_FLAG_SAMPLED | TW_FLAG_DEBUG, NULL, 0);
    unsigned fm[] = { TW_PROP_JAEGER, TW_PROP_B3_MULTI, TW_PROP_B3_SINGLE, ALL_PROP };
    for (size_t i = 0; i < 4; i++) {
        tw_span_context *c = hop(orig, fm[i], fm[i]);
        assert_int_equal(c->flags, TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
        tw_span_context_free(c);
    }
    tw_span_context_free(orig);
}

/* ---------------------------------------------------------------- matching */

static void header_names_are_case_insensitive(void **state)
{
    (void)state;
    const char *names[][2] = {
        { "UBER-TRACE-ID", "abc:def:0:1" },
        { "Uber-Trace-Id", "abc:def:0:1" },
        { "TRACEPARENT", "00-00000000000000000000000000000abc-0000000000000def-01" },
        { "B3", "0000000000000abc-0000000000000def-1" },
    };
    for (size_t i = 0; i < 4; i++) {
        carrier c = {0};
        carrier_add(&c, names[i][0], names[i][1]);
        tw_span_context *ctx = extract_ok(&c, ALL_PROP);
        assert_ids(ctx, 0, 0xabc, 0xdef, 0, TW_FLAG_SAMPLED);
        tw_span_context_free(ctx);
        carrier_clear(&c);
    }
    carrier c = {0};
    carrier_add(&c, "X-B3-TRACEID", "0000000000000abc");
    carrier_add(&c, "x-B3-spanId", "0000000000000def");
    carrier_add(&c, "X-b3-SAMPLED", "1");
    carrier_add(&c, "UBERCTX-User", "x");
    carrier_add(&c, "BAGGAGE", "Other=y");
    carrier_add(&c, "Jaeger-Debug-Id", "dbg");
    tw_span_context *ctx = extract_ok(&c, ALL_PROP);
    assert_ids(ctx, 0, 0xabc, 0xdef, 0, TW_FLAG_SAMPLED);
    assert_baggage(ctx, "user", "x", 1);
    assert_baggage(ctx, "Other", "y", 1);   /* W3C keys keep their case */
    assert_non_null(ctx->debug_id);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* b3 single > traceparent > uber-trace-id > X-B3-*: span id and sampling
 * come from the highest present format when all name the same trace. */
static void precedence_between_formats(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "x-b3-traceid", "0000000000000abc");
    carrier_add(&c, "x-b3-spanid", "0000000000000004");
    carrier_add(&c, "x-b3-sampled", "0");
    carrier_add(&c, "uber-trace-id", "abc:3:0:0");
    carrier_add(&c, "traceparent", "00-00000000000000000000000000000abc-0000000000000002-00");
    carrier_add(&c, "b3", "0000000000000abc-0000000000000001-1");
    tw_span_context *ctx = extract_ok(&c, ALL_PROP);
    assert_ids(ctx, 0, 0xabc, 1, 0, TW_FLAG_SAMPLED);
    tw_span_context_free(ctx);
    ctx = extract_ok(&c, ALL_PROP & ~TW_PROP_B3_SINGLE);
    assert_ids(ctx, 0, 0xabc, 2, 0, 0);
    tw_span_context_free(ctx);
    ctx = extract_ok(&c, TW_PROP_JAEGER | TW_PROP_B3_MULTI);
    assert_ids(ctx, 0, 0xabc, 3, 0, 0);
    tw_span_context_free(ctx);
    ctx = extract_ok(&c, TW_PROP_B3_MULTI);
    assert_ids(ctx, 0, 0xabc, 4, 0, 0);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* B3 ids that defer the decision take the sampling state of another format. */
static void deferred_b3_takes_decision_elsewhere(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "b3", "0000000000000abc-0000000000000001");
    carrier_add(&c, "traceparent", "00-00000000000000000000000000000abc-0000000000000002-01");
    tw_span_context *ctx = extract_ok(&c, ALL_PROP);
    assert_ids(ctx, 0, 0xabc, 1, 0, TW_FLAG_SAMPLED);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* Later baggage carriers win on the same key: uberctx < jaeger-baggage < W3C. */
static void baggage_merges_across_carriers(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "baggage", "shared=w3c,only-w3c=1");
    carrier_add(&c, "uberctx-shared", "jaeger");
    carrier_add(&c, "uberctx-only-jaeger", "2");
    carrier_add(&c, "jaeger-baggage", "only-jb=3");
    tw_span_context *ctx = extract_ok(&c, ALL_PROP);
    assert_int_equal(ctx->nbaggage, 4);
    assert_baggage(ctx, "shared", "w3c", 3);
    assert_baggage(ctx, "only-w3c", "1", 1);
    assert_baggage(ctx, "only-jaeger", "2", 1);
    assert_baggage(ctx, "only-jb", "3", 1);
    assert_string_equal(ctx->baggage[0].key, "shared");   /* first position kept */
    tw_span_context_free(ctx);
    ctx = extract_ok(&c, TW_PROP_JAEGER);
    assert_baggage(ctx, "shared", "jaeger", 6);
    assert_int_equal(ctx->nbaggage, 3);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* Identical repeated single-valued headers are tolerated. */
static void identical_duplicates_are_accepted(void **state)
{
    (void)state;
    carrier c = {0};
    carrier_add(&c, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    carrier_add(&c, "Traceparent", " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ");
    tw_span_context *ctx = extract_ok(&c, ALL_PROP);
    assert_int_equal(tw_span_context_flags(ctx), TW_FLAG_SAMPLED);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* W3C allows 64 entries / 8192 bytes; both pass at the limit. */
static void baggage_at_the_bounds_is_accepted(void **state)
{
    (void)state;
    carrier c = {0};
    char buf[8192 + 1];
    size_t o = 0;
    for (int i = 0; i < 64; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%sk%02d=v", i ? "," : "", i);
    carrier_add(&c, "baggage", buf);
    tw_span_context *ctx = extract_ok(&c, TW_PROP_W3C);
    assert_int_equal(ctx->nbaggage, 64);
    tw_span_context_free(ctx);
    carrier_clear(&c);
    memset(buf, 'x', 8192);
    memcpy(buf, "big=", 4);
    buf[8192] = '\0';
    carrier_add(&c, "baggage", buf);
    ctx = extract_ok(&c, TW_PROP_W3C);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(ctx, "big", 3, &v, &vl), TW_OK);
    assert_int_equal(vl, 8188);
    tw_span_context_free(ctx);
    carrier_clear(&c);
}

/* twp_hex_put_u64 writes a word at a time: every digit value at every place,
 * and a spread of values, against printf; then back through twp_hex_u64. */
static void hex_put_every_digit_at_every_place(void **state)
{
    (void)state;
    char got[17], want[17];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 16 * 16 + 1000; i++) {
        uint64_t v = i < 256 ? (uint64_t)(i % 16) << (4 * (i / 16)) : (x = x * 6364136223846793005ULL + 1);
        twp_hex_put_u64(got, v);
        got[16] = '\0';
        snprintf(want, sizeof want, "%016llx", (unsigned long long)v);
        assert_string_equal(got, want);
        uint64_t back;
        assert_true(twp_hex_u64(got, 16, false, &back) && back == v);
    }
}

/* tw_span_context_to/from_traceparent: the traceparent alone, by the same
 * rules as inject/extract. */
static void traceparent_alone_round_trips_like_inject(void **state)
{
    (void)state;
    static const char tp[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    tw_span_context *c = NULL;
    assert_int_equal(tw_span_context_from_traceparent(tp, 55, &c), TW_OK);
    uint64_t hi, lo;
    tw_span_context_trace_id(c, &hi, &lo);
    assert_int_equal(hi, 0x4bf92f3577b34da6ULL);
    assert_int_equal(lo, 0xa3ce929d0e0e4736ULL);
    assert_int_equal(tw_span_context_span_id(c), 0x00f067aa0ba902b7ULL);
    assert_int_equal(tw_span_context_flags(c), TW_FLAG_SAMPLED);
    char out[55];
    tw_span_context_to_traceparent(c, out);
    assert_memory_equal(out, tp, 55);
    /* the same text inject writes */
    carrier inj = {0};
    assert_int_equal(twp_inject(&cfg, c, TW_PROP_W3C, carrier_set, &inj), TW_OK);
    const char *v = carrier_get(&inj, "traceparent");
    assert_non_null(v);
    assert_memory_equal(v, out, 55);
    carrier_clear(&inj);
    tw_span_context_free(c);

    /* 64-bit ids are written as 32 digits; not sampled is 00 */
    assert_int_equal(tw_span_context_new(0, 0x1f, 0x2a, 0, 0, &c), TW_OK);
    tw_span_context_to_traceparent(c, out);
    assert_memory_equal(out, "00-0000000000000000000000000000001f-000000000000002a-00", 55);
    tw_span_context_free(c);

    const char *bad[] = {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                         "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                         "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                         "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                         "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = (tw_span_context *)(uintptr_t)1;
        assert_int_equal(tw_span_context_from_traceparent(bad[i], strlen(bad[i]), &c), TW_ERR_CORRUPTED);
        assert_null(c);
    }
    assert_int_equal(tw_span_context_from_traceparent(NULL, 55, &c), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_context_from_traceparent(tp, 55, NULL), TW_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_alone_round_trips_like_inject),
        cmocka_unit_test(hex_put_every_digit_at_every_place),
        cmocka_unit_test(w3c_spec_example_sampled),
        cmocka_unit_test(w3c_spec_example_not_sampled),
        cmocka_unit_test(w3c_trace_flags_round_trip_unchanged),
        cmocka_unit_test(w3c_bits_kept_beside_uber_trace_id),
        cmocka_unit_test(w3c_future_version_is_lenient),
        cmocka_unit_test(w3c_tracestate_is_kept_and_reemitted),
        cmocka_unit_test(w3c_baggage_spec_examples),
        cmocka_unit_test(b3_single_full),
        cmocka_unit_test(b3_single_debug_and_64bit),
        cmocka_unit_test(b3_single_deny_only),
        cmocka_unit_test(b3_multi_full),
        cmocka_unit_test(b3_multi_flags_debug_and_legacy_true),
        cmocka_unit_test(jaeger_short_ids),
        cmocka_unit_test(jaeger_128bit_debug_and_parent),
        cmocka_unit_test(jaeger_url_encoded_colons),
        cmocka_unit_test(jaeger_baggage_headers),
        cmocka_unit_test(jaeger_debug_id_only),
        cmocka_unit_test(jaeger_configured_header_names),
        cmocka_unit_test(inject_exact_text_every_format),
        cmocka_unit_test(inject_debug_root_and_128bit),
        cmocka_unit_test(inject_default_uses_config),
        cmocka_unit_test(inject_percent_encodes_values),
        cmocka_unit_test(inject_zero_id_context_writes_only_baggage),
        cmocka_unit_test(inject_stops_at_setter_failure),
        cmocka_unit_test(inject_bad_args),
        cmocka_unit_test(inject_bounds_baggage),
        cmocka_unit_test(round_trip_every_format),
        cmocka_unit_test(round_trip_debug_flag),
        cmocka_unit_test(header_names_are_case_insensitive),
        cmocka_unit_test(precedence_between_formats),
        cmocka_unit_test(deferred_b3_takes_decision_elsewhere),
        cmocka_unit_test(baggage_merges_across_carriers),
        cmocka_unit_test(identical_duplicates_are_accepted),
        cmocka_unit_test(baggage_at_the_bounds_is_accepted),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
