"""The Redis module as a span source, per protocol, checked in Jaeger.

A redis-server is started with tracewire's module reporting over one protocol.
An item is pushed (TQ.PUSH) with a W3C carrier naming a 128-bit trace and a
parent span we choose, sits in the list for a measured time, and is popped
(TQ.POP). Jaeger must then hold, in that trace, the module's producer "send"
span (child of our parent, messaging tags, kind producer) and its "wait" span
(child of the send span, starting at the server enqueue time and lasting
exactly the wait the module returned), and the carrier the module returned
must name the wait span and keep our baggage.
"""
import os
import random
import socket
import subprocess
import time

import pytest
import redis

from conftest import BUILD, refs_of, tags_of

PROTOCOLS = ["udp", "http", "otlp"]
SLEEP_S = 0.25


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_with_module(request, tmp_path):
    def start(proto, service):
        so = os.path.join(BUILD, "redis-module", "tracewire.so")
        assert os.path.exists(so), "the Redis module was not built (%s)" % so
        port = free_port()
        p = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path),
             "--loadmodule", so, "service_name=" + service, "reporter.protocols=" + proto,
             "reporter.flush_interval_ms=100", "sampler.type=const", "sampler.param=1"],
            stdout=open(tmp_path / "redis.log", "w"), stderr=subprocess.STDOUT)
        request.addfinalizer(lambda: (p.terminate(), p.wait(10)))
        r = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(100):
            try:
                r.ping()
                return r
            except redis.ConnectionError:
                if p.poll() is not None:
                    break
                time.sleep(0.05)
        pytest.fail("redis-server with the module did not start:\n" +
                    (tmp_path / "redis.log").read_text())
    return start


def parse(text):
    out = {}
    for line in (text.decode() if isinstance(text, bytes) else text).splitlines():
        k, _, v = line.partition(":")
        out[k.strip().lower()] = v.strip()
    return out


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_queue_spans_reach_jaeger(jaeger, redis_with_module, proto):
    service = "e2e-redis-" + proto
    r = redis_with_module(proto, service)
    tid = "%016x%016x" % (random.getrandbits(63) | 1 << 62, random.getrandbits(64))
    parent = "%016x" % (random.getrandbits(63) | 1)
    key = "e2e:jobs:" + proto
    carrier = "traceparent: 00-%s-%s-01\nbaggage: e2e-bag=bag%%20value%%201" % (tid, parent)

    assert r.execute_command("TQ.PUSH", key, carrier, b"payload \x00\xff") == 1
    time.sleep(SLEEP_S)
    payload, back, enq_us, wait_us = r.execute_command("TQ.POP", key)
    assert payload == b"payload \x00\xff"
    assert SLEEP_S * 1e6 <= wait_us < (SLEEP_S + 0.2) * 1e6, wait_us

    back = parse(back)
    tp = back.get("traceparent", "").split("-")
    assert len(tp) == 4 and tp[1] == tid, back
    wait_span_id = tp[2]
    assert "e2e-bag=bag%20value%201" in back.get("baggage", ""), back

    trace = jaeger.wait_trace(tid, min_spans=2)
    assert trace is not None, "trace %s not in Jaeger" % tid
    mine = [s for s in trace["spans"]
            if trace["processes"][s["processID"]]["serviceName"] == service]
    assert len(mine) == 2, [s["operationName"] for s in mine]
    send = [s for s in mine if s["spanID"] != wait_span_id]
    wait = [s for s in mine if s["spanID"] == wait_span_id]
    assert len(send) == 1 and len(wait) == 1, (wait_span_id, [s["spanID"] for s in mine])
    send, wait = send[0], wait[0]

    assert send["traceID"] == tid and wait["traceID"] == tid
    assert refs_of(send, "CHILD_OF") == [parent]
    assert refs_of(wait, "CHILD_OF") == [send["spanID"]]
    assert key in send["operationName"] and key in wait["operationName"], \
        (send["operationName"], wait["operationName"])
    st = tags_of(send)
    assert st.get("messaging.system") == ("string", "redis"), st
    assert st.get("messaging.destination.name") == ("string", key), st
    assert st.get("span.kind") == ("string", "producer"), st
    wt = tags_of(wait)
    assert wt.get("messaging.destination.name") == ("string", key), wt
    # The wait span is the queue time, on the server's clock.
    assert wait["startTime"] == enq_us, (wait["startTime"], enq_us)
    assert wait["duration"] == wait_us, (wait["duration"], wait_us)


def test_blocked_pop_is_served_by_push_and_reports_wait(jaeger, redis_with_module):
    # A worker already blocked in TQ.BPOP is served by the push: the module's
    # blocked-client path must report the same two spans.
    import threading
    service = "e2e-redis-bpop"
    r = redis_with_module("udp", service)
    r2 = redis.Redis(host=r.connection_pool.connection_kwargs["host"],
                     port=r.connection_pool.connection_kwargs["port"])
    tid = "%016x%016x" % (random.getrandbits(63) | 1 << 62, random.getrandbits(64))
    parent = "%016x" % (random.getrandbits(63) | 1)
    key = "e2e:bpop"
    got = []
    t = threading.Thread(target=lambda: got.append(r2.execute_command("TQ.BPOP", key, 10)))
    t.start()
    time.sleep(0.3)
    r.execute_command("TQ.PUSH", key, "uber-trace-id: %s:%s:0:1" % (tid, parent), b"job")
    t.join(15)
    assert got and got[0] is not None, got
    payload, back, enq_us, wait_us = got[0]
    assert payload == b"job"
    assert 0 <= wait_us < 200000, wait_us
    tp = parse(back).get("traceparent", "").split("-")
    assert len(tp) == 4 and tp[1] == tid, back

    trace = jaeger.wait_trace(tid, min_spans=2)
    assert trace is not None, "trace %s not in Jaeger" % tid
    mine = {s["spanID"]: s for s in trace["spans"]
            if trace["processes"][s["processID"]]["serviceName"] == service}
    assert set(mine) >= {tp[2]}, (tp[2], list(mine))
    wait = mine[tp[2]]
    (send,) = [s for sid, s in mine.items() if sid != tp[2]]
    assert refs_of(send, "CHILD_OF") == [parent]      # the Jaeger-format carrier was read
    assert refs_of(wait, "CHILD_OF") == [send["spanID"]]
    assert wait["startTime"] == enq_us and wait["duration"] == wait_us


def test_stream_spans_reach_jaeger(jaeger, redis_with_module):
    # TQ.XADD -> a group of two consumers (TQ.XREADGROUP) -> XACK: Jaeger holds
    # a send span per entry (child of our parent) and a wait span per delivery
    # (child of that entry's send span, from the entry id's milliseconds to
    # the delivery).
    service = "e2e-redis-stream"
    r = redis_with_module("udp", service)
    tid = "%016x%016x" % (random.getrandbits(63) | 1 << 62, random.getrandbits(64))
    parent = "%016x" % (random.getrandbits(63) | 1)
    key = "e2e:stream"
    r.xgroup_create(key, "g", "0", mkstream=True)
    carrier = "traceparent: 00-%s-%s-01" % (tid, parent)
    ids = [r.execute_command("TQ.XADD", key, "*", carrier, "job", str(i)).decode() for i in range(4)]
    time.sleep(SLEEP_S)
    delivered = {}
    for consumer in ("c1", "c2"):
        (_, entries), = r.execute_command("TQ.XREADGROUP", "GROUP", "g", consumer, "COUNT", "2",
                                          "STREAMS", key, ">")
        for eid, fields in entries:
            f = dict(zip(fields[0::2], fields[1::2]))
            delivered[eid.decode()] = f[b"traceparent"].decode().split("-")[2]
    after_us = int(time.time() * 1e6)
    assert sorted(delivered) == sorted(ids)
    assert r.xack(key, "g", *ids) == 4

    trace = jaeger.wait_trace(tid, min_spans=8)
    assert trace is not None, "trace %s not in Jaeger" % tid
    mine = [s for s in trace["spans"]
            if trace["processes"][s["processID"]]["serviceName"] == service]
    sends = {s["spanID"]: s for s in mine if s["operationName"] == "send " + key}
    waits = [s for s in mine if s["operationName"] == "wait " + key]
    assert len(sends) == 4 and len(waits) == 4, [s["operationName"] for s in mine]
    for s in sends.values():
        assert refs_of(s, "CHILD_OF") == [parent]
    for w in waits:
        eid = tags_of(w)["messaging.message.id"][1]
        assert refs_of(w, "CHILD_OF") == [delivered[eid]] and delivered[eid] in sends
        assert w["startTime"] == int(eid.split("-")[0]) * 1000      # the id's milliseconds
        assert SLEEP_S * 1e6 <= w["duration"] and w["startTime"] + w["duration"] <= after_us
