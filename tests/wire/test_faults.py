"""Collector faults with a real local listener: refusing connections, accepting
then hanging, 500, garbage, 429/503 with Retry-After, 400. In every case
finish() stays fast (p50/p99 printed before and during the fault), the
counters balance exactly (finished = reported + dropped), reported equals what
the listener accepted, memory is bounded by the queue, and close(1000) returns
on time."""
import json

import pytest

from conftest import (assert_balanced, decode_binary_batch, decode_otlp, of_type,
                      start_driver)

N = 4000          # before the fault; 5*N during it (queue_size 5000)
PAYLOAD = 2000    # bytes per span: 20000 spans held would be ~45 MB more RSS
TIMEOUT_MS = 1000


def _spans_in(path, body):
    if path.endswith("/v1/traces"):
        req = decode_otlp(body)
        return [sp.span_id for rs in req.resource_spans for ss in rs.scope_spans
                for sp in ss.spans]
    return [sp.spanId for sp in decode_binary_batch(body).spans]


def _run_fault(sink, proto, fault):
    url = "http://127.0.0.1:%d" % sink.port
    opts = ["reporter.protocols=%s" % proto, "reporter.endpoint=%s/api/traces" % url,
            "reporter.otlp_endpoint=%s/v1/traces" % url, "reporter.timeout_ms=500",
            "reporter.retries=2", "reporter.queue_size=5000", "reporter.flush_interval_ms=100"]
    p = start_driver("fault", N, PAYLOAD, *opts)
    try:
        lines = []
        for line in p.stdout:
            if line.startswith("READY"):
                break
            lines.append(json.loads(line))
        sink.set_mode(fault)
        p.stdin.write("go\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:   # never leave the driver behind
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    lines += [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    return lines


@pytest.mark.parametrize("proto,fault", [
    ("http", "refuse"), ("http", "hang"), ("http", "500"), ("http", "garbage"),
    ("http", "429"), ("otlp", "429"), ("otlp", "503"), ("otlp", "400"), ("otlp", "hang"),
    ("otlp", "refuse"),
])
def test_fault_keeps_finish_fast_counters_exact_close_on_time(http_sink, proto, fault, capsys):
    lines = _run_fault(http_sink, proto, fault)
    lat = {x["phase"]: x for x in of_type(lines, "latency")}
    before, during = [c for c in of_type(lines, "counters")]
    with capsys.disabled():
        print("\n  %-5s %-8s finish() p50/p99/max us: before %.2f/%.2f/%.1f  during %.2f/%.2f/%.1f"
              "  close(%d) took %.0f ms; reported %d, queue-full %d, send-failed %d, on-close %d,"
              " send failures %d; max RSS %d -> %d KB"
              % (proto, fault, lat["before"]["p50_us"], lat["before"]["p99_us"],
                 lat["before"]["max_us"], lat["during"]["p50_us"], lat["during"]["p99_us"],
                 lat["during"]["max_us"], TIMEOUT_MS, during["close_ms"], during["reported"],
                 during["dropped_queue_full"], during["dropped_send_failed"],
                 during["dropped_on_close"], during["send_failures"], before["maxrss_kb"],
                 during["maxrss_kb"]))
    # before the fault everything was delivered
    assert before["reported"] == N and before["finished"] == N
    assert_balanced(before)
    # during: exact accounting, nothing more reported than the listener accepted
    assert during["finished"] == 6 * N
    assert_balanced(during)
    accepted = set()
    for path, body in http_sink.accepted:
        ids = _spans_in(path, body)
        assert not (accepted & set(ids)), "a span was delivered twice"
        accepted |= set(ids)
    assert during["reported"] == len(accepted) == N
    assert during["send_failures"] > 0
    # bounded: the queue never holds more than queue_size spans, so a burst of
    # N spans against a dead collector must have been refused in part. A
    # collector that answers at once (429/503 whose Retry-After outlasts the
    # 500 ms export budget, 400) fails each batch fast: its spans may all
    # reach the sender and be dropped there instead.
    if fault in ("429", "503", "400"):
        assert during["dropped_queue_full"] + during["dropped_send_failed"] >= 4 * N
    else:
        assert during["dropped_queue_full"] > 0
    # memory: the queue holds at most queue_size spans; were the 5*N spans of
    # the fault all kept, RSS would grow by 5*N*PAYLOAD bytes or more
    if not during["sanitized"]:
        assert during["maxrss_kb"] - before["maxrss_kb"] < 5 * N * PAYLOAD / 1024 / 2
    # close(1000) returns on time (generous bound: it must not hang)
    assert during["close_ms"] < TIMEOUT_MS + 500, during["close_ms"]
