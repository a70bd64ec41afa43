"""The application side of the Jaeger-restart soak (test_jaeger_restart.py
runs it and owns Jaeger; this process only traces).

A steady stream of RATE spans/s for SECONDS seconds through the Python
binding, reported over Thrift HTTP to a real Jaeger. Spans are grouped in one
trace per second (a root per second, every span of that second its child),
so the orchestrator can fetch them back by trace id. Every start_span +
finish pair is timed (perf_counter_ns) with the monotonic time it happened
at. The core's diagnostics (logging "jaeger_tracing") are collected with
their kind. On SIGUSR1 (sent by the orchestrator once Jaeger is dead) the tracer's
counters are snapshotted outside the timed region. At the end the tracer is
closed and everything is written as JSON to OUT:
  {"calls": [[t_mono, ns], ...], "spans": [[trace_hex, span_hex, t_finish_mono], ...],
   "at_kill": metrics, "final": metrics, "close_status": ...,
   "diagnostics": [[t_mono, kind, count, message], ...]}
Usage: python jaeger_restart_app.py OUT RATE SECONDS
"""
import json
import logging
import signal
import sys
import time

import tracewire

TICK = 0.005


def main():
    out, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    said = []

    class Said(logging.Handler):
        def emit(self, record):
            said.append((time.monotonic(), getattr(record, "tracewire_kind", "?"),
                         getattr(record, "tracewire_count", 0), record.getMessage()))

    logging.getLogger("jaeger_tracing").addHandler(Said())
    tracer = tracewire.Tracer({
        "service_name": "tw-soak-jaeger-restart",
        "sampler.type": "const", "sampler.param": "1",
        "reporter.protocols": "http",
        "reporter.endpoint": "http://127.0.0.1:14268/api/traces",
    })
    snap = {"want": False, "at_kill": None}

    def on_usr1(signum, frame):
        snap["want"] = True

    signal.signal(signal.SIGUSR1, on_usr1)
    perf = time.perf_counter_ns
    mono = time.monotonic
    call_t, call_ns, spans = [], [], []
    print("ready", flush=True)
    t0 = mono()
    emitted = 0
    second = -1
    root = None
    while True:
        now = mono()
        el = now - t0
        if el >= seconds:
            break
        sec = int(el)
        if sec != second:                    # a new trace each second
            if root is not None:
                a = perf()
                root.finish()
                call_ns.append(perf() - a)
                call_t.append(mono())
                c = root.context
                spans.append(("%032x" % c.trace_id, "%016x" % c.span_id, call_t[-1]))
            a = perf()
            root = tracer.start_span("second-%d" % sec)
            call_ns.append(perf() - a)
            call_t.append(mono())
            second = sec
        due = int(el * rate) - emitted
        for _ in range(due):
            a = perf()
            s = tracer.start_span("work", child_of=root)
            s.finish()
            b = perf()
            call_ns.append(b - a)
            t = mono()
            call_t.append(t)
            c = s.context
            spans.append((c.trace_id, c.span_id, t))
        emitted += due
        if snap["want"]:
            snap["want"] = False
            snap["at_kill"] = tracer.metrics()
            snap["at_kill_t"] = mono()
        time.sleep(TICK)
    a = perf()
    root.finish()
    call_ns.append(perf() - a)
    call_t.append(mono())
    c = root.context
    spans.append((c.trace_id, c.span_id, call_t[-1]))
    # Jaeger is up again: close waits for the queue to drain
    st = tracer.close(30)
    final = tracer.metrics()
    with open(out, "w") as f:
        json.dump({
            "calls": list(zip(call_t, call_ns)),
            "spans": [[t if isinstance(t, str) else "%032x" % t,
                       s if isinstance(s, str) else "%016x" % s, ft] for t, s, ft in spans],
            "at_kill": snap["at_kill"], "at_kill_t": snap.get("at_kill_t"),
            "final": final, "close_status": repr(st), "t0": t0, "diagnostics": said,
        }, f)
    print("done", flush=True)


if __name__ == "__main__":
    main()
