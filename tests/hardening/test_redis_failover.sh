#!/usr/bin/env bash
# Soak: a Redis master killed under producers and consumers, its replica
# promoted (see test_redis_failover.py). Builds the module and the Python
# binding into their own directories; redis-servers on free ports.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
base=${TW_HARDEN_BUILD:-$top/build/hardening}
lib=$(bash "$top/tests/hardening/build_python.sh" "$base-py")
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
[ -f "$base-redis/CMakeCache.txt" ] && gen=()
cmake -S "$top" -B "$base-redis" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc \
  -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF >/dev/null
cmake --build "$base-redis" --target tracewire_redis >"$base-redis.build.log" 2>&1 \
  || { tail -30 "$base-redis.build.log"; exit 1; }
PYTHONPATH=$lib exec "$top/.venv/bin/python" "$top/tests/hardening/test_redis_failover.py" \
  "$base-redis/redis-module/tracewire.so" "$base-redis-failover"
