"""A mixed fleet against the real Jaeger (issue #20): a tracewire.Config service
between two jaeger-client 4.8 services and the other way round, over real HTTP
headers and over the talk's Redis JSON messages (emit_mixed_fleet.py). Every
span must arrive in ONE trace with the right parent, from the right service,
with the baggage the root set; and on the wire, tracewire's carriers must hold
exactly the keys jaeger_client's hold (no traceparent/baggage) and a trace id
that fits 64 bits, for each propagation value."""
import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from conftest import spans_by_name as _by_name, tags_of

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable


def emit(*args):
    p = subprocess.run([PY, os.path.join(HERE, "emit_mixed_fleet.py")] + list(args),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "emitter failed:\n%s\n%s" % (p.stdout, p.stderr)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, p.stdout + p.stderr
    return json.loads(lines[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_port(tmp_path):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield port
    proc.terminate()
    proc.wait(10)


def spans_by_name(trace):
    out = _by_name(trace)
    assert all(len(v) == 1 for v in out.values()), "one span per operation: %s" % out
    return {k: v[0] for k, v in out.items()}


def check_chains(jaeger, out, run):
    for name, ch in out["chains"].items():
        assert ch["trace_id_int"] < 2 ** 64, "a Config/jaeger_client root id fits 64 bits"
        tr = jaeger.wait_trace(ch["trace_id"], min_spans=len(ch["spans"]), timeout=20)
        assert tr is not None, "trace %s (%s) not in Jaeger" % (ch["trace_id"], name)
        got = spans_by_name(tr)
        assert len(tr["spans"]) == len(ch["spans"]), sorted(got)
        procs = tr["processes"]
        for service, op, parent in ch["spans"]:
            assert op in got, "%s: span %s missing (have %s)" % (name, op, sorted(got))
            sp = got[op]
            assert procs[sp["processID"]]["serviceName"] == service
            refs = [r for r in sp.get("references", []) if r["refType"] == "CHILD_OF"]
            if parent is None:
                assert refs == []
            else:
                assert [r["spanID"] for r in refs] == [got[parent]["spanID"]], (name, op)
                assert int(refs[0]["traceID"], 16) == ch["trace_id_int"]
                assert tags_of(sp).get("fleet.baggage") == ("string", run), "baggage crossed %s" % op


def check_carriers(out, want):
    for c in out["carriers"]:
        keys = {k.lower() for k in c["keys"]}
        assert keys == want, "%s hop %d wrote %s" % (c["from"], c["hop"], sorted(keys))
        tid = c["carrier"].get("uber-trace-id") or c["carrier"].get("X-B3-TraceId")
        assert tid is not None and len(tid.split(":")[0]) <= 16 and int(tid.split(":")[0], 16) < 2 ** 64


def test_mixed_fleet_over_http_headers(jaeger):
    run = uuid.uuid4().hex[:8]
    out = emit("http", run)
    check_carriers(out, {"uber-trace-id", "uberctx-fleet-run"})
    assert {c["from"] for c in out["carriers"]} == {"jc", "tw"}
    check_chains(jaeger, out, run)


def test_mixed_fleet_over_redis_json_messages(jaeger, redis_port):
    run = uuid.uuid4().hex[:8]
    out = emit("redis", run, str(redis_port))
    check_carriers(out, {"uber-trace-id", "uberctx-fleet-run"})
    check_chains(jaeger, out, run)


def test_mixed_fleet_b3_headers_are_jaeger_clients(jaeger):
    """propagation 'b3' on every service: X-B3-* on the wire from both libraries
    (jaeger_client's B3Codec carries no baggage), one trace in Jaeger."""
    run = uuid.uuid4().hex[:8]
    out = emit("http", run, "b3")
    by_lib = {}
    for c in out["carriers"]:
        by_lib.setdefault(c["from"], set()).add(frozenset(k.lower() for k in c["keys"]))
    assert by_lib["tw"] == by_lib["jc"], by_lib
    # a root hop and a middle hop (which adds X-B3-ParentSpanId), the same from both
    assert len(by_lib["tw"]) == 2
    for keys in by_lib["tw"]:
        assert {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"} <= keys and "uber-trace-id" not in keys
    for name, ch in out["chains"].items():
        tr = jaeger.wait_trace(ch["trace_id"], min_spans=3, timeout=20)
        assert tr is not None and len(tr["spans"]) == 3, name
        got = spans_by_name(tr)
        for _, op, parent in ch["spans"]:
            refs = [r["spanID"] for r in got[op].get("references", []) if r["refType"] == "CHILD_OF"]
            assert refs == ([] if parent is None else [got[parent]["spanID"]])
