"""Soak: a Redis master killed under load and its replica promoted.

Real redis-servers, the tracewire module loaded on each (spans on, sent over
UDP to a local socket): a master M and a replica R. PRODUCERS threads push
uniquely numbered items with TQ.PUSH, each followed by WAIT 1 on the same
connection: a push is *acknowledged* when WAIT says one replica has it.
CONSUMERS threads run the reliable-queue loop: TQ.MOVE q proc:<c> (then
WAIT 1), process (record the delivery), TQ.ACK proc:<c> item (then WAIT 1).
After RUN_BEFORE s the replica falls behind — it is stopped (SIGSTOP) and
the master drops its link (CLIENT KILL TYPE replica), so whatever the
master does next reaches no replica — and LAG s later M is SIGKILLed (no
shutdown, no save). R resumes (SIGCONT) with only what the master sent it
before the link broke, is promoted with REPLICAOF NO ONE, and a fresh
replica R2 is attached to it. On loopback a replica is otherwise never
behind, and the failover would prove nothing about WAIT. Clients find
the new master by asking each node's ROLE and go on; a consumer that
reconnects first re-processes what its processing list still holds (the
reliable-queue recovery). After RUN_AFTER s more the producers stop, the
consumers drain everything and the final lists are read back.

Checked (redis-module/README.md, "Failover"):
- none lost: every acknowledged push was processed or is still queued;
- none duplicated beyond the at-least-once window: an item processed twice
  must have had, on the killed master, a TQ.MOVE or TQ.ACK whose WAIT did
  not confirm it (the effect never reached the replica, so the promoted
  replica hands the item out again);
- nothing processed that was never pushed.
Unacknowledged pushes (WAIT 0 or an error) may be lost or delivered: counted
and printed, not judged.
Usage: python test_redis_failover.py MODULE_SO RUN_DIR
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import redis

from tracewire import redis_queue as rq

PRODUCERS, CONSUMERS = 3, 3
RUN_BEFORE, RUN_AFTER = 4.0, 4.0
LAG = 0.5                      # the master runs on alone before it dies
WAIT_MS = 50
PUSH_PAUSE = 0.002             # per producer: a steady stream, not a flood
PROCESS_TIME = 0.003           # per item: consumers slower than producers, a backlog builds

failures = []


def check(cond, msg):
    print(("ok     " if cond else "FAILED ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, module, sink_port, d, replicaof=None):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.port = free_port()
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", d,
               "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
               "--repl-diskless-sync-delay", "0",
               "--logfile", os.path.join(d, "redis.log"),
               "--loadmodule", module, "service_name=redis-failover", "reporter.protocols=udp",
               "reporter.agent_host=127.0.0.1", "reporter.agent_port=%d" % sink_port]
        if replicaof:
            cmd += ["--replicaof", "127.0.0.1", str(replicaof)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while True:
            try:
                self.client().ping()
                break
            except redis.ConnectionError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server on %d did not start" % self.port)
                time.sleep(0.05)

    def client(self, **kw):
        kw.setdefault("socket_timeout", 5)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def wait_link_up(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.client().info("replication").get("master_link_status") == "up":
                return True
            time.sleep(0.05)
        return False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Cluster:
    """What clients know: the nodes' ports; the master is whoever says so."""

    def __init__(self, ports):
        self.ports = list(ports)
        self.lock = threading.Lock()

    def add(self, port):
        with self.lock:
            self.ports.append(port)

    def master(self, deadline=20.0):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            with self.lock:
                ports = list(self.ports)
            for p in ports:
                try:
                    c = redis.Redis(host="127.0.0.1", port=p, socket_timeout=2,
                                    socket_connect_timeout=0.5)
                    if c.execute_command("ROLE")[0] in (b"master", "master"):
                        return p, c
                    c.close()
                except redis.RedisError:
                    pass
            time.sleep(0.02)
        raise RuntimeError("no master found")


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.pushed = {}         # id -> (acked, port)
        self.deliveries = []     # (id, consumer, port, move_ok, ack_ok, recovery)
        self.reconnects = []     # seconds a client spent without a master
        self.errors = []


def wait1(c):
    return c.execute_command("WAIT", 1, WAIT_MS) >= 1


def producer(n, cluster, log, stop):
    port, c = cluster.master()
    seq = 0
    while not stop.is_set():
        item = "p%d-%d" % (n, seq)
        seq += 1
        acked = False
        try:
            c.execute_command("TQ.PUSH", "q", "", item)
            acked = wait1(c)
        except redis.RedisError:
            t = time.monotonic()
            port, c = cluster.master()
            with log.lock:
                log.reconnects.append(time.monotonic() - t)
        with log.lock:
            log.pushed[item] = (acked, port)
        time.sleep(PUSH_PAUSE)


def consumer(n, cluster, log, stop_when_empty):
    proc = "proc:%d" % n
    port, c = cluster.master()
    recovering = False
    while True:
        try:
            # a processing list left over from a failover is processed again first
            src = proc if recovering else "q"
            it = rq.move(c, src, proc)
            if it is None:
                if recovering:
                    recovering = False
                    continue
                if stop_when_empty.is_set():
                    return
                time.sleep(0.005)
                continue
            move_ok = wait1(c)
            item = it.payload.decode()
            time.sleep(PROCESS_TIME)
            # the delivery counts once processed, whether or not the ACK lands
            d = [item, n, port, move_ok, False, src == proc]
            with log.lock:
                log.deliveries.append(d)
            if not rq.ack(c, proc, it.payload):
                with log.lock:
                    log.errors.append("ack of %s matched nothing on %s" % (item, proc))
            d[4] = wait1(c)
        except redis.RedisError:
            t = time.monotonic()
            port, c = cluster.master()
            with log.lock:
                log.reconnects.append(time.monotonic() - t)
            recovering = True


def main():
    module, run = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(run, ignore_errors=True)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # spans land here, unread
    sink.bind(("127.0.0.1", 0))
    sink_port = sink.getsockname()[1]
    servers = []
    try:
        m = Server(module, sink_port, os.path.join(run, "m"))
        servers.append(m)
        r = Server(module, sink_port, os.path.join(run, "r"), replicaof=m.port)
        servers.append(r)
        check(r.wait_link_up(), "replica in sync with the master")
        check(all(b"tracewire" in str(s.client().execute_command("MODULE", "LIST")).encode()
                  for s in servers), "module loaded on master and replica")
        cluster = Cluster([m.port, r.port])
        log = Log()
        stop_push, drained = threading.Event(), threading.Event()
        threads = [threading.Thread(target=producer, args=(i, cluster, log, stop_push))
                   for i in range(PRODUCERS)]
        threads += [threading.Thread(target=consumer, args=(i, cluster, log, drained))
                    for i in range(CONSUMERS)]
        for t in threads:
            t.start()
        time.sleep(RUN_BEFORE)
        os.kill(r.proc.pid, signal.SIGSTOP)        # our own servers, by pid
        m.client().execute_command("CLIENT", "KILL", "TYPE", "replica")
        with log.lock:
            lag_start = (len(log.pushed), len(log.deliveries))
        time.sleep(LAG)
        backlog = m.client().llen("q")
        t_kill = time.monotonic()
        m.kill()                                   # SIGKILL: no shutdown, no save
        with log.lock:
            pushed_before = len(log.pushed)
            delivered_before = len(log.deliveries)
        os.kill(r.proc.pid, signal.SIGCONT)
        time.sleep(0.3)                            # clients notice
        r.client().execute_command("REPLICAOF", "NO", "ONE")
        t_promoted = time.monotonic()
        r2 = Server(module, sink_port, os.path.join(run, "r2"), replicaof=r.port)
        servers.append(r2)
        cluster.add(r2.port)
        check(r2.wait_link_up(), "a new replica attached to the promoted one")
        t_r2 = time.monotonic()
        time.sleep(RUN_AFTER)
        stop_push.set()
        for t in threads[:PRODUCERS]:
            t.join(30)
        drained.set()
        for t in threads[PRODUCERS:]:
            t.join(60)
        check(not any(t.is_alive() for t in threads), "every client finished")
        print("backlog at the kill: %d queued; before it %d pushes, %d deliveries (%d and %d while "
              "the replica was cut off); promoted %.2f s after the kill, new replica in sync %.2f s "
              "later" % (backlog, pushed_before, delivered_before, pushed_before - lag_start[0],
                         delivered_before - lag_start[1], t_promoted - t_kill, t_r2 - t_promoted))

        # ------------------------------------------------------------ final state
        c = r.client()
        queued = {}
        for key in [b"q"] + sorted(c.keys("proc:*")):
            for raw in c.lrange(key, 0, -1):
                item = rq.unwrap(raw).payload.decode()
                queued[item] = queued.get(item, 0) + 1
        processed = {}
        for d in log.deliveries:
            processed[d[0]] = processed.get(d[0], 0) + 1
        acked = {i for i, (a, _) in log.pushed.items() if a}
        unacked = set(log.pushed) - acked
        lost = sorted(i for i in acked if i not in processed and i not in queued)
        phantom = sorted(i for i in list(processed) + list(queued) if i not in log.pushed)
        dups = sorted(i for i, n in processed.items() if n > 1)
        unexplained = []
        for i in dups:
            ds = [d for d in log.deliveries if d[0] == i]
            # an earlier delivery on the killed master whose MOVE or ACK was
            # never confirmed by WAIT: the promoted replica did not have it
            if not any(d[2] == m.port and not (d[3] and d[4]) for d in ds[:-1]):
                unexplained.append((i, ds))
        print("pushes: %d (acknowledged %d, unacknowledged %d, of which %d never arrived); "
              "deliveries %d, distinct items %d, processed twice %d; still queued %d"
              % (len(log.pushed), len(acked), len(unacked),
                 sum(1 for i in unacked if i not in processed and i not in queued),
                 len(log.deliveries), len(processed), len(dups), len(queued)))
        print("clients reconnected %d times, longest without a master %.2f s"
              % (len(log.reconnects), max(log.reconnects or [0])))
        check(len(acked) > 1000 and pushed_before > 500 and len(log.pushed) > pushed_before + 500,
              "producers ran before and after the failover")
        check(delivered_before > 500 and len(log.deliveries) > delivered_before + 500,
              "consumers ran before and after the failover")
        check(len(log.reconnects) >= PRODUCERS + CONSUMERS, "every client reconnected")
        check(not lost, "no acknowledged push lost (%d lost: %s)" % (len(lost), lost[:5]))
        check(not phantom, "nothing delivered that was never pushed (%s)" % phantom[:5])
        check(not unexplained, "no duplicate outside the MOVE/ACK window (%d: %s)"
              % (len(unexplained), unexplained[:3]))
        check(not queued, "consumers drained the queue and their processing lists (%d left)"
              % len(queued))
        check(not log.errors, "every TQ.ACK matched (%s)" % log.errors[:3])
        for s in servers[1:]:
            log_text = open(os.path.join(s.dir, "redis.log")).read()
            check("crashed by signal" not in log_text, "no crash on port %d" % s.port)
    finally:
        for s in servers:
            s.kill()
        sink.close()
    print("redis-failover: %s" % ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
