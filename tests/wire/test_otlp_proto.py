"""The OTLP protobuf encoder as a pure function (otlp_encode.c), decoded with
opentelemetry-proto's generated ExportTraceServiceRequest:

- every field and value kind of a hand-built batch, checked one by one;
- the protobuf body and the JSON body of the same records decode to the same
  message (the JSON writer is checked against recorded spans in
  test_otlp_wire.py), for the hand-built batch and for random ones whose
  strings cross the varint length boundaries;
- the bytes are canonical: re-serialising the decoded message gives the same
  bytes back;
- gzip bodies inflate (Python's gzip) to exactly the protobuf body.
"""
import gzip
import json
import math
import os
import subprocess

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from conftest import _hex_ids_to_base64

ENCODE = os.environ.get("TW_OTLP_ENCODE", "")


def bodies(*args):
    assert ENCODE and os.path.exists(ENCODE), "TW_OTLP_ENCODE not built (use run.sh)"
    out = subprocess.run([ENCODE, *map(str, args)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = {}
    for line in out.stdout.splitlines():
        d = json.loads(line)
        got[d["type"]] = bytes.fromhex(d["hex"])
    assert set(got) == {"proto", "json", "gzip"}
    return got


def parse_proto(raw):
    req = trace_service_pb2.ExportTraceServiceRequest()
    req.ParseFromString(raw)
    return req


def parse_json(raw):
    req = trace_service_pb2.ExportTraceServiceRequest()
    json_format.ParseDict(_hex_ids_to_base64(json.loads(raw)), req)
    return req


def nan_safe(req):
    """Messages compare NaN != NaN; compare their canonical bytes instead."""
    return req.SerializeToString(deterministic=True)


def any_value(v):
    which = v.WhichOneof("value")
    return which, getattr(v, which)


def attrs(kvs):
    out = {}
    for kv in kvs:
        assert kv.key not in out, "duplicate key %r" % kv.key
        out[kv.key] = any_value(kv.value)
    return out


@pytest.fixture(scope="module")
def full():
    return bodies("full")


def test_full_batch_every_field(full):
    req = parse_proto(full["proto"])
    (rs,) = req.resource_spans
    res = attrs(rs.resource.attributes)
    assert res == {"service.name": ("string_value", "svc-\u00e9"),
                   "hostname": ("string_value", "h"), "ip": ("string_value", "10.0.0.1"),
                   "env": ("string_value", "b"), "uni": ("string_value", "\u00e9\ufffd")}
    (ss,) = rs.scope_spans
    assert (ss.scope.name, ss.scope.version) == ("tracewire", "0.1.0")
    spans = list(ss.spans)
    assert [s.name for s in spans] == [
        "GET /every/field", "root-64", "k-unspecified", "k-producer", "k-consumer",
        "k-internal", "k-bad", "", "op\ufffd\ufffd"]
    s0 = spans[0]
    assert s0.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert s0.span_id.hex() == "b7ad6b7169203331"
    assert s0.parent_span_id.hex() == "00f067aa0ba902b7"
    assert s0.trace_state == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    assert s0.flags == 0x03, "W3C trace-flags 03 (sampled + random) kept"
    assert s0.kind == 2
    assert s0.start_time_unix_nano == 1700000000000000 * 1000
    assert s0.end_time_unix_nano == 1700000000001500 * 1000
    a = attrs(s0.attributes)
    assert a["str"] == ("string_value", "plain")
    assert a["empty"] == ("string_value", "")
    assert a["utf8"] == ("string_value", "h\u00e9llo \u20ac \U0001F600")
    assert a["invalid-utf8"] == ("string_value", "a\ufffdb\ufffd(\ufffd\ufffd\ufffdz"
                                 "\ufffd\ufffd\ufffd\ufffd")
    assert a["nul"] == ("string_value", "a\0b")
    assert a["i0"] == ("int_value", 0)
    assert a["imin"] == ("int_value", -(1 << 63))
    assert a["imax"] == ("int_value", (1 << 63) - 1)
    assert a["ineg"] == ("int_value", -3)
    assert a["d"] == ("double_value", 0.1)
    assert a["dzero"] == ("double_value", 0.0)
    assert a["dneg0"][0] == "double_value" and math.copysign(1, a["dneg0"][1]) == -1
    assert a["dnan"][0] == "double_value" and math.isnan(a["dnan"][1])
    assert a["dinf"] == ("double_value", math.inf)
    assert a["dninf"] == ("double_value", -math.inf)
    assert a["btrue"] == ("bool_value", True)
    assert a["bfalse"] == ("bool_value", False)
    assert a["bin"] == ("bytes_value", b"\x00\x01\xff\xfe binary")
    assert a["bin-empty"] == ("bytes_value", b"")
    assert a["dup"] == ("int_value", 2), "a key set twice keeps its last value"
    assert a["mid"] == ("string_value", "m" * 200)
    assert a["big"] == ("string_value", "b" * 20000)
    assert a["error"] == ("string_value", "true")
    assert s0.status.code == 2
    ev = list(s0.events)
    assert [(e.time_unix_nano, e.name) for e in ev] == [
        (1700000000000100000, "retry"), (1700000000000200000, ""), (0, ""),
        (1700000000000300000, "")]
    assert attrs(ev[0].attributes) == {"attempt": ("int_value", 2), "msg": ("string_value", "x")}
    assert attrs(ev[1].attributes) == {"message": ("string_value", "no event field"),
                                       "v": ("double_value", 1.5)}
    assert attrs(ev[2].attributes) == {"event": ("int_value", 7)}
    assert not ev[3].attributes
    # the CHILD_OF reference to the parent is the parent; the others are links
    links = [(ln.trace_id.hex(), ln.span_id.hex(), attrs(ln.attributes)) for ln in s0.links]
    assert links == [
        ("0" * 31 + "1", "0" * 15 + "9",
         {"opentracing.ref_type": ("string_value", "follows_from")}),
        ("0" * 15 + "5" + "0" * 15 + "6", "0" * 15 + "7",
         {"opentracing.ref_type": ("string_value", "child_of")})]

    s1 = spans[1]
    assert s1.trace_id.hex() == "0" * 16 + "fedcba9876543210"
    assert s1.parent_span_id == b""
    assert s1.kind == 3 and s1.status.code == 2 and s1.flags == 1
    assert [s.kind for s in spans[2:7]] == [1, 4, 5, 1, 1], "UNSPECIFIED/unknown go out as INTERNAL"
    assert spans[2].start_time_unix_nano == 0
    assert spans[3].start_time_unix_nano == (1 << 63) - 1, "saturated, not wrapped"
    assert spans[4].end_time_unix_nano == (1 << 63) - 1
    assert spans[5].flags == 0xff and spans[6].flags == 0
    assert spans[7].name == "" and not spans[7].attributes and spans[7].status.code == 0
    assert spans[8].trace_state == "k=v"


def test_full_batch_proto_and_json_are_the_same_message(full):
    assert nan_safe(parse_proto(full["proto"])) == nan_safe(parse_json(full["json"]))


def test_full_batch_bytes_are_canonical(full):
    assert parse_proto(full["proto"]).SerializeToString(deterministic=True) == full["proto"]


def test_full_batch_gzip_inflates_to_the_protobuf_body(full):
    assert full["gzip"][:3] == b"\x1f\x8b\x08", "a gzip member (RFC 1952, deflate)"
    assert gzip.decompress(full["gzip"]) == full["proto"]
    assert len(full["gzip"]) < len(full["proto"]) / 4, "the 20 KB run compresses"


@pytest.mark.parametrize("seed", range(1, 9))
def test_random_batches_match_json_and_are_canonical(seed):
    got = bodies("random", 60, seed)
    p = parse_proto(got["proto"])
    assert len(p.resource_spans[0].scope_spans[0].spans) == 60
    assert p.SerializeToString(deterministic=True) == got["proto"]
    assert nan_safe(p) == nan_safe(parse_json(got["json"]))
    assert gzip.decompress(got["gzip"]) == got["proto"]
