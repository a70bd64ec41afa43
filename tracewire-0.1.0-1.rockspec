-- Written by scripts/set-version from the VERSION file (0.1.0); edit that script,
-- not this file (tests/packaging/run.sh checks they agree).
rockspec_format = "3.0"
package = "tracewire"
version = "0.1.0-1"
source = {
   url = "git+https://github.com/tracewire/tracewire.git",
   tag = "v0.1.0",
}
description = {
   summary = "Distributed tracing for Lua 5.4 and LuaJIT/OpenResty over tracewire's C core",
   detailed = [[
tracewire's Lua face: require "tracewire" (opentracing-lua's names: new_tracer,
start_span, inject/extract), tracewire.nginx for OpenResty/nginx, and
tracewire.redisq for the tracewire Redis module's traced queues. Spans go to
Jaeger (UDP, Thrift HTTP) or an OTLP collector. Building needs CMake, a C
compiler and the libcurl and jansson development packages (Debian:
libcurl4-openssl-dev libjansson-dev pkg-config cmake); redisq.connect needs
LuaSocket.
]],
   homepage = "https://github.com/tracewire/tracewire",
   license = "Apache-2.0",
}
dependencies = {
   "lua >= 5.1, < 5.5",
}
build = {
   type = "cmake",
   variables = {
      CMAKE_BUILD_TYPE = "RelWithDebInfo",
      TW_LUA_ROCK_INCDIR = "$(LUA_INCDIR)",
      TW_LUA_ROCK_LIBDIR = "$(LIBDIR)",
      TW_LUA_ROCK_LUADIR = "$(LUADIR)",
      TW_INSTALL_CORE = "OFF",
      TW_BUILD_TESTS = "OFF",
      TW_BUILD_BENCH = "OFF",
      TW_BUILD_EXAMPLES = "OFF",
      TW_BUILD_REDIS = "OFF",
      TW_BUILD_NGINX = "OFF",
   },
}
