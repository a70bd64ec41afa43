/* lvalues.c — Lua values to core values: timestamps, tag values, statuses.
 *
 * Timestamps come from ngx.now() / os.time() (seconds, float or integer) or
 * from code that already counts microseconds. One rule covers both: a value
 * above 1e11 is microseconds (1e11 µs is 1970-01-02), anything else seconds
 * (1e11 s is the year 5138). Milliseconds are not accepted.
 * Numbers become INT64 tags when they are Lua integers (5.4) or, in LuaJIT
 * where every number is a double, when they are integral and within ±2^53;
 * everything else is a DOUBLE tag.
 */
#include "twlua.h"

#include <math.h>

#define TWL_US_THRESHOLD 1e11

void *twl_testudata(lua_State *L, int idx, int uv)
{
    void *p = lua_touserdata(L, idx);
    int same;
    if (p == NULL || !lua_getmetatable(L, idx))
        return NULL;
    same = lua_rawequal(L, -1, lua_upvalueindex(uv));
    lua_pop(L, 1);
    return same ? p : NULL;
}

void *twl_checkudata(lua_State *L, int idx, int uv)
{
    static const char *const names[] = {NULL, TWL_TRACER_MT, TWL_SPAN_MT, TWL_CONTEXT_MT};
    void *p = twl_testudata(L, idx, uv);
    if (p == NULL)
        luaL_argerror(L, idx, lua_pushfstring(L, "%s expected, got %s", names[uv],
                                              luaL_typename(L, idx)));
    return p;
}

void twl_setmetatable(lua_State *L, int uv)
{
    lua_pushvalue(L, lua_upvalueindex(uv));
    lua_setmetatable(L, -2);
}

void twl_setfuncs(lua_State *L, const luaL_Reg *l)
{
    luaL_getmetatable(L, TWL_TRACER_MT);
    luaL_getmetatable(L, TWL_SPAN_MT);
    luaL_getmetatable(L, TWL_CONTEXT_MT);
    luaL_setfuncs(L, l, 3);
}

int twl_status_error(lua_State *L, tw_status st, const char *what)
{
    return luaL_error(L, "tracewire: %s: %s", what, tw_strerror(st));
}

int64_t twl_check_timestamp(lua_State *L, int idx, int argn)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_argerror(L, argn, "timestamp must be a number (seconds, or integer microseconds)");
#if TWL_HAVE_INTEGERS
    if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        if (i <= 0)
            luaL_argerror(L, argn, "timestamp must be positive");
        if ((double)i > TWL_US_THRESHOLD)
            return (int64_t)i;
        return (int64_t)i * 1000000;
    }
#endif
    double d = lua_tonumber(L, idx);
    if (!isfinite(d) || d <= 0)
        luaL_argerror(L, argn, "timestamp must be a positive finite number");
    if (d > TWL_US_THRESHOLD) {
        if (d >= 9.2e18)
            luaL_argerror(L, argn, "timestamp out of range");
        return (int64_t)d;
    }
    return (int64_t)(d * 1e6 + 0.5);
}

int twl_check_timeout_ms(lua_State *L, int idx, int def_ms)
{
    if (lua_isnoneornil(L, idx))
        return def_ms;
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_argerror(L, idx, "timeout must be a number of seconds");
    double d = lua_tonumber(L, idx);
    if (!(d >= 0) || d > 3600)
        luaL_argerror(L, idx, "timeout must be between 0 and 3600 seconds");
    return (int)(d * 1000 + 0.5);
}

int twl_value_to_field(lua_State *L, int idx, tw_field *f)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        f->type = TW_VAL_STRING;
        f->v.str.ptr = lua_tolstring(L, idx, &f->v.str.len);
        return 0;
    case LUA_TBOOLEAN:
        f->type = TW_VAL_BOOL;
        f->v.b = lua_toboolean(L, idx) ? 1 : 0;
        return 0;
    case LUA_TNUMBER: {
#if TWL_HAVE_INTEGERS
        if (lua_isinteger(L, idx)) {
            f->type = TW_VAL_INT64;
            f->v.i64 = (int64_t)lua_tointeger(L, idx);
            return 0;
        }
        f->type = TW_VAL_DOUBLE;
        f->v.f64 = lua_tonumber(L, idx);
#else
        double d = lua_tonumber(L, idx);
        if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0) {
            f->type = TW_VAL_INT64;
            f->v.i64 = (int64_t)d;
        } else {
            f->type = TW_VAL_DOUBLE;
            f->v.f64 = d;
        }
#endif
        return 0;
    }
    default:
        return -1;
    }
}

void twl_push_u64(lua_State *L, uint64_t v)
{
#if TWL_HAVE_INTEGERS
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
}
