#!/usr/bin/env bash
# watchdog.sh SECONDS CMD [ARG...] — runs CMD; if it is still running after
# SECONDS, prints the backtrace of every thread of CMD and of every process it
# forked (gdb, attached in batch mode), then kills them all.
#
# Why: a rare hang in a threaded or forking test used to end as a bare
# "ctest timeout" with nothing to go on; with this, the CI log of the one run
# that hung holds the stacks. Exit status: CMD's, or 124 when it timed out.
set -u
secs=$1; shift

"$@" &
pid=$!

descendants() {   # descendants PID: PID and everything below it, parents first
  local p=$1 c
  echo "$p"
  for c in $(pgrep -P "$p" 2>/dev/null); do descendants "$c"; done
}

dump_and_kill() {
  local procs p
  procs=$(descendants "$pid")
  echo "watchdog: '$*' still running after ${secs} s; threads of pids" $procs >&2
  for p in $procs; do
    echo "---- pid $p: $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)" >&2
    if command -v gdb >/dev/null; then
      timeout 60 gdb -p "$p" -batch -nx -q -ex 'set pagination off' \
        -ex 'thread apply all bt' </dev/null 2>&1 | grep -v '^\[New LWP' >&2
    else
      cat /proc/"$p"/task/*/stack 2>/dev/null >&2 || true
    fi
  done
  for p in $procs; do kill -KILL "$p" 2>/dev/null; done
}

# Polled rather than timed by a background sleep: a sleeper left behind would
# hold ctest's output pipe open after the test ended.
deadline=$((SECONDS + secs))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    dump_and_kill "$@"
    wait "$pid" 2>/dev/null
    exit 124
  fi
  sleep 0.1
done
wait "$pid"
