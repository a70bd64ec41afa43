#!/usr/bin/env bash
# tests/python/run.sh's default: the suite once per supported CPython, against
# that interpreter's repaired wheel installed into build/pyvenv/3.X, inside
# scripts/cleanroom. Prints "python 3.X: N passed, N failed" per interpreter and a
# total line; exits non-zero when any interpreter failed or was missing.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH"

if [ -n "${TW_PYTHONS:-}" ]; then
  read -r -a versions <<<"$TW_PYTHONS"
else
  mapfile -t versions < <(scripts/pythons list | cut -d' ' -f1)
fi
scripts/pythons list | grep MISSING | sed 's/^/python: SUPPORTED CPYTHON /; s/$/ (no interpreter under pyenv or on PATH): counted as failed/'

total_pass=0 total_fail=0
declare -a lines=()
for v in "${versions[@]}"; do
  t0=$SECONDS
  p=0 f=0
  if ! venv=$(scripts/pythons venv "$v"); then
    echo "python $v: MISSING: no CPython $v on this machine"; f=1
  elif ! out=$(scripts/wheels "$v"); then
    echo "$out"; echo "python $v: the wheel did not build"; f=1
  else
    echo "$out"
    whl=$(sed -n 1p "build/wheels/dist/$v.path")
    "$venv/bin/python" -m pip install -q --no-deps --force-reinstall "$whl" >/dev/null \
      || { echo "python $v: pip install of $whl failed"; f=1; }
    # redis-opentracing 1.0.0 declares opentracing<2.1 (it runs fine on 2.4), so it
    # cannot sit in requirements-dev.txt beside opentracing==2.4.0: install it alone.
    "$venv/bin/python" -c "import redis_opentracing" 2>/dev/null \
      || "$venv/bin/python" -m pip install -q --no-deps redis-opentracing==1.0.0 >/dev/null 2>&1 \
      || echo "python $v: redis-opentracing unavailable; its test will be skipped"
    if [ $f = 0 ]; then
      out=$(cd "$top/tests/python" && "$top/scripts/cleanroom" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" . 2>&1)
      rc=$?
      echo "$out" | grep -vE '^[.sFEx]+ *(\[ *[0-9]+%\])?$' | tail -40
      p=$(grep -oE '[0-9]+ passed' <<<"$out" | tail -1 | cut -d' ' -f1)
      f=$(grep -oE '[0-9]+ (failed|error|errors)' <<<"$out" | awk '{s+=$1} END {print s+0}')
      p=${p:-0}
      # a crash or a run that collected nothing is a failure even without a count
      if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
      [ "$p" -eq 0 ] && f=$((f + 1))
    fi
  fi
  lines+=("python $v: $p passed, $f failed ($((SECONDS - t0)) s)")
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
done

# .venv keeps the wheel of its own interpreter too (bench/python_bench.py, manual runs).
vv=$("$top/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -f "build/wheels/dist/$vv.path" ]; then
  "$top/.venv/bin/python" -m pip install -q --no-deps --force-reinstall "$(sed -n 1p "build/wheels/dist/$vv.path")" >/dev/null 2>&1 \
    || echo "python: installing the $vv wheel into .venv failed (the suite itself is unaffected)"
fi

printf '%s\n' "${lines[@]}"
echo "python suite total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
