"""opentelemetry-python's SDK expectations (opentelemetry-sdk tests/trace/test_trace.py:
attributes incl. sequences and limits, events, links incl. add_link, status,
exceptions, update_name, explicit times, ended spans, context) run against
tracewire.otel and, side by side, against the real SDK.

Each scenario is one function over the OTel API. It runs twice:
  - on the SDK 1.27 TracerProvider with an InMemorySpanExporter, made by
    opentelemetry-test-utils' TestBase.create_tracer_provider (the helper the
    SDK's and the instrumentations' own tests use);
  - on tracewire.otel, whose spans leave through the core's OTLP exporter to a
    real HTTP listener and are decoded with opentelemetry-proto.
Both results are normalised to the same plain form (ids replaced by span
names) and must be equal; each test also states the SDK test's expectation
directly. Known, documented differences are written out where they apply:
the core keeps microseconds (times are compared at that precision) and the
SDK evicts the oldest attribute at a count limit where tracewire drops the
new one (the spec's rule; python/README.md).

The tests are a pytest port of the SDK's unittest cases, not copies: a
TestBase subclass (WireTestBase) gives the in-memory checks of
opentelemetry-test-utils (get_finished_spans().by_name, assertSpanHasAttributes)
over spans decoded from the wire.
"""
import gzip
import logging
import unittest

import pytest

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import SpanLimits as SdkSpanLimits
from opentelemetry.test.test_base import TestBase
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceState

from tracewire.otel import SpanLimits, TracerProvider

from conftest import HttpSink

T0 = 1_700_000_000_123_456_000      # explicit times: whole microseconds (the core's unit)


# ---------------------------------------------------------------- decoded spans

def _py(v):
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(_py(x) for x in v.array_value.values)
    return getattr(v, which)


def _attrs(kvs):
    return {kv.key: _py(kv.value) for kv in kvs}


class _Ctx:
    def __init__(self, trace_id, span_id):
        self.trace_id, self.span_id = trace_id, span_id


class _Event:
    def __init__(self, ev):
        self.name = ev.name
        self.attributes = _attrs(ev.attributes)
        self.timestamp = ev.time_unix_nano


class _Link:
    def __init__(self, ln):
        self.context = _Ctx(int.from_bytes(ln.trace_id, "big"), int.from_bytes(ln.span_id, "big"))
        self.context.trace_state = ln.trace_state
        self.attributes = _attrs(ln.attributes)


class _Scope:
    def __init__(self, sc, schema_url):
        self.name, self.version, self.schema_url = sc.name, sc.version or None, schema_url or None
        self.attributes = _attrs(sc.attributes)


class WireSpan:
    """A span as OTLP delivered it, with the ReadableSpan attributes tests read."""

    def __init__(self, sp, scope):
        self.name = sp.name
        self.kind = SpanKind(sp.kind - 1)           # OTLP numbers INTERNAL as 1
        self.context = _Ctx(int.from_bytes(sp.trace_id, "big"), int.from_bytes(sp.span_id, "big"))
        self.parent = (_Ctx(self.context.trace_id, int.from_bytes(sp.parent_span_id, "big"))
                       if sp.parent_span_id else None)
        self.attributes = {k: v for k, v in _attrs(sp.attributes).items()
                           if not k.startswith("otel.status_")
                           and k != "error"}
        self.events = [_Event(e) for e in sp.events]
        self.links = [_Link(ln) for ln in sp.links]
        code = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}[sp.status.code]
        self.status = Status(code, sp.status.message or None)
        self.start_time, self.end_time = sp.start_time_unix_nano, sp.end_time_unix_nano
        self.instrumentation_scope = scope


class WireExporter:
    """What TestBase expects of its memory exporter, fed from the OTLP sink."""

    def __init__(self, provider, sink):
        self.provider, self.sink = provider, sink

    def clear(self):
        del self.sink.requests[:]

    def get_finished_spans(self):
        assert self.provider.force_flush(5000)
        out = []
        for _path, headers, body in list(self.sink.requests):
            if headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    scope = _Scope(ss.scope, ss.schema_url)
                    out += [WireSpan(sp, scope) for sp in ss.spans]
        return out


class WireTestBase(TestBase):
    """TestBase with tracewire.otel's provider: spans leave by OTLP."""

    limits = None

    def create_tracer_provider(self, **kwargs):
        self.sink = HttpSink(status=200, body=b'{"partialSuccess":{}}')
        provider = TracerProvider(
            service_name="sdk-expectations", shutdown_on_exit=False, span_limits=self.limits,
            options={"reporter.otlp_endpoint": "http://127.0.0.1:%d/v1/traces" % self.sink.port})
        return provider, WireExporter(provider, self.sink)

    def tearDown(self):
        self.tracer_provider.shutdown()
        self.sink.close()
        super().tearDown()


# ---------------------------------------------------------------- normal form

def normal(spans):
    """Spans as comparable plain data: ids become the names they point at."""
    by_id = {s.context.span_id: s.name for s in spans}

    def exc(attrs):
        a = dict(attrs)
        if "exception.stacktrace" in a:    # frames differ between the two callers
            st = a.pop("exception.stacktrace")
            a["exception.stacktrace.last"] = st.strip().splitlines()[-1]
        return a

    out = {}
    for s in spans:
        sc = s.instrumentation_scope
        out[s.name] = {
            "kind": s.kind,
            "parent": by_id.get(s.parent.span_id, "remote") if s.parent else None,
            "attributes": dict(s.attributes),
            "events": [(e.name, exc(e.attributes)) for e in s.events],
            "links": [(by_id.get(ln.context.span_id, "%x" % ln.context.span_id),
                       dict(ln.attributes),
                       getattr(ln.context.trace_state, "to_header", lambda: ln.context.trace_state)())
                      for ln in s.links],
            "status": (s.status.status_code, s.status.description),
            "scope": (sc.name, sc.version or None, sc.schema_url or None, dict(sc.attributes or {})),
        }
    return out


def run_both(scenario, sdk_limits=None, tw_limits=None):
    """(SDK result, tracewire result, tracewire WireSpans by name) for scenario(tracer)."""
    sdk_provider, memory = TestBase.create_tracer_provider(span_limits=sdk_limits)
    scenario(sdk_provider.get_tracer("sdk.expectations", "1.2", "https://example.com/schema"))
    sdk_spans = memory.get_finished_spans()
    sink = HttpSink(status=200, body=b'{"partialSuccess":{}}')
    try:
        tw = TracerProvider(service_name="sdk-expectations", shutdown_on_exit=False,
                            span_limits=tw_limits,
                            options={"reporter.otlp_endpoint":
                                     "http://127.0.0.1:%d/v1/traces" % sink.port})
        scenario(tw.get_tracer("sdk.expectations", "1.2", "https://example.com/schema"))
        wire = WireExporter(tw, sink).get_finished_spans()
        tw.shutdown()
    finally:
        sink.close()
    assert sorted(s.name for s in wire) == sorted(s.name for s in sdk_spans)
    return normal(sdk_spans), normal(wire), {s.name: s for s in wire}


# ---------------------------------------------------------------- scenarios

def s_attributes(tracer):
    with tracer.start_as_current_span("root") as root:
        root.set_attributes({"http.request.method": "GET",
                             "url.full": "https://example.com:779/path/12/?q=d#123"})
        root.set_attribute("http.response.status_code", 200)
        root.set_attribute("misc.pi", 3.14)
        root.set_attribute("array-key", [1, 2, 3])
        root.set_attribute("attr-key", "attr-value1")
        root.set_attribute("attr-key", "attr-value2")      # overwrites
        root.set_attribute("empty-list", [])
        bools = [True, True, False]
        root.set_attribute("list-of-bools", bools)
        bools.append(False)                                 # the span keeps its copy
        root.set_attribute("list-of-floats", (1.5, -0.25))
        root.set_attribute("list-of-strs", ["a", "b"])
        root.set_attribute("with-none", ["x", None])
        root.set_attribute("bytes", b"valid byte")          # 1.27: decoded to str
    with tracer.start_as_current_span("root2", attributes={"attr-key": "val", "k2": "v2"}):
        pass


def test_attributes_and_sequences_match_the_sdk():
    sdk, tw, wire = run_both(s_attributes)
    assert tw == sdk
    a = wire["root"].attributes
    assert a["attr-key"] == "attr-value2" and a["empty-list"] == ()
    assert a["list-of-bools"] == (True, True, False) and a["array-key"] == (1, 2, 3)
    assert a["with-none"] == ("x", None) and a["bytes"] == "valid byte"
    assert len(a) == 12
    assert wire["root2"].attributes == {"attr-key": "val", "k2": "v2"}


@pytest.mark.parametrize("sampler", ["always_on", "traceidratio", "parentbased_always_on",
                                     "parentbased_traceidratio"])
def test_sampled_roots_carry_no_sampler_attributes_as_in_the_sdk(sampler):
    """The SDK's samplers return only the attributes start_span was given:
    its root spans carry no sampler.type/sampler.param (which Jaeger clients
    write, and tracewire's opentracing face keeps)."""
    from opentelemetry.sdk.trace import TracerProvider as SdkProvider
    from opentelemetry.sdk.trace import sampling
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def scenario(tracer):
        with tracer.start_as_current_span("root", attributes={"a": 1}):
            with tracer.start_as_current_span("child"):
                pass

    sdk_sampler = {"always_on": sampling.ALWAYS_ON,
                   "traceidratio": sampling.TraceIdRatioBased(1.0),
                   "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
                   "parentbased_traceidratio": sampling.ParentBasedTraceIdRatio(1.0)}[sampler]
    memory = InMemorySpanExporter()
    sdk = SdkProvider(sampler=sdk_sampler)
    sdk.add_span_processor(SimpleSpanProcessor(memory))
    scenario(sdk.get_tracer("s"))
    sink = HttpSink(status=200, body=b'{"partialSuccess":{}}')
    try:
        tw = TracerProvider(service_name="sampler-attrs", shutdown_on_exit=False, sampler=sampler,
                            sampler_arg=1.0 if "ratio" in sampler else None,
                            options={"reporter.otlp_endpoint":
                                     "http://127.0.0.1:%d/v1/traces" % sink.port})
        scenario(tw.get_tracer("s"))
        wire = WireExporter(tw, sink).get_finished_spans()
        tw.shutdown()
    finally:
        sink.close()
    want = {s.name: dict(s.attributes) for s in memory.get_finished_spans()}
    assert want == {"root": {"a": 1}, "child": {}}
    assert {s.name: s.attributes for s in wire} == want

def s_invalid_attributes(tracer):
    class NoStr:
        __str__ = __repr__ = None

    with tracer.start_as_current_span("root") as root:
        root.set_attributes({"correct-value": "foo", "bad-type": NoStr()})
        root.set_attribute("mapping-key", {"key": "value"})
        root.set_attribute("mixed", [1, "a"])
        root.set_attribute("nested", [[1]])
        root.set_attribute("", "empty key")


def test_invalid_attribute_values_are_dropped_with_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    sdk, tw, wire = run_both(s_invalid_attributes)
    assert tw == sdk
    assert wire["root"].attributes == {"correct-value": "foo"}
    tw_warnings = [r for r in caplog.records if r.name == "tracewire.otel"]
    assert len(tw_warnings) >= 4, [r.getMessage() for r in tw_warnings]


def s_events(tracer):
    with tracer.start_as_current_span("root") as root:
        root.add_event("event0")
        root.add_event("event1", {"name": "pluto", "some_bools": [True, False]})
        root.add_event("event2", {"name": ["birthday"]}, T0)
        mutable = ["original_contents"]
        root.add_event("event3", {"name": mutable})
        mutable.append("later")
        root.add_event("event4", {"attr1": True, "attr2": ["hi", "there"]})
        root.add_event("event5", {"attr1": {}, "ok": 1})       # the mapping is dropped
        root.add_event("event6", {"attr1": [[True]], "attr2": [1, 2]})


def test_events_match_the_sdk():
    sdk, tw, wire = run_both(s_events)
    assert tw == sdk
    ev = wire["root"].events
    assert [e.name for e in ev] == ["event0", "event1", "event2", "event3", "event4", "event5",
                                    "event6"]
    assert ev[0].attributes == {}
    assert ev[1].attributes == {"name": "pluto", "some_bools": (True, False)}
    assert ev[2].attributes == {"name": ("birthday",)} and ev[2].timestamp == T0
    assert ev[3].attributes == {"name": ("original_contents",)}
    assert ev[6].attributes == {"attr2": (1, 2)}


def s_links(tracer):
    a = tracer.start_span("other1")
    b = tracer.start_span("other2")
    links = (Link(a.get_span_context()), Link(b.get_span_context(), {"name": "neighbor"}))
    with tracer.start_as_current_span("root", links=links) as root:
        root.add_link(a.get_span_context(), {"added": "after start", "ids": [1, 2]})
        root.add_link(trace_api.INVALID_SPAN_CONTEXT)            # dropped
        root.add_link(None)                                      # dropped
        # an invalid context is kept when it carries attributes or a tracestate
        root.add_link(trace_api.INVALID_SPAN_CONTEXT, {"why": "attrs"})
        root.add_link(trace_api.SpanContext(0, 0, False, trace_state=TraceState([("foo", "bar")])))
        valid_ts = trace_api.SpanContext(a.get_span_context().trace_id, 0x42, True,
                                         trace_state=TraceState([("k", "v")]))
        root.add_link(valid_ts)
    with tracer.start_as_current_span("root2", links=[Link(trace_api.INVALID_SPAN_CONTEXT), None]):
        pass
    b.end()
    a.end()


def test_links_and_add_link_match_the_sdk(caplog):
    sdk, tw, wire = run_both(s_links)
    assert tw == sdk
    r = wire["root"]
    assert [ln.context.span_id for ln in r.links] == [
        wire["other1"].context.span_id, wire["other2"].context.span_id,
        wire["other1"].context.span_id, 0, 0, 0x42]
    assert [ln.attributes for ln in r.links] == [{}, {"name": "neighbor"},
                                                 {"added": "after start", "ids": (1, 2)},
                                                 {"why": "attrs"}, {}, {}]
    assert [ln.context.trace_state for ln in r.links[3:]] == ["", "foo=bar", "k=v"]
    assert r.parent is None, "links do not parent a span"
    assert wire["root2"].links == []


def s_status(tracer):
    with tracer.start_as_current_span("error") as s:
        s.set_status(Status(StatusCode.ERROR, "Test description"))
    with tracer.start_as_current_span("ok-final") as s:
        s.set_status(StatusCode.OK)
        s.set_status(Status(StatusCode.ERROR, "ignored"))
    with tracer.start_as_current_span("unset-ignored") as s:
        s.set_status(Status(StatusCode.ERROR, "kept"))
        s.set_status(Status(StatusCode.UNSET))
    with tracer.start_as_current_span("last-wins") as s:
        s.set_status(Status(StatusCode.ERROR, "first"))
        s.set_status(StatusCode.ERROR, "second")
    with tracer.start_as_current_span("ok-drops-description") as s:
        s.set_status(Status(StatusCode.OK, "OK has no description"))


def test_status_rules_match_the_sdk():
    sdk, tw, wire = run_both(s_status)
    assert tw == sdk
    st = {n: (s.status.status_code, s.status.description) for n, s in wire.items()}
    assert st == {"error": (StatusCode.ERROR, "Test description"),
                  "ok-final": (StatusCode.OK, None),
                  "unset-ignored": (StatusCode.ERROR, "kept"),
                  "last-wins": (StatusCode.ERROR, "second"),
                  "ok-drops-description": (StatusCode.OK, None)}


class AppError(Exception):
    pass


def s_exceptions(tracer):
    with tracer.start_as_current_span("recorded") as s:
        try:
            raise ValueError("invalid")
        except ValueError as e:
            s.record_exception(e, {"has_additional_attributes": True}, timestamp=T0)
    with tracer.start_as_current_span("escaped") as s:
        s.record_exception(AppError("qualified"), escaped=True)
    try:
        with tracer.start_as_current_span("context-manager"):
            raise AppError("boom")
    except AppError:
        pass
    try:
        with tracer.start_as_current_span("quiet", record_exception=False,
                                          set_status_on_exception=False):
            raise KeyError("k")
    except KeyError:
        pass


def test_exceptions_match_the_sdk():
    sdk, tw, wire = run_both(s_exceptions)
    assert tw == sdk
    (ev,) = wire["recorded"].events
    assert ev.name == "exception" and ev.timestamp == T0
    assert ev.attributes["exception.type"] == "ValueError"
    assert ev.attributes["exception.message"] == "invalid"
    assert ev.attributes["has_additional_attributes"] is True
    assert 'raise ValueError("invalid")' in ev.attributes["exception.stacktrace"]
    (ev,) = wire["escaped"].events
    # fully qualified outside builtins (test_record_exception_fqn)
    assert ev.attributes["exception.type"] == __name__ + ".AppError"
    assert ev.attributes["exception.escaped"] == "True"
    cm = wire["context-manager"]
    assert cm.status.status_code is StatusCode.ERROR
    assert cm.status.description == "AppError: boom"
    assert [e.name for e in cm.events] == ["exception"]
    q = wire["quiet"]
    assert q.events == [] and q.status.status_code is StatusCode.UNSET


def s_names_times_ended(tracer):
    with tracer.start_as_current_span("root") as root:
        root.update_name("toor")
    s = tracer.start_span("timed", start_time=T0)
    s.end(end_time=T0 + 5_000_000)
    ended = tracer.start_span("ended")
    ended.set_attribute("before", 1)
    ended.end()
    ended.set_attribute("after", 2)
    ended.add_event("after-event")
    ended.update_name("renamed-after-end")
    ended.set_status(Status(StatusCode.ERROR, "after"))
    ended.add_link(root.get_span_context())
    ended.end()                                      # a second end: a warning, no effect


def test_update_name_explicit_times_and_ended_span_match_the_sdk(caplog):
    caplog.set_level(logging.WARNING)
    sdk, tw, wire = run_both(s_names_times_ended)
    assert tw == sdk
    assert "toor" in wire and "root" not in wire
    t = wire["timed"]
    assert (t.start_time, t.end_time) == (T0, T0 + 5_000_000)
    e = wire["ended"]
    assert e.attributes == {"before": 1} and e.events == [] and e.links == []
    assert e.status.status_code is StatusCode.UNSET
    assert any("ended span" in r.getMessage() for r in caplog.records if r.name == "tracewire.otel")


def s_context(tracer):
    with tracer.start_as_current_span("parent") as parent:
        assert trace_api.get_current_span() is parent
        with tracer.start_as_current_span("child") as child:
            assert trace_api.get_current_span() is child
        explicit = trace_api.set_span_in_context(parent)
        tracer.start_span("explicit-child", context=explicit).end()
        tracer.start_span("new-root", context=context_api.Context()).end()
        token = context_api.attach(trace_api.set_span_in_context(trace_api.INVALID_SPAN))
        tracer.start_span("root-under-invalid").end()
        context_api.detach(token)
        with tracer.start_as_current_span("kind", kind=SpanKind.CONSUMER):
            pass
    assert trace_api.get_current_span() is trace_api.INVALID_SPAN


def test_parents_from_context_match_the_sdk():
    sdk, tw, wire = run_both(s_context)
    assert tw == sdk
    pid = wire["parent"].context.span_id
    assert wire["child"].parent.span_id == pid and wire["explicit-child"].parent.span_id == pid
    assert wire["new-root"].parent is None and wire["root-under-invalid"].parent is None
    assert wire["new-root"].context.trace_id != wire["parent"].context.trace_id
    assert wire["kind"].kind is SpanKind.CONSUMER


def s_limits(tracer):
    with tracer.start_as_current_span("limited") as s:
        for i in range(4):
            s.set_attribute("k%d" % i, "abcdefgh")
        s.set_attribute("seq", ["abcdefgh", "xy"])
        for i in range(4):
            s.add_event("e%d" % i, {"a": 1, "b": 2, "c": 3})
        for i in range(3):
            s.add_link(trace_api.get_current_span().get_span_context(), {"x": 1, "y": 2, "z": 3})


def test_limits_as_the_sdk_with_the_documented_eviction_difference():
    """SpanLimits as in test_limits_values_code: counts and value lengths.
    The SDK evicts the oldest attribute/event/link at a count limit; tracewire
    drops the newcomer (the spec's 'discard' rule): the kept sets differ by
    that rule and nothing else."""
    kw = dict(max_attributes=5, max_events=2, max_links=2, max_event_attributes=2,
              max_link_attributes=2, max_attribute_length=4)
    sdk, tw, wire = run_both(s_limits, SdkSpanLimits(**kw), SpanLimits(**kw))
    s, t = sdk["limited"], tw["limited"]
    # value length: strings and strings in sequences cut to 4, in both
    assert t["attributes"] == {"k0": "abcd", "k1": "abcd", "k2": "abcd", "k3": "abcd",
                               "seq": ("abcd", "xy")}
    assert s["attributes"] == t["attributes"]          # 5 fit: nothing evicted yet
    # events: 2 kept, each with 2 attributes (SDK: the last two; tracewire: the first two)
    assert [n for n, _ in t["events"]] == ["e0", "e1"]
    assert [n for n, _ in s["events"]] == ["e2", "e3"]
    # ... and within an event or link the same rule: first two kept, or last two
    assert [a for _, a in t["events"]] == [{"a": 1, "b": 2}] * 2
    assert [a for _, a in s["events"]] == [{"b": 2, "c": 3}] * 2
    assert [a for _, a, _ in t["links"]] == [{"x": 1, "y": 2}] * 2
    assert [a for _, a, _ in s["links"]] == [{"y": 2, "z": 3}] * 2
    assert len(wire["limited"].links) == 2


class ScopeTest(WireTestBase):
    """opentelemetry-test-utils' TestBase over the wire: the global provider is
    tracewire's (as an instrumentation's test would run), spans checked with
    its helpers."""

    def test_instrumentation_scope_and_attributes_via_test_base(self):
        tracer = trace_api.get_tracer("my.module", "0.7", schema_url="https://example.com/s/1",
                                      attributes={"scope.attr": "v"})
        with tracer.start_as_current_span("scoped", attributes={"x": [1, 2]}):
            pass
        with trace_api.get_tracer("other.module").start_as_current_span("other-scoped"):
            pass
        spans = self.get_finished_spans()
        scoped = spans.by_name("scoped")
        self.assertSpanHasAttributes(scoped, {"x": (1, 2)})
        sc = scoped.instrumentation_scope
        self.assertEqual((sc.name, sc.version, sc.schema_url, sc.attributes),
                         ("my.module", "0.7", "https://example.com/s/1", {"scope.attr": "v"}))
        other = spans.by_name("other-scoped").instrumentation_scope
        self.assertEqual((other.name, other.version), ("other.module", None))

    def test_sdk_and_tracewire_scopes_agree(self):
        def scenario(tracer):
            with tracer.start_as_current_span("one"):
                pass

        sdk, tw, _ = run_both(scenario)
        self.assertEqual(tw["one"]["scope"], sdk["one"]["scope"])
        self.assertEqual(tw["one"]["scope"],
                         ("sdk.expectations", "1.2", "https://example.com/schema", {}))


if __name__ == "__main__":
    unittest.main()
