-- Sends one server span of tracer:start_http_span, its parent extracted from
-- an uber-trace-id header, through the UDP agent reporter, then prints the
-- ids as one JSON line. Driven by test_wire.py, which decodes what arrived.
--   lua5.4|luajit wire_http_span.lua <native|jaeger_client> <agent port>
local cjson = require "cjson"
local tracewire = require "tracewire"

local profile, port = arg[1], assert(tonumber(arg[2]), "usage: wire_http_span.lua <profile> <port>")
local tracer = tracewire.new_tracer{
    service_name = "lua-wire",
    profile = profile ~= "native" and profile or nil,
    sampler = { type = "const", param = 1 },
    reporter = { protocols = "udp", agent_host = "127.0.0.1", agent_port = port, flush_interval_ms = 100 },
}
local s, found = tracer:start_http_span(
    "GET /x HTTP/1.1\r\nHost: h\r\nuber-trace-id: 00000000000000a1:00000000000000b2:0:1\r\n\r\n")
s:finish_http(200)
local ok, err = tracer:close(5)
print(cjson.encode({ ok = ok == true, err = err, found = found, span = s:span_id(),
                     reported = tracer:counters().spans_reported }))
