"""1M spans through the Python binding with flat RSS.

Each iteration: an active parent span with tags, a log record and baggage,
a child span, inject into a dict (every 10th iteration also extract), both
finished, reported over UDP to a real agent socket drained by a child
process. RSS is sampled every 100k spans; after the first 100k (allocator
and pools warm) it must not grow by more than HZ_RSS_SLACK_KB. The tracer's
counters must balance at the end.
Usage: python test_rss_loop.py [SPANS]
"""
import os
import socket
import subprocess
import sys
import time

import tracewire

HZ_RSS_SLACK_KB = 8 * 1024


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    drain = subprocess.Popen([sys.executable, "-c",
                              "import socket,sys\n"
                              "s=socket.socket(fileno=int(sys.argv[1]))\n"
                              "n=b=0\n"
                              "s.settimeout(3)\n"
                              "try:\n"
                              "    while True:\n"
                              "        d=s.recv(70000); n+=1; b+=len(d)\n"
                              "except socket.timeout:\n"
                              "    print(n, b)\n", str(sock.fileno())],
                             pass_fds=(sock.fileno(),), stdout=subprocess.PIPE, text=True)
    tracer = tracewire.Tracer({"service_name": "hardening-rss", "reporter.protocols": "udp",
                               "reporter.agent_host": "127.0.0.1", "reporter.agent_port": str(port),
                               "sampler.type": "const", "sampler.param": "1"})
    print("rss-loop: %d spans (%d iterations of parent + child)" % (total, total // 2))
    samples = []
    t0 = time.time()
    carrier = {}
    for i in range(total // 2):
        with tracer.start_active_span("parent", tags={"i": i, "kind": "loop"}) as scope:
            scope.span.log_kv({"event": "tick", "n": i})
            scope.span.set_baggage_item("user", "alice")
            with tracer.start_active_span("child") as c:
                c.span.set_tag("ok", True)
            carrier.clear()
            tracer.inject(scope.span.context, "http_headers", carrier)
            if i % 10 == 0:
                tracer.extract("http_headers", carrier)
        if (2 * (i + 1)) % 100000 == 0:
            samples.append(rss_kb())
    secs = time.time() - t0
    tracer.flush(10.0)
    tracer.close(5.0)
    c = tracer.counters()
    out, _ = drain.communicate(timeout=30)
    dropped = sum(c[k] for k in ("dropped_queue_full", "dropped_too_large", "dropped_send_failed",
                                 "dropped_on_close"))
    print("  %.1f s, %.0f spans/s; RSS every 100k spans (kB): %s" % (secs, total / secs, samples))
    growth = max(samples) - samples[0]
    print("  RSS after the first 100k: %d kB, max %d kB, growth %d kB (allowed %d)"
          % (samples[0], max(samples), growth, HZ_RSS_SLACK_KB))
    print("  counters: finished=%d reported=%d dropped=%d batches=%d; agent received datagrams/bytes: %s"
          % (c["spans_finished"], c["spans_reported"], dropped, c["batches_sent"], out.strip()))
    fails = []
    if growth > HZ_RSS_SLACK_KB:
        fails.append("RSS grew by %d kB" % growth)
    if c["spans_finished"] != total:
        fails.append("finished %d != %d" % (c["spans_finished"], total))
    if c["spans_finished"] != c["spans_reported"] + dropped:
        fails.append("finished != reported + dropped")
    for f in fails:
        print("  FAIL " + f)
    print("rss-loop: %s" % ("FAILED" if fails else "ok"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
