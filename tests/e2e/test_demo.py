"""The README's first command, end to end: ./scripts/demo against the suite's
Jaeger (DEMO_JAEGER=running), twice in a row, then once interrupted with
Ctrl-C. The trace it produced is fetched from Jaeger and its shape checked:
one trace id across nginx -> gateway -> contributors -> Redis send/wait ->
worker -> Redis send/wait (reply) -> gateway, every parent link right, 5
services, and nothing left running afterwards.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import TOP, refs_of, service_of, tags_of

DEMO = os.path.join(TOP, "scripts", "demo")
RUN = os.path.join(TOP, "build", "demo-run")
DEMO_PORTS = [18080, 18081, 18082, 18090, 16379]


def listening(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def demo_env(**extra):
    env = dict(os.environ, DEMO_JAEGER="running")
    env.update(extra)
    return env


def run_demo():
    p = subprocess.run([DEMO], capture_output=True, text=True, timeout=900, env=demo_env())
    assert p.returncode == 0, "scripts/demo failed (%d)\n%s\n%s" % (
        p.returncode, p.stdout[-4000:], p.stderr[-4000:])
    with open(os.path.join(RUN, "response.headers")) as f:
        tid = [l.split(":", 1)[1].strip() for l in f if l.lower().startswith("x-trace-id:")]
    assert tid, "no X-Trace-Id in the demo's response"
    return p.stdout, tid[0]


def one(spans, trace, service, pred, what):
    found = [s for s in spans if service_of(trace, s) == service and pred(s)]
    assert len(found) == 1, "%s: %d matches among %s" % (
        what, len(found), sorted((service_of(trace, s), s["operationName"]) for s in spans))
    return found[0]


def check_demo_trace(trace, tid):
    spans = trace["spans"]
    assert trace["traceID"] == tid
    assert {s["traceID"] for s in spans} == {tid}
    services = {service_of(trace, s) for s in spans}
    assert services == {"nginx", "gateway", "contributors", "redis", "worker"}, services

    op = lambda name: (lambda s: s["operationName"] == name)
    starts = lambda prefix: (lambda s: s["operationName"].startswith(prefix))
    kind = lambda k: (lambda s: tags_of(s).get("span.kind", (None, None))[1] == k)

    nginx = one(spans, trace, "nginx", kind("server"), "nginx server span")
    gw = one(spans, trace, "gateway", kind("server"), "gateway server span")
    gw_call = one(spans, trace, "gateway", starts("GET /contributors"), "gateway -> contributors")
    co = one(spans, trace, "contributors", kind("server"), "contributors server span")
    gh = one(spans, trace, "contributors", starts("GET /repos/"), "contributors -> GitHub")
    enq = one(spans, trace, "contributors", op("enqueue contributors:raw"), "enqueue")
    send_raw = one(spans, trace, "redis", op("send contributors:raw"), "redis send (raw)")
    wait_raw = one(spans, trace, "redis", op("wait contributors:raw"), "redis wait (raw)")
    proc = one(spans, trace, "worker", op("process contributors:raw"), "worker process")
    clean = one(spans, trace, "worker", op("clean contributor stats"), "worker clean")
    reply = one(spans, trace, "worker", op("send reply"), "worker reply")
    send_rep = one(spans, trace, "redis", starts("send contributors:reply:"), "redis send (reply)")
    wait_rep = one(spans, trace, "redis", starts("wait contributors:reply:"), "redis wait (reply)")
    recv = one(spans, trace, "gateway", starts("receive contributors:reply"), "gateway receive")
    back = one(spans, trace, "gateway", op("process reply"), "gateway process reply")

    parent = {
        "gateway server": (gw, nginx), "gateway call": (gw_call, gw),
        "contributors server": (co, gw_call), "github call": (gh, co), "enqueue": (enq, co),
        "redis send raw": (send_raw, enq), "redis wait raw": (wait_raw, send_raw),
        "worker process": (proc, wait_raw), "worker clean": (clean, proc),
        "worker reply": (reply, proc), "redis send reply": (send_rep, reply),
        "redis wait reply": (wait_rep, send_rep), "gateway receive": (recv, gw),
        "gateway process reply": (back, wait_rep),
    }
    assert refs_of(nginx, "CHILD_OF") == [], "the nginx span must be the root"
    for name, (child, par) in parent.items():
        assert refs_of(child, "CHILD_OF") == [par["spanID"]], (name, child["references"])
    assert refs_of(back, "FOLLOWS_FROM") == [gw["spanID"]]

    # The queue hop: the wait span starts when the item was pushed and the
    # worker starts after it ends.
    assert abs(wait_raw["startTime"] - send_raw["startTime"]) < 5000
    assert proc["startTime"] >= wait_raw["startTime"] + wait_raw["duration"] - 1000
    assert tags_of(gw).get("http.status_code") == ("int64", 200)
    assert tags_of(nginx).get("http.status_code") in (("int64", 200), ("string", "200"))


def test_demo_prints_the_trace_twice_in_a_row(jaeger):
    for run in (1, 2):
        out, tid = run_demo()
        assert "5 services (contributors, gateway, nginx, redis, worker)" in out, out
        assert "http://127.0.0.1:16686/trace/" + tid in out, out
        assert "wait contributors:raw" in out and "time in the Redis list" in out, out
        trace = jaeger.wait_trace(tid, min_spans=15)
        assert trace is not None
        check_demo_trace(trace, tid)
        left = [p for p in DEMO_PORTS if listening(p)]
        assert not left, "run %d left ports open: %s" % (run, left)


def test_demo_cleans_up_after_ctrl_c(jaeger):
    # Like a terminal: the demo leads its own process group and Ctrl-C sends
    # SIGINT to that group (the services run in sessions of their own).
    p = subprocess.Popen([DEMO], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=demo_env(DEMO_KEEP="1"), start_new_session=True)
    out = []
    deadline = time.monotonic() + 600
    try:
        for line in p.stdout:
            out.append(line)
            if "keeps running" in line:
                break
            assert time.monotonic() < deadline, "".join(out)
        assert p.poll() is None, "".join(out)
        assert all(listening(port) for port in DEMO_PORTS), "services not up"
        os.killpg(p.pid, signal.SIGINT)
        rest = p.communicate(timeout=60)[0]
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, (p.returncode, "".join(out)[-3000:])
    assert "stopping everything" in rest, rest
    time.sleep(0.5)
    left = [port for port in DEMO_PORTS if listening(port)]
    assert not left, "Ctrl-C left ports open: %s" % left
    assert not os.path.exists(os.path.join(RUN, "pids"))
