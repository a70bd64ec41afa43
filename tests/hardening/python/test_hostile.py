"""Hostile values through the Python binding that the fuzzers found to reach
the core: extreme timestamps (the OTLP nanosecond and span-duration overflows
fixed in otlp_json.c / span.c) and non-finite doubles in tags. Run by
tests/hardening/sanitized_python.sh against the ASan+UBSan build, where an
overflow aborts the interpreter."""
import json
import math
import socket

import pytest

import tracewire


def tracer(**extra):
    opts = {"reporter.protocols": "memory", "service_name": "hostile",
            "sampler.type": "const", "sampler.param": "1"}
    opts.update(extra)
    return tracewire.Tracer(opts)


@pytest.mark.parametrize("start,finish", [
    (1.7e12, 9.1e12),        # milliseconds passed as seconds
    (0.000001, 9.2e12),      # near-maximal duration (the binding's upper bound)
    (9.2e12, 1.0),           # finish before start
])
def test_extreme_timestamps_are_reported_not_crashed(start, finish):
    t = tracer()
    s = t.start_span("extreme", start_time=start)
    s.finish(finish_time=finish)
    spans = t.memory_spans()
    assert [x["operation_name"] for x in spans] == ["extreme"]
    assert spans[0]["duration_us"] >= 0
    t.close()


@pytest.mark.parametrize("bad", [-1.0, 1e13, float("nan"), float("inf")])
def test_out_of_range_timestamps_are_value_errors(bad):
    t = tracer()
    with pytest.raises(ValueError):
        t.start_span("bad", start_time=bad)
    s = t.start_span("ok")
    with pytest.raises(ValueError):
        s.finish(finish_time=bad)
    s.finish()
    assert [x["operation_name"] for x in t.memory_spans()] == ["ok"]
    t.close()


def test_extreme_timestamps_through_the_otlp_encoder():
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(4)
    port = sink.getsockname()[1]
    sink.close()   # nothing listens: the encoder runs, the send fails
    t = tracer(**{"reporter.protocols": "otlp",
                  "reporter.otlp_endpoint": "http://127.0.0.1:%d/v1/traces" % port,
                  "reporter.retries": "0", "reporter.timeout_ms": "200"})
    for start, finish in ((9.0e12, 9.1e12), (1.7e12, 9.2e12)):   # x1000 ns overflowed int64
        t.start_span("x", start_time=start).finish(finish_time=finish)
    t.flush(2.0)
    t.close(2.0)
    c = t.counters()
    assert c["spans_finished"] == 2
    assert c["spans_finished"] == c["spans_reported"] + c["dropped_send_failed"] + c["dropped_on_close"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_double_tag_keeps_the_memory_reporter_usable(value):
    # jansson's json_real() refuses NaN/Inf; the memory reporter renders them
    # as strings ("NaN", "Infinity", "-Infinity"), as the OTLP encoder does,
    # so one odd tag cannot make every later memory_spans() call fail.
    t = tracer()
    s = t.start_span("nan")
    s.set_tag("x", value)
    s.finish()
    spans = t.memory_spans()
    assert spans[0]["operation_name"] == "nan"
    t.start_span("after").finish()
    assert [x["operation_name"] for x in t.memory_spans()][-1] == "after"
    t.close()
