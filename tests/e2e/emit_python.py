"""Emits the e2e scenario through tracewire's Python binding, then prints one JSON
line describing what it sent (ids, timestamps, the propagation carrier).

    python emit_python.py PROTOCOL SERVICE
    PROTOCOL: udp | http | otlp (protobuf) | otlp+gzip | otlp+json

The scenario (the same in emit.lua; checked by test_bindings.py), with explicit
timestamps relative to t0 so Jaeger's copy can be compared exactly:
  e2e.root          t0 .. t0+10ms, span.kind=server, one tag of each type, one log
                    at t0+2ms with typed fields, baggage e2e-bag set
  e2e.child         child_of root, t0+1ms .. t0+3ms
  e2e.remote_child  child_of the root's context after inject/extract through HTTP
                    headers; tags the baggage it received as e2e.baggage
  e2e.follower      follows_from root only, t0+11ms .. t0+12ms
"""
import json
import sys
import time

from opentracing import follows_from
from opentracing.propagation import Format

import tracewire

proto, service = sys.argv[1], sys.argv[2]
config = {
    "sampler": {"type": "const", "param": 1},
    "logging": False,
    "protocol": proto.split("+")[0],
    "options": {"otlp+gzip": {"reporter.otlp_compression": "gzip"},
                "otlp+json": {"reporter.otlp_protocol": "http/json"}}.get(proto, {}),
    "generate_128bit_trace_id": True,
    "tags": {"e2e.process": "python"},
    "reporter_flush_interval": 0.1,
}
tracer = tracewire.Config(config=config, service_name=service, validate=True).initialize_tracer()

t0 = (int(time.time() * 1000) - 50) * 1000      # whole ms, in µs
s = lambda us: us / 1e6                           # opentracing takes float seconds

root = tracer.start_span("e2e.root", start_time=s(t0), tags={
    "e2e.str": "h\u00e9llo w\u00f6rld \u2713",
    "e2e.int": -42,
    "e2e.int_large": 1234567890123,
    "e2e.float": 3.25,
    "e2e.bool": True,
    "e2e.bin": b"\x00\x01\xfetw",
})
root.set_tag("span.kind", "server")
root.log_kv({"event": "e2e.event", "e2e.n": 7, "e2e.f": 0.5, "e2e.flag": False},
            timestamp=s(t0 + 2000))
root.set_baggage_item("e2e-bag", "bag value 1")

child = tracer.start_span("e2e.child", child_of=root, start_time=s(t0 + 1000))
child.finish(finish_time=s(t0 + 3000))

carrier = {}
tracer.inject(root.context, Format.HTTP_HEADERS, carrier)
ctx = tracer.extract(Format.HTTP_HEADERS, carrier)
remote = tracer.start_span("e2e.remote_child", child_of=ctx, start_time=s(t0 + 4000))
remote.set_tag("e2e.baggage", remote.get_baggage_item("e2e-bag"))
remote.finish(finish_time=s(t0 + 6000))

root.finish(finish_time=s(t0 + 10000))
follower = tracer.start_span("e2e.follower", references=[follows_from(root.context)],
                             start_time=s(t0 + 11000))
follower.finish(finish_time=s(t0 + 12000))

ids = {n: "%016x" % sp.context.span_id for n, sp in
       [("e2e.root", root), ("e2e.child", child), ("e2e.remote_child", remote),
        ("e2e.follower", follower)]}
trace_id = "%032x" % root.context.trace_id
otlp = [tracer.config("reporter.otlp_protocol"), tracer.config("reporter.otlp_compression")]
tracer.close()
print(json.dumps({"trace_id": trace_id, "t0_us": t0, "span_ids": ids, "carrier": carrier,
                  "otlp": otlp}))
