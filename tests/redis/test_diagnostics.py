"""Failures speak in Redis: the core's diagnostics (here: a Jaeger agent port
nobody listens on, so the kernel refuses the module's datagrams) reach the
Redis log through RedisModule_Log from the reporter thread, once (rate-limited
by the core), and the module's spans are counted as failed, not reported."""
import socket
import time

TP = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def closed_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_agent_is_said_in_the_redis_log(make_server):
    port = closed_udp_port()
    srv = make_server("diag").start(["reporter.protocols=udp", "reporter.agent_host=127.0.0.1",
                                     "reporter.agent_port=%d" % port,
                                     "reporter.flush_interval_ms=10"])
    c = srv.client()
    for i in range(5):
        assert c.execute_command("TQ.PUSH", "q%d" % i, TP, "item") == 1
    deadline = time.time() + 3
    log = ""
    while time.time() < deadline:
        log = srv.log.read_text()
        if "udp sender failed" in log:
            break
        time.sleep(0.1)
    lines = [l for l in log.splitlines() if "udp sender failed" in l]
    assert lines, log[-2000:]
    assert "Connection refused" in lines[0]
    assert " # " in lines[0]          # Redis' warning marker
    assert len(lines) == 1, lines     # rate-limited: one line, not one per batch


def test_healthy_agent_logs_no_failure(make_server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        srv = make_server("healthy").start(["reporter.protocols=udp",
                                            "reporter.agent_host=127.0.0.1",
                                            "reporter.agent_port=%d" % port,
                                            "reporter.flush_interval_ms=10"])
        c = srv.client()
        for i in range(5):
            c.execute_command("TQ.PUSH", "q%d" % i, TP, "item")
        sink.settimeout(3)
        assert sink.recv(70000)            # the spans arrived
        time.sleep(0.3)
        assert "sender failed" not in srv.log.read_text()
