#!/usr/bin/env bash
# Redis module suite: builds tracewire.so in its own build dir, then runs the
# pytest suite, which starts real redis-server processes on 127.0.0.1 (free
# ports, temporary dirs) and stops them on exit. Prints pytest's totals.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
py="$top/.venv/bin/python"
[ -x "$py" ] || py=python3
build="$top/build/redis-tests"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc \
  -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target tracewire_redis
# The Lua binding (H5) is used by the cross-language test only; build it if it
# builds, the module tests must not depend on it.
cmake --build "$build" >/dev/null 2>&1 || echo "note: full build failed; cross-language tests may skip"

# tracewire's Python binding, installed from this tree into this suite's own
# directory (never into the shared venv): the cross-language tests use it, and
# so does every test through tracewire.redis_queue (its envelope and carrier
# codecs are the core's). The cross-language tests fail, not skip, if it or
# the Lua binding is missing.
pydir="$build/py"
"$py" -m pip install -q --no-build-isolation --no-deps --target "$pydir" --upgrade "$top" >/dev/null 2>&1 \
  || echo "redis: building the Python binding failed; the cross-language tests will fail"
export PYTHONPATH="$pydir${PYTHONPATH:+:$PYTHONPATH}"
export TW_REDIS_BINDINGS=required

export TW_REDIS_MODULE="$build/redis-module/tracewire.so"
export TW_BUILD_DIR="$build"
# The fixtures stop every redis-server they start (and an atexit hook in
# conftest.py kills, by pid, any that an interrupted run left behind).
"$py" -m pytest -q -p no:cacheprovider tests/redis "$@"
