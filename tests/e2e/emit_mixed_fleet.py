"""A mixed fleet in one process: jaeger_client 4.8 and tracewire.Config services
handing one trace to each other, reported to the real Jaeger's agent (UDP 6831).

    emit_mixed_fleet.py http <run-id> [propagation]   # over real HTTP requests
    emit_mixed_fleet.py redis <run-id> <redis-port>   # the talk's Redis JSON messages

Each chain is three services: jc -> tw -> jc and tw -> jc -> tw. Every hop
extracts the incoming carrier with its own tracer, starts its span as a child,
and (except the last) injects with its own tracer into the next hop's carrier.
Only the import differs between the services' configs: both are given the same
jaeger_client dict (sampler const 1, so every span arrives; ids, propagation,
headers are each library's defaults). Prints one JSON line: per chain the root
trace id (hex), the expected spans (service, operation, parent operation) and
every carrier that crossed the wire.
"""
import http.server
import json
import sys
import threading
import time
import urllib.request

import jaeger_client
from opentracing.propagation import Format

import tracewire

mode, run = sys.argv[1], sys.argv[2]
propagation = sys.argv[3] if mode == "http" and len(sys.argv) > 3 else None


def config(service):
    c = {"sampler": {"type": "const", "param": 1},
         "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": 6831},
         "reporter_flush_interval": 0.1, "logging": False}
    if propagation:
        c["propagation"] = propagation
    return c


TRACERS = {}


def tracer(kind, service):
    key = (kind, service)
    if key not in TRACERS:
        cls = jaeger_client.Config if kind == "jc" else tracewire.Config
        TRACERS[key] = cls(config(service), service_name=service, validate=True).new_tracer()
    return TRACERS[key]


def chain(kinds):
    """[(kind, service)] for a chain like ('jc', 'tw', 'jc')."""
    tag = "".join(k[0] for k in kinds)
    return [(k, "fleet-%s-%s-%d-%s" % (mode, tag, i, run)) for i, k in enumerate(kinds)]


CARRIERS = []


def hop_span(i, hops, carrier):
    kind, service = hops[i]
    t = tracer(kind, service)
    fmt = Format.HTTP_HEADERS if mode == "http" else Format.TEXT_MAP
    ctx = t.extract(fmt, carrier) if carrier is not None else None
    span = t.start_span("hop%d.%s" % (i, kind), child_of=ctx)
    if i == 0:
        span.set_baggage_item("fleet-run", run)
    else:
        span.set_tag("fleet.baggage", span.get_baggage_item("fleet-run") or "")
    out = None
    if i + 1 < len(hops):
        out = {}
        t.inject(span.context, fmt, out)
        CARRIERS.append({"from": kind, "hop": i, "keys": sorted(out), "carrier": out})
    return span, out


# ---------------------------------------------------------------- HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        i = int(self.path.strip("/").split("/")[0])
        hops = self.server.chains[self.path.strip("/").split("/")[1]]
        span, out = hop_span(i, hops, dict(self.headers.items()))
        if out is not None:
            call(self.server, hops, i + 1, out)
        span.finish()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def call(server, hops, i, headers):
    name = [k for k, v in server.chains.items() if v is hops][0]
    req = urllib.request.Request("http://127.0.0.1:%d/%d/%s" % (server.server_port, i, name),
                                 headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.read() == b"ok"


def run_http(chains):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.chains = {"".join(k[0] for k, _ in c): c for c in chains}
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    roots = {}
    for name, hops in srv.chains.items():
        span, out = hop_span(0, hops, None)
        call(srv, hops, 1, out)
        span.finish()
        roots[name] = span
    srv.shutdown()
    return roots


# ---------------------------------------------------------------- Redis JSON messages

def run_redis(chains, port):
    import redis
    r = redis.Redis(host="127.0.0.1", port=port)
    roots = {}
    for hops in chains:
        name = "".join(k[0] for k, _ in hops)
        span, out = hop_span(0, hops, None)
        r.lpush("fleet:%s:1" % name, json.dumps({"trace": out, "body": {"n": 1}}))
        span.finish()
        roots[name] = span
        for i in range(1, len(hops)):
            _, raw = r.brpop("fleet:%s:%d" % (name, i), timeout=10)
            msg = json.loads(raw)
            span, out = hop_span(i, hops, msg["trace"])
            if out is not None:
                r.lpush("fleet:%s:%d" % (name, i + 1), json.dumps({"trace": out, "body": msg["body"]}))
            span.finish()
    return roots


def trace_hex(span):
    tid = span.trace_id
    return "%016x" % tid if tid < 2 ** 64 else "%032x" % tid


chains = [chain(("jc", "tw", "jc")), chain(("tw", "jc", "tw"))]
roots = run_http(chains) if mode == "http" else run_redis(chains, int(sys.argv[3]))

for t in TRACERS.values():
    if isinstance(t, tracewire.Tracer):
        assert t.flush(5), "tracewire flush failed"
        t.close(2)
# jaeger_client's reporter sends from its own ioloop thread every 0.1 s (its
# close() wants a tornado loop in this thread; waiting is enough here)
time.sleep(1.5)

result = {}
for hops in chains:
    name = "".join(k[0] for k, _ in hops)
    result[name] = {
        "trace_id": trace_hex(roots[name]),
        "trace_id_int": roots[name].trace_id,
        "spans": [[svc, "hop%d.%s" % (i, k), None if i == 0 else "hop%d.%s" % (i - 1, hops[i - 1][0])]
                  for i, (k, svc) in enumerate(hops)],
    }
print(json.dumps({"chains": result, "carriers": CARRIERS}))
