#!/usr/bin/env bash
# Leak and memory-error check of the C core tests under valgrind memcheck (the
# main CI already runs them under ASan+LeakSanitizer; valgrind also sees
# uninitialised reads and needs no instrumentation). A plain -O0 build in its
# own directory; every ctest test runs under valgrind with --error-exitcode,
# leaks "definitely" and "indirectly" lost count as errors.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build=${TW_HARDEN_BUILD:-$top/build/hardening}-c
gen=(-G Ninja); [ -f "$build/CMakeCache.txt" ] && gen=()
cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DTW_SANITIZE=OFF \
  -DTW_BUILD_BENCH=OFF -DTW_BUILD_LUA=OFF -DTW_BUILD_REDIS=OFF -DTW_TEST_WATCHDOG=OFF >/dev/null &&
  cmake --build "$build" >"$build.log" 2>&1 || { tail -30 "$build.log"; exit 1; }
vg="--quiet --error-exitcode=97 --leak-check=full --show-leak-kinds=definite,indirect \
--errors-for-leak-kinds=definite,indirect --track-origins=yes --child-silent-after-fork=yes \
--fair-sched=yes"
# valgrind runs one thread at a time; unfairly by default, so a thread that
# sleeps (test_reporter's closer) can starve behind busy ones for minutes.
# A few rounds of its close race are enough to check the late-push path here.
export TW_RACE_ROUNDS=3
# test_chaos fails every allocation in turn (thousands of runs): too slow under
# valgrind and already covered by ASan/LSan in the main CI.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
ctest --test-dir "$build" --output-on-failure -E '^test_chaos$' --timeout 900 \
  --overwrite MemoryCheckCommand=/usr/bin/valgrind -T memcheck \
  --overwrite "MemoryCheckCommandOptions=$vg" >"$out" 2>&1
rc=$?
grep -E 'tests passed|tests failed|Defects|Memory checking results|^[A-Za-z ]+ - [0-9]+$|Failed|\*\*\*' "$out" | head -40
# ctest lists "<Kind> - <count>" lines after "Memory checking results:"
defects=$(sed -n '/Memory checking results:/,$p' "$out" | awk -F' - ' '/ - [0-9]+$/ {s+=$2} END {print s+0}')
echo "sanitized-valgrind: ctest exit $rc, valgrind defects: ${defects:-0}"
[ $rc = 0 ] && [ "${defects:-0}" = 0 ]
