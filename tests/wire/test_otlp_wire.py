"""OTLP/HTTP on the wire — protobuf (the default), protobuf + gzip, JSON —
loaded into opentelemetry-proto's ExportTraceServiceRequest (ParseFromString,
or json_format with hex ids converted; gzip inflated with Python's gzip) and
compared field by field with what was recorded."""
import math

import pytest

from checks import KIND_NAMES
from conftest import assert_balanced, decode_otlp, of_type, run_driver

# reporter settings -> (Content-Type, Content-Encoding) expected on the wire
ENCODINGS = {
    "protobuf": ([], "application/x-protobuf", None),
    "protobuf+gzip": (["reporter.otlp_compression=gzip"], "application/x-protobuf", "gzip"),
    "json": (["reporter.otlp_protocol=http/json"], "application/json", None),
    "json+gzip": (["reporter.otlp_protocol=http/json", "reporter.otlp_compression=gzip"],
                  "application/json", "gzip"),
}


def _any(v):
    which = v.WhichOneof("value")
    if which == "string_value":
        return "string", v.string_value
    if which == "int_value":
        return "int", str(v.int_value)
    if which == "double_value":
        return "double", v.double_value
    if which == "bool_value":
        return "bool", v.bool_value
    if which == "bytes_value":
        return "binary", v.bytes_value.hex()
    raise AssertionError(which)


def _attrs(kvs):
    out = {}
    for kv in kvs:
        assert kv.key not in out
        out[kv.key] = _any(kv.value)
    return out


def _check(expected, got, extra=()):
    got = dict(got)
    for key, typ, val in expected:
        gt, gv = got.pop(key)
        assert gt == typ, (key, gt, typ)
        if typ == "double" and val in ("nan", "inf", "-inf"):
            assert (math.isnan(gv) if val == "nan" else gv == float(val)), (key, gv)
        else:
            assert gv == val, (key, gv, val)
    assert set(got) <= set(extra), sorted(got)


def _id(hi, lo=None):
    if lo is None:
        return int(hi).to_bytes(8, "big")
    return int(hi).to_bytes(8, "big") + int(lo).to_bytes(8, "big")


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_otlp_every_field_matches_the_record(http_sink, encoding):
    opts, want_ctype, want_enc = ENCODINGS[encoding]
    lines = run_driver("full", "reporter.protocols=otlp", "service_name=otlp-svc",
                       "tags=env=test", *opts,
                       "reporter.otlp_endpoint=http://127.0.0.1:%d/v1/traces" % http_sink.port)
    recs = {r["op"]: r for r in of_type(lines, "span")}
    spans = {}
    assert http_sink.requests
    for (path, ctype, body, mode), hdrs in zip(http_sink.requests, http_sink.headers):
        assert path == "/v1/traces" and ctype == want_ctype
        assert hdrs.get("content-encoding") == want_enc
        req = decode_otlp(body, ctype, hdrs.get("content-encoding"))
        (rs,) = req.resource_spans
        res = _attrs(rs.resource.attributes)
        assert res["service.name"] == ("string", "otlp-svc")
        assert res["env"] == ("string", "test")
        assert {"hostname", "ip", "client-uuid", "jaeger.version"} <= set(res)
        for ss in rs.scope_spans:
            assert ss.scope.name == "tracewire"
            for sp in ss.spans:
                spans[sp.name] = sp
    assert set(spans) == set(recs)
    for op, rec in recs.items():
        sp = spans[op]
        assert sp.trace_id == _id(rec["trace_hi"], rec["trace_lo"])
        assert sp.span_id == _id(rec["span_id"])
        assert sp.parent_span_id == (b"" if rec["parent_id"] == "0" else _id(rec["parent_id"]))
        assert sp.kind == rec["kind"]
        assert sp.flags == rec["flags"] & 1     # the W3C byte: sampled, nothing else here
        assert sp.start_time_unix_nano == rec["start"] * 1000
        assert sp.end_time_unix_nano == (rec["start"] + rec["duration"]) * 1000
        extra = {"sampler.type", "sampler.param"} if rec["parent_id"] == "0" else set()
        _check(rec["tags"], _attrs(sp.attributes), extra)
        # logs -> events; the "event" field is the event's name
        assert len(sp.events) == len(rec["logs"])
        for (ts, fields), ev in zip(rec["logs"], sp.events):
            assert ev.time_unix_nano == ts * 1000
            names = [f for f in fields if f[0] == "event"]
            assert ev.name == (names[0][2] if names else "")
            _check([f for f in fields if f[0] != "event"], _attrs(ev.attributes))
        # references other than the parent -> links
        want_links = [(t, _id(hi, lo), _id(sid)) for t, hi, lo, sid in rec["refs"]
                      if not (t == 0 and sid == rec["parent_id"])]
        got_links = [(dict(_attrs(ln.attributes))["opentracing.ref_type"][1], ln.trace_id,
                      ln.span_id) for ln in sp.links]
        assert got_links == [("follows_from" if t else "child_of", tid, sid)
                             for t, tid, sid in want_links]
        errored = any(t[0] == "error" and t[2] is True for t in rec["tags"])
        assert sp.status.code == (2 if errored else 0)
        assert rec["kind"] in KIND_NAMES
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 3
    assert_balanced(c)


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_otlp_partial_success_counts_rejected_spans(http_sink, encoding):
    http_sink.set_mode("partial")
    lines = run_driver("full", "reporter.protocols=otlp", *ENCODINGS[encoding][0],
                       "reporter.otlp_endpoint=http://127.0.0.1:%d/v1/traces" % http_sink.port)
    (c,) = of_type(lines, "counters")
    assert len(http_sink.requests) == 1, "a partial success is not retried"
    assert (c["reported"], c["dropped_send_failed"]) == (1, 2)
    assert_balanced(c)


def test_remote_w3c_parent_and_tracestate_are_carried(http_sink):
    lines = run_driver("w3c", "reporter.protocols=otlp",
                       "reporter.otlp_endpoint=http://127.0.0.1:%d/v1/traces" % http_sink.port)
    (w,) = of_type(lines, "w3c")
    (req,) = [decode_otlp(b) for _, b in http_sink.accepted]
    (sp,) = req.resource_spans[0].scope_spans[0].spans
    assert sp.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert sp.parent_span_id.hex() == "00f067aa0ba902b7"
    assert sp.span_id == int(w["span_id"]).to_bytes(8, "big")
    assert sp.trace_state == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    assert sp.kind == 2 and sp.name == "w3c-child"
    assert sp.flags == 0x03, "the W3C random flag of the remote parent is kept"
    assert sp.end_time_unix_nano - sp.start_time_unix_nano == 42000


def test_otlp_429_is_retried_after_retry_after(http_sink):
    http_sink.set_mode("429once")
    lines = run_driver("full", "reporter.protocols=otlp",
                       "reporter.otlp_endpoint=http://127.0.0.1:%d/v1/traces" % http_sink.port)
    (c,) = of_type(lines, "counters")
    t = http_sink.server.times
    assert [m for _, _, _, m in http_sink.requests] == ["429", "ok"]
    assert t[1] - t[0] >= 0.95, "retried before Retry-After: 1 elapsed"
    assert (c["reported"], c["send_failures"]) == (3, 1)
    assert_balanced(c)
