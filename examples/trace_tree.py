"""Fetch one trace from Jaeger's query API and print it as an indented tree.

Used by scripts/demo (as a program) and by tests/e2e (as a module). Only the
standard library: the demo runs it before anything else is known to work.

    python examples/trace_tree.py TRACE_ID [--query http://127.0.0.1:16686]
        [--expect-services N] [--timeout S]

Jaeger stores spans a little after they arrive (batch processor, reporters'
flush intervals), so fetch() polls until the trace stops growing.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request

QUERY = "http://127.0.0.1:16686"

# Tags worth a place on a terminal line; the rest stay in Jaeger.
KEY_TAGS = (
    "span.kind", "http.method", "http.status_code", "error", "peer.service",
    "messaging.operation.type", "messaging.destination.name",
    "messaging.redis.queue_wait_ms", "demo.contributors",
)
SHORT = {"messaging.operation.type": "op", "messaging.destination.name": "queue",
         "messaging.redis.queue_wait_ms": "queue_wait_ms", "http.status_code": "status",
         "http.method": "method", "span.kind": "kind", "peer.service": "peer",
         "demo.contributors": "contributors"}


def get_trace(trace_id, query=QUERY):
    """The trace object of /api/traces/{id}, or None while Jaeger has not got it."""
    url = "%s/api/traces/%s" % (query, trace_id)
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise
    data = body.get("data") or []
    return data[0] if data else None


def fetch(trace_id, query=QUERY, expect_services=0, expect_spans=0, timeout=20.0, settle=1.5):
    """Poll until the trace has the expected services/spans and has not grown
    for `settle` seconds (or until timeout); returns the last trace seen."""
    deadline = time.monotonic() + timeout
    last, last_n, stable_since = None, -1, time.monotonic()
    while True:
        tr = get_trace(trace_id, query)
        n = len(tr["spans"]) if tr else 0
        if n != last_n:
            last_n, stable_since = n, time.monotonic()
        last = tr or last
        if tr and len(services(tr)) >= expect_services and n >= expect_spans \
                and time.monotonic() - stable_since >= settle:
            return tr
        if time.monotonic() > deadline:
            return last
        time.sleep(0.2)


def services(trace):
    procs = trace["processes"]
    return sorted({procs[s["processID"]]["serviceName"] for s in trace["spans"]})


def parent_of(span):
    """The span id of the CHILD_OF reference (Jaeger's only parent marker)."""
    for ref in span.get("references") or []:
        if ref["refType"] == "CHILD_OF":
            return ref["spanID"]
    return None


def tag_map(span):
    return {t["key"]: t["value"] for t in span.get("tags") or []}


def _short(v, n=32):
    v = str(v)
    return v if len(v) <= n else v[:n - 1] + "\u2026"


def _fmt_ms(us):
    return "%.2f ms" % (us / 1000.0) if us < 10_000_000 else "%.1f s" % (us / 1e6)


def render(trace, query=QUERY, color=False):
    """The tree as a list of lines (no trailing newline)."""
    spans = trace["spans"]
    procs = trace["processes"]
    by_id = {s["spanID"]: s for s in spans}
    kids = {}
    roots = []
    for s in spans:
        p = parent_of(s)
        if p and p in by_id:
            kids.setdefault(p, []).append(s)
        else:
            roots.append(s)
    for v in kids.values():
        v.sort(key=lambda s: s["startTime"])
    roots.sort(key=lambda s: s["startTime"])
    t0 = min(s["startTime"] for s in spans)
    t1 = max(s["startTime"] + s["duration"] for s in spans)
    svcs = services(trace)
    bold = (lambda x: "\033[1m%s\033[0m" % x) if color else (lambda x: x)
    dim = (lambda x: "\033[2m%s\033[0m" % x) if color else (lambda x: x)
    out = [
        "trace %s: %d spans, %d services (%s), %s" % (
            trace["traceID"], len(spans), len(svcs), ", ".join(svcs), _fmt_ms(t1 - t0)),
        "Jaeger UI:  %s/trace/%s" % (query, trace["traceID"]),
        "Jaeger API: %s/api/traces/%s" % (query, trace["traceID"]),
        "",
    ]
    width = 0
    rows = []

    def walk(s, prefix, last, depth):
        svc = procs[s["processID"]]["serviceName"]
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        tags = tag_map(s)
        keys = ["%s=%s" % (SHORT.get(k, k), _short(tags[k])) for k in KEY_TAGS if k in tags]
        refs = [r for r in s.get("references") or [] if r["refType"] == "FOLLOWS_FROM"]
        if refs:
            keys.append("follows_from=%s" % ",".join(r["spanID"] for r in refs))
        if "wait" in s["operationName"].lower():
            keys.insert(0, "<- time in the Redis list")
        offset = s["startTime"] - t0
        op = _short(s["operationName"], 44)
        label = "%s%s%s %s" % (prefix, branch, bold(svc), op)
        rows.append((label, len(prefix) + len(branch) + len(svc) + 1 + len(op),
                     "%9s %10s  %s" % (_fmt_ms(offset), _fmt_ms(s["duration"]),
                                       dim("  ".join(k for k in keys if k)))))
        child_prefix = prefix + ("" if depth == 0 else ("   " if last else "│  "))
        ch = kids.get(s["spanID"], [])
        for i, c in enumerate(ch):
            walk(c, child_prefix, i == len(ch) - 1, depth + 1)

    for r in roots:
        walk(r, "", True, 0)
    width = max(w for _, w, _ in rows)
    out.append("service operation" + " " * (width - 17 + 2) + "%9s %10s  %s" % (
        "start", "duration", "key tags"))
    for label, w, rest in rows:
        out.append(label + " " * (width - w + 2) + rest)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace_id")
    ap.add_argument("--query", default=QUERY)
    ap.add_argument("--expect-services", type=int, default=0)
    ap.add_argument("--expect-spans", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--json", help="also write the raw trace JSON here")
    a = ap.parse_args(argv)
    tr = fetch(a.trace_id, a.query, a.expect_services, a.expect_spans, a.timeout)
    if not tr:
        print("trace %s: not found in Jaeger (%s)" % (a.trace_id, a.query), file=sys.stderr)
        return 1
    if a.json:
        with open(a.json, "w") as f:
            json.dump(tr, f, indent=1)
    print("\n".join(render(tr, a.query, color=sys.stdout.isatty())))
    n = len(services(tr))
    if a.expect_services and n < a.expect_services:
        print("\nonly %d of %d services reached Jaeger" % (n, a.expect_services), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
