-- env_vectors.lua PROFILE [KEY=VALUE...] KEY... : makes a tracer from the
-- environment (the caller sets the variables) and the KEY=VALUE options (core
-- keys, e.g. tags.region=us) under PROFILE (native | jaeger_client) and
-- prints "key<TAB>value" for "profile" and each KEY; the face's warnings go to
-- stderr. Driven by tests/lua/test_env_vectors.py.
local tracewire = require "tracewire"
local profile = arg[1]
local opts = { service_name = "env-vectors", profile = profile ~= "native" and profile or nil }
local keys = {}
for i = 2, #arg do
    local k, v = arg[i]:match("^([^=]+)=(.*)$")
    if k then opts[k] = v else keys[#keys + 1] = arg[i] end
end
local t = tracewire.new_tracer(opts)
io.write("profile\t", tostring(t:config("profile")), "\n")
for _, k in ipairs(keys) do
    io.write(k, "\t", tostring(t:config(k)), "\n")
end
t:close()
