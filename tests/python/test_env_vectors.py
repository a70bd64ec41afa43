"""The shared environment vectors (tests/env_vectors.tsv) through the Python
face: for each case only the case's OTEL_* / JAEGER_* variables are set, a
tracer is made (tracewire.Config(...).new_tracer(), which reads the
environment first), and every listed key must read as the case expects —
or, when the case does not name it, as on a tracer made with no variable.
A malformed variable must be named in a RuntimeWarning, and nothing else
warned about. tests/lua/test_env_vectors.py runs the same file through the
Lua face."""
import os
import sys
import warnings

import pytest

import tracewire

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from env_vectors import load  # noqa: E402

KEYS, CASES = load()


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("JAEGER_", "OTEL_")):
            monkeypatch.delenv(k)


def make():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        t = tracewire.Config({}, service_name="env-vectors").new_tracer()
    return t, [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]


def test_the_vector_file_is_complete():
    assert KEYS and len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_environment_vector(case, monkeypatch):
    base, _ = make()
    want = {k: case["expect"].get(k, base.config(k)) for k in KEYS}
    for var, val in case["env"].items():
        monkeypatch.setenv(var, val)
    t, warned = make()
    got = {k: t.config(k) for k in KEYS}
    assert got == want
    if case["warn"]:
        assert len(warned) == 1 and case["warn"] in warned[0], warned
    else:
        assert warned == []
