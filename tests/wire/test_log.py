"""The logging reporter: one line per span on stderr, written by the reporter
thread, with the span's ids and tags."""
import json
import subprocess

from conftest import DRIVER


def test_log_protocol_prints_one_line_per_span():
    out = subprocess.run([DRIVER, "full", "reporter.protocols=log", "service_name=logsvc"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [x for x in out.stderr.splitlines() if x.startswith("tracewire: span ")]
    assert len(lines) == 3, out.stderr
    ops = sorted(x.split(" op=")[1].split(" ")[0] for x in lines)
    assert ops == ["child-op", "follower", "root-op"]
    root = [x for x in lines if " op=root-op " in x][0]
    assert root.startswith("tracewire: span logsvc op=root-op trace=")
    assert "http.method=GET" in root and "yes=true" in root and "blob=<4 bytes>" in root
    assert "duration_us=1500" in root and "logs=2" in root
    # counters: the log sender alone counts as delivery
    (c,) = [json.loads(x) for x in out.stdout.splitlines() if '"counters"' in x]
    assert c["reported"] == 3
