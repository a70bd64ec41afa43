/* http_span.c — the server span of an HTTP request, tagged the same way by
 * every gateway face.
 *
 * The Lua fast path (tracer:start_http_span over a raw head), nginx.lua's
 * general path (ngx.req.get_headers) and the native nginx module all make a
 * "METHOD /path" server span and tag it; before this file each wrote its own
 * tag list, and they had drifted (kind set only when sampled on one path,
 * always on another). One helper for the request, one for the response.
 * Tags go on sampled spans only: an unsampled span is never reported, so
 * building its tags would be wasted work on every request.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

static tw_status tag_str(tw_span *s, const char *k, size_t kl, const char *v, size_t vl)
{
    tw_field f;
    f.key = k;
    f.key_len = kl;
    f.type = TW_VAL_STRING;
    f.v.str.ptr = v;
    f.v.str.len = vl;
    return tw_span_set_tag(s, &f);
}

static int sampled(const tw_span *s)
{
    return (tw_span_context_flags(tw_span_get_context(s)) & TW_FLAG_SAMPLED) != 0;
}

tw_status tw_span_set_http_request(tw_span *s, const tw_http_request *r)
{
    if (!s || !r || (!r->method && r->method_len) || (!r->target && r->target_len)
        || (!r->host && r->host_len) || (!r->scheme && r->scheme_len)
        || (!r->component && r->component_len))
        return TW_ERR_INVALID_ARG;
    tw_status st = tw_span_set_kind(s, TW_KIND_SERVER);
    if (st != TW_OK || !sampled(s))
        return st;
    if (r->component && (st = tag_str(s, "component", 9, r->component, r->component_len)) != TW_OK)
        return st;
    if ((st = tag_str(s, "http.method", 11, r->method ? r->method : "", r->method_len)) != TW_OK)
        return st;
    /* http.url: an absolute-form target is a URL already */
    if (!r->host || r->target_len == 0 || r->target[0] != '/')
        return tag_str(s, "http.url", 8, r->target ? r->target : "", r->target_len);
    const char *scheme = r->scheme ? r->scheme : "http";
    size_t slen = r->scheme ? r->scheme_len : 4;
    size_t ulen = slen + 3 + r->host_len + r->target_len;
    char small[1024];
    char *url = ulen <= sizeof small ? small : malloc(ulen);
    if (!url)
        return TW_ERR_NOMEM;
    memcpy(url, scheme, slen);
    memcpy(url + slen, "://", 3);
    memcpy(url + slen + 3, r->host, r->host_len);
    memcpy(url + slen + 3 + r->host_len, r->target, r->target_len);
    st = tag_str(s, "http.url", 8, url, ulen);
    if (url != small)
        free(url);
    return st;
}

tw_status tw_span_set_http_status(tw_span *s, int64_t status)
{
    if (!s)
        return TW_ERR_INVALID_ARG;
    if (tw_span_is_finished(s))
        return TW_ERR_FINISHED;
    if (!sampled(s))
        return TW_OK;
    tw_status st = tw_span_set_tag_int(s, "http.status_code", status);
    if (st == TW_OK && status >= 500)
        st = tw_span_set_tag_bool(s, "error", 1);
    return st;
}
