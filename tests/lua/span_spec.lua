-- Spans: tags, logs, timestamps, references, baggage, finish, gc/close.
local H = require "helper"

local function hexlen(s) return s and #s or 0 end

describe("span", function()
    local t
    before_each(function() t = H.tracer() end)

    it("records name, ids and timing of a finished span", function()
        local s = t:start_span("op", { start_timestamp = 1700000000.5 })
        s:finish(1700000001.75)
        local r = H.one_span(t)
        assert.equal("op", r.operation_name)
        assert.equal(s:trace_id(), r.trace_id)
        assert.equal(s:span_id(), r.span_id)
        assert.equal(32, hexlen(r.trace_id))
        assert.equal(16, hexlen(r.span_id))
        assert.equal(1700000000500000, r.start_us)
        assert.equal(1250000, r.duration_us)
    end)

    it("takes integer microsecond timestamps (values above 1e11)", function()
        local s = t:start_span("us", { start_timestamp = 1700000000000000 })
        s:finish(1700000000001500)
        local r = H.one_span(t)
        assert.equal(1700000000000000, r.start_us)
        assert.equal(1500, r.duration_us)
    end)

    it("takes integer seconds (os.time())", function()
        local s = t:start_span("sec", { start_timestamp = 1700000000 })
        s:finish(1700000002)
        local r = H.one_span(t)
        assert.equal(1700000000000000, r.start_us)
        assert.equal(2000000, r.duration_us)
    end)

    it("rejects bad timestamps", function()
        assert.has_error(function() t:start_span("x", { start_timestamp = "now" }) end)
        assert.has_error(function() t:start_span("x", { start_timestamp = -1 }) end)
        assert.has_error(function() t:start_span("x", { start_timestamp = 0/0 }) end)
        assert.has_error(function() t:start_span("x"):finish(math.huge) end)
    end)

    it("types tags: string, integer, double, boolean", function()
        local s = t:start_span("tags", { tags = { s = "v", i = 42, d = 2.5, b = true } })
        s:set_tag("neg", -7):set_tag("f", false)
        s:finish()
        local r = H.one_span(t)
        local v, ty
        v, ty = H.tag(r, "s"); assert.equal("v", v)
        v, ty = H.tag(r, "i"); assert.equal(42, v); assert.matches("int", ty)
        v, ty = H.tag(r, "d"); assert.equal(2.5, v); assert.matches("double", ty)
        v = H.tag(r, "b"); assert.equal(true, v)
        v, ty = H.tag(r, "neg"); assert.equal(-7, v); assert.matches("int", ty)
        v = H.tag(r, "f"); assert.equal(false, v)
    end)

    it("types 3.0 as a double in Lua 5.4 and as an integer in LuaJIT", function()
        local s = t:start_span("n", { tags = { x = 3.0 } })
        s:finish()
        local _, ty = H.tag(H.one_span(t), "x")
        if H.IS_54 then assert.matches("double", ty) else assert.matches("int", ty) end
    end)

    it("sets the kind from the span.kind tag", function()
        t:start_span("srv", { tags = { ["span.kind"] = "server" } }):finish()
        local r = H.one_span(t)
        assert.is_true(r.kind == 2 or r.kind == "server" or r.kind == "SERVER")
    end)

    it("truncates huge tag values to max_tag_value_length", function()
        local s = t:start_span("big")
        s:set_tag("huge", string.rep("x", 1000000))
        s:finish()
        local v = H.tag(H.one_span(t), "huge")
        assert.is_true(#v <= 1024)
        assert.is_true(#v > 0)
    end)

    it("rejects keys and operation names above 1024 bytes", function()
        local big = string.rep("k", 1025)
        local s = t:start_span(string.rep("n", 1024))
        assert.has_error(function() s:set_tag(big, 1) end, "tracewire: tag key longer than 1024 bytes")
        assert.has_error(function() s:log_kv({ [big] = 1 }) end)
        assert.has_error(function() s:set_operation_name(big) end)
        assert.has_error(function() t:start_span(big) end)
        assert.has_error(function() s:set_baggage_item("k", string.rep("v", 1000000)) end,
            "tracewire: set_baggage_item: " .. "input exceeds a size bound")
        s:finish()
        assert.equal(1, #H.spans(t))
    end)

    it("raises a clear error for bad tag input and keeps the tracer usable", function()
        local s = t:start_span("bad")
        assert.has_error(function() s:set_tag("k", {}) end,
            "tracewire: tag 'k' must be a string, number or boolean, got table")
        assert.has_error(function() s:set_tag(1, "v") end,
            "tracewire: tag key must be a string, got number")
        assert.has_error(function() s:set_tag("", "v") end)
        assert.has_error(function() s:set_tag("nilval", nil) end)
        assert.has_error(function() t:start_span("x", { tags = { ok = 1, bad = print } }) end)
        s:finish()
        t:start_span("after"):finish()
        local spans = H.spans(t)
        assert.equal(2, #spans)   -- "bad" and "after"; the failed start_span is never reported
    end)

    it("rejects a missing or non-string operation name", function()
        assert.has_error(function() t:start_span() end)
        assert.has_error(function() t:start_span(nil) end)
        assert.has_error(function() t:start_span(12) end)
        assert.has_error(function() t:start_span("x", "opts") end)
    end)

    it("logs typed fields with timestamps", function()
        local s = t:start_span("logs")
        s:log_kv({ event = "cache_miss", size = 12 }, 1700000000.25)
        s:log("message", "hi")
        s:finish()
        local r = H.one_span(t)
        assert.equal(2, #r.logs)
        local l1 = r.logs[1]
        assert.equal(1700000000250000, l1.timestamp_us or l1.ts_us or l1.timestamp)
        assert.equal("cache_miss", H.field(l1.fields, "event"))
        assert.equal(12, H.field(l1.fields, "size"))
        assert.equal("hi", H.field(r.logs[2].fields, "message"))
    end)

    it("rejects bad log input", function()
        local s = t:start_span("logs")
        assert.has_error(function() s:log_kv("event") end)
        assert.has_error(function() s:log_kv({}) end)
        assert.has_error(function() s:log_kv({ [1] = "x" }) end)
        assert.has_error(function() s:log_kv({ x = {} }) end)
        local many = {}
        for i = 1, 1000 do many["k" .. i] = i end
        assert.has_error(function() s:log_kv(many) end)
    end)

    it("makes child_of the parent: same trace, parent_id = parent's span id", function()
        local p = t:start_span("parent")
        local c1 = t:start_span("child-of-span", { child_of = p })
        local c2 = t:start_span("child-of-ctx", { child_of = p:context() })
        assert.equal(p:trace_id(), c1:trace_id())
        assert.equal(p:span_id(), c1:parent_id())
        assert.equal(p:span_id(), c2:context():parent_id())
        assert.is_nil(p:parent_id())
        c1:finish(); c2:finish(); p:finish()
        local spans = H.spans(t)
        assert.equal(3, #spans)
        assert.equal(p:span_id(), spans[1].parent_id)
    end)

    it("records follows_from references", function()
        local a = t:start_span("a")
        local b = t:start_span("b", { references = { { "follows_from", a:context() } } })
        assert.equal(a:trace_id(), b:trace_id())
        b:finish(); a:finish()
        local r = H.spans(t)[1]
        assert.equal(1, #r.references)
        local ref = r.references[1]
        assert.equal(a:span_id(), ref.span_id)
    end)

    it("lists child_of among references natively, not under profile jaeger_client", function()
        -- jaeger_client sends a child_of parent as parentSpanId alone; explicit
        -- references stay references under both profiles (as Python's Config)
        for _, case in ipairs({ { nil, 1 }, { "jaeger_client", 0 } }) do
            local tr = H.tracer{ profile = case[1] }
            local p = tr:start_span("p")
            local c = tr:start_span("c", { child_of = p })
            local e = tr:start_span("e", { references = { { "child_of", p:context() } } })
            c:finish(); e:finish(); p:finish()
            local by = {}
            for _, s in ipairs(H.spans(tr)) do by[s.operation_name] = s end
            assert.equal(p:span_id(), by.c.parent_id)
            assert.equal(case[2], #by.c.references)
            assert.equal(1, #by.e.references)
            assert.equal(p:span_id(), by.e.references[1].span_id)
            tr:close()
        end
    end)

    it("rejects bad references", function()
        assert.has_error(function() t:start_span("x", { child_of = "abc" }) end)
        assert.has_error(function() t:start_span("x", { references = { { "sibling_of", t:start_span("y") } } }) end)
        assert.has_error(function() t:start_span("x", { references = { "nope" } }) end)
        assert.has_error(function() t:start_span("x", { references = 5 }) end)
    end)

    it("carries baggage to children", function()
        local p = t:start_span("p")
        assert.equal(p, p:set_baggage_item("tenant", "t1"))
        assert.equal("t1", p:get_baggage_item("tenant"))
        assert.is_nil(p:get_baggage_item("missing"))
        local c = t:start_span("c", { child_of = p })
        assert.equal("t1", c:get_baggage_item("tenant"))
        local seen = {}
        for k, v in c:context():each_baggage_item() do seen[k] = v end
        assert.same({ tenant = "t1" }, seen)
        assert.has_error(function() p:set_baggage_item("k", 1) end)
    end)

    it("finishes once; later writes are ignored", function()
        local s = t:start_span("once")
        assert.is_true(s:finish())
        assert.is_false(s:finish())
        s:set_tag("late", 1)
        s:set_operation_name("renamed")
        assert.is_true(s:is_finished())
        local r = H.one_span(t)
        assert.equal("once", r.operation_name)
        assert.is_nil(H.tag(r, "late"))
    end)

    it("renames before finish", function()
        local s = t:start_span("old")
        s:set_operation_name("new")
        assert.equal("new", s:operation_name())
        s:finish()
        assert.equal("new", H.one_span(t).operation_name)
    end)

    it("never reports a span that is garbage-collected unfinished", function()
        do local s = t:start_span("lost") s:set_tag("a", 1) end
        collectgarbage(); collectgarbage()
        assert.equal(0, #H.spans(t))
        assert.equal(1, t:counters().spans_started)
        assert.equal(0, t:counters().spans_finished)
    end)

    it("keeps a context valid after its span is collected", function()
        local ctx
        do local s = t:start_span("gone") ctx = s:context() s:finish() end
        collectgarbage(); collectgarbage()
        assert.equal(32, #ctx:trace_id())
        assert.matches("^tracewire.context ", tostring(ctx))
    end)

    it("finishes a span at the end of a <close> scope (Lua 5.4)", function()
        if not H.IS_54 then return pending("LuaJIT has no to-be-closed variables") end
        local chunk = assert(load([[
            local t = ...
            do local s <close> = t:start_span("scoped") s:set_tag("k", "v") end
        ]]))
        chunk(t)
        local r = H.one_span(t)
        assert.equal("scoped", r.operation_name)
    end)

    it("tags error=true when a <close> scope is left by an error (Lua 5.4)", function()
        if not H.IS_54 then return pending("LuaJIT has no to-be-closed variables") end
        local chunk = assert(load([[
            local t = ...
            local s <close> = t:start_span("failing")
            error("boom")
        ]]))
        assert.has_error(function() chunk(t) end)
        local r = H.one_span(t)
        assert.equal(true, H.tag(r, "error"))
        local found
        for _, l in ipairs(r.logs) do
            local m = H.field(l.fields, "message")
            if m and m:find("boom", 1, true) then found = true end
        end
        assert.is_true(found)
    end)
end)
