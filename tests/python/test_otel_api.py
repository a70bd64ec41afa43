"""tracewire.otel: the OpenTelemetry trace API on the core, checked on the wire.

Every span here is reported by the core's OTLP exporter to a real HTTP
listener and decoded with opentelemetry-proto; behaviours follow what
opentelemetry-python's SDK tests (tests/trace/test_trace.py) expect of spans,
attributes, limits, events, links, status, exceptions and context, adapted
where the SDK's private classes are named.
"""
import asyncio
import concurrent.futures
import contextvars
import gzip
import json
import logging
import os
import subprocess
import sys
import threading

import pytest
from google.protobuf import json_format
from opentelemetry import baggage, context, propagate, trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

import tracewire
from tracewire.otel import SpanLimits, TracerProvider

from test_wire import _hex_ids_to_base64


def decode(requests):
    """Every span of the OTLP requests: {name: [(span, resource attrs)]}; each
    span's ScopeSpans (scope, schema_url) goes into SCOPES[name]."""
    out = {}
    for _path, headers, body in requests:
        h = {k.lower(): v for k, v in headers.items()}
        if h.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        req = ExportTraceServiceRequest()
        if "protobuf" in h.get("content-type", ""):
            req.ParseFromString(body)
        else:
            json_format.Parse(json.dumps(_hex_ids_to_base64(json.loads(body))), req,
                              ignore_unknown_fields=True)
        for rs in req.resource_spans:
            res = {a.key: json_format.MessageToDict(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.setdefault(s.name, []).append((s, res))
                    SCOPES[s.name] = (ss.scope, ss.schema_url)
    return out


SCOPES = {}


def scope_of(name):
    """(scope name, version, {attrs}, schema_url) of the span named name."""
    sc, url = SCOPES[name]
    return sc.name, sc.version, attrs(sc), url


def attrs(msg):
    return {a.key: json_format.MessageToDict(a.value) for a in msg.attributes}


class Wire:
    def __init__(self, sink, **kw):
        self.sink = sink
        opts = {"reporter.otlp_endpoint": "http://127.0.0.1:%d/v1/traces" % sink.port}
        opts.update(kw.pop("options", {}))
        self.provider = TracerProvider(service_name=kw.pop("service_name", "otel-test"),
                                       options=opts, shutdown_on_exit=False, **kw)

    def tracer(self, name="test.scope", version="1.0"):
        return self.provider.get_tracer(name, version)

    def spans(self, n):
        assert self.provider.force_flush(5000)
        got = {}
        for _ in range(50):
            got = decode(self.sink.wait(1, timeout=1))
            if sum(len(v) for v in got.values()) >= n:
                break
            self.sink.wait(len(self.sink.requests) + 1, timeout=0.2)
        assert sum(len(v) for v in got.values()) == n, got.keys()
        return {k: v[0][0] for k, v in got.items()}

    def close(self):
        self.provider.shutdown()


@pytest.fixture
def wire(otlp_sink):
    w = Wire(otlp_sink)
    yield w
    w.close()


def test_names_parents_kind_scope_resource(otlp_sink):
    w = Wire(otlp_sink, resource={"deployment.environment": "ci", "service.name": "ignored"},
             service_name="otel-res")
    t = w.tracer("my.library", "2.5")
    with t.start_as_current_span("root", kind=SpanKind.SERVER) as root:
        assert trace.get_current_span() is root
        with t.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            assert trace.get_current_span() is child
        assert trace.get_current_span() is root
        detached = t.start_span("producer", kind=SpanKind.PRODUCER)
        detached.end()
    assert not trace.get_current_span().get_span_context().is_valid
    got = w.spans(3)
    w.close()
    r, c, p = got["root"], got["child"], got["producer"]
    rc = root.get_span_context()
    assert r.trace_id == rc.trace_id.to_bytes(16, "big")
    assert r.span_id == rc.span_id.to_bytes(8, "big")
    assert not r.parent_span_id
    assert c.parent_span_id == r.span_id and c.trace_id == r.trace_id
    assert p.parent_span_id == r.span_id
    assert (r.kind, c.kind, p.kind) == (2, 3, 4)
    # the instrumentation scope is the span's OTLP ScopeSpans, not a tag
    assert scope_of("root") == ("my.library", "2.5", {}, "")
    assert "otel.scope.name" not in attrs(r)
    assert r.flags & 0xFF == 1          # W3C sampled
    res = decode(otlp_sink.requests)["root"][0][1]
    assert res["service.name"] == {"stringValue": "otel-res"}
    assert res["deployment.environment"] == {"stringValue": "ci"}
    assert r.start_time_unix_nano <= c.start_time_unix_nano <= c.end_time_unix_nano <= r.end_time_unix_nano


def test_attributes_of_every_type(wire, caplog):
    t = wire.tracer()
    caplog.set_level(logging.WARNING, "tracewire.otel")
    with t.start_as_current_span("typed", attributes={"s": "v", "i": -3, "f": 1.5, "b": True}) as s:
        s.set_attribute("strs", ["a", "b"])
        s.set_attribute("ints", (1, 2, 3))
        s.set_attribute("floats", [0.5, None])
        s.set_attribute("bools", [True, False])
        s.set_attribute("bytes", b"raw")
        s.set_attribute("s", "replaced")
        s.set_attributes({"x": 1, "y": "z"})
        # bad input: dropped with a warning, never raised
        s.set_attribute("obj", object())
        s.set_attribute("mixed", [1, "a"])
        s.set_attribute("dict", {"a": 1})
        s.set_attribute("", "empty key")
        s.set_attribute(None, "none key")
        s.set_attributes("not a mapping")
    sp = wire.spans(1)["typed"]
    a = attrs(sp)
    assert a["s"] == {"stringValue": "replaced"}
    assert a["i"] == {"intValue": "-3"}
    assert a["f"] == {"doubleValue": 1.5}
    assert a["b"] == {"boolValue": True}
    # homogeneous sequences are OTLP arrays of typed values (None: an empty AnyValue)
    assert a["strs"] == {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}
    assert a["ints"] == {"arrayValue": {"values": [{"intValue": "1"}, {"intValue": "2"},
                                                   {"intValue": "3"}]}}
    assert a["floats"] == {"arrayValue": {"values": [{"doubleValue": 0.5}, {}]}}
    assert a["bools"] == {"arrayValue": {"values": [{"boolValue": True}, {"boolValue": False}]}}
    assert a["bytes"] == {"stringValue": "raw"}
    assert a["x"] == {"intValue": "1"} and a["y"] == {"stringValue": "z"}
    for k in ("obj", "mixed", "dict", ""):
        assert k not in a
    # each attribute once on the wire: the replaced value is the only one
    assert [kv.key for kv in sp.attributes].count("s") == 1
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "obj" in warned and "mixed" in warned and "dict" in warned


def test_limits_from_env_and_arguments(otlp_sink, monkeypatch, caplog):
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3")
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "2")
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4")
    caplog.set_level(logging.WARNING, "tracewire.otel")
    w = Wire(otlp_sink, span_limits=SpanLimits(max_links=1))
    lim = w.provider.span_limits
    assert (lim.max_attributes, lim.max_events, lim.max_links, lim.max_span_attribute_length) == (3, 2, 1, 4)
    t = w.tracer()
    other = t.start_span("other")
    other2 = t.start_span("other2")
    with t.start_as_current_span("limited", links=[Link(other.get_span_context()),
                                                   Link(other2.get_span_context())]) as s:
        for i in range(5):
            s.set_attribute("k%d" % i, "abcdefgh")
        s.set_attribute("k0", "replace ok")     # an existing key is not a new attribute
        s.set_attribute("seq", ["abcdefgh"])
        for i in range(4):
            s.add_event("e%d" % i)
    other.end()
    other2.end()
    sp = w.spans(3)["limited"]
    w.close()
    a = attrs(sp)
    # a root span (links do not parent it) and, as the SDK's, without the
    # sampler.type/sampler.param tags Jaeger clients write
    assert not sp.parent_span_id
    assert set(a) == {"k0", "k1", "k2"}
    assert a["k0"] == {"stringValue": "repl"} and a["k1"] == {"stringValue": "abcd"}
    assert [e.name for e in sp.events] == ["e0", "e1"]
    assert len(sp.links) == 1
    assert "limit" in " ".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_events_links_status_exception(otlp_sink, protocol):
    """Both OTLP encoders: OTLP Status from the face's status tags."""
    wire = Wire(otlp_sink, options={"reporter.otlp_protocol": protocol})
    t = wire.tracer()
    linked = t.start_span("linked")
    linked.end()
    with pytest.raises(KeyError):
        with t.start_as_current_span("failing", links=[Link(linked.get_span_context(), {"why": "x"})]) as s:
            s.add_event("checkpoint", {"n": 7, "tags": ["a"]}, timestamp=1700000000500000000)
            raise KeyError("missing")
    with t.start_as_current_span("ok") as ok:
        ok.set_status(Status(StatusCode.ERROR, "first"))
        ok.set_status(StatusCode.OK)
        ok.set_status(StatusCode.ERROR, "ignored: OK is final")
    with t.start_as_current_span("bad-status") as bs:
        bs.set_status("not a status")
        bs.set_status(StatusCode.UNSET)
    got = wire.spans(4)
    wire.close()
    ctype = {k.lower(): v for k, v in otlp_sink.requests[0][1].items()}["content-type"]
    assert ctype == ("application/json" if protocol == "http/json" else "application/x-protobuf")
    f = got["failing"]
    assert f.status.code == 2
    assert f.status.message == "KeyError: 'missing'"
    fa = attrs(f)
    assert fa["otel.status_code"] == {"stringValue": "ERROR"}
    assert fa["otel.status_description"] == {"stringValue": "KeyError: 'missing'"}
    ev = {e.name: e for e in f.events}
    assert ev["checkpoint"].time_unix_nano == 1700000000500000000
    assert attrs(ev["checkpoint"])["n"] == {"intValue": "7"}
    assert attrs(ev["checkpoint"])["tags"] == {"arrayValue": {"values": [{"stringValue": "a"}]}}
    exc = attrs(ev["exception"])
    assert exc["exception.type"] == {"stringValue": "KeyError"}
    assert exc["exception.message"] == {"stringValue": "'missing'"}
    assert "raise KeyError" in exc["exception.stacktrace"]["stringValue"]
    assert len(f.links) == 1
    assert f.links[0].span_id == got["linked"].span_id and f.links[0].trace_id == got["linked"].trace_id
    assert attrs(f.links[0]) == {"why": {"stringValue": "x"}}     # the link's own attributes
    o = got["ok"]
    assert o.status.code == 1 and not o.status.message
    assert attrs(o)["otel.status_code"] == {"stringValue": "OK"}
    assert "error" not in attrs(o)
    b = got["bad-status"]
    assert b.status.code == 0 and "otel.status_code" not in attrs(b)


def test_update_name_end_time_is_recording(wire, caplog):
    t = wire.tracer()
    s = t.start_span("before", start_time=1700000000000000000)
    assert s.is_recording()
    s.update_name("after")
    s.end(end_time=1700000002000000000)
    assert not s.is_recording()
    caplog.set_level(logging.WARNING, "tracewire.otel")
    s.end()                      # second end: a warning, nothing sent twice
    s.set_attribute("late", 1)   # on an ended span: ignored
    s.update_name("too late")
    sp = wire.spans(1)["after"]
    assert sp.start_time_unix_nano == 1700000000000000000
    assert sp.end_time_unix_nano == 1700000002000000000
    assert "late" not in attrs(sp)
    assert any("ended span" in r.getMessage() for r in caplog.records)


def test_propagate_inject_extract_round_trip(wire):
    t = wire.tracer()
    with t.start_as_current_span("client", kind=SpanKind.CLIENT) as c:
        ctx = baggage.set_baggage("user", "alice")
        carrier = {}
        propagate.inject(carrier, context=ctx)
    sc = c.get_span_context()
    assert carrier["traceparent"] == "00-%032x-%016x-01" % (sc.trace_id, sc.span_id)
    assert carrier["baggage"] == "user=alice"
    # the other side: a NonRecordingSpan parent from the propagator
    incoming = dict(carrier, tracestate="vendor=abc")
    ctx = propagate.extract(incoming)
    assert baggage.get_baggage("user", ctx) == "alice"
    token = context.attach(ctx)
    try:
        remote_parent = trace.get_current_span()
        assert remote_parent.get_span_context().is_remote
        with t.start_as_current_span("server", kind=SpanKind.SERVER) as s:
            ssc = s.get_span_context()
            assert ssc.trace_id == sc.trace_id
            assert ssc.trace_state.get("vendor") == "abc"
    finally:
        context.detach(token)
    got = wire.spans(2)
    assert got["server"].parent_span_id == got["client"].span_id
    assert got["server"].trace_id == got["client"].trace_id
    assert got["server"].trace_state == "vendor=abc"


def test_unsampled_remote_parent_is_not_recorded(wire):
    t = wire.tracer()
    ctx = propagate.extract({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"})
    with t.start_as_current_span("unsampled", context=ctx) as s:
        assert not s.is_recording()
        assert s.get_span_context().trace_id == 0x0af7651916cd43dd8448eb211c80319c
        assert not s.get_span_context().trace_flags.sampled
        s.set_attribute("ignored", 1)
    with t.start_as_current_span("sampled"):
        pass
    got = wire.spans(1)
    assert set(got) == {"sampled"}


def test_context_across_threads_and_asyncio(wire):
    t = wire.tracer()

    def work(i):
        with t.start_as_current_span("thread-%d" % i):
            return trace.get_current_span().get_span_context().span_id

    async def task(i):
        with t.start_as_current_span("task-%d" % i):
            await asyncio.sleep(0.01)
            with t.start_as_current_span("task-%d-inner" % i):
                await asyncio.sleep(0)

    async def main():
        with t.start_as_current_span("loop"):
            await asyncio.gather(*(task(i) for i in range(3)))

    with t.start_as_current_span("pool-root"):
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            futs = [ex.submit(contextvars.copy_context().run, work, i) for i in range(3)]
            [f.result() for f in futs]
        # a thread without the copied context starts its own trace
        th = threading.Thread(target=work, args=(99,))
        th.start()
        th.join()
    asyncio.run(main())
    got = wire.spans(1 + 3 + 1 + 1 + 6)
    root = got["pool-root"]
    for i in range(3):
        assert got["thread-%d" % i].parent_span_id == root.span_id
        assert got["task-%d" % i].parent_span_id == got["loop"].span_id
        assert got["task-%d-inner" % i].parent_span_id == got["task-%d" % i].span_id
    assert not got["thread-99"].parent_span_id
    assert got["thread-99"].trace_id != root.trace_id


def test_decorator_and_use_span(wire):
    t = wire.tracer()

    @t.start_as_current_span("decorated")
    def f(x):
        return trace.get_current_span().get_span_context().span_id, x

    @t.start_as_current_span("decorated-async")
    async def g():
        return trace.get_current_span().get_span_context().span_id

    sid, x = f(5)
    assert x == 5
    asid = asyncio.run(g())
    s = t.start_span("manual")
    with trace.use_span(s, end_on_exit=True):
        with t.start_as_current_span("inside"):
            pass
    got = wire.spans(4)
    assert got["decorated"].span_id == sid.to_bytes(8, "big")
    assert got["decorated-async"].span_id == asid.to_bytes(8, "big")
    assert got["inside"].parent_span_id == got["manual"].span_id


def test_both_faces_nest_in_one_trace(wire):
    """OTel -> opentracing -> OTel -> opentracing through the provider's
    opentracing tracer: one trace, each span the child of the one outside."""
    t = wire.tracer()
    ot = wire.provider.opentracing_tracer
    assert isinstance(ot, tracewire.Tracer)
    with t.start_as_current_span("otel-1"):
        with ot.start_active_span("ot-2") as scope:
            scope.span.set_tag("face", "opentracing")
            assert trace.get_current_span().core_span is scope.span
            with t.start_as_current_span("otel-3"):
                assert ot.active_span is trace.get_current_span().core_span
                with ot.start_active_span("ot-4"):
                    pass
    got = wire.spans(4)
    assert got["ot-2"].parent_span_id == got["otel-1"].span_id
    assert got["otel-3"].parent_span_id == got["ot-2"].span_id
    assert got["ot-4"].parent_span_id == got["otel-3"].span_id
    assert len({s.trace_id for s in got.values()}) == 1
    assert attrs(got["ot-2"])["face"] == {"stringValue": "opentracing"}


def test_sampler_from_env(otlp_sink, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_off")
    w = Wire(otlp_sink)
    t = w.tracer()
    with t.start_as_current_span("root-off") as r:
        assert not r.is_recording()
    sampled_parent = propagate.extract(
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    with t.start_as_current_span("child-of-sampled", context=sampled_parent) as c:
        assert c.is_recording()
    got = w.spans(1)
    w.close()
    assert set(got) == {"child-of-sampled"}
    assert got["child-of-sampled"].parent_span_id == bytes.fromhex("b7ad6b7169203331")


def test_sdk_disabled(monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    p = TracerProvider(shutdown_on_exit=False)
    t = p.get_tracer("x")
    assert isinstance(t, trace.NoOpTracer)
    with t.start_as_current_span("nothing") as s:
        assert not s.is_recording()
    assert p.force_flush()
    p.shutdown()


def test_entry_point_loads_the_provider(otlp_sink):
    code = ("from opentelemetry import trace\n"
            "p = trace.get_tracer_provider()\n"
            "print(type(p).__module__, type(p).__name__)\n"
            "from opentelemetry import propagate\n"
            "with trace.get_tracer('ep').start_as_current_span('from-entry-point'):\n"
            "    h = {}\n"
            "    propagate.inject(h)\n"
            "    print(' '.join(sorted(h)))\n"
            "assert p.force_flush(5000)\n")
    env = dict(os.environ, OTEL_PYTHON_TRACER_PROVIDER="tracewire", OTEL_SERVICE_NAME="ep-svc",
               OTEL_PROPAGATORS="tracecontext,tracewire_jaeger",
               OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:%d/v1/traces" % otlp_sink.port)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["tracewire.otel._trace", "TracerProvider", "traceparent",
                                  "uber-trace-id"]
    got = decode(otlp_sink.wait(1))
    span, res = got["from-entry-point"][0]
    assert res["service.name"] == {"stringValue": "ep-svc"}
    assert scope_of("from-entry-point")[0] == "ep"


def test_exporter_env_and_otlp_default(otlp_sink, monkeypatch):
    w = Wire(otlp_sink)
    assert w.provider.opentracing_tracer.config("reporter.protocols") == "otlp"
    w.close()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    p = TracerProvider(options={"reporter.otlp_endpoint": "http://127.0.0.1:%d/v1/traces" % otlp_sink.port},
                       shutdown_on_exit=False)
    with p.get_tracer("x").start_as_current_span("discarded"):
        pass
    assert p.force_flush(2000)
    assert p.metrics()["spans_discarded"] == 1
    p.shutdown()
    assert not [r for r in otlp_sink.requests if b"discarded" in r[2]]


def test_exception_options_and_end_on_exit(wire, caplog):
    """SDK behaviours: record_exception / set_status_on_exception switched off,
    end_on_exit=False, a span used as its own context manager records the
    exception as escaped, an empty scope name is an error log, not a raise."""
    t = wire.tracer()
    with pytest.raises(ValueError):
        with t.start_as_current_span("quiet", record_exception=False, set_status_on_exception=False):
            raise ValueError("not recorded")
    with t.start_as_current_span("kept-open", end_on_exit=False) as open_span:
        pass
    assert open_span.is_recording()
    open_span.set_attribute("after", True)
    open_span.end()
    with pytest.raises(RuntimeError):
        with t.start_span("own-cm") as s:
            raise RuntimeError("escaped")
    caplog.set_level(logging.ERROR, "tracewire.otel")
    nameless = wire.provider.get_tracer("")
    with nameless.start_as_current_span("nameless"):
        pass
    assert any("missing module name" in r.getMessage() for r in caplog.records)
    got = wire.spans(4)
    q = got["quiet"]
    assert q.status.code == 0 and not q.events
    assert attrs(got["kept-open"])["after"] == {"boolValue": True}
    own = got["own-cm"]
    assert own.status.code == 2 and own.status.message == "RuntimeError: escaped"
    ev = attrs(own.events[0])
    assert own.events[0].name == "exception" and ev["exception.escaped"] == {"stringValue": "True"}
    assert scope_of("nameless")[:2] == ("", "")


@pytest.mark.parametrize("name,cls,field", [
    ("tracewire_jaeger", "JaegerPropagator", "uber-trace-id"),
    ("tracewire_b3", "B3SinglePropagator", "b3"),
    ("tracewire_b3multi", "B3MultiPropagator", "x-b3-traceid"),
])
def test_core_propagators_round_trip_and_parent(wire, name, cls, field):
    """Jaeger and B3 through the core's parsers as OTel propagators: inject
    from an OTel span, extract on the other side, the child's parent on the
    wire is the injected span; an entry point under the name for OTEL_PROPAGATORS."""
    from importlib.metadata import entry_points
    from tracewire.otel import propagators
    eps = entry_points()
    eps = eps.select(group="opentelemetry_propagator") if hasattr(eps, "select") \
        else eps.get("opentelemetry_propagator", [])
    assert {e.name: e.value for e in eps}[name] == "tracewire.otel.propagators:" + cls
    prop = getattr(propagators, cls)()
    t = wire.tracer()
    with t.start_as_current_span("sender") as s:
        carrier = {}
        prop.inject(carrier)
    sc = s.get_span_context()
    assert field in {k.lower() for k in carrier}, carrier
    assert {k.lower() for k in carrier} <= prop.fields
    ctx = prop.extract(carrier)
    remote = trace.get_current_span(ctx).get_span_context()
    assert remote.is_remote and remote.span_id == sc.span_id and remote.trace_flags.sampled
    assert remote.trace_id == sc.trace_id
    with t.start_as_current_span("receiver", context=ctx):
        pass
    assert prop.extract({field: "garbage"}) is not None          # no raise: no parent
    assert not trace.get_current_span(prop.extract({field: "garbage"})).get_span_context().is_valid
    got = wire.spans(2)
    assert got["receiver"].parent_span_id == got["sender"].span_id
    assert got["receiver"].trace_id == got["sender"].trace_id
