#!/usr/bin/env bash
# The hardening suite: fault and load tests against the core reporter (C, built
# with ASan+UBSan, the thread tests also with TSan), the gunicorn prefork load
# test and the 1M-span RSS loop (Python), and the sanitized binding runs
# (tests/hardening/sanitized_*.sh), and two soaks: a real Jaeger killed and
# restarted under 5,000 spans/s from Python (jaeger-restart), a Redis master
# killed under producers and consumers and its replica promoted
# (redis-failover). Loopback only; every step is bounded in time and prints
# the figures it checked. Exits non-zero if any step fails.
#
#   tests/hardening/run.sh [STEP...]      default: every step
# Environment: TW_HARDEN_QUEUE_SECONDS (queue-full duration, default 20),
#              TW_HARDEN_BUILD (build dir prefix, default build/hardening).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH"
hz=$top/tests/hardening
build=${TW_HARDEN_BUILD:-$top/build/hardening}
queue_secs=${TW_HARDEN_QUEUE_SECONDS:-20}

declare -a names=() results=()
want() {   # want STEP: true if STEP was asked for (or nothing was)
  [ ${#only[@]} -eq 0 ] && return 0
  local s; for s in "${only[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1
}
step() {   # step NAME CMD...
  local name=$1; shift
  [ "${always:-0}" = 1 ] || want "$name" || return 0
  local t0=$SECONDS
  echo "=================== hardening: $name"
  local run=(bash "$top/tests/watchdog.sh" 600)   # stacks of a hang, then kill
  [ "$(type -t "$1")" = function ] && run=()   # shell functions bound their own steps
  if "${run[@]}" "$@"; then results+=(PASS); else results+=(FAIL); fi
  names+=("$name ($((SECONDS - t0)) s)")
}
only=("$@")

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
build_c() {   # build_c DIR SANITIZER
  local dir=$1 san=$2 g=("${gen[@]}")
  [ -f "$dir/CMakeCache.txt" ] && g=()
  cmake -S "$hz" -B "$dir" "${g[@]}" -DCMAKE_C_COMPILER=gcc -DHZ_SANITIZE="$san" >/dev/null &&
    cmake --build "$dir" -j2 >"$dir.build.log" 2>&1 || { tail -30 "$dir.build.log"; return 1; }
}
mkdir -p "$(dirname "$build")"
asan_ok=0; tsan_ok=0
if want faults || want threads-asan || want threads-tsan || want queue-full; then
  always=1
  step build-asan build_c "$build" address && [ "${results[-1]}" = PASS ] && asan_ok=1
  step build-tsan build_c "$build-tsan" thread && [ "${results[-1]}" = PASS ] && tsan_ok=1
  always=0
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

faults() {
  local rc=0 p f
  for p in http otlp; do
    for f in ok down 500 garbage hang slow; do
      "$build/test_collector_faults" "$p" "$f" || rc=1
    done
  done
  for f in ok unreachable badhost; do
    "$build/test_collector_faults" udp "$f" || rc=1
  done
  # a DNS server that never answers: a private /etc/resolv.conf in a mount namespace
  local rcf; rcf=$(mktemp)
  printf 'nameserver 127.0.0.254\noptions timeout:2 attempts:2\n' >"$rcf"
  if unshare -m true 2>/dev/null; then
    unshare -m sh -c "mount --bind '$rcf' /etc/resolv.conf && exec '$build/test_collector_faults' udp dnshang" || rc=1
  else
    echo "collector udp/dnshang: SKIP (needs root for unshare -m)"
  fi
  rm -f "$rcf"
  return $rc
}
if [ $asan_ok = 1 ]; then
  step faults faults
  step threads-asan sh -c "'$build/test_threads' concurrent 2000 && '$build/test_threads' close-race 10 && '$build/test_threads' driven 2000"
  # a small quarantine so RSS measures the tracer, not ASan's free-list
  step queue-full env ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=8 "$build/test_queue_full" "$queue_secs"
fi
if [ $tsan_ok = 1 ]; then
  step threads-tsan sh -c "'$build-tsan/test_threads' concurrent 500 && '$build-tsan/test_threads' close-race 6 && '$build-tsan/test_threads' records 20 && '$build-tsan/test_threads' driven 300 && '$build-tsan/test_collector_faults' http hang"
fi

# Python: needs the extension (python/, setup.py); built into its own dir.
# jaeger-restart: the soak of a collector crash under load (holds the Jaeger lock);
# redis-failover: the soak of a master killed and its replica promoted.
for s in gunicorn rss-loop jaeger-restart redis-failover; do
  f=$hz/test_${s//-/_}.sh
  [ -f "$f" ] && step "$s" bash "$f"
done
# Sanitized bindings and leak checks.
for s in python lua redis valgrind; do
  f=$hz/sanitized_$s.sh
  [ -f "$f" ] && step "sanitized-$s" bash "$f"
done

echo "=================== hardening: summary"
fail=0
for i in "${!names[@]}"; do
  printf '%-4s %s\n' "${results[$i]}" "${names[$i]}"
  [ "${results[$i]}" = PASS ] || fail=1
done
npass=0; for r in "${results[@]}"; do [ "$r" = PASS ] && npass=$((npass + 1)); done
echo "$npass passed, $(( ${#results[@]} - npass )) failed"
exit $fail
