"""tracewire.redisq (Lua) decodes exactly what the module stores, and refuses
what the module refuses, under Lua 5.4 and LuaJIT, through the Lua binding
(the core's envelope codec, built by tests/redis/run.sh)."""
import os
import shutil
import subprocess

import pytest

from conftest import rq, TOP
from test_bad_input import CORRUPT, TP

HERE = os.path.dirname(os.path.abspath(__file__))


LUA_BUILD = os.path.join(os.environ.get("TW_BUILD_DIR", os.path.join(TOP, "build/redis-tests")), "lua")


@pytest.mark.parametrize("lua,abi", [("lua5.4", "5.4"), ("luajit", "5.1")])
def test_lua_unwrap_matches_the_module(r, tmp_path, lua, abi):
    if not shutil.which(lua):
        pytest.skip(lua + " not installed")
    so = os.path.join(LUA_BUILD, abi, "tracewire.so")
    if not os.path.exists(so):
        pytest.skip("Lua binding not built: " + so)
    rq.push(r, "q", b"traced \x00\xff payload", carrier=TP)
    r.lpush("q", b"plain")
    files = []
    for i, raw in enumerate(r.lrange("q", 0, -1)):
        files.append(tmp_path / ("v%d" % i))
        files[-1].write_bytes(raw)
    for name in sorted(CORRUPT):
        files.append(tmp_path / name.replace(" ", "_"))
        files[-1].write_bytes(CORRUPT[name])
    env = dict(os.environ, LUA_PATH="%s/lua/?.lua;;" % TOP, LUA_CPATH="%s/?.so;;" % os.path.dirname(so))
    out = subprocess.run([lua, os.path.join(HERE, "unwrap.lua")] + [str(f) for f in files],
                         env=env, capture_output=True, text=True, timeout=30, check=True).stdout.splitlines()
    assert out[0] == "ok %s  -1 false" % b"plain".hex()
    py = rq.unwrap(r.lindex("q", 1))
    assert out[1] == "ok %s %s %d true" % (py.payload.hex(), py.carrier.encode().hex(), py.enqueue_us)
    for line, name in zip(out[2:], sorted(CORRUPT)):
        assert line.startswith("err "), (name, line)
