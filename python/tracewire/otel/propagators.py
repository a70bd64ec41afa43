"""OTel TextMap propagators for the Jaeger and B3 formats, parsed and written
by the core (the same code as every tracewire face), usable without
opentelemetry-propagator-jaeger / -b3:

    OTEL_PROPAGATORS=tracecontext,baggage,tracewire_jaeger

or ``propagate.set_global_textmap(CompositePropagator([...,
JaegerPropagator()]))``. Names (entry points ``opentelemetry_propagator``):
``tracewire_jaeger`` (uber-trace-id), ``tracewire_b3`` (single ``b3`` header),
``tracewire_b3multi`` (X-B3-*). The span context only: OTel baggage travels
with the W3C ``baggage`` propagator.

How: inject hands the current span's core context (or, for a span that is not
tracewire's, a core context made from its ids through the core's W3C parser)
to a private reporting-less core tracer whose inject writes just this format;
extract reads the carrier through the getter into a dict, lets that tracer's
extract parse it, and puts a remote ``NonRecordingSpan`` into the context.
"""
import logging

import opentracing
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (DefaultGetter, DefaultSetter, TextMapPropagator)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from .. import _core
from ._trace import Span

_log = logging.getLogger("tracewire.otel")
_HTTP = opentracing.Format.HTTP_HEADERS
_TEXT = opentracing.Format.TEXT_MAP
_getter, _setter = DefaultGetter(), DefaultSetter()


class _CorePropagator(TextMapPropagator):
    _format = None            # the core's propagation name
    _fields = frozenset()

    def __init__(self):
        self._tracer = _core.Tracer({"reporter.protocols": "none", "service_name": "propagator",
                                     "propagation.inject": self._format,
                                     "propagation.extract": self._format + ",w3c"})

    def _core_context(self, span):
        if type(span) is Span:
            return span.core_span
        sc = span.get_span_context()
        if not sc.is_valid:
            return None
        carrier = {"traceparent": "00-%032x-%016x-%02x" % (sc.trace_id, sc.span_id,
                                                         int(sc.trace_flags) & 0xFF)}
        return self._tracer.extract(_TEXT, carrier)

    def inject(self, carrier, context=None, setter=_setter):
        try:
            c = self._core_context(trace_api.get_current_span(context))
            if c is None:
                return
            out = {}
            self._tracer.inject(c, _HTTP, out)
        except Exception:  # noqa: BLE001  propagation must not break the request
            _log.warning("tracewire.otel: %s inject failed", self._format, exc_info=True)
            return
        for k, v in out.items():
            if k.lower() in self._fields:
                setter.set(carrier, k, v)

    def extract(self, carrier, context=None, getter=_getter):
        if context is None:           # as the API's TraceContext propagator
            context = Context()
        headers = {}
        try:
            for k in getter.keys(carrier):
                if k.lower() in self._fields:
                    v = getter.get(carrier, k)
                    if v:
                        headers[k.lower()] = v[0] if isinstance(v, (list, tuple)) else v
        except Exception:  # noqa: BLE001
            _log.warning("tracewire.otel: %s extract could not read the carrier", self._format,
                         exc_info=True)
        if not headers:
            return context
        try:
            c = self._tracer.extract(_HTTP, headers)
        except Exception:  # noqa: BLE001  a malformed header is no parent, as the SDK's
            _log.warning("tracewire.otel: malformed %s header ignored", self._format)
            return context
        if c is None or not c.has_trace:
            return context
        sc = SpanContext(c.trace_id, c.span_id, True, TraceFlags(1 if c.sampled else 0))
        return trace_api.set_span_in_context(NonRecordingSpan(sc), context)

    @property
    def fields(self):
        return set(self._fields)


class JaegerPropagator(_CorePropagator):
    """uber-trace-id, as jaeger_client and the core write it."""
    _format = "jaeger"
    _fields = frozenset({"uber-trace-id"})


class B3SinglePropagator(_CorePropagator):
    """The single ``b3`` header."""
    _format = "b3"
    _fields = frozenset({"b3"})


class B3MultiPropagator(_CorePropagator):
    """X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId, X-B3-Sampled, X-B3-Flags."""
    _format = "b3multi"
    _fields = frozenset({"x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled",
                         "x-b3-flags"})
