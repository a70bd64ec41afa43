#!/usr/bin/env bash
# 1M spans from Python with flat RSS (see test_rss_loop.py).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
lib=$(bash "$top/tests/hardening/build_python.sh" "${TW_HARDEN_BUILD:-$top/build/hardening}-py")
PYTHONPATH=$lib exec "$top/.venv/bin/python" "$top/tests/hardening/test_rss_loop.py" "${TW_HARDEN_RSS_SPANS:-1000000}"
