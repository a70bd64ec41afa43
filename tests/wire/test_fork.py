"""Fork safety: the parent and 4 forked children each finish 10k spans; all
50k arrive at a real listener, with no duplicate span ids, and every process's
counters balance."""
from conftest import (assert_balanced, decode_binary_batch, decode_compact_datagram, of_type,
                      run_driver)

N = 10000
CHILDREN = 4


def _check(lines, ids):
    (ch,) = of_type(lines, "children")
    assert ch == {"type": "children", "forked": CHILDREN, "failed": 0}
    counters = of_type(lines, "counters")
    assert len(counters) == CHILDREN + 1
    assert len({c["pid"] for c in counters}) == CHILDREN + 1
    for c in counters:
        assert_balanced(c)
    assert len(ids) == N * (CHILDREN + 1)
    assert len(set(ids)) == len(ids), "duplicate span ids across processes"


def test_parent_and_forked_children_all_arrive_over_http(http_sink):
    lines = run_driver("fork", N, CHILDREN, "reporter.protocols=http",
                       "reporter.endpoint=http://127.0.0.1:%d/api/traces" % http_sink.port,
                       "reporter.queue_size=20000")
    ids = []
    for _, body in http_sink.accepted:
        ids += [sp.spanId for sp in decode_binary_batch(body).spans]
    _check(lines, ids)


def test_parent_and_forked_children_all_arrive_over_udp(udp_sink):
    lines = run_driver("fork", N, CHILDREN, "reporter.protocols=udp",
                       "reporter.agent_port=%d" % udp_sink.port, "reporter.queue_size=20000")
    udp_sink.wait_quiet()
    ids = []
    for d in udp_sink.datagrams:
        ids += [sp.spanId for sp in decode_compact_datagram(d)[1].spans]
    _check(lines, ids)
