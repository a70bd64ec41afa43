"""The OpenTelemetry face with the instrumentations in the real Jaeger (#16):
two Flask services (otel_redis_app.py, no tracing code) instrumented by
opentelemetry-instrumentation-flask, -requests and -redis on tracewire.otel,
against a real redis-server. The front service increments and sets Redis keys
and calls the back service, which writes and reads a Redis hash. The request
carries a W3C traceparent, so the whole request is one known trace; all seven
spans must reach Jaeger over OTLP in that trace, each with the right parent
and service, and with the instrumentations' semantic-convention attributes.

Run twice: both services under ``opentelemetry-instrument`` with the
``tracewire`` tracer-provider entry point (OTEL_PYTHON_TRACER_PROVIDER), and
both instrumented in code (otel_redis_code.py)."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from conftest import refs_of, service_of, spans_by_name, tags_of

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "otel_redis_app.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_port(tmp_path):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield port
    proc.terminate()
    proc.wait(10)


def start(mode, service, args):
    env = dict(os.environ, OTEL_SERVICE_NAME=service, OTEL_PYTHON_TRACER_PROVIDER="tracewire",
               OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:4318/v1/traces",
               OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    if mode == "instrument":
        tool = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")
        assert os.path.exists(tool), "opentelemetry-instrumentation is in requirements-dev.txt"
        cmd = [tool, sys.executable, APP] + args
    else:
        cmd = [sys.executable, os.path.join(HERE, "otel_redis_code.py")] + args
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("PORT "):
        p.kill()
        pytest.fail("%s did not start: %s%s" % (service, line, p.stderr.read()))
    return p, int(line.split()[1])


def stop(p):
    p.terminate()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    return err


@pytest.mark.parametrize("mode", ["instrument", "code"])
def test_flask_requests_redis_one_trace_in_jaeger(jaeger, redis_port, mode):
    run = uuid.uuid4().hex[:8]
    front_name = "otel-redis-front-%s-%s" % (mode, run)
    back_name = "otel-redis-back-%s-%s" % (mode, run)
    back, back_port = start(mode, back_name, ["back", str(redis_port)])
    front, front_port = start(mode, front_name,
                              ["front", str(redis_port), "http://127.0.0.1:%d" % back_port])
    trace_id, caller = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    try:
        req = urllib.request.Request(
            "http://127.0.0.1:%d/order/sku-%s" % (front_port, run),
            headers={"traceparent": "00-%s-%s-01" % (trace_id, caller)})
        body = urllib.request.urlopen(req, timeout=20).read().decode()
    finally:
        errs = [stop(front), stop(back)]
    assert body == "order 1 of sku-%s, stock 41" % run, (body, errs)
    tr = jaeger.wait_trace(trace_id, min_spans=7, timeout=30)
    assert tr is not None, "trace %s not in Jaeger: %s" % (trace_id, errs)
    got = spans_by_name(tr)
    assert sorted((k, len(v)) for k, v in got.items()) == [
        ("GET", 1), ("GET /order/<sku>", 1), ("GET /stock/<sku>", 1), ("HGET", 1), ("HSET", 1),
        ("INCRBY", 1), ("SET", 1)], sorted(got)
    s = {k: v[0] for k, v in got.items()}
    fs, cl, bs = s["GET /order/<sku>"], s["GET"], s["GET /stock/<sku>"]
    # parents: the caller's span (not in Jaeger) -> front server -> {INCRBY
    # (redis-py's incr), SET, client} -> back server -> {HSET, HGET}
    assert refs_of(fs, "CHILD_OF") == [caller]
    for name in ("INCRBY", "SET", "GET"):
        assert refs_of(s[name], "CHILD_OF") == [fs["spanID"]], name
    assert refs_of(bs, "CHILD_OF") == [cl["spanID"]]
    for name in ("HSET", "HGET"):
        assert refs_of(s[name], "CHILD_OF") == [bs["spanID"]], name
    front_spans = ("GET /order/<sku>", "INCRBY", "SET", "GET")
    assert [service_of(tr, s[n]) for n in front_spans] == [front_name] * 4
    assert [service_of(tr, s[n]) for n in ("GET /stock/<sku>", "HSET", "HGET")] == [back_name] * 3
    # the instrumentations' semantic-convention attributes, intact
    tf, tc, tb = tags_of(fs), tags_of(cl), tags_of(bs)
    assert tf["span.kind"][1] == "server" and tb["span.kind"][1] == "server"
    assert tf["http.method"][1] == "GET" and tf["http.route"][1] == "/order/<sku>"
    assert tf["http.target"][1] == "/order/sku-%s" % run
    assert tf["http.status_code"][1] == 200 and tb["http.status_code"][1] == 200
    assert tc["span.kind"][1] == "client" and tc["http.method"][1] == "GET"
    assert tc["http.url"][1] == "http://127.0.0.1:%d/stock/sku-%s" % (back_port, run)
    assert tc["http.status_code"][1] == 200
    for name, stmt in (("INCRBY", "INCRBY ? ?"), ("SET", "SET ? ?"), ("HSET", "HSET ? ? ?"),
                       ("HGET", "HGET ? ?")):
        t = tags_of(s[name])
        assert t["span.kind"][1] == "client", name
        assert t["db.system"][1] == "redis", name
        assert t["db.statement"][1] == stmt, (name, t["db.statement"])
        assert t["net.peer.name"][1] == "127.0.0.1" and t["net.peer.port"][1] == redis_port, name
        assert t["db.redis.database_index"][1] == 0, name
        assert t["otel.scope.name"][1] == "opentelemetry.instrumentation.redis", name
    assert tf["otel.scope.name"][1] == "opentelemetry.instrumentation.flask"
    assert tc["otel.scope.name"][1] == "opentelemetry.instrumentation.requests"
