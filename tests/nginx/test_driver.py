"""Who sends a worker's spans (issue #15, reporter.driver): the worker's own
event loop when the configuration needs no blocking call (UDP to an IP
address, a sampler that does not poll), else its reporter thread. Checked on
the real thing: the worker's thread count in /proc/<pid>/task, every span
decoded from the UDP datagrams, the exit lines' counters. The keys are set
with tracewire_config here, so run.sh's pass with the environment forcing the
thread does not change what these tests check."""
import os
import socket
import time
import uuid

import pytest

from conftest import Collector, HttpSink, Nginx, UdpSink, tags
from test_lifecycle import DIAG_RE, Load, exit_lines, nginx_t, spans_by_index_per_thread


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def udp_reporter(port, driver="auto", flush_ms=100, extra=""):
    return (f"    tracewire_config reporter.protocols udp;\n"
            f"    tracewire_config reporter.agent_port {port};\n"
            f"    tracewire_config reporter.flush_interval_ms {flush_ms};\n"
            f"    tracewire_config reporter.driver {driver};\n" + extra)


def span_indices(coll, mark, wait=0.5):
    got = []
    for _, s in coll.poll(wait):
        url = tags(s.tags).get("http.url", ("", ""))[1] or ""
        if mark in url:
            got.append(int(url.rsplit("=", 1)[1]))
    return sorted(got)


def test_the_loop_reports_every_span_with_no_thread_in_any_worker(tmp_path, upstream):
    sink = UdpSink()
    ngx = Nginx(tmp_path, 0, upstream[0], reporter=udp_reporter(sink.port))
    try:
        coll = Collector(sink)
        mark = uuid.uuid4().hex
        for i in range(300):
            assert ngx.get(f"/static/x.txt?m={mark}&i={i}")[0] == 200
        deadline = time.time() + 10
        got = []
        while time.time() < deadline and len(got) < 300:
            got = span_indices(coll, mark, 0.3)
        assert got == list(range(300))   # every span, once
        assert threads(ngx.proc.pid) == 1
        assert [threads(w) for w in ngx.worker_pids()] == [1, 1]
        ngx.quit()
        lines = exit_lines(ngx)
        assert len(lines) == 2
        for close, c in lines:
            assert close == "ok" and c["finished"] == c["reported"]
        assert sum(c["finished"] for _, c in lines) == 300
        assert not DIAG_RE.search(ngx.error_log())
    finally:
        ngx.stop()
        sink.close()


@pytest.mark.parametrize("driver,protocol,want", [
    ("auto", "udp", 1), ("auto", "http", 2), ("thread", "udp", 2), ("loop", "udp", 1)])
def test_the_driver_decides_the_workers_thread_count(tmp_path, upstream, driver, protocol, want):
    sink, http = UdpSink(), HttpSink()
    reporter = udp_reporter(sink.port, driver) + (
        f"    tracewire_config reporter.protocols {protocol};\n"
        f"    tracewire_config reporter.endpoint http://127.0.0.1:{http.port}/api/traces;\n")
    ngx = Nginx(tmp_path, 0, upstream[0], reporter=reporter)
    try:
        for i in range(40):   # new connections: both workers get some
            assert ngx.get(f"/static/x.txt?i={i}")[0] == 200
        counts = [threads(w) for w in ngx.worker_pids()]
        # the thread starts with a worker's first finished span: the busiest
        # worker has it, and none has more than one
        assert max(counts) == want and min(counts) >= 1, counts
        assert threads(ngx.proc.pid) == 1   # never in the master
        ngx.quit()
        lines = exit_lines(ngx)
        assert len(lines) == 2
        for close, c in lines:
            assert close == "ok" and c["finished"] == c["reported"]
        assert sum(c["finished"] for _, c in lines) == 40
    finally:
        ngx.stop()
        sink.close()
        http.close()


@pytest.mark.parametrize("line", ["tracewire_config reporter.protocols udp,http;",
                                  "tracewire_config sampler.type remote;",
                                  "tracewire_config reporter.agent_host localhost;"])
def test_loop_with_a_blocking_configuration_fails_nginx_t(tmp_path, line):
    p = nginx_t(tmp_path, f"tracewire_config reporter.driver loop;\n{line}\ntracewire on;")
    assert p.returncode != 0
    assert "reporter.driver loop needs reporter.protocols udp to an IP address" in p.stderr, p.stderr


def test_a_full_batch_leaves_before_the_flush_interval(tmp_path, upstream):
    """The core's kick posts the loop's turn when a batch is full: with a
    one-minute flush interval, only full batches (10 or more spans: a turn
    takes everything queued once a batch is full) leave while nginx runs."""
    sink = UdpSink()
    ngx = Nginx(tmp_path, 0, upstream[0], reporter=udp_reporter(
        sink.port, flush_ms=60000, extra="    tracewire_config reporter.batch_size 10;\n"))
    try:
        coll = Collector(sink)
        mark = uuid.uuid4().hex
        for i in range(100):
            assert ngx.get(f"/static/x.txt?m={mark}&i={i}")[0] == 200
        got = span_indices(coll, mark, 1.0)
        # each worker holds back at most a partial batch (9 spans)
        assert len(got) >= 100 - 2 * 9, len(got)
        assert len(set(got)) == len(got)
        assert [threads(w) for w in ngx.worker_pids()] == [1, 1]
        ngx.quit()   # exit_process sends the partial batches
        assert span_indices(coll, mark, 0.5) == list(range(100))
    finally:
        ngx.stop()
        sink.close()


def test_a_refused_agent_is_counted_said_and_never_blocks_the_loop(tmp_path, upstream):
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()   # nobody listens: every datagram gets ICMP port unreachable
    ngx = Nginx(tmp_path, 0, upstream[0], reporter=udp_reporter(
        port, flush_ms=20, extra="    tracewire_config reporter.batch_size 1;\n"))
    try:
        t0 = time.time()
        for i in range(200):
            status, _, body = ngx.get(f"/static/x.txt?i={i}", timeout=5)
            assert (status, body) == (200, b"static\n")
        assert time.time() - t0 < 30
        deadline = time.time() + 5
        while time.time() < deadline and not DIAG_RE.search(ngx.error_log()):
            time.sleep(0.1)
        diag = DIAG_RE.findall(ngx.error_log())
        assert any("udp sender failed" in d and str(port) in d for d in diag), diag
        assert len(diag) <= 4, diag   # rate-limited: the first at once, then summaries
        assert [threads(w) for w in ngx.worker_pids()] == [1, 1]
        ngx.quit()
        lines = exit_lines(ngx)
        assert len(lines) == 2
        total = {k: sum(c[k] for _, c in lines) for k in lines[0][1]}
        assert total["finished"] == 200
        assert total["send_failed"] > 0
        assert total["finished"] == total["reported"] + total["send_failed"]
    finally:
        ngx.stop()


@pytest.mark.parametrize("how", ["reload", "quit"])
def test_the_loop_loses_nothing_at_reload_and_quit_under_load(tmp_path, upstream, how):
    sink = UdpSink()
    ngx = Nginx(tmp_path, 0, upstream[0], reporter=udp_reporter(sink.port, "loop", flush_ms=60000))
    try:
        coll = Collector(sink)
        mark = uuid.uuid4().hex
        loads = [Load(ngx.port, f"{mark}-{k}") for k in range(3)]
        for ld in loads:
            ld.start()
        time.sleep(1.0)
        assert [threads(w) for w in ngx.worker_pids()] == [1, 1]
        if how == "reload":
            old = set(ngx.workers)
            ngx.signal("reload")
            deadline = time.time() + 15
            while time.time() < deadline and (not ngx.worker_pids() or set(ngx.worker_pids()) & old):
                time.sleep(0.1)
            assert ngx.worker_pids() and not set(ngx.worker_pids()) & old
            time.sleep(1.0)
            assert [threads(w) for w in ngx.worker_pids()] == [1, 1]
            for ld in loads:
                ld.stop.set()
            for ld in loads:
                ld.join(timeout=15)
            ngx.quit()
        else:
            ngx.quit()
            for ld in loads:
                ld.stop.set()
            for ld in loads:
                ld.join(timeout=15)
        answered = sum(len(ld.ok) for ld in loads)
        assert answered > 50
        got = spans_by_index_per_thread(coll, mark, loads)
        for ld in loads:   # every answered request has its span, none twice
            assert set(ld.ok) <= set(got[id(ld)])
            assert len(set(got[id(ld)])) == len(got[id(ld)])
        lines = exit_lines(ngx)
        assert len(lines) == (4 if how == "reload" else 2)
        for close, c in lines:
            assert close == "ok" and c["finished"] == c["reported"]
            assert c["queue_full"] == c["too_large"] == c["send_failed"] == c["on_close"] == 0
        assert sum(c["finished"] for _, c in lines) == sum(len(v) for v in got.values())
    finally:
        ngx.stop()
        sink.close()
