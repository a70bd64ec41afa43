"""The OpenTelemetry trace API (opentelemetry-api's TracerProvider, Tracer,
Span) over the tracewire core.

Design: an OTel ``Span`` here is a thin Python object around a core span
(``tracewire._core.Span``, the opentracing face's span type) made by one core
tracer per ``TracerProvider``. Everything recorded goes straight into the core
span; Python keeps only what the OTel API needs to answer or to enforce: the
attribute keys (for the count limit and replace-in-place), the event and link
counts, the status (written at ``end`` because OTel lets OK replace ERROR and
core tags cannot be taken back), and the ``SpanContext`` once asked for.

Context is OTel's own (``trace.set_span_in_context``, contextvars): the parent
of a new span is whatever span the OTel context holds. One of ours gives its
core span as the parent directly; any other valid ``SpanContext`` (a
``NonRecordingSpan`` from a propagator's extract, a link) is turned into a core
context through the core's W3C extract, so trace id, span id, flags and
tracestate are the core's own parsing of them.

Mapping onto the core's records (and so onto OTLP, Jaeger Thrift):
  kind        the ``span.kind`` tag (client/server/producer/consumer) the core
              maps to the OTLP kind; INTERNAL is the core's default;
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

_KIND_TAG = {
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}
_INTERNAL = SpanKind.INTERNAL
_SCALARS = (bool, str, bytes, int, float)
_TEXT_MAP = opentracing.Format.TEXT_MAP
_ns = 1e-9


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


def _clean_attributes(attributes, max_count, max_len, what):
    """A dict of cleaned attributes (for events and links), at most max_count."""
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


class Span(trace_api.Span):
    """An OTel span recording into a core span. Made by ``Tracer.start_span``."""

    # Set on every span (slots: fast). The rest start as these class-level
    # defaults and land in the instance dict only when they change, so a
    # plain span costs five stores.
    __slots__ = ("_s", "_tracer", "_lim", "_ts", "_rec")
    _kind = SpanKind.INTERNAL
    _attrs = None
    _nevents = 0
    _nlinks = 0
    _status = None
    _sc = None
    _ended = False
    _record_exception = True
    _set_status_on_exception = True

    def __init__(self, core_span, tracer, kind=SpanKind.INTERNAL, trace_state=None,
                 record_exception=True, set_status_on_exception=True, recording=None):
        self._s = core_span
        self._tracer = tracer
        self._lim = tracer._limits
        self._ts = trace_state
        self._rec = core_span.is_sampled() if recording is None else recording
        if kind is not SpanKind.INTERNAL:
            self._kind = kind
        if not record_exception:
            self._record_exception = False
        if not set_status_on_exception:
            self._set_status_on_exception = False

    # -- what the API asks
    def get_span_context(self):
        sc = self._sc
        if sc is None:
            c = self._s.context
            sc = self._sc = SpanContext(c.trace_id, c.span_id, False,
                                        TraceFlags(c.flags & 1), self._ts)
        return sc

    def is_recording(self):
        return self._rec and not self._ended

    @property
    def name(self):
        return self._s.operation_name

    @property
    def kind(self):
        return self._kind

    @property
    def status(self):
        return self._status if self._status is not None else Status(StatusCode.UNSET)

    @property
    def attributes(self):
        """The attributes recorded so far (a copy; sequences as tuples, as the SDK)."""
        return dict(self._attrs or {})

    @property
    def core_span(self):
        """The tracewire (opentracing) span underneath."""
        return self._s

    def set_attribute(self, key, value):
        if not self._rec or self._ended:
            return
        if type(key) is not str or not key:
            _log.warning("Invalid attribute key %r: dropped", key)
            return
        lim = self._lim
        t = type(value)
        if t is str:
            if lim.max_span_attribute_length is not None:
                value = value[:lim.max_span_attribute_length]
        elif t is not int and t is not float and t is not bool:
            value = _clean_value(key, value, lim.max_span_attribute_length)
            if value is None:
                return
        attrs = self._attrs
        if attrs is None:
            attrs = self._attrs = {}
        if key not in attrs and len(attrs) >= lim.max_attributes:
            _log.warning("Span attribute %r dropped: the limit of %d attributes was reached",
                         key, lim.max_attributes)
            return
        attrs[key] = value
        if type(value) is tuple:
            _otel_set_attribute(self._s, key, value)
        else:
            self._s.set_tag(key, value)

    def set_attributes(self, attributes):
        if not attributes:
            return
        try:
            items = attributes.items()
        except AttributeError:
            _log.warning("set_attributes needs a mapping, not %s: ignored", type(attributes).__name__)
            return
        for k, v in items:
            self.set_attribute(k, v)

    def add_event(self, name, attributes=None, timestamp=None):
        if not self._rec or self._ended:
            return
        lim = self._lim
        if self._nevents >= lim.max_events:
            _log.warning("Event %r dropped: the limit of %d events per span was reached",
                         name, lim.max_events)
            return
        if not isinstance(name, str):
            name = str(name)
        fields = _clean_attributes(attributes, lim.max_event_attributes,
                                   lim.max_attribute_length, "event")
        fields.pop("event", None)     # the core's event name field
        ts = None
        if timestamp is not None:
            try:
                ts = int(timestamp) * _ns
            except (TypeError, ValueError):
                _log.warning("Event %r: invalid timestamp %r, using now", name, timestamp)
        self._nevents += 1
        _otel_add_event(self._s, name, fields, ts)

    def add_link(self, context, attributes=None):
        """A link, also after start (API 1.23+): OTLP links[] with attributes."""
        if not self._rec or self._ended:
            return
        if not isinstance(context, SpanContext):
            _log.warning("Invalid link context %r: dropped", context)
            return
        if not context.is_valid:
            return      # the SDK drops links to invalid contexts silently
        lim = self._lim
        if self._nlinks >= lim.max_links:
            _log.warning("Link dropped: the limit of %d links per span was reached", lim.max_links)
            return
        c = self._tracer._provider._core_context(context)
        if c is None:
            return
        attrs = _clean_attributes(attributes, lim.max_link_attributes,
                                  lim.max_attribute_length, "link")
        self._nlinks += 1
        _otel_add_link(self._s, c, attrs or None)

    def update_name(self, name):
        if self._ended:
            _log.warning("Calling update_name() on an ended span.")
            return
        if not isinstance(name, str):
            _log.warning("update_name needs a str, not %s: ignored", type(name).__name__)
            return
        self._s.set_operation_name(name)

    def set_status(self, status, description=None):
        if self._ended:
            _log.warning("Setting status on an ended span.")
            return
        cur = self._status
        if cur is not None and cur.status_code is StatusCode.OK:
            return   # OK is final (specification: Set Status)
        if isinstance(status, Status):
            if description is not None:
                _log.warning("Description %r ignored. Use either `Status` or "
                             "`(StatusCode, Description)`", description)
            new = status
        elif isinstance(status, StatusCode):
            new = Status(status, description)
        else:
            _log.warning("Invalid status %r: ignored", status)
            return
        if new.status_code is StatusCode.UNSET:
            return
        self._status = new

    def record_exception(self, exception, attributes=None, timestamp=None, escaped=False):
        if not self._rec or self._ended:
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
        self.add_event("exception", attrs, timestamp)

    def end(self, end_time=None):
        if self._ended:
            _log.warning("Calling end() on an ended span.")
            return
        self._ended = True
        s = self._s
        st = self._status
        if st is not None and self._rec:
            if st.status_code is StatusCode.ERROR:
                s.set_tag("error", True)
                s.set_tag("otel.status_code", "ERROR")
                if st.description:
                    s.set_tag("otel.status_description", st.description)
            else:
                s.set_tag("otel.status_code", "OK")
        if end_time is None:
            s.finish()
        else:
            try:
                s.finish(int(end_time) * _ns)
            except (TypeError, ValueError):
                _log.warning("end: invalid end_time %r, using now", end_time)
                s.finish()

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_val is not None and self._rec and not self._ended:
            if self._record_exception:
                self.record_exception(exc_val, escaped=True)
            if self._set_status_on_exception:
                self.set_status(Status(StatusCode.ERROR, "%s: %s" % (type(exc_val).__name__, exc_val)))
        self.end()

    def __repr__(self):
        c = self._s.context
        return '%s(name="%s", context=%032x/%016x)' % (type(self).__name__, self._s.operation_name,
                                                       c.trace_id, c.span_id)


class Tracer(trace_api.Tracer):
    """Made by ``TracerProvider.get_tracer``: one instrumentation scope."""

    def __init__(self, provider, name, version=None, schema_url=None, attributes=None, scope=True):
        self._provider = provider
        self._core = provider._core
        self._limits = provider._limits
        self.instrumentation_scope_name = name
        self.instrumentation_scope_version = version
        self.schema_url = schema_url
        self.scope_attributes = dict(attributes or {})
        self._scope = None
        if scope:
            # the core's instrumentation scope: OTLP scopeSpans, Jaeger otel.library.*
            attrs = _clean_attributes(attributes, None, None, "scope")
            try:
                self._scope = _core.otel_scope(self._core, name, version, schema_url, attrs or None)
            except Exception:  # noqa: BLE001  a scope the core refuses: spans keep tracewire's
                _log.warning("Instrumentation scope %r could not be made", name, exc_info=True)

    def _core_parent(self, parent):
        """(core parent or None, trace_state) for an OTel span from a context."""
        if type(parent) is Span:
            return parent._s, parent._ts
        sc = parent.get_span_context()
        if not sc.is_valid:
            return None, None
        return self._provider._core_context(sc), sc.trace_state

    def start_span(self, name, context=None, kind=SpanKind.INTERNAL, attributes=None, links=None,
                   start_time=None, record_exception=True, set_status_on_exception=True):
        if not isinstance(name, str):
            _log.warning("Span name must be a str, not %s", type(name).__name__)
            name = str(name) if name is not None else ""
        parent = trace_api.get_current_span(context)
        if parent is trace_api.INVALID_SPAN:
            core_parent, ts = None, None
        else:
            core_parent, ts = self._core_parent(parent)
        tags = None
        if kind is not _INTERNAL:
            kt = _KIND_TAG.get(kind)
            if kt is not None:
                tags = {"span.kind": kt}
        st = None
        if start_time is not None:
            try:
                st = int(start_time) * _ns
            except (TypeError, ValueError):
                _log.warning("start_span: invalid start_time %r, using now", start_time)
        s = self._core.start_span(name, child_of=core_parent, tags=tags,
                                  start_time=st, ignore_active_span=True)
        span = Span(s, self, kind, ts if ts is not None else _EMPTY_TS,
                    record_exception, set_status_on_exception)
        if span._rec:
            if self._scope is not None:
                _otel_set_scope(s, self._scope)
            if attributes:
                span.set_attributes(attributes)
            if links:
                self._add_links(span, links)
        return span

    @staticmethod
    def _add_links(span, links):
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

    def start_as_current_span(self, name, context=None, kind=SpanKind.INTERNAL, attributes=None,
                              links=None, start_time=None, record_exception=True,
                              set_status_on_exception=True, end_on_exit=True):
        """A context manager and decorator (sync and async functions), as the
        API's: the span is current inside, ended on exit unless end_on_exit is
        False; an exception escaping is recorded and sets ERROR, as
        ``trace.use_span`` does."""
        return _CurrentSpan(self, (name, context, kind, attributes, links, start_time,
                                   record_exception, set_status_on_exception),
                            end_on_exit, record_exception, set_status_on_exception)


class _CurrentSpan:
    """start_as_current_span's result: trace.use_span's behaviour without a
    generator per span (the API's _agnosticcontextmanager costs more than the
    span itself)."""

    __slots__ = ("_tracer", "_args", "_end", "_rec_exc", "_set_status", "_span", "_token")

    def __init__(self, tracer, args, end_on_exit, record_exception, set_status_on_exception):
        self._tracer = tracer
        self._args = args
        self._end = end_on_exit
        self._rec_exc = record_exception
        self._set_status = set_status_on_exception

    def __enter__(self):
        span = self._span = self._tracer.start_span(*self._args)
        self._token = _attach(_set_span(span))
        return span

    def __exit__(self, exc_type, exc_val, exc_tb):
        _detach(self._token)
        span = self._span
        if isinstance(exc_val, Exception) and span.is_recording():
            if self._rec_exc:
                span.record_exception(exc_val)
            if self._set_status:
                span.set_status(Status(StatusCode.ERROR, "%s: %s" % (type(exc_val).__name__, exc_val)))
        if self._end:
            span.end()
        return False

    def _recreate(self):
        return _CurrentSpan(self._tracer, self._args, self._end, self._rec_exc, self._set_status)

    def __call__(self, func):
        if asyncio.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args, **kwargs):
                with self._recreate():
                    return await func(*args, **kwargs)
            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self._recreate():
                return func(*args, **kwargs)
        return wrapper


_attach = context_api.attach
_detach = context_api.detach
_otel_set_attribute = _core.otel_set_attribute
_otel_add_event = _core.otel_add_event
_otel_add_link = _core.otel_add_link
_otel_set_scope = _core.otel_set_scope
_set_span = trace_api.set_span_in_context


_EMPTY_TS = TraceState()


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
            ospan = Span(span, tracer)
        else:
            ospan = trace_api.NonRecordingSpan(trace_api.INVALID_SPAN_CONTEXT)
        token = context_api.attach(trace_api.set_span_in_context(ospan))
        return _BridgeScope(self, span, token, finish_on_close)

    @property
    def active(self):
        cur = trace_api.get_current_span()
        if type(cur) is Span:
            return _BridgeScope(self, cur._s, None, False)
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
        self._sm._tracer = Tracer(self, "", scope=False)
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
            t = Tracer(self, instrumenting_module_name, instrumenting_library_version, schema_url,
                       attributes)
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

