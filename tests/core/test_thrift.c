/* test_thrift.c — the Jaeger Thrift encoders reproduce the golden vectors of
 * /work/shared/notes/protocols.md byte for byte (compact emitBatch message and
 * binary bare Batch), and respect the structural rules those vectors do not
 * exercise (long list headers, optional fields left out, span.kind from kind),
 * and the compact encoder's shortcuts (constant tag slots, a span encoded
 * into a budget, ids and times two at a time) give the plain bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <cmocka.h>

#include "const_tags.h"
#include "encoders.h"

static twp_value str_tag(const char *k, const char *v)
{
    twp_value t;
    memset(&t, 0, sizeof t);
    t.type = TW_VAL_STRING;
    t.key = k;
    t.key_len = (uint32_t)strlen(k);
    t.v.str = v;
    t.len = (uint32_t)strlen(v);
    return t;
}

static void init_span(twp_span_data *s)
{
    memset(s, 0, sizeof *s);
    s->trace_lo = 1;
    s->span_id = 2;
    s->op = "op";
    s->op_len = 2;
    s->flags = TW_FLAG_SAMPLED;
    s->start_us = 1700000000000000LL;
    s->duration_us = 1500;
}

static void assert_hex(const twp_buf *b, const char *hex)
{
    char want[1024];
    size_t n = 0;
    for (const char *p = hex; *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        unsigned v;
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        want[n++] = (char)v;
        p += 2;
    }
    if (b->len != n || memcmp(b->data, want, n) != 0) {
        fprintf(stderr, "got %zu bytes:", b->len);
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, " %02x", (unsigned char)b->data[i]);
        fprintf(stderr, "\n");
    }
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

static void compact_emit_batch_matches_golden_vector(void **state)
{
    (void)state;
    twp_value ptag = str_tag("hostname", "h");
    twp_process proc = { "svc", &ptag, 1 };
    twp_span_data s;
    init_span(&s);
    twp_ref ref = { .type = TW_REF_FOLLOWS_FROM, .trace_hi = 0, .trace_lo = 1, .span_id = 9 };
    s.refs = &ref;
    s.nrefs = 1;
    twp_value tags[3];
    memset(tags, 0, sizeof tags);
    tags[0].type = TW_VAL_INT64; tags[0].key = "k"; tags[0].key_len = 1; tags[0].v.i64 = -3;
    tags[1].type = TW_VAL_BOOL; tags[1].key = "b"; tags[1].key_len = 1; tags[1].v.b = 1;
    tags[2].type = TW_VAL_DOUBLE; tags[2].key = "d"; tags[2].key_len = 1; tags[2].v.f64 = 1.5;
    s.tags = tags;
    s.ntags = 3;
    twp_value ev = str_tag("event", "x");
    twp_log log = { 1700000000000100LL, &ev, 1 };
    s.logs = &log;
    s.nlogs = 1;
    twp_span_data *spans[1] = { &s };
    twp_batch_meta m = { true, 1, NULL };

    twp_buf b;
    twp_buf_init(&b);
    assert_true(twp_thrift_compact_emit_batch(&b, 0, &proc, spans, 1, &m));
    assert_hex(&b,
        "82 81 00 09 65 6d 69 74 42 61 74 63 68 1c 1c 18 03 73 76 63 19 1c 18 08 68 6f 73 74 6e 61 6d 65 15 00"
        "18 01 68 00 00 19 1c 16 02 16 00 16 04 16 00 18 02 6f 70 19 1c 15 02 16 02 16 00 16 12 00 15 02 16 80"
        "80 f2 81 83 89 85 06 16 b8 17 19 3c 18 01 6b 15 06 46 05 00 18 01 62 15 04 31 00 18 01 64 15 02 27 00"
        "00 00 00 00 00 f8 3f 00 19 1c 16 c8 81 f2 81 83 89 85 06 19 1c 18 05 65 76 65 6e 74 15 00 18 01 78 00"
        "00 00 16 02 00 00");

    /* the raw variant over pre-encoded structs yields the same message */
    twp_buf pb, sb, b2;
    twp_buf_init(&pb);
    twp_buf_init(&sb);
    twp_buf_init(&b2);
    assert_true(twp_thrift_compact_process(&pb, &proc));
    assert_true(twp_thrift_compact_span(&sb, &s));
    assert_true(twp_thrift_compact_emit_batch_raw(&b2, 0, pb.data, pb.len, sb.data, sb.len, 1, &m));
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    assert_true(pb.len + sb.len + TWP_EMIT_BATCH_OVERHEAD >= b.len);
    twp_buf_free(&pb);
    twp_buf_free(&sb);
    twp_buf_free(&b2);
    twp_buf_free(&b);
}

static void binary_batch_matches_golden_vector(void **state)
{
    (void)state;
    twp_process proc = { "svc", NULL, 0 };
    twp_span_data s;
    init_span(&s);
    twp_span_data *spans[1] = { &s };
    twp_buf b;
    twp_buf_init(&b);
    assert_true(twp_thrift_binary_batch(&b, &proc, spans, 1, NULL));
    assert_hex(&b,
        "0c 00 01 0b 00 01 00 00 00 03 73 76 63 00 0f 00 02 0c 00 00 00 01 0a 00 01 00 00 00 00 00 00 00 01 0a"
        "00 02 00 00 00 00 00 00 00 00 0a 00 03 00 00 00 00 00 00 00 02 0a 00 04 00 00 00 00 00 00 00 00 0b 00"
        "05 00 00 00 02 6f 70 08 00 07 00 00 00 01 0a 00 08 00 06 0a 24 18 1e 40 00 0a 00 09 00 00 00 00 00 00"
        "05 dc 00 00");
    twp_buf_free(&b);
}

static void compact_span_without_refs_jumps_to_flags(void **state)
{
    (void)state;
    twp_span_data s;
    init_span(&s);
    twp_buf b;
    twp_buf_init(&b);
    assert_true(twp_thrift_compact_span(&b, &s));
    /* ... 18 02 6f 70 25 02 ...: field 5 -> field 7 is delta 2, i32 */
    const char want[] = { 0x18, 0x02, 'o', 'p', 0x25, 0x02 };
    assert_non_null(memmem(b.data, b.len, want, sizeof want));
    assert_int_equal(b.data[b.len - 1], 0);
    twp_buf_free(&b);
}

static void compact_long_list_header_and_logs_without_tags(void **state)
{
    (void)state;
    twp_span_data s;
    init_span(&s);
    twp_log logs[20];
    memset(logs, 0, sizeof logs);
    for (int i = 0; i < 20; i++)
        logs[i].ts_us = i;
    s.logs = logs;
    s.nlogs = 20;
    twp_buf b;
    twp_buf_init(&b);
    assert_true(twp_thrift_compact_span(&b, &s));
    /* no tags: logs (field 11) follow duration (field 9) with delta 2, then
     * 0xF0|STRUCT and a varint count of 20 */
    const char want[] = { 0x29, (char)0xFC, 20 };
    assert_non_null(memmem(b.data, b.len, want, sizeof want));
    twp_buf_free(&b);
}

static void span_kind_becomes_a_string_tag(void **state)
{
    (void)state;
    twp_span_data s;
    init_span(&s);
    s.kind = TW_KIND_CLIENT;
    twp_buf b;
    twp_buf_init(&b);
    assert_true(twp_thrift_compact_span(&b, &s));
    const char want[] = { 0x19, 0x1c, 0x18, 9, 's', 'p', 'a', 'n', '.', 'k', 'i', 'n', 'd',
                          0x15, 0x00, 0x18, 6, 'c', 'l', 'i', 'e', 'n', 't', 0x00 };
    assert_non_null(memmem(b.data, b.len, want, sizeof want));
    b.len = 0;
    s.kind = TW_KIND_INTERNAL;
    assert_true(twp_thrift_binary_span(&b, &s));
    assert_null(memmem(b.data, b.len, "span.kind", 9));
    twp_buf_free(&b);
}

static void binary_batch_carries_seqno_and_client_stats(void **state)
{
    (void)state;
    twp_process proc = { "svc", NULL, 0 };
    twp_client_stats st = { 1, 2, 3 };
    twp_batch_meta m = { true, 7, &st };
    twp_buf b;
    twp_buf_init(&b);
    assert_true(twp_thrift_binary_batch(&b, &proc, NULL, 0, &m));
    const char want[] = { 0x0f, 0, 2, 0x0c, 0, 0, 0, 0,
                          0x0a, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7,
                          0x0c, 0, 4,
                          0x0a, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
                          0x0a, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
                          0x0a, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0 };
    assert_true(b.len >= sizeof want);
    assert_memory_equal(b.data + b.len - sizeof want, want, sizeof want);
    twp_buf_free(&b);
}

/* The reference varint, one byte per loop turn, as the compact spec reads. */
static size_t ref_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* The encoder's fast paths (multi-byte varints written a word at a time,
 * short strings copied without memcpy, the inline string Tag) give the
 * bytes of the plain reading at every length boundary. */
static void fast_paths_once(void);

static void compact_fast_paths_match_the_plain_encoding(void **state)
{
    (void)state;
    /* ids spread with PDEP where the CPU has it, and with shifts (SSE2) */
    bool was = twp_thrift_use_pdep_for_tests(true);
    fast_paths_once();
    twp_thrift_use_pdep_for_tests(false);
    fast_paths_once();
    twp_thrift_use_pdep_for_tests(was);
}

static void fast_paths_once(void)
{
    static char text[300];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    uint64_t vals[200];
    size_t nv = 0;
    for (int k = 0; k < 64; k++) {
        vals[nv++] = 1ULL << k;
        vals[nv++] = (1ULL << k) - 1;
        vals[nv++] = ~(1ULL << k);
    }
    vals[nv++] = UINT64_MAX;
    vals[nv++] = 0x8000000000000000ULL;
    for (size_t i = 0; i < nv; i++) {
        /* every length to 70 (the inline copies' boundaries), then past the
         * 128 bytes a span's budget allows a key or value (a miss: encoded
         * again into an exact reservation) */
        for (size_t slen = 0; slen <= 290; slen += (slen < 70 ? 1 : 55)) {
            twp_span_data s;
            init_span(&s);
            s.trace_lo = vals[i];
            s.trace_hi = vals[(i + 11) % nv];
            s.span_id = vals[(i + 7) % nv];
            s.start_us = (int64_t)vals[(i + 3) % nv];
            twp_value t[3];
            memset(t, 0, sizeof t);
            t[0].type = TW_VAL_STRING;
            t[0].key = text + 1;
            t[0].key_len = (uint32_t)(slen % 201);
            t[0].v.str = text + 5;
            t[0].len = (uint32_t)slen;
            t[1].type = TW_VAL_INT64;
            t[1].key = "i";
            t[1].key_len = 1;
            t[1].v.i64 = (int64_t)vals[i];
            t[2].type = TW_VAL_BOOL;
            t[2].key = "f";
            t[2].key_len = 1;
            t[2].v.b = 0;
            s.tags = t;
            s.ntags = 3;
            twp_buf b;
            twp_buf_init(&b);
            assert_true(twp_thrift_compact_span(&b, &s));
            /* and through the run encoder the UDP exporter uses: the same
             * bytes, or (a key or value of 128 bytes or more) a stop
             * before the span with nothing written */
            twp_buf r;
            twp_buf_init(&r);
            twp_span_data *one[1] = { &s };
            size_t at = 0;
            bool enc = true;
            size_t k = twp_thrift_compact_span_run(&r, one, 1, 0, 65000, &at, &enc);
            assert_false(enc);
            if (slen < 128 && t[0].key_len < 128) {
                assert_int_equal(k, 1);
                assert_int_equal(r.len, b.len);
                assert_memory_equal(r.data, b.data, b.len);
            } else {
                assert_int_equal(k, 0);
                assert_int_equal(r.len, 0);
            }
            twp_buf_free(&r);
            unsigned char want[1200];
            size_t n = 0;
#define ZZ(x) (((uint64_t)(x) << 1) ^ (uint64_t)((int64_t)(x) >> 63))
            want[n++] = 0x16; n += ref_varint(want + n, ZZ(s.trace_lo));
            want[n++] = 0x16; n += ref_varint(want + n, ZZ(s.trace_hi));
            want[n++] = 0x16; n += ref_varint(want + n, ZZ(s.span_id));
            want[n++] = 0x16; n += ref_varint(want + n, 0);
            want[n++] = 0x18; want[n++] = 2; want[n++] = 'o'; want[n++] = 'p';
            want[n++] = 0x25; want[n++] = 2;                        /* flags, delta 2 */
            want[n++] = 0x16; n += ref_varint(want + n, ZZ(s.start_us));
            want[n++] = 0x16; n += ref_varint(want + n, ZZ(1500));
            want[n++] = 0x19; want[n++] = 0x3c;                     /* tags: 3 structs */
            want[n++] = 0x18; n += ref_varint(want + n, t[0].key_len);
            memcpy(want + n, t[0].key, t[0].key_len); n += t[0].key_len;
            want[n++] = 0x15; want[n++] = 0;
            want[n++] = 0x18; n += ref_varint(want + n, slen);
            memcpy(want + n, t[0].v.str, slen); n += slen;
            want[n++] = 0;
            want[n++] = 0x18; want[n++] = 1; want[n++] = 'i';
            want[n++] = 0x15; want[n++] = 6;
            want[n++] = 0x46; n += ref_varint(want + n, ZZ(vals[i]));
            want[n++] = 0;
            want[n++] = 0x18; want[n++] = 1; want[n++] = 'f';
            want[n++] = 0x15; want[n++] = 4;
            want[n++] = 0x32; want[n++] = 0;                        /* vBool false */
            want[n++] = 0;                                          /* end of Span */
#undef ZZ
            if (b.len != n || memcmp(b.data, want, n) != 0)
                fprintf(stderr, "value %#llx, string of %zu\n", (unsigned long long)vals[i], slen);
            assert_int_equal(b.len, n);
            assert_memory_equal(b.data, want, n);
            twp_buf_free(&b);
        }
    }
}

/* One span with tags t[0..n): its compact bytes. */
static void encode_tags(twp_buf *b, const twp_value *t, uint32_t n, tw_span_kind kind)
{
    twp_span_data s;
    init_span(&s);
    s.tags = (twp_value *)t;
    s.ntags = n;
    s.kind = (uint8_t)kind;
    b->len = 0;
    assert_true(twp_thrift_compact_span(b, &s));
}

/* The same tags with every key and string value copied to the heap, so no
 * pointer is a slot's: the plain encoding to compare with. */
static void encode_tags_copied(twp_buf *b, const twp_value *t, uint32_t n, tw_span_kind kind)
{
    twp_value c[8];
    char *keep[16];
    int nk = 0;
    assert_true(n <= 8);
    for (uint32_t i = 0; i < n; i++) {
        c[i] = t[i];
        char *k = malloc(t[i].key_len + 1u);
        memcpy(k, t[i].key, t[i].key_len + 1u);
        c[i].key = keep[nk++] = k;
        if (t[i].type == TW_VAL_STRING || t[i].type == TW_VAL_BINARY) {
            char *v = malloc(t[i].len + 1u);
            memcpy(v, t[i].v.str, t[i].len);
            v[t[i].len] = 0;
            c[i].v.str = keep[nk++] = v;
        }
    }
    encode_tags(b, c, n, kind);
    while (nk)
        free(keep[--nk]);
}

static void assert_same_bytes(const twp_buf *a, const twp_buf *b)
{
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->data, b->data, a->len);
}

/* Every key slot with every value slot, with strings of every length around
 * the 128-byte budget, and with the scalar types; a value slot whose record
 * length differs from the slot's (a cut value) is encoded from the record;
 * a slot value with a key that is not a slot; every span.kind. Each must give
 * the bytes of the same tags held in plain heap strings. */
static void constant_tag_slots_give_the_plain_bytes(void **state)
{
    (void)state;
    static char text[300];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('A' + i % 23);
    twp_buf a, b;
    twp_buf_init(&a);
    twp_buf_init(&b);
    for (int k = 0; k < TWP_K_COUNT; k++) {
        twp_value t[4];
        memset(t, 0, sizeof t);
        for (int j = 0; j < 4; j++) {
            t[j].key = twp_ckeys[k].str;
            t[j].key_len = (uint16_t)strlen(twp_ckeys[k].str);
        }
        assert_int_equal((unsigned char)twp_ckeys[k].hdr[0], 0x18);
        assert_int_equal((unsigned char)twp_ckeys[k].hdr[1], t[0].key_len);
        for (int v = 0; v < TWP_V_COUNT; v++) {
            const char *val = twp_cvals[v].str;
            uint32_t len = (uint32_t)strlen(val);
            assert_int_equal((unsigned char)twp_cvals[v].hdr[3], len);
            t[0].type = TW_VAL_STRING;
            t[0].v.str = val;
            t[0].len = len;
            t[1] = t[0];
            t[1].len = len - 1;              /* a cut value still pointing at the slot */
            t[2].type = TW_VAL_BOOL;
            t[2].v.b = v & 1;
            t[3].type = TW_VAL_INT64;
            t[3].v.i64 = -(int64_t)v * 99991;
            for (tw_span_kind kind = TW_KIND_UNSPECIFIED; kind <= TW_KIND_CONSUMER; kind++) {
                encode_tags(&a, t, 4, kind);
                encode_tags_copied(&b, t, 4, kind);
                assert_same_bytes(&a, &b);
            }
            /* the slot's bytes are the Tag's value part as the plain encoder writes it */
            const char part[] = { 0x15, 0x00, 0x18, (char)len };
            assert_non_null(memmem(a.data, a.len, part, sizeof part));
        }
        for (uint32_t len = 0; len <= 260; len += (len < 140 ? 1 : 40)) {
            t[0].type = (len & 1) ? TW_VAL_BINARY : TW_VAL_STRING;
            t[0].v.str = text + 3;
            t[0].len = len;
            t[1].type = TW_VAL_DOUBLE;
            t[1].v.f64 = -2.5 * len;
            t[1].len = 0;
            encode_tags(&a, t, 2, TW_KIND_SERVER);
            encode_tags_copied(&b, t, 2, TW_KIND_SERVER);
            assert_same_bytes(&a, &b);
        }
    }
    /* a value slot under an ordinary key */
    twp_value t = { .key = "x-custom", .key_len = 8, .type = TW_VAL_STRING,
                    .v.str = twp_cvals[TWP_V_NGINX].str, .len = TWP_VLEN_NGINX };
    encode_tags(&a, &t, 1, TW_KIND_SERVER);
    encode_tags_copied(&b, &t, 1, TW_KIND_SERVER);
    assert_same_bytes(&a, &b);
    twp_buf_free(&a);
    twp_buf_free(&b);
}

/* The run encoder stops at the span that takes the group past its limit
 * (encoded, at its offset) and before a span with logs (not encoded). */
static void compact_span_run_stops_at_the_limit_and_before_logs(void **state)
{
    (void)state;
    twp_span_data s[6];
    twp_span_data *p[6];
    for (int i = 0; i < 6; i++) {
        init_span(&s[i]);
        s[i].span_id = 1000 + (uint64_t)i;
        p[i] = &s[i];
    }
    twp_buf one;
    twp_buf_init(&one);
    assert_true(twp_thrift_compact_span(&one, &s[0]));
    size_t sz = one.len;                      /* every span here has this size */
    twp_buf b;
    twp_buf_init(&b);
    assert_true(twp_buf_reserve(&b, 10));
    b.len = 10;                               /* the group starts at 10 */
    size_t at = 0;
    bool enc = false;
    /* room for two spans and a half: two go, the third is encoded and over */
    size_t k = twp_thrift_compact_span_run(&b, p, 6, 10, 2 * sz + sz / 2, &at, &enc);
    assert_int_equal(k, 2);
    assert_true(enc);
    assert_int_equal(at, 10 + 2 * sz);
    assert_int_equal(b.len, 10 + 3 * sz);
    /* a span with logs ends a run without being written */
    twp_log lg = { 5, NULL, 0 };
    s[4].logs = &lg;
    s[4].nlogs = 1;
    b.len = 10;
    k = twp_thrift_compact_span_run(&b, p, 6, 10, 65000, &at, &enc);
    assert_int_equal(k, 4);
    assert_false(enc);
    assert_int_equal(b.len, 10 + 4 * sz);
    for (int i = 0; i < 4; i++)
        assert_memory_equal(b.data + 10 + (size_t)i * sz + sz - 20, one.data + sz - 20, 20);
    twp_buf_free(&b);
    twp_buf_free(&one);
}

/* A const sampler's two tags are copied as one piece; every near miss
 * (false, a cut value, another sampler, one tag only, copied keys, another
 * order) goes tag by tag. All give the plain bytes. */
static void const_sampler_tags_give_the_plain_bytes(void **state)
{
    (void)state;
    twp_buf a, b;
    twp_buf_init(&a);
    twp_buf_init(&b);
    for (int v = 0; v < 64; v++) {
        twp_value t[3];
        memset(t, 0, sizeof t);
        t[0].key = twp_ckeys[TWP_K_SAMPLER_TYPE].str;
        t[0].key_len = TWP_KLEN_SAMPLER_TYPE;
        t[0].type = TW_VAL_STRING;
        t[0].v.str = (v & 1) ? twp_cvals[TWP_V_PROBABILISTIC].str : twp_cvals[TWP_V_CONST].str;
        t[0].len = (uint32_t)strlen(t[0].v.str) - ((v & 2) ? 1 : 0);
        t[1].key = (v & 4) ? "sampler.param" : twp_ckeys[TWP_K_SAMPLER_PARAM].str;
        t[1].key_len = TWP_KLEN_SAMPLER_PARAM;
        t[1].type = (v & 8) ? TW_VAL_DOUBLE : TW_VAL_BOOL;
        if (v & 8)
            t[1].v.f64 = 0.5;
        else
            t[1].v.b = !(v & 16);
        t[2].key = twp_ckeys[TWP_K_COMPONENT].str;
        t[2].key_len = TWP_KLEN_COMPONENT;
        t[2].type = TW_VAL_STRING;
        t[2].v.str = twp_cvals[TWP_V_NGINX].str;
        t[2].len = TWP_VLEN_NGINX;
        uint32_t n = (v & 32) ? 1 : 3;
        encode_tags(&a, t, n, TW_KIND_SERVER);
        encode_tags_copied(&b, t, n, TW_KIND_SERVER);
        assert_same_bytes(&a, &b);
        if (v == 0) {          /* the pair itself: its bytes as the spec reads them */
            const char want[] = "\x18\x0c" "sampler.type\x15\x00\x18\x05" "const\x00"
                                "\x18\x0dsampler.param\x15\x04\x31\x00";
            assert_non_null(memmem(a.data, a.len, want, sizeof want - 1));
        }
        /* the pair in second place is not the pair */
        twp_value u[3] = { t[2], t[0], t[1] };
        encode_tags(&a, u, 3, TW_KIND_SERVER);
        encode_tags_copied(&b, u, 3, TW_KIND_SERVER);
        assert_same_bytes(&a, &b);
    }
    twp_buf_free(&a);
    twp_buf_free(&b);
}

/* twp_cval_find finds every value slot, by content, and nothing else. */
static void every_value_slot_is_found(void **state)
{
    (void)state;
    for (int v = 0; v < TWP_V_COUNT; v++) {
        const char *s = twp_cvals[v].str;
        size_t n = strlen(s);
        char copy[32];
        memcpy(copy, s, n + 1);
        assert_ptr_equal(twp_cval_find(copy, n), s);
        assert_null(twp_cval_find(copy, n - 1));
        copy[n] = 'X';
        assert_null(twp_cval_find(copy, n + 1));
        copy[n - 1] ^= 0x20;                 /* GET -> GEt */
        assert_null(twp_cval_find(copy, n));
    }
    char buf[32] = "PROPFIND";   /* a buffer, as writers pass: room for any slot's compare */
    assert_null(twp_cval_find(NULL, 0));
    assert_null(twp_cval_find(buf, 0));
    assert_null(twp_cval_find(buf, 8));
}

/* The in-place message (head written before spans already in the buffer,
 * tail appended) is byte for byte the copied one. */
static void compact_emit_batch_in_place_equals_raw(void **state)
{
    (void)state;
    twp_value ptag = str_tag("hostname", "h");
    twp_process proc = { "svc", &ptag, 1 };
    twp_span_data s;
    init_span(&s);
    twp_buf pb;
    twp_buf_init(&pb);
    assert_true(twp_thrift_compact_process(&pb, &proc));
    for (uint32_t nspans = 1; nspans <= 40; nspans += 13) {
        for (int32_t seq = 1; seq < 300000; seq *= 37) {
            twp_client_stats cs = { 1, 2, 300 };
            twp_batch_meta m = { true, seq, &cs };
            twp_buf sb, raw, msg;
            twp_buf_init(&sb);
            twp_buf_init(&raw);
            twp_buf_init(&msg);
            for (uint32_t i = 0; i < nspans; i++)
                assert_true(twp_thrift_compact_span(&sb, &s));
            assert_true(twp_thrift_compact_emit_batch_raw(&raw, seq, pb.data, pb.len, sb.data,
                                                          sb.len, nspans, &m));
            size_t room = pb.len + TWP_EMIT_BATCH_HEAD_MAX;
            assert_true(twp_buf_reserve(&msg, room));
            msg.len = room;
            assert_true(twp_buf_append(&msg, sb.data, sb.len));
            assert_true(twp_thrift_compact_emit_batch_tail(&msg, &m));
            char *start = twp_thrift_compact_emit_batch_head_at(msg.data + room, seq, pb.data,
                                                                pb.len, nspans);
            assert_true(start >= msg.data);
            assert_int_equal((size_t)(msg.data + msg.len - start), raw.len);
            assert_memory_equal(start, raw.data, raw.len);
            twp_buf_free(&sb);
            twp_buf_free(&raw);
            twp_buf_free(&msg);
        }
    }
    twp_buf_free(&pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compact_emit_batch_matches_golden_vector),
        cmocka_unit_test(binary_batch_matches_golden_vector),
        cmocka_unit_test(compact_span_without_refs_jumps_to_flags),
        cmocka_unit_test(compact_long_list_header_and_logs_without_tags),
        cmocka_unit_test(span_kind_becomes_a_string_tag),
        cmocka_unit_test(binary_batch_carries_seqno_and_client_stats),
        cmocka_unit_test(compact_fast_paths_match_the_plain_encoding),
        cmocka_unit_test(compact_emit_batch_in_place_equals_raw),
        cmocka_unit_test(constant_tag_slots_give_the_plain_bytes),
        cmocka_unit_test(every_value_slot_is_found),
        cmocka_unit_test(const_sampler_tags_give_the_plain_bytes),
        cmocka_unit_test(compact_span_run_stops_at_the_limit_and_before_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
