#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/.

Seeds come from two places: the carriers of the core propagation tests
(tests/core/test_propagation*.c: every carrier_add(...) group and every
{{"name", "value", len}, ...} table row, C string escapes decoded), and the
hand-written vectors below (spec examples from /work/shared/notes/protocols.md,
remote-sampling strategies, config and environment lines, binary contexts,
Redis envelopes). File names are content hashes, so re-running is idempotent.
(fuzz_encoders and fuzz_span_api take binary programs: their 16 seeds each
were picked from a campaign corpus, not generated here.)

    python3 tests/fuzz/make_seeds.py
"""
import hashlib
import os
import re
import struct
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(TOP, "tests", "fuzz", "corpus")

STR = r'"(?:[^"\\]|\\.)*"'


def c_unescape(lit):
    """Decodes one C string literal body (without quotes) to bytes."""
    out = bytearray()
    i = 0
    while i < len(lit):
        c = lit[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        i += 1
        e = lit[i]
        if e == "x":
            j = i + 1
            while j < len(lit) and lit[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(lit[i + 1:j], 16) & 0xFF)
            i = j
        elif e in "01234567":
            j = i
            while j < len(lit) and j < i + 3 and lit[j] in "01234567":
                j += 1
            out.append(int(lit[i:j], 8) & 0xFF)
            i = j
        else:
            out += {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\", '"': b'"',
                    "'": b"'", "0": b"\0"}.get(e, e.encode())
            i += 1
    return bytes(out)


def c_expr(expr, macros):
    """Concatenates adjacent literals and macro names into bytes."""
    out = b""
    for tok in re.findall(STR + r"|[A-Za-z_][A-Za-z0-9_]*", expr):
        if tok.startswith('"'):
            out += c_unescape(tok[1:-1])
        elif tok in macros:
            out += macros[tok]
        elif tok == "NULL":
            return None
    return out


def test_carriers():
    """Lists of (name, value) carriers found in the core propagation tests."""
    groups = []
    for fname in ("test_propagation.c", "test_propagation_malformed.c"):
        path = os.path.join(TOP, "tests", "core", fname)
        if not os.path.exists(path):
            continue
        text = open(path, encoding="utf-8", errors="replace").read()
        macros = {}
        for m in re.finditer(r"#define\s+([A-Z_][A-Z0-9_]*)\s+((?:" + STR + r"\s*)+)$", text, re.M):
            macros[m.group(1)] = c_expr(m.group(2), macros)
        # carrier_add(&c, "name", "value" ...); grouped until the next extract
        cur, last_end = [], 0
        for m in re.finditer(r"carrier_add\(\s*&?\w+\s*,\s*((?:" + STR + r"\s*)+),\s*((?:(?:"
                             + STR + r"|[A-Z_][A-Z0-9_]*)\s*)+)\)", text):
            between = text[last_end:m.start()]
            if cur and re.search(r"extract|static void|\}\s*\n\s*\n", between):
                groups.append(cur)
                cur = []
            name, val = c_expr(m.group(1), macros), c_expr(m.group(2), macros)
            if name is not None and val is not None:
                cur.append((name, val))
            last_end = m.end()
        if cur:
            groups.append(cur)
        # table rows: {{"name", "value", len}, {...}}
        for line in text.splitlines():
            row = []
            for m in re.finditer(r"\{\s*(" + STR + r")\s*,\s*((?:(?:" + STR + r"|[A-Z_][A-Z0-9_]*)\s*)+)\s*,\s*(\d+)\s*\}", line):
                name, val = c_expr(m.group(1), macros), c_expr(m.group(2), macros)
                if name is None or val is None:
                    continue
                n = int(m.group(3))
                if n:
                    val = val[:n].ljust(n, b"\0")
                row.append((name, val))
            if row:
                groups.append(row)
    return groups


TP = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
HAND_CARRIERS = [
    [(b"uber-trace-id", b"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1")],
    [(b"uber-trace-id", b"a3ce929d0e0e4736:00f067aa0ba902b7:53ce929d0e0e4736:3"),
     (b"uberctx-user", b"alice%20smith"), (b"jaeger-baggage", b"a=1, b=2")],
    [(b"jaeger-debug-id", b"dbg-42"), (b"uberctx-k", b"v")],
    [(b"traceparent", TP), (b"tracestate", b"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
     (b"baggage", b"userId=alice,serverNode=DF%2028,isProduction=false;p=1")],
    [(b"traceparent", b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-extra")],
    [(b"b3", b"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")],
    [(b"b3", b"e457b5a2e4d86bd1-e457b5a2e4d86bd1-d")],
    [(b"X-B3-TraceId", b"80f198ee56343ba864fe8b2a57d3eff7"), (b"X-B3-SpanId", b"e457b5a2e4d86bd1"),
     (b"X-B3-ParentSpanId", b"05e3ac9a4f6e3b90"), (b"X-B3-Sampled", b"1")],
    [(b"x-b3-traceid", b"a3ce929d0e0e4736"), (b"x-b3-spanid", b"00f067aa0ba902b7"), (b"x-b3-flags", b"1")],
    # formats that agree and formats that disagree
    [(b"traceparent", TP), (b"uber-trace-id", b"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"),
     (b"b3", b"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1")],
    [(b"traceparent", TP), (b"uber-trace-id", b"1:2:0:1")],
]
HAND_CONFIG_CARRIERS = [
    b"@trace_id_header=x-trace\n@baggage_header_prefix=x-bag-\nx-trace: abc:def:0:1\nx-bag-k: v\n",
    b"@propagation.extract=w3c,b3\ntraceparent: " + TP + b"\nb3: 0\n",
    b"@max_baggage_size=16\nbaggage: a=0123456789,b=0123456789\n",
    b"@trace_id_128bit=false\nuber-trace-id: abc:def:0:1\n",
]

FORMAT_HEADERS = {
    "fuzz_extract_jaeger": (b"uber-trace-id", b"uberctx-", b"jaeger-debug-id", b"jaeger-baggage"),
    "fuzz_extract_w3c": (b"traceparent", b"tracestate", b"baggage"),
    "fuzz_extract_b3_single": (b"b3",),
    "fuzz_extract_b3_multi": (b"x-b3-",),
}
PARSER_SELECT = {b"uber-trace-id": 0, b"jaeger-baggage": 1, b"uberctx-": 2, b"traceparent": 3,
                 b"tracestate": 4, b"baggage": 5, b"b3": 6}

SAMPLER_JSON = [
    b'{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5}}',
    b'{"strategyType":0,"probabilisticSampling":{"samplingRate":1}}',
    b'{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":10}}',
    b'{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":0.5}}',
    b'{"probabilisticSampling":{"samplingRate":0.1},"operationSampling":{"defaultSamplingProbability":0.2,'
    b'"defaultLowerBoundTracesPerSecond":0.5,"perOperationStrategies":[{"operation":"op",'
    b'"probabilisticSampling":{"samplingRate":1}},{"operation":"GET /","probabilisticSampling":'
    b'{"samplingRate":0}}]}}',
    b'{"operationSampling":{"defaultSamplingProbability":1e-9,"perOperationStrategies":[]}}',
    b'{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":1.5}}',
    b'[]', b'null', b'{"strategyType":"RATE_LIMITING"}',
]

CONFIG_SET = [
    b"service_name=checkout\ntags=env=prod,zone=b\nsampler.type=probabilistic\nsampler.param=0.25\n",
    b"sampler.type=remote\nsampler.url=http://127.0.0.1:5778/sampling\nsampler.refresh_ms=5000\n",
    b"sampler.type=ratelimiting\nsampler.param=100\n",
    b"sampler.type=parentbased_traceidratio\nsampler.param=0.5\nsampler.type=parentbased_always_off\n",
    b"reporter.protocols=udp,http,otlp,memory,log\nreporter.agent_host=localhost\nreporter.agent_port=6831\n",
    b"reporter.endpoint=http://127.0.0.1:14268/api/traces\nreporter.otlp_endpoint=http://127.0.0.1:4318/v1/traces\n",
    b"reporter.queue_size=1\nreporter.batch_size=100000\nreporter.flush_interval_ms=1\n"
    b"reporter.max_packet_size=512\nreporter.timeout_ms=1\nreporter.retries=0\n",
    b"propagation=jaeger,w3c,b3,b3multi\npropagation.inject=b3\npropagation.extract=w3c\n",
    b"trace_id_header=X-Trace-Id\nbaggage_header_prefix=X-Bag-\ntrace_id_128bit=false\n",
    b"max_tag_value_length=1\nmax_baggage_size=16777216\n",
    b"sampler.param=nan\nsampler.param=1e999\nreporter.agent_port=0x10\nreporter.queue_size= 10\n",
    b"unknown.key=1\nservice_name=\ntags=novalue\n",
]

CONFIG_ENV = [
    b"JAEGER_SERVICE_NAME=svc\nJAEGER_AGENT_HOST=127.0.0.1\nJAEGER_AGENT_PORT=6831\n"
    b"JAEGER_SAMPLER_TYPE=const\nJAEGER_SAMPLER_PARAM=1\nJAEGER_TAGS=a=1,b=${HOSTNAME:x}\n",
    b"JAEGER_ENDPOINT=http://127.0.0.1:14268/api/traces\nJAEGER_PROPAGATION=b3,w3c\nJAEGER_TRACEID_128BIT=true\n",
    b"JAEGER_SAMPLER_TYPE=remote\nJAEGER_SAMPLER_MANAGER_HOST_PORT=127.0.0.1:5778\n"
    b"JAEGER_SAMPLING_ENDPOINT=http://127.0.0.1:5778/sampling\n",
    b"OTEL_SERVICE_NAME=svc\nOTEL_RESOURCE_ATTRIBUTES=service.name=other,deployment.environment=prod\n"
    b"OTEL_TRACES_SAMPLER=parentbased_traceidratio\nOTEL_TRACES_SAMPLER_ARG=0.1\n",
    b"OTEL_TRACES_SAMPLER=jaeger_remote\nOTEL_TRACES_SAMPLER_ARG=endpoint=http://127.0.0.1:5778/sampling,"
    b"pollingIntervalMs=5000,initialSamplingRate=0.25\n",
    b"OTEL_PROPAGATORS=tracecontext,baggage,b3,b3multi,jaeger\nOTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318\n",
    b"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:4318/v1/traces\nJAEGER_AGENT_PORT=99999\n",
]


def binary_context(hi, lo, span, parent, flags, baggage):
    out = struct.pack(">QQQQBI", hi, lo, span, parent, flags, len(baggage))
    for k, v in baggage:
        out += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
    return out


def envelope(carrier, payload, enqueue_us=1700000000000000):
    body = (b"\0TWQ\x1a" + bytes([1, 0, 0]) + struct.pack(">qII", enqueue_us, len(carrier), len(payload))
            + carrier + payload)
    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def lines(carrier):
    return b"".join(n + b": " + v + b"\n" for n, v in carrier)


def write(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def header_input(carrier):
    # values holding '\n' need raw (NUL-separated) mode; NULs inside names or
    # values cannot be expressed in either form and are cut there
    if any(b"\n" in n or b"\n" in v for n, v in carrier):
        return b"\0" + b"\0".join(n.split(b"\0")[0] + b"\0" + v.split(b"\0")[0] for n, v in carrier)
    return lines(carrier)


def main():
    carriers = test_carriers() + HAND_CARRIERS
    for c in carriers:
        data = header_input(c)
        write("fuzz_extract_all", data)
        names = [n.lower() for n, _ in c]
        for target, prefixes in FORMAT_HEADERS.items():
            if any(n.startswith(p) if p.endswith(b"-") else n == p for n in names for p in prefixes):
                write(target, data)
        for n, v in c:
            key = n.lower()
            sel = PARSER_SELECT.get(b"uberctx-" if key.startswith(b"uberctx-") else key)
            if sel is not None:
                write("fuzz_parsers", bytes([sel]) + v)
            if key.startswith(b"uberctx-") or key in (b"baggage", b"jaeger-baggage"):
                write("fuzz_percent", b"\0" + v)
                write("fuzz_percent", b"\1" + v)
        multi = {n.lower(): v for n, v in c if n.lower().startswith(b"x-b3-")}
        if multi:
            fields = [multi.get(b"x-b3-" + f, b"-") for f in
                      (b"traceid", b"spanid", b"parentspanid", b"sampled", b"flags")]
            write("fuzz_parsers", b"\7" + b"\n".join(fields))
        if all(b"\n" not in n + v and b"\0" not in n + v for n, v in c):
            text = lines(c).rstrip(b"\n")
            write("fuzz_redis_envelope", b"\0" + envelope(text, b"payload"))
            write("fuzz_redis_envelope", b"\4" + text)
    for data in HAND_CONFIG_CARRIERS:
        for target in ["fuzz_extract_all"] + list(FORMAT_HEADERS):
            write(target, data)
    write("fuzz_redis_envelope", b"\0plain item")
    write("fuzz_redis_envelope", b"\4traceparent=" + TP + b";tracestate=k=v")
    write("fuzz_redis_envelope", b"\3" + envelope(b"traceparent: " + TP, b"")[:-4] + b"\0\0\0\0")
    for s in (b"a%20b+c", b"%C3%A9t%C3%A9", b"%zz", b"%4", b"abc%", b"4bf92f3577b34da6a3ce929d0e0e4736",
              b"00f067aa0ba902b7", b"  \t trim me \t "):
        write("fuzz_percent", b"\0" + s)
        write("fuzz_percent", b"\3" + s)
    for j in SAMPLER_JSON:
        for t in range(4):
            write("fuzz_sampler_json", bytes([t]) + j)
    for c in CONFIG_SET:
        write("fuzz_config_set", c)
    for c in CONFIG_ENV:
        write("fuzz_config_env", c)
    for args in [(0, 1, 2, 0, 1, []), (0x4bf92f3577b34da6, 0xa3ce929d0e0e4736, 0xf067aa0ba902b7, 5, 3,
                                         [(b"k", b"v"), (b"user", b"alice")]),
                 (0, 0, 0, 0, 0, [(b"only", b"baggage")]), (1, 2, 3, 4, 0xff, [(b"", b""), (b"\0", b"\xff")])]:
        write("fuzz_binary_context", binary_context(*args))
    for d in sorted(os.listdir(CORPUS)):
        print("%-24s %4d seeds" % (d, len(os.listdir(os.path.join(CORPUS, d)))))


if __name__ == "__main__":
    main()
