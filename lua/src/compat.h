/* compat.h — the few Lua API differences between Lua 5.4 and LuaJIT 2.1 (5.1 ABI).
 *
 * One source set builds against both. LuaJIT 2.1 already has luaL_setfuncs,
 * luaL_newlib, luaL_testudata and luaL_setmetatable; it lacks lua_rawlen,
 * lua_absindex and integers (every number is a double there), so integral
 * numbers are detected by value instead (TWL_HAVE_INTEGERS == 0).
 */
#ifndef TWL_COMPAT_H
#define TWL_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#  define lua_rawlen(L, i) lua_objlen(L, (i))
#  ifndef luaL_newlib            /* PUC 5.1 only; LuaJIT 2.1 defines these */
#    define luaL_newlib(L, l) (lua_newtable(L), luaL_register(L, NULL, (l)))
#    define luaL_setfuncs(L, l, n) luaL_register(L, NULL, (l))
#  endif
#  define lua_absindex(L, i) \
     ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)
#endif

#if LUA_VERSION_NUM >= 503
#  define TWL_HAVE_INTEGERS 1
#else
#  define TWL_HAVE_INTEGERS 0
#endif

/* Userdata without user values (5.4's lua_newuserdata reserves one). */
#if LUA_VERSION_NUM >= 504
#  define twl_newuserdata(L, sz) lua_newuserdatauv(L, (sz), 0)
#else
#  define twl_newuserdata(L, sz) lua_newuserdata(L, (sz))
#endif

#if LUA_VERSION_NUM >= 504
#  define TWL_HAVE_CLOSE 1       /* to-be-closed variables: local s <close> = ... */
#else
#  define TWL_HAVE_CLOSE 0
#endif

#endif /* TWL_COMPAT_H */
