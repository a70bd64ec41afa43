#!/usr/bin/env bash
# nginx with tracing off vs on: the figures issue #15 asks for, in one run.
#
#   bash bench/nginx_bench.sh            # about 5 minutes on 2 CPUs
#
# prints (1) requests/s under wrk against a static file location (1 worker,
# keep-alive, nginx pinned to CPU 1 and wrk + the agent sink to CPU 0) and
# the worker's CPU time per request, best of the rounds, for: off, the
# native module at 100% and 1% sampling (spans over UDP to a live sink), and
# the Lua module (tracewire.nginx start()/finish(), 100%); then (2)
# callgrind's user-space instructions per request for the same four modes
# (bench/nginx_callgrind.sh: deterministic, the worker and reporter thread
# both counted); then (3) one table: req/s, req/s loss vs off, instructions
# per request and instructions added vs off, next to the goal (<= 5% req/s
# loss, <= 1,500 instructions added, reporter included).
#
# Modes (TW_NGINX_MODES="..." picks any; "all" runs every one):
#   off       the location has no Lua handlers (both modules are loaded)
#   native    `tracewire on;` (the native module, default tracewire_context
#             propagate): server span, tags, UDP reporting, no Lua at all
#   native-1pct  as native, sampler probabilistic 0.01
#   native-thread  as native, with `tracewire_config reporter.driver thread`:
#             a reporter thread in the worker instead of the worker's event
#             loop sending (what every native run did before issue #15's
#             loop mode; the difference is glibc's multi-thread tax)
# Every mode's line says how many threads the worker had at the end of its
# run ("1 thr": the native module's spans went out from the event loop;
# a reporter thread -- the native module's, or the Lua module's -- makes 2).
#   on        tracewire.nginx start()/finish() (the Lua module): extract,
#             server span with its tags, inject into the request headers,
#             status tags, finish -> UDP reporter
#   lua-noop  empty rewrite_by_lua + log_by_lua (the cost of entering Lua at all)
#   on-1pct   as on, with probabilistic sampling at 1% (unsampled spans skip
#             their tags but still propagate the decision)
#   on-static as on, with start{propagate=false} (a location that proxies
#             nothing: no context headers written)
#   log-noop  empty log_by_lua only
#   log-span  tracewire.nginx log_span(): the same span from the log phase alone
#             (for locations that proxy nothing; no propagation)
#   proxy-off / proxy-on  the location proxies (keepalive) to a static server
#             block of the same worker, without / with start()+finish(); CPU
#             per request then covers the proxy and the backend work
#   native-proxy  as proxy-on, with the native module (the context is
#             injected into the proxied request); compared with proxy-off
# Usage: bench/nginx_bench.sh [duration_s=10] [rounds=3] [connections=32]
# TW_NGINX_CALLGRIND=0 skips part (2); TW_CG_REQUESTS (1000) sets its
# requests per mode. Builds the LuaJIT module and the native module into
# build/lua-bench (Release) unless TW_LUA_BUILD=<dir>/lua and
# TW_NGINX_MODULE=<path to the .so> are given.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dur=${1:-10} rounds=${2:-3} conns=${3:-32}
lua_build=${TW_LUA_BUILD:-}
native=${TW_NGINX_MODULE:-}
if [ -z "$lua_build" ] || [ -z "$native" ]; then
  cmake -S "$top" -B "$top/build/lua-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
    -DTW_BUILD_TESTS=OFF -DTW_BUILD_BENCH=OFF -DTW_BUILD_REDIS=OFF >/dev/null
  cmake --build "$top/build/lua-bench" --target tracewire_luajit ngx_http_tracewire_module >/dev/null
  lua_build=${lua_build:-$top/build/lua-bench/lua}
  native=${native:-$top/build/lua-bench/nginx-module/ngx_http_tracewire_module.so}
fi
[ -f "$lua_build/5.1/tracewire.so" ] || { echo "no $lua_build/5.1/tracewire.so"; exit 1; }
[ -f "$native" ] || { echo "no $native"; exit 1; }

# On 2+ CPUs nginx (worker and reporter thread) runs on CPU 1 and wrk and
# the agent sink on CPU 0, so the client never steals the server's CPU and
# every cycle tracing costs shows up as lost req/s. TW_NGINX_PIN=0: no pinning.
pin_nginx="" pin_wrk=""
if [ "${TW_NGINX_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_nginx="taskset -c 1" pin_wrk="taskset -c 0"
fi
run=$(mktemp -d /tmp/tw-nginx-bench.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
agent=$(( port + 1 ))
backend=$(( port + 2 ))
sink_pid=""
cleanup() {
  [ -f "$run/nginx.pid" ] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  sleep 0.5; rm -rf "$run"
}
trap cleanup EXIT
mkdir -p "$run/html/static" "$run/tmp"
printf 'static file\n' > "$run/html/static/x.txt"

# A UDP sink standing in for the Jaeger agent (counts datagrams and bytes).
$pin_wrk python3 - "$agent" > "$run/sink.out" <<'PY' &
import socket, signal, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
n = b = 0
def done(*_):
    print(n, b, flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    d = s.recv(70000); n += 1; b += len(d)
PY
sink_pid=$!

user=""; [ "$(id -u)" = 0 ] && user="user root root;"
conf() {   # conf MODE
  local handlers=""
  case $1 in
    lua-noop) handlers='rewrite_by_lua_block { local _ = 1 } log_by_lua_block { local _ = 1 }' ;;
    on) handlers='rewrite_by_lua_block { require("tracewire.nginx").start() } log_by_lua_block { require("tracewire.nginx").finish() }' ;;
    log-noop) handlers='log_by_lua_block { local _ = 1 }' ;;
    log-span) handlers='log_by_lua_block { require("tracewire.nginx").log_span() }' ;;
    on-static) handlers='rewrite_by_lua_block { require("tracewire.nginx").start{ propagate = false } } log_by_lua_block { require("tracewire.nginx").finish() }' ;;
    on-1pct) handlers='rewrite_by_lua_block { require("tracewire.nginx").start() } log_by_lua_block { require("tracewire.nginx").finish() }' ;;
    proxy-on) handlers='rewrite_by_lua_block { require("tracewire.nginx").start() } log_by_lua_block { require("tracewire.nginx").finish() }' ;;
    native*) handlers='tracewire on;' ;;
  esac
  local body="root $run/html;" sampler='type = "const", param = 1' nsampler="const" nparam=1
  local ndriver=auto
  [ "$1" = native-thread ] && ndriver=thread
  [ "$1" = on-1pct ] && sampler='type = "probabilistic", param = 0.01'
  [ "$1" = native-1pct ] && nsampler=probabilistic nparam=0.01
  case $1 in proxy-*|native-proxy) body="proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_pass http://backend;" ;; esac
  cat > "$run/nginx.conf" <<EOF2
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
load_module $native;
$user
worker_processes 1;
pid $run/nginx.pid;
error_log $run/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $run/tmp; proxy_temp_path $run/tmp; fastcgi_temp_path $run/tmp;
    uwsgi_temp_path $run/tmp; scgi_temp_path $run/tmp;
    lua_package_path "$top/lua/?.lua;;";
    lua_package_cpath "$lua_build/5.1/?.so;;";
    init_worker_by_lua_block {
        require("tracewire.nginx").init_worker({ service_name = "nginx-bench",
            sampler = { $sampler },
            reporter = { protocols = "udp", agent_host = "127.0.0.1", agent_port = $agent } },
            { scheme = "http" })
    }
    exit_worker_by_lua_block { require("tracewire.nginx").exit_worker(2) }
    tracewire_config service_name nginx-bench;
    tracewire_config sampler.type $nsampler;
    tracewire_config sampler.param $nparam;
    tracewire_config reporter.protocols udp;
    tracewire_config reporter.agent_port $agent;
    tracewire_config reporter.driver $ndriver;
    upstream backend { server 127.0.0.1:$backend; keepalive 32; }
    server {
        listen 127.0.0.1:$port;
        location /static/ { $handlers $body }
    }
    server {   # the proxy modes' backend (same worker, no tracing)
        listen 127.0.0.1:$backend;
        location /static/ { root $run/html; }
    }
}
EOF2
}

worker_cpu_ticks() {   # utime+stime of nginx's worker (all its threads)
  local w; w=$(pgrep -P "$(cat "$run/nginx.pid")" | head -n 1)
  awk '{print $14 + $15}' "/proc/$w/stat"
}

worker_threads() {   # threads of nginx's worker now (1: no reporter thread)
  local w; w=$(pgrep -P "$(cat "$run/nginx.pid")" | head -n 1)
  ls "/proc/$w/task" | wc -l
}

bench_mode() {   # bench_mode MODE -> prints "req/s cpu_us_per_request threads"
  conf "$1"
  $pin_nginx nginx -p "$run" -c "$run/nginx.conf" -e "$run/error.log"
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/static/x.txt" >/dev/null && break; sleep 0.1; done
  $pin_wrk wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$port/static/x.txt" >/dev/null      # warm-up
  local c0 c1 out
  c0=$(worker_cpu_ticks)
  out=$($pin_wrk wrk -t1 -c"$conns" -d"${dur}s" "http://127.0.0.1:$port/static/x.txt")
  c1=$(worker_cpu_ticks)
  local thr; thr=$(worker_threads)
  kill -QUIT "$(cat "$run/nginx.pid")"
  for _ in $(seq 100); do [ -f "$run/nginx.pid" ] || break; sleep 0.1; done
  awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v thr="$thr" '
    /requests in/ {n = $1} /Requests\/sec/ {r = $2}
    END {printf "%.0f %.2f %d\n", r, c / hz * 1e6 / n, thr}' <<<"$out"
}

modes=${TW_NGINX_MODES:-"off native native-1pct on"}
[ "$modes" = all ] && modes="off lua-noop on on-static on-1pct log-noop log-span native native-1pct native-thread proxy-off proxy-on native-proxy"
declare -A rps cpu thr
for r in $(seq "$rounds"); do
  for m in $modes; do
    read -r v c t < <(bench_mode "$m")
    rps[$m]+="$v "; cpu[$m]+="$c "; thr[$m]=$t
    printf 'round %d  %-12s %8s req/s  %6s us CPU/req  %s thr\n' "$r" "$m" "$v" "$c" "$t"
  done
done
# Best of the rounds (highest req/s, lowest CPU/req): on a shared machine the
# least-disturbed round is the closest to the real cost.
best_rps() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -n 1; }
best_cpu() { tr ' ' '\n' | grep -v '^$' | sort -g | head -n 1; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f%%", (a - b) * 100 / b}'; }
kill -TERM "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=""
read -r dgrams bytes < "$run/sink.out" || true
echo "nginx $(nginx -v 2>&1 | cut -d/ -f2), 1 worker, wrk -t1 -c$conns -d${dur}s, best of $rounds rounds," \
     "$(nproc) CPUs${pin_nginx:+ (nginx pinned to CPU 1, wrk to CPU 0)}, load average $(cut -d' ' -f1 /proc/loadavg)"
declare -A R C
for m in $modes; do R[$m]=$(echo "${rps[$m]}" | best_rps); C[$m]=$(echo "${cpu[$m]}" | best_cpu); done
base_of() {   # the mode a mode is compared with
  case $1 in
    off|proxy-off) echo "" ;;
    proxy-*|native-proxy) echo proxy-off ;;
    *) echo off ;;
  esac
}
for m in $modes; do
  b=$(base_of "$m")
  line=$(printf '  %-12s %9s req/s %8s us CPU/req  %s thr' "$m" "${R[$m]}" "${C[$m]}" "${thr[$m]}")
  if [ -n "$b" ] && [ -n "${R[$b]:-}" ]; then
    line+="   (req/s $(pct "${R[$m]}" "${R[$b]}"), CPU $(pct "${C[$m]}" "${C[$b]}") vs $b"
    case $m in
      on|on-static|on-1pct) [ -n "${R[lua-noop]:-}" ] && line+="; req/s $(pct "${R[$m]}" "${R[lua-noop]}") vs lua-noop" ;;
      log-span) [ -n "${R[log-noop]:-}" ] && line+="; req/s $(pct "${R[$m]}" "${R[log-noop]}") vs log-noop" ;;
    esac
    line+=")"
  fi
  echo "$line"
done
echo "  agent sink received ${dgrams:-?} datagrams, ${bytes:-?} bytes"
if grep -E '\[(error|alert|crit)\]' "$run/error.log" | head -5; then echo "(errors in nginx log above)"; fi

# (2) instructions per request, the same builds, after the wall-clock runs
# (never beside them: callgrind would take their CPU)
declare -A I
if [ "${TW_NGINX_CALLGRIND:-1}" = 1 ]; then
  cg_modes=""
  for m in off native native-1pct native-thread on; do
    case " $modes " in *" $m "*) cg_modes+="$m " ;; esac
  done
  echo "callgrind, $cg_modes(bench/nginx_callgrind.sh ${TW_CG_REQUESTS:-1000}):"
  cg=$(TW_LUA_BUILD="$lua_build" TW_NGINX_MODULE="$native" TW_CG_MODES="$cg_modes" \
       bash "$top/bench/nginx_callgrind.sh" "${TW_CG_REQUESTS:-1000}" 2>/dev/null)
  sed -n '/^nginx .* under callgrind/,$p' <<<"$cg" | sed 's/^/  /'
  while read -r m v _; do I[${m%:}]=$v; done < <(grep -E '^[a-z0-9-]+: [0-9]+ instructions/request' <<<"$cg")
fi

# (3) the summary
label() {
  case $1 in
    off) echo "off (no tracing)" ;;
    native) echo "native module, 100% sampled" ;;
    native-1pct) echo "native module, 1% sampled" ;;
    native-thread) echo "native 100%, reporter thread" ;;
    on) echo "Lua tracewire.nginx, 100%" ;;
    *) echo "$1" ;;
  esac
}
echo
echo "Summary (#15 goal for the native module at 100%: <= 5% req/s loss, <= 1,500 instructions added per request;"
echo "req/s and CPU are the best rounds above, instructions callgrind's; 'vs off' is the change, negative = slower / fewer):"
printf '  %-30s %9s %8s %10s %8s %10s %9s  %s\n' mode "req/s" "vs off" "CPU us/req" "vs off" "instr/req" "added" \
  "worker threads (1: spans sent by the event loop)"
for m in off native native-1pct native-thread on; do
  case " $modes " in *" $m "*) ;; *) continue ;; esac
  loss="" cpuv="" added=""
  if [ "$m" != off ] && [ -n "${R[off]:-}" ]; then loss=$(pct "${R[$m]}" "${R[off]}"); cpuv=$(pct "${C[$m]}" "${C[off]}"); fi
  if [ "$m" != off ] && [ -n "${I[$m]:-}" ] && [ -n "${I[off]:-}" ]; then added=$(printf '%+d' $(( I[$m] - I[off] ))); fi
  printf '  %-30s %9s %8s %10s %8s %10s %9s  %s\n' "$(label "$m")" "${R[$m]}" "$loss" "${C[$m]}" "$cpuv" \
    "${I[$m]:-}" "$added" "${thr[$m]}"
done
