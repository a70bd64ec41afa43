/* lhttp.c — the gateway fast path: one server span from a raw HTTP/1.x
 * request head, and its status at the end.
 *
 * tracewire.nginx calls these once per request instead of building a table
 * of every header (ngx.req.get_headers), reading nginx variables (each read
 * costs thousands of instructions in ngx_lua) and crossing into C once per
 * tag: the head string crosses once, the core's tw_http_head carrier feeds
 * extract, and the span, its name and its tags are made here. Nothing here
 * is nginx-specific beyond the defaults.
 */
#include "twlua.h"

#include <string.h>

/* The head as extract's carrier, noting the Host header on the way: one
 * walk over the head serves both. */
typedef struct head_walk {
    tw_http_head head;
    tw_kv_fn visit;
    void *visit_ud;
    const char *host;
    size_t host_len;
} head_walk;

static int note_host(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    head_walk *w = ud;
    if (kl == 4 && w->host == NULL && (k[0] | 0x20) == 'h' && (k[1] | 0x20) == 'o' &&
        (k[2] | 0x20) == 's' && (k[3] | 0x20) == 't') {
        w->host = v;
        w->host_len = vl;
    }
    return w->visit(w->visit_ud, k, kl, v, vl);
}

static int walk_head(void *carrier, tw_kv_fn visit, void *ud)
{
    head_walk *w = carrier;
    w->visit = visit;
    w->visit_ud = ud;
    return tw_http_head_foreach(&w->head, note_host, w);
}

static void set_str_tag(tw_span *s, const char *key, size_t klen, const char *val, size_t vlen)
{
    tw_field f;
    f.key = key;
    f.key_len = klen;
    f.type = TW_VAL_STRING;
    f.v.str.ptr = val;
    f.v.str.len = vlen;
    tw_span_set_tag(s, &f);
}

/* tracer:start_http_span(head[, scheme="http"[, component="nginx"[, start_ts]]])
 *   -> span, found   found: the head carried a context header of an enabled
 *                    format (continued, or corrupted and ignored)
 *   -> nil, message  when the head has no valid request line
 * The span is a server span named "METHOD /path" (the target without its
 * query), child of the context found in the head; sampled spans get
 * component, http.method and http.url (scheme://Host + target). */
int twl_start_http_span(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    head_walk w;
    const char *method, *target, *scheme, *component, *q;
    size_t mlen, tlen, slen, clen, plen, nlen;
    char name[TWL_MAX_NAME];
    int64_t start_us;
    tw_span_context *parent = NULL;
    tw_span_ref ref;
    tw_status st;
    twl_span *u;
    int found;

    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_argerror(L, 2, "raw request head must be a string");
    w.head.data = lua_tolstring(L, 2, &w.head.len);
    w.host = NULL;
    w.host_len = 0;
    scheme = luaL_optlstring(L, 3, "http", &slen);
    component = luaL_optlstring(L, 4, "nginx", &clen);
    start_us = twl_check_timestamp(L, 5, 5);

    if (tw_http_head_request_line(&w.head, &method, &mlen, &target, &tlen) != TW_OK) {
        lua_pushnil(L);
        lua_pushliteral(L, "tracewire: start_http_span: no valid HTTP/1.x request line");
        return 2;
    }
    q = memchr(target, '?', tlen);
    plen = q ? (size_t)(q - target) : tlen;
    /* "METHOD /path", cut to the binding's name bound (a long URI must not
     * turn a request into a Lua error) */
    nlen = mlen < sizeof name ? mlen : sizeof name;
    memcpy(name, method, nlen);
    if (nlen < sizeof name)
        name[nlen++] = ' ';
    if (plen > sizeof name - nlen)
        plen = sizeof name - nlen;
    memcpy(name + nlen, target, plen);
    nlen += plen;

    /* The userdata first, as in start_span: nothing below may raise while
     * parent (ours to free) is held. */
    u = twl_newuserdata(L, sizeof *u);
    u->s = NULL;
    u->box = NULL;
    twl_setmetatable(L, TWL_UV_SPAN);
    st = tw_tracer_extract(tr->box->t, TW_PROP_DEFAULT, walk_head, &w, &parent);
    found = st != TW_ERR_NOT_FOUND;
    ref.type = TW_REF_CHILD_OF;
    ref.ctx = parent;
    st = tw_span_start(tr->box->t, name, nlen, parent ? &ref : NULL, parent ? 1 : 0, start_us, &u->s);
    tw_span_context_free(parent);
    if (st != TW_OK)
        return twl_status_error(L, st, "start_http_span");
    u->box = tr->box;
    tr->box->refs++;

    tw_span_set_kind(u->s, TW_KIND_SERVER);
    if (tw_span_context_flags(tw_span_get_context(u->s)) & TW_FLAG_SAMPLED) {
        set_str_tag(u->s, "component", 9, component, clen);
        set_str_tag(u->s, "http.method", 11, method, mlen);
        /* http.url: absolute-form targets are URLs already */
        if (target[0] != '/' || w.host == NULL) {
            set_str_tag(u->s, "http.url", 8, target, tlen);
        } else {
            char small[1024];
            size_t ulen = slen + 3 + w.host_len + tlen;
            char *url = ulen <= sizeof small ? small : twl_newuserdata(L, ulen);
            memcpy(url, scheme, slen);
            memcpy(url + slen, "://", 3);
            memcpy(url + slen + 3, w.host, w.host_len);
            memcpy(url + slen + 3 + w.host_len, target, tlen);
            set_str_tag(u->s, "http.url", 8, url, ulen);
            if (url != small)
                lua_pop(L, 1);
        }
    }
    lua_pushboolean(L, found);
    return 2;
}

/* span:finish_http(status[, finish_ts]) -> true, or false when already
 * finished. Tags http.status_code and, for 5xx, error=true (sampled spans
 * only: an unsampled span records nothing). */
int twl_span_finish_http(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    lua_Integer status;
    lua_Number d;
    int64_t ts;
    if (!lua_isnumber(L, 2))
        return luaL_argerror(L, 2, "HTTP status must be a number");
    /* Range first, on the number itself: lua_tointeger gives 0 for 200.5 or
     * NaN in Lua 5.4, and LuaJIT's cast of 1e300 is undefined. */
    d = lua_tonumber(L, 2);
    if (!(d >= 0 && d <= 999))
        return luaL_argerror(L, 2, "HTTP status out of range 0..999");
    status = (lua_Integer)d;
    if ((lua_Number)status != d)
        return luaL_argerror(L, 2, "HTTP status must be an integer");
    ts = twl_check_timestamp(L, 3, 3);
    if (!tw_span_is_finished(u->s) && (tw_span_context_flags(tw_span_get_context(u->s)) & TW_FLAG_SAMPLED)) {
        tw_span_set_tag_int(u->s, "http.status_code", (int64_t)status);
        if (status >= 500)
            tw_span_set_tag_bool(u->s, "error", 1);
    }
    return twl_push_finish(L, tw_span_finish(u->s, ts), "finish_http");
}
