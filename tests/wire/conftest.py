"""Real local listeners and third-party decoders for the wire tests.

Listeners: a UDP socket (the agent's place) and a threaded HTTP/1.1 server
(the collector's place) whose behaviour a test can switch at run time: ok,
500, garbage, hang (accept, read, never answer), refuse (close without a reply,
then stop listening), 429 with Retry-After.

Decoders: the PyPI `thrift` runtime with `jaeger_client`'s generated types
(compact for UDP emitBatch messages, binary for HTTP bodies) and
`opentelemetry-proto`'s ExportTraceServiceRequest through
google.protobuf.json_format. jaeger-client's IDL snapshot predates
Batch.seqNo/stats, so Batch is read through thrift's generic spec-driven
reader with those two fields added to the spec; all Span/Tag/Log/Process
decoding is the generated code's.
"""
import base64
import gzip
import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from google.protobuf import json_format
from jaeger_client.thrift_gen.jaeger import ttypes
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TMessageType, TType
from thrift.transport import TTransport

DRIVER = os.environ.get("TW_WIRE_DRIVER", "")


# ------------------------------------------------------------------ decoding

class ClientStats:
    thrift_spec = (None,
                   (1, TType.I64, "fullQueueDroppedSpans", None, None),
                   (2, TType.I64, "tooLargeDroppedSpans", None, None),
                   (3, TType.I64, "failedToEmitSpans", None, None))

    def read(self, iprot):
        iprot.readStruct(self, self.thrift_spec)


class Batch(ttypes.Batch):
    """ttypes.Batch plus seqNo (3) and stats (4); fields 1 and 2 are read by the
    generated Process/Span code."""

    def __init__(self):
        super().__init__()
        self.seqNo = None
        self.stats = None

    def read(self, iprot):
        iprot.readStructBegin()
        while True:
            _, ftype, fid = iprot.readFieldBegin()
            if ftype == TType.STOP:
                break
            if fid == 1 and ftype == TType.STRUCT:
                self.process = ttypes.Process()
                self.process.read(iprot)
            elif fid == 2 and ftype == TType.LIST:
                etype, size = iprot.readListBegin()
                assert etype == TType.STRUCT
                self.spans = []
                for _ in range(size):
                    sp = ttypes.Span()
                    sp.read(iprot)
                    self.spans.append(sp)
                iprot.readListEnd()
            elif fid == 3 and ftype == TType.I64:
                self.seqNo = iprot.readI64()
            elif fid == 4 and ftype == TType.STRUCT:
                self.stats = ClientStats()
                self.stats.read(iprot)
            else:
                raise AssertionError("unexpected Batch field %d type %d" % (fid, ftype))
            iprot.readFieldEnd()
        iprot.readStructEnd()
        assert self.process is not None and self.spans is not None, "required field missing"


def _lenient(proto_cls):
    """vBinary is declared `string` in jaeger-client's IDL snapshot, so its
    generated reader utf-8-decodes it; keep undecodable bytes recoverable."""
    class Lenient(proto_cls):
        def readString(self):
            return self.readBinary().decode("utf-8", "surrogateescape")
    return Lenient


def decode_compact_datagram(data):
    """One UDP datagram -> (seqid, Batch). Asserts it is exactly one oneway
    emitBatch message with nothing after it."""
    trans = TTransport.TMemoryBuffer(data)
    p = _lenient(TCompactProtocol.TCompactProtocol)(trans)
    name, mtype, seqid = p.readMessageBegin()
    assert name == "emitBatch" and mtype == TMessageType.ONEWAY
    p.readStructBegin()
    _, ftype, fid = p.readFieldBegin()
    assert (ftype, fid) == (TType.STRUCT, 1)
    batch = Batch()
    batch.read(p)
    p.readFieldEnd()
    _, ftype, _ = p.readFieldBegin()
    assert ftype == TType.STOP
    p.readStructEnd()
    p.readMessageEnd()
    assert trans.cstringio_buf.read() == b"", "trailing bytes after the message"
    return seqid, batch


def decode_binary_batch(body):
    trans = TTransport.TMemoryBuffer(body)
    p = _lenient(TBinaryProtocol.TBinaryProtocol)(trans)
    batch = Batch()
    batch.read(p)
    assert trans.cstringio_buf.read() == b"", "trailing bytes after the Batch"
    return batch


def _hex_ids_to_base64(o):
    if isinstance(o, dict):
        for k, v in list(o.items()):
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                o[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                _hex_ids_to_base64(v)
    elif isinstance(o, list):
        for v in o:
            _hex_ids_to_base64(v)
    return o


def decode_otlp_json(body):
    """OTLP/HTTP JSON body -> ExportTraceServiceRequest. OTLP-JSON writes ids as
    hex where proto3-JSON expects base64: convert those keys, nothing else."""
    doc = json.loads(body)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in sp:
                        assert len(sp[k]) == (32 if k == "traceId" else 16)
                        assert sp[k] == sp[k].lower()
                for ln in sp.get("links", []):
                    assert len(ln["traceId"]) == 32 and len(ln["spanId"]) == 16
    req = trace_service_pb2.ExportTraceServiceRequest()
    json_format.ParseDict(_hex_ids_to_base64(doc), req)
    return req


def decode_otlp(body, content_type=None, content_encoding=None):
    """An OTLP/HTTP trace body in any of the encodings the tracer sends ->
    ExportTraceServiceRequest. With the request's headers given they must
    match the body; without, the body says (gzip magic, then '{' for JSON)."""
    if content_encoding is not None:
        assert (content_encoding == "gzip") == (body[:2] == b"\x1f\x8b"), content_encoding
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    if content_type is not None:
        assert content_type in ("application/json", "application/x-protobuf"), content_type
        assert (content_type == "application/json") == body.startswith(b"{"), content_type
    if body.startswith(b"{"):
        return decode_otlp_json(body)
    req = trace_service_pb2.ExportTraceServiceRequest()
    req.ParseFromString(body)
    return req


# ------------------------------------------------------------------ listeners

class UdpSink:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE (root)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.datagrams = []
        self._stop = False
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                self.datagrams.append(self.sock.recv(1 << 17))
            except socket.timeout:
                continue
            except OSError:
                return

    def wait_quiet(self, quiet=0.3, limit=10.0):
        """Returns once no datagram arrived for `quiet` seconds."""
        end = time.time() + limit
        n = -1
        while time.time() < end:
            if len(self.datagrams) == n:
                return
            n = len(self.datagrams)
            time.sleep(quiet)

    def close(self):
        self._stop = True
        self.thread.join()
        self.sock.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.gets.append(self.path)
        out = srv.strategy.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_POST(self):
        srv = self.server
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        mode = srv.mode
        if mode in ("429once", "500once", "503once"):   # one failure (Retry-After: 1), then healthy
            srv.mode = "ok"
            mode = mode[:3]
        with srv.lock:
            srv.headers.append({k.lower(): v for k, v in self.headers.items()})
            peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
            srv.peer_certs.append(peer)
            srv.times.append(time.monotonic())
            srv.requests.append((self.path, self.headers.get("Content-Type"), body, mode))
            srv.client_ports.append(self.client_address[1])
        if mode in ("ok", "partial"):
            if self.path.endswith("/v1/traces") and \
                    self.headers.get("Content-Type") == "application/x-protobuf":
                # answered as a collector does: in the request's encoding
                resp = trace_service_pb2.ExportTraceServiceResponse()
                if mode == "partial":
                    resp.partial_success.rejected_spans = 2
                    resp.partial_success.error_message = "too old"
                out = resp.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
            elif self.path.endswith("/v1/traces"):
                out = b'{"partialSuccess":{}}'
                if mode == "partial":
                    out = b'{"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            else:
                out = b""
                self.send_response(202)
            with srv.lock:     # before answering: the client may be gone right after
                srv.accepted.append((self.path, body))
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        elif mode in ("500", "429", "400", "503", "503long"):
            self.send_response(int(mode[:3]))
            if mode in ("429", "503"):
                self.send_header("Retry-After", "1")
            if mode == "503long":
                self.send_header("Retry-After", "30")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "garbage":
            self.wfile.write(b"\x00\x01 this is not HTTP at all\r\n\r\n")
            self.close_connection = True
        elif mode == "hang":
            srv.release.wait(60)
            self.close_connection = True
        else:  # refuse: no answer on an open connection, then the port is closed
            self.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        with self.lock:
            self.errors += 1     # e.g. a TLS handshake the test made fail


class HttpSink:
    """tls: an ssl.SSLContext (server side) to serve HTTPS instead."""

    def __init__(self, tls=None):
        self.server = _QuietServer(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.server.errors = 0
        self.server.headers = []
        self.server.peer_certs = []
        self.server.mode = "ok"
        self.server.lock = threading.Lock()
        self.server.requests = []
        self.server.accepted = []
        self.server.gets = []
        self.server.client_ports = []
        self.server.times = []
        self.server.strategy = "{}"
        self.server.release = threading.Event()
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.listening = True

    @property
    def accepted(self):
        with self.server.lock:
            return list(self.server.accepted)

    @property
    def requests(self):
        with self.server.lock:
            return list(self.server.requests)

    @property
    def headers(self):
        """The request headers (names lower-cased), one dict per POST."""
        with self.server.lock:
            return list(self.server.headers)

    def set_mode(self, mode):
        self.server.mode = mode
        if mode == "refuse" and self.listening:
            self.server.shutdown()
            self.server.server_close()
            self.listening = False

    def close(self):
        self.server.release.set()
        if self.listening:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def udp_sink():
    s = UdpSink()
    yield s
    s.close()


@pytest.fixture
def http_sink():
    s = HttpSink()
    yield s
    s.close()


# ------------------------------------------------------------------ driver

def run_driver(*args, timeout=120):
    """Runs wire_driver to completion; returns its stdout JSON lines."""
    assert DRIVER and os.path.exists(DRIVER), "TW_WIRE_DRIVER not built (use run.sh)"
    out = subprocess.run([DRIVER, *[str(a) for a in args]], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def start_driver(*args):
    assert DRIVER and os.path.exists(DRIVER), "TW_WIRE_DRIVER not built (use run.sh)"
    return subprocess.Popen([DRIVER, *[str(a) for a in args]], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def of_type(lines, t):
    return [x for x in lines if x.get("type") == t]


def assert_balanced(c):
    """spans_finished = reported + every dropped_*, exactly."""
    dropped = (c["dropped_queue_full"] + c["dropped_too_large"] + c["dropped_send_failed"]
               + c["dropped_on_close"])
    assert c["finished"] == c["reported"] + dropped, c


def s64(u):
    """uint64 as printed by the driver -> Thrift's signed i64."""
    u = int(u)
    return u - (1 << 64) if u >= (1 << 63) else u
