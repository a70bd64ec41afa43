/* http_span.c — the server span of an HTTP request, made and tagged the same
 * way by every gateway face.
 *
 * The Lua fast path (tracer:start_http_span over a raw head), nginx.lua's
 * general path (ngx.req.get_headers) and the native nginx module all make a
 * "METHOD /path" server span and tag it; before this file each wrote its own
 * tag list, and they had drifted (kind set only when sampled on one path,
 * always on another). One helper for the request, one for the response, and
 * the one-call pair a gateway uses per request: tw_http_span_start (name,
 * start, kind, request tags) and tw_http_span_finish (response tags, finish).
 *
 * Tags go on sampled spans only: an unsampled span is never reported, so
 * building its tags would be wasted work on every request. Their keys are
 * this file's literals, written through twp_span_tag_fixed (span_tags.h):
 * borrowed, not copied, and no special-key checks; http.url goes into the
 * record straight from scheme, host and target. The name is borrowed too
 * when the request line already holds "METHOD /path" contiguously (an
 * HTTP/1.x request line as nginx or a raw head keeps it): no temporary copy.
 */
#include "span_tags.h"

#include <string.h>

#define LIT(s) (s), (uint32_t)(sizeof(s) - 1)

static int bad_request(const tw_http_request *r)
{
    return !r || (!r->method && r->method_len) || (!r->target && r->target_len)
           || (!r->host && r->host_len) || (!r->scheme && r->scheme_len)
           || (!r->component && r->component_len);
}

static void str_tag(twp_fixed_tag *t, const char *key, uint32_t key_len, const twp_piece *parts,
                    size_t nparts)
{
    t->key = key;
    t->key_len = key_len;
    t->type = TW_VAL_STRING;
    t->parts = parts;
    t->nparts = nparts;
    t->i64 = 0;
}

static void num_tag(twp_fixed_tag *t, const char *key, uint32_t key_len, tw_value_type type,
                    int64_t v)
{
    t->key = key;
    t->key_len = key_len;
    t->type = type;
    t->parts = NULL;
    t->nparts = 0;
    t->i64 = v;
}

/* component, http.method, http.url (an absolute-form target is a URL
 * already; else scheme://host + target; the target alone without a host),
 * peer.address when given. s has a record. */
static tw_status request_tags(tw_span *s, const tw_http_request *r, const char *peer,
                              size_t peer_len)
{
    twp_piece comp = {r->component, r->component_len};
    twp_piece method = {r->method ? r->method : "", r->method_len};
    twp_piece url[4];
    twp_piece pr = {peer, peer_len};
    twp_fixed_tag tags[4];
    size_t n = 0, nurl = 0;
    if (r->component)
        str_tag(&tags[n++], LIT("component"), &comp, 1);
    str_tag(&tags[n++], LIT("http.method"), &method, 1);
    if (r->host && r->target_len && r->target[0] == '/') {
        url[nurl].p = r->scheme ? r->scheme : "http";
        url[nurl++].n = r->scheme ? r->scheme_len : 4;
        url[nurl].p = "://";
        url[nurl++].n = 3;
        url[nurl].p = r->host;
        url[nurl++].n = r->host_len;
    }
    url[nurl].p = r->target ? r->target : "";
    url[nurl++].n = r->target_len;
    str_tag(&tags[n++], LIT("http.url"), url, nurl);
    if (peer)
        str_tag(&tags[n++], LIT("peer.address"), &pr, 1);
    return twp_span_tag_fixed(s, tags, n);
}

tw_status tw_span_set_http_request(tw_span *s, const tw_http_request *r)
{
    if (!s || bad_request(r))
        return TW_ERR_INVALID_ARG;
    tw_status st = tw_span_set_kind(s, TW_KIND_SERVER);
    if (st != TW_OK || !twp_span_records(s))
        return st;
    return request_tags(s, r, NULL, 0);
}

tw_status tw_span_set_http_status(tw_span *s, int64_t status)
{
    if (!s)
        return TW_ERR_INVALID_ARG;
    if (tw_span_is_finished(s))
        return TW_ERR_FINISHED;
    tw_http_response resp = {status, NULL, 0, -1};
    return tw_http_span_tag_response(s, &resp);
}

tw_status tw_http_span_start(tw_tracer *t, const tw_http_request *r, const char *peer,
                             size_t peer_len, const tw_span_context *parent, int64_t start_us,
                             tw_span **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (!t || bad_request(r) || (!peer && peer_len))
        return TW_ERR_INVALID_ARG;

    /* "METHOD /path": the target without its query, cut to TW_HTTP_MAX_NAME */
    const char *target = r->target ? r->target : "";
    const char *q = r->target_len ? memchr(target, '?', r->target_len) : NULL;
    size_t plen = q ? (size_t)(q - target) : r->target_len;
    size_t mlen = r->method_len;
    const char *name;
    size_t nlen;
    char buf[TW_HTTP_MAX_NAME];
    if (mlen && r->target == r->method + mlen + 1 && r->method[mlen] == ' ') {
        name = r->method;                        /* the request line itself */
        nlen = mlen + 1 + plen;
        if (nlen > sizeof buf)
            nlen = sizeof buf;
    } else {
        nlen = mlen < sizeof buf ? mlen : sizeof buf;
        if (nlen)
            memcpy(buf, r->method, nlen);
        if (nlen < sizeof buf)
            buf[nlen++] = ' ';
        if (plen > sizeof buf - nlen)
            plen = sizeof buf - nlen;
        if (plen)
            memcpy(buf + nlen, target, plen);
        nlen += plen;
        name = buf;
    }

    /* the extracted context as the parent, as opentracing's child_of=: under
     * the jaeger_client profile parentSpanId alone, as jaeger_client sends a
     * server span (natively also a CHILD_OF reference) */
    tw_span_ref ref = {TW_REF_PARENT, parent};
    tw_span *s;
    tw_status st = tw_span_start(t, name, nlen, parent ? &ref : NULL, parent ? 1 : 0, start_us, &s);
    if (st != TW_OK)
        return st;
    if ((st = tw_span_set_kind(s, TW_KIND_SERVER)) != TW_OK
        || (twp_span_records(s) && (st = request_tags(s, r, peer, peer_len)) != TW_OK)) {
        tw_span_free(s);
        return st;
    }
    *out = s;
    return TW_OK;
}

tw_status tw_http_span_tag_response(tw_span *s, const tw_http_response *resp)
{
    if (!s || !resp || (!resp->upstream_addr && resp->upstream_addr_len))
        return TW_ERR_INVALID_ARG;
    if (!twp_span_records(s))
        return tw_span_is_finished(s) ? TW_ERR_FINISHED : TW_OK;
    twp_piece up = {resp->upstream_addr, resp->upstream_addr_len};
    twp_fixed_tag tags[4];
    size_t n = 0;
    if (resp->status >= 0) {
        num_tag(&tags[n++], LIT("http.status_code"), TW_VAL_INT64, resp->status);
        if (resp->status >= 500)
            num_tag(&tags[n++], LIT("error"), TW_VAL_BOOL, 1);
    }
    if (resp->upstream_addr)
        str_tag(&tags[n++], LIT("upstream.address"), &up, 1);
    if (resp->upstream_time_ms >= 0)
        num_tag(&tags[n++], LIT("upstream.response_time_ms"), TW_VAL_INT64, resp->upstream_time_ms);
    return twp_span_tag_fixed(s, tags, n);
}

tw_status tw_http_span_finish(tw_span *s, const tw_http_response *resp, int64_t finish_us)
{
    if (!s)
        return TW_ERR_INVALID_ARG;
    if (resp) {
        tw_status st = tw_http_span_tag_response(s, resp);
        /* a tag lost to memory still finishes the span; a finished span
         * says so below */
        if (st == TW_ERR_INVALID_ARG)
            return st;
    }
    return tw_span_finish(s, finish_us);
}
