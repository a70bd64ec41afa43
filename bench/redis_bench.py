#!/usr/bin/env python3
"""Traced queue throughput: TQ.PUSH + TQ.POP versus plain LPUSH + RPOP.

Starts its own redis-server on 127.0.0.1 with the tracewire module (spans sent
over UDP to a socket this script drains, every span sampled), then, in the
same run and alternating, drives both command pairs with redis-benchmark,
unpipelined and pipelined. Prints requests/s per command, the push+pop pair
rate (2N / (t_push + t_pop)), the traced/plain ratio (goal >= 80 %), and
usec_per_call from INFO commandstats. Never fails on timing.

  python3 bench/redis_bench.py [--module build/.../tracewire.so] [-n 200000] [--rounds 3]
"""
import argparse
import csv
import io
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
CARRIER = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PAYLOAD = "x" * 64


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                          check=True).stdout


def bench(port, n, clients, pipeline, *cmd):
    """requests per second of one redis-benchmark run of cmd."""
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-c", str(clients),
                          "-P", str(pipeline), "--csv", *cmd],
                         capture_output=True, text=True, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return float(rows[1][1])


def commandstats(port):
    stats = {}
    for line in cli(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[len("cmdstat_"):].split(":", 1)
            fields = dict(kv.split("=") for kv in rest.split(","))
            stats[name] = (int(fields["calls"]), float(fields["usec_per_call"]))
    return stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", default=os.environ.get(
        "TW_REDIS_MODULE", str(TOP / "build/redis-tests/redis-module/tracewire.so")))
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sampler-param", default="1")
    a = ap.parse_args()
    if not shutil.which("redis-benchmark"):
        sys.exit("redis-benchmark not found (apt-get install redis-tools)")

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    got = {"datagrams": 0, "bytes": 0}
    stop = threading.Event()

    def drain():
        sink.settimeout(0.2)
        while not stop.is_set():
            try:
                got["bytes"] += len(sink.recv(70000))
                got["datagrams"] += 1
            except socket.timeout:
                pass
    threading.Thread(target=drain, daemon=True).start()

    port = free_port()
    tmp = tempfile.mkdtemp(prefix="tw-redis-bench-")
    srv = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", tmp, "--logfile", os.path.join(tmp, "redis.log"),
         "--loadmodule", a.module, "service_name=redis-bench", "reporter.protocols=udp",
         "reporter.agent_port=%d" % sink.getsockname()[1], "sampler.type=const",
         "sampler.param=%s" % a.sampler_param])
    try:
        for _ in range(100):
            try:
                cli(port, "PING")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.05)
        print("redis-server %s, module %s, n=%d, clients=%d, payload %d B, sampler const %s"
              % (cli(port, "INFO", "server").split("redis_version:")[1].split()[0], a.module, a.n,
                 a.clients, len(PAYLOAD), a.sampler_param))
        pairs = {
            "plain": (["LPUSH", "plainq", PAYLOAD], ["RPOP", "plainq"]),
            "traced": (["TQ.PUSH", "tq", CARRIER, PAYLOAD], ["TQ.POP", "tq"]),
        }
        results = {}
        for pipeline in (1, 32):
            for rnd in range(a.rounds):
                for name, (push, pop) in pairs.items():
                    rp = bench(port, a.n, a.clients, pipeline, *push)
                    ro = bench(port, a.n, a.clients, pipeline, *pop)
                    pair = 2 * a.n / (a.n / rp + a.n / ro)
                    results.setdefault((pipeline, name), []).append((rp, ro, pair))
            print("\npipeline %d (median of %d rounds)" % (pipeline, a.rounds))
            print("  %-7s %14s %14s %16s" % ("", "push req/s", "pop req/s", "push+pop req/s"))
            med = {}
            for name in pairs:
                rows = results[(pipeline, name)]
                med[name] = [statistics.median(r[i] for r in rows) for i in range(3)]
                print("  %-7s %14.0f %14.0f %16.0f" % (name, *med[name]))
            print("  traced/plain push+pop throughput: %.1f %%" % (100 * med["traced"][2] / med["plain"][2]))
        print("\nINFO commandstats (all runs)")
        st = commandstats(port)
        for name in ("lpush", "rpop", "tq.push", "tq.pop"):
            if name in st:
                print("  %-8s calls=%-9d usec_per_call=%.2f" % (name, *st[name]))
        time.sleep(1.5)
        info = cli(port, "INFO", "tracewire")
        rep = {k: v for k, v in (l.split(":", 1) for l in info.splitlines() if ":" in l)}
        print("\nspans: finished=%s reported=%s dropped_queue_full=%s; sink got %d datagrams, %d bytes"
              % (rep.get("tracewire_spans_finished"), rep.get("tracewire_spans_reported"),
                 rep.get("tracewire_dropped_queue_full"), got["datagrams"], got["bytes"]))
    finally:
        try:
            cli(port, "SHUTDOWN", "NOSAVE")
        except subprocess.CalledProcessError:
            pass
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
        stop.set()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
