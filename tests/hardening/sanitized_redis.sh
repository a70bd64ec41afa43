#!/usr/bin/env bash
# The Redis module suite (tests/redis) twice more:
#  1. the module built with ASan+UBSan, loaded into redis-server with the
#     runtimes preloaded (TW_REDIS_PRELOAD, honoured by tests/redis/conftest.py);
#     every redis-server's stderr is scanned for sanitizer reports;
#  2. redis-server under valgrind memcheck (a redis-server wrapper first on
#     PATH) with the plain module: invalid accesses, uses of uninitialised
#     values and leaks definitely lost fail the run. Forked children (BGSAVE,
#     AOF rewrite) are not checked (--child-silent-after-fork): by design they
#     abandon the parent's reporter buffers, and Redis' own lzf is a known
#     valgrind false positive there. No --error-exitcode (it would make the
#     BGSAVE children fail in Redis' eyes): the logs are scanned instead.
#     Only the module tests (test_queue, test_bad_input, test_hostile, and the
#     stream, settings, WATCH and command-info tests) run under valgrind, minus
#     the replication tests (two valgrinded servers miss the fixture's 15 s
#     start-up deadline on a loaded machine).
# TW_HARDEN_REDIS_VALGRIND=0 skips part 2.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
py="$top/.venv/bin/python"
base=${TW_HARDEN_BUILD:-$top/build/hardening}
rc=0

build_module() {   # build_module DIR SANITIZE(ON|OFF)
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTW_SANITIZE="$2" -DCMAKE_C_COMPILER=gcc \
    -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_LUA=OFF >/dev/null &&
  cmake --build "$1" --target tracewire_redis >"$1.log" 2>&1 || { tail -30 "$1.log"; return 1; }
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# tests/redis reaches the module through tracewire.redis_queue, whose codecs
# are the Python binding's: build it from this tree into a directory of our
# own (never the shared venv), as tests/redis/run.sh does, for both parts.
pydir=$base-redis-py
"$py" -m pip install -q --no-build-isolation --no-deps --target "$pydir" --upgrade "$top" >"$pydir.log" 2>&1 \
  || { tail -30 "$pydir.log"; echo "sanitized-redis: building the Python binding failed"; exit 1; }
export PYTHONPATH="$pydir${PYTHONPATH:+:$PYTHONPATH}"
# ---- 1. ASan + UBSan module
if [ "${TW_HARDEN_REDIS_ASAN:-1}" != 0 ]; then
abuild=$base-redis-asan
build_module "$abuild" ON || exit 1
echo "sanitized-redis: ASan+UBSan module"
TW_REDIS_MODULE="$abuild/redis-module/tracewire.so" \
TW_REDIS_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
TMPDIR=$work "$py" -m pytest -q -p no:cacheprovider tests/redis 2>&1 | tail -15
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
reports=$(grep -lE 'ERROR: AddressSanitizer|runtime error:' -r "$work" 2>/dev/null | wc -l)
echo "sanitized-redis: redis-server logs with sanitizer reports: $reports"
[ "$reports" = 0 ] || { grep -hE -A30 'ERROR: AddressSanitizer|runtime error:' -r "$work" | head -60; rc=1; }
fi

# ---- 2. valgrind memcheck
if [ "${TW_HARDEN_REDIS_VALGRIND:-1}" != 0 ]; then
  if ! command -v valgrind >/dev/null; then echo "sanitized-redis: valgrind missing"; exit 1; fi
  pbuild=$base-redis
  build_module "$pbuild" OFF || exit 1
  bin=$work/bin vg=$base-redis-valgrind   # logs kept for inspection
  rm -rf "$vg"; mkdir -p "$bin" "$vg"
  real=$(command -v redis-server)
  cat >"$bin/redis-server" <<WRAP
#!/bin/sh
exec valgrind --quiet --keep-debuginfo=yes --child-silent-after-fork=yes --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --log-file=$vg/vg-%p.log "$real" "\$@"
WRAP
  chmod +x "$bin/redis-server"
  echo "sanitized-redis: valgrind memcheck (redis-server wrapped)"
  PATH="$bin:$PATH" TW_REDIS_MODULE="$pbuild/redis-module/tracewire.so" TMPDIR=$work \
    "$py" -m pytest -q -p no:cacheprovider tests/redis/test_queue.py tests/redis/test_bad_input.py tests/redis/test_hostile.py \
    tests/redis/test_stream.py tests/redis/test_settings.py tests/redis/test_watch.py tests/redis/test_command_info.py \
    -k "not replicated and not replica" 2>&1 | tail -15
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  nlogs=$(ls "$vg" | wc -l)
  errs=$(cat "$vg"/*.log 2>/dev/null | grep -cE 'Invalid (read|write)|uninitialised|definitely lost in|Mismatched free|Invalid free')
  ours=$(cat "$vg"/*.log 2>/dev/null | grep -E -B2 -A25 'Invalid (read|write)|uninitialised|definitely lost in|Invalid free' | grep -cE 'tracewire|tw_|twp_|twrm_|twq_')
  echo "sanitized-redis: valgrind logs=$nlogs error records=$errs (frames in tracewire code: $ours)"
  if [ "$errs" != 0 ]; then
    cat "$vg"/*.log | grep -E -A25 'Invalid (read|write)|uninitialised|definitely lost in|Invalid free' | head -80
    rc=1
  fi
fi
echo "sanitized-redis: $([ $rc = 0 ] && echo ok || echo FAILED)"
exit $rc
