-- Shared helpers for the busted specs: a memory-reporter tracer and readers
-- over tw_tracer_memory_spans' JSON (decoded with lua-cjson).
local cjson = require "cjson"
local tracewire = require "tracewire"

local H = {}

H.IS_54 = _VERSION == "Lua 5.4"
H.IS_JIT = type(jit) == "table"

function H.tracer(extra)
    local cfg = {
        service_name = "lua-spec",
        sampler = { type = "const", param = 1 },
        reporter = { protocols = "memory" },
    }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return tracewire.new_tracer(cfg)
end

-- Decoded spans recorded so far (and cleared). The raw JSON text is kept in
-- H.raw: cjson decodes every number as one Lua type, so integer vs double
-- tags are told apart by their JSON spelling (jansson writes reals with a
-- '.' or an exponent, integers without).
function H.spans(tracer)
    H.raw = tracer:memory_spans(true)
    return cjson.decode(H.raw)
end

local function json_number_type(key)
    local pat = '"' .. key:gsub("%p", "%%%0") .. '":(%-?[%d%.eE+%-]+)'
    local lit = H.raw and H.raw:match(pat)
    if not lit then return nil end
    return lit:find("[%.eE]") and "double" or "int64"
end

function H.one_span(tracer)
    local spans = H.spans(tracer)
    assert(#spans == 1, "expected exactly one span, got " .. #spans)
    return spans[1]
end

-- Typed field lookup in a tags/fields collection: returns value, type name.
-- Accepts the array form [{key=, type=, value=}] and a plain map.
function H.field(list, key)
    if list == nil then return nil end
    if list[1] ~= nil or next(list) == nil then
        for _, f in ipairs(list) do
            if f.key == key then
                return f.value, f.type
            end
        end
        return nil
    end
    local v = list[key]
    if type(v) == "table" then return v.value, v.type end
    return v
end

-- Tag value and, for numbers, "int64" or "double" (from the raw JSON).
function H.tag(span, key)
    local v, ty = H.field(span.tags, key)
    if ty == nil and type(v) == "number" then ty = json_number_type(key) end
    return v, ty
end

return H
