#!/usr/bin/env bash
# Builds tracewire's Python binding (pip compiles the C extension with the core
# in it) into a private directory, not the shared venv's site-packages, so a
# run never replaces the build another suite is testing:
#   examples/install-python.sh DIR      then PYTHONPATH=DIR python ...
# Used by scripts/demo and tests/e2e/run.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: install-python.sh DIR}
py="$top/.venv/bin/python"
if [ -f "$top/setup.py" ] || [ -f "$top/pyproject.toml" ]; then
  src="$top"
elif [ -f "$top/python/setup.py" ]; then
  src="$top/python"
else
  echo "install-python: no setup.py for the Python binding yet" >&2; exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
"$py" -m pip install -q --no-build-isolation --no-deps --target "$dest" "$src"
PYTHONPATH="$dest" "$py" -c 'import tracewire; print("tracewire", tracewire.__version__, tracewire.__file__)'
