"""The talk's pattern: a producer injects its context into a JSON message on a
real Redis list; a worker thread pops it, extracts, and continues the trace."""
import json
import threading

import pytest
import redis
from opentracing import Format

from conftest import memory_tracer, spans_by_name


def worker(port, tracer, queue, done):
    r = redis.Redis(host="127.0.0.1", port=port)
    _, raw = r.brpop(queue, timeout=10)
    msg = json.loads(raw)
    ctx = tracer.extract(Format.TEXT_MAP, msg["trace"])
    with tracer.start_active_span("work", child_of=ctx) as scope:
        scope.span.set_tag("job", msg["job"])
        assert scope.span.get_baggage_item("tenant") == "acme"
        with tracer.start_active_span("step"):
            pass
    done.set()


def test_json_message_on_redis_list_carries_the_context(redis_server):
    producer = memory_tracer(service_name="producer")
    consumer = memory_tracer(service_name="worker")
    queue = "tw:jobs"
    done = threading.Event()
    th = threading.Thread(target=worker, args=(redis_server, consumer, queue, done))
    th.start()
    r = redis.Redis(host="127.0.0.1", port=redis_server)
    with producer.start_active_span("enqueue") as scope:
        scope.span.set_tag("span.kind", "producer")
        scope.span.set_baggage_item("tenant", "acme")
        carrier = {}
        producer.inject(scope.span.context, Format.TEXT_MAP, carrier)
        r.lpush(queue, json.dumps({"job": 42, "trace": carrier}))
    th.join(15)
    assert done.is_set()
    p = spans_by_name(producer)["enqueue"]
    w = spans_by_name(consumer)
    assert w["work"]["trace_id"] == p["trace_id"]
    assert w["work"]["parent_id"] == p["span_id"]
    assert w["step"]["parent_id"] == w["work"]["span_id"]
    assert w["work"]["tags"]["job"] == 42


def test_message_without_context_starts_a_new_trace(redis_server):
    tracer = memory_tracer()
    r = redis.Redis(host="127.0.0.1", port=redis_server)
    r.lpush("tw:plain", json.dumps({"job": 1, "trace": {}}))
    _, raw = r.brpop("tw:plain", timeout=5)
    ctx = tracer.extract(Format.TEXT_MAP, json.loads(raw)["trace"])
    assert ctx is None
    with tracer.start_active_span("work", child_of=ctx) as scope:
        assert scope.span.context.parent_id is None


def test_redis_opentracing_instrumentation_uses_tracewire(redis_server):
    """redis_opentracing unwraps tracers that have `_tracer`; ours has none, so
    the spans it makes are tracewire spans, children of the active span."""
    redis_opentracing = pytest.importorskip("redis_opentracing")
    tracer = memory_tracer()
    assert not hasattr(tracer, "_tracer")
    redis_opentracing.init_tracing(tracer, trace_all_classes=False)
    try:
        client = redis.Redis(host="127.0.0.1", port=redis_server)
        redis_opentracing.trace_client(client)
        with tracer.start_active_span("handler"):
            client.set("tw:key", "v")
            assert client.get("tw:key") == b"v"
        spans = tracer.memory_spans()
        by_name = {s["operation_name"]: s for s in spans}
        assert {"SET", "GET", "handler"} <= set(by_name)
        assert by_name["SET"]["parent_id"] == by_name["handler"]["span_id"]
        assert by_name["SET"]["tags"]["db.type"] == "redis"
        assert by_name["GET"]["tags"]["db.statement"] == "GET tw:key"
    finally:
        redis_opentracing.tracing._reset_tracing()
