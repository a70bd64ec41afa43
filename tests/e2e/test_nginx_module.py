"""The native nginx module (ngx_http_tracewire_module) against the real
Jaeger, over each protocol: the stock nginx (2 workers) loads the module
built in TW_E2E_BUILD, proxies to a Flask upstream traced by the Python
binding (UDP to Jaeger's agent port), and the trace is fetched back by the
id nginx put in the response (add_header $tracewire_trace_id): nginx's server
span with its tags, continuing the client's traceparent, parent of the
upstream's span."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from conftest import BUILD, TOP, refs_of, tags_of

MODULE = os.path.join(BUILD, "nginx-module", "ngx_http_tracewire_module.so")
PROTOCOLS = ["udp", "http", "otlp"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


@pytest.fixture(scope="module")
def flask_upstream(tmp_path_factory):
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(BUILD, "py")
    log = open(tmp_path_factory.mktemp("flask") / "flask.log", "w")
    proc = subprocess.Popen([sys.executable, os.path.join(TOP, "tests", "lua", "flask_upstream.py"),
                             str(port), "6831"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, "flask upstream")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nginx_spans_reach_jaeger(jaeger, tmp_path, flask_upstream, protocol):
    assert os.path.exists(MODULE), f"{MODULE} was not built (nginx-dev missing?)"
    port = free_port()
    service = f"nginx-e2e-{protocol}-{uuid.uuid4().hex[:6]}"
    (tmp_path / "tmp").mkdir()
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
load_module {MODULE};
{user}
daemon off; master_process on; worker_processes 2;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log notice;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/tmp; proxy_temp_path {tmp_path}/tmp;
    fastcgi_temp_path {tmp_path}/tmp; uwsgi_temp_path {tmp_path}/tmp; scgi_temp_path {tmp_path}/tmp;
    tracewire_config service_name {service};
    tracewire_config reporter.protocols {protocol};
    tracewire_config reporter.flush_interval_ms 100;
    tracewire on;
    server {{
        listen 127.0.0.1:{port};
        add_header X-Trace-Id $tracewire_trace_id always;
        location /api/ {{
            tracewire_span_tag e2e.protocol {protocol};
            proxy_pass http://127.0.0.1:{flask_upstream};
        }}
    }}
}}
""")
    base = ["nginx", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")]
    proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "nginx")
        tid, parent = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/e2e?p={protocol}",
                                     headers={"traceparent": f"00-{tid}-{parent}-01"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
            assert r.headers["X-Trace-Id"] == tid
        trace = jaeger.wait_trace(tid, min_spans=2)
        assert trace is not None, f"trace {tid} not in Jaeger"
        procs = trace["processes"]
        by_service = {}
        for s in trace["spans"]:
            by_service.setdefault(procs[s["processID"]]["serviceName"], []).append(s)
        assert sorted(by_service) == sorted([service, "flask-upstream"]), sorted(by_service)
        (edge,), (up,) = by_service[service], by_service["flask-upstream"]
        assert edge["operationName"] == "GET /api/e2e"
        assert refs_of(edge, "CHILD_OF") == [parent]
        assert refs_of(up, "CHILD_OF") == [edge["spanID"]]
        t = tags_of(edge)
        assert t["span.kind"] == ("string", "server")
        assert t["component"] == ("string", "nginx")
        assert t["http.method"] == ("string", "GET")
        assert t["http.url"] == ("string", f"http://127.0.0.1:{port}/api/e2e?p={protocol}")
        assert t["http.status_code"] == ("int64", 200)
        assert t["peer.address"] == ("string", "127.0.0.1")
        assert t["upstream.address"] == ("string", f"127.0.0.1:{flask_upstream}")
        assert t["e2e.protocol"] == ("string", protocol)
        assert edge["startTime"] <= up["startTime"]
    finally:
        subprocess.run(base + ["-s", "quit"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    with open(tmp_path / "error.log") as f:
        log = f.read()
    assert "tracewire: worker exit: close ok" in log, log[-2000:]
