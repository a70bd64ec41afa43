-- Emits the e2e scenario through tracewire's Lua module (Lua 5.4 or LuaJIT; the
-- caller sets LUA_CPATH to the matching build), then prints one JSON line with
-- what it sent. The same scenario as emit_python.py (see there); Lua has no
-- byte-string type distinct from text, so there is no binary tag here.
--   lua5.4|luajit emit.lua PROTOCOL SERVICE
--   PROTOCOL: udp | http | otlp (protobuf) | otlp+gzip | otlp+json
local tracewire = require "tracewire"
local proto, service = arg[1], arg[2]

local reporter = { protocols = proto:match("^[^+]+"), flush_interval_ms = 100 }
if proto == "otlp+gzip" then reporter.otlp_compression = "gzip" end
if proto == "otlp+json" then reporter.otlp_protocol = "http/json" end
local tracer = tracewire.new_tracer{
  service_name = service,
  sampler = { type = "const", param = 1 },
  reporter = reporter,
  trace_id_128bit = true,
  tags = { ["e2e.process"] = "lua" },
}

local t0 = (math.floor(tracewire.now() * 1000) - 50) * 1000   -- whole ms, in µs
-- Integer microseconds (above 1e11, so the module reads them as µs).
local function us(d) return t0 + d end

local root = tracer:start_span("e2e.root", {
  start_timestamp = us(0),
  tags = {
    ["e2e.str"] = "h\195\169llo w\195\182rld \226\156\147",
    ["e2e.int"] = -42,
    ["e2e.int_large"] = 1234567890123,
    ["e2e.float"] = 3.25,
    ["e2e.bool"] = true,
  },
})
root:set_tag("span.kind", "server")
root:log_kv({ event = "e2e.event", ["e2e.n"] = 7, ["e2e.f"] = 0.5, ["e2e.flag"] = false }, us(2000))
root:set_baggage_item("e2e-bag", "bag value 1")

local child = tracer:start_span("e2e.child", { child_of = root, start_timestamp = us(1000) })
child:finish(us(3000))

local carrier = {}
tracer:inject(root:context(), "http_headers", carrier)
local ctx = tracer:extract("http_headers", carrier)
local remote = tracer:start_span("e2e.remote_child", { child_of = ctx, start_timestamp = us(4000) })
remote:set_tag("e2e.baggage", remote:context():get_baggage_item("e2e-bag") or "")
remote:finish(us(6000))

root:finish(us(10000))
local follower = tracer:start_span("e2e.follower", {
  references = { { "follows_from", root:context() } }, start_timestamp = us(11000) })
follower:finish(us(12000))

local function q(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte()) end) .. '"'
end
local ids = {}
for _, p in ipairs{ { "e2e.root", root }, { "e2e.child", child },
                    { "e2e.remote_child", remote }, { "e2e.follower", follower } } do
  ids[#ids + 1] = q(p[1]) .. ":" .. q(p[2]:context():span_id())
end
local hdrs = {}
for k, v in pairs(carrier) do hdrs[#hdrs + 1] = q(k) .. ":" .. q(v) end
local trace_id = root:context():trace_id()
local otlp = q(tracer:config("reporter.otlp_protocol")) .. "," .. q(tracer:config("reporter.otlp_compression"))
tracer:close()
print(string.format('{"trace_id":%s,"t0_us":%s,"span_ids":{%s},"carrier":{%s},"otlp":[%s]}',
  q(trace_id), string.format("%d", t0), table.concat(ids, ","), table.concat(hdrs, ","), otlp))
