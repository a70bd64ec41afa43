-- The Redis queue codecs through the Lua binding (tracewire.envelope_*,
-- carrier_parse) and tracewire.redisq, which uses them: bytes checked against
-- envelopes written from the specification by Python's struct + zlib (hex
-- below), damage refused with the core's reasons (the module's words).
local tw = require "tracewire"
local redisq = require "tracewire.redisq"

local function unhex(h) return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end)) end

local TP = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
-- envelope(payload "p\0q\255", carrier TP, enqueue_us 1700000000000123)
local REF = unhex("005457511a01000000060a24181e407b00000044000000047472616365706172656e743a2030302d"
    .. "34626639326633353737623334646136613363653932396430653065343733362d303066303637616130"
    .. "626139303262372d3031700071ff86852c0a")
-- envelope(payload "", carrier "", enqueue_us 1)
local EMPTY = unhex("005457511a01000000000000000000010000000000000000f6d0e08a")

describe("queue envelope", function()
    it("encodes the specified bytes", function()
        assert.equal(REF, tw.envelope_encode("p\0q\255", TP, 1700000000000123))
        assert.equal(REF, redisq.wrap("p\0q\255", TP, 1700000000000123))
        assert.equal(EMPTY, redisq.wrap("", nil, 1))
    end)

    it("decodes parts, enqueue time and wait", function()
        local payload, carrier, enq = tw.envelope_decode(REF)
        assert.equal("p\0q\255", payload)
        assert.equal(TP, carrier)
        assert.equal(1700000000000123, enq)
        local it = redisq.unwrap(REF, { now_us = 1700000000001123 })
        assert.same({ payload = "p\0q\255", carrier = TP, enqueue_us = 1700000000000123,
                      wait_us = 1000, traced = true }, it)
        assert.is_false(redisq.unwrap(EMPTY, { now_us = 0 }).traced)
    end)

    it("passes plain values through", function()
        for _, raw in ipairs({ "", "hello", "\0TWQ", "x\0TWQ\26" }) do
            local p, c = tw.envelope_decode(raw)
            assert.equal(raw, p)
            assert.is_nil(c)
            assert.same({ payload = raw, carrier = "", enqueue_us = -1, wait_us = -1, traced = false },
                        redisq.unwrap(raw))
        end
    end)

    it("refuses every kind of damage with the core's reason", function()
        local cases = {
            { REF:sub(1, -2), "truncated envelope" },
            { REF:sub(1, 20), "truncated envelope" },
            { REF .. "!", "envelope length mismatch" },
            { REF:sub(1, 5) .. "\2" .. REF:sub(7), "unknown envelope version" },
            { REF:sub(1, 7) .. "\1" .. REF:sub(9), "unknown envelope version" },
            { REF:sub(1, -2) .. string.char((REF:byte(-1) + 1) % 256), "envelope checksum mismatch" },
            { REF:sub(1, 30) .. "X" .. REF:sub(32), "envelope checksum mismatch" },
        }
        for _, c in ipairs(cases) do
            local it, err = redisq.unwrap(c[1])
            assert.is_nil(it)
            assert.equal(c[2], err)
        end
    end)

    it("checks its arguments", function()
        assert.has_error(function() tw.envelope_encode("p", "c", 1.5) end)
        assert.has_error(function() tw.envelope_encode("p", "c") end)
        assert.has_error(function() tw.envelope_decode({}) end)
    end)
end)

describe("carrier text", function()
    it("parses both forms and lower-cases names", function()
        assert.same({ traceparent = "a-b", ["x-b3-sampled"] = "1" },
                    redisq.parse_carrier("TraceParent = a-b ; X-B3-Sampled=1;"))
        assert.same({ baggage = "k=v;p", ["uber-trace-id"] = "1:2:0:1" },
                    tw.carrier_parse("Baggage: k=v;p\r\nuber-trace-id: 1:2:0:1\r\n"))
        assert.same({}, redisq.parse_carrier(""))
        assert.same({}, redisq.parse_carrier(nil))
    end)

    it("refuses what the module refuses", function()
        local many = {}
        for i = 1, 65 do many[i] = "h" .. i .. "=v" end
        local cases = {
            { "words only", "carrier entry without ':' or '='" },
            { "=v", "carrier entry without a header name" },
            { "a b=c", "carrier header name holds a character outside [A-Za-z0-9._-]" },
            { "k=v\127", "carrier header value holds a control character" },
            { "k=v" .. string.rep("x", 16384), "carrier longer than 16384 bytes" },
            { table.concat(many, ";"), "carrier has more than 64 headers" },
        }
        for _, c in ipairs(cases) do
            local t, err = redisq.parse_carrier(c[1])
            assert.is_nil(t)
            assert.equal(c[2], err)
        end
    end)

    it("formats through the core's writer, sorted, and parses back", function()
        local text = redisq.format_carrier({ traceparent = "00-a-b-01", baggage = "k=v;p", ["X-B3-Flags"] = 1 })
        assert.equal("X-B3-Flags: 1\nbaggage: k=v;p\ntraceparent: 00-a-b-01", text)
        assert.same({ traceparent = "00-a-b-01", baggage = "k=v;p", ["x-b3-flags"] = "1" },
                    redisq.parse_carrier(text))
        assert.equal("", redisq.format_carrier({}))
    end)

    it("refuses to format what parse would refuse", function()
        local many = {}
        for i = 1, 65 do many["h" .. i] = "v" end
        local cases = {
            { { k = "a\nb" }, "carrier header value holds a control character" },
            { { ["a b"] = "v" }, "carrier header name holds a character outside [A-Za-z0-9._-]" },
            { { k = string.rep("x", 16384) }, "carrier longer than 16384 bytes" },
            { many, "carrier has more than 64 headers" },
        }
        for _, c in ipairs(cases) do
            local ok, err = pcall(redisq.format_carrier, c[1])
            assert.is_false(ok)
            assert.truthy(err:find(c[2], 1, true), err)
        end
    end)
end)

describe("stream carrier fields", function()
    it("are the core's header names", function()
        local names, prefixes = tw.header_names()
        local got = {}
        for n in pairs(names) do got[#got + 1] = n end
        table.sort(got)
        assert.same({ "b3", "baggage", "jaeger-baggage", "jaeger-debug-id", "traceparent", "tracestate",
                      "uber-trace-id", "x-b3-flags", "x-b3-parentspanid", "x-b3-sampled", "x-b3-spanid",
                      "x-b3-traceid" }, got)
        assert.same({ "uberctx-" }, prefixes)
        local e = redisq.stream_entry("s", "1700000000000-0",
            { "X-B3-Sampled", "1", "uberctx-k", "v", "uberctx-", "bare", "body", "x" })
        assert.equal("X-B3-Sampled: 1\nuberctx-k: v", e.carrier)
        assert.same({ { "uberctx-", "bare" }, { "body", "x" } }, e.fields)
    end)
end)
