"""TQ.* commands against a real redis-server with the module loaded: queue
semantics, the stored envelope, effect replication, and the spans the module
reports (decoded from the Jaeger Thrift datagrams it sends)."""
import pathlib
import threading
import time

import pytest
import redis

from conftest import rq, trace_hex, span_hex, parent_hex, tags, needs_runtime_load

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TP = "traceparent=00-%s-%s-01" % (TRACE, PARENT)


def carrier_of(text):
    return rq.parse_carrier(text)


def tp_ids(carrier):
    """(trace id, span id) from a carrier's traceparent."""
    parts = carrier_of(carrier)["traceparent"].split("-")
    return parts[1], parts[2]


def test_push_then_pop_is_fifo_with_lpush_semantics(r):
    assert r.execute_command("TQ.PUSH", "q", TP, "a", "b") == 2
    assert r.execute_command("TQ.PUSH", "q", TP, "c") == 3
    got = [rq.pop(r, "q").payload for _ in range(3)]
    assert got == [b"a", b"b", b"c"]
    assert rq.pop(r, "q") is None
    assert r.exists("q") == 0


def test_stored_value_is_a_v1_envelope_with_server_time_and_carrier(r):
    t0 = time.time_ns() // 1000
    r.execute_command("TQ.PUSH", "q", TP, b"\x00payload\xff")
    t1 = time.time_ns() // 1000
    raw = r.lindex("q", 0)
    assert raw[:8] == b"\x00TWQ\x1a\x01\x00\x00"
    it = rq.unwrap(raw)
    assert it.payload == b"\x00payload\xff"
    assert t0 - 2000 <= it.enqueue_us <= t1 + 2000
    trace, span = tp_ids(it.carrier)
    assert trace == TRACE and span != PARENT     # the module's send span
    assert rq.wrap(it.payload, it.carrier, it.enqueue_us) == raw


def test_pop_returns_item_carrier_enqueue_and_wait(r):
    rq.push(r, "q", b"job", carrier=TP)
    raw = rq.unwrap(r.lindex("q", 0))
    time.sleep(0.05)
    it = rq.pop(r, "q")
    assert it.payload == b"job" and it.enqueue_us == raw.enqueue_us
    assert 45000 <= it.wait_us <= 500000
    trace, span = tp_ids(it.carrier)
    assert trace == TRACE
    assert span != tp_ids(raw.carrier)[1]        # the wait span, child of send


def test_plain_lpush_items_pass_through_with_empty_carrier(r):
    r.lpush("q", b"plain-1", b"{\"json\": true}")
    assert rq.pop(r, "q") == rq.QueueItem(b"plain-1", "", -1, -1)
    assert rq.pop(r, "q") == rq.QueueItem(b"{\"json\": true}", "", -1, -1)


def test_pop_on_missing_key_is_nil(r):
    assert r.execute_command("TQ.POP", "nothing") is None
    assert r.execute_command("TQ.MOVE", "nothing", "dst") is None
    assert r.exists("dst") == 0


def test_bpop_is_served_by_a_later_push(server, r):
    def later():
        time.sleep(0.2)
        rq.push(server.client(), "bq", b"late", carrier=TP)
    t = threading.Thread(target=later)
    t.start()
    t0 = time.monotonic()
    it = rq.bpop(r, "bq", 5)
    t.join()
    assert it.payload == b"late" and time.monotonic() - t0 >= 0.15
    assert tp_ids(it.carrier)[0] == TRACE


def test_bpop_is_served_by_a_plain_lpush(server, r):
    threading.Timer(0.1, lambda: server.client().lpush("bq", b"plain")).start()
    assert rq.bpop(r, "bq", 5) == rq.QueueItem(b"plain", "", -1, -1)


def test_bpop_times_out_with_nil(r):
    t0 = time.monotonic()
    assert rq.bpop(r, "bq", 0.1) is None
    assert 0.09 <= time.monotonic() - t0 < 2


def test_bpop_inside_multi_is_an_error_not_a_block(r):
    p = r.pipeline(transaction=True)
    p.execute_command("TQ.BPOP", "bq", 1)
    with pytest.raises(redis.ResponseError, match="cannot block inside MULTI"):
        p.execute()


def test_bpop_inside_a_script_is_an_error(r):
    with pytest.raises(redis.ResponseError, match="cannot block inside MULTI, scripts"):
        r.eval("return redis.call('TQ.BPOP', KEYS[1], 1)", 1, "bq")


def test_bpop_inside_multi_with_an_item_pops_it(r):
    rq.push(r, "bq", b"x", carrier=TP)
    p = r.pipeline(transaction=True)
    p.execute_command("TQ.BPOP", "bq", 1)
    (reply,) = p.execute()
    assert reply[0] == b"x"


def test_push_and_pop_work_inside_scripts(r):
    n = r.eval("return redis.call('TQ.PUSH', KEYS[1], ARGV[1], 'a', 'b')", 1, "q", TP)
    assert n == 2
    assert r.eval("return redis.call('TQ.POP', KEYS[1])", 1, "q")[0] == b"a"


def test_move_keeps_the_envelope_in_the_processing_list_until_ack(r):
    rq.push(r, "q", b"a", b"b", carrier=TP)
    raw_a = r.lindex("q", -1)
    it = rq.move(r, "q", "q:processing")
    assert it.payload == b"a" and tp_ids(it.carrier)[0] == TRACE
    assert r.lrange("q:processing", 0, -1) == [raw_a]
    assert r.llen("q") == 1
    assert rq.ack(r, "q:processing", b"nope") is False
    assert rq.ack(r, "q:processing", b"a") is True
    assert r.exists("q:processing") == 0


def test_move_onto_the_same_list_rotates(r):
    rq.push(r, "q", b"a", b"b", carrier=TP)
    assert rq.move(r, "q", "q").payload == b"a"
    assert [rq.unwrap(v).payload for v in r.lrange("q", 0, -1)] == [b"a", b"b"]


def test_ack_removes_plain_items_too(r):
    r.lpush("p", b"x")
    assert rq.move(r, "p", "pp").payload == b"x"
    assert rq.ack(r, "pp", b"x") is True


@pytest.mark.parametrize("carrier", [
    "traceparent=00-%s-%s-01" % (TRACE, PARENT),
    "traceparent: 00-%s-%s-01\r\ntracestate: congo=t61rcWkgMzE\r\n" % (TRACE, PARENT),
    "uber-trace-id=%s:%s:0:1" % (TRACE, PARENT),
    "b3=%s-%s-1" % (TRACE, PARENT),
    "X-B3-TraceId: %s\nX-B3-SpanId: %s\nX-B3-Sampled: 1" % (TRACE, PARENT),
])
def test_every_propagation_format_is_accepted(r, carrier):
    rq.push(r, "q", b"x", carrier=carrier)
    assert tp_ids(rq.pop(r, "q").carrier)[0] == TRACE


def test_carrier_dict_and_baggage_survive(r):
    rq.push(r, "q", b"x", carrier={"traceparent": TP.split("=", 1)[1], "uberctx-tenant": "t1"})
    c = rq.pop(r, "q").headers()
    assert c.get("uberctx-tenant") == "t1" or "tenant=t1" in c.get("baggage", "")


def test_empty_carrier_starts_a_new_trace(r):
    rq.push(r, "q", b"x", carrier="")
    it = rq.pop(r, "q")
    trace, _ = tp_ids(it.carrier)
    assert trace != TRACE and int(trace, 16) != 0


def test_effects_are_replicated_not_the_module_command(make_server, collector):
    from conftest import module_args
    srv = make_server("aof").start(module_args(collector), extra=["--appendonly", "yes"])
    c = srv.client()
    rq.push(c, "q", b"a", b"b", carrier=TP)
    rq.pop(c, "q")
    rq.move(c, "q", "p")
    rq.ack(c, "p", b"b")
    c.execute_command("TQ.BPOP", "q", 0.01)
    srv.stop()
    aof = b"".join(p.read_bytes() for p in (srv.dir / "appendonlydir").glob("*.incr.aof"))
    assert b"TQ." not in aof.upper()
    for cmd in (b"LPUSH", b"RPOP", b"LMOVE", b"LREM"):
        assert cmd in aof, cmd
    assert aof.count(b"\x00TWQ\x1a\x01") == 3   # the 2 pushed envelopes + LREM's copy


# ------------------------------------------------------------------ spans on the wire

def spans_named(spans, prefix):
    return [s for s in spans if s.operationName.startswith(prefix)]


def test_send_and_wait_spans_reach_the_agent(r, collector):
    collector.clear()
    t0 = time.time()                # wall clock, as the server stamps
    rq.push(r, "jobs", b"x", carrier=TP)
    t1 = time.time()
    time.sleep(0.25)
    t2 = time.time()
    it = rq.pop(r, "jobs")
    t3 = time.time()
    spans = collector.wait_for(lambda s: len(spans_named(s, "wait jobs")) >= 1)
    assert collector.errors == []
    (send,) = spans_named(spans, "send jobs")
    (wait,) = spans_named(spans, "wait jobs")
    # send: PRODUCER child of the pushed context, messaging attributes
    assert trace_hex(send) == TRACE and parent_hex(send) == PARENT
    st = tags(send)
    assert st["span.kind"] == "producer"
    assert st["messaging.system"] == "redis"
    assert st["messaging.destination.name"] == "jobs"
    assert st["messaging.operation.type"] == "send"
    assert send.references is None or all(
        ref.refType == 0 and "%016x" % (ref.spanId & (2**64 - 1)) == PARENT for ref in send.references)
    # wait: child of send, from the enqueue stamp to the dequeue stamp
    assert trace_hex(wait) == TRACE and parent_hex(wait) == span_hex(send)
    assert wait.startTime == it.enqueue_us
    assert wait.duration == it.wait_us
    # inside what the client saw, and within a few ms (+ the round trips) of the sleep
    inner, outer = (t2 - t1) * 1e6, (t3 - t0) * 1e6
    assert inner - 1000 <= wait.duration <= outer + 1000, (inner, wait.duration, outer)
    assert abs(wait.duration - inner) <= (outer - inner) + 5000
    assert tags(wait)["messaging.redis.queue_wait_us"] == it.wait_us
    # the returned carrier continues from the wait span
    assert tp_ids(it.carrier) == (TRACE, span_hex(wait))


def test_batch_push_reports_one_send_span_with_message_count(r, collector):
    collector.clear()
    rq.push(r, "batch", b"1", b"2", b"3", carrier=TP)
    spans = collector.wait_for(lambda s: len(spans_named(s, "send batch")) >= 1)
    (send,) = spans_named(spans, "send batch")
    assert tags(send)["messaging.batch.message_count"] == 3
    for _ in range(3):
        rq.pop(r, "batch")
    spans = collector.wait_for(lambda s: len(spans_named(s, "wait batch")) >= 3)
    assert {parent_hex(w) for w in spans_named(spans, "wait batch")} == {span_hex(send)}


def test_plain_items_report_no_wait_span(r, collector):
    collector.clear()
    r.lpush("plainq", b"x")
    rq.pop(r, "plainq")
    rq.push(r, "marker", b"m", carrier=TP)
    spans = collector.wait_for(lambda s: len(spans_named(s, "send marker")) >= 1)
    assert spans_named(spans, "wait plainq") == []


def test_info_section_counts_items(r):
    info = r.info("tracewire")
    assert "tracewire_items_pushed" in info
    assert info["tracewire_service_name"] == "redis-test"


def test_reporting_survives_bgsave_fork(r, server, collector):
    collector.clear()
    rq.push(r, "f", b"before", carrier=TP)        # reporter thread now running
    collector.wait_for(lambda s: len(spans_named(s, "send f")) >= 1)
    r.bgsave()
    deadline = time.time() + 10
    while r.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
        time.sleep(0.02)
    assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
    rq.pop(r, "f")
    spans = collector.wait_for(lambda s: len(spans_named(s, "wait f")) >= 1)
    assert len(spans_named(spans, "wait f")) == 1
    assert server.alive()


@needs_runtime_load
def test_module_unload_joins_the_reporter_and_reload_works(make_server, collector):
    from conftest import module_args, MODULE
    srv = make_server("unload").start(module_args(collector))
    c = srv.client()
    rq.push(c, "u", b"x", carrier=TP)             # start the reporter thread
    assert c.execute_command("MODULE", "UNLOAD", "tracewire") == b"OK"
    assert c.lindex("u", 0)[:5] == rq.MAGIC       # data untouched
    c.bgsave()                                    # fork after unload: no stale atfork handlers
    time.sleep(0.3)
    assert c.execute_command("MODULE", "LOAD", MODULE, *module_args(collector)) == b"OK"
    assert rq.pop(c, "u").payload == b"x"
    c.execute_command("MODULE", "UNLOAD", "tracewire")
    assert c.ping()
    srv.stop()
    assert "crashed" not in srv.log.read_text()


def test_bgrewriteaof_fork_keeps_the_queue_and_the_reporter(make_server, collector):
    from conftest import module_args
    srv = make_server("rewrite").start(module_args(collector), extra=["--appendonly", "yes"])
    c = srv.client()
    collector.clear()
    rq.push(c, "rw", b"a", b"b", carrier=TP)
    before = c.lrange("rw", 0, -1)
    c.bgrewriteaof()
    deadline = time.time() + 10
    while (c.info("persistence")["aof_rewrite_in_progress"]
           or c.info("persistence")["aof_rewrite_scheduled"]) and time.time() < deadline:
        time.sleep(0.05)
    assert c.info("persistence")["aof_last_bgrewrite_status"] == "ok"
    rq.pop(c, "rw")
    spans = collector.wait_for(lambda s: len(spans_named(s, "wait rw")) >= 1)
    assert len(spans_named(spans, "wait rw")) == 1
    srv.stop()
    srv.start(module_args(collector), extra=["--appendonly", "yes"])
    assert srv.client().lrange("rw", 0, -1) == before[:1]


def test_spans_off_propagates_the_carrier_verbatim(make_server, collector):
    from conftest import module_args
    srv = make_server("spansoff").start(module_args(collector, "tq.spans=off"))
    c = srv.client()
    collector.clear()
    carrier = "traceparent: 00-%s-%s-01\ntracestate: k=v" % (TRACE, PARENT)
    rq.push(c, "off", b"x", carrier=carrier)
    assert rq.unwrap(c.lindex("off", 0)).carrier == carrier
    it = rq.pop(c, "off")
    assert it.carrier == carrier and it.wait_us >= 0
    with pytest.raises(redis.ResponseError, match="bad carrier"):
        c.execute_command("TQ.PUSH", "off", "traceparent=00-zz-00f067aa0ba902b7-01", "x")
    assert c.exists("off") == 0
    rq.push(c, "marker", b"m", carrier=carrier)
    time.sleep(0.3)
    assert [s for s in collector.wait_for(lambda s: False, 0.1)
            if s.operationName.endswith(("off", "marker"))] == []


def test_module_exports_only_its_entry_points():
    import subprocess
    from conftest import MODULE
    out = subprocess.run(["nm", "-D", "--defined-only", MODULE], capture_output=True, text=True,
                         check=True).stdout
    syms = sorted(l.split()[-1] for l in out.splitlines() if l.split()[1] in "TDBRVW")
    assert syms == ["RedisModule_OnLoad", "RedisModule_OnUnload"]


def test_module_configs_show_effective_values_and_fixed_ones_refuse(server):
    c = server.client()
    cfg = c.config_get("tracewire.*")
    assert cfg["tracewire.service-name"] == "redis-test"           # from MODULE LOAD args
    assert cfg["tracewire.reporter-protocols"] == "udp"
    assert cfg["tracewire.propagation-inject"] == "w3c"            # the module's default
    with pytest.raises(redis.ResponseError, match="cannot change at run time"):
        c.config_set("tracewire.service-name", "other")


@needs_runtime_load
def test_module_loadex_config_sets_options_and_args_win(make_server, collector):
    from conftest import MODULE
    srv = make_server("loadex").start(module=False)
    c = srv.client()
    assert c.execute_command("MODULE", "LOADEX", MODULE, "CONFIG", "tracewire.service-name", "from-config",
                             "CONFIG", "tracewire.sampler-param", "0.25",
                             "ARGS", "reporter.protocols=none") == b"OK"
    assert c.config_get("tracewire.service-name")["tracewire.service-name"] == "from-config"
    assert c.config_get("tracewire.sampler-param")["tracewire.sampler-param"] == "0.25"
    assert c.info("tracewire")["tracewire_service_name"] == "from-config"
    c.execute_command("MODULE", "UNLOAD", "tracewire")
    c.execute_command("MODULE", "LOADEX", MODULE, "CONFIG", "tracewire.service-name", "a",
                      "ARGS", "service_name=b", "reporter.protocols=none")
    assert c.info("tracewire")["tracewire_service_name"] == "b"
    c.execute_command("MODULE", "UNLOAD", "tracewire")
    with pytest.raises(redis.ResponseError):
        c.execute_command("MODULE", "LOADEX", MODULE, "CONFIG", "tracewire.reporter-protocols", "bogus")
    assert c.ping() and "tracewire" not in str(c.execute_command("MODULE", "LIST"))


@needs_runtime_load
def test_unload_after_http_reporting_then_fork_and_exit_cleanly(make_server):
    """libcurl (and its TLS library) are initialised by the HTTP reporter and
    unmapped with the module: BGSAVE and shutdown afterwards must not touch them."""
    from conftest import MODULE
    dead = "http://127.0.0.1:9"
    args = ["reporter.protocols=http,otlp", "reporter.endpoint=%s/api/traces" % dead,
            "reporter.otlp_endpoint=%s/v1/traces" % dead, "reporter.flush_interval_ms=20",
            "reporter.retries=0", "reporter.timeout_ms=200"]
    srv = make_server("unload-http").start(args)
    c = srv.client()
    rq.push(c, "h", b"x", carrier=TP)
    deadline = time.time() + 5
    while c.info("tracewire")["tracewire_send_failures"] == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert c.info("tracewire")["tracewire_send_failures"] > 0      # curl really ran
    assert c.execute_command("MODULE", "UNLOAD", "tracewire") == b"OK"
    assert c.execute_command("MODULE", "LOAD", MODULE, *args) == b"OK"
    rq.pop(c, "h")
    assert c.execute_command("MODULE", "UNLOAD", "tracewire") == b"OK"
    c.bgsave()
    time.sleep(0.3)
    srv.stop()
    log = srv.log.read_text()
    assert "crashed" not in log and "bye bye" in log


@needs_runtime_load
def test_module_unload_flushes_queued_spans(make_server, collector):
    """With a flush interval far away, the send span is still queued when
    MODULE UNLOAD runs: tw_tracer_close must deliver it before returning."""
    from conftest import module_args
    srv = make_server("unload-flush").start(module_args(collector, "reporter.flush_interval_ms=600000"))
    c = srv.client()
    collector.clear()
    rq.push(c, "uf", b"x", carrier=TP)
    time.sleep(0.3)
    assert spans_named(collector.wait_for(lambda s: False, 0.1), "send uf") == []
    assert c.execute_command("MODULE", "UNLOAD", "tracewire") == b"OK"
    spans = collector.wait_for(lambda s: len(spans_named(s, "send uf")) == 1, 3)
    assert len(spans_named(spans, "send uf")) == 1
