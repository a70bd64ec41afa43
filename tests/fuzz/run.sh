#!/usr/bin/env bash
# The fuzz suite: builds the libFuzzer targets with clang (ASan+UBSan),
# replays every saved regression input, then fuzzes each target for a bounded
# time starting from its seed corpus. Exits non-zero if a target does not
# build, a regression input fails, or fuzzing finds a crash, leak, timeout or
# broken property (the input is saved and the command to reproduce printed).
#
#   tests/fuzz/run.sh                  what CI runs: TW_FUZZ_SECONDS (20) per target,
#                                      the grown corpus thrown away afterwards
#   tests/fuzz/run.sh --seconds N --persistent [TARGET...]
#                                      what scripts/fuzz runs: the corpus grows in
#                                      $TW_FUZZ_BUILD/corpus/<target> across runs and
#                                      every run is logged to $TW_FUZZ_BUILD/stats.tsv
# Environment: TW_FUZZ_SECONDS, TW_FUZZ_BUILD (default build/fuzz), TW_FUZZ_MAX_LEN (4096).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

seconds=${TW_FUZZ_SECONDS:-20}
persistent=0
only=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --persistent) persistent=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) only+=("$1"); shift ;;
  esac
done
build=${TW_FUZZ_BUILD:-$top/build/fuzz}
max_len=${TW_FUZZ_MAX_LEN:-4096}
fuzz_dir=$top/tests/fuzz

if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found (scripts/bootstrap installs clang + libclang-rt-14-dev)"
  exit 1
fi

echo "fuzz: building targets in $build"
mkdir -p "$build"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
[ -f "$build/CMakeCache.txt" ] && gen=()
if ! cmake -S "$fuzz_dir" -B "$build" "${gen[@]}" -DCMAKE_C_COMPILER=clang >"$build/configure.log" 2>&1; then
  cat "$build/configure.log"; echo "fuzz: configure FAILED"; exit 1
fi
grep '^-- fuzz:' "$build/configure.log" || true
if ! cmake --build "$build" -j2 >"$build/build.log" 2>&1; then
  grep -E 'error|undefined reference' "$build/build.log" | head -40
  echo "fuzz: build FAILED (full log: $build/build.log)"; exit 1
fi

mapfile -t targets < <(grep -v '^$' "$build/targets.txt")
if [ ${#only[@]} -gt 0 ]; then targets=("${only[@]}"); fi

dict_for() {
  case $1 in
    fuzz_extract_*|fuzz_parsers|fuzz_redis_envelope|fuzz_percent|fuzz_http_head) echo "$fuzz_dir/dict/headers.dict" ;;
    fuzz_config_set) echo "$fuzz_dir/dict/config.dict" ;;
    fuzz_config_env) echo "$fuzz_dir/dict/env.dict" ;;
    fuzz_sampler_json) echo "$fuzz_dir/dict/json.dict" ;;
    fuzz_encoders) echo "$fuzz_dir/dict/tags.dict" ;;
  esac
}

art=$build/artifacts
mkdir -p "$art"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fail=0
declare -a rows=()
for t in "${targets[@]}"; do
  bin=$build/$t
  if [ ! -x "$bin" ]; then
    rows+=("$(printf '%-24s %-8s' "$t" MISSING)"); fail=1; continue
  fi

  # 1. regression inputs: each must run clean
  reg=$fuzz_dir/regressions/$t
  nreg=0
  if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
    nreg=$(ls -1 "$reg" | wc -l)
    if ! "$bin" "$reg"/* >"$tmp/$t.reg.log" 2>&1; then
      echo "fuzz: $t: a regression input FAILS:"; tail -40 "$tmp/$t.reg.log"
      rows+=("$(printf '%-24s %-8s regressions: %d' "$t" REGRESS "$nreg")"); fail=1; continue
    fi
  fi

  # 2. fuzz for a bounded time
  if [ $persistent = 1 ]; then work=$build/corpus/$t; else work=$tmp/corpus-$t; fi
  mkdir -p "$work"
  seeds=$fuzz_dir/corpus/$t
  [ -d "$seeds" ] || seeds=""
  dict=$(dict_for "$t")
  args=(-max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$art/$t-")
  [ -n "$dict" ] && args+=(-dict="$dict")
  log=$tmp/$t.log
  "$bin" "${args[@]}" "$work" $seeds >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corp=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 | sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  status=ok
  if [ $rc -ne 0 ]; then
    status=CRASH; fail=1
    echo "fuzz: $t FAILED (exit $rc):"
    grep -E 'ERROR|FZ_CHECK|SUMMARY|runtime error|#[0-9]+ 0x' "$log" | head -30
    a=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [ -n "$a" ]; then
      echo "fuzz: input saved to $a"
      echo "fuzz: reproduce: $bin $a"
      echo "fuzz: keep it:   mkdir -p tests/fuzz/regressions/$t && cp $a tests/fuzz/regressions/$t/"
    fi
  fi
  rows+=("$(printf '%-24s %-8s %12s execs %8s/s  corpus %-12s cov %-6s regressions %d' \
    "$t" "$status" "${execs:-?}" "${rate:-?}" "${corp:-?}" "${cov:-?}" "$nreg")")
  if [ $persistent = 1 ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$status" "${execs:-0}" \
      "$(ls -1 "$work" | wc -l)" "$seconds" >>"$build/stats.tsv"
  fi
done

echo "=================== fuzz: ${seconds} s per target"
printf '%s\n' "${rows[@]}"
if [ $persistent = 1 ] && [ -f "$build/stats.tsv" ]; then
  echo "=================== fuzz: all persistent runs ($build/stats.tsv)"
  awk -F'\t' '{ex[$2]+=$4; n[$2]++; c[$2]=$5; if ($3!="ok") bad[$2]++}
       END {for (t in ex) printf "%-24s %14d execs in %3d runs, corpus %6d files, failed runs %d\n", t, ex[t], n[t], c[t], bad[t]+0}' \
    "$build/stats.tsv" | sort
fi
if [ $fail -ne 0 ]; then echo "fuzz: FAILED"; exit 1; fi
echo "fuzz: ${#targets[@]} targets passed"
