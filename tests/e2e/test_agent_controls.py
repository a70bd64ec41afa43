"""The agent's controls (issue #20) against the real Jaeger (v1.76 all-in-one =
Jaeger v2) on 127.0.0.1:5778, the port jaeger_client's throttler and
jaeger-client-go's restriction manager ask.

What Jaeger v2 serves there is its remote-sampling endpoint, which answers
every path with the service's sampling strategy: /credits and
/baggageRestrictions are not implemented. Both jaeger_client 4.8 and
tracewire must then count a failed update and change nothing (tracewire also
says it on the jaeger_tracing logger); tests/python/test_agent_controls.py
covers the working protocol against a listener that implements it.
"""
import json
import logging
import time
import urllib.request

import jaeger_client

import tracewire

AGENT = "127.0.0.1:5778"


class Recording(object):
    """jaeger_client's MetricsFactory interface, keeping counter totals."""

    def __init__(self):
        self.values = {}

    def create_counter(self, name, tags=None):
        key = (name, tuple(sorted((tags or {}).items())))
        self.values.setdefault(key, 0)

        def inc(v):
            self.values[key] += v
        return inc

    def create_timer(self, name, tags=None):
        return lambda v: None

    def create_gauge(self, name, tags=None):
        return lambda v: None


def wait_for(pred, timeout=8):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_jaeger_answers_credits_and_restrictions_with_a_sampling_strategy(jaeger):
    for path in ("/credits?service=e2e-ctl&uuid=1&operations=op",
                 "/baggageRestrictions?service=e2e-ctl"):
        with urllib.request.urlopen("http://%s%s" % (AGENT, path), timeout=5) as r:
            body = json.loads(r.read())
        assert r.status == 200
        assert "strategyType" in body and "balances" not in body, body
        assert not isinstance(body, list)


def test_throttler_against_jaeger_fails_alike_in_both_clients(jaeger, caplog):
    caplog.set_level(logging.WARNING, logger="jaeger_tracing")
    config = {"sampler": {"type": "const", "param": 0},
              "throttler": {"port": 5778, "refresh_interval": 1},
              "local_agent": {"reporting_host": "127.0.0.1"}}
    f = Recording()
    jt = jaeger_client.Config(dict(config), service_name="e2e-throttle",
                              metrics_factory=f).new_tracer()
    tt = tracewire.Config(dict(config), service_name="e2e-throttle").new_tracer()
    try:
        for t in (jt, tt):
            s = t.start_span("op")
            s.set_tag("sampling.priority", 1)    # no credit: refused, op remembered
            assert not s.context.flags & 1
            s.finish()
        err = ("jaeger:throttler_update", (("result", "err"),))
        ok = ("jaeger:throttler_update", (("result", "ok"),))
        assert wait_for(lambda: f.values.get(err, 0) >= 1), f.values
        assert wait_for(lambda: tt.metrics()["throttler_updates_err"] >= 1), tt.metrics()
        assert f.values.get(ok, 0) == 0 and tt.metrics()["throttler_updates_ok"] == 0
        msgs = [r.getMessage() for r in caplog.records if r.name == "jaeger_tracing"
                and "throttler" in r.getMessage()]
        assert msgs and 'no "balances" list' in msgs[0], msgs
    finally:
        tt.close(2)
        jt.throttler.close()     # jaeger_client's close() leaves it polling
        jt.close()


def test_baggage_restrictions_against_jaeger_fail_and_keep_the_default(jaeger, caplog):
    caplog.set_level(logging.WARNING, logger="jaeger_tracing")
    tt = tracewire.Config({"sampler": {"type": "const", "param": 1},
                           "baggage_restrictions": {"host_port": AGENT, "refresh_interval": 1},
                           "local_agent": {"reporting_host": "127.0.0.1"}},
                          service_name="e2e-restrict").new_tracer()
    try:
        tt.flush(0)
        assert wait_for(lambda: tt.metrics()["baggage_restrictions_updates_err"] >= 1)
        assert tt.metrics()["baggage_restrictions_updates_ok"] == 0
        s = tt.start_span("op")
        s.set_baggage_item("k", "v" * 3000)     # uninitialized, not denying: cut at 2048
        assert s.get_baggage_item("k") == "v" * 2048
        s.finish()
        msgs = [r.getMessage() for r in caplog.records if r.name == "jaeger_tracing"
                and "baggage restrictions" in r.getMessage()]
        assert msgs and "not a JSON list" in msgs[0], msgs
    finally:
        tt.close(2)
