"""opentracing's own compatibility harness, unmodified, against tracewire."""
import asyncio

import opentracing
from opentracing.harness.api_check import APICompatibilityCheckMixin
from opentracing.harness.scope_check import ScopeCompatibilityCheckMixin
from opentracing.scope_managers import ThreadLocalScopeManager as OTThreadLocal

import tracewire
from conftest import memory_tracer


def _is_parent(parent, span):
    if parent is None:
        return span.context.parent_id is None
    return (span.context.parent_id == parent.context.span_id
            and span.context.trace_id == parent.context.trace_id)


class TestAPIThreadLocal(APICompatibilityCheckMixin):
    def tracer(self):
        if not hasattr(self, "_tracer_obj"):
            self._tracer_obj = memory_tracer()
        return self._tracer_obj

    def is_parent(self, parent, span):
        return _is_parent(parent, span)


class TestAPIContextVars(APICompatibilityCheckMixin):
    def tracer(self):
        if not hasattr(self, "_tracer_obj"):
            self._tracer_obj = memory_tracer(tracewire.ContextVarsScopeManager())
        return self._tracer_obj

    def is_parent(self, parent, span):
        return _is_parent(parent, span)


class TestAPIForeignScopeManager(APICompatibilityCheckMixin):
    """Any opentracing scope manager is accepted (here opentracing's own)."""

    def tracer(self):
        if not hasattr(self, "_tracer_obj"):
            self._tracer_obj = memory_tracer(OTThreadLocal())
        return self._tracer_obj

    def is_parent(self, parent, span):
        return _is_parent(parent, span)


class TestThreadLocalScopeManager(ScopeCompatibilityCheckMixin):
    def scope_manager(self):
        return tracewire.ThreadLocalScopeManager()


class TestContextVarsScopeManager(ScopeCompatibilityCheckMixin):
    def scope_manager(self):
        return tracewire.ContextVarsScopeManager()

    def run_test(self, test_fn):
        async def runner():
            test_fn()
        asyncio.run(runner())


def test_types_are_opentracing_types():
    t = memory_tracer()
    assert isinstance(t, opentracing.Tracer)
    with t.start_active_span("x") as scope:
        assert isinstance(scope, opentracing.Scope)
        assert isinstance(scope.span, opentracing.Span)
        assert isinstance(scope.span.context, opentracing.SpanContext)
        assert scope.span.tracer is t
    assert isinstance(t.scope_manager, opentracing.ScopeManager)
    assert isinstance(tracewire.ContextVarsScopeManager(), opentracing.ScopeManager)
