"""tracewire's OpenTelemetry face: the ``opentelemetry-api`` trace API on the
tracewire C core.

    from opentelemetry import trace
    from tracewire.otel import TracerProvider

    trace.set_tracer_provider(TracerProvider(service_name="my-service"))
    tracer = trace.get_tracer(__name__)
    with tracer.start_as_current_span("work") as span:
        span.set_attribute("k", "v")

Unmodified apps: ``OTEL_PYTHON_TRACER_PROVIDER=tracewire opentelemetry-instrument
python app.py`` (the ``opentelemetry_tracer_provider`` entry point ``tracewire``).

Both faces in one process: ``provider.opentracing_tracer`` is an opentracing
Tracer on the same core tracer whose scope manager keeps the active span in
the OTel context, so spans of either face started inside the other's nest in
one trace (see ``OtelContextScopeManager``).
"""
from ._config import SpanLimits
from ._trace import OtelContextScopeManager, Span, Tracer, TracerProvider

__all__ = ["TracerProvider", "Tracer", "Span", "SpanLimits", "OtelContextScopeManager"]
