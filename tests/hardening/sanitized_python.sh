#!/usr/bin/env bash
# The Python test suite (tests/python) plus the hostile-value tests of
# tests/hardening/python against an ASan+UBSan build of the
# extension, with the sanitizer runtimes preloaded into CPython. CPython's own
# allocations at exit are not leaks of ours, so LeakSanitizer is off here; the
# leak checks are the 1M-span RSS loop and the C/valgrind runs. Any ASan or
# UBSan report aborts the process, which fails the run; the log is scanned too.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
lib=$(bash "$top/tests/hardening/build_python.sh" "${TW_HARDEN_BUILD:-$top/build/hardening}-py-asan" sanitize) || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$top/tests/python"
PYTHONPATH=$lib \
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$top/.venv/bin/python" -c 'import tracewire, sys; print("sanitized-python: tracewire from", tracewire.__file__); sys.exit(0)' || exit 1
PYTHONPATH=$lib \
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$top/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@" . "$top/tests/hardening/python" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$log"; then
  echo "sanitized-python: sanitizer report found"; rc=1
fi
echo "sanitized-python: pytest exit $rc, sanitizer reports: $(grep -cE 'ERROR: AddressSanitizer|runtime error:' "$log")"
exit $rc
