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

/* tracer:start_http_span(head[, scheme="http"[, component="nginx"[, start_ts]]])
 *   -> span, extract_result   ("ok" | "not_found" | "corrupted")
 *   -> nil, message           when the head has no valid request line
 * The span is a server span named "METHOD /path" (the target without its
 * query), child of the context found in the head; sampled spans get
 * component, http.method and http.url (scheme://Host + target). */
int twl_start_http_span(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    tw_http_head head;
    const char *method, *target, *host, *scheme, *component, *q;
    size_t mlen, tlen, hlen, slen, clen, plen, nlen;
    char name[TWL_MAX_NAME];
    int64_t start_us;
    tw_span_context *parent = NULL;
    tw_span_ref ref;
    tw_status st;
    twl_span *u;
    const char *code;

    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_argerror(L, 2, "raw request head must be a string");
    head.data = lua_tolstring(L, 2, &head.len);
    scheme = luaL_optlstring(L, 3, "http", &slen);
    component = luaL_optlstring(L, 4, "nginx", &clen);
    start_us = twl_check_timestamp(L, 5, 5);

    if (tw_http_head_request_line(&head, &method, &mlen, &target, &tlen) != TW_OK) {
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
    st = tw_tracer_extract(tr->box->t, TW_PROP_DEFAULT, tw_http_head_foreach, &head, &parent);
    code = st == TW_OK ? "ok" : st == TW_ERR_NOT_FOUND ? "not_found" : "corrupted";
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
        tw_field f[3];
        luaL_Buffer b;
        f[0].key = "component";
        f[0].key_len = 9;
        f[0].type = TW_VAL_STRING;
        f[0].v.str.ptr = component;
        f[0].v.str.len = clen;
        f[1].key = "http.method";
        f[1].key_len = 11;
        f[1].type = TW_VAL_STRING;
        f[1].v.str.ptr = method;
        f[1].v.str.len = mlen;
        tw_span_set_tag(u->s, &f[0]);
        tw_span_set_tag(u->s, &f[1]);
        /* http.url: absolute form targets are already URLs */
        f[2].key = "http.url";
        f[2].key_len = 8;
        f[2].type = TW_VAL_STRING;
        if (target[0] != '/' || tw_http_head_header(&head, "host", &host, &hlen) != TW_OK) {
            f[2].v.str.ptr = target;
            f[2].v.str.len = tlen;
            tw_span_set_tag(u->s, &f[2]);
        } else {
            luaL_buffinit(L, &b);
            luaL_addlstring(&b, scheme, slen);
            luaL_addlstring(&b, "://", 3);
            luaL_addlstring(&b, host, hlen);
            luaL_addlstring(&b, target, tlen);
            luaL_pushresult(&b);
            f[2].v.str.ptr = lua_tolstring(L, -1, &f[2].v.str.len);
            tw_span_set_tag(u->s, &f[2]);
            lua_pop(L, 1);
        }
    }
    lua_pushstring(L, code);
    return 2;
}

/* span:finish_http(status[, finish_ts]) -> true, or false when already
 * finished. Tags http.status_code and, for 5xx, error=true (sampled spans
 * only: an unsampled span records nothing). */
int twl_span_finish_http(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    lua_Integer status;
    int64_t ts;
    tw_status st;
    if (!lua_isnumber(L, 2))
        return luaL_argerror(L, 2, "HTTP status must be a number");
    status = lua_tointeger(L, 2);
    if (status < 0 || status > 999)
        return luaL_argerror(L, 2, "HTTP status out of range 0..999");
    ts = twl_check_timestamp(L, 3, 3);
    if (!tw_span_is_finished(u->s) && (tw_span_context_flags(tw_span_get_context(u->s)) & TW_FLAG_SAMPLED)) {
        tw_span_set_tag_int(u->s, "http.status_code", (int64_t)status);
        if (status >= 500)
            tw_span_set_tag_bool(u->s, "error", 1);
    }
    st = tw_span_finish(u->s, ts);
    if (st == TW_ERR_FINISHED) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (st != TW_OK)
        return twl_status_error(L, st, "finish_http");
    lua_pushboolean(L, 1);
    return 1;
}
