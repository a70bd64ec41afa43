"""The OpenTelemetry face in the real Jaeger (issue #16): an OTel-instrumented
Flask service on tracewire.otel calls an opentracing-face service which calls
it back (emit_otel.py); all five spans arrive over OTLP/HTTP in ONE trace, each
the child of the one before, from the right service, with the
instrumentations' semantic-convention tags."""
import json
import os
import subprocess
import sys
import uuid

from conftest import refs_of, service_of, spans_by_name, tags_of

HERE = os.path.dirname(os.path.abspath(__file__))


def test_otel_face_and_opentracing_face_one_trace_in_jaeger(jaeger):
    run = uuid.uuid4().hex[:8]
    p = subprocess.run([sys.executable, os.path.join(HERE, "emit_otel.py"), run],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["body"] == "deep" and out["flushed"], out
    tr = jaeger.wait_trace(out["trace_id"], min_spans=5, timeout=30)
    assert tr is not None, "trace %s not in Jaeger" % out["trace_id"]
    got = {k: v[0] for k, v in spans_by_name(tr).items()}
    assert len(tr["spans"]) == 5, sorted(got)
    sa, work, cl, bh, sc = (got["GET /a"], got["work"], got["GET"], got["back-handler"],
                            got["GET /c"])
    assert refs_of(sa, "CHILD_OF") == []
    assert refs_of(work, "CHILD_OF") == [sa["spanID"]]
    assert refs_of(cl, "CHILD_OF") == [work["spanID"]]
    assert refs_of(bh, "CHILD_OF") == [cl["spanID"]]
    assert refs_of(sc, "CHILD_OF") == [bh["spanID"]]
    assert [service_of(tr, s) for s in (sa, work, cl, bh, sc)] == [
        out["front"], out["front"], out["front"], out["back"], out["front"]]
    ta, tw, tc = tags_of(sa), tags_of(work), tags_of(cl)
    assert ta["http.route"][1] == "/a" and ta["http.method"][1] == "GET"
    assert ta["span.kind"][1] == "server" and tc["span.kind"][1] == "client"
    assert tc["http.url"][1].endswith("/b")
    # Jaeger shows each span's OTLP InstrumentationScope as otel.scope.* tags:
    # the instrumentations' own, and emit_otel's tracer for "work"
    assert tw["otel.scope.name"][1] == "emit_otel" and tw["otel.scope.version"][1] == "1.0"
    assert ta["otel.scope.name"][1] == "opentelemetry.instrumentation.flask"
    assert tc["otel.scope.name"][1] == "opentelemetry.instrumentation.requests"
    # an OTLP array attribute: Jaeger stores it as its JSON text
    assert json.loads(tw["items"][1]) == [1, 2, 3]
    assert [f["value"] for lg in work.get("logs") or [] for f in lg["fields"]
            if f["key"] == "event"] == ["checkpoint"]
    assert tags_of(bh)["face"][1] == "opentracing"
