/* _core_attrs.c — the core's OTel-only values for the OpenTelemetry face:
 * attributes whose homogeneous sequences become core ARRAY values, links
 * added after start with attributes, and instrumentation scopes.
 *
 * Module-level functions (not Span methods) so the opentracing face's types
 * keep their behaviour: there a list tag stays str(list), as jaeger_client
 * writes it. The OTel face (python/tracewire/otel) checks types and limits
 * first, as the SDK does; what reaches here and is still wrong raises
 * TypeError/ValueError, which the face turns into a logged warning.
 *
 * An attribute list is a fieldlist (_core_values.c) plus the item arrays of
 * its ARRAY fields; item strings point into the sequence's str objects
 * (their cached UTF-8), which the list keeps alive until the core call. */
#include "_core.h"

typedef struct attrlist {
    fieldlist fl;
    tw_field **blocks;            /* PyMem item arrays of ARRAY fields */
    size_t nblocks, capblocks;
} attrlist;

static void
al_init(attrlist *al)
{
    twpy_fl_init(&al->fl);
    al->blocks = NULL;
    al->nblocks = al->capblocks = 0;
}

static void
al_free(attrlist *al)
{
    twpy_fl_free(&al->fl);
    for (size_t i = 0; i < al->nblocks; i++)
        PyMem_Free(al->blocks[i]);
    PyMem_Free(al->blocks);
}

/* items of a list/tuple -> a new PyMem array (NULL with an exception set). */
static tw_field *
items_of(PyObject *seq, Py_ssize_t n)
{
    tw_field *items = PyMem_Calloc(n ? (size_t)n : 1, sizeof *items);
    if (items == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *el = PySequence_Fast_GET_ITEM(seq, i);
        tw_field *it = &items[i];
        if (el == Py_None) {
            it->type = TW_VAL_NULL;
        } else if (PyBool_Check(el)) {
            it->type = TW_VAL_BOOL;
            it->v.b = el == Py_True;
        } else if (PyLong_Check(el)) {
            it->type = TW_VAL_INT64;
            it->v.i64 = PyLong_AsLongLong(el);
            if (it->v.i64 == -1 && PyErr_Occurred())
                goto fail;
        } else if (PyFloat_Check(el)) {
            it->type = TW_VAL_DOUBLE;
            it->v.f64 = PyFloat_AsDouble(el);
        } else if (PyUnicode_Check(el)) {
            Py_ssize_t len;
            it->type = TW_VAL_STRING;
            it->v.str.ptr = PyUnicode_AsUTF8AndSize(el, &len);
            if (it->v.str.ptr == NULL)
                goto fail;
            it->v.str.len = (size_t)len;
        } else {
            PyErr_Format(PyExc_TypeError, "sequence item of type %s (bool, str, int, float or "
                         "None expected)", Py_TYPE(el)->tp_name);
            goto fail;
        }
    }
    return items;
fail:
    PyMem_Free(items);
    return NULL;
}

/* a pair_fn: one attribute; list/tuple -> ARRAY, the rest as set_tag takes it */
static int
al_add(void *ud, PyObject *k, PyObject *v)
{
    attrlist *al = ud;
    if (!PyList_Check(v) && !PyTuple_Check(v))
        return twpy_fl_add(&al->fl, k, v);
    /* a scalar placeholder through the fieldlist (grows it, keeps k and v
     * alive), then turned into the ARRAY */
    if (twpy_fl_add(&al->fl, k, Py_None) != 0)
        return -1;
    tw_field *f = &al->fl.f[al->fl.n - 1];
    PyObject **t = &al->fl.tmps[2 * (al->fl.n - 1)];
    Py_SETREF(t[1], Py_NewRef(v));
    if (al->nblocks == al->capblocks) {
        size_t cap = al->capblocks ? 2 * al->capblocks : 4;
        tw_field **nb = PyMem_Realloc(al->blocks, cap * sizeof *nb);
        if (nb == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        al->blocks = nb;
        al->capblocks = cap;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    tw_field *items = items_of(v, n);
    if (items == NULL)
        return -1;
    al->blocks[al->nblocks++] = items;
    f->type = TW_VAL_ARRAY;
    f->v.arr.items = items;
    f->v.arr.n = (size_t)n;
    return 0;
}

static int
al_fill(attrlist *al, PyObject *attrs, modstate *st)
{
    if (attrs == NULL || attrs == Py_None)
        return 0;
    return twpy_foreach_pair(attrs, al_add, al, st);
}

/* The core span of a Span argument; NULL (no error) when it has none. */
static int
span_arg(modstate *st, PyObject *o, tw_span **out)
{
    if (!PyObject_TypeCheck(o, st->span_base)) {
        PyErr_SetString(PyExc_TypeError, "a tracewire Span is needed");
        return -1;
    }
    *out = ((SpanObject *)o)->span;
    return 0;
}

/* 0 when s is fine, else -1 with the exception for s. */
static int
status_rc(modstate *st, tw_status s, const char *what)
{
    if (s != TW_OK && s != TW_ERR_FINISHED) {
        if (s == TW_ERR_INVALID_ARG)
            PyErr_Format(PyExc_ValueError, "%s: %s", what, tw_strerror(s));
        else
            twpy_raise_status(st, s, what);
        return -1;
    }
    return 0;
}

static PyObject *
done(modstate *st, tw_status s, const char *what)
{
    if (status_rc(st, s, what) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* One attribute on a core span (list/tuple -> ARRAY): 0, or -1 with an exception. */
int
twpy_attrs_set(modstate *st, tw_span *s, PyObject *key, PyObject *value)
{
    attrlist al;
    al_init(&al);
    if (al_add(&al, key, value) != 0) {
        al_free(&al);
        return -1;
    }
    tw_status r = tw_span_set_tag(s, &al.fl.f[0]);
    al_free(&al);
    return status_rc(st, r, "set_attribute");
}

/* otel_set_attribute(span, key, value) */
PyObject *
twpy_otel_set_attribute(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    modstate *st = PyModule_GetState(m);
    tw_span *s;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "otel_set_attribute(span, key, value)");
        return NULL;
    }
    if (span_arg(st, args[0], &s) < 0)
        return NULL;
    if (s == NULL || twpy_attrs_set(st, s, args[1], args[2]) == 0)
        Py_RETURN_NONE;
    return NULL;
}

/* An event on a core span: a log whose first field is event=name (the
 * encoders' event name) then the attributes (a mapping; sequences ->
 * ARRAY). 0, or -1 with an exception. */
int
twpy_attrs_log(modstate *st, tw_span *s, int64_t us, PyObject *name, PyObject *attrs)
{
    attrlist al;
    al_init(&al);
    if (twpy_fl_add(&al.fl, st->s_event, name) != 0 || al_fill(&al, attrs, st) != 0) {
        al_free(&al);
        return -1;
    }
    tw_status r = tw_span_log(s, us, al.fl.f, al.fl.n);
    al_free(&al);
    return status_rc(st, r, "add_event");
}

/* otel_add_event(span, name, attributes, timestamp_seconds_or_None) */
PyObject *
twpy_otel_add_event(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    modstate *st = PyModule_GetState(m);
    tw_span *s;
    int64_t us;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "otel_add_event(span, name, attributes, timestamp)");
        return NULL;
    }
    if (span_arg(st, args[0], &s) < 0 || twpy_seconds_to_us(args[3], &us) < 0)
        return NULL;
    if (s == NULL || twpy_attrs_log(st, s, us, args[1], args[2]) == 0)
        Py_RETURN_NONE;
    return NULL;
}

/* A link by the ids of an OTel SpanContext: trace_id (128-bit int), span_id,
 * the W3C trace-flags int, tracestate (a header str or None), attributes (a
 * mapping or None). A link to an invalid context is kept when it has
 * attributes or a tracestate (the SDK's rule; the core checks it): 0, or -1
 * with an exception (ValueError when the core refuses the link). */
int
twpy_attrs_link_ids(modstate *st, tw_span *s, PyObject *trace_id, PyObject *span_id,
                    PyObject *flags, PyObject *tracestate, PyObject *attrs)
{
    PyObject *mask = PyLong_FromUnsignedLongLong(~0ULL), *lo = NULL, *hi = NULL, *sh = NULL;
    if (mask == NULL)
        return -1;
    /* trace_id & mask, trace_id >> 64: range-checked ints without byte tricks */
    lo = PyNumber_And(trace_id, mask);
    sh = lo ? PyLong_FromLong(64) : NULL;
    hi = sh ? PyNumber_Rshift(trace_id, sh) : NULL;
    Py_DECREF(mask);
    Py_XDECREF(sh);
    if (hi == NULL) {
        Py_XDECREF(lo);
        return -1;
    }
    uint64_t trace_lo = PyLong_AsUnsignedLongLong(lo);
    uint64_t trace_hi = PyErr_Occurred() ? 0 : PyLong_AsUnsignedLongLong(hi);
    Py_DECREF(lo);
    Py_DECREF(hi);
    uint64_t sid = PyErr_Occurred() ? 0 : PyLong_AsUnsignedLongLong(span_id);
    long fl = PyErr_Occurred() ? 0 : PyLong_AsLong(flags);
    if (PyErr_Occurred())
        return -1;
    Py_ssize_t tsl = 0;
    PyObject *tst = NULL;
    const char *ts = tracestate == Py_None ? NULL : twpy_utf8_of(tracestate, &tsl, &tst);
    if (ts == NULL && PyErr_Occurred())
        return -1;
    attrlist al;
    al_init(&al);
    if (al_fill(&al, attrs, st) != 0) {
        al_free(&al);
        Py_XDECREF(tst);
        return -1;
    }
    tw_status r = tw_span_add_link_ids(s, trace_hi, trace_lo, sid, (unsigned)fl & 0xffu,
                                       ts, ts ? (size_t)tsl : 0, al.fl.f, al.fl.n);
    al_free(&al);
    Py_XDECREF(tst);
    return status_rc(st, r, "add_link");
}

/* otel_add_link(span, trace_id, span_id, trace_flags, tracestate, attributes) */
PyObject *
twpy_otel_add_link(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    modstate *st = PyModule_GetState(m);
    tw_span *s;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "otel_add_link(span, trace_id, span_id, trace_flags, "
                        "tracestate, attributes)");
        return NULL;
    }
    if (span_arg(st, args[0], &s) < 0)
        return NULL;
    if (s != NULL && twpy_attrs_link_ids(st, s, args[1], args[2], args[3], args[4], args[5]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ scopes */

#define SCOPE_CAPSULE "tracewire.scope"

static void
scope_capsule_free(PyObject *cap)
{
    Py_XDECREF((PyObject *)PyCapsule_GetContext(cap));   /* the TracerObject */
}

static const char *
opt_utf8(PyObject *o, Py_ssize_t *n, PyObject **tmp)
{
    *n = 0;
    if (o == Py_None)
        return NULL;
    return twpy_utf8_of(o, n, tmp);
}

/* otel_scope(tracer, name, version, schema_url, attributes) -> an opaque
 * scope handle (a capsule holding the Tracer, whose core owns the scope). */
PyObject *
twpy_otel_scope(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    modstate *st = PyModule_GetState(m);
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "otel_scope(tracer, name, version, schema_url, attributes)");
        return NULL;
    }
    if (!PyObject_TypeCheck(args[0], st->tracer_base)) {
        PyErr_SetString(PyExc_TypeError, "a tracewire Tracer is needed");
        return NULL;
    }
    TracerObject *to = (TracerObject *)args[0];
    if (to->tracer == NULL)
        return twpy_raise_status(st, TW_ERR_CLOSED, "otel_scope");
    PyObject *tn = NULL, *tv = NULL, *ts = NULL, *ret = NULL;
    Py_ssize_t nl, vl, sl;
    const char *name = opt_utf8(args[1], &nl, &tn);
    const char *ver = name || args[1] == Py_None ? opt_utf8(args[2], &vl, &tv) : NULL;
    const char *schema = !PyErr_Occurred() ? opt_utf8(args[3], &sl, &ts) : NULL;
    attrlist al;
    al_init(&al);
    if (PyErr_Occurred() || al_fill(&al, args[4], st) != 0)
        goto out;
    const tw_scope *sc;
    tw_status r = tw_tracer_scope(to->tracer, name, name ? (size_t)nl : 0, ver,
                                  ver ? (size_t)vl : 0, schema, schema ? (size_t)sl : 0,
                                  al.fl.f, al.fl.n, &sc);
    if (r != TW_OK) {
        done(st, r, "otel_scope");
        goto out;
    }
    ret = PyCapsule_New((void *)sc, SCOPE_CAPSULE, scope_capsule_free);
    if (ret && PyCapsule_SetContext(ret, Py_NewRef((PyObject *)to)) != 0) {
        Py_DECREF(to);
        Py_CLEAR(ret);
    }
out:
    al_free(&al);
    Py_XDECREF(tn);
    Py_XDECREF(tv);
    Py_XDECREF(ts);
    return ret;
}

const tw_scope *
twpy_scope_of(PyObject *handle, TracerObject *t)
{
    const tw_scope *sc = PyCapsule_GetPointer(handle, SCOPE_CAPSULE);
    if (sc != NULL && PyCapsule_GetContext(handle) != (void *)t) {
        PyErr_SetString(PyExc_ValueError, "the scope belongs to another tracer");
        return NULL;
    }
    return sc;
}

/* otel_set_scope(span, scope) */
PyObject *
twpy_otel_set_scope(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    modstate *st = PyModule_GetState(m);
    tw_span *s;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "otel_set_scope(span, scope)");
        return NULL;
    }
    if (span_arg(st, args[0], &s) < 0)
        return NULL;
    const tw_scope *sc = PyCapsule_GetPointer(args[1], SCOPE_CAPSULE);
    if (sc == NULL)
        return NULL;
    SpanObject *so = (SpanObject *)args[0];
    /* the scope lives as long as its tracer's core: only a span of that same
     * tracer, while it still holds its core span, may point at it */
    if (s == NULL)
        Py_RETURN_NONE;
    if ((PyObject *)so->tracer != PyCapsule_GetContext(args[1])) {
        PyErr_SetString(PyExc_ValueError, "otel_set_scope: the scope belongs to another tracer");
        return NULL;
    }
    return done(st, tw_span_set_scope(s, sc), "set_scope");
}
