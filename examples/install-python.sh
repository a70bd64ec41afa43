#!/usr/bin/env bash
# Builds tracewire's Python binding (setup.py compiles the C extension with the
# core in it) into a private directory, not the shared venv's site-packages, so a
# run never replaces the build another suite is testing:
#   examples/install-python.sh DIR      then PYTHONPATH=DIR python ...
# Used by scripts/demo and tests/e2e/run.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: install-python.sh DIR}
py="$top/.venv/bin/python"
[ -f "$top/setup.py" ] || { echo "install-python: no setup.py for the Python binding yet" >&2; exit 1; }
# `setup.py build` with a private build base: pip would build in the shared
# in-tree build/ directory, where a concurrent build can hand us a half-written
# extension.
# Rebuilt only when a source changed (the demo and the e2e suite call this often).
stamp=$(cd "$top" && find setup.py python core -type f \( -name '*.c' -o -name '*.h' -o -name '*.py' \) \
          -not -path '*/__pycache__/*' | sort | xargs sha1sum | sha1sum | cut -c1-16)
if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] &&
   PYTHONPATH="$dest" "$py" -c 'import tracewire' 2>/dev/null; then
  echo "tracewire: $dest is up to date"; exit 0
fi
tmp="$dest.build"
rm -rf "$dest" "$tmp"
mkdir -p "$dest"
( cd "$top" && "$py" setup.py -q build --build-base "$tmp" ) >&2
cp -r "$tmp"/lib*/tracewire "$dest/"
rm -rf "$tmp"
echo "$stamp" > "$dest/.stamp"
PYTHONPATH="$dest" "$py" -c 'import tracewire; print("tracewire", tracewire.__version__, tracewire.__file__)'
