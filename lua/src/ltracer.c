/* ltracer.c — tracewire.new_tracer and the tracer methods.
 *
 * Configuration is translated, never interpreted: the Lua table is flattened
 * with dots ({sampler={type="const"}} -> "sampler.type", {tags={region="eu"}}
 * -> "tags.region"); tw_config_from_env_for reads the environment under the
 * profile those pairs name (as the Python face does), then
 * tw_config_set_many applies the pairs in the core key table's order
 * (a Lua table has no order of its own). Arrays become comma lists;
 * `options = {...}` holds raw core keys. Every alias — jaeger_client's keys
 * as tracewire.Config takes them (local_agent.reporting_port,
 * reporter_flush_interval in seconds, ...), with profile = "jaeger_client"
 * for jaeger_client's meanings — is a row of the core's key table
 * (core/src/config_keys.c), so Lua and Python cannot drift apart.
 *
 * Propagation goes through tw_tracer_inject/extract. No Lua error may unwind
 * through the core, so inject first collects headers into a fresh plain
 * table (raw sets only) and copies them into the caller's carrier after the
 * core returned; extract's carrier walker only reads raw table slots.
 */
#include "twlua.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWL_KEY_MAX 128

void twl_box_release(twl_box *box)
{
    if (box == NULL || --box->refs > 0)
        return;
    tw_tracer_free(box->t);
    twl_diag_free(box->diag);   /* after the tracer: its hook points here */
    tw_config_free(box->cfg);
    free(box);
}

twl_tracer *twl_check_tracer(lua_State *L, int idx)
{
    twl_tracer *u = twl_checkudata(L, idx, TWL_UV_TRACER);
    if (u->box == NULL || u->box->t == NULL)
        luaL_argerror(L, idx, "tracer not initialised");
    twl_diag_emit(L, u->box->diag);   /* queued failures speak on the Lua thread */
    return u;
}

/* ------------------------------------------------------------ config */

/* Pushes the text form of a scalar config value at idx. */
static void push_config_text(lua_State *L, int idx, const char *key)
{
    char num[64];
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        lua_pushvalue(L, idx);
        return;
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
        return;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
#if TWL_HAVE_INTEGERS
        if (lua_isinteger(L, idx)) {
            snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
            lua_pushstring(L, num);
            return;
        }
#endif
        if (d == floor(d) && fabs(d) < 9007199254740992.0) {
            snprintf(num, sizeof num, "%.0f", d);
        } else {
            /* the shortest text that reads back as d, as Python's repr(): a
             * tag value 0.1 reads "0.1" from both faces */
            for (int prec = 1; prec <= 17; prec++) {
                snprintf(num, sizeof num, "%.*g", prec, d);
                if (strtod(num, NULL) == d)
                    break;
            }
        }
        lua_pushstring(L, num);
        return;
    }
    default:
        luaL_error(L, "tracewire.new_tracer: config key '%s' must be a string, number, boolean or table, got %s",
                   key, luaL_typename(L, idx));
    }
}

/* Array of scalars at idx -> "a,b,c" pushed. */
static void push_config_list(lua_State *L, int idx, const char *key)
{
    size_t n = lua_rawlen(L, idx);
    luaL_checkstack(L, 4, NULL);
    lua_pushliteral(L, "");
    for (size_t i = 1; i <= n; i++) {
        if (i > 1)
            lua_pushliteral(L, ",");
        lua_rawgeti(L, idx, (int)i);
        push_config_text(L, lua_gettop(L), key);
        lua_remove(L, -2);
        lua_concat(L, i > 1 ? 3 : 2);
    }
}

/* Raises the message for a refused key or value. */
static void config_error(lua_State *L, tw_status st, const char *key, const char *val)
{
    if (st == TW_ERR_UNSUPPORTED)
        luaL_error(L, "tracewire.new_tracer: unknown config key '%s'", key);
    if (st == TW_ERR_CONFIG) {
        /* quote at most 64 bytes: a 1 MB value must not become a 1 MB message */
        char shown[72];
        snprintf(shown, sizeof shown, "%.64s%s", val, strlen(val) > 64 ? "..." : "");
        luaL_error(L, "tracewire.new_tracer: bad value '%s' for config key '%s'", shown, key);
    }
    twl_status_error(L, st, "new_tracer");
}

/* Appends key = text at idx to the pair list at `pairs` (keys at 2i-1,
 * values at 2i). The core takes C strings: a value with a NUL byte would be
 * cut short silently, so it is refused. */
static void config_push_pair(lua_State *L, int pairs, const char *key, int idx)
{
    size_t n;
    const char *v = lua_tolstring(L, idx, &n);
    lua_Integer at = (lua_Integer)lua_rawlen(L, pairs);
    if (strlen(v) != n)
        luaL_error(L, "tracewire.new_tracer: config key '%s': value holds a NUL byte", key);
    lua_pushstring(L, key);
    lua_rawseti(L, pairs, at + 1);
    lua_pushvalue(L, idx);
    lua_rawseti(L, pairs, at + 2);
}

static int table_is_empty(lua_State *L, int idx)
{
    lua_pushnil(L);
    if (lua_next(L, idx) == 0)
        return 1;
    lua_pop(L, 2);
    return 0;
}

/* Flattens the table at idx into the pair list at `pairs`; an empty table
 * naming a group switch (tw_config_key_is_group) turns the group on. */
static void config_flatten(lua_State *L, int pairs, int idx, const char *prefix, int depth)
{
    if (depth > 3)
        luaL_error(L, "tracewire.new_tracer: config nested too deeply at '%s'", prefix);
    luaL_checkstack(L, 6, NULL);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        char full[TWL_KEY_MAX];
        int vidx = lua_gettop(L);
        size_t rawlen;
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "tracewire.new_tracer: config keys must be strings (under '%s')", prefix);
        if (strlen(lua_tolstring(L, -2, &rawlen)) != rawlen)
            luaL_error(L, "tracewire.new_tracer: config key '%s%s\\0...' holds a NUL byte", prefix,
                       lua_tostring(L, -2));
        if ((size_t)snprintf(full, sizeof full, "%s%s", prefix, lua_tostring(L, -2)) >= sizeof full)
            luaL_error(L, "tracewire.new_tracer: config key too long");

        if (lua_istable(L, vidx)) {
            if (depth == 0 && strcmp(full, "options") == 0) {
                config_flatten(L, pairs, vidx, "", depth + 1);    /* raw core keys */
            } else if (lua_rawlen(L, vidx) > 0) {
                push_config_list(L, vidx, full);
                config_push_pair(L, pairs, full, -1);
                lua_pop(L, 1);
            } else if (table_is_empty(L, vidx) && tw_config_key_is_group(full)) {
                /* a group a jaeger client turns on by its presence
                 * (throttler = {}); the core names the groups, for every face */
                lua_pushliteral(L, "true");
                config_push_pair(L, pairs, full, -1);
                lua_pop(L, 1);
            } else {
                char sub[TWL_KEY_MAX + 1];
                size_t kl = strlen(full);      /* < TWL_KEY_MAX: checked above */
                memcpy(sub, full, kl);
                sub[kl] = '.';
                sub[kl + 1] = '\0';
                config_flatten(L, pairs, vidx, sub, depth + 1);
            }
        } else {
            push_config_text(L, vidx, full);
            config_push_pair(L, pairs, full, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* Applies the table at idx (and the service name at name_idx, which wins)
 * to cfg as one tw_config_set_many. */
static void config_apply(lua_State *L, tw_config *cfg, int idx, int name_idx)
{
    int pairs;
    size_t n, bad = 0;
    tw_status st;
    const char **kv, *badvar = NULL;
    lua_newtable(L);
    pairs = lua_gettop(L);
    if (idx)
        config_flatten(L, pairs, idx, "", 0);
    n = lua_rawlen(L, pairs) / 2;
    /* the strings stay referenced by `pairs` until the call returns */
    kv = lua_newuserdata(L, (2 * n + 1) * sizeof *kv);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, pairs, (lua_Integer)(2 * i + 1));
        kv[i] = lua_tostring(L, -1);
        lua_rawgeti(L, pairs, (lua_Integer)(2 * i + 2));
        kv[n + i] = lua_tostring(L, -1);
        lua_pop(L, 2);
    }
    /* the environment as these pairs mean it (their profile first), as the
     * Python face reads it: one core function for both */
    st = tw_config_from_env_for(cfg, n, kv, kv + n, &badvar);
    if (st == TW_ERR_CONFIG)
        fprintf(stderr, "tracewire: ignoring malformed environment variable %s\n", badvar ? badvar : "?");
    else if (st != TW_OK)
        twl_status_error(L, st, "new_tracer (environment)");
    st = tw_config_set_many(cfg, n, kv, kv + n, &bad);
    if (st != TW_OK)
        config_error(L, st, kv[bad], kv[n + bad]);
    if (name_idx) {
        size_t len;
        const char *name = lua_tolstring(L, name_idx, &len);
        if (strlen(name) != len)
            luaL_error(L, "tracewire.new_tracer: config key 'service_name': value holds a NUL byte");
        st = tw_config_set(cfg, "service_name", name);
        if (st != TW_OK)
            config_error(L, st, "service_name", name);
    }
    lua_pop(L, 2);
}

/* tracewire.new_tracer([service_name, ]{...}) -> tracer */
int twl_new_tracer(lua_State *L)
{
    int name_idx = 0, cfg_idx = 1;
    twl_tracer *u;
    tw_status st;

    if (lua_type(L, 1) == LUA_TSTRING) {
        name_idx = 1;
        cfg_idx = 2;
    }
    if (!lua_isnoneornil(L, cfg_idx) && !lua_istable(L, cfg_idx))
        return luaL_argerror(L, cfg_idx, "config must be a table");
    lua_settop(L, 2);

    u = twl_newuserdata(L, sizeof *u);
    u->box = NULL;
    twl_setmetatable(L, TWL_UV_TRACER);
    u->box = calloc(1, sizeof *u->box);
    if (u->box == NULL)
        return twl_status_error(L, TW_ERR_NOMEM, "new_tracer");
    u->box->refs = 1;
    st = tw_config_new(&u->box->cfg);
    if (st != TW_OK)
        return twl_status_error(L, st, "new_tracer");
    config_apply(L, u->box->cfg, lua_istable(L, cfg_idx) ? cfg_idx : 0, name_idx);
    u->box->diag = twl_diag_new(L);
    if (u->box->diag == NULL)
        return twl_status_error(L, TW_ERR_NOMEM, "new_tracer");
    tw_config_set_diagnostics(u->box->cfg, twl_diag_hook, u->box->diag);
    st = tw_tracer_new(u->box->cfg, &u->box->t);
    if (st != TW_OK)
        return twl_status_error(L, st, "new_tracer");
    return 1;
}

/* ------------------------------------------------------------ propagation */

enum { FMT_TEXT, FMT_BINARY };

static int check_format(lua_State *L, int idx)
{
    size_t n;
    const char *f = luaL_checklstring(L, idx, &n);
    if (n == strlen(f)) {          /* "binary\0..." is not "binary" */
        if (strcmp(f, "http_headers") == 0 || strcmp(f, "text_map") == 0)
            return FMT_TEXT;
        if (strcmp(f, "binary") == 0)
            return FMT_BINARY;
    }
    return luaL_argerror(L, idx, "format must be \"http_headers\", \"text_map\" or \"binary\"");
}

/* inject collects the headers on the C stack (no Lua API call inside the
 * core's callback, no temporary table); a context too big for it (lots of
 * baggage) goes through a temporary Lua table instead. */
#define TWL_INJECT_BYTES 2048
#define TWL_INJECT_HEADERS 16

typedef struct hdrbuf {
    size_t used;
    int n, overflow;
    struct { uint32_t koff, klen, voff, vlen; } h[TWL_INJECT_HEADERS];
    char data[TWL_INJECT_BYTES];
} hdrbuf;

static int collect_header_buf(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    hdrbuf *b = ud;
    if (b->overflow || b->n == TWL_INJECT_HEADERS || kl + vl > TWL_INJECT_BYTES - b->used) {
        b->overflow = 1;
        return 1;
    }
    b->h[b->n].koff = (uint32_t)b->used;
    b->h[b->n].klen = (uint32_t)kl;
    memcpy(b->data + b->used, k, kl);
    b->used += kl;
    b->h[b->n].voff = (uint32_t)b->used;
    b->h[b->n].vlen = (uint32_t)vl;
    memcpy(b->data + b->used, v, vl);
    b->used += vl;
    b->n++;
    return 0;
}

/* Hands one header (key at -2, value at -1, both popped) to the carrier at 4. */
static void deliver_header(lua_State *L)
{
    if (lua_istable(L, 4)) {
        lua_settable(L, 4);
    } else {
        lua_pushvalue(L, 4);
        lua_insert(L, -3);
        lua_call(L, 2, 0);
    }
}

static int collect_header(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    lua_State *L = ud;
    lua_pushlstring(L, k, kl);
    lua_pushlstring(L, v, vl);
    lua_rawset(L, -3);
    return 0;
}

/* tracer:inject(span_or_ctx, format, carrier) -> carrier
 * http_headers/text_map: carrier is a table (headers are assigned) or a
 * function called as carrier(name, value) (e.g. ngx.req.set_header).
 * binary: no carrier; returns the encoded string. */
static int tracer_inject(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    const tw_span_context *c = twl_to_context(L, 2);
    int fmt = check_format(L, 3);
    tw_status st;

    if (c == NULL)
        return luaL_argerror(L, 2, "span or span context expected");
    if (fmt == FMT_BINARY) {
        char *buf = NULL;
        size_t len = 0;
        st = tw_span_context_to_binary(c, &buf, &len);
        if (st != TW_OK)
            return twl_status_error(L, st, "inject");
        lua_pushlstring(L, buf, len);
        tw_free(buf);
        return 1;
    }
    if (!lua_istable(L, 4) && !lua_isfunction(L, 4))
        return luaL_argerror(L, 4, "carrier must be a table or a function(name, value)");
    lua_settop(L, 4);
    luaL_checkstack(L, 6, NULL);
    {
        hdrbuf b;
        b.used = 0;
        b.n = 0;
        b.overflow = 0;
        st = tw_tracer_inject(tr->box->t, c, TW_PROP_DEFAULT, collect_header_buf, &b);
        if (!b.overflow) {
            if (st != TW_OK)
                return twl_status_error(L, st, "inject");
            for (int i = 0; i < b.n; i++) {
                lua_pushlstring(L, b.data + b.h[i].koff, b.h[i].klen);
                lua_pushlstring(L, b.data + b.h[i].voff, b.h[i].vlen);
                deliver_header(L);
            }
            return 1;
        }
    }
    lua_createtable(L, 0, 8);              /* 5: collected headers */
    st = tw_tracer_inject(tr->box->t, c, TW_PROP_DEFAULT, collect_header, L);
    if (st != TW_OK)
        return twl_status_error(L, st, "inject");
    lua_pushnil(L);
    while (lua_next(L, 5) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        deliver_header(L);
    }
    lua_settop(L, 4);
    return 1;
}

typedef struct walk { lua_State *L; int idx; } walk;

/* Carrier walker: raw reads only (no metamethods, no allocation), so no Lua
 * error can unwind through the core. String values are visited once; array
 * values (repeated headers from ngx.req.get_headers()) once per string. */
static int walk_carrier(void *carrier, tw_kv_fn visit, void *ud)
{
    walk *w = carrier;
    lua_State *L = w->L;
    if (!lua_checkstack(L, 4))
        return 1;
    lua_pushnil(L);
    while (lua_next(L, w->idx) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t kl, vl;
            const char *k = lua_tolstring(L, -2, &kl);
            int rc = 0;
            if (lua_type(L, -1) == LUA_TSTRING) {
                const char *v = lua_tolstring(L, -1, &vl);
                rc = visit(ud, k, kl, v, vl);
            } else if (lua_istable(L, -1)) {
                size_t n = lua_rawlen(L, -1);
                for (size_t i = 1; i <= n && rc == 0; i++) {
                    lua_rawgeti(L, -1, (int)i);
                    if (lua_type(L, -1) == LUA_TSTRING) {
                        const char *v = lua_tolstring(L, -1, &vl);
                        rc = visit(ud, k, kl, v, vl);
                    }
                    lua_pop(L, 1);
                }
            }
            if (rc != 0) {
                lua_pop(L, 2);
                return 0;
            }
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* tracer:extract(format, carrier) -> context | nil, message, code
 * code is "not_found" when the carrier holds no context header of the
 * enabled formats, "corrupted" when one is present but malformed (or two
 * formats disagree), else "error". Raises only for wrong argument types. */
static int tracer_extract(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    int fmt = check_format(L, 2);
    twl_context *u;
    tw_status st;

    if (fmt == FMT_BINARY) {
        size_t len;
        const char *buf;
        if (lua_type(L, 3) != LUA_TSTRING)
            return luaL_argerror(L, 3, "binary carrier must be a string");
        buf = lua_tolstring(L, 3, &len);
        u = twl_new_context(L);
        st = tw_span_context_from_binary(buf, len, &u->c);
    } else {
        walk w;
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_settop(L, 3);
        w.L = L;
        w.idx = 3;
        u = twl_new_context(L);            /* 4 */
        st = tw_tracer_extract(tr->box->t, TW_PROP_DEFAULT, walk_carrier, &w, &u->c);
        lua_settop(L, 4);
    }
    if (st != TW_OK) {
        lua_pushnil(L);
        lua_pushstring(L, tw_strerror(st));
        lua_pushstring(L, st == TW_ERR_NOT_FOUND ? "not_found"
                          : st == TW_ERR_CORRUPTED ? "corrupted" : "error");
        return 3;
    }
    return 1;
}

/* ------------------------------------------------------------ lifecycle */

static int push_result(lua_State *L, tw_status st)
{
    if (st == TW_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, tw_strerror(st));
    return 2;
}

/* tracer:flush([timeout_s=2]) -> true | nil, message. Blocks up to timeout:
 * never call it from an nginx request handler. */
static int tracer_flush(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    return push_result(L, tw_tracer_flush(tr->box->t, twl_check_timeout_ms(L, 2, 2000)));
}

/* tracer:close([timeout_s=2]) -> true | nil, message. Idempotent. */
static int tracer_close(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    return push_result(L, tw_tracer_close(tr->box->t, twl_check_timeout_ms(L, 2, 2000)));
}

static int tracer_counters(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    tw_counters c;
    tw_tracer_counters(tr->box->t, &c);
    const char *name;
    uint64_t v;
    lua_createtable(L, 0, 24);
    /* every counter the core names (tw_counters_at): a new one needs no edit here */
    for (size_t i = 0; tw_counters_at(&c, i, &name, &v); i++) {
        twl_push_u64(L, v);
        lua_setfield(L, -2, name);
    }
    return 1;
}

/* tracer:memory_spans([clear]) -> JSON string (memory reporter only). */
static int tracer_memory_spans(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    char *json = NULL;
    tw_status st = tw_tracer_memory_spans(tr->box->t, lua_toboolean(L, 2), &json);
    if (st != TW_OK)
        return twl_status_error(L, st, "memory_spans");
    lua_pushstring(L, json);
    tw_free(json);
    return 1;
}

static int tracer_service_name(lua_State *L)
{
    lua_pushstring(L, tw_tracer_service_name(twl_check_tracer(L, 1)->box->t));
    return 1;
}

/* tracer:config(key) -> the effective value as text | nil, message (a key
 * holding a NUL byte is unknown, not cut short). */
static int tracer_config(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    char buf[1024];
    size_t kl;
    const char *key = luaL_checklstring(L, 2, &kl);
    tw_status st = strlen(key) != kl ? TW_ERR_UNSUPPORTED
                                     : tw_config_get(tr->box->cfg, key, buf, sizeof buf);
    if (st != TW_OK) {
        lua_pushnil(L);
        lua_pushstring(L, tw_strerror(st));
        return 2;
    }
    lua_pushstring(L, buf);
    return 1;
}

/* tracer:diagnostics() -> n: emits the failures queued for ngx.log now
 * (OpenResty; elsewhere they went to stderr as they happened). */
static int tracer_diagnostics(lua_State *L)
{
    twl_tracer *u = twl_checkudata(L, 1, TWL_UV_TRACER);
    lua_pushinteger(L, u->box ? twl_diag_emit(L, u->box->diag) : 0);
    return 1;
}

static int tracer_gc(lua_State *L)
{
    twl_tracer *u = twl_checkudata(L, 1, TWL_UV_TRACER);
    twl_box_release(u->box);
    u->box = NULL;
    return 0;
}

#if TWL_HAVE_CLOSE
static int tracer_close_scope(lua_State *L)
{
    twl_tracer *u = twl_checkudata(L, 1, TWL_UV_TRACER);
    if (u->box != NULL && u->box->t != NULL)
        tw_tracer_close(u->box->t, 2000);
    return 0;
}
#endif

static int tracer_tostring(lua_State *L)
{
    twl_tracer *u = twl_checkudata(L, 1, TWL_UV_TRACER);
    lua_pushfstring(L, "tracewire.tracer '%s'",
                    u->box && u->box->t ? tw_tracer_service_name(u->box->t) : "?");
    return 1;
}

static const luaL_Reg tracer_methods[] = {
    {"start_span", twl_span_start},
    {"start_http_span", twl_start_http_span},
    {"header_names", twl_tracer_header_names},
    {"inject", tracer_inject},
    {"extract", tracer_extract},
    {"flush", tracer_flush},
    {"close", tracer_close},
    {"counters", tracer_counters},
    {"memory_spans", tracer_memory_spans},
    {"service_name", tracer_service_name},
    {"config", tracer_config},
    {"diagnostics", tracer_diagnostics},
    {"__gc", tracer_gc},
#if TWL_HAVE_CLOSE
    {"__close", tracer_close_scope},
#endif
    {"__tostring", tracer_tostring},
    {NULL, NULL}
};

void twl_tracer_open(lua_State *L)
{
    luaL_getmetatable(L, TWL_TRACER_MT);
    twl_setfuncs(L, tracer_methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
