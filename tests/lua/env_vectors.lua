-- env_vectors.lua PROFILE KEY... : makes a tracer from the environment alone
-- (the caller sets the variables) under PROFILE (native | jaeger_client) and
-- prints "key<TAB>value" for "profile" and each KEY; the face's warnings go to
-- stderr. Driven by tests/lua/test_env_vectors.py.
local tracewire = require "tracewire"
local profile = arg[1]
local t = tracewire.new_tracer { service_name = "env-vectors",
                                 profile = profile ~= "native" and profile or nil }
io.write("profile\t", tostring(t:config("profile")), "\n")
for i = 2, #arg do
    io.write(arg[i], "\t", tostring(t:config(arg[i])), "\n")
end
t:close()
