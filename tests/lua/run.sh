#!/usr/bin/env bash
# Lua binding suite: builds both modules (Lua 5.4 and LuaJIT) into its own
# build dir, checks the exported symbols, runs the busted specs under lua5.4
# and luajit, then the Python-side tests (wire decoding, real nginx).
# Prints "N passed, N failed" per part and a total; exits non-zero on failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build="$top/build/lua-tests"
py="$top/.venv/bin/python"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc \
  -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_REDIS=OFF >/dev/null \
  && cmake --build "$build" --target tracewire_lua54 tracewire_luajit >/dev/null \
  || { echo "lua: build failed"; cmake --build "$build" --target tracewire_lua54 tracewire_luajit 2>&1 | tail -30; exit 1; }

total_pass=0 total_fail=0
tally() {   # tally NAME PASS FAIL
  echo "$1: $2 passed, $3 failed"
  total_pass=$((total_pass + $2)); total_fail=$((total_fail + $3))
}

# Only luaopen_tracewire may be exported (the core and everything else hidden).
p=0 f=0
for abi in 5.4 5.1; do
  so="$build/lua/$abi/tracewire.so"
  syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | grep -v '^_' | sort | tr '\n' ' ')
  if [ "$syms" = "luaopen_tracewire " ]; then p=$((p+1)); else f=$((f+1)); echo "not ok: $so exports: $syms"; fi
  if ldd "$so" | grep -q -e liblua -e libluajit; then f=$((f+1)); echo "not ok: $so links liblua"; else p=$((p+1)); fi
done
# Loading the other ABI's build fails with a clean error, not a crash.
if LUA_CPATH="$build/lua/5.1/?.so" lua5.4 -e 'assert(not pcall(require, "tracewire"))' \
   && LUA_CPATH="$build/lua/5.4/?.so" luajit -e 'assert(not pcall(require, "tracewire"))'; then
  p=$((p+1)); else f=$((f+1)); echo "not ok: loading the wrong ABI did not fail cleanly"; fi
tally "symbols" $p $f

export LUA_PATH="$top/lua/?.lua;$top/tests/lua/?.lua;;"
run_busted() {   # run_busted NAME ABI CMD...
  local name=$1 abi=$2; shift 2
  local out
  out=$(cd "$top/tests/lua" && LUA_CPATH="$build/lua/$abi/?.so;;" "$@" -o TAP . 2>&1)
  local ok nok skip
  ok=$(grep '^ok ' <<<"$out" | grep -vc '# SKIP')
  skip=$(grep '^ok ' <<<"$out" | grep -c '# SKIP')
  nok=$(grep -c '^not ok ' <<<"$out")
  [ "$skip" -gt 0 ] && echo "$name: $skip skipped (Lua 5.4-only features)"
  if [ "$nok" -gt 0 ] || [ "$ok" -eq 0 ]; then echo "$out" | grep -v '^ok ' ; fi
  [ "$ok" -eq 0 ] && nok=$((nok + 1))
  tally "$name" "$ok" "$nok"
}
run_busted "busted lua5.4" 5.4 lua5.4 /usr/bin/busted
run_busted "busted luajit" 5.1 luajit /usr/bin/busted

# The same specs against an ASan+UBSan build of the modules (the interpreters
# are not instrumented, so the runtime is preloaded). Set TW_LUA_ASAN=0 to skip.
if [ "${TW_LUA_ASAN:-1}" != 0 ]; then
  abuild="$top/build/lua-tests-asan"
  if cmake -S . -B "$abuild" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTW_SANITIZE=ON -DCMAKE_C_COMPILER=gcc \
       -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_REDIS=OFF >/dev/null \
     && cmake --build "$abuild" --target tracewire_lua54 tracewire_luajit >/dev/null; then
    pre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
    asan_env=(env LD_PRELOAD="$pre" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
              UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
    build_saved=$build; build=$abuild
    run_busted "busted lua5.4 (asan+ubsan)" 5.4 "${asan_env[@]}" lua5.4 /usr/bin/busted
    run_busted "busted luajit (asan+ubsan)" 5.1 "${asan_env[@]}" luajit /usr/bin/busted
    build=$build_saved
  else
    tally "asan build" 0 1
  fi
fi

# The nginx test's Flask upstream uses tracewire's Python binding: install it
# into this suite's own directory (never into the shared venv).
pydir="$build/py"
"$py" -m pip install -q --no-build-isolation --no-deps --target "$pydir" --upgrade "$top" >/dev/null 2>&1 \
  || echo "lua: building the Python binding failed; the nginx tests will fail"

# Wire decoding + real nginx (pytest prints its own summary too).
out=$(TW_LUA_BUILD="$build/lua" TW_PYTHONPATH="$pydir" "$py" -m pytest -q -p no:cacheprovider "$top/tests/lua" 2>&1)
echo "$out" | tail -40
pp=$(grep -oE '[0-9]+ passed' <<<"$out" | tail -1 | cut -d' ' -f1)
pf=$(grep -oE '[0-9]+ (failed|error|errors)' <<<"$out" | awk '{s+=$1} END {print s+0}')
tally "pytest (wire, nginx)" "${pp:-0}" "${pf:-0}"
[ -z "$pp" ] && total_fail=$((total_fail + 1))

echo "lua suite total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
