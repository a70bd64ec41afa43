"""Object lifetimes: instance dicts, weak references, reference cycles through
spans, scopes and tracers, subclasses — collected without leaks or crashes."""
import gc
import sys
import tracemalloc
import weakref

import opentracing
from opentracing import Format

import tracewire
from conftest import memory_tracer


def test_span_in_a_cycle_is_collected():
    t = memory_tracer()
    s = t.start_span("cyc")
    s.me = s
    r = weakref.ref(s)
    del s
    gc.collect()
    assert r() is None


def test_tracer_and_spans_in_one_cycle_are_collected():
    t = memory_tracer()
    spans = [t.start_span("s%d" % i) for i in range(5)]
    for s in spans:
        s.tracer_ref = t
    t.all = spans
    scope = t.start_active_span("active")
    scope.span.scope = scope          # span -> scope -> span
    scope.close()                     # an active scope is legitimately kept alive
    ctx = spans[0].context
    ctx.span = spans[0]
    tr = weakref.ref(t)
    del t, spans, scope, ctx, s
    gc.collect()
    gc.collect()
    assert tr() is None


def test_context_outlives_its_span_safely():
    t = memory_tracer()
    s = t.start_span("s")
    ctx = s.context
    trace_id = s.context.trace_id
    del s
    gc.collect()
    assert ctx.trace_id == trace_id     # the context keeps the span alive
    child = t.start_span("c", child_of=ctx)
    assert child.context.trace_id == trace_id


def test_subclassed_scope_manager_and_weakrefs():
    class MyManager(tracewire.ContextVarsScopeManager):
        pass

    m = MyManager()
    m.extra = {"self": m}
    t = memory_tracer(m)
    with t.start_active_span("x") as scope:
        assert t.active_span is scope.span
    r = weakref.ref(m)
    del m, t, scope
    gc.collect()
    assert r() is None


def test_no_leak_over_many_spans_with_attributes():
    t = memory_tracer(**{"reporter.protocols": "none"})
    h = {}

    def work(n):
        for i in range(n):
            with t.start_active_span("op") as scope:
                s = scope.span
                s.note = i
                s.set_tag("k", "v").log_kv({"event": "e"})
                s.set_baggage_item("b", "v")
                t.inject(s, Format.TEXT_MAP, h)
                c = t.extract(Format.TEXT_MAP, h)
                t.start_span("child", child_of=c).finish()

    work(2000)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    blocks = sys.getallocatedblocks()
    work(20000)
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert growth < 64 * 1024, growth
    assert sys.getallocatedblocks() - blocks < 1000


def test_types_are_exact_opentracing_subclasses():
    for cls, base in ((tracewire.Span, opentracing.Span), (tracewire.Tracer, opentracing.Tracer),
                      (tracewire.Scope, opentracing.Scope),
                      (tracewire.SpanContext, opentracing.SpanContext),
                      (tracewire.ThreadLocalScopeManager, opentracing.ScopeManager)):
        assert issubclass(cls, base)
        assert cls.__module__ == "tracewire"
