#!/usr/bin/env bash
# Instructions per nginx request with tracing off vs on, counted by callgrind:
# deterministic, so it means something on a shared or loaded machine where
# req/s does not. One single-process nginx (master_process off) under
# valgrind --tool=callgrind; after a warm-up, the counters are zeroed, N
# keep-alive requests to a static file are sent, and the user-space
# instructions are divided by N. Kernel work (TCP, file I/O: most of a
# static request's real cost) is invisible to callgrind, so the percentages
# here overstate the overhead on the whole request.
# Modes: off | on (start+finish, 100% sampled) | on-scheme (on, with
# init_worker's scheme option: one ngx.var read less) | on-static (on-scheme
# with start{propagate=false}: nothing injected) | on-1pct | log-span, and
# baselines: lua-noop / log-noop (empty Lua handlers), ngx-api (the ngx.*
# calls the general path of start()+finish() makes, without tracewire) and
# ngx-static (the ngx.* calls on-static makes: raw_header, ngx.ctx, ngx.status). See
# bench/nginx_bench.sh. thread-only: off, but with the native module's
# reporter thread running (reporter.driver thread; one traced request to
# another location started it): what a second thread alone costs nginx
# (glibc's cancellation points in every syscall wrapper, malloc's locking).
# loop-only: the same with reporter.driver auto (the event loop sends, no
# thread): thread-only - loop-only is the second thread's own cost, and
# loop-only - off what one traced request leaves behind (the tracer's
# buffers and record cache in nginx's heap).
# native-thread: native with reporter.driver thread -- the module as it ran
# before issue #15's loop mode; native itself (reporter.driver auto, UDP)
# sends from the worker's event loop with no thread at all. Every mode's
# line says how many threads nginx had ("thr"; valgrind runs each guest
# thread as one thread of its own). The native module (nginx-module/) is loaded in every
# mode and does nothing where `tracewire` is off: native (`tracewire on;`,
# the same span, tags and UDP reporting, no Lua) and native-1pct. Spans go
# over UDP to a live sink (a Python socket reading them). callgrind counts
# every thread of nginx, so "on" figures include the reporter thread's
# encoding and sending: its share per span is in the figure.
# Default modes: off native native-1pct on (the figures #15 asks for;
# bench/nginx_bench.sh runs this after its wall-clock part and prints both
# in one table); TW_CG_MODES="..." picks others, "all" runs every one.
# TW_CG_KEEP=<dir> keeps each mode's callgrind file there (<mode>.1) for
# callgrind_annotate. TW_CG_VGOPTS adds valgrind options; with
# --separate-threads=yes each mode also prints its instructions per request
# by thread (nginx's worker, the reporter thread: issue #15's split). The reporter sends once a second: the counters are
# zeroed and dumped after TW_CG_SETTLE (2.5) seconds of quiet, so the window
# holds the encoding and sending of exactly the measured requests' spans.
# Usage: bench/nginx_callgrind.sh [requests=1000]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000}
lua_build=${TW_LUA_BUILD:-}
native=${TW_NGINX_MODULE:-}
if [ -z "$lua_build" ] || [ -z "$native" ]; then
  cmake -S "$top" -B "$top/build/lua-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
    -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_REDIS=OFF >/dev/null
  cmake --build "$top/build/lua-bench" --target tracewire_luajit ngx_http_tracewire_module >/dev/null
  lua_build=${lua_build:-$top/build/lua-bench/lua}
  native=${native:-$top/build/lua-bench/nginx-module/ngx_http_tracewire_module.so}
fi
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }

run=$(mktemp -d /tmp/tw-nginx-cg.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
agent=$(( port + 1 ))
vg_pid="" sink_pid=""
cleanup() {
  [ -n "$vg_pid" ] && kill "$vg_pid" 2>/dev/null
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
  sleep 0.5; rm -rf "$run"
}
trap cleanup EXIT
# A live UDP sink standing in for the Jaeger agent (counts what it gets).
python3 - "$agent" > "$run/sink.out" <<'PY' &
import socket, signal, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
n = b = 0
def done(*_):
    print(n, b, flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    d = s.recv(70000); n += 1; b += len(d)
PY
sink_pid=$!
mkdir -p "$run/html/static" "$run/tmp"
printf 'static file\n' > "$run/html/static/x.txt"
cat > "$run/client.py" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
for _ in range(int(sys.argv[2])):
    c.request("GET", "/static/x.txt")
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
user=""; [ "$(id -u)" = 0 ] && user="user root root;"

measure() {   # measure MODE -> instructions per request
  local handlers="" sampler='type = "const", param = 1'
  case $1 in
    on|on-1pct|on-scheme) handlers='rewrite_by_lua_block { require("tracewire.nginx").start() } log_by_lua_block { require("tracewire.nginx").finish() }' ;;
    log-span) handlers='log_by_lua_block { require("tracewire.nginx").log_span() }' ;;
    on-static) handlers='rewrite_by_lua_block { require("tracewire.nginx").start{ propagate = false } } log_by_lua_block { require("tracewire.nginx").finish() }' ;;
    lua-noop) handlers='rewrite_by_lua_block { local _ = 1 } log_by_lua_block { local _ = 1 }' ;;
    log-noop) handlers='log_by_lua_block { local _ = 1 }' ;;
    hdrs) handlers='rewrite_by_lua_block { local h = ngx.req.get_headers() } log_by_lua_block { local _ = 1 }' ;;
    vars) handlers='rewrite_by_lua_block { local u = ngx.var.scheme .. ngx.var.request_uri } log_by_lua_block { local _ = 1 }' ;;
    var-scheme) handlers='rewrite_by_lua_block { local u = ngx.var.scheme } log_by_lua_block { local _ = 1 }' ;;
    var-uri) handlers='rewrite_by_lua_block { local u = ngx.var.request_uri } log_by_lua_block { local _ = 1 }' ;;
    var-log) handlers='log_by_lua_block { local u = ngx.var.scheme .. ngx.var.request_uri }' ;;
    http-version) handlers='rewrite_by_lua_block { local u = ngx.req.http_version() } log_by_lua_block { local _ = 1 }' ;;
    raw-header) handlers='rewrite_by_lua_block { local u = ngx.req.raw_header() } log_by_lua_block { local _ = 1 }' ;;
    ctx) handlers='rewrite_by_lua_block { ngx.ctx.x = 1 } log_by_lua_block { local x = ngx.ctx.x }' ;;
    sethdr) handlers='rewrite_by_lua_block { ngx.req.set_header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") ngx.req.set_header("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1") } log_by_lua_block { local _ = 1 }' ;;
    ngx-static) handlers='rewrite_by_lua_block { local ok, h = pcall(ngx.req.raw_header) ngx.ctx.x = 1 } log_by_lua_block { local x = ngx.ctx.x local s = ngx.status }' ;;
    native|native-1pct|native-thread) handlers='tracewire on;' ;;
    ngx-api) handlers='rewrite_by_lua_block { local h = ngx.req.get_headers() local m = ngx.req.get_method() local u = ngx.var.scheme .. ngx.var.request_uri ngx.ctx.x = 1 ngx.req.set_header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") ngx.req.set_header("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1") } log_by_lua_block { local x = ngx.ctx.x local s = ngx.status local t = ngx.req.start_time() }' ;;
  esac
  [ "$1" = on-1pct ] && sampler='type = "probabilistic", param = 0.01'
  local nsampler=const nparam=1
  [ "$1" = native-1pct ] && nsampler=probabilistic nparam=0.01
  local ndriver=auto
  case $1 in thread-only|native-thread) ndriver=thread ;; esac
  local iw_opts=""
  case $1 in on-scheme|on-static) iw_opts=', { scheme = "http" }' ;; esac
  cat > "$run/nginx.conf" <<EOF2
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
load_module $native;
$user
daemon off; master_process off; worker_processes 1;
pid $run/nginx.pid;
error_log $run/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $run/tmp; proxy_temp_path $run/tmp; fastcgi_temp_path $run/tmp;
    uwsgi_temp_path $run/tmp; scgi_temp_path $run/tmp;
    lua_package_path "$top/lua/?.lua;;";
    lua_package_cpath "$lua_build/5.1/?.so;;";
    init_worker_by_lua_block {
        require("tracewire.nginx").init_worker({ service_name = "nginx-bench", sampler = { $sampler },
            reporter = { protocols = "udp", agent_host = "127.0.0.1", agent_port = $agent } }$iw_opts)
    }
    tracewire_config service_name nginx-bench;
    tracewire_config sampler.type $nsampler;
    tracewire_config sampler.param $nparam;
    tracewire_config reporter.protocols udp;
    tracewire_config reporter.agent_port $agent;
    tracewire_config reporter.driver $ndriver;
    server { listen 127.0.0.1:$port; location /static/ { $handlers root $run/html; }
             location = /tw-thread { tracewire on; return 204; } }
}
EOF2
  rm -f "$run"/cg.out*
  valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file ${TW_CG_VGOPTS:-} \
    --callgrind-out-file="$run/cg.out" nginx -p "$run" -c "$run/nginx.conf" -e "$run/error.log" \
    > "$run/vg.log" 2>&1 &
  vg_pid=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/static/x.txt" >/dev/null && break; sleep 0.2; done
  callgrind_control -i on "$vg_pid" >/dev/null
  python3 "$run/client.py" "$port" "${TW_CG_WARMUP:-300}"   # warm-up (JIT, caches, reporter thread)
  # thread-only: one traced request elsewhere starts the native module's
  # reporter thread; the measured requests are not traced
  case $1 in thread-only|loop-only) curl -sf "http://127.0.0.1:$port/tw-thread" >/dev/null ;; esac
  # the reporter sends every flush interval (1 s): settle before zeroing and
  # before dumping, so the window holds exactly the n requests' spans
  sleep "${TW_CG_SETTLE:-2.5}"
  callgrind_control -z "$vg_pid" >/dev/null
  python3 "$run/client.py" "$port" "$n"
  sleep "${TW_CG_SETTLE:-2.5}"
  ls "/proc/$vg_pid/task" 2>/dev/null | wc -l > "$run/threads"
  callgrind_control -d "$vg_pid" >/dev/null
  kill "$vg_pid"
  for _ in $(seq 100); do kill -0 "$vg_pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$vg_pid" 2>/dev/null || true     # valgrind's slow shutdown: the counts are dumped
  wait "$vg_pid" 2>/dev/null || true; vg_pid=""
  local total
  if [ -n "${TW_CG_KEEP:-}" ]; then mkdir -p "$TW_CG_KEEP"; for f in "$run"/cg.out.*; do cp "$f" "$TW_CG_KEEP/$1.${f##*/cg.out.}"; done; fi
  total=$(cat "$run"/cg.out.* 2>/dev/null | awk '/^summary:/ {s += $2} END {print s + 0}')
  # TW_CG_VGOPTS=--separate-threads=yes: one file per thread (-01 nginx's,
  # -02 on the reporter thread's): say each thread's share too
  if ls "$run"/cg.out.*-02 >/dev/null 2>&1; then
    local f parts=""
    for f in "$run"/cg.out.*-[0-9][0-9]; do
      parts="$parts${parts:+ + }$(awk -v n="$n" '/^summary:/ {printf "%d", $2 / n}' "$f") (thread ${f##*-})"
    done
    echo "  $1 by thread: $parts" >&2
  fi
  echo $(( total / n ))
}

measure_retry() {   # a run that counted nothing (valgrind slow to start) is retried once
  local v; v=$(measure "$1")
  [ "$v" -gt 0 ] || v=$(measure "$1")
  echo "$v"
}

declare -A ir thr
modes=${TW_CG_MODES:-off native native-1pct on}
[ "$modes" = all ] && modes="off thread-only loop-only lua-noop ngx-api ngx-static on on-scheme on-static on-1pct log-noop log-span native native-1pct native-thread"
for m in $modes; do
  ir[$m]=$(measure_retry "$m"); thr[$m]=$(cat "$run/threads" 2>/dev/null || echo "?")
  echo "$m: ${ir[$m]} instructions/request (${thr[$m]} thr)"
done
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f%%", (a - b) * 100 / b}'; }
echo "nginx $(nginx -v 2>&1 | cut -d/ -f2) under callgrind, $n keep-alive requests per mode, user-space instructions per request:"
base=${ir[off]:-0}
for m in $modes; do
  if [ "$m" = off ] || [ "$base" -eq 0 ]; then printf '  %-13s %8d  %s thr\n' "$m" "${ir[$m]}" "${thr[$m]}"; continue; fi
  printf '  %-13s %8d  %s thr  (%s vs off, %+d instructions)\n' "$m" "${ir[$m]}" "${thr[$m]}" \
    "$(pct "${ir[$m]}" "$base")" $(( ir[$m] - base ))
done
if [ -n "${ir[on]:-}" ] && [ -n "${ir[ngx-api]:-}" ]; then
  echo "  tracewire's own share of on: on - ngx-api = +$(( ir[on] - ir[ngx-api] ))"
fi
if [ -n "${ir[on-static]:-}" ] && [ -n "${ir[ngx-static]:-}" ]; then
  echo "  tracewire's own share of on-static: on-static - ngx-static = +$(( ir[on-static] - ir[ngx-static] ))"
fi
if [ -n "${ir[thread-only]:-}" ] && [ -n "${ir[off]:-}" ]; then
  printf '  a second thread alone (thread-only - off): %+d\n' $(( ir[thread-only] - ir[off] ))
fi
if [ -n "${ir[thread-only]:-}" ] && [ -n "${ir[loop-only]:-}" ]; then
  printf "  the thread's own cost (thread-only - loop-only): %+d\n" $(( ir[thread-only] - ir[loop-only] ))
fi
if [ -n "${ir[native-thread]:-}" ] && [ -n "${ir[native]:-}" ]; then
  printf '  the event loop sending instead of a thread (native - native-thread): %+d\n' $(( ir[native] - ir[native-thread] ))
fi
if [ -n "${ir[log-span]:-}" ] && [ -n "${ir[log-noop]:-}" ]; then
  echo "  log-span - log-noop = +$(( ir[log-span] - ir[log-noop] ))"
fi
kill -TERM "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=""
read -r dgrams bytes < "$run/sink.out" || true
echo "  agent sink received ${dgrams:-?} datagrams, ${bytes:-?} bytes"
