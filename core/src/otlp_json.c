/* otlp_json.c — OTLP/HTTP JSON ExportTraceServiceRequest encoder.
 *
 * The mapping follows the OTLP JSON rules (opentelemetry-proto
 * docs/specification.md) and the Jaeger -> OTLP conventions of the
 * OpenTelemetry translator:
 *   ids        lower-case hex (32 / 16 chars), not proto3 base64; root spans
 *              carry no parentSpanId;
 *   int64      decimal strings (times in ns, intValue);
 *   doubles    JSON numbers, NaN/Infinity/-Infinity as strings;
 *   binary     bytesValue, base64;
 *   kind       integer; UNSPECIFIED records go out as INTERNAL (1);
 *   logs       events: the log's "event" string field becomes the event name
 *              and is not repeated as an attribute;
 *   refs       every reference other than the parent (CHILD_OF with the
 *              parent's span id) becomes a link, with an
 *              "opentracing.ref_type" attribute (child_of / follows_from);
 *   error      a tag error=true (bool, or the string "true") sets status.code 2;
 *              the tag itself stays an attribute; so do the OTel->Jaeger tags
 *              otel.status_code (ERROR -> 2, OK -> 1 unless error=true) and
 *              otel.status_description (an ERROR's status.message): how the
 *              OpenTelemetry face (python/tracewire/otel) records a status;
 *   resource   service.name plus the process (tracer) tags;
 *   tracestate the record's W3C tracestate, verbatim;
 *   flags      the W3C trace-flags byte (sampled, random, unknown bits kept).
 * A plain function over a twp_buf, written straight into the buffer. A first
 * version built a jansson tree per request and dumped it: 12.7k spans/s
 * (~79 us per typical span, nearly all malloc/free and dump callbacks); the
 * direct writer below produces the same bytes about 40x faster. Strings are
 * escaped per RFC 8259; bytes that are not valid UTF-8 become U+FFFD so the
 * body always parses.
 */
#include "encoders.h"
#include "text.h"
#include "trace_flags.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char HEX[] = "0123456789abcdef";

/* inline fast paths over twp_buf (the out-of-line calls were a fifth of the
 * encoding time) */
static inline bool app(twp_buf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n && !twp_buf_reserve(b, n))
        return false;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return true;
}

static inline bool putch(twp_buf *b, char c)
{
    if (b->cap == b->len && !twp_buf_reserve(b, 1))
        return false;
    b->data[b->len++] = c;
    return true;
}

#define LIT(b, s) app((b), (s), sizeof(s) - 1)

static bool put_hex64(twp_buf *b, uint64_t v)
{
    char o[16];
    for (int i = 15; i >= 0; i--) {
        o[i] = HEX[v & 15];
        v >>= 4;
    }
    return app(b, o, 16);
}

static bool put_trace_id(twp_buf *b, uint64_t hi, uint64_t lo)
{
    return putch(b, '"') && put_hex64(b, hi) && put_hex64(b, lo) && putch(b, '"');
}

static bool put_span_id(twp_buf *b, uint64_t id)
{
    return putch(b, '"') && put_hex64(b, id) && putch(b, '"');
}

/* int64 as a quoted decimal string (OTLP JSON's int64 rule) */
static bool put_i64_str(twp_buf *b, int64_t v);


static bool put_str(twp_buf *b, const char *str, size_t n)
{
    /* worst case: every byte becomes \u00XX (6) or U+FFFD (3) */
    if (!twp_buf_reserve(b, 6 * n + 2))
        return false;
    const unsigned char *s = (const unsigned char *)str;
    char *p = b->data + b->len;
    *p++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *p++ = (char)c;
            i++;
        } else if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
            i++;
        } else if (c < 0x20) {
            *p++ = '\\';
            switch (c) {
            case '\n': *p++ = 'n'; break;
            case '\r': *p++ = 'r'; break;
            case '\t': *p++ = 't'; break;
            default:
                *p++ = 'u'; *p++ = '0'; *p++ = '0';
                *p++ = HEX[c >> 4]; *p++ = HEX[c & 15];
            }
            i++;
        } else {
            size_t l = twp_utf8_seq(s + i, n - i);
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
    }
    *p++ = '"';
    b->len = (size_t)(p - b->data);
    return true;
}

static bool put_cstr(twp_buf *b, const char *s)
{
    return put_str(b, s, strlen(s));
}

static bool put_base64(twp_buf *b, const char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!twp_buf_reserve(b, 4 * ((n + 2) / 3) + 2))
        return false;
    char *o = b->data + b->len;
    const unsigned char *u = (const unsigned char *)p;
    *o++ = '"';
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)u[i + 1] << 8;
        if (i + 2 < n)
            v |= u[i + 2];
        *o++ = tab[(v >> 18) & 63];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return true;
}

/* Writes the decimal digits of u ending just before end; returns the start. */
static char *u64_digits(char *end, uint64_t u)
{
    static const char two[] = "00010203040506070809101112131415161718192021222324"
                              "25262728293031323334353637383940414243444546474849"
                              "50515253545556575859606162636465666768697071727374"
                              "75767778798081828384858687888990919293949596979899";
    char *p = end;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        *--p = two[2 * r + 1];
        *--p = two[2 * r];
    }
    if (u >= 10) {
        *--p = two[2 * u + 1];
        *--p = two[2 * u];
    } else {
        *--p = (char)('0' + u);
    }
    return p;
}

/* A double as the shortest "n / 10^k" (k <= 8) that reads back as exactly d:
 * both n and 10^k are exact doubles, so IEEE division gives the correctly
 * rounded quotient -- the value any correct JSON parser reads from the
 * decimal. Covers integers and short decimals (0.25, 3.14) without printf;
 * everything else takes %.17g, which always round-trips. */
static bool put_i64_str(twp_buf *b, int64_t v)
{
    char t[24];
    char *end = t + sizeof t;
    char *p = u64_digits(end, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(end - p);
    if (!twp_buf_reserve(b, n + 2))
        return false;
    char *o = b->data + b->len;
    *o++ = '"';
    memcpy(o, p, n);
    o[n] = '"';
    b->len += n + 2;
    return true;
}

static bool put_double(twp_buf *b, double d)
{
    static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8 };
    if (isnan(d))
        return LIT(b, "\"NaN\"");
    if (isinf(d))
        return d > 0 ? LIT(b, "\"Infinity\"") : LIT(b, "\"-Infinity\"");
    if (d == 0 && signbit(d))
        return LIT(b, "-0.0");   /* "-0" would read back as the integer 0 */
    if (fabs(d) < 9007199254740992.0) {
        for (int k = 0; k < 9; k++) {
            double x = d * p10[k];
            if (!(fabs(x) < 9007199254740992.0))
                break;
            int64_t n = (int64_t)x;
            if ((double)n != x || (double)n / p10[k] != d)
                continue;
            char t[40];
            char *end = t + sizeof t;
            uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
            char *p = u64_digits(end, u);
            while (end - p < k + 1)   /* 0.005: at least one digit before '.' */
                *--p = '0';
            char out[48];
            size_t o = 0;
            if (n < 0)
                out[o++] = '-';
            size_t int_digits = (size_t)(end - p) - (size_t)k;
            memcpy(out + o, p, int_digits);
            o += int_digits;
            if (k) {
                out[o++] = '.';
                memcpy(out + o, p + int_digits, (size_t)k);
                o += (size_t)k;
            }
            return app(b, out, o);
        }
    }
    char t[32];
    int n = snprintf(t, sizeof t, "%.17g", d);
    return n > 0 && app(b, t, (size_t)n);
}

static inline __attribute__((always_inline)) bool put_scalar(twp_buf *b, const twp_value *v);

/* An ARRAY's AnyValue: out of line, so put_scalar stays inlinable. */
static __attribute__((noinline)) bool put_array(twp_buf *b, const twp_value *v)
{
    bool ok = LIT(b, "{\"arrayValue\":{\"values\":[");
    for (uint32_t i = 0; ok && i < v->v.arr->n; i++)
        ok = (i == 0 || putch(b, ',')) && put_scalar(b, &v->v.arr->items[i]);
    return ok && LIT(b, "]}}");
}

static inline bool put_any(twp_buf *b, const twp_value *v)
{
    if (__builtin_expect(v->type == TW_VAL_ARRAY, 0))
        return put_array(b, v);
    return put_scalar(b, v);
}

static inline __attribute__((always_inline)) bool put_scalar(twp_buf *b, const twp_value *v)
{
    switch (v->type) {
    case TW_VAL_NULL:            /* an empty AnyValue: OTLP's null */
        return LIT(b, "{}");
    case TW_VAL_DOUBLE:
        return LIT(b, "{\"doubleValue\":") && put_double(b, v->v.f64) && putch(b, '}');
    case TW_VAL_BOOL:
        return v->v.b ? LIT(b, "{\"boolValue\":true}") : LIT(b, "{\"boolValue\":false}");
    case TW_VAL_INT64:
        return LIT(b, "{\"intValue\":") && put_i64_str(b, v->v.i64) && putch(b, '}');
    case TW_VAL_BINARY:
        return LIT(b, "{\"bytesValue\":") && put_base64(b, v->v.str, v->len) &&
               putch(b, '}');
    case TW_VAL_STRING:
    default:
        return LIT(b, "{\"stringValue\":") && put_str(b, v->v.str, v->len) &&
               putch(b, '}');
    }
}

/* JSON scalars of the items, for Jaeger's string form of an array. */
bool twp_json_array_text(twp_buf *b, const twp_value *items, uint32_t n)
{
    bool ok = putch(b, '[');
    for (uint32_t i = 0; ok && i < n; i++) {
        const twp_value *v = &items[i];
        ok = i == 0 || putch(b, ',');
        switch (v->type) {
        case TW_VAL_STRING: ok = ok && put_str(b, v->v.str, v->len); break;
        case TW_VAL_BOOL:   ok = ok && (v->v.b ? LIT(b, "true") : LIT(b, "false")); break;
        case TW_VAL_INT64: {
            char t[24];
            char *e = t + sizeof t, *q = v->v.i64 < 0 ? u64_digits(e, 0 - (uint64_t)v->v.i64)
                                                       : u64_digits(e, (uint64_t)v->v.i64);
            if (v->v.i64 < 0)
                *--q = '-';
            ok = ok && app(b, q, (size_t)(e - q));
            break;
        }
        case TW_VAL_DOUBLE: ok = ok && put_double(b, v->v.f64); break;
        default:            ok = ok && LIT(b, "null"); break;
        }
    }
    return ok && putch(b, ']');
}

static bool put_kv(twp_buf *b, const twp_value *v)
{
    return LIT(b, "{\"key\":") && put_str(b, v->key, v->key_len) && LIT(b, ",\"value\":") &&
           put_any(b, v) && putch(b, '}');
}

/* KeyValues of v[0..n) except index skip (skip < 0: none); *first tracks commas */
/* True if a later entry (other than skip) sets the same key: OTLP forbids
 * duplicate attribute keys, and a tag set twice means its last value. */
static bool overridden_later(const twp_value *v, size_t n, size_t i, long skip)
{
    for (size_t j = i + 1; j < n; j++)
        if ((long)j != skip && v[j].key_len == v[i].key_len &&
            memcmp(v[j].key, v[i].key, v[i].key_len) == 0)
            return true;
    return false;
}

static bool put_kvs(twp_buf *b, const twp_value *v, size_t n, long skip, bool *first)
{
    for (size_t i = 0; i < n; i++) {
        if ((long)i == skip || overridden_later(v, n, i, skip))
            continue;
        if (!*first && !putch(b, ','))
            return false;
        *first = false;
        if (!put_kv(b, &v[i]))
            return false;
    }
    return true;
}

#define keyeq(v, lit) \
    ((v)->key_len == sizeof(lit) - 1 && memcmp((v)->key, lit, sizeof(lit) - 1) == 0)

static bool is_error_tag(const twp_value *v)
{
    if (!keyeq(v, "error"))
        return false;
    if (v->type == TW_VAL_BOOL)
        return v->v.b != 0;
    if (v->type == TW_VAL_STRING)
        return v->len == 4 && memcmp(v->v.str, "true", 4) == 0;
    return false;
}

/* The OTLP Status of a record, for both encoders: error=true or
 * otel.status_code=ERROR -> 2 (message: otel.status_description), else
 * otel.status_code=OK -> 1, else 0 (unset). Later tags win over earlier ones. */
twp_otlp_status twp_otlp_status_of(const twp_span_data *s)
{
    twp_otlp_status st = { 0, NULL, 0 };
    bool error = false, err_code = false, ok_code = false;
    for (uint32_t i = 0; i < s->ntags; i++) {
        const twp_value *v = &s->tags[i];
        if (keyeq(v, "error")) {
            error = is_error_tag(v);
        } else if (v->type == TW_VAL_STRING && keyeq(v, "otel.status_code")) {
            err_code = v->len == 5 && memcmp(v->v.str, "ERROR", 5) == 0;
            ok_code = v->len == 2 && memcmp(v->v.str, "OK", 2) == 0;
        } else if (v->type == TW_VAL_STRING && keyeq(v, "otel.status_description")) {
            st.msg = v->v.str;
            st.msg_len = v->len;
        }
    }
    st.code = (error || err_code) ? 2 : ok_code ? 1 : 0;
    if (st.code != 2) {          /* a description belongs to an ERROR only */
        st.msg = NULL;
        st.msg_len = 0;
    }
    return st;
}

/* µs -> ns for the fixed64 OTLP time fields. Timestamps come from
 * applications (any int64): saturate instead of overflowing (signed overflow
 * is undefined; found by tests/fuzz/fuzz_encoders). */
static int64_t us_to_ns(int64_t us)
{
    if (us <= 0)
        return 0;
    return us > INT64_MAX / 1000 ? INT64_MAX : us * 1000;
}

static int64_t end_us(int64_t start, int64_t duration)
{
    int64_t end;
    if (__builtin_add_overflow(start, duration, &end))
        end = duration > 0 ? INT64_MAX : 0;
    return end;
}

static bool put_event(twp_buf *b, const twp_log *l)
{
    long name_at = -1;
    for (uint32_t i = 0; i < l->nfields; i++) {
        if (l->fields[i].type == TW_VAL_STRING && keyeq(&l->fields[i], "event")) {
            name_at = (long)i;
            break;
        }
    }
    bool first = true;
    bool ok = LIT(b, "{\"timeUnixNano\":") && put_i64_str(b, us_to_ns(l->ts_us)) &&
              LIT(b, ",\"name\":");
    ok = ok && (name_at >= 0 ? put_str(b, l->fields[name_at].v.str, l->fields[name_at].len)
                             : LIT(b, "\"\""));
    return ok && LIT(b, ",\"attributes\":[") &&
           put_kvs(b, l->fields, l->nfields, name_at, &first) &&
           LIT(b, "]}");
}

static bool put_span(twp_buf *b, const twp_span_data *s)
{
    bool ok = LIT(b, "{\"traceId\":") && put_trace_id(b, s->trace_hi, s->trace_lo) &&
              LIT(b, ",\"spanId\":") && put_span_id(b, s->span_id);
    if (s->parent_id)
        ok = ok && LIT(b, ",\"parentSpanId\":") && put_span_id(b, s->parent_id);
    if (s->tracestate && *s->tracestate)
        ok = ok && LIT(b, ",\"traceState\":") && put_cstr(b, s->tracestate);
    {   /* the W3C trace-flags byte (trace_flags.h): 0..255 */
        char fl[16];
        unsigned f = twp_w3c_trace_flags(s->flags);
        char *fp = u64_digits(fl + sizeof fl, f);
        ok = ok && LIT(b, ",\"flags\":") && app(b, fp, (size_t)(fl + sizeof fl - fp));
    }
    ok = ok && LIT(b, ",\"name\":") && put_str(b, s->op, s->op_len);
    static const char *const kinds[] = { ",\"kind\":1", ",\"kind\":1", ",\"kind\":2",
                                         ",\"kind\":3", ",\"kind\":4", ",\"kind\":5" };
    unsigned k = (unsigned)s->kind < 6 ? (unsigned)s->kind : 1;
    ok = ok && app(b, kinds[k], 9);
    ok = ok && LIT(b, ",\"startTimeUnixNano\":") && put_i64_str(b, us_to_ns(s->start_us)) &&
         LIT(b, ",\"endTimeUnixNano\":") &&
         put_i64_str(b, us_to_ns(end_us(s->start_us, s->duration_us)));
    if (s->ntags) {
        bool first = true;
        ok = ok && LIT(b, ",\"attributes\":[") && put_kvs(b, s->tags, s->ntags, -1, &first) &&
             putch(b, ']');
    }
    if (s->nlogs) {
        ok = ok && LIT(b, ",\"events\":[");
        for (uint32_t i = 0; ok && i < s->nlogs; i++)
            ok = (i == 0 || putch(b, ',')) && put_event(b, &s->logs[i]);
        ok = ok && putch(b, ']');
    }
    bool any_link = false;
    for (uint32_t i = 0; ok && i < s->nrefs; i++) {
        const twp_ref *r = &s->refs[i];
        if (r->type == TW_REF_CHILD_OF && r->span_id == s->parent_id &&
            r->trace_lo == s->trace_lo && r->trace_hi == s->trace_hi)
            continue;
        ok = (any_link ? putch(b, ',') : LIT(b, ",\"links\":[")) &&
             LIT(b, "{\"traceId\":") && put_trace_id(b, r->trace_hi, r->trace_lo) &&
             LIT(b, ",\"spanId\":") && put_span_id(b, r->span_id);
        if (r->link) {           /* an OTel link: its own attributes only */
            bool first = true;
            if (r->tracestate)
                ok = ok && LIT(b, ",\"traceState\":") && put_cstr(b, r->tracestate);
            if (r->w3c_flags) {
                char fl[8];
                char *fp = u64_digits(fl + sizeof fl, r->w3c_flags);
                ok = ok && LIT(b, ",\"flags\":") && app(b, fp, (size_t)(fl + sizeof fl - fp));
            }
            ok = ok && LIT(b, ",\"attributes\":[") &&
                 put_kvs(b, r->attrs, r->nattrs, -1, &first) && LIT(b, "]}");
        } else {
            ok = ok && LIT(b, ",\"attributes\":[{\"key\":\"opentracing.ref_type\","
                              "\"value\":{\"stringValue\":") &&
                 (r->type == TW_REF_FOLLOWS_FROM ? LIT(b, "\"follows_from\"")
                                                 : LIT(b, "\"child_of\"")) &&
                 LIT(b, "}}]}");
        }
        any_link = true;
    }
    if (any_link)
        ok = ok && putch(b, ']');
    twp_otlp_status st = twp_otlp_status_of(s);
    if (st.code == 2 && st.msg_len)
        ok = ok && LIT(b, ",\"status\":{\"message\":") && put_str(b, st.msg, st.msg_len) &&
             LIT(b, ",\"code\":2}");
    else if (st.code == 2)
        ok = ok && LIT(b, ",\"status\":{\"code\":2}");
    else if (st.code == 1)
        ok = ok && LIT(b, ",\"status\":{\"code\":1}");
    return ok && putch(b, '}');
}

bool twp_scope_first(twp_span_data *const *spans, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (spans[j]->scope == spans[i]->scope)
            return false;
    return true;
}

/* InstrumentationScope: a span's scope, or tracewire's own for NULL. */
static bool put_scope(twp_buf *b, const twp_scope *sc)
{
    if (!sc)
        return LIT(b, "{\"name\":\"tracewire\",\"version\":\"" TW_VERSION "\"}");
    bool ok = LIT(b, "{\"name\":") && put_str(b, sc->name, sc->name_len);
    if (sc->version)
        ok = ok && LIT(b, ",\"version\":") && put_str(b, sc->version, sc->version_len);
    if (sc->nattrs) {
        bool first = true;
        ok = ok && LIT(b, ",\"attributes\":[") &&
             put_kvs(b, sc->attrs, sc->nattrs, -1, &first) && putch(b, ']');
    }
    return ok && putch(b, '}');
}

tw_status twp_otlp_json_encode(twp_buf *b, const twp_process *p, twp_span_data *const *spans,
                               size_t n)
{
    const char *svc = p->service_name ? p->service_name : "";
    bool first = false;
    bool ok = LIT(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
                     "{\"key\":\"service.name\",\"value\":{\"stringValue\":") &&
              put_cstr(b, svc) && LIT(b, "}}") && put_kvs(b, p->tags, p->ntags, -1, &first) &&
              LIT(b, "]},\"scopeSpans\":[");
    /* one ScopeSpans per scope, in the order scopes first appear */
    bool first_group = true;
    for (size_t i = 0; ok && i < n; i++) {
        if (!twp_scope_first(spans, i))
            continue;
        const twp_scope *sc = spans[i]->scope;
        ok = (first_group || putch(b, ',')) && LIT(b, "{\"scope\":") && put_scope(b, sc) &&
             LIT(b, ",\"spans\":[");
        first_group = false;
        for (size_t j = i; ok && j < n; j++)
            if (spans[j]->scope == sc)
                ok = (j == i || putch(b, ',')) && put_span(b, spans[j]);
        ok = ok && putch(b, ']');
        if (sc && sc->schema_url)
            ok = ok && LIT(b, ",\"schemaUrl\":") && put_str(b, sc->schema_url, sc->schema_url_len);
        ok = ok && putch(b, '}');
    }
    ok = ok && LIT(b, "]}]}");
    return ok ? TW_OK : TW_ERR_NOMEM;
}
