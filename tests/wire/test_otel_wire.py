"""The OTel face's core features on the wire (wire_driver "otel"): ARRAY
attributes, links added after start with attributes, and instrumentation
scopes. OTLP bodies (protobuf, JSON, gzip) are decoded with
opentelemetry-proto; Jaeger Thrift (UDP compact, HTTP binary) with the PyPI
thrift runtime and the Jaeger IDL; the log line is read as text."""
import json
import subprocess

import pytest

from conftest import (DRIVER, assert_balanced, decode_binary_batch, decode_compact_datagram,
                      decode_otlp, of_type, run_driver)
from test_otlp_wire import ENCODINGS

SCHEMA = "https://opentelemetry.io/schemas/1.21.0"


def _py(v):
    """An AnyValue as a plain Python value (arrays as tuples, empty as None)."""
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(_py(x) for x in v.array_value.values)
    return getattr(v, which)


def _kinds(v):
    which = v.WhichOneof("value")
    if which == "array_value":
        return tuple(x.WhichOneof("value") for x in v.array_value.values)
    return which


def _attrs(kvs):
    out = {}
    for kv in kvs:
        assert kv.key not in out, kv.key
        out[kv.key] = kv.value
    return out


def _id(x):
    return int(x).to_bytes(8, "big")


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_otlp_arrays_links_and_scopes(http_sink, encoding):
    opts = ENCODINGS[encoding][0]
    lines = run_driver("otel", "reporter.protocols=otlp", "service_name=otel-wire", *opts,
                       "reporter.otlp_endpoint=http://127.0.0.1:%d/v1/traces" % http_sink.port)
    recs = {r["op"]: r for r in of_type(lines, "span")}
    groups = []
    for (path, ctype, body, mode), hdrs in zip(http_sink.requests, http_sink.headers):
        req = decode_otlp(body, ctype, hdrs.get("content-encoding"))
        (rs,) = req.resource_spans
        groups += [(ss.scope, ss.schema_url, [sp.name for sp in ss.spans], ss.spans)
                   for ss in rs.scope_spans]
    # one ScopeSpans per scope, in first-seen order; d shares a's scope
    names = sorted((g[0].name, tuple(sorted(g[2]))) for g in groups)
    assert names == [("my.lib", ("otel-a", "otel-d")), ("plain.lib", ("otel-b",)),
                     ("tracewire", ("otel-c",))], names
    by_scope = {g[0].name: g for g in groups}
    lib, lib_schema = by_scope["my.lib"][0], by_scope["my.lib"][1]
    assert (lib.version, lib_schema) == ("1.2.3", SCHEMA)
    la = _attrs(lib.attributes)
    assert _py(la["lib.attr"]) == 7 and _py(la["lib.tags"]) == ("a", "b")
    plain = by_scope["plain.lib"]
    assert (plain[0].version, plain[1], len(plain[0].attributes)) == ("", "", 0)
    assert by_scope["tracewire"][0].version != ""      # the core's own scope

    spans = {sp.name: sp for g in groups for sp in g[3]}
    a = _attrs(spans["otel-a"].attributes)
    assert _py(a["arr.str"]) == ("x", "\u00e9\"q", "")
    assert _kinds(a["arr.str"]) == ("string_value",) * 3
    assert _py(a["arr.int"]) == (1, -2, 4611686018427387904)
    assert _kinds(a["arr.int"]) == ("int_value",) * 3
    assert _py(a["arr.double"]) == (1.5, -0.25)
    assert _kinds(a["arr.double"]) == ("double_value",) * 2
    assert _py(a["arr.bool"]) == (True, False)
    assert _kinds(a["arr.bool"]) == ("bool_value",) * 2
    assert a["arr.empty"].WhichOneof("value") == "array_value" and _py(a["arr.empty"]) == ()
    assert _py(a["arr.null"]) == ("n", None, "m")
    assert "arr.mixed" not in a and "arr.nested" not in a
    (ev,) = spans["otel-a"].events
    assert ev.name == "with-array" and _py(_attrs(ev.attributes)["ev.ints"]) == (
        1, -2, 4611686018427387904)

    b = spans["otel-b"]
    assert b.parent_span_id == _id(recs["otel-a"]["span_id"])
    links = [(ln.span_id, {k: _py(v) for k, v in _attrs(ln.attributes).items()})
             for ln in b.links]
    assert links == [(_id(recs["otel-c"]["span_id"]), {"link.kind": "retry", "link.ids": (1, -2)}),
                     (_id(recs["otel-d"]["span_id"]), {}),
                     (_id(6), {}),
                     (bytes(8), {"link.kind": "retry"})], links    # an invalid context, kept
    # for its attribute, with zero ids as the SDK's OTLP exporter writes them
    for ln in b.links[:2]:
        assert ln.trace_id == spans["otel-c"].trace_id
    assert (b.links[2].trace_id, b.links[2].trace_state, b.links[2].flags) == (
        (5).to_bytes(16, "big"), "k=v", 1)
    assert b.links[3].trace_id == bytes(16) and b.links[3].trace_state == ""
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 4
    assert_balanced(c)


def _tags(tags):
    out = {}
    for t in tags or ():
        out[t.key] = (t.vType, t.vStr if t.vType == 0 else t.vLong if t.vType == 3 else
                      t.vDouble if t.vType == 1 else t.vBool if t.vType == 2 else t.vBinary)
    return out


def _check_thrift(spans, recs):
    by = {s.operationName: s for s in spans}
    a, b = by["otel-a"], by["otel-b"]
    ta = _tags(a.tags)
    # ARRAY -> a STRING tag holding the JSON array (OTel's non-OTLP rule)
    assert ta["arr.str"] == (0, '["x","\u00e9\\"q",""]')
    assert json.loads(ta["arr.str"][1]) == ["x", "\u00e9\"q", ""]
    assert json.loads(ta["arr.int"][1]) == [1, -2, 4611686018427387904]
    assert json.loads(ta["arr.double"][1]) == [1.5, -0.25]
    assert json.loads(ta["arr.bool"][1]) == [True, False]
    assert ta["arr.empty"] == (0, "[]")
    assert json.loads(ta["arr.null"][1]) == ["n", None, "m"]
    # scope -> otel.library.name / otel.library.version (the OTel->Jaeger mapping)
    assert ta["otel.library.name"] == (0, "my.lib")
    assert ta["otel.library.version"] == (0, "1.2.3")
    tb = _tags(b.tags)
    assert tb["otel.library.name"] == (0, "plain.lib") and "otel.library.version" not in tb
    assert "otel.library.name" not in _tags(by["otel-c"].tags)
    (log,) = a.logs
    assert json.loads(_tags(log.fields)["ev.ints"][1]) == [1, -2, 4611686018427387904]
    # links -> FOLLOWS_FROM references (Thrift SpanRef has no attributes)
    refs = [(r.refType, r.spanId) for r in b.references]
    from conftest import s64
    # the parent, c, d and the id link; the invalid-context link has no SpanRef
    assert sorted(refs) == sorted([(0, s64(recs["otel-a"]["span_id"])),
                                   (1, s64(recs["otel-c"]["span_id"])),
                                   (1, s64(recs["otel-d"]["span_id"])), (1, 6)]), refs


def test_thrift_udp_arrays_links_and_scopes(udp_sink):
    lines = run_driver("otel", "reporter.protocols=udp", "reporter.agent_port=%d" % udp_sink.port)
    udp_sink.wait_quiet()
    spans = [s for d in udp_sink.datagrams for s in decode_compact_datagram(d)[1].spans]
    _check_thrift(spans, {r["op"]: r for r in of_type(lines, "span")})


def test_thrift_http_arrays_links_and_scopes(http_sink):
    lines = run_driver("otel", "reporter.protocols=http",
                       "reporter.endpoint=http://127.0.0.1:%d/api/traces" % http_sink.port)
    spans = [s for _, b in http_sink.accepted for s in decode_binary_batch(b).spans]
    _check_thrift(spans, {r["op"]: r for r in of_type(lines, "span")})


def test_log_line_carries_array_json():
    out = subprocess.run([DRIVER, "otel", "reporter.protocols=log"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    (a,) = [x for x in out.stderr.splitlines() if " op=otel-a " in x]
    assert "arr.int=[1,-2,4611686018427387904]" in a and "arr.empty=[]" in a
