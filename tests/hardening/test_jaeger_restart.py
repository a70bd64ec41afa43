"""Soak: Jaeger killed and restarted in the middle of a steady stream.

A real Jaeger v2 (scripts/jaeger, in-memory storage, private run dir) and an
application process (jaeger_restart_app.py: Python binding, 5,000 spans/s for
30 s, Thrift HTTP to the collector). At KILL_AT s Jaeger is killed with
SIGKILL (a crash: no shutdown flush), it stays down OUTAGE s, then it is
started again on the same ports. Checked:

- the app's latency is unaffected: p50/p99/max of every start_span+finish
  call before, during and after the outage are printed; only a catastrophic
  stall fails the test (any single call > MAX_CALL_MS);
- the loss window is counted exactly: spans_finished = spans_reported +
  every dropped_* after close, and something was dropped (the outage was
  real: 5 s at 5,000/s is more than the 10,000-span queue);
- the spans Jaeger has are the reported ones, by id: Jaeger's memory storage
  forgot everything before the kill (a crashed collector), so it must hold
  exactly spans_reported(end) - spans_reported(when Jaeger was dead) spans,
  every one of them a span the app finished, none twice;
- spans after the restart arrive: every span finished from SETTLE s after
  Jaeger was ready again is in Jaeger (fetched back by trace id through the
  query API);
- the outage speaks: the app's logging "jaeger_tracing" got a send_failed
  record and a dropped record after the kill, and none before it.
The whole run must hold /tmp/tw-jaeger.lock (test_jaeger_restart.sh takes it).
Usage: python test_jaeger_restart.py RUN_DIR
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JAEGER = os.path.join(TOP, "scripts", "jaeger")
QUERY = "http://127.0.0.1:16686"
RATE, SECONDS = 5000, 30
KILL_AT, OUTAGE = 10.0, 5.0
SETTLE = 2.0            # after Jaeger is ready again, the backlog drains
MAX_CALL_MS = 50.0      # a catastrophic stall, not a performance target

failures = []


def check(cond, msg):
    print(("ok     " if cond else "FAILED ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def jaeger(cmd, run):
    return subprocess.run(["bash", JAEGER, cmd, run], capture_output=True, text=True)


def get(path, timeout=30):
    try:
        with urllib.request.urlopen(QUERY + path, timeout=timeout) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def held_spans(trace_ids):
    """{span id hex: count} of every span Jaeger holds in these traces."""
    held = {}
    for tid in trace_ids:
        body = get("/api/traces/" + tid) or {}
        for tr in body.get("data") or []:
            for sp in tr["spans"]:
                sid = sp["spanID"].rjust(16, "0")
                held[sid] = held.get(sid, 0) + 1
    return held


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


def main():
    run = os.path.abspath(sys.argv[1])
    os.makedirs(run, exist_ok=True)
    jrun = os.path.join(run, "jaeger")
    out = os.path.join(run, "app.json")
    if os.path.exists(out):
        os.unlink(out)
    r = jaeger("start", jrun)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        print("FAILED Jaeger did not start")
        return 1
    app = None
    try:
        app = subprocess.Popen([sys.executable, os.path.join(TOP, "tests", "hardening",
                                                             "jaeger_restart_app.py"),
                                out, str(RATE), str(SECONDS)], stdout=subprocess.PIPE, text=True)
        assert app.stdout.readline().strip() == "ready"
        t_start = time.monotonic()
        time.sleep(KILL_AT)
        pid = int(open(os.path.join(jrun, "jaeger.pid")).read())
        t_kill = time.monotonic()
        os.kill(pid, signal.SIGKILL)           # our own Jaeger, by pid
        while os.path.exists("/proc/%d" % pid) and open("/proc/%d/stat" % pid).read().split()[2] != "Z":
            time.sleep(0.01)
        os.unlink(os.path.join(jrun, "jaeger.pid"))
        # an acknowledged batch is counted within microseconds of its 200;
        # 200 ms after the death no answer can still be on its way
        time.sleep(0.2)
        app.send_signal(signal.SIGUSR1)
        time.sleep(max(0.0, t_kill + OUTAGE - time.monotonic()))
        t_restart = time.monotonic()
        r = jaeger("start", jrun)
        sys.stderr.write(r.stderr)
        t_ready = time.monotonic()
        check(r.returncode == 0, "Jaeger restarted (%.2f s to ready)" % (t_ready - t_restart))
        try:
            app.wait(timeout=SECONDS + 90)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        check(app.returncode == 0, "app exited 0 (rc %s)" % app.returncode)
        with open(out) as f:
            res = json.load(f)

        # ---------------------------------------------------------- latency
        phases = {"before": [], "during": [], "after": []}
        for t, ns in res["calls"]:
            ph = "before" if t < t_kill else ("during" if t < t_ready else "after")
            phases[ph].append(ns / 1e6)
        print("latency of start_span+finish (ms), Jaeger killed at +%.1f s, ready again at +%.1f s:"
              % (t_kill - t_start, t_ready - t_start))
        for ph, v in phases.items():
            print("  %-6s n=%-6d p50=%.4f p99=%.4f p99.9=%.4f max=%.3f"
                  % (ph, len(v), pct(v, 50), pct(v, 99), pct(v, 99.9), max(v) if v else 0))
        allv = [ns / 1e6 for _, ns in res["calls"]]
        check(all(phases.values()), "calls measured in every phase")
        check(max(allv) < MAX_CALL_MS, "no single call above %.0f ms (max %.3f ms)"
              % (MAX_CALL_MS, max(allv)))
        spans_per_s = len(res["spans"]) / SECONDS
        check(spans_per_s > RATE * 0.95, "stream kept its rate: %.0f spans/s (target %d)"
              % (spans_per_s, RATE))

        # ---------------------------------------------------------- counters
        m, k = res["final"], res["at_kill"]
        print("counters at the end:", json.dumps(m, sort_keys=True))
        print("counters when Jaeger was dead:", json.dumps(k, sort_keys=True))
        dropped = sum(v for n, v in m.items() if n.startswith("dropped_"))
        check(m["spans_finished"] == len(res["spans"]),
              "spans_finished = spans the app finished (%d)" % len(res["spans"]))
        check(m["spans_finished"] == m["spans_reported"] + dropped,
              "finished %d = reported %d + dropped %d (queue_full %d, send_failed %d, on_close %d)"
              % (m["spans_finished"], m["spans_reported"], dropped, m["dropped_queue_full"],
                 m["dropped_send_failed"], m["dropped_on_close"]))
        check(dropped > 0, "the outage lost spans and they were counted (%d)" % dropped)
        check(m["dropped_on_close"] == 0, "close drained everything once Jaeger was back")
        check(k is not None, "counters snapshotted while Jaeger was dead")
        said = res["diagnostics"]
        for t, kind, n, msg in said:
            print("  said at +%.1f s: [%s x%d] %s" % (t - t_start, kind, n, msg[:150]))
        kinds_after = {kind for t, kind, _, _ in said if t >= t_kill}
        check(not [x for x in said if x[0] < t_kill], "the healthy collector made no diagnostics")
        check({"send_failed", "dropped"} <= kinds_after,
              "the outage was said through logging 'jaeger_tracing' (%s)" % sorted(kinds_after))

        # ---------------------------------------------------------- Jaeger's copy
        finished = {}
        for tid, sid, t in res["spans"]:
            finished[sid] = (tid, t)
        trace_ids = sorted({tid for tid, _ in finished.values()})
        want = m["spans_reported"] - k["spans_reported"]
        held = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:   # the collector batches for 100 ms
            held = held_spans(trace_ids)
            if len(held) >= want:
                time.sleep(1)
                held = held_spans(trace_ids)
                break
            time.sleep(0.5)
        print("Jaeger holds %d spans in %d traces; reported after the kill: %d"
              % (len(held), len(trace_ids), want))
        check(len(held) == want, "Jaeger holds exactly the spans reported after the kill (%d vs %d)"
              % (len(held), want))
        check(all(n == 1 for n in held.values()), "no span twice in Jaeger")
        strangers = [s for s in held if s not in finished]
        check(not strangers, "every span Jaeger holds was finished by the app (%d strangers)"
              % len(strangers))
        late = [s for s, (_, t) in finished.items() if t >= t_ready + SETTLE]
        missing = [s for s in late if s not in held]
        check(late and not missing, "all %d spans finished from %.0f s after the restart arrived "
              "(%d missing)" % (len(late), SETTLE, len(missing)))
        during = [s for s, (_, t) in finished.items() if t_kill <= t < t_ready]
        print("spans finished while Jaeger was down: %d, of which Jaeger got %d (delivered after "
              "the restart from the queue)" % (len(during), sum(1 for s in during if s in held)))
    finally:
        if app and app.poll() is None:
            app.kill()
            app.wait()
        jaeger("stop", jrun)
    print("jaeger-restart: %s" % ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
