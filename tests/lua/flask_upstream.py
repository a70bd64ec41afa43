"""The Flask upstream behind nginx in test_nginx.py, traced with tracewire's
Python binding. Usage: flask_upstream.py <http_port> <agent_udp_port>.
Its server span continues the context nginx injected. SIGTERM closes the
tracer (flushing every finished span) before exiting."""
import os
import signal
import sys

from flask import Flask, jsonify, request
from opentracing.propagation import Format

import tracewire

http_port, agent_port = int(sys.argv[1]), int(sys.argv[2])
tracer = tracewire.Config({
    "sampler": {"type": "const", "param": 1},
    "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": agent_port},
    "protocol": "udp",
    "reporter_flush_interval": 0.1,
}, service_name="flask-upstream", validate=True).new_tracer()

app = Flask(__name__)


@app.route("/api/<path:rest>")
def api(rest):
    parent = tracer.extract(Format.HTTP_HEADERS, dict(request.headers))
    with tracer.start_active_span("flask /api/" + rest, child_of=parent,
                                  tags={"span.kind": "server"}) as scope:
        scope.span.set_tag("http.method", request.method)
        return jsonify({k.lower(): v for k, v in request.headers.items()})


def stop(*_):
    tracer.close()
    os._exit(0)


signal.signal(signal.SIGTERM, stop)

if __name__ == "__main__":
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host="127.0.0.1", port=http_port, threaded=True)
