/* fuzz_encoders.c — the span encoders fed with arbitrary span records.
 * Tag values, operation names and baggage come from applications, which copy
 * them from requests: every byte value, invalid UTF-8, NaN and infinite
 * doubles, extreme timestamps and ids reach the encoders. The input is read
 * as a little program: ids, flags, kind, start/duration, op name, up to 11
 * typed tags, up to 3 logs of up to 3 fields, up to 2 references, an optional
 * tracestate, and a process (service name + 2 tags); strings are
 * length-prefixed (one byte). Checks: every encoder succeeds (they fail only
 * on OOM); the OTLP JSON body parses (jansson) with exactly one span carrying
 * the op name and tag count; the Thrift Batch/emitBatch bodies are non-empty;
 * the log line ends in a newline; the OTLP protobuf body is one
 * resource_spans field whose length is exactly the rest of the body, and its
 * gzip member is non-empty. The compact Span is also encoded with every key
 * and string value that equals one of the core's constant tag slots
 * (const_tags.h) pointing at the slot instead, and through the run encoder
 * the UDP exporter uses: the bytes must be the same (dict/tags.dict has the
 * slots' strings).
 * requires: core/src/otlp_json.c core/src/thrift.c core/src/exporter_log.c core/src/otlp_proto.c core/src/gzip.c core/src/const_tags.c */
#include "fz_common.h"
#include "const_tags.h"
#include "otlp_proto.h"
#include "encoders.h"
#include "tracer.h"     /* twp_value_fill */

#include <jansson.h>


/* A length-prefixed string copied into the arena (NUL-terminated there). */
static const char *str(rd *r, twp_arena *a, uint32_t *len)
{
    size_t l = u8(r);
    if (l > r->n)
        l = r->n;
    const char *s = twp_arena_strdup(a, (const char *)r->p, l);
    r->p += l;
    r->n -= l;
    *len = s ? (uint32_t)l : 0;
    return s ? s : "";
}

static void value(rd *r, twp_arena *a, twp_value *v)
{
    memset(v, 0, sizeof *v);
    uint32_t kl;
    v->key = str(r, a, &kl);
    v->key_len = (uint16_t)kl;   /* u8-sized: fits */
    v->type = (tw_value_type)(u8(r) % 6);
    switch (v->type) {
    case TW_VAL_ARRAY: {        /* up to 3 items of one type (or NULL), built by the core */
        tw_field items[3], f = {.key = v->key, .key_len = v->key_len, .type = TW_VAL_ARRAY};
        tw_value_type et = (tw_value_type)(u8(r) % 4);
        uint32_t n = u8(r) % 4, l;
        memset(items, 0, sizeof items);
        for (uint32_t i = 0; i < n; i++) {
            items[i].type = u8(r) % 5 == 0 ? TW_VAL_NULL : et;
            if (items[i].type == TW_VAL_STRING) {
                items[i].v.str.ptr = str(r, a, &l);
                items[i].v.str.len = l;
            } else {
                items[i].v.i64 = (int64_t)u64(r);    /* any bits: NaN doubles too */
            }
        }
        f.v.arr.items = items;
        f.v.arr.n = n;
        if (twp_value_fill(a, 64, v, &f) != TW_OK) {
            memset(v, 0, sizeof *v);
            v->key = "";
        }
        break;
    }
    case TW_VAL_STRING:
    case TW_VAL_BINARY:
        v->v.str = str(r, a, &v->len);
        break;
    case TW_VAL_DOUBLE: {
        uint64_t bits = u64(r);
        memcpy(&v->v.f64, &bits, sizeof bits);
        break;
    }
    case TW_VAL_BOOL:
        v->v.b = u8(r) & 1;
        break;
    case TW_VAL_INT64:
        v->v.i64 = (int64_t)u64(r);
        break;
    case TW_VAL_NULL:           /* never drawn (% 6): only an array's item */
        break;
    }
}

/* The slot holding exactly s[0..n), or NULL. */
static const char *key_slot(const char *s, size_t n)
{
    for (int k = 0; k < TWP_K_COUNT; k++)
        if (strlen(twp_ckeys[k].str) == n && memcmp(twp_ckeys[k].str, s, n) == 0)
            return twp_ckeys[k].str;
    return NULL;
}

/* d's compact Span with slot pointers wherever a key or string value equals
 * a slot's string, and through twp_thrift_compact_span_run: both must give
 * plain's bytes. */
static void check_slots_and_run(twp_span_data *d, const twp_buf *plain)
{
    twp_value *saved = d->tags, tags[12];
    uint32_t n = d->ntags;
    for (uint32_t i = 0; i < n; i++) {
        tags[i] = saved[i];
        const char *k = key_slot(tags[i].key, tags[i].key_len);
        if (k)
            tags[i].key = k;
        if (tags[i].type == TW_VAL_STRING) {
            const char *v = twp_cval_find(tags[i].v.str, tags[i].len);
            if (v)
                tags[i].v.str = v;
        }
    }
    d->tags = tags;
    twp_buf b;
    twp_buf_init(&b);
    FZ_CHECK(twp_thrift_compact_span(&b, d));
    FZ_CHECK(b.len == plain->len && memcmp(b.data, plain->data, b.len) == 0);
    twp_span_data *one[1] = { d };
    size_t at = 0;
    bool enc = true;
    b.len = 0;
    size_t k = twp_thrift_compact_span_run(&b, one, 1, 0, 1u << 20, &at, &enc);
    FZ_CHECK(!enc && (k == 0 ? b.len == 0
                             : b.len == plain->len && memcmp(b.data, plain->data, b.len) == 0));
    twp_buf_free(&b);
    d->tags = saved;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r = { data, size };
    twp_span_data *d = twp_span_data_new();
    if (!d)
        return 0;
    twp_arena *a = &d->arena;
    d->trace_hi = u64(&r);
    d->trace_lo = u64(&r);
    d->span_id = u64(&r);
    d->parent_id = u64(&r);
    d->flags = u8(&r) & 3;
    d->kind = (tw_span_kind)(u8(&r) % 6);
    d->start_us = (int64_t)u64(&r);
    d->duration_us = (int64_t)u64(&r);
    d->op = str(&r, a, &d->op_len);

    uint32_t ntags = u8(&r) % 12;
    if (ntags > d->cap_tags) {
        d->tags = twp_arena_alloc(a, sizeof(twp_value) * ntags);
        if (!d->tags)
            goto out;
        d->cap_tags = ntags;
    }
    for (uint32_t i = 0; i < ntags; i++)
        value(&r, a, &d->tags[i]);
    d->ntags = ntags;

    uint32_t nlogs = u8(&r) % 4;
    if (nlogs) {
        d->logs = twp_arena_alloc(a, sizeof(twp_log) * nlogs);
        if (!d->logs)
            goto out;
        for (uint32_t i = 0; i < nlogs; i++) {
            twp_log *l = &d->logs[i];
            l->ts_us = (int64_t)u64(&r);
            l->nfields = u8(&r) % 4;
            l->fields = l->nfields ? twp_arena_alloc(a, sizeof(twp_value) * l->nfields) : NULL;
            if (l->nfields && !l->fields)
                goto out;
            for (uint32_t j = 0; j < l->nfields; j++)
                value(&r, a, &l->fields[j]);
        }
        d->nlogs = d->cap_logs = nlogs;
    }
    uint32_t nrefs = u8(&r) % 3;
    if (nrefs) {
        d->refs = twp_arena_alloc(a, sizeof(twp_ref) * nrefs);
        if (!d->refs)
            goto out;
        for (uint32_t i = 0; i < nrefs; i++) {
            memset(&d->refs[i], 0, sizeof d->refs[i]);
            d->refs[i].type = (tw_ref_type)(u8(&r) & 1);
            d->refs[i].trace_hi = u64(&r);
            d->refs[i].trace_lo = u64(&r);
            d->refs[i].span_id = u64(&r);
        }
        d->nrefs = nrefs;
    }
    if (u8(&r) & 1) {
        uint32_t tl;
        d->tracestate = str(&r, a, &tl);
    }

    twp_value ptags[2];
    twp_process proc = { 0 };
    uint32_t sl;
    proc.service_name = str(&r, a, &sl);
    value(&r, a, &ptags[0]);
    value(&r, a, &ptags[1]);
    proc.tags = ptags;
    proc.ntags = 2;

    twp_span_data *spans[1] = { d };
    twp_client_stats cs = { 1, 2, 3 };
    twp_batch_meta meta = { true, 7, &cs };
    twp_buf b;
    twp_buf_init(&b);

    FZ_CHECK(twp_otlp_json_encode(&b, &proc, spans, 1) == TW_OK);
    json_error_t err;
    json_t *root = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &err);   /* \u0000 is valid JSON */
    if (!root)
        fprintf(stderr, "OTLP JSON does not parse: %s at %d: %.*s\n", err.text, err.position,
                (int)(b.len < 400 ? b.len : 400), b.data);
    FZ_CHECK(root != NULL);
    json_t *sp = json_object_get(json_array_get(json_object_get(
                     json_array_get(json_object_get(json_array_get(json_object_get(root, "resourceSpans"), 0),
                                                    "scopeSpans"), 0), "spans"), 0), "name");
    FZ_CHECK(json_is_string(sp));
    json_decref(root);

    b.len = 0;
    FZ_CHECK(twp_otlp_proto_encode(&b, &proc, spans, 1) == TW_OK);
    {
        const unsigned char *u = (const unsigned char *)b.data;
        size_t i = 1, len = 0;
        int shift = 0;
        FZ_CHECK(b.len > 2 && u[0] == 0x0A);
        while (i < b.len && (u[i] & 0x80)) {
            len |= (size_t)(u[i++] & 0x7F) << shift;
            shift += 7;
        }
        FZ_CHECK(i < b.len);
        len |= (size_t)u[i++] << shift;
        FZ_CHECK(len == b.len - i);
        static twp_gzip *gz;
        if (!gz)
            FZ_CHECK(twp_gzip_new(1, &gz) == TW_OK);
        twp_buf z;
        twp_buf_init(&z);
        FZ_CHECK(twp_gzip_compress(gz, b.data, b.len, &z) == TW_OK && z.len > 18);
        twp_buf_free(&z);
    }
    b.len = 0;
    FZ_CHECK(twp_thrift_binary_batch(&b, &proc, spans, 1, &meta) && b.len > 0);
    b.len = 0;
    FZ_CHECK(twp_thrift_compact_emit_batch(&b, 1, &proc, spans, 1, &meta) && b.len > 0);
    b.len = 0;
    FZ_CHECK(twp_thrift_compact_span(&b, d));
    check_slots_and_run(d, &b);
    FZ_CHECK(twp_thrift_compact_process(&b, &proc));
    b.len = 0;
    FZ_CHECK(twp_thrift_binary_span(&b, d) && b.len > 0);
    b.len = 0;
    FZ_CHECK(twp_log_format_span(&b, &proc, d) && b.len > 0 && b.data[b.len - 1] == '\n');
    twp_buf_free(&b);
out:
    twp_span_data_free(d);
    return 0;
}
