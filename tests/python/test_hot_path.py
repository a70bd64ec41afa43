"""The Python hot path (#21): start_span(name) / start_active_span(name) without
argument parsing, set_tag's inline conversions, and the reuse of freed Span and
Scope objects. Each test compares against what the general path records or
asserts what a reused object must not carry over; spans are decoded from the
memory reporter."""
import enum
import gc
import threading
import weakref

import opentracing
import pytest
from opentracing.scope_managers import ThreadLocalScopeManager as OTThreadLocal

import tracewire
from conftest import memory_tracer


class Color(enum.IntEnum):
    RED = 7


class Label(str):
    pass


VALUES = [
    ("ascii", "GET"),
    ("utf8", "caf\u00e9 \u200b \U0001f600"),
    ("int", 200),
    ("int_max", 2 ** 63 - 1),
    ("int_min", -(2 ** 63)),
    ("int_over", 2 ** 63),
    ("int_under", -(2 ** 63) - 1),
    ("float", 0.5),
    ("true", True),
    ("false", False),
    ("intenum", Color.RED),
    ("strsub", Label("sub")),
    ("surrogate", "v\ud800w"),
    ("none", None),
    ("bytes", b"\x01"),
]


def tags_of(tracer, name):
    (rec,) = [s for s in tracer.memory_spans(clear=True) if s["operation_name"] == name]
    return rec["tags"]


def test_set_tag_fast_path_records_what_the_general_path_records(tracer):
    s = tracer.start_span("fast")
    for k, v in VALUES:
        assert s.set_tag(k, v) is s
    s.set_tag("k\u00e9y", "non-ascii key")
    s.set_tag(Label("subkey"), 1)
    s.finish()
    fast = tags_of(tracer, "fast")
    # tags= goes through the general conversion for every pair
    tracer.start_span("general", tags=dict(VALUES + [("k\u00e9y", "non-ascii key"),
                                                      ("subkey", 1)])).finish()
    general = tags_of(tracer, "general")
    assert fast == general
    assert fast["ascii"] == "GET"
    assert fast["utf8"] == "caf\u00e9 \u200b \U0001f600"
    assert fast["int"] == 200 and fast["int_max"] == 2 ** 63 - 1 and fast["int_min"] == -(2 ** 63)
    assert fast["int_over"] == str(2 ** 63) and fast["int_under"] == str(-(2 ** 63) - 1)
    assert fast["float"] == 0.5 and fast["true"] is True and fast["false"] is False
    assert fast["intenum"] == 7 and fast["strsub"] == "sub"
    assert fast["surrogate"].startswith("v") and fast["surrogate"].endswith("w")
    assert fast["none"] == "None" and fast["bytes"] == {"binary": "01"}
    assert fast["k\u00e9y"] == "non-ascii key" and fast["subkey"] == 1


def test_start_span_by_name_has_the_active_span_as_parent(tracer):
    with tracer.start_active_span("a") as a:
        with tracer.start_active_span("b") as b:
            c = tracer.start_span("c")
            assert b.span.context.parent_id == a.span.context.span_id
            assert c.context.parent_id == b.span.context.span_id
            assert c.context.trace_id == a.span.context.trace_id
            c.finish()
        assert tracer.active_span is a.span
    assert tracer.active_span is None
    root = tracer.start_span("root")
    assert root.context.parent_id is None
    root.finish()


def test_active_scope_with_a_finished_or_foreign_span_still_parents_as_before(tracer):
    # a finished span in the active scope still parents (opentracing does)
    scope = tracer.scope_manager.activate(tracer.start_span("p"), True)
    scope.span.finish()
    child = tracer.start_span("after-finish")
    assert child.context.parent_id == scope.span.context.span_id
    scope.close()
    # a foreign span whose context is ours, made active in our manager
    mine = tracer.start_span("mine")

    class Foreign(opentracing.Span):
        pass

    foreign = Foreign(tracer, mine.context)
    scope = tracer.scope_manager.activate(foreign, False)
    child = tracer.start_span("child-of-foreign")
    assert child.context.parent_id == mine.context.span_id
    scope.close()


def test_name_that_is_not_a_plain_str_takes_the_general_path(tracer):
    tracer.start_span(Label("label")).finish()
    tracer.start_span(None).finish()
    with pytest.raises(TypeError):
        tracer.start_span("x", "y", "z", "w", "v", "u", "t")
    names = sorted(s["operation_name"] for s in tracer.memory_spans())
    assert names == ["", "label"]


def test_foreign_scope_manager_keeps_working():
    t = memory_tracer(OTThreadLocal())
    with t.start_active_span("outer") as outer:
        inner = t.start_span("inner")
        assert inner.context.parent_id == outer.span.context.span_id
        inner.finish()
    assert t.scope_manager.active is None


def test_reused_span_objects_carry_nothing_over(tracer):
    first = tracer.start_span("first")
    first.note = "attribute"
    r = weakref.ref(first)
    first.finish()
    del first
    assert r() is None
    for _ in range(100):           # spans freed and made again
        s = tracer.start_span("again")
        assert not hasattr(s, "note")
        assert s.tracer is tracer and not s.finished and s.operation_name == "again"
        assert weakref.ref(s)() is s
        s.finish()
    assert len(tracer.memory_spans()) == 101


def test_reused_scope_objects_carry_nothing_over(tracer):
    with tracer.start_active_span("a") as scope:
        scope.note = 1
        first_span = scope.span
    del scope
    for i in range(100):
        with tracer.start_active_span("b%d" % i) as scope:
            assert not hasattr(scope, "note")
            assert scope.span is not first_span and tracer.active_span is scope.span
            assert scope.manager is tracer.scope_manager
    assert tracer.active_span is None
    assert len(tracer.memory_spans()) == 101


def test_spans_kept_by_others_are_not_reused(tracer):
    kept = [tracer.start_span("k%d" % i) for i in range(80)]
    ids = {s.context.span_id for s in kept}
    for s in kept[::2]:
        s.finish()
    del s
    kept = kept[1::2]              # half freed, half alive
    fresh = [tracer.start_span("f%d" % i) for i in range(40)]
    assert not any(f is k for f in fresh for k in kept)
    for s in kept + fresh:
        assert s.operation_name[0] in "kf" and not s.finished
        s.finish()
    assert len({s.context.span_id for s in fresh} | ids) == 120


def test_spans_from_many_threads_parent_per_thread(tracer):
    errors = []

    def work(i):
        try:
            for _ in range(200):
                with tracer.start_active_span("t%d" % i) as sc:
                    c = tracer.start_span("c%d" % i)
                    if c.context.parent_id != sc.span.context.span_id:
                        errors.append((i, "parent"))
                    c.finish()
        except Exception as e:  # pragma: no cover - reported below
            errors.append((i, repr(e)))

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert len(tracer.memory_spans()) == 4 * 200 * 2


def test_module_teardown_frees_pooled_objects():
    # spans and scopes go back to the pool, then the tracer, its module state
    # and the pool are collected without a crash (ASan runs this too)
    t = memory_tracer()
    for _ in range(50):
        with t.start_active_span("x"):
            pass
    r = weakref.ref(t)
    del t
    gc.collect()
    assert r() is None


def test_many_thread_local_managers_keep_their_own_active_scope():
    # more managers than static TLS slots: the rest use pthread keys
    tracers = [memory_tracer(tracewire.ThreadLocalScopeManager()) for _ in range(10)]
    scopes = [t.start_active_span("m%d" % i) for i, t in enumerate(tracers)]
    for t, sc in zip(tracers, scopes):
        assert t.active_span is sc.span
        child = t.start_span("child")
        assert child.context.parent_id == sc.span.context.span_id
        child.finish()
    seen = []

    def other_thread():
        seen.extend(t.active_span for t in tracers)

    th = threading.Thread(target=other_thread)
    th.start()
    th.join()
    assert seen == [None] * 10            # per thread
    for sc in reversed(scopes):
        sc.close()
    assert all(t.active_span is None for t in tracers)


def test_a_freed_managers_slot_shows_nothing_to_its_successor():
    for i in range(20):                   # slots freed and taken again
        m = tracewire.ThreadLocalScopeManager()
        t = memory_tracer(m)
        assert m.active is None and t.active_span is None
        scope = t.start_active_span("left-open-%d" % i)   # never closed
        assert m.active is scope
        del t, m, scope
        gc.collect()


def test_context_methods_behave_as_methods(tracer):
    scope = tracer.start_active_span("cm")
    assert scope.__enter__() is scope
    assert scope.__exit__.__self__ is scope
    with pytest.raises(TypeError):
        scope.__enter__(1)
    with pytest.raises(TypeError):
        scope.__exit__(None, None, None, exc=None)
    with pytest.raises(TypeError):
        tracewire.Scope.__exit__(object(), None, None, None)
    assert tracewire.Scope.__exit__(scope, None, None, None) is False
    assert tracer.active_span is None and scope.span.finished
    span = tracer.start_span("plain")
    with pytest.raises(TypeError):
        type(scope).__dict__.get("__exit__", tracewire.Scope.__exit__).__get__(span)
    with span as entered:
        assert entered is span
    assert span.finished
    # a bound method kept in the object's own dict is a cycle the GC collects
    s2 = tracer.start_span("cycle")
    s2.keep = s2.__exit__
    r = weakref.ref(s2)
    del s2
    gc.collect()
    assert r() is None


def test_exit_with_an_exception_records_it_through_the_pooled_method(tracer):
    for _ in range(3):
        with pytest.raises(ValueError):
            with tracer.start_active_span("err") as scope:
                scope.span.set_tag("k", 1)
                raise ValueError("boom")
    recs = tracer.memory_spans()
    assert len(recs) == 3
    for rec in recs:
        assert rec["tags"]["error"] is True and rec["tags"]["k"] == 1
        assert rec["logs"][-1]["fields"]["error.kind"] == "ValueError"
    assert tracer.active_span is None
