"""gunicorn with 4 prefork workers (--preload) under a short wrk load.

A real Jaeger-Thrift-over-HTTP collector runs in this process (bodies decoded
with jaeger_client's generated Thrift types). gunicorn serves
tests/hardening/gunicorn_app.py twice with the same wrk load: once without
tracing (the baseline) and once traced. Checked and printed:
  - the master created its tracer without starting a thread;
  - every worker served requests and reported spans (its pid tag is seen);
  - per worker: finished = 2 x requests, finished = reported + dropped exactly;
  - the collector received exactly sum(reported) spans, no span id twice, one
    distinct trace id per request (ids reseeded in every forked worker);
  - application latency: wrk's figures with and without tracing; the traced
    run must keep at least HZ_MIN_THROUGHPUT of the baseline throughput and
    its mean latency within 2x + 2 ms of the baseline's.
Usage: python test_gunicorn.py  (PYTHONPATH must reach the built tracewire)
"""
import glob
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from jaeger_client.thrift_gen.jaeger import ttypes
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_BIN = os.path.join(os.path.dirname(os.path.dirname(HERE)), ".venv", "bin")
DURATION = os.environ.get("HZ_WRK_DURATION", "5s")
HZ_MIN_THROUGHPUT = 0.5
failures = []


def check(cond, msg):
    print("  %s %s" % ("ok  " if cond else "FAIL", msg))
    if not cond:
        failures.append(msg)


class Collector(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), CollectorHandler)
        self.bodies = []
        self.lock = threading.Lock()


class CollectorHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.bodies.append(body)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def decode(bodies):
    spans = []
    for body in bodies:
        batch = ttypes.Batch()
        batch.read(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body)))
        spans.extend(batch.spans)
    return spans


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_up(port, proc, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited with %s" % proc.returncode)
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not come up")


def parse_wrk(out):
    def unit(v, u):
        return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}[u]
    res = {}
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s|m)", out)
    res["mean_ms"] = unit(*m.groups()) if m else float("nan")
    for pct in ("50", "99"):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s|m)" % pct, out)
        res["p%s_ms" % pct] = unit(*m.groups()) if m else float("nan")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1) if m else "none"
    return res


def run_gunicorn(tracing, endpoint, out_dir):
    port = free_port()
    env = dict(os.environ, HZ_TRACING="1" if tracing else "0", HZ_OUT=out_dir, HZ_PORT=str(port),
               HZ_ENDPOINT=endpoint)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([os.path.join(VENV_BIN, "gunicorn"), "-c", os.path.join(HERE, "gunicorn_conf.py"),
                             "gunicorn_app:app"], cwd=HERE, env=env)
    try:
        wait_up(port, proc)
        wrk = subprocess.run(["wrk", "-t2", "-c8", "-d" + DURATION, "--latency", "http://127.0.0.1:%d/" % port],
                             capture_output=True, text=True, timeout=120)
        stats = parse_wrk(wrk.stdout)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return stats


def main():
    collector = Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = "http://127.0.0.1:%d/api/traces" % collector.server_address[1]
    tmp = tempfile.mkdtemp(prefix="hz-gunicorn-")
    try:
        base_dir, traced_dir = os.path.join(tmp, "base"), os.path.join(tmp, "traced")
        os.makedirs(base_dir)
        os.makedirs(traced_dir)
        print("gunicorn: 4 prefork workers (--preload), wrk -t2 -c8 -d%s" % DURATION)
        base = run_gunicorn(False, endpoint, base_dir)
        traced = run_gunicorn(True, endpoint, traced_dir)
        for name, s in (("untraced", base), ("traced", traced)):
            print("  %-8s %6d requests %8.0f req/s  mean %.2f ms  p50 %.2f ms  p99 %.2f ms  non-2xx %d  socket errors %s"
                  % (name, s["requests"], s["rps"], s["mean_ms"], s["p50_ms"], s["p99_ms"], s["non2xx"],
                     s["socket_errors"]))

        workers = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(traced_dir, "*.json")))]
        with collector.lock:
            spans = decode(collector.bodies)
        print("  collector: %d POSTs, %d spans" % (len(collector.bodies), len(spans)))
        check(len(workers) == 4, "4 workers wrote their counters (got %d)" % len(workers))
        check(all(w["master_threads"] == 1 for w in workers),
              "the master had 1 thread after creating the tracer (%s)" % [w["master_threads"] for w in workers])
        by_pid = {}
        for s in spans:
            pid = next((t.vLong for t in s.tags or [] if t.key == "worker.pid"), None)
            by_pid[pid] = by_pid.get(pid, 0) + 1
        total_reported = 0
        for w in workers:
            c = w["counters"]
            dropped = sum(c[k] for k in ("dropped_queue_full", "dropped_too_large", "dropped_send_failed",
                                         "dropped_on_close"))
            total_reported += c["spans_reported"]
            print("  worker %d: requests=%d finished=%d reported=%d dropped=%d batches=%d close=%s collector_spans=%d"
                  % (w["pid"], w["requests"], c["spans_finished"], c["spans_reported"], dropped,
                     c["batches_sent"], w["close"], by_pid.get(w["pid"], 0)))
            check(w["requests"] > 0 and by_pid.get(w["pid"], 0) > 0, "worker %d served and reported" % w["pid"])
            check(c["spans_finished"] == 2 * w["requests"], "worker %d: finished == 2 x requests" % w["pid"])
            check(c["spans_finished"] == c["spans_reported"] + dropped,
                  "worker %d: finished == reported + dropped (%d == %d + %d)"
                  % (w["pid"], c["spans_finished"], c["spans_reported"], dropped))
            check(by_pid.get(w["pid"], 0) == c["spans_reported"],
                  "worker %d: collector holds exactly its reported spans" % w["pid"])
        check(len(spans) == total_reported, "collector spans %d == sum(reported) %d" % (len(spans), total_reported))
        ids = [(s.traceIdHigh, s.traceIdLow, s.spanId) for s in spans]
        check(len(set(s.spanId for s in spans)) == len(spans), "no span id repeats (%d spans)" % len(spans))
        check(len(set(ids)) == len(ids), "no (trace, span) id repeats")
        roots = [s for s in spans if s.parentSpanId == 0]
        check(len(set((s.traceIdHigh, s.traceIdLow) for s in roots)) == len(roots),
              "one distinct trace id per request (%d roots)" % len(roots))
        check(sum(w["requests"] for w in workers) >= traced["requests"],
              "workers served >= wrk's completed requests (%d >= %d)"
              % (sum(w["requests"] for w in workers), traced["requests"]))
        check(traced["non2xx"] == 0 and base["non2xx"] == 0, "no error responses")
        check(traced["rps"] >= HZ_MIN_THROUGHPUT * base["rps"],
              "traced throughput %.0f >= %.0f%% of untraced %.0f" % (traced["rps"], HZ_MIN_THROUGHPUT * 100, base["rps"]))
        check(traced["mean_ms"] <= 2 * base["mean_ms"] + 2.0,
              "traced mean latency %.2f ms <= 2 x %.2f + 2 ms" % (traced["mean_ms"], base["mean_ms"]))
    finally:
        collector.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print("gunicorn: %s" % ("FAILED: %d checks" % len(failures) if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
