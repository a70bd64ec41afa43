"""Spans made in Python, reported by the core to real local peers and decoded
with external decoders: jaeger_client's generated Thrift types + the PyPI
`thrift` runtime (UDP compact / HTTP binary) and opentelemetry-proto (OTLP)."""
import base64
import gzip
import json

import pytest
from google.protobuf import json_format
from jaeger_client.thrift_gen.agent import Agent
from jaeger_client.thrift_gen.jaeger import ttypes
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TTransport

import tracewire


class Obj:
    def __str__(self):
        return "an object"


def make_spans(tracer):
    parent = tracer.start_span("parent")
    s = tracer.start_span("typed", child_of=parent, start_time=1700000000.0)
    s.set_tag("str", "v").set_tag("int", -3).set_tag("big", 2 ** 70).set_tag("float", 1.5)
    s.set_tag("bool", True).set_tag("bytes", b"\x01\x02").set_tag("none", None).set_tag("obj", Obj())
    s.set_tag("span.kind", "client")
    s.log_kv({"event": "ev", "n": 7}, 1700000000.5)
    s.finish(1700000001.0)
    parent.finish()
    return parent, s


def tag_map(tags):
    out = {}
    for t in tags or []:
        v = {ttypes.TagType.STRING: t.vStr, ttypes.TagType.LONG: t.vLong,
             ttypes.TagType.DOUBLE: t.vDouble, ttypes.TagType.BOOL: t.vBool,
             ttypes.TagType.BINARY: t.vBinary}[t.vType]
        out[t.key] = (t.vType, v)
    return out


def u64(x):
    return x & 0xFFFFFFFFFFFFFFFF


def check_jaeger_batch(batch, parent, child, service):
    assert batch.process.serviceName == service
    by_name = {sp.operationName: sp for sp in batch.spans}
    sp = by_name["typed"]
    ctx = child.context
    assert u64(sp.traceIdLow) == ctx.trace_id & (2 ** 64 - 1)
    assert u64(sp.traceIdHigh) == ctx.trace_id >> 64
    assert u64(sp.spanId) == ctx.span_id
    assert u64(sp.parentSpanId) == parent.context.span_id
    assert sp.flags & 1
    assert sp.startTime == 1700000000000000 and sp.duration == 1000000
    tags = tag_map(sp.tags)
    T = ttypes.TagType
    assert tags["str"] == (T.STRING, "v")
    assert tags["int"] == (T.LONG, -3)
    assert tags["big"] == (T.STRING, str(2 ** 70))
    assert tags["float"] == (T.DOUBLE, 1.5)
    assert tags["bool"] == (T.BOOL, True)
    vtype, vbin = tags["bytes"]
    if isinstance(vbin, str):   # jaeger_client's generated reader decodes binary as text
        vbin = vbin.encode("utf-8")
    assert (vtype, vbin) == (T.BINARY, b"\x01\x02")
    assert tags["none"] == (T.STRING, "None")
    assert tags["obj"] == (T.STRING, "an object")
    log = sp.logs[0]
    assert log.timestamp == 1700000000500000
    assert tag_map(log.fields) == {"event": (T.STRING, "ev"), "n": (T.LONG, 7)}
    root = by_name["parent"]
    assert root.parentSpanId == 0


def test_udp_compact_thrift_decoded_by_jaeger_agent_types(udp_sink):
    tracer = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "udp",
                               "local_agent": {"reporting_host": "127.0.0.1",
                                               "reporting_port": udp_sink.port}},
                              service_name="wire-udp").new_tracer()
    parent, child = make_spans(tracer)
    assert tracer.flush(5.0)
    data = udp_sink.recv()
    proto = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(data))
    name, mtype, _seq = proto.readMessageBegin()
    assert name == "emitBatch"
    assert mtype == 4  # ONEWAY
    args = Agent.emitBatch_args()
    args.read(proto)
    proto.readMessageEnd()
    assert len(args.batch.spans) == 2
    check_jaeger_batch(args.batch, parent, child, "wire-udp")
    m = tracer.metrics()
    assert m["spans_reported"] == 2 and m["batches_sent"] >= 1
    tracer.close()


def test_http_binary_thrift_decoded_as_batch(http_sink):
    tracer = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "http",
                               "endpoint": "http://127.0.0.1:%d/api/traces" % http_sink.port},
                              service_name="wire-http").new_tracer()
    parent, child = make_spans(tracer)
    assert tracer.flush(5.0)
    reqs = http_sink.wait(1)
    path, headers, body = reqs[0]
    assert path.startswith("/api/traces")
    ctype = {k.lower(): v for k, v in headers.items()}["content-type"]
    assert "thrift" in ctype
    batch = ttypes.Batch()
    batch.read(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body)))
    check_jaeger_batch(batch, parent, child, "wire-http")
    tracer.close()


def _hex_ids_to_base64(obj):
    """OTLP/JSON carries ids as hex; protobuf's JSON parser wants base64."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                v = base64.b64encode(bytes.fromhex(v)).decode()
            out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(obj, list):
        return [_hex_ids_to_base64(x) for x in obj]
    return obj


@pytest.mark.parametrize("encoding", ["http/json", "http/protobuf", "http/protobuf+gzip"])
def test_otlp_decoded_by_opentelemetry_proto(otlp_sink, encoding):
    options = {"reporter.otlp_protocol": encoding.split("+")[0]}
    if encoding.endswith("+gzip"):
        options["reporter.otlp_compression"] = "gzip"
    tracer = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "otlp", "options": options,
                               "endpoint": "http://127.0.0.1:%d/v1/traces" % otlp_sink.port},
                              service_name="wire-otlp").new_tracer()
    parent, child = make_spans(tracer)
    assert tracer.flush(5.0)
    path, headers, body = otlp_sink.wait(1)[0]
    assert path == "/v1/traces"
    h = {k.lower(): v for k, v in headers.items()}
    req = ExportTraceServiceRequest()
    if encoding == "http/json":
        assert h["content-type"] == "application/json"
        json_format.Parse(json.dumps(_hex_ids_to_base64(json.loads(body))), req,
                          ignore_unknown_fields=True)
    else:
        assert h["content-type"] == "application/x-protobuf"
        if encoding.endswith("+gzip"):
            assert h["content-encoding"] == "gzip"
            body = gzip.decompress(body)
        req.ParseFromString(body)
    rs = req.resource_spans[0]
    res = {a.key: a.value for a in rs.resource.attributes}
    assert res["service.name"].string_value == "wire-otlp"
    spans = {s.name: s for ss in rs.scope_spans for s in ss.spans}
    sp = spans["typed"]
    assert sp.trace_id.hex() == child.context.trace_id_hex.rjust(32, "0")
    assert sp.span_id.hex() == child.context.span_id_hex
    assert sp.parent_span_id.hex() == parent.context.span_id_hex
    assert sp.kind == 3  # CLIENT, from the span.kind tag
    assert sp.start_time_unix_nano == 1700000000000000000
    assert sp.end_time_unix_nano == 1700000001000000000
    attrs = {a.key: a.value for a in sp.attributes}
    assert attrs["str"].string_value == "v"
    assert attrs["int"].int_value == -3
    assert attrs["big"].string_value == str(2 ** 70)
    assert attrs["float"].double_value == 1.5
    assert attrs["bool"].bool_value is True
    assert attrs["bytes"].bytes_value == b"\x01\x02"
    assert attrs["none"].string_value == "None"
    assert attrs["obj"].string_value == "an object"
    ev = sp.events[0]
    assert ev.time_unix_nano == 1700000000500000000
    ev_attrs = {a.key: a.value for a in ev.attributes}
    assert ev_attrs.get("n").int_value == 7 or ev.name == "ev"
    assert not spans["parent"].parent_span_id
    tracer.close()


def test_many_spans_over_udp_are_all_reported(udp_sink):
    tracer = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "udp", "reporter_batch_size": 50,
                               "local_agent": {"reporting_port": udp_sink.port}},
                              service_name="wire-many").new_tracer()
    for i in range(500):
        with tracer.start_span("s%d" % i) as s:
            s.set_tag("i", i)
    assert tracer.flush(10.0)
    seen = 0
    while seen < 500:
        data = udp_sink.recv(5)
        proto = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(data))
        proto.readMessageBegin()
        args = Agent.emitBatch_args()
        args.read(proto)
        seen += len(args.batch.spans)
    assert seen == 500
    m = tracer.metrics()
    assert m["spans_reported"] == 500
    assert m["dropped_queue_full"] == 0 and m["dropped_send_failed"] == 0
    tracer.close()


def test_close_flushes_with_timeout(udp_sink):
    tracer = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "udp", "local_agent": {"reporting_port": udp_sink.port}},
                              service_name="wire-close").new_tracer()
    tracer.start_span("last").finish()
    assert tracer.close(timeout=5.0) is True
    data = udp_sink.recv(5)
    assert b"last" in data


def test_initialize_tracer_delivers_pending_spans_at_exit(udp_sink):
    """A process that never calls close(): the tracer installed by
    initialize_tracer() flushes at interpreter exit."""
    import subprocess
    import sys
    code = (
        "import tracewire, opentracing\n"
        "tracewire.Config({'sampler': {'type': 'const', 'param': 1}, 'protocol': 'udp',\n"
        "                  'reporter_flush_interval': 60,\n"
        "                  'local_agent': {'reporting_port': %d}}, service_name='exit').initialize_tracer()\n"
        "with opentracing.tracer.start_active_span('last-words'):\n"
        "    pass\n" % udp_sink.port)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    data = udp_sink.recv(10)
    assert b"last-words" in data and b"exit" in data
