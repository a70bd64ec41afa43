-- Lua consumer for test_bindings.py: pops one item (TQ.BPOP through
-- tracewire.redisq's RESP client, or a raw value handed over in a file and
-- decoded with redisq.unwrap), continues the trace with a "process <key>"
-- span (TQ_LINK=1: a follows_from reference instead of child_of), closes the
-- tracer (flush), prints one JSON line.
--   lua5.4|luajit consumer.lua <redis_port> <agent_port> <key> [raw_file]
local cjson = require "cjson"
local tracewire = require "tracewire"
local redisq = require "tracewire.redisq"

local port, agent_port, key, raw_file = tonumber(arg[1]), tonumber(arg[2]), arg[3], arg[4]
local tracer = tracewire.new_tracer{
    service_name = "lua-consumer",
    sampler = { type = "const", param = 1 },
    reporter = { protocols = "udp", agent_host = "127.0.0.1", agent_port = agent_port,
                 flush_interval_ms = 20 },
}
local item, err
if raw_file then
    local f = assert(io.open(raw_file, "rb"))
    item, err = redisq.unwrap(f:read("a") or f:read("*a"))
    f:close()
else
    local c = assert(redisq.connect("127.0.0.1", port))
    item, err = redisq.bpop(c, key, 5)
    c:close()
end
assert(item, err)
local span = redisq.consumer_span(tracer, item, key, { link = os.getenv("TQ_LINK") == "1" })
span:finish()
local ok = tracer:close(5)
print(cjson.encode({ ok = ok == true, payload = item.payload, carrier = item.carrier,
                     wait_us = item.wait_us, trace_id = span:trace_id(), span_id = span:span_id() }))
