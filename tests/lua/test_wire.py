"""Spans emitted from Lua (5.4 and LuaJIT) and decoded by external decoders:
the PyPI thrift package with jaeger-client's generated types (UDP compact and
HTTP binary) and opentelemetry-proto (OTLP/HTTP JSON, protobuf, protobuf + gzip)."""
import base64
import gzip
import json

import pytest

from google.protobuf import json_format
from jaeger_client.thrift_gen.agent import Agent
from jaeger_client.thrift_gen.jaeger import ttypes
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TTransport

from conftest import last_json_line, run_lua


def u64(v):
    return v & 0xFFFFFFFFFFFFFFFF


def hex_trace(span):
    return "%016x%016x" % (u64(span.traceIdHigh), u64(span.traceIdLow))


def decode_udp(datagram):
    proto = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(datagram))
    name, mtype, _ = proto.readMessageBegin()
    assert name == "emitBatch"
    assert mtype == 4  # ONEWAY
    args = Agent.emitBatch_args()
    args.read(proto)
    proto.readMessageEnd()
    return args.batch


def decode_http(body):
    proto = TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body))
    batch = ttypes.Batch()
    batch.read(proto)
    return batch


def tags(tag_list):
    out = {}
    for t in tag_list or []:
        out[t.key] = {
            ttypes.TagType.STRING: ("str", t.vStr), ttypes.TagType.LONG: ("long", t.vLong),
            ttypes.TagType.DOUBLE: ("double", t.vDouble), ttypes.TagType.BOOL: ("bool", t.vBool),
            ttypes.TagType.BINARY: ("binary", t.vBinary),
        }[t.vType]
    return out


def check_jaeger_batches(batches, ids):
    spans = [s for b in batches for s in b.spans]
    for b in batches:
        assert b.process.serviceName == "lua-wire"
        assert tags(b.process.tags).get("region") == ("str", "eu")
    by_id = {"%016x" % u64(s.spanId): s for s in spans}
    assert set(by_id) == {ids["parent"], ids["child"], ids["linked"]}
    parent, child, linked = by_id[ids["parent"]], by_id[ids["child"]], by_id[ids["linked"]]
    for s in spans:
        assert hex_trace(s) == ids["trace_id"]
        assert s.flags & 1
    assert parent.parentSpanId == 0
    assert "%016x" % u64(child.parentSpanId) == ids["parent"]
    assert parent.operationName == "GET /parent"
    assert parent.startTime == 1700000000000000 and parent.duration == 1000000
    assert child.startTime == 1700000000250000 and child.duration == 500000
    ct = tags(child.tags)
    assert ct["s"] == ("str", "text")
    assert ct["i"] == ("long", 42)
    assert ct["d"] == ("double", 2.5)
    assert ct["b"] == ("bool", True)
    assert tags(parent.tags)["http.status_code"] == ("long", 200)
    assert tags(parent.tags)["span.kind"] == ("str", "server")
    assert len(child.logs) == 1
    assert child.logs[0].timestamp == 1700000000500000
    lf = tags(child.logs[0].fields)
    assert lf["event"] == ("str", "cache_miss") and lf["n"] == ("long", 7)
    refs = [(r.refType, "%016x" % u64(r.spanId)) for r in linked.references or []]
    assert (ttypes.SpanRefType.FOLLOWS_FROM, ids["child"]) in refs


def test_udp_compact_thrift(runtime, udp_sink):
    out = run_lua(runtime, "wire_emit.lua", "udp", "agent_host=127.0.0.1", f"agent_port={udp_sink.port}")
    ids = last_json_line(out.stdout)
    assert ids["ok"], ids
    batches = [decode_udp(d) for d in udp_sink.drain()]
    assert batches, "no datagram arrived"
    check_jaeger_batches(batches, ids)
    assert ids["reported"] == 3


def test_http_binary_thrift(runtime, http_sink):
    out = run_lua(runtime, "wire_emit.lua", "http", f"endpoint=http://127.0.0.1:{http_sink.port}/api/traces")
    ids = last_json_line(out.stdout)
    assert ids["ok"], ids
    posts = [r for r in http_sink.requests if r[0] == "/api/traces"]
    assert posts, "no POST arrived"
    for _, headers, _ in posts:
        ctype = {k.lower(): v for k, v in headers.items()}["content-type"]
        assert "thrift" in ctype
    check_jaeger_batches([decode_http(b) for _, _, b in posts], ids)


def hex_to_b64(obj):
    """OTLP/JSON carries ids as hex; protobuf's JSON parser wants base64."""
    if isinstance(obj, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode()
                    if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str) and v
                    else hex_to_b64(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [hex_to_b64(v) for v in obj]
    return obj


@pytest.mark.parametrize("encoding", ["json", "protobuf", "protobuf+gzip"])
def test_otlp_http(runtime, http_sink, encoding):
    opts = {"json": ["otlp_protocol=http/json"], "protobuf": [],
            "protobuf+gzip": ["otlp_compression=gzip"]}[encoding]
    out = run_lua(runtime, "wire_emit.lua", "otlp",
                  f"otlp_endpoint=http://127.0.0.1:{http_sink.port}/v1/traces", *opts)
    ids = last_json_line(out.stdout)
    assert ids["ok"], ids
    posts = [r for r in http_sink.requests if r[0] == "/v1/traces"]
    assert posts, "no POST arrived"
    spans, services = {}, set()
    for _, headers, body in posts:
        h = {k.lower(): v for k, v in headers.items()}
        req = trace_service_pb2.ExportTraceServiceRequest()
        if encoding == "json":
            assert h["content-type"].startswith("application/json")
            json_format.ParseDict(hex_to_b64(json.loads(body)), req)   # strict: unknown fields fail
        else:
            assert h["content-type"] == "application/x-protobuf"
            if encoding == "protobuf+gzip":
                assert h["content-encoding"] == "gzip"
                body = gzip.decompress(body)
            else:
                assert "content-encoding" not in h
            req.ParseFromString(body)
        for rs in req.resource_spans:
            for a in rs.resource.attributes:
                if a.key == "service.name":
                    services.add(a.value.string_value)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans[s.span_id.hex()] = s
    assert services == {"lua-wire"}
    assert set(spans) == {ids["parent"], ids["child"], ids["linked"]}
    parent, child, linked = spans[ids["parent"]], spans[ids["child"]], spans[ids["linked"]]
    assert parent.trace_id.hex() == ids["trace_id"]
    assert child.parent_span_id.hex() == ids["parent"]
    assert parent.kind == 2  # SERVER
    assert child.start_time_unix_nano == 1700000000250000 * 1000
    assert child.end_time_unix_nano == 1700000000750000 * 1000
    attrs = {a.key: a.value for a in child.attributes}
    assert attrs["s"].string_value == "text"
    assert attrs["i"].int_value == 42
    assert attrs["d"].double_value == 2.5
    assert attrs["b"].bool_value is True
    assert len(child.events) == 1
    assert child.events[0].time_unix_nano == 1700000000500000 * 1000
    assert [l.span_id.hex() for l in linked.links] == [ids["child"]]


@pytest.mark.parametrize("profile", ["native", "jaeger_client"])
def test_http_span_parent_on_the_wire(runtime, udp_sink, profile):
    """start_http_span's extracted parent is opentracing's child_of: under
    profile jaeger_client only parentSpanId, as jaeger_client sends a server
    span (tw_http_span_start, the same for the nginx module); natively it is
    also a CHILD_OF reference."""
    out = run_lua(runtime, "wire_http_span.lua", profile, str(udp_sink.port))
    ids = last_json_line(out.stdout)
    assert ids["ok"] and ids["found"] and ids["reported"] == 1, ids
    spans = [s for d in udp_sink.drain() for s in decode_udp(d).spans]
    assert len(spans) == 1
    s = spans[0]
    assert "%016x" % u64(s.spanId) == ids["span"]
    assert (s.traceIdHigh, s.traceIdLow, s.parentSpanId) == (0, 0xa1, 0xb2)
    refs = [(r.refType, r.traceIdLow, r.spanId) for r in s.references or []]
    if profile == "jaeger_client":
        assert refs == []
    else:
        assert refs == [(ttypes.SpanRefType.CHILD_OF, 0xa1, 0xb2)]
