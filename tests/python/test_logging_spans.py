"""`logging: True` (jaeger_client's key: log every reported span) goes through
Python's logging, as jaeger_client's LoggingReporter does -- logger
"jaeger_tracing", INFO, 'Reporting span %s' -- not raw C stderr. The record is
compared with the one the installed jaeger_client 4.8 makes for the same span."""
import logging
import socket
import threading
import time

from jaeger_client import Config as JcConfig
from jaeger_client.reporter import LoggingReporter
from jaeger_client.sampler import ConstSampler

import tracewire


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []
        self.cond = threading.Condition()

    def emit(self, record):
        with self.cond:
            self.records.append(record)
            self.cond.notify_all()

    def spans(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while time.monotonic() < deadline:
                got = [r for r in self.records if r.levelno == logging.INFO]
                if len(got) >= n:
                    return got
                self.cond.wait(0.05)
            return [r for r in self.records if r.levelno == logging.INFO]


def closed_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_logging_true_span_lines_go_through_python_logging(capfd):
    logger = logging.getLogger("jaeger_tracing")
    h = Records()
    logger.addHandler(h)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        # jaeger_client's own record for a span (what `logging: True` adds:
        # CompositeReporter(reporter, LoggingReporter(logger)))
        jt = JcConfig({}, service_name="logsvc").create_tracer(
            reporter=LoggingReporter(logger), sampler=ConstSampler(True))
        jspan = jt.start_span("jc-op")
        jspan.finish()
        (jc_rec,) = h.spans(1)
        assert jc_rec.getMessage() == "Reporting span %x:%x:0:1 logsvc.jc-op" % (
            jspan.trace_id, jspan.span_id)
        h.records.clear()

        # the agent's port is closed: the UDP sender's failure is an ERROR
        # record on the same logger; the span lines are the INFO ones
        cfg = tracewire.Config({"logging": True,
                                "sampler": {"type": "const", "param": 1},
                                "local_agent": {"reporting_port": closed_udp_port()}},
                               service_name="logsvc")
        t = cfg.new_tracer()
        root = t.start_span("tw-root-op")
        child = t.start_span("tw-child-op", child_of=root)
        child.finish()
        root.finish()
        t.flush(5)
        got = h.spans(2)
        assert len(got) == 2, [r.getMessage() for r in h.records]
        for r in got:
            assert r.name == jc_rec.name == "jaeger_tracing"
            assert r.levelno == jc_rec.levelno == logging.INFO
            assert r.msg == jc_rec.msg == "Reporting span %s"
            assert r.thread != threading.get_ident()   # said by the reporter thread
        # jaeger_client's span text (Span.__repr__): trace:span:parent:flags
        # in variable-length hex, then service.operation
        lines = sorted(r.getMessage() for r in got)
        assert lines == sorted([
            "Reporting span %x:%x:%x:1 logsvc.tw-child-op" % (root.trace_id, child.span_id,
                                                             root.span_id),
            "Reporting span %x:%x:0:1 logsvc.tw-root-op" % (root.trace_id, root.span_id)]), lines
        t.close(5)
        # nothing written raw to stderr
        err = capfd.readouterr().err
        assert "tracewire: span" not in err, err
    finally:
        logger.removeHandler(h)
        logger.setLevel(old)
