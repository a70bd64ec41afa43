/* _core_context.c — SpanContext: a view of a core tw_span_context.
 *
 * A context taken from a span borrows the span's core context and holds the
 * span (the pointer dies with the core span: every reader checks); an
 * extracted context owns its tw_span_context. Ids read as jaeger_client's
 * (ints, hex strings), baggage as a fresh dict.
 */
#include "_core.h"

/* ------------------------------------------------------------ contexts */

PyObject *
twpy_context_new(modstate *st, const tw_span_context *ctx, tw_span_context *owned, PyObject *owner)
{
    ContextObject *co = (ContextObject *)st->ctx_type->tp_alloc(st->ctx_type, 0);
    if (co == NULL) {
        tw_span_context_free(owned);
        return NULL;
    }
    co->ctx = owned ? owned : ctx;
    co->owned = owned;
    co->owner = Py_XNewRef(owner);
    return (PyObject *)co;
}

static int
ctx_visit(ContextObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->owner);
    return 0;
}

static void
ctx_cleanup(ContextObject *self)
{
    self->ctx = NULL;             /* may be borrowed from owner: forget it first */
    Py_CLEAR(self->owner);
    tw_span_context_free(self->owned);
    self->owned = NULL;
}

GC_FUNCS(ctx, ContextObject)

/* The context pointer, or NULL once the owning span's core span is gone. */
static inline const tw_span_context *
ctx_ptr(ContextObject *self)
{
    if (self->owner && ((SpanObject *)self->owner)->span == NULL)
        return NULL;
    return self->ctx;
}

PyObject *
twpy_ctx_get_trace_id(ContextObject *self, void *c)
{
    (void)c;
    uint64_t hi = 0, lo = 0;
    if (ctx_ptr(self))
        tw_span_context_trace_id(ctx_ptr(self), &hi, &lo);
    if (hi == 0)
        return PyLong_FromUnsignedLongLong(lo);
    PyObject *h = PyLong_FromUnsignedLongLong(hi), *l = NULL, *sh = NULL, *s = NULL, *r = NULL;
    PyObject *sixty4 = PyLong_FromLong(64);
    if (h == NULL || sixty4 == NULL)
        goto done;
    if ((sh = PyNumber_Lshift(h, sixty4)) == NULL)
        goto done;
    if ((l = PyLong_FromUnsignedLongLong(lo)) == NULL)
        goto done;
    s = PyNumber_Or(sh, l);
    r = s;
    s = NULL;
done:
    Py_XDECREF(h);
    Py_XDECREF(l);
    Py_XDECREF(sh);
    Py_XDECREF(sixty4);
    return r;
}

PyObject *
twpy_ctx_get_span_id(ContextObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(ctx_ptr(self) ? tw_span_context_span_id(ctx_ptr(self)) : 0);
}

PyObject *
twpy_ctx_get_parent_id(ContextObject *self, void *c)
{
    (void)c;
    uint64_t p = ctx_ptr(self) ? tw_span_context_parent_id(ctx_ptr(self)) : 0;
    if (p == 0)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(p);
}

PyObject *
twpy_ctx_get_flags(ContextObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(ctx_ptr(self) ? tw_span_context_flags(ctx_ptr(self)) : 0);
}

static PyObject *
ctx_get_sampled(ContextObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(ctx_ptr(self) && (tw_span_context_flags(ctx_ptr(self)) & TW_FLAG_SAMPLED));
}

static PyObject *
ctx_get_debug(ContextObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(ctx_ptr(self) && (tw_span_context_flags(ctx_ptr(self)) & TW_FLAG_DEBUG));
}

static PyObject *
ctx_get_has_trace(ContextObject *self, void *c)
{
    (void)c;
    uint64_t hi = 0, lo = 0;
    if (ctx_ptr(self))
        tw_span_context_trace_id(ctx_ptr(self), &hi, &lo);
    return PyBool_FromLong(hi != 0 || lo != 0);
}

static PyObject *
ctx_get_trace_id_hex(ContextObject *self, void *c)
{
    (void)c;
    char buf[33] = "";
    if (ctx_ptr(self))
        tw_span_context_trace_id_hex(ctx_ptr(self), buf);
    return PyUnicode_FromString(buf);
}

static PyObject *
ctx_get_span_id_hex(ContextObject *self, void *c)
{
    (void)c;
    char buf[17] = "";
    if (ctx_ptr(self))
        tw_span_context_span_id_hex(ctx_ptr(self), buf);
    return PyUnicode_FromString(buf);
}

static int
baggage_to_dict(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    PyObject *d = ud;
    PyObject *key = PyUnicode_DecodeUTF8(k, (Py_ssize_t)kl, "replace");
    PyObject *val = key ? PyUnicode_DecodeUTF8(v, (Py_ssize_t)vl, "replace") : NULL;
    int rc = (key && val) ? PyDict_SetItem(d, key, val) : -1;
    Py_XDECREF(key);
    Py_XDECREF(val);
    return rc ? 1 : 0;
}

static PyObject *
ctx_get_baggage(ContextObject *self, void *c)
{
    (void)c;
    PyObject *d = PyDict_New();
    if (d == NULL || ctx_ptr(self) == NULL)
        return d;
    tw_span_context_foreach_baggage(ctx_ptr(self), baggage_to_dict, d);
    if (PyErr_Occurred()) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *
ctx_repr(ContextObject *self)
{
    char t[33] = "", s[17] = "";
    if (ctx_ptr(self)) {
        tw_span_context_trace_id_hex(ctx_ptr(self), t);
        tw_span_context_span_id_hex(ctx_ptr(self), s);
    }
    return PyUnicode_FromFormat("<tracewire.SpanContext %s:%s flags=%u>", t, s,
                                ctx_ptr(self) ? tw_span_context_flags(ctx_ptr(self)) : 0u);
}

static int
ctx_init(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self; (void)args; (void)kw;
    return 0;
}

static PyGetSetDef ctx_getset[] = {
    {"trace_id", (getter)twpy_ctx_get_trace_id, NULL, "trace id as int (128-bit when wide)", NULL},
    {"span_id", (getter)twpy_ctx_get_span_id, NULL, "span id as int", NULL},
    {"parent_id", (getter)twpy_ctx_get_parent_id, NULL, "parent span id, None for a root", NULL},
    {"flags", (getter)twpy_ctx_get_flags, NULL, "Jaeger flags (1 sampled, 2 debug)", NULL},
    {"sampled", (getter)ctx_get_sampled, NULL, "True when sampled", NULL},
    {"debug", (getter)ctx_get_debug, NULL, "True when debug", NULL},
    {"has_trace", (getter)ctx_get_has_trace, NULL,
     "False for a context that carries only baggage or a debug id", NULL},
    {"trace_id_hex", (getter)ctx_get_trace_id_hex, NULL, "trace id as lower-case hex", NULL},
    {"span_id_hex", (getter)ctx_get_span_id_hex, NULL, "span id as lower-case hex", NULL},
    {"baggage", (getter)ctx_get_baggage, NULL, "a new dict of the baggage items", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot ctx_slots[] = {
    GC_SLOTS(ctx)
    {Py_tp_getset, ctx_getset},
    {Py_tp_repr, ctx_repr},
    {Py_tp_init, ctx_init},
    {Py_tp_doc, "An immutable tracewire span context."},
    {0, NULL},
};

PyType_Spec twpy_ctx_spec = {
    .name = "tracewire.SpanContext",
    .basicsize = sizeof(ContextObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = ctx_slots,
};

/* A borrowed core context for a Span or SpanContext (ours), or for a foreign
 * opentracing span whose .context is ours (*keep receives that new ref).
 * NULL without error: not something we can parent on. */
const tw_span_context *
twpy_ctx_of(modstate *st, PyObject *o, PyObject **keep)
{
    if (Py_IS_TYPE(o, st->ctx_base))
        return ctx_ptr((ContextObject *)o);
    if (PyObject_TypeCheck(o, st->span_base)) {
        SpanObject *so = (SpanObject *)o;
        return so->span ? tw_span_get_context(so->span) : NULL;
    }
    if (PyObject_TypeCheck(o, st->ctx_base))
        return ctx_ptr((ContextObject *)o);
    if (o == Py_None || keep == NULL)
        return NULL;
    PyObject *c = PyObject_GetAttr(o, st->s_context);
    if (c == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (!PyObject_TypeCheck(c, st->ctx_base)) {
        Py_DECREF(c);
        return NULL;
    }
    *keep = c;
    return ((ContextObject *)c)->ctx;
}
