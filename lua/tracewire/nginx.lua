-- tracewire.nginx — one server span per nginx request, in pure Lua over the
-- tracewire C module.
--
-- Lifecycle (see lua/examples/nginx.conf):
--   init_worker_by_lua_block  { require("tracewire.nginx").init_worker{...} }
--   rewrite_by_lua_block      { require("tracewire.nginx").start() }   (or access_by_lua)
--   log_by_lua_block          { require("tracewire.nginx").finish() }
--   (locations that proxy nothing may use log_by_lua { ....log_span() } alone)
--   exit_worker_by_lua_block  { require("tracewire.nginx").exit_worker() }
--
-- The tracer is created per worker, after nginx forked: a thread started in
-- init_by_lua (the master) would not exist in the workers. The core starts
-- its reporter thread lazily on the first finished span of each worker, so
-- nothing on the request path blocks: start() and finish() only touch memory
-- (UDP sends are non-blocking, HTTP/OTLP sends happen on the reporter
-- thread). exit_worker() flushes what is queued and joins the thread; it runs
-- on `nginx -s quit` / reload after in-flight requests completed.
--
-- Context propagation: start() reads the incoming trace context from the
-- request headers (any configured format), makes the server span its child,
-- removes every incoming context header (the names come from the core,
-- tracer:header_names, so an upstream never sees two contexts that
-- disagree) and writes the server span's context with
-- ngx.req.set_header, which proxy_pass forwards. Do not overwrite those
-- headers with proxy_set_header.

local tracewire = require "tracewire"

local ngx = ngx
local pairs, type, find, sub = pairs, type, string.find, string.sub

local _M = { _VERSION = tracewire.version }

local tracer            -- this worker's tracer
local clear_names       -- incoming header names to drop before injecting
local clear_prefixes    -- incoming header prefixes to drop (baggage)

local CTX_KEY = "tracewire_span"
local default_scheme    -- init_worker's opts.scheme: skips an ngx.var read
local upstream_address  -- init_worker's opts.upstream_address: tag it
local raw_header = ngx and ngx.req and ngx.req.raw_header

-- init_worker(config[, opts]) -> tracer. config is tracewire.new_tracer's
-- table; opts.scheme ("http" or "https") names the scheme of every request
-- this worker traces (only when all its servers use one scheme);
-- opts.upstream_address = true tags proxied spans with upstream.address
-- (one ngx.var read per request, about as costly as the whole span).
-- Idempotent per worker.
function _M.init_worker(config, opts)
    if tracer then
        return tracer
    end
    default_scheme = opts and opts.scheme
    upstream_address = opts and opts.upstream_address
    tracer = tracewire.new_tracer(config)
    -- every format's names, not only the configured ones: an upstream that
    -- saw our traceparent next to the client's b3 would either pick the
    -- client's span as parent or call the two formats corrupted
    clear_names, clear_prefixes = tracer:header_names("all")
    -- Failures the reporter thread found (a dead collector, a full queue)
    -- wait in the tracer until the Lua thread says them with ngx.log: the
    -- next request does, and this timer does for an idle worker.
    ngx.timer.every(1, function(premature)
        if not premature and tracer then
            tracer:diagnostics()
        end
    end)
    return tracer
end

-- exit_worker([timeout_s=2]) flushes and stops this worker's reporter.
function _M.exit_worker(timeout)
    local t = tracer
    if not t then
        return true
    end
    tracer = nil
    local ok, err = t:close(timeout or 2)
    if not ok then
        ngx.log(ngx.WARN, "tracewire: close: ", err, " (",
                t:counters().dropped_on_close, " spans dropped)")
    end
    return ok, err
end

-- The worker's tracer (nil before init_worker).
function _M.tracer()
    return tracer
end

-- The current request's server span (nil when not traced).
function _M.span()
    return ngx.ctx[CTX_KEY]
end

local function clear_incoming(headers)
    local req = ngx.req
    for name in pairs(headers) do
        if clear_names[name] then
            req.clear_header(name)
        else
            for i = 1, #clear_prefixes do
                local p = clear_prefixes[i]
                if sub(name, 1, #p) == p then
                    req.clear_header(name)
                    break
                end
            end
        end
    end
end

-- Every ngx.var read costs about 6000 instructions in OpenResty's FFI path
-- (bench/nginx_callgrind.sh; more than tracewire's own work for a span), so
-- the span reads as few as it can: request_uri, the host from the headers
-- table extract needs anyway, and the scheme only when the caller did not
-- name it (opts.scheme, or init_worker's second argument).
local function request_span(opts, headers)
    local method = ngx.req.get_method()
    local uri = ngx.var.request_uri
    local host = headers.host
    if type(host) == "table" then
        host = host[1]
    end
    local parent, _, code = tracer:extract("http_headers", headers)   -- nil: absent or corrupted
    local name = opts and opts.operation_name
    if type(name) == "function" then
        name = name()
    end
    if not name then
        local q = find(uri, "?", 1, true)
        name = method .. " " .. (q and sub(uri, 1, q - 1) or uri)
    end
    local span = tracer:start_span(name, { child_of = parent, start_timestamp = ngx.req.start_time() })
    if opts and opts.tags then
        span:set_tags(opts.tags)           -- first: may hold sampling.priority
    end
    -- The fast path's server-span tags, set by the core. An unsampled span
    -- is never reported: skip the ngx.var reads its tags would cost.
    if span:is_sampled() then
        span:set_http_request(method, uri, host or ngx.var.host,
                              (opts and opts.scheme) or default_scheme or ngx.var.scheme)
    end
    return span, code ~= "not_found"
end

-- peer.address (the client's address) needs an ngx.var read: sampled
-- spans only, at the end, where the unsampled ones skip it
local function finish_span(span, proxied)
    if span:is_sampled() then
        local peer = ngx.var.remote_addr
        if peer then
            span:set_tag("peer.address", peer)
        end
        if proxied and upstream_address then
            local up = ngx.var.upstream_addr
            if up then
                span:set_tag("upstream.address", up)
            end
        end
    end
    span:finish_http(ngx.status)
end

-- The fast path (no opts.tags, no opts.operation_name): the raw request
-- head crosses into C once (tracer:start_http_span), which extracts the
-- context, names the span and sets its tags. ngx.req.raw_header() exists
-- for HTTP/1.x only; HTTP/2 and HTTP/3 requests take the general path.
local function fast_start(opts)
    local ok, head = pcall(raw_header)
    if not ok then
        return nil
    end
    return tracer:start_http_span(head, (opts and opts.scheme) or default_scheme or ngx.var.scheme)
end

-- start([opts]) -> span. Call in rewrite_by_lua or access_by_lua; pair with
-- finish() in log_by_lua.
-- opts.operation_name: string or function() -> string (default "GET /path",
-- the request path without its query). opts.tags: extra tags, e.g.
-- { ["http.route"] = "/api" }. opts.propagate=false: leave
-- the upstream request headers alone (for locations that proxy nothing).
-- opts.scheme: "http"/"https" for this request's http.url.
function _M.start(opts)
    if not tracer then
        return nil
    end
    local ctx = ngx.ctx
    local span = ctx[CTX_KEY]
    if span then
        return span
    end
    local found, headers
    if not (opts and (opts.tags or opts.operation_name)) then
        span, found = fast_start(opts)
    end
    if not span then
        headers = ngx.req.get_headers()
        span, found = request_span(opts, headers)
    end
    ctx[CTX_KEY] = span
    if not (opts and opts.propagate == false) then
        if found then
            clear_incoming(headers or ngx.req.get_headers())
        end
        tracer:inject(span, "http_headers", ngx.req.set_header)
    end
    return span
end

-- log_span([opts]): the whole server span from log_by_lua alone (start time
-- from ngx.req.start_time()), for locations that proxy nothing: static
-- files, `return`, content_by_lua. One Lua phase instead of two and no
-- ngx.ctx, so it is cheaper than start()+finish(); no propagation.
function _M.log_span(opts)
    if not tracer then
        return nil
    end
    finish_span(request_span(opts, ngx.req.get_headers()), false)
end

-- finish() tags the status and finishes the span. Call in log_by_lua.
function _M.finish()
    local ctx = ngx.ctx
    local span = ctx[CTX_KEY]
    if not span then
        return
    end
    ctx[CTX_KEY] = nil
    finish_span(span, true)
end

-- Phase-named aliases: access_by_lua { nginx.access() }, log_by_lua { nginx.log() }.
_M.access = _M.start
_M.rewrite = _M.start
_M.log = _M.finish

return _M
