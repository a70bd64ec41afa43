"""Jaeger Thrift on the wire: compact emitBatch datagrams over UDP and binary
Batch bodies over HTTP, decoded with the PyPI thrift runtime and
jaeger-client's generated types, compared field by field with what was
recorded."""
from checks import check_jaeger_span, check_process
from conftest import (assert_balanced, decode_binary_batch, decode_compact_datagram, of_type,
                      run_driver)

CFG = ["service_name=wire-svc", "tags=env=test,zone=a"]


def by_id(spans):
    return {sp.spanId: sp for sp in spans}


def test_udp_compact_every_field_matches_the_record(udp_sink):
    lines = run_driver("full", "reporter.protocols=udp", "reporter.agent_host=127.0.0.1",
                       "reporter.agent_port=%d" % udp_sink.port, *CFG)
    udp_sink.wait_quiet()
    recs = of_type(lines, "span")
    assert len(recs) == 3
    spans = []
    seqnos = []
    for d in udp_sink.datagrams:
        assert len(d) <= 65000
        seqid, batch = decode_compact_datagram(d)
        check_process(batch.process, "wire-svc", {"env": "test", "zone": "a"})
        assert batch.stats is not None
        seqnos.append(batch.seqNo)
        spans += batch.spans
    assert len(spans) == 3
    got = by_id(spans)
    from conftest import s64
    for rec in recs:
        check_jaeger_span(rec, got[s64(rec["span_id"])])
    assert seqnos == sorted(seqnos) and len(set(seqnos)) == len(seqnos)
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 3 and c["batches_sent"] == len(udp_sink.datagrams)
    assert c["bytes_sent"] == sum(len(d) for d in udp_sink.datagrams)
    assert_balanced(c)


def test_http_binary_every_field_matches_the_record(http_sink):
    lines = run_driver("full", "reporter.protocols=http",
                       "reporter.endpoint=http://127.0.0.1:%d/api/traces" % http_sink.port, *CFG)
    recs = of_type(lines, "span")
    spans = []
    for path, ctype, body, mode in http_sink.requests:
        assert path == "/api/traces"
        assert ctype == "application/x-thrift"
        batch = decode_binary_batch(body)
        check_process(batch.process, "wire-svc", {"env": "test", "zone": "a"})
        assert batch.seqNo >= 1
        assert (batch.stats.fullQueueDroppedSpans, batch.stats.tooLargeDroppedSpans,
                batch.stats.failedToEmitSpans) == (0, 0, 0)
        spans += batch.spans
    from conftest import s64
    got = by_id(spans)
    assert len(got) == 3
    for rec in recs:
        check_jaeger_span(rec, got[s64(rec["span_id"])])
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 3
    assert_balanced(c)


def test_batch_over_65000_bytes_is_split_and_70kb_span_dropped(udp_sink):
    lines = run_driver("big", "reporter.protocols=udp", "reporter.batch_size=1000",
                       "max_tag_value_length=100000",
                       "reporter.agent_port=%d" % udp_sink.port, *CFG)
    udp_sink.wait_quiet()
    (huge,) = of_type(lines, "huge")
    (c,) = of_type(lines, "counters")
    ids = []
    last_stats = None
    for d in udp_sink.datagrams:
        assert len(d) <= 65000, len(d)
        _, batch = decode_compact_datagram(d)
        ids += [sp.spanId for sp in batch.spans]
        last_stats = batch.stats
    from conftest import s64
    assert len(udp_sink.datagrams) >= 3, "300 spans of ~1 KB must need several datagrams"
    assert len(ids) == 300 and len(set(ids)) == 300
    assert s64(huge["span_id"]) not in ids
    assert c["dropped_too_large"] == 1 and c["reported"] == 300
    assert last_stats.tooLargeDroppedSpans == 1
    assert_balanced(c)


def test_several_protocols_each_receive_every_span(udp_sink, http_sink):
    lines = run_driver("full", "reporter.protocols=udp,http,otlp",
                       "reporter.agent_port=%d" % udp_sink.port,
                       "reporter.endpoint=http://127.0.0.1:%d/api/traces" % http_sink.port,
                       "reporter.otlp_endpoint=http://127.0.0.1:%d/v1/traces" % http_sink.port,
                       *CFG)
    udp_sink.wait_quiet()
    n_udp = sum(len(decode_compact_datagram(d)[1].spans) for d in udp_sink.datagrams)
    paths = sorted(p for p, _ in http_sink.accepted)
    assert n_udp == 3
    # each sender numbers its own batches from 1 (gaps would read as losses)
    assert [decode_compact_datagram(d)[1].seqNo for d in udp_sink.datagrams] == [1]
    (thrift_body,) = [b for p, b in http_sink.accepted if p == "/api/traces"]
    assert decode_binary_batch(thrift_body).seqNo == 1
    assert paths == ["/api/traces", "/v1/traces"]
    (c,) = of_type(lines, "counters")
    # a span counts once, as reported when at least one sender delivered it
    assert c["reported"] == 3 and c["batches_sent"] == 3
    assert_balanced(c)


def test_http_connection_is_kept_alive(http_sink):
    lines = run_driver("rate", 3000, 10000, "reporter.protocols=http", "reporter.batch_size=100",
                       "reporter.endpoint=http://127.0.0.1:%d/api/traces" % http_sink.port)
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 3000
    assert len(http_sink.requests) == c["batches_sent"] >= 5
    assert len(set(http_sink.server.client_ports)) == 1, "a new connection per request"


def test_http_5xx_is_retried_with_backoff_then_delivered(http_sink):
    http_sink.set_mode("500once")
    lines = run_driver("full", "reporter.protocols=http",
                       "reporter.endpoint=http://127.0.0.1:%d/api/traces" % http_sink.port)
    (c,) = of_type(lines, "counters")
    assert [m for _, _, _, m in http_sink.requests] == ["500", "ok"]
    t = http_sink.server.times
    assert t[1] - t[0] >= 0.09, "no backoff between attempts"
    # the retry carries the same batch
    assert http_sink.requests[0][2] == http_sink.requests[1][2]
    assert (c["reported"], c["send_failures"], c["batches_sent"]) == (3, 1, 1)
    assert_balanced(c)
