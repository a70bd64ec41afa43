#!/usr/bin/env bash
# Builds and installs the tracewire Python package into the project venv with
# `pip install .` (core compiled into the extension), then runs the pytest suite
# against the installed package (not the source tree). Servers the tests need
# (redis-server, UDP/HTTP sinks) are started by the tests on 127.0.0.1.
#   TW_SANITIZE=1 tests/python/run.sh   # ASan+UBSan build, run with libasan preloaded
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
py="$top/.venv/bin/python"
[ -x "$py" ] || { echo "no venv at $top/.venv (run scripts/bootstrap)"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! TW_WERROR=${TW_WERROR:-1} "$py" -m pip install --no-build-isolation --no-deps --force-reinstall -q . >"$log" 2>&1; then
  cat "$log"; echo "python: pip install . failed"; exit 1
fi

cd "$top/tests/python"
if [ -n "${TW_SANITIZE:-}" ]; then
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
exec "$py" -m pytest -q -p no:cacheprovider "$@" .
