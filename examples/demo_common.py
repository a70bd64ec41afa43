"""What the demo's Python services share: their tracer and the traced Redis queue.

Each service reports with a different protocol on purpose, so one trace in
Jaeger proves that all three arrive and join up (override with
DEMO_PROTOCOL=udp|http|otlp for all of them, or DEMO_PROTOCOL_<SERVICE>).
The Redis hop goes through tracewire's Redis module: TQ.PUSH stores the
sender's context next to the item and reports a "send" span; TQ.BPOP reports
the "wait" span (enqueue to dequeue, server clock) and hands back the context
the consumer continues from.
"""
import json
import os

import opentracing
import redis
from opentracing.propagation import Format

import tracewire
from tracewire import redis_queue

DEFAULT_PROTOCOL = {"gateway": "http", "contributors": "otlp", "worker": "udp"}

REDIS_URL = os.environ.get("DEMO_REDIS_URL", "redis://127.0.0.1:16379/0")
RAW_QUEUE = "contributors:raw"


def init_tracer(service):
    """The process's tracer (also installed as opentracing.tracer)."""
    proto = os.environ.get("DEMO_PROTOCOL_" + service.upper()) or \
        os.environ.get("DEMO_PROTOCOL") or DEFAULT_PROTOCOL.get(service, "udp")
    config = {
        "sampler": {"type": "const", "param": 1},
        "logging": False,
        "propagation": "w3c",           # traceparent + jaeger's uber-trace-id both work
        "reporter_flush_interval": 0.2,  # seconds; the demo reads the trace right away
        "protocol": proto,
    }
    return tracewire.Config(config=config, service_name=service, validate=True).initialize_tracer()


def redis_client():
    return redis.Redis.from_url(REDIS_URL)


def push(r, tracer, span, key, obj):
    """TQ.PUSH one JSON item onto `key`, carrying `span`'s context."""
    payload = json.dumps(obj, separators=(",", ":"))
    return redis_queue.push(r, key, payload, tracer=tracer, span=span)


def bpop(r, key, timeout_s):
    """TQ.BPOP: (decoded JSON item, QueueItem) or None on timeout. The
    QueueItem holds the carrier (the module's "wait" span context), the server
    enqueue time and the wait in µs."""
    item = redis_queue.bpop(r, key, timeout_s)
    if item is None:
        return None
    return json.loads(item.payload), item


def continue_from(tracer, item):
    """The span context a consumer continues from, or None for a plain item."""
    return tracer.extract(Format.HTTP_HEADERS, item.headers()) if item.traced else None


def global_tracer():
    return opentracing.tracer
