"""The OTel face's C span and tracer (python/tracewire/_core_otel.c): what its
fast paths must keep true. Spans are read back from the core's memory reporter
(what the exporters encode), not from the Python objects."""
import asyncio
import logging
import threading

import pytest
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.status import Status, StatusCode

import tracewire
from tracewire.otel import TracerProvider
from tracewire.otel import _trace


@pytest.fixture
def tp():
    p = TracerProvider(service_name="c-span", options={"reporter.protocols": "memory"},
                       shutdown_on_exit=False)
    yield p
    p.shutdown()


def spans(tp):
    assert tp.force_flush(5000)
    return {s["operation_name"]: s for s in tp.opentracing_tracer.memory_spans()}


def test_types_are_the_api_abcs(tp):
    t = tp.get_tracer("scope", "1")
    s = t.start_span("x")
    assert isinstance(s, trace.Span) and isinstance(t, trace.Tracer)
    assert type(s) is _trace.Span and type(t) is _trace.Tracer
    assert type(s).__name__ == "Span" and type(s).__module__ == "tracewire.otel"
    s.end()


def test_reused_span_objects_carry_nothing_over(tp):
    t = tp.get_tracer("scope")
    for i in range(40):        # more than the pool holds
        s = t.start_span("a%d" % i, kind=SpanKind.SERVER, attributes={"k": i})
        s.add_event("e")
        s.set_status(Status(StatusCode.ERROR, "bad"))
        s.end()
        del s
    fresh = t.start_span("fresh")
    assert fresh.attributes == {} and fresh.status.status_code is StatusCode.UNSET
    assert fresh.kind is SpanKind.INTERNAL and fresh.is_recording()
    fresh.end()
    got = spans(tp)["fresh"]
    assert got["logs"] == [] and "error" not in got["tags"] and got["kind"] == "unspecified"
    assert got["scope"]["name"] == "scope"


def test_parents_from_current_and_explicit_context(tp):
    t = tp.get_tracer("scope")
    with t.start_as_current_span("root") as root:
        assert trace.get_current_span() is root
        with t.start_as_current_span("child") as child:
            assert trace.get_current_span() is child
        other = t.start_span("other", context=trace.set_span_in_context(child))
        other.end()
        detached = t.start_span("detached", context=context_api.Context())
        detached.end()
    assert trace.get_current_span() is trace.INVALID_SPAN
    got = spans(tp)
    rid = got["root"]["span_id"]
    assert got["child"]["parent_id"] == rid
    assert got["other"]["parent_id"] == got["child"]["span_id"]
    assert got["detached"]["parent_id"] == "0" * 16
    assert got["detached"]["trace_id"] != got["root"]["trace_id"]


def test_context_through_the_api_functions(tp):
    """Another runtime context: the C code goes through context.attach/detach."""
    _trace._setup_core(fast_context=False)
    try:
        t = tp.get_tracer("scope")
        with t.start_as_current_span("root") as root:
            assert trace.get_current_span() is root
            with t.start_as_current_span("child"):
                pass
            assert trace.get_current_span() is root
        assert trace.get_current_span() is trace.INVALID_SPAN
    finally:
        _trace._setup_core()
    got = spans(tp)
    assert got["child"]["parent_id"] == got["root"]["span_id"]


def test_decorator_sync_async_and_threads(tp):
    t = tp.get_tracer("scope")

    @t.start_as_current_span("sync")
    def sync(n):
        return trace.get_current_span().name, n

    @t.start_as_current_span("async")
    async def coro():
        await asyncio.sleep(0)
        return trace.get_current_span().name

    with t.start_as_current_span("outer"):
        assert sync(3) == ("sync", 3)
        assert asyncio.run(coro()) == "async"
        seen = []
        th = threading.Thread(target=lambda: seen.append(trace.get_current_span()))
        th.start()
        th.join()
        assert seen == [trace.INVALID_SPAN]      # contextvars do not cross threads
    assert sync.__name__ == "sync"
    got = spans(tp)
    assert got["sync"]["parent_id"] == got["outer"]["span_id"]
    assert got["async"]["parent_id"] == got["outer"]["span_id"]


def test_exception_in_current_span_and_end_on_exit(tp):
    t = tp.get_tracer("scope")
    with pytest.raises(KeyError):
        with t.start_as_current_span("failing"):
            raise KeyError("k")
    with pytest.raises(ValueError):
        with t.start_as_current_span("quiet", record_exception=False,
                                     set_status_on_exception=False):
            raise ValueError("v")
    with t.start_as_current_span("open", end_on_exit=False) as kept:
        pass
    assert kept.is_recording()
    kept.end()
    got = spans(tp)
    f = got["failing"]
    assert f["tags"]["otel.status_code"] == "ERROR" and f["tags"]["error"] is True
    assert f["tags"]["otel.status_description"] == "KeyError: 'k'"
    assert [log["fields"]["event"] for log in f["logs"]] == ["exception"]
    assert f["logs"][0]["fields"]["exception.escaped"] == "False"
    q = got["quiet"]
    assert q["logs"] == [] and "otel.status_code" not in q["tags"]
    assert "open" in got


def test_with_span_records_escaped(tp):
    t = tp.get_tracer("scope")
    with pytest.raises(RuntimeError):
        with t.start_span("as-cm"):
            raise RuntimeError("x")
    got = spans(tp)["as-cm"]
    assert got["logs"][0]["fields"]["exception.escaped"] == "True"
    assert got["tags"]["otel.status_code"] == "ERROR"


def test_bad_input_warns_and_never_raises(tp, caplog):
    caplog.set_level(logging.WARNING, "tracewire.otel")
    t = tp.get_tracer("scope")
    s = t.start_span(None, kind="weird", start_time="soon")
    s.set_attribute("obj", object())
    s.set_attribute(5, "int key")
    s.set_attribute("", "empty key")
    s.set_attribute("big", 1 << 70)
    s.set_attributes("not a mapping")
    s.add_event(123, attributes="not a mapping", timestamp="later")
    s.set_status("not a status")
    s.update_name(7)
    s.end(end_time="never")
    s.end()                              # twice
    s.set_attribute("late", 1)           # after end
    assert not s.is_recording()
    got = spans(tp)[""]
    assert "obj" not in got["tags"] and "late" not in got["tags"]
    assert got["tags"]["big"] == str(1 << 70)
    assert [log["fields"]["event"] for log in got["logs"]] == ["123"]
    text = " ".join(r.getMessage() for r in caplog.records)
    for part in ("obj", "mapping", "ended", "Invalid status", "kind"):
        assert part in text, part


def test_limits_and_lengths(tp):
    from tracewire.otel import SpanLimits
    p = TracerProvider(service_name="lim", options={"reporter.protocols": "memory"},
                       span_limits=SpanLimits(max_attributes=2, max_events=1,
                                              max_span_attribute_length=3,
                                              max_event_attributes=1, max_attribute_length=2),
                       shutdown_on_exit=False)
    s = p.get_tracer("s").start_span("l")
    s.set_attribute("a", "abcdef")
    s.set_attribute("b", ["xyzw", "q"])
    s.set_attribute("c", 1)              # over the count
    s.set_attribute("a", "zzzzzz")       # replacing is not a new attribute
    s.add_event("e1", {"x": "long", "y": 1})
    s.add_event("e2")
    s.end()
    got = spans(p)["l"]
    p.shutdown()
    assert got["tags"]["a"] == "zzz" and got["tags"]["b"] == ["xyz", "q"]
    assert "c" not in got["tags"]
    assert s.attributes == {"a": "zzz", "b": ("xyz", "q")}
    assert len(got["logs"]) == 1 and got["logs"][0]["fields"] == {"event": "e1", "x": "lo"}


def test_unsampled_and_closed_provider():
    p = TracerProvider(service_name="off", sampler="always_off",
                       options={"reporter.protocols": "memory"}, shutdown_on_exit=False)
    t = p.get_tracer("s")
    s = t.start_span("u")
    assert not s.is_recording() and not s.get_span_context().trace_flags.sampled
    s.set_attribute("k", 1)
    s.end()
    p.shutdown()
    after = t.start_span("after-close")
    after.set_attribute("k", 1)
    after.end()
    with t.start_as_current_span("cm-after-close") as c:
        assert trace.get_current_span() is c


def test_opentracing_bridge_core_span(tp):
    t = tp.get_tracer("scope")
    ot = tp.opentracing_tracer
    with t.start_as_current_span("otel-parent") as parent:
        core = parent.core_span
        assert isinstance(core, tracewire.Span) and parent.core_span is core
        assert core.trace_id == parent.get_span_context().trace_id
        with ot.start_active_span("ot-child") as scope:
            assert trace.get_current_span().core_span is scope.span
            with t.start_as_current_span("otel-grandchild"):
                pass
    del parent
    assert core.finished and core.operation_name == "otel-parent"
    got = spans(tp)
    assert got["ot-child"]["parent_id"] == got["otel-parent"]["span_id"]
    assert got["otel-grandchild"]["parent_id"] == got["ot-child"]["span_id"]


def test_span_tracer_cycle_collected(tp):
    """A span in a reference cycle with its Tracer: the garbage collector may
    clear the Tracer first; the span's own reference to the core tracer keeps
    the core span's teardown safe (the core frees a tracer after its spans)."""
    import gc
    for _ in range(3):
        t = _trace._new_tracer(tp, "cycle")
        s = t.start_span("in-cycle")
        ended = t.start_span("ended-in-cycle")
        ended.end()
        t.keep = (s, ended)       # tracer -> spans -> tracer
        del t, s, ended
        gc.collect()
    got = spans(tp)
    assert "ended-in-cycle" in got and "in-cycle" not in got   # unended: discarded
    after = tp.get_tracer("after").start_span("after")
    after.end()
    assert "after" in spans(tp)
