"""Contributors service: fetches a repository's contributor statistics from the
GitHub API (or the local stand-in, see GITHUB_API) and hands the raw data to
the cleaning worker through a Redis list, traced by tracewire's Redis module.

    GET /contributors/<owner>/<repo>?reply=<redis key>   -> 202 {"queued": ...}

Run: gunicorn -b 127.0.0.1:18082 examples.contributors:app
"""
import os
import time

import requests
from flask import Flask, jsonify, request
from flask_opentracing import FlaskTracing
from opentracing.ext import tags
from opentracing.propagation import Format

from examples import demo_common as common

GITHUB_API = os.environ.get("GITHUB_API", "http://127.0.0.1:18090").rstrip("/")

app = Flask(__name__)
tracer = common.init_tracer("contributors")
tracing = FlaskTracing(tracer, True, app)
r = common.redis_client()
http = requests.Session()


def fetch_stats(owner, repo):
    """GET /repos/{owner}/{repo}/stats/contributors; GitHub answers 202 while it
    computes the statistics, so retry a few times as its docs advise."""
    url = "%s/repos/%s/%s/stats/contributors" % (GITHUB_API, owner, repo)
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "tracewire-demo"}
    if os.environ.get("GITHUB_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["GITHUB_TOKEN"]
    with tracer.start_active_span("GET /repos/{owner}/{repo}/stats/contributors") as scope:
        span = scope.span
        span.set_tag(tags.SPAN_KIND, tags.SPAN_KIND_RPC_CLIENT)
        span.set_tag(tags.HTTP_METHOD, "GET")
        span.set_tag(tags.HTTP_URL, url)
        span.set_tag(tags.PEER_SERVICE, "github")
        for attempt in range(1, 6):
            tracer.inject(span, Format.HTTP_HEADERS, headers)
            resp = http.get(url, headers=headers, timeout=10)
            if resp.status_code != 202:
                break
            span.log_kv({"event": "stats not ready", "http.status_code": 202,
                         "attempt": attempt})
            time.sleep(0.2 * attempt)
        span.set_tag(tags.HTTP_STATUS_CODE, resp.status_code)
        if resp.status_code != 200:
            span.set_tag(tags.ERROR, True)
            return None, resp.status_code
        data = resp.json()
        span.set_tag("demo.contributors", len(data))
        return data, 200


@app.route("/contributors/<owner>/<repo>")
def contributors(owner, repo):
    reply = request.args.get("reply", "")
    span = tracing.get_span(request)
    span.set_tag("demo.repo", "%s/%s" % (owner, repo))
    data, status = fetch_stats(owner, repo)
    if data is None:
        return jsonify(error="github answered %d" % status), 502
    with tracer.start_active_span("enqueue " + common.RAW_QUEUE) as scope:
        s = scope.span
        s.set_tag(tags.SPAN_KIND, tags.SPAN_KIND_PRODUCER)
        s.set_tag("messaging.system", "redis")
        s.set_tag("messaging.destination.name", common.RAW_QUEUE)
        length = common.push(r, tracer, s, common.RAW_QUEUE,
                             {"owner": owner, "repo": repo, "reply": reply, "raw": data})
        s.set_tag("demo.queue_length", int(length))
    return jsonify(queued=common.RAW_QUEUE, reply=reply), 202
