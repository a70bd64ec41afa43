"""The WSGI app of the gunicorn prefork test (test_gunicorn.py).

Loaded with --preload: the master imports this module and creates the
tracer (which must start no thread), then forks the workers; each worker's
reporter starts lazily on its first span. Every request makes a server span
and a child span tagged with the worker's pid. At worker exit the tracer is
closed and the worker writes its request count and counters to
$HZ_OUT/<pid>.json. HZ_TRACING=0 serves the same responses without tracing
(the latency baseline).
"""
import json
import os
import threading

import tracewire

TRACING = os.environ.get("HZ_TRACING", "1") == "1"
OUT = os.environ["HZ_OUT"]
tracer = None
if TRACING:
    tracer = tracewire.Tracer({
        "service_name": "hardening-gunicorn",
        "reporter.protocols": "http",
        "reporter.endpoint": os.environ["HZ_ENDPOINT"],
        "reporter.queue_size": "100000",
        "reporter.flush_interval_ms": "100",
        "sampler.type": "const",
        "sampler.param": "1",
    })
MASTER_THREADS = threading.active_count()
_requests = 0
_lock = threading.Lock()


def app(environ, start_response):
    global _requests
    with _lock:
        _requests += 1
    if tracer is not None:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        parent = tracer.extract("http_headers", headers) if "uber-trace-id" in headers else None
        with tracer.start_active_span("GET /", child_of=parent,
                                      tags={"span.kind": "server", "worker.pid": os.getpid()}) as scope:
            with tracer.start_active_span("render", tags={"worker.pid": os.getpid()}):
                body = b"ok\n"
            scope.span.set_tag("http.status_code", 200)
    else:
        body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def worker_exit():
    info = {"pid": os.getpid(), "requests": _requests, "master_threads": MASTER_THREADS}
    if tracer is not None:
        info["close"] = str(tracer.close(5.0))
        info["counters"] = tracer.counters()
    with open(os.path.join(OUT, "%d.json" % os.getpid()), "w") as f:
        json.dump(info, f)
