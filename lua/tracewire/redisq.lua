--- tracewire.redisq — Lua helpers for the tracewire Redis module's traced queues.
--
-- The module (MODULE LOAD .../tracewire.so) keeps every item of a plain Redis
-- list inside a binary envelope holding the producer's trace context and the
-- server-clock enqueue time. This file is the Lua face of that design, for
-- Lua 5.4 and LuaJIT (nginx) alike:
--
--   redisq.push(client, key, items, opts)  TQ.PUSH; carrier from opts.carrier
--                                           or opts.span (+ opts.tracer)
--   redisq.pop / bpop / move / ack          TQ.POP / TQ.BPOP / TQ.MOVE / TQ.ACK
--   redisq.unwrap(raw [, opts])             decode a value read with plain
--                                           RPOP/BRPOP (CRC checked)
--   redisq.consumer_span(tracer, item, key [, opts])
--                                           "process <key>" CONSUMER span, child
--                                           of the item's context (opts.link:
--                                           follows_from instead)
--   redisq.connect(host, port)              a minimal blocking RESP client over
--                                           LuaSocket (refused inside nginx
--                                           request/timer phases)
--
-- `client` is any of: a function(argv) -> reply; an object with :call(...);
-- a lua-resty-redis object (commands are looked up by name). Items come back
-- as tables {payload=, carrier=, enqueue_us=, wait_us=, traced=}.
--
-- Envelope v1 (big-endian): 00 'T' 'W' 'Q' 1A | 01 | 00 | 00 | enqueue_us i64 |
-- carrier_len u32 | payload_len u32 | carrier | payload | crc32 u32.
-- The envelope and the carrier text are encoded and decoded by the C core,
-- the code the Redis module runs (tracewire.h, "queue envelope" and "carrier
-- text"), through the binding: Lua never disagrees with the module about
-- what is corrupted.
local tw = require "tracewire"

local M = {}

M.MAGIC = "\0TWQ\26"
M.VERSION = 1

local function now_us()
    local ok, socket = pcall(require, "socket")
    if ok and socket.gettime then return math.floor(socket.gettime() * 1e6) end
    if ngx and ngx.now then return math.floor(ngx.now() * 1e6) end
    return os.time() * 1000000
end

--- Decodes one raw list value. Returns an item, or nil and the core's reason
-- for a damaged envelope. Plain values come back with carrier "" and -1
-- times. opts.now_us sets the clock for wait_us.
function M.unwrap(raw, opts)
    local payload, carrier, enq = tw.envelope_decode(raw)
    if payload == nil then return nil, carrier end
    if carrier == nil then
        return { payload = raw, carrier = "", enqueue_us = -1, wait_us = -1, traced = false }
    end
    local now = opts and opts.now_us or now_us()
    return {
        payload = payload,
        carrier = carrier,
        enqueue_us = enq,
        wait_us = now > enq and now - enq or 0,
        traced = carrier ~= "",
    }
end

--- Builds an envelope exactly as the module does (tools and tests).
function M.wrap(payload, carrier, enqueue_us)
    return tw.envelope_encode(payload, carrier or "", enqueue_us or now_us())
end

-- ---------------------------------------------------------------- carriers

--- Carrier text -> { lower-case name = value }, or nil and the core's reason
-- for text the module would refuse.
M.parse_carrier = tw.carrier_parse

--- { name = value } -> header-block carrier text (sorted, so stable); raises
-- with the core's reason for a name or value carrier text cannot hold.
function M.format_carrier(headers)
    local names = {}
    for k in pairs(headers) do names[#names + 1] = k end
    table.sort(names)
    local flat = {}
    for _, k in ipairs(names) do
        flat[#flat + 1] = tostring(k)
        flat[#flat + 1] = tostring(headers[k])
    end
    -- the core's carrier text writer (the Redis module's and Python's too)
    local text, why = tw.carrier_format(flat)
    if text == nil then error("format_carrier: " .. why, 2) end
    return text
end

--- The carrier text for a span (or span context) through tracer:inject.
function M.carrier_of(tracer, span)
    if span == nil then return "" end
    local h = {}
    tracer:inject(span, "http_headers", h)
    return M.format_carrier(h)
end

-- ---------------------------------------------------------------- commands

local function call(client, ...)
    if type(client) == "function" then return client({ ... }) end
    if type(client) == "table" and type(client.call) == "function" then return client:call(...) end
    local cmd = (...):lower()
    return client[cmd](client, select(2, ...))
end

local function item_of(reply, err)
    if type(reply) ~= "table" then return nil, err end
    return {
        payload = reply[1], carrier = reply[2] or "",
        enqueue_us = tonumber(reply[3]), wait_us = tonumber(reply[4]),
        traced = reply[2] ~= nil and reply[2] ~= "",
    }
end

-- The carrier text of a push/xadd: opts.carrier (text or header table), else
-- opts.span's context through opts.tracer, else "" (untraced).
local function carrier_arg(opts)
    local carrier = opts.carrier
    if type(carrier) == "table" then return M.format_carrier(carrier) end
    if carrier == nil then return opts.span and M.carrier_of(opts.tracer, opts.span) or "" end
    return carrier
end

--- TQ.PUSH key carrier items...; items is a string or an array of strings.
-- opts.carrier (text or header table), else opts.span with opts.tracer.
function M.push(client, key, items, opts)
    opts = opts or {}
    local carrier = carrier_arg(opts)
    if type(items) ~= "table" then items = { items } end
    return call(client, "TQ.PUSH", key, carrier, (table.unpack or unpack)(items))
end

function M.pop(client, key) return item_of(call(client, "TQ.POP", key)) end
function M.bpop(client, key, timeout) return item_of(call(client, "TQ.BPOP", key, tostring(timeout or 0))) end
function M.move(client, src, dst) return item_of(call(client, "TQ.MOVE", src, dst)) end
function M.ack(client, key, payload) return call(client, "TQ.ACK", key, payload) == 1 end

--- Starts the consumer's "process <key>" span from a popped item: child of
-- the item's context by default, follows_from with opts.link. The caller
-- finishes it.
function M.consumer_span(tracer, item, key, opts)
    opts = opts or {}
    local tags = { ["span.kind"] = "consumer", ["messaging.system"] = "redis",
                   ["messaging.destination.name"] = key, ["messaging.operation.type"] = "process" }
    for k, v in pairs(opts.tags or {}) do tags[k] = v end
    local ctx
    if item.traced then ctx = tracer:extract("http_headers", M.parse_carrier(item.carrier)) end
    local so = { tags = tags }
    if ctx and opts.link then
        so.references = { { "follows_from", ctx } }
    else
        so.child_of = ctx
    end
    return tracer:start_span(opts.name or ("process " .. key), so)
end

-- ---------------------------------------------------------------- RESP client

-- nginx phases where blocking I/O stalls no request: the master's init, a
-- worker's start and exit. Anywhere else (rewrite, access, content, log,
-- timers, ... and phases added later) a blocking socket would freeze every
-- connection of the worker while it waits.
local BLOCKING_OK = { init = true, init_worker = true, exit_worker = true }

--- The nginx phase this code runs in when blocking is not allowed there, else nil.
local function nginx_request_phase()
    if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
    local ok, phase = pcall(ngx.get_phase)
    if not ok or BLOCKING_OK[phase] then return nil end
    return phase or "unknown"
end

--- A minimal blocking Redis client over LuaSocket: c:call(...) -> reply or
-- nil, err ("-ERR ..." replies come back as nil, message). Refuses (raises)
-- inside nginx request and timer phases: there, pass a lua-resty-redis
-- object, or a function(argv) over ngx.socket.tcp, as the client instead.
function M.connect(host, port, timeout)
    local phase = nginx_request_phase()
    if phase then
        error("tracewire.redisq.connect: a blocking LuaSocket client cannot run in nginx's '"
              .. phase .. "' phase (it would stall every request of this worker); pass a "
              .. "lua-resty-redis object (require \"resty.redis\") or a function(argv) over "
              .. "ngx.socket.tcp to redisq as the client instead", 2)
    end
    local socket = require "socket"
    local sock = assert(socket.tcp())
    sock:settimeout(timeout or 30)
    local ok, err = sock:connect(host or "127.0.0.1", port or 6379)
    if not ok then return nil, err end
    local c = { sock = sock }
    local function read()
        local line, e = sock:receive("*l")
        if not line then return nil, e end
        local t, rest = line:sub(1, 1), line:sub(2)
        if t == "+" then return rest end
        if t == "-" then return nil, rest end
        if t == ":" then return tonumber(rest) end
        if t == "$" then
            local n = tonumber(rest)
            if n < 0 then return nil end
            local data = sock:receive(n + 2)
            return data and data:sub(1, n)
        end
        if t == "*" then
            local n = tonumber(rest)
            if n < 0 then return nil end
            local arr = {}
            for i = 1, n do
                local v, e2 = read()
                if v == nil and e2 then return nil, e2 end
                arr[i] = v
            end
            return arr
        end
        return nil, "protocol error"
    end
    function c:call(...)
        local args = { ... }
        local buf = { "*" .. #args .. "\r\n" }
        for _, a in ipairs(args) do
            a = tostring(a)
            buf[#buf + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
        end
        local sent, e = sock:send(table.concat(buf))
        if not sent then return nil, e end
        return read()
    end
    function c:close() sock:close() end
    return c
end

-- ---------------------------------------------------------------- streams
-- TQ.XADD / TQ.XREADGROUP helpers. The module stores the context as plain
-- entry fields (traceparent, tracestate, baggage), so these only assemble
-- the commands and split the replies.

-- Stream entry fields read back as the carrier: every header name the core
-- injects or extracts (tw_header_names, the Redis module's and Python's list).
local carrier_names, carrier_prefixes = tw.header_names()

local function is_carrier_field(name)
    local n = name:lower()
    if carrier_names[n] then return true end
    for _, p in ipairs(carrier_prefixes) do
        if #n > #p and n:sub(1, #p) == p then return true end
    end
    return false
end

--- One entry of an XREADGROUP/XRANGE reply ({f1, v1, f2, v2, ...}) ->
-- { key, id, fields = { {name, value}, ... } (carrier fields left out),
--   carrier = header block or "", traced, enqueue_us = the id's ms in us }.
function M.stream_entry(key, id, flat)
    local fields, lines = {}, {}
    for i = 1, #(flat or {}) - 1, 2 do
        local f, v = flat[i], flat[i + 1]
        if is_carrier_field(f) then
            lines[#lines + 1] = f .. ": " .. v
        else
            fields[#fields + 1] = { f, v }
        end
    end
    local ms = id:match("^(%d+)%-")
    return { key = key, id = id, fields = fields, carrier = table.concat(lines, "\n"),
             traced = #lines > 0, enqueue_us = ms and tonumber(ms) * 1000 or -1 }
end

--- TQ.XADD key [opts] id carrier field value ...; fields is an array of
-- {name, value} pairs (order kept) or a table name -> value.
-- opts: id ("*"), carrier (text or header table; else opts.span with
-- opts.tracer), maxlen | minid, approximate (true), limit, nomkstream.
function M.xadd(client, key, fields, opts)
    opts = opts or {}
    local carrier = carrier_arg(opts)
    local args = { "TQ.XADD", key }
    if opts.nomkstream then args[#args + 1] = "NOMKSTREAM" end
    if opts.maxlen or opts.minid then
        args[#args + 1] = opts.maxlen and "MAXLEN" or "MINID"
        args[#args + 1] = opts.approximate == false and "=" or "~"
        args[#args + 1] = tostring(opts.maxlen or opts.minid)
        if opts.limit then args[#args + 1] = "LIMIT"; args[#args + 1] = tostring(opts.limit) end
    end
    args[#args + 1] = opts.id or "*"
    args[#args + 1] = carrier
    if fields[1] ~= nil then
        for _, p in ipairs(fields) do args[#args + 1] = p[1]; args[#args + 1] = tostring(p[2]) end
    else
        local names = {}
        for k in pairs(fields) do names[#names + 1] = k end
        table.sort(names)
        for _, k in ipairs(names) do args[#args + 1] = k; args[#args + 1] = tostring(fields[k]) end
    end
    return call(client, (table.unpack or unpack)(args))
end

--- TQ.XREADGROUP: streams is an array of {key, id} ('>' for new entries).
-- opts: count, block (ms), noack. Returns an array of stream entries ({}
-- when nothing came), or nil, err.
function M.xreadgroup(client, group, consumer, streams, opts)
    opts = opts or {}
    local args = { "TQ.XREADGROUP", "GROUP", group, consumer }
    if opts.count then args[#args + 1] = "COUNT"; args[#args + 1] = tostring(opts.count) end
    if opts.block then args[#args + 1] = "BLOCK"; args[#args + 1] = tostring(opts.block) end
    if opts.noack then args[#args + 1] = "NOACK" end
    args[#args + 1] = "STREAMS"
    for _, s in ipairs(streams) do args[#args + 1] = s[1] end
    for _, s in ipairs(streams) do args[#args + 1] = s[2] end
    local reply, err = call(client, (table.unpack or unpack)(args))
    if reply == nil then
        if err then return nil, err end
        return {}                                   -- nil reply: nothing came
    end
    local out = {}
    for _, kv in ipairs(reply) do
        for _, e in ipairs(kv[2] or {}) do
            if type(e[2]) == "table" then out[#out + 1] = M.stream_entry(kv[1], e[1], e[2]) end
        end
    end
    return out
end

--- The "process <key>" span of a stream entry (see consumer_span).
function M.stream_consumer_span(tracer, entry, opts)
    return M.consumer_span(tracer, entry, entry.key, opts)
end

return M
