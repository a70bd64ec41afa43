"""Shared fixtures for the tracewire Python tests: tracers on the in-memory
reporter, and real peers (UDP socket, HTTP listener, redis-server) on 127.0.0.1."""
import http.server
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import tracewire


def memory_tracer(scope_manager=None, **options):
    opts = {"reporter.protocols": "memory", "service_name": "pytest",
            "sampler.type": "const", "sampler.param": "1"}
    opts.update({k.replace("__", "."): str(v) for k, v in options.items()})
    return tracewire.Tracer(opts, scope_manager)


def spans_by_name(tracer):
    return {s["operation_name"]: s for s in tracer.memory_spans()}


@pytest.fixture
def tracer():
    t = memory_tracer()
    yield t
    t.close()


class UdpSink:
    """A real UDP socket on 127.0.0.1 collecting datagrams."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]

    def recv(self, timeout=5):
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(70000)
        return data

    def close(self):
        self.sock.close()


@pytest.fixture
def udp_sink():
    s = UdpSink()
    yield s
    s.close()


class HttpSink:
    """A real HTTP server on 127.0.0.1 recording (path, headers, body) per POST."""

    def __init__(self, status=202, body=b""):
        self.requests = []
        self.cond = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(n)
                with sink.cond:
                    sink.requests.append((self.path, dict(self.headers.items()), data))
                    sink.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if body:
                    self.send_header("Content-Type", "application/json")
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_GET(self):
                with sink.cond:
                    sink.requests.append((self.path, dict(self.headers.items()), b""))
                    sink.cond.notify_all()
                payload = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n=1, timeout=10):
        deadline = time.time() + timeout
        with self.cond:
            while len(self.requests) < n and time.time() < deadline:
                self.cond.wait(0.1)
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_sink():
    s = HttpSink()
    yield s
    s.close()


@pytest.fixture
def otlp_sink():
    s = HttpSink(status=200, body=b'{"partialSuccess":{}}')
    yield s
    s.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server():
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed")
    port = _free_port()
    d = tempfile.mkdtemp(prefix="tw-redis-")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", d],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield port
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(d, ignore_errors=True)
