#!/usr/bin/env bash
# gunicorn prefork load test (see test_gunicorn.py), extension built in build/.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
lib=$(bash "$top/tests/hardening/build_python.sh" "${TW_HARDEN_BUILD:-$top/build/hardening}-py")
PYTHONPATH=$lib exec "$top/.venv/bin/python" "$top/tests/hardening/test_gunicorn.py"
