#!/usr/bin/env bash
# Wire suite: spans emitted by the real tracer/reporter (wire_driver.c) to real
# local UDP/HTTP listeners started by pytest, decoded with the PyPI thrift +
# jaeger-client generated types and opentelemetry-proto. Builds what it needs:
# the core (static, own build dir) and the driver.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${TW_WIRE_BUILD:-$top/build/wire}
py=${TW_PY:-$top/.venv/bin/python}
cmake -S "$top" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc \
  -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_LUA=OFF -DTW_BUILD_REDIS=OFF >/dev/null
cmake --build "$bdir" --target tracewire_static >/dev/null
gcc -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/core/include" \
  -o "$bdir/wire_driver" "$top/tests/wire/wire_driver.c" "$bdir/core/libtracewire.a" \
  $(pkg-config --libs libcurl jansson zlib) -lpthread -lm
# the OTLP encoders as pure functions (private headers, static core)
gcc -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/core/include" -I"$top/core/src" \
  -o "$bdir/otlp_encode" "$top/tests/wire/otlp_encode.c" "$bdir/core/libtracewire.a" \
  $(pkg-config --libs libcurl jansson zlib) -lpthread -lm
export TW_WIRE_DRIVER="$bdir/wire_driver" TW_OTLP_ENCODE="$bdir/otlp_encode"
cd "$top/tests/wire"
exec "$py" -m pytest -q -p no:cacheprovider "$@" .
