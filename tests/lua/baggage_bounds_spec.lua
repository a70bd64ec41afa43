-- Too much baggage is counted, never a lost trace (issue #19 items 3, 4):
-- inject leaves out whole items beyond max_baggage_size (8192 bytes per
-- header) and counts them; extract of 100,000 uberctx-* headers or more than
-- 180 items keeps the trace context and counts what it dropped; the drop is
-- said through the diagnostics path (ngx.log from the Lua thread).
local H = require "helper"

local TID = "4bf92f3577b34da6a3ce929d0e0e4736"
local SID = "00f067aa0ba902b7"

local function dropped(t)
    return tonumber(t:counters().baggage_dropped)
end

local function count_prefix(h, prefix)
    local n = 0
    for k in pairs(h) do
        if k:sub(1, #prefix) == prefix then n = n + 1 end
    end
    return n
end

describe("baggage bounds", function()
    it("inject sends four of five 2,000-byte items and counts the fifth", function()
        local t = H.tracer({ propagation = "jaeger" })
        assert.equal(0, dropped(t))
        local s = t:start_span("out")
        for i = 0, 4 do s:set_baggage_item("k" .. i, string.rep("v", 2000)) end
        local h = {}
        t:inject(s, "http_headers", h)
        assert.equal(4, count_prefix(h, "uberctx-"))
        assert.is_nil(h["uberctx-k4"])
        assert.equal(string.rep("v", 2000), h["uberctx-k3"])
        assert.equal(1, dropped(t))
        -- W3C alone: the same bound, the same count
        t:inject(s, "http_headers", h)
        assert.equal(2, dropped(t))
    end)

    it("extract of 100,000 uberctx-* headers keeps the trace and counts the excess", function()
        local t = H.tracer({ propagation = "jaeger,w3c" })
        local h = { ["uber-trace-id"] = TID .. ":" .. SID .. ":0:1" }
        for i = 1, 100000 do h["uberctx-k" .. i] = "v" .. i end
        local ctx, err = t:extract("http_headers", h)
        assert.is_nil(err)
        assert.equal(TID, ctx:trace_id())
        assert.equal(SID, ctx:span_id())
        assert.is_true(ctx:is_sampled())
        local n = 0
        for i = 1, 100000 do
            if ctx:get_baggage_item("k" .. i) then n = n + 1 end
        end
        assert.equal(180, n)
        assert.equal(100000 - 180, dropped(t))
        local child = t:start_span("in", { child_of = ctx })
        assert.equal(TID, child:trace_id())
        assert.equal(SID, child:parent_id())
    end)

    it("extract of 181 W3C baggage items keeps 180 and the traceparent", function()
        local t = H.tracer({ propagation = "w3c" })
        local parts = {}
        for i = 1, 181 do parts[i] = "k" .. i .. "=1" end
        local ctx = assert(t:extract("http_headers", {
            traceparent = "00-" .. TID .. "-" .. SID .. "-01",
            baggage = table.concat(parts, ","),
        }))
        assert.equal(TID, ctx:trace_id())
        assert.equal(SID, ctx:span_id())
        assert.equal("1", ctx:get_baggage_item("k180"))
        assert.is_nil(ctx:get_baggage_item("k181"))
        assert.equal(1, dropped(t))
    end)

    it("is said once through the diagnostics path (ngx.log from the Lua thread)", function()
        local socket = require "socket"
        local agent = socket.udp()                 -- a live agent: nothing else to say
        agent:setsockname("127.0.0.1", 0)
        local _, port = agent:getsockname()
        local got = {}
        local saved = rawget(_G, "ngx")
        _G.ngx = { ERR = 4, log = function(level, msg) got[#got + 1] = { level, msg } end }
        local ok, err = pcall(function()
            local t = H.tracer({ propagation = "jaeger",
                                 reporter = { protocols = "udp", agent_host = "127.0.0.1",
                                              agent_port = port } })
            local s = t:start_span("out")
            for i = 0, 4 do s:set_baggage_item("k" .. i, string.rep("v", 2000)) end
            t:inject(s, "http_headers", {})
            s:finish()
            assert.is_true(t:flush(5))
            local n = 0
            for _ = 1, 500 do                     -- (up to 10 s: ASan + a loaded CI) the reporter thread says it, then
                n = n + t:diagnostics()            -- this thread emits it
                if n > 0 then break end
                socket.sleep(0.02)
            end
            assert.equal(1, n)
            assert.equal(1, #got)
            assert.equal(4, got[1][1])
            assert.matches("1 baggage items dropped", got[1][2], 1, true)
            assert.matches("max_baggage_size=8192", got[1][2], 1, true)
            t:inject(s, "http_headers", {})          -- again: counted, not said again now
            t:start_span("x"):finish()
            assert.is_true(t:flush(5))
            socket.sleep(0.1)
            assert.equal(0, t:diagnostics())
            assert.equal(2, dropped(t))
            t:close()
        end)
        _G.ngx = saved
        agent:close()
        assert(ok, err)
    end)
end)
