"""tracewire.Config against the installed jaeger_client 4.8, side by side (issue #20).

For the same config dicts, jaeger_client.Config and tracewire.Config are built
and their effective values compared: trace id width (on real ids), the carrier
keys inject writes per `propagation` value, sampler, ports, flush interval,
batch size, tags, header names, tag/traceback bounds. jaeger_client tracers
are made with its own create_tracer (an InMemoryReporter, no agent needed), so
the codecs, id generation and span records compared are jaeger_client's own.
If either side's defaults drift, these fail.
"""
import logging
import sys
import traceback
import warnings

import pytest
from opentracing import Format

import jaeger_client
from jaeger_client import sampler as jc_sampler
from jaeger_client.reporter import InMemoryReporter
from jaeger_client.sampler import ConstSampler

import tracewire
from tracewire import _fidelity

CASES = [
    {},
    {"propagation": "b3"},
    {"generate_128bit_trace_id": True},
    {"generate_128bit_trace_id": True, "propagation": "b3"},
    {"sampler": {"type": "const", "param": 1}},
    {"sampler": {"type": "const", "param": False}},
    {"sampler": {"type": "probabilistic", "param": 0.25}},
    {"sampler": {"type": "rate_limiting", "param": 3}},
    {"local_agent": {"reporting_port": 6000, "sampling_port": 5779}},
    {"tags": {"region": "eu", "shard": "3"}},
    {"reporter_flush_interval": 0.5, "reporter_batch_size": 20, "sampling_refresh_interval": 30},
    {"trace_id_header": "x-trace", "baggage_header_prefix": "x-bag-"},
    {"max_tag_value_length": 64, "max_traceback_length": 300},
]


def ids(c):
    return repr(c) if c else "{}"


def pair(config):
    """(jaeger_client Config, its tracer, tracewire Config, its tracer)."""
    jc = jaeger_client.Config(dict(config), service_name="fid")
    jt = jc.create_tracer(reporter=InMemoryReporter(), sampler=ConstSampler(True))
    tc = tracewire.Config(dict(config, protocol="memory"), service_name="fid")
    tt = tc.new_tracer()
    return jc, jt, tc, tt


def carrier_keys(tracer, fmt):
    # a child of a sampled parent: sampled on both sides whatever the sampler
    # (jaeger_client's is ConstSampler(True), a tracewire Config without a
    # sampler key samples 0.001), so the keys compared are a sampled span's
    parent = tracer.extract(Format.TEXT_MAP, {"uber-trace-id": "1:2:0:1"})
    span = tracer.start_span("op", child_of=parent)
    span.set_baggage_item("k", "v")
    carrier = {}
    tracer.inject(span.context, fmt, carrier)
    span.finish()
    return {k.lower() for k in carrier}


@pytest.mark.parametrize("config", CASES, ids=ids)
def test_effective_values_equal_jaeger_client(config):
    jc, jt, tc, tt = pair(config)
    o = tt.config
    try:
        # ids: width as configured, checked on real ids from both tracers
        wide = jc.generate_128bit_trace_id
        assert (o("trace_id_128bit") == "true") == wide
        jids = [jt.start_span("x").trace_id for _ in range(64)]
        tids = [tt.start_span("x").trace_id for _ in range(64)]
        assert all(i < 2 ** 64 for i in jids + tids) == (not wide)
        if wide:
            assert any(i >= 2 ** 64 for i in jids) and any(i >= 2 ** 64 for i in tids)
        # what inject writes over HTTP headers: exactly jaeger_client's keys
        assert carrier_keys(tt, Format.HTTP_HEADERS) == carrier_keys(jt, Format.HTTP_HEADERS)
        # TEXT_MAP too (with 'b3', jaeger_client's B3Codec serves HTTP_HEADERS only:
        # TEXT_MAP still gets uber-trace-id + uberctx-*)
        assert carrier_keys(tt, Format.TEXT_MAP) == carrier_keys(jt, Format.TEXT_MAP)
        # sampler: jaeger_client's own object when configured, else remote with
        # an initial probabilistic sampler at DEFAULT_SAMPLING_PROBABILITY
        if jc.sampler is None:
            assert "sampler" not in config
            assert tt.sampler.type == "remote"
            assert tt.sampler.param == jc_sampler.DEFAULT_SAMPLING_PROBABILITY == 0.001
        else:
            assert str(tt.sampler) == str(jc.sampler)
        # the agent: ports, polling the sampling port on the reporting host
        assert int(o("reporter.agent_port")) == jc.local_agent_reporting_port
        assert o("sampler.url") == "http://127.0.0.1:%d/sampling" % jc.local_agent_sampling_port
        assert jc.local_agent_reporting_host == "localhost" and o("reporter.agent_host") == "127.0.0.1"
        assert int(o("sampler.refresh_ms")) == int(jc.sampling_refresh_interval * 1000)
        # reporter
        assert int(o("reporter.flush_interval_ms")) == int(jc.reporter_flush_interval * 1000)
        assert int(o("reporter.batch_size")) == jc.reporter_batch_size
        # the queue bound is deliberately not jaeger_client's (config_keys.c, README)
        assert jc.reporter_queue_size == 100 and o("reporter.queue_size") == "10000"
        # tags, headers, bounds
        tags = dict(kv.split("=", 1) for kv in o("tags").split(",") if kv)
        assert tags == {k: str(v) for k, v in jc.tags.items()}
        assert o("trace_id_header") == jc.trace_id_header
        assert o("baggage_header_prefix") == jc.baggage_header_prefix
        assert int(o("max_tag_value_length")) == jc.max_tag_value_length
        assert int(o("max_traceback_length")) == jc.max_traceback_length
        assert o("propagation.extract") == "jaeger,w3c,b3,b3multi", "extract reads every format"
    finally:
        tt.close(1)     # (jaeger_client's close needs a tornado loop; its InMemoryReporter holds nothing)


def test_default_carrier_is_exactly_jaeger_clients():
    """No traceparent/baggage in a Config tracer's carrier (they used to end up
    inside every queued Redis message)."""
    jc, jt, tc, tt = pair({})
    assert carrier_keys(tt, Format.HTTP_HEADERS) == {"uber-trace-id", "uberctx-k"}
    assert carrier_keys(jt, Format.HTTP_HEADERS) == {"uber-trace-id", "uberctx-k"}
    b3 = pair({"propagation": "b3"})
    want = carrier_keys(b3[1], Format.HTTP_HEADERS)
    assert {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"} <= want and "uber-trace-id" not in want
    assert carrier_keys(b3[3], Format.HTTP_HEADERS) == want


def test_native_tracer_keeps_modern_defaults():
    t = tracewire.Tracer({"reporter.protocols": "memory"})
    assert t.config("trace_id_128bit") == "true"
    assert t.config("propagation.inject") == "jaeger,w3c"
    assert t.config("sampler.type") == "const" and t.config("sampler.param") == "1"


def test_service_name_in_config_wins_as_in_jaeger_client():
    jc = jaeger_client.Config({"service_name": "from-config"}, service_name="from-arg")
    tc = tracewire.Config({"service_name": "from-config", "protocol": "memory"},
                          service_name="from-arg")
    assert jc.service_name == tc.service_name == "from-config"
    assert tc.new_tracer().service_name == "from-config"


# ---------------------------------------------------------------- span attributes

def test_span_attributes_read_like_jaeger_client():
    jc, jt, tc, tt = pair({"sampler": {"type": "const", "param": 1}})
    pairs = []
    for tracer in (jt, tt):
        root = tracer.start_span("root", tags={"a": "x", "n": 3})
        child = tracer.start_span("child", child_of=root, start_time=1000.5)
        child.set_tag("flag", True)
        child.log_kv({"event": "e", "size": 7}, timestamp=1001.25)
        child.finish(finish_time=1002.0)
        root.finish()
        pairs.append((root, child))
    (jroot, jchild), (troot, tchild) = pairs
    for j, t in ((jroot, troot), (jchild, tchild)):
        assert t.operation_name == j.operation_name
        assert isinstance(t.trace_id, int) and isinstance(t.span_id, int)
    assert tchild.parent_id == troot.span_id and jchild.parent_id == jroot.span_id
    assert troot.parent_id is None and jroot.parent_id is None
    assert tchild.trace_id == troot.trace_id
    assert tchild.start_time == jchild.start_time == 1000.5
    assert tchild.end_time == jchild.end_time == 1002.0
    assert troot.end_time is not None and troot.end_time >= troot.start_time
    # tags: a dict here, thrift Tags there (documented); same keys and values
    jtags = {tg.key: (tg.vStr if tg.vStr is not None else tg.vLong if tg.vLong is not None
                      else tg.vBool) for tg in jchild.tags}
    assert tchild.tags == jtags == {"flag": True}
    jroot_tags = {tg.key: tg for tg in jroot.tags}
    assert set(troot.tags) == set(jroot_tags) == {"a", "n", "sampler.type", "sampler.param"}
    assert troot.tags["a"] == "x" and troot.tags["n"] == 3
    # logs: LogRecord(seconds, dict) here, thrift Log (microseconds) there
    (tl,), (jl,) = tchild.logs, jchild.logs
    assert tl.timestamp == jl.timestamp / 1e6 == 1001.25
    assert tl.fields == {f.key: (f.vStr if f.vStr is not None else f.vLong) for f in jl.fields}
    tt.close(1)


def test_span_records_need_the_memory_reporter():
    t = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "none"},
                         service_name="x").new_tracer()
    s = t.start_span("s")
    s.finish()
    with pytest.raises(AttributeError, match="memory"):
        s.tags
    assert s.operation_name == "s"


def test_unsampled_span_records_nothing_like_jaeger_client():
    t = tracewire.Config({"sampler": {"type": "const", "param": 0}, "protocol": "memory"},
                         service_name="x").new_tracer()
    s = t.start_span("s", tags={"a": 1})
    s.finish()
    assert s.tags == {} and s.logs == [] and s.end_time is None


# ---------------------------------------------------------------- max_traceback_length

# 200 distinct frames (format_tb folds repeated identical frames into one line)
_CHAIN = {}
exec("".join("def frame_%d():\n    frame_%d()\n" % (i, i + 1) for i in range(200))
     + "def frame_200():\n    raise ValueError('bottom')\n", _CHAIN)


def _deep_error(n):
    del n
    _CHAIN["frame_0"]()


@pytest.mark.parametrize("limit", [None, 300])
def test_error_stack_truncated_as_jaeger_client(limit):
    config = {"sampler": {"type": "const", "param": 1}}
    if limit:
        config["max_traceback_length"] = limit
    jc, jt, tc, tt = pair(config)
    stacks = []
    for tracer in (jt, tt):
        span = tracer.start_span("err")
        try:
            with span:
                _deep_error(60)
        except ValueError:
            tb = sys.exc_info()[2]
        stacks.append(span)
    full = "".join(traceback.format_tb(tb))
    want = full[:limit or 4096]
    assert len(full) > 4096, "the traceback must be longer than both bounds"
    jstack = [f.vStr for f in stacks[0].logs[0].fields if f.key == "stack"][0]
    tlog = stacks[1].logs[0].fields
    assert tlog["stack"] == jstack == want
    assert tlog["event"] == "error" and tlog["error.kind"] == "ValueError"
    tt.close(1)


# ---------------------------------------------------------------- keys named

def test_unknown_key_raises_naming_it_under_validate():
    with pytest.raises(ValueError, match="no_such_key"):
        tracewire.Config({"no_such_key": 1}, service_name="x", validate=True)
    with pytest.raises(ValueError, match="no_such_key"):
        jaeger_client.Config({"no_such_key": 1}, service_name="x", validate=True)


@pytest.mark.parametrize("key,value", [("span_context_header_keys", {"trace_id": "x-id"})])
@pytest.mark.parametrize("validate", [False, True])
def test_keys_not_acted_on_are_named(key, value, validate, caplog):
    caplog.set_level(logging.WARNING, logger="jaeger_tracing")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tracewire.Config({key: value, "protocol": "memory"}, service_name="x", validate=validate)
    assert [str(x.message) for x in w if key in str(x.message)], "a RuntimeWarning names %s" % key
    assert [r for r in caplog.records if r.name == "jaeger_tracing" and key in r.getMessage()]


def test_acted_on_keys_make_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracewire.Config({"max_traceback_length": 100, "metrics": True, "protocol": "memory",
                          "throttler": {"port": 5778, "refresh_interval": 5},
                          "baggage_restrictions": {"refresh_interval": 60},
                          "debug_id_header": "jaeger-debug-id"},
                         service_name="x", validate=True)


# ---------------------------------------------------------------- metrics_factory

class RecordingFactory(object):
    """jaeger_client's MetricsFactory interface, recording what is created and fed."""

    def __init__(self):
        self.created, self.values = [], {}

    def _make(self, kind, name, tags):
        key = (kind, name, tuple(sorted((tags or {}).items())))
        self.created.append(key)
        self.values.setdefault(key, 0)

        def fn(v):
            self.values[key] = self.values[key] + v if kind == "counter" else v
        return fn

    def create_counter(self, name, tags=None):
        return self._make("counter", name, tags)

    def create_timer(self, name, tags=None):
        return self._make("timer", name, tags)

    def create_gauge(self, name, tags=None):
        return self._make("gauge", name, tags)


def test_metric_names_and_tags_are_jaeger_clients():
    from jaeger_client.reporter import ReporterMetrics
    from jaeger_client.sampler import SamplerMetrics
    from jaeger_client.tracer import TracerMetrics
    theirs = RecordingFactory()
    TracerMetrics(theirs)
    ReporterMetrics(theirs)
    SamplerMetrics(theirs)
    ours = RecordingFactory()
    _fidelity._MetricsFeed(ours)
    assert sorted(ours.created) == sorted(theirs.created)


def test_metrics_factory_fed_from_core_counters():
    f = RecordingFactory()
    t = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "memory"},
                         service_name="m", metrics_factory=f).new_tracer()
    for _ in range(5):
        t.start_span("s").finish()
    assert t.flush(2) is True
    assert f.values[("counter", "jaeger:finished_spans", ())] == 5
    assert f.values[("counter", "jaeger:started_spans", (("sampled", "y"),))] == 5
    assert f.values[("counter", "jaeger:reporter_spans", (("result", "ok"),))] == 5
    assert f.values[("gauge", "jaeger:reporter_queue_length", ())] == 0
    t.start_span("s").finish()
    t.close(2)
    assert f.values[("counter", "jaeger:finished_spans", ())] == 6


def test_prometheus_metrics_factory_works_unchanged():
    """jaeger_client's own PrometheusMetricsFactory, as users pass it."""
    import prometheus_client
    from jaeger_client.metrics.prometheus import PrometheusMetricsFactory
    f = PrometheusMetricsFactory(namespace="twfid", service_name_label="fid")
    t = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "memory"},
                         service_name="fid", metrics_factory=f).new_tracer()
    for _ in range(3):
        t.start_span("s").finish()
    assert t.flush(2) is True
    get = prometheus_client.REGISTRY.get_sample_value
    assert get("twfid_jaeger:finished_spans_total", {"service": "fid"}) == 3
    assert get("twfid_jaeger:started_spans_total", {"service": "fid", "sampled": "y"}) == 3
    assert get("twfid_jaeger:reporter_spans_total", {"service": "fid", "result": "ok"}) == 3
    assert get("twfid_jaeger:reporter_queue_length", {"service": "fid"}) == 0
    t.close(1)


def test_metrics_false_feeds_nothing():
    f = RecordingFactory()
    c = tracewire.Config({"metrics": False, "protocol": "memory"}, service_name="m",
                         metrics_factory=f)
    assert c.metrics_factory is None
    c.new_tracer().close(1)
    assert f.created == []


# ---------------------------------------------------------------- environment under Config

def test_jaeger_agent_host_moves_the_sampling_host_as_jaeger_client(monkeypatch):
    monkeypatch.setenv("JAEGER_AGENT_HOST", "agent.example")
    jc = jaeger_client.Config({}, service_name="env")
    t = tracewire.Config({"protocol": "memory"}, service_name="env").new_tracer()
    assert jc.local_agent_reporting_host == t.config("reporter.agent_host") == "agent.example"
    assert t.config("sampler.url") == "http://agent.example:%d/sampling" % jc.local_agent_sampling_port
    # the native face keeps its meaning: only the UDP agent
    n = tracewire.Tracer({"reporter.protocols": "memory"})
    assert n.config("reporter.agent_host") == "agent.example"
    assert n.config("sampler.url") == "http://127.0.0.1:5778/sampling"


def test_jaeger_propagation_b3_means_x_b3_under_config(monkeypatch):
    """Jaeger clients read JAEGER_PROPAGATION=b3 as the X-B3-* headers (the
    jaeger_client profile's meaning of b3); the native face keeps single b3."""
    monkeypatch.setenv("JAEGER_PROPAGATION", "b3")
    t = tracewire.Config({"protocol": "memory"}, service_name="env").new_tracer()
    keys = carrier_keys(t, Format.HTTP_HEADERS)
    assert {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"} <= keys and "b3" not in keys
    assert t.config("propagation.extract") == "jaeger,w3c,b3,b3multi"
    n = tracewire.Tracer({"reporter.protocols": "memory"})
    assert "b3" in carrier_keys(n, Format.HTTP_HEADERS)


# (trace id, span id, parent id, flags) with leading zero digits, 64- and
# 128-bit trace ids, a root (parent 0), unsampled, sampled and debug
B3_IDS = [
    (0xabcdef, 0x1, 0x2, 1),
    (0x0123456789abcdef, 0x00000000000000ff, 0, 1),
    (0xfedcba9876543210, 0x0f00000000000001, 0x00ff000000000000, 0),
    (0x42, 0x43, 0x44, 3),
    ((0x00000000000000ab << 64) | 0x00000000000000cd, 0x1, 0x2, 1),
    ((0xfedcba9876543210 << 64) | 0x1, 0x0000000000000abc, 0, 3),
]


@pytest.mark.parametrize("b128", [False, True], ids=["64-bit config", "128-bit config"])
@pytest.mark.parametrize("trace_id,span_id,parent_id,flags", B3_IDS,
                         ids=["%x:%x:%x:%x" % i for i in B3_IDS])
def test_b3_headers_are_jaeger_clients(b128, trace_id, span_id, parent_id, flags):
    """`propagation: b3` writes what jaeger_client 4.8's B3Codec writes for the
    same context, key by key and byte by byte: its spelling (X-B3-TraceId),
    16-digit span ids with their leading zeros, a 32-digit trace id under
    generate_128bit_trace_id even for a 64-bit id, no ParentSpanId on a root,
    X-B3-Flags 1 alone on a debug span, no X-B3-Sampled on an unsampled one.
    The one difference kept (propagation_b3.c): a 128-bit id under a 64-bit
    config has its 32 digits where jaeger_client drops leading zeros — the
    same number, which jaeger_client reads back and other B3 readers need."""
    jc, jt, tc, tt = pair({"propagation": "b3", "generate_128bit_trace_id": b128})
    try:
        want = {}
        jt.inject(jaeger_client.SpanContext(trace_id, span_id, parent_id or None, flags),
                  Format.HTTP_HEADERS, want)
        uber = "%x:%x:%x:%x" % (trace_id, span_id, parent_id, flags)
        ctx = tt.extract(Format.TEXT_MAP, {"uber-trace-id": uber})
        got = {}
        tt.inject(ctx, Format.HTTP_HEADERS, got)
        # tracewire reads its own headers back to the same ids
        back = tt.extract(Format.HTTP_HEADERS, dict(got))
        assert (back.trace_id, back.span_id) == (trace_id, span_id)
        if trace_id >> 64 and not b128:
            assert int(got["X-B3-TraceId"], 16) == int(want["X-B3-TraceId"], 16) == trace_id
            assert len(got["X-B3-TraceId"]) == 32
            got["X-B3-TraceId"] = want["X-B3-TraceId"]
        assert got == want
    finally:
        tt.close(1)
