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


def _carrier_text(tracer, span):
    headers = {}
    tracer.inject(span.context, Format.HTTP_HEADERS, headers)
    return "\n".join("%s: %s" % kv for kv in headers.items())


def _carrier_dict(text):
    out = {}
    for line in (text or "").splitlines():
        name, sep, val = line.partition(":")
        if sep:
            out[name.strip()] = val.strip()
    return out


def push(r, tracer, span, key, obj):
    """TQ.PUSH one JSON item onto `key` carrying `span`'s context."""
    payload = json.dumps(obj, separators=(",", ":"))
    return r.execute_command("TQ.PUSH", key, _carrier_text(tracer, span), payload)


def bpop(r, tracer, key, timeout_s):
    """TQ.BPOP: (item, context to continue from or None, wait_ms) or None on timeout."""
    reply = r.execute_command("TQ.BPOP", key, timeout_s)
    if not reply:
        return None
    item, carrier, _enqueued, wait = reply[0], reply[1], reply[2], reply[3]
    if isinstance(carrier, bytes):
        carrier = carrier.decode("utf-8", "replace")
    ctx = tracer.extract(Format.HTTP_HEADERS, _carrier_dict(carrier)) if carrier else None
    return json.loads(item), ctx, wait


def global_tracer():
    return opentracing.tracer
