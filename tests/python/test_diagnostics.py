"""Failures speak: the core's diagnostics reach logging.getLogger("jaeger_tracing")
(jaeger_client's logger) from the reporter thread, once per kind at first, and
flush() says False when a send failed or spans were dropped since the previous
flush. Real peers on 127.0.0.1: HTTP listeners answering 404/500/202, a closed
TCP port, a closed UDP port, a name that does not resolve. Also: a forked
child's counters start at zero, and an interpreter exiting with failures
pending neither hangs nor loses the line."""
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import tracewire
from conftest import HttpSink


class Records(logging.Handler):
    """Collects the jaeger_tracing records, from whatever thread logs them."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []
        self.cond = threading.Condition()

    def emit(self, record):
        with self.cond:
            self.records.append(record)
            self.cond.notify_all()

    def wait(self, n=1, timeout=2.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.records) < n and time.monotonic() < deadline:
                self.cond.wait(0.05)
            return list(self.records)


@pytest.fixture
def records():
    logger = logging.getLogger("jaeger_tracing")
    h = Records()
    logger.addHandler(h)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield h
    logger.removeHandler(h)
    logger.setLevel(old)


def closed_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_tracer(endpoint, **extra):
    opts = {"service_name": "diag", "sampler.type": "const", "sampler.param": "1",
            "reporter.protocols": "http", "reporter.endpoint": endpoint,
            "reporter.retries": "1", "reporter.timeout_ms": "1000"}
    opts.update(extra)
    return tracewire.Tracer(opts)


def finish_some(t, n=3):
    for i in range(n):
        t.start_span("op-%d" % i).finish()


def assert_one_record_within_2s(records, *needles):
    t0 = time.monotonic()
    got = records.wait(1, 2.0)
    assert len(got) == 1, [r.getMessage() for r in got]
    assert time.monotonic() - t0 <= 2.0
    r = got[0]
    msg = r.getMessage()
    assert r.name == "jaeger_tracing" and r.levelno == logging.ERROR
    assert r.tracewire_kind == "send_failed" and r.tracewire_count == 1
    for n in needles:
        assert n in msg, msg
    # the thread that logged is the reporter, not this one
    assert r.thread != threading.get_ident()
    time.sleep(0.3)   # no second record for the same failure
    assert len(records.records) == 1, [x.getMessage() for x in records.records]
    return msg


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_status_logs_one_record_and_flush_false(records, status):
    sink = HttpSink(status=status)
    try:
        url = "http://127.0.0.1:%d/wrong/path" % sink.port
        t = http_tracer(url)
        finish_some(t)
        assert t.flush(5) is False
        msg = assert_one_record_within_2s(records, "http sender failed", url, "HTTP %d" % status,
                                          "3 of 3 spans not delivered")
        m = t.metrics()
        assert m["dropped_send_failed"] == 3 and m["spans_reported"] == 0
        # a 404 is permanent (one attempt); a 500 is retried once
        assert len(sink.requests) == (1 if status == 404 else 2), msg
        assert t.flush(5) is True   # nothing new failed since the previous flush
        t.close()
    finally:
        sink.close()


def test_refused_port_logs_one_record_and_flush_false(records):
    url = "http://127.0.0.1:%d/api/traces" % closed_port()
    t = http_tracer(url)
    finish_some(t)
    assert t.flush(5) is False
    assert_one_record_within_2s(records, "http sender failed", url, "2 attempts")
    t.close()


def test_unresolvable_host_logs_one_record_and_flush_false(records):
    url = "http://no-such-collector.invalid:14268/api/traces"
    t = http_tracer(url)
    finish_some(t)
    assert t.flush(5) is False
    assert_one_record_within_2s(records, "http sender failed", "no-such-collector.invalid")
    assert t.metrics()["dropped_send_failed"] == 3
    t.close()


def test_udp_to_closed_port_is_send_failed_and_logged(records):
    port = closed_port(socket.SOCK_DGRAM)
    t = tracewire.Tracer({"service_name": "diag", "reporter.protocols": "udp",
                          "reporter.agent_port": str(port)})
    finish_some(t)
    assert t.flush(5) is False
    assert_one_record_within_2s(records, "udp sender failed", "Connection refused")
    m = t.metrics()
    assert m["spans_reported"] == 0 and m["dropped_send_failed"] == 3
    t.close()


def test_healthy_collector_logs_nothing_and_flush_true(records):
    sink = HttpSink(status=202)
    try:
        t = http_tracer("http://127.0.0.1:%d/api/traces" % sink.port)
        for _ in range(3):
            finish_some(t, 5)
            assert t.flush(5) is True
        assert t.close() is True
        assert t.metrics()["spans_reported"] == 15
        time.sleep(0.3)
        assert records.records == []
    finally:
        sink.close()


def test_summary_after_the_first_record_is_rate_limited(records):
    url = "http://127.0.0.1:%d/api/traces" % closed_port()
    t = http_tracer(url, **{"reporter.retries": "0"})
    for _ in range(5):
        finish_some(t, 2)
        assert t.flush(5) is False
    assert len(records.wait(1)) == 1
    t.close()   # close says what the 10 s interval held back, as one summary
    got = records.wait(2)
    assert len(got) == 2, [r.getMessage() for r in got]
    assert got[1].tracewire_count == 4
    assert "4 more failed sends" in got[1].getMessage()


def test_protocol_none_is_discarded_not_reported():
    t = tracewire.Tracer({"reporter.protocols": "none"})
    finish_some(t, 4)
    m = t.metrics()
    assert m["spans_discarded"] == 4 and m["spans_reported"] == 0
    t.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_counters_start_at_zero_and_its_failures_speak(records):
    """A real fork: the child's metrics start at zero (the parent keeps counting
    what it queued), and the child's own reporter thread logs through the child's
    logging without deadlocking."""
    port = closed_port(socket.SOCK_DGRAM)
    sink = HttpSink(status=202)
    try:
        t = http_tracer("http://127.0.0.1:%d/api/traces" % sink.port)
        finish_some(t, 50)            # some may still be queued at the fork
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                  # child
            code = 1
            try:
                os.close(r)
                m0 = t.metrics()
                ok = all(v == 0 for v in m0.values())
                finish_some(t, 7)
                t.flush(5)
                m = t.metrics()
                ok = ok and m["spans_finished"] == 7 and m["spans_reported"] == 7
                ok = ok and m["dropped_on_close"] == 0
                u = tracewire.Tracer({"reporter.protocols": "udp",
                                      "reporter.agent_port": str(port)})
                finish_some(u, 1)
                ok = ok and u.flush(5) is False
                got = records.wait(1, 2.0)
                ok = ok and any("udp sender failed" in x.getMessage() for x in got)
                u.close()
                os.write(w, repr((ok, m0, m)).encode())
                code = 0 if ok else 1
            finally:
                os._exit(code)
        os.close(w)
        finish_some(t, 10)
        _, status = os.waitpid(pid, 0)
        out = os.read(r, 65536).decode()
        os.close(r)
        assert os.WEXITSTATUS(status) == 0, out
        assert t.close() is True
        m = t.metrics()
        assert m["spans_finished"] == 60 and m["spans_reported"] == 60, m
        assert m["dropped_on_close"] == 0
    finally:
        sink.close()


def test_interpreter_exit_with_pending_failures_neither_hangs_nor_is_silent():
    """Spans failing while the interpreter exits: the reporter thread may be
    asking for the GIL just as finalization starts. The process must exit
    promptly and the failure must still be said (logging, or stderr once
    logging is gone)."""
    port = closed_port()
    code = textwrap.dedent("""
        import tracewire, time
        t = tracewire.Tracer({"reporter.protocols": "http",
                              "reporter.endpoint": "http://127.0.0.1:%d/api/traces",
                              "reporter.retries": "0", "reporter.flush_interval_ms": "1"})
        for i in range(200):
            t.start_span("x").finish()
        time.sleep(0.01)
        # no close(): exit with the reporter thread busy failing
    """ % port)
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stderr
        assert "http sender failed" in p.stderr, p.stderr


class Blackhole:
    """A real TCP listener that accepts every connection and never answers (nor
    reads): a collector behind a black hole, as a hung proxy or a stopped
    process's still-open socket looks to the client."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def _sink_404():
    s = HttpSink(status=404)
    return s, "http://127.0.0.1:%d/wrong/path" % s.port, ("HTTP 404",)


def _sink_500():
    s = HttpSink(status=500)
    return s, "http://127.0.0.1:%d/api/traces" % s.port, ("HTTP 500",)


def _refused():
    return None, "http://127.0.0.1:%d/api/traces" % closed_port(), ("Failed to connect",)


def _unresolvable():
    return None, "http://no-such-collector.invalid:14268/api/traces", ("no-such-collector.invalid",)


def _blackhole():
    b = Blackhole()
    return b, "http://127.0.0.1:%d/api/traces" % b.port, ("stalled", "no answer from")


@pytest.mark.parametrize("make", [_sink_404, _refused, _unresolvable, _blackhole, _sink_500],
                         ids=["404-path", "refused-port", "unresolvable-host", "blackholed-tcp",
                              "http-500"])
def test_failure_noise_matrix(records, make):
    """#20's failure-noise table: each broken collector gives one jaeger_tracing
    record within 2 s of the send, naming the endpoint and the cause; flush()
    says False; the failures that follow are held back and said as one summary
    (here: at close, the 10 s interval not being over)."""
    peer, url, needles = make()
    try:
        t = http_tracer(url, **{"reporter.retries": "0", "reporter.timeout_ms": "3000"})
        t0 = time.time()   # the records' clock (LogRecord.created)
        finish_some(t)
        assert t.flush(2.0) is False   # the blackhole's flush waits the whole 2 s
        got = records.wait(1, 0.5)
        assert len(got) == 1, [r.getMessage() for r in got]
        r = got[0]
        msg = r.getMessage()
        assert r.created - t0 <= 2.0, (r.created - t0, msg)
        assert r.name == "jaeger_tracing" and r.levelno == logging.ERROR, msg
        assert r.tracewire_kind == "send_failed" and r.tracewire_count == 1, msg
        assert r.thread != threading.get_ident()
        assert "http sender" in msg and url.split("/")[2] in msg, msg
        for n in needles:
            assert n in msg, msg
        # more failures: held back by the rate limit, not one line each
        finish_some(t, 2)
        assert t.flush(5.0) is False
        assert len(records.records) == 1, [x.getMessage() for x in records.records]
        t.close(10.0)
        got = records.wait(2, 2.0)
        assert len(got) == 2, [x.getMessage() for x in got]
        s = got[1]
        assert s.name == "jaeger_tracing" and s.tracewire_kind == "send_failed"
        assert s.tracewire_count >= 1
        assert "more failed sends" in s.getMessage(), s.getMessage()
        m = t.metrics()
        assert m["spans_reported"] == 0
        assert m["dropped_send_failed"] + m["dropped_on_close"] == 5, m
    finally:
        if peer is not None:
            peer.close()


def test_failure_noise_matrix_healthy_collector_says_nothing(records):
    sink = HttpSink(status=202)
    try:
        t = http_tracer("http://127.0.0.1:%d/api/traces" % sink.port,
                        **{"reporter.retries": "0", "reporter.timeout_ms": "3000"})
        finish_some(t)
        assert t.flush(2.0) is True
        finish_some(t, 2)
        assert t.flush(5.0) is True
        assert t.close(10.0) is True
        time.sleep(0.3)
        assert records.records == []
        assert t.metrics()["spans_reported"] == 5
    finally:
        sink.close()
