-- tracer:inject / tracer:extract through the core's propagators.
local H = require "helper"

describe("propagation", function()
    local t
    before_each(function() t = H.tracer() end)

    it("injects jaeger and w3c headers by default", function()
        local s = t:start_span("out")
        local h = {}
        assert.equal(h, t:inject(s:context(), "http_headers", h))
        assert.is_string(h["uber-trace-id"])
        assert.is_string(h["traceparent"])
        assert.matches("^" .. s:trace_id() .. ":" .. s:span_id() .. ":", h["uber-trace-id"])
        assert.equal("00-" .. s:trace_id() .. "-" .. s:span_id() .. "-01", h["traceparent"])
    end)

    it("injects baggage as uberctx- headers", function()
        local s = t:start_span("out")
        s:set_baggage_item("tenant", "t1")
        local h = {}
        t:inject(s, "text_map", h)          -- a span works as well as a context
        assert.equal("t1", h["uberctx-tenant"])
    end)

    it("injects large baggage sets completely (table and function carriers)", function()
        local s = t:start_span("out")
        for i = 1, 20 do s:set_baggage_item("k" .. i, string.rep("v", 200)) end
        local h, got = {}, {}
        t:inject(s, "http_headers", h)
        t:inject(s, "http_headers", function(k, v) got[k] = v end)
        for i = 1, 20 do
            assert.equal(string.rep("v", 200), h["uberctx-k" .. i])
            assert.equal(string.rep("v", 200), got["uberctx-k" .. i])
        end
        assert.is_string(h["uber-trace-id"])
        assert.same(h, got)
    end)

    it("calls a function carrier once per header", function()
        local s = t:start_span("out")
        local got = {}
        t:inject(s, "http_headers", function(k, v) got[k] = v end)
        assert.is_string(got["uber-trace-id"])
        assert.is_string(got["traceparent"])
    end)

    it("round-trips ids, sampling and baggage", function()
        local s = t:start_span("out")
        s:set_baggage_item("k", "v")
        local h = {}
        t:inject(s, "http_headers", h)
        local ctx = assert(t:extract("http_headers", h))
        assert.equal(s:trace_id(), ctx:trace_id())
        assert.equal(s:span_id(), ctx:span_id())
        assert.is_true(ctx:is_sampled())
        assert.equal("v", ctx:get_baggage_item("k"))
        local child = t:start_span("in", { child_of = ctx })
        assert.equal(s:trace_id(), child:trace_id())
        assert.equal(s:span_id(), child:parent_id())
    end)

    it("reads ngx.req.get_headers() tables: lower-case keys, array values", function()
        local tid = "4bf92f3577b34da6a3ce929d0e0e4736"
        local h = {
            ["traceparent"] = { "00-" .. tid .. "-00f067aa0ba902b7-01" },
            ["accept"] = { "text/html", "application/json" },
            ["host"] = "example.com",
        }
        local ctx = assert(t:extract("http_headers", h))
        assert.equal(tid, ctx:trace_id())
        assert.equal("00f067aa0ba902b7", ctx:span_id())
    end)

    it("matches header names case-insensitively", function()
        local tid = "4bf92f3577b34da6a3ce929d0e0e4736"
        local ctx = assert(t:extract("http_headers",
            { ["TraceParent"] = "00-" .. tid .. "-00f067aa0ba902b7-01" }))
        assert.equal(tid, ctx:trace_id())
    end)

    it("ignores non-string keys and values", function()
        local ctx, err = t:extract("http_headers", { [1] = "x", n = 5, f = print, [true] = "y" })
        assert.is_nil(ctx)
        assert.is_string(err)
    end)

    it("returns nil, a message and \"not_found\" when there is no context", function()
        local ctx, err, code = t:extract("http_headers", { accept = "*/*" })
        assert.is_nil(ctx)
        assert.is_string(err)
        assert.equal("not_found", code)
    end)

    it("returns nil and a different message for a corrupted context", function()
        local _, nf = t:extract("http_headers", {})
        local ctx, err, code = t:extract("http_headers", { ["uber-trace-id"] = "not:a:valid:header:at:all" })
        assert.is_nil(ctx)
        assert.is_string(err)
        assert.not_equal(nf, err)
        assert.equal("corrupted", code)
        ctx = t:extract("http_headers", { traceparent = "00-zz-00f067aa0ba902b7-01" })
        assert.is_nil(ctx)
    end)

    it("starts a new root when extract found nothing (child_of = nil)", function()
        local ctx = t:extract("http_headers", {})
        local s = t:start_span("root", { child_of = ctx })
        assert.is_nil(s:parent_id())
    end)

    it("round-trips the binary format", function()
        local s = t:start_span("bin")
        s:set_baggage_item("a", "b")
        local blob = t:inject(s, "binary")
        assert.is_string(blob)
        local ctx = assert(t:extract("binary", blob))
        assert.equal(s:trace_id(), ctx:trace_id())
        assert.equal("b", ctx:get_baggage_item("a"))
        assert.is_nil((t:extract("binary", "short")))
    end)

    it("rejects bad formats and carriers with clear errors", function()
        local s = t:start_span("x")
        assert.has_error(function() t:inject(s, "carrier_pigeon", {}) end)
        assert.has_error(function() t:inject(s, "http_headers", "str") end)
        assert.has_error(function() t:inject({}, "http_headers", {}) end)
        assert.has_error(function() t:extract("http_headers", "str") end)
        assert.has_error(function() t:extract("binary", {}) end)
        assert.has_error(function() t:extract(nil, {}) end)
    end)

    it("honours the configured inject formats", function()
        local b3 = H.tracer{ propagation = { inject = "b3multi" } }
        local s = b3:start_span("x")
        local h = {}
        b3:inject(s, "http_headers", h)
        assert.is_nil(h["uber-trace-id"])
        assert.equal(s:span_id(), h["x-b3-spanid"])
    end)
end)
