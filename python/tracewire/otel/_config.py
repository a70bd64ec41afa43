"""Configuration of the OpenTelemetry face: OTel environment variables and
constructor arguments turned into core options and span limits.

Why here and not in the core: the core already reads OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_TRACES_EXPORTER and
the OTEL_EXPORTER_OTLP_* variables through its key table
(core/src/config_keys.c). What is left is what only this face means: the span
limits (enforced in Python before a value reaches the core), OTEL_SDK_DISABLED
as no-op tracers, and the face's defaults (OTLP reporting unless the
environment picks a reporter, W3C propagation inside the core tracer).
"""
import logging
import os

_log = logging.getLogger("tracewire.otel")

# OTel SDK defaults (specification: "Span Limits")
_DEFAULT_COUNT = 128

# Variables with which the environment picks the reporter itself (the core
# reads them through its key table); without any, this face reports OTLP.
_REPORTER_VARS = ("OTEL_TRACES_EXPORTER", "JAEGER_ENDPOINT", "JAEGER_AGENT_HOST",
                  "JAEGER_AGENT_PORT")


def _env_int(name, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        v = int(raw)
        if v < 0:
            raise ValueError(raw)
        return v
    except ValueError:
        _log.warning("tracewire.otel: ignoring %s=%r (not a non-negative integer)", name, raw)
        return default


def sdk_disabled():
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


class SpanLimits:
    """Span limits, as the SDK's ``SpanLimits``: an argument given wins over the
    OTEL_* variable, which wins over the default (128 counts, no length limit).
    ``None`` for a length means unlimited."""

    __slots__ = ("max_attributes", "max_events", "max_links", "max_event_attributes",
                 "max_link_attributes", "max_attribute_length", "max_span_attribute_length")

    def __init__(self, max_attributes=None, max_events=None, max_links=None,
                 max_event_attributes=None, max_link_attributes=None,
                 max_attribute_length=None, max_span_attribute_length=None):
        general = _env_int("OTEL_ATTRIBUTE_COUNT_LIMIT", _DEFAULT_COUNT)
        self.max_attributes = (max_attributes if max_attributes is not None
                               else _env_int("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", general))
        self.max_events = (max_events if max_events is not None
                           else _env_int("OTEL_SPAN_EVENT_COUNT_LIMIT", _DEFAULT_COUNT))
        self.max_links = (max_links if max_links is not None
                          else _env_int("OTEL_SPAN_LINK_COUNT_LIMIT", _DEFAULT_COUNT))
        self.max_event_attributes = (max_event_attributes if max_event_attributes is not None
                                     else _env_int("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", general))
        self.max_link_attributes = (max_link_attributes if max_link_attributes is not None
                                    else _env_int("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", general))
        glen = (max_attribute_length if max_attribute_length is not None
                else _env_int("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", None))
        self.max_attribute_length = glen
        self.max_span_attribute_length = (
            max_span_attribute_length if max_span_attribute_length is not None
            else _env_int("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", glen))

    def __repr__(self):
        return "SpanLimits(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.__slots__)


def _resource_attributes(resource):
    if resource is None:
        return {}
    attrs = getattr(resource, "attributes", resource)   # an SDK Resource or a mapping
    return dict(attrs)


def core_options(service_name=None, resource=None, sampler=None, sampler_arg=None, options=None):
    """The core tracer's options for this face (applied after the environment,
    so only what the caller or an OTel-only variable decided is set here)."""
    opts = {
        # the face turns an OTel SpanContext (from a propagator or a link) into
        # a core context through the core's W3C extract, whatever
        # OTEL_PROPAGATORS says (OTel's own propagators carry the context)
        "propagation.extract": "w3c,jaeger,b3,b3multi",
        # OTel has no value length limit by default: the face applies its own
        "max_tag_value_length": str(1 << 24),
        # the SDK's spans carry no sampler attributes (its samplers return
        # only the attributes start_span was given); Jaeger clients' do
        "sampler.tags": "false",
    }
    if not any(os.environ.get(v, "").strip() for v in _REPORTER_VARS):
        opts["reporter.protocols"] = "otlp"
    for k, v in _resource_attributes(resource).items():
        if k == "service.name":
            if service_name is None:
                service_name = v
            continue
        if isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        opts["tags." + str(k)] = v if isinstance(v, str) else str(v)
    if service_name is not None:
        opts["service_name"] = service_name
    opts.update(sampler_options(sampler, sampler_arg))
    if options:
        opts.update({str(k): v for k, v in dict(options).items()})
    return opts


def sampler_options(sampler, sampler_arg):
    """The core's sampler.type takes the OTel names (always_on, always_off,
    traceidratio, parentbased_*) as they are: it validates them."""
    out = {}
    if sampler is not None:
        out["sampler.type"] = str(sampler).strip().lower()
    if sampler_arg is not None:
        out["sampler.param"] = str(sampler_arg)
    return out
