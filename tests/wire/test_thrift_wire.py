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


def _gateway_expected(rec, maxlen):
    """The tags a gateway span must carry, from the driver's inputs."""
    cut = lambda s: s[:maxlen]
    want = {"sampler.type": ("string", "const"), "sampler.param": ("bool", True),
            "span.kind": ("string", "server"),
            "http.method": ("string", cut(rec["method"])),
            "http.url": ("string", cut("http://h.example" + rec["target"])),
            "peer.address": ("string", cut(rec["peer"]))}
    if rec["component"] is not None:
        want["component"] = ("string", cut(rec["component"]))
    if rec["status"] >= 0:
        want["http.status_code"] = ("int", str(rec["status"]))
        if rec["status"] >= 500:
            want["error"] = ("bool", True)
    if rec["upstream"] is not None:
        want["upstream.address"] = ("string", cut(rec["upstream"]))
        want["upstream.response_time_ms"] = ("int", str(rec["upstream_ms"]))
    return want


def _run_gateway(udp_sink, n, maxlen, *extra):
    lines = run_driver("gateway", n, "reporter.protocols=udp", "sampler.type=const",
                       "sampler.param=1", "max_tag_value_length=%d" % maxlen,
                       "reporter.agent_port=%d" % udp_sink.port, *extra, *CFG)
    udp_sink.wait_quiet()
    got = {}
    for d in udp_sink.datagrams:
        _, batch = decode_compact_datagram(d)
        for sp in batch.spans:
            assert sp.spanId not in got
            got[sp.spanId] = sp
    from conftest import s64
    kinds = {2: "server", 3: "client", 4: "producer", 5: "consumer"}
    recs = [r for r in lines if r["type"] in ("gateway", "plain")]
    assert len(recs) == n and len(got) == n
    for rec in recs:
        sp = got[s64(rec["span_id"])]
        tags = {}
        for t in sp.tags:
            assert t.key not in tags, "duplicate tag %s" % t.key
            from checks import _jaeger_value
            tags[t.key] = _jaeger_value(t)
        if rec["type"] == "plain":
            assert sp.operationName == "plain"
            assert tags == {"sampler.type": ("string", "const"), "sampler.param": ("bool", True),
                            "component": ("string", "nginx"[:maxlen]),
                            "span.kind": ("string", kinds[rec["kind"]])}
        else:
            assert sp.operationName == "%s %s" % (rec["method"], rec["target"].split("?")[0])
            assert tags == _gateway_expected(rec, maxlen), rec
    (c,) = of_type(lines, "counters")
    assert c["reported"] == n
    assert_balanced(c)
    return udp_sink.datagrams


def test_gateway_spans_constant_tags_on_the_wire(udp_sink):
    # span.kind, sampler.type, component=nginx, http.method=GET... come from the
    # core's constant tag slots (const_tags.h), copied whole by the encoder;
    # every other value (lua, PROPFIND, get, ngin) is copied as usual
    _run_gateway(udp_sink, 300, 1024)


def test_gateway_spans_cut_values_are_not_taken_from_the_slots(udp_sink):
    # max_tag_value_length=3: "nginx" must go out as "ngi", "DELETE" as "DEL"
    _run_gateway(udp_sink, 100, 3)


def test_gateway_spans_split_at_the_datagram_limit(udp_sink):
    # 1,500-byte datagrams: the spans' fast encoding (one budget per span,
    # no pass over the tags) still splits exactly at the limit
    grams = _run_gateway(udp_sink, 600, 1024, "reporter.max_packet_size=1500",
                         "reporter.batch_size=600")
    assert len(grams) >= 40
    assert all(len(d) <= 1500 for d in grams)
    # the limit is reached: most datagrams are within one span of it
    assert sum(1 for d in grams if len(d) > 1500 - 450) >= len(grams) - 2
