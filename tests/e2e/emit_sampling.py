"""Remote-sampling probe: a Python tracer with sampler type "remote" polling
Jaeger's sampling endpoint (127.0.0.1:5778), started with an initial
probabilistic rate that the strategies file contradicts.

    python emit_sampling.py SERVICE INITIAL_PARAM N [--phases K]

For each phase: waits until the tracer applied one more strategy update
(tracer.metrics()["sampler_updates"]), starts and finishes N root spans, prints
one JSON line {"sampled": k, "trace_ids": [...of sampled spans...],
"all_ids": [...], "updates": u, "metrics": {...}}, then (if more phases remain) waits for a line on stdin — the
test rewrites the strategies file in between.
"""
import json
import sys
import time

import tracewire

service, initial, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
phases = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--phases" else 1
tracer = tracewire.Config(config={
    "sampler": {"type": "remote", "param": initial,
                "sampling_server_url": "http://127.0.0.1:5778/sampling"},
    "sampling_refresh_interval": 0.2,
    "protocol": "udp",
    "reporter_flush_interval": 0.1,
}, service_name=service, validate=True).new_tracer()


def updates():
    return int(tracer.metrics().get("sampler_updates", 0))


def wait_updates(k, timeout=10.0):
    deadline = time.monotonic() + timeout
    while updates() < k and time.monotonic() < deadline:
        # Remote polling runs on the reporter thread, which starts on first use.
        tracer.start_span("sampling-warmup").finish()
        time.sleep(0.05)


seen = 0
for phase in range(phases):
    if phase:
        sys.stdin.readline()
        # Jaeger re-reads the file every second, our next poll then sees the
        # change: wait until a root span's decision flips (at most 15 s).
        before = tracer.start_span("sampling-warmup")
        before.finish()
        flip_deadline = time.monotonic() + 15
        while time.monotonic() < flip_deadline:
            s = tracer.start_span("sampling-warmup")
            s.finish()
            if s.context.sampled != before.context.sampled:
                break
            time.sleep(0.1)
    wait_updates(seen + 1)
    seen = updates()
    sampled, all_ids = [], []
    for i in range(n):
        span = tracer.start_span("probe-%d" % i)
        span.finish()
        all_ids.append("%032x" % span.context.trace_id)
        if span.context.sampled:
            sampled.append(all_ids[-1])
    tracer.flush() if hasattr(tracer, "flush") else None
    print(json.dumps({"sampled": len(sampled), "trace_ids": sampled, "all_ids": all_ids,
                      "updates": updates(),
                      "metrics": tracer.metrics()}), flush=True)
tracer.close()
