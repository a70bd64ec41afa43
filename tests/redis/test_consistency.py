"""Master, replicas and AOF replay agree on every key, TTL included, after
every TQ.* command on lists of 0, 1, 2 and many items, with the same and
different source/destination (issue #19 item 1: TQ.MOVE k k on a one-item
list used to delete the key, and its TTL, on the master only).

The master has the module and an AOF (fsync always); one replica runs
without the module, one with it. Every key is compared as (type, content,
absolute expire time in ms) — PEXPIRETIME is exact, unlike TTL."""
import time

import pytest

from conftest import rq, module_args

TP = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SIZES = (0, 1, 2, 7)
TTL_MS = 3600 * 1000


def snapshot(c):
    out = {}
    for k in c.scan_iter(count=1000):
        t = c.type(k).decode()
        assert t == "list", (k, t)
        out[k] = (c.lrange(k, 0, -1), c.pexpiretime(k))
    return out


def fill(c, key, n, ttl=True):
    for i in range(n):
        if i % 3 == 2:
            c.lpush(key, b"plain-%d" % i)          # plain items mixed in
        else:
            rq.push(c, key, b"%s-%d" % (key.encode(), i), carrier=TP)
    if n and ttl:
        c.pexpire(key, TTL_MS)


def scenarios(c):
    """Runs every command on every size; returns the keys whose TTL must
    survive (they never empty)."""
    keep = []
    for n in SIZES:
        p = "n%d:" % n
        fill(c, p + "pop", n)
        for _ in range(max(1, min(n, 3))):
            c.execute_command("TQ.POP", p + "pop")
        fill(c, p + "bpop", n)
        for _ in range(max(1, min(n, 3))):
            c.execute_command("TQ.BPOP", p + "bpop", "0.01")
        fill(c, p + "rot", n)                      # TQ.MOVE k k: a rotation
        for _ in range(3):
            c.execute_command("TQ.MOVE", p + "rot", p + "rot")
        if n:
            keep.append(p + "rot")
        fill(c, p + "src", n)                      # to a missing destination
        c.execute_command("TQ.MOVE", p + "src", p + "dst")
        fill(c, p + "src2", n)                     # to a destination with a TTL
        fill(c, p + "dst2", 2)
        for _ in range(max(1, min(n, 3))):
            c.execute_command("TQ.MOVE", p + "src2", p + "dst2")
        keep.append(p + "dst2")
        fill(c, p + "ack", n)                      # ACK: match (tail-most) and no match
        if n:
            c.execute_command("TQ.ACK", p + "ack", b"%s-%d" % ((p + "ack").encode(), 0))
        c.execute_command("TQ.ACK", p + "ack", b"no-such-item")
        fill(c, p + "push", n)                     # PUSH onto a list with a TTL
        c.execute_command("TQ.PUSH", p + "push", TP, b"a", b"b")
        if n:
            keep.append(p + "push")
    return keep


def wait_link(rep):
    deadline = time.time() + 10
    while rep.info("replication")["master_link_status"] != "up" and time.time() < deadline:
        time.sleep(0.05)
    assert rep.info("replication")["master_link_status"] == "up"


def test_master_replicas_and_aof_agree_ttl_included(make_server, collector):
    args = module_args(collector)
    aof = ["--appendonly", "yes", "--appendfsync", "always"]
    master = make_server("master").start(args, extra=aof)
    plain = make_server("replica-plain").start(
        module=False, extra=["--replicaof", "127.0.0.1", str(master.port)])
    traced = make_server("replica-module").start(
        args, extra=["--replicaof", "127.0.0.1", str(master.port)])
    m = master.client()
    wait_link(plain.client())
    wait_link(traced.client())
    keep = scenarios(m)
    assert m.wait(2, 5000) == 2
    want = snapshot(m)
    for k in keep:                                 # the bug: the TTL must stay
        assert k.encode() in want and want[k.encode()][1] > 0, k
    assert want[b"n1:rot"][0] == m.lrange("n1:rot", 0, -1) and len(want[b"n1:rot"][0]) == 1
    assert snapshot(plain.client()) == want
    assert snapshot(traced.client()) == want
    plain.stop()
    traced.stop()
    master.stop()
    master.start(args, extra=["--appendonly", "yes"])      # AOF replay, module loaded
    assert snapshot(master.client()) == want
    master.stop()
    master.start(module=False, extra=["--appendonly", "yes"])  # and without it
    assert snapshot(master.client()) == want
