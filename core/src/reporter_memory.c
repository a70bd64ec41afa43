/* reporter_memory.c — the "memory" reporter: keeps finished spans for tests.
 *
 * report() appends the record to a list under a mutex (held for a pointer
 * swap, never across work). At most reporter.queue_size records are kept;
 * beyond that new spans are dropped and counted as dropped_queue_full, so a
 * test tracer left running cannot grow without bound.
 * Kept spans are packed (span_pack.c: one small block, about a third of a
 * record's bytes, as a buffer of spans is this reporter's whole cost) and
 * unpacked into a record again to be rendered.
 * twp_memory_reporter_json renders the list with jansson (one object per span,
 * oldest first) and optionally clears it. In a forked child the inherited
 * records are dropped, like any reporter's queue.
 */
#include <math.h>

#include "encoders.h"
#include "reporter.h"
#include "text.h"

#include <pthread.h>
#include "trace_flags.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct memrep {
    twp_reporter base;
    pthread_mutex_t lock;
    twp_packed *head, *tail;
    size_t n, cap;
    twp_counters *ctr;
    bool count_reported;
    bool hex128;
} memrep;

static void drop_all(memrep *m)
{
    twp_packed *p = m->head;
    while (p) {
        twp_packed *n = p->next;
        free(p);
        p = n;
    }
    m->head = m->tail = NULL;
    m->n = 0;
}

static void mem_report(twp_reporter *r, twp_span_data *d, unsigned shard)
{
    (void)shard;
    memrep *m = (memrep *)r;
    twp_packed *p = twp_span_pack(d);   /* kept until read: a third of the record */
    twp_span_data_free(d);
    pthread_mutex_lock(&m->lock);
    if (!p || m->n >= m->cap) {
        /* no room: the reporter's bound, or no memory for the packed copy */
        pthread_mutex_unlock(&m->lock);
        if (m->count_reported)
            TWP_INC(m->ctr, dropped_queue_full, 1);
        free(p);
        return;
    }
    if (m->tail)
        m->tail->next = p;
    else
        m->head = p;
    m->tail = p;
    m->n++;
    pthread_mutex_unlock(&m->lock);
    if (m->count_reported)
        TWP_INC(m->ctr, spans_reported, 1);
}

static tw_status mem_flush(twp_reporter *r, int timeout_ms)
{
    (void)r;
    (void)timeout_ms;
    return TW_OK;
}

static void mem_free(twp_reporter *r)
{
    memrep *m = (memrep *)r;
    if (!m)
        return;
    drop_all(m);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static void mem_before_fork(twp_reporter *r)
{
    pthread_mutex_lock(&((memrep *)r)->lock);
}

static void mem_after_fork_parent(twp_reporter *r)
{
    pthread_mutex_unlock(&((memrep *)r)->lock);
}

static void mem_after_fork_child(twp_reporter *r)
{
    memrep *m = (memrep *)r;
    pthread_mutex_init(&m->lock, NULL);
    drop_all(m);
}

static const twp_reporter_ops mem_ops = {
    .report = mem_report,
    .flush = mem_flush,
    .close = mem_flush,
    .free = mem_free,
    .before_fork = mem_before_fork,
    .after_fork_parent = mem_after_fork_parent,
    .after_fork_child = mem_after_fork_child,
};

tw_status twp_memory_reporter_new(const tw_config *cfg, twp_counters *ctr, bool count_reported,
                                  twp_reporter **out)
{
    memrep *m = calloc(1, sizeof(*m));
    if (!m)
        return TW_ERR_NOMEM;
    m->base.ops = &mem_ops;
    pthread_mutex_init(&m->lock, NULL);
    m->cap = cfg->queue_size > 0 ? (size_t)cfg->queue_size : 10000;
    m->ctr = ctr;
    m->count_reported = count_reported;
    m->hex128 = cfg->trace_id_128bit;
    *out = &m->base;
    return TW_OK;
}

bool twp_is_memory_reporter(const twp_reporter *r)
{
    return r && r->ops == &mem_ops;
}

/* ------------------------------------------------------------ JSON */

static void hex64(char *out, uint64_t v)
{
    snprintf(out, 17, "%016" PRIx64, v);
}

static json_t *trace_hex(uint64_t hi, uint64_t lo, bool hex128)
{
    char buf[33];
    if (hi || hex128) {
        hex64(buf, hi);
        hex64(buf + 16, lo);
    } else {
        hex64(buf, lo);
    }
    return json_string(buf);
}

static json_t *id_hex(uint64_t v)
{
    char buf[17];
    hex64(buf, v);
    return json_string(buf);
}

static const char *kind_name(tw_span_kind k)
{
    switch (k) {
    case TW_KIND_INTERNAL: return "internal";
    case TW_KIND_SERVER:   return "server";
    case TW_KIND_CLIENT:   return "client";
    case TW_KIND_PRODUCER: return "producer";
    case TW_KIND_CONSUMER: return "consumer";
    default:               return "unspecified";
    }
}


/* new: a NUL-terminated copy with invalid UTF-8 bytes replaced by U+FFFD;
 * NUL bytes too unless keep_nul (JSON object keys cannot hold them). */
static char *utf8_clean(const char *s, size_t n, bool keep_nul, size_t *out_len)
{
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = (s[i] || keep_nul) ? twp_utf8_seq((const unsigned char *)s + i, n - i) : 0;
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

/* A JSON string from arbitrary bytes (tags may hold any bytes). */
static json_t *text_json(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    size_t cn;
    char *c = utf8_clean(s, n, true, &cn);
    if (!c)
        return NULL;
    j = json_stringn(c, cn);
    free(c);
    return j;
}

/* Typed value: string -> string, int64 -> integer, double -> real (non-finite
 * as "NaN" / "Infinity" / "-Infinity"),
 * bool -> true/false, binary -> {"binary": "<hex>"}, array -> array of its
 * items (null items as null). */
static json_t *value_json(const twp_value *v)
{
    switch (v->type) {
    case TW_VAL_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < v->v.arr->n; i++) {
            json_t *it = value_json(&v->v.arr->items[i]);
            if (!it || json_array_append_new(a, it) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case TW_VAL_NULL:   return json_null();
    case TW_VAL_STRING: return text_json(v->v.str, v->len);
    case TW_VAL_INT64:  return json_integer(v->v.i64);
    case TW_VAL_DOUBLE:
        /* JSON has no NaN/Infinity and json_real() refuses them: spell them
         * as OTLP-JSON does, so one odd tag cannot break the whole dump. */
        if (isnan(v->v.f64))
            return json_string("NaN");
        if (isinf(v->v.f64))
            return json_string(v->v.f64 > 0 ? "Infinity" : "-Infinity");
        return json_real(v->v.f64);
    case TW_VAL_BOOL:   return json_boolean(v->v.b);
    case TW_VAL_BINARY: {
        char *hex = malloc((size_t)v->len * 2 + 1);
        if (!hex)
            return NULL;
        for (uint32_t i = 0; i < v->len; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)v->v.str[i]);
        hex[(size_t)v->len * 2] = '\0';
        json_t *o = json_pack("{s:s}", "binary", hex);
        free(hex);
        return o;
    }
    }
    return json_null();
}

/* Object of key -> typed value (a repeated key keeps the last value). */
static json_t *fields_json(const twp_value *vals, uint32_t n)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        json_t *v = value_json(&vals[i]);
        char *k = v ? utf8_clean(vals[i].key, vals[i].key_len, false, NULL) : NULL;
        if (!k) {
            json_decref(v);
            json_decref(o);
            return NULL;
        }
        int bad = json_object_set_new(o, k, v);   /* steals v even on failure */
        free(k);
        if (bad) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *span_json(const twp_span_data *d, bool hex128)
{
    json_t *refs = json_array(), *logs = json_array();
    json_t *tags = fields_json(d->tags, d->ntags);
    if (!refs || !logs || !tags)
        goto fail;
    for (uint32_t i = 0; i < d->nrefs; i++) {
        const twp_ref *r = &d->refs[i];
        json_t *o = json_pack("{s:s,s:o,s:o}", "type",
                              r->type == TW_REF_FOLLOWS_FROM ? "follows_from" : "child_of",
                              "trace_id", trace_hex(r->trace_hi, r->trace_lo, hex128),
                              "span_id", id_hex(r->span_id));
        if (o && r->link) {      /* an OTel link (tw_span_add_link) and its attributes */
            json_object_set_new(o, "attributes", fields_json(r->attrs, r->nattrs));
            if (r->tracestate)
                json_object_set_new(o, "tracestate", json_string(r->tracestate));
        }
        if (!o || json_array_append_new(refs, o) != 0)
            goto fail;
    }
    for (uint32_t i = 0; i < d->nlogs; i++) {
        json_t *f = fields_json(d->logs[i].fields, d->logs[i].nfields);
        json_t *o = f ? json_pack("{s:I,s:o}", "timestamp_us", (json_int_t)d->logs[i].ts_us,
                                  "fields", f) : NULL;
        if (!o || json_array_append_new(logs, o) != 0)
            goto fail;
    }
    json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:i,s:s,s:I,s:I,s:o,s:o,s:o}",
                          "trace_id", trace_hex(d->trace_hi, d->trace_lo, hex128),
                          "span_id", id_hex(d->span_id),
                          "parent_id", id_hex(d->parent_id),
                          "operation_name", text_json(d->op ? d->op : "", d->op_len),
                          "flags", (int)(d->flags & TWP_FLAG_JAEGER_MASK),
                          "kind", kind_name(d->kind),
                          "start_us", (json_int_t)d->start_us,
                          "duration_us", (json_int_t)d->duration_us,
                          "references", refs, "tags", tags, "logs", logs);
    if (o && d->tracestate)
        json_object_set_new(o, "tracestate", json_string(d->tracestate));
    if (o && d->scope) {         /* the OTel instrumentation scope (tw_span_set_scope) */
        const twp_scope *sc = d->scope;
        json_t *so = json_pack("{s:o}", "name", text_json(sc->name, sc->name_len));
        if (so && sc->version)
            json_object_set_new(so, "version", text_json(sc->version, sc->version_len));
        if (so && sc->schema_url)
            json_object_set_new(so, "schema_url", text_json(sc->schema_url, sc->schema_url_len));
        if (so && sc->nattrs)
            json_object_set_new(so, "attributes", fields_json(sc->attrs, sc->nattrs));
        json_object_set_new(o, "scope", so);
    }
    return o;
fail:
    json_decref(refs);
    json_decref(logs);
    json_decref(tags);
    return NULL;
}

tw_status twp_memory_reporter_json(twp_reporter *r, int clear, char **json_out)
{
    if (!twp_is_memory_reporter(r) || !json_out)
        return TW_ERR_UNSUPPORTED;
    memrep *m = (memrep *)r;
    *json_out = NULL;
    json_t *arr = json_array();
    if (!arr)
        return TW_ERR_NOMEM;
    tw_status st = TW_OK;
    twp_packed *taken = NULL;
    pthread_mutex_lock(&m->lock);
    for (twp_packed *p = m->head; p; p = p->next) {
        twp_span_data *d = twp_span_unpack(p);
        json_t *o = d ? span_json(d, m->hex128) : NULL;
        twp_span_data_free(d);
        if (!o || json_array_append_new(arr, o) != 0) {
            st = TW_ERR_NOMEM;
            break;
        }
    }
    if (st == TW_OK && clear) {
        taken = m->head;
        m->head = m->tail = NULL;
        m->n = 0;
    }
    pthread_mutex_unlock(&m->lock);
    while (taken) {
        twp_packed *n = taken->next;
        free(taken);
        taken = n;
    }
    if (st == TW_OK) {
        *json_out = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (!*json_out)
            st = TW_ERR_NOMEM;
    }
    json_decref(arr);
    return st;
}
