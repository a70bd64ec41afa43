"""The shared jaeger_client config vectors (tests/config_vectors.tsv) through
the Python face: tracewire.Config(config, validate=True). The Lua face runs the
same file (tests/lua/config_vectors_spec.lua); both compare every native key
of the core against the file's expectations and an empty config's values, so
the two faces give the same effective config for every jaeger_client key."""
import os

import pytest

import tracewire

VECTORS = os.path.join(os.path.dirname(__file__), "..", "config_vectors.tsv")


def load():
    keys, cases = [], []
    with open(VECTORS, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if cols[0] == "keys":
                keys = cols[1].split()
            elif cols[0] == "case":
                cases.append({"name": cols[1], "set": [], "expect": {}, "error": None})
            elif cols[0] == "set":
                cases[-1]["set"].append((cols[1], cols[2], cols[3]))
            elif cols[0] == "expect":
                cases[-1]["expect"][cols[1]] = cols[2] if len(cols) > 2 else ""
            elif cols[0] == "error":
                cases[-1]["error"] = cols[1]
            else:
                raise AssertionError("bad line in %s: %r" % (VECTORS, line))
    return keys, cases


KEYS, CASES = load()


def typed(kind, text):
    return {"str": lambda t: t, "int": int, "float": float,
            "bool": lambda t: {"true": True, "false": False}[t],
            "list": lambda t: t.split(","),
            "table": lambda t: {"{}": {}}[t]}[kind](text)


def build(sets):
    config = {}
    for path, kind, text in sets:
        parts = path.split("/")
        d = config
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = typed(kind, text)
    return config


def make(config):
    name = None if "service_name" in config else "vectors"
    return tracewire.Config(config, service_name=name, validate=True).new_tracer()


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("JAEGER_", "OTEL_")):
            monkeypatch.delenv(k)


def test_the_vector_file_is_complete():
    assert KEYS and len(CASES) > 20


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_jaeger_client_config_vector(case):
    config = build(case["set"])
    if case["error"]:
        with pytest.raises(ValueError) as e:
            make(config)
        assert case["error"] in str(e.value)
        return
    base = make({})
    t = make(config)
    got = {k: t.config(k) for k in KEYS}
    want = {k: case["expect"].get(k, base.config(k)) for k in KEYS}
    if "service_name" not in case["expect"]:
        want["service_name"] = "vectors"
    assert got == want


def test_options_must_be_a_dict():
    with pytest.raises(ValueError, match="options must be a dict"):
        tracewire.Config({"options": [("reporter.retries", 1)]}, service_name="x")


def test_unknown_keys_are_left_out_without_validate():
    t = tracewire.Config({"sampler": {"typo": 1}, "no_such": 2, "reporter_retries": 1},
                         service_name="x").new_tracer()
    assert t.config("reporter.retries") == "1"
    with pytest.raises(ValueError, match="sampler.typo, no_such"):
        tracewire.Config({"sampler": {"typo": 1}, "no_such": 2}, service_name="x", validate=True)
