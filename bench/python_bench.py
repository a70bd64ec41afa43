"""tracewire vs jaeger-client vs opentelemetry-sdk, one script, one interpreter.

    .venv/bin/python bench/python_bench.py            # full run (~1-2 min)
    .venv/bin/python bench/python_bench.py --quick    # fewer iterations

Prints ns per operation (best of several repeats) for each scenario and tracer,
and the ratios jaeger/tracewire and otel/tracewire. Scenarios:
  main        start_span + 3 set_tag + finish (no exporter: null reporter / no processor)
  active      active-span context manager + the 3 tags of main
  reporter    main, with each tracer's real reporter/exporter running to a local
              sink in another process (UDP for tracewire and jaeger-client,
              OTLP/HTTP for the OTel SDK); spans received at the sink are counted
  unsampled   main with the sampler off
  inject+extract  HTTP headers into a new dict and back
  10 tags     start + 10 tags of 20-char keys and 20-char values + finish
  memory      bytes per buffered finished span (RSS delta over 50 000 spans, each
              tracer in its own child process; in-memory reporter/exporter sized to
              keep every span; spans made/kept/dropped are printed, and the figure
              divides by the spans kept)
  main, 4 threads  main from 4 threads at once on one tracer: CPU ns per span summed
              over the threads (time.thread_time_ns), the 1-thread figure beside it;
              then per tracer each thread's own CPU ns per span and the total
              throughput (all spans / wall time from the threads' start to the last
              one's end); the newest OTel SDK's figures beside them, run in its venv
              (--threads-json)
Then the OpenTelemetry API: tracewire.otel (the OTel face on the core) beside
the OTel SDK pinned in requirements-dev.txt (this interpreter) and the newest
SDK (requirements-otel-newest.txt, in .venv-otel-newest: the same scenarios run
there by `--sdk-json`), the same OTel calls: plain (otel_main), current span
(otel_active), unsampled, 10 tags, with export (tracewire.otel: the core's OTLP
exporter; the SDK: BatchSpanProcessor + OTLP/HTTP exporter; both to a local
sink that counts the spans it receives) and memory per buffered span (the
core's memory reporter; the SDK's SimpleSpanProcessor + InMemorySpanExporter).
Each row prints the SDK/tracewire.otel ratios; the goal (issue #16) is 30x in
plain, current span, with export and memory per buffered span, and at most
400 ns plain (unsampled and 10 tags are extra rows, outside that goal).
Numbers depend on the machine and its load: never assert on them.
"""
import argparse
import gc
import json
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "python"))  # an installed tracewire wins; else an in-place build

try:   # absent from the newest-SDK venv, which runs only the SDK's scenarios (--sdk-json)
    import opentracing  # noqa: E402,F401
    from opentracing import Format  # noqa: E402
except ImportError:
    opentracing = Format = None

KEYS10 = ["key-%016d" % i for i in range(10)]
VALS10 = ["value-%014d" % i for i in range(10)]


# ---------------------------------------------------------------- tracers

def tw_tracer(sampled=True, protocols="none", **extra):
    import tracewire
    opts = {"service_name": "bench", "reporter.protocols": protocols,
            "sampler.type": "const", "sampler.param": "1" if sampled else "0"}
    opts.update(extra)
    return tracewire.Tracer(opts)


def jaeger_tracer(sampled=True, reporter=None):
    from jaeger_client import Tracer
    from jaeger_client.reporter import NullReporter
    from jaeger_client.sampler import ConstSampler
    return Tracer(service_name="bench", reporter=reporter or NullReporter(),
                  sampler=ConstSampler(sampled))


def twotel_tracer(sampled=True, protocols="none", **extra):
    from tracewire.otel import TracerProvider
    opts = {"reporter.protocols": protocols, "sampler.type": "const",
            "sampler.param": "1" if sampled else "0"}
    opts.update(extra)
    tp = TracerProvider(service_name="bench", options=opts, shutdown_on_exit=False, disabled=False)
    return tp, tp.get_tracer("bench")


def otel_tracer(sampled=True, processor=None):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
    tp = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF)
    if processor is not None:
        tp.add_span_processor(processor)
    return tp, tp.get_tracer("bench")


# ---------------------------------------------------------------- loops

def ot_main(tracer, n):
    start = tracer.start_span
    for _ in range(n):
        s = start("op")
        s.set_tag("http.method", "GET")
        s.set_tag("http.status_code", 200)
        s.set_tag("ratio", 0.5)
        s.finish()


def otel_main(tracer, n):
    start = tracer.start_span
    for _ in range(n):
        s = start("op")
        s.set_attribute("http.method", "GET")
        s.set_attribute("http.status_code", 200)
        s.set_attribute("ratio", 0.5)
        s.end()


def ot_active(tracer, n):
    start = tracer.start_active_span
    for _ in range(n):
        with start("op") as scope:
            s = scope.span
            s.set_tag("http.method", "GET")
            s.set_tag("http.status_code", 200)
            s.set_tag("ratio", 0.5)


def otel_active(tracer, n):
    start = tracer.start_as_current_span
    for _ in range(n):
        with start("op") as span:
            span.set_attribute("http.method", "GET")
            span.set_attribute("http.status_code", 200)
            span.set_attribute("ratio", 0.5)


def ot_tags10(tracer, n):
    start = tracer.start_span
    ks, vs = KEYS10, VALS10
    for _ in range(n):
        s = start("op")
        for i in range(10):
            s.set_tag(ks[i], vs[i])
        s.finish()


def otel_tags10(tracer, n):
    start = tracer.start_span
    ks, vs = KEYS10, VALS10
    for _ in range(n):
        s = start("op")
        for i in range(10):
            s.set_attribute(ks[i], vs[i])
        s.end()


def ot_propagate(tracer, n):
    span = tracer.start_span("op")
    ctx = span.context
    inject, extract = tracer.inject, tracer.extract
    fmt = Format.HTTP_HEADERS
    for _ in range(n):
        h = {}
        inject(ctx, fmt, h)
        extract(fmt, h)
    span.finish()


def otel_propagate(tracer, n):
    from opentelemetry.trace import set_span_in_context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    prop = TraceContextTextMapPropagator()
    span = tracer.start_span("op")
    ctx = set_span_in_context(span)
    for _ in range(n):
        h = {}
        prop.inject(h, context=ctx)
        prop.extract(h)
    span.end()


def best_ns(fn, tracer, n, repeats):
    fn(tracer, min(n, 2000))              # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn(tracer, n)
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def run_threads(fn, tracer, n, nthreads):
    """nthreads threads each run fn(tracer, n) at once (released together by a
    barrier). Returns (wall ns from the release to the last thread's end, each
    thread's own CPU ns (time.thread_time_ns))."""
    cpu = [0] * nthreads
    t0 = [0]
    bar = threading.Barrier(nthreads, action=lambda: t0.__setitem__(0, time.perf_counter_ns()))

    def work(i):
        bar.wait()
        c0 = time.thread_time_ns()
        fn(tracer, n)
        cpu[i] = time.thread_time_ns() - c0
    ts = [threading.Thread(target=work, args=(i,)) for i in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter_ns() - t0[0], cpu


def threads_ns(fn, tracer, n, nthreads, repeats):
    """Best of repeats of run_threads: (CPU ns per span summed over the threads,
    each thread's CPU ns per span, spans per second over all threads). Under
    the GIL the threads take turns, so the CPU figure shows what sharing one
    tracer costs each span (locks, contended counters), not a speed-up; the
    throughput is what the process gets out of its threads."""
    fn(tracer, min(n, 2000))
    best = None
    for _ in range(repeats):
        wall, cpu = run_threads(fn, tracer, n, nthreads)
        r = (sum(cpu) / (n * nthreads), [c / n for c in cpu], n * nthreads * 1e9 / max(1, wall))
        if best is None or r[0] < best[0]:
            best = r
    return best


def empty_loop(_t, n):
    for _ in range(n):
        pass


# ---------------------------------------------------------------- sinks (child processes)

def sink_main(kind, port_out):
    """Child: a UDP or HTTP sink counting the spans it receives (decoded at the end)."""
    datagrams = []
    if kind == "udp":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:   # as root, past net.core.rmem_max: the sink must not be what drops
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 32 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1], file=port_out, flush=True)
        sock.settimeout(0.2)
        stop = False
        while not stop:
            try:
                data = sock.recv(70000)
                if data == b"STOP":
                    stop = True
                else:
                    datagrams.append(data)
            except socket.timeout:
                pass
        from jaeger_client.thrift_gen.agent import Agent
        from thrift.protocol import TCompactProtocol
        from thrift.transport import TTransport
        spans = 0
        for d in datagrams:
            try:
                p = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(d))
                p.readMessageBegin()
                a = Agent.emitBatch_args()
                a.read(p)
                spans += len(a.batch.spans)
            except Exception:
                pass
        print(json.dumps({"spans": spans, "packets": len(datagrams)}), flush=True)
        return
    import http.server
    bodies = []

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            if self.path == "/stop":
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                threading.Thread(target=srv.shutdown).start()
                return
            bodies.append((self.headers.get("Content-Type", ""), body))
            out = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(srv.server_address[1], file=port_out, flush=True)
    srv.serve_forever()
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    spans = 0
    for ctype, body in bodies:
        if "json" in ctype:
            doc = json.loads(body)
            spans += sum(len(ss.get("spans", [])) for rs in doc.get("resourceSpans", [])
                         for ss in rs.get("scopeSpans", []))
        else:
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            spans += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    print(json.dumps({"spans": spans, "packets": len(bodies)}), flush=True)


class Sink:
    def __init__(self, kind):
        self.kind = kind
        self.proc = subprocess.Popen([sys.executable, __file__, "--sink", kind],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def stop(self):
        if self.kind == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"STOP", ("127.0.0.1", self.port))
        else:
            import urllib.request
            urllib.request.urlopen(urllib.request.Request(
                "http://127.0.0.1:%d/stop" % self.port, data=b"x", method="POST"), timeout=5).read()
        out = self.proc.stdout.readline()
        self.proc.wait(30)
        return json.loads(out)


# ---------------------------------------------------------------- memory (child processes)

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def mem_main(name, n):
    import tracemalloc
    warm = 1000
    # tracewire's memory reporter keeps at most reporter.queue_size spans and
    # drops the rest: sized to hold every span made here, or the figure would
    # divide the memory of the few kept spans by all of them
    qs = {"reporter.queue_size": str(n + warm)}
    if name == "tracewire.otel":
        tp, t = twotel_tracer(protocols="memory", **qs)
        def run(k): otel_main(t, k)
        def kept(): return tp.metrics()["spans_reported"] - warm
        def dropped(): return sum(v for k, v in tp.metrics().items() if k.startswith("dropped_"))
    elif name == "tracewire":
        t = tw_tracer(protocols="memory", **qs)
        def run(k): ot_main(t, k)
        def kept(): return t.metrics()["spans_reported"] - warm
        def dropped(): return sum(v for k, v in t.metrics().items() if k.startswith("dropped_"))
    elif name == "jaeger-client":
        from jaeger_client.reporter import InMemoryReporter
        rep = InMemoryReporter()
        t = jaeger_tracer(reporter=rep)
        def run(k): ot_main(t, k)
        def kept(): return len(rep.get_spans()) - warm
        def dropped(): return 0   # unbounded list
    else:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exp = InMemorySpanExporter()
        _tp, t = otel_tracer(processor=SimpleSpanProcessor(exp))
        def run(k): otel_main(t, k)
        def kept(): return len(exp.get_finished_spans()) - warm
        def dropped(): return 0   # unbounded list
    run(warm)
    gc.collect()
    tracemalloc.start()
    r0 = rss_bytes()
    m0 = tracemalloc.get_traced_memory()[0]
    run(n)
    gc.collect()
    m1 = tracemalloc.get_traced_memory()[0]
    r1 = rss_bytes()
    k = kept()
    # per span actually held: a span that was dropped holds no memory
    print(json.dumps({"rss_per_span": (r1 - r0) / max(1, k), "pyheap_per_span": (m1 - m0) / max(1, k),
                      "made": n, "kept": k, "dropped": dropped()}), flush=True)


def measure_memory(name, n):
    out = subprocess.check_output([sys.executable, __file__, "--mem", name, str(n)], text=True)
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sink")
    ap.add_argument("--mem")
    ap.add_argument("--sdk-json", action="store_true",
                    help="only the OTel SDK's figures of the OTel section, as JSON (run by the "
                         "main run in the newest-SDK venv)")
    ap.add_argument("--threads-json", action="store_true",
                    help="only the OTel SDK's 1- and 4-thread main figures, as JSON (run by "
                         "the main run in the newest-SDK venv)")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--n-py", type=int, default=4000)
    ap.add_argument("--n-rep", type=int, default=20000)
    ap.add_argument("n", nargs="?", type=int, default=50000)
    a = ap.parse_args()
    if a.sink:
        return sink_main(a.sink, sys.stdout)
    if a.mem:
        return mem_main(a.mem, a.n)
    if a.threads_json:
        _tp, ot = otel_tracer()
        print(json.dumps({"version": _sdk_version(), "t1": threads_ns(otel_main, ot, a.n_py, 1, a.reps),
                          "t4": threads_ns(otel_main, ot, a.n_py, 4, a.reps)}), flush=True)
        return None
    if a.sdk_json:
        print(json.dumps(sdk_figures(a.n_py, a.n_rep, a.n, a.reps)), flush=True)
        return None

    import tracewire
    # many short repeats, best kept: on a shared machine the minimum finds the
    # quiet moments; every tracer gets the same treatment
    n_tw = 20000 if a.quick else 40000
    n_py = 2000 if a.quick else 4000
    reps = 4 if a.quick else 9
    print("python %s, tracewire %s (%s), %d CPUs, load %s" % (
        sys.version.split()[0], tracewire.__version__, os.path.dirname(tracewire.__file__),
        os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())))
    print("empty loop: %.1f ns/iteration (included in every figure)" %
          best_ns(empty_loop, None, n_tw, reps))
    rows = []

    def row(name, tw, jg, ot, note=""):
        rows.append((name, tw, jg, ot, note))
        print("  %-16s tracewire %8.0f ns  jaeger-client %8.0f ns (%5.1fx)  otel-sdk %8.0f ns (%5.1fx) %s"
              % (name, tw, jg, jg / tw, ot, ot / tw, note), flush=True)

    tw, jg, (_tp, ot) = tw_tracer(), jaeger_tracer(), otel_tracer()
    row("main", best_ns(ot_main, tw, n_tw, reps), best_ns(ot_main, jg, n_py, reps),
        best_ns(otel_main, ot, n_py, reps))
    row("active", best_ns(ot_active, tw, n_tw, reps), best_ns(ot_active, jg, n_py, reps),
        best_ns(otel_active, ot, n_py, reps))

    # real reporters to local sinks
    n_rep = 20000
    s = Sink("udp")
    t = tw_tracer(protocols="udp", **{"reporter.agent_port": str(s.port)})
    t_rep = best_ns(ot_main, t, n_rep, 1)
    t.close(timeout=10.0)
    m = t.metrics()
    got = s.stop()["spans"]
    own = m["dropped_queue_full"] + m["dropped_too_large"] + m["dropped_send_failed"] \
        + m["dropped_on_close"]
    tw_note = "tracewire: %d finished, %d sent, %d dropped by its own counters" % (
        m["spans_finished"], m["spans_reported"], own)
    tw_drop = 1 - got / max(1, m["spans_finished"])

    s = Sink("udp")
    from jaeger_client import Config as JConfig
    jt = JConfig({"sampler": {"type": "const", "param": 1},
                  "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": s.port}},
                 service_name="bench", validate=True).new_tracer()
    j_rep = best_ns(ot_main, jt, n_rep, 1)
    jfinished = n_rep + min(n_rep, 2000)
    time.sleep(1.5)
    jt.close()
    time.sleep(1.5)
    jgot = s.stop()["spans"]
    j_drop = 1 - jgot / jfinished

    s = Sink("http")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    otp, ott = otel_tracer(processor=BatchSpanProcessor(
        OTLPSpanExporter(endpoint="http://127.0.0.1:%d/v1/traces" % s.port)))
    o_rep = best_ns(otel_main, ott, n_rep, 1)
    ofinished = n_rep + min(n_rep, 2000)
    otp.shutdown()
    ogot = s.stop()["spans"]
    o_drop = 1 - ogot / ofinished
    row("reporter", t_rep, j_rep, o_rep,
        "(not received at the sink: tracewire %.1f%%, jaeger %.1f%%, otel %.1f%%; %s)"
        % (100 * tw_drop, 100 * j_drop, 100 * o_drop, tw_note))

    tw0, jg0, (_tp0, ot0) = tw_tracer(sampled=False), jaeger_tracer(sampled=False), otel_tracer(sampled=False)
    row("unsampled", best_ns(ot_main, tw0, n_tw, reps), best_ns(ot_main, jg0, n_py, reps),
        best_ns(otel_main, ot0, n_py, reps))
    row("inject+extract", best_ns(ot_propagate, tw, n_tw, reps), best_ns(ot_propagate, jg, n_py, reps),
        best_ns(otel_propagate, ot, n_py, reps))
    row("10 tags 20+20", best_ns(ot_tags10, tw, n_tw // 2, reps), best_ns(ot_tags10, jg, n_py, reps),
        best_ns(otel_tags10, ot, n_py, reps))

    nm = 20000 if a.quick else 50000
    mem = {k: measure_memory(k, nm) for k in ("tracewire", "jaeger-client", "otel-sdk")}
    print("  %-16s tracewire %8.0f B   jaeger-client %8.0f B  (%5.1fx)  otel-sdk %8.0f B  (%5.1fx)"
          "  (RSS per buffered span; Python heap: %.0f / %.0f / %.0f B)" % (
              "memory/span", mem["tracewire"]["rss_per_span"], mem["jaeger-client"]["rss_per_span"],
              mem["jaeger-client"]["rss_per_span"] / max(1, mem["tracewire"]["rss_per_span"]),
              mem["otel-sdk"]["rss_per_span"],
              mem["otel-sdk"]["rss_per_span"] / max(1, mem["tracewire"]["rss_per_span"]),
              mem["tracewire"]["pyheap_per_span"], mem["jaeger-client"]["pyheap_per_span"],
              mem["otel-sdk"]["pyheap_per_span"]))
    for k, v in mem.items():
        note = "" if v["kept"] == v["made"] and not v["dropped"] else \
            "  <- NOT ALL KEPT: the figure covers the kept spans only"
        print("  %-16s %s: %d spans made, %d kept, %d dropped%s"
              % ("", k, v["made"], v["kept"], v["dropped"], note))

    # 4 Python threads on one tracer: CPU per span summed over the threads
    # (time.thread_time_ns); beside it, the same tracer from one thread
    n4 = n_tw // 4
    t1 = threads_ns(ot_main, tw, n4, 1, reps)
    t4 = threads_ns(ot_main, tw, n4, 4, reps)
    j1 = threads_ns(ot_main, jg, n_py, 1, reps)
    j4 = threads_ns(ot_main, jg, n_py, 4, reps)
    o1 = threads_ns(otel_main, ot, n_py, 1, reps)
    o4 = threads_ns(otel_main, ot, n_py, 4, reps)
    row("main, 4 threads", t4[0], j4[0], o4[0],
        "(CPU per span over 4 threads; 1 thread: tracewire %.0f, jaeger %.0f, otel %.0f ns)"
        % (t1[0], j1[0], o1[0]))
    per_thread = [("tracewire", t4, t1), ("jaeger-client", j4, j1), ("otel-sdk " + _sdk_version(), o4, o1)]
    if os.path.exists(NEWEST_VENV):
        nw = json.loads(subprocess.check_output(
            [NEWEST_VENV, __file__, "--threads-json", "--reps", str(reps), "--n-py", str(n_py)],
            text=True).strip().splitlines()[-1])
        per_thread.append(("otel-sdk " + nw["version"], nw["t4"], nw["t1"]))
    else:
        print("  (no %s: run scripts/bootstrap for the newest SDK's 4-thread figures)" % NEWEST_VENV)
    for name, r4, r1 in per_thread:
        print("  %-16s %-16s per thread %s ns/span; %9.0f spans/s in all (1 thread: %.0f spans/s, "
              "%.0f ns/span)" % ("", name, " ".join("%5.0f" % x for x in r4[1]), r4[2], r1[2], r1[0]),
              flush=True)

    # the OpenTelemetry API: tracewire.otel vs the OTel SDK, pinned and newest
    otel_section(n_tw, n_py, n_rep, nm, reps)


OTEL_ROWS = (("main", "plain"), ("active", "current span"), ("unsampled", "unsampled"),
             ("tags10", "10 tags 20+20"), ("export", "with export"))


def sdk_figures(n_py, n_rep, nm, reps):
    """The OTel SDK's figures for the OTel section (this interpreter's SDK)."""
    (_tp, ot), (_tp0, ot0) = otel_tracer(), otel_tracer(sampled=False)
    out = {"version": _sdk_version(),
           "main": best_ns(otel_main, ot, n_py, reps),
           "active": best_ns(otel_active, ot, n_py, reps),
           "unsampled": best_ns(otel_main, ot0, n_py, reps),
           "tags10": best_ns(otel_tags10, ot, n_py, reps)}
    s = Sink("http")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    # both queues hold every span of the run: spans dropped on a full queue
    # would cost less than spans exported, and this row measures export
    otp, ott = otel_tracer(processor=BatchSpanProcessor(
        OTLPSpanExporter(endpoint="http://127.0.0.1:%d/v1/traces" % s.port),
        max_queue_size=n_rep + 2000))
    out["export"] = best_ns(otel_main, ott, n_rep, 1)
    finished = n_rep + min(n_rep, 2000)
    otp.shutdown()
    out["export_lost"] = 1 - s.stop()["spans"] / finished
    out["mem"] = measure_memory("otel-sdk", nm)
    return out


NEWEST_VENV = os.path.join(HERE, "..", ".venv-otel-newest", "bin", "python")


def newest_sdk_figures(n_py, n_rep, nm, reps):
    """The same figures from the newest SDK, run in its own venv; None (said)
    when that venv is missing (scripts/bootstrap makes it)."""
    if not os.path.exists(NEWEST_VENV):
        print("  (no %s: run scripts/bootstrap for the newest SDK's column)" % NEWEST_VENV)
        return None
    out = subprocess.check_output([NEWEST_VENV, __file__, "--sdk-json", "--reps", str(reps),
                                   "--n-py", str(n_py), "--n-rep", str(n_rep), str(nm)], text=True)
    return json.loads(out.strip().splitlines()[-1])


def otel_section(n_tw, n_py, n_rep, nm, reps):
    pinned = sdk_figures(n_py, n_rep, nm, reps)
    newest = newest_sdk_figures(n_py, n_rep, nm, reps)
    sdks = [pinned] + ([newest] if newest else [])
    print("OpenTelemetry API (same calls): tracewire.otel vs opentelemetry-sdk %s"
          % " and ".join("%s (%s)" % (d["version"], "pinned" if d is pinned else "newest")
                         for d in sdks))
    print("  goal (#16): >= 30x each SDK in plain, current span, with export and memory/span; plain <= 400 ns"
          " (unsampled and 10 tags are extra rows, outside the goal)")
    tw = {}
    _twp, twt = twotel_tracer()
    tw["main"] = best_ns(otel_main, twt, n_tw // 2, reps)
    tw["active"] = best_ns(otel_active, twt, n_tw // 2, reps)
    _twp0, twt0 = twotel_tracer(sampled=False)
    tw["unsampled"] = best_ns(otel_main, twt0, n_tw // 2, reps)
    tw["tags10"] = best_ns(otel_tags10, twt, n_tw // 4, reps)
    s = Sink("http")
    twp, twr = twotel_tracer(protocols="otlp", **{
        "reporter.otlp_endpoint": "http://127.0.0.1:%d/v1/traces" % s.port,
        "reporter.queue_size": str(n_rep + 2000)})
    tw["export"] = best_ns(otel_main, twr, n_rep, 1)
    twp.force_flush(30000)    # as the SDK's shutdown waits for its queue to drain
    twp.shutdown()
    m = twp.metrics()
    got = s.stop()["spans"]
    for key, label in OTEL_ROWS:
        cols = "  ".join("sdk %s %8.0f ns (%5.1fx)" % (d["version"], d[key], d[key] / tw[key])
                         for d in sdks)
        note = ""
        if key == "export":
            note = " (tracewire.otel: %d finished, %d received at the sink; not received: %s)" % (
                m["spans_finished"], got, ", ".join("sdk %s %.1f%%" % (d["version"], 100 * d["export_lost"])
                                                  for d in sdks))
        print("  %-16s tracewire.otel %8.0f ns  %s%s" % (label, tw[key], cols, note), flush=True)
    mo = measure_memory("tracewire.otel", nm)
    cols = "  ".join("sdk %s %8.0f B (%5.1fx)" % (d["version"], d["mem"]["rss_per_span"],
                                                d["mem"]["rss_per_span"] / max(1, mo["rss_per_span"]))
                     for d in sdks)
    print("  %-16s tracewire.otel %8.0f B   %s  (RSS per buffered span; Python heap: %s)" % (
        "memory/span", mo["rss_per_span"], cols,
        " / ".join("%.0f" % d["pyheap_per_span"] for d in [mo] + [x["mem"] for x in sdks])))
    for name, v in [("tracewire.otel", mo)] + [("sdk " + d["version"], d["mem"]) for d in sdks]:
        print("  %-16s %s: %d spans made, %d kept, %d dropped%s"
              % ("", name, v["made"], v["kept"], v["dropped"],
                 "" if v["kept"] == v["made"] and not v["dropped"] else
                 "  <- NOT ALL KEPT: the figure covers the kept spans only"))


def _sdk_version():
    try:
        from importlib.metadata import version
        return version("opentelemetry-sdk")
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
