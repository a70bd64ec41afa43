"""tracewire.otel under the real OpenTelemetry instrumentations.

Two Flask services, each with its own tracewire TracerProvider (service
names "front" and "back"), instrumented by opentelemetry-instrumentation-flask;
front calls back with requests instrumented by
opentelemetry-instrumentation-requests. The spans come back from the core's
OTLP exporter to a real HTTP listener and are decoded with opentelemetry-proto:
one trace, the right parents, the instrumentations' attributes intact.
Then an unmodified app runs under ``opentelemetry-instrument`` with
OTEL_PYTHON_TRACER_PROVIDER=tracewire (the entry point).
"""
import os
import subprocess
import sys
import textwrap
import threading
import urllib.request

import flask
import pytest
import requests
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from werkzeug.serving import make_server

from tracewire.otel import TracerProvider

from test_otel_api import attrs, decode, scope_of


class Server:
    def __init__(self, app):
        self.srv = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.srv.server_port
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()


@pytest.fixture
def two_services(otlp_sink):
    url = "http://127.0.0.1:%d/v1/traces" % otlp_sink.port
    pf = TracerProvider(service_name="front", options={"reporter.otlp_endpoint": url},
                        shutdown_on_exit=False)
    pb = TracerProvider(service_name="back", options={"reporter.otlp_endpoint": url},
                        shutdown_on_exit=False)
    back = flask.Flask("back")

    @back.route("/items/<int:n>")
    def item(n):
        return {"n": n}

    FlaskInstrumentor().instrument_app(back, tracer_provider=pb)
    sb = Server(back)
    front = flask.Flask("front")

    @front.route("/order")
    def order():
        r = requests.get("http://127.0.0.1:%d/items/7" % sb.port, timeout=10)
        return {"back": r.json()}

    FlaskInstrumentor().instrument_app(front, tracer_provider=pf)
    RequestsInstrumentor().instrument(tracer_provider=pf)
    sf = Server(front)
    yield sf, pf, pb
    RequestsInstrumentor().uninstrument()
    sf.close()
    sb.close()
    pf.shutdown()
    pb.shutdown()


def test_flask_and_requests_instrumented_one_trace(two_services, otlp_sink):
    sf, pf, pb = two_services
    body = urllib.request.urlopen("http://127.0.0.1:%d/order" % sf.port, timeout=10).read()
    assert b'"n":7' in body.replace(b" ", b"")
    assert pf.force_flush(5000) and pb.force_flush(5000)
    got = {}
    for _ in range(20):
        got = decode(otlp_sink.wait(2, timeout=1))
        if len(got) >= 3:
            break
    (front_srv, front_res), = got["GET /order"]
    (client, client_res), = got["GET"]
    (back_srv, back_res), = got["GET /items/<int:n>"]
    assert front_res["service.name"] == {"stringValue": "front"}
    assert client_res["service.name"] == {"stringValue": "front"}
    assert back_res["service.name"] == {"stringValue": "back"}
    assert front_srv.trace_id == client.trace_id == back_srv.trace_id
    assert not front_srv.parent_span_id
    assert client.parent_span_id == front_srv.span_id
    assert back_srv.parent_span_id == client.span_id
    assert (front_srv.kind, client.kind, back_srv.kind) == (2, 3, 2)
    fa, ca, ba = attrs(front_srv), attrs(client), attrs(back_srv)
    assert fa["http.method"] == {"stringValue": "GET"}
    assert fa["http.route"] == {"stringValue": "/order"}
    assert fa["http.status_code"] == {"intValue": "200"}
    # each instrumentation's spans under its own OTLP scope, with its version
    assert scope_of("GET /order")[0] == "opentelemetry.instrumentation.flask"
    assert scope_of("GET")[0] == "opentelemetry.instrumentation.requests"
    assert scope_of("GET /order")[1] and scope_of("GET")[1]
    assert ca["http.method"] == {"stringValue": "GET"}
    url = ca["http.url"]["stringValue"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/items/7")
    assert ca["http.status_code"] == {"intValue": "200"}
    assert ba["http.route"] == {"stringValue": "/items/<int:n>"}
    assert ba["http.target"] == {"stringValue": "/items/7"}


APP = textwrap.dedent("""
    import threading, flask, requests
    from werkzeug.serving import make_server
    app = flask.Flask("unmodified")

    @app.route("/hello")
    def hello():
        return "hi"

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(requests.get("http://127.0.0.1:%d/hello" % srv.server_port, timeout=10).text)
    srv.shutdown()
""")


def test_unmodified_app_under_opentelemetry_instrument(otlp_sink, tmp_path):
    tool = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")
    assert os.path.exists(tool), "opentelemetry-instrumentation is in requirements-dev.txt"
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = dict(os.environ, OTEL_PYTHON_TRACER_PROVIDER="tracewire", OTEL_SERVICE_NAME="unmodified",
               OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:%d/v1/traces" % otlp_sink.port,
               OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    out = subprocess.run([tool, sys.executable, str(app)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hi"
    got = {}
    for _ in range(20):
        got = decode(otlp_sink.wait(1, timeout=1))
        if len(got) >= 2:
            break
        otlp_sink.wait(len(otlp_sink.requests) + 1, timeout=0.5)
    (srv, res), = got["GET /hello"]
    (cli, _), = got["GET"]
    assert res["service.name"] == {"stringValue": "unmodified"}
    assert srv.parent_span_id == cli.span_id and srv.trace_id == cli.trace_id
    assert attrs(srv)["http.route"] == {"stringValue": "/hello"}


def test_otel_service_calls_opentracing_service_and_back(otlp_sink):
    """front (OTel face, Flask + requests instrumentations) -> back (the
    opentracing face: extract, start_active_span, inject) -> front again: one
    trace across the two faces and three hops, over W3C traceparent."""
    import opentracing
    import tracewire
    url = "http://127.0.0.1:%d/v1/traces" % otlp_sink.port
    pf = TracerProvider(service_name="front", options={"reporter.otlp_endpoint": url},
                        shutdown_on_exit=False)
    ot = tracewire.Tracer({"service_name": "ot-back", "reporter.protocols": "otlp",
                           "reporter.otlp_endpoint": url})
    ports = {}
    back = flask.Flask("ot-back")

    @back.route("/b")
    def b():
        ctx = ot.extract(opentracing.Format.HTTP_HEADERS, dict(flask.request.headers))
        with ot.start_active_span("back-handler", child_of=ctx) as scope:
            h = {}
            ot.inject(scope.span, opentracing.Format.HTTP_HEADERS, h)
            req = urllib.request.Request("http://127.0.0.1:%d/c" % ports["front"], headers=h)
            return urllib.request.urlopen(req, timeout=10).read()

    front = flask.Flask("front-mixed")

    @front.route("/a")
    def a():
        return requests.get("http://127.0.0.1:%d/b" % ports["back"], timeout=10).text

    @front.route("/c")
    def c():
        return "deep"

    FlaskInstrumentor().instrument_app(front, tracer_provider=pf)
    RequestsInstrumentor().instrument(tracer_provider=pf)
    sb, sf = Server(back), Server(front)
    ports.update(back=sb.port, front=sf.port)
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%d/a" % sf.port, timeout=10).read()
    finally:
        RequestsInstrumentor().uninstrument()
        sf.close()
        sb.close()
    assert body == b"deep"
    assert pf.force_flush(5000) and ot.flush(5.0)
    got = {}
    for _ in range(20):
        got = decode(otlp_sink.wait(2, timeout=1))
        if len(got) >= 4:
            break
        otlp_sink.wait(len(otlp_sink.requests) + 1, timeout=0.5)
    (sa, ra), = got["GET /a"]
    (cl, _), = got["GET"]
    (bh, rb), = got["back-handler"]
    (sc, rc), = got["GET /c"]
    assert len({sa.trace_id, cl.trace_id, bh.trace_id, sc.trace_id}) == 1
    assert not sa.parent_span_id
    assert cl.parent_span_id == sa.span_id
    assert bh.parent_span_id == cl.span_id
    assert sc.parent_span_id == bh.span_id
    assert (ra["service.name"], rb["service.name"], rc["service.name"]) == (
        {"stringValue": "front"}, {"stringValue": "ot-back"}, {"stringValue": "front"})
    pf.shutdown()
    ot.close()
