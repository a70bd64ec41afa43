-- Lua side of test_stream_helpers.py, through tracewire.redisq's stream
-- helpers and its RESP client:
--   lua5.4|luajit stream_consumer.lua <redis_port> <agent_port> <key> <carrier>
-- adds two entries with TQ.XADD (the given carrier), reads them back as
-- consumer "lua" of group "g" with TQ.XREADGROUP, starts and finishes a
-- "process <key>" span per entry (needs the binding), XACKs them, closes the
-- tracer, prints one JSON line.
local cjson = require "cjson"
local tracewire = require "tracewire"
local redisq = require "tracewire.redisq"

local port, agent_port, key, carrier = tonumber(arg[1]), tonumber(arg[2]), arg[3], arg[4]
local tracer = tracewire.new_tracer{
    service_name = "lua-stream-consumer",
    sampler = { type = "const", param = 1 },
    reporter = { protocols = "udp", agent_host = "127.0.0.1", agent_port = agent_port,
                 flush_interval_ms = 20 },
}
local c = assert(redisq.connect("127.0.0.1", port))
assert(c:call("XGROUP", "CREATE", key, "g", "0", "MKSTREAM"))
local ids = {}
ids[1] = assert(redisq.xadd(c, key, { { "job", "1" }, { "n", "a" } }, { carrier = carrier }))
ids[2] = assert(redisq.xadd(c, key, { job = "2" }, { carrier = carrier, maxlen = 100 }))
local empty = assert(redisq.xreadgroup(c, "g", "other", { { key, "0" } }))
local entries = assert(redisq.xreadgroup(c, "g", "lua", { { key, ">" } }, { count = 10 }))
local out = { ids = ids, empty = #empty, entries = {} }
for _, e in ipairs(entries) do
    local span = redisq.stream_consumer_span(tracer, e)
    span:finish()
    out.entries[#out.entries + 1] = { key = e.key, id = e.id, fields = e.fields,
                                      carrier = e.carrier, traced = e.traced,
                                      enqueue_us = e.enqueue_us, span_id = span:span_id(),
                                      trace_id = span:trace_id() }
    assert(c:call("XACK", key, "g", e.id) == 1)
end
local none = assert(redisq.xreadgroup(c, "g", "lua", { { key, ">" } }, { block = 50 }))
out.after = #none
c:close()
out.ok = tracer:close(5) == true
print(cjson.encode(out))
