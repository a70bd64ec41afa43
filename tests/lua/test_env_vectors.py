"""The shared environment vectors (tests/env_vectors.tsv) through the Lua face,
under lua5.4 and LuaJIT and both profiles: env_vectors.lua makes a tracer
(new_tracer{} or new_tracer{profile = "jaeger_client"}) in a process whose
environment holds only the case's OTEL_* / JAEGER_* variables (and given the
case's options) and prints every
listed key; a malformed variable must be named on stderr (the Lua face's
warning), and nothing else warned about. tests/python/test_env_vectors.py runs
the same file through the Python face."""
import os
import subprocess
import sys

import pytest

from conftest import RUNTIMES, TOP, lua_env

sys.path.insert(0, os.path.join(TOP, "tests"))
from env_vectors import PROFILES, load  # noqa: E402

KEYS, CASES = load()


def run(runtime, env_vars, profile, options=None):
    cmd, abi_dir = RUNTIMES[runtime]
    env = lua_env(abi_dir)
    env.update(env_vars)
    opts = ["%s=%s" % kv for kv in (options or {}).items()]
    p = subprocess.run(cmd + [os.path.join(TOP, "tests", "lua", "env_vectors.lua"), profile, *opts, *KEYS],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    got = dict(line.split("\t", 1) for line in p.stdout.splitlines())
    warned = [l for l in p.stderr.splitlines() if "environment variable" in l]
    return got, warned


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_environment_vector(runtime, case, profile):
    base, _ = run(runtime, {}, profile)
    assert base["profile"] == profile
    want = {k: case["expect_by_profile"][profile].get(k, base[k]) for k in KEYS}
    got, warned = run(runtime, case["env"], profile, case["options"])
    assert got.pop("profile") == profile
    assert got == want
    if case["warn"]:
        assert len(warned) == 1 and case["warn"] in warned[0], warned
    else:
        assert warned == []
