-- Failures speak: the core's diagnostics reach stderr (plain Lua, written by
-- the reporter thread) or ngx.log (OpenResty, emitted from the Lua thread on
-- the next tracer call or tracer:diagnostics()). Real sockets: a UDP port on
-- 127.0.0.1 that nobody listens on (the kernel refuses the datagrams).
local tracewire = require "tracewire"

local function closed_udp_port()
    -- a port that was free a moment ago: bind one with the core's own
    -- helper-free trick, a tracer to port 9 ("discard") is not reliable, so
    -- ask the OS through luasocket when present, else use a high fixed port
    local ok, socket = pcall(require, "socket")
    if ok then
        local u = socket.udp()
        u:setsockname("127.0.0.1", 0)
        local _, port = u:getsockname()
        u:close()
        return port
    end
    return 39999
end

local function failing_tracer(extra)
    local cfg = { service_name = "diag", sampler = { type = "const", param = 1 },
                  reporter = { protocols = "udp", agent_host = "127.0.0.1",
                               agent_port = closed_udp_port() } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return tracewire.new_tracer(cfg)
end

describe("diagnostics", function()
    it("queues failures for ngx.log and emits them from the Lua thread", function()
        local got = {}
        local saved = rawget(_G, "ngx")
        _G.ngx = { ERR = 4, log = function(level, msg) got[#got + 1] = { level, msg } end }
        local ok, err = pcall(function()
            local t = failing_tracer()
            _G.ngx.log = function(level, msg) got[#got + 1] = { level, msg } end
            for i = 1, 3 do t:start_span("op"):finish() end
            assert.is_true(t:flush(5))
            assert.equal(0, #got)                 -- nothing from the reporter thread
            assert.equal(1, t:diagnostics())      -- emitted here, on this thread
            assert.equal(1, #got)
            local c = t:counters()
            assert.equal(0, c.spans_reported)
            assert.equal(3, c.dropped_send_failed)
            assert.equal(4, got[1][1])
            assert.matches("udp sender failed", got[1][2], 1, true)
            assert.matches("Connection refused", got[1][2], 1, true)
            assert.equal(0, t:diagnostics())      -- said once
            t:close()
        end)
        _G.ngx = saved
        assert(ok, err)
    end)

    it("logs a failed poll of the agent at ngx.WARN, lost spans at ngx.ERR", function()
        -- the levels are the core's (tw_diag_kind_is_warning), the native
        -- nginx module's too: throttler and restriction polls to a port
        -- nobody listens on, spans to a refused UDP port
        local got = {}
        local saved = rawget(_G, "ngx")
        _G.ngx = { ERR = 4, WARN = 5, log = function(level, msg) got[#got + 1] = { level, msg } end }
        local ok, err = pcall(function()
            local dead = closed_udp_port()
            local t = failing_tracer{ debug_id_header = "x-dbg",
                throttler = { port = dead, refresh_interval = 0.05 },
                baggage_restrictions = { host_port = "127.0.0.1:" .. dead, refresh_interval = 0.05 } }
            local ctx = t:extract("http_headers", { ["x-dbg"] = "d1" })
            t:start_span("op", { child_of = ctx }):finish()   -- the throttler now knows "op"
            t:start_span("op"):finish()
            local deadline = os.time() + 10
            local level = {}
            while os.time() <= deadline and not (level.throttler and level.restrictions
                                                  and level.send) do
                t:flush(1)
                t:diagnostics()
                for _, g in ipairs(got) do
                    if g[2]:find("throttler", 1, true) then level.throttler = g[1] end
                    if g[2]:find("baggage restrictions", 1, true) then level.restrictions = g[1] end
                    if g[2]:find("udp sender failed", 1, true) then level.send = g[1] end
                end
                t:start_span("op"):finish()
            end
            assert.same({ throttler = 5, restrictions = 5, send = 4 }, level)
            t:close()
        end)
        _G.ngx = saved
        assert(ok, err)
    end)

    it("emits queued lines on the next tracer call", function()
        local got = {}
        local saved = rawget(_G, "ngx")
        _G.ngx = { ERR = 4, log = function(level, msg) got[#got + 1] = msg end }
        local ok, err = pcall(function()
            local t = failing_tracer()
            t:start_span("op"):finish()
            t:flush(5)
            assert.equal(0, #got)
            t:start_span("next"):finish()         -- any tracer call drains the queue
            assert.equal(1, #got)
            t:close()
        end)
        _G.ngx = saved
        assert(ok, err)
    end)

    it("writes to stderr from the reporter thread outside nginx", function()
        local lua = arg and arg[-1] or "lua"
        local script = [[
            local tracewire = require "tracewire"
            local t = tracewire.new_tracer{ service_name = "d",
                reporter = { protocols = "http", retries = 0,
                             endpoint = "http://no-such-collector.invalid/api/traces" } }
            t:start_span("op"):finish()
            print(t:flush(5))
            t:close()
        ]]
        local path = os.tmpname()
        local f = assert(io.open(path, "w"))
        f:write(script)
        f:close()
        local cpath = package.cpath:gsub("'", "")
        local p = assert(io.popen(string.format("LUA_CPATH='%s' %s %s 2>&1", cpath, lua, path)))
        local out = p:read("*a")
        p:close()
        os.remove(path)
        assert.matches("http sender failed", out, 1, true)
        assert.matches("no-such-collector.invalid", out, 1, true)
    end)

    it("says nothing for a healthy tracer", function()
        local got = {}
        local saved = rawget(_G, "ngx")
        _G.ngx = { ERR = 4, log = function(level, msg) got[#got + 1] = msg end }
        local ok, err = pcall(function()
            local t = tracewire.new_tracer{ service_name = "ok", reporter = { protocols = "memory" } }
            for i = 1, 5 do t:start_span("op"):finish() end
            t:flush(5)
            assert.equal(0, t:diagnostics())
            t:close()
        end)
        _G.ngx = saved
        assert(ok, err)
        assert.equal(0, #got)
    end)

    it("counts protocol none as discarded, not reported", function()
        local t = tracewire.new_tracer{ service_name = "n", reporter = { protocols = "none" } }
        t:start_span("op"):finish()
        local c = t:counters()
        assert.equal(1, c.spans_discarded)
        assert.equal(0, c.spans_reported)
    end)
end)
