"""What python/tracewire/pycompat.h provides on 3.9/3.10 behaves as the newer
CPython's own API on every interpreter tests/python/run.sh runs this suite on:
types made with Py_TPFLAGS_DISALLOW_INSTANTIATION refuse direct calls, and module
state is found through a Python subclass's MRO (PyType_GetModuleByDef)."""
import pathlib
import sys

import opentracing
import pytest

import tracewire

TOP = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["Span", "SpanContext", "Scope"])
def test_core_made_types_cannot_be_called(name):
    with pytest.raises(TypeError, match="cannot create"):
        getattr(tracewire, name)()


def test_subclasses_find_the_module_state():
    class MyTracer(tracewire.Tracer):
        pass

    class MyScopes(tracewire.ThreadLocalScopeManager):
        pass

    t = MyTracer({"service_name": "sub", "reporter.protocols": "memory"}, MyScopes())
    with t.start_active_span("outer") as scope:
        assert isinstance(scope.span, opentracing.Span)
        scope.span.set_tag("python", "%d.%d" % sys.version_info[:2])
        child = t.start_span("inner")
        assert child.context.trace_id == scope.span.context.trace_id
        child.finish()
    carrier = {}
    t.inject(scope.span.context, opentracing.Format.TEXT_MAP, carrier)
    assert t.extract(opentracing.Format.TEXT_MAP, carrier).trace_id == scope.span.context.trace_id
    t.close()


def test_version_is_the_version_file():
    assert tracewire.__version__ == (TOP / "VERSION").read_text().strip()
