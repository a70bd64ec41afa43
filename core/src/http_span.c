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
 * building its tags would be wasted work on every request. This is the path
 * of every traced request through a gateway, so the tags are written into
 * the record directly (span_tags.h): keys are the core's key slots
 * (const_tags.h), borrowed; the component and a standard method ("nginx",
 * "GET", "POST", ...) are matched to value slots and borrowed too (unless
 * max_tag_value_length cuts them), so the Thrift compact encoder copies
 * those tags' bytes whole (issue #15), and a request copies only
 * what is its own: http.url (straight from scheme, host and target, in one
 * arena take with peer.address) and peer.address. The name is borrowed too
 * when the request line already holds "METHOD /path" contiguously (an
 * HTTP/1.x request line as nginx or a raw head keeps it): no temporary copy.
 * The span starts with its kind (twp_span_start_kind): no second call.
 */
#include "span_tags.h"
#include "const_tags.h"

#include <string.h>


/* The '?' bytes of the 8 bytes at p as a mask: (x - 0x01s) & ~x & 0x80s of
 * x = word ^ '?'s may flag bytes above a real zero, never below one, so its
 * lowest set bit marks the first '?' (little-endian: the lowest address). */
static inline __attribute__((always_inline)) uint64_t query_bits(const char *p)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t x;
    memcpy(&x, p, 8);
    x ^= ones * (unsigned char)'?';
    return (x - ones) & ~x & (ones << 7);
}

#define QUERY_AT(p, m) ((p) + ((unsigned)__builtin_ctzll(m) >> 3))

/* Where the first '?' is in p[0..n), or NULL: memchr, but a target of 8 to
 * 32 bytes (most paths) is read as two to four overlapping words, in order,
 * with no call. */
static inline __attribute__((always_inline)) const char *query_mark(const char *p, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n >= 8 && n <= 32) {
        uint64_t m;
        if ((m = query_bits(p)))
            return QUERY_AT(p, m);
        if (n > 16) {
            if ((m = query_bits(p + 8)))
                return QUERY_AT(p + 8, m);
            if ((m = query_bits(p + n - 16)))
                return QUERY_AT(p + n - 16, m);
        }
        return (m = query_bits(p + n - 8)) ? QUERY_AT(p + n - 8, m) : NULL;
    }
#endif
    return n ? memchr(p, '?', n) : NULL;
}

static int bad_request(const tw_http_request *r)
{
    return !r || (!r->method && r->method_len) || (!r->target && r->target_len)
           || (!r->host && r->host_len) || (!r->scheme && r->scheme_len)
           || (!r->component && r->component_len);
}

/* The value slot (const_tags.h) equal to p[0..n), for the values most
 * requests repeat ("nginx", "GET", ...); NULL when p is something else or
 * longer than max (then it is copied, and cut). Slots outlive every record
 * (span_data.h), so a record may point at them, and the Thrift compact
 * encoder copies a slot's Tag bytes whole. */
static inline __attribute__((always_inline)) const char *http_literal(const char *p, size_t n,
                                                                     size_t max)
{
    return n <= max ? twp_cval_find(p, n) : NULL;
}

/* The request's tags one by one, each string copied on its own (cut to
 * max): a component or method that is no literal, or a value longer than
 * max. Rare. */
static __attribute__((noinline)) tw_status
request_tags_slow(twp_span_data *d, twp_value *v, size_t max, const tw_http_request *r,
                  int full, const char *peer, size_t peer_len)
{
    twp_piece url[4];
    size_t nurl = 0;
    if (full) {
        url[0].p = r->scheme ? r->scheme : "http";
        url[0].n = r->scheme ? r->scheme_len : 4;
        url[1].p = "://";
        url[1].n = 3;
        url[2].p = r->host;
        url[2].n = r->host_len;
        nurl = 3;
    }
    url[nurl].p = r->target;
    url[nurl++].n = r->target_len;
    twp_value *v0 = v;
    tw_status st = TW_ERR_NOMEM;    /* the tags written so far stay */
    const char *s;
    uint32_t len;
    if (r->component) {
        twp_piece pc = {r->component, r->component_len};
        if ((s = http_literal(r->component, r->component_len, max)))
            len = (uint32_t)r->component_len;
        else if (!(s = twp_record_copy(d, &pc, 1, max, &len)))
            goto out;
        twp_tag_str(v++, TWP_KEY(COMPONENT), s, len);
    }
    twp_piece pm = {r->method, r->method_len};
    if ((s = http_literal(r->method, r->method_len, max)))
        len = (uint32_t)r->method_len;
    else if (!(s = twp_record_copy(d, &pm, 1, max, &len)))
        goto out;
    twp_tag_str(v++, TWP_KEY(HTTP_METHOD), s, len);
    if (!(s = twp_record_copy(d, url, nurl, max, &len)))
        goto out;
    twp_tag_str(v++, TWP_KEY(HTTP_URL), s, len);
    if (peer) {
        twp_piece pc = {peer, peer_len};
        if (!(s = twp_record_copy(d, &pc, 1, max, &len)))
            goto out;
        twp_tag_str(v++, TWP_KEY(PEER_ADDRESS), s, len);
    }
    st = TW_OK;
out:
    d->ntags += (uint32_t)(v - v0);
    return st;
}

/* component, http.method, http.url (an absolute-form target is a URL
 * already; else scheme://host + target; the target alone without a host),
 * peer.address when given, into record d. The common request (component
 * and method literals, short URL and peer) takes one arena piece for both
 * copies. */
static inline __attribute__((always_inline)) tw_status
request_tags(twp_span_data *d, size_t max, const tw_http_request *r, const char *peer,
             size_t peer_len)
{
    twp_value *v = twp_tags_room(d, 2u + (r->component != NULL) + (peer != NULL));
    if (!v)
        return TW_ERR_NOMEM;
    /* origin-form with a host: scheme://host + target (laid out as pieces
     * on the slow path only) */
    int full = r->host && r->target_len && r->target[0] == '/';
    const char *scheme = r->scheme ? r->scheme : "http";
    size_t slen = r->scheme ? r->scheme_len : 4;
    size_t ulen = r->target_len + (full ? slen + 3 + r->host_len : 0);

    const char *comp = r->component ? http_literal(r->component, r->component_len, max) : NULL;
    const char *method = http_literal(r->method, r->method_len, max);
    if (__builtin_expect(!method || (r->component && !comp) || ulen > max || peer_len > max, 0))
        return request_tags_slow(d, v, max, r, full, peer, peer_len);
    char *q = twp_arena_take(&d->arena, ulen + 1 + (peer ? peer_len + 1 : 0));
    if (!q)
        return TW_ERR_NOMEM;
    twp_value *v0 = v;
    if (comp)
        twp_tag_static(v++, TWP_KEY(COMPONENT), comp, (uint32_t)r->component_len);
    twp_tag_static(v++, TWP_KEY(HTTP_METHOD), method, (uint32_t)r->method_len);
    twp_tag_str(v++, TWP_KEY(HTTP_URL), q, (uint32_t)ulen);
    if (full) {
        if (slen == 4 && memcmp(scheme, "http", 4) == 0) {
            memcpy(q, "http://", 7);
            q += 7;
        } else {
            twp_copy_short(q, scheme, slen);
            memcpy(q + slen, "://", 3);
            q += slen + 3;
        }
        twp_copy_short(q, r->host, r->host_len);
        q += r->host_len;
    }
    twp_copy_short(q, r->target, r->target_len);
    q += r->target_len;
    *q++ = '\0';
    if (peer) {
        twp_tag_str(v++, TWP_KEY(PEER_ADDRESS), q, (uint32_t)peer_len);
        twp_copy_short(q, peer, peer_len);
        q[peer_len] = '\0';
    }
    d->ntags += (uint32_t)(v - v0);
    return TW_OK;
}

tw_status tw_span_set_http_request(tw_span *s, const tw_http_request *r)
{
    if (!s || bad_request(r))
        return TW_ERR_INVALID_ARG;
    tw_status st = tw_span_set_kind(s, TW_KIND_SERVER);
    size_t max;
    twp_span_data *d;
    if (st != TW_OK || !(d = twp_span_record(s, &max)))
        return st;
    return request_tags(d, max, r, NULL, 0);
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
    const char *q = query_mark(target, r->target_len);
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
    twp_span_data *d;
    size_t max;
    tw_status st = twp_span_start_kind(t, name, nlen, parent ? &ref : NULL, parent ? 1 : 0,
                                       start_us, TW_KIND_SERVER, &s, &d, &max);
    if (st != TW_OK)
        return st;
    if (d && (st = request_tags(d, max, r, peer, peer_len)) != TW_OK) {
        tw_span_free(s);
        return st;
    }
    *out = s;
    return TW_OK;
}

/* http.status_code, error (5xx), upstream.address, upstream.response_time_ms
 * into record d. */
static inline __attribute__((always_inline)) tw_status
response_tags(twp_span_data *d, size_t max, const tw_http_response *resp)
{
    twp_value *v = twp_tags_room(d, (resp->status >= 0) + (resp->status >= 500)
                                        + (resp->upstream_addr != NULL)
                                        + (resp->upstream_time_ms >= 0));
    if (!v)
        return TW_ERR_NOMEM;
    twp_value *v0 = v;
    tw_status st = TW_OK;
    if (resp->status >= 0) {
        twp_tag_int(v++, TWP_KEY(HTTP_STATUS_CODE), resp->status);
        if (resp->status >= 500)
            twp_tag_bool(v++, TWP_KEY(ERROR), true);
    }
    if (resp->upstream_addr) {
        twp_piece up = {resp->upstream_addr, resp->upstream_addr_len};
        uint32_t len;
        const char *a = twp_record_copy(d, &up, 1, max, &len);
        if (a)
            twp_tag_str(v++, TWP_KEY(UPSTREAM_ADDRESS), a, len);
        else
            st = TW_ERR_NOMEM;    /* the other tags are still written */
    }
    if (resp->upstream_time_ms >= 0)
        twp_tag_int(v++, TWP_KEY(UPSTREAM_RESPONSE_TIME_MS), resp->upstream_time_ms);
    d->ntags += (uint32_t)(v - v0);
    return st;
}

tw_status tw_http_span_tag_response(tw_span *s, const tw_http_response *resp)
{
    if (!s || !resp || (!resp->upstream_addr && resp->upstream_addr_len))
        return TW_ERR_INVALID_ARG;
    size_t max;
    twp_span_data *d = twp_span_record(s, &max);
    if (!d)
        return tw_span_is_finished(s) ? TW_ERR_FINISHED : TW_OK;
    return response_tags(d, max, resp);
}

tw_status tw_http_span_finish(tw_span *s, const tw_http_response *resp, int64_t finish_us)
{
    if (!s)
        return TW_ERR_INVALID_ARG;
    if (resp) {
        if (!resp->upstream_addr && resp->upstream_addr_len)
            return TW_ERR_INVALID_ARG;
        /* a tag lost to memory still finishes the span; a finished span
         * says so below */
        size_t max;
        twp_span_data *d = twp_span_record(s, &max);
        if (d)
            (void)response_tags(d, max, resp);
    }
    return tw_span_finish(s, finish_us);
}
