-- Decodes each file named on the command line with tracewire.redisq.unwrap and
-- prints one line per file: "ok <payload hex> <carrier hex> <enqueue_us>" or
-- "err <message>". Needs the Lua binding (the core's envelope codec), no socket.
local redisq = require "tracewire.redisq"
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
for i = 1, #arg do
    local f = assert(io.open(arg[i], "rb"))
    local raw = f:read("*a")
    f:close()
    local it, err = redisq.unwrap(raw, { now_us = 1800000000000000 })
    if it then
        print(string.format("ok %s %s %.0f %s", hex(it.payload), hex(it.carrier), it.enqueue_us,
                            tostring(it.traced)))
    else
        print("err " .. err)
    end
end
