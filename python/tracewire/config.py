"""jaeger_client.Config, for tracewire.

Accepts jaeger_client's ``Config(config={...}, service_name=..., validate=...,
scope_manager=...)`` with the same keys and meanings, plus tracewire's own
(``protocol``, ``endpoint``, W3C propagation, raw core ``options``), and turns
them into the core's ``tw_config_set`` keys (core/include/tracewire.h). The
core applies the environment (JAEGER_*, OTEL_*) first; keys given here win.
Nothing here decides anything at span time: this file only translates.
"""
import atexit
import logging
import threading
import warnings

import opentracing

from . import _core

logger = logging.getLogger("tracewire")

# jaeger_client keys we translate, plus tracewire's own.
_KNOWN_KEYS = frozenset((
    "enabled", "service_name", "sampler", "local_agent", "logging", "tags",
    "propagation", "trace_id_header", "baggage_header_prefix",
    "generate_128bit_trace_id", "max_tag_value_length", "max_traceback_length",
    "reporter_batch_size", "reporter_queue_size", "reporter_flush_interval",
    "sampling_refresh_interval", "throttler", "metrics", "debug_id_header",
    "baggage_restrictions", "span_context_header_keys",
    # tracewire's own
    "protocol", "protocols", "endpoint", "otlp_endpoint", "max_packet_size",
    "reporter_timeout", "reporter_retries", "max_baggage_size", "options",
))

# jaeger_client's sampler type names -> the core's.
_SAMPLER_TYPES = {
    "const": "const", "probabilistic": "probabilistic",
    "ratelimiting": "ratelimiting", "rate_limiting": "ratelimiting",
    "remote": "remote", "lowerbound": "probabilistic",
}


def _bool_text(v):
    if isinstance(v, str):
        return "true" if v.strip().lower() in ("1", "true", "yes", "on") else "false"
    return "true" if v else "false"


def _names(v):
    """A list or a comma string of names -> list of stripped lower-case names."""
    if isinstance(v, str):
        v = v.split(",")
    return [str(x).strip().lower() for x in v if str(x).strip()]


class Config(object):
    """Config(config, metrics=None, service_name=None, metrics_factory=None,
    validate=False, scope_manager=None) — as jaeger_client.Config.

    ``initialize_tracer()`` creates the process tracer once and installs it as
    ``opentracing.tracer`` (and ``opentracing.global_tracer()``); later calls
    warn and return None. ``new_tracer()`` always makes a new, private one.
    """

    _initialized = False
    _initialized_lock = threading.Lock()

    def __init__(self, config, metrics=None, service_name=None, metrics_factory=None,
                 validate=False, scope_manager=None):
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise ValueError("config must be a dict")
        self.config = config
        self._validate = validate
        if validate:
            unknown = sorted(set(config) - _KNOWN_KEYS)
            if unknown:
                raise ValueError("Unknown or unsupported config keys: %s" % ", ".join(unknown))
        self._service_name = service_name or config.get("service_name")
        if not self._service_name and validate:
            raise ValueError("service_name required in the config or as a parameter")
        self._scope_manager = scope_manager
        self._options = self._translate()

    # -- jaeger_client-style read-only properties
    @property
    def service_name(self):
        return self._service_name

    @property
    def enabled(self):
        return bool(self.config.get("enabled", True))

    @property
    def logging(self):
        return bool(self.config.get("logging", False))

    @property
    def sampler_config(self):
        return self.config.get("sampler", {}) or {}

    @property
    def tags(self):
        return self.config.get("tags", {}) or {}

    @property
    def scope_manager(self):
        return self._scope_manager

    def options(self):
        """The core options (tw_config_set key -> text) this config maps to."""
        return list(self._options)

    def _translate(self):
        c = self.config
        o = []

        def put(key, value):
            o.append((key, value if isinstance(value, str) else str(value)))

        if self._service_name:
            put("service_name", self._service_name)

        sampler = c.get("sampler") or {}
        if sampler:
            stype = sampler.get("type")
            if stype is not None:
                core_type = _SAMPLER_TYPES.get(str(stype).lower(), str(stype).lower())
                put("sampler.type", core_type)
            if sampler.get("param") is not None:
                param = sampler["param"]
                if isinstance(param, bool):
                    param = int(param)
                put("sampler.param", param)
            if sampler.get("sampling_server_url"):
                put("sampler.url", sampler["sampling_server_url"])

        agent = c.get("local_agent") or {}
        host = agent.get("reporting_host")
        if host:
            put("reporter.agent_host", host)
        if agent.get("reporting_port") is not None:
            put("reporter.agent_port", int(agent["reporting_port"]))
        if agent.get("sampling_port") is not None:
            put("sampler.url", "http://%s:%d/sampling" % (host or agent.get("sampling_host")
                                                          or "127.0.0.1",
                                                          int(agent["sampling_port"])))
        if c.get("sampling_refresh_interval") is not None:
            put("sampler.refresh_ms", int(float(c["sampling_refresh_interval"]) * 1000))

        tags = c.get("tags")
        if tags:
            parts = []
            for k, v in tags.items():
                if isinstance(v, bool):
                    v = "true" if v else "false"
                k, v = str(k), str(v)
                if "," in k + v or "=" in k:
                    warnings.warn("tracewire: tracer tag %r skipped (',' or '=' in it)" % k)
                    continue
                parts.append("%s=%s" % (k, v))
            if parts:
                put("tags", ",".join(parts))

        prop = c.get("propagation")
        if prop:
            if isinstance(prop, str) and prop.strip().lower() == "b3":
                names = ["b3multi"]       # jaeger_client's 'b3' is the X-B3-* header set
            else:
                names = _names(prop)      # tracewire's names: jaeger, w3c, b3, b3multi
            # what this service writes; it still reads every format (the core's
            # extract default), so mixed fleets keep joining up. Narrow with
            # options={'propagation.extract': ...}.
            put("propagation.inject", ",".join(names))

        for key in ("trace_id_header", "baggage_header_prefix", "max_tag_value_length",
                    "max_baggage_size"):
            if c.get(key) is not None:
                put(key, c[key])
        if c.get("generate_128bit_trace_id") is not None:
            put("trace_id_128bit", _bool_text(c["generate_128bit_trace_id"]))
        if c.get("reporter_batch_size") is not None:
            put("reporter.batch_size", int(c["reporter_batch_size"]))
        if c.get("reporter_queue_size") is not None:
            put("reporter.queue_size", int(c["reporter_queue_size"]))
        if c.get("reporter_flush_interval") is not None:
            put("reporter.flush_interval_ms", int(float(c["reporter_flush_interval"]) * 1000))
        if c.get("reporter_timeout") is not None:
            put("reporter.timeout_ms", int(float(c["reporter_timeout"]) * 1000))
        if c.get("reporter_retries") is not None:
            put("reporter.retries", int(c["reporter_retries"]))
        if c.get("max_packet_size") is not None:
            put("reporter.max_packet_size", int(c["max_packet_size"]))

        protocols = c.get("protocols", c.get("protocol"))
        protos = _names(protocols) if protocols else []
        if c.get("logging") and protos and "log" not in protos:
            protos.append("log")
        if not c.get("enabled", True):
            protos = ["none"]
        if protos:
            put("reporter.protocols", ",".join(protos))
        elif c.get("logging"):
            put("reporter.protocols", "udp,log")
        elif "enabled" in c and not c["enabled"]:
            put("reporter.protocols", "none")

        endpoint = c.get("endpoint")
        if endpoint:
            if protos and "otlp" in protos and "http" not in protos:
                put("reporter.otlp_endpoint", endpoint)
            else:
                put("reporter.endpoint", endpoint)
        if c.get("otlp_endpoint"):
            put("reporter.otlp_endpoint", c["otlp_endpoint"])

        raw = c.get("options") or {}
        for k, v in raw.items():
            put(str(k), v if isinstance(v, str) else (_bool_text(v) if isinstance(v, bool) else v))
        return o

    def new_tracer(self, io_loop=None):
        """A new Tracer with this config (not installed globally)."""
        del io_loop
        return _core.Tracer(self._options, self._scope_manager)

    def create_tracer(self, *args, **kwargs):
        return self.new_tracer()

    def initialize_tracer(self, io_loop=None):
        """Creates the process tracer and installs it as ``opentracing.tracer``.
        Only the first call in a process does: later calls log a warning and
        return None (as jaeger_client does)."""
        with Config._initialized_lock:
            if Config._initialized:
                logger.warning("Jaeger tracer already initialized, skipping")
                warnings.warn("tracewire: tracer already initialized, skipping", RuntimeWarning,
                              stacklevel=2)
                return None
            tracer = self.new_tracer(io_loop)
            Config._initialized = True
        install_global(tracer)
        # spans still queued when the process exits are delivered (bounded wait)
        atexit.register(tracer.close, 2.0)
        if self.logging:
            logger.info("Initialized tracewire tracer for service %s", tracer.service_name)
        return tracer

    @classmethod
    def initialized(cls):
        with cls._initialized_lock:
            return cls._initialized


def install_global(tracer):
    """Makes tracer the process-wide opentracing tracer (module attribute
    ``opentracing.tracer`` and ``opentracing.global_tracer()``)."""
    setter = getattr(opentracing, "set_global_tracer", None)
    if setter is not None:
        setter(tracer)
    opentracing.tracer = tracer
