/* _core_scope.c — Scope and the two scope managers.
 *
 * The thread-local manager keeps the active scope under a Py_tss key per
 * manager (owned reference; the thread-state dict when no key could be
 * made), the contextvars manager in a ContextVar. A scope remembers the one
 * active before it and restores it on close; closing finishes the span when
 * asked, through span.finish as an attribute (the opentracing harness
 * patches it) unless the span cannot have been patched.
 */
#include "_core.h"

/* ------------------------------------------------------------ scope managers */

/* New reference to the active scope, or NULL (none, or error if set). */
PyObject *
twpy_manager_active(modstate *st, PyObject *mgr, int kind)
{
    if (mgr == NULL)
        return NULL;
    if (kind == SM_THREAD) {
        ManagerObject *mo = (ManagerObject *)mgr;
        if (mo->has_key)
            return Py_XNewRef((PyObject *)PyThread_tss_get(&mo->key));
        PyObject *d = PyThreadState_GetDict();
        if (d == NULL)
            return NULL;
        PyObject *v = PyDict_GetItemWithError(d, mgr);
        return Py_XNewRef(v);
    }
    if (kind == SM_CONTEXTVARS) {
        PyObject *v = NULL;
        if (((ManagerObject *)mgr)->var == NULL)
            return NULL;
        if (PyContextVar_Get(((ManagerObject *)mgr)->var, NULL, &v) < 0)
            return NULL;
        if (v == Py_None) {
            Py_DECREF(v);
            return NULL;
        }
        return v;
    }
    PyObject *v = PyObject_GetAttr(mgr, st->s_active);
    if (v == Py_None) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

/* Makes scope (or nothing, when scope is NULL) the active one. */
static int
manager_set_active(PyObject *mgr, int kind, PyObject *scope)
{
    if (kind == SM_THREAD) {
        ManagerObject *mo = (ManagerObject *)mgr;
        if (mo->has_key) {
            PyObject *old = PyThread_tss_get(&mo->key);
            Py_XINCREF(scope);
            if (PyThread_tss_set(&mo->key, scope) != 0) {
                Py_XDECREF(scope);
                PyErr_SetString(PyExc_RuntimeError, "thread-specific storage failed");
                return -1;
            }
            Py_XDECREF(old);
            return 0;
        }
        PyObject *d = PyThreadState_GetDict();
        if (d == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "no thread state dict");
            return -1;
        }
        if (scope)
            return PyDict_SetItem(d, mgr, scope);
        if (PyDict_DelItem(d, mgr) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError))
                return -1;
            PyErr_Clear();
        }
        return 0;
    }
    if (((ManagerObject *)mgr)->var == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scope manager was finalized");
        return -1;
    }
    PyObject *tok = PyContextVar_Set(((ManagerObject *)mgr)->var, scope ? scope : Py_None);
    if (tok == NULL)
        return -1;
    Py_DECREF(tok);
    return 0;
}

int
twpy_manager_kind(modstate *st, PyObject *mgr)
{
    if (PyObject_TypeCheck(mgr, st->tlsm_base))
        return SM_THREAD;
    if (PyObject_TypeCheck(mgr, st->cvsm_base))
        return SM_CONTEXTVARS;
    return SM_FOREIGN;
}

PyObject *
twpy_scope_activate(modstate *st, PyObject *mgr, int kind, PyObject *span, int finish_on_close)
{
    ScopeObject *sc = (ScopeObject *)twpy_pool_take(st->scope_type, st->scope_pool,
                                                    &st->scope_pooled);
    if (sc == NULL)
        return NULL;
    sc->st = st;
    sc->kind = kind;
    sc->manager = Py_NewRef(mgr);
    sc->span = Py_NewRef(span);
    sc->finish_on_close = finish_on_close;
    if (kind == SM_THREAD && ((ManagerObject *)mgr)->has_key) {
        /* one read and one write of the key: its reference to the scope
         * active so far moves to sc->prev, and it takes one to sc */
        Py_tss_t *key = &((ManagerObject *)mgr)->key;
        PyObject *prev = PyThread_tss_get(key);
        if (PyThread_tss_set(key, sc) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "thread-specific storage failed");
            goto fail;
        }
        sc->prev = prev;
        Py_INCREF(sc);
        return (PyObject *)sc;
    }
    sc->prev = twpy_manager_active(st, mgr, kind);
    if (sc->prev == NULL && PyErr_Occurred())
        goto fail;
    if (manager_set_active(mgr, kind, (PyObject *)sc) < 0)
        goto fail;
    return (PyObject *)sc;
fail:
    Py_DECREF(sc);
    return NULL;
}

static PyObject *
mgr_activate(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_SPAN, K_FINISH_ON_CLOSE};
    modstate *st = state_of(self);
    PyObject *a[2];
    if (st == NULL || twpy_parse_args(st, "activate", args, nargs, kwnames, idx, 2, a) < 0)
        return NULL;
    if (a[0] == NULL || a[1] == NULL) {
        PyErr_SetString(PyExc_TypeError, "activate() needs span and finish_on_close");
        return NULL;
    }
    int foc = PyObject_IsTrue(a[1]);
    if (foc < 0)
        return NULL;
    return twpy_scope_activate(st, self, twpy_manager_kind(st, self), a[0], foc);
}

static PyObject *
mgr_get_active(PyObject *self, void *c)
{
    (void)c;
    modstate *st = state_of(self);
    if (st == NULL)
        return NULL;
    PyObject *v = twpy_manager_active(st, self, twpy_manager_kind(st, self));
    if (v == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;
    return v;
}

static PyObject *
mgr_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    (void)args; (void)kw;
    ManagerObject *m = (ManagerObject *)tp->tp_alloc(tp, 0);
    if (m == NULL)
        return NULL;
    modstate *st = state_of((PyObject *)m);
    if (st == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyObject_TypeCheck(m, st->cvsm_base)) {
        m->var = PyContextVar_New("tracewire_active_scope", NULL);
        if (m->var == NULL) {
            Py_DECREF(m);
            return NULL;
        }
    } else {
        /* a pthread key per manager; if keys run out, the thread-state dict */
        Py_tss_t init = Py_tss_NEEDS_INIT;
        m->key = init;
        m->has_key = PyThread_tss_create(&m->key) == 0;
    }
    return (PyObject *)m;
}

static int
mgr_init(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self; (void)args; (void)kw;
    return 0;
}

static int
mgr_visit(ManagerObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->var);
    return 0;
}

/* A thread-local manager's key is deleted with it; scopes still active in
 * other threads at that point stay referenced (leaked), as with any
 * thread-local storage whose owner goes away first. */
static void
mgr_cleanup(ManagerObject *self)
{
    Py_CLEAR(self->var);
    if (self->has_key) {
        PyObject *cur = PyThread_tss_get(&self->key);
        (void)PyThread_tss_set(&self->key, NULL);
        self->has_key = 0;
        PyThread_tss_delete(&self->key);
        Py_XDECREF(cur);
    }
}

GC_FUNCS(mgr, ManagerObject)

static PyMethodDef mgr_methods[] = {
    {"activate", (PyCFunction)(void (*)(void))mgr_activate, METH_FASTCALL | METH_KEYWORDS,
     "activate(span, finish_on_close) -> Scope: makes span the active one."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef mgr_getset[] = {
    {"active", (getter)mgr_get_active, NULL, "the active Scope or None", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot tlsm_slots[] = {
    {Py_tp_new, mgr_new},
    {Py_tp_init, mgr_init},
    GC_SLOTS(mgr)
    {Py_tp_methods, mgr_methods},
    {Py_tp_getset, mgr_getset},
    {Py_tp_doc, "Scope manager keeping the active scope per thread (the default)."},
    {0, NULL},
};

PyType_Spec twpy_tlsm_spec = {
    .name = "tracewire.ThreadLocalScopeManager",
    .basicsize = sizeof(ManagerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = tlsm_slots,
};

static PyType_Slot cvsm_slots[] = {
    {Py_tp_new, mgr_new},
    {Py_tp_init, mgr_init},
    GC_SLOTS(mgr)
    {Py_tp_methods, mgr_methods},
    {Py_tp_getset, mgr_getset},
    {Py_tp_doc, "Scope manager keeping the active scope in a ContextVar (asyncio)."},
    {0, NULL},
};

PyType_Spec twpy_cvsm_spec = {
    .name = "tracewire.ContextVarsScopeManager",
    .basicsize = sizeof(ManagerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = cvsm_slots,
};
/* ------------------------------------------------------------ scopes */

static int
scope_close_impl(modstate *st, ScopeObject *sc)
{
    if (sc->closed || sc->manager == NULL)
        return 0;
    int kind = sc->kind;
    if (kind == SM_THREAD && ((ManagerObject *)sc->manager)->has_key) {
        /* the mirror of twpy_scope_activate: sc->prev's reference moves to
         * the key, the key's reference to sc is dropped (our caller holds
         * another) */
        Py_tss_t *key = &((ManagerObject *)sc->manager)->key;
        if (PyThread_tss_get(key) != (PyObject *)sc)
            return 0;             /* only the active scope closes (opentracing) */
        if (PyThread_tss_set(key, sc->prev) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "thread-specific storage failed");
            return -1;
        }
        sc->closed = 1;
        sc->prev = NULL;
        Py_DECREF(sc);
        if (sc->finish_on_close && sc->span && twpy_call_finish(st, sc->span) < 0)
            return -1;
        return 0;
    }
    PyObject *cur = twpy_manager_active(st, sc->manager, kind);
    if (cur == NULL && PyErr_Occurred())
        return -1;
    Py_XDECREF(cur);
    if (cur != (PyObject *)sc)      /* only the active scope closes (opentracing) */
        return 0;
    sc->closed = 1;
    if (manager_set_active(sc->manager, kind, sc->prev) < 0)
        return -1;
    Py_CLEAR(sc->prev);
    if (sc->finish_on_close && sc->span && twpy_call_finish(st, sc->span) < 0)
        return -1;
    return 0;
}

static PyObject *
scope_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    modstate *st = ((ScopeObject *)self)->st;
    if (st == NULL || scope_close_impl(st, (ScopeObject *)self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
scope_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *
scope_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    modstate *st = ((ScopeObject *)self)->st;
    if (st == NULL)
        return NULL;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "__exit__ takes 3 arguments");
        return NULL;
    }
    ScopeObject *sc = (ScopeObject *)self;
    if (sc->span && twpy_record_error(st, sc->span, args[0], args[1], args[2]) < 0)
        return NULL;
    if (scope_close_impl(st, sc) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *
scope_get_manager(ScopeObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->manager ? self->manager : Py_None);
}

static int
scope_init(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self; (void)args; (void)kw;
    return 0;
}

static int
scope_visit(ScopeObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->manager);
    Py_VISIT(self->span);
    Py_VISIT(self->prev);
    return 0;
}

static void
scope_cleanup(ScopeObject *self)
{
    Py_CLEAR(self->manager);
    Py_CLEAR(self->span);
    Py_CLEAR(self->prev);
}

static inline modstate *
scope_state(ScopeObject *self)
{
    return self->st;
}

GC_FUNCS_POOLED(scope, ScopeObject, scope)

static PyMethodDef scope_methods[] = {
    {"close", scope_close, METH_NOARGS,
     "Deactivates the scope (only the active one) and finishes the span if asked."},
    {"__enter__", scope_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))scope_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

/* span is a slot-style member so `scope.span` gets the interpreter's
 * specialized attribute load; AttributeError once the scope was cleaned up. */
static PyMemberDef scope_members[] = {
    COMMON_MEMBERS
    {"span", T_OBJECT_EX, offsetof(ScopeObject, span), READONLY, "the Span of this scope"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef scope_getset[] = {
    {"manager", (getter)scope_get_manager, NULL, "the ScopeManager that made it", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot scope_slots[] = {
    GC_SLOTS_NOMEMBERS(scope)
    {Py_tp_members, scope_members},
    {Py_tp_methods, scope_methods},
    {Py_tp_getset, scope_getset},
    {Py_tp_init, scope_init},
    {Py_tp_doc, "A tracewire scope (an opentracing.Scope); made by ScopeManager.activate."},
    {0, NULL},
};

PyType_Spec twpy_scope_spec = {
    .name = "tracewire.Scope",
    .basicsize = sizeof(ScopeObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = scope_slots,
};
