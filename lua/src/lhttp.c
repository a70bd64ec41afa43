/* lhttp.c — the gateway fast path: one server span from a raw HTTP/1.x
 * request head, and its status at the end.
 *
 * tracewire.nginx calls these once per request instead of building a table
 * of every header (ngx.req.get_headers), reading nginx variables (each read
 * costs thousands of instructions in ngx_lua) and crossing into C once per
 * tag: the head string crosses once, the core's tw_http_head carrier feeds
 * extract, and the core's one-call pair (tw_http_span_start / _finish, the
 * native nginx module's too) names, starts, tags and finishes the span; the
 * general path (span:set_http_request) gets the same tags. Also
 * tracer:header_names, the propagation headers a gateway clears before it
 * injects. Nothing here is nginx-specific beyond the defaults.
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
    const char *method, *target;
    size_t mlen, tlen;
    int64_t start_us;
    tw_span_context *parent = NULL;
    tw_http_request req;
    tw_status st;
    twl_span *u;
    int found;

    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_argerror(L, 2, "raw request head must be a string");
    w.head.data = lua_tolstring(L, 2, &w.head.len);
    w.host = NULL;
    w.host_len = 0;
    req.scheme = luaL_optlstring(L, 3, "http", &req.scheme_len);
    req.component = luaL_optlstring(L, 4, "nginx", &req.component_len);
    start_us = twl_check_timestamp(L, 5, 5);

    if (tw_http_head_request_line(&w.head, &method, &mlen, &target, &tlen) != TW_OK) {
        lua_pushnil(L);
        lua_pushliteral(L, "tracewire: start_http_span: no valid HTTP/1.x request line");
        return 2;
    }

    /* The userdata first, as in start_span: nothing below may raise while
     * parent (ours to free) is held. */
    u = twl_newuserdata(L, sizeof *u);
    u->s = NULL;
    u->box = NULL;
    twl_setmetatable(L, TWL_UV_SPAN);
    st = tw_tracer_extract(tr->box->t, TW_PROP_DEFAULT, walk_head, &w, &parent);
    found = st != TW_ERR_NOT_FOUND;
    /* the core names it "METHOD /path" (borrowed from the head's request
     * line), starts it and tags it, in one call */
    req.method = method;
    req.method_len = mlen;
    req.target = target;
    req.target_len = tlen;
    req.host = w.host;
    req.host_len = w.host_len;
    st = tw_http_span_start(tr->box->t, &req, NULL, 0, parent, start_us, &u->s);
    tw_span_context_free(parent);
    if (st != TW_OK)
        return twl_status_error(L, st, "start_http_span");
    u->box = tr->box;
    tr->box->refs++;
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
    tw_http_response resp = {(int64_t)status, NULL, 0, -1};
    return twl_push_finish(L, tw_http_span_finish(u->s, &resp, ts), "finish_http");
}

/* span:set_http_request(method, target[, host[, scheme="http"[, component="nginx"]]])
 *   -> span
 * The server-span tags of start_http_span for a span started otherwise (a
 * request whose raw head is not available: HTTP/2, HTTP/3, or a start_span
 * with caller-chosen name or tags). */
int twl_span_set_http_request(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    tw_http_request req;
    memset(&req, 0, sizeof req);
    req.method = luaL_checklstring(L, 2, &req.method_len);
    req.target = luaL_checklstring(L, 3, &req.target_len);
    req.host = luaL_optlstring(L, 4, NULL, &req.host_len);
    req.scheme = luaL_optlstring(L, 5, "http", &req.scheme_len);
    req.component = luaL_optlstring(L, 6, "nginx", &req.component_len);
    tw_status st = tw_span_set_http_request(u->s, &req);
    if (st != TW_OK && st != TW_ERR_FINISHED)
        return twl_status_error(L, st, "set_http_request");
    lua_settop(L, 1);
    return 1;
}

typedef struct names_ud {
    lua_State *L;
    int names, prefixes;      /* stack indexes of the two result tables */
    int nprefixes;
} names_ud;

static int add_name(void *ud, const char *name, size_t len, int is_prefix)
{
    names_ud *n = ud;
    lua_pushlstring(n->L, name, len);
    if (is_prefix) {
        lua_rawseti(n->L, n->prefixes, ++n->nprefixes);
    } else {
        lua_pushboolean(n->L, 1);
        lua_rawset(n->L, n->names);
    }
    return 0;
}

/* tracer:header_names([which]) -> names, prefixes
 * names: { [lower-case header name] = true }, prefixes: { "uberctx-", ... }
 * for the formats this tracer extracts or injects (which = nil) or for every
 * format tracewire knows (which = "all"), with the configured Jaeger names. */
int twl_tracer_header_names(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    unsigned formats = TW_PROP_DEFAULT;
    if (!lua_isnoneornil(L, 2)) {
        const char *which = luaL_checkstring(L, 2);
        if (strcmp(which, "all") != 0)
            return luaL_argerror(L, 2, "expected \"all\" or nil");
        formats = TW_PROP_ALL;
    }
    names_ud n = { L, 0, 0, 0 };
    lua_createtable(L, 0, 16);
    n.names = lua_gettop(L);
    lua_createtable(L, 1, 0);
    n.prefixes = lua_gettop(L);
    tw_status st = tw_tracer_header_names(tr->box->t, formats, add_name, &n);
    if (st != TW_OK)
        return twl_status_error(L, st, "header_names");
    return 2;
}

/* tracewire.header_names() -> names, prefixes: as tracer:header_names("all")
 * but without a tracer, under the default names (uber-trace-id, "uberctx-"):
 * the stream entry fields redisq reads back as the carrier, the list the
 * Redis module uses. */
int twl_header_names(lua_State *L)
{
    names_ud n = { L, 0, 0, 0 };
    lua_createtable(L, 0, 16);
    n.names = lua_gettop(L);
    lua_createtable(L, 1, 0);
    n.prefixes = lua_gettop(L);
    tw_status st = tw_header_names(TW_PROP_ALL, add_name, &n);
    if (st != TW_OK)
        return twl_status_error(L, st, "header_names");
    return 2;
}
