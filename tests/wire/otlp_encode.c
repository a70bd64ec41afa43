/* otlp_encode.c — the OTLP encoders as pure functions, for test_otlp_proto.py:
 * builds span records, encodes the same batch as OTLP protobuf, as OTLP JSON
 * and as gzip(protobuf), and prints each body as one JSON line
 * ({"type":"proto"|"json"|"gzip","hex":"..."}). Python decodes them with
 * opentelemetry-proto and compares.
 *
 *   otlp_encode full             every field and value kind, edge cases included
 *   otlp_encode random N SEED    N pseudo-random records (sizes across the
 *                                varint length boundaries)
 * Links the core statically and includes its private headers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders.h"     /* twp_otlp_json_encode */
#include "otlp_proto.h"

static void print_hex(const char *type, const void *p, size_t n)
{
    const unsigned char *u = p;
    printf("{\"type\":\"%s\",\"hex\":\"", type);
    for (size_t i = 0; i < n; i++)
        printf("%02x", u[i]);
    printf("\"}\n");
}

static twp_value val(const char *k, tw_value_type t)
{
    twp_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    v.key = k;
    v.key_len = (uint32_t)strlen(k);
    return v;
}

static twp_value sval(const char *k, const char *s, size_t n)
{
    twp_value v = val(k, TW_VAL_STRING);
    v.v.str = s;
    v.len = (uint32_t)n;
    return v;
}

#define S(k, lit) sval(k, lit, sizeof(lit) - 1)

static twp_value ival(const char *k, int64_t i)
{
    twp_value v = val(k, TW_VAL_INT64);
    v.v.i64 = i;
    return v;
}

static twp_value dval(const char *k, double d)
{
    twp_value v = val(k, TW_VAL_DOUBLE);
    v.v.f64 = d;
    return v;
}

static twp_value bval(const char *k, int b)
{
    twp_value v = val(k, TW_VAL_BOOL);
    v.v.b = b;
    return v;
}

static twp_value binval(const char *k, const char *p, size_t n)
{
    twp_value v = val(k, TW_VAL_BINARY);
    v.v.str = p;
    v.len = (uint32_t)n;
    return v;
}

static void emit(const twp_process *proc, twp_span_data **arr, size_t n)
{
    twp_buf pb, jb, gz;
    twp_buf_init(&pb);
    twp_buf_init(&jb);
    twp_buf_init(&gz);
    if (twp_otlp_proto_encode(&pb, proc, arr, n) != TW_OK ||
        twp_otlp_json_encode(&jb, proc, arr, n) != TW_OK) {
        fprintf(stderr, "encode failed\n");
        exit(2);
    }
    twp_gzip *z;
    if (twp_gzip_new(-1, &z) != TW_OK || twp_gzip_compress(z, pb.data, pb.len, &gz) != TW_OK) {
        fprintf(stderr, "gzip failed\n");
        exit(2);
    }
    twp_gzip_free(z);
    print_hex("proto", pb.data, pb.len);
    print_hex("json", jb.data, jb.len);
    print_hex("gzip", gz.data, gz.len);
    twp_buf_free(&pb);
    twp_buf_free(&jb);
    twp_buf_free(&gz);
}

static void init_span(twp_span_data *s, uint64_t hi, uint64_t lo, uint64_t id, uint64_t parent,
                      const char *op)
{
    memset(s, 0, sizeof *s);
    s->trace_hi = hi;
    s->trace_lo = lo;
    s->span_id = id;
    s->parent_id = parent;
    s->op = op;
    s->op_len = (uint32_t)strlen(op);
    s->flags = TW_FLAG_SAMPLED;
    s->start_us = 1700000000000000LL;
    s->duration_us = 1500;
}

static int full(void)
{
    static char big[20000], mid[200];
    memset(big, 'b', sizeof big);
    memset(mid, 'm', sizeof mid);
    static const char bin[] = "\x00\x01\xff\xfe binary";
    twp_value t0[] = {
        S("str", "plain"),
        S("empty", ""),
        S("utf8", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
        S("invalid-utf8", "a\xff" "b\xc3(\xed\xa0\x80z\xf4\x90\x80\x80"),
        sval("nul", "a\0b", 3),
        ival("i0", 0), ival("imin", INT64_MIN), ival("imax", INT64_MAX), ival("ineg", -3),
        dval("d", 0.1), dval("dzero", 0.0), dval("dneg0", -0.0), dval("dnan", NAN),
        dval("dinf", INFINITY), dval("dninf", -INFINITY),
        bval("btrue", 1), bval("bfalse", 0),
        binval("bin", bin, sizeof bin - 1), binval("bin-empty", "", 0),
        S("dup", "first"), ival("dup", 2),
        S("error", "true"),
        sval("mid", mid, sizeof mid),
        sval("big", big, sizeof big),
    };
    twp_value f0[] = { S("event", "retry"), ival("attempt", 2), S("msg", "x") };
    twp_value f1[] = { S("message", "no event field"), dval("v", 1.5) };
    twp_value f2[] = { ival("event", 7) };   /* not a string: an attribute */
    twp_log logs[] = {
        { 1700000000000100LL, f0, 3 }, { 1700000000000200LL, f1, 2 }, { 0, f2, 1 },
        { 1700000000000300LL, NULL, 0 },
    };
    twp_ref refs[] = {
        { .type = TW_REF_CHILD_OF, .trace_hi = 0x0af7651916cd43ddULL,
          .trace_lo = 0x8448eb211c80319cULL, .span_id = 0x00f067aa0ba902b7ULL },
        { .type = TW_REF_FOLLOWS_FROM, .trace_hi = 0, .trace_lo = 1, .span_id = 9 },
        { .type = TW_REF_CHILD_OF, .trace_hi = 5, .trace_lo = 6, .span_id = 7 },
    };
    twp_value t1[] = { bval("error", 1), S("span.kind.ignored", "x") };
    twp_value t2[] = { ival("n", 42) };

    static twp_span_data s[9];
    /* 0: a child with every field */
    init_span(&s[0], 0x0af7651916cd43ddULL, 0x8448eb211c80319cULL, 0xb7ad6b7169203331ULL,
              0x00f067aa0ba902b7ULL, "GET /every/field");
    s[0].kind = TW_KIND_SERVER;
    s[0].tags = t0;
    s[0].ntags = sizeof t0 / sizeof t0[0];
    s[0].logs = logs;
    s[0].nlogs = 4;
    s[0].refs = refs;
    s[0].nrefs = 3;
    s[0].tracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    /* W3C trace-flags 03 (sampled + random) as the propagation code stores it */
    s[0].flags = twp_flags_from_w3c(0x03);
    /* 1: a 64-bit root, error bool, CLIENT */
    init_span(&s[1], 0, 0xfedcba9876543210ULL, 0xfedcba9876543210ULL, 0, "root-64");
    s[1].kind = TW_KIND_CLIENT;
    s[1].tags = t1;
    s[1].ntags = 2;
    /* 2..6: each kind, odd times, unsampled flags, every unknown W3C bit */
    const char *ops[] = { "k-unspecified", "k-producer", "k-consumer", "k-internal", "k-bad" };
    int kinds[] = { 0, 4, 5, 1, 77 };
    for (int i = 0; i < 5; i++) {
        init_span(&s[2 + i], 1, 2 + (uint64_t)i, 3 + (uint64_t)i, 1, ops[i]);
        s[2 + i].kind = (tw_span_kind)kinds[i];
        s[2 + i].tags = t2;
        s[2 + i].ntags = 1;
    }
    s[2].start_us = 0;                         /* no start */
    s[3].start_us = INT64_MAX - 10;            /* ns saturate */
    s[4].duration_us = INT64_MAX;              /* end overflows */
    s[5].flags = twp_flags_from_w3c(0xff);
    s[6].flags = 0;
    /* 7: empty name, no tags at all */
    init_span(&s[7], 9, 9, 9, 0, "");
    /* 8: an op name and a tracestate with invalid UTF-8 */
    init_span(&s[8], 9, 10, 11, 0, "op\xff\xfe");
    s[8].tracestate = "k=v";
    twp_span_data *arr[9];
    for (int i = 0; i < 9; i++)
        arr[i] = &s[i];

    twp_value ptags[] = { S("hostname", "h"), S("ip", "10.0.0.1"), S("env", "a"),
                          S("env", "b"), S("uni", "\xc3\xa9\xff") };
    twp_process proc = { "svc-\xc3\xa9", ptags, 5 };
    emit(&proc, arr, 9);
    return 0;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* lengths around the varint steps: 0, 127/128, 16383/16384 */
static size_t rlen(void)
{
    static const size_t edges[] = { 0, 1, 126, 127, 128, 129, 16382, 16383, 16384, 16385 };
    uint64_t r = rnd() % 10;
    if (r < 3)
        return edges[rnd() % 10];
    return (size_t)(rnd() % 64);
}

static int random_spans(int n, unsigned seed)
{
    rng ^= (uint64_t)seed * 0x2545F4914F6CDD1DULL;
    static char text[40000];
    for (size_t i = 0; i < sizeof text; i++) {
        uint64_t r = rnd() % 100;
        text[i] = r < 90 ? (char)('a' + r % 26) : r < 95 ? (char)(0x80 + rnd() % 0x80) : (char)(0xc3);
    }
    twp_span_data **arr = calloc((size_t)n, sizeof *arr);
    twp_span_data *s = calloc((size_t)n, sizeof *s);
    for (int i = 0; i < n; i++) {
        init_span(&s[i], rnd() % 2 ? rnd() : 0, rnd() | 1, rnd() | 1, rnd() % 2 ? rnd() : 0, "");
        s[i].op = text + rnd() % 1000;
        s[i].op_len = (uint32_t)rlen();
        s[i].kind = (tw_span_kind)(rnd() % 6);
        s[i].flags = (unsigned)(rnd() % 2) | (unsigned)((rnd() % 256) << 8 & TWP_FLAG_W3C_MASK);
        s[i].start_us = (int64_t)(rnd() % 2000000000000000ULL);
        s[i].duration_us = (int64_t)(rnd() % 100000000);
        uint32_t nt = (uint32_t)(rnd() % 12);
        s[i].tags = calloc(nt + 1, sizeof(twp_value));
        s[i].ntags = nt;
        for (uint32_t k = 0; k < nt; k++) {
            twp_value *v = &s[i].tags[k];
            v->key = text + rnd() % 20000;
            v->key_len = (uint32_t)(rnd() % 4 ? rnd() % 12 : rlen());
            v->type = (tw_value_type)(rnd() % 5);
            switch (v->type) {
            case TW_VAL_STRING:
            case TW_VAL_BINARY:
                v->v.str = text + rnd() % 20000;
                v->len = (uint32_t)rlen();
                break;
            case TW_VAL_DOUBLE: v->v.f64 = (double)(int64_t)rnd() / 1e6; break;
            case TW_VAL_BOOL: v->v.b = (int)(rnd() % 2); break;
            default: v->v.i64 = (int64_t)rnd() >> (rnd() % 64); break;
            }
        }
        uint32_t nl = (uint32_t)(rnd() % 3);
        s[i].logs = calloc(nl + 1, sizeof(twp_log));
        s[i].nlogs = nl;
        for (uint32_t k = 0; k < nl; k++) {
            s[i].logs[k].ts_us = (int64_t)(rnd() % 2000000000000000ULL);
            s[i].logs[k].fields = s[i].tags;
            s[i].logs[k].nfields = nt;
        }
        uint32_t nr = (uint32_t)(rnd() % 3);
        s[i].refs = calloc(nr + 1, sizeof(twp_ref));
        s[i].nrefs = nr;
        for (uint32_t k = 0; k < nr; k++)
            s[i].refs[k] = (twp_ref){ .type = (tw_ref_type)(rnd() % 2), .trace_hi = rnd(),
                                      .trace_lo = rnd(), .span_id = rnd() };
        if (rnd() % 4 == 0)
            s[i].tracestate = "a=1,b=2";
        arr[i] = &s[i];
    }
    twp_process proc = { "random", NULL, 0 };
    emit(&proc, arr, (size_t)n);
    for (int i = 0; i < n; i++) {
        free(s[i].tags);
        free(s[i].logs);
        free(s[i].refs);
    }
    free(s);
    free(arr);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "full") == 0)
        return full();
    if (argc >= 4 && strcmp(argv[1], "random") == 0)
        return random_spans(atoi(argv[2]), (unsigned)atoi(argv[3]));
    fprintf(stderr, "usage: otlp_encode full | random N SEED\n");
    return 2;
}
