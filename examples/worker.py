"""Cleaning worker: pops raw contributor statistics from Redis (TQ.BPOP through
tracewire's Redis module, so the trace continues from the producer), reduces
them to a ranked summary, and pushes the result on the request's reply list.

Run: python -m examples.worker
"""
import signal
import sys

from opentracing.ext import tags
from tracewire import redis_queue

from examples import demo_common as common

TOP = 10


def clean(raw):
    """GitHub's per-week stats -> a ranked list of who did what."""
    out = []
    for c in raw:
        weeks = c.get("weeks") or []
        out.append({
            "login": (c.get("author") or {}).get("login", "ghost"),
            "commits": c.get("total", 0),
            "additions": sum(w.get("a", 0) for w in weeks),
            "deletions": sum(w.get("d", 0) for w in weeks),
            "active_weeks": sum(1 for w in weeks if w.get("c")),
        })
    out.sort(key=lambda c: (-c["commits"], c["login"]))
    return out[:TOP]


def main():
    tracer = common.init_tracer("worker")
    r = common.redis_client()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        got = common.bpop(r, common.RAW_QUEUE, 1)
        if got is None:
            continue
        job, item = got
        # "process contributors:raw", a CONSUMER child of the module's wait span.
        span = redis_queue.consumer_span(tracer, item, common.RAW_QUEUE, tags={
            "messaging.redis.queue_wait_ms": item.wait_us / 1000.0,
            "demo.repo": "%s/%s" % (job["owner"], job["repo"])})
        with tracer.scope_manager.activate(span, True):
            with tracer.start_active_span("clean contributor stats") as inner:
                result = clean(job["raw"])
                inner.span.set_tag("demo.contributors", len(result))
            with tracer.start_active_span("send reply") as inner:
                inner.span.set_tag(tags.SPAN_KIND, tags.SPAN_KIND_PRODUCER)
                inner.span.set_tag("messaging.system", "redis")
                inner.span.set_tag("messaging.destination.name", job["reply"])
                common.push(r, tracer, inner.span, job["reply"],
                            {"repo": "%s/%s" % (job["owner"], job["repo"]),
                             "contributors": result})
                r.expire(job["reply"], 60)
    tracer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
