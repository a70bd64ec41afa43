"""`sampler: {type: const}` side by side with jaeger_client 4.8 (issue #20).

jaeger_client's Config.sampler makes ConstSampler(decision=get_boolean(param,
False)): a missing param, and any text other than "true"/"1" (lower-cased),
samples nothing. tracewire.Config (the jaeger_client profile of the core's key
table) must decide the same, on real spans: each config is given to both
libraries, each makes spans with its own sampler, and the sampled flag of
every span and what reaches the memory reporter are compared.
"""
import pytest

import jaeger_client
from jaeger_client.reporter import InMemoryReporter

import tracewire

PARAMS = [
    ("absent", None),
    ("int 1", 1), ("int 0", 0), ("int 2", 2),
    ("True", True), ("False", False),
    ("'true'", "true"), ("'True'", "True"), ("'1'", "1"), ("'0'", "0"),
    ("'yes'", "yes"), ("'on'", "on"), ("'none'", "none"), ("'0.5'", "0.5"),
]


def sampler_config(param):
    s = {"type": "const"}
    if param is not None:
        s["param"] = param
    return {"sampler": s}


def jaeger_client_tracer(config):
    jc = jaeger_client.Config(config, service_name="const")
    reporter = InMemoryReporter()
    return jc.create_tracer(reporter=reporter, sampler=jc.sampler), reporter


@pytest.mark.parametrize("param", [p for _, p in PARAMS], ids=[n for n, _ in PARAMS])
def test_const_sampler_decides_as_jaeger_client(param):
    config = sampler_config(param)
    jt, jrep = jaeger_client_tracer(dict(config))
    tt = tracewire.Config(dict(config, protocol="memory"), service_name="const").new_tracer()
    try:
        assert str(tt.sampler) == str(jt.sampler)
        decision = jt.sampler.decision
        for tracer in (jt, tt):
            for i in range(5):
                span = tracer.start_span("op%d" % i)
                assert span.is_sampled() == decision
                span.finish()
        assert tt.flush(5)
        assert len(tt.memory_spans()) == len(jrep.get_spans()) == (5 if decision else 0)
        assert tt.metrics()["spans_sampled"] == (5 if decision else 0)
    finally:
        tt.close(1)


def test_absent_param_samples_none_where_it_used_to_sample_all():
    """The case the issue names: no param. The native face keeps const = 1."""
    t = tracewire.Config({"sampler": {"type": "const"}, "protocol": "memory"},
                         service_name="const").new_tracer()
    assert t.config("sampler.param") == "0" and not t.sampler.decision
    assert not t.start_span("x").is_sampled()
    native = tracewire.Tracer({"reporter.protocols": "memory", "sampler.type": "const"})
    assert native.config("sampler.param") == "1" and native.start_span("x").is_sampled()
    t.close(1)
    native.close(1)


def test_float_one_is_the_documented_difference():
    """jaeger_client reads param 1.0 as the text "1.0" (not "true"/"1"): it
    samples nothing. tracewire's faces turn an integral float into "1" (so
    Python and Lua hand the core the same text) and sample: documented in
    python/README.md, asserted here so it cannot change unnoticed."""
    jt, _ = jaeger_client_tracer(sampler_config(1.0))
    t = tracewire.Config(dict(sampler_config(1.0), protocol="memory"),
                         service_name="const").new_tracer()
    assert jt.sampler.decision is False
    assert t.sampler.decision is True and t.start_span("x").is_sampled()
    t.close(1)


def test_const_param_from_the_sampler_key_wins_over_nothing_else():
    """A param given beside the type is applied after it (the key table's
    order), whatever the dict order."""
    t = tracewire.Config({"sampler": {"param": 1, "type": "const"}, "protocol": "memory"},
                         service_name="const").new_tracer()
    assert t.config("sampler.param") == "1" and t.start_span("x").is_sampled()
    t.close(1)
