#!/usr/bin/env bash
# End-to-end suite against a real Jaeger v2: builds what the tests need (cmake for the
# core, Lua modules and Redis module; pip for the Python binding), starts Jaeger on
# 127.0.0.1 (building it with Go first if it is not cached: part of CI's budget), runs
# pytest, stops Jaeger. A piece that fails to build is reported and its tests fail;
# nothing is skipped.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH"
RUN="$top/build/e2e-run"
BUILD="$top/build/e2e"
mkdir -p "$RUN"

cleanup() {
  bash "$top/scripts/jaeger" stop "$RUN/jaeger" || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$SECONDS
echo "e2e: cmake build ($BUILD)"
if ! { cmake -S "$top" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc \
         -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF && cmake --build "$BUILD"; } > "$RUN/cmake.log" 2>&1; then
  tail -n 40 "$RUN/cmake.log"
  echo "e2e: the cmake build FAILED; tests that need it will fail"
fi
echo "e2e: pip install of the Python binding"
if ! bash "$top/examples/install-python.sh" "$BUILD/py" > "$RUN/pip.log" 2>&1; then
  tail -n 40 "$RUN/pip.log"
  echo "e2e: the Python binding did not install; Python tests will fail"
fi
echo "e2e: builds took $((SECONDS - t0)) s"

# Strategies for the remote-sampling test; the test rewrites this copy while
# Jaeger runs (Jaeger re-reads it every second).
cp "$top/tests/e2e/sampling.json" "$RUN/sampling.json"
t1=$SECONDS
JAEGER_SAMPLING_FILE="$RUN/sampling.json" bash "$top/scripts/jaeger" start "$RUN/jaeger" || {
  echo "e2e: Jaeger did not start"; exit 1; }
echo "e2e: Jaeger install+start took $((SECONDS - t1)) s"

export PYTHONPATH="$BUILD/py${PYTHONPATH:+:$PYTHONPATH}"
export TW_E2E_BUILD="$BUILD" TW_E2E_SAMPLING_FILE="$RUN/sampling.json" \
  TW_E2E_QUERY=http://127.0.0.1:16686
python -m pytest -v -p no:cacheprovider tests/e2e "$@"
rc=$?
echo "e2e: total $((SECONDS - t0)) s"
exit $rc
