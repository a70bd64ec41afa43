/* fz_common.c — carrier, input format, extract and round-trip checks shared
 * by the header-based fuzz targets (see fz_common.h). Needs config.c and
 * propagation; fz_context.c holds what only needs context.c. */
#include "fz_common.h"
#include "propagation.h"

#include <string.h>

bool fz_carrier_add(fz_carrier *c, const char *k, size_t kl, const char *v, size_t vl)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        fz_header *nh = realloc(c->h, ncap * sizeof *nh);
        if (!nh)
            return false;
        c->h = nh;
        c->cap = ncap;
    }
    fz_header *h = &c->h[c->n];
    h->key = fz_exact_copy((const uint8_t *)k, kl);
    h->val = fz_exact_copy((const uint8_t *)v, vl);
    if (!h->key || !h->val) {
        free(h->key);
        free(h->val);
        return false;
    }
    h->key_len = kl;
    h->val_len = vl;
    c->n++;
    return true;
}

void fz_carrier_free(fz_carrier *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->h[i].key);
        free(c->h[i].val);
    }
    free(c->h);
    c->h = NULL;
    c->n = c->cap = 0;
}

int fz_carrier_foreach(void *carrier, tw_kv_fn visit, void *visit_ud)
{
    fz_carrier *c = carrier;
    for (size_t i = 0; i < c->n; i++)
        if (visit(visit_ud, c->h[i].key, c->h[i].key_len, c->h[i].val, c->h[i].val_len))
            break;
    return 0;
}

int fz_carrier_set(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    FZ_CHECK(k != NULL && (v != NULL || vl == 0));
    return fz_carrier_add(ud, k, kl, v, vl) ? 0 : 1;
}

/* Applies "@key=value" (the text after '@') to cfg; value NUL-terminated. */
static void apply_config_line(tw_config *cfg, const char *line, size_t len)
{
    const char *eq = memchr(line, '=', len);
    if (!eq)
        return;
    size_t kl = (size_t)(eq - line), vl = len - kl - 1;
    char *key = malloc(kl + 1), *val = malloc(vl + 1);
    if (key && val) {
        memcpy(key, line, kl);
        key[kl] = '\0';
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        /* Embedded NULs just shorten the C strings; that is fine. */
        (void)tw_config_set(cfg, key, val);
    }
    free(key);
    free(val);
}

void fz_parse_input(const uint8_t *data, size_t size, tw_config *cfg, fz_carrier *out)
{
    const char *p = (const char *)data;
    memset(out, 0, sizeof *out);
    if (size > 0 && p[0] == '\0') {
        /* raw mode: name \0 value \0 name \0 value ... */
        size_t i = 1;
        while (i < size) {
            const char *k = p + i;
            const char *ke = memchr(k, '\0', size - i);
            size_t kl = ke ? (size_t)(ke - k) : size - i;
            i += kl + 1;
            const char *v = p + (i < size ? i : size);
            size_t vl = 0;
            if (i < size) {
                const char *ve = memchr(v, '\0', size - i);
                vl = ve ? (size_t)(ve - v) : size - i;
                i += vl + 1;
            }
            if (!fz_carrier_add(out, k, kl, v, vl))
                return;
        }
        return;
    }
    size_t i = 0;
    while (i < size) {
        const char *line = p + i;
        const char *nl = memchr(line, '\n', size - i);
        size_t len = nl ? (size_t)(nl - line) : size - i;
        i += len + 1;
        if (len > 0 && line[0] == '@') {
            if (cfg)
                apply_config_line(cfg, line + 1, len - 1);
            continue;
        }
        const char *colon = memchr(line, ':', len);
        size_t kl = colon ? (size_t)(colon - line) : len;
        const char *v = colon ? colon + 1 : line + len;
        size_t vl = colon ? len - kl - 1 : 0;
        if (vl > 0 && v[0] == ' ') {
            v++;
            vl--;
        }
        if (!fz_carrier_add(out, line, kl, v, vl))
            return;
    }
}

static const tw_config *default_config(void)
{
    static tw_config *cfg;
    if (!cfg)
        FZ_CHECK(tw_config_new(&cfg) == TW_OK);
    return cfg;
}

void fz_roundtrip_context(const tw_span_context *ctx)
{
    static const unsigned formats[] = { TW_PROP_JAEGER, TW_PROP_W3C, TW_PROP_B3_MULTI,
                                        TW_PROP_B3_SINGLE };
    const tw_config *cfg = default_config();
    uint64_t hi, lo;
    tw_span_context_trace_id(ctx, &hi, &lo);
    uint64_t span = tw_span_context_span_id(ctx);
    unsigned flags = tw_span_context_flags(ctx);
    bool has_ids = span != 0;
    /* Baggage, tracestate and debug ids may legitimately fail the stricter
     * checks of another format or the default size bounds; plain ids may not. */
    bool plain = ctx->nbaggage == 0 && ctx->tracestate_len == 0 && ctx->debug_id_len == 0;

    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        fz_carrier c;
        memset(&c, 0, sizeof c);
        tw_status st = twp_inject(cfg, ctx, formats[f], fz_carrier_set, &c);
        if (st == TW_OK && has_ids) {
            tw_span_context *back = NULL;
            tw_status st2 = twp_extract(cfg, formats[f], fz_carrier_foreach, &c, &back);
            if (plain && st2 != TW_OK) {
                fprintf(stderr, "round trip: format 0x%x re-extract status %d; headers:\n",
                        formats[f], (int)st2);
                for (size_t i = 0; i < c.n; i++)
                    fprintf(stderr, "  %.*s: %.*s\n", (int)c.h[i].key_len, c.h[i].key,
                            (int)c.h[i].val_len, c.h[i].val);
            }
            FZ_CHECK(!plain || st2 == TW_OK);
            if (st2 == TW_OK) {
                uint64_t bhi, blo;
                tw_span_context_trace_id(back, &bhi, &blo);
                FZ_CHECK(bhi == hi && blo == lo);
                FZ_CHECK(tw_span_context_span_id(back) == span);
                if (!(flags & TW_FLAG_DEBUG))
                    FZ_CHECK((tw_span_context_flags(back) & TW_FLAG_SAMPLED) ==
                             (flags & TW_FLAG_SAMPLED));
                fz_exercise_context(back);
                tw_span_context_free(back);
            }
        }
        fz_carrier_free(&c);
    }
}

void fz_extract_and_check(const tw_config *cfg, unsigned formats, fz_carrier *carrier)
{
    tw_span_context *ctx = NULL;
    tw_status st = twp_extract(cfg, formats, fz_carrier_foreach, carrier, &ctx);
    if (st != TW_OK && st != TW_ERR_NOT_FOUND && st != TW_ERR_CORRUPTED && st != TW_ERR_NOMEM) {
        fprintf(stderr, "extract returned undocumented status %d (%s)\n", (int)st, tw_strerror(st));
        FZ_CHECK(0);
    }
    FZ_CHECK(st == TW_OK ? ctx != NULL : ctx == NULL);
    if (st == TW_OK) {
        fz_exercise_context(ctx);
        fz_roundtrip_context(ctx);
        tw_span_context_free(ctx);
    }
}
