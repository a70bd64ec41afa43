-- The shared jaeger_client config vectors (tests/config_vectors.tsv) through
-- the Lua face: tracewire.new_tracer{profile = "jaeger_client", ...}, strict.
-- tests/python/test_config_vectors.py runs the same file through
-- tracewire.Config; both compare every native key of the core against the
-- file's expectations and an empty config's values, so the two faces give the
-- same effective config for every jaeger_client key.
local tracewire = require "tracewire"

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local path = here .. "../config_vectors.tsv"

local function split(s, sep)
    local out = {}
    for part in (s .. sep):gmatch("(.-)" .. sep) do out[#out + 1] = part end
    return out
end

local function load()
    local keys, cases = {}, {}
    local f = assert(io.open(path, "r"))
    for line in f:lines() do
        if line ~= "" and line:sub(1, 1) ~= "#" then
            local cols = split(line, "\t")
            if cols[1] == "keys" then
                for k in cols[2]:gmatch("%S+") do keys[#keys + 1] = k end
            elseif cols[1] == "case" then
                cases[#cases + 1] = { name = cols[2], set = {}, expect = {} }
            elseif cols[1] == "set" then
                table.insert(cases[#cases].set, { cols[2], cols[3], cols[4] })
            elseif cols[1] == "expect" then
                cases[#cases].expect[cols[2]] = cols[3] or ""
            elseif cols[1] == "error" then
                cases[#cases].error = cols[2]
            else
                error("bad line in " .. path .. ": " .. line)
            end
        end
    end
    f:close()
    return keys, cases
end

local KEYS, CASES = load()

local function typed(kind, text)
    if kind == "str" then return text end
    if kind == "int" then return math.tointeger and math.tointeger(tonumber(text)) or tonumber(text) end
    if kind == "float" then return tonumber(text) + 0.0 end
    if kind == "bool" then assert(text == "true" or text == "false"); return text == "true" end
    if kind == "list" then return split(text, ",") end
    if kind == "table" then assert(text == "{}"); return {} end
    error("bad type " .. kind)
end

local function build(sets)
    local config = { profile = "jaeger_client" }
    for _, s in ipairs(sets) do
        local parts = split(s[1], "/")
        local d = config
        for i = 1, #parts - 1 do
            d[parts[i]] = d[parts[i]] or {}
            d = d[parts[i]]
        end
        d[parts[#parts]] = typed(s[2], s[3])
    end
    return config
end

local function make(config)
    if config.service_name then return tracewire.new_tracer(config) end
    return tracewire.new_tracer("vectors", config)
end

describe("jaeger_client config vectors (shared with the Python face)", function()
    it("reads the vector file", function()
        assert.is_true(#KEYS > 0 and #CASES > 20)
    end)

    for _, case in ipairs(CASES) do
        it(case.name, function()
            local config = build(case.set)
            if case.error then
                local ok, err = pcall(make, config)
                assert.is_false(ok)
                assert.is_truthy(tostring(err):find(case.error, 1, true), tostring(err))
                return
            end
            local base = make({ profile = "jaeger_client" })
            local t = make(config)
            local got, want = {}, {}
            for _, k in ipairs(KEYS) do
                got[k] = t:config(k)
                want[k] = case.expect[k] or base:config(k)
            end
            if not case.expect.service_name then want.service_name = "vectors" end
            assert.same(want, got)
        end)
    end
end)
