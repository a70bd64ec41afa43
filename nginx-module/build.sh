#!/usr/bin/env bash
# Builds ngx_http_tracewire_module.so against an nginx source tree the way
# nginx's own dynamic modules are built: configure with the flags the nginx
# binary was built with, plus --add-dynamic-module, then `make modules`.
# CMake calls it (nginx-module/CMakeLists.txt); by hand:
#   nginx-module/build.sh NGINX_SRC WORK_DIR CORE_LIB CORE_INCLUDE OUT_SO
# NGINX_SRC is Debian's nginx-dev tree (/usr/share/nginx/src: configure,
# auto/, headers, conf_flags). configure runs only when its inputs changed
# (a stamp holds their hash); make recompiles only the module's sources.
set -euo pipefail
src=$1 work=$2 core_lib=$3 core_inc=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)

[ -x "$src/configure" ] || { echo "tracewire: no nginx source tree at $src (apt-get install nginx-dev)" >&2; exit 1; }
mkdir -p "$work"
tree="$work/nginx-src"
flags=()
if [ -f "$src/conf_flags" ]; then
  # Debian's file is a bash array assignment: NGX_CONF_FLAGS=( --prefix=... ... )
  # shellcheck disable=SC1091
  . "$src/conf_flags"
  flags=("${NGX_CONF_FLAGS[@]}")
fi
# Debian's nginx is built with -fPIC and hardening; the module gets the same,
# plus the warnings tracewire builds everything with (-Wextra on top of
# nginx's own -W -Wall -Werror; nginx's headers need -Wno-unused-parameter
# and -Wno-sign-compare under -Wextra).
ccopt="-g -O2 -fPIC -fstack-protector-strong -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2 -Wextra -Wno-unused-parameter -Wno-sign-compare"
ldopt="-Wl,-z,relro -Wl,-z,now -fPIC"
# TW_NGINX_SANITIZE=1 (CMake's TW_SANITIZE): an ASan+UBSan module, for the
# stock nginx run with the runtimes preloaded (tests/nginx/run.sh does).
if [ "${TW_NGINX_SANITIZE:-0}" = 1 ]; then
  ccopt="-g -O1 -fPIC -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -Wextra -Wno-unused-parameter -Wno-sign-compare"
  ldopt="-fPIC -fsanitize=address,undefined"
fi
key=$(cat "$here/config" "$src/configure" "$src/conf_flags" 2>/dev/null | sha1sum | cut -c1-16)
key="$key-$(echo "$ccopt $ldopt $core_lib $core_inc" | sha1sum | cut -c1-16)"
if [ ! -f "$tree/.tw-configured-$key" ]; then
  rm -rf "$tree"
  cp -a "$src" "$tree"
  (cd "$tree" && TW_CORE_LIB="$core_lib" TW_CORE_INCLUDE="$core_inc" \
     ./configure "${flags[@]}" --with-cc-opt="$ccopt" --with-ld-opt="$ldopt" \
       --add-dynamic-module="$here" > "$work/configure.log" 2>&1) \
    || { tail -30 "$work/configure.log" >&2; echo "tracewire: nginx configure failed ($work/configure.log)" >&2; exit 1; }
  touch "$tree/.tw-configured-$key"
fi
# nginx's Makefile links the module from its own objects only: a changed
# core library would not relink it (the old core stayed in the .so)
if [ "$core_lib" -nt "$tree/objs/ngx_http_tracewire_module.so" ]; then
  rm -f "$tree/objs/ngx_http_tracewire_module.so"
fi
make -s -C "$tree" -f objs/Makefile modules >"$work/make.log" 2>&1 \
  || { cat "$work/make.log" >&2; echo "tracewire: make modules failed" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
cp "$tree/objs/ngx_http_tracewire_module.so" "$out.tmp"
mv -f "$out.tmp" "$out"
