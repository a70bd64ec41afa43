/* thrift.c — Jaeger Thrift encoders (compact for UDP, binary for HTTP).
 *
 * Plain functions over a twp_buf: no threads, no sockets, no allocation besides
 * growing the buffer. Each struct encoder first reserves room for the worst
 * case of what it is about to write, then writes through a raw cursor; that
 * keeps the per-field cost to a few stores, which is what lets one core
 * encode well over a million small spans per second. A compact Span is first
 * tried in a budget that needs no pass over its tags (a fixed allowance per
 * tag, and the rare tag that could exceed it makes the span be encoded again
 * into an exact bound); the core's own keys and constant values carry their
 * bytes with them (const_tags.h) and are copied whole; ids and the start
 * time are spread into varints two at a time. What the reporter thread
 * spends per nginx span is measured by bench/reporter_callgrind.sh (#15).
 *
 * Wire facts (jaeger-idl jaeger.thrift / agent.thrift, Thrift compact and
 * binary protocol specs): i64 values are the two's-complement bit pattern of
 * our uint64 ids; compact integers are zigzag varints, compact doubles are
 * little-endian, binary integers and doubles are big-endian; compact field
 * headers carry the id delta to the previous field of the same struct, which
 * restarts at 0 in every nested struct and in every list element. Required
 * fields are always written (the Go decoders reject a missing one); optional
 * lists are left out when empty.
 */
#include "const_tags.h"
#include "encoders.h"
#include "trace_flags.h"

#include <string.h>
#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#define TW_HAVE_PDEP 1
#endif

/* compact type codes */
enum { CT_TRUE = 1, CT_FALSE = 2, CT_I32 = 5, CT_I64 = 6, CT_DOUBLE = 7, CT_BINARY = 8,
       CT_LIST = 9, CT_STRUCT = 12 };
/* binary type codes */
enum { BT_BOOL = 2, BT_DOUBLE = 4, BT_I32 = 8, BT_I64 = 10, BT_STRING = 11, BT_STRUCT = 12,
       BT_LIST = 15 };

/* Worst cases: a varint of 64 bits is 10 bytes, a field header at most 3. */
#define VMAX 10u

/* ------------------------------------------------------------ raw writers */

/* Varints: one or two bytes inline (lengths, types, small counts); longer
 * ones (ids, timestamps) go through put_varint_long. */
static char *put_varint_long(char *p, uint64_t v);

static inline char *put_varint(char *p, uint64_t v)
{
    if (v < 0x80) {
        *p = (char)v;
        return p + 1;
    }
    if (v < 0x4000) {
        p[0] = (char)(v | 0x80);
        p[1] = (char)(v >> 7);
        return p + 2;
    }
    return put_varint_long(p, v);
}

/* The low 56 bits of v spread into eight 7-bit groups, one per byte, little
 * end first: the first eight bytes of v's varint without continuation bits.
 * Three halving steps (28-bit halves, 14-bit quarters, 7-bit eighths)
 * instead of a byte loop with a branch per byte: a random 64-bit id is a
 * 10-byte varint, and a span has two to eight of them. */
static inline uint64_t spread7(uint64_t v)
{
    uint64_t x = v & 0x00FFFFFFFFFFFFFFULL;
    x = (x & 0x000000000FFFFFFFULL) | ((x & 0x00FFFFFFF0000000ULL) << 4);
    x = (x & 0x00003FFF00003FFFULL) | ((x & 0x0FFFC0000FFFC000ULL) << 2);
    return (x & 0x007F007F007F007FULL) | ((x & 0x3F803F803F803F80ULL) << 1);
}

/* v >= 0x4000. Writes 8 bytes at p even when the varint is shorter (the
 * bytes past it are garbage the next write covers): every caller reserved
 * VMAX bytes per varint. */
static char *put_varint_long(char *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w = spread7(v);
    if (v < (1ULL << 56)) {
        unsigned n = (unsigned)(64 - __builtin_clzll(v) + 6) / 7;   /* 3..8 bytes */
        w |= 0x8080808080808080ULL & ((1ULL << (8 * (n - 1))) - 1);
        memcpy(p, &w, 8);
        return p + n;
    }
    w |= 0x8080808080808080ULL;
    memcpy(p, &w, 8);
    p += 8;
    v >>= 56;
    if (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
#else
    /* the word above is stored in host byte order: little-endian hosts only */
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
#endif
}

static inline uint64_t zz64(int64_t n)
{
    return ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
}

/* Varints of the sizes ids and timestamps nearly always have, without the
 * branch per size put_varint takes (little-endian hosts; elsewhere, and for
 * other values, put_varint). w is spread7(v), which the caller may have
 * computed two at a time (spread7x2). Both write up to 10 bytes (VMAX). */

/* v >= 2^56 (a random 64-bit id, zigzagged: 255 in 256 of them): 9 or 10
 * bytes. Byte 8 is v's top byte as it is -- its low 7 bits are group 8, its
 * top bit is both group 9 and the continuation bit that says group 9
 * follows -- and byte 9 is that top bit. */
static inline char *put_varint_big(char *p, uint64_t v, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t h = v >> 56;
    if (__builtin_expect(h != 0, 1)) {
        w |= 0x8080808080808080ULL;
        memcpy(p, &w, 8);
        p[8] = (char)h;
        p[9] = (char)(h >> 7);
        return p + 9 + (h >> 7);
    }
#else
    (void)w;
#endif
    return put_varint(p, v);
}

/* 2^49 <= v < 2^56 (a time in microseconds since 1970, zigzagged: from
 * 1978 to 3111): exactly 8 bytes. */
static inline char *put_varint_8(char *p, uint64_t v, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (__builtin_expect((v >> 49) - 1 < 127, 1)) {
        w |= 0x0080808080808080ULL;
        memcpy(p, &w, 8);
        return p + 8;
    }
#else
    (void)w;
#endif
    return put_varint(p, v);
}

/* spread7 of a and b at once, in the two halves of an SSE2 register where
 * the target has them (every x86-64): a span's three ids and start time
 * are two such pairs, about half the instructions of four scalar spreads. */
static inline void spread7x2(uint64_t a, uint64_t b, uint64_t *wa, uint64_t *wb)
{
#if defined(__SSE2__) && defined(__x86_64__)
    const __m128i m1 = _mm_set1_epi64x(0x000000000FFFFFFFLL);
    const __m128i m2 = _mm_set1_epi64x(0x00FFFFFFF0000000LL);
    const __m128i m3 = _mm_set1_epi64x(0x00003FFF00003FFFLL);
    const __m128i m4 = _mm_set1_epi64x(0x0FFFC0000FFFC000LL);
    const __m128i m5 = _mm_set1_epi64x(0x007F007F007F007FLL);
    const __m128i m6 = _mm_set1_epi64x(0x3F803F803F803F80LL);
    __m128i x = _mm_set_epi64x((long long)b, (long long)a);
    x = _mm_or_si128(_mm_and_si128(x, m1), _mm_slli_epi64(_mm_and_si128(x, m2), 4));
    x = _mm_or_si128(_mm_and_si128(x, m3), _mm_slli_epi64(_mm_and_si128(x, m4), 2));
    x = _mm_or_si128(_mm_and_si128(x, m5), _mm_slli_epi64(_mm_and_si128(x, m6), 1));
    *wa = (uint64_t)_mm_cvtsi128_si64(x);
    *wb = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(x, x));
#else
    *wa = spread7(a);
    *wb = spread7(b);
#endif
}

static inline uint32_t zz32(int32_t n)
{
    return ((uint32_t)n << 1) ^ (uint32_t)(n >> 31);
}

/* Short strings (tag keys and most values) are copied with two overlapping
 * fixed-size moves rather than a call to memcpy, which costs more than the
 * copy itself at these sizes. Never writes past p + n. */
static inline char *put_bytes(char *p, const void *src, size_t n)
{
    const char *s = src;
    if (n <= 16) {
        if (n >= 8) {
            uint64_t a, b;
            memcpy(&a, s, 8);
            memcpy(&b, s + n - 8, 8);
            memcpy(p, &a, 8);
            memcpy(p + n - 8, &b, 8);
        } else if (n >= 4) {
            uint32_t a, b;
            memcpy(&a, s, 4);
            memcpy(&b, s + n - 4, 4);
            memcpy(p, &a, 4);
            memcpy(p + n - 4, &b, 4);
        } else if (n) {
            p[0] = s[0];
            p[n >> 1] = s[n >> 1];
            p[n - 1] = s[n - 1];
        }
        return p + n;
    }
    if (n <= 64) {   /* URLs: two pairs of overlapping 16-byte moves */
        char a[16], b[16];
        memcpy(a, s, 16);
        memcpy(b, s + n - 16, 16);
        memcpy(p, a, 16);
        memcpy(p + n - 16, b, 16);
        if (n > 32) {
            memcpy(a, s + 16, 16);
            memcpy(b, s + n - 32, 16);
            memcpy(p + 16, a, 16);
            memcpy(p + n - 32, b, 16);
        }
        return p + n;
    }
    memcpy(p, src, n);
    return p + n;
}

/* Little-endian stores of a few header bytes at once. */
static inline void put_le16(char *p, uint16_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    memcpy(p, &v, 2);
}

static inline void put_le32(char *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}

/* compact: short-form field header (every delta we write is 1..15) */
static inline char *c_field(char *p, int delta, int type)
{
    *p++ = (char)((delta << 4) | type);
    return p;
}

static inline char *c_i64(char *p, int delta, uint64_t v)
{
    p = c_field(p, delta, CT_I64);
    return put_varint(p, zz64((int64_t)v));
}

/* c_i64 of a random id: put_varint_big */
static inline char *c_id(char *p, int delta, uint64_t v)
{
    uint64_t z = zz64((int64_t)v);
    p = c_field(p, delta, CT_I64);
    return put_varint_big(p, z, spread7(z));
}

static inline char *c_i32(char *p, int delta, int32_t v)
{
    p = c_field(p, delta, CT_I32);
    return put_varint(p, zz32(v));
}

static inline char *c_bin(char *p, int delta, const char *s, size_t n)
{
    p = c_field(p, delta, CT_BINARY);
    p = put_varint(p, n);
    return put_bytes(p, s, n);
}

static inline char *c_list(char *p, int delta, uint32_t n, int elem)
{
    p = c_field(p, delta, CT_LIST);
    if (n < 15) {
        *p++ = (char)((n << 4) | elem);
    } else {
        *p++ = (char)(0xF0 | elem);
        p = put_varint(p, n);
    }
    return p;
}

/* binary */
static inline char *b_u16(char *p, uint16_t v)
{
    *p++ = (char)(v >> 8);
    *p++ = (char)v;
    return p;
}

static inline char *b_u32(char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        *p++ = (char)(v >> (8 * i));
    return p;
}

static inline char *b_u64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (char)(v >> (8 * i));
    return p;
}

static inline char *b_field(char *p, int type, int id)
{
    *p++ = (char)type;
    return b_u16(p, (uint16_t)id);
}

static inline char *b_i64(char *p, int id, uint64_t v)
{
    return b_u64(b_field(p, BT_I64, id), v);
}

static inline char *b_i32(char *p, int id, int32_t v)
{
    return b_u32(b_field(p, BT_I32, id), (uint32_t)v);
}

static inline char *b_str(char *p, int id, const char *s, size_t n)
{
    p = b_u32(b_field(p, BT_STRING, id), (uint32_t)n);
    return put_bytes(p, s, n);
}

static inline char *b_list(char *p, int id, int elem, uint32_t n)
{
    p = b_field(p, BT_LIST, id);
    *p++ = (char)elem;
    return b_u32(p, n);
}

static inline uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* ------------------------------------------------------------ span.kind */

/* The record keeps the kind in s->kind only (span_data.h); Jaeger carries it
 * as a "span.kind" string tag, appended after the recorded tags. */
/* by kind, 8 entries so any byte & 7 indexes it (kinds end at 5) */
static const twp_cval *const kind_names[8] = { NULL, NULL, &twp_cvals[TWP_V_SERVER],
                                               &twp_cvals[TWP_V_CLIENT],
                                               &twp_cvals[TWP_V_PRODUCER],
                                               &twp_cvals[TWP_V_CONSUMER], NULL, NULL };
_Static_assert(TW_KIND_CONSUMER == 5, "span kinds fit kind_names");

/* The value slot of s's span.kind tag, NULL when it has none. */
static inline const twp_cval *kind_slot(const twp_span_data *s)
{
    return s->kind < 8 ? kind_names[s->kind] : NULL;
}

static bool kind_tag(const twp_span_data *s, twp_value *out)
{
    const twp_cval *k = kind_slot(s);
    if (!k)
        return false;
    memset(out, 0, sizeof *out);
    out->type = TW_VAL_STRING;
    out->key = twp_ckeys[TWP_K_SPAN_KIND].str;
    out->key_len = TWP_KLEN_SPAN_KIND;
    out->v.str = k->str;
    out->len = (uint32_t)(unsigned char)k->hdr[3];
    return true;
}

/* The span's instrumentation scope as the OTel->Jaeger mapping has it
 * (specification/trace/sdk_exporters/jaeger.md): tags otel.library.name and
 * otel.library.version, appended like span.kind. Writes up to 2 into out. */
static uint32_t scope_tags(const twp_span_data *s, twp_value *out)
{
    const twp_scope *sc = s->scope;
    if (!sc || !sc->name_len)
        return 0;
    memset(out, 0, 2 * sizeof *out);
    out[0].type = TW_VAL_STRING;
    out[0].key = "otel.library.name";
    out[0].key_len = 17;
    out[0].v.str = sc->name;
    out[0].len = sc->name_len;
    if (!sc->version_len)
        return 1;
    out[1].type = TW_VAL_STRING;
    out[1].key = "otel.library.version";
    out[1].key_len = 20;
    out[1].v.str = sc->version;
    out[1].len = sc->version_len;
    return 2;
}

/* The tags a span carries beyond its recorded ones: span.kind, scope. */
static inline __attribute__((always_inline)) uint32_t extra_tags(const twp_span_data *s,
                                                                  twp_value out[3])
{
    uint32_t n = kind_tag(s, &out[0]) ? 1 : 0;
    return s->scope ? n + scope_tags(s, &out[n]) : n;
}

/* An ARRAY value's tag: a STRING tag holding its JSON text (kept off the
 * scalar tags' path). */
static __attribute__((noinline)) twp_value array_as_string(const twp_value *v)
{
    twp_value t = *v;
    t.type = TW_VAL_STRING;
    t.v.str = v->v.arr->json;
    t.len = v->v.arr->json_len;
    return t;
}

/* References a SpanRef can carry: all but an OTel link to an invalid
 * context (zero ids: recorded for its attributes/tracestate, tw_span_add_link_ids). */
static inline bool ref_ok(const twp_ref *r)
{
    return !r->link || ((r->trace_hi | r->trace_lo) != 0 && r->span_id != 0);
}

static uint32_t refs_ok(const twp_span_data *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nrefs; i++)
        n += ref_ok(&s->refs[i]);
    return n;
}

/* ------------------------------------------------------------ sizes */

/* Upper bound of one Tag struct in either protocol (binary is the larger:
 * 3+4+key, 3+4, 3+4+val, stop). */
static size_t tag_bound(const twp_value *v)
{
    /* len is the string, binary or (ARRAY) JSON text length, and 0 for the
     * scalars (span.c and every record writer set it): no branch on the type */
    return 24u + 12u + (size_t)v->key_len + v->len;
}

static size_t tags_bound(const twp_value *v, size_t n)
{
    size_t total = 16;   /* list header */
    for (size_t i = 0; i < n; i++)
        total += tag_bound(&v[i]);
    return total;
}

static size_t span_bound(const twp_span_data *s)
{
    size_t n = 11 * 16 + 32 + s->op_len;
    n += 16 + (size_t)s->nrefs * 48;
    n += tags_bound(s->tags, s->ntags) + 64;   /* + span.kind */
    if (s->scope)
        n += 96 + (size_t)s->scope->name_len + s->scope->version_len;
    n += 16;
    for (uint32_t i = 0; i < s->nlogs; i++)
        n += 24 + tags_bound(s->logs[i].fields, s->logs[i].nfields);
    return n;
}

static size_t process_bound(const twp_process *p)
{
    return 32 + (p->service_name ? strlen(p->service_name) : 0) + tags_bound(p->tags, p->ntags);
}

/* ------------------------------------------------------------ compact structs */

/* A Tag struct after its key field: vType, the value's field, stop. With
 * miss (a span encoded into a budget, see twp_thrift_compact_span), a value
 * of 128 bytes or more is not written: *miss is set and the caller encodes
 * the span again into an exact reservation. */
static __attribute__((noinline)) char *c_tag_value(char *p, const twp_value *v, bool *miss)
{
    if (miss && v->len >= 0x80) {
        *miss = true;
        return p;
    }
    twp_value as_str;
    if (__builtin_expect(v->type == TW_VAL_ARRAY, 0)) {
        as_str = array_as_string(v);
        v = &as_str;
    }
    p = c_i32(p, 1, (int32_t)v->type);
    switch (v->type) {
    case TW_VAL_DOUBLE: {
        uint64_t u = dbl_bits(v->v.f64);
        p = c_field(p, 2, CT_DOUBLE);
        for (int i = 0; i < 8; i++)
            *p++ = (char)(u >> (8 * i));
        break;
    }
    case TW_VAL_BOOL:
        p = c_field(p, 3, v->v.b ? CT_TRUE : CT_FALSE);
        break;
    case TW_VAL_INT64:
        p = c_field(p, 4, CT_I64);
        p = put_varint(p, zz64(v->v.i64));
        break;
    case TW_VAL_BINARY:
        p = c_bin(p, 5, v->v.str, v->len);
        break;
    case TW_VAL_STRING:
    default:
        p = c_bin(p, 1, v->v.str, v->len);
        break;
    }
    *p++ = 0;
    return p;
}

/* A whole Tag whose key is 128 bytes or longer (miss: as c_tag_value). */
static __attribute__((noinline)) char *c_tag_long_key(char *p, const twp_value *v, bool *miss)
{
    if (miss) {
        *miss = true;
        return p;
    }
    p = c_bin(p, 1, v->key, v->key_len);
    return c_tag_value(p, v, NULL);
}

/* One slot (const_tags.h): TWP_CSLOT bytes from its start, of which the
 * caller counts only the slot's own; the rest is covered by what follows
 * (every tag's reservation is at least 36 bytes plus its key and value). */
static inline char *copy_slot(char *p, const char *slot)
{
    char a[16], b[16];
    memcpy(a, slot, 16);
    memcpy(b, slot + 16, 16);
    memcpy(p, a, 16);
    memcpy(p + 16, b, 16);
    return p;
}

/* A Tag struct. The common cases -- a key shorter than 128 bytes with a
 * string value shorter than 128 bytes, an int64 or a bool -- are fixed
 * bytes around short copies, no switch, no call; the bytes are those
 * c_tag_value writes: key (field 1, delta 1), vType (field 2, zigzag:
 * STRING 0, BOOL 4, INT64 6), the value (vStr delta 1, vBool delta 3 with
 * the value in the type nibble, vLong delta 4), stop. A key from the core's
 * key slots (const_tags.h) is one slot copy with its header, and with a
 * value from the value slots the whole Tag is two slot copies. */
static inline __attribute__((always_inline)) char *c_tag(char *p, const twp_value *v,
                                                         bool *miss)
{
    /* every field read before the first store: stores through char * may
     * alias anything, so the compiler would reload each one after each */
    const char *key = v->key, *str = v->v.str;
    uint32_t key_len = v->key_len, len = v->len;
    unsigned type = v->type;
    if (twp_is_ckey(key)) {
        p = copy_slot(p, key - 2) + 2 + key_len;
        if (type == TW_VAL_STRING && twp_is_cval(str) && (uint32_t)(unsigned char)str[-1] == len)
            return copy_slot(p, str - 4) + 5 + len;
    } else if (__builtin_expect(key_len >= 0x80, 0)) {
        return c_tag_long_key(p, v, miss);
    } else {
        put_le16(p, (uint16_t)(((1 << 4) | CT_BINARY) | key_len << 8));
        p = put_bytes(p + 2, key, key_len);
    }
    if (type == TW_VAL_STRING && len < 0x80) {
        /* vType STRING (zigzag 0), vStr's header, its length */
        put_le32(p, (uint32_t)((1 << 4) | CT_I32) | (uint32_t)((1 << 4) | CT_BINARY) << 16 |
                        len << 24);
        p = put_bytes(p + 4, str, len);
    } else if (type == TW_VAL_INT64) {
        int64_t i64 = v->v.i64;
        put_le32(p, (uint32_t)((1 << 4) | CT_I32) | zz32(TW_VAL_INT64) << 8 |
                        (uint32_t)((4 << 4) | CT_I64) << 16);
        p = put_varint(p + 3, zz64(i64));
    } else if (type == TW_VAL_BOOL) {
        put_le32(p, (uint32_t)((1 << 4) | CT_I32) | zz32(TW_VAL_BOOL) << 8 |
                        (uint32_t)((3 << 4) | (v->v.b ? CT_TRUE : CT_FALSE)) << 16);
        p += 3;
    } else {
        return c_tag_value(p, v, miss);
    }
    *p = 0;
    return p + 1;
}

static char *c_tag_list(char *p, int delta, const twp_value *v, uint32_t n,
                        const twp_value *extra, uint32_t nextra)
{
    p = c_list(p, delta, n + nextra, CT_STRUCT);
    for (uint32_t i = 0; i < n; i++)
        p = c_tag(p, &v[i], NULL);
    for (uint32_t i = 0; i < nextra; i++)
        p = c_tag(p, &extra[i], NULL);
    return p;
}

/* A const sampler's two tags, sampler.type=const and sampler.param=true, as
 * span.c writes them first on every root span: their bytes, built by the
 * compiler from the strings (test_thrift.c compares them with the plain
 * encoding), copied as one piece. */
#define SAMPLER_TYPE_KEY "sampler.type"
#define SAMPLER_PARAM_KEY "sampler.param"
static const struct {
    char h1[2], k1[sizeof SAMPLER_TYPE_KEY - 1], h2[4], v1[sizeof "const" - 1], stop1;
    char h3[2], k2[sizeof SAMPLER_PARAM_KEY - 1], bool2[4];
    char pad[5];                   /* to 48 bytes: copied whole, counted as 43 */
} const_sampler_tags = {
    { (1 << 4) | CT_BINARY, sizeof SAMPLER_TYPE_KEY - 1 }, SAMPLER_TYPE_KEY,
    { (1 << 4) | CT_I32, 0 /* zigzag STRING */, (1 << 4) | CT_BINARY, sizeof "const" - 1 }, "const", 0,
    { (1 << 4) | CT_BINARY, sizeof SAMPLER_PARAM_KEY - 1 }, SAMPLER_PARAM_KEY,
    { (1 << 4) | CT_I32, 4 /* zigzag BOOL */, (3 << 4) | CT_TRUE, 0 }, { 0 },
};
#define CONST_SAMPLER_TAGS_LEN (sizeof const_sampler_tags - sizeof const_sampler_tags.pad)
_Static_assert(sizeof const_sampler_tags == 48 && CONST_SAMPLER_TAGS_LEN == 43,
               "the const sampler's tags are three 16-byte moves");

static inline bool const_sampler_pair(const twp_value *t, const twp_value *end)
{
    return end - t >= 2 && t[0].key == twp_ckeys[TWP_K_SAMPLER_TYPE].str &&
           t[0].type == TW_VAL_STRING && t[0].v.str == twp_cvals[TWP_V_CONST].str &&
           t[0].len == TWP_VLEN_CONST && t[1].key == twp_ckeys[TWP_K_SAMPLER_PARAM].str &&
           t[1].type == TW_VAL_BOOL && t[1].v.b;
}

/* The span's Tag list: its recorded tags (a const sampler's pair first as one
 * piece), span.kind (two slot copies), the scope's tags. */
static inline __attribute__((always_inline)) char *c_span_tags(char *p, const twp_span_data *s,
                                                                bool *miss)
{
    const twp_cval *kind = kind_slot(s);
    twp_value sc[2];
    uint32_t nsc = s->scope ? scope_tags(s, sc) : 0;
    uint32_t n = s->ntags + (kind != NULL) + nsc;
    if (!n)
        return p;
    p = c_list(p, 1, n, CT_STRUCT);
    const twp_value *t = s->tags, *end = t + s->ntags;
    if (const_sampler_pair(t, end)) {
        memcpy(p, &const_sampler_tags, 48);   /* the two tags' budgets cover the pad */
        p += CONST_SAMPLER_TAGS_LEN;
        t += 2;
    }
    for (; t < end; t++)
        p = c_tag(p, t, miss);
    if (kind) {
        p = copy_slot(p, twp_ckeys[TWP_K_SPAN_KIND].hdr) + 2 + TWP_KLEN_SPAN_KIND;
        p = copy_slot(p, kind->hdr) + 5 + (unsigned char)kind->hdr[3];
    }
    for (uint32_t i = 0; i < nsc; i++)
        p = c_tag(p, &sc[i], miss);
    return p;
}

/* spread7 is one instruction where the CPU has a fast PDEP (BMI2: Intel
 * since Haswell, AMD since Zen 3 -- Zen 1 and 2 run it in microcode, tens
 * to hundreds of cycles, so they keep the shifts); chosen once at load. */
#ifdef TW_HAVE_PDEP
static bool pdep_fast, pdep_have;

__attribute__((constructor)) static void pick_spread(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d) || a < 7)
        return;
    bool amd = (b == 0x68747541u /* "Auth"enticAMD */ || b == 0x6f677948u /* "Hygo"nGenuine */);
    __cpuid_count(7, 0, a, b, c, d);
    if (!(b & (1u << 8)))   /* BMI2 */
        return;
    __get_cpuid(1, &a, &b, &c, &d);
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    pdep_have = true;
    pdep_fast = !(amd && family < 0x19);
}

/* PDEP written as an instruction, not the intrinsic: the code around it is
 * built for the baseline target and runs it only where pdep_fast says the
 * CPU has it (an intrinsic would need the whole encoder built twice). */
static inline uint64_t spread7_pdep(uint64_t v)
{
    uint64_t r;
    __asm__("pdepq %2, %1, %0" : "=r"(r) : "r"(v), "r"(0x7F7F7F7F7F7F7F7FULL));
    return r;
}

bool twp_thrift_use_pdep_for_tests(bool on)
{
    bool was = pdep_fast;
    pdep_fast = on && pdep_have;
    return was;
}
#else
bool twp_thrift_use_pdep_for_tests(bool on)
{
    (void)on;
    return false;
}
#endif

/* no_logs: the caller knows s has no logs (a run: run_small or span_budget
 * said so), a constant that drops the logs' code from the run's loop */
static inline __attribute__((always_inline)) char *c_span_in(char *p, const twp_span_data *s,
                                                              bool *miss, bool no_logs)
{
    /* trace id, span id, start: zigzag, then spread all four at once */
    uint64_t z0 = zz64((int64_t)s->trace_lo), z1 = zz64((int64_t)s->trace_hi);
    uint64_t z2 = zz64((int64_t)s->span_id), z3 = zz64(s->start_us);
    uint64_t w0, w1, w2, w3;
#ifdef TW_HAVE_PDEP
    if (pdep_fast) {
        w0 = spread7_pdep(z0);
        w1 = spread7_pdep(z1);
        w2 = spread7_pdep(z2);
        w3 = spread7_pdep(z3);
    } else
#endif
    {
        spread7x2(z0, z1, &w0, &w1);
        spread7x2(z2, z3, &w2, &w3);
    }
    p = put_varint_big(c_field(p, 1, CT_I64), z0, w0);
    p = put_varint_big(c_field(p, 1, CT_I64), z1, w1);
    p = put_varint_big(c_field(p, 1, CT_I64), z2, w2);
    p = c_i64(p, 1, s->parent_id);
    p = c_bin(p, 1, s->op, s->op_len);
    int last = 5;
    uint32_t nrefs = s->nrefs ? refs_ok(s) : 0;
    if (nrefs) {
        p = c_list(p, 1, nrefs, CT_STRUCT);
        for (uint32_t i = 0; i < s->nrefs; i++) {
            const twp_ref *r = &s->refs[i];
            if (!ref_ok(r))
                continue;
            p = c_i32(p, 1, (int32_t)r->type);
            p = c_id(p, 1, r->trace_lo);
            p = c_id(p, 1, r->trace_hi);
            p = c_id(p, 1, r->span_id);
            *p++ = 0;
        }
        last = 6;
    }
    p = c_i32(p, 7 - last, (int32_t)(s->flags & TWP_FLAG_JAEGER_MASK));
    p = put_varint_8(c_field(p, 1, CT_I64), z3, w3);
    p = c_i64(p, 1, (uint64_t)s->duration_us);
    last = 9;
    char *q = c_span_tags(p, s, miss);
    if (q != p) {
        p = q;
        last = 10;
    }
    if (!no_logs && s->nlogs) {
        p = c_list(p, 11 - last, s->nlogs, CT_STRUCT);
        for (uint32_t i = 0; i < s->nlogs; i++) {
            p = c_i64(p, 1, (uint64_t)s->logs[i].ts_us);
            p = c_tag_list(p, 1, s->logs[i].fields, s->logs[i].nfields, NULL, 0);
            *p++ = 0;
        }
    }
    *p++ = 0;
    return p;
}

/* c_span_in as a call: the exact path and twp_thrift_compact_span */
static __attribute__((noinline)) char *c_span(char *p, const twp_span_data *s, bool *miss)
{
    return c_span_in(p, s, miss, false);
}

static char *c_process(char *p, const twp_process *pr)
{
    const char *svc = pr->service_name ? pr->service_name : "";
    p = c_bin(p, 1, svc, strlen(svc));
    if (pr->ntags)
        p = c_tag_list(p, 1, pr->tags, (uint32_t)pr->ntags, NULL, 0);
    *p++ = 0;
    return p;
}

/* A tag whose key and value are each shorter than 128 bytes takes at most
 * 2 + 127 + 2 + 2 + 127 + 1 bytes (a double or int64 less), and a slot copy
 * writes TWP_CSLOT: the budget per tag of a span's first try. The fixed
 * fields (ids, flags, times, list headers, stop) take under 160 bytes;
 * span_budget allows 256, three extra tags (span.kind, the scope's two) and
 * span_bound's 48 per reference. */
#define TAG_BUDGET 264u
_Static_assert(TAG_BUDGET >= 2 + 127 + 2 + 2 + 127 + 1 && TAG_BUDGET >= TWP_CSLOT + 2 + 127,
               "tag budget too small");

/* A span's budget, or 0 when it must go through span_bound (logs: their
 * fields would need a pass; thousands of tags: the product could grow large). */
static inline size_t span_budget(const twp_span_data *s)
{
    if (__builtin_expect(s->nlogs != 0 || s->ntags >= 4096u, 0))
        return 0;
    return 256u + s->op_len + (size_t)s->nrefs * 48u + (s->ntags + 3u) * (size_t)TAG_BUDGET;
}

/* Room a run keeps past its group limit: more than the budget of any span
 * run_small lets through (256 + 8191 + 63 * 48 + 130 * TAG_BUDGET). */
#define RUN_SLACK (64u * 1024u)
_Static_assert(256u + 8191u + 63u * 48u + 130u * TAG_BUDGET <= RUN_SLACK, "RUN_SLACK too small");

static inline bool run_small(const twp_span_data *s)
{
    return s->nlogs == 0 && s->ntags < 128 && s->op_len < 8192 && s->nrefs < 64;
}

size_t twp_thrift_compact_span_run(twp_buf *b, twp_span_data *const *spans, size_t n,
                                   size_t group, size_t limit, size_t *at, bool *encoded)
{
    *encoded = false;
    /* Within a run the bytes from group stay within limit (a span that
     * takes them past it ends the run), so with limit + RUN_SLACK free now
     * a small span always has its budget free: no check per span */
    bool slack = b->len >= group && (limit + RUN_SLACK <= b->cap - b->len ||
                                     twp_buf_reserve(b, limit + RUN_SLACK));
    for (size_t i = 0; i < n; i++) {
        const twp_span_data *s = spans[i];
        if (!(__builtin_expect(slack, 1) && run_small(s))) {
            size_t need = span_budget(s);
            if (!need || (need > b->cap - b->len && !twp_buf_reserve(b, need)))
                return i;
        }
        bool miss = false;
        char *p = c_span_in(b->data + b->len, s, &miss, true);
        if (__builtin_expect(miss, 0))
            return i;
        size_t end = (size_t)(p - b->data);
        if (__builtin_expect(end - group > limit, 0)) {
            *at = b->len;
            b->len = end;
            *encoded = true;
            return i;
        }
        b->len = end;
    }
    return n;
}

/* Every span but one with logs (or with thousands of tags) is first encoded
 * into its budget, which costs no pass over the tags; a tag that could need
 * more (a key or value of 128 bytes or more) makes that try a miss, and the
 * span is encoded again into span_bound's exact reservation. */
bool twp_thrift_compact_span(twp_buf *b, const twp_span_data *s)
{
    size_t need = span_budget(s);
    if (need && twp_buf_reserve(b, need)) {
        bool miss = false;
        char *p = c_span(b->data + b->len, s, &miss);
        if (!miss) {
            b->len = (size_t)(p - b->data);
            return true;
        }
    }
    if (!twp_buf_reserve(b, span_bound(s)))
        return false;
    char *p = c_span(b->data + b->len, s, NULL);
    b->len = (size_t)(p - b->data);
    return true;
}

bool twp_thrift_compact_process(twp_buf *b, const twp_process *pr)
{
    if (!twp_buf_reserve(b, process_bound(pr)))
        return false;
    char *p = c_process(b->data + b->len, pr);
    b->len = (size_t)(p - b->data);
    return true;
}

/* The emitBatch message up to Batch.process's struct header. */
static char *c_head_prefix(char *p, int32_t seqid)
{
    *p++ = (char)0x82;
    *p++ = (char)0x81;                 /* ONEWAY << 5 | version 1 */
    p = put_varint(p, (uint32_t)seqid);  /* raw int32 bits, not zigzag */
    p = put_varint(p, 9);
    p = put_bytes(p, "emitBatch", 9);
    p = c_field(p, 1, CT_STRUCT);      /* emitBatch_args.batch */
    return c_field(p, 1, CT_STRUCT);   /* Batch.process */
}

/* Message header through the Batch list header (field 2); the caller then
 * appends the span structs and calls twp_thrift_compact_emit_batch_tail. */
static bool c_batch_head(twp_buf *b, int32_t seqid, const void *proc, size_t proc_len,
                         uint32_t nspans)
{
    if (!twp_buf_reserve(b, TWP_EMIT_BATCH_HEAD_MAX + 16 + proc_len))
        return false;
    char *p = c_head_prefix(b->data + b->len, seqid);
    p = put_bytes(p, proc, proc_len);
    p = c_list(p, 1, nspans, CT_STRUCT);
    b->len = (size_t)(p - b->data);
    return true;
}

char *twp_thrift_compact_emit_batch_head_at(char *end, int32_t seqid, const void *proc,
                                           size_t proc_len, uint32_t nspans)
{
    char pre[32], lst[24];   /* room for put_varint_long's 8-byte stores */
    size_t pl = (size_t)(c_head_prefix(pre, seqid) - pre);
    size_t ll = (size_t)(c_list(lst, 1, nspans, CT_STRUCT) - lst);
    char *start = end - ll - proc_len - pl;
    memcpy(start, pre, pl);
    memcpy(start + pl, proc, proc_len);
    memcpy(start + pl + proc_len, lst, ll);
    return start;
}

bool twp_thrift_compact_emit_batch_tail(twp_buf *b, const twp_batch_meta *m)
{
    if (!twp_buf_reserve(b, 64))
        return false;
    char *p = b->data + b->len;
    int last = 2;
    if (m && m->has_seq_no) {
        p = c_i64(p, 1, (uint64_t)m->seq_no);
        last = 3;
    }
    if (m && m->stats) {
        p = c_field(p, 4 - last, CT_STRUCT);
        p = c_i64(p, 1, (uint64_t)m->stats->full_queue_dropped);
        p = c_i64(p, 1, (uint64_t)m->stats->too_large_dropped);
        p = c_i64(p, 1, (uint64_t)m->stats->failed_to_emit);
        *p++ = 0;
    }
    *p++ = 0;   /* end of Batch */
    *p++ = 0;   /* end of emitBatch_args */
    b->len = (size_t)(p - b->data);
    return true;
}

bool twp_thrift_compact_emit_batch_raw(twp_buf *b, int32_t seqid, const void *proc,
                                       size_t proc_len, const void *spans, size_t spans_len,
                                       uint32_t nspans, const twp_batch_meta *m)
{
    if (!c_batch_head(b, seqid, proc, proc_len, nspans) || !twp_buf_append(b, spans, spans_len))
        return false;
    return twp_thrift_compact_emit_batch_tail(b, m);
}

bool twp_thrift_compact_emit_batch(twp_buf *b, int32_t seqid, const twp_process *pr,
                                   twp_span_data *const *spans, size_t n,
                                   const twp_batch_meta *m)
{
    twp_buf proc;
    twp_buf_init(&proc);
    bool ok = twp_thrift_compact_process(&proc, pr) &&
              c_batch_head(b, seqid, proc.data, proc.len, (uint32_t)n);
    twp_buf_free(&proc);
    for (size_t i = 0; ok && i < n; i++)
        ok = twp_thrift_compact_span(b, spans[i]);
    return ok && twp_thrift_compact_emit_batch_tail(b, m);
}

/* ------------------------------------------------------------ binary structs */

static char *b_tag(char *p, const twp_value *v)
{
    twp_value as_str;
    if (__builtin_expect(v->type == TW_VAL_ARRAY, 0)) {
        as_str = array_as_string(v);
        v = &as_str;
    }
    p = b_str(p, 1, v->key, v->key_len);
    p = b_i32(p, 2, (int32_t)v->type);
    switch (v->type) {
    case TW_VAL_DOUBLE:
        p = b_u64(b_field(p, BT_DOUBLE, 4), dbl_bits(v->v.f64));
        break;
    case TW_VAL_BOOL:
        p = b_field(p, BT_BOOL, 5);
        *p++ = (char)(v->v.b ? 1 : 0);
        break;
    case TW_VAL_INT64:
        p = b_i64(p, 6, (uint64_t)v->v.i64);
        break;
    case TW_VAL_BINARY:
        p = b_str(p, 7, v->v.str, v->len);
        break;
    case TW_VAL_STRING:
    default:
        p = b_str(p, 3, v->v.str, v->len);
        break;
    }
    *p++ = 0;
    return p;
}

static char *b_tag_list(char *p, int id, const twp_value *v, uint32_t n,
                        const twp_value *extra, uint32_t nextra)
{
    p = b_list(p, id, BT_STRUCT, n + nextra);
    for (uint32_t i = 0; i < n; i++)
        p = b_tag(p, &v[i]);
    for (uint32_t i = 0; i < nextra; i++)
        p = b_tag(p, &extra[i]);
    return p;
}

static char *b_span(char *p, const twp_span_data *s)
{
    p = b_i64(p, 1, s->trace_lo);
    p = b_i64(p, 2, s->trace_hi);
    p = b_i64(p, 3, s->span_id);
    p = b_i64(p, 4, s->parent_id);
    p = b_str(p, 5, s->op, s->op_len);
    uint32_t nrefs = s->nrefs ? refs_ok(s) : 0;
    if (nrefs) {
        p = b_list(p, 6, BT_STRUCT, nrefs);
        for (uint32_t i = 0; i < s->nrefs; i++) {
            const twp_ref *r = &s->refs[i];
            if (!ref_ok(r))
                continue;
            p = b_i32(p, 1, (int32_t)r->type);
            p = b_i64(p, 2, r->trace_lo);
            p = b_i64(p, 3, r->trace_hi);
            p = b_i64(p, 4, r->span_id);
            *p++ = 0;
        }
    }
    p = b_i32(p, 7, (int32_t)(s->flags & TWP_FLAG_JAEGER_MASK));
    p = b_i64(p, 8, (uint64_t)s->start_us);
    p = b_i64(p, 9, (uint64_t)s->duration_us);
    twp_value xt[3];
    uint32_t nx = extra_tags(s, xt);
    if (s->ntags || nx)
        p = b_tag_list(p, 10, s->tags, s->ntags, xt, nx);
    if (s->nlogs) {
        p = b_list(p, 11, BT_STRUCT, s->nlogs);
        for (uint32_t i = 0; i < s->nlogs; i++) {
            p = b_i64(p, 1, (uint64_t)s->logs[i].ts_us);
            p = b_tag_list(p, 2, s->logs[i].fields, s->logs[i].nfields, NULL, 0);
            *p++ = 0;
        }
    }
    *p++ = 0;
    return p;
}

bool twp_thrift_binary_span(twp_buf *b, const twp_span_data *s)
{
    if (!twp_buf_reserve(b, span_bound(s)))
        return false;
    char *p = b_span(b->data + b->len, s);
    b->len = (size_t)(p - b->data);
    return true;
}

bool twp_thrift_binary_batch(twp_buf *b, const twp_process *pr, twp_span_data *const *spans,
                             size_t n, const twp_batch_meta *m)
{
    if (!twp_buf_reserve(b, process_bound(pr) + 16))
        return false;
    char *p = b->data + b->len;
    const char *svc = pr->service_name ? pr->service_name : "";
    p = b_field(p, BT_STRUCT, 1);
    p = b_str(p, 1, svc, strlen(svc));
    if (pr->ntags)
        p = b_tag_list(p, 2, pr->tags, (uint32_t)pr->ntags, NULL, 0);
    *p++ = 0;
    p = b_list(p, 2, BT_STRUCT, (uint32_t)n);
    b->len = (size_t)(p - b->data);
    for (size_t i = 0; i < n; i++)
        if (!twp_thrift_binary_span(b, spans[i]))
            return false;
    if (!twp_buf_reserve(b, 64))
        return false;
    p = b->data + b->len;
    if (m && m->has_seq_no)
        p = b_i64(p, 3, (uint64_t)m->seq_no);
    if (m && m->stats) {
        p = b_field(p, BT_STRUCT, 4);
        p = b_i64(p, 1, (uint64_t)m->stats->full_queue_dropped);
        p = b_i64(p, 2, (uint64_t)m->stats->too_large_dropped);
        p = b_i64(p, 3, (uint64_t)m->stats->failed_to_emit);
        *p++ = 0;
    }
    *p++ = 0;
    b->len = (size_t)(p - b->data);
    return true;
}
