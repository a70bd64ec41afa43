#!/usr/bin/env bash
# Packaging suite: what a user installs, installed as a user would, then checked.
#   wheels   scripts/wheels (one per supported CPython, auditwheel-repaired; shared
#            with tests/python/run.sh, rebuilt only when sources change)
#   clean    each wheel pip-installed (--no-index) into a FRESH venv inside
#            scripts/cleanroom (no system libcurl/jansson, headers or compiler),
#            imported, one span sent over Thrift HTTP; ldd and /proc/self/maps kept
#   sdist    python -m build --sdist, a wheel built from that sdist, twine check
#   rock     luarocks make tracewire-<v>-1.rockspec into a temp tree, the busted
#            specs under Lua 5.4 against the installed modules only
#   cmake    cmake --install into a temp prefix (core, header, .pc, both Lua ABIs
#            with tracewire.nginx and tracewire.redisq), a C program built with
#            pkg-config against it; no LuaJIT headers -> a warning naming the
#            package; -DTW_OPENRESTY_PREFIX -> the LuaJIT module in <prefix>/lualib
#   pytest   tests/packaging/test_*.py over all of the above: vendored libraries
#            really loaded, decoded spans, manylinux tag, metadata, and every
#            version (VERSION, CMake, .pc, wheel, sdist, rockspec, __version__, Lua
#            _VERSION, TW_VERSION, Redis MODULE LIST, jaeger.version) agreeing
# Prints "N passed, N failed" per part and a total; exits non-zero on any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH"
py="$top/.venv/bin/python"
out="$top/build/packaging"
rm -rf "$out"; mkdir -p "$out"
version=$(head -1 VERSION)

total_pass=0 total_fail=0
tally() {   # tally NAME PASS FAIL SECONDS
  echo "packaging $1: $2 passed, $3 failed ($4 s)"
  total_pass=$((total_pass + $2)); total_fail=$((total_fail + $3))
}
step() {    # step NAME CMD... : one check, its output kept in $out/NAME.log
  local name=$1; shift
  if "$@" >"$out/$name.log" 2>&1; then sp=$((sp + 1)); else sf=$((sf + 1)); echo "not ok: $name"; tail -30 "$out/$name.log"; fi
}

# ---------------------------------------------------------------- wheels
t0=$SECONDS sp=0 sf=0
scripts/pythons list | tee "$out/pythons.txt"
if scripts/wheels >"$out/wheels.log" 2>&1; then sp=$((sp + 1)); else sf=$((sf + 1)); cat "$out/wheels.log"; fi
grep -c MISSING "$out/pythons.txt" >/dev/null && { echo "packaging: a supported CPython is MISSING (above)"; sf=$((sf + 1)); }
mapfile -t versions < <(grep -v MISSING "$out/pythons.txt" | cut -d' ' -f1)
for v in "${versions[@]}"; do
  [ -f "build/wheels/dist/$v.path" ] && sed -n 1p "build/wheels/dist/$v.path" >>"$out/wheels.txt"
done
while read -r whl; do
  step "auditwheel-show-$(basename "$whl" .whl)" sh -c "auditwheel show '$whl' > '$out/show-$(basename "$whl" .whl).txt'"
done <"$out/wheels.txt"
tally wheels $sp $sf $((SECONDS - t0))

# ---------------------------------------------------------------- clean venvs
t0=$SECONDS sp=0 sf=0
# the wheel's one dependency, as a local wheel: the clean venvs install with --no-index
step deps "$py" -m pip wheel -q opentracing==2.4.0 -w "$out/deps"
for v in "${versions[@]}"; do
  whl=$(sed -n 1p "build/wheels/dist/$v.path" 2>/dev/null) || continue
  interp=$(grep "^$v " "$out/pythons.txt" | cut -d' ' -f2)
  venv="$out/clean-$v"
  step "clean-$v" scripts/cleanroom sh -c "
    '$interp' -m venv '$venv' &&
    '$venv/bin/python' -m pip install -q --no-index --find-links '$out/deps' '$whl' &&
    cd / && '$venv/bin/python' '$top/tests/packaging/clean_check.py' '$out/clean-$v.json' '$out/clean-$v.body'"
done
tally "clean venvs" $sp $sf $((SECONDS - t0))

# ---------------------------------------------------------------- sdist
t0=$SECONDS sp=0 sf=0
rm -rf python/tracewire.egg-info   # a stale SOURCES.txt there would leak into the sdist
step sdist "$py" -m build --sdist --no-isolation -o "$out/sdist" .
sdist=$(ls "$out"/sdist/tracewire-*.tar.gz 2>/dev/null | head -1)
# built from the sdist alone (unpacked away from the tree), as pip would for a user
step sdist-wheel sh -c "mkdir -p '$out/sdist-build' && tar -xzf '$sdist' -C '$out/sdist-build' &&
  cd '$out/sdist-build'/tracewire-* && TW_WERROR=1 '$py' -m pip wheel -q --no-deps --no-build-isolation -w '$out/sdist-wheel' . &&
  '$py' -m pip install -q --no-deps --target '$out/sdist-target' '$out'/sdist-wheel/*.whl"
step twine-check sh -c "twine check --strict '$sdist' \$(cat '$out/wheels.txt')"
tally sdist $sp $sf $((SECONDS - t0))

# ---------------------------------------------------------------- luarocks
t0=$SECONDS sp=0 sf=0
rock="tracewire-$version-1.rockspec"
tree="$out/rocktree"
step luarocks-make sh -c "rm -rf build.luarocks && luarocks --lua-version=5.4 --tree='$tree' make '$rock' && rm -rf build.luarocks"
# The specs see the installed modules only: the rock tree first, then the
# system paths busted and lua-cjson need; nothing from lua/ or build/.
export TW_ROCK_LUA_PATH="$tree/share/lua/5.4/?.lua;$top/tests/lua/?.lua;/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua"
export TW_ROCK_LUA_CPATH="$tree/lib/lua/5.4/?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so"
step rock-where env LUA_PATH="$TW_ROCK_LUA_PATH" LUA_CPATH="$TW_ROCK_LUA_CPATH" lua5.4 -e "
  for _, m in ipairs{'tracewire.nginx', 'tracewire.redisq'} do
    local f = assert(package.searchpath(m, package.path)); assert(f:find('$tree', 1, true) == 1, f); print(m, f) end
  local f = assert(package.searchpath('tracewire', package.cpath)); assert(f:find('$tree', 1, true) == 1, f); print('tracewire', f)
  require 'tracewire.redisq'"
bout=$(cd tests/lua && LUA_PATH="$TW_ROCK_LUA_PATH" LUA_CPATH="$TW_ROCK_LUA_CPATH" lua5.4 /usr/bin/busted -o TAP . 2>&1)
echo "$bout" >"$out/rock-busted.log"
ok=$(grep '^ok ' <<<"$bout" | grep -vc '# SKIP'); nok=$(grep -c '^not ok ' <<<"$bout")
[ "$nok" -gt 0 ] || [ "$ok" -eq 0 ] && grep -v '^ok ' <<<"$bout" | tail -30
[ "$ok" -eq 0 ] && nok=$((nok + 1))
echo "packaging rock: busted lua5.4 against the installed rock: $ok passed, $nok failed"
sp=$((sp + ok)); sf=$((sf + nok))
tally luarocks $sp $sf $((SECONDS - t0))

# ---------------------------------------------------------------- cmake --install
t0=$SECONDS sp=0 sf=0
prefix="$out/prefix"
step cmake-build sh -c "cmake -S . -B '$out/cmake' -G Ninja -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_NGINX=OFF -DCMAKE_INSTALL_PREFIX='$prefix' &&
  cmake --build '$out/cmake' && cmake --install '$out/cmake'"
step c-user sh -c "cat > '$out/user.c' <<'C'
#include <stdio.h>
#include <tracewire.h>
int main(void) {
    tw_config *cfg; tw_tracer *t;
    if (tw_config_new(&cfg) || tw_config_set(cfg, \"reporter.protocols\", \"memory\") || tw_tracer_new(cfg, &t)) return 1;
    tw_tracer_free(t); tw_config_free(cfg);
    printf(\"%s %d\\n\", TW_VERSION, TW_VERSION_NUM);
    return 0;
}
C
  export PKG_CONFIG_PATH='$prefix/lib/pkgconfig' &&
  gcc -Wall -Werror '$out/user.c' -o '$out/user' \$(pkg-config --cflags --libs tracewire) -Wl,-rpath,'$prefix/lib' &&
  '$out/user' > '$out/c-user.txt' && pkg-config --modversion tracewire > '$out/pc-version.txt'"
# No LuaJIT headers: a warning that names the package and the OpenResty variable.
step luajit-missing sh -c "cmake -S . -B '$out/cmake-nojit' -G Ninja -DCMAKE_C_COMPILER=gcc -DTW_BUILD_TESTS=OFF \
    -DTW_BUILD_BENCH=OFF -DTW_BUILD_NGINX=OFF -DTW_BUILD_REDIS=OFF -DTW_LUAJIT_INCLUDE_DIR='$out/no-such-dir' > '$out/nojit.txt' 2>&1 &&
  grep -q 'CMake Warning' '$out/nojit.txt' && grep -q 'apt-get install libluajit2-5.1-dev' '$out/nojit.txt' &&
  grep -q 'TW_OPENRESTY_PREFIX' '$out/nojit.txt'"
# An OpenResty-shaped prefix (its LuaJIT headers under luajit/include/luajit-2.1):
# the LuaJIT module and the helpers land in <prefix>/lualib, where OpenResty looks.
step openresty-prefix sh -c "mkdir -p '$out/openresty/luajit/include' &&
  ln -s /usr/include/luajit-2.1 '$out/openresty/luajit/include/luajit-2.1' &&
  cmake -S . -B '$out/cmake-openresty' -G Ninja -DCMAKE_C_COMPILER=gcc -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF \
    -DTW_BUILD_NGINX=OFF -DTW_BUILD_REDIS=OFF -DTW_BUILD_EXAMPLES=OFF -DTW_BUILD_LUA54=OFF -DTW_INSTALL_CORE=OFF \
    -DTW_OPENRESTY_PREFIX='$out/openresty' -DCMAKE_INSTALL_PREFIX='$out/openresty-unused' &&
  cmake --build '$out/cmake-openresty' --target tracewire_luajit && cmake --install '$out/cmake-openresty' &&
  test -f '$out/openresty/lualib/tracewire.so' && test -f '$out/openresty/lualib/tracewire/nginx.lua' &&
  test -f '$out/openresty/lualib/tracewire/redisq.lua' &&
  cd / && LUA_CPATH='$out/openresty/lualib/?.so' LUA_PATH='$out/openresty/lualib/?.lua' luajit -e '
    local t = require \"tracewire\"; assert(t._VERSION == \"$version\"); require \"tracewire.redisq\"'"
tally "cmake --install" $sp $sf $((SECONDS - t0))

# ---------------------------------------------------------------- pytest
t0=$SECONDS
pout=$(TW_PKG_OUT="$out" "$py" -m pytest -q -p no:cacheprovider "$top/tests/packaging" 2>&1)
echo "$pout" | tail -40
pp=$(grep -oE '[0-9]+ passed' <<<"$pout" | tail -1 | cut -d' ' -f1)
pf=$(grep -oE '[0-9]+ (failed|error|errors)' <<<"$pout" | awk '{s+=$1} END {print s+0}')
[ -z "$pp" ] && pf=$((pf + 1))
tally pytest "${pp:-0}" "$pf" $((SECONDS - t0))

echo "packaging suite total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
