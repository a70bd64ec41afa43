"""Each diagnostics kind reaches nginx's error log at its own level, the one
the core gives it (tw_diag_kind_is_warning): a failed poll of the agent — the
remote sampler, the throttler, the baggage restrictions — keeps the state the
tracer has and is a [warn]; lost spans (a dead collector, test_lifecycle.py)
are an [error]. Here every agent endpoint is a port nobody listens on, while
the spans themselves reach a live UDP sink: no [error] may appear."""
import re
import socket
import time

from conftest import Nginx, UdpSink

LINE_RE = re.compile(r"\[(\w+)\] \d+#\d+: (tracewire: (?!worker exit).*)")


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_failed_agent_polls_are_warnings_not_errors(tmp_path, upstream):
    dead = dead_port()
    sink = UdpSink()
    reporter = (f"    tracewire_config reporter.protocols udp;\n"
                f"    tracewire_config reporter.agent_port {sink.port};\n"
                f"    tracewire_config reporter.flush_interval_ms 50;\n"
                f"    tracewire_config sampler.type remote;\n"
                f"    tracewire_config sampler.param 1;\n"
                f"    tracewire_config sampler.url http://127.0.0.1:{dead}/sampling;\n"
                f"    tracewire_config sampler.refresh_ms 100;\n"
                f"    tracewire_config throttler.port {dead};\n"
                f"    tracewire_config throttler.refresh_interval_ms 100;\n"
                f"    tracewire_config baggage_restrictions.host_port 127.0.0.1:{dead};\n"
                f"    tracewire_config baggage_restrictions.refresh_interval_ms 100;\n")
    ngx = Nginx(tmp_path, 0, upstream[0], reporter=reporter)
    try:
        want = {"throttler": "throttler", "restrictions": "baggage restrictions",
                "sampling": "sampl"}
        found = {}
        deadline = time.time() + 10
        i = 0
        while time.time() < deadline and len(found) < len(want):
            # a debug id asks the throttler (so it polls for that operation);
            # both workers see requests, so each starts its reporter thread
            ngx.get(f"/static/x.txt?i={i}", headers={"jaeger-debug-id": f"dbg-{i}"}, timeout=5)
            ngx.get(f"/static/x.txt?j={i}", timeout=5)
            i += 1
            for level, text in LINE_RE.findall(ngx.error_log()):
                for name, needle in want.items():
                    if needle in text and name not in found:
                        found[name] = (level, text)
            time.sleep(0.1)
        log = ngx.error_log()
        assert set(found) == set(want), (found, log[-3000:])
        assert all(level == "warn" for level, _ in found.values()), found
        errors = [t for level, t in LINE_RE.findall(log) if level != "warn"]
        assert not errors, errors
    finally:
        ngx.stop()
        sink.close()
