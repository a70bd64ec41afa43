/* otlp_proto.c — OTLP/HTTP protobuf ExportTraceServiceRequest encoder.
 *
 * Why hand-written: the request is one fixed schema (opentelemetry-proto
 * collector/trace/v1 over trace/v1, common/v1, resource/v1) of which we fill
 * a dozen fields; protobuf-c or nanopb would add a code generator, a runtime
 * and a tree of per-span structs to build and free, only to walk it again —
 * the same reasoning as the Thrift encoders in thrift.c and the JSON writer
 * in otlp_json.c. The wire format needed is small: varints, fixed64/fixed32
 * little-endian, and length-delimited fields (tag, varint length, bytes).
 *
 * Mapping: exactly otlp_json.c's (see its header comment), so the JSON and
 * protobuf bodies of the same spans decode to the same message — the wire
 * tests check that. Ids are raw big-endian bytes (16 and 8), times fixed64
 * nanoseconds, kind UNSPECIFIED as INTERNAL, the "event" field of a log is
 * the event name, references other than the parent are links with an
 * opentracing.ref_type attribute, error=true sets Status{code: ERROR} (as do
 * the OTel->Jaeger tags otel.status_code=ERROR|OK, otel.status_description
 * giving an ERROR's message: twp_otlp_status in otlp_json.c), and
 * Span.flags carries the W3C trace-flags byte (otlp_proto.h). proto3
 * defaults (empty strings, zero ids) are left out, except inside AnyValue
 * whose oneof needs the field present even when it holds "" or 0.
 * Strings must be UTF-8 for a proto3 parser: invalid sequences become U+FFFD,
 * as the JSON writer does.
 *
 * Speed: a length-delimited field needs its length before its bytes. Small
 * messages (KeyValue, AnyValue, link attributes) are sized exactly before
 * writing; a span or event gets a length slot as wide as the varint of an
 * upper bound of its size (computed from the record's lengths without
 * touching the strings), is written straight behind it through a raw
 * pointer into capacity reserved once, and is moved back a byte only in the
 * rare case its real length needs a shorter varint. One reserve per span,
 * one pass over each string (an 8-bytes-at-a-time ASCII check, then memcpy).
 */
#include "otlp_proto.h"
#include "encoders.h"
#include "text.h"

#include <string.h>

typedef unsigned char u8;

/* ------------------------------------------------------------ wire primitives */

/* bytes of v as a base-128 varint: 1..10 */
static inline size_t vsize(uint64_t v)
{
    unsigned bits = 63u - (unsigned)__builtin_clzll(v | 1);
    return (bits * 9u + 73u) / 64u;
}

static inline u8 *put_varint(u8 *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (u8)(v | 0x80);
        v >>= 7;
    }
    *p++ = (u8)v;
    return p;
}

static inline u8 *put_le64(u8 *p, uint64_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
    return p + 8;
}

static inline u8 *put_be64(u8 *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
    return p + 8;
}

/* Ends a length-delimited field whose content runs from at + slot to p; the
 * slot is wide enough for any length up to the bound it was sized for. */
static inline u8 *close_len(u8 *at, size_t slot, u8 *p)
{
    size_t len = (size_t)(p - (at + slot));
    size_t k = vsize(len);
    if (k != slot) {
        memmove(at + k, at + slot, len);
        p = at + k + len;
    }
    put_varint(at, len);
    return p;
}

/* ------------------------------------------------------------ UTF-8 */


/* Bytes s takes once each invalid byte becomes U+FFFD (3 bytes); equal to n
 * exactly when s is valid UTF-8. */
static size_t utf8_out_len(const char *str, size_t n)
{
    const u8 *s = (const u8 *)str;
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL)
            break;
        i += 8;
    }
    while (i < n && s[i] < 0x80)
        i++;
    size_t out = i;
    while (i < n) {
        if (s[i] < 0x80) {
            out++;
            i++;
            continue;
        }
        size_t l = twp_utf8_seq(s + i, n - i);
        out += l ? l : 3;
        i += l ? l : 1;
    }
    return out;
}

/* Writes s (out_len from utf8_out_len) with invalid bytes replaced. */
static u8 *put_utf8(u8 *p, const char *str, size_t n, size_t out_len)
{
    if (out_len == n) {
        if (n)
            memcpy(p, str, n);
        return p + n;
    }
    const u8 *s = (const u8 *)str;
    for (size_t i = 0; i < n;) {
        size_t l = s[i] < 0x80 ? 1 : twp_utf8_seq(s + i, n - i);
        if (l) {
            memcpy(p, s + i, l);
            p += l;
            i += l;
        } else {
            memcpy(p, "\xEF\xBF\xBD", 3);
            p += 3;
            i++;
        }
    }
    return p;
}

/* Copies n bytes and returns non-zero if any of them is not ASCII: the fast
 * path for keys and values (short, almost always ASCII). Word loads only
 * inside [src, src + n): no over-read; small sizes avoid a memcpy call. */
static inline uint64_t copy_ascii(u8 *dst, const char *src, size_t n)
{
    uint64_t hi = 0, w, w2;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, src + i, 8);
            memcpy(dst + i, &w, 8);
            hi |= w;
        }
        if (i < n) {             /* the last 8 bytes again, overlapping */
            memcpy(&w, src + n - 8, 8);
            memcpy(dst + n - 8, &w, 8);
            hi |= w;
        }
        return hi & 0x8080808080808080ULL;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
        w = a; w2 = b;
        return (w | w2) & 0x80808080u;
    }
    for (size_t i = 0; i < n; i++) {
        dst[i] = (u8)src[i];
        hi |= (u8)src[i];
    }
    return hi & 0x80;
}

/* tag, length, string */
static inline u8 *put_str_field(u8 *p, u8 tag, const char *s, size_t n)
{
    size_t o = utf8_out_len(s, n);
    *p++ = tag;
    p = put_varint(p, o);
    return put_utf8(p, s, n, o);
}

/* ------------------------------------------------------------ KeyValue */

/* Upper bound of a KeyValue field for v: tag + length slots (4 x 5), a
 * 10-byte varint or 8-byte double, strings tripled for U+FFFD. */
static inline size_t kv_bound(const twp_value *v)
{
    size_t n = 40 + 3 * (size_t)v->key_len;
    if (v->type == TW_VAL_ARRAY) {          /* ArrayValue: an AnyValue per item */
        for (uint32_t i = 0; i < v->v.arr->n; i++)
            n += 16 + 3 * (size_t)v->v.arr->items[i].len;
    } else if (v->type == TW_VAL_STRING || v->type == TW_VAL_BINARY ||
        (v->type != TW_VAL_DOUBLE && v->type != TW_VAL_BOOL && v->type != TW_VAL_INT64)) {
        n += 3 * (size_t)v->len;
    }
    return n;
}

/* AnyValue content length of a scalar item (so: its UTF-8 output length). */
static size_t any_len(const twp_value *v, size_t *so)
{
    switch (v->type) {
    case TW_VAL_DOUBLE: return 9;
    case TW_VAL_BOOL:   return 2;
    case TW_VAL_INT64:  return 1 + vsize((uint64_t)v->v.i64);
    case TW_VAL_BINARY: return 1 + vsize(v->len) + v->len;
    case TW_VAL_NULL:   return 0;
    case TW_VAL_STRING:
    default:
        *so = utf8_out_len(v->v.str, v->len);
        return 1 + vsize(*so) + *so;
    }
}

/* ArrayValue { repeated AnyValue values = 1 } content length. */
static size_t array_len(const twp_array *a)
{
    size_t n = 0, so = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        size_t l = any_len(&a->items[i], &so);
        n += 1 + vsize(l) + l;
    }
    return n;
}

/* A scalar AnyValue's content (no tag/length), so from any_len. */
static u8 *put_any_body(u8 *p, const twp_value *v, size_t so)
{
    switch (v->type) {
    case TW_VAL_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->v.f64, 8);
        *p++ = 0x21;
        return put_le64(p, bits);
    }
    case TW_VAL_BOOL:
        *p++ = 0x10;
        *p++ = v->v.b ? 1 : 0;
        return p;
    case TW_VAL_INT64:
        *p++ = 0x18;
        return put_varint(p, (uint64_t)v->v.i64);
    case TW_VAL_BINARY:
        *p++ = 0x3A;
        p = put_varint(p, v->len);
        if (v->len)
            memcpy(p, v->v.str, v->len);
        return p + v->len;
    case TW_VAL_NULL:
        return p;
    case TW_VAL_STRING:
    default:
        *p++ = 0x0A;
        p = put_varint(p, so);
        return put_utf8(p, v->v.str, v->len, so);
    }
}

/* A KeyValue as field `tag` of its parent: { key = 1; AnyValue value = 2 } with
 * AnyValue's oneof string 1 / bool 2 / int 3 / double 4 / bytes 7. */
static u8 *put_kv_exact(u8 *p, u8 tag, const twp_value *v)
{
    size_t ko = utf8_out_len(v->key, v->key_len);
    size_t key_field = ko ? 1 + vsize(ko) + ko : 0;   /* proto3: "" is left out */
    size_t any, so = 0, arr = 0;
    if (v->type == TW_VAL_ARRAY) {          /* AnyValue.array_value (5) */
        arr = array_len(v->v.arr);
        any = 1 + vsize(arr) + arr;
    } else {
        any = any_len(v, &so);
    }
    size_t kv = key_field + 1 + vsize(any) + any;
    *p++ = tag;
    p = put_varint(p, kv);
    if (ko) {
        *p++ = 0x0A;
        p = put_varint(p, ko);
        p = put_utf8(p, v->key, v->key_len, ko);
    }
    *p++ = 0x12;
    p = put_varint(p, any);
    if (v->type != TW_VAL_ARRAY)
        return put_any_body(p, v, so);
    *p++ = 0x2A;
    p = put_varint(p, arr);
    for (uint32_t i = 0; i < v->v.arr->n; i++) {
        const twp_value *it = &v->v.arr->items[i];
        size_t iso = 0, l = any_len(it, &iso);
        *p++ = 0x0A;             /* ArrayValue.values */
        p = put_varint(p, l);
        p = put_any_body(p, it, iso);
    }
    return p;
}

/* The common case in one pass: a non-empty key and a value short enough
 * that every length is one byte, written as if all ASCII while checking;
 * anything else (or a non-ASCII byte seen) is redone by put_kv_exact. */
static inline u8 *put_kv(u8 *p, u8 tag, const twp_value *v)
{
    size_t kl = v->key_len;
    if (kl == 0 || kl > 60)
        return put_kv_exact(p, tag, v);
    u8 *start = p;
    uint64_t bad;
    p[0] = tag;
    p[2] = 0x0A;
    p[3] = (u8)kl;
    bad = copy_ascii(p + 4, v->key, kl);
    u8 *q = p + 4 + kl;
    size_t any;
    switch (v->type) {
    case TW_VAL_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->v.f64, 8);
        q[0] = 0x12;
        q[1] = 9;
        q[2] = 0x21;
        q = put_le64(q + 3, bits);
        any = 9;
        break;
    }
    case TW_VAL_BOOL:
        q[0] = 0x12;
        q[1] = 2;
        q[2] = 0x10;
        q[3] = v->v.b ? 1 : 0;
        q += 4;
        any = 2;
        break;
    case TW_VAL_INT64: {
        u8 *e = put_varint(q + 3, (uint64_t)v->v.i64);
        any = 1 + (size_t)(e - (q + 3));
        q[0] = 0x12;
        q[1] = (u8)any;
        q[2] = 0x18;
        q = e;
        break;
    }
    case TW_VAL_STRING:
        if (v->len > 60)
            return put_kv_exact(start, tag, v);
        q[0] = 0x12;
        q[1] = (u8)(2 + v->len);
        q[2] = 0x0A;
        q[3] = (u8)v->len;
        bad |= copy_ascii(q + 4, v->v.str, v->len);
        q += 4 + v->len;
        any = 2 + v->len;
        break;
    default:
        return put_kv_exact(start, tag, v);
    }
    if (bad)
        return put_kv_exact(start, tag, v);
    p[1] = (u8)(2 + kl + 2 + any);    /* <= 2 + 60 + 2 + 62 < 128 */
    return q;
}

/* True if a later entry (other than skip) sets the same key: OTLP forbids
 * duplicate attribute keys, and a tag set twice means its last value (the
 * JSON writer's rule). */
static bool overridden_later(const twp_value *v, size_t n, size_t i, long skip)
{
    for (size_t j = i + 1; j < n; j++)
        if ((long)j != skip && v[j].key_len == v[i].key_len &&
            (v[i].key_len == 0 || (v[j].key[0] == v[i].key[0] &&
                                   memcmp(v[j].key, v[i].key, v[i].key_len) == 0)))
            return true;
    return false;
}

static u8 *put_kvs(u8 *p, u8 tag, const twp_value *v, size_t n, long skip)
{
    for (size_t i = 0; i < n; i++)
        if ((long)i != skip && !overridden_later(v, n, i, skip))
            p = put_kv(p, tag, &v[i]);
    return p;
}

/* ------------------------------------------------------------ span */

#define keyeq(v, lit) \
    ((v)->key_len == sizeof(lit) - 1 && memcmp((v)->key, lit, sizeof(lit) - 1) == 0)


/* µs -> ns, saturating (application timestamps are any int64); as otlp_json.c. */
static uint64_t us_to_ns(int64_t us)
{
    if (us <= 0)
        return 0;
    return us > INT64_MAX / 1000 ? (uint64_t)INT64_MAX : (uint64_t)us * 1000u;
}

static int64_t end_us(int64_t start, int64_t duration)
{
    int64_t end;
    if (__builtin_add_overflow(start, duration, &end))
        end = duration > 0 ? INT64_MAX : 0;
    return end;
}

static size_t event_bound(const twp_log *l)
{
    size_t n = 32;
    for (uint32_t i = 0; i < l->nfields; i++)
        n += kv_bound(&l->fields[i]);
    return n;
}

#define LINK_BOUND 96u

static __attribute__((noinline)) size_t link_bound(const twp_ref *r)
{
    size_t n = LINK_BOUND;
    if (r->tracestate)
        n += 16 + 3 * strlen(r->tracestate);
    for (uint32_t i = 0; i < r->nattrs; i++)
        n += kv_bound(&r->attrs[i]);
    return n;
}

static size_t span_bound(const twp_span_data *s)
{
    size_t n = 128 + 3 * (size_t)s->op_len;
    for (uint32_t i = 0; i < s->nrefs; i++)
        n += s->refs[i].link ? link_bound(&s->refs[i]) : LINK_BOUND;
    if (s->tracestate)
        n += 3 * strlen(s->tracestate);
    for (uint32_t i = 0; i < s->ntags; i++)
        n += kv_bound(&s->tags[i]);
    for (uint32_t i = 0; i < s->nlogs; i++)
        n += event_bound(&s->logs[i]);
    twp_otlp_status st = twp_otlp_status_of(s);
    n += 16 + 3 * st.msg_len;    /* Status: the message repeats a tag's text */
    return n;
}

/* Span.Event (Span field 11): time 1 (fixed64), name 2, attributes 3. */
static u8 *put_event(u8 *p, const twp_log *l)
{
    long name_at = -1;
    for (uint32_t i = 0; i < l->nfields; i++) {
        if (l->fields[i].type == TW_VAL_STRING && keyeq(&l->fields[i], "event")) {
            name_at = (long)i;
            break;
        }
    }
    *p++ = 0x5A;
    u8 *at = p;
    size_t slot = vsize(event_bound(l));
    p += slot;
    uint64_t t = us_to_ns(l->ts_us);
    if (t) {
        *p++ = 0x09;
        p = put_le64(p, t);
    }
    if (name_at >= 0 && l->fields[name_at].len)
        p = put_str_field(p, 0x12, l->fields[name_at].v.str, l->fields[name_at].len);
    p = put_kvs(p, 0x1A, l->fields, l->nfields, name_at);
    return close_len(at, slot, p);
}

/* The link's only attribute, opentracing.ref_type, as finished Link.attributes
 * (field 4) fields: KeyValue{key 1: 20 bytes, value 2: AnyValue{string 1}}. */
static const char KV_FOLLOWS[] = "\x22\x26\x0a\x14opentracing.ref_type\x12\x0e\x0a\x0c"
                                 "follows_from";
static const char KV_CHILD[] = "\x22\x22\x0a\x14opentracing.ref_type\x12\x0a\x0a\x08"
                               "child_of";

/* Span.Link (Span field 13): trace_id 1, span_id 2, attributes 4. */
static u8 *put_link(u8 *p, const twp_ref *r)
{
    if (r->link) {               /* an OTel link: its own attributes only */
        *p++ = 0x6A;
        u8 *at = p;
        size_t slot = vsize(link_bound(r));
        p += slot;
        *p++ = 0x0A;
        *p++ = 16;
        p = put_be64(p, r->trace_hi);
        p = put_be64(p, r->trace_lo);
        *p++ = 0x12;
        *p++ = 8;
        p = put_be64(p, r->span_id);
        if (r->tracestate)       /* trace_state 3 */
            p = put_str_field(p, 0x1A, r->tracestate, strlen(r->tracestate));
        p = put_kvs(p, 0x22, r->attrs, r->nattrs, -1);
        if (r->w3c_flags) {      /* flags 6, fixed32: the W3C trace-flags byte */
            *p++ = 0x35;
            *p++ = r->w3c_flags;
            *p++ = 0;
            *p++ = 0;
            *p++ = 0;
        }
        return close_len(at, slot, p);
    }
    const bool follows = r->type == TW_REF_FOLLOWS_FROM;
    const size_t attr = follows ? sizeof KV_FOLLOWS - 1 : sizeof KV_CHILD - 1;
    *p++ = 0x6A;
    *p++ = (u8)(18 + 10 + attr);     /* < 128: one length byte */
    *p++ = 0x0A;
    *p++ = 16;
    p = put_be64(p, r->trace_hi);
    p = put_be64(p, r->trace_lo);
    *p++ = 0x12;
    *p++ = 8;
    p = put_be64(p, r->span_id);
    memcpy(p, follows ? KV_FOLLOWS : KV_CHILD, attr);
    return p + attr;
}

static u8 *put_span(u8 *p, const twp_span_data *s, size_t bound)
{
    *p++ = 0x12;                 /* ScopeSpans.spans */
    u8 *at = p;
    size_t slot = vsize(bound);
    p += slot;
    *p++ = 0x0A;
    *p++ = 16;
    p = put_be64(p, s->trace_hi);
    p = put_be64(p, s->trace_lo);
    *p++ = 0x12;
    *p++ = 8;
    p = put_be64(p, s->span_id);
    if (s->tracestate && *s->tracestate)
        p = put_str_field(p, 0x1A, s->tracestate, strlen(s->tracestate));
    if (s->parent_id) {
        *p++ = 0x22;
        *p++ = 8;
        p = put_be64(p, s->parent_id);
    }
    if (s->op_len)
        p = put_str_field(p, 0x2A, s->op, s->op_len);
    unsigned k = (unsigned)s->kind < 6 && s->kind != 0 ? (unsigned)s->kind : 1;
    *p++ = 0x30;
    *p++ = (u8)k;
    uint64_t t0 = us_to_ns(s->start_us), t1 = us_to_ns(end_us(s->start_us, s->duration_us));
    if (t0) {
        *p++ = 0x39;
        p = put_le64(p, t0);
    }
    if (t1) {
        *p++ = 0x41;
        p = put_le64(p, t1);
    }
    p = put_kvs(p, 0x4A, s->tags, s->ntags, -1);
    for (uint32_t i = 0; i < s->nlogs; i++)
        p = put_event(p, &s->logs[i]);
    for (uint32_t i = 0; i < s->nrefs; i++) {
        const twp_ref *r = &s->refs[i];
        if (r->type == TW_REF_CHILD_OF && r->span_id == s->parent_id &&
            r->trace_lo == s->trace_lo && r->trace_hi == s->trace_hi)
            continue;
        p = put_link(p, r);
    }
    twp_otlp_status st = twp_otlp_status_of(s);
    if (st.code == 2 && st.msg_len == 0) {   /* Status{code: STATUS_CODE_ERROR (2)} */
        memcpy(p, "\x7A\x02\x18\x02", 4);
        p += 4;
    } else if (st.code) {        /* Status{message 2, code 3} */
        size_t ml = st.msg_len ? utf8_out_len(st.msg, st.msg_len) : 0;
        *p++ = 0x7A;
        p = put_varint(p, (ml ? 1 + vsize(ml) + ml : 0) + 2);
        if (ml)
            p = put_str_field(p, 0x12, st.msg, st.msg_len);
        *p++ = 0x18;
        *p++ = (u8)st.code;
    }
    unsigned f = twp_w3c_trace_flags(s->flags);
    if (f) {                     /* field 16, fixed32: a two-byte tag */
        *p++ = 0x85;
        *p++ = 0x01;
        *p++ = (u8)f;
        *p++ = 0;
        *p++ = 0;
        *p++ = 0;
    }
    return close_len(at, slot, p);
}

/* ------------------------------------------------------------ request */

static const char SCOPE[] = "\x0A\x09" "tracewire" "\x12";   /* + version length, version */

/* Upper bound of an InstrumentationScope's content. */
static size_t scope_bound(const twp_scope *sc)
{
    if (!sc)
        return sizeof SCOPE - 1 + 1 + sizeof TW_VERSION - 1;
    size_t n = 24 + 3 * ((size_t)sc->name_len + sc->version_len);
    for (uint32_t i = 0; i < sc->nattrs; i++)
        n += kv_bound(&sc->attrs[i]);
    return n;
}

/* ScopeSpans.scope (1) and, after the spans, schema_url (3): the fields a
 * group holds besides its spans. name 1, version 2, attributes 3. */
static u8 *put_scope(u8 *q, const twp_scope *sc)
{
    *q++ = 0x0A;
    if (!sc) {
        const size_t vlen = sizeof TW_VERSION - 1;
        *q++ = (u8)(sizeof SCOPE - 1 + 1 + vlen);
        memcpy(q, SCOPE, sizeof SCOPE - 1);
        q += sizeof SCOPE - 1;
        *q++ = (u8)vlen;
        memcpy(q, TW_VERSION, vlen);
        return q + vlen;
    }
    u8 *at = q;
    size_t slot = vsize(scope_bound(sc));
    q += slot;
    if (sc->name_len)
        q = put_str_field(q, 0x0A, sc->name, sc->name_len);
    if (sc->version_len)
        q = put_str_field(q, 0x12, sc->version, sc->version_len);
    q = put_kvs(q, 0x1A, sc->attrs, sc->nattrs, -1);
    return close_len(at, slot, q);
}

static size_t schema_bound(const twp_scope *sc)
{
    return sc && sc->schema_url_len ? 16 + 3 * (size_t)sc->schema_url_len : 0;
}

tw_status twp_otlp_proto_encode(twp_buf *b, const twp_process *p, twp_span_data *const *spans,
                                size_t n)
{
    const char *svc = p->service_name ? p->service_name : "";
    size_t svc_len = strlen(svc);
    static const twp_value SVC_KEY = {.type = TW_VAL_STRING, .key_len = 12, .key = "service.name"};
    twp_value svc_kv = SVC_KEY;
    svc_kv.v.str = svc;
    svc_kv.len = (uint32_t)(svc_len > UINT32_MAX ? UINT32_MAX : svc_len);

    /* bounds first: the outer lengths' slots are sized from them */
    size_t res_bound = 16 + kv_bound(&svc_kv);
    for (size_t i = 0; i < p->ntags; i++)
        res_bound += kv_bound(&p->tags[i]);
    /* the first spans' bounds are kept for the write loop */
    size_t kept[256];
    size_t rs_bound = 6 + res_bound;                          /* ResourceSpans content */
    size_t spans_bound = 0;
    const twp_scope *sc0 = n ? spans[0]->scope : NULL;
    bool one_scope = true;       /* the common batch: one ScopeSpans, no grouping pass */
    for (size_t i = 0; i < n; i++) {
        size_t sb = span_bound(spans[i]);
        if (i < 256)
            kept[i] = sb;
        spans_bound += sb;
        one_scope &= spans[i]->scope == sc0;
    }
    rs_bound += spans_bound;
    if (one_scope)                                            /* each ScopeSpans' own bytes */
        rs_bound += 6 + 6 + scope_bound(sc0) + schema_bound(sc0);
    else
        for (size_t i = 0; i < n; i++)
            if (twp_scope_first(spans, i))
                rs_bound += 6 + 6 + scope_bound(spans[i]->scope) + schema_bound(spans[i]->scope);

    size_t head = 1 + 5 + 1 + 5 + res_bound;
    if (!twp_buf_reserve(b, head))
        return TW_ERR_NOMEM;
    size_t base = b->len;
    u8 *q = (u8 *)b->data + base;
    /* ExportTraceServiceRequest.resource_spans (1) */
    *q++ = 0x0A;
    size_t rs_at = (size_t)(q - (u8 *)b->data), rs_slot = vsize(rs_bound);
    q += rs_slot;
    /* ResourceSpans.resource (1): Resource.attributes (1) */
    *q++ = 0x0A;
    u8 *res_at = q;
    size_t res_slot = vsize(res_bound);
    q += res_slot;
    q = put_kv(q, 0x0A, &svc_kv);
    for (size_t i = 0; i < p->ntags; i++)
        if (!overridden_later(p->tags, p->ntags, i, -1))
            q = put_kv(q, 0x0A, &p->tags[i]);
    q = close_len(res_at, res_slot, q);
    b->len = (size_t)(q - (u8 *)b->data);

    /* ResourceSpans.scope_spans (2): one per scope, in first-seen order */
    for (size_t i = 0; i < n; i++) {
        if (i && (one_scope || !twp_scope_first(spans, i)))
            continue;
        const twp_scope *sc = spans[i]->scope;
        size_t ss_bound = 6 + scope_bound(sc) + schema_bound(sc);
        if (one_scope)
            ss_bound += spans_bound;
        else
            for (size_t j = i; j < n; j++)
                if (spans[j]->scope == sc)
                    ss_bound += j < 256 ? kept[j] : span_bound(spans[j]);
        if (!twp_buf_reserve(b, 1 + 5 + 6 + scope_bound(sc)))
            return TW_ERR_NOMEM;
        q = (u8 *)b->data + b->len;
        *q++ = 0x12;
        size_t ss_at = (size_t)(q - (u8 *)b->data), ss_slot = vsize(ss_bound);
        q += ss_slot;
        q = put_scope(q, sc);
        b->len = (size_t)(q - (u8 *)b->data);
        for (size_t j = i; j < n; j++) {
            if (!one_scope && spans[j]->scope != sc)
                continue;
            size_t sb = j < 256 ? kept[j] : span_bound(spans[j]);
            if (!twp_buf_reserve(b, sb + 8))
                return TW_ERR_NOMEM;
            q = put_span((u8 *)b->data + b->len, spans[j], sb);
            b->len = (size_t)(q - (u8 *)b->data);
        }
        if (sc && sc->schema_url_len) {
            if (!twp_buf_reserve(b, schema_bound(sc)))
                return TW_ERR_NOMEM;
            q = put_str_field((u8 *)b->data + b->len, 0x1A, sc->schema_url, sc->schema_url_len);
            b->len = (size_t)(q - (u8 *)b->data);
        }
        u8 *d = (u8 *)b->data;
        q = close_len(d + ss_at, ss_slot, d + b->len);
        b->len = (size_t)(q - d);
    }

    u8 *d = (u8 *)b->data;
    q = close_len(d + rs_at, rs_slot, d + b->len);
    b->len = (size_t)(q - d);
    return TW_OK;
}

/* ------------------------------------------------------------ response */

/* One varint at *i (advanced); false if it runs past n or beyond 10 bytes. */
static bool get_varint(const u8 *p, size_t n, size_t *i, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70 && *i < n; shift += 7) {
        u8 c = p[(*i)++];
        x |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Skips the field of wire type wt at *i; false when malformed. */
static bool skip_field(const u8 *p, size_t n, size_t *i, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0: return get_varint(p, n, i, &v);
    case 1: if (n - *i < 8) return false; *i += 8; return true;
    case 5: if (n - *i < 4) return false; *i += 4; return true;
    case 2:
        if (!get_varint(p, n, i, &v) || v > n - *i)
            return false;
        *i += (size_t)v;
        return true;
    default: return false;
    }
}

int64_t twp_otlp_proto_rejected(const void *body, size_t n)
{
    const u8 *p = body;
    size_t i = 0;
    int64_t rejected = 0;
    while (i < n) {
        uint64_t key;
        if (!get_varint(p, n, &i, &key))
            return 0;
        if (key == 0x0A) {       /* partial_success: ExportTracePartialSuccess */
            uint64_t len;
            if (!get_varint(p, n, &i, &len) || len > n - i)
                return 0;
            size_t end = i + (size_t)len, j = i;
            while (j < end) {
                uint64_t k2, v;
                if (!get_varint(p, end, &j, &k2))
                    return 0;
                if (k2 == 0x08) {                /* rejected_spans: int64 */
                    if (!get_varint(p, end, &j, &v))
                        return 0;
                    rejected = (int64_t)v;
                } else if (!skip_field(p, end, &j, (unsigned)(k2 & 7))) {
                    return 0;
                }
            }
            i = end;
        } else if (!skip_field(p, n, &i, (unsigned)(key & 7))) {
            return 0;
        }
    }
    return rejected > 0 ? rejected : 0;
}
