"""Remote sampling: with sampler.type=remote the reporter thread GETs
sampler.url?service=NAME and hands the strategy to the sampler; a bad body
changes nothing."""
from conftest import assert_balanced, of_type, run_driver


def _run(sink):
    return run_driver("rate", 3000, 10000, "reporter.protocols=http", "service_name=svc a/b",
                      "sampler.type=remote", "sampler.param=1", "sampler.refresh_ms=100",
                      "sampler.url=http://127.0.0.1:%d/sampling" % sink.port,
                      "reporter.endpoint=http://127.0.0.1:%d/api/traces" % sink.port)


def test_strategy_is_polled_with_the_service_name_and_applied(http_sink):
    http_sink.server.strategy = '{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":1.0}}'
    lines = _run(http_sink)
    (c,) = of_type(lines, "counters")
    assert http_sink.server.gets, "no sampling request was made"
    assert http_sink.server.gets[0] == "/sampling?service=svc%20a%2Fb"
    assert c["sampler_updates"] >= 1
    assert_balanced(c)


def test_bad_strategy_body_changes_nothing(http_sink):
    http_sink.server.strategy = '{"strategyType": not json'
    lines = _run(http_sink)
    (c,) = of_type(lines, "counters")
    assert http_sink.server.gets
    assert c["sampler_updates"] == 0
    assert c["reported"] == 3000
