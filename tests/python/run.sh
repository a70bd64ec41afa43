#!/usr/bin/env bash
# The Python suite, on every supported CPython (scripts/pythons: 3.9 … 3.13), each
# against the installed wheel, never the source tree: scripts/wheels builds one
# wheel per interpreter (-Werror) and repairs it with auditwheel (libcurl, jansson
# and their dependencies inside); it is installed into that interpreter's test
# venv (build/pyvenv/3.X) and pytest runs under scripts/cleanroom, where the
# system's libcurl/jansson cannot load and no compiler works. A supported
# version without an interpreter on this machine is a failure, named.
# Servers the tests need (redis-server, UDP/HTTP sinks) are started by the tests
# on 127.0.0.1 and stopped by them.
#   TW_PYTHONS="3.9 3.13" tests/python/run.sh  # only these interpreters
#   TW_PYTHONS=dev tests/python/run.sh     # quick loop: `pip install .` into .venv, suite there
#   TW_SANITIZE=1 tests/python/run.sh      # ASan+UBSan build in build/python-asan (the
#                                          # venv is left alone), run with libasan preloaded
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
py="$top/.venv/bin/python"
[ -x "$py" ] || { echo "no venv at $top/.venv (run scripts/bootstrap)"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -n "${TW_SANITIZE:-}" ]; then
  out="$top/build/python-asan"
  rm -rf "$out"
  if ! TW_WERROR=1 "$py" setup.py -q build_ext -b "$out" -t "$out-tmp" --force >"$log" 2>&1; then
    cat "$log"; echo "python: sanitized build failed"; exit 1
  fi
  cp python/tracewire/*.py python/tracewire/*.pyi python/tracewire/py.typed "$out/tracewire/"
  cp -r python/tracewire/otel "$out/tracewire/"
  export PYTHONPATH="$out"
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  # CPython itself is not leak-clean at exit: leaks are not checked here
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # Python objects from malloc, not pymalloc's arenas, so ASan sees their
  # use-after-free too (a freed str read by the core would otherwise pass)
  export PYTHONMALLOC=malloc
elif [ "${TW_PYTHONS:-}" = dev ]; then
  if ! TW_WERROR=${TW_WERROR:-1} "$py" -m pip install --no-build-isolation --no-deps --force-reinstall -q . >"$log" 2>&1; then
    cat "$log"; echo "python: pip install . failed"; exit 1
  fi
else
  exec bash "$top/tests/python/run_wheels.sh" "$@"
fi

# redis-opentracing 1.0.0 declares opentracing<2.1 (it runs fine on 2.4), so it
# cannot sit in requirements-dev.txt beside opentracing==2.4.0: install it alone.
"$py" -c "import redis_opentracing" 2>/dev/null \
  || "$py" -m pip install -q --no-deps redis-opentracing==1.0.0 >/dev/null 2>&1 \
  || echo "python: redis-opentracing unavailable; its test will be skipped"

cd "$top/tests/python"
exec "$py" -m pytest -q -p no:cacheprovider "$@" .
