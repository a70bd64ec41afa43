"""The shared environment vectors (tests/env_vectors.tsv) through the Python
face, under both profiles: for each case only the case's OTEL_* / JAEGER_*
variables are set, a tracer is made — jaeger_client profile:
tracewire.Config({}).new_tracer(); native: tracewire.Tracer({}) — and every
listed key must read as the case expects under that profile, or, when the
case does not name it, as on a tracer of that profile made with no variable.
A malformed variable must be named in a RuntimeWarning, and nothing else
warned about. tests/lua/test_env_vectors.py runs the same file through the
Lua face (new_tracer{} and new_tracer{profile = "jaeger_client"}).

The variables jaeger_client 4.8 reads itself (JAEGER_AGENT_HOST,
JAEGER_AGENT_PORT, JAEGER_TAGS, JAEGER_TRACEID_128BIT) are also checked
against the installed jaeger_client.Config (given the case's options as its
config dict), case by case."""
import os
import sys
import warnings

import pytest

import tracewire

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from env_vectors import PROFILES, load, nested  # noqa: E402

KEYS, CASES = load()


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("JAEGER_", "OTEL_")):
            monkeypatch.delenv(k)


def make(profile="jaeger_client", options=None):
    options = options or {}
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        if profile == "jaeger_client":
            t = tracewire.Config(nested(options), service_name="env-vectors").new_tracer()
        else:
            t = tracewire.Tracer(dict(options, service_name="env-vectors"))
    assert t.config("profile") == profile
    return t, [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]


def test_the_vector_file_is_complete():
    assert KEYS and len(CASES) >= 30


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_environment_vector(case, profile, monkeypatch):
    base, _ = make(profile)
    want = {k: case["expect_by_profile"][profile].get(k, base.config(k)) for k in KEYS}
    for var, val in case["env"].items():
        monkeypatch.setenv(var, val)
    t, warned = make(profile, case["options"])
    got = {k: t.config(k) for k in KEYS}
    assert got == want
    if case["warn"]:
        assert len(warned) == 1 and case["warn"] in warned[0], warned
    else:
        assert warned == []


# what jaeger_client 4.8's Config reads from the environment, and the core key
# that holds the same value under the jaeger_client profile
JC_READS = {"JAEGER_AGENT_HOST", "JAEGER_AGENT_PORT", "JAEGER_TAGS", "JAEGER_TRACEID_128BIT"}
JC_CASES = [c for c in CASES if c["env"] and set(c["env"]) <= JC_READS and
            all(k.startswith("tags.") for k in c["options"])]


def test_jaeger_client_variables_have_cases():
    assert {v for c in JC_CASES for v in c["env"]} == JC_READS


@pytest.mark.parametrize("case", JC_CASES, ids=[c["name"] for c in JC_CASES])
def test_jaeger_client_reads_the_same(case, monkeypatch):
    import jaeger_client
    for var, val in case["env"].items():
        monkeypatch.setenv(var, val)
    t, _ = make("jaeger_client", case["options"])
    jc = jaeger_client.Config(nested(case["options"]), service_name="env-vectors")
    assert t.config("trace_id_128bit") == str(jc.generate_128bit_trace_id).lower()
    assert int(t.config("reporter.agent_port")) == jc.local_agent_reporting_port
    tags = dict(kv.split("=", 1) for kv in t.config("tags").split(",") if kv)
    assert tags == jc.tags
    # Config.tags reads as jaeger_client's (its config dict updated by JAEGER_TAGS)
    assert tracewire.Config(nested(case["options"]), service_name="env-vectors").tags == jc.tags
    host = jc.local_agent_reporting_host
    # jaeger_client's default "localhost" is tracewire's 127.0.0.1 (documented
    # in python/README.md); a host from the environment is taken as written
    want = "127.0.0.1" if host == "localhost" and "JAEGER_AGENT_HOST" not in case["env"] else host
    assert t.config("reporter.agent_host") == want
    # jaeger_client polls sampling on the reporting host (LocalAgentSender)
    assert t.config("sampler.url") == "http://%s:%d/sampling" % (want, jc.local_agent_sampling_port)
