-- Hostile input through the Lua binding (issue #7): every public method gets
-- every kind of wrong value in every argument position, carriers get
-- non-string keys and values, baggage gets huge, spans and tracers are used
-- after they finished, closed or were collected, and coroutines share spans.
-- Each case asserts the documented outcome -- a Lua error whose message names
-- the argument and the problem, or a documented no-op -- then that nothing
-- was half-applied (counters, the recorded span) and that the tracer still
-- records a new span.
local H = require "helper"
local tracewire = require "tracewire"

local function pack(...) return { n = select("#", ...), ... } end

-- A fresh tracer with one open span "s" and a copy of its context.
local function fixture()
    local f = { t = H.tracer() }
    f.s = f.t:start_span("s")
    f.c = f.s:context()
    f.before = f.t:counters()
    return f
end

-- The values a caller can pass by mistake. ty is luaL_typename's name, the
-- one the binding's own messages use.
local KINDS = {
    { name = "nil", ty = "nil", make = function() return nil end },
    { name = "false", ty = "boolean", make = function() return false end },
    { name = "number", ty = "number", make = function() return 42 end },
    { name = "table", ty = "table", make = function() return {} end },
    { name = "nested", ty = "table", make = function() return { { "x", { 1 } } } end },
    { name = "function", ty = "function", make = function() return function() end end },
    { name = "userdata", ty = "userdata", make = function() return io.stdout end },
    { name = "thread", ty = "thread", make = function() return coroutine.create(function() end) end },
    { name = "tracer", ty = "userdata", make = function(f) return f.t end },
    { name = "span", ty = "userdata", make = function(f) return f.s end },
    { name = "context", ty = "userdata", make = function(f) return f.c end },
}

-- Prefix of a luaL_argerror message (the message continues after it).
local function arg(n, fname, msg) return ("bad argument #%d to '%s' (%s"):format(n, fname, msg) end
local TIMESTAMP = "timestamp must be a number (seconds, or integer microseconds))"
local HEAD = "GET /cart?id=1 HTTP/1.1\r\nHost: shop\r\nAccept: */*\r\n\r\n"

local function is_span(r) assert.matches("^tracewire%.span ", tostring(r[1])) end
local function is_ctx(r) assert.matches("^tracewire%.context ", tostring(r[1])) end
local function returns(v) return function(r) assert.equal(v, r[1]) end end
local function returns_self(f) return function(r) assert.equal(f.s, r[1]) end end
local function not_found(r)
    assert.is_nil(r[1]); assert.is_string(r[2]); assert.equal("not_found", r[3])
end
local function returns_tracer(r) assert.matches("^tracewire%.tracer ", tostring(r[1])) end
local function config_miss(r)
    assert.is_nil(r[1]); assert.equal("unsupported format, option or protocol", r[2])
end

-- One row per argument position: call(f, v) passes v there (every other
-- argument valid); ok[kind] is the outcome for accepted kinds (a function of
-- the packed results and the fixture); every other kind must raise an error
-- containing err (or errs[kind]), with luaL_typename appended when err
-- ends in "got " (messages from luaL_checkstring/checktype end in "got":
-- Lua 5.4 names userdata by __name there, LuaJIT does not). starts: a raising call may have started (never reported) a
-- span. Calls are wrapped in pack() so they are not tail calls (a tail call
-- loses the function name Lua puts in the message).
local POSITIONS = {
    { "tracer:start_span(name)", function(f, v) return pack(f.t:start_span(v)) end,
      err = arg(1, "start_span", "operation name must be a string)") },
    { "tracer:start_span(_, opts)", function(f, v) return pack(f.t:start_span("x", v)) end,
      ok = { ["nil"] = is_span, table = is_span, nested = is_span },    -- unknown options are ignored
      err = arg(2, "start_span", "options must be a table)") },
    { "start_span opts.child_of", function(f, v) return pack(f.t:start_span("x", { child_of = v })) end,
      ok = { ["nil"] = is_span, span = is_span, context = is_span },
      err = arg(2, "start_span", "child_of must be a span or span context)") },
    { "start_span opts.tags", function(f, v) return pack(f.t:start_span("x", { tags = v })) end,
      ok = { ["nil"] = is_span, table = is_span }, starts = true,
      errs = { nested = "tracewire: tag key must be a string, got number" },
      err = arg(2, "start_span", "tags must be a table)") },
    { "start_span opts.references", function(f, v) return pack(f.t:start_span("x", { references = v })) end,
      ok = { ["nil"] = is_span, table = is_span },
      errs = { nested = 'tracewire: reference type must be "child_of" or "follows_from"' },
      err = arg(2, "start_span", "references must be an array of {type, context})") },
    { "start_span opts.start_timestamp", function(f, v) return pack(f.t:start_span("x", { start_timestamp = v })) end,
      ok = { ["nil"] = is_span, number = is_span },
      err = arg(2, "start_span", TIMESTAMP) },
    { "tracer:inject(ctx)", function(f, v) return pack(f.t:inject(v, "http_headers", {})) end,
      ok = { span = function(r) assert.is_string(r[1].traceparent) end,
             context = function(r) assert.is_string(r[1].traceparent) end },
      err = arg(1, "inject", "span or span context expected)") },
    { "tracer:inject(_, format)", function(f, v) return pack(f.t:inject(f.s, v, {})) end,
      errs = { number = arg(2, "inject", 'format must be "http_headers", "text_map" or "binary")') },
      err = arg(2, "inject", "string expected, got") },
    { "tracer:inject(_, _, carrier)", function(f, v) return pack(f.t:inject(f.s, "http_headers", v)) end,
      ok = { table = function(r) assert.is_string(r[1]["uber-trace-id"]) end,
             nested = function(r) assert.is_string(r[1].traceparent); assert.same({ "x", { 1 } }, r[1][1]) end,
             ["function"] = function(r) assert.is_function(r[1]) end },
      err = arg(3, "inject", "carrier must be a table or a function(name, value))") },
    { "tracer:extract(format)", function(f, v) return pack(f.t:extract(v, {})) end,
      errs = { number = arg(1, "extract", 'format must be "http_headers", "text_map" or "binary")') },
      err = arg(1, "extract", "string expected, got") },
    { "tracer:extract(http_headers, carrier)", function(f, v) return pack(f.t:extract("http_headers", v)) end,
      ok = { table = not_found, nested = not_found },
      err = arg(2, "extract", "table expected, got") },
    { "tracer:extract(binary, carrier)", function(f, v) return pack(f.t:extract("binary", v)) end,
      err = arg(2, "extract", "binary carrier must be a string)") },
    { "tracer:flush(timeout)", function(f, v) return pack(f.t:flush(v)) end,
      ok = { ["nil"] = returns(true), number = returns(true) },
      err = arg(1, "flush", "timeout must be a number of seconds)") },
    { "tracer:close(timeout)", function(f, v) return pack(f.t:close(v)) end,
      ok = { ["nil"] = returns(true), number = returns(true) }, closes = true,
      err = arg(1, "close", "timeout must be a number of seconds)") },
    { "tracer:config(key)", function(f, v) return pack(f.t:config(v)) end,
      ok = { number = config_miss },       -- Lua's coercion: 42 is the key "42"
      err = arg(1, "config", "string expected, got") },
    { "tracer:memory_spans(clear)", function(f, v) return pack(f.t:memory_spans(v)) end,
      ok = setmetatable({}, { __index = function() return function(r) assert.equal("[]", r[1]) end end }) },
    { "span:set_tag(key)", function(f, v) return pack(f.s:set_tag(v, "v")) end,
      err = "tracewire: tag key must be a string, got " },
    { "span:set_tag(_, value)", function(f, v) return pack(f.s:set_tag("k", v)) end,
      ok = { ["false"] = returns_self, number = returns_self },
      err = "tracewire: tag 'k' must be a string, number or boolean, got " },
    { "span:set_tags(tags)", function(f, v) return pack(f.s:set_tags(v)) end,
      ok = { table = returns_self },
      errs = { nested = "tracewire: tag key must be a string, got number" },
      err = arg(1, "set_tags", "table expected, got") },
    { "span:log_kv(fields)", function(f, v) return pack(f.s:log_kv(v)) end,
      errs = { table = arg(1, "log_kv", "log_kv needs at least one field)"),
               nested = "tracewire: log field key must be a string, got number" },
      err = arg(1, "log_kv", "table expected, got") },
    { "span:log_kv(_, timestamp)", function(f, v) return pack(f.s:log_kv({ a = 1 }, v)) end,
      ok = { ["nil"] = returns_self, number = returns_self },
      err = arg(2, "log_kv", TIMESTAMP) },
    { "span:log(key)", function(f, v) return pack(f.s:log(v, "v")) end,
      err = "tracewire: log field key must be a string, got " },
    { "span:log(_, value)", function(f, v) return pack(f.s:log("k", v)) end,
      ok = { ["false"] = returns_self, number = returns_self },
      err = arg(2, "log", "log value must be a string, number or boolean)") },
    { "span:log(_, _, timestamp)", function(f, v) return pack(f.s:log("k", "v", v)) end,
      ok = { ["nil"] = returns_self, number = returns_self },
      err = arg(3, "log", TIMESTAMP) },
    { "span:set_operation_name(name)", function(f, v) return pack(f.s:set_operation_name(v)) end,
      err = arg(1, "set_operation_name", "operation name must be a string)") },
    { "span:finish(timestamp)", function(f, v) return pack(f.s:finish(v)) end,
      ok = { ["nil"] = returns(true), number = returns(true) },
      err = arg(1, "finish", TIMESTAMP) },
    { "span:set_baggage_item(key)", function(f, v) return pack(f.s:set_baggage_item(v, "v")) end,
      err = "tracewire: baggage key must be a string, got " },
    { "span:set_baggage_item(_, value)", function(f, v) return pack(f.s:set_baggage_item("k", v)) end,
      err = arg(2, "set_baggage_item", "baggage value must be a string)") },
    { "span:get_baggage_item(key)", function(f, v) return pack(f.s:get_baggage_item(v)) end,
      ok = { number = returns(nil) },
      err = arg(1, "get_baggage_item", "string expected, got") },
    { "context:get_baggage_item(key)", function(f, v) return pack(f.c:get_baggage_item(v)) end,
      ok = { number = returns(nil) },
      err = arg(1, "get_baggage_item", "string expected, got") },
    { "tracer:start_http_span(head)", function(f, v) return pack(f.t:start_http_span(v)) end,
      err = arg(1, "start_http_span", "raw request head must be a string)") },
    { "tracer:start_http_span(_, scheme)", function(f, v) return pack(f.t:start_http_span(HEAD, v)) end,
      ok = { ["nil"] = is_span, number = is_span },     -- Lua's coercion: 42 is the scheme "42"
      err = arg(2, "start_http_span", "string expected, got") },
    { "tracer:start_http_span(_, _, component)", function(f, v) return pack(f.t:start_http_span(HEAD, "http", v)) end,
      ok = { ["nil"] = is_span, number = is_span },
      err = arg(3, "start_http_span", "string expected, got") },
    { "tracer:start_http_span(_, _, _, start_ts)", function(f, v) return pack(f.t:start_http_span(HEAD, "http", "c", v)) end,
      ok = { ["nil"] = is_span, number = is_span },
      err = arg(4, "start_http_span", TIMESTAMP) },
    { "span:finish_http(status)", function(f, v) return pack(f.s:finish_http(v)) end,
      ok = { number = returns(true) },
      err = arg(1, "finish_http", "HTTP status must be a number)") },
    { "span:finish_http(_, timestamp)", function(f, v) return pack(f.s:finish_http(200, v)) end,
      ok = { ["nil"] = returns(true), number = returns(true) },
      err = arg(2, "finish_http", TIMESTAMP) },
    { "tracewire.new_tracer(config)", function(_, v) return pack(tracewire.new_tracer(v)) end,
      ok = { ["nil"] = returns_tracer, table = returns_tracer },
      errs = { nested = "tracewire.new_tracer: config keys must be strings (under '')" },
      err = arg(1, "new_tracer", "config must be a table)") },
    { "tracewire.new_tracer(name, config)", function(_, v) return pack(tracewire.new_tracer("n", v)) end,
      ok = { ["nil"] = returns_tracer, table = returns_tracer },
      errs = { nested = "tracewire.new_tracer: config keys must be strings (under '')" },
      err = arg(2, "new_tracer", "config must be a table)") },
}

-- self: every method called on a value that is not its object.
local SELF = {
    tracer = { "start_span", "inject", "extract", "flush", "close", "counters", "memory_spans",
               "service_name", "config", "start_http_span" },
    span = { "set_tag", "set_tags", "log_kv", "log", "set_operation_name", "operation_name",
             "finish", "is_finished", "context", "set_baggage_item", "finish_http" },
    -- readers shared by spans and contexts
    reader = { "trace_id", "span_id", "parent_id", "flags", "is_sampled", "baggage",
               "each_baggage_item", "get_baggage_item" },
}
for _, m in ipairs(SELF.tracer) do
    POSITIONS[#POSITIONS + 1] = { "tracer." .. m .. "(self)", function(f, v) return pack(f.t[m](v)) end,
        skip = { tracer = true }, err = "(tracewire.tracer expected, got " }
end
for _, m in ipairs(SELF.span) do
    POSITIONS[#POSITIONS + 1] = { "span." .. m .. "(self)", function(f, v) return pack(f.s[m](v)) end,
        skip = { span = true }, err = "(tracewire.span expected, got " }
end
for _, m in ipairs(SELF.reader) do
    POSITIONS[#POSITIONS + 1] = { "context." .. m .. "(self)", function(f, v) return pack(f.c[m](v)) end,
        skip = { span = true, context = true }, err = "(span or span context expected)" }
end

-- The tracer still works and the hostile call left nothing behind: the open
-- span "s" and a new span "after" are the only ones recorded, and when the
-- call raised, "s" carries nothing but what it started with.
local function assert_still_works(f, raised, pos)
    local c = f.t:counters()
    if raised then
        assert.equal(f.before.spans_finished, c.spans_finished)
        if not pos.starts then assert.same(f.before, c) end
    end
    f.s:finish()
    f.t:start_span("after"):finish()
    local spans = H.spans(f.t)
    if pos.closes and not raised then         -- a closed tracer records nothing more
        assert.same({}, spans)
        return
    end
    assert.equal(2, #spans)
    assert.equal("s", spans[1].operation_name)
    assert.equal("after", spans[2].operation_name)
    if raised then
        assert.same({ ["sampler.type"] = "const", ["sampler.param"] = true }, spans[1].tags)
        assert.same({}, spans[1].logs)
        assert.same({}, f.s:baggage())
        assert.equal(f.before.spans_finished + 2, f.t:counters().spans_finished)
    end
end

describe("hostile arguments", function()
    for _, pos in ipairs(POSITIONS) do
        for _, kind in ipairs(KINDS) do
            if not (pos.skip and pos.skip[kind.name]) then
                local ok = pos.ok and pos.ok[kind.name]
                local want = (pos.errs and pos.errs[kind.name]) or pos.err
                if not ok and want:sub(-4) == "got " then want = want .. kind.ty end
                local what = ok and "is accepted" or ("raises " .. want)
                it(pos[1] .. " <- " .. kind.name .. " " .. what, function()
                    local f = fixture()
                    local v = kind.make(f)
                    local good, r = pcall(pos[2], f, v)
                    if ok then
                        assert(good, r)
                        if ok == returns_self then ok = returns_self(f) end
                        ok(r)
                    else
                        assert.is_false(good)
                        assert.is_string(r)
                        if not r:find(want, 1, true) then
                            error(("error %q does not contain %q"):format(r, want), 0)
                        end
                    end
                    assert_still_works(f, not good, pos)
                end)
            end
        end
    end
end)

describe("hostile carriers", function()
    local TID = "4bf92f3577b34da6a3ce929d0e0e4736"
    local TP = "00-" .. TID .. "-00f067aa0ba902b7-01"
    local t
    before_each(function() t = H.tracer() end)
    after_each(function()
        t:start_span("after"):finish()
        assert.equal("after", H.one_span(t).operation_name)
    end)

    local function garbage()
        return { [1] = "x", [2.5] = "y", [true] = "z", [print] = "f", [{}] = "t",
                 [coroutine.create(print)] = "c", [io.stdout] = "u",
                 traceparent = 42, ["uber-trace-id"] = true, b3 = {}, ["x-b3-traceid"] = print,
                 ["x-b3-spanid"] = io.stdout, tracestate = { { "nested" } }, baggage = { 1, 2 },
                 ["uberctx-k"] = false }
    end

    it("ignores keys and values that are not strings: not_found", function()
        local ctx, msg, code = t:extract("http_headers", garbage())
        assert.is_nil(ctx)
        assert.equal("no trace context found", msg)
        assert.equal("not_found", code)
    end)

    it("reads the string headers among the garbage", function()
        for _, mk in ipairs{
            function(h) h.TraceParent = TP end,
            function(h) h["traceParent"] = { 42, false, TP, {} } end,
        } do
            local h = garbage()
            h.traceparent = nil
            mk(h)
            local ctx = assert(t:extract("http_headers", h))
            assert.equal(TID, ctx:trace_id())
            assert.same({}, ctx:baggage())
        end
    end)

    it("never calls metamethods of the carrier (raw reads only)", function()
        local touched = false
        local proxy = setmetatable({}, {
            __index = function() touched = true return TP end,
            __pairs = function() touched = true return next, { traceparent = TP }, nil end,
            __len = function() touched = true return 1 end,
        })
        local ctx, _, code = t:extract("http_headers", proxy)
        assert.is_nil(ctx)
        assert.equal("not_found", code)
        assert.is_false(touched)
        -- repeated-header arrays are read raw too
        local arr = setmetatable({}, { __index = function() touched = true return TP end })
        assert.equal("not_found", select(3, t:extract("http_headers", { traceparent = arr })))
        assert.is_false(touched)
    end)

    it("a corrupted value among garbage is corrupted, not ignored", function()
        local h = garbage()
        h.traceparent = "00-" .. string.rep("z", 32) .. "-00f067aa0ba902b7-01"
        assert.equal("corrupted", select(3, t:extract("http_headers", h)))
    end)

    it("a carrier whose __newindex raises: inject raises that error, the span is untouched", function()
        local s = t:start_span("s")
        local bad = setmetatable({}, { __newindex = function() error("read-only carrier", 0) end })
        local ok, err = pcall(t.inject, t, s, "http_headers", bad)
        assert.is_false(ok)
        assert.equal("read-only carrier", err)
        assert.is_nil(next(bad))
        s:finish()
        assert.equal("s", H.one_span(t).operation_name)
    end)

    it("a carrier whose __newindex records sees every header", function()
        local got = {}
        local rec = setmetatable({}, { __newindex = function(_, k, v) got[k] = v end })
        t:inject(t:start_span("s"), "http_headers", rec)
        assert.is_string(got.traceparent)
        assert.is_string(got["uber-trace-id"])
    end)

    it("a function carrier that raises: inject raises that error", function()
        local s = t:start_span("s")
        local ok, err = pcall(t.inject, t, s, "http_headers", function() error({ code = 7 }) end)
        assert.is_false(ok)
        assert.same({ code = 7 }, err)
    end)

    it("a function carrier that re-enters the tracer (inject, finish, close) is safe", function()
        local s = t:start_span("s")
        local inner = {}
        local n = 0
        t:inject(s, "http_headers", function(k, v)
            n = n + 1
            t:inject(s, "text_map", inner)
            s:finish()
        end)
        assert.equal(2, n)
        assert.is_string(inner.traceparent)
        assert.equal(1, #H.spans(t))
        local t2 = H.tracer()
        t2:inject(t2:start_span("x"), "http_headers", function() t2:close() end)
        assert.is_false(t2:flush(0) == true)
    end)

    it("a function carrier that yields: a clear error, not a crash", function()
        local s = t:start_span("s")
        local co = coroutine.create(function()
            t:inject(s, "http_headers", function() coroutine.yield() end)
        end)
        local ok, err = coroutine.resume(co)
        assert.is_false(ok)
        assert.matches("yield across", err)
    end)

    it("huge values: a 1 MB context header is corrupted, 1 MB of baggage dropped, a 1 MB unrelated header ignored", function()
        local mb = string.rep("v", 1024 * 1024)
        local dropped = tonumber(t:counters().baggage_dropped)
        for _, h in ipairs{
            { traceparent = TP, ["uberctx-big"] = mb },
            { traceparent = TP, baggage = "k=" .. mb },
        } do
            local ctx = assert(t:extract("http_headers", h))
            assert.equal(TP, "00-" .. ctx:trace_id() .. "-" .. ctx:span_id() .. "-01")
            assert.is_nil(ctx:get_baggage_item("big") or ctx:get_baggage_item("k"))
        end
        assert.equal(dropped + 2, tonumber(t:counters().baggage_dropped))
        for _, h in ipairs{
            { traceparent = mb },
            { ["uber-trace-id"] = mb },
        } do
            local ctx, msg, code = t:extract("http_headers", h)
            assert.is_nil(ctx)
            assert.equal("malformed trace context or data", msg)
            assert.equal("corrupted", code)
        end
        assert.equal("not_found", select(3, t:extract("http_headers", { ["x-other"] = mb })))
        assert.equal("corrupted", select(3, t:extract("binary", string.rep("\255", 1024 * 1024))))
    end)

    it("huge counts: 10k baggage items keep the trace (excess dropped), 10k unrelated headers ignored", function()
        local h, other = { traceparent = TP }, {}
        for i = 1, 10000 do h["uberctx-k" .. i] = "v"; other["x-h" .. i] = "v" end
        local dropped = tonumber(t:counters().baggage_dropped)
        local ctx = assert(t:extract("http_headers", h))
        assert.equal(TP, "00-" .. ctx:trace_id() .. "-" .. ctx:span_id() .. "-01")
        assert.equal(dropped + 10000 - 180, tonumber(t:counters().baggage_dropped))
        local parts = {}
        for i = 1, 10000 do parts[i] = "k" .. i .. "=v" end
        ctx = assert(t:extract("http_headers", { traceparent = TP, baggage = table.concat(parts, ",") }))
        assert.equal("v", ctx:get_baggage_item("k180"))
        assert.is_nil(ctx:get_baggage_item("k181"))
        assert.equal("not_found", select(3, t:extract("http_headers", other)))
        -- 180 items is the bound: accepted whole
        local ok = { traceparent = TP }
        for i = 1, 180 do ok["uberctx-k" .. i] = "v" .. i end
        local ctx = assert(t:extract("http_headers", ok))
        assert.equal("v180", ctx:get_baggage_item("k180"))
    end)
end)

describe("huge baggage", function()
    local t
    before_each(function() t = H.tracer() end)

    it("a 1 MB value raises and changes nothing", function()
        local s = t:start_span("s")
        s:set_baggage_item("small", "ok")
        local ok, err = pcall(s.set_baggage_item, s, "big", string.rep("v", 1024 * 1024))
        assert.is_false(ok)
        assert.matches("tracewire: set_baggage_item: input exceeds a size bound", err, 1, true)
        assert.same({ small = "ok" }, s:baggage())
    end)

    it("10k items: the first 180 are kept, every later new key raises; inject/extract carry what fits", function()
        local s = t:start_span("s")
        local refused = 0
        for i = 1, 10000 do
            local ok, err = pcall(s.set_baggage_item, s, "k" .. i, "v" .. i)
            if not ok then
                refused = refused + 1
                assert.matches("input exceeds a size bound", err, 1, true)
            end
        end
        assert.equal(10000 - 180, refused)
        local n = 0
        for _ in s:context():each_baggage_item() do n = n + 1 end
        assert.equal(180, n)
        assert.equal("v180", s:get_baggage_item("k180"))
        assert.is_nil(s:get_baggage_item("k181"))
        s:set_baggage_item("k1", "replaced")      -- replacing an existing key still works
        assert.equal("replaced", s:get_baggage_item("k1"))

        local h = {}
        t:inject(s, "http_headers", h)
        local ctx = assert(t:extract("http_headers", h))
        assert.equal(s:trace_id(), ctx:trace_id())
        assert.equal("replaced", ctx:get_baggage_item("k1"))
        assert.equal("v180", ctx:get_baggage_item("k180"))
        local blob = t:inject(s, "binary")
        local b = assert(t:extract("binary", blob))
        assert.same(s:baggage(), b:baggage())
        s:finish()
        assert.equal(1, #H.spans(t))
    end)

    it("180 values of 8000 bytes: inject stays within max_baggage_size and extract accepts it", function()
        local s = t:start_span("s")
        for i = 1, 180 do s:set_baggage_item("k" .. i, string.rep("v", 8000)) end
        local h = {}
        t:inject(s, "http_headers", h)
        for k, v in pairs(h) do
            if k:find("^uberctx%-") or k == "baggage" then assert.is_true(#v <= 8192) end
        end
        assert.equal(s:trace_id(), assert(t:extract("http_headers", h)):trace_id())
    end)
end)

describe("finished spans", function()
    local t, s
    before_each(function()
        t = H.tracer()
        s = t:start_span("done", { tags = { a = 1 } })
        s:set_baggage_item("b", "1")
        assert.is_true(s:finish())
    end)

    it("ignore every write (documented no-op) and return the span", function()
        local n_before = #H.spans(t)
        assert.equal(s, s:set_tag("late", 1))
        assert.equal(s, s:set_tags({ late2 = true }))
        assert.equal(s, s:log_kv({ event = "late" }))
        assert.equal(s, s:log("k", "v"))
        assert.equal(s, s:set_operation_name("renamed"))
        assert.equal(s, s:set_baggage_item("late", "x"))
        assert.equal(s, s:set_baggage_item("b", "changed"))
        assert.equal("done", s:operation_name())
        assert.same({ b = "1" }, s:baggage())
        assert.equal(1, n_before)
        assert.equal(0, #H.spans(t))                       -- nothing re-reported
        assert.equal(1, t:counters().spans_finished)
    end)

    it("still validate arguments: bad input raises as on a live span", function()
        assert.has_error(function() s:set_tag({}, 1) end, "tracewire: tag key must be a string, got table")
        assert.has_error(function() s:set_tag("k", {}) end)
        assert.has_error(function() s:log_kv({}) end)
        assert.has_error(function() s:finish("later") end)
    end)

    it("finish twice (and a hundred times) returns false and reports once", function()
        for _ = 1, 100 do assert.is_false(s:finish()) end
        assert.is_false(s:finish(1700000000))
        assert.equal(1, #H.spans(t))
        assert.equal(1, t:counters().spans_finished)
    end)

    it("keep their readers and context", function()
        assert.equal(32, #s:trace_id())
        assert.is_true(s:is_finished())
        assert.equal("1", s:get_baggage_item("b"))
        local child = t:start_span("child", { child_of = s })
        assert.equal(s:trace_id(), child:trace_id())
        assert.equal("1", child:get_baggage_item("b"))
        local h = {}
        t:inject(s, "http_headers", h)
        assert.equal(s:span_id(), assert(t:extract("http_headers", h)):span_id())
    end)
end)

describe("lifetimes", function()
    it("spans of a closed tracer: every method works, finish returns true, nothing is recorded", function()
        local t = H.tracer()
        local s = t:start_span("open-at-close")
        assert.is_true(t:close())
        s:set_tag("k", "v"):log_kv({ a = 1 }):set_baggage_item("b", "1")
        assert.is_true(s:finish())
        local s2 = t:start_span("after-close", { child_of = s })
        assert.equal(s:trace_id(), s2:trace_id())
        assert.is_true(s2:finish())
        assert.same({}, H.spans(t))
        local c = t:counters()
        assert.equal(2, c.spans_started)
        assert.equal(0, c.spans_finished)
        local ok, msg = t:flush(0)
        assert.is_nil(ok)
        assert.equal("the tracer is closed", msg)
        assert.is_true(t:close())                          -- idempotent
    end)

    it("spans outlive their collected tracer", function()
        local t = H.tracer()
        local s = t:start_span("orphan")
        local ctx = s:context()
        t = nil
        collectgarbage(); collectgarbage()
        s:set_tag("k", "v")
        assert.is_true(s:finish())
        assert.is_false(s:finish())
        s = nil
        collectgarbage(); collectgarbage()
        assert.equal(32, #ctx:trace_id())
    end)

    it("__gc called by hand: later use raises a clear error, the real collection is harmless", function()
        local t = H.tracer()
        local s = t:start_span("s")
        local c = s:context()
        getmetatable(s).__gc(s)
        getmetatable(s).__gc(s)
        assert.has_error(function() s:set_tag("k", "v") end)
        local ok, err = pcall(s.set_tag, s, "k", "v")
        assert.is_false(ok)
        assert.matches("(span already freed)", err, 1, true)
        assert.matches("(span or span context expected)", select(2, pcall(s.trace_id, s)), 1, true)
        assert.equal("tracewire.span (freed)", tostring(s))
        assert.has_error(function() t:start_span("x", { child_of = s }) end)

        getmetatable(c).__gc(c)
        assert.matches("(span or span context expected)", select(2, pcall(c.trace_id, c)), 1, true)
        assert.equal("tracewire.context (freed)", tostring(c))

        t:start_span("still"):finish()
        assert.equal("still", H.one_span(t).operation_name)
        getmetatable(t).__gc(t)
        assert.matches("(tracer not initialised)", select(2, pcall(t.start_span, t, "x")), 1, true)
        assert.equal("tracewire.tracer '?'", tostring(t))
        s, c, t = nil, nil, nil
        collectgarbage(); collectgarbage()
    end)

    it("a <close> span left after its tracer was closed finishes without recording (Lua 5.4)", function()
        if not H.IS_54 then return pending("LuaJIT has no to-be-closed variables") end
        local t = H.tracer()
        local chunk = assert(load([[
            local t = ...
            local s <close> = t:start_span("scoped")
            t:close()
            s:set_tag("k", "v")
            return s
        ]]))
        local s = chunk(t)
        assert.is_true(s:is_finished())
        assert.same({}, H.spans(t))
        assert.equal(0, t:counters().spans_finished)
    end)

    it("a <close> span whose tracer was collected inside the scope still finishes (Lua 5.4)", function()
        if not H.IS_54 then return pending("LuaJIT has no to-be-closed variables") end
        local chunk = assert(load([[
            local H = ...
            local s <close> = H.tracer():start_span("orphan-scope")
            collectgarbage(); collectgarbage()
            return s
        ]]))
        local s = chunk(H)
        assert.is_true(s:is_finished())
        assert.is_false(s:finish())
    end)

    it("a <close> tracer closes before spans that outlive its scope (Lua 5.4)", function()
        if not H.IS_54 then return pending("LuaJIT has no to-be-closed variables") end
        local chunk = assert(load([[
            local H = ...
            local t <close> = H.tracer()
            local inner <close> = t:start_span("inner")
            return t, t:start_span("outlives")
        ]]))
        local t, s = chunk(H)
        assert.is_true(s:finish())
        for _, r in ipairs(H.spans(t)) do assert.equal("inner", r.operation_name) end
        assert.equal(1, t:counters().spans_finished)   -- "inner" only
    end)

    it("a <close> span closed twice (by hand, then by the scope) finishes once (Lua 5.4)", function()
        if not H.IS_54 then return pending("LuaJIT has no to-be-closed variables") end
        local t = H.tracer()
        local chunk = assert(load([[
            local t = ...
            local s <close> = t:start_span("twice")
            getmetatable(s).__close(s, "not an error value")
            s:finish()
        ]]))
        chunk(t)
        local r = H.one_span(t)
        assert.equal("twice", r.operation_name)
        assert.equal(true, H.tag(r, "error"))
    end)
end)

describe("coroutines", function()
    local t
    before_each(function() t = H.tracer() end)

    it("spans started in one coroutine are tagged and finished in others", function()
        local spans = {}
        local producers = {}
        for i = 1, 5 do
            producers[i] = coroutine.wrap(function()
                spans[i] = t:start_span("co" .. i)
                coroutine.yield()
                spans[i]:set_tag("started_by", i)
            end)
        end
        for i = 1, 5 do producers[i]() end
        for i = 1, 5 do producers[i]() end
        local finisher = coroutine.wrap(function()
            for i = 5, 1, -1 do
                assert.is_true(spans[i]:finish())
                coroutine.yield()
            end
        end)
        for _ = 1, 5 do finisher() end
        for i = 1, 5 do assert.is_false(spans[i]:finish()) end
        local names = {}
        for _, r in ipairs(H.spans(t)) do names[#names + 1] = r.operation_name end
        assert.same({ "co5", "co4", "co3", "co2", "co1" }, names)
    end)

    it("a coroutine that dies by an error leaves its span usable from the main thread", function()
        local s
        local co = coroutine.create(function()
            s = t:start_span("dies")
            error("boom")
        end)
        assert.is_false((coroutine.resume(co)))
        assert.equal("dead", coroutine.status(co))
        s:set_tag("after_death", true)
        assert.is_true(s:finish())
        assert.equal(true, H.tag(H.one_span(t), "after_death"))
    end)

    it("a suspended coroutine collected with its unfinished span reports nothing", function()
        local function run()     -- in a function: no register keeps co alive
            local co = coroutine.create(function()
                local s = t:start_span("abandoned")
                coroutine.yield()
                s:finish()
            end)
            coroutine.resume(co)
        end
        run()
        collectgarbage(); collectgarbage()
        assert.same({}, H.spans(t))
        assert.equal(1, t:counters().spans_started)
        assert.equal(0, t:counters().spans_finished)
    end)

    it("coroutine.close finishes a suspended <close> span (Lua 5.4)", function()
        if not H.IS_54 then return pending("LuaJIT has no to-be-closed variables") end
        local body = assert(load([[
            local t = ...
            local s <close> = t:start_span("suspended")
            coroutine.yield()
        ]]))
        local co = coroutine.create(body)
        assert.is_true(coroutine.resume(co, t))
        assert.is_true(coroutine.close(co))
        local r = H.one_span(t)
        assert.equal("suspended", r.operation_name)
        assert.is_nil(H.tag(r, "error"))
    end)

    it("a <close> span in a coroutine that died by an error finishes at coroutine.close, tagged error=true (Lua 5.4)", function()
        if not H.IS_54 then return pending("LuaJIT has no to-be-closed variables") end
        local body = assert(load([[
            local t = ...
            local s <close> = t:start_span("co-error")
            error("co-boom", 0)
        ]]))
        local co = coroutine.create(body)
        assert.is_false((coroutine.resume(co, t)))
        assert.same({}, H.spans(t))               -- Lua closes it only at coroutine.close
        local ok, err = coroutine.close(co)
        assert.is_false(ok)
        assert.equal("co-boom", err)
        local r = H.one_span(t)
        assert.equal("co-error", r.operation_name)
        assert.equal(true, H.tag(r, "error"))
    end)
end)

describe("bytes: NUL, CR/LF and non-UTF-8 in strings", function()
    local t
    before_each(function() t = H.tracer() end)

    it("names, tags and logs keep every byte; the memory reporter's JSON shows U+FFFD for invalid UTF-8", function()
        local s = t:start_span("op\0\255")
        s:set_tag("k\255", "v\0\254"):log_kv({ ["f\0"] = "x\0\255" })
        assert.equal("op\0\255", s:operation_name())
        s:finish()
        local r = H.one_span(t)
        local FFFD = "\239\191\189"
        assert.equal("op\0" .. FFFD, r.operation_name)
        assert.equal("v\0" .. FFFD, H.tag(r, "k" .. FFFD))
        assert.equal("x\0" .. FFFD, H.field(r.logs[1].fields, "f" .. FFFD))   -- a NUL in a JSON key is U+FFFD
    end)

    it("baggage: keys that are not header tokens are never injected, values are percent-encoded", function()
        local s = t:start_span("s")
        s:set_baggage_item("a\r\nX-Evil: 1", "v")
        s:set_baggage_item("k\0z", "v")
        s:set_baggage_item("k\195\169", "v")
        s:set_baggage_item("ok", "v\r\nX-Evil: 2\0\255")
        assert.equal("v", s:get_baggage_item("a\r\nX-Evil: 1"))     -- kept in process
        local h = {}
        t:inject(s, "http_headers", h)
        for k, v in pairs(h) do
            assert.matches("^[%w%-]+$", k)
            assert.is_nil(v:find("[%c\128-\255]"))
        end
        assert.equal("v%0D%0AX-Evil%3A%202%00%FF", h["uberctx-ok"])
        local ctx = assert(t:extract("http_headers", h))
        assert.same({ ok = "v\r\nX-Evil: 2\0\255" }, ctx:baggage())
    end)

    it("a format or config key with a NUL byte is not cut short at the NUL", function()
        local s = t:start_span("s")
        assert.has_error(function() t:inject(s, "binary\0junk") end)
        local ok, err = pcall(t.extract, t, "http_headers\0junk", {})
        assert.is_false(ok)
        assert.matches('(format must be "http_headers", "text_map" or "binary")', err, 1, true)
        local v, msg = t:config("service_name\0junk")
        assert.is_nil(v)
        assert.equal("unsupported format, option or protocol", msg)
        assert.equal("lua-spec", t:config("service_name"))
    end)

    it("new_tracer refuses NUL bytes in config keys, values, tags and the service name", function()
        assert.has_error(function() H.tracer{ sampler = { ["type\0junk"] = "const" } } end,
            "tracewire.new_tracer: config key 'sampler.type\\0...' holds a NUL byte")
        assert.has_error(function() H.tracer{ sampler = { type = "const\0junk" } } end,
            "tracewire.new_tracer: config key 'sampler.type': value holds a NUL byte")
        assert.has_error(function() H.tracer{ tags = { region = "eu\0x" } } end,
            "tracewire.new_tracer: config key 'tags.region': value holds a NUL byte")
        assert.has_error(function() tracewire.new_tracer("svc\0x", { reporter = { protocols = "memory" } }) end,
            "tracewire.new_tracer: config key 'service_name': value holds a NUL byte")
        assert.equal("ok", H.tracer{ service_name = "ok" }:service_name())
    end)
end)

describe("1 MB strings in string positions", function()
    local MB = string.rep("x", 1024 * 1024)
    local t, s
    before_each(function()
        t = H.tracer()
        s = t:start_span("s")
    end)
    after_each(function()
        s:finish()
        t:start_span("after"):finish()
        local spans = H.spans(t)
        assert.equal(2, #spans)
        assert.equal("after", spans[2].operation_name)
    end)

    local function raises(f, want)
        local ok, err = pcall(f)
        assert.is_false(ok)
        if not err:find(want, 1, true) then error(("error %q does not contain %q"):format(err, want), 0) end
    end

    it("as operation name: raises", function()
        raises(function() return (t:start_span(MB)) end, "(operation name longer than 1024 bytes)")
        raises(function() return (s:set_operation_name(MB)) end, "(operation name longer than 1024 bytes)")
        assert.equal("s", s:operation_name())
    end)

    it("as tag, log field or baggage key: raises, naming the bound", function()
        raises(function() return (s:set_tag(MB, 1)) end, "tracewire: tag key longer than 1024 bytes")
        raises(function() return (s:set_tags({ [MB] = 1 })) end, "tracewire: tag key longer than 1024 bytes")
        raises(function() return (s:log_kv({ [MB] = 1 })) end, "tracewire: log field key longer than 1024 bytes")
        raises(function() return (s:set_baggage_item(MB, "v")) end, "tracewire: baggage key longer than 1024 bytes")
        raises(function() return (t:start_span("x", { tags = { [MB] = 1 } })) end,
            "tracewire: tag key longer than 1024 bytes")
    end)

    it("as tag or log value: truncated to max_tag_value_length (1024)", function()
        s:set_tag("k", MB):log("l", MB)
        s:finish()
        local r = H.spans(t)[1]
        assert.equal(1024, #H.tag(r, "k"))
        assert.equal(1024, #H.field(r.logs[1].fields, "l"))
        s = t:start_span("s2")       -- for after_each
    end)

    it("as format, config key or baggage lookup: the usual answer", function()
        raises(function() return (t:inject(s, MB, {})) end, '(format must be "http_headers", "text_map" or "binary")')
        raises(function() return (t:extract(MB, {})) end, '(format must be "http_headers", "text_map" or "binary")')
        local v, msg = t:config(MB)
        assert.is_nil(v)
        assert.equal("unsupported format, option or protocol", msg)
        assert.is_nil(s:get_baggage_item(MB))
        assert.is_nil(s:context():get_baggage_item(MB))
    end)

    it("as config key: raises \"config key too long\"", function()
        raises(function() return (H.tracer{ [MB] = 1 }) end, "tracewire.new_tracer: config key too long")
        raises(function() return (H.tracer{ sampler = { [MB] = 1 } }) end, "tracewire.new_tracer: config key too long")
    end)
end)

describe("raw HTTP heads and statuses (start_http_span, finish_http)", function()
    local TID = "4bf92f3577b34da6a3ce929d0e0e4736"
    local TP = "00-" .. TID .. "-00f067aa0ba902b7-01"
    local t
    before_each(function() t = H.tracer() end)
    after_each(function()
        t:start_span("after"):finish()
        local spans = H.spans(t)
        assert.equal("after", spans[#spans].operation_name)
    end)

    it("2,000 garbage and mutated heads: a span or nil + message, never an error", function()
        local seed = 20261125
        local function rnd(n)            -- Park-Miller: exact in doubles, the same in 5.4 and LuaJIT
            seed = seed * 16807 % 2147483647
            return seed % n
        end
        local real = "GET /p?q=1 HTTP/1.1\r\nHost: h\r\ntraceparent: " .. TP .. "\r\nuberctx-k: v\r\n\r\nbody"
        local spans, refused = 0, 0
        for i = 1, 2000 do
            local head
            if i % 4 == 0 then                       -- noise
                local b = {}
                for j = 1, rnd(80) do b[j] = string.char(rnd(256)) end
                head = table.concat(b)
            elseif i % 4 == 1 then                   -- a real head cut short
                head = real:sub(1, rnd(#real))
            else                                     -- a real head with bytes replaced
                local b = { real:byte(1, -1) }
                for _ = 1, 1 + rnd(4) do b[1 + rnd(#b)] = rnd(256) end
                head = string.char(unpack and unpack(b) or table.unpack(b))
            end
            local ok, a, b = pcall(t.start_http_span, t, head)
            assert(ok, a)
            if a == nil then
                refused = refused + 1
                assert.equal("tracewire: start_http_span: no valid HTTP/1.x request line", b)
            else
                spans = spans + 1
                assert.is_boolean(b)
                assert.is_true(#a:operation_name() <= 1024)
                assert.is_true(a:finish_http(200 + i % 400))
            end
        end
        assert.is_true(spans > 300 and refused > 300, spans .. " spans, " .. refused .. " refused")
        assert.equal(spans, t:counters().spans_finished)
        assert.equal(spans, #H.spans(t))
    end)

    it("a corrupted context in the head is ignored (found = true), a good one continued", function()
        local s, found = t:start_http_span("GET / HTTP/1.1\r\ntraceparent: 00-zz-00-01\r\n\r\n")
        assert.is_true(found)
        assert.not_equal(TID, s:trace_id())
        s, found = t:start_http_span("GET / HTTP/1.1\r\nTraceParent: " .. TP .. "\r\n\r\n")
        assert.is_true(found)
        assert.equal(TID, s:trace_id())
    end)

    it("a 1 MB target: the name is cut to 1024 bytes, http.url to max_tag_value_length", function()
        local path = "/" .. string.rep("a", 1024 * 1024)
        local s = assert(t:start_http_span("GET " .. path .. "?x HTTP/1.1\r\nHost: h\r\n\r\n", "https"))
        assert.equal(1024, #s:operation_name())
        assert.equal("GET /aaa", s:operation_name():sub(1, 8))
        s:finish_http(200)
        local r = H.spans(t)[1]
        local url = H.tag(r, "http.url")
        assert.equal(1024, #url)
        assert.equal("https://h/aaa", url:sub(1, 13))
    end)

    it("control bytes in the request line refuse the head; other bytes are carried as bytes", function()
        for _, bad in ipairs{ "GET /\0 HTTP/1.1\r\n\r\n", "G\0T / HTTP/1.1\r\n\r\n", "GET /\127 HTTP/1.1\r\n\r\n" } do
            local s, msg = t:start_http_span(bad)
            assert.is_nil(s)
            assert.equal("tracewire: start_http_span: no valid HTTP/1.x request line", msg)
        end
        local s = assert(t:start_http_span("GET /\255\254 HTTP/1.1\r\nHost: h\0x\r\nX-A: \0\255\r\n"
                                           .. "traceparent: " .. TP .. "\r\n\r\n"))
        assert.equal("GET /\255\254", s:operation_name())
        assert.equal(TID, s:trace_id())          -- a garbage header line does not stop extract
        s:finish_http(204)
        local r = H.spans(t)[1]
        assert.equal(204, H.tag(r, "http.status_code"))
        assert.equal("http://h\0x/\239\191\189\239\191\189", H.tag(r, "http.url"))   -- JSON: U+FFFD
    end)

    it("statuses: integers 0..999 only; numeric strings are numbers", function()
        for _, bad in ipairs{ { 200.5, "HTTP status must be an integer" },
                              { 0/0, "HTTP status out of range 0..999" },
                              { 1e300, "HTTP status out of range 0..999" },
                              { -1, "HTTP status out of range 0..999" },
                              { 1000, "HTTP status out of range 0..999" },
                              { "abc", "HTTP status must be a number" } } do
            local s = t:start_span("x")
            local ok, err = pcall(s.finish_http, s, bad[1])
            assert.is_false(ok)
            assert.matches("(" .. bad[2] .. ")", err, 1, true)
            assert.is_false(s:is_finished())
        end
        local s = t:start_span("str")
        assert.is_true(s:finish_http("503"))
        local r = H.spans(t)[1]
        assert.equal(503, H.tag(r, "http.status_code"))
        assert.equal(true, H.tag(r, "error"))
    end)

    it("finish_http on a finished span returns false and adds nothing", function()
        local s = t:start_span("once")
        assert.is_true(s:finish())
        assert.is_false(s:finish_http(500))
        assert.is_false(s:finish_http(200))
        local r = H.one_span(t)
        assert.is_nil(H.tag(r, "http.status_code"))
        assert.is_nil(H.tag(r, "error"))
    end)
end)
