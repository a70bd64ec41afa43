"""Gateway: the public API behind nginx.

    GET /git/<owner>/<repo>  -> 200 {"repo": ..., "contributors": [...], "trace_id": ...}

Asks the contributors service to fetch and queue the statistics, then waits on
a per-request reply list for the cleaning worker's answer (TQ.BPOP, traced by
tracewire's Redis module). The trace id is returned in the X-Trace-Id header.

Run: gunicorn -b 127.0.0.1:18081 examples.gateway:app
"""
import os
import uuid

import requests
from flask import Flask, jsonify, request
from flask_opentracing import FlaskTracing
from opentracing import follows_from, child_of
from opentracing.ext import tags
from opentracing.propagation import Format

from examples import demo_common as common

CONTRIBUTORS = os.environ.get("DEMO_CONTRIBUTORS_URL", "http://127.0.0.1:18082")
REPLY_TIMEOUT_S = 15

app = Flask(__name__)
tracer = common.init_tracer("gateway")
tracing = FlaskTracing(tracer, True, app)
r = common.redis_client()
http = requests.Session()


@app.route("/git/<owner>/<repo>")
def git(owner, repo):
    span = tracing.get_span(request)
    span.set_tag("demo.repo", "%s/%s" % (owner, repo))
    reply_key = "contributors:reply:" + uuid.uuid4().hex[:12]
    url = "%s/contributors/%s/%s" % (CONTRIBUTORS, owner, repo)
    with tracer.start_active_span("GET /contributors/{owner}/{repo}") as scope:
        s = scope.span
        s.set_tag(tags.SPAN_KIND, tags.SPAN_KIND_RPC_CLIENT)
        s.set_tag(tags.HTTP_METHOD, "GET")
        s.set_tag(tags.HTTP_URL, url)
        headers = {}
        tracer.inject(s, Format.HTTP_HEADERS, headers)
        resp = http.get(url, params={"reply": reply_key}, headers=headers, timeout=15)
        s.set_tag(tags.HTTP_STATUS_CODE, resp.status_code)
        if resp.status_code != 202:
            s.set_tag(tags.ERROR, True)
            return jsonify(error="contributors service answered %d" % resp.status_code), 502
    with tracer.start_active_span("receive " + "contributors:reply") as scope:
        s = scope.span
        s.set_tag(tags.SPAN_KIND, tags.SPAN_KIND_RPC_CLIENT)
        s.set_tag("messaging.system", "redis")
        s.set_tag("messaging.operation.type", "receive")
        s.set_tag("messaging.destination.name", reply_key)
        got = common.bpop(r, reply_key, REPLY_TIMEOUT_S)
        if got is None:
            s.set_tag(tags.ERROR, True)
            return jsonify(error="no reply from the worker in %d s" % REPLY_TIMEOUT_S), 504
        result, item = got
        s.set_tag("messaging.redis.queue_wait_ms", item.wait_us / 1000.0)
    ctx = common.continue_from(tracer, item)
    if ctx is not None:
        # The worker's reply as a span of its own: a child of the module's
        # "wait" span for the reply list, so Jaeger shows the hop back through
        # Redis; it also follows from the request span that waited for it.
        with tracer.start_active_span("process reply", references=[
                child_of(ctx), follows_from(span.context)]) as scope:
            scope.span.set_tag(tags.SPAN_KIND, "consumer")
            scope.span.set_tag("demo.contributors", len(result["contributors"]))
    trace_id = "%032x" % span.context.trace_id
    body = jsonify(repo=result["repo"], contributors=result["contributors"], trace_id=trace_id)
    return body, 200, {"X-Trace-Id": trace_id}
