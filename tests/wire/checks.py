"""Field-by-field comparisons of decoded wire data with what wire_driver says it
recorded (its "span" JSON lines)."""
import math

from jaeger_client.thrift_gen.jaeger import ttypes

from conftest import s64

KIND_NAMES = {2: "server", 3: "client", 4: "producer", 5: "consumer"}
# tags the tracer adds by itself: the sampler decision on root spans
AUTO_TAGS = {"sampler.type", "sampler.param"}
PROCESS_TAGS = {"hostname", "ip", "client-uuid", "jaeger.version"}


def _jaeger_value(tag):
    t = tag.vType
    if t == ttypes.TagType.STRING:
        return "string", tag.vStr
    if t == ttypes.TagType.DOUBLE:
        return "double", tag.vDouble
    if t == ttypes.TagType.BOOL:
        return "bool", tag.vBool
    if t == ttypes.TagType.LONG:
        return "int", str(tag.vLong)
    if t == ttypes.TagType.BINARY:
        return "binary", tag.vBinary.encode("utf-8", "surrogateescape").hex()
    raise AssertionError("unknown TagType %r" % t)


def _same(expected_type, expected, got_type, got):
    assert got_type == expected_type, (expected_type, expected, got_type, got)
    if expected_type == "double":
        if expected == "nan":
            assert math.isnan(got)
        elif expected in ("inf", "-inf"):
            assert got == float(expected)
        else:
            assert got == expected
    else:
        assert got == expected, (expected, got)


def check_jaeger_tags(expected, tags, allowed_extra=()):
    got = {}
    for t in tags or []:
        assert t.key not in got, "duplicate tag %s" % t.key
        got[t.key] = _jaeger_value(t)
    for key, typ, val in expected:
        assert key in got, "tag %s missing" % key
        _same(typ, val, *got.pop(key))
    assert set(got) <= set(allowed_extra), "unexpected tags %s" % sorted(got)
    return got


def check_jaeger_span(rec, sp):
    """rec: the driver's record; sp: a decoded ttypes.Span."""
    assert sp.traceIdLow == s64(rec["trace_lo"])
    assert sp.traceIdHigh == s64(rec["trace_hi"])
    assert sp.traceIdHigh != 0, "128-bit ids expected (trace_id_128bit defaults to true)"
    assert sp.spanId == s64(rec["span_id"])
    assert sp.parentSpanId == s64(rec["parent_id"])
    assert sp.operationName == rec["op"]
    assert sp.flags == rec["flags"]
    assert sp.startTime == rec["start"]
    assert sp.duration == rec["duration"]
    refs = [(r.refType, r.traceIdHigh, r.traceIdLow, r.spanId) for r in sp.references or []]
    want = [(t, s64(hi), s64(lo), s64(sid)) for t, hi, lo, sid in rec["refs"]]
    assert refs == want
    extra = set()
    if rec["parent_id"] == "0":
        extra |= AUTO_TAGS
    if rec["kind"] in KIND_NAMES:
        extra.add("span.kind")
    got = check_jaeger_tags(rec["tags"], sp.tags, extra)
    if rec["kind"] in KIND_NAMES:
        assert got["span.kind"] == ("string", KIND_NAMES[rec["kind"]])
    if rec["parent_id"] == "0":
        assert "sampler.type" in got
    logs = sp.logs or []
    assert len(logs) == len(rec["logs"])
    for (ts, fields), lg in zip(rec["logs"], logs):
        assert lg.timestamp == ts
        check_jaeger_tags(fields, lg.fields)


def check_process(proc, service, config_tags):
    assert proc.serviceName == service
    keys = {t.key: _jaeger_value(t) for t in proc.tags or []}
    assert PROCESS_TAGS <= set(keys), keys
    assert keys["jaeger.version"][0] == "string"
    for k, v in config_tags.items():
        assert keys[k] == ("string", v)
