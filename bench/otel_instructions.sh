#!/usr/bin/env bash
# Instructions per span (valgrind callgrind) of the OpenTelemetry API calls of
# bench/python_bench.py's OTel section: tracewire.otel vs the OTel SDK pinned in
# requirements-dev.txt (.venv) and the newest (.venv-otel-newest, made by
# scripts/bootstrap). Unlike wall time this does not move with the machine's
# load. Each figure counts the measured loop alone, inside one process: after a
# warm-up the driver has callgrind zero its counters (callgrind_control -z),
# runs N spans and has them dumped (-d), so interpreter start-up and imports are
# not in it. The main thread's instructions, GC included; the core's reporter
# thread is not counted (it runs beside the application). Takes a few minutes.
#   bench/otel_instructions.sh [scenario ...]     (main active unsampled tags10)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(main active unsampled tags10)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/driver.py" <<'PY'
import gc, os, subprocess, sys
sys.path.insert(0, sys.argv[4])
import python_bench as b
which, scen, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sampled = scen != "unsampled"
if which == "tracewire.otel":
    _tp, t = b.twotel_tracer(sampled=sampled)
else:
    _tp, t = b.otel_tracer(sampled=sampled)
fn = {"main": b.otel_main, "unsampled": b.otel_main, "active": b.otel_active,
      "tags10": b.otel_tags10}[scen]
fn(t, 2000)
gc.collect()
pid = str(os.getpid())
subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
fn(t, n)
subprocess.run(["callgrind_control", "-d", "loop", pid], check=True, capture_output=True)
PY
count() {  # count PYTHON TRACER SCENARIO N -> instructions per span
  local out="$work/cg.$2.$3"
  PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$1" "$work/driver.py" \
    "$2" "$3" "$4" "$top/bench" >/dev/null 2>&1
  local f
  f=$(grep -l "^desc: Trigger: dump loop" "$out".* | head -1)
  awk -v n="$4" '/^summary:/ {printf "%d", $2 / n; exit}' "$f"
  rm -f "$out".*
}
newest="$top/.venv-otel-newest/bin/python"
[ -x "$newest" ] || { echo "no $newest: run scripts/bootstrap"; exit 1; }
v1=$("$top/.venv/bin/python" -c 'from importlib.metadata import version; print(version("opentelemetry-sdk"))')
v2=$("$newest" -c 'from importlib.metadata import version; print(version("opentelemetry-sdk"))')
printf '%-10s %14s %14s %14s   ratios (sdk %s, sdk %s)\n' scenario tracewire.otel "sdk $v1" "sdk $v2" "$v1" "$v2"
for sc in "${scenarios[@]}"; do
  tw=$(PYTHONPATH="${PYTHONPATH:-}" count "$top/.venv/bin/python" tracewire.otel "$sc" 20000)
  s1=$(count "$top/.venv/bin/python" otel-sdk "$sc" 3000)
  s2=$(count "$newest" otel-sdk "$sc" 3000)
  printf '%-10s %14s %14s %14s   %5.1fx %5.1fx\n' "$sc" "$tw" "$s1" "$s2" \
    "$(awk -v a="$s1" -v b="$tw" 'BEGIN { print b ? a / b : 0 }')" \
    "$(awk -v a="$s2" -v b="$tw" 'BEGIN { print b ? a / b : 0 }')"
done
