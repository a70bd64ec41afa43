#!/usr/bin/env bash
# Instructions per span on the reporter thread (dequeue, Thrift compact
# encoding, UDP send amortized per batch) and on the application thread,
# counted by callgrind, so the figure means something on a loaded machine.
# bench_reporter --cost N runs N nginx-like server spans (the native module's
# tags) through a real tracer to a live UDP sink; callgrind counts each
# thread separately (--separate-threads=yes); the script runs it with two
# span counts and divides the difference, so tracer set-up, the first
# resolve and thread start cancel out. Issue #15 (the reporter's share of the
# nginx figure) and #21.
# Usage: bench/reporter_callgrind.sh [spans=20000] [build dir=build/release]
# Env: TW_BENCH_BATCH sets reporter.batch_size; TW_CG_KEEP=dir keeps the
# callgrind files (cg.out-01 the application thread, -02 the reporter) for
# callgrind_annotate.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20000}
build=${2:-$top/build/release}
bin=$build/bench/bench_reporter
[ -x "$bin" ] || { echo "build $bin first"; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }
run=$(mktemp -d /tmp/tw-rep-cg.XXXXXX)
sink_pid=""
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; [ -n "${TW_CG_KEEP:-}" ] && cp "$run"/cg.out* "$TW_CG_KEEP"/ 2>/dev/null; rm -rf "$run"; }
trap cleanup EXIT
python3 - > "$run/sink.out" <<'PY' &
import socket, signal, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
print(s.getsockname()[1], flush=True)
n = b = 0
def done(*_):
    print(n, b, flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    d = s.recv(70000); n += 1; b += len(d)
PY
sink_pid=$!
for _ in $(seq 50); do [ -s "$run/sink.out" ] && break; sleep 0.1; done
port=$(head -1 "$run/sink.out")

count() {   # count SPANS -> "reporter_instr app_instr"
  rm -f "$run"/cg.out*
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$run/cg.out" \
    "$bin" --cost "$1" "$port" > "$run/run.log" 2> "$run/vg.log"
  grep '^cost:' "$run/run.log" >&2
  # thread 1 is the application's; the reporter thread is the only other one
  local app rep
  app=$(awk '/^summary:/ {print $2}' "$run"/cg.out-01)
  rep=$(cat "$run"/cg.out-0[2-9] 2>/dev/null | awk '/^summary:/ {s += $2} END {print s + 0}')
  echo "$rep $app"
}
small=$(( n / 10 ))
read -r r1 a1 < <(count "$small")
read -r r2 a2 < <(count "$n")
span=$(( n - small ))
awk -v r1="$r1" -v r2="$r2" -v a1="$a1" -v a2="$a2" -v n="$span" -v b="${TW_BENCH_BATCH:-default}" 'BEGIN {
  printf "reporter thread:    %7.1f instructions/span (udp, batch_size %s)\n", (r2 - r1) / n, b
  printf "application thread: %7.1f instructions/span (start + http request/status + peer.address + finish)\n", (a2 - a1) / n }'
if [ -n "${TW_CG_ANNOTATE:-}" ]; then
  callgrind_annotate ${TW_CG_ANNOTATE_ARGS:-} "$run"/cg.out-0${TW_CG_THREAD:-2} 2>/dev/null | head -${TW_CG_ANNOTATE_LINES:-40}
fi
kill -TERM "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=""
tail -1 "$run/sink.out" | { read -r d b; echo "sink received $d datagrams, $b bytes (both runs)"; }
