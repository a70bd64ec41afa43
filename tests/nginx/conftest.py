"""Fixtures for the native nginx module's suite: the stock Debian nginx
loading build/<dir>/nginx-module/ngx_http_tracewire_module.so, 2 workers on
free ports, in front of a Flask upstream traced with tracewire's Python
binding (tests/lua/flask_upstream.py: it answers with the request headers it
received). Both report Jaeger compact Thrift over UDP to one local socket
(the UDP sink of tests/lua/conftest.py); every assertion is on decoded
datagrams (PyPI thrift + jaeger_client's generated types).

TW_NGINX_MODULE: the module to load (tests/nginx/run.sh sets it);
TW_PYTHONPATH: where the Python binding was installed for the upstream.
"""
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jaeger_client.thrift_gen.agent import Agent
from jaeger_client.thrift_gen.jaeger import ttypes
from thrift.protocol import TCompactProtocol
from thrift.transport import TTransport

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODULE = os.path.abspath(os.environ.get("TW_NGINX_MODULE",
                                        os.path.join(TOP, "build", "nginx-tests", "nginx-module",
                                                     "ngx_http_tracewire_module.so")))

# TW_NGINX_PRELOAD: libraries every nginx process (and only nginx) gets in
# LD_PRELOAD: the ASan/UBSan runtimes for an instrumented module (run.sh).
NGINX_ENV = dict(os.environ)
if os.environ.get("TW_NGINX_PRELOAD"):
    NGINX_ENV["LD_PRELOAD"] = os.environ["TW_NGINX_PRELOAD"]
    NGINX_ENV.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
    NGINX_ENV.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

# The Lua suite's sinks (a UDP socket standing in for the agent, an HTTP
# collector that records POSTs), loaded under another name: this file is the
# `conftest` of this directory.
_spec = importlib.util.spec_from_file_location(
    "tw_lua_conftest", os.path.join(TOP, "tests", "lua", "conftest.py"))
_lua = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_lua)
UdpSink = _lua.UdpSink
HttpSink = _lua.HttpSink


def u64(v):
    return v & 0xFFFFFFFFFFFFFFFF


def hexid(v):
    return "%016x" % u64(v)


def trace_of(span):
    return "%016x%016x" % (u64(span.traceIdHigh), u64(span.traceIdLow))


def decode_udp(datagram):
    proto = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(datagram))
    name, mtype, _ = proto.readMessageBegin()
    assert name == "emitBatch" and mtype == 4
    args = Agent.emitBatch_args()
    args.read(proto)
    proto.readMessageEnd()
    return args.batch


def tags(tag_list):
    out = {}
    for t in tag_list or []:
        out[t.key] = {
            ttypes.TagType.STRING: ("str", t.vStr), ttypes.TagType.LONG: ("long", t.vLong),
            ttypes.TagType.DOUBLE: ("double", t.vDouble), ttypes.TagType.BOOL: ("bool", t.vBool),
            ttypes.TagType.BINARY: ("binary", t.vBinary),
        }[t.vType]
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


CONF = """
load_module {module};
{user}
daemon off;
master_process on;
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
    log_format tw '$request_uri $tracewire_trace_id $tracewire_span_id '
                  '$tracewire_parent_id $tracewire_sampled $tracewire_traceparent';
    access_log {dir}/access.log tw;

    tracewire_config service_name nginx-edge;
{reporter}
    tracewire on;

    upstream flask {{ server 127.0.0.1:{flask}; keepalive 4; }}
    # the dead server first, always (never marked down), then the backup
    upstream retry {{ server 127.0.0.1:{dead} max_fails=0; server 127.0.0.1:{raw} backup; }}
    map $http_x_trace_it $trace_it {{ default off; yes on; one 1; }}

    server {{
        listen 127.0.0.1:{port} reuseport;
        listen 127.0.0.1:{h2port} http2;
        add_header X-Trace-Id $tracewire_trace_id always;
        proxy_http_version 1.1;
        proxy_set_header Connection "";

        location /api/       {{ proxy_pass http://flask; }}
        location /extract/   {{ tracewire_context extract; proxy_pass http://flask/api/; }}
        location /inject/    {{ tracewire_context inject; proxy_pass http://flask/api/; }}
        location /ignore/    {{ tracewire_context ignore; proxy_pass http://flask/api/; }}
        location /off/       {{ tracewire off; proxy_pass http://flask/api/; }}
        location /var/       {{ tracewire $trace_it; proxy_pass http://flask/api/; }}
        location /named/ {{
            tracewire_span_name "named $request_method $arg_n";
            tracewire_span_tag app.user $arg_user;
            tracewire_span_tag app.status "s=$status";
            proxy_pass http://flask/api/;
        }}
        location /static/    {{ root {dir}/html; }}
        location = /fail     {{ return 503; }}
        location /down/      {{ proxy_pass http://127.0.0.1:{dead}; }}
        location /redirect/  {{ try_files /nonexistent @named; }}
        location @named      {{ proxy_pass http://127.0.0.1:{raw}; }}
        # upstream.address as nginx's $upstream_addr writes it: a retry
        # (", ") and an internal redirect to a second upstream (" : ")
        location /retry/     {{ add_header X-Upstream-Addr $upstream_addr always; proxy_pass http://retry; }}
        location /downredir/ {{ proxy_pass http://127.0.0.1:{dead}; error_page 502 = @redir; }}
        location @redir      {{ add_header X-Upstream-Addr $upstream_addr always; proxy_pass http://127.0.0.1:{raw}; }}
        location /raw/ {{
            # what nginx itself still sees through its known-header pointers
            add_header X-Seen-UA $http_user_agent always;
            add_header X-Seen-Cookie $http_cookie always;
            add_header X-Seen-XFF $http_x_forwarded_for always;
            add_header X-Seen-Host $host always;
            add_header X-Seen-Referer $http_referer always;
            proxy_pass http://127.0.0.1:{raw};
        }}
    }}
}}
"""


class Nginx:
    """The stock nginx with the module, 2 workers; conf() renders CONF."""

    def __init__(self, tmp, agent_port, flask_port, flush_ms=100, reporter=None, extra_conf=None,
                 raw_port=9):
        self.dir = str(tmp)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "html", "static"), exist_ok=True)
        with open(os.path.join(self.dir, "html", "static", "x.txt"), "w") as f:
            f.write("static\n")
        self.port, self.h2port = free_port(), free_port()
        if reporter is None:
            reporter = (f"    tracewire_config reporter.protocols udp;\n"
                        f"    tracewire_config reporter.agent_port {agent_port};\n"
                        f"    tracewire_config reporter.flush_interval_ms {flush_ms};\n")
        conf = extra_conf or CONF
        text = conf.format(module=MODULE, dir=self.dir, reporter=reporter, flask=flask_port,
                           port=self.port, h2port=self.h2port, dead=free_port(), raw=raw_port,
                           user="user root root;" if os.geteuid() == 0 else "")
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(text)
        self.base = ["nginx", "-p", self.dir, "-c", self.conf, "-e", os.path.join(self.dir, "error.log")]
        self.log = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen(self.base, stdout=self.log, stderr=subprocess.STDOUT, env=NGINX_ENV)
        wait_port(self.port, self.proc, "nginx")
        # the master listens before it forks its workers
        deadline = time.time() + 15
        while len(self.worker_pids()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        self.workers = self.worker_pids()
        assert len(self.workers) == 2, self.workers

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return sorted(int(p) for p in out.stdout.split())

    def get(self, path, headers=None, port=None, timeout=10):
        """-> (status, headers dict (lower-case names), body bytes)"""
        req = urllib.request.Request(f"http://127.0.0.1:{port or self.port}{path}",
                                     headers=dict(headers or {}, Connection="close"))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def signal(self, name):
        subprocess.run(self.base + ["-s", name], check=True, env=NGINX_ENV)

    def quit(self):
        if self.proc.poll() is None:
            self.signal("quit")
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            workers = self.worker_pids() or self.workers
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                for pid in workers:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self.log.close()

    def error_log(self):
        with open(os.path.join(self.dir, "error.log")) as f:
            return f.read()

    def access_log(self):
        with open(os.path.join(self.dir, "access.log")) as f:
            return f.read()


class Collector:
    """Accumulates decoded (process, span) pairs from a UDP sink."""

    def __init__(self, sink):
        self.sink = sink
        self.spans = []

    def poll(self, wait=0.3):
        for d in self.sink.drain(wait):
            b = decode_udp(d)
            for s in b.spans:
                self.spans.append((b.process, s))
        return self.spans

    def wait_for(self, pred, timeout=10, count=1):
        deadline = time.time() + timeout
        found = []
        while time.time() < deadline:
            found = [ps for ps in self.poll() if pred(*ps)]
            if len(found) >= count:
                return found
        return found


def url_has(span, marker):
    return marker in (tags(span.tags).get("http.url", ("", ""))[1] or "")


def nginx_span_for(coll, marker):
    found = coll.wait_for(lambda p, s: p.serviceName == "nginx-edge" and url_has(s, marker))
    assert len(found) == 1, f"expected one nginx span for {marker}, got {len(found)}"
    return found[0][1]


def flask_spans(coll, trace_id, count=1):
    return [s for _, s in coll.wait_for(lambda p, s: p.serviceName == "flask-upstream"
                                        and trace_of(s) == trace_id, count=count)]


class RawUpstream:
    """An untraced HTTP upstream answering every GET with the request's
    header lines as received, in order, duplicates kept: [[name, value]...]."""

    def __init__(self):
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                body = json.dumps([[k, v] for k, v in self.headers.items()]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def raw_upstream():
    r = RawUpstream()
    yield r
    r.close()


@pytest.fixture(scope="session")
def upstream(tmp_path_factory):
    """A traced Flask upstream reporting to its own UDP sink's collector
    (shared by the session; tests filter by trace id)."""
    tmp = tmp_path_factory.mktemp("flask")
    sink = UdpSink()
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.environ.get("TW_PYTHONPATH", os.path.join(TOP, "python"))
    log = open(os.path.join(str(tmp), "flask.log"), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(TOP, "tests", "lua", "flask_upstream.py"),
                             str(port), str(sink.port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, "flask upstream")
        yield port, sink
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        sink.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, upstream, raw_upstream):
    """nginx + Flask, both reporting to the same UDP sink (the upstream's)."""
    flask_port, sink = upstream
    ngx = Nginx(tmp_path_factory.mktemp("nginx"), sink.port, flask_port, raw_port=raw_upstream.port)
    try:
        yield ngx, Collector(sink)
    finally:
        ngx.stop()
