/* _core_span.c — Span: tags, logs, baggage, finish, and the error record.
 *
 * set_tag has a fast path for the common values (str key; str, int64, float
 * or bool value: twpy_key_fast / twpy_value_fast) that hands borrowed
 * pointers straight to the core. A span holds its Tracer; when the core span is freed (cleanup) the
 * span tells the tracer, whose core object may be waiting for its last span.
 */
#include "_core.h"

/* Sets one tag; writes to a finished span are a silent no-op. */
static int
span_set_tag_py(SpanObject *so, PyObject *key, PyObject *val)
{
    if (so->span == NULL)
        return 0;
    tw_field f;
    PyObject *tmps[2];
    int rc = twpy_field_from_py(&f, key, val, tmps);
    if (rc == 0) {
        tw_status s = tw_span_set_tag(so->span, &f);
        if (s != TW_OK && s != TW_ERR_FINISHED) {
            twpy_raise_status(so->st, s, "set_tag");
            rc = -1;
        }
    }
    Py_XDECREF(tmps[0]);
    Py_XDECREF(tmps[1]);
    return rc;
}

int
twpy_tag_pair(void *ud, PyObject *k, PyObject *v)
{
    return span_set_tag_py((SpanObject *)ud, k, v) ? -1 : 0;
}

/* ------------------------------------------------------------ error recording */

/* The opentracing 2.x error record: tag error=true and a log with event,
 * error.object, error.kind, message and stack. Foreign spans go through
 * opentracing's own Span._on_error. */
int
twpy_record_error(modstate *st, PyObject *span, PyObject *et, PyObject *ev, PyObject *tb)
{
    if (et == NULL || et == Py_None)
        return 0;
    if (!PyObject_TypeCheck(span, st->span_base)) {
        PyObject *r = PyObject_CallFunctionObjArgs(st->ot_on_error, span, et,
                                                   ev ? ev : Py_None, tb ? tb : Py_None, NULL);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    SpanObject *so = (SpanObject *)span;
    if (so->span == NULL)
        return 0;
    int rc = -1;
    PyObject *kind = NULL, *stack = NULL, *msg = NULL, *empty = NULL;
    fieldlist fl;
    twpy_fl_init(&fl);
    if (span_set_tag_py(so, st->s_error, Py_True) < 0)
        goto done;
    kind = PyObject_GetAttr(et, st->s_name);
    if (kind == NULL) {
        PyErr_Clear();
        kind = PyObject_Str(et);
        if (kind == NULL)
            goto done;
    }
    msg = (ev && ev != Py_None) ? PyObject_Str(ev) : PyUnicode_FromString("");
    if (msg == NULL)
        goto done;
    if (tb && tb != Py_None) {
        PyObject *lines = PyObject_CallOneArg(st->format_tb, tb);
        if (lines == NULL)
            goto done;
        empty = PyUnicode_FromString("");
        stack = empty ? PyUnicode_Join(empty, lines) : NULL;
        Py_DECREF(lines);
        if (stack == NULL)
            goto done;
    }
    if (twpy_fl_add(&fl, st->s_event, st->s_error) || twpy_fl_add(&fl, st->s_error_object, msg)
        || twpy_fl_add(&fl, st->s_error_kind, kind) || twpy_fl_add(&fl, st->s_message, msg)
        || (stack && twpy_fl_add(&fl, st->s_stack, stack)))
        goto done;
    tw_status s = tw_span_log(so->span, 0, fl.f, fl.n);
    if (s != TW_OK && s != TW_ERR_FINISHED) {
        twpy_raise_status(st, s, "log");
        goto done;
    }
    rc = 0;
done:
    twpy_fl_free(&fl);
    Py_XDECREF(kind);
    Py_XDECREF(stack);
    Py_XDECREF(msg);
    Py_XDECREF(empty);
    return rc;
}
/* ------------------------------------------------------------ spans */

static PyObject *
span_set_tag(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SpanObject *so = (SpanObject *)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "set_tag(key, value)");
        return NULL;
    }
    /* fast path: str key; str, int (fits int64), float or bool value, all
     * borrowed straight into the core's call */
    tw_field f;
    if (so->span && twpy_key_fast(&f, args[0]) && twpy_value_fast(&f, args[1])) {
        tw_status st = tw_span_set_tag(so->span, &f);
        if (st != TW_OK && st != TW_ERR_FINISHED)
            return twpy_raise_status(so->st, st, "set_tag");
    } else if (span_set_tag_py(so, args[0], args[1]) < 0) {
        return NULL;
    }
    return Py_NewRef(self);
}

static PyObject *
span_finish(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    SpanObject *so = (SpanObject *)self;
    int64_t us = 0;
    if (nargs || kwnames) {
        static const int idx[] = {K_FINISH_TIME};
        PyObject *a[1];
        if (twpy_parse_args(so->st, "finish", args, nargs, kwnames, idx, 1, a) < 0)
            return NULL;
        if (twpy_seconds_to_us(a[0], &us) < 0)
            return NULL;
    }
    if (so->span) {
        tw_status s = tw_span_finish(so->span, us);
        if (s != TW_OK && s != TW_ERR_FINISHED)
            return twpy_raise_status(so->st, s, "finish");
    }
    Py_RETURN_NONE;
}

/* span.finish(), looked up as an attribute (the opentracing harness replaces
 * it on instances), with a direct call when it cannot have been replaced:
 * an exact tracewire Span without instance attributes (in either layout the
 * instance dict is at head_dictptr). */
int
twpy_call_finish(modstate *st, PyObject *span)
{
    PyObject *r;
    if (Py_IS_TYPE(span, st->span_type) && *head_dictptr(span) == NULL)
        r = span_finish(span, NULL, 0, NULL);
    else
        r = PyObject_CallMethodNoArgs(span, st->s_finish);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *
span_log_kv(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_KEY_VALUES, K_TIMESTAMP};
    SpanObject *so = (SpanObject *)self;
    modstate *st = so->st;
    PyObject *a[2];
    int64_t us;
    if (twpy_parse_args(st, "log_kv", args, nargs, kwnames, idx, 2, a) < 0)
        return NULL;
    if (twpy_seconds_to_us(a[1], &us) < 0)
        return NULL;
    if (a[0] == NULL || a[0] == Py_None || so->span == NULL)
        return Py_NewRef(self);
    fieldlist fl;
    twpy_fl_init(&fl);
    PyObject *ret = NULL;
    if (twpy_foreach_pair(a[0], twpy_fl_add, &fl, st) != 0)
        goto done;
    tw_status s = tw_span_log(so->span, us, fl.f, fl.n);
    if (s != TW_OK && s != TW_ERR_FINISHED) {
        twpy_raise_status(st, s, "log_kv");
        goto done;
    }
    ret = Py_NewRef(self);
done:
    twpy_fl_free(&fl);
    return ret;
}

static PyObject *
span_set_operation_name(PyObject *self, PyObject *name)
{
    SpanObject *so = (SpanObject *)self;
    Py_ssize_t n;
    PyObject *tmp = NULL;
    const char *p = twpy_utf8_of(name, &n, &tmp);
    if (p == NULL)
        return NULL;
    if (so->span) {
        tw_status s = tw_span_set_operation_name(so->span, p, (size_t)n);
        if (s != TW_OK && s != TW_ERR_FINISHED) {
            Py_XDECREF(tmp);
            return twpy_raise_status(so->st, s, "set_operation_name");
        }
    }
    Py_XDECREF(tmp);
    return Py_NewRef(self);
}

static PyObject *
span_set_baggage_item(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SpanObject *so = (SpanObject *)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "set_baggage_item(key, value)");
        return NULL;
    }
    Py_ssize_t kl, vl;
    PyObject *tk = NULL, *tv = NULL, *ret = NULL;
    const char *k = twpy_utf8_of(args[0], &kl, &tk);
    const char *v = k ? twpy_utf8_of(args[1], &vl, &tv) : NULL;
    if (v == NULL)
        goto done;
    if (so->span) {
        tw_status s = tw_span_set_baggage(so->span, k, (size_t)kl, v, (size_t)vl);
        if (s == TW_ERR_TOO_LARGE) {
            /* as jaeger_client's baggage limits: dropped with a warning, not an error */
            if (PyErr_WarnEx(PyExc_RuntimeWarning,
                             "tracewire: baggage item dropped: it exceeds max_baggage_size "
                             "or the span already holds 180 items", 1) < 0)
                goto done;
        } else if (s != TW_OK && s != TW_ERR_FINISHED) {
            twpy_raise_status(so->st, s, "set_baggage_item");
            goto done;
        }
    }
    ret = Py_NewRef(self);
done:
    Py_XDECREF(tk);
    Py_XDECREF(tv);
    return ret;
}

static PyObject *
span_get_baggage_item(PyObject *self, PyObject *key)
{
    SpanObject *so = (SpanObject *)self;
    Py_ssize_t kl;
    PyObject *tk = NULL;
    const char *k = twpy_utf8_of(key, &kl, &tk);
    if (k == NULL)
        return NULL;
    const char *v = NULL;
    size_t vl = 0;
    tw_status s = so->span ? tw_span_context_baggage(tw_span_get_context(so->span), k,
                                                     (size_t)kl, &v, &vl)
                           : TW_ERR_NOT_FOUND;
    Py_XDECREF(tk);
    if (s != TW_OK)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(v, (Py_ssize_t)vl, "replace");
}

PyObject *
twpy_span_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SpanObject *so = (SpanObject *)self;
    modstate *st = so->st;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "__exit__ takes 3 arguments");
        return NULL;
    }
    if (twpy_record_error(st, self, args[0], args[1], args[2]) < 0)
        return NULL;
    /* by attribute when it may have been replaced on the instance (harness) */
    if (twpy_call_finish(st, self) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *
span_is_sampled(PyObject *self, PyObject *unused)
{
    (void)unused;
    SpanObject *so = (SpanObject *)self;
    return PyBool_FromLong(so->span
                           && (tw_span_context_flags(tw_span_get_context(so->span)) & TW_FLAG_SAMPLED));
}

static PyObject *
span_is_debug(PyObject *self, PyObject *unused)
{
    (void)unused;
    SpanObject *so = (SpanObject *)self;
    return PyBool_FromLong(so->span
                           && (tw_span_context_flags(tw_span_get_context(so->span)) & TW_FLAG_DEBUG));
}

static PyObject *
span_get_context(SpanObject *self, void *c)
{
    (void)c;
    modstate *st = self->st;
    return twpy_context_new(st, self->span ? tw_span_get_context(self->span) : NULL, NULL,
                            (PyObject *)self);
}

/* jaeger_client's Span exposes its ids directly; these read the current
 * context without creating a SpanContext object. */
static PyObject *
span_id_property(SpanObject *self, getter g)
{
    ContextObject view;
    memset(&view, 0, sizeof view);
    view.ctx = self->span ? tw_span_get_context(self->span) : NULL;
    return g((PyObject *)&view, NULL);
}

static PyObject *
span_get_trace_id(SpanObject *self, void *c)
{
    (void)c;
    return span_id_property(self, (getter)twpy_ctx_get_trace_id);
}

static PyObject *
span_get_span_id(SpanObject *self, void *c)
{
    (void)c;
    return span_id_property(self, (getter)twpy_ctx_get_span_id);
}

static PyObject *
span_get_parent_id(SpanObject *self, void *c)
{
    (void)c;
    return span_id_property(self, (getter)twpy_ctx_get_parent_id);
}

static PyObject *
span_get_flags(SpanObject *self, void *c)
{
    (void)c;
    return span_id_property(self, (getter)twpy_ctx_get_flags);
}

static PyObject *
span_get_tracer(SpanObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->tracer ? (PyObject *)self->tracer : Py_None);
}

static PyObject *
span_get_operation_name(SpanObject *self, void *c)
{
    (void)c;
    size_t n = 0;
    const char *p = self->span ? tw_span_operation_name(self->span, &n) : "";
    return PyUnicode_DecodeUTF8(p ? p : "", (Py_ssize_t)(p ? n : 0), "replace");
}

static PyObject *
span_get_start_time(SpanObject *self, void *c)
{
    (void)c;
    return PyFloat_FromDouble(self->span ? (double)tw_span_start_us(self->span) / 1e6 : 0.0);
}

static PyObject *
span_get_finished(SpanObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->span == NULL || tw_span_is_finished(self->span));
}

static int
span_visit(SpanObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->tracer);
    return 0;
}

/* Frees the core span before letting go of the tracer (the core frees a
 * tracer only after all its spans). */
static void
span_cleanup(SpanObject *self)
{
    TracerObject *t = self->tracer;
    tw_span *sp = self->span;
    self->span = NULL;
    self->tracer = NULL;
    tw_span_free(sp);             /* an unfinished span is discarded */
    if (t) {
        if (--t->live_spans == 0 && t->free_pending)
            twpy_tracer_release_core(t);
        Py_DECREF(t);
    }
}

static inline modstate *
span_state(SpanObject *self)
{
    return self->st;
}

GC_FUNCS_POOLED(span, SpanObject, span)

PyObject *
twpy_span_wrap(TracerObject *t, tw_span *sp)
{
    modstate *st = t->st;
    SpanObject *so = (SpanObject *)twpy_pool_take(st->span_type, st->span_pool, &st->span_pooled);
    if (so == NULL) {
        tw_span_free(sp);
        return NULL;
    }
    so->span = sp;
    so->st = st;
    so->tracer = (TracerObject *)Py_NewRef((PyObject *)t);
    t->live_spans++;
    return (PyObject *)so;
}

static int
span_init(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self; (void)args; (void)kw;
    return 0;
}

static PyObject *
span_repr(SpanObject *self)
{
    char t[33] = "", s[17] = "";
    size_t n = 0;
    const char *op = "";
    if (self->span) {
        const tw_span_context *c = tw_span_get_context(self->span);
        tw_span_context_trace_id_hex(c, t);
        tw_span_context_span_id_hex(c, s);
        op = tw_span_operation_name(self->span, &n);
    }
    PyObject *name = PyUnicode_DecodeUTF8(op ? op : "", op ? (Py_ssize_t)n : 0, "replace");
    if (name == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("<tracewire.Span %R %s:%s>", name, t, s);
    Py_DECREF(name);
    return r;
}

static PyMethodDef span_methods[] = {
    {"set_tag", (PyCFunction)(void (*)(void))span_set_tag, METH_FASTCALL,
     "set_tag(key, value) -> self"},
    {"finish", (PyCFunction)(void (*)(void))span_finish, METH_FASTCALL | METH_KEYWORDS,
     "finish(finish_time=None): ends the span (seconds since the epoch; twice is a no-op)"},
    {"log_kv", (PyCFunction)(void (*)(void))span_log_kv, METH_FASTCALL | METH_KEYWORDS,
     "log_kv(key_values, timestamp=None) -> self"},
    {"set_operation_name", span_set_operation_name, METH_O, "set_operation_name(name) -> self"},
    {"set_baggage_item", (PyCFunction)(void (*)(void))span_set_baggage_item, METH_FASTCALL,
     "set_baggage_item(key, value) -> self"},
    {"get_baggage_item", span_get_baggage_item, METH_O, "get_baggage_item(key) -> str or None"},
    {"is_sampled", span_is_sampled, METH_NOARGS, "True when the span is sampled"},
    {"is_debug", span_is_debug, METH_NOARGS, "True when the span is a debug span"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef span_getset[] = {
    {"context", (getter)span_get_context, NULL, "the span's SpanContext", NULL},
    {"tracer", (getter)span_get_tracer, NULL, "the Tracer that made the span", NULL},
    {"trace_id", (getter)span_get_trace_id, NULL, "trace id as int (as jaeger_client)", NULL},
    {"span_id", (getter)span_get_span_id, NULL, "span id as int", NULL},
    {"parent_id", (getter)span_get_parent_id, NULL, "parent span id, None for a root", NULL},
    {"flags", (getter)span_get_flags, NULL, "Jaeger flags (1 sampled, 2 debug)", NULL},
    {"operation_name", (getter)span_get_operation_name, NULL, "the operation name", NULL},
    {"start_time", (getter)span_get_start_time, NULL, "start, seconds since the epoch", NULL},
    {"finished", (getter)span_get_finished, NULL, "True once finished", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot span_slots[] = {
    GC_SLOTS(span)
    {Py_tp_methods, span_methods},
    {Py_tp_getset, span_getset},
    {Py_tp_init, span_init},
    {Py_tp_repr, span_repr},
    {Py_tp_doc, "A tracewire span (an opentracing.Span); made by Tracer.start_span."},
    {0, NULL},
};

PyType_Spec twpy_span_spec = {
    .name = "tracewire.Span",
    .basicsize = sizeof(SpanObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = span_slots,
};
