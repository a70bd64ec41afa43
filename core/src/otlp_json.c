/* otlp_json.c — OTLP/HTTP JSON ExportTraceServiceRequest encoder (jansson).
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
 *              the tag itself stays an attribute;
 *   resource   service.name plus the process (tracer) tags;
 *   tracestate the record's W3C tracestate, verbatim.
 * A plain function over a twp_buf: one jansson tree per call, dumped compact.
 */
#include "internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

static const char HEX[] = "0123456789abcdef";

static void hex64(char *out, uint64_t v)
{
    for (int i = 15; i >= 0; i--) {
        out[i] = HEX[v & 15];
        v >>= 4;
    }
}

static json_t *hex_trace(uint64_t hi, uint64_t lo)
{
    char b[32];
    hex64(b, hi);
    hex64(b + 16, lo);
    return json_stringn(b, 32);
}

static json_t *hex_span(uint64_t id)
{
    char b[16];
    hex64(b, id);
    return json_stringn(b, 16);
}

static json_t *i64_str(int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    return json_stringn(b, (size_t)n);
}

static json_t *base64(const char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = 4 * ((n + 2) / 3);
    char *o = malloc(olen + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    const unsigned char *u = (const unsigned char *)p;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)u[i + 1] << 8;
        if (i + 2 < n)
            v |= u[i + 2];
        o[j++] = tab[(v >> 18) & 63];
        o[j++] = tab[(v >> 12) & 63];
        o[j++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        o[j++] = i + 2 < n ? tab[v & 63] : '=';
    }
    json_t *s = json_stringn(o, j);
    free(o);
    return s;
}

/* Strings from spans are arbitrary bytes; jansson rejects invalid UTF-8, so
 * fall back to replacing bad bytes rather than losing the value. */
static json_t *str_value(const char *p, size_t n)
{
    if (n == 0)
        return json_string("");
    json_t *s = json_stringn(p, n);
    if (s)
        return s;
    char *c = malloc(n);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++)
        c[i] = (p[i] & 0x80) ? '?' : p[i];
    s = json_stringn(c, n);
    free(c);
    return s;
}

static json_t *any_value(const twp_value *v)
{
    switch (v->type) {
    case TW_VAL_DOUBLE:
        if (isnan(v->v.f64))
            return json_pack("{s:s}", "doubleValue", "NaN");
        if (isinf(v->v.f64))
            return json_pack("{s:s}", "doubleValue", v->v.f64 > 0 ? "Infinity" : "-Infinity");
        return json_pack("{s:f}", "doubleValue", v->v.f64);
    case TW_VAL_BOOL:
        return json_pack("{s:b}", "boolValue", v->v.b ? 1 : 0);
    case TW_VAL_INT64:
        return json_pack("{s:o}", "intValue", i64_str(v->v.i64));
    case TW_VAL_BINARY:
        return json_pack("{s:o}", "bytesValue", base64(v->v.str, v->len));
    case TW_VAL_STRING:
    default:
        return json_pack("{s:o}", "stringValue", str_value(v->v.str, v->len));
    }
}

static json_t *key_value(const twp_value *v)
{
    return json_pack("{s:o,s:o}", "key", str_value(v->key, v->key_len), "value", any_value(v));
}

/* Appends KeyValues to arr, skipping index skip (or none when skip < 0). */
static int add_attributes(json_t *arr, const twp_value *v, size_t n, long skip)
{
    for (size_t i = 0; i < n; i++) {
        if ((long)i == skip)
            continue;
        if (json_array_append_new(arr, key_value(&v[i])) != 0)
            return -1;
    }
    return 0;
}

static bool keyeq(const twp_value *v, const char *k)
{
    size_t n = strlen(k);
    return v->key_len == n && memcmp(v->key, k, n) == 0;
}

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

static json_t *event(const twp_log *l)
{
    long name_at = -1;
    for (uint32_t i = 0; i < l->nfields; i++) {
        if (l->fields[i].type == TW_VAL_STRING && keyeq(&l->fields[i], "event")) {
            name_at = (long)i;
            break;
        }
    }
    json_t *attrs = json_array();
    if (!attrs || add_attributes(attrs, l->fields, l->nfields, name_at) != 0) {
        json_decref(attrs);
        return NULL;
    }
    json_t *name = name_at >= 0 ? str_value(l->fields[name_at].v.str, l->fields[name_at].len)
                                : json_string("");
    return json_pack("{s:o,s:o,s:o}", "timeUnixNano", i64_str(l->ts_us * 1000), "name", name,
                     "attributes", attrs);
}

static json_t *span_json(const twp_span_data *s)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int err = 0;
    err |= json_object_set_new(o, "traceId", hex_trace(s->trace_hi, s->trace_lo));
    err |= json_object_set_new(o, "spanId", hex_span(s->span_id));
    if (s->parent_id)
        err |= json_object_set_new(o, "parentSpanId", hex_span(s->parent_id));
    if (s->tracestate && *s->tracestate)
        err |= json_object_set_new(o, "traceState", json_string(s->tracestate));
    err |= json_object_set_new(o, "flags", json_integer(s->flags & TW_FLAG_SAMPLED));
    err |= json_object_set_new(o, "name", str_value(s->op, s->op_len));
    err |= json_object_set_new(o, "kind",
                               json_integer(s->kind == TW_KIND_UNSPECIFIED ? TW_KIND_INTERNAL
                                                                           : s->kind));
    err |= json_object_set_new(o, "startTimeUnixNano", i64_str(s->start_us * 1000));
    err |= json_object_set_new(o, "endTimeUnixNano",
                               i64_str((s->start_us + s->duration_us) * 1000));
    bool error = false;
    if (s->ntags) {
        json_t *attrs = json_array();
        err |= json_object_set_new(o, "attributes", attrs);
        if (attrs && add_attributes(attrs, s->tags, s->ntags, -1) != 0)
            err = -1;
        for (uint32_t i = 0; i < s->ntags; i++)
            error |= is_error_tag(&s->tags[i]);
    }
    if (s->nlogs) {
        json_t *evs = json_array();
        err |= json_object_set_new(o, "events", evs);
        for (uint32_t i = 0; evs && i < s->nlogs; i++)
            err |= json_array_append_new(evs, event(&s->logs[i]));
    }
    json_t *links = NULL;
    for (uint32_t i = 0; i < s->nrefs; i++) {
        const twp_ref *r = &s->refs[i];
        if (r->type == TW_REF_CHILD_OF && r->span_id == s->parent_id && r->trace_lo == s->trace_lo &&
            r->trace_hi == s->trace_hi)
            continue;
        if (!links) {
            links = json_array();
            err |= json_object_set_new(o, "links", links);
            if (!links)
                break;
        }
        json_t *rt = json_pack("[{s:s,s:{s:s}}]", "key", "opentracing.ref_type", "value",
                               "stringValue",
                               r->type == TW_REF_FOLLOWS_FROM ? "follows_from" : "child_of");
        err |= json_array_append_new(
            links, json_pack("{s:o,s:o,s:o}", "traceId", hex_trace(r->trace_hi, r->trace_lo),
                             "spanId", hex_span(r->span_id), "attributes", rt));
    }
    if (error)
        err |= json_object_set_new(o, "status", json_pack("{s:i}", "code", 2));
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return twp_buf_append(data, buf, size) ? 0 : -1;
}

tw_status twp_otlp_json_encode(twp_buf *b, const twp_process *p, twp_span_data *const *spans,
                               size_t n)
{
    tw_status st = TW_ERR_NOMEM;
    json_t *rattrs = json_array();
    json_t *jspans = json_array();
    json_t *root = NULL;
    if (!rattrs || !jspans)
        goto out;
    const char *svc = p->service_name ? p->service_name : "";
    if (json_array_append_new(rattrs, json_pack("{s:s,s:{s:o}}", "key", "service.name", "value",
                                                "stringValue", str_value(svc, strlen(svc)))) ||
        add_attributes(rattrs, p->tags, p->ntags, -1))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(jspans, span_json(spans[i])) != 0)
            goto out;
    root = json_pack("{s:[{s:{s:O},s:[{s:{s:s,s:s},s:O}]}]}", "resourceSpans", "resource",
                     "attributes", rattrs, "scopeSpans", "scope", "name", "tracewire", "version",
                     TW_VERSION, "spans", jspans);
    if (!root)
        goto out;
    if (json_dump_callback(root, dump_cb, b, JSON_COMPACT) != 0)
        goto out;
    st = TW_OK;
out:
    json_decref(root);
    json_decref(rattrs);
    json_decref(jspans);
    return st;
}
