-- env_vectors.lua KEY... : makes a tracer from the environment alone (the
-- caller sets the variables) and prints "key<TAB>value" for each KEY; the
-- face's warnings go to stderr. Driven by tests/lua/test_env_vectors.py.
local tracewire = require "tracewire"
local t = tracewire.new_tracer { service_name = "env-vectors" }
for _, k in ipairs(arg) do
    io.write(k, "\t", tostring(t:config(k)), "\n")
end
t:close()
