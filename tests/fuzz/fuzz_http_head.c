/* fuzz_http_head.c — raw HTTP/1.x request heads (tw_http_head_*), the bytes a
 * gateway hands over unparsed (nginx's ngx.req.raw_header()).
 * Input: the head itself, copied into an exact-size allocation.
 * Checks: the request line is OK or CORRUPTED and its pieces lie inside the
 * input without blanks; every visited header lies inside the input, its name
 * has no blank, colon or line break and its value no line break and no outer
 * blank; the Host lookup agrees with the walk; and extracting through the
 * head gives exactly what extracting the same headers from a table gives
 * (status, ids, flags) — the head is only another carrier.
 * requires: core/src/http_head.c core/src/propagation.c tests/fuzz/fz_common.c */
#include "fz_common.h"
#include "propagation.h"
#include "text.h"

struct walk {
    const char *lo, *hi;
    fz_carrier *copy;
    const char *host;
    size_t host_len;
    int have_host;
};

static int visit(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    struct walk *w = ud;
    FZ_CHECK(k >= w->lo && k + kl <= w->hi && kl > 0);
    FZ_CHECK(v >= w->lo && v + vl <= w->hi);
    for (size_t i = 0; i < kl; i++)
        FZ_CHECK(k[i] != ' ' && k[i] != '\t' && k[i] != ':' && k[i] != '\r' && k[i] != '\n');
    FZ_CHECK(memchr(v, '\n', vl) == NULL);
    FZ_CHECK(vl == 0 || (v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t'));
    if (!w->have_host && twp_ascii_ieq(k, kl, "host", 4)) {
        w->have_host = 1;
        w->host = v;
        w->host_len = vl;
    }
    FZ_CHECK(fz_carrier_add(w->copy, k, kl, v, vl));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fz_exact_copy(data, size);
    if (buf == NULL)
        return 0;
    tw_http_head h = {buf, size};

    const char *m, *t;
    size_t ml, tl;
    tw_status st = tw_http_head_request_line(&h, &m, &ml, &t, &tl);
    FZ_CHECK(st == TW_OK || st == TW_ERR_CORRUPTED);
    if (st == TW_OK) {
        FZ_CHECK(m == buf && ml > 0 && tl > 0 && t > m + ml && t + tl <= buf + size);
        FZ_CHECK(memchr(m, ' ', ml) == NULL && memchr(t, ' ', tl) == NULL);
    }

    fz_carrier copy = {0};
    struct walk w = {buf, buf + size, &copy, NULL, 0, 0};
    FZ_CHECK(tw_http_head_foreach(&h, visit, &w) == 0);

    const char *hv;
    size_t hl;
    st = tw_http_head_header(&h, "Host", &hv, &hl);
    FZ_CHECK(st == (w.have_host ? TW_OK : TW_ERR_NOT_FOUND));
    if (st == TW_OK)
        FZ_CHECK(hv == w.host && hl == w.host_len);

    tw_config *cfg = NULL;
    if (tw_config_new(&cfg) == TW_OK) {
        unsigned all = TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_MULTI | TW_PROP_B3_SINGLE;
        tw_span_context *a = NULL, *b = NULL;
        tw_status sa = twp_extract(cfg, all, tw_http_head_foreach, &h, &a);
        tw_status sb = twp_extract(cfg, all, fz_carrier_foreach, &copy, &b);
        FZ_CHECK(sa == sb);
        FZ_CHECK((sa == TW_OK) == (a != NULL));
        if (sa == TW_OK) {
            uint64_t ah, al, bh, bl;
            tw_span_context_trace_id(a, &ah, &al);
            tw_span_context_trace_id(b, &bh, &bl);
            FZ_CHECK(ah == bh && al == bl);
            FZ_CHECK(tw_span_context_span_id(a) == tw_span_context_span_id(b));
            FZ_CHECK(tw_span_context_flags(a) == tw_span_context_flags(b));
        }
        tw_span_context_free(a);
        tw_span_context_free(b);
        tw_config_free(cfg);
    }
    fz_carrier_free(&copy);
    free(buf);
    return 0;
}
