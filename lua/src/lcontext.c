/* lcontext.c — tracewire.context: an immutable span context as Lua sees it.
 *
 * Ids cross into Lua only as lower-case hex strings: a 64-bit id does not fit
 * a double (LuaJIT) and is easier to log and compare as text. A context
 * userdata owns its tw_span_context (a deep copy), so it outlives the span
 * or tracer it came from.
 */
#include "twlua.h"

twl_context *twl_new_context(lua_State *L)
{
    twl_context *u = twl_newuserdata(L, sizeof *u);
    u->c = NULL;
    twl_setmetatable(L, TWL_UV_CONTEXT);
    return u;
}

const tw_span_context *twl_to_context(lua_State *L, int idx)
{
    void *p = lua_touserdata(L, idx);
    const tw_span_context *c = NULL;
    if (p == NULL || !lua_getmetatable(L, idx))
        return NULL;
    if (lua_rawequal(L, -1, lua_upvalueindex(TWL_UV_SPAN))) {
        if (((twl_span *)p)->s != NULL)
            c = tw_span_get_context(((twl_span *)p)->s);
    } else if (lua_rawequal(L, -1, lua_upvalueindex(TWL_UV_CONTEXT))) {
        c = ((twl_context *)p)->c;
    }
    lua_pop(L, 1);
    return c;
}

/* Shared by context and span methods: the first argument is either. */
static const tw_span_context *check_any(lua_State *L)
{
    const tw_span_context *c = twl_to_context(L, 1);
    if (c == NULL)
        luaL_argerror(L, 1, "span or span context expected");
    return c;
}

static int ctx_trace_id(lua_State *L)
{
    const tw_span_context *c = check_any(L);
    char buf[33];
    uint64_t hi, lo;
    tw_span_context_trace_id(c, &hi, &lo);
    if (hi == 0 && lo == 0) {     /* baggage-only context: no ids */
        lua_pushnil(L);
        return 1;
    }
    tw_span_context_trace_id_hex(c, buf);
    lua_pushstring(L, buf);
    return 1;
}

static int ctx_span_id(lua_State *L)
{
    const tw_span_context *c = check_any(L);
    char buf[17];
    if (tw_span_context_span_id(c) == 0) {
        lua_pushnil(L);
        return 1;
    }
    tw_span_context_span_id_hex(c, buf);
    lua_pushstring(L, buf);
    return 1;
}

static int ctx_parent_id(lua_State *L)
{
    const tw_span_context *c = check_any(L);
    uint64_t p = tw_span_context_parent_id(c);
    char buf[17];
    static const char hex[] = "0123456789abcdef";
    if (p == 0) {
        lua_pushnil(L);
        return 1;
    }
    for (int i = 15; i >= 0; i--, p >>= 4)
        buf[i] = hex[p & 0xf];
    buf[16] = '\0';
    lua_pushstring(L, buf);
    return 1;
}

static int ctx_flags(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)tw_span_context_flags(check_any(L)));
    return 1;
}

static int ctx_is_sampled(lua_State *L)
{
    lua_pushboolean(L, (tw_span_context_flags(check_any(L)) & TW_FLAG_SAMPLED) != 0);
    return 1;
}

static int ctx_get_baggage_item(lua_State *L)
{
    const tw_span_context *c = check_any(L);
    size_t kl, vl;
    const char *k = luaL_checklstring(L, 2, &kl), *v;
    if (tw_span_context_baggage(c, k, kl, &v, &vl) != TW_OK) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, v, vl);
    return 1;
}

/* The callback only does raw sets into a fresh table, which raise nothing
 * but out-of-memory errors, so no Lua error unwinds through the core. */
static int put_kv(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    lua_State *L = ud;
    lua_pushlstring(L, k, kl);
    lua_pushlstring(L, v, vl);
    lua_rawset(L, -3);
    return 0;
}

/* ctx:baggage() -> a new table of every baggage item. */
static int ctx_baggage(lua_State *L)
{
    const tw_span_context *c = check_any(L);
    lua_newtable(L);
    luaL_checkstack(L, 3, NULL);
    tw_span_context_foreach_baggage(c, put_kv, L);
    return 1;
}

/* for k, v in ctx:each_baggage_item() do ... end (opentracing-lua name). */
static int ctx_each_baggage_item(lua_State *L)
{
    lua_getglobal(L, "next");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return luaL_error(L, "tracewire: each_baggage_item needs the global 'next'");
    }
    ctx_baggage(L);
    lua_pushnil(L);
    return 3;
}

static int ctx_tostring(lua_State *L)
{
    twl_context *u = twl_checkudata(L, 1, TWL_UV_CONTEXT);
    char t[33], s[17];
    if (u->c == NULL) {
        lua_pushliteral(L, "tracewire.context (freed)");
        return 1;
    }
    tw_span_context_trace_id_hex(u->c, t);
    tw_span_context_span_id_hex(u->c, s);
    lua_pushfstring(L, "tracewire.context %s:%s:%d", t, s, (int)tw_span_context_flags(u->c));
    return 1;
}

static int ctx_gc(lua_State *L)
{
    twl_context *u = twl_checkudata(L, 1, TWL_UV_CONTEXT);
    tw_span_context_free(u->c);
    u->c = NULL;
    return 0;
}

/* Also used as span methods (lspan.c registers the same functions). */
const luaL_Reg twl_context_readers[] = {
    {"trace_id", ctx_trace_id},
    {"span_id", ctx_span_id},
    {"parent_id", ctx_parent_id},
    {"flags", ctx_flags},
    {"is_sampled", ctx_is_sampled},
    {"baggage", ctx_baggage},
    {"each_baggage_item", ctx_each_baggage_item},
    {"get_baggage_item", ctx_get_baggage_item},
    {NULL, NULL}
};

static const luaL_Reg ctx_methods[] = {
    {"__tostring", ctx_tostring},
    {"__gc", ctx_gc},
    {NULL, NULL}
};

void twl_context_open(lua_State *L)
{
    luaL_getmetatable(L, TWL_CONTEXT_MT);
    twl_setfuncs(L, twl_context_readers);
    twl_setfuncs(L, ctx_methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
