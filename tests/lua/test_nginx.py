"""A real nginx (Debian nginx + libnginx-mod-http-lua, 2 workers, LuaJIT
module) in front of a Flask upstream traced with tracewire's Python binding.
Both report Jaeger compact Thrift over UDP to one local socket; every
assertion is on decoded datagrams (PyPI thrift + jaeger_client's types)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from conftest import BUILD, TOP, UdpSink
from test_wire import decode_udp, tags, u64

NGINX_MODULES = "/usr/lib/nginx/modules"

CONF = """
load_module {modules}/ndk_http_module.so;
load_module {modules}/ngx_http_lua_module.so;
{user}
daemon off;
master_process on;
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log notice;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
    lua_package_path "{top}/lua/?.lua;;";
    lua_package_cpath "{build}/5.1/?.so;;";
    lua_shared_dict tw_redisq 64k;
    init_worker_by_lua_block {{
        require("tracewire.nginx").init_worker{{
            service_name = "nginx-edge",
            sampler = {{ type = "const", param = {sample} }},
            reporter = {{ {reporter} }},
            tags = {{ worker_pid = ngx.worker.pid() }},
        }}
    }}
    exit_worker_by_lua_block {{ require("tracewire.nginx").exit_worker(5) }}
    upstream flask {{ server 127.0.0.1:{flask}; }}
    server {{
        listen 127.0.0.1:{port} reuseport;
        listen 127.0.0.1:{h2port} http2;   # h2c: no raw head, the general path
        location /api/ {{
            rewrite_by_lua_block {{ require("tracewire.nginx").start() }}
            log_by_lua_block {{ require("tracewire.nginx").finish() }}
            proxy_pass http://flask;
        }}
        location /static/ {{
            access_by_lua_block {{ require("tracewire.nginx").access() }}
            log_by_lua_block {{ require("tracewire.nginx").log() }}
            root {dir}/html;
        }}
        location /logonly/ {{
            log_by_lua_block {{ require("tracewire.nginx").log_span{{ operation_name = "logonly" }} }}
            alias {dir}/html/static/;
        }}
        # redisq.connect (blocking LuaSocket) must refuse request and timer phases
        location = /redisq/connect {{
            content_by_lua_block {{
                local ok, err = pcall(require("tracewire.redisq").connect, "127.0.0.1", tonumber(ngx.var.arg_port))
                ngx.say(ok and "connected" or err)
            }}
        }}
        location = /redisq/timer {{
            content_by_lua_block {{
                local port = tonumber(ngx.var.arg_port)
                ngx.shared.tw_redisq:delete("timer")
                assert(ngx.timer.at(0, function()
                    local ok, err = pcall(require("tracewire.redisq").connect, "127.0.0.1", port)
                    ngx.shared.tw_redisq:set("timer", ok and "connected" or err)
                end))
                ngx.say("started")
            }}
        }}
        location = /redisq/result {{
            content_by_lua_block {{ ngx.say(ngx.shared.tw_redisq:get("timer") or "") }}
        }}
        location = /fail {{
            rewrite_by_lua_block {{ require("tracewire.nginx").start() }}
            log_by_lua_block {{ require("tracewire.nginx").finish() }}
            content_by_lua_block {{ ngx.exit(503) }}
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


class Nginx:
    def __init__(self, tmp, agent_port, flask_port, flush_ms, reporter=None, sample=1):
        self.dir = str(tmp)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "html", "static"), exist_ok=True)
        with open(os.path.join(self.dir, "html", "static", "x.txt"), "w") as f:
            f.write("static\n")
        self.port = free_port()
        self.h2port = free_port()
        conf = CONF.format(h2port=self.h2port, modules=NGINX_MODULES, dir=self.dir, top=TOP, build=BUILD,
                           reporter=reporter or (f'protocols = "udp", agent_host = "127.0.0.1", '
                                                 f'agent_port = {agent_port}, flush_interval_ms = {flush_ms}'),
                           flask=flask_port, port=self.port, sample=sample,
                           user="user root root;" if os.geteuid() == 0 else "")
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf, "-e",
                                      os.path.join(self.dir, "error.log")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc, "nginx")
        self.workers = self._workers()

    def _workers(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def get(self, path, headers=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                     headers=dict(headers or {}, Connection="close"))
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def quit(self):
        if self.proc.poll() is None:
            subprocess.run(["nginx", "-p", self.dir, "-c", self.conf, "-e",
                            os.path.join(self.dir, "error.log"), "-s", "quit"], check=True)
            self.proc.wait(timeout=20)

    def stop(self):
        """SIGTERM (workers run exit_worker, bounded by its close timeout);
        SIGKILL to the master and its recorded workers if that hangs."""
        if self.proc.poll() is None:
            workers = self._workers() or self.workers
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


class Collector:
    """Accumulates decoded (process, span) pairs from the UDP sink."""

    def __init__(self, sink):
        self.sink = sink
        self.spans = []

    def poll(self, wait=0.3):
        for d in self.sink.drain(wait):
            b = decode_udp(d)
            for s in b.spans:
                self.spans.append((b.process, s))
        return self.spans

    def wait_for(self, pred, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [ps for ps in self.poll() if pred(*ps)]
            if found:
                return found
        return []


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    sink = UdpSink()
    flask_port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.environ.get("TW_PYTHONPATH", os.path.join(TOP, "python"))
    flask_log = open(os.path.join(str(tmp), "flask.log"), "w")
    flask = subprocess.Popen([sys.executable, os.path.join(TOP, "tests", "lua", "flask_upstream.py"),
                              str(flask_port), str(sink.port)], env=env,
                             stdout=flask_log, stderr=subprocess.STDOUT)
    ngx = None
    try:
        wait_port(flask_port, flask, "flask upstream")
        ngx = Nginx(tmp, sink.port, flask_port, flush_ms=100)
        yield ngx, Collector(sink), flask_port, sink
    finally:
        if ngx:
            ngx.stop()
        flask.send_signal(signal.SIGTERM)
        try:
            flask.wait(timeout=10)
        except subprocess.TimeoutExpired:
            flask.kill()
        flask_log.close()
        sink.close()


def hexid(v):
    return "%016x" % u64(v)


def trace_of(span):
    return "%016x%016x" % (u64(span.traceIdHigh), u64(span.traceIdLow))


def nginx_span_for(coll, marker):
    found = coll.wait_for(lambda p, s: p.serviceName == "nginx-edge"
                          and marker in (tags(s.tags).get("http.url", ("", ""))[1] or ""))
    assert len(found) == 1, f"expected one nginx span for {marker}, got {len(found)}"
    return found[0][1]


def test_one_request_one_trace_nginx_span_parents_flask_span(stack):
    ngx, coll, _, _ = stack
    marker = uuid.uuid4().hex
    status, body = ngx.get(f"/api/hello?m={marker}")
    assert status == 200
    seen = json.loads(body)
    edge = nginx_span_for(coll, marker)
    flask = coll.wait_for(lambda p, s: p.serviceName == "flask-upstream"
                          and trace_of(s) == trace_of(edge))
    assert len(flask) == 1
    up = flask[0][1]
    assert hexid(up.parentSpanId) == hexid(edge.spanId)
    assert edge.parentSpanId == 0
    t = tags(edge.tags)
    assert t["span.kind"] == ("str", "server")
    assert t["http.method"] == ("str", "GET")
    assert t["http.status_code"] == ("long", 200)
    assert t["http.url"][1].endswith(f"/api/hello?m={marker}")
    assert t["peer.address"] == ("str", "127.0.0.1")
    assert "error" not in t
    # what the upstream received: the nginx span's context, in both formats
    assert seen["uber-trace-id"].split(":")[1].rjust(16, "0") == hexid(edge.spanId)
    assert seen["traceparent"].split("-")[2] == hexid(edge.spanId)
    all_in_trace = [s for _, s in coll.poll() if trace_of(s) == trace_of(edge)]
    assert len(all_in_trace) == 2


def test_incoming_context_is_continued(stack):
    ngx, coll, _, _ = stack
    marker = uuid.uuid4().hex
    tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    status, body = ngx.get(f"/api/in?m={marker}", {"traceparent": f"00-{tid}-{sid}-01"})
    assert status == 200
    seen = json.loads(body)
    edge = nginx_span_for(coll, marker)
    assert trace_of(edge) == tid
    assert hexid(edge.parentSpanId) == sid
    assert seen["traceparent"] == f"00-{tid}-{hexid(edge.spanId)}-01"
    flask = coll.wait_for(lambda p, s: p.serviceName == "flask-upstream" and trace_of(s) == tid)
    assert [hexid(s.parentSpanId) for _, s in flask] == [hexid(edge.spanId)]


def test_http2_requests_take_the_general_path_with_the_same_span(stack):
    """HTTP/2 has no raw request head (ngx.req.raw_header() raises), so start()
    falls back to the headers table: same parent, name, tags, injection."""
    ngx, coll, _, _ = stack
    marker = uuid.uuid4().hex
    tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_version}",
                          "-H", f"traceparent: 00-{tid}-{sid}-01",
                          f"http://127.0.0.1:{ngx.h2port}/api/h2?m={marker}"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    body, version = out.stdout.rsplit("\n", 1)
    assert version == "2"
    seen = json.loads(body)
    edge = nginx_span_for(coll, marker)
    assert trace_of(edge) == tid
    assert hexid(edge.parentSpanId) == sid
    assert edge.operationName == "GET /api/h2"
    t = tags(edge.tags)
    assert t["span.kind"] == ("str", "server")
    assert t["http.method"] == ("str", "GET")
    assert t["http.status_code"] == ("long", 200)
    assert t["http.url"][1] == f"http://127.0.0.1:{ngx.h2port}/api/h2?m={marker}"
    assert t["peer.address"] == ("str", "127.0.0.1")
    assert seen["traceparent"] == f"00-{tid}-{hexid(edge.spanId)}-01"
    assert "http2 requests not supported" not in ngx.error_log()   # pcall kept it quiet


def test_incoming_headers_of_other_formats_are_replaced(stack):
    """A b3 context nginx does not inject must not reach the upstream next to
    the new uber-trace-id/traceparent: two disagreeing formats would make the
    upstream's extract fail (TW_ERR_CORRUPTED) and break the trace."""
    ngx, coll, _, _ = stack
    marker = uuid.uuid4().hex
    tid, sid = "5bf92f3577b34da6a3ce929d0e0e4737", "10f067aa0ba902b7"
    status, body = ngx.get(f"/api/b3?m={marker}", {"b3": f"{tid}-{sid}-1"})
    assert status == 200
    seen = json.loads(body)
    assert "b3" not in seen, seen
    edge = nginx_span_for(coll, marker)
    assert trace_of(edge) == tid
    assert hexid(edge.parentSpanId) == sid
    flask = coll.wait_for(lambda p, s: p.serviceName == "flask-upstream" and trace_of(s) == tid)
    assert [hexid(s.parentSpanId) for _, s in flask] == [hexid(edge.spanId)]


def test_a_corrupted_incoming_context_is_dropped_too(stack):
    ngx, coll, _, _ = stack
    marker = uuid.uuid4().hex
    status, body = ngx.get(f"/api/bad?m={marker}", {"b3": "not-a-b3-header"})
    assert status == 200
    seen = json.loads(body)
    assert "b3" not in seen, seen
    edge = nginx_span_for(coll, marker)
    assert edge.parentSpanId == 0            # a new root
    flask = coll.wait_for(lambda p, s: p.serviceName == "flask-upstream"
                          and trace_of(s) == trace_of(edge))
    assert [hexid(s.parentSpanId) for _, s in flask] == [hexid(edge.spanId)]


def test_5xx_response_marks_the_span_as_error(stack):
    ngx, coll, _, _ = stack
    status, _ = ngx.get("/fail")
    assert status == 503
    found = coll.wait_for(lambda p, s: p.serviceName == "nginx-edge" and s.operationName == "GET /fail")
    assert found
    t = tags(found[-1][1].tags)
    assert t["http.status_code"] == ("long", 503)
    assert t["error"] == ("bool", True)


def test_log_span_traces_from_the_log_phase_alone(stack):
    ngx, coll, _, _ = stack
    marker = uuid.uuid4().hex
    tid, sid = "6bf92f3577b34da6a3ce929d0e0e4738", "20f067aa0ba902b7"
    t0 = time.time()
    status, body = ngx.get(f"/logonly/x.txt?m={marker}", {"traceparent": f"00-{tid}-{sid}-01"})
    assert (status, body) == (200, b"static\n")
    edge = nginx_span_for(coll, marker)
    assert edge.operationName == "logonly"
    assert trace_of(edge) == tid and hexid(edge.parentSpanId) == sid
    t = tags(edge.tags)
    assert t["http.status_code"] == ("long", 200)
    assert t["span.kind"] == ("str", "server")
    assert t["peer.address"] == ("str", "127.0.0.1")
    assert abs(edge.startTime / 1e6 - t0) < 5
    assert edge.duration >= 0


def test_both_workers_report_with_distinct_ids(stack):
    ngx, coll, _, _ = stack
    marker = uuid.uuid4().hex
    for i in range(60):
        assert ngx.get(f"/static/x.txt?m={marker}&i={i}")[0] == 200
    deadline = time.time() + 10
    mine = []
    while time.time() < deadline and len(mine) < 60:
        mine = [(p, s) for p, s in coll.poll()
                if marker in (tags(s.tags).get("http.url", ("", ""))[1] or "")]
    assert len(mine) == 60
    workers = {tags(p.tags)["worker_pid"][1] for p, _ in mine}
    assert len(workers) == 2, workers
    assert len({hexid(s.spanId) for _, s in mine}) == 60
    assert len({trace_of(s) for _, s in mine}) == 60
    assert "[error]" not in ngx.error_log() and "[alert]" not in ngx.error_log()


def test_quit_loses_no_finished_span(stack, tmp_path):
    """A second nginx whose reporters never flush on their own (60 s
    interval): every span must still arrive, sent by exit_worker on quit."""
    _, _, flask_port, _ = stack
    sink = UdpSink()
    ngx = Nginx(tmp_path, sink.port, flask_port, flush_ms=60000)
    try:
        coll = Collector(sink)
        marker = uuid.uuid4().hex
        n = 50
        for i in range(n):
            assert ngx.get(f"/static/x.txt?m={marker}&i={i}")[0] == 200
        assert coll.poll(0.3) == [], "spans were sent before quit"
        ngx.quit()
        assert ngx.proc.returncode == 0
        spans = [s for p, s in coll.poll(1.0)
                 if marker in (tags(s.tags).get("http.url", ("", ""))[1] or "")]
        got = sorted(int(tags(s.tags)["http.url"][1].rsplit("=", 1)[1]) for s in spans)
        assert got == list(range(n))
    finally:
        ngx.stop()
        sink.close()


def test_a_hung_collector_never_blocks_requests(stack, tmp_path):
    """Spans go by HTTP to a collector that accepts and never answers (30 s
    reporter timeout). Sends run on the reporter thread, so every request
    still completes well inside the client's 5 s timeout."""
    _, _, flask_port, _ = stack
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)
    ngx = Nginx(tmp_path, 0, flask_port, 0, reporter=(
        f'protocols = "http", endpoint = "http://127.0.0.1:{hang.getsockname()[1]}/api/traces", '
        'flush_interval_ms = 20, batch_size = 1, timeout_ms = 30000, retries = 0'))
    try:
        for i in range(30):
            req = urllib.request.Request(f"http://127.0.0.1:{ngx.port}/static/x.txt?i={i}",
                                         headers={"Connection": "close"})
            with urllib.request.urlopen(req, timeout=5) as r:
                assert r.status == 200
    finally:
        ngx.stop()
        hang.close()


def test_a_dead_agent_is_said_in_the_error_log(stack, tmp_path):
    """Spans go by UDP to a port nobody listens on: the reporter thread's
    failure reaches nginx's error log through ngx.log (emitted by the worker's
    Lua thread: the one-second timer, or the next request) within 3 s, once
    per worker, not once per batch."""
    _, _, flask_port, _ = stack
    ngx = Nginx(tmp_path, free_port_udp(), flask_port, 10)
    try:
        for i in range(5):
            req = urllib.request.Request(f"http://127.0.0.1:{ngx.port}/static/x.txt?i={i}",
                                         headers={"Connection": "close"})
            with urllib.request.urlopen(req, timeout=5) as r:
                assert r.status == 200
        deadline = time.time() + 3
        while time.time() < deadline and "udp sender failed" not in ngx.error_log():
            time.sleep(0.1)
        log = ngx.error_log()
        assert "udp sender failed" in log and "Connection refused" in log, log
        lines = [l for l in log.splitlines() if "udp sender failed" in l]
        assert "[error]" in lines[0]
        assert len(lines) <= 2, lines     # rate-limited: at most one per worker
    finally:
        ngx.stop()


def free_port_udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_shipped_example_config_runs(tmp_path):
    """lua/examples/nginx.conf, with only its paths and ports swapped: it
    serves, and its span reaches the agent with its process tags."""
    sink = UdpSink()
    port = free_port()
    with open(os.path.join(TOP, "lua", "examples", "nginx.conf")) as f:
        conf = f.read()
    for old, new in (("/usr/local/lib/lua/5.1/?.so", f"{BUILD}/5.1/?.so"),
                     ("/usr/local/share/lua/5.1/?.lua", f"{TOP}/lua/?.lua"),
                     ("127.0.0.1:8080", f"127.0.0.1:{port}"),
                     ("agent_port = 6831", f"agent_port = {sink.port}")):
        assert old in conf, old
        conf = conf.replace(old, new)
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    (tmp_path / "logs").mkdir()
    glob = "daemon off;" + (" user root root;" if os.geteuid() == 0 else "")
    cmd = ["nginx", "-p", str(tmp_path), "-c", str(path), "-e", str(tmp_path / "error.log"), "-g", glob]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "nginx (example config)")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=10) as r:
            assert r.read() == b"hello\n"
        coll = Collector(sink)
        found = coll.wait_for(lambda p, s: s.operationName == "GET /hello")
        assert len(found) == 1
        proc_, span = found[0]
        assert proc_.serviceName == "edge"
        assert tags(proc_.tags)["deployment.environment"] == ("str", "dev")
        assert tags(span.tags)["http.status_code"] == ("long", 200)
    finally:
        subprocess.run(cmd + ["-s", "quit"], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        sink.close()


def test_reload_loses_no_finished_span(stack, tmp_path):
    """`nginx -s reload`: the old workers flush in exit_worker, the new ones
    start their own reporters; spans from both generations arrive."""
    _, _, flask_port, _ = stack
    sink = UdpSink()
    ngx = Nginx(tmp_path, sink.port, flask_port, flush_ms=60000)
    try:
        coll = Collector(sink)
        marker = uuid.uuid4().hex
        for i in range(20):
            assert ngx.get(f"/static/x.txt?m={marker}&i={i}")[0] == 200
        old = set(ngx.workers)
        subprocess.run(["nginx", "-p", ngx.dir, "-c", ngx.conf, "-e",
                        os.path.join(ngx.dir, "error.log"), "-s", "reload"], check=True)
        deadline = time.time() + 10
        while time.time() < deadline and (not ngx._workers() or set(ngx._workers()) & old):
            time.sleep(0.1)
        new = set(ngx._workers())
        assert new and not (new & old), (old, new)
        for i in range(20, 40):
            assert ngx.get(f"/static/x.txt?m={marker}&i={i}")[0] == 200
        ngx.quit()
        spans = [(p, s) for p, s in coll.poll(1.0)
                 if marker in (tags(s.tags).get("http.url", ("", ""))[1] or "")]
        got = sorted(int(tags(s.tags)["http.url"][1].rsplit("=", 1)[1]) for _, s in spans)
        assert got == list(range(40))
        pids = {tags(p.tags)["worker_pid"][1] for p, _ in spans}
        assert {str(x) for x in old} & {str(x) for x in pids}
        assert {str(x) for x in new} & {str(x) for x in pids}
    finally:
        ngx.stop()
        sink.close()


def test_unsampled_requests_propagate_the_decision_and_report_nothing(stack, tmp_path):
    """sampler const 0: nothing is reported by nginx, and the upstream gets
    the not-sampled flag, so (parent-based) it reports nothing either."""
    _, coll, flask_port, main_sink = stack
    sink = UdpSink()
    ngx = Nginx(tmp_path, sink.port, flask_port, flush_ms=50, sample=0)
    try:
        status, body = ngx.get("/api/unsampled")
        assert status == 200
        seen = json.loads(body)
        assert seen["traceparent"].endswith("-00"), seen
        tid = seen["traceparent"].split("-")[1]
        assert Collector(sink).poll(1.0) == []
        # the Flask upstream reports to the module's main sink
        assert not [s for _, s in coll.poll(1.0) if trace_of(s) == tid]
    finally:
        ngx.stop()
        sink.close()


def listener():
    """A TCP socket that counts connection attempts (none must arrive)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.settimeout(0.5)
    return s


def no_connection(s):
    try:
        c, _ = s.accept()
    except socket.timeout:
        return True
    c.close()
    return False


REFUSAL = ("tracewire.redisq.connect: a blocking LuaSocket client cannot run in nginx's '%s' phase "
           "(it would stall every request of this worker); pass a lua-resty-redis object "
           "(require \"resty.redis\") or a function(argv) over ngx.socket.tcp to redisq as the "
           "client instead")


def test_redisq_connect_refuses_a_request_phase(stack):
    ngx = stack[0]
    with listener() as s:
        status, body = ngx.get("/redisq/connect?port=%d" % s.getsockname()[1])
        assert status == 200
        assert body.decode().strip() == REFUSAL % "content"
        assert no_connection(s)


def test_redisq_connect_refuses_a_timer(stack):
    ngx = stack[0]
    with listener() as s:
        port = s.getsockname()[1]
        # the shared dict is per server: ask until the timer of this request answered
        assert ngx.get("/redisq/timer?port=%d" % port) == (200, b"started\n")
        deadline, got = time.time() + 10, ""
        while time.time() < deadline and not got:
            got = ngx.get("/redisq/result")[1].decode().strip()
            time.sleep(0.05)
        assert got == REFUSAL % "timer"
        assert no_connection(s)
