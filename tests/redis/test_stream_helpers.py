"""The stream helpers of tracewire.redis_queue (Python) and tracewire.redisq
(Lua): a producer inside a span adds entries, a group of two consumers reads
them, each continues the trace with a "process <key>" span, and XACKs.
Spans are decoded from the Jaeger Thrift datagrams."""
import json
import subprocess
import time

import pytest

from conftest import rq, trace_hex, span_hex, parent_hex, tags
from test_bindings import py_tracer, lua_runtime, HERE, wait_names, by_name

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TP = "traceparent: 00-%s-00f067aa0ba902b7-01\ntracestate: v=1" % TRACE


def test_stream_entry_splits_carrier_and_fields():
    e = rq.stream_entry(b"k", b"1700000000123-4",
                        [b"traceparent", b"00-%s-00f067aa0ba902b7-01" % TRACE.encode(),
                         b"job", b"1", b"baggage", b"a=b", b"x", b"\xff"])
    assert e.key == "k" and e.id == "1700000000123-4"
    assert e.enqueue_us == 1700000000123000
    assert e.fields == {b"job": b"1", b"x": b"\xff"}
    assert e.headers() == {"traceparent": "00-%s-00f067aa0ba902b7-01" % TRACE, "baggage": "a=b"}
    assert rq.stream_entry("k", "1-1", [b"job", b"1"]).traced is False


def test_python_producer_group_of_two_consumers(r, collector):
    collector.clear()
    producer = py_tracer(collector, "py-stream-producer")
    r.xgroup_create("pys", "g", "0", mkstream=True)
    with producer.start_active_span("produce") as scope:
        ids = [rq.xadd(r, "pys", {"job": str(i)}, tracer=producer) for i in range(4)]
        produce_id = "%016x" % scope.span.context.span_id
    producer.close()
    consumer = py_tracer(collector, "py-stream-consumer")
    seen = []
    for name in ("c1", "c2"):
        for e in rq.xreadgroup(r, "g", name, {"pys": ">"}, count=2):
            assert e.traced and e.headers()["traceparent"].split("-")[1] != ""
            span = rq.stream_consumer_span(consumer, e)
            span.finish()
            seen.append((name, e))
            assert r.xack("pys", "g", e.id) == 1
    consumer.close()
    assert [e.id.encode() for _, e in seen] == ids
    assert {n for n, _ in seen} == {"c1", "c2"}
    assert [e.fields for _, e in seen] == [{b"job": str(i).encode()} for i in range(4)]
    assert rq.xreadgroup(r, "g", "c1", {"pys": ">"}, block=30) == []
    spans = collector.wait_for(lambda s: len([x for x in s if x.operationName == "process pys"]) >= 4
                               and len([x for x in s if x.operationName == "wait pys"]) >= 4)
    sends = {span_hex(s): s for s in spans if s.operationName == "send pys"}
    procs = [s for s in spans if s.operationName == "process pys"]
    waits = [s for s in spans if s.operationName == "wait pys"]
    assert len(sends) == 4 and len(procs) == 4 and len(waits) == 4
    for s in sends.values():
        assert parent_hex(s) == produce_id              # producer span -> send
    for p in procs:
        assert parent_hex(p) in sends                   # send -> process (the stored context)
        assert tags(p)["span.kind"] == "consumer"
    for w in waits:
        assert parent_hex(w) in sends                   # send -> wait (the module)
    assert len({trace_hex(s) for s in procs + waits + list(sends.values())}) == 1


@pytest.mark.parametrize("runtime", ["lua5.4", "luajit"])
def test_lua_stream_helpers(r, server, collector, runtime):
    exe, env = lua_runtime(runtime)
    collector.clear()
    key = "luas-" + runtime
    out = subprocess.run([exe, str(HERE / "stream_consumer.lua"), str(server.port),
                          str(collector.port), key, TP], env=env, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["ok"] and res["empty"] == 0 and res["after"] == 0
    assert [e["id"] for e in res["entries"]] == res["ids"]
    assert [e["fields"] for e in res["entries"]] == [[["job", "1"], ["n", "a"]], [["job", "2"]]]
    # what Lua added, Python reads as plain fields
    for raw_id, fields in r.xrange(key):
        assert fields[b"tracestate"] == b"v=1"
        assert fields[b"traceparent"].decode().split("-")[1] == TRACE
    for e in res["entries"]:
        assert e["traced"] and "tracestate: v=1" in e["carrier"]
        assert e["enqueue_us"] == int(e["id"].split("-")[0]) * 1000
    spans = wait_names(collector, "process " + key)
    procs = [s for s in spans if s.operationName == "process " + key]
    sends = {span_hex(s) for s in spans if s.operationName == "send " + key}
    assert len(procs) == 2
    for p in procs:
        assert trace_hex(p) == TRACE and parent_hex(p) in sends
    assert r.xpending(key, "g")["pending"] == 0
