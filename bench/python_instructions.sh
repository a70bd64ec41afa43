#!/usr/bin/env bash
# Instructions per operation (valgrind callgrind), tracewire vs jaeger-client vs
# opentelemetry-sdk, for the scenarios of bench/python_bench.py. Unlike wall
# time this does not move with the machine's load: each figure is the
# difference between two runs of N1 and N2 iterations, divided by N2-N1, so
# interpreter start-up and imports cancel out (start-up itself varies by about
# 2M instructions from run to run, hence 100,000 iterations apart for
# tracewire: about ±20 per op). Takes a few minutes.
#   bench/python_instructions.sh [scenario ...]   (main active unsampled prop tags10 threads4)
#   TW_TRACERS="tracewire" bench/python_instructions.sh main   # only these tracers
# threads4 is main from 4 threads on one tracer (python_bench's 4-thread run):
# instructions per span summed over the threads, GIL hand-offs included.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
py="$top/.venv/bin/python"
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(main active unsampled prop tags10 threads4)
read -r -a tracers <<<"${TW_TRACERS:-tracewire jaeger-client otel-sdk}"
driver=$(mktemp --suffix=.py)
trap 'rm -f "$driver"' EXIT
cat >"$driver" <<'PY'
import sys
sys.path.insert(0, sys.argv[4])
import python_bench as b
n, scen, which = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sampled = scen != "unsampled"
if which == "tracewire":
    t = b.tw_tracer(sampled=sampled)
elif which == "jaeger-client":
    t = b.jaeger_tracer(sampled=sampled)
else:
    _tp, t = b.otel_tracer(sampled=sampled)
pair = {"main": (b.ot_main, b.otel_main), "unsampled": (b.ot_main, b.otel_main),
        "active": (b.ot_active, b.otel_active), "prop": (b.ot_propagate, b.otel_propagate),
        "tags10": (b.ot_tags10, b.otel_tags10), "threads4": (b.ot_main, b.otel_main)}[scen]
fn = pair[1] if which == "otel-sdk" else pair[0]
if scen == "threads4":   # n spans in all, n/4 per thread, all four at once
    b.run_threads(fn, t, n // 4, 4)
else:
    fn(t, n)
PY
count() {  # count N SCENARIO TRACER -> total instructions
  PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$py" "$driver" "$1" "$2" "$3" "$top/bench" 2>&1 \
    | awk '/Collected/ {gsub(",", "", $4); print $4}'
}
printf '%-10s %14s %14s %14s   ratios (jaeger, otel)\n' scenario tracewire jaeger-client otel-sdk
for sc in "${scenarios[@]}"; do
  declare -A per=([tracewire]=0 [jaeger-client]=0 [otel-sdk]=0)
  for tr in "${tracers[@]}"; do
    if [ "$tr" = tracewire ]; then n1=10000 n2=110000; else n1=1000 n2=6000; fi
    a=$(count $n1 "$sc" "$tr"); b=$(count $n2 "$sc" "$tr")
    per[$tr]=$(( (b - a) / (n2 - n1) ))
  done
  printf '%-10s %14s %14s %14s   %5.1fx %5.1fx\n' "$sc" "${per[tracewire]}" "${per[jaeger-client]}" "${per[otel-sdk]}" \
    "$(awk -v a="${per[jaeger-client]}" -v b="${per[tracewire]}" 'BEGIN { print b ? a / b : 0 }')" \
    "$(awk -v a="${per[otel-sdk]}" -v b="${per[tracewire]}" 'BEGIN { print b ? a / b : 0 }')"
  unset per
done
