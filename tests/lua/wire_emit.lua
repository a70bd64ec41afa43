-- Emits a known pair of spans through a real reporter, then prints their ids
-- as one JSON line. Driven by test_wire.py, which decodes what arrived.
--   lua5.4|luajit wire_emit.lua <protocols> <key=value>...
local cjson = require "cjson"
local tracewire = require "tracewire"

local protocols = assert(arg[1], "usage: wire_emit.lua <protocols> [key=value ...]")
local reporter = { protocols = protocols, flush_interval_ms = 100 }
for i = 2, #arg do
    local k, v = arg[i]:match("^([%w_]+)=(.*)$")
    reporter[k] = v
end

local tracer = tracewire.new_tracer{
    service_name = "lua-wire",
    sampler = { type = "const", param = 1 },
    reporter = reporter,
    tags = { region = "eu" },
}

local parent = tracer:start_span("GET /parent", {
    start_timestamp = 1700000000.0,
    tags = { ["span.kind"] = "server", ["http.status_code"] = 200 },
})
local child = tracer:start_span("child", { child_of = parent, start_timestamp = 1700000000250000 })
child:set_tag("s", "text"):set_tag("i", 42):set_tag("d", 2.5):set_tag("b", true)
child:log_kv({ event = "cache_miss", n = 7 }, 1700000000.5)
local linked = tracer:start_span("linked", { references = { { "follows_from", child:context() } } })
linked:finish(1700000001.0)
child:finish(1700000000.75)
parent:finish(1700000001.0)

local ok, err = tracer:close(5)
local c = tracer:counters()
print(cjson.encode({
    ok = ok == true, err = err,
    trace_id = parent:trace_id(), parent = parent:span_id(),
    child = child:span_id(), linked = linked:span_id(),
    reported = c.spans_reported, finished = c.spans_finished,
}))
