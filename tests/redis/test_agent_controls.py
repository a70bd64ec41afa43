"""The agent's controls (issue #20) reach the Redis face through the core's
key table like every MODULE LOAD argument. A pushed carrier holding only the
configured debug id header (no trace context) starts a sampled+debug trace
even under a const-0 sampler, its send span tagged <debug_id_header>=value
(decoded from the module's UDP datagrams); with the throttler on and no
credit yet, the same push is refused its debug span, as jaeger_client
refuses the first debug span of an operation. (Bad values of the throttler
and restriction keys fail MODULE LOAD: test_bad_input.py.)"""
import time

from conftest import free_port, module_args, tags

CONST0 = ("sampler.type=const", "sampler.param=0", "debug_id_header=X-Dbg")


def test_debug_id_header_from_module_args(make_server, collector):
    collector.clear()
    srv = make_server("dbg").start(module_args(collector, *CONST0))
    r = srv.client()
    r.execute_command("TQ.PUSH", "jobs", b"x-dbg: corr-9\n", b"item")
    r.execute_command("TQ.PUSH", "plain", b"other: 1\n", b"item")
    spans = collector.wait_for(lambda s: any(x.operationName == "send jobs" for x in s))
    (send,) = [s for s in spans if s.operationName == "send jobs"]
    assert send.flags == 3                       # sampled + debug, the sampler says 0
    assert tags(send).get("X-Dbg") == "corr-9"
    assert not [s for s in spans if s.operationName == "send plain"]


def test_throttler_from_module_args_refuses_without_credit(make_server, collector):
    collector.clear()
    srv = make_server("thr").start(module_args(collector, *CONST0,
                                               "throttler.port=%d" % free_port()))
    r = srv.client()
    r.execute_command("TQ.PUSH", "jobs", b"x-dbg: corr-9\n", b"item")
    r.execute_command("TQ.PUSH", "marker", b"traceparent: 00-%s-%s-01\n" % (b"1" * 32, b"2" * 16),
                      b"m")
    spans = collector.wait_for(lambda s: any(x.operationName == "send marker" for x in s))
    time.sleep(0.2)
    assert [s.operationName for s in spans] == ["send marker"], [(s.operationName, s.flags, tags(s)) for s in spans]
