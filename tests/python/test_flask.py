"""A Flask app traced by flask_opentracing with a tracewire tracer: server
spans with http tags, incoming trace headers continued, outgoing requests
(the `requests` library, to a real local HTTP server) carrying headers that
extract to the same trace."""
import threading

import flask
import opentracing
import pytest
import requests
from flask_opentracing import FlaskTracing
from opentracing import Format
from werkzeug.serving import make_server

import tracewire
from conftest import HttpSink, memory_tracer, spans_by_name


def build_app(tracer, downstream_port=None):
    app = flask.Flask("tw-test")
    tracing = FlaskTracing(tracer, True, app)

    @app.route("/hello")
    def hello():
        return "hi"

    @app.route("/fail")
    def fail():
        raise RuntimeError("nope")

    @app.route("/call")
    def call():
        span = tracer.active_span
        with tracer.start_span("downstream", child_of=span) as out:
            out.set_tag("span.kind", "client")
            headers = {}
            tracer.inject(out, Format.HTTP_HEADERS, headers)   # a Span, as the talk does
            r = requests.get("http://127.0.0.1:%d/down" % downstream_port, headers=headers, timeout=5)
        return r.text

    return app, tracing


def test_server_span_has_http_tags():
    tracer = memory_tracer()
    app, _ = build_app(tracer)
    r = app.test_client().get("/hello")
    assert r.status_code == 200
    rec = spans_by_name(tracer)["hello"]
    assert rec["tags"]["http.method"] == "GET"
    assert rec["tags"]["http.url"].endswith("/hello")
    assert rec["tags"]["http.status_code"] == 200
    assert rec["tags"]["component"] == "Flask"
    assert rec["kind"] == "server" or rec["tags"]["span.kind"] == "server"
    assert rec["parent_id"] in ("0000000000000000", None)


def test_incoming_headers_are_continued():
    tracer = memory_tracer()
    app, _ = build_app(tracer)
    upstream = memory_tracer()
    up = upstream.start_span("client")
    headers = {}
    upstream.inject(up.context, Format.HTTP_HEADERS, headers)
    r = app.test_client().get("/hello", headers={k.title(): v for k, v in headers.items()})
    assert r.status_code == 200
    rec = spans_by_name(tracer)["hello"]
    assert rec["trace_id"] == up.context.trace_id_hex
    assert rec["parent_id"] == up.context.span_id_hex


def test_corrupted_incoming_header_starts_a_root():
    tracer = memory_tracer()
    app, _ = build_app(tracer)
    r = app.test_client().get("/hello", headers={"Uber-Trace-Id": "not:a:valid:header:at:all"})
    assert r.status_code == 200
    rec = spans_by_name(tracer)["hello"]
    assert rec["parent_id"] in ("0000000000000000", None)


def test_error_route_marks_span():
    tracer = memory_tracer()
    app, _ = build_app(tracer)
    app.testing = False
    r = app.test_client().get("/fail")
    assert r.status_code == 500
    rec = spans_by_name(tracer)["fail"]
    # Flask 3 runs after_request with the 500 response, so flask_opentracing
    # records the status (its error branch only runs from teardown)
    assert rec["tags"]["http.status_code"] == 500


def test_real_server_outgoing_request_carries_the_trace():
    sink = HttpSink()
    tracer = memory_tracer()
    app, _ = build_app(tracer, downstream_port=sink.port)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        r = requests.get("http://127.0.0.1:%d/call" % server.server_port, timeout=10)
        assert r.status_code == 200 and r.text == "ok"
    finally:
        server.shutdown()
        sink.close()
    path, headers, _ = sink.wait(1)[0]
    assert path == "/down"
    # the downstream side extracts from the headers it really received
    other = memory_tracer()
    ctx = other.extract(Format.HTTP_HEADERS, headers)
    recs = spans_by_name(tracer)
    assert ctx is not None
    assert ctx.trace_id_hex == recs["call"]["trace_id"]
    assert ctx.span_id_hex == recs["downstream"]["span_id"]
    assert recs["downstream"]["parent_id"] == recs["call"]["span_id"]


def test_flask_tracing_with_global_tracer(monkeypatch):
    tracer = memory_tracer()
    monkeypatch.setattr(opentracing, "tracer", opentracing.tracer)
    tracewire.install_global(tracer)
    try:
        app = flask.Flask("tw-global")
        FlaskTracing(app=app)            # no tracer: reads opentracing.tracer per request

        @app.route("/g")
        def g():
            return "g"

        assert app.test_client().get("/g").status_code == 200
        assert "g" in spans_by_name(tracer)
    finally:
        if hasattr(opentracing, "_reset_global_tracer"):
            opentracing._reset_global_tracer()


def test_extract_directly_from_flask_request_headers():
    """The talk's pattern: tracer.extract(Format.HTTP_HEADERS, request.headers)."""
    tracer = memory_tracer()
    app = flask.Flask("tw-direct")
    seen = {}

    @app.route("/direct")
    def direct():
        ctx = tracer.extract(Format.HTTP_HEADERS, flask.request.headers)
        with tracer.start_active_span("direct", child_of=ctx) as scope:
            seen["parent"] = scope.span.context.parent_id
            seen["trace"] = scope.span.context.trace_id
        return "ok"

    client = app.test_client()
    assert client.get("/direct").status_code == 200
    assert seen["parent"] is None            # no header: extract gave None, a root
    up = tracer.start_span("upstream")
    h = {}
    tracer.inject(up, Format.HTTP_HEADERS, h)
    assert client.get("/direct", headers=h).status_code == 200
    assert seen["parent"] == up.context.span_id and seen["trace"] == up.context.trace_id


def test_requests_opentracing_client_spans_carry_the_trace():
    """requests_opentracing's SessionTracing (opentracing API) over tracewire:
    the client span is a child of the Flask server span, and the headers the
    real downstream server received extract to that client span."""
    from requests_opentracing import SessionTracing

    sink = HttpSink()
    tracer = memory_tracer()
    app = flask.Flask("tw-requests")
    FlaskTracing(tracer, True, app)
    session = SessionTracing(tracer)

    @app.route("/proxy")
    def proxy():
        return session.get("http://127.0.0.1:%d/down" % sink.port, timeout=5).text

    server = make_server("127.0.0.1", 0, app, threaded=True)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        assert requests.get("http://127.0.0.1:%d/proxy" % server.server_port, timeout=10).text == "ok"
    finally:
        server.shutdown()
        sink.close()
    _, headers, _ = sink.wait(1)[0]
    recs = spans_by_name(tracer)
    client, srv = recs["requests.get"], recs["proxy"]
    assert client["parent_id"] == srv["span_id"]
    assert client["tags"]["http.status_code"] == 200
    ctx = memory_tracer().extract(Format.HTTP_HEADERS, headers)
    assert ctx.span_id_hex == client["span_id"] and ctx.trace_id_hex == srv["trace_id"]
