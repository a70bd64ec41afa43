"""The OpenTelemetry trace API (opentelemetry-api's TracerProvider, Tracer,
Span) over the tracewire core.

Design: the OTel ``Span`` and ``Tracer`` are C types (_core_otel.c) over
the core: a span holds its core span directly; the per-span calls
(start_span, start_as_current_span, set_attribute(s), add_event,
set_status, end, ...) run without a Python frame. They keep only what the
OTel API needs to answer or to enforce: the attributes (for the count limit,
replace-in-place and ``span.attributes``), the event and link counts, the
status (written at ``end`` because OTel lets OK replace ERROR and core tags
cannot be taken back), and the ``SpanContext`` once asked for. The rare paths
(a foreign parent, links, record_exception, the decorator) are the Python
functions below, which the C types call. isinstance with the API's Span and
Tracer ABCs holds by ``register`` (a Python subclass would make every call
take the interpreter's slow path).

Context is OTel's own (``trace.set_span_in_context``, contextvars): the parent
of a new span is whatever span the OTel context holds. One of ours gives its
core span as the parent directly; any other valid ``SpanContext`` (a
``NonRecordingSpan`` from a propagator's extract, a link) is turned into a core
context through the core's W3C extract, so trace id, span id, flags and
tracestate are the core's own parsing of them.

Mapping onto the core's records (and so onto OTLP, Jaeger Thrift):
  kind        the core span's kind (tw_span_set_kind: OTLP kind, Jaeger
              ``span.kind``); INTERNAL is the core's default;
  status      ERROR: tag ``error=true`` (Jaeger shows the error) plus
              ``otel.status_code`` / ``otel.status_description`` tags, the
              OTel->Jaeger convention; OK: ``otel.status_code=OK``; the core's
              OTLP encoders make Status{code, message} of them;
  events      a core log whose ``event`` field is the event name (the OTLP
              encoders make it Span.Event.name);
  links       core links (``tw_span_add_link``), at start and after, with
              their attributes: OTLP ``links[]``; Jaeger Thrift a FOLLOWS_FROM
              reference (the attributes have no place there);
  sequences   homogeneous sequences are core ARRAY values: OTLP
              ``arrayValue``; Jaeger Thrift a string tag with the JSON array
              (the OTel rule for non-OTLP formats);
  scope       each Tracer is a core instrumentation scope (name, version,
              schema_url, attributes): OTLP groups spans by it in
              ``scopeSpans``; Jaeger gets ``otel.library.name`` /
              ``otel.library.version`` tags.
Bad input is dropped with a warning through logging ("tracewire.otel"), as
the SDK does: nothing raises into the application.
"""
import asyncio
import atexit
import functools
import logging
import threading
import traceback

import opentracing
from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from .. import _core
from . import _config

_log = logging.getLogger("tracewire.otel")

_SCALARS = (bool, str, bytes, int, float)
_TEXT_MAP = opentracing.Format.TEXT_MAP


def _clean_value(key, value, max_len):
    """An attribute value as the core takes it, or None (dropped, warned).
    Scalars stay scalars; homogeneous sequences become a tuple (a core ARRAY
    through _core.otel_set_attribute / otel_add_event / otel_add_link)."""
    t = type(value)
    if t is str:
        return value if max_len is None else value[:max_len]
    if t is bool or t is int or t is float:
        return value
    if isinstance(value, _SCALARS):
        if isinstance(value, bytes):
            try:
                value = value.decode()
            except UnicodeDecodeError:
                _log.warning("Byte attribute %r could not be decoded as UTF-8: dropped", key)
                return None
            return value if max_len is None else value[:max_len]
        return value
    if isinstance(value, (list, tuple)):
        seq_type = None
        out = []
        for el in value:
            if el is None:
                out.append(None)
                continue
            et = type(el)
            if et not in (bool, str, int, float):
                if isinstance(el, bool):
                    et = bool
                elif isinstance(el, str):
                    et = str
                elif isinstance(el, int):
                    et = int
                elif isinstance(el, float):
                    et = float
                else:
                    _log.warning("Invalid type %s in attribute %r value sequence. Expected one of "
                                 "bool, str, int, float or None: dropped", type(el).__name__, key)
                    return None
            if seq_type is None:
                seq_type = et
            elif et is not seq_type:
                _log.warning("Attribute %r mixes types %s and %s in one sequence: dropped",
                             key, seq_type.__name__, et.__name__)
                return None
            if et is str and max_len is not None:
                el = el[:max_len]
            elif et is int and not -(1 << 63) <= el < (1 << 63):
                _log.warning("Attribute %r: integer %d in a sequence does not fit in 64 bits: "
                             "dropped", key, el)
                return None
            out.append(et(el) if type(el) is not et else el)
        return tuple(out)
    _log.warning("Invalid type %s for attribute %r value. Expected one of bool, str, bytes, int, "
                 "float or a sequence of those: dropped", type(value).__name__, key)
    return None


# The OTel Span and Tracer are C types (_core_otel.c): their per-span calls
# run without Python frames. isinstance with the API's ABCs holds by register.
Span = _core.OtelSpan
Tracer = _core.OtelTracer
trace_api.Span.register(Span)
trace_api.Tracer.register(Tracer)


def _clean_attributes(attributes, max_count, max_len, what):
    """A dict of cleaned attributes (for links and scopes), at most max_count."""
    out = {}
    if not attributes:
        return out
    try:
        items = attributes.items()
    except AttributeError:
        _log.warning("%s attributes must be a mapping, not %s: dropped", what, type(attributes).__name__)
        return out
    for k, v in items:
        if not isinstance(k, str) or not k:
            _log.warning("Invalid attribute key %r on %s: dropped", k, what)
            continue
        v = _clean_value(k, v, max_len)
        if v is None:
            continue
        if k not in out and max_count is not None and len(out) >= max_count:
            _log.warning("%s attribute %r dropped: the limit of %d attributes was reached", what, k, max_count)
            continue
        out[k] = v
    return out


def _new_tracer(provider, name, version=None, schema_url=None, attributes=None, scope=True):
    """A Tracer for one instrumentation scope (TracerProvider.get_tracer)."""
    t = Tracer()
    t._provider = provider
    t._limits = lim = provider._limits
    t.instrumentation_scope_name = name
    t.instrumentation_scope_version = version
    t.schema_url = schema_url
    t.scope_attributes = dict(attributes or {})
    t._scope = None
    if scope:
        # the core's instrumentation scope: OTLP scopeSpans, Jaeger otel.library.*
        attrs = _clean_attributes(attributes, None, None, "scope")
        try:
            t._scope = _core.otel_scope(provider._core, name, version, schema_url, attrs or None)
        except Exception:  # noqa: BLE001  a scope the core refuses: spans keep tracewire's
            _log.warning("Instrumentation scope %r could not be made", name, exc_info=True)
    t._setup(provider._core,
             (lim.max_attributes, lim.max_events, lim.max_links, lim.max_event_attributes,
              lim.max_span_attribute_length, lim.max_attribute_length),
             t._scope)
    return t


def _foreign_parent(tracer, parent):
    """(core context or None, trace_state) for a parent span that is not ours
    (a NonRecordingSpan from a propagator's extract, ...)."""
    if not isinstance(parent, trace_api.Span):
        return None, None
    sc = parent.get_span_context()
    if not sc.is_valid:
        return None, None
    return tracer._provider._core_context(sc), sc.trace_state


def _start_links(span, links):
    """start_span(links=...): each link as add_link after start (the core's
    links carry attributes; they never parent the span)."""
    try:
        it = iter(links)
    except TypeError:
        _log.warning("links must be a sequence of Link: ignored")
        return
    for link in it:
        ctx = getattr(link, "context", None)
        if not isinstance(ctx, SpanContext):
            _log.warning("Invalid link %r: dropped", link)
            continue
        span.add_link(ctx, getattr(link, "attributes", None))


def _add_link(span, context, attributes=None):
    """A link, also after start (API 1.23+): OTLP links[] with attributes."""
    if not span.is_recording():
        return
    if not isinstance(context, SpanContext):
        if context is not None:
            _log.warning("Invalid link context %r: dropped", context)
        return
    ts = context.trace_state
    if not (context.is_valid or attributes or ts):
        return      # the SDK's rule: an invalid context is kept for attributes or a tracestate
    lim = span._tracer._limits
    if span._nlinks >= lim.max_links:
        _log.warning("Link dropped: the limit of %d links per span was reached", lim.max_links)
        return
    attrs = _clean_attributes(attributes, lim.max_link_attributes, lim.max_attribute_length, "link")
    try:
        span._add_link_ids(context.trace_id, context.span_id, int(context.trace_flags),
                           ts.to_header() if ts else None, attrs or None)
    except (TypeError, ValueError, OverflowError):
        _log.warning("Link to %r dropped: not a usable span context", context, exc_info=True)


def _record_exception(span, exception, attributes=None, timestamp=None, escaped=False):
    if not span.is_recording():
        return
    try:
        stacktrace = "".join(traceback.format_exception(
            type(exception), value=exception, tb=getattr(exception, "__traceback__", None)))
        et = type(exception)
        module = et.__module__
        attrs = {   # fully qualified outside builtins, as the SDK writes it
            "exception.type": ("%s.%s" % (module, et.__qualname__)
                               if module and module != "builtins" else et.__qualname__),
            "exception.message": str(exception),
            "exception.stacktrace": stacktrace,
            "exception.escaped": str(escaped),
        }
    except Exception:  # noqa: BLE001  a broken __str__ must not reach the app
        _log.warning("record_exception: could not describe %r", type(exception), exc_info=True)
        return
    if attributes:
        try:
            attrs.update(attributes)
        except (TypeError, ValueError):
            _log.warning("record_exception: attributes must be a mapping: ignored")
    span.add_event("exception", attrs, timestamp)


def _decorate(cm, func):
    """start_as_current_span(...) used as a decorator: a fresh context manager
    (cm._recreate(), same arguments) around each call, sync or async."""
    if asyncio.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args, **kwargs):
            with cm._recreate():
                return await func(*args, **kwargs)
        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with cm._recreate():
            return func(*args, **kwargs)
    return wrapper


def _on_exception(span, exc, record_exception, set_status_on_exception, escaped):
    """An exception leaving start_as_current_span (trace.use_span's record) or
    `with span:` (the SDK's Span.__exit__, escaped=True)."""
    if record_exception:
        span.record_exception(exc, escaped=True) if escaped else span.record_exception(exc)
    if set_status_on_exception:
        span.set_status(Status(StatusCode.ERROR, "%s: %s" % (type(exc).__name__, exc)))


def _warn(msg):
    _log.warning("%s", msg)


_EMPTY_TS = TraceState()


def _setup_core(fast_context=True):
    """Gives the C types the OTel API objects they use. With the API's
    contextvars runtime (the default) the C code reads and sets its ContextVar
    directly; any other runtime (or fast_context=False, for tests) goes
    through context.get_current/attach/detach."""
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    from opentelemetry.context.context import Context
    from opentelemetry.trace.propagation import _SPAN_KEY
    rt = getattr(context_api, "_RUNTIME_CONTEXT", None)
    var = rt._current_context if fast_context and type(rt) is ContextVarsRuntimeContext else None
    _core.otel_setup(
        current_context_var=var, span_key=_SPAN_KEY, context_cls=Context,
        set_span_in_context=trace_api.set_span_in_context, attach=context_api.attach,
        detach=context_api.detach, get_current=context_api.get_current,
        kind_internal=SpanKind.INTERNAL, kind_server=SpanKind.SERVER,
        kind_client=SpanKind.CLIENT, kind_producer=SpanKind.PRODUCER,
        kind_consumer=SpanKind.CONSUMER, status_cls=Status, status_code_cls=StatusCode,
        code_unset=StatusCode.UNSET, code_ok=StatusCode.OK, code_error=StatusCode.ERROR,
        span_context_cls=SpanContext, flags_default=TraceFlags(0), flags_sampled=TraceFlags(1),
        empty_trace_state=_EMPTY_TS, invalid_span=trace_api.INVALID_SPAN,
        clean_value=_clean_value, warn=_warn, on_exception=_on_exception, decorate=_decorate,
        foreign_parent=_foreign_parent, start_links=_start_links, record_exception=_record_exception,
        add_link=_add_link)


_setup_core()


class _BridgeScope(opentracing.Scope):
    """An opentracing Scope whose activation is an OTel context attach."""

    __slots__ = ("_token", "_finish")

    def __init__(self, manager, span, token, finish_on_close):
        super().__init__(manager, span)
        self._token = token
        self._finish = finish_on_close

    def close(self):
        if self._token is not None:
            try:
                context_api.detach(self._token)
            finally:
                self._token = None
                if self._finish:
                    self._span.finish()


class OtelContextScopeManager(opentracing.ScopeManager):
    """An opentracing ScopeManager whose active span lives in the OTel context.

    The provider's core tracer (``TracerProvider.opentracing_tracer``) uses it,
    so opentracing code and OTel code in one process see one current span: an
    opentracing ``start_active_span`` is ``trace.get_current_span()`` for OTel
    code, and an OTel current span is ``tracer.active_span`` for opentracing
    code (its core span)."""

    def __init__(self):
        super().__init__()
        self._tracer = None     # the OTel Tracer that wraps activated core spans

    def activate(self, span, finish_on_close):
        tracer = self._tracer
        if tracer is not None and isinstance(span, _core.Span):
            ospan = tracer._wrap(span)
        else:
            ospan = trace_api.NonRecordingSpan(trace_api.INVALID_SPAN_CONTEXT)
        token = context_api.attach(trace_api.set_span_in_context(ospan))
        return _BridgeScope(self, span, token, finish_on_close)

    @property
    def active(self):
        cur = trace_api.get_current_span()
        if isinstance(cur, Span):
            return _BridgeScope(self, cur.core_span, None, False)
        return None


class TracerProvider(trace_api.TracerProvider):
    """The OTel TracerProvider of tracewire.

    ``TracerProvider(service_name=None, resource=None, sampler=None,
    sampler_arg=None, span_limits=None, options=None, shutdown_on_exit=True,
    disabled=None)``: the environment (OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_TRACES_EXPORTER,
    OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, span limits, OTEL_SDK_DISABLED) is
    read first; arguments win. ``resource`` is a mapping or an SDK Resource;
    ``sampler`` an OTel sampler name (always_on, traceidratio,
    parentbased_always_off, ...); ``options`` core keys (see tracewire.h),
    applied last. Reports OTLP unless OTEL_TRACES_EXPORTER or options say
    otherwise."""

    def __init__(self, service_name=None, resource=None, sampler=None, sampler_arg=None,
                 span_limits=None, options=None, shutdown_on_exit=True, disabled=None):
        self._disabled = _config.sdk_disabled() if disabled is None else bool(disabled)
        self._limits = span_limits if span_limits is not None else _config.SpanLimits()
        self._lock = threading.Lock()
        self._tracers = {}
        self._core = None
        self._atexit = None
        if self._disabled:
            return
        self._sm = OtelContextScopeManager()
        self._core = _core.Tracer(_config.core_options(service_name, resource, sampler, sampler_arg,
                                                       options), self._sm)
        self._sm._tracer = _new_tracer(self, "", scope=False)
        if shutdown_on_exit:
            self._atexit = atexit.register(self.shutdown)

    @property
    def opentracing_tracer(self):
        """The core tracer as an opentracing Tracer sharing this provider's
        reporter and current span (see OtelContextScopeManager)."""
        return self._core

    @property
    def span_limits(self):
        return self._limits

    def _core_context(self, sc):
        """A core SpanContext for an OTel SpanContext (the core's W3C extract)."""
        carrier = {"traceparent": "00-%032x-%016x-%02x" % (sc.trace_id, sc.span_id,
                                                         int(sc.trace_flags) & 0xFF)}
        ts = sc.trace_state
        if ts:
            carrier["tracestate"] = ts.to_header()
        try:
            return self._core.extract(_TEXT_MAP, carrier)
        except Exception:  # noqa: BLE001  a context we cannot carry is dropped, not raised
            _log.warning("tracewire.otel: span context %r could not be used", sc, exc_info=True)
            return None

    def get_tracer(self, instrumenting_module_name, instrumenting_library_version=None,
                   schema_url=None, attributes=None):
        if self._disabled:
            return trace_api.NoOpTracer()
        if not instrumenting_module_name:
            _log.error("get_tracer called with missing module name.")
            instrumenting_module_name = ""
        key = (instrumenting_module_name, instrumenting_library_version, schema_url)
        t = self._tracers.get(key) if not attributes else None
        if t is None:
            t = _new_tracer(self, instrumenting_module_name, instrumenting_library_version,
                            schema_url, attributes)
            if not attributes:
                with self._lock:
                    t = self._tracers.setdefault(key, t)
        return t

    def force_flush(self, timeout_millis=30000):
        if self._core is None:
            return True
        return bool(self._core.flush(timeout_millis / 1000.0))

    def shutdown(self):
        if self._core is None:
            return
        if self._atexit is not None:
            atexit.unregister(self._atexit)
            self._atexit = None
        self._core.close()

    def metrics(self):
        """The core counters (spans started, reported, dropped ...)."""
        return self._core.metrics() if self._core is not None else {}

