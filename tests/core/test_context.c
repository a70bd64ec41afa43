/* test_context.c — span contexts (context.c) and the public propagation
 * entry points: immutable one-allocation contexts, baggage lookup and
 * iteration, hex printers, the Jaeger BINARY layout byte for byte (and its
 * strict decoder), and tw_tracer_inject/extract on a real tracer feeding
 * tw_span_start — a child of an extracted context continues the trace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "prop_carrier.h"
#include "context.h"

#define ITEM(k, v) { k, v, (uint32_t)(sizeof(k) - 1), (uint32_t)(sizeof(v) - 1) }

static void new_rejects_zero_ids(void **state)
{
    (void)state;
    tw_span_context *c = (tw_span_context *)(uintptr_t)1;
    assert_int_equal(tw_span_context_new(0, 0, 1, 0, 0, &c), TW_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(tw_span_context_new(0, 1, 0, 0, 0, &c), TW_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(tw_span_context_new(0, 1, 2, 3, TW_FLAG_SAMPLED, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_context_new(7, 1, 2, 3, TW_FLAG_SAMPLED, &c), TW_OK);
    uint64_t hi, lo;
    tw_span_context_trace_id(c, &hi, &lo);
    assert_true(hi == 7 && lo == 1);
    assert_true(tw_span_context_span_id(c) == 2);
    assert_true(tw_span_context_parent_id(c) == 3);
    assert_int_equal(tw_span_context_flags(c), TW_FLAG_SAMPLED);
    tw_span_context_free(c);
    tw_span_context_free(NULL);
}

static void hex_printers(void **state)
{
    (void)state;
    tw_span_context *c;
    char t[33], s[17];
    assert_int_equal(tw_span_context_new(0, 0xabc, 0xdef, 0, 0, &c), TW_OK);
    tw_span_context_trace_id_hex(c, t);
    tw_span_context_span_id_hex(c, s);
    assert_string_equal(t, "0000000000000abc");
    assert_string_equal(s, "0000000000000def");
    c->trace_id_128bit_hex = true;      /* 128-bit mode prints 32 even with hi 0 */
    tw_span_context_trace_id_hex(c, t);
    assert_string_equal(t, "00000000000000000000000000000abc");
    tw_span_context_free(c);
    assert_int_equal(tw_span_context_new(0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL, 1, 0, 0, &c),
                     TW_OK);
    tw_span_context_trace_id_hex(c, t);
    assert_string_equal(t, "4bf92f3577b34da6a3ce929d0e0e4736");
    tw_span_context_free(c);
}

static int collect_kv(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    carrier *c = ud;
    carrier_addn(c, k, kl, v, vl);
    return c->n == 2;    /* stop after two */
}

static void baggage_lookup_replace_and_order(void **state)
{
    (void)state;
    twp_baggage_item b[] = { ITEM("a", "1"), ITEM("B", "2"), ITEM("c", "3") };
    tw_span_context *c, *d, *e;
    assert_int_equal(twp_context_build(0, 1, 2, 0, 0, b, 3, "dbg", 3, "k=v", 3, &c), TW_OK);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(c, "B", 1, &v, &vl), TW_OK);
    assert_int_equal(vl, 1);
    assert_memory_equal(v, "2", 1);
    assert_int_equal(tw_span_context_baggage(c, "b", 1, &v, &vl), TW_ERR_NOT_FOUND); /* case-sensitive */
    assert_null(v);
    /* replace keeps the position, add appends; the original is unchanged */
    assert_int_equal(twp_context_with_baggage(c, "B", 1, "two", 3, &d), TW_OK);
    assert_int_equal(twp_context_with_baggage(d, "z", 1, "", 0, &e), TW_OK);
    assert_int_equal(d->nbaggage, 3);
    assert_string_equal(d->baggage[1].val, "two");
    assert_int_equal(tw_span_context_baggage(c, "B", 1, &v, &vl), TW_OK);
    assert_memory_equal(v, "2", 1);
    assert_int_equal(e->nbaggage, 4);
    assert_int_equal(tw_span_context_baggage(e, "z", 1, &v, &vl), TW_OK);
    assert_int_equal(vl, 0);
    assert_string_equal(e->debug_id, "dbg");
    assert_string_equal(e->tracestate, "k=v");
    /* foreach: insertion order, stops when fn returns non-zero */
    carrier seen = {0};
    tw_span_context_foreach_baggage(e, collect_kv, &seen);
    assert_int_equal((int)seen.n, 2);
    assert_string_equal(seen.name[0], "a");
    assert_string_equal(seen.name[1], "B");
    assert_string_equal(seen.val[1], "two");
    carrier_clear(&seen);
    tw_span_context_free(c);
    tw_span_context_free(d);
    tw_span_context_free(e);
}

/* dup is deep; a child keeps baggage and tracestate, drops the debug id. */
static void dup_and_child(void **state)
{
    (void)state;
    twp_baggage_item b[] = { ITEM("k", "v") };
    tw_span_context *c, *d, *ch;
    assert_int_equal(twp_context_build(1, 2, 3, 4, TW_FLAG_SAMPLED, b, 1, "dbg", 3, "a=b", 3, &c),
                     TW_OK);
    assert_int_equal(tw_span_context_dup(c, &d), TW_OK);
    assert_int_equal(twp_context_child(c, 1, 2, 9, 3, 0, &ch), TW_OK);
    tw_span_context_free(c);           /* the copies own their strings */
    assert_true(d->trace_hi == 1 && d->trace_lo == 2 && d->span_id == 3 && d->parent_id == 4);
    assert_string_equal(d->baggage[0].val, "v");
    assert_string_equal(d->debug_id, "dbg");
    assert_string_equal(d->tracestate, "a=b");
    assert_true(ch->span_id == 9 && ch->parent_id == 3 && ch->flags == 0);
    assert_string_equal(ch->baggage[0].key, "k");
    assert_null(ch->debug_id);
    assert_string_equal(ch->tracestate, "a=b");
    tw_span_context_free(d);
    tw_span_context_free(ch);
}

/* ---------------------------------------------------------------- binary */

static const unsigned char GOLDEN[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,    /* trace hi */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,    /* trace lo */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,    /* span */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,    /* parent */
    0x01,                                              /* flags */
    0x00, 0x00, 0x00, 0x01,                            /* 1 item */
    0x00, 0x00, 0x00, 0x01, 'k',
    0x00, 0x00, 0x00, 0x03, 'v', 0x00, 'w',
};

static void binary_golden_and_round_trip(void **state)
{
    (void)state;
    twp_baggage_item b[] = { ITEM("k", "v\0w") };
    tw_span_context *c, *back;
    assert_int_equal(twp_context_build(1, 2, 3, 4, TW_FLAG_SAMPLED, b, 1, NULL, 0, NULL, 0, &c),
                     TW_OK);
    char *buf;
    size_t len;
    assert_int_equal(tw_span_context_to_binary(c, &buf, &len), TW_OK);
    assert_int_equal(len, sizeof GOLDEN);
    assert_memory_equal(buf, GOLDEN, sizeof GOLDEN);
    assert_int_equal(tw_span_context_from_binary(buf, len, &back), TW_OK);
    assert_true(back->trace_hi == 1 && back->trace_lo == 2 && back->span_id == 3 &&
                back->parent_id == 4 && back->flags == TW_FLAG_SAMPLED);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(back, "k", 1, &v, &vl), TW_OK);
    assert_int_equal(vl, 3);
    assert_memory_equal(v, "v\0w", 3);
    tw_free(buf);
    tw_span_context_free(back);
    tw_span_context_free(c);
}

static void binary_rejects_bad_input(void **state)
{
    (void)state;
    tw_span_context *out;
    unsigned char b[sizeof GOLDEN + 1];
    int bad = 0;
    /* every truncation */
    for (size_t n = 1; n < sizeof GOLDEN; n++) {
        out = (tw_span_context *)(uintptr_t)1;
        assert_int_equal(tw_span_context_from_binary((const char *)GOLDEN, n, &out), TW_ERR_CORRUPTED);
        assert_null(out);
        bad++;
    }
    /* trailing byte */
    memcpy(b, GOLDEN, sizeof GOLDEN);
    b[sizeof GOLDEN] = 0;
    assert_int_equal(tw_span_context_from_binary((const char *)b, sizeof b, &out), TW_ERR_CORRUPTED);
    /* huge item count, huge key length */
    memcpy(b, GOLDEN, sizeof GOLDEN);
    b[33] = 0xff;
    assert_int_equal(tw_span_context_from_binary((const char *)b, sizeof GOLDEN, &out), TW_ERR_CORRUPTED);
    memcpy(b, GOLDEN, sizeof GOLDEN);
    b[37] = 0x7f;
    assert_int_equal(tw_span_context_from_binary((const char *)b, sizeof GOLDEN, &out), TW_ERR_CORRUPTED);
    /* span id zero with a trace id */
    memcpy(b, GOLDEN, sizeof GOLDEN);
    b[23] = 0;
    assert_int_equal(tw_span_context_from_binary((const char *)b, sizeof GOLDEN, &out), TW_ERR_CORRUPTED);
    assert_null(out);
    assert_int_equal(tw_span_context_from_binary(NULL, 0, &out), TW_ERR_NOT_FOUND);
    assert_int_equal(tw_span_context_from_binary(NULL, 5, &out), TW_ERR_INVALID_ARG);
    printf("[ binary ] %d truncations + 4 damaged buffers rejected\n", bad);
    fflush(stdout);
}

/* ---------------------------------------------------------------- tracer */

static tw_tracer *memory_tracer(const char *propagation)
{
    tw_config *cfg;
    tw_tracer *t;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_int_equal(tw_config_set(cfg, "service_name", "ctx-test"), TW_OK);
    assert_int_equal(tw_config_set(cfg, "reporter.protocols", "memory"), TW_OK);
    assert_int_equal(tw_config_set(cfg, "propagation", propagation), TW_OK);
    assert_int_equal(tw_tracer_new(cfg, &t), TW_OK);
    tw_config_free(cfg);
    return t;
}

/* Through the public API: extract -> child span -> inject continues the
 * trace with the caller's span as parent and keeps the baggage. */
static void tracer_extract_child_inject(void **state)
{
    (void)state;
    tw_tracer *t = memory_tracer("w3c,b3");
    carrier in = {0}, out = {0};
    carrier_add(&in, "Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    carrier_add(&in, "baggage", "user=alice");
    carrier_add(&in, "uber-trace-id", "1:2:0:1");     /* jaeger not enabled: ignored */
    tw_span_context *ctx = NULL;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &ctx), TW_OK);
    tw_span_ref ref = { TW_REF_CHILD_OF, ctx };
    tw_span *s;
    assert_int_equal(tw_span_start(t, "op", 2, &ref, 1, 0, &s), TW_OK);
    assert_int_equal(tw_tracer_inject(t, tw_span_get_context(s), TW_PROP_DEFAULT, carrier_set, &out),
                     TW_OK);
    const char *tp = carrier_get(&out, "traceparent");
    assert_non_null(tp);
    assert_memory_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36);
    assert_string_equal(tp + 52, "-01");
    assert_string_not_equal(tp + 36, "00f067aa0ba902b7-01");
    assert_string_equal(carrier_get(&out, "baggage"), "user=alice");
    assert_non_null(carrier_get(&out, "b3"));
    assert_null(carrier_get(&out, "uber-trace-id"));
    assert_true(tw_span_context_parent_id(tw_span_get_context(s)) == 0x00f067aa0ba902b7ULL);
    tw_span_finish(s, 0);
    tw_span_free(s);
    tw_span_context_free(ctx);
    carrier_clear(&in);
    carrier_clear(&out);
    /* a carrier the tracer's formats do not read */
    carrier_add(&in, "uber-trace-id", "1:2:0:1");
    ctx = (tw_span_context *)(uintptr_t)1;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &ctx), TW_ERR_NOT_FOUND);
    assert_null(ctx);
    carrier_clear(&in);
    tw_tracer_free(t);
}

/* A baggage-only carrier starts a new trace that keeps the baggage. */
static void tracer_baggage_only_starts_new_trace(void **state)
{
    (void)state;
    tw_tracer *t = memory_tracer("jaeger,w3c");
    carrier in = {0};
    carrier_add(&in, "uberctx-tenant", "acme");
    tw_span_context *ctx = NULL;
    assert_int_equal(tw_tracer_extract(t, TW_PROP_DEFAULT, carrier_each, &in, &ctx), TW_OK);
    tw_span_ref ref = { TW_REF_CHILD_OF, ctx };
    tw_span *s;
    assert_int_equal(tw_span_start(t, "op", 2, &ref, 1, 0, &s), TW_OK);
    const tw_span_context *sc = tw_span_get_context(s);
    uint64_t hi, lo;
    tw_span_context_trace_id(sc, &hi, &lo);
    assert_true(hi != 0 || lo != 0);
    assert_true(tw_span_context_parent_id(sc) == 0);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(sc, "tenant", 6, &v, &vl), TW_OK);
    assert_memory_equal(v, "acme", 4);
    tw_span_free(s);
    tw_span_context_free(ctx);
    carrier_clear(&in);
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_rejects_zero_ids),
        cmocka_unit_test(hex_printers),
        cmocka_unit_test(baggage_lookup_replace_and_order),
        cmocka_unit_test(dup_and_child),
        cmocka_unit_test(binary_golden_and_round_trip),
        cmocka_unit_test(binary_rejects_bad_input),
        cmocka_unit_test(tracer_extract_child_inject),
        cmocka_unit_test(tracer_baggage_only_starts_new_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
