/* _core_scope.c — Scope and the two scope managers.
 *
 * The thread-local manager keeps the active scope (owned reference) in a
 * static TLS slot of this module (TWPY_TLS_SLOTS managers at once), else
 * under a Py_tss key per manager, else in the thread-state dict; the
 * contextvars manager in a ContextVar. A scope remembers the one active
 * before it and restores it on close; closing finishes the span when asked,
 * through span.finish as an attribute (the opentracing harness patches it)
 * unless the span cannot have been patched. Spans and scopes are context
 * managers through our own __enter__/__exit__ descriptors (end of file),
 * whose bound objects are pooled.
 */
#include "_core.h"
#include <stdatomic.h>

__thread twpy_tls_slot twpy_tls_active[TWPY_TLS_SLOTS];
static _Atomic unsigned tls_slots_used;      /* bit i: slot i has an owner */
static _Atomic uint64_t tls_next_owner = 1;  /* never reused: a freed owner's values stay stale */

/* ------------------------------------------------------------ scope managers */

/* New reference to the active scope, or NULL (none, or error if set). */
PyObject *
twpy_manager_active(modstate *st, PyObject *mgr, int kind)
{
    if (mgr == NULL)
        return NULL;
    if (kind == SM_THREAD) {
        ManagerObject *mo = (ManagerObject *)mgr;
        if (mo->tls)
            return Py_XNewRef(twpy_tlsm_get(mo));
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
        if (mo->tls) {
            PyObject *old = twpy_tlsm_get(mo);
            Py_XINCREF(scope);
            if (twpy_tlsm_set(mo, scope) != 0) {
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
    if (kind == SM_THREAD && ((ManagerObject *)mgr)->tls) {
        /* one read and one write of the thread's slot: its reference to the
         * scope active so far moves to sc->prev, and it takes one to sc */
        ManagerObject *mo = (ManagerObject *)mgr;
        PyObject *prev = twpy_tlsm_get(mo);
        if (twpy_tlsm_set(mo, (PyObject *)sc) != 0) {
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
        /* a static TLS slot; else a pthread key per manager; if keys run
         * out, the thread-state dict */
        Py_tss_t init = Py_tss_NEEDS_INIT;
        m->key = init;
        unsigned used = atomic_load(&tls_slots_used);
        for (int i = 0; i < TWPY_TLS_SLOTS; i++) {
            if (used & (1u << i))
                continue;
            if (atomic_compare_exchange_strong(&tls_slots_used, &used, used | (1u << i))) {
                m->tls = TLS_SLOT;
                m->slot = i;
                m->owner = atomic_fetch_add(&tls_next_owner, 1);
                break;
            }
            i = -1;               /* used was reloaded: look again */
        }
        if (m->tls == TLS_NONE && PyThread_tss_create(&m->key) == 0)
            m->tls = TLS_KEY;
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
    if (self->tls) {
        PyObject *cur = twpy_tlsm_get(self);
        (void)twpy_tlsm_set(self, NULL);
        if (self->tls == TLS_SLOT)
            atomic_fetch_and(&tls_slots_used, ~(1u << self->slot));
        else
            PyThread_tss_delete(&self->key);
        self->tls = TLS_NONE;
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
    if (kind == SM_THREAD && ((ManagerObject *)sc->manager)->tls) {
        /* the mirror of twpy_scope_activate: sc->prev's reference moves to
         * the key, the key's reference to sc is dropped (our caller holds
         * another) */
        ManagerObject *mo = (ManagerObject *)sc->manager;
        if (twpy_tlsm_get(mo) != (PyObject *)sc)
            return 0;             /* only the active scope closes (opentracing) */
        if (twpy_tlsm_set(mo, sc->prev) != 0) {
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

PyObject *
twpy_scope_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
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

/* ------------------------------------------------------------ __enter__ / __exit__ */

/* A descriptor on the type; binding it to an object makes a CMBound. */
typedef struct CMDesc {
    PyObject_HEAD
    PyTypeObject *owner;          /* borrowed: the type holds us */
    twpy_exit_fn exit_fn;         /* NULL: __enter__ */
    twpy_enter_fn enter_fn;       /* __enter__'s own body; NULL: returns self */
    twpy_bind_fn bind_fn;         /* the type binds itself (no CMBound); NULL: pool */
    modstate *st;
    const char *name;
} CMDesc;

/* obj.__enter__ / obj.__exit__, called through vectorcall; a GC object
 * (obj may hold it in its __dict__), reused from st->bound_pool. */
typedef struct CMBound {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *self;
    twpy_exit_fn exit_fn;
    twpy_enter_fn enter_fn;
    modstate *st;
} CMBound;

static PyObject *
cm_invoke(PyObject *self, twpy_exit_fn fn, twpy_enter_fn enter, PyObject *const *args,
          Py_ssize_t nargs, PyObject *kwnames)
{
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments",
                     fn ? "__exit__" : "__enter__");
        return NULL;
    }
    if (fn)
        return fn(self, args, nargs);
    if (nargs != 0) {
        PyErr_SetString(PyExc_TypeError, "__enter__() takes no arguments");
        return NULL;
    }
    return enter ? enter(self) : Py_NewRef(self);
}

static PyObject *
cm_bound_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CMBound *b = (CMBound *)callable;
    return cm_invoke(b->self, b->exit_fn, b->enter_fn, args, PyVectorcall_NARGS(nargsf), kwnames);
}

static int
cm_bound_traverse(CMBound *b, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(b));
    Py_VISIT(b->self);
    return 0;
}

static int
cm_bound_clear(CMBound *b)
{
    Py_CLEAR(b->self);
    return 0;
}

/* As GC_FUNCS_POOLED_LAYOUT: back to the pool while its type is the module's. */
static void
cm_bound_dealloc(CMBound *b)
{
    PyTypeObject *tp = Py_TYPE(b);
    modstate *st = b->st;
    PyObject *self = b->self;
    PyObject_GC_UnTrack(b);
    b->self = NULL;
    if (st && tp == st->cm_bound_type && st->bound_pooled < TWPY_POOL_MAX)
        st->bound_pool[st->bound_pooled++] = (PyObject *)b;
    else
        tp->tp_free(b);
    Py_DECREF(tp);
    Py_XDECREF(self);
}

static PyObject *
cm_bound_repr(CMBound *b)
{
    return PyUnicode_FromFormat("<bound method %s of %R>", b->exit_fn ? "__exit__" : "__enter__",
                                b->self ? b->self : Py_None);
}

static PyMemberDef cm_bound_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(CMBound, vectorcall), READONLY, NULL},
    {"__self__", T_OBJECT, offsetof(CMBound, self), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot cm_bound_slots[] = {
    {Py_tp_dealloc, cm_bound_dealloc},
    {Py_tp_traverse, cm_bound_traverse},
    {Py_tp_clear, cm_bound_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_repr, cm_bound_repr},
    {Py_tp_members, cm_bound_members},
    {0, NULL},
};

PyType_Spec twpy_cm_bound_spec = {
    .name = "tracewire._BoundContextMethod",
    .basicsize = sizeof(CMBound),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = cm_bound_slots,
};

static PyObject *
cm_desc_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    CMDesc *d = (CMDesc *)self;
    if (obj == NULL || obj == Py_None)
        return Py_NewRef(self);
    if (!PyObject_TypeCheck(obj, d->owner)) {
        PyErr_Format(PyExc_TypeError, "%s of '%s' objects does not apply to a '%.100s' object",
                     d->name, d->owner->tp_name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (d->bind_fn)
        return d->bind_fn(obj, d->exit_fn != NULL);
    modstate *st = d->st;
    CMBound *b = (CMBound *)twpy_pool_take(st->cm_bound_type, st->bound_pool, &st->bound_pooled);
    if (b == NULL)
        return NULL;
    b->vectorcall = cm_bound_vectorcall;
    b->self = Py_NewRef(obj);
    b->exit_fn = d->exit_fn;
    b->enter_fn = d->enter_fn;
    b->st = st;
    return (PyObject *)b;
}

/* Type.__exit__(obj, et, ev, tb): the unbound call */
static PyObject *
cm_desc_call(PyObject *self, PyObject *args, PyObject *kw)
{
    CMDesc *d = (CMDesc *)self;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1 || !PyObject_TypeCheck(PyTuple_GET_ITEM(args, 0), d->owner)) {
        PyErr_Format(PyExc_TypeError, "%s needs a '%s' object", d->name, d->owner->tp_name);
        return NULL;
    }
    if (kw != NULL && PyDict_GET_SIZE(kw) > 0) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", d->name);
        return NULL;
    }
    return cm_invoke(PyTuple_GET_ITEM(args, 0), d->exit_fn, d->enter_fn, &PyTuple_GET_ITEM(args, 1),
                     n - 1, NULL);
}

static void
cm_desc_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot cm_desc_slots[] = {
    {Py_tp_dealloc, cm_desc_dealloc},
    {Py_tp_descr_get, cm_desc_get},
    {Py_tp_call, cm_desc_call},
    {Py_tp_doc, "__enter__ / __exit__ of a tracewire Span or Scope"},
    {0, NULL},
};

PyType_Spec twpy_cm_desc_spec = {
    .name = "tracewire._ContextMethod",
    .basicsize = sizeof(CMDesc),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = cm_desc_slots,
};

int
twpy_cm_install(modstate *st, PyTypeObject *tp, twpy_exit_fn exit_fn)
{
    return twpy_cm_install_enter(st, tp, NULL, exit_fn);
}

int
twpy_cm_install_enter(modstate *st, PyTypeObject *tp, twpy_enter_fn enter_fn,
                      twpy_exit_fn exit_fn)
{
    return twpy_cm_install_bind(st, tp, enter_fn, exit_fn, NULL);
}

int
twpy_cm_install_bind(modstate *st, PyTypeObject *tp, twpy_enter_fn enter_fn,
                     twpy_exit_fn exit_fn, twpy_bind_fn bind_fn)
{
    for (int i = 0; i < 2; i++) {
        CMDesc *d = PyObject_New(CMDesc, st->cm_desc_type);
        if (d == NULL)
            return -1;
        d->owner = tp;
        d->exit_fn = i ? exit_fn : NULL;
        d->enter_fn = i ? NULL : enter_fn;
        d->bind_fn = bind_fn;
        d->st = st;
        d->name = i ? "__exit__" : "__enter__";
        int rc = PyObject_SetAttrString((PyObject *)tp, d->name, (PyObject *)d);
        Py_DECREF(d);
        if (rc < 0)
            return -1;
    }
    return 0;
}
