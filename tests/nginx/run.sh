#!/usr/bin/env bash
# The native nginx module's suite: builds ngx_http_tracewire_module.so (CMake
# -> nginx's configure + make modules against Debian's nginx-dev tree) into
# its own build dir, checks what the .so exports and that the stock nginx
# loads it, then runs pytest: the stock nginx (2 workers) in front of a Flask
# upstream traced with the Python binding, spans decoded from UDP datagrams;
# then again with the reporter thread forced (TRACEWIRE_REPORTER_DRIVER=thread),
# then the same tests with an ASan+UBSan build of the module (TW_NGINX_ASAN=0
# skips that part). Arguments go to pytest (e.g. -k reload).
# Prints "N passed, N failed" per part and a total; exits non-zero on failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build="$top/build/nginx-tests"
py="$top/.venv/bin/python"
so="$build/nginx-module/ngx_http_tracewire_module.so"

total_pass=0 total_fail=0
tally() {   # tally NAME PASS FAIL
  echo "$1: $2 passed, $3 failed"
  total_pass=$((total_pass + $2)); total_fail=$((total_fail + $3))
}

if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc \
         -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_REDIS=OFF -DTW_BUILD_LUA=OFF >/dev/null \
       && cmake --build "$build" --target ngx_http_tracewire_module >/dev/null; }; then
  cmake --build "$build" --target ngx_http_tracewire_module 2>&1 | tail -40
  echo "nginx: module build failed"
  echo "nginx suite total: 0 passed, 1 failed"
  exit 1
fi

# The .so exports nginx's module table only (the core is linked in and
# hidden), needs no liblua/libtracewire, and the stock nginx accepts it.
p=0 f=0
syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | sort | tr '\n' ' ')
if [ "$syms" = "ngx_http_tracewire_module ngx_module_names ngx_module_order ngx_modules " ]; then
  p=$((p+1)); else f=$((f+1)); echo "not ok: $so exports: $syms"; fi
if ldd "$so" | grep -q -e libtracewire -e liblua; then f=$((f+1)); echo "not ok: $so links libtracewire/liblua"; else p=$((p+1)); fi
tmp=$(mktemp -d /tmp/tw-nginx-load.XXXXXX)
printf 'load_module %s;\nevents {}\nhttp { tracewire_config service_name load-check; server { listen 127.0.0.1:1; tracewire on; } }\n' "$so" > "$tmp/nginx.conf"
if out=$(nginx -t -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" 2>&1); then p=$((p+1)); else
  f=$((f+1)); echo "not ok: the stock nginx refused the module: $out"; fi
rm -rf "$tmp"
tally "module file" $p $f

# The Flask upstream uses tracewire's Python binding: install it into this
# suite's own directory (never into the shared venv).
pydir="$build/py"
"$py" -m pip install -q --no-build-isolation --no-deps --target "$pydir" --upgrade "$top" >/dev/null 2>&1 \
  || echo "nginx: building the Python binding failed; the upstream tests will fail"

run_pytest() {   # run_pytest NAME MODULE [env...]
  local name=$1 mod=$2; shift 2
  local out pp pf
  out=$(env "$@" TW_NGINX_MODULE="$mod" TW_PYTHONPATH="$pydir" "$py" -m pytest -q -p no:cacheprovider \
        "$top/tests/nginx" ${pytest_args[@]+"${pytest_args[@]}"} 2>&1)
  echo "$out" | tail -40
  pp=$(grep -oE '[0-9]+ passed' <<<"$out" | tail -1 | cut -d' ' -f1)
  pf=$(grep -oE '[0-9]+ (failed|error|errors)' <<<"$out" | awk '{s+=$1} END {print s+0}')
  tally "$name" "${pp:-0}" "${pf:-0}"
  [ -z "$pp" ] && total_fail=$((total_fail + 1))
}
pytest_args=("$@")
run_pytest "pytest (nginx)" "$so"
# The suite's UDP configurations are sent by the workers' event loops
# (reporter.driver auto, issue #15): run it again with the environment
# forcing the reporter thread, so both process models stay covered
# (test_driver.py sets the key itself and checks both either way).
run_pytest "pytest (nginx, reporter thread)" "$so" TRACEWIRE_REPORTER_DRIVER=thread

# The same tests against an ASan+UBSan build of the module (core included),
# loaded into the stock nginx with the runtimes preloaded into nginx only.
# TW_NGINX_ASAN=0 skips it.
if [ "${TW_NGINX_ASAN:-1}" != 0 ]; then
  abuild="$top/build/nginx-tests-asan"
  if cmake -S . -B "$abuild" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTW_SANITIZE=ON -DCMAKE_C_COMPILER=gcc \
       -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_REDIS=OFF -DTW_BUILD_LUA=OFF >/dev/null \
     && cmake --build "$abuild" --target ngx_http_tracewire_module >/dev/null; then
    run_pytest "pytest (nginx, asan+ubsan module)" "$abuild/nginx-module/ngx_http_tracewire_module.so" \
      TW_NGINX_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  else
    tally "asan build" 0 1
  fi
fi

echo "nginx suite total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
