"""One version everywhere: the VERSION file, and every place a user or a peer
reads a version from, asked of the built and installed artefacts themselves."""
import email
import json
import re
import socket
import subprocess
import time
import zipfile

import pytest

from conftest import TOP, VERSION, supported, wheels
from test_wheel import decode_batch

MAJOR, MINOR, PATCH = (int(x) for x in VERSION.split("."))


def lua54(out, code):
    tree = out / "rocktree"
    env = {"LUA_PATH": "%s/share/lua/5.4/?.lua;/usr/share/lua/5.4/?.lua" % tree,
           "LUA_CPATH": "%s/lib/lua/5.4/?.so" % tree, "PATH": "/usr/bin:/bin"}
    r = subprocess.run(["lua5.4", "-e", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def redis_module_list(out):
    """MODULE LIST of a real redis-server that loaded the module CMake built."""
    import redis
    module = out / "cmake" / "redis-module" / "tracewire.so"
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--loadmodule", str(module),
                             "reporter.protocols=none"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        c = redis.Redis(port=port)
        for _ in range(100):
            try:
                return c.execute_command("MODULE", "LIST")
            except redis.ConnectionError:
                if proc.poll() is not None:
                    pytest.fail(proc.stdout.read().decode())
                time.sleep(0.05)
        pytest.fail("redis-server did not answer")
    finally:
        proc.terminate()
        proc.wait(10)


def faces(out):
    """{place: version as that place states it}."""
    got = {}
    cache = (out / "cmake" / "CMakeCache.txt").read_text()
    got["cmake project()"] = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(.*)$", cache, re.M).group(1)
    got["tracewire.pc (pkg-config --modversion)"] = (out / "pc-version.txt").read_text().strip()
    tw_version, tw_num = (out / "c-user.txt").read_text().split()
    got["TW_VERSION (C program built against the install)"] = tw_version
    got["TW_VERSION_NUM"] = "%d.%d.%d" % (int(tw_num) // 10000, int(tw_num) // 100 % 100, int(tw_num) % 100)
    for w in wheels():
        tag = re.search(r"-(cp3\d+)-", w.name).group(1)
        got["wheel %s file name" % tag] = w.name.split("-")[1]
        meta = email.message_from_bytes(zipfile.ZipFile(w).read("tracewire-%s.dist-info/METADATA" % w.name.split("-")[1]))
        got["wheel %s METADATA" % tag] = meta["Version"]
    for v in supported():
        r = json.loads((out / ("clean-%s.json" % v)).read_text())
        got["tracewire.__version__ (%s, installed wheel)" % v] = r["version"]
        got["importlib.metadata (%s)" % v] = r["dist_version"]
        batch = decode_batch((out / ("clean-%s.body" % v)).read_bytes())
        jv = {t.key: t.vStr for t in batch.process.tags}["jaeger.version"]
        got["jaeger.version process tag (%s, decoded Thrift)" % v] = jv[len("tracewire-C-"):] \
            if jv.startswith("tracewire-C-") else jv
    sdist = next((out / "sdist").glob("tracewire-*.tar.gz"))
    got["sdist file name"] = sdist.name[len("tracewire-"):-len(".tar.gz")]
    rocks = sorted(p.name for p in TOP.glob("tracewire-*.rockspec"))
    got["rockspec file name"] = rocks[0][len("tracewire-"):-len("-1.rockspec")] if len(rocks) == 1 else repr(rocks)
    spec = (TOP / rocks[0]).read_text()
    got["rockspec version ="] = re.search(r'^version = "(.*)-1"$', spec, re.M).group(1)
    got["rockspec source tag"] = re.search(r'tag = "v(.*)"', spec).group(1)
    installed = sorted(p.name for p in (out / "rocktree" / "lib" / "luarocks" / "rocks-5.4" / "tracewire").iterdir()
                       if p.is_dir())
    got["luarocks installed rock"] = installed[0][:-2] if len(installed) == 1 else repr(installed)
    lv, lver, nv = lua54(out, 'local t = require "tracewire"; print(t._VERSION, t.version, require("tracewire.nginx")._VERSION)')
    got["Lua tracewire._VERSION (installed rock)"] = lv
    got["Lua tracewire.version"] = lver
    got["Lua tracewire.nginx._VERSION"] = nv
    for m in redis_module_list(out):
        d = dict(zip(m[::2], m[1::2]))
        if d[b"name"] == b"tracewire":
            n = int(d[b"ver"])
            got["Redis MODULE LIST ver %d" % n] = "%d.%d.%d" % (n // 10000, n // 100 % 100, n % 100)
    return got


def test_every_face_states_the_version_file(out):
    got = faces(out)
    # every place was found (a face that vanished would otherwise pass unnoticed)
    assert len([k for k in got if k.startswith("Redis MODULE LIST")]) == 1
    assert len([k for k in got if k.startswith("jaeger.version")]) == len(supported())
    assert len([k for k in got if k.startswith("wheel ")]) == 2 * len(supported())
    wrong = {k: v for k, v in got.items() if v != VERSION}
    assert not wrong, "VERSION is %s; these say otherwise: %s" % (VERSION, wrong)


def test_derived_files_are_what_set_version_writes():
    r = subprocess.run(["bash", str(TOP / "scripts" / "set-version"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_header_parts_match():
    h = (TOP / "core" / "include" / "tracewire.h").read_text()
    assert '\n#define TW_VERSION "%s"\n' % VERSION in h
    for part, val in (("MAJOR", MAJOR), ("MINOR", MINOR), ("PATCH", PATCH)):
        assert "\n#define TW_VERSION_%s %d\n" % (part, val) in h
