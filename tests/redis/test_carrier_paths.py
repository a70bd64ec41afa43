"""The module's fast carrier path (a carrier that is one traceparent goes
through tw_span_context_from_traceparent / _to_traceparent instead of the
generic extract/inject) must give exactly what the generic path gives. Each traceparent below is pushed twice: alone (the fast
path takes it when it has the canonical shape) and followed by an unrelated
header (always the generic path, which ignores that header). Both pushes must
answer the same, store the same trace id and flags, and pop the same way; the
send span of each must name the pushed span as its parent."""
import pytest
import redis

from conftest import rq, trace_hex, parent_hex

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"

VALUES = [
    "00-%s-%s-01" % (TRACE, SPAN),
    "00-%s-%s-00" % (TRACE, SPAN),
    "00-%s-%s-03" % (TRACE, SPAN),
    "00-%s-%s-0f" % (TRACE, SPAN),
    "00-%s-%s-ff" % (TRACE, SPAN),
    "00-%s-%s-fe" % (TRACE, SPAN),
    "00-%s-%s-a1" % (TRACE, SPAN),
    "00-0000000000000000000000000abc0001-%s-01" % SPAN,        # 64-bit id in 128 bits
    "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01",
    "00-0123456789abcdef0123456789abcdef-fedcba9876543210-01",
    "00-%s-0000000000000001-01" % TRACE,
    # rejected or not canonical: the generic path decides
    "00-%s-%s-01" % (TRACE.upper(), SPAN),
    "00-%s-%s-01" % (TRACE, SPAN.upper()),
    "00-%s-%s-0A" % (TRACE, SPAN),
    "00-00000000000000000000000000000000-%s-01" % SPAN,
    "00-%s-0000000000000000-01" % TRACE,
    "01-%s-%s-01" % (TRACE, SPAN),
    "ff-%s-%s-01" % (TRACE, SPAN),
    "0a-%s-%s-01" % (TRACE, SPAN),
    "00_%s-%s-01" % (TRACE, SPAN),
    "00-%s_%s-01" % (TRACE, SPAN),
    "00-%s-%s_01" % (TRACE, SPAN),
    "00-%s-%s-1" % (TRACE, SPAN),
    "00-%s-%s-011" % (TRACE, SPAN),
] + [
    # one character just outside [0-9a-f] at every place of the trace id
    # and the span id ('/' ':' '`' 'g' 'G' and a high byte)
    "00-%s-%s-01" % (TRACE[:i] + bad + TRACE[i + 1:], SPAN)
    for i, bad in zip(range(0, 32, 3), "/:`gG\xe9/:`gG")
] + [
    "00-%s-%s-01" % (TRACE, SPAN[:i] + bad + SPAN[i + 1:])
    for i, bad in zip(range(0, 16, 3), "/:`gG\xe9")
]

FORMS = ["traceparent=%s", "traceparent: %s", "traceparent:%s", "traceparent=%s\n",
         "traceparent: %s\r\n", "Traceparent: %s", "traceparent = %s", " traceparent=%s"]


def push(r, key, carrier):
    try:
        return ("ok", r.execute_command("TQ.PUSH", key, carrier.encode("latin-1"), b"x"))
    except redis.ResponseError as e:
        return ("err", str(e))


def flags_and_trace(carrier):
    tp = rq.parse_carrier(carrier)["traceparent"].split("-")
    return tp[0], tp[1], tp[3]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("value", VALUES)
def test_fast_and_generic_carrier_paths_agree(r, form, value):
    fast = form % value
    generic = fast.rstrip("\r\n") + "\nx-unrelated: 1"
    a, b = push(r, "fast", fast), push(r, "generic", generic)
    assert a == b
    if a[0] == "err":
        assert r.exists("fast", "generic") == 0
        return
    sa, sb = rq.unwrap(r.lindex("fast", 0)), rq.unwrap(r.lindex("generic", 0))
    assert set(rq.parse_carrier(sa.carrier)) == {"traceparent"}
    assert set(rq.parse_carrier(sb.carrier)) == {"traceparent"}
    assert flags_and_trace(sa.carrier) == flags_and_trace(sb.carrier)
    if "-" + SPAN + "-" in value:
        assert flags_and_trace(sa.carrier)[1] == value.split("-")[1]
    pa, pb = rq.pop(r, "fast"), rq.pop(r, "generic")
    assert flags_and_trace(pa.carrier) == flags_and_trace(pb.carrier) == flags_and_trace(sa.carrier)
    assert rq.parse_carrier(pa.carrier)["traceparent"].split("-")[2] != \
        rq.parse_carrier(sa.carrier)["traceparent"].split("-")[2]


def test_fast_path_span_chain(r, collector):
    """push (fast) -> send span child of the pushed span; pop -> wait span
    child of the send span; the popped carrier names the wait span."""
    collector.clear()
    r.execute_command("TQ.PUSH", "chain", "traceparent: 00-%s-%s-01" % (TRACE, SPAN), "x")
    stored = rq.unwrap(r.lindex("chain", 0)).carrier
    send_id = rq.parse_carrier(stored)["traceparent"].split("-")[2]
    it = rq.pop(r, "chain")
    wait_id = rq.parse_carrier(it.carrier)["traceparent"].split("-")[2]
    spans = collector.wait_for(lambda s: {"send chain", "wait chain"} <= {x.operationName for x in s})
    by_name = {s.operationName: s for s in spans if s.operationName in ("send chain", "wait chain")}
    send, wait = by_name["send chain"], by_name["wait chain"]
    assert trace_hex(send) == trace_hex(wait) == TRACE
    assert parent_hex(send) == SPAN
    assert "%016x" % (send.spanId & 0xFFFFFFFFFFFFFFFF) == send_id
    assert parent_hex(wait) == send_id
    assert "%016x" % (wait.spanId & 0xFFFFFFFFFFFFFFFF) == wait_id


def test_configuration_that_rules_out_the_fast_path(make_server, collector):
    """W3C not extracted: a lone traceparent is no context (a new trace);
    Jaeger injected too: the stored carrier holds uber-trace-id as well; a
    Jaeger header renamed "traceparent" is read as Jaeger."""
    from conftest import module_args
    tp = "traceparent: 00-%s-%s-01" % (TRACE, SPAN)
    c = make_server("noextract").start(module_args(collector, "propagation.extract=jaeger")).client()
    c.execute_command("TQ.PUSH", "q", tp, "x")
    stored = rq.parse_carrier(rq.unwrap(c.lindex("q", 0)).carrier)
    assert stored["traceparent"].split("-")[1] != TRACE
    c = make_server("inject2").start(module_args(collector, "propagation.inject=jaeger,w3c")).client()
    c.execute_command("TQ.PUSH", "q", tp, "x")
    stored = rq.parse_carrier(rq.unwrap(c.lindex("q", 0)).carrier)
    assert stored["traceparent"].split("-")[1] == TRACE
    assert stored["uber-trace-id"].split(":")[0] == TRACE
    assert rq.parse_carrier(rq.pop(c, "q").carrier)["uber-trace-id"].split(":")[0] == TRACE
    c = make_server("renamed").start(module_args(collector, "trace_id_header=traceparent")).client()
    with pytest.raises(redis.ResponseError, match="malformed trace context"):
        c.execute_command("TQ.PUSH", "q", tp, "x")
    c.execute_command("TQ.PUSH", "q", "traceparent: %s:%s:0:1" % (TRACE, SPAN), "x")
    stored = rq.parse_carrier(rq.unwrap(c.lindex("q", 0)).carrier)
    assert stored["traceparent"].split("-")[1] == TRACE
