#!/usr/bin/env bash
# Soak: Jaeger killed and restarted under a steady 5,000 spans/s stream from
# the Python binding (see test_jaeger_restart.py). Jaeger's ports are fixed,
# so the whole step holds /tmp/tw-jaeger.lock (waiting at most 5 min for it).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
base=${TW_HARDEN_BUILD:-$top/build/hardening}
lib=$(bash "$top/tests/hardening/build_python.sh" "$base-py")
bash "$top/scripts/jaeger" install >/dev/null
PYTHONPATH=$lib exec flock -w 300 /tmp/tw-jaeger.lock \
  "$top/.venv/bin/python" "$top/tests/hardening/test_jaeger_restart.py" "$base-jaeger-restart"
