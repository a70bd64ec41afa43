/* lqueue.c — the core's queue codecs for Lua: the Redis queue envelope and
 * the carrier text (tracewire.h, "queue envelope" and "carrier text").
 *
 * tracewire.redisq's wrap / unwrap / parse_carrier / format_carrier call these, so Lua reads
 * and writes exactly the bytes the Redis module does, with the module's own
 * code (no CRC-32 or envelope parser in Lua). Module-level functions:
 *   envelope_encode(payload, carrier, enqueue_us) -> string
 *   envelope_decode(raw) -> payload, carrier, enqueue_us   (an envelope)
 *                        -> raw                            (a plain item)
 *                        -> nil, reason                    (corrupted)
 *   carrier_parse(text)  -> { lower-case name = value } | nil, reason
 *   carrier_format({ name1, value1, name2, value2, ... })
 *                        -> text | nil, reason   (the core's carrier text writer)
 * Bad arguments raise; bad data returns nil and the core's reason.
 */
#include "twlua.h"

#include <math.h>

/* enqueue_us as an int64: any integer in 5.4; an integral double in LuaJIT
 * (exact up to 2^53 µs, far beyond any clock). */
static int64_t check_us(lua_State *L, int idx)
{
#if TWL_HAVE_INTEGERS
    if (lua_isinteger(L, idx))
        return (int64_t)lua_tointeger(L, idx);
#endif
    double d = luaL_checknumber(L, idx);
    if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18)
        luaL_argerror(L, idx, "enqueue_us must be an integer number of microseconds");
    return (int64_t)d;
}

static int l_envelope_encode(lua_State *L)
{
    size_t plen, clen;
    const char *p = luaL_checklstring(L, 1, &plen);
    const char *c = luaL_checklstring(L, 2, &clen);
    int64_t enq = check_us(L, 3);
    size_t need = tw_envelope_size(clen, plen);
    if (need == 0)
        return luaL_error(L, "tracewire: envelope_encode: part longer than 4 GiB");
    char *out = twl_newuserdata(L, need);        /* scratch, collected */
    tw_envelope_encode(out, enq, c, clen, p, plen);
    lua_pushlstring(L, out, need);
    return 1;
}

static int l_envelope_decode(lua_State *L)
{
    size_t len;
    const char *raw = luaL_checklstring(L, 1, &len);
    tw_envelope env;
    const char *why;
    tw_status st = tw_envelope_decode(raw, len, &env, &why);
    if (st == TW_ERR_NOT_FOUND) {
        lua_settop(L, 1);
        return 1;
    }
    if (st != TW_OK) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    lua_pushlstring(L, env.payload, env.payload_len);
    lua_pushlstring(L, env.carrier, env.carrier_len);
#if TWL_HAVE_INTEGERS
    lua_pushinteger(L, (lua_Integer)env.enqueue_us);
#else
    lua_pushnumber(L, (lua_Number)env.enqueue_us);
#endif
    return 3;
}

static int l_carrier_parse(lua_State *L)
{
    size_t len;
    const char *text = luaL_optlstring(L, 1, "", &len);
    tw_carrier_text *c = twl_newuserdata(L, sizeof *c);   /* ~2 KiB, collected */
    const char *why;
    if (tw_carrier_text_parse(text, len, c, &why) != TW_OK) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    lua_createtable(L, 0, (int)c->n);
    for (size_t i = 0; i < c->n; i++) {
        /* names are header tokens (ASCII, at most the text's 16 KiB): lower-cased
         * here, as extract matches them */
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t k = 0; k < c->e[i].name_len; k++) {
            char ch = c->e[i].name[k];
            luaL_addchar(&b, ch >= 'A' && ch <= 'Z' ? (char)(ch + ('a' - 'A')) : ch);
        }
        luaL_pushresult(&b);
        lua_pushlstring(L, c->e[i].val, c->e[i].val_len);
        lua_rawset(L, -3);
    }
    return 1;
}

/* carrier_format(flat): the names and values in the given order (redisq
 * sorts them), through the same writer the Redis module stores carriers
 * with; nil and the core's reason for a name or value carrier text cannot
 * hold. Values may be strings or numbers (lua_tolstring's text). */
static int l_carrier_format(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = lua_rawlen(L, 1);
    char *buf = twl_newuserdata(L, TW_CARRIER_TEXT_MAX_BYTES + 1);   /* 16 KiB, collected */
    tw_carrier_text_writer w;
    tw_carrier_text_writer_init(&w, buf, TW_CARRIER_TEXT_MAX_BYTES + 1);
    for (size_t i = 1; i + 1 <= n; i += 2) {
        lua_rawgeti(L, 1, (int)i);
        lua_rawgeti(L, 1, (int)i + 1);
        size_t nl, vl;
        const char *name = lua_tolstring(L, -2, &nl);
        const char *val = lua_tolstring(L, -1, &vl);
        if (name == NULL || val == NULL)
            return luaL_error(L, "carrier_format: entry %d is not a string or number", (int)(i + 1) / 2);
        int st = tw_carrier_text_put(&w, name, nl, val, vl);
        lua_pop(L, 2);
        if (st != 0) {
            lua_pushnil(L);
            lua_pushstring(L, w.why);
            return 2;
        }
    }
    lua_pushlstring(L, buf, w.len);
    return 1;
}

const luaL_Reg twl_queue_funcs[] = {
    {"envelope_encode", l_envelope_encode},
    {"envelope_decode", l_envelope_decode},
    {"carrier_parse", l_carrier_parse},
    {"carrier_format", l_carrier_format},
    {"header_names", twl_header_names},        /* lhttp.c: the stream carrier fields */
    {NULL, NULL}
};
