"""The shared environment vectors (tests/env_vectors.tsv) through the Redis
face: a redis-server whose environment holds only the case's OTEL_* /
JAEGER_* variables loads the module with no arguments; the keys the module
exposes as tracewire.* settings (CONFIG GET) must read as the case expects,
or as with no variable; a malformed variable is named once in the server's log
("ignoring malformed environment variable"). The Python and Lua faces check
every key of the file (tests/python, tests/lua test_env_vectors.py); the
other keys have no CONFIG name in the Redis face."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from env_vectors import load  # noqa: E402

KEYS, CASES = load()
SETTINGS = {"reporter.protocols": "reporter-protocols",
            "reporter.otlp_endpoint": "reporter-otlp-endpoint",
            "reporter.endpoint": "reporter-endpoint",
            "sampler.type": "sampler-type", "sampler.param": "sampler-param"}


def read(make_server, name, env_vars):
    s = make_server(name).start([], env_vars=env_vars)
    c = s.client()
    got = {k: c.config_get("tracewire." + v)["tracewire." + v] for k, v in SETTINGS.items()}
    warned = [l for l in s.log.read_text().splitlines() if "environment variable" in l]
    s.stop()
    return got, warned


def test_every_setting_is_a_key_of_the_file():
    assert set(SETTINGS) <= set(KEYS)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_environment_vector(make_server, case):
    base, _ = read(make_server, "base", {})
    got, warned = read(make_server, "case", case["env"])
    want = {k: case["expect"].get(k, base[k]) for k in SETTINGS}
    assert got == want
    if case["warn"]:
        assert len(warned) == 1 and case["warn"] in warned[0], warned
    else:
        assert warned == []
