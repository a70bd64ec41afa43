"""jaeger_client.Config, for tracewire.

Accepts jaeger_client's ``Config(config={...}, service_name=..., validate=...,
scope_manager=...)`` with the same keys and meanings, plus tracewire's own
(``protocol``, ``endpoint``, W3C propagation, raw core ``options``). The nested
dict is only flattened into dotted keys (``sampler: {type: ...}`` ->
``sampler.type``, ``tags: {k: v}`` -> ``tags.k``) and handed to the core with
``profile=jaeger_client``; what each key means — aliases, seconds vs
milliseconds, ``propagation: "b3"`` — is the core's key table
(core/src/config_keys.c), the same one the Lua face uses. The core applies the
environment (JAEGER_*, OTEL_*) first; keys given here win.
"""
import atexit
import logging
import os
from typing import Any, Dict, List, Optional, Tuple
import threading
import warnings

import opentracing

from . import _core
from . import _fidelity

logger = logging.getLogger("tracewire")
jaeger_logger = logging.getLogger("jaeger_tracing")     # jaeger_client's logger

# jaeger_client keys tracewire accepts and does not act on: each one present
# is named in a warning (RuntimeWarning and the "jaeger_tracing" logger), with
# or without validate=True. Their rows in core/src/config_keys.c are IGNORED.
NOT_ACTED_ON = {
    "span_context_header_keys": "not a jaeger_client 4.8 key; not acted on",
}

_MAX_DEPTH = 3      # as the Lua face: deeper nesting is refused


def _text(v):
    """A scalar as the core reads it; the same text the Lua face makes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2.0 ** 53:
            return str(int(v))
        return repr(v)              # shortest text that reads back as v
    return v if isinstance(v, str) else str(v)


def flatten(config, prefix="", depth=0, out=None):
    """A jaeger_client-style nested dict -> [(dotted key, text)]. Lists become
    comma lists; a top-level ``options`` dict holds raw core keys (no prefix);
    None values are left out, as jaeger_client reads them as absent; an empty
    dict naming a group switch (``throttler: {}``) turns the group on."""
    if out is None:
        out = []
    if depth > _MAX_DEPTH:
        raise ValueError("config nested too deeply at %r" % prefix)
    for k, v in config.items():
        key = prefix + str(k)
        if v is None:
            continue
        if isinstance(v, dict):
            if depth == 0 and key == "options":
                flatten(v, "", depth + 1, out)
            elif not v and _core.config_key_is_group(key):
                # a group a jaeger client turns on by its presence
                # (`throttler: {}`); the core names the groups, for every face
                out.append((key, "true"))
            else:
                flatten(v, key + ".", depth + 1, out)
        elif isinstance(v, (list, tuple)):
            out.append((key, ",".join(_text(x) for x in v)))
        else:
            out.append((key, _text(v)))
    return out


class Config(object):
    """Config(config, metrics=None, service_name=None, metrics_factory=None,
    validate=False, scope_manager=None) — as jaeger_client.Config.

    ``initialize_tracer()`` creates the process tracer once and installs it as
    ``opentracing.tracer`` (and ``opentracing.global_tracer()``); later calls
    warn and return None. ``new_tracer()`` always makes a new, private one.
    """

    _initialized = False
    _initialized_lock = threading.Lock()

    def __init__(self, config: Optional[Dict[str, Any]], metrics: Any = None,
                 service_name: Optional[str] = None, metrics_factory: Any = None,
                 validate: bool = False, scope_manager: Any = None) -> None:
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise ValueError("config must be a dict")
        self.config = config
        self._validate = validate
        self._metrics = metrics
        self._metrics_factory = metrics_factory
        # as jaeger_client: config['service_name'] wins over the argument
        self._service_name = config.get("service_name", service_name) or service_name
        if not self._service_name and validate:
            raise ValueError("service_name required in the config or as a parameter")
        self._scope_manager = scope_manager
        self._options = self._flatten()

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
        """The process tags, as jaeger_client's: the config's ``tags`` updated
        by ``JAEGER_TAGS`` (the variable wins a tag of the same name; the core
        does the same under the jaeger_client profile)."""
        tags = dict(self.config.get("tags", {}) or {})
        for kv in os.environ.get("JAEGER_TAGS", "").split(","):
            key, eq, value = kv.partition("=")
            if eq and key.strip():
                tags[key.strip()] = value.strip()
        return tags

    @property
    def scope_manager(self):
        return self._scope_manager

    def options(self) -> List[Tuple[str, str]]:
        """The core options (tw_config_set key -> text) this config is
        handed to the core as: flattened, jaeger_client profile first."""
        return list(self._options)

    def _flatten(self):
        raw = self.config.get("options")
        pairs = flatten({k: v for k, v in self.config.items()
                         if k not in ("service_name", "options")})
        # unknown keys: an error naming them under validate=True (as
        # jaeger_client), else left out (as jaeger_client ignores them)
        unknown = [k for k, _ in pairs if not _core.config_key_known(k)]
        if unknown and self._validate:
            raise ValueError("Unknown or unsupported config keys: %s" % ", ".join(unknown))
        pairs = [(k, v) for k, v in pairs if k not in unknown]
        for k in sorted({k.split(".")[0] for k, _ in pairs} & set(NOT_ACTED_ON)):
            msg = "tracewire: jaeger_client config key %r is accepted and not acted on: %s" % (
                k, NOT_ACTED_ON[k])
            jaeger_logger.warning("%s", msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=4)
        if isinstance(raw, dict):
            pairs += flatten(raw, "", 1)    # raw core keys: always checked by the core
        elif raw is not None:
            raise ValueError("options must be a dict of core keys, not %s" % type(raw).__name__)
        head = [("profile", "jaeger_client")]
        if self._service_name:
            head.append(("service_name", _text(self._service_name)))
        return head + pairs

    def new_tracer(self, io_loop: Any = None) -> "_fidelity.JaegerTracer":
        """A new Tracer with this config (not installed globally)."""
        del io_loop
        tracer = _fidelity.JaegerTracer(self._options, self._scope_manager)
        tracer._setup(self.metrics_factory, throttler=tracer.config("throttler") == "true",
                      restrictions=tracer.config("baggage_restrictions") == "true")
        return tracer

    @property
    def metrics_factory(self):
        """jaeger_client's MetricsFactory the tracer feeds (None: no metrics).
        As jaeger_client: ``metrics: False`` turns metrics off; a legacy
        ``metrics`` object is wrapped as its LegacyMetricsFactory does."""
        m = self.config.get("metrics", True)
        if m is False or (isinstance(m, str) and m.lower() in ("false", "0", "no", "off")):
            return None
        if self._metrics_factory is not None:
            return self._metrics_factory
        if self._metrics is not None:
            return _fidelity._legacy_factory(self._metrics)
        return None

    def create_tracer(self, *args: Any, **kwargs: Any) -> "_fidelity.JaegerTracer":
        return self.new_tracer()

    def initialize_tracer(self, io_loop: Any = None) -> "Optional[_fidelity.JaegerTracer]":
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
