-- Per-span cost of the Lua binding: start_span + 3 tags + finish.
--   LUA_CPATH='build/.../lua/5.4/?.so;;' lua5.4 bench/lua_bench.lua [n]
--   LUA_CPATH='build/.../lua/5.1/?.so;;' luajit bench/lua_bench.lua [n]
-- Spans go to a UDP reporter (a local port; datagrams are sent by the
-- reporter thread, never by the caller), so what is timed is the request-path
-- cost: the Lua->C calls, the core's span record, and the queue hand-off.
-- "wall" is the caller's elapsed time per span; "CPU" is the process's CPU
-- time per span (os.clock), which includes the reporter thread's encoding and
-- sending and is the steadier figure on a busy machine.
local tracewire = require "tracewire"

local n = tonumber(arg and arg[1]) or 1000000
local runtime = type(jit) == "table" and jit.version or _VERSION

local function bench(label, cfg, body)
    local tracer = tracewire.new_tracer(cfg)
    for _ = 1, math.floor(n / 10) do body(tracer) end          -- warm up (and start the reporter)
    collectgarbage()
    local t0, c0 = tracewire.now(), os.clock()
    for _ = 1, n do body(tracer) end
    local dt, dc = tracewire.now() - t0, os.clock() - c0
    tracer:close(5)
    local c = tracer:counters()
    print(string.format("%-18s %-42s %6.0f ns/span wall %6.0f ns/span CPU  (reported %d, dropped %d)",
        runtime, label, dt / n * 1e9, dc / n * 1e9, c.spans_reported,
        c.dropped_queue_full + c.dropped_too_large + c.dropped_send_failed))
end

local udp = { service_name = "bench", sampler = { type = "const", param = 1 },
              reporter = { protocols = "udp", agent_host = "127.0.0.1", agent_port = 6831,
                           queue_size = 100000 } }
local unsampled = { service_name = "bench", sampler = { type = "const", param = 0 },
                    reporter = { protocols = "udp", agent_host = "127.0.0.1", agent_port = 6831 } }

local function set_tags(tracer)
    local s = tracer:start_span("GET /bench")
    s:set_tag("http.method", "GET")
    s:set_tag("http.status_code", 200)
    s:set_tag("cache.hit", true)
    s:finish()
end

local function opt_tags(tracer)
    tracer:start_span("GET /bench", { tags = { ["http.method"] = "GET",
        ["http.status_code"] = 200, ["cache.hit"] = true } }):finish()
end

bench("start + 3 set_tag + finish (sampled, udp)", udp, set_tags)
bench("start{tags=3} + finish (sampled, udp)", udp, opt_tags)
bench("start + 3 set_tag + finish (unsampled)", unsampled, set_tags)

-- The gateway fast path tracewire.nginx uses for HTTP/1.x: one raw request
-- head in, a server span with component/http.method/http.url, and the status.
local HEAD = "GET /static/x.txt?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n" ..
             "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"
local function http_span(tracer)
    tracer:start_http_span(HEAD, "http"):finish_http(200)
end
bench("start_http_span + finish_http (sampled, udp)", udp, http_span)
