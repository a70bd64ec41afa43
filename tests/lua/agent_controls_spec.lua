-- The agent's controls (issue #20) through the Lua face: the same key table
-- rows as tracewire.Config (throttler, debug_id_header, baggage_restrictions),
-- given as nested tables, read back, and acting in the core. The memory
-- reporter runs no reporter thread, so no credit or restriction ever arrives
-- here: what is checked is the state before the agent answered (the first
-- debug span of an operation refused, restrictions not yet fetched).
-- tests/python/test_agent_controls.py covers the agent's answers.
local H = require "helper"

local function jc_tracer(extra)
    local cfg = { profile = "jaeger_client", service_name = "lua-ctl",
                  sampler = { type = "const", param = 0 },
                  reporter = { protocols = "memory" } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return require("tracewire").new_tracer(cfg)
end

describe("agent controls", function()
    it("reads the throttler group as jaeger_client's Config does", function()
        local t = jc_tracer({ throttler = { port = 5779, refresh_interval = 2 } })
        assert.equal("true", t:config("throttler"))         -- a key turns the group on
        assert.equal("5779", t:config("throttler.port"))
        assert.equal("2000", t:config("throttler.refresh_interval_ms"))
        t:close()
        local off = jc_tracer()
        assert.equal("false", off:config("throttler"))
        off:close()
        local sw = jc_tracer({ throttler = true })
        assert.equal("true", sw:config("throttler"))
        assert.equal("5778", sw:config("throttler.port"))
        sw:close()
        assert.has_error(function() jc_tracer({ throttler = { port = 70000 } }) end)
    end)

    it("refuses a debug span without a credit and counts it", function()
        local t = jc_tracer({ throttler = { port = 5778 } })
        local s = t:start_span("op")
        s:set_tag("sampling.priority", 1)
        assert.is_false(s:context():is_sampled())
        s:finish()
        local ctx = t:extract("http_headers", { ["jaeger-debug-id"] = "corr-1" })
        local d = t:start_span("op2", { child_of = ctx })
        assert.is_false(d:context():is_sampled())           -- not sampled at all
        d:finish()
        assert.equal(2, t:counters().throttled_debug_spans)
        assert.equal(0, #H.spans(t))
        t:close()
    end)

    it("starts a debug trace from the configured debug id header", function()
        local t = jc_tracer({ debug_id_header = "X-Debug-Id" })
        assert.equal("X-Debug-Id", t:config("debug_id_header"))
        local ctx = t:extract("http_headers", { ["x-debug-id"] = "corr-7" })
        local s = t:start_span("root", { child_of = ctx })
        assert.equal(3, s:context():flags())                 -- sampled + debug
        s:finish()
        local span = H.one_span(t)
        assert.equal("corr-7", (H.tag(span, "X-Debug-Id")))
        assert.is_nil((H.tag(span, "sampler.type")))         -- the sampler was not asked
        t:close()
    end)

    it("applies baggage restrictions before the agent answered", function()
        local t = jc_tracer({ sampler = { type = "const", param = 1 },
                              baggage_restrictions = { host_port = "127.0.0.1:9",
                                  deny_baggage_on_initialization_failure = true } })
        assert.equal("true", t:config("baggage_restrictions"))
        assert.equal("127.0.0.1:9", t:config("baggage_restrictions.host_port"))
        local s = t:start_span("op")
        s:set_baggage_item("k", "v")
        assert.is_nil(s:context():get_baggage_item("k"))     -- denied until restrictions arrive
        s:finish()
        local c = t:counters()
        assert.equal(1, c.baggage_updates_err)
        local span = H.one_span(t)
        local log = span.logs[1]
        assert.equal("true", (H.field(log.fields, "invalid")))
        t:close()

        local open = jc_tracer({ sampler = { type = "const", param = 1 },
                                 baggage_restrictions = { refresh_interval = 60 } })
        local s2 = open:start_span("op")
        s2:set_baggage_item("k", string.rep("v", 3000))
        assert.equal(2048, #s2:context():get_baggage_item("k"))   -- allowed, cut at 2048
        s2:finish()
        assert.equal(1, open:counters().baggage_truncations)
        open:close()
    end)
end)
