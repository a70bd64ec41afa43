-- The gateway fast path: tracer:start_http_span(raw_head, ...) and
-- span:finish_http(status). What tracewire.nginx's start()/finish() record
-- for HTTP/1.x requests comes from here.
local H = require "helper"

local TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

describe("start_http_span", function()
    it("names, tags and parents a server span from a raw request head", function()
        local t = H.tracer()
        local head = "GET /a/b?q=1&r=2 HTTP/1.1\r\nHost: ex.com:8443\r\nTraceparent: " .. TP ..
                     "\r\nbaggage: user=alice\r\n\r\n"
        local s, found = t:start_http_span(head, "https", "edge")
        assert.is_true(found)
        assert.equal("alice", s:get_baggage_item("user"))
        assert.is_true(s:finish_http(200))
        local r = H.one_span(t)
        assert.equal("GET /a/b", r.operation_name)
        assert.equal("server", r.kind)
        assert.equal("4bf92f3577b34da6a3ce929d0e0e4736", r.trace_id)
        assert.equal("00f067aa0ba902b7", r.parent_id)
        assert.same({ component = "edge", ["http.method"] = "GET",
                      ["http.url"] = "https://ex.com:8443/a/b?q=1&r=2",
                      ["http.status_code"] = 200 }, r.tags)
        local _, ty = H.tag(r, "http.status_code")
        assert.equal("int64", ty)
    end)

    it("defaults to http and nginx, starts a root without context", function()
        local t = H.tracer()
        local s, found = t:start_http_span("POST /p HTTP/1.0\nHost: h\n")
        assert.is_false(found)
        s:finish_http(201)
        local r = H.one_span(t)
        assert.equal("POST /p", r.operation_name)
        assert.equal("nginx", r.tags.component)
        assert.equal("http://h/p", r.tags["http.url"])
        assert.equal(0, #r.references)
    end)

    it("parents on the extracted context as child_of: no reference under profile jaeger_client", function()
        -- jaeger_client sends a server span's parent as parentSpanId alone
        -- (test_wire.py checks the same on decoded UDP datagrams)
        for _, case in ipairs({ { nil, 1 }, { "jaeger_client", 0 } }) do
            local tr = H.tracer{ profile = case[1] }
            local s = tr:start_http_span("GET / HTTP/1.1\r\nuber-trace-id: a1:b2:0:1\r\n\r\n")
            s:finish_http(200)
            local r = H.one_span(tr)
            assert.equal("00000000000000b2", r.parent_id)
            assert.equal(case[2], #r.references)
            if case[2] == 1 then assert.equal("00000000000000b2", r.references[1].span_id) end
            tr:close()
        end
    end)

    it("keeps the target as the URL without Host or in absolute form", function()
        local t = H.tracer()
        t:start_http_span("GET /x HTTP/1.0\r\n\r\n"):finish_http(200)
        t:start_http_span("GET http://proxy.example/y HTTP/1.1\r\nHost: z\r\n\r\n"):finish_http(200)
        local spans = H.spans(t)
        assert.equal("/x", spans[1].tags["http.url"])
        assert.equal("http://proxy.example/y", spans[2].tags["http.url"])
    end)

    it("reports a corrupted context and starts a new root", function()
        local t = H.tracer()
        local s, found = t:start_http_span("GET / HTTP/1.1\r\ntraceparent: 00-zz-zz-01\r\n\r\n")
        assert.is_true(found)   -- present, corrupted, ignored
        s:finish_http(200)
        assert.equal(0, #H.one_span(t).references)
    end)

    it("honours the parent's not-sampled decision and tags nothing", function()
        local t = H.tracer()
        local s = t:start_http_span("GET / HTTP/1.1\r\ntraceparent: " .. TP:sub(1, -3) .. "00\r\n\r\n")
        assert.is_false(s:is_sampled())
        assert.is_true(s:finish_http(500))
        assert.equal(0, #H.spans(t))
        local c = t:counters()
        assert.equal(0, c.spans_sampled)
        assert.equal(1, c.spans_started)
    end)

    it("tags error=true on 5xx and finishes once", function()
        local t = H.tracer()
        local s = t:start_http_span("GET / HTTP/1.1\r\n\r\n")
        assert.is_true(s:finish_http(503))
        assert.is_false(s:finish_http(200))
        assert.is_false(s:finish())
        local r = H.one_span(t)
        assert.equal(503, r.tags["http.status_code"])
        assert.is_true(r.tags.error)
    end)

    it("takes a start and a finish timestamp", function()
        local t = H.tracer()
        t:start_http_span("GET / HTTP/1.1\r\n\r\n", nil, nil, 1700000000.25):finish_http(200, 1700000000.5)
        local r = H.one_span(t)
        assert.equal(1700000000250000, r.start_us)
        assert.equal(250000, r.duration_us)
    end)

    it("builds long URLs and takes Host from anywhere in the head", function()
        local t = H.tracer{ max_tag_value_length = 8192 }
        local path = "/" .. string.rep("u", 3000) .. "?q=" .. string.rep("v", 2000)
        t:start_http_span("GET " .. path .. " HTTP/1.1\r\nA: 1\r\nB: 2\r\nhOsT: far.example\r\n\r\n", "https")
            :finish_http(200)
        local url = H.one_span(t).tags["http.url"]
        assert.equal(8 + 11 + #path, #url)
        assert.equal("https://far.example" .. path, url)
    end)

    it("cuts a huge path to the name bound instead of failing", function()
        local t = H.tracer()
        local path = "/" .. string.rep("p", 5000)
        t:start_http_span("GET " .. path .. " HTTP/1.1\r\nHost: h\r\n\r\n"):finish_http(200)
        local r = H.one_span(t)
        assert.equal(1024, #r.operation_name)
        assert.equal("GET /ppp", r.operation_name:sub(1, 8))
    end)

    it("answers nil and a message for a head without a request line", function()
        local t = H.tracer()
        for _, bad in ipairs{ "", "garbage", "GET /\r\n", "GET / FTP/1.0\r\n", "\r\nHost: a\r\n" } do
            local s, err = t:start_http_span(bad)
            assert.is_nil(s)
            assert.matches("no valid HTTP/1.x request line", err)
        end
        assert.equal(0, t:counters().spans_started)
    end)

    it("raises clear errors for wrong argument types", function()
        local t = H.tracer()
        for _, v in ipairs{ 1, true, {}, print } do
            assert.has_error(function() t:start_http_span(v) end,
                             "bad argument #1 to 'start_http_span' (raw request head must be a string)")
        end
        assert.has_error(function() t:start_http_span(nil) end)
        assert.has_error(function() t:start_http_span("GET / HTTP/1.1", {}) end)
        assert.has_error(function() t:start_http_span("GET / HTTP/1.1", nil, nil, "soon") end)
        local s = t:start_http_span("GET / HTTP/1.1\r\n\r\n")
        for _, v in ipairs{ "x", {}, true } do
            assert.has_error(function() s:finish_http(v) end)
        end
        assert.has_error(function() s:finish_http(nil) end)
        assert.has_error(function() s:finish_http(1000) end)
        assert.has_error(function() s:finish_http(-1) end)
        assert.is_false(s:is_finished())
        assert.is_true(s:finish_http(204))
        assert.equal(204, H.one_span(t).tags["http.status_code"])
    end)
end)

-- nginx.lua's general path (HTTP/2, caller-named spans) tags through the same
-- core helper as start_http_span: the same request gives the same tags.
describe("span:set_http_request", function()
    it("tags exactly as start_http_span does", function()
        local t = H.tracer()
        local fast = t:start_http_span("PUT /x/y?z=1 HTTP/1.1\r\nHost: ex.com\r\n\r\n", "https", "edge")
        fast:finish_http(503)
        local want = H.one_span(t)
        local s = t:start_span("PUT /x/y")
        assert.equal(s, s:set_http_request("PUT", "/x/y?z=1", "ex.com", "https", "edge"))
        s:finish_http(503)
        local got = H.one_span(t)
        assert.same(want.tags, got.tags)
        assert.equal("server", got.kind)
        assert.is_true(got.tags.error)
    end)

    it("defaults to http and nginx; keeps the target without a host", function()
        local t = H.tracer()
        t:start_span("a"):set_http_request("GET", "/p"):finish()
        local tags = H.one_span(t).tags
        assert.same({ "nginx", "GET", "/p" }, { tags.component, tags["http.method"], tags["http.url"] })
        t:start_span("b"):set_http_request("GET", "/p", "h:1"):finish()
        assert.equal("http://h:1/p", H.one_span(t).tags["http.url"])
    end)

    it("tags nothing on an unsampled span", function()
        local t = H.tracer{ sampler = { type = "const", param = 0 } }
        local s = t:start_span("u"):set_http_request("GET", "/p", "h")
        s:finish_http(500)
        assert.equal(0, #H.spans(t))
    end)
end)

describe("tracer:header_names", function()
    it("names every format's headers, the configured Jaeger ones included", function()
        local t = H.tracer{ trace_id_header = "x-my-trace", baggage_header_prefix = "x-bag-" }
        local names, prefixes = t:header_names("all")
        assert.same({ ["x-my-trace"] = true, ["jaeger-debug-id"] = true, ["jaeger-baggage"] = true,
                      traceparent = true, tracestate = true, baggage = true, b3 = true,
                      ["x-b3-traceid"] = true, ["x-b3-spanid"] = true, ["x-b3-parentspanid"] = true,
                      ["x-b3-sampled"] = true, ["x-b3-flags"] = true }, names)
        assert.same({ "x-bag-" }, prefixes)
    end)

    it("names the configured formats only by default", function()
        local t = H.tracer{ propagation = { extract = "w3c", inject = "w3c" } }
        local names, prefixes = t:header_names()
        assert.same({ traceparent = true, tracestate = true, baggage = true }, names)
        assert.same({}, prefixes)
        assert.has_error(function() t:header_names("some") end)
    end)

    it("covers every header inject writes", function()
        local t = H.tracer{ propagation = { inject = "jaeger,w3c,b3,b3multi" } }
        local s = t:start_span("out")
        s:set_baggage_item("k", "v")
        local h = {}
        t:inject(s, "http_headers", h)
        local names, prefixes = t:header_names()
        for k in pairs(h) do
            assert.is_true(names[k] or k:sub(1, #prefixes[1]) == prefixes[1], k)
        end
    end)
end)
