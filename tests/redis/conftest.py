"""Fixtures for the Redis module suite: real redis-server processes on
127.0.0.1 (free ports, private directories) and a UDP socket that receives
the module's Jaeger Thrift compact batches and decodes them with the
jaeger-client generated types."""
import atexit
import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time

import pytest
import redis

TOP = pathlib.Path(__file__).resolve().parents[2]
MODULE = os.environ.get("TW_REDIS_MODULE", str(TOP / "build/redis-tests/redis-module/tracewire.so"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


# With sanitizer runtimes preloaded into a non-sanitized redis-server, a
# MODULE LOAD issued at run time deadlocks inside dlopen (libcurl's gnutls
# initialisers take glibc's locale lock); loading at start-up works. Tests
# that need a run-time load skip in that configuration.
needs_runtime_load = pytest.mark.skipif(
    bool(os.environ.get("TW_REDIS_PRELOAD")),
    reason="run-time MODULE LOAD deadlocks in dlopen with preloaded sanitizer runtimes")


def load_redis_queue():
    """tracewire.redis_queue: its envelope and carrier codecs are the core's,
    through the Python binding. tests/redis/run.sh builds the binding from this
    tree and puts it first on PYTHONPATH; otherwise the installed one is used."""
    try:
        import tracewire.redis_queue as mod
    except ImportError as e:
        raise pytest.UsageError("tests/redis needs the Python binding (tests/redis/run.sh "
                                "builds it; or run tests/python/run.sh): %s" % e)
    return mod


rq = load_redis_queue()


_children = []


@atexit.register
def _kill_leftovers():
    for p in _children:
        if p.poll() is None:
            p.kill()
            p.wait()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_cluster_port():
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        s, b = socket.socket(), socket.socket()
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port + 10000 > 65535:
                continue
            b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
        finally:
            s.close()
            b.close()
    raise RuntimeError("no free port pair for a cluster node")


class RedisServer:
    """One redis-server child. start()/stop() may be called repeatedly with
    different options on the same directory (persistence tests)."""

    def __init__(self, workdir):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.port = None

    def start(self, module_args=None, extra=(), module=True, port=None, env_vars=None):
        """env_vars: the only OTEL_* / JAEGER_* variables the server sees (None:
        the test process's environment as is)."""
        self.port = port or free_port()
        self.log = self.dir / ("redis-%d.log" % self.port)
        cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
               "--dir", str(self.dir), "--save", "", "--appendonly", "no",
               "--daemonize", "no", "--logfile", str(self.log), "--protected-mode", "no",
               "--enable-module-command", "yes"]
        cmd += list(extra)
        if module:
            cmd += ["--loadmodule", MODULE] + list(module_args or [])
        env = dict(os.environ)
        if env_vars is not None:
            env = {k: v for k, v in env.items() if not k.startswith(("OTEL_", "JAEGER_"))}
            env.update(env_vars)
        if os.environ.get("TW_REDIS_PRELOAD"):      # e.g. libasan.so for a sanitized module
            env["LD_PRELOAD"] = os.environ["TW_REDIS_PRELOAD"]
        self.stderr = self.dir / ("redis-%d.stderr" % self.port)
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, env=env)
        _children.append(self.proc)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % self.log.read_text()[-2000:])
            try:
                c = self.client()
                c.ping()
                while c.info("persistence").get("loading"):
                    time.sleep(0.05)
                return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def client(self, **kw):
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def stop(self, save=False):
        if self.proc is None:
            return
        try:
            self.client(socket_timeout=5).shutdown(save=save, nosave=not save)
        except redis.ConnectionError:
            pass                        # the expected answer: the server closed the link
        except redis.RedisError:
            self.proc.terminate()       # a hung or refusing server
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class UdpCollector:
    """Receives Jaeger agent emitBatch datagrams (Thrift compact) and keeps
    the decoded spans."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.spans = []       # (service_name, Span)
        self.processes = []   # (service_name, process tags) per batch
        self.errors = []
        self.lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        from thrift.protocol import TCompactProtocol
        from thrift.transport import TTransport
        from jaeger_client.thrift_gen.agent import Agent
        while not self._stop:
            try:
                data = self.sock.recv(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                proto = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(data))
                name, _, _ = proto.readMessageBegin()
                assert name == "emitBatch", name
                args = Agent.emitBatch_args()
                args.read(proto)
                proto.readMessageEnd()
                with self.lock:
                    proc = args.batch.process
                    self.processes.append((proc.serviceName, tags(proc)))
                    for s in args.batch.spans:
                        self.spans.append((proc.serviceName, s))
            except Exception as e:  # recorded; tests assert it stays empty
                self.errors.append(repr(e))

    def wait_for(self, pred, timeout=5.0):
        """Returns the decoded spans once pred(spans) is true."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                spans = [s for _, s in self.spans]
            if pred(spans):
                return spans
            time.sleep(0.02)
        with self.lock:
            return [s for _, s in self.spans]

    def clear(self):
        with self.lock:
            self.spans.clear()
            self.processes.clear()

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


def raw(r, *cmd):
    """The reply as parsed off the wire, without redis-py's per-command
    reshaping (it turns XREADGROUP's nil into [], COMMAND's arrays into dicts)."""
    conn = r.connection_pool.get_connection(cmd[0])
    try:
        conn.send_command(*cmd)
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


def u64(v):
    return v & 0xFFFFFFFFFFFFFFFF


def trace_hex(span):
    return "%016x%016x" % (u64(span.traceIdHigh), u64(span.traceIdLow))


def span_hex(span):
    return "%016x" % u64(span.spanId)


def parent_hex(span):
    return "%016x" % u64(span.parentSpanId)


def tags(span):
    out = {}
    for t in span.tags or []:
        out[t.key] = t.vStr if t.vStr is not None else (
            t.vLong if t.vLong is not None else (t.vBool if t.vBool is not None else t.vDouble))
    return out


class HttpSink:
    """A real HTTP listener on 127.0.0.1 that answers 202 and keeps every
    POST as (path, content-type, body)."""

    def __init__(self):
        import http.server
        sink = self
        self.posts = []
        self.lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink.lock:
                    sink.posts.append((self.path, self.headers.get("Content-Type"), body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, pred, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                posts = list(self.posts)
            if pred(posts):
                return posts
            time.sleep(0.02)
        with self.lock:
            return list(self.posts)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def thrift_http_spans(body):
    """Span names of a Jaeger Thrift (binary) Batch posted to /api/traces."""
    from thrift.protocol import TBinaryProtocol
    from thrift.transport import TTransport
    from jaeger_client.thrift_gen.jaeger import ttypes
    b = ttypes.Batch()
    b.read(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body)))
    return b


@pytest.fixture(scope="session")
def collector():
    c = UdpCollector()
    yield c
    c.close()


def module_args(collector, *more):
    return ["service_name=redis-test", "reporter.protocols=udp", "reporter.agent_host=127.0.0.1",
            "reporter.agent_port=%d" % collector.port, "reporter.flush_interval_ms=20",
            "tq.max_item_size=33554432"] + list(more)


@pytest.fixture(scope="module")
def server(tmp_path_factory, collector):
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start(module_args(collector))
    yield srv
    srv.stop()
    assert "crashed by signal" not in srv.log.read_text()


@pytest.fixture
def r(server):
    c = server.client()
    c.flushall()
    return c


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(subdir="srv"):
        s = RedisServer(tmp_path / subdir)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()
