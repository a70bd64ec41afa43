/* fuzz_span_api.c — the public span API driven by the input, as a binding
 * would drive it with values taken from requests, then the memory reporter's
 * JSON. The input is a little program of one-byte opcodes on up to 4 live
 * spans (start root / child / follows-from, typed tags incl. the special
 * span.kind and sampling.priority, logs, baggage, rename, kind, finish —
 * also twice —, free), strings length-prefixed by one byte, ids of
 * timestamps as 8 raw bytes. Checks: only documented statuses (writes to a
 * finished span give TW_ERR_FINISHED), children inherit the trace id and the
 * baggage, and at the end the memory reporter's JSON parses and holds exactly
 * spans_finished spans. Also a gateway's server span in one call each
 * (tw_http_span_start / tw_http_span_finish): its name must be "METHOD
 * path" whether the method and target lie in one request line (borrowed)
 * or apart (copied).
 * requires: core/src/tracer.c core/src/span.c core/src/http_span.c */
#include "fz_common.h"
#include "context.h"

#include <jansson.h>
#include <math.h>


static const char *str(rd *r, size_t *len)
{
    size_t l = u8(r);
    if (l > r->n)
        l = r->n;
    const char *s = (const char *)r->p;
    r->p += l;
    r->n -= l;
    *len = l;
    return s;
}

/* NUL-terminated copy for the *_str/_int convenience setters. */
static char *cstr(rd *r)
{
    size_t l;
    const char *s = str(r, &l);
    char *c = malloc(l + 1);
    if (c) {
        memcpy(c, s, l);
        c[l] = '\0';
    }
    return c;
}

static bool write_ok(tw_status st, tw_span *s)
{
    /* bad arguments may be reported before the finished state */
    bool ok = tw_span_is_finished(s) ? (st == TW_ERR_FINISHED || st == TW_ERR_INVALID_ARG)
                                     : (st == TW_OK || st == TW_ERR_INVALID_ARG ||
                                        st == TW_ERR_TOO_LARGE || st == TW_ERR_NOMEM);
    if (!ok)
        fprintf(stderr, "write on a %s span returned %d (%s)\n",
                tw_span_is_finished(s) ? "finished" : "live", (int)st, tw_strerror(st));
    return ok;
}

static tw_tracer *the_tracer(void)
{
    static tw_tracer *t;
    if (!t) {
        tw_config *cfg = NULL;
        FZ_CHECK(tw_config_new(&cfg) == TW_OK);
        FZ_CHECK(tw_config_set(cfg, "reporter.protocols", "memory") == TW_OK);
        FZ_CHECK(tw_config_set(cfg, "sampler.type", "const") == TW_OK);
        FZ_CHECK(tw_config_set(cfg, "max_tag_value_length", "64") == TW_OK);
        FZ_CHECK(tw_config_set(cfg, "max_baggage_size", "256") == TW_OK);
        FZ_CHECK(tw_tracer_new(cfg, &t) == TW_OK);
        tw_config_free(cfg);
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tw_tracer *t = the_tracer();
    char *junk = NULL;
    (void)tw_tracer_memory_spans(t, 1, &junk);   /* start empty */
    tw_free(junk);
    tw_counters c0;
    tw_tracer_counters(t, &c0);

    rd r = { data, size };
    tw_span *spans[4] = { 0 };
    int steps = 0;
    while (r.n && steps++ < 64) {
        uint8_t op = u8(&r);
        unsigned i = op & 3;
        tw_span *s = spans[i];
        size_t kl, vl;
        const char *k, *v;
        tw_status st;
        switch (op >> 2) {
        case 0: case 1: case 2: {   /* start: root, child of / follows from span (i+1)%4 */
            if (s)
                break;
            k = str(&r, &kl);
            tw_span *p = spans[(i + 1) & 3];
            tw_span_ref ref = { (op >> 2) == 2 ? TW_REF_FOLLOWS_FROM : TW_REF_CHILD_OF,
                                p ? tw_span_get_context(p) : NULL };
            st = tw_span_start(t, k, kl, (op >> 2) && p ? &ref : NULL, (op >> 2) && p ? 1 : 0,
                               (int64_t)(u8(&r) ? u64(&r) : 0), &spans[i]);
            FZ_CHECK(st == TW_OK || st == TW_ERR_NOMEM || st == TW_ERR_INVALID_ARG);
            if (st == TW_OK && (op >> 2) == 1 && p) {
                uint64_t ph, pl, ch, cl;
                tw_span_context_trace_id(tw_span_get_context(p), &ph, &pl);
                tw_span_context_trace_id(tw_span_get_context(spans[i]), &ch, &cl);
                FZ_CHECK((ph == ch && pl == cl) || (ph == 0 && pl == 0));
                FZ_CHECK(tw_span_get_context(spans[i])->nbaggage >= tw_span_get_context(p)->nbaggage ||
                         tw_span_get_context(p)->nbaggage == 0);
            }
            break;
        }
        case 3: case 4: {           /* typed tag */
            if (!s)
                break;
            tw_field f;
            memset(&f, 0, sizeof f);
            static const char *const special[] = { "span.kind", "sampling.priority", "error", NULL };
            uint8_t sel = u8(&r);
            if (sel < 3 && special[sel]) {
                f.key = special[sel];
                f.key_len = strlen(special[sel]);
            } else {
                f.key = str(&r, &f.key_len);
            }
            f.type = (tw_value_type)(u8(&r) % 5);
            if (f.type == TW_VAL_STRING || f.type == TW_VAL_BINARY) {
                f.v.str.ptr = str(&r, &f.v.str.len);
            } else {
                uint64_t bits = u64(&r);
                if (f.type == TW_VAL_DOUBLE) {
                    memcpy(&f.v.f64, &bits, sizeof bits);   /* NaN/Inf included */
                }
                else if (f.type == TW_VAL_BOOL)
                    f.v.b = (int)(bits & 1);
                else
                    f.v.i64 = (int64_t)bits;
            }
            st = tw_span_set_tag(s, &f);
            FZ_CHECK(write_ok(st, s));
            break;
        }
        case 5: {                   /* string/int convenience setters */
            if (!s)
                break;
            char *key = cstr(&r), *val = cstr(&r);
            if (key && val) {
                FZ_CHECK(write_ok(tw_span_set_tag_str(s, key, val), s));
                FZ_CHECK(write_ok(tw_span_set_tag_int(s, key, (int64_t)u64(&r)), s));
            }
            free(key);
            free(val);
            break;
        }
        case 6: {                   /* log of up to 3 fields */
            if (!s)
                break;
            tw_field f[3];
            size_t nf = u8(&r) % 4;
            for (size_t j = 0; j < nf; j++) {
                memset(&f[j], 0, sizeof f[j]);
                f[j].key = str(&r, &f[j].key_len);
                f[j].type = TW_VAL_STRING;
                f[j].v.str.ptr = str(&r, &f[j].v.str.len);
            }
            FZ_CHECK(write_ok(tw_span_log(s, (int64_t)(u8(&r) ? u64(&r) : 0), f, nf), s));
            break;
        }
        case 7: {                   /* baggage */
            if (!s)
                break;
            k = str(&r, &kl);
            v = str(&r, &vl);
            st = tw_span_set_baggage(s, k, kl, v, vl);
            FZ_CHECK(write_ok(st, s));
            if (st == TW_OK) {
                const char *got = NULL;
                size_t gl = 0;
                FZ_CHECK(tw_span_context_baggage(tw_span_get_context(s), k, kl, &got, &gl) == TW_OK);
                FZ_CHECK(gl == vl && (vl == 0 || memcmp(got, v, vl) == 0));
            }
            break;
        }
        case 8:                     /* rename, kind */
            if (!s)
                break;
            k = str(&r, &kl);
            FZ_CHECK(write_ok(tw_span_set_operation_name(s, k, kl), s));
            FZ_CHECK(write_ok(tw_span_set_kind(s, (tw_span_kind)(u8(&r) % 7)), s));
            break;
        case 9: case 10:            /* finish (a second finish must say FINISHED) */
            if (!s)
                break;
            {
                bool was = tw_span_is_finished(s);
                st = tw_span_finish(s, (int64_t)(u8(&r) ? u64(&r) : 0));
                FZ_CHECK(was ? st == TW_ERR_FINISHED : st == TW_OK);
            }
            break;
        case 11: {                  /* OTel: an ARRAY tag, a link with it, a scope */
            if (!s)
                break;
            tw_field items[4];
            size_t n = u8(&r) % 5;
            memset(items, 0, sizeof items);
            for (size_t j = 0; j < n; j++) {
                items[j].type = (tw_value_type)(u8(&r) % 7);   /* mixed, nested, BINARY: refused */
                if (items[j].type == TW_VAL_STRING || items[j].type == TW_VAL_BINARY)
                    items[j].v.str.ptr = str(&r, &items[j].v.str.len);
                else if (items[j].type == TW_VAL_ARRAY)
                    items[j].v.arr.items = items, items[j].v.arr.n = 1;
                else
                    items[j].v.i64 = (int64_t)u64(&r);
            }
            tw_field f = {.type = TW_VAL_ARRAY};
            f.key = str(&r, &f.key_len);
            f.v.arr.items = items;
            f.v.arr.n = n;
            FZ_CHECK(write_ok(tw_span_set_tag(s, &f), s));
            FZ_CHECK(write_ok(tw_span_log(s, 0, &f, 1), s));
            tw_span *o = spans[(i + 1) & 3];
            if (o)
                FZ_CHECK(write_ok(tw_span_add_link(s, tw_span_get_context(o), &f, 1), s));
            k = str(&r, &kl);
            FZ_CHECK(write_ok(tw_span_add_link_ids(s, u8(&r) & 1 ? u64(&r) : 0, u64(&r),
                                                   u8(&r) & 1 ? u64(&r) : 0, u8(&r), k, kl,
                                                   &f, u8(&r) & 1), s));
            const tw_scope *sc;
            if (tw_tracer_scope(t, k, kl, u8(&r) & 1 ? k : NULL, kl / 2, NULL, 0, &f, u8(&r) & 1,
                                &sc) == TW_OK)
                FZ_CHECK(write_ok(tw_span_set_scope(s, sc), s));
            break;
        }
        case 12: {                  /* a gateway's server span, one call (http_span.c) */
            if (s)
                break;
            size_t ml, tl, hl, pl;
            const char *m = str(&r, &ml), *tg = str(&r, &tl), *h = str(&r, &hl), *pe = str(&r, &pl);
            unsigned fl = u8(&r);
            char *line = NULL;
            if (fl & 1) {           /* "METHOD target" in one line, as nginx keeps it */
                line = malloc(ml + tl + 2);
                if (!line)
                    break;
                memcpy(line, m, ml);
                line[ml] = ' ';
                memcpy(line + ml + 1, tg, tl);
                m = line;
                tg = line + ml + 1;
            }
            tw_http_request hr = {m, ml, tg, tl, fl & 2 ? h : NULL, fl & 2 ? hl : 0,
                                  fl & 4 ? "https" : NULL, fl & 4 ? 5 : 0,
                                  fl & 8 ? "nginx" : NULL, fl & 8 ? 5 : 0};
            tw_span *p = spans[(i + 1) & 3];
            st = tw_http_span_start(t, &hr, fl & 16 ? pe : NULL, fl & 16 ? pl : 0,
                                    p ? tw_span_get_context(p) : NULL, 0, &spans[i]);
            FZ_CHECK(st == TW_OK || st == TW_ERR_NOMEM);
            FZ_CHECK((st == TW_OK) == (spans[i] != NULL));
            if (st == TW_OK) {
                const char *q = tl ? memchr(tg, '?', tl) : NULL;
                size_t plen = q ? (size_t)(q - tg) : tl, wl = 0, nl;
                char want[TW_HTTP_MAX_NAME];
                for (size_t j = 0; j < ml && wl < sizeof want; j++)
                    want[wl++] = m[j];
                if (wl < sizeof want)
                    want[wl++] = ' ';
                for (size_t j = 0; j < plen && wl < sizeof want; j++)
                    want[wl++] = tg[j];
                const char *nm = tw_span_operation_name(spans[i], &nl);
                FZ_CHECK(nl == wl && memcmp(nm, want, wl) == 0);
            }
            free(line);
            break;
        }
        case 13: {                  /* its response, and finish */
            if (!s)
                break;
            tw_http_response resp = {(int64_t)u64(&r), NULL, 0, (int64_t)u64(&r)};
            resp.upstream_addr = u8(&r) & 1 ? str(&r, &resp.upstream_addr_len) : NULL;
            bool was = tw_span_is_finished(s);
            st = tw_http_span_finish(s, &resp, 0);
            FZ_CHECK(was ? st == TW_ERR_FINISHED : st == TW_OK);
            break;
        }
        default:                    /* free (unfinished spans are discarded) */
            tw_span_free(s);
            spans[i] = NULL;
            break;
        }
    }
    for (int i = 0; i < 4; i++)
        tw_span_free(spans[i]);

    tw_counters c1;
    tw_tracer_counters(t, &c1);
    char *json = NULL;
    FZ_CHECK(tw_tracer_memory_spans(t, 1, &json) == TW_OK && json);
    json_error_t err;
    json_t *root = json_loads(json, JSON_ALLOW_NUL, &err);
    if (!root)
        fprintf(stderr, "memory JSON does not parse: %s: %.300s\n", err.text, json);
    FZ_CHECK(root && json_is_array(root));
    FZ_CHECK(json_array_size(root) == c1.spans_finished - c0.spans_finished);
    json_decref(root);
    tw_free(json);
    return 0;
}
