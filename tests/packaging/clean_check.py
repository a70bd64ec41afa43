"""Runs inside scripts/cleanroom with a fresh venv's interpreter that has only the
repaired tracewire wheel and opentracing installed: no system libcurl/jansson, no
compiler, no headers. Imports tracewire from the venv, sends one span over Thrift
HTTP (libcurl) to a sink on 127.0.0.1, and reports what the dynamic loader really
used: ldd of the installed extension and this process's /proc/self/maps after the
send. Writes a JSON report and the raw HTTP body for tests/packaging/test_wheel.py
(which decodes it with the Jaeger IDL; this venv has no thrift).

    python clean_check.py REPORT.json BODY.bin
"""
import glob
import json
import os
import subprocess
import sys
import sysconfig
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

report_path, body_path = sys.argv[1], sys.argv[2]
bodies = []


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        bodies.append((self.path, self.headers.get("Content-Type"),
                       self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *a):
        pass


srv = HTTPServer(("127.0.0.1", 0), Sink)
threading.Thread(target=srv.serve_forever, daemon=True).start()

import tracewire  # noqa: E402  (after the sink, before anything else loads libcurl)

tracer = tracewire.Config(
    config={"sampler": {"type": "const", "param": 1}, "protocol": "http",
            "endpoint": "http://127.0.0.1:%d/api/traces" % srv.server_port},
    service_name="cleanroom", validate=True).new_tracer()
with tracer.start_active_span("cleanroom-span") as scope:
    scope.span.set_tag("python", sys.version.split()[0])
flushed = tracer.flush(5)
tracer.close()
srv.shutdown()

ext = glob.glob(os.path.join(os.path.dirname(tracewire.__file__), "_core*.so"))
with open("/proc/self/maps") as f:
    maps = sorted({line.split()[-1] for line in f if line.rstrip().split()[-1].startswith("/")})
from importlib import metadata  # noqa: E402

report = {
    "version": tracewire.__version__,
    "dist_version": metadata.version("tracewire"),
    "file": tracewire.__file__,
    "purelib": sysconfig.get_paths()["purelib"],
    "platlib": sysconfig.get_paths()["platlib"],
    "ldd": subprocess.run(["ldd", ext[0]], capture_output=True, text=True).stdout if ext else "",
    "ext": ext,
    "maps": maps,
    "flushed": bool(flushed),
    "posts": [(p, ct, len(b)) for p, ct, b in bodies],
    "ld_library_path": os.environ.get("LD_LIBRARY_PATH"),
}
with open(report_path, "w") as f:
    json.dump(report, f, indent=1)
with open(body_path, "wb") as f:
    f.write(bodies[0][2] if bodies else b"")
