#!/usr/bin/env bash
# Installs tracewire's Python binding into the project venv (pip builds the C
# extension with the core compiled in). Used by scripts/demo and tests/e2e/run.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pip="$top/.venv/bin/pip"
if [ -f "$top/python/setup.py" ] || [ -f "$top/python/pyproject.toml" ]; then
  src="$top/python"
elif [ -f "$top/setup.py" ] || [ -f "$top/pyproject.toml" ]; then
  src="$top"
else
  echo "install-python: no setup.py for the Python binding yet" >&2; exit 1
fi
"$pip" install -q --no-build-isolation "$src"
"$top/.venv/bin/python" -c 'import tracewire, sys; print("tracewire", getattr(tracewire, "__version__", "?"), tracewire.__file__)'
