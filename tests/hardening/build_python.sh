#!/usr/bin/env bash
# Builds the tracewire Python package (core compiled into the extension) into
# its own directory, never into the shared venv:
#   build_python.sh DIR [sanitize]     prints the directory to put on PYTHONPATH
# With "sanitize" the extension is built with ASan+UBSan (setup.py TW_SANITIZE)
# and must be run with the runtimes preloaded (see sanitized_python.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
dir=$1
san=${2:-}
log=$dir.log
mkdir -p "$dir"
if ! env ${san:+TW_SANITIZE=1} TW_WERROR=1 "$top/.venv/bin/python" setup.py -q build --build-base "$dir" >"$log" 2>&1; then
  cat "$log" >&2; echo "build_python: setup.py build failed" >&2; exit 1
fi
lib=$(ls -d "$dir"/lib.* | head -1)
[ -f "$(ls "$lib"/tracewire/_core*.so | head -1)" ] || { echo "build_python: no extension built" >&2; exit 1; }
echo "$lib"
