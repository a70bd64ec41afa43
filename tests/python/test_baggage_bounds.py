"""Too much baggage is counted, never a lost trace (issue #19 items 3 and 4).

inject leaves out whole items beyond max_baggage_size (8192 bytes per
header, W3C Baggage's limit) or 180 items and counts them in
metrics()["baggage_dropped"]; extract of 100,000 uberctx-* headers or more
than 180 items keeps the trace context (ids asserted) and counts what it
dropped. jaeger_client 4.8 has no bound at all on either side; beside it,
the trace context survives the same carrier. The drops are said through
the diagnostics hook (logging "jaeger_tracing"), rate-limited."""
import threading
import time

import jaeger_client
from opentracing import Format

import tracewire
from conftest import HttpSink, memory_tracer
from test_diagnostics import records  # noqa: F401  (the fixture)

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"


def uberctx(n):
    h = {"uber-trace-id": "%s:%s:0:1" % (TID, SID)}
    h.update(("uberctx-k%d" % i, "v%d" % i) for i in range(n))
    return h


def test_inject_sends_four_of_five_2000_byte_items_and_counts_the_fifth():
    t = memory_tracer(propagation="jaeger,w3c")
    try:
        s = t.start_span("out")
        for i in range(5):
            s.set_baggage_item("k%d" % i, "v" * 2000)
        assert t.metrics()["baggage_dropped"] == 0
        h = {}
        t.inject(s.context, Format.HTTP_HEADERS, h)
        assert sorted(k for k in h if k.startswith("uberctx-")) == ["uberctx-k%d" % i for i in range(4)]
        assert h["baggage"].count(",") == 3 and len(h["baggage"]) <= 8192
        assert "k4=" not in h["baggage"]
        # both headers left out the same item: counted once
        assert t.metrics()["baggage_dropped"] == 1
        # the peer gets the trace and the four items
        ctx = t.extract(Format.HTTP_HEADERS, h)
        assert ctx.span_id == s.context.span_id and len(ctx.baggage) == 4
        assert t.metrics()["baggage_dropped"] == 1
    finally:
        t.close()


def test_extract_of_100k_uberctx_headers_keeps_the_trace_and_counts():
    t = memory_tracer(propagation="jaeger,w3c")
    try:
        ctx = t.extract(Format.HTTP_HEADERS, uberctx(100000))
        assert "%032x" % ctx.trace_id == TID
        assert "%016x" % ctx.span_id == SID
        assert len(ctx.baggage) == 180
        assert ctx.baggage["k0"] == "v0" and ctx.baggage["k179"] == "v179"
        assert t.metrics()["baggage_dropped"] == 100000 - 180
        child = t.start_span("in", child_of=ctx)
        assert child.context.trace_id == ctx.trace_id and child.context.parent_id == ctx.span_id
        child.finish()
        (span,) = t.memory_spans()
        assert span["trace_id"] == TID and span["parent_id"] == SID
    finally:
        t.close()


def test_jaeger_client_beside_it_keeps_the_trace_too():
    jc = jaeger_client.Tracer("side", reporter=jaeger_client.reporter.NullReporter(),
                              sampler=jaeger_client.ConstSampler(True))
    try:
        ctx = jc.extract(Format.HTTP_HEADERS, uberctx(1000))
        assert "%032x" % ctx.trace_id == TID      # jaeger_client keeps all 1000 items
        assert len(ctx.baggage) == 1000
    finally:
        jc.close()


def test_extract_of_181_w3c_items_keeps_180_and_the_traceparent():
    t = memory_tracer(propagation="w3c")
    try:
        h = {"traceparent": "00-%s-%s-01" % (TID, SID),
             "baggage": ",".join("k%d=1" % i for i in range(181))}
        ctx = t.extract(Format.HTTP_HEADERS, h)
        assert "%016x" % ctx.span_id == SID
        assert len(ctx.baggage) == 180 and "k180" not in ctx.baggage
        assert t.metrics()["baggage_dropped"] == 1
    finally:
        t.close()


def test_extract_of_an_oversized_baggage_header_keeps_whole_members():
    t = memory_tracer(propagation="w3c")
    try:
        h = {"traceparent": "00-%s-%s-01" % (TID, SID),
             "baggage": ",".join("k%d=%s" % (i, "x" * 1000) for i in range(10))}
        ctx = t.extract(Format.HTTP_HEADERS, h)
        assert "%016x" % ctx.span_id == SID
        assert sorted(ctx.baggage) == ["k%d" % i for i in range(8)]
        assert all(v == "x" * 1000 for v in ctx.baggage.values())
        assert t.metrics()["baggage_dropped"] == 2
    finally:
        t.close()


# ---------------------------------------------------------------- it speaks

def test_dropped_baggage_is_said_through_jaeger_tracing_then_summarised(records):
    """The reporter thread says the first drop at once (logging
    "jaeger_tracing", kind "baggage"); a flood after it is one summary (at
    close here, else at most one per 10 s), never a line per request."""
    sink = HttpSink(status=202)               # a healthy collector: nothing else to say
    t = tracewire.Tracer({"service_name": "bag", "sampler.type": "const", "sampler.param": "1",
                          "reporter.protocols": "http",
                          "reporter.endpoint": "http://127.0.0.1:%d/api/traces" % sink.port,
                          "propagation": "jaeger,w3c"})
    try:
        s = t.start_span("out")
        for i in range(5):
            s.set_baggage_item("k%d" % i, "v" * 2000)
        t.inject(s.context, Format.HTTP_HEADERS, {})
        s.finish()                            # starts the reporter thread
        got = records.wait(1, 3.0)
        assert len(got) == 1, [r.getMessage() for r in got]
        r = got[0]
        assert r.tracewire_kind == "baggage" and r.tracewire_count == 1
        assert r.thread != threading.get_ident()
        msg = r.getMessage()
        assert "1 baggage items dropped" in msg and "max_baggage_size=8192" in msg, msg
        assert "180 items" in msg and "baggage_dropped" in msg, msg
        for _ in range(50):                   # 50 hostile requests
            ctx = t.extract(Format.HTTP_HEADERS, uberctx(1000))
            assert "%016x" % ctx.span_id == SID
        t.start_span("more").finish()
        assert t.flush(5) is True             # dropped baggage is no delivery failure
        time.sleep(0.5)
        assert len(records.records) == 1      # rate-limited: no line per request
        t.close(5)
        summary = records.wait(2, 2.0)[1:]
        assert len(summary) == 1 and summary[0].tracewire_kind == "baggage"
        assert summary[0].tracewire_count == 50 * (1000 - 180), summary[0].getMessage()
        assert t.metrics()["baggage_dropped"] == 1 + 50 * (1000 - 180)
    finally:
        t.close(1)
        sink.close()
