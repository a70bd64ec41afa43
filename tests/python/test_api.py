"""The opentracing 2.x API surface of tracewire, asserted on the spans the core
records (reporter protocol 'memory')."""
import time
import warnings

import opentracing
import pytest
from opentracing import Format, child_of, follows_from

import tracewire
from conftest import memory_tracer, spans_by_name


def one_span(tracer):
    spans = tracer.memory_spans()
    assert len(spans) == 1
    return spans[0]


# ---------------------------------------------------------------- tags

def test_tags_of_every_python_type(tracer):
    class Obj:
        def __str__(self):
            return "obj!"

    s = tracer.start_span("types")
    s.set_tag("str", "v").set_tag("int", -3).set_tag("big", 2 ** 80).set_tag("neg_big", -(2 ** 70))
    s.set_tag("float", 1.25).set_tag("true", True).set_tag("false", False)
    s.set_tag("bytes", b"\x00\xff").set_tag("bytearray", bytearray(b"ab"))
    s.set_tag("none", None).set_tag("obj", Obj()).set_tag("list", [1, 2])
    s.set_tag("unicode", "non-ascii: \u200b")
    s.finish()
    tags = one_span(tracer)["tags"]
    assert tags["str"] == "v"
    assert tags["int"] == -3 and isinstance(tags["int"], int)
    assert tags["big"] == str(2 ** 80)
    assert tags["neg_big"] == str(-(2 ** 70))
    assert tags["float"] == 1.25
    assert tags["true"] is True and tags["false"] is False
    assert tags["bytes"] == {"binary": "00ff"}
    assert tags["bytearray"] == {"binary": "6162"}
    assert tags["none"] == "None"
    assert tags["obj"] == "obj!"
    assert tags["list"] == "[1, 2]"
    assert tags["unicode"] == "non-ascii: \u200b"


def test_bool_is_a_bool_not_an_int(tracer):
    tracer.start_span("b", tags={"flag": True}).finish()
    assert one_span(tracer)["tags"]["flag"] is True


def test_tags_at_start_and_non_str_keys(tracer):
    tracer.start_span("t", tags={"a": 1, 5: "five"}).finish()
    tags = one_span(tracer)["tags"]
    assert tags["a"] == 1 and tags["5"] == "five"


def test_lone_surrogates_do_not_raise(tracer):
    s = tracer.start_span("\ud800op")
    s.set_tag("k\udcff", "v\ud800")
    s.finish()
    assert len(tracer.memory_spans()) == 1


def test_tag_whose_str_raises_raises_that_error(tracer):
    class Bad:
        def __str__(self):
            raise RuntimeError("no str")

    s = tracer.start_span("bad")
    with pytest.raises(RuntimeError):
        s.set_tag("k", Bad())
    s.finish()
    assert "k" not in one_span(tracer)["tags"]


def test_set_tag_wrong_arity_raises_type_error(tracer):
    s = tracer.start_span("x")
    with pytest.raises(TypeError):
        s.set_tag("only-key")
    s.finish()


# ---------------------------------------------------------------- lifecycle

def test_finish_twice_is_a_noop(tracer):
    s = tracer.start_span("twice")
    s.finish()
    s.finish()
    s.set_tag("after", 1)
    assert len(tracer.memory_spans()) == 1
    assert "after" not in one_span(tracer)["tags"]
    assert s.finished


def test_explicit_start_and_finish_time(tracer):
    t0 = 1700000000.25
    s = tracer.start_span("timed", start_time=t0)
    assert abs(s.start_time - t0) < 1e-6
    s.finish(finish_time=t0 + 1.5)
    rec = one_span(tracer)
    assert rec["start_us"] == 1700000000250000
    assert rec["duration_us"] == 1500000


def test_bad_timestamp_raises(tracer):
    with pytest.raises(ValueError):
        tracer.start_span("x", start_time=float("nan"))
    with pytest.raises(TypeError):
        tracer.start_span("x", start_time="yesterday")


def test_unfinished_span_is_not_reported(tracer):
    s = tracer.start_span("dropped")
    del s
    assert tracer.memory_spans() == []


def test_set_operation_name(tracer):
    s = tracer.start_span("a")
    assert s.set_operation_name("b") is s
    assert s.operation_name == "b"
    s.finish()
    assert one_span(tracer)["operation_name"] == "b"


def test_unknown_keyword_raises_type_error(tracer):
    with pytest.raises(TypeError):
        tracer.start_span("x", nope=1)


# ---------------------------------------------------------------- parents

def test_root_has_parent_id_none(tracer):
    s = tracer.start_span("root")
    assert s.context.parent_id is None
    s.finish()
    assert one_span(tracer)["parent_id"] in ("0000000000000000", "0", None)


def test_child_of_span_and_context(tracer):
    p = tracer.start_span("p")
    c1 = tracer.start_span("c1", child_of=p)
    c2 = tracer.start_span("c2", child_of=p.context)
    for c in (c1, c2):
        assert c.context.trace_id == p.context.trace_id
        assert c.context.parent_id == p.context.span_id
        c.finish()
    p.finish()
    recs = spans_by_name(tracer)
    assert recs["c1"]["parent_id"] == recs["p"]["span_id"]


def test_child_of_none_starts_a_root(tracer):
    with tracer.start_active_span("active"):
        s = tracer.start_span("explicit-none", child_of=None, ignore_active_span=True)
        assert s.context.parent_id is None


def test_references_follows_from(tracer):
    p = tracer.start_span("p")
    c = tracer.start_span("c", references=[follows_from(p.context)])
    c.finish()
    p.finish()
    rec = spans_by_name(tracer)["c"]
    assert rec["references"][0]["type"] == "follows_from"
    assert rec["references"][0]["span_id"] == p.context.span_id_hex


def test_references_child_of_and_single_reference(tracer):
    p = tracer.start_span("p")
    c = tracer.start_span("c", references=child_of(p.context))
    assert c.context.parent_id == p.context.span_id


def test_bad_references_raise_type_error(tracer):
    with pytest.raises(TypeError):
        tracer.start_span("x", references=[object()])


def test_active_span_is_parent_unless_ignored(tracer):
    with tracer.start_active_span("outer") as outer:
        assert tracer.active_span is outer.span
        inner = tracer.start_span("inner")
        assert inner.context.parent_id == outer.span.context.span_id
        ignored = tracer.start_span("ignored", ignore_active_span=True)
        assert ignored.context.parent_id is None
    assert tracer.active_span is None


def test_start_child_span_helper(tracer):
    p = tracer.start_span("p")
    c = opentracing.start_child_span(p, "c")
    assert c.context.parent_id == p.context.span_id


# ---------------------------------------------------------------- scopes

def test_finish_on_close_false(tracer):
    scope = tracer.start_active_span("keep", finish_on_close=False)
    scope.close()
    assert not scope.span.finished
    scope.span.finish()
    assert len(tracer.memory_spans()) == 1


def test_scopes_closed_out_of_order_are_ignored(tracer):
    a = tracer.start_active_span("a")
    b = tracer.start_active_span("b")
    a.close()                       # not the active one: no-op
    assert tracer.scope_manager.active is b
    assert not a.span.finished
    b.close()
    assert tracer.scope_manager.active is a
    a.close()
    a.close()                       # twice: no-op
    assert tracer.scope_manager.active is None
    assert {s["operation_name"] for s in tracer.memory_spans()} == {"a", "b"}


def test_context_manager_records_exception(tracer):
    with pytest.raises(KeyError):
        with tracer.start_active_span("boom"):
            raise KeyError("missing")
    rec = one_span(tracer)
    assert rec["tags"]["error"] is True
    fields = rec["logs"][-1]["fields"]
    assert fields["event"] == "error"
    assert fields["error.kind"] == "KeyError"
    assert "missing" in fields["message"]
    assert "missing" in fields["error.object"]
    assert "test_context_manager_records_exception" in fields["stack"]


def test_span_context_manager_records_exception(tracer):
    with pytest.raises(ValueError):
        with tracer.start_span("boom2"):
            raise ValueError("bad value")
    rec = one_span(tracer)
    assert rec["tags"]["error"] is True
    assert rec["logs"][-1]["fields"]["error.kind"] == "ValueError"


# ---------------------------------------------------------------- logs

def test_log_kv_log_event_and_log(tracer):
    s = tracer.start_span("logs")
    s.log_kv({"event": "a", "n": 1, "f": 0.5}, 1700000000.0)
    s.log_event("b", payload={"x": 1})
    s.log(event="c")
    s.finish()
    logs = one_span(tracer)["logs"]
    assert logs[0]["timestamp_us"] == 1700000000000000
    assert logs[0]["fields"] == {"event": "a", "n": 1, "f": 0.5}
    assert logs[1]["fields"]["event"] == "b"
    assert logs[2]["fields"]["event"] == "c"


def test_log_kv_with_many_fields_and_items_mapping(tracer):
    class M:
        def items(self):
            return [("k%d" % i, i) for i in range(40)]

    s = tracer.start_span("many")
    s.log_kv({"f%d" % i: i for i in range(40)})
    s.log_kv(M())
    s.finish()
    logs = one_span(tracer)["logs"]
    assert len(logs[0]["fields"]) == 40 and logs[1]["fields"]["k39"] == 39


def test_log_kv_bad_input(tracer):
    s = tracer.start_span("bad")
    with pytest.raises(AttributeError):
        s.log_kv(42)
    s.finish()


# ---------------------------------------------------------------- baggage

def test_baggage_travels_to_children_and_across_inject(tracer):
    p = tracer.start_span("p")
    assert p.set_baggage_item("user", "ada") is p
    assert p.get_baggage_item("user") == "ada"
    assert p.get_baggage_item("nope") is None
    c = tracer.start_span("c", child_of=p)
    assert c.get_baggage_item("user") == "ada"
    headers = {}
    tracer.inject(c.context, Format.HTTP_HEADERS, headers)
    ctx = tracer.extract(Format.HTTP_HEADERS, headers)
    assert ctx.baggage == {"user": "ada"}


# ---------------------------------------------------------------- propagation

class FlaskLikeHeaders:
    """Like werkzeug's EnvironHeaders: Title-Case keys, only items() is safe."""

    def __init__(self, d):
        self._d = {k.title(): v for k, v in d.items()}

    def items(self):
        return list(self._d.items())

    def __getitem__(self, k):
        raise AssertionError("only items() may be used")

    def __iter__(self):
        raise AssertionError("only items() may be used")


@pytest.mark.parametrize("fmt", [Format.TEXT_MAP, Format.HTTP_HEADERS])
def test_inject_extract_roundtrip(tracer, fmt):
    s = tracer.start_span("s")
    carrier = {}
    tracer.inject(s.context, fmt, carrier)
    assert carrier
    ctx = tracer.extract(fmt, carrier)
    assert isinstance(ctx, opentracing.SpanContext)
    assert ctx.trace_id == s.context.trace_id
    assert ctx.span_id == s.context.span_id
    child = tracer.start_span("child", child_of=ctx)
    assert child.context.trace_id == s.context.trace_id
    assert child.context.parent_id == s.context.span_id


def test_inject_accepts_a_span(tracer):
    s = tracer.start_span("s")
    a, b = {}, {}
    tracer.inject(s, Format.HTTP_HEADERS, a)
    tracer.inject(s.context, Format.HTTP_HEADERS, b)
    assert a == b and a


def test_extract_from_flask_like_headers(tracer):
    s = tracer.start_span("s")
    h = {}
    tracer.inject(s, Format.HTTP_HEADERS, h)
    ctx = tracer.extract(Format.HTTP_HEADERS, FlaskLikeHeaders(h))
    assert ctx.trace_id == s.context.trace_id


def test_extract_without_headers_returns_none_and_root(tracer):
    ctx = tracer.extract(Format.HTTP_HEADERS, FlaskLikeHeaders({"Host": "x"}))
    assert ctx is None
    s = tracer.start_span("root", child_of=ctx)
    assert s.context.parent_id is None


def test_binary_roundtrip(tracer):
    s = tracer.start_span("bin")
    s.set_baggage_item("k", "v")
    buf = bytearray()
    tracer.inject(s.context, Format.BINARY, buf)
    assert len(buf) > 33
    ctx = tracer.extract(Format.BINARY, bytes(buf))
    assert ctx.span_id == s.context.span_id and ctx.baggage == {"k": "v"}
    assert tracer.extract(Format.BINARY, bytearray()) is None


def test_unknown_format_raises(tracer):
    s = tracer.start_span("s")
    with pytest.raises(opentracing.UnsupportedFormatException):
        tracer.inject(s.context, "custom", {})
    with pytest.raises(opentracing.UnsupportedFormatException):
        tracer.extract("custom", {})
    with pytest.raises(opentracing.UnsupportedFormatException):
        tracer.extract(42, {})


@pytest.mark.parametrize("carrier", [None, 42, "str", [("a", "b")], object()])
def test_extract_non_dict_carrier_raises_invalid_carrier(tracer, carrier):
    with pytest.raises(opentracing.InvalidCarrierException):
        tracer.extract(Format.HTTP_HEADERS, carrier)


@pytest.mark.parametrize("carrier", [None, 42, "str", (1, 2), frozenset()])
def test_inject_non_mapping_carrier_raises_invalid_carrier(tracer, carrier):
    s = tracer.start_span("s")
    with pytest.raises(opentracing.InvalidCarrierException):
        tracer.inject(s.context, Format.TEXT_MAP, carrier)


def test_binary_bad_carriers(tracer):
    s = tracer.start_span("s")
    with pytest.raises(opentracing.InvalidCarrierException):
        tracer.inject(s.context, Format.BINARY, b"immutable")
    with pytest.raises(opentracing.InvalidCarrierException):
        tracer.extract(Format.BINARY, {"a": "b"})
    with pytest.raises(opentracing.SpanContextCorruptedException):
        tracer.extract(Format.BINARY, b"\x01\x02\x03")


def test_extract_ignores_non_str_keys_and_values(tracer):
    s = tracer.start_span("s")
    h = {}
    tracer.inject(s, Format.TEXT_MAP, h)
    h[1] = "x"
    h["x-num"] = 5
    h[b"bytes"] = b"v"
    ctx = tracer.extract(Format.TEXT_MAP, h)
    assert ctx.span_id == s.context.span_id


@pytest.mark.parametrize("value", ["garbage", "zz:yy:0:1", "1:2", "", ":::"])
def test_corrupted_uber_trace_id_raises(tracer, value):
    with pytest.raises(opentracing.SpanContextCorruptedException):
        tracer.extract(Format.HTTP_HEADERS, {"uber-trace-id": value})


def test_corrupted_traceparent_raises(tracer):
    with pytest.raises(opentracing.SpanContextCorruptedException):
        tracer.extract(Format.HTTP_HEADERS, {"traceparent": "00-xyz-abc-01"})


def test_extract_items_that_raise_is_invalid_carrier(tracer):
    class Broken:
        def items(self):
            raise OSError("boom")

    with pytest.raises(opentracing.InvalidCarrierException):
        tracer.extract(Format.HTTP_HEADERS, Broken())


def test_inject_into_carrier_whose_setitem_raises(tracer):
    class RO(dict):
        def __setitem__(self, k, v):
            raise KeyError("read-only")

    s = tracer.start_span("s")
    with pytest.raises(KeyError):
        tracer.inject(s.context, Format.TEXT_MAP, RO())


def test_inject_bad_context_raises_type_error(tracer):
    with pytest.raises(TypeError):
        tracer.inject(object(), Format.TEXT_MAP, {})
    with pytest.raises(TypeError):
        tracer.inject(None, Format.TEXT_MAP, {})


def test_b3_propagation_config():
    t = tracewire.Config({"propagation": "b3", "protocol": "memory"}, service_name="b3").new_tracer()
    s = t.start_span("s")
    h = {}
    t.inject(s, Format.HTTP_HEADERS, h)
    keys = {k.lower() for k in h}
    assert "x-b3-traceid" in keys and "x-b3-spanid" in keys
    assert "uber-trace-id" not in keys
    ctx = t.extract(Format.HTTP_HEADERS, {k.upper(): v for k, v in h.items()})
    assert ctx.span_id == s.context.span_id


def test_w3c_propagation_list():
    t = tracewire.Config({"propagation": ["w3c"], "protocol": "memory"}, service_name="w").new_tracer()
    s = t.start_span("s")
    h = {}
    t.inject(s, Format.HTTP_HEADERS, h)
    assert set(h) >= {"traceparent"} and "uber-trace-id" not in h
    assert h["traceparent"].split("-")[1] == s.context.trace_id_hex.rjust(32, "0")


@pytest.mark.parametrize("flags,sampled", [("03", True), ("02", False), ("ff", True),
                                           ("01", True), ("00", False)])
def test_w3c_trace_flags_round_trip_unchanged(flags, sampled):
    """The random flag (02) and reserved bits of a received traceparent go out
    again unchanged, on the extracted context and on a child span's."""
    t = tracewire.Config({"propagation": ["w3c", "jaeger"], "protocol": "memory"},
                         service_name="w").new_tracer()
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-" + flags
    ctx = t.extract(Format.HTTP_HEADERS, {"traceparent": tp})
    assert ctx.flags == (1 if sampled else 0), "the Jaeger view: sampled bit only"
    h = {}
    t.inject(ctx, Format.HTTP_HEADERS, h)
    assert h["traceparent"] == tp
    assert h["uber-trace-id"].endswith(":1" if sampled else ":0")
    child = t.start_span("child", child_of=ctx)
    h = {}
    t.inject(child, Format.HTTP_HEADERS, h)
    assert h["traceparent"].startswith(tp[:36]) and h["traceparent"].endswith("-" + flags)
    child.finish()


def test_custom_trace_id_header_and_baggage_prefix():
    t = tracewire.Config({"trace_id_header": "My-Trace", "baggage_header_prefix": "Bag-",
                          "propagation": ["jaeger"], "protocol": "memory"},
                         service_name="h").new_tracer()
    s = t.start_span("s")
    s.set_baggage_item("k", "v")
    h = {}
    t.inject(s, Format.TEXT_MAP, h)
    assert "my-trace" in h and h["bag-k"] == "v"


# ---------------------------------------------------------------- sampling, ids

def test_unsampled_spans_are_not_reported():
    t = tracewire.Config({"sampler": {"type": "const", "param": 0}, "protocol": "memory"},
                         service_name="u").new_tracer()
    s = t.start_span("u")
    assert not s.is_sampled() and not s.context.sampled
    s.finish()
    assert t.memory_spans() == []
    m = t.metrics()
    assert m["spans_started"] == 1 and m["spans_sampled"] == 0


def test_sampling_priority_forces_sampling():
    t = tracewire.Config({"sampler": {"type": "const", "param": 0}, "protocol": "memory"},
                         service_name="u").new_tracer()
    s = t.start_span("forced", tags={"sampling.priority": 1})
    assert s.is_sampled()
    s.finish()
    assert len(t.memory_spans()) == 1


def test_64bit_trace_ids_when_asked():
    t = tracewire.Config({"generate_128bit_trace_id": False, "protocol": "memory"},
                         service_name="u").new_tracer()
    s = t.start_span("s")
    assert s.context.trace_id < 2 ** 64


def test_128bit_trace_ids_when_asked():
    t = tracewire.Config({"generate_128bit_trace_id": True, "protocol": "memory"},
                         service_name="u").new_tracer()
    ids = [t.start_span("s").context.trace_id for _ in range(8)]
    assert any(i >= 2 ** 64 for i in ids)


# ---------------------------------------------------------------- tracer object

def test_tracer_is_not_callable_and_has_no__tracer():
    t = memory_tracer()
    assert not callable(t)
    assert not hasattr(t, "_tracer")
    assert not any("__call__" in vars(c) for c in type(t).__mro__)


def test_spans_have_an_instance_dict(tracer):
    s = tracer.start_span("d")
    s.custom = 1
    assert s.__dict__ == {"custom": 1}


def test_metrics_and_counters(tracer):
    for _ in range(3):
        tracer.start_span("m").finish()
    m = tracer.metrics()
    assert m == tracer.counters()
    assert m["spans_started"] == 3 and m["spans_finished"] == 3


def test_close_is_idempotent_and_spans_after_close_are_harmless():
    t = memory_tracer()
    assert t.close() is True
    t.close()
    s = t.start_span("after")
    s.set_tag("k", "v").log_kv({"a": 1})
    s.finish()
    assert t.metrics()["spans_finished"] == 0


def test_flush_returns_true_on_memory():
    t = memory_tracer()
    t.start_span("x").finish()
    assert t.flush(timeout=1.0) is True


def test_memory_spans_clear(tracer):
    tracer.start_span("x").finish()
    assert len(tracer.memory_spans(clear=True)) == 1
    assert tracer.memory_spans() == []


def test_memory_spans_without_memory_reporter_raises():
    t = tracewire.Tracer({"reporter.protocols": "none"})
    with pytest.raises(opentracing.UnsupportedFormatException):
        t.memory_spans()


def test_unknown_core_option_raises_value_error():
    with pytest.raises(ValueError):
        tracewire.Tracer({"no.such.key": "1"})
    with pytest.raises(ValueError):
        tracewire.Tracer({"sampler.param": "not-a-number"})


# ---------------------------------------------------------------- Config

def test_config_maps_jaeger_keys():
    c = tracewire.Config(config={
        "sampler": {"type": "probabilistic", "param": 0.5},
        "local_agent": {"reporting_host": "10.0.0.1", "reporting_port": 6000, "sampling_port": 5000},
        "tags": {"env": "test", "n": 3},
        "trace_id_header": "x-trace", "baggage_header_prefix": "x-bag-",
        "generate_128bit_trace_id": True, "max_tag_value_length": 64,
        "reporter_batch_size": 10, "reporter_queue_size": 50, "reporter_flush_interval": 0.5,
    }, service_name="svc", validate=True)
    t = c.new_tracer()
    o = t.config
    assert t.service_name == "svc" and o("service_name") == "svc"
    assert o("sampler.type") == "probabilistic" and o("sampler.param") == "0.5"
    assert o("reporter.agent_host") == "10.0.0.1" and o("reporter.agent_port") == "6000"
    assert o("sampler.url") == "http://10.0.0.1:5000/sampling"
    assert o("tags") == "env=test,n=3"
    assert o("trace_id_128bit") == "true"
    assert o("trace_id_header") == "x-trace" and o("baggage_header_prefix") == "x-bag-"
    assert o("max_tag_value_length") == "64"
    assert o("reporter.batch_size") == "10" and o("reporter.queue_size") == "50"
    assert o("reporter.flush_interval_ms") == "500"
    assert o("profile") == "jaeger_client"


def test_config_validate_rejects_unknown_keys():
    with pytest.raises(ValueError):
        tracewire.Config({"no_such_key": 1}, service_name="x", validate=True)
    tracewire.Config({"no_such_key": 1}, service_name="x")    # tolerated without validate


def test_config_protocol_and_endpoint():
    t = tracewire.Config({"protocol": "otlp", "endpoint": "http://127.0.0.1:1/v1/traces"},
                         service_name="x").new_tracer()
    assert t.config("reporter.protocols") == "otlp"
    assert t.config("reporter.otlp_endpoint") == "http://127.0.0.1:1/v1/traces"
    # the endpoint key comes after protocol in the core's key table: dict order does not matter
    t = tracewire.Config({"endpoint": "http://127.0.0.1:1/v1/traces", "protocol": "otlp"},
                         service_name="x").new_tracer()
    assert t.config("reporter.otlp_endpoint") == "http://127.0.0.1:1/v1/traces"
    t = tracewire.Config({"protocol": "http", "endpoint": "http://127.0.0.1:1/api/traces"},
                         service_name="x").new_tracer()
    assert t.config("reporter.endpoint") == "http://127.0.0.1:1/api/traces"


def test_config_scope_manager_is_used():
    sm = tracewire.ContextVarsScopeManager()
    t = tracewire.Config({"protocol": "memory"}, service_name="x", scope_manager=sm).new_tracer()
    assert t.scope_manager is sm


def test_environment_is_applied_and_code_wins(monkeypatch):
    monkeypatch.setenv("JAEGER_SERVICE_NAME", "from-env")
    t = tracewire.Tracer({"reporter.protocols": "memory"})
    assert t.service_name == "from-env"
    t2 = tracewire.Config({"protocol": "memory"}, service_name="from-code").new_tracer()
    assert t2.service_name == "from-code"


def test_initialize_tracer_once_per_process(monkeypatch):
    import tracewire.config as twc
    monkeypatch.setattr(twc.Config, "_initialized", False)
    before = opentracing.tracer
    try:
        t = tracewire.Config({"protocol": "memory"}, service_name="global").initialize_tracer()
        assert isinstance(t, tracewire.Tracer)
        assert opentracing.tracer is t
        assert opentracing.global_tracer() is t
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            again = tracewire.Config({"protocol": "memory"}, service_name="again").initialize_tracer()
        assert again is None
        assert opentracing.tracer is t
    finally:
        opentracing._reset_global_tracer() if hasattr(opentracing, "_reset_global_tracer") else None
        opentracing.tracer = before


def test_jaeger_style_id_properties(tracer):
    p = tracer.start_span("p")
    c = tracer.start_span("c", child_of=p)
    assert c.trace_id == c.context.trace_id == p.trace_id
    assert c.span_id == c.context.span_id
    assert c.parent_id == p.span_id and p.parent_id is None
    assert c.flags & 1 and c.context.has_trace
    assert "{:x}".format(c.trace_id).rjust(32, "0") == c.context.trace_id_hex.rjust(32, "0")


def test_baggage_only_context_has_no_trace(tracer):
    ctx = tracer.extract(Format.HTTP_HEADERS, {"uberctx-user": "ada"})
    assert ctx is not None and not ctx.has_trace and ctx.baggage == {"user": "ada"}
    s = tracer.start_span("root-with-baggage", child_of=ctx)
    assert s.get_baggage_item("user") == "ada" and s.context.parent_id is None


def test_bad_scope_manager_is_rejected():
    with pytest.raises(TypeError):
        tracewire.Tracer({"reporter.protocols": "memory"}, scope_manager=42)


def test_oversized_baggage_is_dropped_with_a_warning(tracer):
    s = tracer.start_span("b")
    with pytest.warns(RuntimeWarning):
        assert s.set_baggage_item("big", "v" * 100000) is s
    assert s.get_baggage_item("big") is None
    s.set_baggage_item("small", "ok")
    assert s.get_baggage_item("small") == "ok"


def test_the_181st_baggage_item_is_dropped_with_a_warning_naming_both_bounds(tracer):
    s = tracer.start_span("many")
    for i in range(180):
        s.set_baggage_item(f"k{i}", "v")
    with pytest.warns(RuntimeWarning, match="180 items"):
        s.set_baggage_item("one-more", "v")
    assert s.get_baggage_item("one-more") is None
    s.set_baggage_item("k0", "replaced")          # replacing an item is still fine
    assert s.get_baggage_item("k0") == "replaced"
    headers = {}
    tracer.inject(s.context, Format.HTTP_HEADERS, headers)
    assert len([h for h in headers if h.startswith("uberctx-")]) == 180


@pytest.mark.parametrize("key,value", [
    ("service_name", "svc\x00junk"),
    ("sampler.type", "const\x00junk"),
    ("service\x00_name", "svc"),
])
def test_config_refuses_nul_bytes_instead_of_cutting_the_value(key, value):
    with pytest.raises(ValueError, match="NUL"):
        tracewire.Tracer({"reporter.protocols": "memory", key: value})


FRESH_STRINGS_SCRIPT = r"""
import tracewire
from opentracing import Format

t = tracewire.Tracer({"reporter.protocols": "memory"})
s = t.start_span("s")
s.set_baggage_item("user", "ada")
h = {}
t.inject(s, Format.HTTP_HEADERS, h)

class Fresh:
    # every items() call builds new key/value strings (as header wrappers do)
    def items(self):
        return (("".join(k), "".join(v)) for k, v in list(h.items()))

class Pairs:
    def items(self):
        return ([k + "", v + ""] for k, v in list(h.items()))

for carrier in (Fresh(), Pairs()):
    ctx = t.extract(Format.HTTP_HEADERS, carrier)
    assert ctx.span_id == s.context.span_id, ctx
    assert ctx.baggage == {"user": "ada"}, ctx.baggage

class Log:
    def items(self):
        return (("k%d" % i, "value-%d" % i) for i in range(40))

s.log_kv(Log())
s.finish()
fields = t.memory_spans()[0]["logs"][-1]["fields"]
assert fields == {"k%d" % i: "value-%d" % i for i in range(40)}, fields
print("ok")
"""


def test_carriers_and_logs_built_from_fresh_strings_under_debug_malloc():
    """items() that makes new strings each time: everything the core reads must
    stay alive for the whole call. Run with PYTHONMALLOC=debug so a freed string
    would read back as garbage."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONMALLOC="debug")
    out = subprocess.run([sys.executable, "-X", "dev", "-c", FRESH_STRINGS_SCRIPT], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_propagation_sets_what_is_written_and_every_format_is_read():
    w3c_only = tracewire.Config({"propagation": "w3c", "protocol": "memory"}, service_name="p").new_tracer()
    jaeger = memory_tracer()
    s = jaeger.start_span("from-a-jaeger-service")
    h = {}
    jaeger.inject(s, Format.HTTP_HEADERS, h)
    ctx = w3c_only.extract(Format.HTTP_HEADERS, {"uber-trace-id": h["uber-trace-id"]})
    assert ctx.span_id == s.context.span_id
    out = {}
    w3c_only.inject(ctx, Format.HTTP_HEADERS, out)
    assert "traceparent" in out and "uber-trace-id" not in out
    narrow = tracewire.Config({"propagation": "w3c", "protocol": "memory",
                               "options": {"propagation.extract": "w3c"}}, service_name="n").new_tracer()
    assert narrow.extract(Format.HTTP_HEADERS, {"uber-trace-id": h["uber-trace-id"]}) is None
