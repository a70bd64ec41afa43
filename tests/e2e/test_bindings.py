"""Every binding x every protocol, checked against what the real Jaeger stored.

Each case runs an emitter in its own process (emit_python.py or emit.lua under
lua5.4 / luajit), which reports the scenario described in emit_python.py through
one protocol, prints the ids it used, and exits. The trace is then fetched by id
from /api/traces/{id} and compared field by field: operation names, 128-bit
trace id, parent (CHILD_OF) and FOLLOWS_FROM references, exact start times and
durations, each of our tags with its Jaeger type, the log with typed fields,
baggage that crossed an inject/extract, the process tag. Jaeger v2 adds tags
of its own (span.kind, otel.scope.name, ...): only ours are checked.
"""
import base64
import json
import os
import subprocess
import sys

import pytest

from conftest import BUILD, TOP, refs_of, spans_by_name, tags_of

HERE = os.path.dirname(os.path.abspath(__file__))
# otlp is OTLP/HTTP protobuf (the default); +gzip compresses it; +json is OTLP/JSON
PROTOCOLS = ["udp", "http", "otlp", "otlp+gzip", "otlp+json"]
PY = os.path.join(TOP, ".venv", "bin", "python")
if not os.path.exists(PY):
    PY = sys.executable

LUA = {"lua5.4": ("lua5.4", "5.4"), "luajit": ("luajit", "5.1")}

OUR_TAGS = {
    "e2e.str": ("string", "h\u00e9llo w\u00f6rld \u2713"),
    "e2e.int": ("int64", -42),
    "e2e.int_large": ("int64", 1234567890123),
    "e2e.float": ("float64", 3.25),
    "e2e.bool": ("bool", True),
    "span.kind": ("string", "server"),
}
BINARY_TAG = ("e2e.bin", ("binary", base64.b64encode(b"\x00\x01\xfetw").decode()))
LOG_FIELDS = {"event": ("string", "e2e.event"), "e2e.n": ("int64", 7),
              "e2e.f": ("float64", 0.5), "e2e.flag": ("bool", False)}


def run_emitter(binding, proto, service):
    env = dict(os.environ)
    if binding == "python":
        cmd = [PY, os.path.join(HERE, "emit_python.py"), proto, service]
    else:
        exe, abi = LUA[binding]
        so_dir = os.path.join(BUILD, "lua", abi)
        assert os.path.exists(os.path.join(so_dir, "tracewire.so")), \
            "the %s module was not built (%s/tracewire.so)" % (binding, so_dir)
        env["LUA_CPATH"] = "%s/?.so;;" % so_dir
        env["LUA_PATH"] = "%s/lua/?.lua;;" % TOP
        cmd = [exe, os.path.join(HERE, "emit.lua"), proto, service]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, "emitter failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, "emitter printed no result:\n" + p.stdout + p.stderr
    return json.loads(lines[-1])


def near(a, b, tol=1):
    return abs(a - b) <= tol


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("binding", ["python", "lua5.4", "luajit"])
def test_scenario_reaches_jaeger_intact(jaeger, binding, proto):
    service = "e2e-%s-%s" % (binding.replace(".", ""), proto.replace("+", "-"))
    sent = run_emitter(binding, proto, service)
    # the encoding under test is the one the tracer used
    assert sent["otlp"] == {"otlp+gzip": ["http/protobuf", "gzip"],
                            "otlp+json": ["http/json", "none"]}.get(
        proto, ["http/protobuf", "none"]), sent["otlp"]
    tid = sent["trace_id"]
    t0 = sent["t0_us"]
    ids = sent["span_ids"]

    # 128-bit id, high half in use.
    assert len(tid) == 32 and int(tid[:16], 16) != 0, tid

    trace = jaeger.wait_trace(tid, min_spans=4)
    assert trace is not None, "trace %s not found in Jaeger" % tid
    assert trace["traceID"] == tid
    by = spans_by_name(trace)
    assert sorted(by) == ["e2e.child", "e2e.follower", "e2e.remote_child", "e2e.root"], sorted(by)
    assert all(len(v) == 1 for v in by.values()), {k: len(v) for k, v in by.items()}
    root, child = by["e2e.root"][0], by["e2e.child"][0]
    remote, follower = by["e2e.remote_child"][0], by["e2e.follower"][0]

    for name, span in by.items():
        s = span[0]
        assert s["traceID"] == tid
        assert s["spanID"] == ids[name], name
        proc = trace["processes"][s["processID"]]
        assert proc["serviceName"] == service
        ptags = {t["key"]: t["value"] for t in proc.get("tags") or []}
        assert ptags.get("e2e.process") == ("python" if binding == "python" else "lua"), ptags
        # Tracer-level tags as Jaeger clients send them; v2 renames two of them
        # on the Thrift path (hostname -> host.name, jaeger.version ->
        # opencensus.exporterversion).
        assert ptags.get("hostname") or ptags.get("host.name"), ptags
        assert ptags.get("ip") and ptags.get("client-uuid"), ptags
        version = ptags.get("jaeger.version") or ptags.get("opencensus.exporterversion") or ""
        assert "tracewire" in version, ptags
        # No flags check: Jaeger v2 (v2.13) stores spans as OTLP and its
        # /api/traces JSON carries no "flags" field for any protocol.

    # Parents and follows_from.
    assert refs_of(root, "CHILD_OF") == [] and refs_of(root, "FOLLOWS_FROM") == []
    assert refs_of(child, "CHILD_OF") == [ids["e2e.root"]]
    assert refs_of(remote, "CHILD_OF") == [ids["e2e.root"]]
    assert refs_of(follower, "CHILD_OF") == []
    assert refs_of(follower, "FOLLOWS_FROM") == [ids["e2e.root"]]

    # Explicit timestamps survive exactly (±1 µs for float-seconds APIs).
    for s, start, dur in [(root, 0, 10000), (child, 1000, 2000), (remote, 4000, 2000),
                          (follower, 11000, 1000)]:
        assert near(s["startTime"], t0 + start), (s["operationName"], s["startTime"] - t0)
        assert near(s["duration"], dur, 2), (s["operationName"], s["duration"])

    # Our tags with their Jaeger types.
    tags = tags_of(root)
    want = dict(OUR_TAGS)
    if binding == "python":
        want[BINARY_TAG[0]] = BINARY_TAG[1]
    for k, v in want.items():
        assert tags.get(k) == v, (k, tags.get(k), v)
    # The sampler's decision tags, on the root only (as Jaeger clients do).
    assert tags.get("sampler.type") == ("string", "const"), tags.get("sampler.type")
    assert "sampler.type" not in tags_of(child)

    # The log: timestamp and typed fields.
    logs = [l for l in root.get("logs") or []
            if any(f["key"] == "event" and f["value"] == "e2e.event" for f in l["fields"])]
    assert len(logs) == 1, root.get("logs")
    assert near(logs[0]["timestamp"], t0 + 2000)
    fields = {f["key"]: (f["type"], f["value"]) for f in logs[0]["fields"]}
    for k, v in LOG_FIELDS.items():
        assert fields.get(k) == v, (k, fields.get(k), v)

    # Baggage crossed the HTTP-header carrier and reached the remote child.
    assert any("e2e-bag" in k.lower() or "e2e-bag" in str(v) for k, v in sent["carrier"].items()), \
        sent["carrier"]
    assert tags_of(remote).get("e2e.baggage") == ("string", "bag value 1")
