/* _core_tracer.c — Tracer: start_span, start_active_span, flush, close,
 * metrics, the in-memory reporter's spans, and construction from a config.
 *
 * Parent choice follows opentracing: child_of, then references, then the
 * active span unless ignore_active_span. child_of and the active span go to
 * the core as TW_REF_PARENT (a parent, not a reference: jaeger_client lists
 * only references= among a span's references). The core tw_tracer is freed when the
 * Tracer is cleaned up, or later by the last span still holding a core span.
 */
#include "_core.h"
#include "_core_diag.h"

/* ------------------------------------------------------------ tracer */

typedef struct refs_builder {
    tw_span_ref *r;
    size_t n, cap;
    tw_span_ref stack[4];
    PyObject *keep;               /* list of objects kept alive for the call */
} refs_builder;

static int
refs_keep(refs_builder *rb, PyObject *o)
{
    if (o == NULL)
        return 0;
    if (rb->keep == NULL && (rb->keep = PyList_New(0)) == NULL) {
        Py_DECREF(o);
        return -1;
    }
    int rc = PyList_Append(rb->keep, o);
    Py_DECREF(o);
    return rc;
}

static int
refs_add(refs_builder *rb, tw_ref_type type, const tw_span_context *c)
{
    if (c == NULL)
        return 0;
    if (rb->n == rb->cap) {
        size_t cap = rb->cap * 2;
        tw_span_ref *nr = PyMem_Malloc(cap * sizeof *nr);
        if (nr == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(nr, rb->r, rb->n * sizeof *nr);
        if (rb->r != rb->stack)
            PyMem_Free(rb->r);
        rb->r = nr;
        rb->cap = cap;
    }
    rb->r[rb->n].type = type;
    rb->r[rb->n].ctx = c;
    rb->n++;
    return 0;
}

static int
refs_add_reference(modstate *st, refs_builder *rb, PyObject *ref)
{
    /* opentracing.Reference is a namedtuple (type, referenced_context) */
    if (!PyTuple_Check(ref) || PyTuple_GET_SIZE(ref) != 2) {
        PyErr_SetString(PyExc_TypeError, "references must be opentracing.Reference objects");
        return -1;
    }
    PyObject *type = PyTuple_GET_ITEM(ref, 0), *ctx = PyTuple_GET_ITEM(ref, 1);
    int is_child = type == st->ref_child_of
                   || (PyUnicode_Check(type) && PyUnicode_Compare(type, st->ref_child_of) == 0);
    PyObject *keep = NULL;
    const tw_span_context *c = twpy_ctx_of(st, ctx, &keep);
    if (refs_keep(rb, keep) < 0)
        return -1;
    return refs_add(rb, is_child ? TW_REF_CHILD_OF : TW_REF_FOLLOWS_FROM, c);
}

/* The core tracer, or NULL with RuntimeError once it was cleaned up. */
tw_tracer *
twpy_tracer_core(TracerObject *t)
{
    if (t->tracer == NULL || t->scope_manager == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tracer was finalized");
        return NULL;
    }
    return t->tracer;
}

static PyObject *
span_new_from(TracerObject *t, PyObject *const *a)
{
    modstate *st = t->st;
    if (twpy_tracer_core(t) == NULL)
        return NULL;
    PyObject *name = a[0], *child_of = a[1], *references = a[2], *tags = a[3];
    const char *nm = "";
    Py_ssize_t nlen = 0;
    int64_t start_us = 0;
    PyObject *name_tmp = NULL, *result = NULL;
    refs_builder rb = {.r = NULL, .n = 0, .cap = 4, .keep = NULL};
    rb.r = rb.stack;
    tw_span *sp = NULL;

    if (name && name != Py_None) {
        nm = twpy_utf8_of(name, &nlen, &name_tmp);
        if (nm == NULL)
            goto done;
    }
    if (twpy_seconds_to_us(a[4], &start_us) < 0)
        goto done;
    if (child_of && child_of != Py_None) {
        PyObject *keep = NULL;
        const tw_span_context *c = twpy_ctx_of(st, child_of, &keep);
        if (refs_keep(&rb, keep) < 0 || refs_add(&rb, TW_REF_PARENT, c) < 0)
            goto done;
    }
    int have_refs = 0;
    if (references && references != Py_None) {
        if (PyList_CheckExact(references) || (PyTuple_Check(references) && PyTuple_GET_SIZE(references) != 2)
            || (PyTuple_Check(references) && !PyUnicode_Check(PyTuple_GET_ITEM(references, 0)))) {
            PyObject *seq = PySequence_Fast(references, "references must be a list");
            if (seq == NULL)
                goto done;
            Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
            for (Py_ssize_t i = 0; i < n; i++)
                if (refs_add_reference(st, &rb, PySequence_Fast_GET_ITEM(seq, i)) < 0) {
                    Py_DECREF(seq);
                    goto done;
                }
            have_refs = n > 0;
            Py_DECREF(seq);
        } else {
            if (refs_add_reference(st, &rb, references) < 0)  /* a single Reference */
                goto done;
            have_refs = 1;
        }
    }
    if ((child_of == NULL || child_of == Py_None) && !have_refs) {
        int ignore = a[5] ? PyObject_IsTrue(a[5]) : 0;
        if (ignore < 0)
            goto done;
        if (!ignore) {
            PyObject *scope = twpy_manager_active(st, t->scope_manager, t->sm_kind);
            if (scope == NULL && PyErr_Occurred())
                goto done;
            if (scope) {
                PyObject *pspan;
                if (PyObject_TypeCheck(scope, st->scope_base)) {
                    pspan = Py_XNewRef(((ScopeObject *)scope)->span);
                } else {
                    pspan = PyObject_GetAttr(scope, st->s_span);
                    if (pspan == NULL)
                        PyErr_Clear();
                }
                if (refs_keep(&rb, scope) < 0) {
                    Py_XDECREF(pspan);
                    goto done;
                }
                if (pspan) {
                    PyObject *keep = NULL;
                    const tw_span_context *c = twpy_ctx_of(st, pspan, &keep);
                    if (refs_keep(&rb, pspan) < 0 || refs_keep(&rb, keep) < 0
                        || refs_add(&rb, TW_REF_PARENT, c) < 0)
                        goto done;
                }
            }
        }
    }

    tw_status s = tw_span_start(t->tracer, nm, (size_t)nlen, rb.r, rb.n, start_us, &sp);
    if (s == TW_ERR_NOMEM) {
        PyErr_NoMemory();
        goto done;
    }
    if (s != TW_OK)
        sp = NULL;                /* closed tracer: a span that records nothing */
    PyObject *so = twpy_span_wrap(t, sp);
    if (so == NULL)
        goto done;
    if (tags && tags != Py_None && twpy_foreach_pair(tags, twpy_tag_pair, so, st) != 0) {
        Py_DECREF(so);
        goto done;
    }
    result = so;
done:
    Py_XDECREF(name_tmp);
    Py_XDECREF(rb.keep);
    if (rb.r != rb.stack)
        PyMem_Free(rb.r);
    return result;
}

/* start_span(name) and start_active_span(name), the common calls: a str
 * name, the tracer's own thread-local manager, and no active scope or one of
 * ours holding one of our spans. Everything span_new_from would do, without
 * its general argument handling; anything else goes there. The active scope
 * and its span are borrowed: the thread's slot holds the scope, the scope its
 * span, and no Python code runs before the core has copied the parent. */
static PyObject *
span_new_simple(TracerObject *t, PyObject *name)
{
    modstate *st = t->st;
    tw_span_ref ref;
    size_t nref = 0;
    const char *nm;
    size_t nlen;
    if (t->sm_kind != SM_THREAD || t->tracer == NULL || t->scope_manager == NULL
        || !PyUnicode_CheckExact(name)
        || !((ManagerObject *)t->scope_manager)->tls || !twpy_str_fast(name, &nm, &nlen))
        goto general;
    PyObject *scope = twpy_tlsm_get((ManagerObject *)t->scope_manager);
    if (scope != NULL) {
        if (!Py_IS_TYPE(scope, st->scope_type))
            goto general;
        SpanObject *parent = (SpanObject *)((ScopeObject *)scope)->span;
        if (parent == NULL || !Py_IS_TYPE((PyObject *)parent, st->span_type))
            goto general;
        if (parent->span) {
            ref.type = TW_REF_PARENT;     /* the active span: a parent, not a reference */
            ref.ctx = tw_span_get_context(parent->span);
            nref = 1;
        }
    }
    tw_span *sp = NULL;
    tw_status s = tw_span_start(t->tracer, nm, nlen, &ref, nref, 0, &sp);
    if (s == TW_ERR_NOMEM)
        return PyErr_NoMemory();
    if (s != TW_OK)
        sp = NULL;                /* closed tracer: a span that records nothing */
    return twpy_span_wrap(t, sp);
general:;
    PyObject *a[6] = {name, NULL, NULL, NULL, NULL, NULL};
    return span_new_from(t, a);
}

static PyObject *
tracer_start_span(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_OPERATION_NAME, K_CHILD_OF, K_REFERENCES, K_TAGS,
                              K_START_TIME, K_IGNORE_ACTIVE_SPAN};
    TracerObject *t = (TracerObject *)self;
    PyObject *a[6];
    if (kwnames == NULL && nargs == 1)        /* start_span(name) */
        return span_new_simple(t, args[0]);
    if (twpy_parse_args(t->st, "start_span", args, nargs, kwnames, idx, 6, a) < 0)
        return NULL;
    return span_new_from(t, a);
}

static PyObject *
tracer_start_active_span(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const int idx[] = {K_OPERATION_NAME, K_CHILD_OF, K_REFERENCES, K_TAGS,
                              K_START_TIME, K_IGNORE_ACTIVE_SPAN, K_FINISH_ON_CLOSE};
    TracerObject *t = (TracerObject *)self;
    PyObject *a[7];
    int foc = 1;
    PyObject *span;
    if (kwnames == NULL && nargs == 1) {      /* start_active_span(name) */
        span = span_new_simple(t, args[0]);
    } else {
        if (twpy_parse_args(t->st, "start_active_span", args, nargs, kwnames, idx, 7, a) < 0)
            return NULL;
        if (a[6] && (foc = PyObject_IsTrue(a[6])) < 0)
            return NULL;
        span = span_new_from(t, a);
    }
    if (span == NULL)
        return NULL;
    PyObject *scope;
    if (t->sm_kind != SM_FOREIGN)
        scope = twpy_scope_activate(t->st, t->scope_manager, t->sm_kind, span, foc);
    else
        scope = PyObject_CallMethodObjArgs(t->scope_manager, t->st->s_activate, span,
                                           foc ? Py_True : Py_False, NULL);
    Py_DECREF(span);
    return scope;
}

static PyObject *
tracer_get_scope_manager(TracerObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->scope_manager ? self->scope_manager : Py_None);
}

static PyObject *
tracer_get_active_span(TracerObject *self, void *c)
{
    (void)c;
    PyObject *scope = twpy_manager_active(self->st, self->scope_manager, self->sm_kind);
    if (scope == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *span;
    if (PyObject_TypeCheck(scope, self->st->scope_base))
        span = Py_NewRef(((ScopeObject *)scope)->span);
    else
        span = PyObject_GetAttr(scope, self->st->s_span);
    Py_DECREF(scope);
    return span;
}

static PyObject *
tracer_get_service_name(TracerObject *self, void *c)
{
    (void)c;
    const char *n = self->tracer ? tw_tracer_service_name(self->tracer) : NULL;
    return PyUnicode_DecodeUTF8(n ? n : "", n ? (Py_ssize_t)strlen(n) : 0, "replace");
}

static int
timeout_ms_of(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, TracerObject *t,
              const char *fname, double dflt, int *ms)
{
    static const int idx[] = {K_TIMEOUT};
    PyObject *a[1];
    if (twpy_parse_args(t->st, fname, args, nargs, kwnames, idx, 1, a) < 0)
        return -1;
    double sec = dflt;
    if (a[0] && a[0] != Py_None) {
        sec = PyFloat_AsDouble(a[0]);
        if (sec == -1.0 && PyErr_Occurred())
            return -1;
    }
    if (!(sec >= 0))
        sec = 0;
    if (sec > 3600)
        sec = 3600;
    *ms = (int)(sec * 1000 + 0.5);
    return 0;
}

static PyObject *
tracer_flush(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    TracerObject *t = (TracerObject *)self;
    int ms;
    if (timeout_ms_of(args, nargs, kwnames, t, "flush", 5.0, &ms) < 0 || twpy_tracer_core(t) == NULL)
        return NULL;
    tw_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tw_tracer_flush(t->tracer, ms);
    Py_END_ALLOW_THREADS
    /* False also when a send failed or spans were dropped since the last flush */
    if (twpy_diag_failed_since(t->tracer, &t->failures_seen) && (s == TW_OK || s == TW_ERR_TIMEOUT))
        Py_RETURN_FALSE;
    if (s == TW_OK)
        Py_RETURN_TRUE;
    if (s == TW_ERR_TIMEOUT || s == TW_ERR_CLOSED)
        Py_RETURN_FALSE;
    return twpy_raise_status(t->st, s, "flush");
}

static PyObject *
tracer_close(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    TracerObject *t = (TracerObject *)self;
    int ms;
    if (timeout_ms_of(args, nargs, kwnames, t, "close", 2.0, &ms) < 0 || twpy_tracer_core(t) == NULL)
        return NULL;
    tw_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tw_tracer_close(t->tracer, ms);
    Py_END_ALLOW_THREADS
    if (s == TW_OK)
        Py_RETURN_TRUE;
    if (s == TW_ERR_TIMEOUT || s == TW_ERR_CLOSED)
        Py_RETURN_FALSE;
    return twpy_raise_status(t->st, s, "close");
}

static PyObject *
tracer_metrics(PyObject *self, PyObject *unused)
{
    (void)unused;
    TracerObject *t = (TracerObject *)self;
    tw_counters c;
    memset(&c, 0, sizeof c);
    if (twpy_tracer_core(t) == NULL)
        return NULL;
    tw_tracer_counters(t->tracer, &c);
    /* every counter the core names (tw_counters_at): a new one needs no edit here */
    PyObject *d = PyDict_New();
    const char *name;
    uint64_t v;
    for (size_t i = 0; d && tw_counters_at(&c, i, &name, &v); i++) {
        PyObject *n = PyLong_FromUnsignedLongLong((unsigned long long)v);
        if (n == NULL || PyDict_SetItemString(d, name, n) < 0)
            Py_CLEAR(d);
        Py_XDECREF(n);
    }
    return d;
}

static PyObject *
tracer_memory_spans(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_CLEAR};
    TracerObject *t = (TracerObject *)self;
    PyObject *a[1];
    if (twpy_parse_args(t->st, "memory_spans", args, nargs, kwnames, idx, 1, a) < 0)
        return NULL;
    int clear = a[0] ? PyObject_IsTrue(a[0]) : 0;
    if (clear < 0 || twpy_tracer_core(t) == NULL)
        return NULL;
    char *json = NULL;
    tw_status s = tw_tracer_memory_spans(t->tracer, clear, &json);
    if (s != TW_OK)
        return twpy_raise_status(t->st, s, "memory_spans");
    PyObject *text = PyUnicode_DecodeUTF8(json, (Py_ssize_t)strlen(json), "replace");
    tw_free(json);
    if (text == NULL)
        return NULL;
    PyObject *r = PyObject_CallOneArg(t->st->json_loads, text);
    Py_DECREF(text);
    return r;
}

/* Options are collected as str pairs; the environment is read under the
 * profile they name (tw_config_from_env_for), then they are applied by one
 * tw_config_set_many: in the core key table's order, all or nothing. A
 * malformed variable is a RuntimeWarning naming it. */
typedef struct config_pairs {
    PyObject *keys, *vals;    /* lists of str */
} config_pairs;

static int
config_pair(void *ud, PyObject *k, PyObject *v)
{
    config_pairs *cp = ud;
    if (!PyUnicode_Check(k)) {
        PyErr_SetString(PyExc_TypeError, "config keys must be str");
        return -1;
    }
    PyObject *vs = PyUnicode_Check(v) ? Py_NewRef(v) : PyObject_Str(v);
    if (vs == NULL)
        return -1;
    int rc = (PyList_Append(cp->keys, k) == 0 && PyList_Append(cp->vals, vs) == 0) ? 0 : -1;
    Py_DECREF(vs);
    return rc;
}

static int
config_apply(tw_config *cfg, PyObject *options, modstate *st)
{
    config_pairs cp = {PyList_New(0), PyList_New(0)};
    const char **kv = NULL;
    int rc = -1;
    if (cp.keys == NULL || cp.vals == NULL)
        goto done;
    if (options && options != Py_None && twpy_foreach_pair(options, config_pair, &cp, st) != 0)
        goto done;
    Py_ssize_t n = PyList_GET_SIZE(cp.keys);
    kv = PyMem_Malloc((size_t)(2 * n + 1) * sizeof *kv);
    if (kv == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(cp.keys, i), *v = PyList_GET_ITEM(cp.vals, i);
        Py_ssize_t kl = 0, vl = 0;
        kv[i] = PyUnicode_AsUTF8AndSize(k, &kl);
        kv[n + i] = kv[i] ? PyUnicode_AsUTF8AndSize(v, &vl) : NULL;
        if (kv[n + i] == NULL)
            goto done;
        /* the config takes C strings: a NUL inside would silently cut the value */
        if (strlen(kv[i]) != (size_t)kl || strlen(kv[n + i]) != (size_t)vl) {
            PyErr_Format(PyExc_ValueError, "tracewire option %R: keys and values must not contain NUL", k);
            goto done;
        }
    }
    const char *badvar = NULL;
    tw_status s = tw_config_from_env_for(cfg, (size_t)n, kv, kv + n, &badvar);
    if (s == TW_ERR_NOMEM) {
        PyErr_NoMemory();
        goto done;
    }
    if (s != TW_OK && badvar != NULL &&
        PyErr_WarnFormat(PyExc_RuntimeWarning, 1,
                         "tracewire: ignoring malformed environment variable %s", badvar) < 0)
        goto done;
    size_t bad = 0;
    s = tw_config_set_many(cfg, (size_t)n, kv, kv + n, &bad);
    if (s == TW_OK)
        rc = 0;
    else if (s == TW_ERR_UNSUPPORTED)
        PyErr_Format(PyExc_ValueError, "unknown tracewire option %R", PyList_GET_ITEM(cp.keys, bad));
    else if (s == TW_ERR_NOMEM)
        PyErr_NoMemory();
    else
        PyErr_Format(PyExc_ValueError, "bad value %R for option %R: %s", PyList_GET_ITEM(cp.vals, bad),
                     PyList_GET_ITEM(cp.keys, bad), tw_strerror(s));
done:
    PyMem_Free(kv);
    Py_XDECREF(cp.keys);
    Py_XDECREF(cp.vals);
    return rc;
}

static PyObject *
tracer_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"options", "scope_manager", NULL};
    PyObject *options = NULL, *sm = NULL;
    TracerObject *t = NULL;
    tw_config *cfg = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:Tracer", kwlist, &options, &sm))
        return NULL;
    t = (TracerObject *)tp->tp_alloc(tp, 0);
    if (t == NULL)
        return NULL;
    PyObject *m = PyType_GetModuleByDef(tp, &twpy_core_module);
    if (m == NULL)
        goto fail;
    t->module = Py_NewRef(m);
    t->st = PyModule_GetState(m);
    tw_status s = tw_config_new(&cfg);
    if (s != TW_OK) {
        twpy_raise_status(t->st, s, "config");
        goto fail;
    }
    if (config_apply(cfg, options, t->st) != 0)
        goto fail;
    twpy_diag_attach(cfg);   /* failures speak through logging "jaeger_tracing" */
    s = tw_tracer_new(cfg, &t->tracer);
    if (s != TW_OK) {
        twpy_raise_status(t->st, s, "Tracer");
        goto fail;
    }
    tw_config_free(cfg);
    cfg = NULL;
    {
        char prof[32], inj[64];
        if (tw_tracer_config_get(t->tracer, "profile", prof, sizeof prof) == TW_OK &&
            strcmp(prof, "jaeger_client") == 0 &&
            tw_tracer_config_get(t->tracer, "propagation.inject", inj, sizeof inj) == TW_OK &&
            strcmp(inj, "b3multi") == 0)
            t->text_map_formats = TW_PROP_JAEGER;
    }
    if (sm == NULL || sm == Py_None) {
        sm = PyObject_CallNoArgs((PyObject *)t->st->tlsm_type);
        if (sm == NULL)
            goto fail;
        t->scope_manager = sm;
    } else {
        if (twpy_manager_kind(t->st, sm) == SM_FOREIGN
            && (!PyObject_HasAttr(sm, t->st->s_activate) || !PyObject_HasAttr(sm, t->st->s_active))) {
            PyErr_Format(PyExc_TypeError, "scope_manager must be an opentracing ScopeManager, not %.100s",
                         Py_TYPE(sm)->tp_name);
            goto fail;
        }
        t->scope_manager = Py_NewRef(sm);
    }
    t->sm_kind = twpy_manager_kind(t->st, t->scope_manager);
    return (PyObject *)t;
fail:
    tw_config_free(cfg);
    Py_XDECREF(t);
    return NULL;
}

static int
tracer_init(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self; (void)args; (void)kw;
    return 0;
}

static int
tracer_visit(TracerObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->scope_manager);
    Py_VISIT(self->module);
    return 0;
}

void
twpy_tracer_release_core(TracerObject *t)
{
    tw_tracer *tt = t->tracer;
    t->tracer = NULL;
    t->free_pending = 0;
    if (tt) {
        Py_BEGIN_ALLOW_THREADS
        tw_tracer_free(tt);
        Py_END_ALLOW_THREADS
    }
}

/* The core tracer is freed now, or by the last span's cleanup when spans
 * still hold core spans (possible when a GC cycle finalizes the tracer first). */
static void
tracer_cleanup(TracerObject *self)
{
    Py_CLEAR(self->scope_manager);
    Py_CLEAR(self->module);
    if (self->live_spans == 0)
        twpy_tracer_release_core(self);
    else
        self->free_pending = 1;
}

/* tracer.config(key) -> the effective option as text (the core's
 * tw_config_get on the tracer's copy); ValueError for an unknown key. */
static PyObject *
tracer_config(TracerObject *self, PyObject *key)
{
    char buf[1024];
    Py_ssize_t kl;
    if (!PyUnicode_Check(key))
        return PyErr_Format(PyExc_TypeError, "config key must be str, not %.100s", Py_TYPE(key)->tp_name);
    const char *k = PyUnicode_AsUTF8AndSize(key, &kl);
    if (k == NULL)
        return NULL;
    if (self->tracer == NULL)
        return PyErr_Format(PyExc_ValueError, "tracer not initialised");
    tw_status s = strlen(k) != (size_t)kl ? TW_ERR_UNSUPPORTED
                                          : tw_tracer_config_get(self->tracer, k, buf, sizeof buf);
    if (s == TW_ERR_UNSUPPORTED)
        return PyErr_Format(PyExc_ValueError, "unknown tracewire option %R", key);
    if (s == TW_ERR_NOT_FOUND)
        Py_RETURN_NONE;          /* accepted and not acted on: no value */
    if (s != TW_OK)
        return PyErr_Format(PyExc_ValueError, "option %R: %s", key, tw_strerror(s));
    return PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
}

GC_FUNCS(tracer, TracerObject)

static PyMethodDef tracer_methods[] = {
    {"config", (PyCFunction)tracer_config, METH_O,
     "config(key) -> str: the effective core option (tracewire.h keys and their aliases)"},
    {"start_span", (PyCFunction)(void (*)(void))tracer_start_span, METH_FASTCALL | METH_KEYWORDS,
     "start_span(operation_name=None, child_of=None, references=None, tags=None, "
     "start_time=None, ignore_active_span=False) -> Span"},
    {"start_active_span", (PyCFunction)(void (*)(void))tracer_start_active_span,
     METH_FASTCALL | METH_KEYWORDS,
     "start_active_span(operation_name, child_of=None, references=None, tags=None, "
     "start_time=None, ignore_active_span=False, finish_on_close=True) -> Scope"},
    {"inject", (PyCFunction)(void (*)(void))twpy_tracer_inject, METH_FASTCALL | METH_KEYWORDS,
     "inject(span_context, format, carrier): span_context may also be a Span"},
    {"extract", (PyCFunction)(void (*)(void))twpy_tracer_extract, METH_FASTCALL | METH_KEYWORDS,
     "extract(format, carrier) -> SpanContext or None"},
    {"flush", (PyCFunction)(void (*)(void))tracer_flush, METH_FASTCALL | METH_KEYWORDS,
     "flush(timeout=5.0) -> bool: delivers queued spans (False at the timeout)"},
    {"close", (PyCFunction)(void (*)(void))tracer_close, METH_FASTCALL | METH_KEYWORDS,
     "close(timeout=2.0) -> bool: flushes and stops reporting"},
    {"metrics", tracer_metrics, METH_NOARGS, "metrics() -> dict of the core counters"},
    {"counters", tracer_metrics, METH_NOARGS, "counters() -> dict (same as metrics())"},
    {"memory_spans", (PyCFunction)(void (*)(void))tracer_memory_spans,
     METH_FASTCALL | METH_KEYWORDS,
     "memory_spans(clear=False) -> list of dicts (reporter protocol 'memory' only)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef tracer_getset[] = {
    {"scope_manager", (getter)tracer_get_scope_manager, NULL, "the ScopeManager in use", NULL},
    {"active_span", (getter)tracer_get_active_span, NULL, "the active Span or None", NULL},
    {"service_name", (getter)tracer_get_service_name, NULL, "the service name", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot tracer_slots[] = {
    {Py_tp_new, tracer_new},
    {Py_tp_init, tracer_init},
    GC_SLOTS(tracer)
    {Py_tp_methods, tracer_methods},
    {Py_tp_getset, tracer_getset},
    {Py_tp_doc, "Tracer(options=None, scope_manager=None): a tracewire tracer (an "
                "opentracing.Tracer). options: core config keys (see tracewire.h) as a dict "
                "or pairs, applied after the environment. Use tracewire.Config for "
                "jaeger_client-style configuration."},
    {0, NULL},
};

PyType_Spec twpy_tracer_spec = {
    .name = "tracewire.Tracer",
    .basicsize = sizeof(TracerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = tracer_slots,
};
