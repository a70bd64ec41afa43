"""Redis Cluster: three masters on 127.0.0.1, the module loaded on each.

Every TQ.* command declares its keys (commands.c): the server routes by them
(MOVED to the owner, CROSSSLOT across slots, checked on plain connections),
redis-py's RedisCluster routes by them (it reads COMMAND, and COMMAND GETKEYS
for TQ.XREADGROUP's movable keys), and a resharding of the slot that holds a
queue (redis-cli --cluster reshard) loses no item and no context."""
import subprocess
import threading
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from conftest import rq, module_args, RedisServer, free_cluster_port, trace_hex, tags

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def tp(i):
    return "traceparent=00-%s-%016x-01" % (TRACE, 0x1000 + i)


def cli(*args, timeout=120):
    out = subprocess.run(["redis-cli"] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def wait_cluster_ok(nodes, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        infos = [n.client().cluster("info") for n in nodes]
        if all(i["cluster_state"] == "ok" for i in infos) and \
                all(int(i["cluster_known_nodes"]) == len(nodes) for i in infos):
            return
        time.sleep(0.1)
    raise AssertionError("cluster not ok: %r" % infos)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, collector):
    base = tmp_path_factory.mktemp("cluster")
    nodes = []
    try:
        for i in range(3):
            port = free_cluster_port()
            n = RedisServer(base / ("n%d" % i))
            n.start(module_args(collector), port=port,
                    extra=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                           "--cluster-node-timeout", "5000", "--appendonly", "no"])
            nodes.append(n)
        cli("--cluster", "create", *["127.0.0.1:%d" % n.port for n in nodes], "--cluster-yes")
        wait_cluster_ok(nodes)
        yield nodes
    finally:
        for n in nodes:
            n.stop()
            assert "crashed by signal" not in n.log.read_text()


@pytest.fixture
def rc(cluster):
    c = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in cluster],
                     socket_timeout=30)
    c.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield c
    c.close()


def owner(cluster, key):
    """The node serving key's slot, asked of the cluster itself."""
    slot = key_slot(key.encode() if isinstance(key, str) else key)
    for lo, hi, master, *_ in cluster[0].client().execute_command("CLUSTER", "SLOTS"):
        if lo <= slot <= hi:
            return next(n for n in cluster if n.port == master[1])
    raise AssertionError("slot %d unowned" % slot)


def other_than(cluster, node):
    return next(n for n in cluster if n is not node)


def keys_in_distinct_slots(n=3, prefix="q"):
    """n key names served by n different masters (slot ranges split in thirds)."""
    out, thirds = [], set()
    i = 0
    while len(out) < n:
        k = "%s%d" % (prefix, i)
        third = key_slot(k.encode()) * 3 // 16384
        if third not in thirds:
            thirds.add(third)
            out.append(k)
        i += 1
    return out


def test_producer_and_consumer_through_redis_cluster(cluster, rc, collector):
    keys = keys_in_distinct_slots()
    assert len({owner(cluster, k).port for k in keys}) == 3
    collector.clear()
    for i, k in enumerate(keys):
        assert rq.push(rc, k, b"job-%d-a" % i, b"job-%d-b" % i, carrier=tp(i)) == 2
    for i, k in enumerate(keys):
        owner_client = owner(cluster, k).client()
        assert owner_client.llen(k) == 2                  # stored on the owner only
        a = rq.pop(rc, k)
        b = rq.move(rc, k, "{%s}:processing" % k)
        assert (a.payload, b.payload) == (b"job-%d-a" % i, b"job-%d-b" % i)
        for it in (a, b):
            assert it.headers()["traceparent"].split("-")[1] == TRACE
        assert rq.ack(rc, "{%s}:processing" % k, b"job-%d-b" % i) is True
        assert rq.bpop(rc, k, 0.05) is None
    spans = collector.wait_for(lambda s: sum(x.operationName.startswith("wait ") for x in s) >= 6)
    for k in keys:
        send = [s for s in spans if s.operationName == "send " + k]
        wait = [s for s in spans if s.operationName == "wait " + k]
        assert len(send) == 1 and len(wait) == 2, k
        assert all(trace_hex(s) == TRACE for s in send + wait)


def test_server_routes_by_declared_keys(cluster):
    k = "q0"
    home, away = owner(cluster, k), other_than(cluster, owner(cluster, k))
    with pytest.raises(redis.ResponseError, match="MOVED %d 127.0.0.1:%d" % (key_slot(b"q0"), home.port)):
        away.client().execute_command("TQ.PUSH", k, "", "x")
    for cmd in (("TQ.POP", k), ("TQ.BPOP", k, "0.01"), ("TQ.ACK", k, "x"),
                ("TQ.MOVE", "{q0}a", "{q0}b"), ("TQ.XADD", k, "*", "", "f", "v"),
                ("TQ.XREADGROUP", "GROUP", "g", "c", "STREAMS", k, ">"),
                ("TQ.XREADGROUP", "COUNT", "1", "GROUP", "g", "c", "STREAMS", k, ">")):
        target = owner(cluster, cmd[1] if cmd[0] != "TQ.XREADGROUP" else k)
        wrong = other_than(cluster, target)
        with pytest.raises(redis.ResponseError, match="MOVED"):
            wrong.client().execute_command(*cmd)
    # the destination alone decides too (second key position)
    src = "{q0}a"
    dst_far = next(x for x in keys_in_distinct_slots(3, "d")
                   if owner(cluster, x).port != owner(cluster, src).port)
    with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
        owner(cluster, src).client().execute_command("TQ.MOVE", src, dst_far)


def test_cross_slot_commands_answer_crossslot(cluster):
    a, b = keys_in_distinct_slots(2, "x")
    node = owner(cluster, a).client()
    rq.push(node, a, b"stay", carrier=tp(0))
    with pytest.raises(redis.ResponseError, match="^CROSSSLOT"):
        node.execute_command("TQ.MOVE", a, b)
    assert node.llen(a) == 1                               # nothing moved
    same = "{%s}" % a
    for sk in (same + "s", same + "t"):
        node.execute_command("XGROUP", "CREATE", sk, "g", "0", "MKSTREAM")
    with pytest.raises(redis.ResponseError, match="^CROSSSLOT"):
        node.execute_command("TQ.XREADGROUP", "GROUP", "g", "c", "STREAMS", same + "s",
                             "{%s}s" % b, ">", ">")
    assert node.execute_command("TQ.XREADGROUP", "GROUP", "g", "c", "STREAMS", same + "s",
                                same + "t", ">", ">") is None      # same slot: runs
    assert rq.move(node, a, same + "p").payload == b"stay"   # same slot: fine


def test_reshard_of_a_queue_slot_loses_nothing(cluster, rc):
    # A queue in the lowest slot of its node: `reshard --cluster-slots 1`
    # moves the lowest slot first; the test checks that it did move.
    src = cluster[1]
    lo = min(a for a, b, m, *_ in cluster[0].client().execute_command("CLUSTER", "SLOTS")
             if m[1] == src.port)
    key = next("q%d" % i for i in range(1000000) if key_slot(b"q%d" % i) == lo)
    proc = "{%s}:processing" % key
    n = 300
    for i in range(n):
        rq.push(rc, key, b"item-%d" % i, carrier=tp(i))
    for _ in range(20):
        rq.move(rc, key, proc)                         # 20 in flight, same slot
    rc.pexpire(key, 3600 * 1000)
    ttl_before = rc.pexpiretime(key)
    stream = "{%s}:stream" % key                       # a stream with a group in the same slot
    rc.xgroup_create(stream, "g", "0", mkstream=True)
    sids = [rc.execute_command("TQ.XADD", stream, "*", tp(i), "job", str(i)) for i in range(10)]
    assert len(rq.xreadgroup(rc, "g", "early", {stream: ">"}, count=5)) == 5    # 5 pending
    dst = cluster[2]
    src_id = src.client().execute_command("CLUSTER", "MYID").decode()
    dst_id = dst.client().execute_command("CLUSTER", "MYID").decode()
    # a producer keeps pushing through the cluster client during the reshard
    pushed, stop = [], threading.Event()

    def produce():
        c = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", src.port)], socket_timeout=30)
        i = n
        while not stop.is_set():
            rq.push(c, key, b"item-%d" % i, carrier=tp(i))
            pushed.append(i)
            i += 1
        c.close()
    t = threading.Thread(target=produce)
    t.start()
    time.sleep(0.1)
    cli("--cluster", "reshard", "127.0.0.1:%d" % src.port, "--cluster-from", src_id,
        "--cluster-to", dst_id, "--cluster-slots", 1, "--cluster-yes")
    time.sleep(0.1)
    stop.set()
    t.join(30)
    wait_cluster_ok(cluster)
    assert owner(cluster, key).port == dst.port            # the slot did move
    assert src.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", lo) == 0
    assert dst.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", lo) == 3
    # the TTL went along (MIGRATE carries it relative: a few ms may shift)
    assert abs(dst.client().pexpiretime(key) - ttl_before) < 1000
    assert len(pushed) > 10          # the producer really ran across the move
    total = n + len(pushed)
    rc2 = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", dst.port)], socket_timeout=30)
    inflight = [rq.unwrap(v) for v in reversed(rc2.lrange(proc, 0, -1))]
    assert [x.payload for x in inflight] == [b"item-%d" % i for i in range(20)]
    got = []
    while True:
        it = rq.pop(rc2, key)
        if it is None:
            break
        got.append(it)
    assert [x.payload for x in got] == [b"item-%d" % i for i in range(20, total)]
    for x in got + inflight:
        i = int(x.payload.split(b"-")[1])
        assert x.carrier and TRACE in x.carrier, i
    for x in got:
        # the wait span's parent is the send span stored at push time; the
        # trace id proves the context survived, the enqueue time too
        assert x.enqueue_us > 0 and x.wait_us >= 0
    # the stream, its group and its pending entries moved along
    pend = rc2.xpending_range(stream, "g", "-", "+", 10)
    assert [p["message_id"] for p in pend] == sids[:5] and {p["consumer"] for p in pend} == {b"early"}
    rest = rq.xreadgroup(rc2, "g", "late", {stream: ">"}, count=10)
    assert [e.id.encode() for e in rest] == sids[5:]
    assert all(e.headers()["traceparent"].split("-")[1] == TRACE for e in rest)
    again = rq.xreadgroup(rc2, "g", "early", {stream: "0"})
    assert [e.id.encode() for e in again] == sids[:5]
    assert all(TRACE in e.carrier for e in again)
    rc2.close()


def test_streams_through_redis_cluster(cluster, rc, collector):
    keys = keys_in_distinct_slots(3, "s")
    collector.clear()
    for k in keys:
        rc.xgroup_create(k, "g", "0", mkstream=True)
        for i in range(2):
            rc.execute_command("TQ.XADD", k, "*", tp(i), "job", "%s-%d" % (k, i))
    for k in keys:
        # routed by COMMAND GETKEYS (movable keys) on the client, by the
        # getkeys-api answer on the server
        rep = rc.execute_command("TQ.XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "STREAMS", k, ">")
        (key, entries), = rep
        assert key == k.encode() and len(entries) == 2
        assert rc.xack(k, "g", *[e[0] for e in entries]) == 2
    # the Python stream helpers through the cluster client
    for i, k in enumerate(keys):
        eid = rq.xadd(rc, k, {"job": "helper-%d" % i}, carrier=tp(i), maxlen=100)
        got = rq.xreadgroup(rc, "g", "c2", {k: ">"}, count=5, block=100)
        assert [(e.key, e.id, e.fields) for e in got] == [(k, eid.decode(), {b"job": b"helper-%d" % i})]
        assert got[0].headers()["traceparent"].split("-")[1] == TRACE
        assert rc.xack(k, "g", eid) == 1
    spans = collector.wait_for(lambda s: sum(x.operationName.startswith("wait s") for x in s) >= 9)
    for k in keys:
        assert len([s for s in spans if s.operationName == "wait " + k]) == 3
        assert len([s for s in spans if s.operationName == "send " + k]) == 3
