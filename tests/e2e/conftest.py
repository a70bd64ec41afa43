"""Fixtures for the end-to-end suite: a real Jaeger v2 started by run.sh (or
already listening), its query API, and the build tree the bindings come from.

Environment (set by run.sh):
  TW_E2E_QUERY          Jaeger query base URL [http://127.0.0.1:16686]
  TW_E2E_BUILD          cmake build dir with lua/5.4, lua/5.1 and redis-module [build/e2e]
  TW_E2E_SAMPLING_FILE  the strategies file Jaeger was started with (tests rewrite it)
"""
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUERY = os.environ.get("TW_E2E_QUERY", "http://127.0.0.1:16686")
BUILD = os.path.abspath(os.environ.get("TW_E2E_BUILD", os.path.join(TOP, "build", "e2e")))


class Jaeger:
    """The query API (/api/...) of the Jaeger under test."""

    def __init__(self, base):
        self.base = base

    def _get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def trace(self, trace_id):
        body = self._get("/api/traces/" + trace_id)
        data = (body or {}).get("data") or []
        return data[0] if data else None

    def wait_trace(self, trace_id, min_spans=1, timeout=15.0, settle=0.5):
        """Polls /api/traces/{id} until it holds min_spans spans and stops
        growing for `settle` s; returns the trace (or the last one seen)."""
        deadline = time.monotonic() + timeout
        last, last_n, since = None, -1, time.monotonic()
        while time.monotonic() < deadline:
            tr = self.trace(trace_id)
            n = len(tr["spans"]) if tr else 0
            if n != last_n:
                last_n, since = n, time.monotonic()
            last = tr or last
            if n >= min_spans and time.monotonic() - since >= settle:
                return tr
            time.sleep(0.1)
        return last

    def traces(self, service, lookback_s=3600, limit=1000):
        q = urllib.parse.urlencode({
            "service": service, "limit": limit,
            "start": int((time.time() - lookback_s) * 1e6), "end": int((time.time() + 60) * 1e6)})
        body = self._get("/api/traces?" + q)
        return (body or {}).get("data") or []

    def services(self):
        return (self._get("/api/services") or {}).get("data") or []


@pytest.fixture(scope="session")
def jaeger():
    j = Jaeger(QUERY)
    try:
        j.services()
    except Exception as e:  # a missing Jaeger is a failure here, never a skip
        pytest.fail("no Jaeger query API at %s (%s); run tests/e2e/run.sh" % (QUERY, e))
    return j


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


def spans_by_name(trace):
    out = {}
    for s in trace["spans"]:
        out.setdefault(s["operationName"], []).append(s)
    return out


def service_of(trace, span):
    return trace["processes"][span["processID"]]["serviceName"]


def tags_of(span):
    return {t["key"]: (t["type"], t["value"]) for t in span.get("tags") or []}


def refs_of(span, kind):
    return [r["spanID"] for r in span.get("references") or [] if r["refType"] == kind]


# ---------------------------------------------------------------- summary
# A protocol x binding matrix at the end of the run (CI logs, the lead's note).
_matrix = {}


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.failed):
        return
    nodeid = report.nodeid
    row = col = None
    if "test_scenario_reaches_jaeger_intact[" in nodeid:
        binding, proto = nodeid.split("[", 1)[1].rstrip("]").split("-")
        row, col = binding, proto
    elif "test_queue_spans_reach_jaeger[" in nodeid:
        row, col = "redis-module", nodeid.split("[", 1)[1].rstrip("]")
    if row:
        _matrix[(row, col)] = "pass" if report.passed else "FAIL"


def pytest_terminal_summary(terminalreporter):
    if not _matrix:
        return
    tr = terminalreporter
    protos = ["udp", "http", "otlp", "otlp+gzip", "otlp+json"]
    tr.write_sep("=", "protocol x binding (spans fetched back from Jaeger)")
    tr.write_line("%-14s %s" % ("", "  ".join("%-6s" % p for p in protos)))
    for row in ["python", "lua5.4", "luajit", "redis-module"]:
        cells = [_matrix.get((row, p), "-") for p in protos]
        tr.write_line("%-14s %s" % (row, "  ".join("%-6s" % c for c in cells)))
