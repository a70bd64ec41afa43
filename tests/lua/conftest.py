"""Shared fixtures for the Lua binding's Python-side tests (wire + nginx).

TW_LUA_BUILD points at the build's lua/ directory (lua/5.4/tracewire.so and
lua/5.1/tracewire.so); tests/lua/run.sh sets it after building.
"""
import json
import os
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TW_LUA_BUILD", os.path.join(TOP, "build", "lua-tests", "lua"))

RUNTIMES = {
    "lua5.4": (["lua5.4"], os.path.join(BUILD, "5.4")),
    "luajit": (["luajit"], os.path.join(BUILD, "5.1")),
}


def lua_env(abi_dir):
    env = dict(os.environ)
    env["LUA_CPATH"] = f"{abi_dir}/?.so;;"
    env["LUA_PATH"] = f"{TOP}/lua/?.lua;{TOP}/tests/lua/?.lua;;"
    for k in list(env):
        if k.startswith(("JAEGER_", "OTEL_")):
            del env[k]
    return env


def run_lua(runtime, script, *args, timeout=30):
    cmd, abi_dir = RUNTIMES[runtime]
    p = subprocess.run(cmd + [os.path.join(TOP, "tests", "lua", script), *args],
                       env=lua_env(abi_dir), capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{runtime} {script} failed:\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture(params=sorted(RUNTIMES))
def runtime(request):
    return request.param


class UdpSink:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.port = self.sock.getsockname()[1]

    def drain(self, wait=0.5):
        out = []
        self.sock.settimeout(wait)
        while True:
            try:
                out.append(self.sock.recv(70000))
            except socket.timeout:
                return out

    def close(self):
        self.sock.close()


@pytest.fixture
def udp_sink():
    s = UdpSink()
    yield s
    s.close()


class HttpSink:
    """Records every POST; answers 202 (Jaeger) or 200 {} (OTLP)."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        sink = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with sink.lock:
                    sink.requests.append((self.path, dict(self.headers), body))
                if self.path.startswith("/v1/traces"):
                    data = b"{}"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_response(202)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_sink():
    s = HttpSink()
    yield s
    s.close()


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError("no JSON line in output:\n" + text)
