/* lmodule.c — luaopen_tracewire: the module table, the only exported symbol.
 *
 * Opening the module registers the three metatables in this Lua state's
 * registry (idempotent: luaL_newmetatable reuses existing ones, so a second
 * require after package.loaded was cleared, or lua_code_cache off, is safe)
 * and returns { new_tracer, now, version } plus the queue codecs of lqueue.c
 * (envelope_encode, envelope_decode, carrier_parse). It starts no thread and opens no
 * socket: the core does that lazily, per process, on the first report.
 */
#include "twlua.h"

/* tracewire.now() -> wall-clock seconds (float, microsecond resolution). */
static int l_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)tw_now_us() / 1e6);
    return 1;
}

static const luaL_Reg module_funcs[] = {
    {"new_tracer", twl_new_tracer},
    {"now", l_now},
    {NULL, NULL}
};

__attribute__((visibility("default"))) int luaopen_tracewire(lua_State *L)
{
    luaL_newmetatable(L, TWL_TRACER_MT);
    luaL_newmetatable(L, TWL_SPAN_MT);
    luaL_newmetatable(L, TWL_CONTEXT_MT);
    lua_pop(L, 3);
    twl_context_open(L);
    twl_span_open(L);
    twl_tracer_open(L);
    lua_createtable(L, 0, 7);
    twl_setfuncs(L, module_funcs);
    luaL_setfuncs(L, twl_queue_funcs, 0);
    lua_pushliteral(L, TW_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushliteral(L, TW_VERSION);     /* the Lua convention for a module's version */
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
