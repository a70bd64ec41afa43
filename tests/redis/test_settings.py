"""tracewire.* settings at run time: each mutable one changes behaviour on
the very next command after CONFIG SET, CONFIG GET and INFO tracewire show
it; the fixed ones refuse and say why; a refused value changes nothing.
Spans are decoded from what the module sends (UDP datagrams, HTTP posts)."""
import time

import pytest
import redis

from conftest import (module_args, rq, UdpCollector, HttpSink, thrift_http_spans, tags,
                      trace_hex)

TP = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def srv(make_server, collector):
    s = make_server("settings").start(module_args(collector))
    collector.clear()
    return s


def sends(collector, key, timeout=2.0, want=1):
    spans = collector.wait_for(lambda s: len([x for x in s if x.operationName == "send " + key]) >= want,
                               timeout)
    return [x for x in spans if x.operationName == "send " + key]


def cfg(c, name):
    return c.config_get("tracewire." + name)["tracewire." + name]


def test_config_get_and_info_show_every_setting(srv, collector):
    c = srv.client()
    got = c.config_get("tracewire.*")
    assert got == {
        "tracewire.service-name": "redis-test",
        "tracewire.sampler-type": "const",
        "tracewire.sampler-param": "1",
        "tracewire.reporter-protocols": "udp",
        "tracewire.reporter-agent-host": "127.0.0.1",
        "tracewire.reporter-agent-port": str(collector.port),
        "tracewire.reporter-endpoint": got["tracewire.reporter-endpoint"],
        "tracewire.reporter-otlp-endpoint": got["tracewire.reporter-otlp-endpoint"],
        "tracewire.tags": "",
        "tracewire.sampler-url": "http://127.0.0.1:5778/sampling",
        "tracewire.sampler-refresh-ms": "60000",
        "tracewire.reporter-otlp-protocol": "http/protobuf",
        "tracewire.reporter-otlp-compression": "none",
        "tracewire.reporter-timeout-ms": got["tracewire.reporter-timeout-ms"],
        "tracewire.trace-id-128bit": "true",
        "tracewire.debug-id-header": "jaeger-debug-id",
        "tracewire.propagation-inject": "w3c",
        "tracewire.spans": "on",
        "tracewire.max-item-size": "33554432",
    }
    assert got["tracewire.reporter-endpoint"].startswith("http://")
    info = c.info("tracewire")
    assert info["tracewire_sampler_type"] == "const"
    assert info["tracewire_spans"] == "on"
    assert info["tracewire_max_item_size"] == 33554432
    assert info["tracewire_tracer_replacements"] == 0


def test_sampler_changes_on_the_next_command(srv, collector):
    c = srv.client()
    c.config_set("tracewire.sampler-param", "0")
    rq.push(c, "a", b"x", carrier="")                      # a root: the sampler decides
    c.config_set("tracewire.sampler-param", "1")
    rq.push(c, "b", b"x", carrier="")
    assert len(sends(collector, "b")) == 1
    assert sends(collector, "a", 0.3) == []
    c.config_set("tracewire.sampler-type", "probabilistic")
    c.config_set("tracewire.sampler-param", "0")
    for i in range(50):
        rq.push(c, "p", b"x", carrier="")
    c.config_set("tracewire.sampler-param", "1.0")
    rq.push(c, "q", b"x", carrier="")
    assert len(sends(collector, "q")) == 1
    assert sends(collector, "p", 0.3) == []
    assert cfg(c, "sampler-type") == "probabilistic"
    i = c.info("tracewire")
    assert i["tracewire_sampler_type"] == "probabilistic" and i["tracewire_sampler_param"] == 1
    assert i["tracewire_tracer_replacements"] == 5
    assert i["tracewire_spans_started"] == 53                # totals across the five tracers
    assert i["tracewire_spans_sampled"] == 2


def test_refused_values_change_nothing(srv):
    c = srv.client()
    for name, bad in [("sampler-type", "bogus"), ("sampler-param", "abc"),
                      ("reporter-protocols", "carrier-pigeon"), ("reporter-agent-port", "70000"),
                      ("spans", "maybe"), ("max-item-size", "0"), ("max-item-size", "-5"),
                      ("sampler-url", "ftp://x/"), ("sampler-refresh-ms", "0"),
                      ("reporter-otlp-protocol", "grpc"), ("reporter-otlp-compression", "zip"),
                      ("reporter-timeout-ms", "-1"), ("trace-id-128bit", "maybe"),
                      ("debug-id-header", "bad header")]:
        before = cfg(c, name)
        with pytest.raises(redis.ResponseError, match="tracewire.%s" % name):
            c.config_set("tracewire." + name, bad)
        assert cfg(c, name) == before, name
    assert c.info("tracewire")["tracewire_tracer_replacements"] == 0
    # several at once: one bad value refuses them all
    with pytest.raises(redis.ResponseError):
        c.execute_command("CONFIG", "SET", "tracewire.sampler-param", "0.5",
                          "tracewire.sampler-type", "bogus")
    assert cfg(c, "sampler-param") == "1"


@pytest.mark.parametrize("name,value", [("service-name", "other"), ("propagation-inject", "jaeger")])
def test_fixed_settings_refuse_with_the_reason(srv, name, value):
    c = srv.client()
    before = cfg(c, name)
    with pytest.raises(redis.ResponseError, match="tracewire.%s cannot change at run time: " % name):
        c.config_set("tracewire." + name, value)
    assert cfg(c, name) == before


def test_spans_off_and_on(srv, collector):
    c = srv.client()
    c.config_set("tracewire.spans", "off")
    rq.push(c, "off", b"x", carrier=TP)
    it = rq.pop(c, "off")
    assert it.carrier == TP                              # propagated verbatim, no span
    c.config_set("tracewire.spans", "on")
    rq.push(c, "on", b"x", carrier=TP)
    assert rq.pop(c, "on").carrier != TP
    assert len(sends(collector, "on")) == 1
    assert sends(collector, "off", 0.3) == []
    assert c.info("tracewire")["tracewire_tracer_replacements"] == 0   # no tracer rebuild


def test_max_item_size(srv):
    c = srv.client()
    c.config_set("tracewire.max-item-size", "10")
    with pytest.raises(redis.ResponseError, match="larger than tq.max_item_size"):
        rq.push(c, "m", b"x" * 11, carrier=TP)
    c.config_set("tracewire.max-item-size", "11")
    assert rq.push(c, "m", b"x" * 11, carrier=TP) == 1


def test_agent_port_and_protocols_switch_on_the_next_command(srv, collector):
    c = srv.client()
    other = UdpCollector()
    try:
        c.config_set("tracewire.reporter-agent-port", str(other.port))
        rq.push(c, "there", b"x", carrier=TP)
        assert len(sends(other, "there")) == 1
        c.config_set("tracewire.reporter-protocols", "none")
        rq.push(c, "nowhere", b"x", carrier=TP)
        c.config_set("tracewire.reporter-protocols", "udp")
        c.config_set("tracewire.reporter-agent-port", str(collector.port))
        rq.push(c, "back", b"x", carrier=TP)
        assert len(sends(collector, "back")) == 1
        assert sends(collector, "there", 0.2) == [] and sends(other, "back", 0.2) == []
        assert sends(other, "nowhere", 0.2) == [] and sends(collector, "nowhere", 0.2) == []
    finally:
        other.close()


def test_agent_host_switches_on_the_next_command(srv, collector):
    c = srv.client()
    c.config_set("tracewire.reporter-agent-host", "127.0.0.2")   # nothing listens there
    rq.push(c, "elsewhere", b"x", carrier=TP)
    c.config_set("tracewire.reporter-agent-host", "127.0.0.1")   # our collector
    rq.push(c, "home", b"x", carrier=TP)
    assert len(sends(collector, "home")) == 1
    assert sends(collector, "elsewhere", 0.3) == []
    assert cfg(c, "reporter-agent-host") == "127.0.0.1"


def test_http_and_otlp_endpoints(srv):
    c = srv.client()
    sink = HttpSink()
    try:
        c.execute_command("CONFIG", "SET",
                          "tracewire.reporter-endpoint", "http://127.0.0.1:%d/api/traces" % sink.port,
                          "tracewire.reporter-otlp-endpoint", "http://127.0.0.1:%d/v1/traces" % sink.port,
                          "tracewire.reporter-protocols", "http,otlp")
        assert c.info("tracewire")["tracewire_tracer_replacements"] == 1   # one apply for all three
        rq.push(c, "viahttp", b"x", carrier=TP)
        posts = sink.wait_for(lambda p: {x[0] for x in p} >= {"/api/traces", "/v1/traces"})
        thrift = [b for path, _, b in posts if path == "/api/traces"]
        names = [s.operationName for b in thrift for s in thrift_http_spans(b).spans]
        assert "send viahttp" in names
        otlp = [(ct, b) for path, ct, b in posts if path == "/v1/traces"]
        assert otlp and all(b for _, b in otlp)
    finally:
        sink.close()


def test_tags_reach_the_process_of_the_next_batch(srv, collector):
    c = srv.client()
    c.config_set("tracewire.tags", "zone=eu-1,tier=gold")
    rq.push(c, "tagged", b"x", carrier=TP)
    sends(collector, "tagged")
    procs = collector.wait_for(lambda s: True, 0.1) and list(collector.processes)
    assert any(t.get("zone") == "eu-1" and t.get("tier") == "gold" for _, t in procs), procs
    assert cfg(c, "tags") == "zone=eu-1,tier=gold"
    c.config_set("tracewire.tags", "")
    assert cfg(c, "tags") == ""
    collector.clear()
    rq.push(c, "untagged", b"x", carrier=TP)
    sends(collector, "untagged")
    assert not any("zone" in t for _, t in collector.processes)


def test_load_time_configs_are_not_refused(make_server, collector):
    s = make_server("conf").start(module_args(collector),
                                  extra=["--tracewire.service-name", "from-conf",
                                         "--tracewire.propagation-inject", "w3c",
                                         "--tracewire.sampler-param", "0.5",
                                         "--tracewire.spans", "off"])
    c = s.client()
    assert cfg(c, "service-name") == "redis-test"         # MODULE LOAD args win
    assert cfg(c, "sampler-param") == "0.5" and cfg(c, "spans") == "off"


def test_trace_id_width_changes_on_the_next_command(srv, collector):
    c = srv.client()
    rq.push(c, "wide", b"x", carrier="")                     # a root: the tracer's own ids
    c.config_set("tracewire.trace-id-128bit", "false")
    rq.push(c, "narrow", b"x", carrier="")
    (wide,), (narrow,) = sends(collector, "wide"), sends(collector, "narrow")
    assert wide.traceIdHigh != 0 and narrow.traceIdHigh == 0
    assert cfg(c, "trace-id-128bit") == "false"
    assert c.info("tracewire")["tracewire_trace_id_128bit"] == "false"


def test_debug_id_header_changes_on_the_next_command(srv, collector):
    c = srv.client()
    c.execute_command("CONFIG", "SET", "tracewire.sampler-param", "0",
                      "tracewire.debug-id-header", "X-Dbg")
    c.execute_command("TQ.PUSH", "dbg", b"x-dbg: corr-1\n", b"x")
    c.execute_command("TQ.PUSH", "old", b"jaeger-debug-id: corr-2\n", b"x")   # not the header now
    (send,) = sends(collector, "dbg")
    assert send.flags == 3                                   # sampled + debug under const 0
    assert tags(send).get("X-Dbg") == "corr-1"
    assert sends(collector, "old", 0.3) == []
    assert cfg(c, "debug-id-header") == "X-Dbg"


def test_otlp_and_sampler_settings_reach_the_tracer(srv):
    c = srv.client()
    c.execute_command("CONFIG", "SET", "tracewire.reporter-otlp-protocol", "http/json",
                      "tracewire.reporter-otlp-compression", "gzip",
                      "tracewire.reporter-timeout-ms", "1500",
                      "tracewire.sampler-url", "http://agent:5778/sampling",
                      "tracewire.sampler-refresh-ms", "2000")
    assert c.info("tracewire")["tracewire_tracer_replacements"] == 1
    assert {n: cfg(c, n) for n in ("reporter-otlp-protocol", "reporter-otlp-compression",
                                   "reporter-timeout-ms", "sampler-url", "sampler-refresh-ms")} == {
        "reporter-otlp-protocol": "http/json", "reporter-otlp-compression": "gzip",
        "reporter-timeout-ms": "1500", "sampler-url": "http://agent:5778/sampling",
        "sampler-refresh-ms": "2000"}
