#!/usr/bin/env python3
"""Traced queue throughput: TQ.PUSH + TQ.POP versus plain LPUSH + RPOP, and
TQ.XADD + TQ.XREADGROUP versus plain XADD + XREADGROUP (streams, issue #17).

Starts its own redis-server on 127.0.0.1 with the tracewire module (spans sent
over UDP to a socket this script drains, every span sampled), then, in the
same run and alternating, drives both command pairs with redis-benchmark,
unpipelined and pipelined. Prints requests/s per command, the push+pop pair
rate (2N / (t_push + t_pop)), the traced/plain ratio (goal >= 80 %), and
usec_per_call from INFO commandstats. Never fails on timing.

  python3 bench/redis_bench.py [--module build/.../tracewire.so] [-n 200000] [--rounds 3]

Modes: plain LPUSH+RPOP; TQ with a sampled context (send + wait spans
reported); TQ with an unsampled context (spans started, not recorded); TQ on a
second server loaded with tq.spans=off (context propagated verbatim).

  python3 bench/redis_bench.py --callgrind [-n 20000]

counts instead the instructions each command executes inside redis-server
(valgrind callgrind, inclusive cost of lpushCommand/rpopCommand and of the
module's cmd_push/cmd_pop, per call, commands issued from a server-side
loop): exact and independent of machine load, unlike requests/s. It then
counts whole requests (the main thread's instructions per request under
redis-benchmark, unpipelined and -P 32): plain/traced there is what the
req/s ratio would be if the server's user-space CPU were all that mattered.

Measured (issue #5, 2026-11-25; redis-server 7.0.15, 2 CPUs shared with a
niced fuzz run, payload 64 B), before (763dafc) -> after (8753543) the
command-path work: carriers that are one traceparent skip the generic
extract/inject, RM_ListPop, PCLMULQDQ CRC, tags with lengths, stack buffer:

  instructions per call (--callgrind, n=20000)   before                  after
    TQ.PUSH  sampled / unsampled / spans=off     12481 / 11501 / 10267   9042 / 8177 / 7266
    TQ.POP   sampled / unsampled / spans=off     14072 / 13009 /  8143   9861 / 8943 / 6824
    LPUSH / RPOP                                  1762 / 2625
    push+pop sampled vs LPUSH+RPOP                 6.1x                   4.3x
  main-thread instructions per request, plain pair / traced pair
    unpipelined                                   35.6 %                 45.1 %
    -P 32                                         31.5 %                 40.5 %
  wall clock, traced/plain push+pop req/s (runs of medians of 3 rounds, the
  "after" ones at 5e9b1dc; the same mode swings by 10-20 points between runs
  on this machine, so these do not resolve the change)
    unpipelined, sampled                        101 / 101 %             82 / 72 %
    -P 32, sampled                               41 /  47 %             52 / 41 %
    -P 32, tq.spans=off                          62 /  47 %             50 / 51 %
  alternating A/B (two servers, before and after, 4 rounds, n=100000):
    unpipelined 82-119 % vs 91-100 %; -P 32 30-52 % vs 25-45 % (noise again)
  INFO commandstats usec_per_call: tq.push 3.19/2.92 -> 2.71/2.33/2.38,
  tq.pop 3.42/3.41 -> 2.63/2.80/2.68 (lpush 0.57-0.68, rpop 0.72-0.88).

Where the rest goes (per call, after): RM_Replicate 2.8k for the LPUSH and
2.1k for the RPOP it replicates (it looks the command up by name on every
call: 1.4k), RM_ListPush 1.3k / RM_ListPop 1.7k, the 4-element pop reply
1.5k, key open/close 0.6k, envelope string create/free 0.6k; the two spans
about 2.5k each (start, four tags, finish, parent context, carrier). With
tq.spans=off the pair still costs 3.2x LPUSH+RPOP inside the command (a
whole pipelined request about 2x), so >= 80 % of plain pipelined throughput
is out of reach for a module command that replicates its effects through
Redis 7.0's module API, whatever tracing costs. Unpipelined, syscalls and
context switches dominate: the ratio sits around 100 % within this
machine's noise, before and after.

Streams and the #19 fixes (issue #17, 2026-12-04; same machine, load
average 14 during the wall-clock run, callgrind n=5000):

  instructions per call (--callgrind)          sampled / unsampled / spans=off
    XADD / XREADGROUP (plain)                   5195 / 35628
    TQ.XADD                                     14859 / 13828 / 12794
    TQ.XREADGROUP                               45476 / 44916 / 42562
    xadd+xreadgroup vs XADD+XREADGROUP          1.5x / 1.4x / 1.4x
    TQ.PUSH / TQ.POP (were 9042 / 9861)         9704 / 12329 sampled
  main-thread instructions per request, plain pair / traced pair
    lists   unpipelined 42.9 %, -P 32 38.9 %
    streams unpipelined 71.9 %, -P 32 76.2 %
  wall clock push+pop (add+read) req/s vs plain, medians of 3 rounds, n=50000:
    lists   unpipelined 72 / 86 / 82 %, -P 32 78 / 49 / 51 %
    streams unpipelined 226 / 125 / 121 %, -P 32 62 / 46 / 58 %
    (sampled / unsampled / spans=off; at load 14 these swing by tens of
    points: the instruction counts are the figures to compare)

TQ.POP costs ~2.5k instructions more than before #19 item 2: keys are
opened read-only first (a poll that finds nothing, or a corrupted tail,
must not signal the key modified and abort other clients' WATCH) and
reopened for writing only to remove the checked tail; TQ.PUSH pays one more
read-only lookup (~0.7k) for its type check. The stream commands run the
plain command through RedisModule_Call (so errors and replication are
exactly the plain command's): ~7.5k instructions of call overhead on
TQ.XADD (argv, temporary client, lookup, reply copy), ~7k on TQ.XREADGROUP,
plus ~1-2.5k per span. XREADGROUP itself is costly (PEL insert and the
XCLAIM/SETID effects it propagates), so the traced stream pair stays within
1.5x of the plain one.
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


def start_server(module, tmp, name, sink_port, *extra):
    port = free_port()
    d = os.path.join(tmp, name)
    os.makedirs(d)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", d, "--logfile", os.path.join(d, "redis.log"),
         "--loadmodule", module, "service_name=redis-bench", "reporter.protocols=udp",
         "reporter.agent_port=%d" % sink_port, *extra])
    for _ in range(200):
        try:
            cli(port, "PING")
            return port, proc
        except subprocess.CalledProcessError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


LOOP_PUSH = ("local n=tonumber(ARGV[1]) for i=1,n do redis.call(ARGV[2], KEYS[1], ARGV[3], ARGV[4]) end "
             "return n")
LOOP_PUSH_PLAIN = "local n=tonumber(ARGV[1]) for i=1,n do redis.call('LPUSH', KEYS[1], ARGV[2]) end return n"
LOOP_POP = "local n=tonumber(ARGV[1]) for i=1,n do redis.call(ARGV[2], KEYS[1]) end return n"
# XADD takes no carrier: ARGV[3] is "" there and left out.
LOOP_XADD = ("local n=tonumber(ARGV[1]) for i=1,n do if ARGV[3] == '' then "
             "redis.call(ARGV[2], KEYS[1], '*', 'f', ARGV[4]) else "
             "redis.call(ARGV[2], KEYS[1], '*', ARGV[3], 'f', ARGV[4]) end end return n")
LOOP_XREAD = ("local n=tonumber(ARGV[1]) for i=1,n do redis.call(ARGV[2], 'GROUP', 'g', 'c', "
              "'COUNT', '1', 'STREAMS', KEYS[1], '>') end return n")


def XADD_CMD(key, carrier):
    """An XADD (carrier None) or TQ.XADD command line for redis-benchmark."""
    if carrier is None:
        return ["XADD", key, "*", "f", PAYLOAD]
    return ["TQ.XADD", key, "*", carrier, "f", PAYLOAD]


def XREAD_CMD(key, cmd):
    """One new entry per call for consumer c of group g (entries stay
    pending, as between a real consumer's read and its XACK)."""
    return [cmd, "GROUP", "g", "c", "COUNT", "1", "STREAMS", key, ">"]


def callgrind(a, sink_port):
    """Instructions per command under callgrind, one dump per phase."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        sys.exit("valgrind (callgrind) not installed")
    tmp = tempfile.mkdtemp(prefix="tw-redis-cg-")
    rows = []
    try:
        for label, extra in (("spans on", []), ("tq.spans=off", ["tq.spans=off"])):
            port = free_port()
            out = os.path.join(tmp, "cg-%d.out" % port)
            proc = subprocess.Popen(
                ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, "redis-server",
                 "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", tmp, "--loadmodule", a.module, "reporter.protocols=udp",
                 "reporter.agent_port=%d" % sink_port, *extra],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(600):
                try:
                    cli(port, "PING")
                    break
                except subprocess.CalledProcessError:
                    time.sleep(0.1)
            phases = []
            if not extra:
                phases += [("LPUSH", "lpushCommand", LOOP_PUSH_PLAIN, ["plain", a.n, PAYLOAD]),
                           ("RPOP", "rpopCommand", LOOP_POP, ["plain", a.n, "RPOP"]),
                           ("TQ.PUSH sampled", "cmd_push", LOOP_PUSH, ["s", a.n, "TQ.PUSH", CARRIER, PAYLOAD]),
                           ("TQ.POP sampled", "cmd_pop", LOOP_POP, ["s", a.n, "TQ.POP"]),
                           ("TQ.PUSH unsampled", "cmd_push", LOOP_PUSH,
                            ["u", a.n, "TQ.PUSH", CARRIER[:-2] + "00", PAYLOAD]),
                           ("TQ.POP unsampled", "cmd_pop", LOOP_POP, ["u", a.n, "TQ.POP"])]
                phases += [("XADD", "xaddCommand", LOOP_XADD, ["xs", a.n, "XADD", "", PAYLOAD]),
                           ("XREADGROUP", "xreadCommand", LOOP_XREAD, ["xs", a.n, "XREADGROUP"]),
                           ("TQ.XADD sampled", "twrm_cmd_xadd", LOOP_XADD,
                            ["ts", a.n, "TQ.XADD", CARRIER, PAYLOAD]),
                           ("TQ.XREADGROUP sampled", "twrm_cmd_xreadgroup", LOOP_XREAD,
                            ["ts", a.n, "TQ.XREADGROUP"]),
                           ("TQ.XADD unsampled", "twrm_cmd_xadd", LOOP_XADD,
                            ["tu", a.n, "TQ.XADD", CARRIER[:-2] + "00", PAYLOAD]),
                           ("TQ.XREADGROUP unsampled", "twrm_cmd_xreadgroup", LOOP_XREAD,
                            ["tu", a.n, "TQ.XREADGROUP"])]
            else:
                phases += [("TQ.PUSH", "cmd_push", LOOP_PUSH, ["o", a.n, "TQ.PUSH", CARRIER, PAYLOAD]),
                           ("TQ.POP", "cmd_pop", LOOP_POP, ["o", a.n, "TQ.POP"]),
                           ("TQ.XADD", "twrm_cmd_xadd", LOOP_XADD, ["to", a.n, "TQ.XADD", CARRIER, PAYLOAD]),
                           ("TQ.XREADGROUP", "twrm_cmd_xreadgroup", LOOP_XREAD,
                            ["to", a.n, "TQ.XREADGROUP"])]
            cli(port, "CONFIG", "SET", "lua-time-limit", "0")
            for key in ("xs", "ts", "tu", "to"):
                cli(port, "XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True)
            for name, fn, script, args in phases:
                key, n, *rest = args
                cli(port, "EVAL", script, "1", key, str(n), *rest)
                subprocess.run(["callgrind_control", "-d", name.replace(" ", "_"), str(proc.pid)],
                               capture_output=True, check=True)
                dumps = sorted(pathlib.Path(tmp).glob("cg-%d.out.*" % port),
                               key=lambda p: int(p.name.rsplit(".", 1)[1]))
                ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(dumps[-1])],
                                     capture_output=True, text=True).stdout
                ir = 0
                for line in ann.splitlines():
                    if (":%s [" % fn) in line or line.rstrip().endswith(":" + fn):
                        ir = int(line.split()[0].replace(",", ""))
                        break
                rows.append(("%s (%s)" % (name, label) if extra else name, ir / n))
            cli(port, "SHUTDOWN", "NOSAVE")
            proc.wait(60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("instructions per call inside redis-server (callgrind, n=%d per phase)" % a.n)
    base = {r[0]: r[1] for r in rows}
    for name, ir in rows:
        print("  %-28s %8.0f" % (name, ir))
    plain = base["LPUSH"] + base["RPOP"]
    for label, push, pop in (("sampled", "TQ.PUSH sampled", "TQ.POP sampled"),
                             ("unsampled", "TQ.PUSH unsampled", "TQ.POP unsampled"),
                             ("tq.spans=off", "TQ.PUSH (tq.spans=off)", "TQ.POP (tq.spans=off)")):
        print("  push+pop %-13s %6.1fx LPUSH+RPOP" % (label, (base[push] + base[pop]) / plain))
    xplain = base["XADD"] + base["XREADGROUP"]
    for label, add, read in (("sampled", "TQ.XADD sampled", "TQ.XREADGROUP sampled"),
                             ("unsampled", "TQ.XADD unsampled", "TQ.XREADGROUP unsampled"),
                             ("tq.spans=off", "TQ.XADD (tq.spans=off)", "TQ.XREADGROUP (tq.spans=off)")):
        print("  xadd+xreadgroup %-13s %6.1fx XADD+XREADGROUP" % (label, (base[add] + base[read]) / xplain))


def thread_totals(out_prefix):
    """{dump number: [instructions of thread 1, 2, ...]} from --separate-threads dumps."""
    dumps = {}
    for f in pathlib.Path(out_prefix).parent.glob(pathlib.Path(out_prefix).name + ".*-*"):
        num, thread = f.name.rsplit(".", 1)[1].split("-")
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                dumps.setdefault(int(num), {})[int(thread)] = int(line.split()[1])
                break
    return {n: [t[k] for k in sorted(t)] for n, t in dumps.items()}


def callgrind_requests(a, sink_port):
    """Whole-request instructions of redis-server's main thread (protocol
    parsing, dispatch, command, reply, propagation) per request, driven by
    redis-benchmark unpipelined and pipelined: the instruction form of the
    req/s ratio, free of machine load. The reporter thread's share (encoding
    and sending the spans, on another core) is printed apart."""
    tmp = tempfile.mkdtemp(prefix="tw-redis-cgr-")
    n = a.n
    rows = {}
    try:
        port = free_port()
        out = os.path.join(tmp, "cgr.out")
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--callgrind-out-file=" + out,
             "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp, "--loadmodule", a.module, "reporter.protocols=udp",
             "reporter.agent_port=%d" % sink_port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                cli(port, "PING")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.1)
        phases = []
        for pipeline in (1, 32):
            phases += [(pipeline, "LPUSH", ["LPUSH", "plain", PAYLOAD]), (pipeline, "RPOP", ["RPOP", "plain"]),
                       (pipeline, "TQ.PUSH", ["TQ.PUSH", "tq", CARRIER, PAYLOAD]),
                       (pipeline, "TQ.POP", ["TQ.POP", "tq"]),
                       (pipeline, "XADD", XADD_CMD("xs%d" % pipeline, None)),
                       (pipeline, "XREADGROUP", XREAD_CMD("xs%d" % pipeline, "XREADGROUP")),
                       (pipeline, "TQ.XADD", XADD_CMD("ts%d" % pipeline, CARRIER)),
                       (pipeline, "TQ.XREADGROUP", XREAD_CMD("ts%d" % pipeline, "TQ.XREADGROUP"))]
            for key in ("xs%d" % pipeline, "ts%d" % pipeline):
                cli(port, "XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
        for i, (pipeline, name, cmd) in enumerate(phases, 1):
            subprocess.run(["redis-benchmark", "-p", str(port), "-n", "1000", "-c", "1", "-P", str(pipeline),
                            *cmd], capture_output=True, check=True)           # warm-up
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=True)
            subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-c", "4", "-P", str(pipeline),
                            *cmd], capture_output=True, check=True)
            time.sleep(1.2)   # let the reporter thread send what it holds
            subprocess.run(["callgrind_control", "-d", "p%d-%s" % (pipeline, name), str(proc.pid)],
                           capture_output=True, check=True)
            threads = thread_totals(out).get(i, [0])
            rows[(pipeline, name)] = (threads[0] / n, sum(threads[1:]) / n)
        cli(port, "SHUTDOWN", "NOSAVE")
        proc.wait(60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nwhole requests: instructions of redis-server's main thread per request (callgrind,"
          " redis-benchmark -c 4, n=%d; sampled context)" % n)
    for pipeline in (1, 32):
        r = {k[1]: v for k, v in rows.items() if k[0] == pipeline}
        for a_, b_, ta, tb in (("LPUSH", "RPOP", "TQ.PUSH", "TQ.POP"),
                               ("XADD", "XREADGROUP", "TQ.XADD", "TQ.XREADGROUP")):
            plain = r[a_][0] + r[b_][0]
            traced = r[ta][0] + r[tb][0]
            print("  pipeline %-3d %s %6.0f  %s %6.0f  %s %6.0f  %s %6.0f  plain/traced %5.1f%%"
                  "  (reporter thread +%.0f per traced pair)"
                  % (pipeline, a_, r[a_][0], b_, r[b_][0], ta, r[ta][0], tb, r[tb][0],
                     100 * plain / traced, r[ta][1] + r[tb][1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", default=os.environ.get(
        "TW_REDIS_MODULE", str(TOP / "build/redis-tests/redis-module/tracewire.so")))
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--callgrind", action="store_true", help="count instructions per command instead")
    a = ap.parse_args()
    if not shutil.which("redis-benchmark"):
        sys.exit("redis-benchmark not found (apt-get install redis-tools)")

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
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

    if a.callgrind:
        try:
            callgrind(a, sink.getsockname()[1])
            callgrind_requests(a, sink.getsockname()[1])
        finally:
            stop.set()
        return
    tmp = tempfile.mkdtemp(prefix="tw-redis-bench-")
    servers = []
    try:
        on, p_on = start_server(a.module, tmp, "spans-on", sink.getsockname()[1])
        servers.append((on, p_on))
        off, p_off = start_server(a.module, tmp, "spans-off", sink.getsockname()[1], "tq.spans=off")
        servers.append((off, p_off))
        print("redis-server %s, module %s\nn=%d per command, %d clients, payload %d B, %d CPUs, load %s"
              % (cli(on, "INFO", "server").split("redis_version:")[1].split()[0], a.module, a.n,
                 a.clients, len(PAYLOAD), os.cpu_count(), os.getloadavg()[0]))
        sampled = CARRIER
        unsampled = CARRIER[:-2] + "00"
        lists = [
            ("plain LPUSH+RPOP", on, ["LPUSH", "plainq", PAYLOAD], ["RPOP", "plainq"]),
            ("TQ sampled (2 spans)", on, ["TQ.PUSH", "tq", sampled, PAYLOAD], ["TQ.POP", "tq"]),
            ("TQ unsampled ctx", on, ["TQ.PUSH", "tq", unsampled, PAYLOAD], ["TQ.POP", "tq"]),
            ("TQ tq.spans=off", off, ["TQ.PUSH", "tq", sampled, PAYLOAD], ["TQ.POP", "tq"]),
        ]
        streams = [
            ("plain XADD+XREADGROUP", on, XADD_CMD("ps", None), XREAD_CMD("ps", "XREADGROUP")),
            ("TQ.X sampled (2 spans)", on, XADD_CMD("ts", sampled), XREAD_CMD("ts", "TQ.XREADGROUP")),
            ("TQ.X unsampled ctx", on, XADD_CMD("tu", unsampled), XREAD_CMD("tu", "TQ.XREADGROUP")),
            ("TQ.X tq.spans=off", off, XADD_CMD("to", sampled), XREAD_CMD("to", "TQ.XREADGROUP")),
        ]
        for title, modes, heads in (("lists", lists, ("push req/s", "pop req/s", "push+pop req/s")),
                                    ("streams", streams, ("add req/s", "read req/s", "add+read req/s"))):
            for pipeline in (1, 32):
                results = {}
                for _ in range(a.rounds):          # alternate the modes inside each round
                    for name, port, push, pop in modes:
                        if title == "streams":     # a fresh stream and group per run
                            cli(port, "DEL", push[1])
                            cli(port, "XGROUP", "CREATE", push[1], "g", "$", "MKSTREAM")
                        rp = bench(port, a.n, a.clients, pipeline, *push)
                        ro = bench(port, a.n, a.clients, pipeline, *pop)
                        results.setdefault(name, []).append((rp, ro, 2 * a.n / (a.n / rp + a.n / ro)))
                print("\n%s, pipeline %d (median of %d alternating rounds)" % (title, pipeline, a.rounds))
                print("  %-24s %12s %12s %15s %9s" % ("", *heads, "vs plain"))
                base = None
                for name, *_ in modes:
                    med = [statistics.median(r[i] for r in results[name]) for i in range(3)]
                    base = base or med[2]
                    print("  %-24s %12.0f %12.0f %15.0f %8.1f%%" % (name, *med, 100 * med[2] / base))
        print("\nINFO commandstats usec_per_call (all runs)")
        for label, port in (("spans on ", on), ("spans off", off)):
            st = commandstats(port)
            print("  %s  " % label + "  ".join("%s=%.2f" % (k, st[k][1]) for k in
                                                ("lpush", "rpop", "tq.push", "tq.pop", "xadd",
                                                 "xreadgroup", "tq.xadd", "tq.xreadgroup") if k in st))
        time.sleep(1.5)
        rep = {k: v for k, v in (l.split(":", 1) for l in cli(on, "INFO", "tracewire").splitlines()
                                 if ":" in l)}
        print("\nspans (spans-on server): started=%s sampled=%s reported=%s dropped_queue_full=%s;"
              " sink got %d datagrams, %d bytes"
              % (rep.get("tracewire_spans_started"), rep.get("tracewire_spans_sampled"),
                 rep.get("tracewire_spans_reported"), rep.get("tracewire_dropped_queue_full"),
                 got["datagrams"], got["bytes"]))
    finally:
        for port, proc in servers:
            try:
                cli(port, "SHUTDOWN", "NOSAVE")
            except subprocess.CalledProcessError:
                pass
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop.set()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
