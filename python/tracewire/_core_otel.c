/* _core_otel.c — the OpenTelemetry face's hot path: OtelSpan, OtelTracer and
 * the start_as_current_span context manager, over the core span.
 *
 * These types are tracewire.otel's public Span and Tracer themselves, not
 * bases of Python subclasses: CPython's specialized method calls (3.11-3.13)
 * require the receiver's exact type to be the method's type, and a Python
 * subclass made every per-span call take the generic path (callgrind: +~250
 * instructions per call). isinstance(span, opentelemetry.trace.Span) holds
 * through the ABC's register (otel/_trace.py), which the ABC caches. The rare
 * calls (record_exception, add_link, links, a foreign parent, the decorator)
 * are the face's Python functions, given once by otel_setup. What runs per
 * span is here: start_span (parent from OTel's contextvars Context, kind,
 * scope tags, attributes), set_attribute(s) with the SDK's validation and
 * limits, add_event, set_status, end, and the current-span context manager.
 *
 * Context: when opentelemetry.context runs on its contextvars runtime (the
 * default), the current Context is read from and set on that ContextVar
 * directly, with the span under the API's own _SPAN_KEY, exactly what
 * trace.set_span_in_context + context.attach/detach do, without their Python
 * frames. Any other runtime goes through the API's functions. A current-span
 * `with` allocates nothing of its own: the manager comes from a pool, its
 * __enter__/__exit__ method objects live inside it (CurMethod), and the
 * Context it attaches is the spare one (keep_spare) refilled in place when
 * the Context around it holds no more than a span: a new Context and its free
 * were a third of the `with`'s own cost. The spare is kept only when nothing
 * can tell it from a new object: no other reference, no weak reference, no
 * instance attribute, its dict version unchanged since we filled it.
 *
 * Values: exact str/int/float/bool attribute values are handed to the core
 * through twpy_field_from_py (_core_values.c); anything else (sequences,
 * bytes, subclasses) goes through the face's one Python cleaner
 * (_trace._clean_value), which warns and returns None for what the SDK drops.
 * Bad input never raises into the application: it is dropped and said through
 * logging "tracewire.otel" (the face's _warn).
 *
 * Ownership: an OtelSpan owns its tw_span unless a _core.Span (the opentracing
 * face's type) holds it (`core`): one made lazily by core_span for opentracing
 * code sharing the current span, or the one wrapped by the bridge scope
 * manager. It holds its OtelTracer, which holds the core Tracer whose
 * live_spans it counts (the core frees a tracer after its last span).
 */
#include "_core.h"

/* The Python objects the face gives once (otel_setup), in module state. */
enum { OT_CUR_CTXVAR, OT_SPAN_KEY, OT_CONTEXT_CLS, OT_SET_IN_CTX, OT_ATTACH,
       OT_DETACH, OT_KIND0, OT_KIND1, OT_KIND2, OT_KIND3, OT_KIND4, OT_STATUS_CLS,
       OT_STATUS_CODE_CLS, OT_CODE_UNSET, OT_CODE_OK, OT_CODE_ERROR, OT_SPANCONTEXT_CLS,
       OT_FLAGS0, OT_FLAGS1, OT_EMPTY_TS, OT_INVALID_SPAN, OT_CLEAN_VALUE, OT_WARN,
       OT_ON_EXCEPTION, OT_DECORATE, OT_GET_CURRENT, OT_FOREIGN_PARENT, OT_START_LINKS,
       OT_RECORD_EXCEPTION, OT_ADD_LINK, OT_S_STATUS_CODE, OT_S_DESCRIPTION, OT_S_OTEL_STATUS_CODE, OT_S_OTEL_STATUS_DESC,
       OT_S_ERROR_TEXT, OT_S_OK_TEXT, OT_EMPTY_TUPLE, OT_COUNT };

typedef struct otelstate {
    PyObject *o[OT_COUNT];
    /* A Context {span key: a blank span} no one else can reach, kept by the
     * last current-span `with` that ended (keep_spare): the next one on a
     * Context holding nothing but a span fills both in place instead of
     * making a new Context and span (the `with`'s allocations and frees). */
    PyObject *spare;
    struct OtelSpanObject *spare_span;  /* borrowed from spare; NULL: a used span is there */
    /* the state a later otel_setup replaced: kept (its spare dropped) until
     * the module goes, since C code running when a handler of a warning it
     * says calls otel_setup still reads the state it started with */
    struct otelstate *retired;
} otelstate;

static const char *const ot_names[OT_S_STATUS_CODE] = {
    "current_context_var", "span_key", "context_cls", "set_span_in_context",
    "attach", "detach", "kind_internal", "kind_server", "kind_client", "kind_producer",
    "kind_consumer", "status_cls", "status_code_cls", "code_unset", "code_ok", "code_error",
    "span_context_cls", "flags_default", "flags_sampled", "empty_trace_state", "invalid_span",
    "clean_value", "warn", "on_exception", "decorate", "get_current", "foreign_parent",
    "start_links", "record_exception", "add_link",
};

/* ------------------------------------------------------------ objects */

typedef struct OtelTracerObject {
    PyObject_HEAD
    PyObject *weakreflist;
    PyObject *dict;               /* the face's Python attributes (scope name, provider ...) */
    TracerObject *core;           /* the provider's core Tracer */
    PyObject *scope_handle;       /* _core.otel_scope's handle, or NULL */
    const tw_scope *scope;        /* its core scope (lives with core's tw_tracer) */
    Py_ssize_t max_attrs, max_events, max_links, max_event_attrs;
    Py_ssize_t max_len, max_event_len;    /* -1: no length limit */
} OtelTracerObject;

typedef struct OtelSpanObject {
    PyObject_HEAD
    PyObject *weakreflist;
    tw_span *span;                /* owned when core is NULL */
    PyObject *core;               /* a _core.Span holding the tw_span, or NULL */
    TracerObject *ct;             /* the core Tracer whose live_spans counts span, or NULL */
    modstate *st;                 /* valid while the type lives */
    OtelTracerObject *tracer;     /* NULL once cleaned up (then ended and not recording) */
    PyObject *ts;                 /* TraceState */
    PyObject *sc;                 /* the SpanContext, made when first asked */
    PyObject *status;             /* a Status, NULL: unset */
    PyObject **kv;                /* attributes: key, value, key, value ... (owned refs) */
    Py_ssize_t nattrs, cap;
    Py_ssize_t nevents, nlinks;
    uint64_t key_bloom;           /* bit (hash & 63) of each attribute key's hash */
    unsigned char rec, ended, kind, rec_exc, set_status_exc, counted;
    PyObject *kv_stack[8];
} OtelSpanObject;

struct CurrentObject;

/* A current-span manager's __enter__ / __exit__ as `with` binds them: a
 * method object living inside its manager (CurrentObject.m), handed out by
 * cur_bind instead of a new bound object per `with`. While its refcount is
 * above 0 it holds one reference to its manager, so the manager (and this
 * memory) outlives every reference to it; at 0 it lets go of the manager. */
typedef struct CurMethod {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    struct CurrentObject *owner;  /* strong while the method is alive */
} CurMethod;

typedef struct CurrentObject {
    PyObject_HEAD
    modstate *st;                 /* valid while the type lives */
    OtelTracerObject *tracer;
    PyObject *a[8];               /* start_span's arguments (strong, or NULL) */
    PyObject *span, *token;
    PyObject *ctx;                /* the Context attached (the fast context path), or NULL */
    uint64_t ctx_ver;             /* its dict version then (keep_spare) */
    int end_on_exit;
    int na;                       /* a[na..8) are NULL */
    CurMethod m[2];               /* __enter__, __exit__ (refcount 0: not handed out) */
} CurrentObject;

enum { A_NAME, A_CONTEXT, A_KIND, A_ATTRIBUTES, A_LINKS, A_START_TIME, A_REC_EXC, A_SET_STATUS };

static inline otelstate *
ot_of(modstate *st)
{
    return (otelstate *)st->otel;
}

static inline tw_span *
sp_of(OtelSpanObject *o)
{
    return o->core ? ((SpanObject *)o->core)->span : o->span;
}

/* One of our objects back from refcount 0 (a pooled manager, a manager's
 * method), its type reference kept while it was not alive: refcount 1, as a
 * new object (on the interpreter's object list in a Py_TRACE_REFS build). */
static inline void
revive(PyObject *o)
{
#ifdef Py_TRACE_REFS
    PyTypeObject *tp = Py_TYPE(o);
    PyObject_Init(o, tp);
    Py_DECREF(tp);
#else
    Py_SET_REFCNT(o, 1);
#endif
}

/* Says msg through the face's logger; never raises (an exception from
 * logging itself is dropped: the app must not see it). */
static void
ot_warn(modstate *st, const char *fmt, ...)
{
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    va_list va;
    va_start(va, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, va);
    va_end(va);
    PyObject *r = msg && ot_of(st) ? PyObject_CallOneArg(ot_of(st)->o[OT_WARN], msg) : NULL;
    Py_XDECREF(msg);
    Py_XDECREF(r);
    PyErr_Clear();
    PyErr_Restore(et, ev, tb);
}

/* Drops a pending exception from user objects, saying it. */
static void
ot_swallow(modstate *st, const char *what)
{
    if (!PyErr_Occurred())
        return;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyErr_NormalizeException(&et, &ev, &tb);
    ot_warn(st, "%s: %S: ignored", what, ev ? ev : Py_None);
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(tb);
}

/* ------------------------------------------------------------ attributes */

/* A value as the core takes it (new reference), or NULL without error:
 * dropped (and said). max_len < 0: no length limit. */
static PyObject *
clean_value(modstate *st, PyObject *key, PyObject *v, Py_ssize_t max_len)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type) {
        if (max_len >= 0 && PyUnicode_GET_LENGTH(v) > max_len) {
            PyObject *r = PyUnicode_Substring(v, 0, max_len);
            if (r == NULL)
                ot_swallow(st, "attribute value");
            return r;
        }
        return Py_NewRef(v);
    }
    if (t == &PyLong_Type || t == &PyFloat_Type || t == &PyBool_Type)
        return Py_NewRef(v);
    PyObject *ml = max_len >= 0 ? PyLong_FromSsize_t(max_len) : Py_NewRef(Py_None);
    if (ml == NULL) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *args[3] = {key, v, ml};
    PyObject *r = PyObject_Vectorcall(ot_of(st)->o[OT_CLEAN_VALUE], args, 3, NULL);
    Py_DECREF(ml);
    if (r == NULL) {
        ot_swallow(st, "attribute value");
        return NULL;
    }
    if (r == Py_None) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}

static inline int
key_ok(modstate *st, PyObject *key, const char *what)
{
    if (PyUnicode_Check(key) && PyUnicode_GET_LENGTH(key) > 0)
        return 1;
    ot_warn(st, "Invalid %s attribute key %R: dropped", what, key);
    return 0;
}

/* A str's hash, cached in the object after the first time; -1 on error. */
static inline Py_hash_t
str_hash(PyObject *s)
{
    Py_hash_t h = ((PyASCIIObject *)s)->hash;
    return h != -1 ? h : PyObject_Hash(s);
}

/* Index of key (hash h, -1: none to be had) among the span's attributes,
 * or -1. Identity first (literal and interned keys), then equal strings
 * (hash, then text); a key whose hash bit is not in the span's key_bloom is
 * new without a look (10 distinct attributes: no quadratic scan). */
static Py_ssize_t
find_key(OtelSpanObject *o, PyObject *key, Py_hash_t h)
{
    PyObject **kv = o->kv;
    Py_ssize_t n = o->nattrs;
    if (h != -1 && !(o->key_bloom & ((uint64_t)1 << (h & 63))))
        return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (kv[2 * i] == key)
            return i;
    if (n == 0 || h == -1)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = kv[2 * i];
        if (str_hash(k) == h) {
            if (PyUnicode_Compare(k, key) == 0)
                return i;
            PyErr_Clear();
        }
    }
    return -1;
}

static int
kv_grow(OtelSpanObject *o)
{
    Py_ssize_t cap = o->cap ? o->cap * 2 : 4;
    PyObject **n = PyMem_Malloc(2 * cap * sizeof *n);
    if (n == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (o->nattrs)
        memcpy(n, o->kv, 2 * o->nattrs * sizeof *n);
    if (o->kv != o->kv_stack)
        PyMem_Free(o->kv);
    o->kv = n;
    o->cap = cap;
    return 0;
}

/* set_attribute's body: 0, or -1 only for MemoryError. */
static int
span_attr(modstate *st, OtelSpanObject *o, PyObject *key, PyObject *value)
{
    if (!key_ok(st, key, "span"))
        return 0;
    PyTypeObject *vt = Py_TYPE(value);
    PyObject *v;
    if (vt == &PyLong_Type || vt == &PyFloat_Type || vt == &PyBool_Type
        || (vt == &PyUnicode_Type && o->tracer->max_len < 0))
        v = Py_NewRef(value);     /* as clean_value would give it back */
    else if ((v = clean_value(st, key, value, o->tracer->max_len)) == NULL)
        return 0;
    Py_hash_t h = str_hash(key);
    if (h == -1)                  /* a str subclass's failing __hash__: identity only */
        PyErr_Clear();
    Py_ssize_t i = find_key(o, key, h);
    if (i < 0) {
        if (o->nattrs >= o->tracer->max_attrs) {
            ot_warn(st, "Span attribute %R dropped: the limit of %zd attributes was reached", key,
                    o->tracer->max_attrs);
            Py_DECREF(v);
            return 0;
        }
        if (o->nattrs == o->cap && kv_grow(o) < 0) {
            Py_DECREF(v);
            return -1;
        }
        i = o->nattrs++;
        if (h != -1)
            o->key_bloom |= (uint64_t)1 << (h & 63);
        o->kv[2 * i] = Py_NewRef(key);
        o->kv[2 * i + 1] = v;
    } else {
        Py_SETREF(o->kv[2 * i + 1], v);
    }
    tw_field f;
    tw_span *sp = sp_of(o);
    if (twpy_key_fast(&f, key) && twpy_value_fast(&f, v)) {
        if (sp)
            tw_span_set_tag(sp, &f);
        return 0;
    }
    /* arrays (the cleaner's tuples) and the rarer scalars: _core_attrs.c */
    if (sp && twpy_attrs_set(st, sp, key, v) < 0)
        ot_swallow(st, "set_attribute");
    return 0;
}

/* span_attr for what set_attribute mostly gets, in the caller: a new str key
 * (its hash made, not in the bloom) and an int/float/bool (or unlimited str)
 * value on a span of our own with room; anything else span_attr's way. */
static inline int
span_attr_fast(modstate *st, OtelSpanObject *o, PyObject *key, PyObject *value)
{
    PyTypeObject *vt = Py_TYPE(value);
    tw_span *sp = o->span;
    Py_hash_t h;
    tw_field f;
    if (Py_IS_TYPE(key, &PyUnicode_Type) && PyUnicode_GET_LENGTH(key) > 0
        && (h = ((PyASCIIObject *)key)->hash) != -1
        && !(o->key_bloom & ((uint64_t)1 << (h & 63)))
        && (vt == &PyLong_Type || vt == &PyFloat_Type || vt == &PyBool_Type
            || (vt == &PyUnicode_Type && o->tracer->max_len < 0))
        && o->nattrs < o->tracer->max_attrs && o->nattrs < o->cap && sp != NULL
        && o->core == NULL && twpy_key_fast(&f, key) && twpy_value_fast(&f, value)) {
        Py_ssize_t i = o->nattrs++;
        o->key_bloom |= (uint64_t)1 << (h & 63);
        o->kv[2 * i] = Py_NewRef(key);
        o->kv[2 * i + 1] = Py_NewRef(value);
        tw_span_set_tag(sp, &f);
        return 0;
    }
    return span_attr(st, o, key, value);
}

static int
attr_pair(void *ud, PyObject *k, PyObject *v)
{
    OtelSpanObject *o = ud;
    return span_attr(o->st, o, k, v);
}

/* Applies a mapping of attributes; anything but MemoryError is said and dropped. */
static int
span_attrs(modstate *st, OtelSpanObject *o, PyObject *attrs)
{
    if (PyDict_Check(attrs)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(attrs, &pos, &k, &v)) {
            Py_INCREF(k);
            Py_INCREF(v);
            int rc = span_attr(st, o, k, v);
            Py_DECREF(k);
            Py_DECREF(v);
            if (rc < 0)
                return -1;
        }
        return 0;
    }
    if (!PyObject_HasAttr(attrs, st->s_items)) {
        ot_warn(st, "set_attributes needs a mapping, not %s: ignored", Py_TYPE(attrs)->tp_name);
        return 0;
    }
    if (twpy_foreach_pair(attrs, attr_pair, o, st) < 0) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError))
            return -1;
        ot_swallow(st, "set_attributes");
    }
    return 0;
}

static int
writable(modstate *st, OtelSpanObject *o, const char *what)
{
    if (o->ended) {
        ot_warn(st, "Setting %s on an ended span.", what);
        return 0;
    }
    return o->rec;
}

static PyObject *
ospan_set_attribute(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    PyObject *a[2];
    if (kwnames == NULL && nargs == 2) {
        a[0] = args[0];
        a[1] = args[1];
    } else {
        static const int idx[] = {K_KEY, K_VALUE};
        if (twpy_parse_args(st, "set_attribute", args, nargs, kwnames, idx, 2, a) < 0)
            return NULL;
        if (a[0] == NULL || a[1] == NULL)
            return PyErr_Format(PyExc_TypeError, "set_attribute(key, value)");
    }
    if (writable(st, o, "attribute") && span_attr_fast(st, o, a[0], a[1]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
ospan_set_attributes(PyObject *self, PyObject *attrs)
{
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    if (attrs == Py_None || !writable(st, o, "attributes"))
        Py_RETURN_NONE;
    if (span_attrs(st, o, attrs) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ events */

/* Nanoseconds since the epoch (OTel's unit) -> core microseconds; 0 = now. */
static int64_t
ns_to_us_given(modstate *st, PyObject *ns, const char *what)
{
    int overflow = 0;
    long long x = PyLong_Check(ns) ? PyLong_AsLongLongAndOverflow(ns, &overflow) : -1;
    if (!PyLong_Check(ns) || overflow || x < 0) {
        PyErr_Clear();
        ot_warn(st, "%s: invalid time %R, using now", what, ns);
        return 0;
    }
    return (int64_t)(x / 1000);
}

/* A time in ns as the core's us; 0 (now) for none, or, said, for a bad one. */
static inline int64_t
ns_to_us(modstate *st, PyObject *ns, const char *what)
{
    return ns == NULL || ns == Py_None ? 0 : ns_to_us_given(st, ns, what);
}

typedef struct event_acc {
    modstate *st;
    PyObject *attrs;              /* the cleaned attributes */
    Py_ssize_t max, max_len;
} event_acc;

static int
event_pair(void *ud, PyObject *k, PyObject *v)
{
    event_acc *e = ud;
    if (!key_ok(e->st, k, "event"))
        return 0;
    int has = PyDict_Contains(e->attrs, k);
    if (has < 0)
        return -1;
    if (!has && PyDict_GET_SIZE(e->attrs) >= e->max) {
        ot_warn(e->st, "Event attribute %R dropped: the limit of %zd attributes was reached", k,
                e->max);
        return 0;
    }
    PyObject *cv = clean_value(e->st, k, v, e->max_len);
    if (cv == NULL)
        return 0;
    int rc = PyDict_SetItem(e->attrs, k, cv);
    Py_DECREF(cv);
    return rc;
}

static PyObject *
ospan_add_event(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_NAME, K_ATTRIBUTES, K_TIMESTAMP};
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    PyObject *a[3];
    if (twpy_parse_args(st, "add_event", args, nargs, kwnames, idx, 3, a) < 0)
        return NULL;
    if (a[0] == NULL)
        return PyErr_Format(PyExc_TypeError, "add_event(name, attributes=None, timestamp=None)");
    if (!writable(st, o, "an event"))
        Py_RETURN_NONE;
    if (o->nevents >= o->tracer->max_events) {
        ot_warn(st, "Event %R dropped: the limit of %zd events per span was reached", a[0],
                o->tracer->max_events);
        Py_RETURN_NONE;
    }
    PyObject *name = PyUnicode_Check(a[0]) ? Py_NewRef(a[0]) : PyObject_Str(a[0]);
    if (name == NULL) {
        ot_swallow(st, "add_event");
        Py_RETURN_NONE;
    }
    event_acc e = {.st = st, .attrs = NULL, .max = o->tracer->max_event_attrs,
                   .max_len = o->tracer->max_event_len};
    if (a[1] && a[1] != Py_None) {
        if (PyDict_Check(a[1]) || PyObject_HasAttr(a[1], st->s_items)) {
            if ((e.attrs = PyDict_New()) == NULL) {
                Py_DECREF(name);
                return NULL;
            }
            if (twpy_foreach_pair(a[1], event_pair, &e, st) < 0) {
                if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
                    Py_DECREF(name);
                    Py_DECREF(e.attrs);
                    return NULL;
                }
                ot_swallow(st, "add_event attributes");
            }
        } else {
            ot_warn(st, "event attributes must be a mapping, not %s: dropped",
                    Py_TYPE(a[1])->tp_name);
        }
    }
    int64_t us = ns_to_us(st, a[2], "add_event");
    tw_span *sp = sp_of(o);
    o->nevents++;
    if (sp && twpy_attrs_log(st, sp, us, name, e.attrs) < 0)
        ot_swallow(st, "add_event");
    Py_DECREF(name);
    Py_XDECREF(e.attrs);
    Py_RETURN_NONE;
}

/* _add_link_ids(trace_id, span_id, trace_flags, tracestate, attributes): the
 * face's add_link by an OTel SpanContext's ids (no core context to build; an
 * invalid context with attributes or a tracestate is kept, as the SDK does). */
static PyObject *
ospan_add_link_ids(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    if (nargs != 5)
        return PyErr_Format(PyExc_TypeError,
                            "_add_link_ids(trace_id, span_id, trace_flags, tracestate, attributes)");
    tw_span *sp = sp_of(o);
    if (sp && twpy_attrs_link_ids(st, sp, args[0], args[1], args[2], args[3], args[4]) < 0)
        return NULL;        /* the face says it and does not count the link */
    o->nlinks++;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ status, end, name */

static PyObject *
ospan_set_status(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_STATUS, K_DESCRIPTION};
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    otelstate *ot = ot_of(st);
    PyObject *a[2];
    if (twpy_parse_args(st, "set_status", args, nargs, kwnames, idx, 2, a) < 0)
        return NULL;
    if (a[0] == NULL)
        return PyErr_Format(PyExc_TypeError, "set_status(status, description=None)");
    if (o->ended) {
        ot_warn(st, "Setting status on an ended span.");
        Py_RETURN_NONE;
    }
    if (o->status) {
        PyObject *cur = PyObject_GetAttr(o->status, ot->o[OT_S_STATUS_CODE]);
        Py_XDECREF(cur);
        if (cur == ot->o[OT_CODE_OK])
            Py_RETURN_NONE;            /* OK is final (specification: Set Status) */
        PyErr_Clear();
    }
    PyObject *desc = a[1] ? a[1] : Py_None, *st_new = NULL;
    int is_status = PyObject_IsInstance(a[0], ot->o[OT_STATUS_CLS]);
    if (is_status > 0) {
        PyObject *code = PyObject_GetAttr(a[0], ot->o[OT_S_STATUS_CODE]);
        Py_XDECREF(code);
        if (code == NULL) {
            ot_swallow(st, "set_status");
            Py_RETURN_NONE;
        }
        if (code == ot->o[OT_CODE_UNSET])
            Py_RETURN_NONE;
        if (desc != Py_None)
            ot_warn(st, "Description %R ignored. Use either `Status` or `(StatusCode, Description)`",
                    desc);
        st_new = Py_NewRef(a[0]);
    } else if (is_status == 0 && PyObject_IsInstance(a[0], ot->o[OT_STATUS_CODE_CLS]) > 0) {
        if (a[0] == ot->o[OT_CODE_UNSET])
            Py_RETURN_NONE;
        PyObject *cargs[2] = {a[0], desc};
        st_new = PyObject_Vectorcall(ot->o[OT_STATUS_CLS], cargs, 2, NULL);
        if (st_new == NULL) {
            ot_swallow(st, "set_status");
            Py_RETURN_NONE;
        }
    } else {
        PyErr_Clear();
        ot_warn(st, "Invalid status %R: ignored", a[0]);
        Py_RETURN_NONE;
    }
    Py_XSETREF(o->status, st_new);
    Py_RETURN_NONE;
}

/* The status as core tags, at end (OTel lets OK replace ERROR; core tags
 * cannot be taken back): error=true + otel.status_code/_description, the
 * OTel->Jaeger convention the core's OTLP encoders read back as Status. */
static void
write_status(modstate *st, OtelSpanObject *o, tw_span *sp)
{
    otelstate *ot = ot_of(st);
    PyObject *code = PyObject_GetAttr(o->status, ot->o[OT_S_STATUS_CODE]);
    if (code == NULL) {
        ot_swallow(st, "status");
        return;
    }
    PyObject *tmps[2] = {NULL, NULL};
    tw_field f;
    if (code == ot->o[OT_CODE_ERROR]) {
        tw_span_set_tag_bool(sp, "error", 1);
        tw_span_set_tag_str(sp, "otel.status_code", "ERROR");
        PyObject *d = PyObject_GetAttr(o->status, ot->o[OT_S_DESCRIPTION]);
        if (d && d != Py_None && PyObject_IsTrue(d) > 0
            && twpy_field_from_py(&f, ot->o[OT_S_OTEL_STATUS_DESC], d, tmps) == 0)
            tw_span_set_tag(sp, &f);
        Py_XDECREF(d);
        Py_XDECREF(tmps[0]);
        Py_XDECREF(tmps[1]);
        PyErr_Clear();
    } else if (code == ot->o[OT_CODE_OK]) {
        tw_span_set_tag_str(sp, "otel.status_code", "OK");
    }
    Py_DECREF(code);
}

static int
span_end(modstate *st, OtelSpanObject *o, PyObject *end_time)
{
    if (o->ended) {
        ot_warn(st, "Calling end() on an ended span.");
        return 0;
    }
    o->ended = 1;
    tw_span *sp = sp_of(o);
    if (sp == NULL)
        return 0;
    if (o->status && o->rec)
        write_status(st, o, sp);
    tw_status s = tw_span_finish(sp, ns_to_us(st, end_time, "end"));
    if (s == TW_ERR_NOMEM) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *
ospan_end(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    PyObject *a[1] = {NULL};
    if (nargs || kwnames) {
        static const int idx[] = {K_END_TIME};
        if (twpy_parse_args(st, "end", args, nargs, kwnames, idx, 1, a) < 0)
            return NULL;
    }
    if (span_end(st, o, a[0]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
ospan_update_name(PyObject *self, PyObject *name)
{
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    if (o->ended) {
        ot_warn(st, "Calling update_name() on an ended span.");
        Py_RETURN_NONE;
    }
    if (!PyUnicode_Check(name)) {
        ot_warn(st, "update_name needs a str, not %s: ignored", Py_TYPE(name)->tp_name);
        Py_RETURN_NONE;
    }
    Py_ssize_t n;
    PyObject *tmp = NULL;
    const char *p = twpy_utf8_of(name, &n, &tmp);
    if (p == NULL) {
        ot_swallow(st, "update_name");
        Py_RETURN_NONE;
    }
    tw_span *sp = sp_of(o);
    if (sp)
        tw_span_set_operation_name(sp, p, (size_t)n);
    Py_XDECREF(tmp);
    Py_RETURN_NONE;
}

static PyObject *
ospan_is_recording(PyObject *self, PyObject *unused)
{
    (void)unused;
    OtelSpanObject *o = (OtelSpanObject *)self;
    return Py_NewRef(o->rec && !o->ended ? Py_True : Py_False);
}

static PyObject *
ospan_get_span_context(PyObject *self, PyObject *unused)
{
    (void)unused;
    OtelSpanObject *o = (OtelSpanObject *)self;
    if (o->sc)
        return Py_NewRef(o->sc);
    otelstate *ot = ot_of(o->st);
    tw_span *sp = sp_of(o);
    ContextObject view;
    memset(&view, 0, sizeof view);
    view.ctx = sp ? tw_span_get_context(sp) : NULL;
    unsigned flags = view.ctx ? tw_span_context_flags(view.ctx) : 0;
    PyObject *tid = twpy_ctx_get_trace_id(&view, NULL);
    PyObject *sid = tid ? twpy_ctx_get_span_id(&view, NULL) : NULL;
    if (sid == NULL) {
        Py_XDECREF(tid);
        return NULL;
    }
    PyObject *args[5] = {tid, sid, Py_False, ot->o[(flags & TW_FLAG_SAMPLED) ? OT_FLAGS1 : OT_FLAGS0],
                         o->ts ? o->ts : ot->o[OT_EMPTY_TS]};
    o->sc = PyObject_Vectorcall(ot->o[OT_SPANCONTEXT_CLS], args, 5, NULL);
    Py_DECREF(tid);
    Py_DECREF(sid);
    return Py_XNewRef(o->sc);
}

static PyObject *ospan_get_name(OtelSpanObject *o, void *c);

/* record_exception / add_link: the face's Python (rare calls), with the
 * span prepended to the caller's arguments (its defaults stay Python's). */
static PyObject *
ospan_delegate(PyObject *self, int which, PyObject *const *args, Py_ssize_t nargs,
               PyObject *kwnames)
{
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    Py_ssize_t n = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject *a[9];
    if (n > 8)
        return PyErr_Format(PyExc_TypeError, "too many arguments");
    a[0] = self;
    for (Py_ssize_t i = 0; i < n; i++)
        a[i + 1] = args[i];
    return PyObject_Vectorcall(ot_of(st)->o[which], a, (size_t)nargs + 1, kwnames);
}

static PyObject *
ospan_record_exception(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return ospan_delegate(self, OT_RECORD_EXCEPTION, args, nargs, kwnames);
}

static PyObject *
ospan_add_link(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return ospan_delegate(self, OT_ADD_LINK, args, nargs, kwnames);
}

/* `with span:` (the API's Span.__exit__ as the SDK does it): an exception
 * escaping is recorded (escaped=True) and sets ERROR, then the span ends. */
static PyObject *
ospan_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    OtelSpanObject *o = (OtelSpanObject *)self;
    modstate *st = o->st;
    if (nargs != 3)
        return PyErr_Format(PyExc_TypeError, "__exit__ takes 3 arguments");
    if (args[1] != Py_None && o->rec && !o->ended) {
        PyObject *cargs[5] = {self, args[1], o->rec_exc ? Py_True : Py_False,
                              o->set_status_exc ? Py_True : Py_False, Py_True};
        PyObject *r = PyObject_Vectorcall(ot_of(st)->o[OT_ON_EXCEPTION], cargs, 5, NULL);
        Py_XDECREF(r);
        if (r == NULL)
            ot_swallow(st, "span __exit__");
    }
    if (span_end(st, o, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
ospan_repr(OtelSpanObject *o)
{
    char t[33] = "", s[17] = "";
    tw_span *sp = o->tracer ? sp_of(o) : NULL;
    if (sp) {
        tw_span_context_trace_id_hex(tw_span_get_context(sp), t);
        tw_span_context_span_id_hex(tw_span_get_context(sp), s);
    }
    PyObject *name = ospan_get_name(o, NULL);
    if (name == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("tracewire.otel.Span(name=%R, context=%s/%s)", name, t, s);
    Py_DECREF(name);
    return r;
}

/* ------------------------------------------------------------ properties */

static PyObject *
ospan_get_name(OtelSpanObject *o, void *c)
{
    (void)c;
    size_t n = 0;
    tw_span *sp = sp_of(o);
    const char *p = sp ? tw_span_operation_name(sp, &n) : NULL;
    return PyUnicode_DecodeUTF8(p ? p : "", p ? (Py_ssize_t)n : 0, "replace");
}

static PyObject *
ospan_get_kind(OtelSpanObject *o, void *c)
{
    (void)c;
    return Py_NewRef(ot_of(o->st)->o[OT_KIND0 + o->kind]);
}

static PyObject *
ospan_get_status(OtelSpanObject *o, void *c)
{
    (void)c;
    if (o->status)
        return Py_NewRef(o->status);
    otelstate *ot = ot_of(o->st);
    return PyObject_CallOneArg(ot->o[OT_STATUS_CLS], ot->o[OT_CODE_UNSET]);
}

static PyObject *
ospan_get_attributes(OtelSpanObject *o, void *c)
{
    (void)c;
    PyObject *d = PyDict_New();
    for (Py_ssize_t i = 0; d && i < o->nattrs; i++)
        if (PyDict_SetItem(d, o->kv[2 * i], o->kv[2 * i + 1]) < 0)
            Py_CLEAR(d);
    return d;
}

static PyObject *
ospan_get_start_time(OtelSpanObject *o, void *c)
{
    (void)c;
    tw_span *sp = sp_of(o);
    return PyLong_FromLongLong(sp ? (long long)tw_span_start_us(sp) * 1000 : 0);
}

static PyObject *
ospan_get_ended(OtelSpanObject *o, void *c)
{
    (void)c;
    return PyBool_FromLong(o->ended);
}

static PyObject *
ospan_get_trace_state(OtelSpanObject *o, void *c)
{
    (void)c;
    return Py_NewRef(o->ts ? o->ts : ot_of(o->st)->o[OT_EMPTY_TS]);
}

/* The _core.Span (the opentracing face's type) over this span's core span,
 * made when first asked: it then owns the tw_span and this span borrows it. */
static PyObject *
ospan_get_core_span(OtelSpanObject *o, void *c)
{
    (void)c;
    if (o->core)
        return Py_NewRef(o->core);
    TracerObject *t = o->ct;
    modstate *st = o->st;
    if (t == NULL)
        Py_RETURN_NONE;
    SpanObject *so = (SpanObject *)st->span_type->tp_alloc(st->span_type, 0);
    if (so == NULL)
        return NULL;
    so->span = o->span;
    so->st = st;
    so->tracer = (TracerObject *)Py_NewRef((PyObject *)t);
    t->live_spans++;
    o->span = NULL;
    o->core = (PyObject *)so;
    return Py_NewRef(o->core);
}

/* ------------------------------------------------------------ lifetime */

static int
ospan_traverse(OtelSpanObject *o, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(o));
    Py_VISIT(o->core);
    Py_VISIT(o->ct);
    Py_VISIT(o->tracer);
    Py_VISIT(o->ts);
    Py_VISIT(o->sc);
    Py_VISIT(o->status);
    for (Py_ssize_t i = 0; i < 2 * o->nattrs; i++)
        Py_VISIT(o->kv[i]);
    return 0;
}

/* Frees the core span (unless a _core.Span holds it) before letting go of
 * the tracer; idempotent. */
static int
ospan_clear(OtelSpanObject *o)
{
    tw_span *sp = o->span;
    o->span = NULL;
    tw_span_free(sp);             /* an unended span is discarded, as the core's GC path */
    Py_CLEAR(o->core);
    o->ended = 1;                 /* a cleaned-up span answers as an ended one */
    o->rec = 0;
    TracerObject *t = o->ct;
    o->ct = NULL;
    if (t) {
        if (o->counted && --t->live_spans == 0 && t->free_pending)
            twpy_tracer_release_core(t);
        o->counted = 0;
        Py_DECREF(t);
    }
    Py_CLEAR(o->tracer);
    Py_CLEAR(o->ts);
    Py_CLEAR(o->sc);
    Py_CLEAR(o->status);
    Py_ssize_t n = o->nattrs;
    o->nattrs = 0;
    o->key_bloom = 0;
    for (Py_ssize_t i = 0; i < 2 * n; i++)
        Py_DECREF(o->kv[i]);
    if (o->kv != o->kv_stack)
        PyMem_Free(o->kv);
    o->kv = o->kv_stack;
    o->cap = 4;
    return 0;
}

/* Every field zero (after ospan_clear), as start_span takes a span. */
static inline void
ospan_zero(OtelSpanObject *o)
{
    memset((char *)o + sizeof(PyObject), 0, sizeof *o - sizeof(PyObject));
}

/* A freed span goes back to the module's pool when there is room (fields
 * zero, untracked, refcount 0, its type reference kept): its allocation and
 * free were a fifth of a span's cost. The module (so st) lives while we hold
 * tp. */

static void
ospan_dealloc(OtelSpanObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    modstate *st = o->st;
    PyObject_GC_UnTrack(o);
    if (o->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)o);
    ospan_clear(o);
    if (st && tp == st->otel_span_base && st->otel_span_pooled < TWPY_POOL_MAX) {
        ospan_zero(o);
        st->otel_span_pool[st->otel_span_pooled++] = (PyObject *)o;   /* with its type reference */
        return;
    }
    tp->tp_free(o);
    Py_DECREF(tp);
}

/* A span from the pool (see ospan_dealloc), else a new one; tracked. */
static inline OtelSpanObject *
ospan_take(modstate *st)
{
    if (st->otel_span_pooled > 0) {
        PyObject *o = st->otel_span_pool[--st->otel_span_pooled];
        revive(o);
        PyObject_GC_Track(o);
        return (OtelSpanObject *)o;
    }
    return (OtelSpanObject *)st->otel_span_base->tp_alloc(st->otel_span_base, 0);
}

/* Cleared with every field zero: what start_span fills (a pooled span, or
 * the spare Context's). */
static void
ospan_blank(OtelSpanObject *o)
{
    ospan_clear(o);
    ospan_zero(o);
}

/* ------------------------------------------------------------ context */

/* New reference to the current OTel Context's span (or to what the given
 * context holds), or NULL without error: none. */
static PyObject *
context_span(otelstate *ot, PyObject *context)
{
    PyObject *c;
    if (context == NULL || context == Py_None) {
        if (ot->o[OT_CUR_CTXVAR] != Py_None) {
            if (PyContextVar_Get(ot->o[OT_CUR_CTXVAR], NULL, &c) < 0)
                return NULL;
        } else {
            c = PyObject_CallNoArgs(ot->o[OT_GET_CURRENT]);
        }
        if (c == NULL)
            return NULL;
    } else {
        c = Py_NewRef(context);
    }
    PyObject *span;
    if (PyDict_Check(c)) {
        span = PyDict_GET_SIZE(c) ? PyDict_GetItemWithError(c, ot->o[OT_SPAN_KEY]) : NULL;
        Py_XINCREF(span);
    } else {
        span = PyObject_GetItem(c, ot->o[OT_SPAN_KEY]);
        if (span == NULL && PyErr_ExceptionMatches(PyExc_KeyError))
            PyErr_Clear();
    }
    Py_DECREF(c);
    return span;
}

/* The dict's version (3.9-3.13 bump it on every change): a Context we made
 * whose version is the same later holds still exactly what we put in. */
#if PY_VERSION_HEX < 0x030E0000
#define TWPY_DICT_VERSION 1
static inline uint64_t
dict_version(PyObject *d)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    return ((PyDictObject *)d)->ma_version_tag;
#pragma GCC diagnostic pop
}
#else
#define TWPY_DICT_VERSION 0
static inline uint64_t
dict_version(PyObject *d)
{
    (void)d;
    return 0;
}
#endif

/* Whether the Context cur holds nothing but (perhaps) a span: then a
 * Context for a child is {span key: span}, what the spare one is made to. */
static inline int
only_span(otelstate *ot, PyObject *cur)
{
    if (PyDict_GET_SIZE(cur) == 0)
        return 1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    return PyDict_GET_SIZE(cur) == 1 && PyDict_Next(cur, &pos, &k, &v) && k == ot->o[OT_SPAN_KEY];
}

/* Whether nothing but its holders' references can tell o apart from a new
 * object: no weak reference to it and no instance attribute on it. */
static int
no_extras(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    /* the interpreter's own rule for where the weakref list is (in the object,
     * or before it for 3.12+'s managed weakrefs) */
    if (tp->tp_weaklistoffset != 0 && *(PyObject **)((char *)o + tp->tp_weaklistoffset) != NULL)
        return 0;
    if (tp->tp_dictoffset != 0) {
        PyObject **dp = _PyObject_GetDictPtr(o);
        if (dp == NULL) {
            PyErr_Clear();
            return 0;
        }
        if (*dp != NULL && (!PyDict_Check(*dp) || PyDict_GET_SIZE(*dp) != 0))
            return 0;
    }
    return 1;
}

/* After a current-span `with` ended (its token reset, its span ended): ctx
 * (stolen), the Context it attached at version ver, becomes the spare when
 * no one else holds or marked it and it still is {span key: span}; span
 * (the manager's reference) is blanked in it when the Context's is the only
 * other reference, as the span pool would have it. */
static void
keep_spare(modstate *st, PyObject *ctx, uint64_t ver, OtelSpanObject *span)
{
    otelstate *ot = ot_of(st);    /* read now: code run since may have replaced it */
    if (!TWPY_DICT_VERSION || ot == NULL || ot->spare != NULL || Py_REFCNT(ctx) != 1
        || dict_version(ctx) != ver || PyDict_GET_SIZE(ctx) != 1 || !no_extras(ctx)) {
        Py_DECREF(ctx);
        return;
    }
    OtelSpanObject *blank = NULL;
    if (Py_REFCNT(span) == 2 && span->weakreflist == NULL
        && Py_IS_TYPE((PyObject *)span, st->otel_span_base)) {
        ospan_blank(span);          /* may run code (attribute values freed) */
        blank = span;
        ot = ot_of(st);
    }
    if (ot == NULL || ot->spare != NULL) {    /* that code took the place */
        Py_DECREF(ctx);
        return;
    }
    ot->spare = ctx;
    ot->spare_span = blank;
}

/* A new Context: cur's items (cur a dict or NULL) and the span. */
static PyObject *
new_context(otelstate *ot, PyObject *span, PyObject *cur)
{
    PyTypeObject *ct = (PyTypeObject *)ot->o[OT_CONTEXT_CLS];
    PyObject *ctx = ct->tp_new(ct, ot->o[OT_EMPTY_TUPLE], NULL);
    if (ctx == NULL || (cur && PyDict_Size(cur) && PyDict_Update(ctx, cur) < 0)
        || PyDict_SetItem(ctx, ot->o[OT_SPAN_KEY], span) < 0) {
        Py_XDECREF(ctx);
        return NULL;
    }
    return ctx;
}

/* attach(set_span_in_context(span, cur)): the token, new reference. cur is
 * the current Context when the caller has it already (NULL: read it). */
static PyObject *
attach_span(otelstate *ot, PyObject *span, PyObject *cur)
{
    PyObject *var = ot->o[OT_CUR_CTXVAR];
    if (var == Py_None) {
        PyObject *ctx = PyObject_CallOneArg(ot->o[OT_SET_IN_CTX], span);
        if (ctx == NULL)
            return NULL;
        PyObject *tok = PyObject_CallOneArg(ot->o[OT_ATTACH], ctx);
        Py_DECREF(ctx);
        return tok;
    }
    if (cur == NULL) {
        if (PyContextVar_Get(var, NULL, &cur) < 0)
            return NULL;
    } else {
        Py_INCREF(cur);
    }
    PyObject *ctx = new_context(ot, span, cur && PyDict_Check(cur) ? cur : NULL);
    Py_XDECREF(cur);
    if (ctx == NULL)
        return NULL;
    PyObject *tok = PyContextVar_Set(var, ctx);
    Py_DECREF(ctx);
    return tok;
}

static void
detach_token(otelstate *ot, PyObject *tok)
{
    PyObject *var = ot->o[OT_CUR_CTXVAR];
    if (var != Py_None && PyContextVar_Reset(var, tok) == 0)
        return;
    PyErr_Clear();
    /* the API's detach says a failure through its logger, as with the SDK */
    PyObject *r = PyObject_CallOneArg(ot->o[OT_DETACH], tok);
    Py_XDECREF(r);
    PyErr_Clear();
}

/* ------------------------------------------------------------ start_span */

static int
kind_index(otelstate *ot, PyObject *kind)
{
    for (int i = 0; i < 5; i++)
        if (ot->o[OT_KIND0 + i] == kind)
            return i;
    return -1;
}

/* The new span (new reference); a[] as enum A_*; made in into (a blank span,
 * the spare Context's) when given, else taken from the pool. NULL only with
 * an exception the app must see (MemoryError, a broken tracewire). */
static PyObject *
start_span(OtelTracerObject *t, PyObject *const *a, OtelSpanObject *into)
{
    TracerObject *ct = t->core;
    if (ct == NULL)
        return PyErr_Format(PyExc_RuntimeError, "tracewire.otel Tracer not set up");
    modstate *st = ct->st;
    otelstate *ot = ot_of(st);
    PyObject *name = a[A_NAME], *name_tmp = NULL, *ts = NULL, *keep = NULL;
    tw_span_ref r[1];
    size_t nrefs = 0;
    tw_span *sp = NULL;
    const char *nm = "";
    Py_ssize_t nlen = 0;
    int kind = 0;

    if (name != NULL && PyUnicode_CheckExact(name) && PyUnicode_IS_COMPACT_ASCII(name)) {
        nm = (const char *)PyUnicode_DATA(name);     /* twpy_utf8_of's first case, no call */
        nlen = PyUnicode_GET_LENGTH(name);
    } else if (name != NULL && PyUnicode_Check(name)) {
        nm = twpy_utf8_of(name, &nlen, &name_tmp);
    } else {
        ot_warn(st, "Span name must be a str, not %s", name ? Py_TYPE(name)->tp_name : "None");
        if (name != NULL && name != Py_None)
            nm = twpy_utf8_of(name, &nlen, &name_tmp);
    }
    if (nm == NULL) {
        ot_swallow(st, "span name");
        nm = "";
        nlen = 0;
    }
    if (a[A_KIND] && a[A_KIND] != ot->o[OT_KIND0]) {
        kind = kind_index(ot, a[A_KIND]);
        if (kind < 0) {
            ot_warn(st, "Invalid span kind %R: INTERNAL used", a[A_KIND]);
            kind = 0;
        }
    }

    /* the parent: the span the (given or current) OTel context holds */
    PyObject *parent = context_span(ot, a[A_CONTEXT]);
    if (parent == NULL && PyErr_Occurred())
        ot_swallow(st, "start_span context");
    if (parent && PyObject_TypeCheck(parent, st->otel_span_base)) {
        OtelSpanObject *po = (OtelSpanObject *)parent;
        tw_span *psp = sp_of(po);
        if (psp) {
            r[nrefs].type = TW_REF_CHILD_OF;
            r[nrefs++].ctx = tw_span_get_context(psp);
        }
        ts = Py_XNewRef(po->ts);
    } else if (parent && parent != Py_None && parent != ot->o[OT_INVALID_SPAN]) {
        /* a foreign span (NonRecordingSpan from a propagator, another SDK's):
         * the face turns its SpanContext into a core context, (ctx, state) */
        PyObject *fargs[2] = {(PyObject *)t, parent};
        PyObject *pr = PyObject_Vectorcall(ot->o[OT_FOREIGN_PARENT], fargs, 2, NULL);
        if (pr == NULL) {
            ot_swallow(st, "start_span parent");
        } else if (PyTuple_Check(pr) && PyTuple_GET_SIZE(pr) == 2) {
            const tw_span_context *c = PyTuple_GET_ITEM(pr, 0) == Py_None ? NULL
                : twpy_ctx_of(st, PyTuple_GET_ITEM(pr, 0), NULL);
            if (c) {
                r[nrefs].type = TW_REF_CHILD_OF;
                r[nrefs++].ctx = c;
            }
            if (PyTuple_GET_ITEM(pr, 1) != Py_None)
                ts = Py_NewRef(PyTuple_GET_ITEM(pr, 1));
            keep = pr;
            pr = NULL;
        }
        Py_XDECREF(pr);
    }
    int64_t start_us = ns_to_us(st, a[A_START_TIME], "start_span");
    if (ct->tracer != NULL && ct->scope_manager != NULL) {
        tw_status s = tw_span_start(ct->tracer, nm, (size_t)nlen, r, nrefs, start_us, &sp);
        if (s == TW_ERR_NOMEM) {
            PyErr_NoMemory();
            goto fail;
        }
        if (s != TW_OK)
            sp = NULL;            /* closed tracer: a span that records nothing */
    }
    OtelSpanObject *o = into ? (OtelSpanObject *)Py_NewRef((PyObject *)into)
        : ospan_take(st);
    if (o == NULL) {
        tw_span_free(sp);
        goto fail;
    }
    o->span = sp;
    o->tracer = (OtelTracerObject *)Py_NewRef((PyObject *)t);
    o->st = st;
    o->ct = (TracerObject *)Py_NewRef((PyObject *)ct);
    ct->live_spans++;
    o->counted = 1;
    o->ts = ts ? ts : Py_NewRef(ot->o[OT_EMPTY_TS]);
    ts = NULL;
    o->kv = o->kv_stack;
    o->cap = 4;
    o->kind = (unsigned char)kind;
    o->rec = sp && (tw_span_context_flags(tw_span_get_context(sp)) & TW_FLAG_SAMPLED);
    o->rec_exc = 1;
    o->set_status_exc = 1;
    if (a[A_REC_EXC] && (o->rec_exc = PyObject_IsTrue(a[A_REC_EXC]) != 0) && PyErr_Occurred())
        PyErr_Clear();
    if (a[A_SET_STATUS] && (o->set_status_exc = PyObject_IsTrue(a[A_SET_STATUS]) != 0)
        && PyErr_Occurred())
        PyErr_Clear();
    if (sp) {
        if (kind)
            tw_span_set_kind(sp, (tw_span_kind)(kind + 1));
        if (o->rec) {
            if (t->scope)
                tw_span_set_scope(sp, t->scope);
            if (a[A_ATTRIBUTES] && a[A_ATTRIBUTES] != Py_None
                && span_attrs(st, o, a[A_ATTRIBUTES]) < 0) {
                Py_DECREF(o);
                goto fail;
            }
        }
    }
    if (a[A_LINKS] && a[A_LINKS] != Py_None) {
        /* links after start, through the face (a link never parents a span) */
        PyObject *largs[2] = {(PyObject *)o, a[A_LINKS]};
        PyObject *lr = PyObject_Vectorcall(ot->o[OT_START_LINKS], largs, 2, NULL);
        Py_XDECREF(lr);
        if (lr == NULL)
            ot_swallow(st, "links");
    }
    Py_XDECREF(parent);
    Py_XDECREF(name_tmp);
    Py_XDECREF(keep);
    return (PyObject *)o;
fail:
    Py_XDECREF(parent);
    Py_XDECREF(name_tmp);
    Py_XDECREF(keep);
    Py_XDECREF(ts);
    return NULL;
}

static const int start_idx[] = {K_NAME, K_CONTEXT, K_KIND, K_ATTRIBUTES, K_LINKS, K_START_TIME,
                                K_RECORD_EXCEPTION, K_SET_STATUS_ON_EXCEPTION, K_END_ON_EXIT};

static PyObject *
otracer_start_span(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    OtelTracerObject *t = (OtelTracerObject *)self;
    PyObject *a[8];
    if (t->core == NULL)
        return PyErr_Format(PyExc_RuntimeError, "tracewire.otel Tracer not set up");
    if (kwnames == NULL && nargs == 1) {
        a[0] = args[0];
        for (int i = 1; i < 8; i++)
            a[i] = NULL;
    } else if (twpy_parse_args(t->core->st, "start_span", args, nargs, kwnames, start_idx, 8, a) < 0) {
        return NULL;
    }
    return start_span(t, a, NULL);
}

/* ------------------------------------------------------------ start_as_current_span */

static PyObject *curm_enter(PyObject *callable, PyObject *const *args, size_t nargsf,
                            PyObject *kwnames);
static PyObject *curm_exit(PyObject *callable, PyObject *const *args, size_t nargsf,
                           PyObject *kwnames);

/* A manager for start_span's arguments a[0..na) (the rest NULL). */
static PyObject *
current_new(modstate *st, OtelTracerObject *t, PyObject *const *a, int na, int end_on_exit)
{
    CurrentObject *c;
    if (st->otel_cur_pooled > 0) {
        c = (CurrentObject *)st->otel_cur_pool[--st->otel_cur_pooled];
        revive((PyObject *)c);      /* its type reference kept in the pool */
    } else if ((c = PyObject_New(CurrentObject, st->otel_cur_type)) == NULL) {
        return NULL;
    } else {
        /* what a pooled one has: no arguments, its methods not handed out
         * (refcount 0, a reference to their type for the manager's life) */
        memset((char *)c + sizeof(PyObject), 0, sizeof *c - sizeof(PyObject));
        for (int i = 0; i < 2; i++) {
            Py_SET_TYPE((PyObject *)&c->m[i], (PyTypeObject *)Py_NewRef(st->otel_curm_type));
            c->m[i].vectorcall = i ? curm_exit : curm_enter;
        }
    }
    c->st = st;
    c->tracer = (OtelTracerObject *)Py_NewRef((PyObject *)t);
    for (int i = 0; i < na; i++)
        c->a[i] = Py_XNewRef(a[i]);
    c->na = na;
    c->end_on_exit = end_on_exit;
    return (PyObject *)c;
}

static PyObject *
otracer_start_as_current_span(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    OtelTracerObject *t = (OtelTracerObject *)self;
    PyObject *a[9];
    if (t->core == NULL)
        return PyErr_Format(PyExc_RuntimeError, "tracewire.otel Tracer not set up");
    if (kwnames == NULL && nargs == 1)     /* the name alone: no parsing */
        return current_new(t->core->st, t, args, 1, 1);
    if (twpy_parse_args(t->core->st, "start_as_current_span", args, nargs, kwnames,
                        start_idx, 9, a) < 0)
        return NULL;
    int end = 1;
    if (a[8] && (end = PyObject_IsTrue(a[8])) < 0)
        return NULL;
    return current_new(t->core->st, t, a, 8, end);
}

/* The manager's span attached the API's way (attach_span): a new reference
 * to span (stolen) for __enter__ to return, or NULL. */
static PyObject *
enter_attached(CurrentObject *c, PyObject *span)
{
    PyObject *tok = attach_span(ot_of(c->st), span, NULL);
    if (tok == NULL) {
        Py_DECREF(span);
        return NULL;
    }
    c->span = span;
    c->token = tok;
    return Py_NewRef(span);
}

static PyObject *
cur_enter(PyObject *self)
{
    CurrentObject *c = (CurrentObject *)self;
    otelstate *ot = ot_of(c->st);
    PyObject *var = ot->o[OT_CUR_CTXVAR];
    if (c->span != NULL)
        return PyErr_Format(PyExc_RuntimeError, "start_as_current_span: entered twice");
    PyObject *cur = NULL, *a[8], *span, *tok, *ctx = NULL;
    OtelSpanObject *into = NULL;
    memcpy(a, c->a, sizeof a);
    /* the current Context, read once: the parent's and the one extended */
    if ((a[A_CONTEXT] == NULL || a[A_CONTEXT] == Py_None) && var != Py_None
        && PyContextVar_Get(var, NULL, &cur) < 0)
        return NULL;
    if (cur == NULL || !PyDict_Check(cur)) {
        /* a given parent Context, another runtime (or an odd current
         * Context): the API's way */
        Py_XDECREF(cur);
        if ((span = start_span(c->tracer, a, NULL)) == NULL)
            return NULL;
        return enter_attached(c, span);
    }
    a[A_CONTEXT] = cur;
    if (ot->spare != NULL && only_span(ot, cur)) {
        ctx = ot->spare;            /* {span key: into or a used span} */
        into = ot->spare_span;
        ot->spare = NULL;
        ot->spare_span = NULL;
    }
    span = start_span(c->tracer, a, into);
    if (span == NULL)
        goto fail;
    if (ot_of(c->st) != ot) {
        /* code run by start_span (a logging handler) set the face up anew */
        Py_XDECREF(ctx);
        Py_DECREF(cur);
        return enter_attached(c, span);
    }
    if (ctx == NULL)
        ctx = new_context(ot, span, cur);
    else if (into == NULL && PyDict_SetItem(ctx, ot->o[OT_SPAN_KEY], span) < 0)
        Py_CLEAR(ctx);
    if (ctx == NULL || (tok = PyContextVar_Set(var, ctx)) == NULL)
        goto fail;
    Py_DECREF(cur);
    c->span = span;
    c->token = tok;
    c->ctx = ctx;
    c->ctx_ver = dict_version(ctx);
    return Py_NewRef(span);
fail:
    Py_XDECREF(span);
    Py_XDECREF(ctx);
    Py_DECREF(cur);
    return NULL;
}

static PyObject *
cur_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    CurrentObject *c = (CurrentObject *)self;
    modstate *st = c->st;
    otelstate *ot = ot_of(st);
    if (nargs != 3)
        return PyErr_Format(PyExc_TypeError, "__exit__ takes 3 arguments");
    PyObject *span = c->span, *tok = c->token, *ctx = c->ctx;
    if (span == NULL)
        Py_RETURN_FALSE;
    c->span = c->token = c->ctx = NULL;
    detach_token(ot, tok);
    Py_DECREF(tok);
    ot = ot_of(st);               /* the API's detach may have run any code */
    OtelSpanObject *o = (OtelSpanObject *)span;
    PyObject *ev = args[1];
    if (ev != Py_None && PyObject_TypeCheck(ev, (PyTypeObject *)PyExc_Exception)
        && o->rec && !o->ended) {
        /* trace.use_span's behaviour: record the exception, set ERROR */
        PyObject *cargs[5] = {span, ev, c->a[A_REC_EXC] ? c->a[A_REC_EXC] : Py_True,
                              c->a[A_SET_STATUS] ? c->a[A_SET_STATUS] : Py_True, Py_False};
        PyObject *r = PyObject_Vectorcall(ot->o[OT_ON_EXCEPTION], cargs, 5, NULL);
        Py_XDECREF(r);
        if (r == NULL)
            ot_swallow(st, "start_as_current_span");
    }
    int rc = c->end_on_exit ? span_end(st, o, NULL) : 0;
    if (ctx != NULL)
        keep_spare(st, ctx, c->ctx_ver, o);
    Py_DECREF(span);
    if (rc < 0)
        return NULL;
    Py_RETURN_FALSE;
}

/* A fresh context manager with the same arguments (each decorated call). */
static PyObject *
cur_recreate(PyObject *self, PyObject *unused)
{
    (void)unused;
    CurrentObject *c = (CurrentObject *)self;
    return current_new(c->st, c->tracer, c->a, c->na, c->end_on_exit);
}

/* As a decorator (sync and async functions): the face's _decorate. */
static PyObject *
cur_call(PyObject *self, PyObject *args, PyObject *kw)
{
    CurrentObject *c = (CurrentObject *)self;
    PyObject *func;
    if (kw != NULL || !PyArg_UnpackTuple(args, "start_as_current_span", 1, 1, &func))
        return PyErr_Format(PyExc_TypeError, "start_as_current_span(...) decorates one function");
    PyObject *cargs[2] = {self, func};
    return PyObject_Vectorcall(ot_of(c->st)->o[OT_DECORATE], cargs, 2, NULL);
}

/* A manager's memory back to the allocator, with its methods' type references. */
static void
cur_free(CurrentObject *c)
{
    PyTypeObject *mt = Py_TYPE((PyObject *)&c->m[0]);
    PyObject_Free(c);
    Py_DECREF(mt);
    Py_DECREF(mt);
}

/* Not a GC object: a context manager lives for one `with` (or one decorated
 * call), and nothing it holds (its tracer, the call's arguments, its span and
 * context token) refers back to it, so it can be in no cycle; untracked it
 * costs one allocation instead of a tracked one (~200 instructions a span). */
static void
cur_dealloc(CurrentObject *c)
{
    PyTypeObject *tp = Py_TYPE(c);
    modstate *st = c->st;
    Py_CLEAR(c->tracer);
    for (int i = 0; i < c->na; i++)
        Py_CLEAR(c->a[i]);
    c->na = 0;
    Py_CLEAR(c->span);
    Py_CLEAR(c->token);
    Py_CLEAR(c->ctx);
    if (st && st->otel_cur_pooled < TWPY_POOL_MAX) {
        st->otel_cur_pool[st->otel_cur_pooled++] = (PyObject *)c;   /* with its type reference */
        return;
    }
    cur_free(c);
    Py_DECREF(tp);
}

/* `with` binding __enter__ / __exit__ (_core_scope.c's descriptor asks us):
 * the manager's own method object, no allocation. */
static PyObject *
cur_bind(PyObject *self, int is_exit)
{
    CurrentObject *c = (CurrentObject *)self;
    CurMethod *m = &c->m[is_exit != 0];
    if (Py_REFCNT(m) > 0)
        return Py_NewRef((PyObject *)m);
    revive((PyObject *)m);
    m->owner = (CurrentObject *)Py_NewRef(self);
    return (PyObject *)m;
}

static PyObject *
curm_enter(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (void)args;
    if (PyVectorcall_NARGS(nargsf) != 0 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0))
        return PyErr_Format(PyExc_TypeError, "__enter__() takes no arguments");
    return cur_enter((PyObject *)((CurMethod *)callable)->owner);
}

static PyObject *
curm_exit(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0)
        return PyErr_Format(PyExc_TypeError, "__exit__() takes no keyword arguments");
    return cur_exit((PyObject *)((CurMethod *)callable)->owner, args, PyVectorcall_NARGS(nargsf));
}

/* Refcount 0: the memory (and its type reference) stays in the manager; the
 * manager's reference goes last (it may send the manager to the pool, or
 * free it). */
static void
curm_dealloc(PyObject *self)
{
    CurMethod *m = (CurMethod *)self;
    CurrentObject *c = m->owner;
    m->owner = NULL;
    Py_DECREF(c);
}

static PyObject *
curm_repr(PyObject *self)
{
    CurMethod *m = (CurMethod *)self;
    return PyUnicode_FromFormat("<bound method %s of %R>",
                                m == &m->owner->m[1] ? "__exit__" : "__enter__", (PyObject *)m->owner);
}

static PyMemberDef curm_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(CurMethod, vectorcall), READONLY, NULL},
    {"__self__", T_OBJECT, offsetof(CurMethod, owner), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot curm_slots[] = {
    {Py_tp_dealloc, curm_dealloc},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_repr, curm_repr},
    {Py_tp_members, curm_members},
    {0, NULL},
};

PyType_Spec twpy_otel_curm_spec = {
    .name = "tracewire._core.OtelCurrentSpanMethod",
    .basicsize = sizeof(CurMethod),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = curm_slots,
};

/* ------------------------------------------------------------ tracer */

static Py_ssize_t
limit_of(PyObject *v, Py_ssize_t none_is)
{
    if (v == Py_None)
        return none_is;
    Py_ssize_t n = PyNumber_AsSsize_t(v, NULL);
    if (n == -1 && PyErr_Occurred())
        return -2;
    return n < 0 ? 0 : n;
}

/* _setup(core_tracer, (max_attributes, max_events, max_links,
 * max_event_attributes, max_span_attribute_length, max_attribute_length),
 * scope): called once by the face's _new_tracer; scope is
 * _core.otel_scope's handle for core_tracer, or None. */
static PyObject *
otracer_setup(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    OtelTracerObject *t = (OtelTracerObject *)self;
    if (nargs != 3 || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != 6)
        return PyErr_Format(PyExc_TypeError, "_setup(core_tracer, limits[6], scope)");
    modstate *st = state_of(self);
    if (st == NULL)
        return NULL;
    if (!PyObject_TypeCheck(args[0], st->tracer_base))
        return PyErr_Format(PyExc_TypeError, "_setup needs a tracewire core Tracer");
    if (ot_of(st) == NULL)
        return PyErr_Format(PyExc_RuntimeError, "tracewire._core.otel_setup was not called");
    const tw_scope *scope = NULL;
    if (args[2] != Py_None && (scope = twpy_scope_of(args[2], (TracerObject *)args[0])) == NULL)
        return NULL;
    PyObject *l = args[1];
    Py_ssize_t lim[6];
    for (int i = 0; i < 6; i++)
        if ((lim[i] = limit_of(PyTuple_GET_ITEM(l, i), i < 4 ? PY_SSIZE_T_MAX : -1)) == -2)
            return NULL;
    Py_XSETREF(t->core, (TracerObject *)Py_NewRef(args[0]));
    Py_XSETREF(t->scope_handle, args[2] == Py_None ? NULL : Py_NewRef(args[2]));
    t->scope = scope;
    t->max_attrs = lim[0];
    t->max_events = lim[1];
    t->max_links = lim[2];
    t->max_event_attrs = lim[3];
    t->max_len = lim[4];
    t->max_event_len = lim[5];
    Py_RETURN_NONE;
}

/* _wrap(core_span): an OTel span over an opentracing face span (the bridge
 * scope manager's activation), sharing its core span. */
static PyObject *
otracer_wrap(PyObject *self, PyObject *core)
{
    OtelTracerObject *t = (OtelTracerObject *)self;
    if (t->core == NULL)
        return PyErr_Format(PyExc_RuntimeError, "tracewire.otel Tracer not set up");
    modstate *st = t->core->st;
    otelstate *ot = ot_of(st);
    if (!PyObject_TypeCheck(core, st->span_base))
        return PyErr_Format(PyExc_TypeError, "_wrap needs a tracewire Span");
    OtelSpanObject *o = ospan_take(st);
    if (o == NULL)
        return NULL;
    tw_span *sp = ((SpanObject *)core)->span;
    o->core = Py_NewRef(core);
    o->st = st;
    o->tracer = (OtelTracerObject *)Py_NewRef((PyObject *)t);
    o->ts = Py_NewRef(ot->o[OT_EMPTY_TS]);
    o->kv = o->kv_stack;
    o->cap = 4;
    o->rec = sp && (tw_span_context_flags(tw_span_get_context(sp)) & TW_FLAG_SAMPLED);
    o->rec_exc = o->set_status_exc = 1;
    o->ended = sp == NULL || tw_span_is_finished(sp);
    return (PyObject *)o;
}

static int
otracer_traverse(OtelTracerObject *t, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(t));
    Py_VISIT(t->core);
    Py_VISIT(t->scope_handle);
    Py_VISIT(t->dict);
    return 0;
}

static int
otracer_clear(OtelTracerObject *t)
{
    Py_CLEAR(t->core);
    t->scope = NULL;
    Py_CLEAR(t->scope_handle);
    Py_CLEAR(t->dict);
    return 0;
}

static void
otracer_dealloc(OtelTracerObject *t)
{
    PyTypeObject *tp = Py_TYPE(t);
    PyObject_GC_UnTrack(t);
    if (t->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)t);
    otracer_clear(t);
    tp->tp_free(t);
    Py_DECREF(tp);
}

static int
otracer_init(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self; (void)args; (void)kw;
    return 0;
}

/* ------------------------------------------------------------ types */

#define OT_WEAKREF_MEMBER(T) \
    {"__weaklistoffset__", T_PYSSIZET, offsetof(T, weakreflist), READONLY, NULL}

static PyMethodDef ospan_methods[] = {
    {"set_attribute", (PyCFunction)(void (*)(void))ospan_set_attribute,
     METH_FASTCALL | METH_KEYWORDS, "set_attribute(key, value)"},
    {"set_attributes", ospan_set_attributes, METH_O, "set_attributes(mapping)"},
    {"add_event", (PyCFunction)(void (*)(void))ospan_add_event, METH_FASTCALL | METH_KEYWORDS,
     "add_event(name, attributes=None, timestamp=None): timestamp in ns"},
    {"set_status", (PyCFunction)(void (*)(void))ospan_set_status, METH_FASTCALL | METH_KEYWORDS,
     "set_status(status, description=None)"},
    {"end", (PyCFunction)(void (*)(void))ospan_end, METH_FASTCALL | METH_KEYWORDS,
     "end(end_time=None): end_time in ns since the epoch"},
    {"update_name", ospan_update_name, METH_O, "update_name(name)"},
    {"_add_link_ids", (PyCFunction)(void (*)(void))ospan_add_link_ids, METH_FASTCALL, NULL},
    {"is_recording", ospan_is_recording, METH_NOARGS, "True until ended, when sampled"},
    {"get_span_context", ospan_get_span_context, METH_NOARGS, "the OTel SpanContext"},
    {"record_exception", (PyCFunction)(void (*)(void))ospan_record_exception,
     METH_FASTCALL | METH_KEYWORDS,
     "record_exception(exception, attributes=None, timestamp=None, escaped=False)"},
    {"add_link", (PyCFunction)(void (*)(void))ospan_add_link, METH_FASTCALL | METH_KEYWORDS,
     "add_link(context, attributes=None)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ospan_getset[] = {
    {"name", (getter)ospan_get_name, NULL, "the span name", NULL},
    {"kind", (getter)ospan_get_kind, NULL, "the SpanKind", NULL},
    {"status", (getter)ospan_get_status, NULL, "the Status", NULL},
    {"attributes", (getter)ospan_get_attributes, NULL, "the attributes recorded (a copy)", NULL},
    {"start_time", (getter)ospan_get_start_time, NULL, "start, ns since the epoch", NULL},
    {"_ended", (getter)ospan_get_ended, NULL, "True once ended", NULL},
    {"trace_state", (getter)ospan_get_trace_state, NULL, "the W3C TraceState", NULL},
    {"core_span", (getter)ospan_get_core_span, NULL,
     "the tracewire (opentracing face) span over the same core span", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef ospan_members[] = {
    OT_WEAKREF_MEMBER(OtelSpanObject),
    {"_record_exception", T_BOOL, offsetof(OtelSpanObject, rec_exc), READONLY, NULL},
    {"_nlinks", T_PYSSIZET, offsetof(OtelSpanObject, nlinks), READONLY, NULL},
    {"_tracer", T_OBJECT, offsetof(OtelSpanObject, tracer), READONLY, NULL},
    {"_set_status_on_exception", T_BOOL, offsetof(OtelSpanObject, set_status_exc), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot ospan_slots[] = {
    {Py_tp_dealloc, ospan_dealloc},
    {Py_tp_traverse, ospan_traverse},
    {Py_tp_clear, ospan_clear},
    {Py_tp_methods, ospan_methods},
    {Py_tp_getset, ospan_getset},
    {Py_tp_members, ospan_members},
    {Py_tp_repr, ospan_repr},
    {Py_tp_doc, "tracewire.otel.Span: an OTel span on a core span (made by Tracer.start_span)."},
    {0, NULL},
};

PyType_Spec twpy_otel_span_spec = {
    .name = "tracewire.otel.Span",
    .basicsize = sizeof(OtelSpanObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = ospan_slots,
};

static PyMethodDef otracer_methods[] = {
    {"start_span", (PyCFunction)(void (*)(void))otracer_start_span, METH_FASTCALL | METH_KEYWORDS,
     "start_span(name, context=None, kind=INTERNAL, attributes=None, links=None, "
     "start_time=None, record_exception=True, set_status_on_exception=True)"},
    {"start_as_current_span", (PyCFunction)(void (*)(void))otracer_start_as_current_span,
     METH_FASTCALL | METH_KEYWORDS,
     "start_as_current_span(name, ..., end_on_exit=True): context manager and decorator"},
    {"_setup", (PyCFunction)(void (*)(void))otracer_setup, METH_FASTCALL, NULL},
    {"_wrap", otracer_wrap, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef otracer_members[] = {
    OT_WEAKREF_MEMBER(OtelTracerObject),
    {"__dictoffset__", T_PYSSIZET, offsetof(OtelTracerObject, dict), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot otracer_slots[] = {
    {Py_tp_dealloc, otracer_dealloc},
    {Py_tp_traverse, otracer_traverse},
    {Py_tp_clear, otracer_clear},
    {Py_tp_methods, otracer_methods},
    {Py_tp_members, otracer_members},
    {Py_tp_init, otracer_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_doc, "tracewire.otel.Tracer: one instrumentation scope (TracerProvider.get_tracer)."},
    {0, NULL},
};

PyType_Spec twpy_otel_tracer_spec = {
    .name = "tracewire.otel.Tracer",
    .basicsize = sizeof(OtelTracerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = otracer_slots,
};

static PyMethodDef cur_methods[] = {
    {"_recreate", cur_recreate, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot cur_slots[] = {
    {Py_tp_dealloc, cur_dealloc},
    {Py_tp_methods, cur_methods},
    {Py_tp_call, cur_call},
    {Py_tp_doc, "start_as_current_span's result: a context manager and a decorator."},
    {0, NULL},
};

PyType_Spec twpy_otel_current_spec = {
    .name = "tracewire._core.OtelCurrentSpan",
    .basicsize = sizeof(CurrentObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = cur_slots,
};

/* ------------------------------------------------------------ setup */

/* `with` on a span or a current-span manager binds __enter__/__exit__ from the
 * module's pool (_core_scope.c's descriptors), not as new bound methods. */
int
twpy_otel_types_ready(modstate *st)
{
    if (twpy_cm_install(st, st->otel_span_base, ospan_exit) < 0
        || twpy_cm_install_bind(st, st->otel_cur_type, cur_enter, cur_exit, cur_bind) < 0)
        return -1;
    return 0;
}

static void
otel_state_free(otelstate *ot)
{
    while (ot != NULL) {
        otelstate *next = ot->retired;
        for (int i = 0; i < OT_COUNT; i++)
            Py_CLEAR(ot->o[i]);
        ot->spare_span = NULL;
        Py_CLEAR(ot->spare);
        PyMem_Free(ot);
        ot = next;
    }
}

/* otel_setup(**objects): the OTel API objects this file uses, given once by
 * the face (names in ot_names); a second call replaces them. */
PyObject *
twpy_otel_setup(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)args;
    modstate *st = PyModule_GetState(m);
    if (nargs || kwnames == NULL)
        return PyErr_Format(PyExc_TypeError, "otel_setup(**objects)");
    otelstate *ot = PyMem_Calloc(1, sizeof *ot);
    if (ot == NULL)
        return PyErr_NoMemory();
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        const char *nm = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
        int i = 0;
        while (nm && i < OT_S_STATUS_CODE && strcmp(ot_names[i], nm) != 0)
            i++;
        if (nm == NULL || i == OT_S_STATUS_CODE) {
            otel_state_free(ot);
            return nm ? PyErr_Format(PyExc_TypeError, "otel_setup: unknown %s", nm) : NULL;
        }
        Py_XSETREF(ot->o[i], Py_NewRef(args[k]));
    }
    static const char *const texts[] = {"status_code", "description", "otel.status_code",
                                        "otel.status_description", "ERROR", "OK"};
    for (int i = 0; i < 6; i++)
        if ((ot->o[OT_S_STATUS_CODE + i] = PyUnicode_InternFromString(texts[i])) == NULL) {
            otel_state_free(ot);
            return NULL;
        }
    ot->o[OT_EMPTY_TUPLE] = PyTuple_New(0);
    for (int i = 0; i < OT_COUNT; i++)
        if (ot->o[i] == NULL) {
            otel_state_free(ot);
            return PyErr_Occurred() ? NULL
                : PyErr_Format(PyExc_TypeError, "otel_setup: %s missing",
                               i < OT_S_STATUS_CODE ? ot_names[i] : "?");
        }
    if (!PyType_Check(ot->o[OT_CONTEXT_CLS])
        || !PyType_IsSubtype((PyTypeObject *)ot->o[OT_CONTEXT_CLS], &PyDict_Type)
        || (ot->o[OT_CUR_CTXVAR] != Py_None && !PyContextVar_CheckExact(ot->o[OT_CUR_CTXVAR]))) {
        otel_state_free(ot);
        return PyErr_Format(PyExc_TypeError, "otel_setup: context_cls or the context var is "
                            "not what tracewire.otel gives");
    }
    otelstate *old = st->otel;
    ot->retired = old;
    st->otel = ot;
    if (old != NULL) {
        old->spare_span = NULL;
        Py_CLEAR(old->spare);
    }
    Py_RETURN_NONE;
}

int
twpy_otel_traverse(modstate *st, visitproc visit, void *arg)
{
    otelstate *ot = st->otel;
    for (; ot != NULL; ot = ot->retired) {
        for (int i = 0; i < OT_COUNT; i++)
            Py_VISIT(ot->o[i]);
        Py_VISIT(ot->spare);
    }
    return 0;
}

void
twpy_otel_clear(modstate *st)
{
    /* pooled objects first: freeing one reads its type */
    while (st->otel_span_pooled > 0) {
        PyObject *o = st->otel_span_pool[--st->otel_span_pooled];
        PyTypeObject *tp = Py_TYPE(o);
        PyObject_GC_Del(o);
        Py_DECREF(tp);
    }
    while (st->otel_cur_pooled > 0) {
        CurrentObject *c = (CurrentObject *)st->otel_cur_pool[--st->otel_cur_pooled];
        PyTypeObject *tp = Py_TYPE(c);
        cur_free(c);
        Py_DECREF(tp);
    }
    otel_state_free((otelstate *)st->otel);
    st->otel = NULL;
}
