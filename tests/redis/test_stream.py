"""Streams: TQ.XADD stores the context as ordinary fields and reports the
send span; TQ.XREADGROUP answers what XREADGROUP answers and reports a wait
span per delivered entry (from the id's milliseconds to the delivery, child
of the entry's context; redeliveries tagged with their delivery count).
Replicas and AOF/RDB restarts, with or without the module, end identical;
mistakes give plain Redis's errors. Spans are decoded from the Jaeger Thrift
datagrams the module sends."""
import threading
import time

import pytest
import redis

from conftest import module_args, trace_hex, span_hex, parent_hex, tags, raw

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TP = "traceparent=00-%s-00f067aa0ba902b7-01" % TRACE
TP_FULL = ("traceparent: 00-%s-00f067aa0ba902b7-01\ntracestate: vendor=opaque\n"
           "baggage: tenant=t1" % TRACE)


def fields(entry):
    return {entry[1][i]: entry[1][i + 1] for i in range(0, len(entry[1]), 2)}


def id_ms(eid):
    return int(eid.split(b"-")[0])


def named(spans, name):
    return [s for s in spans if s.operationName == name]


def test_xadd_stores_the_context_as_fields(r, collector):
    collector.clear()
    eid = r.execute_command("TQ.XADD", "s", "*", TP_FULL, "job", "1", "n", "2")
    (got_id, fv), = raw(r, "XRANGE", "s", "-", "+")
    assert got_id == eid
    assert fv[0::2] == [b"traceparent", b"tracestate", b"baggage", b"job", b"n"]
    f = dict(zip(fv[0::2], fv[1::2]))
    assert f[b"tracestate"] == b"vendor=opaque" and f[b"baggage"] == b"tenant=t1"
    tp = f[b"traceparent"].decode().split("-")
    assert tp[1] == TRACE and tp[2] != "00f067aa0ba902b7"       # the send span's id
    send, = named(collector.wait_for(lambda s: named(s, "send s")), "send s")
    assert trace_hex(send) == TRACE and span_hex(send) == tp[2]
    assert parent_hex(send) == "00f067aa0ba902b7"
    t = tags(send)
    assert t["messaging.message.id"] == eid.decode() and t["messaging.destination.name"] == "s"
    assert t["span.kind"] == "producer"
    # an empty carrier starts a trace; NOMKSTREAM on a missing key adds nothing, no span
    root = r.execute_command("TQ.XADD", "s", "*", "", "job", "2")
    assert r.xrange("s", root, root)[0][1][b"traceparent"].startswith(b"00-")
    assert r.execute_command("TQ.XADD", "none", "NOMKSTREAM", "*", TP, "f", "v") is None
    assert r.exists("none") == 0
    time.sleep(0.1)
    assert named(collector.wait_for(lambda s: False, 0.1), "send none") == []


def test_trimming_options_pass_through(r):
    for i in range(20):
        r.execute_command("TQ.XADD", "t", "MAXLEN", "=", "5", "*", TP, "i", str(i))
    assert r.xlen("t") == 5
    r.execute_command("TQ.XADD", "t", "MAXLEN", "~", "2", "LIMIT", "100", "*", TP, "i", "x")
    r.execute_command("TQ.XADD", "t", "MINID", "0-1", "*", TP, "i", "y")
    r.execute_command("TQ.XADD", "t", "NOMKSTREAM", "MAXLEN", "3", "99999999999999-1", TP, "i", "z")
    assert r.xlen("t") == 3
    assert r.xrange("t")[-1][0] == b"99999999999999-1"


def test_group_of_two_consumers_then_xack_with_wait_spans(r, collector):
    collector.clear()
    r.xgroup_create("jobs", "g", "0", mkstream=True)
    ids = [r.execute_command("TQ.XADD", "jobs", "*", TP, "job", str(i)) for i in range(6)]
    time.sleep(0.02)
    got = {}
    for c in ("c1", "c2", "c1", "c2"):
        rep = r.execute_command("TQ.XREADGROUP", "GROUP", "g", c, "COUNT", "2", "STREAMS", "jobs", ">")
        if rep:
            (key, entries), = rep
            assert key == b"jobs"
            for e in entries:
                got[e[0]] = (c, fields(e))
    after = int(time.time() * 1e6)
    assert sorted(got) == sorted(ids)
    assert {c for c, _ in got.values()} == {"c1", "c2"}
    pend = r.xpending("jobs", "g")
    assert pend["pending"] == 6
    assert r.xack("jobs", "g", *ids) == 6
    assert r.xpending("jobs", "g")["pending"] == 0
    spans = collector.wait_for(lambda s: len(named(s, "wait jobs")) >= 6)
    waits = named(spans, "wait jobs")
    sends = {span_hex(s): s for s in named(spans, "send jobs")}
    assert len(waits) == 6 and len(sends) == 6
    for w in waits:
        t = tags(w)
        eid = t["messaging.message.id"].encode()
        assert eid in got
        stored_tp = got[eid][1][b"traceparent"].decode().split("-")
        assert trace_hex(w) == TRACE
        assert parent_hex(w) == stored_tp[2] and stored_tp[2] in sends   # child of the entry
        assert w.startTime == id_ms(eid) * 1000                          # from the id's ms
        assert 0 <= w.duration and w.startTime + w.duration <= after
        assert t["messaging.redis.queue_wait_us"] == w.duration
        assert "messaging.redis.redelivered" not in t
    i = r.info("tracewire")
    assert i["tracewire_stream_entries_delivered_traced"] >= 6


def test_plain_xreadgroup_sees_the_carrier_fields(r):
    r.xgroup_create("p", "g", "0", mkstream=True)
    eid = r.execute_command("TQ.XADD", "p", "*", TP, "job", "1")
    (key, entries), = r.xreadgroup("g", "c", {"p": ">"})
    assert entries[0][0] == eid
    f = entries[0][1]
    assert f[b"traceparent"].decode().split("-")[1] == TRACE and f[b"job"] == b"1"


def test_same_reply_as_xreadgroup_resp2_and_resp3(server):
    for proto in (2, 3):
        r = server.client(protocol=proto)
        r.flushall()
        for k in ("a", "b"):
            r.xgroup_create(k, "g", "0", mkstream=True)
            for i in range(3):
                r.execute_command("TQ.XADD", k, "*", TP, "i", str(i))
        # two identical groups: one read with TQ.XREADGROUP, one with XREADGROUP
        for k in ("a", "b"):
            r.xgroup_create(k, "h", "0")
        args = ["COUNT", "2", "STREAMS", "a", "b", ">", ">"]
        tq = raw(r, "TQ.XREADGROUP", "GROUP", "g", "c", *args)
        plain = raw(r, "XREADGROUP", "GROUP", "h", "c", *args)
        assert tq == plain and tq
        hist = ["STREAMS", "a", "b", "0", "0"]
        assert raw(r, "TQ.XREADGROUP", "GROUP", "g", "c", *hist) == \
            raw(r, "XREADGROUP", "GROUP", "h", "c", *hist)
        empty = ["STREAMS", "a", ">"]
        r.execute_command("TQ.XREADGROUP", "GROUP", "g", "c", *empty)
        r.execute_command("XREADGROUP", "GROUP", "h", "c", *empty)
        assert raw(r, "TQ.XREADGROUP", "GROUP", "g", "c", *empty) is None
        assert raw(r, "XREADGROUP", "GROUP", "h", "c", *empty) is None
        r.xadd("a", {"plain": "1"}, id="*")             # a plain entry: returned, no span
        assert raw(r, "TQ.XREADGROUP", "GROUP", "g", "c", *empty) == \
            raw(r, "XREADGROUP", "GROUP", "h", "c", *empty)


def test_redelivery_after_xclaim_is_tagged_with_the_delivery_count(r, collector):
    r.xgroup_create("rd", "g", "0", mkstream=True)
    eid = r.execute_command("TQ.XADD", "rd", "*", TP, "job", "1")
    r.execute_command("TQ.XREADGROUP", "GROUP", "g", "dead", "STREAMS", "rd", ">")
    collector.clear()
    claimed = r.xclaim("rd", "g", "alive", 0, [eid])
    assert claimed[0][0] == eid
    # options in another order than usual: XREADGROUP takes any order
    rep = r.execute_command("TQ.XREADGROUP", "COUNT", "5", "GROUP", "g", "alive", "STREAMS", "rd", "0")
    assert rep[0][1][0][0] == eid
    count = r.xpending_range("rd", "g", eid, eid, 1)[0]["times_delivered"]
    assert count == 3                                   # read, claimed, read again
    w, = [s for s in collector.wait_for(
        lambda s: [x for x in named(s, "wait rd") if "messaging.redis.redelivered" in tags(x)])
        if s.operationName == "wait rd" and "messaging.redis.redelivered" in tags(s)]
    t = tags(w)
    assert t["messaging.redis.redelivered"] is True
    assert t["messaging.redis.delivery_count"] == count
    assert w.startTime == id_ms(eid) * 1000
    i = r.info("tracewire")
    assert i["tracewire_stream_entries_redelivered"] >= 1
    # XAUTOCLAIM and XPENDING keep working on these streams
    nxt, got, *_ = r.xautoclaim("rd", "g", "third", 0, "0-0")
    assert got[0][0] == eid


def test_blocking_read_is_served_by_a_later_xadd(server, r, collector):
    r.xgroup_create("bq", "g", "$", mkstream=True)
    res = {}

    def reader():
        c = server.client()
        t0 = time.time()
        res["rep"] = c.execute_command("TQ.XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000",
                                       "STREAMS", "bq", ">")
        res["t"] = time.time() - t0
    th = threading.Thread(target=reader)
    th.start()
    time.sleep(0.2)
    eid = r.execute_command("TQ.XADD", "bq", "*", TP, "late", "1")
    th.join(10)
    assert res["rep"][0][1][0][0] == eid
    assert 0.15 < res["t"] < 4
    t0 = time.time()
    assert r.execute_command("TQ.XREADGROUP", "GROUP", "g", "c", "BLOCK", "150",
                             "STREAMS", "bq", ">") is None
    assert 0.1 < time.time() - t0 < 3
    # inside MULTI it does not block (as plain XREADGROUP)
    c = server.client(single_connection_client=True)
    c.response_callbacks.pop("XREADGROUP", None)
    c.execute_command("MULTI")
    c.execute_command("TQ.XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "bq", ">")
    c.execute_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "bq", ">")
    assert c.execute_command("EXEC") == [None, None]
    c.close()


def err(r, *cmd):
    try:
        return ("ok", r.execute_command(*cmd))
    except redis.ResponseError as e:
        return ("err", str(e).replace("tq.", "").replace("TQ.", ""))


XADD_MISTAKES = [
    ("str", ["*"]),                        # WRONGTYPE
    ("s", ["1-1"]),                        # id not above the top
    ("s", ["0-0"]),                        # id 0-0
    ("s", ["abc"]),                        # invalid id
    ("s", ["MAXLEN", "x", "*"]),           # bad threshold
    ("s", ["MAXLEN", "-1", "*"]),
    ("s", ["MINID", "~", "zz", "*"]),
    ("s", ["LIMIT", "10", "*"]),           # LIMIT without ~
    ("s", ["MAXLEN", "=", "5", "LIMIT", "10", "*"]),
]


@pytest.mark.parametrize("key,opts", XADD_MISTAKES, ids=[" ".join(o) for _, o in XADD_MISTAKES])
def test_xadd_mistakes_give_plain_errors(r, key, opts):
    r.set("str", "v")
    r.xadd("s", {"f": "v"}, id="5-5")
    before = r.xrange("s")
    tq = err(r, "TQ.XADD", key, *opts, TP, "f", "v")
    plain = err(r, "XADD", key, *opts, "f", "v")
    assert tq[0] == "err" and tq == plain
    assert r.xrange("s") == before


XRG_MISTAKES = [
    ["GROUP", "nog", "c", "STREAMS", "s", ">"],                 # NOGROUP
    ["GROUP", "g", "c", "STREAMS", "str", ">"],                 # WRONGTYPE
    ["GROUP", "g", "c", "STREAMS", "s", "missing", ">"],        # unbalanced
    ["GROUP", "g", "c", "COUNT", "x", "STREAMS", "s", ">"],     # bad COUNT
    ["GROUP", "g", "c", "BLOCK", "x", "STREAMS", "s", ">"],     # bad BLOCK
    ["GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">"],    # negative BLOCK
    ["GROUP", "g", "c", "STREAMS", "s", "zz"],                  # invalid id
    ["GROUP", "g", "c", "BOGUS", "STREAMS", "s", ">"],          # syntax
    ["COUNT", "1", "STREAMS", "s", ">", "x", "y"],              # no GROUP
    ["GROUP", "g", "c", "STREAMS", "s", "$"],                   # $ is not for groups
]


@pytest.mark.parametrize("args", XRG_MISTAKES, ids=[" ".join(a) for a in XRG_MISTAKES])
def test_xreadgroup_mistakes_give_plain_errors(r, args):
    r.set("str", "v")
    r.xgroup_create("s", "g", "0", mkstream=True)
    r.xadd("s", {"f": "v"})
    tq = err(r, "TQ.XREADGROUP", *args)
    plain = err(r, "XREADGROUP", *args)
    assert tq[0] == "err" and tq == plain, (tq, plain)
    assert r.xpending("s", "g")["pending"] == 0


def test_module_errors(r):
    with pytest.raises(redis.ResponseError, match="bad carrier"):
        r.execute_command("TQ.XADD", "s", "*", "traceparent=00-bad", "f", "v")
    with pytest.raises(redis.ResponseError, match="reserved for the trace context"):
        r.execute_command("TQ.XADD", "s", "*", TP, "traceparent", "v")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("TQ.XADD", "s", "*", TP, "f", "v", "odd")
    assert r.exists("s") == 0


def test_malformed_carrier_fields_are_returned_without_a_span(r, collector):
    r.xgroup_create("m", "g", "0", mkstream=True)
    bad = [{"traceparent": "00-zz"}, {"traceparent": "garbage\n\nmore"},
           {"traceparent": b"\xff\x00"}, {"baggage": "x" * 20000}, {"job": "plain"}]
    ids = [r.xadd("m", f) for f in bad]
    collector.clear()
    rep = r.execute_command("TQ.XREADGROUP", "GROUP", "g", "c", "STREAMS", "m", ">")
    assert [e[0] for e in rep[0][1]] == ids
    time.sleep(0.1)
    assert named(collector.wait_for(lambda s: False, 0.1), "wait m") == []


def entries_read(c, key):
    raw_ = c.execute_command("XINFO", "STREAM", key, "FULL")
    d = {raw_[i]: raw_[i + 1] for i in range(0, len(raw_), 2)}
    return [{g[i]: g[i + 1] for i in range(0, len(g), 2)}[b"entries-read"] for g in d[b"groups"]]


def xinfo_full(c, key):
    """XINFO STREAM FULL without the volatile parts (seen-time, idle clocks)
    and without a group's entries-read: Redis 7.0 does not replicate it (a
    replica answers nil even for plain XREADGROUP; the test checks that on a
    plain control stream)."""
    raw = c.execute_command("XINFO", "STREAM", key, "FULL")
    d = {raw[i]: raw[i + 1] for i in range(0, len(raw), 2)}
    groups = []
    for g in d[b"groups"]:
        gd = {g[i]: g[i + 1] for i in range(0, len(g), 2)}
        cons = []
        for c_ in gd[b"consumers"]:
            cd = {c_[i]: c_[i + 1] for i in range(0, len(c_), 2)}
            cons.append((cd[b"name"], [(p[0], p[2]) for p in cd[b"pending"]]))
        groups.append((gd[b"name"], gd[b"last-delivered-id"],
                       [(p[0], p[1], p[3]) for p in gd[b"pending"]], cons))
    return (d[b"length"], d[b"last-generated-id"], d[b"max-deleted-entry-id"],
            d[b"entries-added"], d[b"entries"], groups)


def stream_workload(m):
    m.xgroup_create("ws", "g", "0", mkstream=True)
    m.xgroup_create("ws", "h", "0")
    for i in range(30):
        m.execute_command("TQ.XADD", "ws", "MAXLEN", "~", "1000", "*", TP, "i", str(i))
    m.execute_command("TQ.XADD", "ws", "MAXLEN", "=", "25", "*", TP, "i", "trim")
    for c in ("c1", "c2", "c1"):
        m.execute_command("TQ.XREADGROUP", "GROUP", "g", c, "COUNT", "4", "STREAMS", "ws", ">")
    m.execute_command("TQ.XREADGROUP", "GROUP", "h", "c3", "COUNT", "5", "NOACK", "STREAMS", "ws", ">")
    ids = [e[0] for e in m.xrange("ws", count=3)]
    m.xack("ws", "g", ids[0])
    m.xclaim("ws", "g", "c2", 0, [ids[1]])
    m.execute_command("TQ.XREADGROUP", "GROUP", "g", "c2", "STREAMS", "ws", "0")
    m.execute_command("TQ.XREADGROUP", "NOACK", "COUNT", "9", "GROUP", "g", "c1", "STREAMS", "ws", "0")


def test_replica_without_module_and_restarts_end_identical(make_server, collector):
    args = module_args(collector)
    master = make_server("m").start(args, extra=["--appendonly", "yes", "--appendfsync", "always"])
    plain = make_server("rp").start(module=False, extra=["--replicaof", "127.0.0.1", str(master.port)])
    deadline = time.time() + 10
    while plain.client().info("replication")["master_link_status"] != "up":
        assert time.time() < deadline
        time.sleep(0.05)
    m = master.client()
    stream_workload(m)
    m.xgroup_create("ctl", "g", "0", mkstream=True)      # the plain control
    m.xadd("ctl", {"f": "v"})
    m.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "ctl", ">")
    # a blocked read served later replicates its effects too
    res = {}
    th = threading.Thread(target=lambda: res.setdefault("r", master.client().execute_command(
        "TQ.XREADGROUP", "GROUP", "g", "late", "BLOCK", "5000", "STREAMS", "ws", ">")))
    m.xgroup_create("ws2", "g", "$", mkstream=True)
    th = threading.Thread(target=lambda: res.setdefault("r", master.client().execute_command(
        "TQ.XREADGROUP", "GROUP", "g", "late", "BLOCK", "5000", "STREAMS", "ws2", ">")))
    th.start()
    time.sleep(0.2)
    m.execute_command("TQ.XADD", "ws2", "*", TP, "late", "1")
    th.join(10)
    assert res["r"]
    assert m.wait(1, 5000) == 1
    want = {k: xinfo_full(m, k) for k in ("ws", "ws2")}
    assert want["ws"][5][0][3], "the workload left pending entries"
    assert {k: xinfo_full(plain.client(), k) for k in want} == want
    assert entries_read(plain.client(), "ctl") == [None]          # plain Redis's own gap
    assert entries_read(plain.client(), "ws")[1] == entries_read(m, "ws")[1]   # NOACK: SETID carries it
    plain.stop()
    master.stop()
    for module in (True, False):                           # AOF replay
        master.start(args if module else None, module=module, extra=["--appendonly", "yes"])
        assert {k: xinfo_full(master.client(), k) for k in want} == want
        if module:
            master.client().save()
        master.stop()
    for module in (True, False):                           # RDB
        master.start(args if module else None, module=module, extra=["--appendonly", "no"])
        assert {k: xinfo_full(master.client(), k) for k in want} == want
        master.stop()
