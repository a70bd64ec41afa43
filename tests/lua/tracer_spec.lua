-- tracewire.new_tracer and the tracer object.
local tracewire = require "tracewire"
local H = require "helper"

describe("new_tracer", function()
    it("applies a nested config table", function()
        local t = H.tracer{ sampler = { type = "probabilistic", param = 0.25 } }
        assert.equal("lua-spec", t:service_name())
        assert.equal("probabilistic", t:config("sampler.type"))
        assert.equal(0.25, tonumber(t:config("sampler.param")))
        assert.matches("memory", t:config("reporter.protocols"))
    end)

    it("takes the service name as an optional first argument", function()
        local t = tracewire.new_tracer("named", { reporter = { protocols = "memory" } })
        assert.equal("named", t:service_name())
    end)

    it("accepts reporter.protocol and arrays as comma lists", function()
        local t = tracewire.new_tracer{ service_name = "x",
            reporter = { protocol = { "memory", "none" } },
            propagation = { inject = { "w3c", "b3" } } }
        assert.matches("memory", t:config("reporter.protocols"))
        assert.matches("w3c", t:config("propagation.inject"))
        assert.matches("b3", t:config("propagation.inject"))
    end)

    it("turns the tags table into process tags", function()
        local t = H.tracer{ tags = { region = "eu", shard = 3 } }
        local tags = t:config("tags")
        assert.matches("region=eu", tags, 1, true)
        assert.matches("shard=3", tags, 1, true)
    end)

    it("passes numbers and booleans as text", function()
        local t = H.tracer{ reporter = { protocols = "memory", queue_size = 42 }, trace_id_128bit = false }
        assert.equal("42", t:config("reporter.queue_size"))
        assert.equal("false", t:config("trace_id_128bit"))
    end)

    it("accepts the Python binding's jaeger_client-style keys", function()
        local t = tracewire.new_tracer{ service_name = "py-style",
            protocol = "memory",
            local_agent = { reporting_host = "10.0.0.1", reporting_port = 6832 },
            reporter_flush_interval = 0.25, reporter_queue_size = 77,
            generate_128bit_trace_id = false,
            options = { ["reporter.retries"] = 1 } }
        assert.matches("memory", t:config("reporter.protocols"))
        assert.equal("10.0.0.1", t:config("reporter.agent_host"))
        assert.equal("6832", t:config("reporter.agent_port"))
        assert.equal("250", t:config("reporter.flush_interval_ms"))
        assert.equal("77", t:config("reporter.queue_size"))
        assert.equal("false", t:config("trace_id_128bit"))
        assert.equal("1", t:config("reporter.retries"))
        assert.has_error(function() tracewire.new_tracer{ reporter_flush_interval = "soon" } end)
    end)

    it("rejects an unknown key, naming it", function()
        assert.has_error(function() H.tracer{ sampler = { bogus = 1 } } end,
            "tracewire.new_tracer: unknown config key 'sampler.bogus'")
    end)

    it("rejects a value that does not parse, naming key and value", function()
        local ok, err = pcall(H.tracer, { sampler = { type = "sometimes" } })
        assert.is_false(ok)
        assert.matches("bad value 'sometimes' for config key 'sampler.type'", err, 1, true)
    end)

    it("quotes at most 64 bytes of a bad value", function()
        local ok, err = pcall(tracewire.new_tracer, { sampler = { type = string.rep("x", 100000) } })
        assert.is_false(ok)
        assert.matches("bad value '" .. string.rep("x", 64) .. "...' for config key 'sampler.type'", err, 1, true)
        assert.is_true(#err < 300)
    end)

    it("rejects a non-table config and non-scalar values", function()
        assert.has_error(function() tracewire.new_tracer(42) end)
        assert.has_error(function() H.tracer{ service_name = print } end)
        assert.has_error(function() H.tracer{ tags = { ["a,b"] = "c" } } end)
    end)
end)

describe("tracer", function()
    it("counts started, sampled and finished spans", function()
        local t = H.tracer()
        t:start_span("a"):finish()
        t:start_span("b"):finish()
        t:start_span("c")                      -- never finished
        local c = t:counters()
        assert.equal(3, c.spans_started)
        assert.equal(3, c.spans_sampled)
        assert.equal(2, c.spans_finished)
        assert.equal(0, c.dropped_queue_full)
    end)

    it("records nothing when the sampler says no", function()
        local t = H.tracer{ sampler = { type = "const", param = 0 } }
        local s = t:start_span("unsampled")
        assert.is_false(s:context():is_sampled())
        s:finish()
        assert.equal(0, #H.spans(t))
        assert.equal(1, t:counters().spans_started)
        assert.equal(0, t:counters().spans_sampled)
    end)

    it("flush and close return true and close is idempotent", function()
        local t = H.tracer()
        t:start_span("x"):finish()
        assert.is_true(t:flush(1))
        assert.is_true(t:close(1))
        assert.is_true(t:close(1))
    end)

    it("records no span started after close", function()
        local t = H.tracer()
        t:start_span("before"):finish()
        local before = H.spans(t)
        t:close()
        t:start_span("after"):finish()
        assert.equal(1, #before)
        assert.equal(0, #H.spans(t))
    end)

    it("survives its spans being collected after it (refcounted)", function()
        local t = H.tracer()
        local s = t:start_span("orphan")
        t = nil
        collectgarbage(); collectgarbage()
        s:set_tag("still", "works")
        assert.is_true(s:finish())
        s = nil
        collectgarbage(); collectgarbage()
    end)

    it("rejects bad timeouts", function()
        local t = H.tracer()
        assert.has_error(function() t:flush("soon") end)
        assert.has_error(function() t:flush(-1) end)
    end)

    it("can be required again (lua_code_cache off) and old objects keep working", function()
        local t = H.tracer()
        local s = t:start_span("before")
        package.loaded.tracewire = nil
        local again = require "tracewire"
        local t2 = again.new_tracer{ service_name = "again", reporter = { protocols = "memory" } }
        t2:start_span("x", { child_of = s }):finish()
        s:finish()
        assert.equal(1, #H.spans(t))
        assert.equal(s:trace_id(), H.one_span(t2).trace_id)
    end)

    it("exposes tracewire.now() in seconds", function()
        assert.is_true(math.abs(tracewire.now() - os.time()) < 5)
    end)
end)
