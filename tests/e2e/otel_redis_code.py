"""Runs otel_redis_app.py instrumented in code rather than by
opentelemetry-instrument: tracewire.otel's TracerProvider (configured from the
OTEL_* environment) set as the global provider, then the Flask, requests and
redis instrumentations, then the unmodified app.

    otel_redis_code.py <otel_redis_app.py arguments>
"""
import os
import runpy
import sys

from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor

from tracewire.otel import TracerProvider

trace.set_tracer_provider(TracerProvider())
FlaskInstrumentor().instrument()
RequestsInstrumentor().instrument()
RedisInstrumentor().instrument()
app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "otel_redis_app.py")
sys.argv = [app] + sys.argv[1:]
runpy.run_path(app, run_name="__main__")
