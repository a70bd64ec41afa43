"""Too much baggage at the edge (issue #19 item 4): a request carrying 300
uberctx-* headers beside its traceparent is continued, not restarted — the
nginx span is the child of the incoming span — the 120 items beyond the
180-item bound are dropped, and each worker's exit line counts them
("baggage dropped N", summed over the workers)."""
import re
import uuid

from conftest import Collector, Nginx, UdpSink, hexid, nginx_span_for, trace_of

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
DROPPED_RE = re.compile(r"tracewire: worker exit: .*; send failures \d+; baggage dropped (\d+)")


def test_300_baggage_headers_keep_the_trace_and_are_counted(tmp_path, upstream):
    sink = UdpSink()
    ngx = Nginx(tmp_path, sink.port, upstream[0])
    try:
        coll = Collector(sink)
        mark = uuid.uuid4().hex
        headers = {"traceparent": "00-%s-%s-01" % (TID, SID)}
        headers.update(("uberctx-k%d" % i, "v") for i in range(300))
        status, _, _ = ngx.get("/static/x.txt?m=" + mark, headers=headers)
        assert status == 200
        span = nginx_span_for(coll, mark)
        assert trace_of(span) == TID
        assert hexid(span.parentSpanId) == SID
        ngx.quit()
        counts = [int(n) for n in DROPPED_RE.findall(ngx.error_log())]
        assert len(counts) == 2                  # one exit line per worker
        assert sum(counts) == 300 - 180
    finally:
        ngx.stop()
        sink.close()
