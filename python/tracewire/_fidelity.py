"""What jaeger_client users' code and tests read, over the C core (issue #20).

Nothing here is on the span path: the attributes below are read only when a
user asks for them, and the metrics bridge runs on flush()/close() and on a
once-a-second daemon thread that only reads the core's counters.

* ``JaegerTracer`` — the tracer ``tracewire.Config`` makes: the C Tracer plus
  ``tracer.sampler`` and a ``metrics_factory`` fed from the core's counters.
* ``Span.tags`` / ``Span.logs`` / ``Span.end_time`` — read from the finished
  span's record in the ``memory`` reporter (tracewire's InMemoryReporter); the
  core hands a finished span's data to its reporter thread, so there is no
  other copy to read. Shapes: ``tags`` is a dict (jaeger_client: a list of
  thrift Tag), ``logs`` a list of ``LogRecord(timestamp, fields)`` with
  ``timestamp`` in seconds and ``fields`` a dict (jaeger_client: thrift Log with
  microseconds and a Tag list). An unsampled span records nothing: ``{}``,
  ``[]``, as jaeger_client keeps no tags for it.
"""
import collections
import threading
from typing import Any
import weakref

from . import _core

LogRecord = collections.namedtuple("LogRecord", "timestamp fields")


# ------------------------------------------------------------------ sampler

class SamplerInfo(object):
    """``tracer.sampler``: the configured sampler, read-only.

    jaeger_client returns its sampler object (ConstSampler, ProbabilisticSampler,
    RateLimitingSampler, RemoteControlledSampler); tracewire's sampler lives in
    the core, so this describes it with ``type`` and ``param`` plus the attribute
    jaeger_client's class of that type has (``decision``, ``rate``,
    ``traces_per_second``), and the same ``str()``. For ``remote`` it is the
    initial sampler's rate; strategies fetched later are not reflected here.
    """

    __slots__ = ("type", "param")

    def __init__(self, type_: str, param: float) -> None:
        self.type = type_
        self.param = param

    @property
    def decision(self):
        return self.type in ("const", "always_on") and self.param > 0

    @property
    def rate(self):
        return self.param

    @property
    def traces_per_second(self):
        return self.param

    def __eq__(self, other):
        return isinstance(other, SamplerInfo) and (self.type, self.param) == (other.type, other.param)

    def __hash__(self):
        return hash((self.type, self.param))

    def __str__(self):
        if self.type in ("const", "always_on", "always_off"):
            return "ConstSampler(%s)" % self.decision
        if self.type in ("probabilistic", "traceidratio"):
            return "ProbabilisticSampler(%s)" % self.param
        if self.type == "ratelimiting":
            return "RateLimitingSampler(%s)" % self.param
        return "RemoteControlledSampler(initial=ProbabilisticSampler(%s))" % self.param

    __repr__ = __str__


def _sampler_of(tracer):
    return SamplerInfo(tracer.config("sampler.type"), float(tracer.config("sampler.param")))


# ------------------------------------------------------------------ metrics

def _legacy_factory(metrics):
    """jaeger_client's LegacyMetricsFactory over a legacy ``Metrics`` object
    (count/timing/gauge by key); keys as jaeger_client builds them."""

    def key(name, tags):
        for k in sorted(tags or {}):
            name = name + "." + str(k) + "_" + str(tags[k])
        return name

    class _Legacy(object):
        def create_counter(self, name, tags=None):
            k = key(name, tags)
            return lambda value: metrics.count(k, value)

        def create_timer(self, name, tags=None):
            k = key(name, tags)
            return lambda value: metrics.timing(k, value / 1000.0)

        def create_gauge(self, name, tags=None):
            k = key(name, tags)
            return lambda value: metrics.gauge(k, value)

    return _Legacy()


# jaeger_client 4.8's metric names and tags (tracer.py TracerMetrics,
# reporter.py ReporterMetrics, sampler.py SamplerMetrics), each with the core
# counters that feed it: name, tags, function of the counters dict. None: the
# core does not count it; the metric is created (so a dashboard finds it)
# and stays at 0.
COUNTERS = (
    ("jaeger:traces", {"state": "started", "sampled": "y"}, None),
    ("jaeger:traces", {"state": "started", "sampled": "n"}, None),
    ("jaeger:traces", {"state": "joined", "sampled": "y"}, None),
    ("jaeger:traces", {"state": "joined", "sampled": "n"}, None),
    ("jaeger:started_spans", {"sampled": "y"}, lambda c: c["spans_sampled"]),
    ("jaeger:started_spans", {"sampled": "n"}, lambda c: c["spans_started"] - c["spans_sampled"]),
    ("jaeger:finished_spans", None, lambda c: c["spans_finished"]),
    ("jaeger:reporter_spans", {"result": "ok"}, lambda c: c["spans_reported"]),
    ("jaeger:reporter_spans", {"result": "err"},
     lambda c: c["dropped_send_failed"] + c["dropped_too_large"]),
    ("jaeger:reporter_spans", {"result": "dropped"},
     lambda c: c["dropped_queue_full"] + c["dropped_on_close"]),
    ("jaeger:sampler_queries", {"result": "ok"}, None),
    ("jaeger:sampler_queries", {"result": "err"}, None),
    ("jaeger:sampler_updates", {"result": "ok"}, lambda c: c["sampler_updates"]),
    ("jaeger:sampler_updates", {"result": "err"}, None),
)
# jaeger_client's ThrottlerMetrics (throttler.py), made only when the
# throttler is on, as jaeger_client makes them only for its RemoteThrottler.
THROTTLER_COUNTERS = (
    ("jaeger:throttled_debug_spans", None, lambda c: c["throttled_debug_spans"]),
    ("jaeger:throttler_update", {"result": "ok"}, lambda c: c["throttler_updates_ok"]),
    ("jaeger:throttler_update", {"result": "err"}, lambda c: c["throttler_updates_err"]),
)
# jaeger_client 4.8 has no baggage restrictions; jaeger-client-go's metrics
# (jaeger_tracer_baggage_*), named in jaeger_client's style, made only when
# the restrictions are on.
RESTRICTION_COUNTERS = (
    ("jaeger:baggage_updates", {"result": "ok"}, lambda c: c["baggage_updates_ok"]),
    ("jaeger:baggage_updates", {"result": "err"}, lambda c: c["baggage_updates_err"]),
    ("jaeger:baggage_truncations", None, lambda c: c["baggage_truncations"]),
    ("jaeger:baggage_restrictions_updates", {"result": "ok"},
     lambda c: c["baggage_restrictions_updates_ok"]),
    ("jaeger:baggage_restrictions_updates", {"result": "err"},
     lambda c: c["baggage_restrictions_updates_err"]),
)
GAUGES = (
    ("jaeger:reporter_queue_length", None,
     lambda c: max(0, c["spans_finished"] - c["spans_reported"] - c["dropped_queue_full"]
                   - c["dropped_too_large"] - c["dropped_send_failed"] - c["dropped_on_close"]
                   - c.get("spans_discarded", 0))),
)

FEED_INTERVAL_S = 1.0


class _MetricsFeed(object):
    """Feeds a jaeger_client MetricsFactory from the core counters: counters
    get the increase since the last feed, gauges the current value."""

    def __init__(self, factory, extra=()):
        self._lock = threading.Lock()
        # a copy of the tags each time: PrometheusMetricsFactory adds its
        # service label to the dict it is given
        self._counters = [(factory.create_counter(name=n, tags=dict(t) if t else None), f)
                          for n, t, f in tuple(COUNTERS) + tuple(extra)]
        self._gauges = [(factory.create_gauge(name=n, tags=dict(t) if t else None), f)
                        for n, t, f in GAUGES]
        self._last = [0] * len(self._counters)

    def feed(self, counters):
        with self._lock:
            for i, (inc, f) in enumerate(self._counters):
                if f is None:
                    continue
                v = f(counters)
                if v > self._last[i]:
                    inc(v - self._last[i])
                    self._last[i] = v
            for upd, f in self._gauges:
                upd(f(counters))


def _feed_loop(ref, stop):
    while not stop.wait(FEED_INTERVAL_S):
        t = ref()
        if t is None:
            return
        t._feed_metrics()
        del t


# ------------------------------------------------------------------ tracer

class JaegerTracer(_core.Tracer):
    """The tracer ``tracewire.Config`` makes: ``tracewire.Tracer`` plus
    ``sampler`` and jaeger_client's ``metrics_factory``."""

    def _setup(self, metrics_factory, throttler=False, restrictions=False):
        extra = (THROTTLER_COUNTERS if throttler else ()) + \
            (RESTRICTION_COUNTERS if restrictions else ())
        self._feed = _MetricsFeed(metrics_factory, extra) if metrics_factory is not None else None
        self._stop = threading.Event()
        if self._feed is not None:
            th = threading.Thread(target=_feed_loop, args=(weakref.ref(self), self._stop),
                                  name="tracewire-metrics", daemon=True)
            th.start()

    @property
    def sampler(self) -> SamplerInfo:
        return _sampler_of(self)

    def _feed_metrics(self):
        feed = getattr(self, "_feed", None)
        if feed is not None:
            feed.feed(self.metrics())

    def flush(self, *args: Any, **kwargs: Any) -> bool:
        r = super().flush(*args, **kwargs)
        self._feed_metrics()
        return r

    def close(self, *args: Any, **kwargs: Any) -> bool:
        r = super().close(*args, **kwargs)
        self._feed_metrics()
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
        return r


# ------------------------------------------------------------------ span records

_NOT_RECORDED = ("span.%s is read from the finished span's record in the 'memory' reporter "
                 "(add 'memory' to the protocol, e.g. Config({'protocol': 'udp,memory'}) or "
                 "{'protocol': 'memory'} in tests): this tracer's reporter.protocols is %r")


def _record(span, what):
    """The memory reporter's record of a finished span, or None when it has
    none (unsampled). AttributeError when the tracer keeps no records."""
    tracer = span.tracer
    protos = tracer.config("reporter.protocols")
    if "memory" not in protos.split(","):
        raise AttributeError(_NOT_RECORDED % (what, protos))
    if not span.finished:
        return None
    sid = span.context.span_id_hex
    tid = span.context.trace_id_hex
    for rec in tracer.memory_spans():
        if rec["span_id"] == sid and rec["trace_id"].lstrip("0") == tid.lstrip("0"):
            return rec
    return None


def _span_tags(span):
    """Tags of the finished span as a dict (jaeger_client: list of thrift
    Tag); {} while open or unsampled."""
    rec = _record(span, "tags")
    return dict(rec["tags"]) if rec else {}


def _span_logs(span):
    """Logs of the finished span as [LogRecord(timestamp seconds, fields dict)]."""
    rec = _record(span, "logs")
    if not rec:
        return []
    return [LogRecord(lg["timestamp_us"] / 1e6, dict(lg["fields"])) for lg in rec["logs"]]


def _span_end_time(span):
    """Finish time in seconds since the epoch; None while open (as
    jaeger_client) and for an unsampled span (not recorded)."""
    rec = _record(span, "end_time")
    if not rec:
        return None
    return (rec["start_us"] + rec["duration_us"]) / 1e6


def install():
    """Adds the read-only attributes to the extension's Span type (once)."""
    span = _core.Span
    if getattr(span, "_tw_fidelity", False):
        return
    span.tags = property(_span_tags, doc=_span_tags.__doc__)
    span.logs = property(_span_logs, doc=_span_logs.__doc__)
    span.end_time = property(_span_end_time, doc=_span_end_time.__doc__)
    span._tw_fidelity = True
