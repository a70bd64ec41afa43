"""The agent's controls (issue #20), side by side with the real jaeger_client 4.8:
`throttler` (debug-span credits from GET /credits), `debug_id_header`
(jaeger-debug-id starts a debug trace) and `baggage_restrictions` (GET
/baggageRestrictions; jaeger_client 4.8 has none, so its semantics are
jaeger-client-go's and the side-by-side part shows jaeger_client leaving
baggage alone).

A real HTTP listener plays the agent's HTTP port (it answers /credits and
/baggageRestrictions as jaeger-agent did, and records every request); spans
travel over UDP to a real socket and are decoded with the PyPI thrift
runtime and jaeger_client's generated Agent types, for both clients.
"""
import http.server
import json
import logging
import socket
import threading
import time
import urllib.parse

import pytest
from jaeger_client.thrift_gen.agent import Agent
from jaeger_client.thrift_gen.jaeger import ttypes
from opentracing import Format
from thrift.protocol import TCompactProtocol
from thrift.transport import TTransport

import jaeger_client
import tracewire


class Agent_:
    """The agent's HTTP port: answer(path, query) -> (status, json body); every
    request is recorded as (path, query dict of lists) after it is answered."""

    def __init__(self, answer):
        self.requests = []
        self.cond = threading.Condition()
        self.answer = answer
        agent = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
                status, body = agent.answer(u.path, q)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with agent.cond:
                    agent.requests.append((u.path, q))
                    agent.cond.notify_all()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred, timeout=10):
        deadline = time.time() + timeout
        with self.cond:
            while time.time() < deadline:
                got = [r for r in self.requests if pred(r)]
                if got:
                    return got
                self.cond.wait(0.05)
        return []

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Udp:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def spans(self, n, timeout=10):
        """Decodes emitBatch datagrams until n spans arrived: (process, spans)."""
        out, process = [], None
        deadline = time.time() + timeout
        while len(out) < n and time.time() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                data = self.sock.recv(70000)
            except socket.timeout:
                break
            proto = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(data))
            proto.readMessageBegin()
            args = Agent.emitBatch_args()
            args.read(proto)
            process = args.batch.process
            out += args.batch.spans
        return process, out

    def close(self):
        self.sock.close()


def tags(t):
    return {x.key: {ttypes.TagType.STRING: x.vStr, ttypes.TagType.LONG: x.vLong,
                    ttypes.TagType.BOOL: x.vBool, ttypes.TagType.DOUBLE: x.vDouble}[x.vType]
            for x in t or []}


def shape(spans):
    """What both clients must agree on, per span: operation, flags, the tags
    the controls set (no sampler tags: both decide without the sampler)."""
    keep = ("sampling.priority", "jaeger-debug-id", "X-Debug-Id", "sampler.type")
    return sorted((s.operationName, s.flags,
                   tuple(sorted((k, str(v)) for k, v in tags(s.tags).items() if k in keep)))
                  for s in spans)


@pytest.fixture
def udp():
    u = Udp()
    yield u
    u.close()


def make_pair(config, udp, service):
    """jaeger_client's and tracewire's tracers from the same Config dict."""
    jc_cfg = dict(config, local_agent=dict(config.get("local_agent", {}),
                                           reporting_host="127.0.0.1", reporting_port=udp[0].port))
    tw_cfg = dict(config, local_agent=dict(config.get("local_agent", {}),
                                           reporting_host="127.0.0.1", reporting_port=udp[1].port))
    jt = jaeger_client.Config(jc_cfg, service_name=service).new_tracer()
    tt = tracewire.Config(tw_cfg, service_name=service).new_tracer()
    return jt, tt


def close_jaeger_client(jt):
    """jaeger_client's Tracer.close() leaves its throttler polling (and
    logging on jaeger_tracing, which later tests listen to): stop it too."""
    if getattr(jt, "throttler", None) is not None:
        jt.throttler.close()
    return jt.close()


def close_both(jt, tt):
    tt.close(2)
    f = close_jaeger_client(jt)
    if f is not None:
        try:
            f.result(5)
        except Exception:
            pass


# ---------------------------------------------------------------- throttler

def debug_span_via_priority(tracer, op):
    s = tracer.start_span(op)
    s.set_tag("sampling.priority", 1)
    s.finish()


def debug_span_via_debug_id(tracer, op, value="corr-1"):
    ctx = tracer.extract(Format.HTTP_HEADERS, {"jaeger-debug-id": value})
    s = tracer.start_span(op, child_of=ctx)
    s.finish()


def test_throttler_credits_side_by_side():
    """Both clients: the first debug span of an operation is refused (no
    credit yet, the operation is remembered), the agent is asked for the
    operations seen, and the credits it grants (2 for op-a, 1 for op-b, once
    per client) make exactly that many debug spans; the rest are throttled."""
    granted = {}

    def answer(path, q):
        if path != "/credits":
            return 404, {}
        uuid = q["uuid"][0]
        # credits once per client, on its first request naming both
        # operations (a first poll could come between the two asks)
        first = uuid not in granted and set(q.get("operations", [])) >= {"op-a", "op-b"}
        if first:
            granted[uuid] = q
        credits = {"op-a": 2, "op-b": 1} if first else {}
        return 200, {"balances": [{"operation": op, "balance": credits.get(op, 0)}
                                  for op in q.get("operations", [])]}

    agent = Agent_(answer)
    udp = (Udp(), Udp())
    config = {"sampler": {"type": "const", "param": 0},
              "throttler": {"port": agent.port, "refresh_interval": 1}}
    jt, tt = make_pair(config, udp, "thr")
    try:
        for t in (jt, tt):
            debug_span_via_priority(t, "op-a")      # refused: op-a unknown
            debug_span_via_debug_id(t, "op-b")      # refused: op-b unknown
        assert tt.metrics()["throttled_debug_spans"] == 2
        assert jt.throttler.credits == {"op-a": 0, "op-b": 0}
        # each client asks for the operations it saw (first after a random
        # delay within one refresh interval, as jaeger_client)
        assert agent.wait(lambda r: r[0] == "/credits" and len(granted) >= 2, timeout=8), \
            "both clients asked for credits"
        # the answers applied: tracewire counts an update after merging it,
        # so every answered request of its uuid (a UUID; jaeger_client's is
        # a decimal number) is counted once applied
        (tw_uuid,) = [u for u in granted if "-" in u]

        def tw_applied():
            with agent.cond:
                n = sum(1 for p, q in agent.requests if q.get("uuid") == [tw_uuid])
            return tt.metrics()["throttler_updates_ok"] >= n
        deadline = time.time() + 5
        while time.time() < deadline and not (
                tw_applied() and
                jt.throttler.credits.get("op-a") == 2 and jt.throttler.credits.get("op-b") == 1):
            time.sleep(0.02)
        assert jt.throttler.credits == {"op-a": 2, "op-b": 1}
        for t in (jt, tt):
            for _ in range(3):
                debug_span_via_priority(t, "op-a")  # 2 credits: 2 debug spans
            for _ in range(2):
                debug_span_via_debug_id(t, "op-b")  # 1 credit: 1 debug span
        assert tt.metrics()["throttled_debug_spans"] == 4
        jproc, jspans = udp[0].spans(3)
        tproc, tspans = udp[1].spans(3)
        # the same spans: 2 x op-a sampled+debug tagged sampling.priority=1,
        # 1 x op-b sampled+debug tagged jaeger-debug-id=corr-1
        assert shape(tspans) == shape(jspans)
        assert shape(tspans) == [
            ("op-a", 3, (("sampling.priority", "1"),)),
            ("op-a", 3, (("sampling.priority", "1"),)),
            ("op-b", 3, (("jaeger-debug-id", "corr-1"),)),
        ]
        # the requests: same path and parameters; uuid is each client's
        # client-uuid process tag (jaeger_client: a random decimal number,
        # tracewire: its UUID)
        jq, tq = [granted[str(tags(proc.tags)["client-uuid"])] for proc in (jproc, tproc)]
        assert sorted(jq) == sorted(tq) == ["operations", "service", "uuid"]
        assert jq["service"] == tq["service"] == ["thr"]
        assert jq["operations"] == tq["operations"] == ["op-a", "op-b"]
        m = tt.metrics()
        assert m["throttler_updates_ok"] >= 1 and m["throttler_updates_err"] == 0
    finally:
        close_both(jt, tt)
        agent.close()
        for u in udp:
            u.close()


def test_throttler_metrics_are_jaeger_clients():
    """The throttler's metrics: jaeger_client's ThrottlerMetrics names, made
    only when the throttler is on (as jaeger_client makes them)."""
    from jaeger_client.throttler import ThrottlerMetrics
    from tracewire import _fidelity
    from test_fidelity import RecordingFactory
    theirs, ours, off = RecordingFactory(), RecordingFactory(), RecordingFactory()
    ThrottlerMetrics(theirs)
    t = tracewire.Config({"throttler": {}, "protocol": "memory"}, service_name="m",
                         metrics_factory=ours).new_tracer()
    t2 = tracewire.Config({"protocol": "memory"}, service_name="m",
                          metrics_factory=off).new_tracer()
    try:
        names = {k for k in ours.created if "throttl" in k[1]}
        assert sorted(names) == sorted(theirs.created)
        assert not [k for k in off.created if "throttl" in k[1]]
        assert t.config("throttler") == "true" and t2.config("throttler") == "false"
        assert [k for k in _fidelity.RESTRICTION_COUNTERS] and \
            not [k for k in ours.created if "baggage" in k[1]]
    finally:
        t.close(1)
        t2.close(1)


def test_throttler_agent_down_is_said_counted_and_never_blocks(caplog):
    """No agent on the throttler port: jaeger_client counts
    jaeger:throttler_update{result=err}; tracewire counts
    throttler_updates_err and says it once through the jaeger_tracing
    logger. Debug asks are refused (no credit) without waiting for the agent."""
    caplog.set_level(logging.WARNING, logger="jaeger_tracing")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]          # closed again: connection refused
    udp = Udp()
    t = tracewire.Config({"sampler": {"type": "const", "param": 0},
                          "throttler": {"port": dead, "refresh_interval": 1},
                          "local_agent": {"reporting_host": "127.0.0.1",
                                          "reporting_port": udp.port}},
                         service_name="down").new_tracer()
    try:
        t0 = time.monotonic()
        for i in range(50):
            debug_span_via_priority(t, "op-%d" % (i % 3))
        assert time.monotonic() - t0 < 1.0, "span calls never wait for the agent"
        deadline = time.time() + 5
        while time.time() < deadline and t.metrics()["throttler_updates_err"] == 0:
            time.sleep(0.05)
        m = t.metrics()
        assert m["throttler_updates_err"] >= 1 and m["throttler_updates_ok"] == 0
        assert m["throttled_debug_spans"] == 50
        recs = [r for r in caplog.records if r.name == "jaeger_tracing" and
                "throttler" in r.getMessage()]
        assert len(recs) == 1, [r.getMessage() for r in recs]
        assert "/credits?service=down" in recs[0].getMessage()
    finally:
        t.close(1)
        udp.close()


def test_real_jaeger_client_counts_a_failed_credit_request_too():
    """The same dead port through jaeger_client: its own failure metric."""
    from test_fidelity import RecordingFactory
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    f = RecordingFactory()
    jt = jaeger_client.Config({"sampler": {"type": "const", "param": 0},
                               "throttler": {"port": dead, "refresh_interval": 1}},
                              service_name="down", metrics_factory=f).new_tracer()
    try:
        debug_span_via_priority(jt, "op")
        key = ("counter", "jaeger:throttler_update", (("result", "err"),))
        deadline = time.time() + 5
        while time.time() < deadline and not f.values.get(key):
            time.sleep(0.05)
        assert f.values.get(key, 0) >= 1
        assert f.values[("counter", "jaeger:throttled_debug_spans", ())] == 1
    finally:
        close_jaeger_client(jt)


# ---------------------------------------------------------------- debug id header

@pytest.mark.parametrize("header", [None, "X-Debug-Id"])
@pytest.mark.parametrize("fmt", [Format.HTTP_HEADERS, Format.TEXT_MAP])
def test_debug_id_side_by_side(header, fmt):
    """A carrier holding only the debug id header starts a sampled+debug trace
    tagged <header>=value in both clients (the sampler, const 0, is not
    asked); with a trace context beside it the debug id is ignored."""
    udp = (Udp(), Udp())
    config = {"sampler": {"type": "const", "param": 0}}
    if header:
        config["debug_id_header"] = header
    name = header or "jaeger-debug-id"
    jt, tt = make_pair(config, udp, "dbg")
    try:
        for t in (jt, tt):
            ctx = t.extract(fmt, {name.lower(): "corr-7"})
            t.start_span("debug-root", child_of=ctx).finish()
            # an unsampled context + a debug id: the context wins (no debug)
            parent = t.start_span("unsampled")
            carrier = {}
            t.inject(parent.context, fmt, carrier)
            carrier[name] = "ignored"
            t.start_span("follows-context", child_of=t.extract(fmt, carrier)).finish()
            parent.finish()
        _, jspans = udp[0].spans(1, timeout=4)
        _, tspans = udp[1].spans(1, timeout=4)
        assert shape(tspans) == shape(jspans) == [("debug-root", 3, ((name, "corr-7"),))]
        assert tt.config("debug_id_header") == name
    finally:
        close_both(jt, tt)
        for u in udp:
            u.close()


# ---------------------------------------------------------------- baggage restrictions

def restricted_tracer(agent_port, udp, deny=False, refresh=1):
    return tracewire.Config(
        {"sampler": {"type": "const", "param": 1},
         "baggage_restrictions": {"host_port": "127.0.0.1:%d" % agent_port,
                                  "refresh_interval": refresh,
                                  "deny_baggage_on_initialization_failure": deny},
         "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": udp.port},
         "options": {"reporter.protocols": "udp,memory"}},
        service_name="bag").new_tracer()


def baggage_logs(tracer, op):
    (span,) = [s for s in tracer.memory_spans() if s["operation_name"] == op]
    return [dict(log["fields"]) for log in span["logs"]]


def test_baggage_restrictions_from_the_agent(caplog):
    """Before the first good answer (the agent fails: counted, said once)
    every key is allowed, values cut at 2048; after it only the agent's keys,
    each cut at its maxValueLength; a denied key is not set, and both are
    logged on the span as jaeger-client-go's baggage setter logs them."""
    caplog.set_level(logging.WARNING, logger="jaeger_tracing")
    state = {"ok": False}

    def answer(path, q):
        if path != "/baggageRestrictions":
            return 404, {}
        if not state["ok"]:
            return 500, {"error": "not yet"}
        return 200, [{"baggageKey": "allowed", "maxValueLength": 5},
                     {"baggageKey": "user", "maxValueLength": 64}]

    agent = Agent_(answer)
    udp = Udp()
    t = restricted_tracer(agent.port, udp)
    try:
        t.flush(0)      # starts the reporter thread, which fetches at once
        assert agent.wait(lambda r: r[0] == "/baggageRestrictions")
        deadline = time.time() + 5
        while time.time() < deadline and t.metrics()["baggage_restrictions_updates_err"] == 0:
            time.sleep(0.02)
        s = t.start_span("before")
        s.set_baggage_item("anything", "x" * 3000)
        assert s.get_baggage_item("anything") == "x" * 2048
        s.finish()
        state["ok"] = True
        deadline = time.time() + 5
        while time.time() < deadline and t.metrics()["baggage_restrictions_updates_ok"] == 0:
            time.sleep(0.02)
        s = t.start_span("after")
        s.set_baggage_item("allowed", "123456789")
        s.set_baggage_item("allowed", "ab")
        s.set_baggage_item("denied", "v")
        assert s.get_baggage_item("allowed") == "ab"
        assert s.get_baggage_item("denied") is None
        carrier = {}
        t.inject(s.context, Format.HTTP_HEADERS, carrier)
        assert carrier.get("uberctx-allowed") == "ab" and "uberctx-denied" not in carrier
        s.finish()
        assert t.flush(2)
        # (the logged value is cut again at max_tag_value_length, 1024, as
        # every log value is, in jaeger_client too)
        assert baggage_logs(t, "before") == [
            {"event": "baggage", "key": "anything", "value": "x" * 1024, "truncated": "true"}]
        assert baggage_logs(t, "after") == [
            {"event": "baggage", "key": "allowed", "value": "12345", "truncated": "true"},
            {"event": "baggage", "key": "allowed", "value": "ab", "override": "true"},
            {"event": "baggage", "key": "denied", "value": "v", "invalid": "true"}]
        m = t.metrics()
        assert (m["baggage_updates_ok"], m["baggage_updates_err"], m["baggage_truncations"]) == \
            (3, 1, 2)
        assert m["baggage_restrictions_updates_ok"] >= 1
        assert m["baggage_restrictions_updates_err"] >= 1
        recs = [r.getMessage() for r in caplog.records if r.name == "jaeger_tracing" and
                "baggage restrictions" in r.getMessage()]
        assert len(recs) == 1 and "/baggageRestrictions?service=bag" in recs[0], recs
        # the request: path and parameters as jaeger-client-go's proxy makes them
        assert {p for p, _ in agent.requests} == {"/baggageRestrictions"}
        assert all(q == {"service": ["bag"]} for _, q in agent.requests)
    finally:
        t.close(1)
        agent.close()
        udp.close()


def test_deny_baggage_on_initialization_failure_with_the_agent_down():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    udp = Udp()
    t = restricted_tracer(dead, udp, deny=True)
    try:
        s = t.start_span("op")
        t0 = time.monotonic()
        s.set_baggage_item("k", "v")
        assert time.monotonic() - t0 < 0.5, "set_baggage never waits for the agent"
        assert s.get_baggage_item("k") is None
        s.finish()
        assert t.metrics()["baggage_updates_err"] == 1
        deadline = time.time() + 5
        while time.time() < deadline and t.metrics()["baggage_restrictions_updates_err"] == 0:
            time.sleep(0.02)
        assert t.metrics()["baggage_restrictions_updates_err"] >= 1
    finally:
        t.close(1)
        udp.close()


def test_jaeger_client_has_no_baggage_restrictions():
    """jaeger_client 4.8 has no restriction manager: with the same key (it is
    not in its validated keys) it asks the agent nothing and sets every key.
    tracewire implements jaeger-client-go's (the test above)."""
    agent = Agent_(lambda path, q: (200, []))
    try:
        with pytest.raises(ValueError, match="baggage_restrictions"):
            jaeger_client.Config({"baggage_restrictions": {}}, service_name="j", validate=True)
        jt = jaeger_client.Config({"sampler": {"type": "const", "param": 1},
                                   "baggage_restrictions": {"host_port": "127.0.0.1:%d" % agent.port}},
                                  service_name="j").new_tracer()
        s = jt.start_span("op")
        s.set_baggage_item("denied", "v")
        assert s.get_baggage_item("denied") == "v"
        s.finish()
        time.sleep(0.5)
        assert agent.requests == []
        jt.close()
    finally:
        agent.close()


def test_validate_accepts_the_controls_without_a_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracewire.Config({"throttler": {"port": 5778, "refresh_interval": 5},
                          "baggage_restrictions": {"refresh_interval": 60},
                          "debug_id_header": "jaeger-debug-id", "protocol": "memory"},
                         service_name="x", validate=True).new_tracer().close(1)
