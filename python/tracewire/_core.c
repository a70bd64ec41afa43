/* _core.c — the CPython face of tracewire: translation only.
 *
 * Every type here is a heap type (PyType_FromModuleAndSpec) holding a pointer
 * into the C core; the module keeps its state (types, interned names,
 * opentracing classes) in module state, never in C globals. The opentracing
 * class hierarchy is honoured by making each C type a subclass of the matching
 * opentracing class (on CPython 3.11 directly, bases=(opentracing.X,), keeping
 * the instance __dict__ the opentracing harness patches; elsewhere through a
 * Python-level class (CType, opentracing.X)): isinstance holds and method
 * calls land straight on the C implementation, with the interpreter's
 * specialized loads and calls, so there is no Python wrapper on the hot path.
 *
 * Hot calls (start_span, set_tag, finish, activate, close) use METH_FASTCALL
 * with a tiny keyword matcher over interned names. Nothing here decides
 * sampling, parses headers or encodes spans: the core does, and its tw_status
 * is mapped to Python exceptions in one table (raise_status).
 *
 * Lifetimes: a Span holds a strong reference to its Tracer (the core requires
 * every span freed before its tracer); a SpanContext taken from a span holds
 * the span (the context pointer is borrowed from it); an extracted context
 * owns its tw_span_context. The GIL is released only around flush/close and
 * tracer teardown, whose core calls touch no span. The thread-local scope
 * manager keeps the active scope under a pthread key per manager (owned
 * reference), the contextvars one in a ContextVar.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <string.h>

#include "tracewire.h"

/* ------------------------------------------------------------ module state */

enum { K_OPERATION_NAME, K_CHILD_OF, K_REFERENCES, K_TAGS, K_START_TIME,
       K_IGNORE_ACTIVE_SPAN, K_FINISH_ON_CLOSE, K_SPAN_CONTEXT, K_FORMAT, K_CARRIER,
       K_FINISH_TIME, K_KEY_VALUES, K_TIMESTAMP, K_SPAN, K_TIMEOUT, K_OPTIONS,
       K_SCOPE_MANAGER, K_CLEAR, K_COUNT };

static const char *const kw_text[K_COUNT] = {
    "operation_name", "child_of", "references", "tags", "start_time",
    "ignore_active_span", "finish_on_close", "span_context", "format", "carrier",
    "finish_time", "key_values", "timestamp", "span", "timeout", "options",
    "scope_manager", "clear",
};

typedef struct modstate {
    /* C base types */
    PyTypeObject *span_base, *ctx_base, *scope_base, *tracer_base, *tlsm_base, *cvsm_base;
    /* the public classes: (C base, opentracing class) */
    PyTypeObject *span_type, *ctx_type, *scope_type, *tracer_type, *tlsm_type, *cvsm_type;
    PyObject *exc_unsupported, *exc_invalid_carrier, *exc_corrupted;
    PyObject *ot_on_error;        /* opentracing.Span._on_error, for foreign spans */
    PyObject *format_tb;          /* traceback.format_tb */
    PyObject *json_loads;
    PyObject *fmt_text_map, *fmt_http_headers, *fmt_binary;
    PyObject *ref_child_of;
    PyObject *s_finish, *s_active, *s_span, *s_activate, *s_context, *s_items, *s_name;
    PyObject *s_error, *s_event, *s_error_object, *s_error_kind, *s_message, *s_stack;
    PyObject *kw[K_COUNT];
    PyObject *hdr_cache[8];       /* recently injected header names (str, hash cached) */
    unsigned hdr_next;
} modstate;

static struct PyModuleDef core_module;

static inline modstate *
state_of(PyObject *obj)
{
    PyObject *m = PyType_GetModuleByDef(Py_TYPE(obj), &core_module);
    return m ? (modstate *)PyModule_GetState(m) : NULL;
}

/* ------------------------------------------------------------ objects */

/* Every object starts with a weakref list and an instance __dict__ (the
 * opentracing harness patches methods on instances), at the same offsets in
 * every struct so one member table describes them all. */
#define TW_OBJECT_HEAD \
    PyObject_HEAD \
    PyObject *weakreflist; \
    PyObject *dict;       /* unused where the dict is managed by CPython (3.11) */

/* CPython 3.11: the C types subclass the opentracing classes directly and keep
 * their inherited managed __dict__ (see head_dictptr). Elsewhere the C types own their dict and
 * the public classes are Python subclasses (see make_type). */
#ifndef TW_OT_DIRECT             /* -DTW_OT_DIRECT=0 tests the portable layout on 3.11 */
#  if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#    define TW_OT_DIRECT 1
#  else
#    define TW_OT_DIRECT 0
#  endif
#endif

typedef struct HeadObject {
    TW_OBJECT_HEAD
} HeadObject;

enum { SM_FOREIGN = 0, SM_THREAD = 1, SM_CONTEXTVARS = 2 };

typedef struct TracerObject {
    TW_OBJECT_HEAD
    tw_tracer *tracer;
    PyObject *scope_manager;
    int sm_kind;
    modstate *st;
    PyObject *module;             /* keeps st alive */
    Py_ssize_t live_spans;        /* spans still holding a core tw_span */
    int free_pending;             /* free the core tracer when live_spans drops to 0 */
} TracerObject;

typedef struct SpanObject {
    TW_OBJECT_HEAD
    tw_span *span;                /* NULL: refused by the core (closed tracer) or cleaned up */
    TracerObject *tracer;         /* NULL once cleaned up */
    modstate *st;                 /* valid while the type lives */
} SpanObject;

typedef struct ContextObject {
    TW_OBJECT_HEAD
    const tw_span_context *ctx;   /* borrowed from owner, or == owned, or NULL */
    tw_span_context *owned;
    PyObject *owner;
} ContextObject;

typedef struct ScopeObject {
    TW_OBJECT_HEAD
    PyObject *manager;
    PyObject *span;
    PyObject *prev;               /* the scope active before this one, or NULL */
    int finish_on_close;
    int closed;
} ScopeObject;

typedef struct ManagerObject {
    TW_OBJECT_HEAD
    PyObject *var;                /* contextvars manager: its ContextVar */
    Py_tss_t key;                 /* thread-local manager: per-thread active scope (owned ref) */
    int has_key;                  /* 0: key unavailable, the thread-state dict is used */
} ManagerObject;

_Static_assert(offsetof(SpanObject, dict) == offsetof(TracerObject, dict)
               && offsetof(SpanObject, dict) == offsetof(ContextObject, dict)
               && offsetof(SpanObject, dict) == offsetof(ScopeObject, dict)
               && offsetof(SpanObject, dict) == offsetof(ManagerObject, dict)
               && offsetof(SpanObject, weakreflist) == offsetof(ManagerObject, weakreflist)
               && offsetof(SpanObject, weakreflist) == offsetof(TracerObject, weakreflist),
               "common object head");

#if !TW_OT_DIRECT
#define COMMON_MEMBERS \
    {"__weaklistoffset__", T_PYSSIZET, offsetof(HeadObject, weakreflist), READONLY, NULL}, \
    {"__dictoffset__", T_PYSSIZET, offsetof(HeadObject, dict), READONLY, NULL},
static PyMemberDef common_members[] = {
    COMMON_MEMBERS
    {NULL, 0, 0, 0, NULL},
};
#else
#define COMMON_MEMBERS
#endif

/* GC support shared by every type. Each type X defines X_visit (its own
 * references) and X_cleanup (releases its C and Python resources; idempotent,
 * the object stays safe to call afterwards).
 *
 * With TW_OT_DIRECT the instance dict is CPython 3.11's managed dict, stored
 * in the pre-header (three pointers before the object, as the 3.11 internal
 * header lays it out). Types made by PyType_FromSpec have no cached keys, so
 * their attributes always live in that materialized dict; CPython's own
 * traverse skips it for our types (its base has the same dict offset), so we
 * visit and clear it here, and release it in our dealloc. */
static inline PyObject **
head_dictptr(PyObject *o)
{
#if TW_OT_DIRECT
    return ((PyObject **)o) - 3;
#else
    return &((HeadObject *)o)->dict;
#endif
}

static int
head_traverse(PyObject *o, visitproc visit, void *arg)
{
    Py_VISIT(*head_dictptr(o));
    return 0;
}

static void
head_clear(PyObject *o)
{
    Py_CLEAR(*head_dictptr(o));
}

/* One dealloc for both layouts: weakrefs, our cleanup, then the dict (in the
 * managed pre-header with TW_OT_DIRECT; tp_free knows that layout). Python
 * subclasses of our types get CPython's subtype_dealloc, which frees their
 * inline attribute values and then calls this. */
#define GC_FUNCS_LAYOUT(X, T) \
    static void X##_dealloc(T *self) \
    { \
        PyTypeObject *tp = Py_TYPE(self); \
        PyObject_GC_UnTrack(self); \
        if (self->weakreflist) \
            PyObject_ClearWeakRefs((PyObject *)self); \
        X##_cleanup(self); \
        Py_CLEAR(*head_dictptr((PyObject *)self)); \
        tp->tp_free(self); \
        Py_DECREF(tp); \
    }
#define GC_SLOTS_NOMEMBERS(X) \
    {Py_tp_dealloc, X##_dealloc}, {Py_tp_traverse, X##_traverse}, {Py_tp_clear, X##_clear},
#if TW_OT_DIRECT
#define GC_SLOTS(X) GC_SLOTS_NOMEMBERS(X)
#else
#define GC_SLOTS(X) GC_SLOTS_NOMEMBERS(X) {Py_tp_members, common_members},
#endif

#define GC_FUNCS(X, T) \
    static int X##_traverse(T *self, visitproc visit, void *arg) \
    { \
        Py_VISIT(Py_TYPE(self)); \
        int rc_ = X##_visit(self, visit, arg); \
        if (rc_) \
            return rc_; \
        return head_traverse((PyObject *)self, visit, arg); \
    } \
    static int X##_clear(T *self) \
    { \
        X##_cleanup(self); \
        head_clear((PyObject *)self); \
        return 0; \
    } \
    GC_FUNCS_LAYOUT(X, T)

/* ------------------------------------------------------------ helpers */

/* The one status -> exception table. */
static PyObject *
raise_status(modstate *st, tw_status s, const char *what)
{
    PyObject *exc;
    switch (s) {
    case TW_ERR_NOMEM: return PyErr_NoMemory();
    case TW_ERR_CORRUPTED: exc = st ? st->exc_corrupted : PyExc_ValueError; break;
    case TW_ERR_UNSUPPORTED: exc = st ? st->exc_unsupported : PyExc_ValueError; break;
    case TW_ERR_TIMEOUT: exc = PyExc_TimeoutError; break;
    case TW_ERR_IO: exc = PyExc_OSError; break;
    case TW_ERR_CLOSED: case TW_ERR_FINISHED: exc = PyExc_RuntimeError; break;
    default: exc = PyExc_ValueError; break;
    }
    PyErr_Format(exc, "%s: %s", what, tw_strerror(s));
    return NULL;
}

/* Keyword matcher for METH_FASTCALL|METH_KEYWORDS: fills out[0..n) (borrowed,
 * NULL when absent) from positional args then keywords named by idx[]. */
static int
parse_args(modstate *st, const char *fname, PyObject *const *args, Py_ssize_t nargs,
           PyObject *kwnames, const int *idx, int n, PyObject **out)
{
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)",
                     fname, n, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    if (kwnames == NULL)
        return 0;
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int found = -1;
        for (int i = 0; i < n; i++)
            if (st->kw[idx[i]] == name) { found = i; break; }
        if (found < 0)
            for (int i = 0; i < n; i++)
                if (PyUnicode_Compare(st->kw[idx[i]], name) == 0) { found = i; break; }
        if (found < 0) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                             fname, name);
            return -1;
        }
        if (out[found] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%U'",
                         fname, name);
            return -1;
        }
        out[found] = args[nargs + k];
    }
    return 0;
}

/* Seconds (int or float, as time.time()) -> microseconds; None/NULL -> 0 (now). */
static int
seconds_to_us(PyObject *o, int64_t *us)
{
    *us = 0;
    if (o == NULL || o == Py_None)
        return 0;
    double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred())
        return -1;
    if (!isfinite(d) || d < 0 || d > 9.2e12) {
        PyErr_SetString(PyExc_ValueError, "timestamp out of range");
        return -1;
    }
    *us = (int64_t)(d * 1e6 + 0.5);
    return 0;
}

/* UTF-8 view of a str; lone surrogates are replaced (through a temporary
 * bytes object appended to *tmp). Non-str objects go through str(). */
static const char *
utf8_of(PyObject *o, Py_ssize_t *len, PyObject **tmp)
{
    PyObject *s = NULL;
    if (PyUnicode_CheckExact(o) && PyUnicode_IS_COMPACT_ASCII(o)) {
        *len = PyUnicode_GET_LENGTH(o);
        return (const char *)PyUnicode_DATA(o);
    }
    if (!PyUnicode_Check(o)) {
        s = PyObject_Str(o);
        if (s == NULL)
            return NULL;
        o = s;
    }
    const char *p = PyUnicode_AsUTF8AndSize(o, len);
    if (p != NULL) {
        if (s != NULL)
            *tmp = s;             /* keeps p alive */
        return p;
    }
    PyErr_Clear();
    PyObject *b = PyUnicode_AsEncodedString(o, "utf-8", "replace");
    Py_XDECREF(s);
    if (b == NULL)
        return NULL;
    *tmp = b;
    *len = PyBytes_GET_SIZE(b);
    return PyBytes_AS_STRING(b);
}

/* Python value -> tw_field. tmps receives up to two new references the field
 * points into; the caller releases them after the core call. bool is tested
 * before int (bool is an int); ints beyond int64 become their decimal text;
 * bytes become BINARY; None and other objects become str(obj). */
static int
field_from_py(tw_field *f, PyObject *key, PyObject *val, PyObject **tmps)
{
    Py_ssize_t n;
    tmps[0] = tmps[1] = NULL;
    f->key = utf8_of(key, &n, &tmps[0]);
    if (f->key == NULL)
        return -1;
    f->key_len = (size_t)n;
    if (PyBool_Check(val)) {
        f->type = TW_VAL_BOOL;
        f->v.b = val == Py_True;
    } else if (PyUnicode_Check(val)) {
        f->type = TW_VAL_STRING;
        f->v.str.ptr = utf8_of(val, &n, &tmps[1]);
        if (f->v.str.ptr == NULL)
            return -1;
        f->v.str.len = (size_t)n;
    } else if (PyLong_Check(val)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(val, &overflow);
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (overflow) {
            f->type = TW_VAL_STRING;
            f->v.str.ptr = utf8_of(val, &n, &tmps[1]);
            if (f->v.str.ptr == NULL)
                return -1;
            f->v.str.len = (size_t)n;
        } else {
            f->type = TW_VAL_INT64;
            f->v.i64 = x;
        }
    } else if (PyFloat_Check(val)) {
        f->type = TW_VAL_DOUBLE;
        f->v.f64 = PyFloat_AS_DOUBLE(val);
    } else if (PyBytes_Check(val)) {
        f->type = TW_VAL_BINARY;
        f->v.str.ptr = PyBytes_AS_STRING(val);
        f->v.str.len = (size_t)PyBytes_GET_SIZE(val);
    } else if (PyByteArray_Check(val)) {
        f->type = TW_VAL_BINARY;
        f->v.str.ptr = PyByteArray_AS_STRING(val);
        f->v.str.len = (size_t)PyByteArray_GET_SIZE(val);
    } else {
        f->type = TW_VAL_STRING;
        f->v.str.ptr = utf8_of(val, &n, &tmps[1]);
        if (f->v.str.ptr == NULL)
            return -1;
        f->v.str.len = (size_t)n;
    }
    return 0;
}

/* Sets one tag; writes to a finished span are a silent no-op. */
static int
span_set_tag_py(SpanObject *so, PyObject *key, PyObject *val)
{
    if (so->span == NULL)
        return 0;
    tw_field f;
    PyObject *tmps[2];
    int rc = field_from_py(&f, key, val, tmps);
    if (rc == 0) {
        tw_status s = tw_span_set_tag(so->span, &f);
        if (s != TW_OK && s != TW_ERR_FINISHED) {
            raise_status(so->st, s, "set_tag");
            rc = -1;
        }
    }
    Py_XDECREF(tmps[0]);
    Py_XDECREF(tmps[1]);
    return rc;
}

/* Calls fn(key, value) for each pair of a dict, of obj.items(), or of a
 * list/tuple of pairs. */
typedef int (*pair_fn)(void *ud, PyObject *k, PyObject *v);

static int
foreach_pair(PyObject *obj, pair_fn fn, void *ud, modstate *st)
{
    if (PyDict_Check(obj)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            int rc;
            Py_INCREF(k);
            Py_INCREF(v);
            rc = fn(ud, k, v);
            Py_DECREF(k);
            Py_DECREF(v);
            if (rc)
                return rc;
        }
        return 0;
    }
    PyObject *items;
    if (PyList_Check(obj) || PyTuple_Check(obj))     /* a sequence of pairs */
        items = Py_NewRef(obj);
    else if ((items = PyObject_CallMethodNoArgs(obj, st->s_items)) == NULL)
        return -1;
    PyObject *it = PyObject_GetIter(items);
    Py_DECREF(items);
    if (it == NULL)
        return -1;
    PyObject *item;
    int rc = 0;
    while ((item = PyIter_Next(it)) != NULL) {
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2) {
            rc = fn(ud, PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1));
        } else {
            PyObject *seq = PySequence_Tuple(item);
            if (seq == NULL || PyTuple_GET_SIZE(seq) != 2) {
                Py_XDECREF(seq);
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "items() must yield (key, value) pairs");
                rc = -1;
            } else {
                rc = fn(ud, PyTuple_GET_ITEM(seq, 0), PyTuple_GET_ITEM(seq, 1));
                Py_DECREF(seq);
            }
        }
        Py_DECREF(item);
        if (rc)
            break;
    }
    Py_DECREF(it);
    if (rc == 0 && PyErr_Occurred())
        rc = -1;
    return rc;
}

static int
tag_pair(void *ud, PyObject *k, PyObject *v)
{
    return span_set_tag_py((SpanObject *)ud, k, v) ? -1 : 0;
}

/* A growable field list for log records; keeps the temporaries alive. */
typedef struct fieldlist {
    tw_field *f;
    PyObject **tmps;
    size_t n, cap;
    tw_field f_stack[8];
    PyObject *t_stack[16];
} fieldlist;

static void
fl_init(fieldlist *fl)
{
    fl->f = fl->f_stack;
    fl->tmps = fl->t_stack;
    fl->n = 0;
    fl->cap = 8;
}

static void
fl_free(fieldlist *fl)
{
    for (size_t i = 0; i < 2 * fl->n; i++)
        Py_XDECREF(fl->tmps[i]);
    if (fl->f != fl->f_stack) {
        PyMem_Free(fl->f);
        PyMem_Free(fl->tmps);
    }
}

static int
fl_add(void *ud, PyObject *k, PyObject *v)
{
    fieldlist *fl = ud;
    if (fl->n == fl->cap) {
        size_t cap = fl->cap * 2;
        tw_field *nf = PyMem_Malloc(cap * sizeof *nf);
        PyObject **nt = PyMem_Malloc(2 * cap * sizeof *nt);
        if (nf == NULL || nt == NULL) {
            PyMem_Free(nf);
            PyMem_Free(nt);
            PyErr_NoMemory();
            return -1;
        }
        memcpy(nf, fl->f, fl->n * sizeof *nf);
        memcpy(nt, fl->tmps, 2 * fl->n * sizeof *nt);
        if (fl->f != fl->f_stack) {
            PyMem_Free(fl->f);
            PyMem_Free(fl->tmps);
        }
        fl->f = nf;
        fl->tmps = nt;
        fl->cap = cap;
    }
    PyObject **t = &fl->tmps[2 * fl->n];
    if (field_from_py(&fl->f[fl->n], k, v, t) != 0) {
        Py_XDECREF(t[0]);
        Py_XDECREF(t[1]);
        return -1;
    }
    /* the field may point into k or v, which items() may have just made:
     * hold them until the log call */
    if (t[0] == NULL)
        t[0] = Py_NewRef(k);
    if (t[1] == NULL)
        t[1] = Py_NewRef(v);
    fl->n++;
    return 0;
}

/* ------------------------------------------------------------ contexts */

static PyObject *
context_new(modstate *st, const tw_span_context *ctx, tw_span_context *owned, PyObject *owner)
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

static PyObject *
ctx_get_trace_id(ContextObject *self, void *c)
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

static PyObject *
ctx_get_span_id(ContextObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(ctx_ptr(self) ? tw_span_context_span_id(ctx_ptr(self)) : 0);
}

static PyObject *
ctx_get_parent_id(ContextObject *self, void *c)
{
    (void)c;
    uint64_t p = ctx_ptr(self) ? tw_span_context_parent_id(ctx_ptr(self)) : 0;
    if (p == 0)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(p);
}

static PyObject *
ctx_get_flags(ContextObject *self, void *c)
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
    {"trace_id", (getter)ctx_get_trace_id, NULL, "trace id as int (128-bit when wide)", NULL},
    {"span_id", (getter)ctx_get_span_id, NULL, "span id as int", NULL},
    {"parent_id", (getter)ctx_get_parent_id, NULL, "parent span id, None for a root", NULL},
    {"flags", (getter)ctx_get_flags, NULL, "Jaeger flags (1 sampled, 2 debug)", NULL},
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

static PyType_Spec ctx_spec = {
    .name = "tracewire.SpanContext",
    .basicsize = sizeof(ContextObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = ctx_slots,
};

/* A borrowed core context for a Span or SpanContext (ours), or for a foreign
 * opentracing span whose .context is ours (*keep receives that new ref).
 * NULL without error: not something we can parent on. */
static const tw_span_context *
ctx_of(modstate *st, PyObject *o, PyObject **keep)
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

/* ------------------------------------------------------------ scope managers */

/* New reference to the active scope, or NULL (none, or error if set). */
static PyObject *
manager_active(modstate *st, PyObject *mgr, int kind)
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

static int
manager_kind(modstate *st, PyObject *mgr)
{
    if (PyObject_TypeCheck(mgr, st->tlsm_base))
        return SM_THREAD;
    if (PyObject_TypeCheck(mgr, st->cvsm_base))
        return SM_CONTEXTVARS;
    return SM_FOREIGN;
}

static PyObject *
scope_activate(modstate *st, PyObject *mgr, int kind, PyObject *span, int finish_on_close)
{
    ScopeObject *sc = (ScopeObject *)st->scope_type->tp_alloc(st->scope_type, 0);
    if (sc == NULL)
        return NULL;
    sc->manager = Py_NewRef(mgr);
    sc->span = Py_NewRef(span);
    sc->finish_on_close = finish_on_close;
    sc->prev = manager_active(st, mgr, kind);
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
    if (st == NULL || parse_args(st, "activate", args, nargs, kwnames, idx, 2, a) < 0)
        return NULL;
    if (a[0] == NULL || a[1] == NULL) {
        PyErr_SetString(PyExc_TypeError, "activate() needs span and finish_on_close");
        return NULL;
    }
    int foc = PyObject_IsTrue(a[1]);
    if (foc < 0)
        return NULL;
    return scope_activate(st, self, manager_kind(st, self), a[0], foc);
}

static PyObject *
mgr_get_active(PyObject *self, void *c)
{
    (void)c;
    modstate *st = state_of(self);
    if (st == NULL)
        return NULL;
    PyObject *v = manager_active(st, self, manager_kind(st, self));
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

static PyType_Spec tlsm_spec = {
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

static PyType_Spec cvsm_spec = {
    .name = "tracewire.ContextVarsScopeManager",
    .basicsize = sizeof(ManagerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = cvsm_slots,
};

/* ------------------------------------------------------------ error recording */

/* The opentracing 2.x error record: tag error=true and a log with event,
 * error.object, error.kind, message and stack. Foreign spans go through
 * opentracing's own Span._on_error. */
static int
record_error(modstate *st, PyObject *span, PyObject *et, PyObject *ev, PyObject *tb)
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
    fl_init(&fl);
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
    if (fl_add(&fl, st->s_event, st->s_error) || fl_add(&fl, st->s_error_object, msg)
        || fl_add(&fl, st->s_error_kind, kind) || fl_add(&fl, st->s_message, msg)
        || (stack && fl_add(&fl, st->s_stack, stack)))
        goto done;
    tw_status s = tw_span_log(so->span, 0, fl.f, fl.n);
    if (s != TW_OK && s != TW_ERR_FINISHED) {
        raise_status(st, s, "log");
        goto done;
    }
    rc = 0;
done:
    fl_free(&fl);
    Py_XDECREF(kind);
    Py_XDECREF(stack);
    Py_XDECREF(msg);
    Py_XDECREF(empty);
    return rc;
}

/* ------------------------------------------------------------ scopes */

static PyObject *span_finish(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);

/* span.finish(), looked up as an attribute (the opentracing harness replaces
 * it on instances), with a direct call when it cannot have been replaced:
 * an exact tracewire Span without instance attributes. */
static int
call_finish(modstate *st, PyObject *span)
{
    PyObject *r;
    if (Py_IS_TYPE(span, st->span_type) && *head_dictptr(span) == NULL
        && TW_OT_DIRECT)
        r = span_finish(span, NULL, 0, NULL);
    else
        r = PyObject_CallMethodNoArgs(span, st->s_finish);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
scope_close_impl(modstate *st, ScopeObject *sc)
{
    if (sc->closed || sc->manager == NULL)
        return 0;
    int kind = manager_kind(st, sc->manager);
    PyObject *cur = manager_active(st, sc->manager, kind);
    if (cur == NULL && PyErr_Occurred())
        return -1;
    Py_XDECREF(cur);
    if (cur != (PyObject *)sc)      /* only the active scope closes (opentracing) */
        return 0;
    sc->closed = 1;
    if (manager_set_active(sc->manager, kind, sc->prev) < 0)
        return -1;
    Py_CLEAR(sc->prev);
    if (sc->finish_on_close && sc->span && call_finish(st, sc->span) < 0)
        return -1;
    return 0;
}

static PyObject *
scope_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    modstate *st = state_of(self);
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
    modstate *st = state_of(self);
    if (st == NULL)
        return NULL;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "__exit__ takes 3 arguments");
        return NULL;
    }
    ScopeObject *sc = (ScopeObject *)self;
    if (sc->span && record_error(st, sc->span, args[0], args[1], args[2]) < 0)
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

GC_FUNCS(scope, ScopeObject)

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

static PyType_Spec scope_spec = {
    .name = "tracewire.Scope",
    .basicsize = sizeof(ScopeObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = scope_slots,
};

/* ------------------------------------------------------------ spans */

static PyObject *
span_set_tag(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SpanObject *so = (SpanObject *)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "set_tag(key, value)");
        return NULL;
    }
    PyObject *k = args[0], *v = args[1];
    /* fast path: ASCII str key; str, int (fits int64), float or bool value */
    if (so->span && PyUnicode_CheckExact(k) && PyUnicode_IS_COMPACT_ASCII(k)) {
        tw_field f;
        PyTypeObject *vt = Py_TYPE(v);
        f.key = (const char *)PyUnicode_DATA(k);
        f.key_len = (size_t)PyUnicode_GET_LENGTH(k);
        if (vt == &PyUnicode_Type && PyUnicode_IS_COMPACT_ASCII(v)) {
            f.type = TW_VAL_STRING;
            f.v.str.ptr = (const char *)PyUnicode_DATA(v);
            f.v.str.len = (size_t)PyUnicode_GET_LENGTH(v);
        } else if (vt == &PyLong_Type) {
            int overflow = 0;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow || (x == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                goto slow;
            }
            f.type = TW_VAL_INT64;
            f.v.i64 = x;
        } else if (vt == &PyFloat_Type) {
            f.type = TW_VAL_DOUBLE;
            f.v.f64 = PyFloat_AS_DOUBLE(v);
        } else if (vt == &PyBool_Type) {
            f.type = TW_VAL_BOOL;
            f.v.b = v == Py_True;
        } else {
            goto slow;
        }
        tw_status st = tw_span_set_tag(so->span, &f);
        if (st != TW_OK && st != TW_ERR_FINISHED)
            return raise_status(so->st, st, "set_tag");
        return Py_NewRef(self);
    }
slow:
    if (span_set_tag_py(so, k, v) < 0)
        return NULL;
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
        if (parse_args(so->st, "finish", args, nargs, kwnames, idx, 1, a) < 0)
            return NULL;
        if (seconds_to_us(a[0], &us) < 0)
            return NULL;
    }
    if (so->span) {
        tw_status s = tw_span_finish(so->span, us);
        if (s != TW_OK && s != TW_ERR_FINISHED)
            return raise_status(so->st, s, "finish");
    }
    Py_RETURN_NONE;
}

static PyObject *
span_log_kv(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_KEY_VALUES, K_TIMESTAMP};
    SpanObject *so = (SpanObject *)self;
    modstate *st = so->st;
    PyObject *a[2];
    int64_t us;
    if (parse_args(st, "log_kv", args, nargs, kwnames, idx, 2, a) < 0)
        return NULL;
    if (seconds_to_us(a[1], &us) < 0)
        return NULL;
    if (a[0] == NULL || a[0] == Py_None || so->span == NULL)
        return Py_NewRef(self);
    fieldlist fl;
    fl_init(&fl);
    PyObject *ret = NULL;
    if (foreach_pair(a[0], fl_add, &fl, st) != 0)
        goto done;
    tw_status s = tw_span_log(so->span, us, fl.f, fl.n);
    if (s != TW_OK && s != TW_ERR_FINISHED) {
        raise_status(st, s, "log_kv");
        goto done;
    }
    ret = Py_NewRef(self);
done:
    fl_free(&fl);
    return ret;
}

static PyObject *
span_set_operation_name(PyObject *self, PyObject *name)
{
    SpanObject *so = (SpanObject *)self;
    Py_ssize_t n;
    PyObject *tmp = NULL;
    const char *p = utf8_of(name, &n, &tmp);
    if (p == NULL)
        return NULL;
    if (so->span) {
        tw_status s = tw_span_set_operation_name(so->span, p, (size_t)n);
        if (s != TW_OK && s != TW_ERR_FINISHED) {
            Py_XDECREF(tmp);
            return raise_status(so->st, s, "set_operation_name");
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
    const char *k = utf8_of(args[0], &kl, &tk);
    const char *v = k ? utf8_of(args[1], &vl, &tv) : NULL;
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
            raise_status(so->st, s, "set_baggage_item");
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
    const char *k = utf8_of(key, &kl, &tk);
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

static PyObject *
span_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *
span_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SpanObject *so = (SpanObject *)self;
    modstate *st = so->st;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "__exit__ takes 3 arguments");
        return NULL;
    }
    if (record_error(st, self, args[0], args[1], args[2]) < 0)
        return NULL;
    /* by attribute when it may have been replaced on the instance (harness) */
    if (call_finish(st, self) < 0)
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
    return context_new(st, self->span ? tw_span_get_context(self->span) : NULL, NULL,
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
    return span_id_property(self, (getter)ctx_get_trace_id);
}

static PyObject *
span_get_span_id(SpanObject *self, void *c)
{
    (void)c;
    return span_id_property(self, (getter)ctx_get_span_id);
}

static PyObject *
span_get_parent_id(SpanObject *self, void *c)
{
    (void)c;
    return span_id_property(self, (getter)ctx_get_parent_id);
}

static PyObject *
span_get_flags(SpanObject *self, void *c)
{
    (void)c;
    return span_id_property(self, (getter)ctx_get_flags);
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

static void tracer_release_core(TracerObject *t);

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
            tracer_release_core(t);
        Py_DECREF(t);
    }
}

GC_FUNCS(span, SpanObject)

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
    {"__enter__", span_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))span_exit, METH_FASTCALL, NULL},
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

static PyType_Spec span_spec = {
    .name = "tracewire.Span",
    .basicsize = sizeof(SpanObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = span_slots,
};

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
    const tw_span_context *c = ctx_of(st, ctx, &keep);
    if (refs_keep(rb, keep) < 0)
        return -1;
    return refs_add(rb, is_child ? TW_REF_CHILD_OF : TW_REF_FOLLOWS_FROM, c);
}

/* The core tracer, or NULL with RuntimeError once it was cleaned up. */
static tw_tracer *
tracer_core(TracerObject *t)
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
    if (tracer_core(t) == NULL)
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
        nm = utf8_of(name, &nlen, &name_tmp);
        if (nm == NULL)
            goto done;
    }
    if (seconds_to_us(a[4], &start_us) < 0)
        goto done;
    if (child_of && child_of != Py_None) {
        PyObject *keep = NULL;
        const tw_span_context *c = ctx_of(st, child_of, &keep);
        if (refs_keep(&rb, keep) < 0 || refs_add(&rb, TW_REF_CHILD_OF, c) < 0)
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
            PyObject *scope = manager_active(st, t->scope_manager, t->sm_kind);
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
                    const tw_span_context *c = ctx_of(st, pspan, &keep);
                    if (refs_keep(&rb, pspan) < 0 || refs_keep(&rb, keep) < 0
                        || refs_add(&rb, TW_REF_CHILD_OF, c) < 0)
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
    SpanObject *so = (SpanObject *)st->span_type->tp_alloc(st->span_type, 0);
    if (so == NULL) {
        tw_span_free(sp);
        goto done;
    }
    so->span = sp;
    so->st = st;
    so->tracer = (TracerObject *)Py_NewRef((PyObject *)t);
    t->live_spans++;
    if (tags && tags != Py_None && foreach_pair(tags, tag_pair, so, st) != 0) {
        Py_DECREF(so);
        goto done;
    }
    result = (PyObject *)so;
done:
    Py_XDECREF(name_tmp);
    Py_XDECREF(rb.keep);
    if (rb.r != rb.stack)
        PyMem_Free(rb.r);
    return result;
}

static PyObject *
tracer_start_span(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_OPERATION_NAME, K_CHILD_OF, K_REFERENCES, K_TAGS,
                              K_START_TIME, K_IGNORE_ACTIVE_SPAN};
    TracerObject *t = (TracerObject *)self;
    PyObject *a[6];
    if (kwnames == NULL && nargs == 1) {      /* start_span(name) */
        a[0] = args[0];
        a[1] = a[2] = a[3] = a[4] = a[5] = NULL;
    } else if (parse_args(t->st, "start_span", args, nargs, kwnames, idx, 6, a) < 0) {
        return NULL;
    }
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
    if (kwnames == NULL && nargs == 1) {      /* start_active_span(name) */
        a[0] = args[0];
        a[1] = a[2] = a[3] = a[4] = a[5] = a[6] = NULL;
    } else if (parse_args(t->st, "start_active_span", args, nargs, kwnames, idx, 7, a) < 0) {
        return NULL;
    }
    int foc = 1;
    if (a[6] && (foc = PyObject_IsTrue(a[6])) < 0)
        return NULL;
    PyObject *span = span_new_from(t, a);
    if (span == NULL)
        return NULL;
    PyObject *scope;
    if (t->sm_kind != SM_FOREIGN)
        scope = scope_activate(t->st, t->scope_manager, t->sm_kind, span, foc);
    else
        scope = PyObject_CallMethodObjArgs(t->scope_manager, t->st->s_activate, span,
                                           foc ? Py_True : Py_False, NULL);
    Py_DECREF(span);
    return scope;
}

typedef struct inject_ud {
    PyObject *carrier;
    int is_dict;
    modstate *st;
} inject_ud;

/* New reference to a str for header name k: the same few names come back on
 * every inject, so reuse their str objects (and cached hashes). */
static PyObject *
header_name(modstate *st, const char *k, size_t kl)
{
    for (int i = 0; i < 8; i++) {
        PyObject *h = st->hdr_cache[i];
        if (h && (size_t)PyUnicode_GET_LENGTH(h) == kl && PyUnicode_IS_COMPACT_ASCII(h)
            && memcmp(PyUnicode_DATA(h), k, kl) == 0)
            return Py_NewRef(h);
    }
    PyObject *key = PyUnicode_DecodeUTF8(k, (Py_ssize_t)kl, "replace");
    if (key && kl <= 64 && PyUnicode_IS_COMPACT_ASCII(key)) {
        unsigned slot = st->hdr_next++ % 8;
        Py_XSETREF(st->hdr_cache[slot], Py_NewRef(key));
    }
    return key;
}

static int
inject_set(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    inject_ud *iu = ud;
    PyObject *key = header_name(iu->st, k, kl);
    PyObject *val = key ? PyUnicode_DecodeUTF8(v, (Py_ssize_t)vl, "replace") : NULL;
    int rc = -1;
    if (val)
        rc = iu->is_dict ? PyDict_SetItem(iu->carrier, key, val)
                         : PyObject_SetItem(iu->carrier, key, val);
    Py_XDECREF(key);
    Py_XDECREF(val);
    return rc ? (int)TW_ERR_INVALID_ARG : 0;
}

enum { FMT_TEXT, FMT_BINARY, FMT_UNKNOWN };

static int
format_of(modstate *st, PyObject *fmt)
{
    if (fmt == st->fmt_text_map || fmt == st->fmt_http_headers)
        return FMT_TEXT;
    if (fmt == st->fmt_binary)
        return FMT_BINARY;
    if (fmt && PyUnicode_Check(fmt)) {
        if (PyUnicode_Compare(fmt, st->fmt_text_map) == 0
            || PyUnicode_Compare(fmt, st->fmt_http_headers) == 0)
            return FMT_TEXT;
        if (PyUnicode_Compare(fmt, st->fmt_binary) == 0)
            return FMT_BINARY;
    }
    return FMT_UNKNOWN;
}

static PyObject *
tracer_inject(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_SPAN_CONTEXT, K_FORMAT, K_CARRIER};
    TracerObject *t = (TracerObject *)self;
    modstate *st = t->st;
    PyObject *a[3], *keep = NULL;
    if (parse_args(st, "inject", args, nargs, kwnames, idx, 3, a) < 0)
        return NULL;
    if (a[0] == NULL || a[1] == NULL || a[2] == NULL) {
        PyErr_SetString(PyExc_TypeError, "inject(span_context, format, carrier)");
        return NULL;
    }
    if (tracer_core(t) == NULL)
        return NULL;
    int fmt = format_of(st, a[1]);
    if (fmt == FMT_UNKNOWN) {
        PyErr_Format(st->exc_unsupported, "unsupported format %R", a[1]);
        return NULL;
    }
    if (!PyObject_TypeCheck(a[0], st->span_base) && !PyObject_TypeCheck(a[0], st->ctx_base)) {
        PyErr_Format(PyExc_TypeError, "inject needs a tracewire Span or SpanContext, not %.100s",
                     Py_TYPE(a[0])->tp_name);
        return NULL;
    }
    const tw_span_context *c = ctx_of(st, a[0], &keep);
    Py_XDECREF(keep);             /* a[0] is ours: keep stays NULL */
    if (fmt == FMT_BINARY) {
        if (!PyByteArray_Check(a[2])) {
            PyErr_SetString(st->exc_invalid_carrier, "BINARY inject needs a bytearray carrier");
            return NULL;
        }
        if (c == NULL)
            Py_RETURN_NONE;
        char *buf = NULL;
        size_t len = 0;
        tw_status s = tw_span_context_to_binary(c, &buf, &len);
        if (s != TW_OK)
            return raise_status(st, s, "inject");
        Py_ssize_t old = PyByteArray_GET_SIZE(a[2]);
        int rc = PyByteArray_Resize(a[2], old + (Py_ssize_t)len);
        if (rc == 0)
            memcpy(PyByteArray_AS_STRING(a[2]) + old, buf, len);
        tw_free(buf);
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    PyMappingMethods *mp = Py_TYPE(a[2])->tp_as_mapping;
    if (mp == NULL || mp->mp_ass_subscript == NULL) {
        PyErr_Format(st->exc_invalid_carrier, "carrier must support item assignment, not %.100s",
                     Py_TYPE(a[2])->tp_name);
        return NULL;
    }
    if (c == NULL)
        Py_RETURN_NONE;
    inject_ud iu = {a[2], PyDict_CheckExact(a[2]), st};
    tw_status s = tw_tracer_inject(t->tracer, c, TW_PROP_DEFAULT, inject_set, &iu);
    if (PyErr_Occurred())
        return NULL;
    if (s != TW_OK)
        return raise_status(st, s, "inject");
    Py_RETURN_NONE;
}

typedef struct walk_ud {
    PyObject *carrier;
    modstate *st;
    tw_kv_fn visit;
    void *visit_ud;
    int pyerr;
    PyObject *pairs;              /* list(carrier.items()), alive until extract returns */
} walk_ud;

static int
walk_pair(void *ud, PyObject *k, PyObject *v)
{
    walk_ud *w = ud;
    if (!PyUnicode_Check(k) || !PyUnicode_Check(v))
        return 0;                 /* not a text header: ignored */
    Py_ssize_t kl, vl;
    const char *ks, *vs;
    if (PyUnicode_IS_COMPACT_ASCII(k) && PyUnicode_IS_COMPACT_ASCII(v)) {
        ks = (const char *)PyUnicode_DATA(k);
        kl = PyUnicode_GET_LENGTH(k);
        vs = (const char *)PyUnicode_DATA(v);
        vl = PyUnicode_GET_LENGTH(v);
    } else {
        ks = PyUnicode_AsUTF8AndSize(k, &kl);
        vs = ks ? PyUnicode_AsUTF8AndSize(v, &vl) : NULL;
    }
    if (vs == NULL) {
        PyErr_Clear();            /* undecodable (surrogates): ignored */
        return 0;
    }
    int rc = w->visit(w->visit_ud, ks, (size_t)kl, vs, (size_t)vl);
    return rc ? 1 : 0;
}

/* New list of 2-tuples from an iterable of pairs (each pair made a tuple, so
 * the list keeps every key and value alive). */
static PyObject *
pairs_list(PyObject *iterable)
{
    PyObject *it = PyObject_GetIter(iterable), *item, *out = NULL;
    if (it == NULL)
        return NULL;
    if ((out = PyList_New(0)) == NULL)
        goto fail;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *pair = PyTuple_CheckExact(item) ? Py_NewRef(item) : PySequence_Tuple(item);
        Py_DECREF(item);
        if (pair == NULL)
            goto fail;
        if (PyTuple_GET_SIZE(pair) != 2) {
            Py_DECREF(pair);
            PyErr_SetString(PyExc_TypeError, "items() must yield (key, value) pairs");
            goto fail;
        }
        int rc = PyList_Append(out, pair);
        Py_DECREF(pair);
        if (rc < 0)
            goto fail;
    }
    if (PyErr_Occurred())
        goto fail;
    Py_DECREF(it);
    return out;
fail:
    Py_DECREF(it);
    Py_XDECREF(out);
    return NULL;
}

static int
walk_carrier(void *carrier, tw_kv_fn visit, void *visit_ud)
{
    walk_ud *w = carrier;
    w->visit = visit;
    w->visit_ud = visit_ud;
    /* The core may keep the visited strings until extract returns, so every
     * key and value must outlive the walk: a dict holds its own (and runs no
     * Python code while walked); anything else is materialized once into a
     * list of the pairs items() produced. */
    PyObject *src = w->carrier;
    if (!PyDict_Check(src)) {
        if (w->pairs == NULL) {
            PyObject *items = PyObject_CallMethodNoArgs(src, w->st->s_items);
            if (items == NULL) {
                w->pyerr = 1;
                return 1;
            }
            w->pairs = pairs_list(items);
            Py_DECREF(items);
            if (w->pairs == NULL) {
                w->pyerr = 1;
                return 1;
            }
        }
        src = w->pairs;
    }
    int rc = foreach_pair(src, walk_pair, w, w->st);
    if (rc < 0 || PyErr_Occurred()) {
        w->pyerr = 1;
        return 1;
    }
    return 0;
}

static PyObject *
tracer_extract(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_FORMAT, K_CARRIER};
    TracerObject *t = (TracerObject *)self;
    modstate *st = t->st;
    PyObject *a[2];
    tw_span_context *out = NULL;
    tw_status s;
    if (parse_args(st, "extract", args, nargs, kwnames, idx, 2, a) < 0)
        return NULL;
    if (a[0] == NULL || a[1] == NULL) {
        PyErr_SetString(PyExc_TypeError, "extract(format, carrier)");
        return NULL;
    }
    if (tracer_core(t) == NULL)
        return NULL;
    int fmt = format_of(st, a[0]);
    if (fmt == FMT_UNKNOWN) {
        PyErr_Format(st->exc_unsupported, "unsupported format %R", a[0]);
        return NULL;
    }
    if (fmt == FMT_BINARY) {
        Py_buffer view;
        if (PyObject_GetBuffer(a[1], &view, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            PyErr_SetString(st->exc_invalid_carrier, "BINARY extract needs a bytes-like carrier");
            return NULL;
        }
        if (view.len == 0) {
            PyBuffer_Release(&view);
            Py_RETURN_NONE;
        }
        s = tw_span_context_from_binary(view.buf, (size_t)view.len, &out);
        PyBuffer_Release(&view);
    } else {
        if (!PyDict_Check(a[1]) && !PyObject_HasAttr(a[1], st->s_items)) {
            PyErr_Format(st->exc_invalid_carrier, "carrier must be a dict or have items(), not %.100s",
                         Py_TYPE(a[1])->tp_name);
            return NULL;
        }
        walk_ud w = {a[1], st, NULL, NULL, 0, NULL};
        s = tw_tracer_extract(t->tracer, TW_PROP_DEFAULT, walk_carrier, &w, &out);
        Py_CLEAR(w.pairs);
        if (w.pyerr) {
            tw_span_context_free(out);
            if (!PyErr_Occurred())
                PyErr_SetString(st->exc_invalid_carrier, "carrier could not be read");
            else if (!PyErr_ExceptionMatches(st->exc_invalid_carrier)) {
                PyObject *et, *ev, *tb;
                PyErr_Fetch(&et, &ev, &tb);
                PyErr_Format(st->exc_invalid_carrier, "carrier could not be read: %S",
                             ev ? ev : Py_None);
                Py_XDECREF(et);
                Py_XDECREF(ev);
                Py_XDECREF(tb);
            }
            return NULL;
        }
    }
    if (s == TW_ERR_NOT_FOUND)
        Py_RETURN_NONE;
    if (s == TW_ERR_INVALID_ARG) {
        tw_span_context_free(out);
        PyErr_SetString(st->exc_invalid_carrier, "carrier could not be read");
        return NULL;
    }
    if (s != TW_OK) {
        tw_span_context_free(out);
        return raise_status(st, s, "extract");
    }
    return context_new(st, NULL, out, NULL);
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
    PyObject *scope = manager_active(self->st, self->scope_manager, self->sm_kind);
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
    if (parse_args(t->st, fname, args, nargs, kwnames, idx, 1, a) < 0)
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
    if (timeout_ms_of(args, nargs, kwnames, t, "flush", 5.0, &ms) < 0 || tracer_core(t) == NULL)
        return NULL;
    tw_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tw_tracer_flush(t->tracer, ms);
    Py_END_ALLOW_THREADS
    if (s == TW_OK)
        Py_RETURN_TRUE;
    if (s == TW_ERR_TIMEOUT || s == TW_ERR_CLOSED)
        Py_RETURN_FALSE;
    return raise_status(t->st, s, "flush");
}

static PyObject *
tracer_close(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    TracerObject *t = (TracerObject *)self;
    int ms;
    if (timeout_ms_of(args, nargs, kwnames, t, "close", 2.0, &ms) < 0 || tracer_core(t) == NULL)
        return NULL;
    tw_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tw_tracer_close(t->tracer, ms);
    Py_END_ALLOW_THREADS
    if (s == TW_OK)
        Py_RETURN_TRUE;
    if (s == TW_ERR_TIMEOUT || s == TW_ERR_CLOSED)
        Py_RETURN_FALSE;
    return raise_status(t->st, s, "close");
}

static PyObject *
tracer_metrics(PyObject *self, PyObject *unused)
{
    (void)unused;
    TracerObject *t = (TracerObject *)self;
    tw_counters c;
    memset(&c, 0, sizeof c);
    if (tracer_core(t) == NULL)
        return NULL;
    tw_tracer_counters(t->tracer, &c);
    return Py_BuildValue(
        "{sKsKsKsKsKsKsKsKsKsKsKsK}",
        "spans_started", (unsigned long long)c.spans_started,
        "spans_sampled", (unsigned long long)c.spans_sampled,
        "spans_finished", (unsigned long long)c.spans_finished,
        "spans_reported", (unsigned long long)c.spans_reported,
        "dropped_queue_full", (unsigned long long)c.dropped_queue_full,
        "dropped_too_large", (unsigned long long)c.dropped_too_large,
        "dropped_send_failed", (unsigned long long)c.dropped_send_failed,
        "dropped_on_close", (unsigned long long)c.dropped_on_close,
        "send_failures", (unsigned long long)c.send_failures,
        "batches_sent", (unsigned long long)c.batches_sent,
        "bytes_sent", (unsigned long long)c.bytes_sent,
        "sampler_updates", (unsigned long long)c.sampler_updates);
}

static PyObject *
tracer_memory_spans(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_CLEAR};
    TracerObject *t = (TracerObject *)self;
    PyObject *a[1];
    if (parse_args(t->st, "memory_spans", args, nargs, kwnames, idx, 1, a) < 0)
        return NULL;
    int clear = a[0] ? PyObject_IsTrue(a[0]) : 0;
    if (clear < 0 || tracer_core(t) == NULL)
        return NULL;
    char *json = NULL;
    tw_status s = tw_tracer_memory_spans(t->tracer, clear, &json);
    if (s != TW_OK)
        return raise_status(t->st, s, "memory_spans");
    PyObject *text = PyUnicode_DecodeUTF8(json, (Py_ssize_t)strlen(json), "replace");
    tw_free(json);
    if (text == NULL)
        return NULL;
    PyObject *r = PyObject_CallOneArg(t->st->json_loads, text);
    Py_DECREF(text);
    return r;
}

static int
config_pair(void *ud, PyObject *k, PyObject *v)
{
    tw_config *cfg = ud;
    if (!PyUnicode_Check(k)) {
        PyErr_SetString(PyExc_TypeError, "config keys must be str");
        return -1;
    }
    PyObject *vs = PyUnicode_Check(v) ? Py_NewRef(v) : PyObject_Str(v);
    if (vs == NULL)
        return -1;
    Py_ssize_t kl = 0, vl = 0;
    const char *key = PyUnicode_AsUTF8AndSize(k, &kl);
    const char *val = key ? PyUnicode_AsUTF8AndSize(vs, &vl) : NULL;
    int rc = -1;
    /* the config takes C strings: a NUL inside would silently cut the value */
    if (val && (strlen(key) != (size_t)kl || strlen(val) != (size_t)vl)) {
        PyErr_Format(PyExc_ValueError, "tracewire option %R: keys and values must not contain NUL", k);
        val = NULL;
    }
    if (val) {
        tw_status s = tw_config_set(cfg, key, val);
        if (s == TW_OK)
            rc = 0;
        else if (s == TW_ERR_UNSUPPORTED)
            PyErr_Format(PyExc_ValueError, "unknown tracewire option %R", k);
        else
            PyErr_Format(PyExc_ValueError, "bad value %R for option %R: %s", vs, k, tw_strerror(s));
    }
    Py_DECREF(vs);
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
    PyObject *m = PyType_GetModuleByDef(tp, &core_module);
    if (m == NULL)
        goto fail;
    t->module = Py_NewRef(m);
    t->st = PyModule_GetState(m);
    tw_status s = tw_config_new(&cfg);
    if (s != TW_OK) {
        raise_status(t->st, s, "config");
        goto fail;
    }
    const char *bad = NULL;
    if (tw_config_from_env(cfg, &bad) != TW_OK && bad != NULL) {
        if (PyErr_WarnFormat(PyExc_RuntimeWarning, 1,
                             "tracewire: ignoring malformed environment variable %s", bad) < 0)
            goto fail;
    }
    if (options && options != Py_None && foreach_pair(options, config_pair, cfg, t->st) != 0)
        goto fail;
    s = tw_tracer_new(cfg, &t->tracer);
    if (s != TW_OK) {
        raise_status(t->st, s, "Tracer");
        goto fail;
    }
    tw_config_free(cfg);
    cfg = NULL;
    if (sm == NULL || sm == Py_None) {
        sm = PyObject_CallNoArgs((PyObject *)t->st->tlsm_type);
        if (sm == NULL)
            goto fail;
        t->scope_manager = sm;
    } else {
        if (manager_kind(t->st, sm) == SM_FOREIGN
            && (!PyObject_HasAttr(sm, t->st->s_activate) || !PyObject_HasAttr(sm, t->st->s_active))) {
            PyErr_Format(PyExc_TypeError, "scope_manager must be an opentracing ScopeManager, not %.100s",
                         Py_TYPE(sm)->tp_name);
            goto fail;
        }
        t->scope_manager = Py_NewRef(sm);
    }
    t->sm_kind = manager_kind(t->st, t->scope_manager);
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

static void
tracer_release_core(TracerObject *t)
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
        tracer_release_core(self);
    else
        self->free_pending = 1;
}

GC_FUNCS(tracer, TracerObject)

static PyMethodDef tracer_methods[] = {
    {"start_span", (PyCFunction)(void (*)(void))tracer_start_span, METH_FASTCALL | METH_KEYWORDS,
     "start_span(operation_name=None, child_of=None, references=None, tags=None, "
     "start_time=None, ignore_active_span=False) -> Span"},
    {"start_active_span", (PyCFunction)(void (*)(void))tracer_start_active_span,
     METH_FASTCALL | METH_KEYWORDS,
     "start_active_span(operation_name, child_of=None, references=None, tags=None, "
     "start_time=None, ignore_active_span=False, finish_on_close=True) -> Scope"},
    {"inject", (PyCFunction)(void (*)(void))tracer_inject, METH_FASTCALL | METH_KEYWORDS,
     "inject(span_context, format, carrier): span_context may also be a Span"},
    {"extract", (PyCFunction)(void (*)(void))tracer_extract, METH_FASTCALL | METH_KEYWORDS,
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

static PyType_Spec tracer_spec = {
    .name = "tracewire.Tracer",
    .basicsize = sizeof(TracerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = tracer_slots,
};

/* ------------------------------------------------------------ module */

static PyObject *
mod_now(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    return PyLong_FromLongLong((long long)tw_now_us());
}

static PyMethodDef module_methods[] = {
    {"now_us", mod_now, METH_NOARGS, "now_us() -> int: the core's wall clock (µs)"},
    {NULL, NULL, 0, NULL},
};

/* Creates the C type for spec as a subclass of the opentracing class ot_base.
 * *base receives the C type (what the C code type-checks against), *pub the
 * public class. On CPython 3.11 they are one type, created with
 * bases=(ot_base,): it inherits the managed __dict__ and weakref slot of the
 * Python base (our head reserves that slot), so the interpreter's specialized
 * method loads and calls apply. Elsewhere a Python-level class (C type,
 * ot_base) is made with type(): slower, same behaviour. */
static int
make_type(PyObject *m, PyType_Spec *spec, PyObject *ot_base, const char *name,
          PyTypeObject **base, PyTypeObject **pub)
{
#if TW_OT_DIRECT
    (void)name;
    PyObject *bases = PyTuple_Pack(1, ot_base);
    if (bases == NULL)
        return -1;
    PyTypeObject *tp = (PyTypeObject *)PyType_FromModuleAndSpec(m, spec, bases);
    Py_DECREF(bases);
    if (tp == NULL)
        return -1;
    /* the inherited layout must be the one our head reserves */
    if (!(tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)
        || tp->tp_weaklistoffset != (Py_ssize_t)offsetof(HeadObject, weakreflist)
        || tp->tp_base != (PyTypeObject *)ot_base) {
        Py_DECREF(tp);
        PyErr_Format(PyExc_ImportError, "unexpected layout of %R", ot_base);
        return -1;
    }
    *base = tp;
    *pub = (PyTypeObject *)Py_NewRef((PyObject *)tp);
    return 0;
#else
    PyObject *bases = NULL, *ns = NULL, *cls = NULL, *nm = NULL;
    *base = (PyTypeObject *)PyType_FromModuleAndSpec(m, spec, NULL);
    if (*base == NULL)
        return -1;
    bases = PyTuple_Pack(2, (PyObject *)*base, ot_base);
    ns = Py_BuildValue("{sssN}", "__module__", "tracewire", "__slots__", PyTuple_New(0));
    nm = PyUnicode_FromString(name);
    if (bases && ns && nm)
        cls = PyObject_CallFunctionObjArgs((PyObject *)&PyType_Type, nm, bases, ns, NULL);
    Py_XDECREF(bases);
    Py_XDECREF(ns);
    Py_XDECREF(nm);
    if (cls == NULL)
        return -1;
    *pub = (PyTypeObject *)cls;
    return 0;
#endif
}

static PyObject *
import_attr(const char *mod, const char *attr)
{
    PyObject *m = PyImport_ImportModule(mod);
    if (m == NULL)
        return NULL;
    PyObject *a = PyObject_GetAttrString(m, attr);
    Py_DECREF(m);
    return a;
}

static int
module_exec(PyObject *m)
{
    modstate *st = PyModule_GetState(m);
    PyObject *ot_span = NULL, *ot_ctx = NULL, *ot_scope = NULL, *ot_sm = NULL, *ot_tracer = NULL;
    int rc = -1;

#define INTERN(field, text) \
    if ((st->field = PyUnicode_InternFromString(text)) == NULL) goto done
    INTERN(fmt_text_map, "text_map");
    INTERN(fmt_http_headers, "http_headers");
    INTERN(fmt_binary, "binary");
    INTERN(ref_child_of, "child_of");
    INTERN(s_finish, "finish");
    INTERN(s_active, "active");
    INTERN(s_span, "span");
    INTERN(s_activate, "activate");
    INTERN(s_context, "context");
    INTERN(s_items, "items");
    INTERN(s_name, "__name__");
    INTERN(s_error, "error");
    INTERN(s_event, "event");
    INTERN(s_error_object, "error.object");
    INTERN(s_error_kind, "error.kind");
    INTERN(s_message, "message");
    INTERN(s_stack, "stack");
#undef INTERN
    for (int i = 0; i < K_COUNT; i++)
        if ((st->kw[i] = PyUnicode_InternFromString(kw_text[i])) == NULL)
            goto done;

    if ((ot_span = import_attr("opentracing", "Span")) == NULL
        || (ot_ctx = import_attr("opentracing", "SpanContext")) == NULL
        || (ot_scope = import_attr("opentracing", "Scope")) == NULL
        || (ot_sm = import_attr("opentracing", "ScopeManager")) == NULL
        || (ot_tracer = import_attr("opentracing", "Tracer")) == NULL
        || (st->exc_unsupported = import_attr("opentracing", "UnsupportedFormatException")) == NULL
        || (st->exc_invalid_carrier = import_attr("opentracing", "InvalidCarrierException")) == NULL
        || (st->exc_corrupted = import_attr("opentracing", "SpanContextCorruptedException")) == NULL
        || (st->ot_on_error = PyObject_GetAttrString(ot_span, "_on_error")) == NULL
        || (st->format_tb = import_attr("traceback", "format_tb")) == NULL
        || (st->json_loads = import_attr("json", "loads")) == NULL)
        goto done;

    if (make_type(m, &span_spec, ot_span, "Span", &st->span_base, &st->span_type) < 0
        || make_type(m, &ctx_spec, ot_ctx, "SpanContext", &st->ctx_base, &st->ctx_type) < 0
        || make_type(m, &scope_spec, ot_scope, "Scope", &st->scope_base, &st->scope_type) < 0
        || make_type(m, &tlsm_spec, ot_sm, "ThreadLocalScopeManager", &st->tlsm_base,
                     &st->tlsm_type) < 0
        || make_type(m, &cvsm_spec, ot_sm, "ContextVarsScopeManager", &st->cvsm_base,
                     &st->cvsm_type) < 0
        || make_type(m, &tracer_spec, ot_tracer, "Tracer", &st->tracer_base, &st->tracer_type) < 0)
        goto done;
    if (PyModule_AddObjectRef(m, "Span", (PyObject *)st->span_type) < 0
        || PyModule_AddObjectRef(m, "SpanContext", (PyObject *)st->ctx_type) < 0
        || PyModule_AddObjectRef(m, "Scope", (PyObject *)st->scope_type) < 0
        || PyModule_AddObjectRef(m, "ThreadLocalScopeManager", (PyObject *)st->tlsm_type) < 0
        || PyModule_AddObjectRef(m, "ContextVarsScopeManager", (PyObject *)st->cvsm_type) < 0
        || PyModule_AddObjectRef(m, "Tracer", (PyObject *)st->tracer_type) < 0
        || PyModule_AddStringConstant(m, "VERSION", TW_VERSION) < 0)
        goto done;
    rc = 0;
done:
    Py_XDECREF(ot_span);
    Py_XDECREF(ot_ctx);
    Py_XDECREF(ot_scope);
    Py_XDECREF(ot_sm);
    Py_XDECREF(ot_tracer);
    return rc;
}

#define STATE_OBJECTS(X) \
    X(span_base) X(ctx_base) X(scope_base) X(tracer_base) X(tlsm_base) X(cvsm_base) \
    X(span_type) X(ctx_type) X(scope_type) X(tracer_type) X(tlsm_type) X(cvsm_type) \
    X(exc_unsupported) X(exc_invalid_carrier) X(exc_corrupted) X(ot_on_error) \
    X(format_tb) X(json_loads) X(fmt_text_map) X(fmt_http_headers) X(fmt_binary) \
    X(ref_child_of) X(s_finish) X(s_active) X(s_span) X(s_activate) X(s_context) \
    X(s_items) X(s_name) X(s_error) X(s_event) X(s_error_object) X(s_error_kind) \
    X(s_message) X(s_stack)

static int
module_traverse(PyObject *m, visitproc visit, void *arg)
{
    modstate *st = PyModule_GetState(m);
    if (st == NULL)
        return 0;
#define V(f) Py_VISIT(st->f);
    STATE_OBJECTS(V)
#undef V
    for (int i = 0; i < 8; i++)
        Py_VISIT(st->hdr_cache[i]);
    return 0;
}

static int
module_clear(PyObject *m)
{
    modstate *st = PyModule_GetState(m);
    if (st == NULL)
        return 0;
#define C(f) Py_CLEAR(st->f);
    STATE_OBJECTS(C)
#undef C
    for (int i = 0; i < K_COUNT; i++)
        Py_CLEAR(st->kw[i]);
    for (int i = 0; i < 8; i++)
        Py_CLEAR(st->hdr_cache[i]);
    return 0;
}

static void
module_free(void *m)
{
    module_clear((PyObject *)m);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tracewire._core",
    .m_doc = "tracewire's C core, for Python (translation only; see tracewire.h).",
    .m_size = sizeof(modstate),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
