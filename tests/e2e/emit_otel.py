"""The OpenTelemetry face against the real Jaeger (OTLP/HTTP on 4318): an
OTel-instrumented Flask service (tracewire.otel + opentelemetry-instrumentation
-flask / -requests) calls an opentracing-face service which calls the first
one back. Prints one JSON line: the trace id (hex) and the service names.

    emit_otel.py <run-id>
"""
import json
import sys
import threading
import urllib.request

import flask
import opentracing
import requests
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from werkzeug.serving import make_server

import tracewire
from tracewire.otel import TracerProvider

run = sys.argv[1]
front_name, back_name = "otel-front-" + run, "ot-back-" + run
provider = TracerProvider(service_name=front_name, options={"reporter.flush_interval_ms": "100"})
trace.set_tracer_provider(provider)
ot = tracewire.Tracer({"service_name": back_name, "reporter.protocols": "otlp",
                       "reporter.flush_interval_ms": "100"})
ports, seen = {}, {}

back = flask.Flask("back")


@back.route("/b")
def b():
    ctx = ot.extract(opentracing.Format.HTTP_HEADERS, dict(flask.request.headers))
    with ot.start_active_span("back-handler", child_of=ctx) as scope:
        scope.span.set_tag("face", "opentracing")
        h = {}
        ot.inject(scope.span, opentracing.Format.HTTP_HEADERS, h)
        req = urllib.request.Request("http://127.0.0.1:%d/c" % ports["front"], headers=h)
        return urllib.request.urlopen(req, timeout=10).read()


front = flask.Flask("front")


@front.route("/a")
def a():
    seen["trace_id"] = "%032x" % trace.get_current_span().get_span_context().trace_id
    with trace.get_tracer("emit_otel", "1.0").start_as_current_span("work") as span:
        span.set_attribute("items", [1, 2, 3])
        span.add_event("checkpoint", {"n": 1})
        return requests.get("http://127.0.0.1:%d/b" % ports["back"], timeout=10).text


@front.route("/c")
def c():
    return "deep"


FlaskInstrumentor().instrument_app(front, tracer_provider=provider)
RequestsInstrumentor().instrument(tracer_provider=provider)
servers = []
for name, app in (("back", back), ("front", front)):
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    ports[name] = srv.server_port
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    servers.append(srv)
body = urllib.request.urlopen("http://127.0.0.1:%d/a" % ports["front"], timeout=10).read()
for srv in servers:
    srv.shutdown()
ok = provider.force_flush(10000) and ot.flush(10.0)
provider.shutdown()
ot.close()
print(json.dumps({"body": body.decode(), "trace_id": seen.get("trace_id"), "flushed": ok,
                  "front": front_name, "back": back_name}))
