"""Persistence and replication: the queue is a plain list of envelopes, so AOF,
RDB and replicas keep it without the module, and the module pops every item
with its context after any of them."""
import time

from conftest import rq, module_args

N = 10000
TRACE_FMT = "%032x"


def carrier_for(i):
    return "traceparent=00-%032x-%016x-01" % (0xABC0000 + i, 0x1000 + i)


def push_10k(c, key="jobs"):
    p = c.pipeline(transaction=False)
    for i in range(N):
        p.execute_command("TQ.PUSH", key, carrier_for(i), b"item-%d" % i)
    p.execute()
    assert c.llen(key) == N


def check_envelopes(values):
    assert len(values) == N
    for i, raw in enumerate(reversed(values)):      # LPUSH: oldest at the tail
        it = rq.unwrap(raw)
        assert it.payload == b"item-%d" % i
        assert ("%032x" % (0xABC0000 + i)) in it.carrier


def pop_all_with_context(c, key="jobs"):
    p = c.pipeline(transaction=False)
    for _ in range(N):
        p.execute_command("TQ.POP", key)
    for i, reply in enumerate(p.execute()):
        it = rq._item(reply)
        assert it.payload == b"item-%d" % i
        assert it.headers()["traceparent"].split("-")[1] == "%032x" % (0xABC0000 + i)
        assert it.enqueue_us > 0 and it.wait_us >= 0
    assert c.exists(key) == 0


def test_aof_then_rdb_then_no_module_then_reload(make_server, collector):
    args = module_args(collector)
    srv = make_server("persist")
    # 1. AOF on, push 10k items with context
    srv.start(args, extra=["--appendonly", "yes", "--appendfsync", "always"])
    c = srv.client()
    push_10k(c)
    before = c.lrange("jobs", 0, -1)
    srv.stop()
    # 2. restart from the AOF (module loaded)
    srv.start(args, extra=["--appendonly", "yes"])
    c = srv.client()
    assert c.lrange("jobs", 0, -1) == before
    c.save()                                           # write dump.rdb
    srv.stop()
    # 3. RDB only
    srv.start(args, extra=["--appendonly", "no", "--dbfilename", "dump.rdb"])
    assert srv.client().lrange("jobs", 0, -1) == before
    srv.stop()
    # 4. without the module: the list is intact, envelopes decode
    srv.start(module=False, extra=["--appendonly", "no", "--dbfilename", "dump.rdb"])
    c = srv.client()
    values = c.lrange("jobs", 0, -1)
    assert values == before
    check_envelopes(values)
    assert "tracewire" not in str(c.execute_command("MODULE", "LIST"))
    srv.stop()
    # 5. the module again (start-up load from the same RDB): every item pops
    #    with its context, in order
    srv.start(args, extra=["--appendonly", "no", "--dbfilename", "dump.rdb"])
    pop_all_with_context(srv.client())
    srv.stop()


def test_replica_without_the_module_receives_the_same_items(make_server, collector):
    master = make_server("master").start(module_args(collector))
    replica = make_server("replica").start(module=False, extra=["--replicaof", "127.0.0.1", str(master.port)])
    m, rep = master.client(), replica.client()
    deadline = time.time() + 10
    while rep.info("replication")["master_link_status"] != "up" and time.time() < deadline:
        time.sleep(0.05)
    assert rep.info("replication")["master_link_status"] == "up"
    push_10k(m)
    for _ in range(100):
        rq.pop(m, "jobs")
    for _ in range(10):
        rq.move(m, "jobs", "jobs:processing")
    rq.ack(m, "jobs:processing", b"item-105")
    m.execute_command("TQ.BPOP", "jobs", 0.01)
    assert m.wait(1, 5000) == 1
    for key in ("jobs", "jobs:processing"):
        assert rep.lrange(key, 0, -1) == m.lrange(key, 0, -1), key
    assert rep.llen("jobs") == N - 111
    assert [rq.unwrap(v).payload for v in rep.lrange("jobs:processing", 0, -1)] == \
        [b"item-%d" % i for i in (109, 108, 107, 106, 104, 103, 102, 101, 100)]
    # a blocked TQ.BPOP served later replicates its RPOP too
    import threading
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("it", rq.bpop(master.client(), "empty", 5)))
    t.start()
    time.sleep(0.1)
    rq.push(m, "empty", b"late", carrier=carrier_for(1))
    t.join()
    assert res["it"].payload == b"late"
    assert m.wait(1, 5000) == 1
    assert rep.exists("empty") == 0
