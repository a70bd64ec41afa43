"""start_as_current_span side by side with the real opentelemetry-sdk: the
current span and Context seen inside and after each `with`, and the spans on
the wire (OTLP, decoded), for what the C context manager's fast path does
differently inside (_core_otel.c): a spare Context refilled in place instead of
a new one per `with`, __enter__/__exit__ method objects living inside a pooled
manager, a blank span reused in the spare Context. Each observation is plain
data (names, booleans), so the SDK's run and tracewire's compare equal.

A custom runtime context (OTEL_PYTHON_CONTEXT naming another
opentelemetry_context entry point) must take the API's attach/detach path: that
runs in a subprocess with a real entry point on its sys.path."""
import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import weakref

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api

from test_otel_sdk_expectations import run_both


def _cur():
    s = trace_api.get_current_span()
    return None if s is trace_api.INVALID_SPAN else s.name


def s_lifecycle(seen):
    def scenario(tracer):
        outer = context_api.attach(context_api.get_current())   # undone at the end
        # loops, with and without `as` (the spare Context is refilled each time)
        for i in range(3):
            with tracer.start_as_current_span("loop-as-%d" % i) as s:
                seen.append(("in", _cur(), s.name, s.is_recording()))
                s.set_attribute("i", i)
            seen.append(("after", _cur(), s.is_recording()))
        for i in range(3):
            with tracer.start_as_current_span("loop-%d" % i):
                seen.append(("in", _cur()))
        # nested three deep, each level seen again after its child
        with tracer.start_as_current_span("a"):
            with tracer.start_as_current_span("b"):
                with tracer.start_as_current_span("c"):
                    seen.append(("deep", _cur()))
                seen.append(("back-b", _cur()))
            seen.append(("back-a", _cur()))
        seen.append(("top", _cur()))
        # a Context captured inside keeps its span while later `with`s run
        with tracer.start_as_current_span("captured"):
            kept = context_api.get_current()
        for i in range(2):
            with tracer.start_as_current_span("later-%d" % i):
                pass
        seen.append(("kept", trace_api.get_current_span(kept).name, len(kept)))
        # a span kept from inside stays itself
        spans = []
        for i in range(3):
            with tracer.start_as_current_span("held-%d" % i):
                spans.append(trace_api.get_current_span())
        seen.append(("held", [s.name for s in spans], len({id(s) for s in spans}),
                     [s.is_recording() for s in spans]))
        # a weak reference to the Context: it dies with the block, as the SDK's
        with tracer.start_as_current_span("weak"):
            wr = weakref.ref(context_api.get_current())
        seen.append(("weak-dead", wr() is None))
        # an attribute set on the Context (reference dropped): the next is new
        with tracer.start_as_current_span("marked"):
            context_api.get_current().mark = 1
        with tracer.start_as_current_span("after-marked"):
            seen.append(("mark", hasattr(context_api.get_current(), "mark")))
        # a Context changed behind the API's back (dict methods), same size
        with tracer.start_as_current_span("changed"):
            c = context_api.get_current()
            dict.clear(c)
            dict.__setitem__(c, "other", 1)
            del c
        with tracer.start_as_current_span("after-changed"):
            seen.append(("other", "other" in context_api.get_current(), _cur()))
        # a Context holding more than the span: children keep the value
        token = context_api.attach(context_api.set_value("app-key", "v"))
        with tracer.start_as_current_span("with-value"):
            with tracer.start_as_current_span("with-value-child"):
                seen.append(("value", context_api.get_value("app-key"), _cur(),
                             sorted(k for k in context_api.get_current() if "span" not in k)))
        context_api.detach(token)
        seen.append(("value-gone", context_api.get_value("app-key"), _cur()))
        # an exception inside: recorded with its status, context restored
        try:
            with tracer.start_as_current_span("raises"):
                with tracer.start_as_current_span("raises-inner"):
                    raise ValueError("boom")
        except ValueError:
            seen.append(("after-raise", _cur()))
        with tracer.start_as_current_span("open", end_on_exit=False) as o:
            pass
        seen.append(("open", o.is_recording(), _cur()))
        o.end()

        # the decorator: a manager per call
        @tracer.start_as_current_span("decorated")
        def f(k):
            seen.append(("dec", _cur(), k))
            return k * 2

        with tracer.start_as_current_span("dec-parent"):
            seen.append(("dec-r", f(1), f(2), _cur()))
        seen.append(("dec-top", f(3), _cur()))

        # asyncio: two tasks interleaving their current spans
        async def task(name):
            with tracer.start_as_current_span(name):
                await asyncio.sleep(0)
                r1 = _cur()
                with tracer.start_as_current_span(name + "-child"):
                    await asyncio.sleep(0)
                    r2 = _cur()
                await asyncio.sleep(0)
                return r1, r2, _cur()

        async def both():
            return await asyncio.gather(task("t1"), task("t2"))

        with tracer.start_as_current_span("async-parent"):
            seen.append(("async", asyncio.run(both()), _cur()))

        # threads: each its own current span, the managers' pool shared
        def worker(n, out):
            ok = True
            for _ in range(50):
                with tracer.start_as_current_span("th%d" % n):
                    with tracer.start_as_current_span("th%d-c" % n):
                        ok = ok and _cur() == "th%d-c" % n
                    ok = ok and _cur() == "th%d" % n
                ok = ok and _cur() is None
            out.append(ok)

        outs = []
        ths = [threading.Thread(target=worker, args=(n, outs)) for n in range(3)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        seen.append(("threads", outs))

        # managers exited out of order, by hand (ContextVar tokens, as the SDK)
        m1 = tracer.start_as_current_span("m1")
        m2 = tracer.start_as_current_span("m2")
        m1.__enter__()
        m2.__enter__()
        seen.append(("m-in", _cur()))
        m1.__exit__(None, None, None)
        seen.append(("m1-out", _cur()))
        m2.__exit__(None, None, None)
        seen.append(("m2-out", _cur()))
        context_api.detach(outer)
        seen.append(("end", _cur()))
    return scenario


def test_current_span_lifecycle_matches_the_sdk():
    sdk_seen, tw_seen = [], []
    sdk_calls = [sdk_seen]

    def scenario(tracer):
        s_lifecycle(sdk_calls.pop() if sdk_calls else tw_seen)(tracer)

    sdk, tw, wire = run_both(scenario)
    assert tw_seen == sdk_seen
    assert tw == sdk
    # what the comparison rests on, said plainly
    assert ("deep", "c") in tw_seen and ("back-a", "a") in tw_seen and ("top", None) in tw_seen
    assert ("kept", "captured", 1) in tw_seen and ("weak-dead", True) in tw_seen
    assert ("mark", False) in tw_seen and ("other", False, "after-changed") in tw_seen
    assert ("value", "v", "with-value-child", ["app-key"]) in tw_seen
    assert ("held", ["held-0", "held-1", "held-2"], 3, [False] * 3) in tw_seen
    assert ("threads", [True] * 3) in tw_seen
    assert ("m1-out", None) in tw_seen and ("m2-out", "m1") in tw_seen and ("end", None) in tw_seen
    assert ("async", [("t1", "t1-child", "t1"), ("t2", "t2-child", "t2")], "async-parent") in tw_seen
    ids = {n: s.context.span_id for n, s in wire.items()}
    assert wire["c"].parent.span_id == ids["b"] and wire["b"].parent.span_id == ids["a"]
    assert wire["later-0"].parent is None and wire["after-changed"].parent is None
    assert wire["with-value-child"].parent.span_id == ids["with-value"]
    assert wire["t1-child"].parent.span_id == ids["t1"]
    assert wire["t1"].parent.span_id == ids["async-parent"]
    assert wire["raises"].status.status_code.name == "ERROR"
    assert [e.name for e in wire["raises-inner"].events] == ["exception"]
    assert wire["m2"].parent.span_id == ids["m1"]


def test_repeated_current_spans_on_the_wire_are_distinct_spans():
    """Many `with`s in a row (the spare Context and blank span reused): each
    span its own id, name, attributes; parents right for nested ones."""
    def scenario(tracer):
        for i in range(20):
            with tracer.start_as_current_span("p%d" % i) as p:
                p.set_attribute("n", i)
                with tracer.start_as_current_span("k%d" % i):
                    trace_api.get_current_span().set_attribute("n", -i)

    sdk, tw, wire = run_both(scenario)
    assert tw == sdk
    assert len({s.context.span_id for s in wire.values()}) == 40
    for i in range(20):
        assert wire["p%d" % i].attributes == {"n": i} and wire["k%d" % i].attributes == {"n": -i}
        assert wire["k%d" % i].parent.span_id == wire["p%d" % i].context.span_id
        assert wire["p%d" % i].parent is None


RUNTIME = '''
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

CALLS = []


class CountingRuntime(ContextVarsRuntimeContext):
    """Another runtime context: contextvars underneath, each call counted."""

    def attach(self, context):
        CALLS.append("attach")
        return super().attach(context)

    def detach(self, token):
        CALLS.append("detach")
        return super().detach(token)
'''

CHILD = '''
import sys
from opentelemetry import context as context_api, trace
import tw_test_runtime
from tracewire.otel import TracerProvider
assert type(context_api._RUNTIME_CONTEXT).__name__ == "CountingRuntime", context_api._RUNTIME_CONTEXT
tp = TracerProvider(service_name="rt", options={"reporter.protocols": "memory"}, shutdown_on_exit=False)
t = tp.get_tracer("rt")
seen = []
for _ in range(2):
    with t.start_as_current_span("a") as a:
        with t.start_as_current_span("b"):
            seen.append(trace.get_current_span().name)
        seen.append(trace.get_current_span() is a)
try:
    with t.start_as_current_span("x"):
        raise KeyError("k")
except KeyError:
    seen.append(trace.get_current_span() is trace.INVALID_SPAN)
assert tp.force_flush(5000)
got = {s["operation_name"]: s for s in tp.opentracing_tracer.memory_spans()}
assert got["b"]["parent_id"] == got["a"]["span_id"], got
assert got["x"]["tags"]["otel.status_code"] == "ERROR"
print(seen, tw_test_runtime.CALLS.count("attach"), tw_test_runtime.CALLS.count("detach"))
tp.shutdown()
'''


def test_custom_runtime_context_takes_the_api_path(tmp_path):
    """OTEL_PYTHON_CONTEXT names another runtime (a real entry point): the C
    manager must go through context.attach/detach, with the same behaviour."""
    (tmp_path / "tw_test_runtime.py").write_text(RUNTIME)
    dist = tmp_path / "tw_test_runtime-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tw-test-runtime\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[opentelemetry_context]\ntw_counting = tw_test_runtime:CountingRuntime\n")
    env = dict(os.environ, OTEL_PYTHON_CONTEXT="tw_counting",
               PYTHONPATH=os.pathsep.join([str(tmp_path)] + [p for p in sys.path if p]))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # 5 current spans: each one attach and one detach through the runtime
    assert r.stdout.split() == ["['b',", "True,", "'b',", "True,", "True]", "5", "5"], r.stdout


def test_face_set_up_anew_by_a_logging_handler_inside_enter():
    """A warning during __enter__ (a bad span name) whose logging handler sets
    the face up anew (tracewire.otel._trace._setup_core, replacing the objects
    the C code holds): the `with` carries on with the new ones, the spare
    Context taken before is dropped, nothing is read from the freed state
    (the sanitized run of this suite would say so)."""
    import logging
    from tracewire.otel import TracerProvider, _trace

    class Reset(logging.Handler):
        def emit(self, record):
            _trace._setup_core()

    tp = TracerProvider(service_name="re", options={"reporter.protocols": "memory"},
                        shutdown_on_exit=False)
    t = tp.get_tracer("re")
    for _ in range(2):                       # leaves a spare Context behind
        with t.start_as_current_span("warm"):
            pass
    h = Reset()
    log = logging.getLogger("tracewire.otel")
    log.addHandler(h)
    try:
        with t.start_as_current_span(None) as s:     # warns: "Span name must be a str"
            inside = trace_api.get_current_span() is s
            with t.start_as_current_span("child"):
                nested = _cur()
        after = _cur()
    finally:
        log.removeHandler(h)
    assert (inside, nested, after) == (True, "child", None)
    with t.start_as_current_span("later"):
        assert _cur() == "later"
    assert tp.force_flush(5000)
    got = {x["operation_name"]: x for x in tp.opentracing_tracer.memory_spans()}
    assert got["child"]["parent_id"] == got[""]["span_id"]
    tp.shutdown()


def test_manager_methods_as_bound_methods():
    """`with` binds the manager's own method objects: they behave as bound
    methods (called by hand, kept past the manager, wrong arguments refused)."""
    import pytest
    from tracewire.otel import TracerProvider

    tp = TracerProvider(service_name="m", options={"reporter.protocols": "none"},
                        shutdown_on_exit=False)
    t = tp.get_tracer("m")
    cm = t.start_as_current_span("by-hand")
    enter, exit_ = cm.__enter__, cm.__exit__
    assert enter.__self__ is cm and exit_.__self__ is cm and enter is not exit_
    assert "__enter__" in repr(enter) and "__exit__" in repr(exit_)
    del cm                                  # the methods keep their manager
    with pytest.raises(TypeError):
        enter(1)
    with pytest.raises(TypeError):
        exit_()
    span = enter()
    assert trace_api.get_current_span() is span
    assert exit_(None, None, None) is False
    assert _cur() is None and not span.is_recording()
    with pytest.raises(TypeError):
        enter(x=1)
    tp.shutdown()
