/* _core.h — what the files of the CPython binding share.
 *
 * The CPython face of tracewire, translation only.
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
 * is mapped to Python exceptions in one table (twpy_raise_status).
 *
 * Lifetimes: a Span holds a strong reference to its Tracer (the core requires
 * every span freed before its tracer); a SpanContext taken from a span holds
 * the span (the context pointer is borrowed from it); an extracted context
 * owns its tw_span_context. The GIL is released only around flush/close and
 * tracer teardown, whose core calls touch no span. The thread-local scope
 * manager keeps the active scope in a static TLS slot (or a pthread key) per
 * manager (owned reference), the contextvars one in a ContextVar. Freed
 * Span, Scope and bound __enter__/__exit__ objects are pooled in module
 * state for reuse (twpy_pool_take).
 *
 * One file per type, as the Lua binding (lua/src/) is split:
 *   _core_values.c    Python values -> core fields, the status -> exception
 *                     table, the keyword matcher, pair iteration
 *   _core_context.c   SpanContext
 *   _core_scope.c     Scope and the two scope managers
 *   _core_span.c      Span (tags, logs, baggage, the opentracing error record)
 *   _core_tracer.c    Tracer (start_span, flush/close, metrics, config)
 *   _core_carriers.c  Tracer.inject / Tracer.extract over Python carriers
 *   _core_queue.c     the Redis queue envelope and carrier text codecs
 *   _core_otel.c      the OpenTelemetry face's Span, Tracer and current-span
 *                     context manager (tracewire.otel subclasses them)
 *   _core_module.c    the module: state, type creation, PyInit__core
 *   _core_diag.c      the core's diagnostics into logging "jaeger_tracing"
 *                     (own header _core_diag.h: it needs no module state)
 * Cross-file names carry the twpy_ prefix; everything else is static. Only
 * PyInit__core is exported (hidden visibility plus setup.py's version script).
 */
#ifndef TWPY_CORE_H
#define TWPY_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "pycompat.h"     /* 3.9/3.10 spellings of the 3.11 API used here */
#include <structmember.h>
#include <math.h>
#include <string.h>

#include "tracewire.h"

/* ------------------------------------------------------------ module state */

enum { K_OPERATION_NAME, K_CHILD_OF, K_REFERENCES, K_TAGS, K_START_TIME,
       K_IGNORE_ACTIVE_SPAN, K_FINISH_ON_CLOSE, K_SPAN_CONTEXT, K_FORMAT, K_CARRIER,
       K_FINISH_TIME, K_KEY_VALUES, K_TIMESTAMP, K_SPAN, K_TIMEOUT, K_OPTIONS,
       K_SCOPE_MANAGER, K_CLEAR,
       /* the OpenTelemetry face (_core_otel.c) */
       K_NAME, K_CONTEXT, K_KIND, K_ATTRIBUTES, K_LINKS, K_RECORD_EXCEPTION,
       K_SET_STATUS_ON_EXCEPTION, K_END_ON_EXIT, K_END_TIME, K_STATUS, K_DESCRIPTION, K_KEY,
       K_VALUE, K_COUNT };

#define TWPY_POOL_MAX 32

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
    /* freed Span and Scope objects of the exact public types, kept for reuse
     * (twpy_pool_take / GC_FUNCS_POOLED): a span's allocation and free are
     * a third of its cost in the interpreter. Refcount 0, untracked, fields
     * zero; freed by module_clear while their types live. GIL-protected. */
    PyObject *span_pool[TWPY_POOL_MAX], *scope_pool[TWPY_POOL_MAX];
    int span_pooled, scope_pooled;
    /* the OpenTelemetry face (_core_otel.c): its C types and the OTel API
     * objects tracewire.otel gives once (otel_setup; NULL before) */
    PyTypeObject *otel_span_base, *otel_tracer_base, *otel_cur_type, *otel_curm_type;
    void *otel;
    /* __enter__/__exit__ of Span and Scope (_core_scope.c): descriptors whose
     * bound objects come from bound_pool */
    PyTypeObject *cm_desc_type, *cm_bound_type;
    PyObject *bound_pool[TWPY_POOL_MAX];
    int bound_pooled;
    /* freed OTel spans and current-span managers, kept for reuse as above */
    PyObject *otel_span_pool[TWPY_POOL_MAX], *otel_cur_pool[TWPY_POOL_MAX];
    int otel_span_pooled, otel_cur_pooled;
} modstate;

extern struct PyModuleDef twpy_core_module;   /* _core_module.c */

static inline modstate *
state_of(PyObject *obj)
{
    PyObject *m = PyType_GetModuleByDef(Py_TYPE(obj), &twpy_core_module);
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
    uint64_t failures_seen;       /* flush(): failures already answered for (_core_diag.c) */
    unsigned text_map_formats;    /* TEXT_MAP inject formats; 0: the configured ones. jaeger_client
                                   * with propagation 'b3' writes X-B3-* for HTTP_HEADERS only and
                                   * uber-trace-id for TEXT_MAP (its B3Codec serves HTTP_HEADERS) */
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
    int kind;                     /* the manager's SM_THREAD or SM_CONTEXTVARS */
    modstate *st;
} ScopeObject;

typedef struct ManagerObject {
    TW_OBJECT_HEAD
    PyObject *var;                /* contextvars manager: its ContextVar */
    /* thread-local manager: the per-thread active scope (an owned reference)
     * in one of the module's static TLS slots, else under a pthread key,
     * else (tls == TLS_NONE) in the thread-state dict */
    int tls;
    int slot;                     /* TLS_SLOT: index into twpy_tls_active */
    uint64_t owner;               /* TLS_SLOT: this manager's unique tag */
    Py_tss_t key;                 /* TLS_KEY */
} ManagerObject;

enum { TLS_NONE = 0, TLS_SLOT = 1, TLS_KEY = 2 };

/* A few thread-local managers (the tracer's default one, typically the only
 * one) keep the active scope in static TLS: a load and a compare, where a
 * pthread key costs a glibc call per read and per write (a tenth of an
 * active span). A slot read counts only when written by its current
 * owner; values left by a freed manager in other threads stay unreached,
 * as a deleted pthread key's do. */
#define TWPY_TLS_SLOTS 4
typedef struct twpy_tls_slot {
    uint64_t owner;
    PyObject *scope;
} twpy_tls_slot;
extern __thread twpy_tls_slot twpy_tls_active[TWPY_TLS_SLOTS];

/* Borrowed: the thread's active scope of m (tls != TLS_NONE), or NULL. */
static inline PyObject *
twpy_tlsm_get(ManagerObject *m)
{
    if (m->tls == TLS_SLOT) {
        twpy_tls_slot *e = &twpy_tls_active[m->slot];
        return e->owner == m->owner ? e->scope : NULL;
    }
    return (PyObject *)PyThread_tss_get(&m->key);
}

/* Stores scope (the caller moves a reference in, and out the old one it
 * read); 0 or -1 (pthread key failure, no exception set). */
static inline int
twpy_tlsm_set(ManagerObject *m, PyObject *scope)
{
    if (m->tls == TLS_SLOT) {
        twpy_tls_slot *e = &twpy_tls_active[m->slot];
        e->owner = m->owner;
        e->scope = scope;
        return 0;
    }
    return PyThread_tss_set(&m->key, scope);
}

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
extern PyMemberDef twpy_common_members[];     /* _core_module.c */
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

static inline int
head_traverse(PyObject *o, visitproc visit, void *arg)
{
    Py_VISIT(*head_dictptr(o));
    return 0;
}

static inline void
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
#define GC_SLOTS(X) GC_SLOTS_NOMEMBERS(X) {Py_tp_members, twpy_common_members},
#endif

/* An object of the exact public type tp: reused from pool[0..*n) when one
 * is there (fields zero), else allocated; tracked either way. */
static inline PyObject *
twpy_pool_take(PyTypeObject *tp, PyObject **pool, int *n)
{
    if (*n > 0) {
        PyObject *o = pool[--*n];
        PyObject_Init(o, tp);     /* type (a reference to it), refcount 1 */
        PyObject_GC_Track(o);
        return o;
    }
    return tp->tp_alloc(tp, 0);
}

/* The managed dict's values pointer (3.11's pre-header, next to the dict):
 * made only by object.__new__, which our types never run; checked anyway
 * before an object is pooled. */
static inline int
head_values_unset(PyObject *o)
{
#if TW_OT_DIRECT
    return ((PyObject **)o)[-4] == NULL;
#else
    (void)o;
    return 1;
#endif
}

/* As GC_FUNCS_LAYOUT, but an object of the exact public type (st->FIELD##_type)
 * goes back to st->FIELD##_pool when there is room. The module (so st) lives
 * while we hold tp: tp or its C base keeps the module (ht_module). */
#define GC_FUNCS_POOLED_LAYOUT(X, T, FIELD) \
    static void X##_dealloc(T *self) \
    { \
        PyTypeObject *tp = Py_TYPE(self); \
        modstate *st_ = X##_state(self); \
        PyObject_GC_UnTrack(self); \
        if (self->weakreflist) \
            PyObject_ClearWeakRefs((PyObject *)self); \
        X##_cleanup(self); \
        Py_CLEAR(*head_dictptr((PyObject *)self)); \
        if (st_ && tp == st_->FIELD##_type && st_->FIELD##_pooled < TWPY_POOL_MAX \
            && head_values_unset((PyObject *)self)) { \
            memset((char *)self + sizeof(PyObject), 0, sizeof(T) - sizeof(PyObject)); \
            st_->FIELD##_pool[st_->FIELD##_pooled++] = (PyObject *)self; \
        } else { \
            tp->tp_free(self); \
        } \
        Py_DECREF(tp); \
    }

#define GC_FUNCS_COMMON(X, T) \
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
    }
#define GC_FUNCS(X, T) GC_FUNCS_COMMON(X, T) GC_FUNCS_LAYOUT(X, T)
/* X##_state(self) must give the module state (or NULL) before cleanup. */
#define GC_FUNCS_POOLED(X, T, FIELD) GC_FUNCS_COMMON(X, T) GC_FUNCS_POOLED_LAYOUT(X, T, FIELD)

/* ------------------------------------------------------------ _core_values.c */

/* The one status -> exception table; always returns NULL with an exception set. */
PyObject *twpy_raise_status(modstate *st, tw_status s, const char *what);
/* Keyword matcher for METH_FASTCALL|METH_KEYWORDS: fills out[0..n) (borrowed,
 * NULL when absent) from positional args then keywords named by idx[]. */
int twpy_parse_args(modstate *st, const char *fname, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames, const int *idx, int n, PyObject **out);
/* Seconds (int or float, as time.time()) -> microseconds; None/NULL -> 0 (now). */
int twpy_seconds_to_us(PyObject *o, int64_t *us);
/* UTF-8 view of o (borrowed from o or from the new reference put in *tmp). */
const char *twpy_utf8_of(PyObject *o, Py_ssize_t *len, PyObject **tmp);
/* Python value -> tw_field; tmps[0..1] receive new references the field points into.
 * Tries twpy_key_fast / twpy_value_fast first, so both paths agree. */
int twpy_field_from_py(tw_field *f, PyObject *key, PyObject *val, PyObject **tmps);

/* The hot-path conversions, inline so every face (Span.set_tag, the OTel
 * span's attributes) pays no call: no temporary object is made. A str's text
 * is borrowed from the str itself: the compact ASCII data, or the UTF-8 copy
 * CPython caches in the str (PyUnicode_AsUTF8AndSize, made once per str
 * object). Each returns 1 when f is filled, 0 when the value needs the
 * general path (twpy_field_from_py: str(), bytes, big ints, lone surrogates;
 * no exception set), never -1. */
static inline int
twpy_str_fast(PyObject *o, const char **p, size_t *n)
{
    if (PyUnicode_IS_COMPACT_ASCII(o)) {
        *p = (const char *)PyUnicode_DATA(o);
        *n = (size_t)PyUnicode_GET_LENGTH(o);
        return 1;
    }
    Py_ssize_t len;
    const char *u = PyUnicode_AsUTF8AndSize(o, &len);
    if (u == NULL) {              /* lone surrogates: the general path replaces them */
        PyErr_Clear();
        return 0;
    }
    *p = u;
    *n = (size_t)len;
    return 1;
}

/* An exact str key. */
static inline int
twpy_key_fast(tw_field *f, PyObject *k)
{
    return PyUnicode_CheckExact(k) && twpy_str_fast(k, &f->key, &f->key_len);
}

/* An exact str, bool, int within int64 or float value. */
static inline int
twpy_value_fast(tw_field *f, PyObject *v)
{
    PyTypeObject *vt = Py_TYPE(v);
    if (vt == &PyUnicode_Type) {
        f->type = TW_VAL_STRING;
        return twpy_str_fast(v, &f->v.str.ptr, &f->v.str.len);
    }
    if (vt == &PyLong_Type) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow)             /* beyond int64: its decimal text, by the general path */
            return 0;
        f->type = TW_VAL_INT64;
        f->v.i64 = x;
        return 1;
    }
    if (vt == &PyFloat_Type) {
        f->type = TW_VAL_DOUBLE;
        f->v.f64 = PyFloat_AS_DOUBLE(v);
        return 1;
    }
    if (vt == &PyBool_Type) {
        f->type = TW_VAL_BOOL;
        f->v.b = v == Py_True;
        return 1;
    }
    return 0;
}

/* Calls fn(key, value) for each pair of a dict, of obj.items(), or of a
 * list/tuple of pairs. */
typedef int (*pair_fn)(void *ud, PyObject *k, PyObject *v);

/* A growable field list for log records; keeps the temporaries alive. */
typedef struct fieldlist {
    tw_field *f;
    PyObject **tmps;
    size_t n, cap;
    tw_field f_stack[8];
    PyObject *t_stack[16];
} fieldlist;

int twpy_foreach_pair(PyObject *obj, pair_fn fn, void *ud, modstate *st);

void twpy_fl_init(fieldlist *fl);
void twpy_fl_free(fieldlist *fl);
int twpy_fl_add(void *ud, PyObject *k, PyObject *v);       /* a pair_fn */

/* ------------------------------------------------------------ _core_attrs.c */

/* Module functions of the OTel face (arrays, links after start, scopes). */
PyObject *twpy_otel_set_attribute(PyObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *twpy_otel_add_event(PyObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *twpy_otel_add_link(PyObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *twpy_otel_scope(PyObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *twpy_otel_set_scope(PyObject *m, PyObject *const *args, Py_ssize_t nargs);
/* The same on a core span, for the OTel face's C span (_core_otel.c): 0, or
 * -1 with an exception. attrs: a mapping or None. */
int twpy_attrs_set(modstate *st, tw_span *s, PyObject *key, PyObject *value);
int twpy_attrs_log(modstate *st, tw_span *s, int64_t us, PyObject *name, PyObject *attrs);
int twpy_attrs_link_ids(modstate *st, tw_span *s, PyObject *trace_id, PyObject *span_id,
                        PyObject *flags, PyObject *tracestate, PyObject *attrs);
/* The core scope of a handle made by otel_scope for the core tracer t, or
 * NULL with an exception (not a handle, or another tracer's). */
const tw_scope *twpy_scope_of(PyObject *handle, TracerObject *t);

/* ------------------------------------------------------------ _core_context.c */

extern PyType_Spec twpy_ctx_spec;
/* New SpanContext: owned (stolen, freed even on failure) or ctx borrowed from owner. */
PyObject *twpy_context_new(modstate *st, const tw_span_context *ctx, tw_span_context *owned,
                           PyObject *owner);
/* A borrowed core context for a Span or SpanContext (ours), or for a foreign
 * opentracing span whose .context is ours (*keep receives that new ref).
 * NULL without error: not something we can parent on. */
const tw_span_context *twpy_ctx_of(modstate *st, PyObject *o, PyObject **keep);
/* Id getters, also read by Span's jaeger_client-style id properties. */
PyObject *twpy_ctx_get_trace_id(ContextObject *self, void *c);
PyObject *twpy_ctx_get_span_id(ContextObject *self, void *c);
PyObject *twpy_ctx_get_parent_id(ContextObject *self, void *c);
PyObject *twpy_ctx_get_flags(ContextObject *self, void *c);

/* ------------------------------------------------------------ _core_scope.c */

extern PyType_Spec twpy_scope_spec, twpy_tlsm_spec, twpy_cvsm_spec;
/* The context-manager protocol of Span and Scope. `with` looks __enter__ and
 * __exit__ up on the type and binds each to the object: with method
 * descriptors that is two new bound-method objects per `with`, a sixth of an
 * active span's cost. Our own descriptors bind from a pool instead. */
typedef PyObject *(*twpy_exit_fn)(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
extern PyType_Spec twpy_cm_desc_spec, twpy_cm_bound_spec;
typedef PyObject *(*twpy_enter_fn)(PyObject *self);
/* Sets __enter__ (returns self) and __exit__ (exit_fn) on the C type tp. */
int twpy_cm_install(modstate *st, PyTypeObject *tp, twpy_exit_fn exit_fn);
/* The same with __enter__'s own body (the OTel face's current-span manager). */
int twpy_cm_install_enter(modstate *st, PyTypeObject *tp, twpy_enter_fn enter_fn,
                          twpy_exit_fn exit_fn);
/* `obj.__enter__` (is_exit 0) / `obj.__exit__` (1) made by the type itself,
 * new reference: the OTel current-span manager hands out method objects
 * that live inside it (_core_otel.c), no allocation per `with`. */
typedef PyObject *(*twpy_bind_fn)(PyObject *self, int is_exit);
/* As twpy_cm_install_enter, binding with bind_fn (the unbound calls
 * Type.__enter__(obj) / Type.__exit__(obj, ...) still run enter_fn/exit_fn). */
int twpy_cm_install_bind(modstate *st, PyTypeObject *tp, twpy_enter_fn enter_fn,
                         twpy_exit_fn exit_fn, twpy_bind_fn bind_fn);
PyObject *twpy_scope_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
/* New reference to the active scope, or NULL (none, or error if set). */
PyObject *twpy_manager_active(modstate *st, PyObject *mgr, int kind);
/* SM_THREAD, SM_CONTEXTVARS or SM_FOREIGN for a scope manager object. */
int twpy_manager_kind(modstate *st, PyObject *mgr);
/* New Scope for span made active in mgr. */
PyObject *twpy_scope_activate(modstate *st, PyObject *mgr, int kind, PyObject *span,
                              int finish_on_close);

/* ------------------------------------------------------------ _core_span.c */

extern PyType_Spec twpy_span_spec;
/* A new Span of the public type holding sp (owned; NULL: a span that records
 * nothing) and a reference to t; NULL with an exception (sp freed). */
PyObject *twpy_span_wrap(TracerObject *t, tw_span *sp);
/* A pair_fn setting one tag on the SpanObject ud. */
int twpy_tag_pair(void *ud, PyObject *k, PyObject *v);
/* The opentracing 2.x error record on span (ours or foreign) for an exception. */
int twpy_record_error(modstate *st, PyObject *span, PyObject *et, PyObject *ev, PyObject *tb);
/* span.finish() as the opentracing harness may have patched it; 0 or -1. */
int twpy_call_finish(modstate *st, PyObject *span);
PyObject *twpy_span_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* ------------------------------------------------------------ _core_tracer.c */

extern PyType_Spec twpy_tracer_spec;
/* The core tracer, or NULL with RuntimeError once it was cleaned up. */
tw_tracer *twpy_tracer_core(TracerObject *t);
/* Frees the core tracer now (GIL released); t->tracer becomes NULL. */
void twpy_tracer_release_core(TracerObject *t);

/* ------------------------------------------------------------ _core_carriers.c */

PyObject *twpy_tracer_inject(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);
PyObject *twpy_tracer_extract(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);

/* ------------------------------------------------------------ _core_otel.c */

extern PyType_Spec twpy_otel_span_spec, twpy_otel_tracer_spec, twpy_otel_current_spec,
    twpy_otel_curm_spec;
/* module function otel_setup(**objects) */
PyObject *twpy_otel_setup(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
int twpy_otel_traverse(modstate *st, visitproc visit, void *arg);
/* After the types are made: their __enter__/__exit__ (twpy_cm_install). */
int twpy_otel_types_ready(modstate *st);
void twpy_otel_clear(modstate *st);

/* ------------------------------------------------------------ _core_queue.c */

/* module functions: envelope_encode, envelope_decode, carrier_parse,
 * carrier_format, header_names */
PyObject *twpy_envelope_encode(PyObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *twpy_envelope_decode(PyObject *m, PyObject *raw);
PyObject *twpy_carrier_parse(PyObject *m, PyObject *text);
PyObject *twpy_carrier_format(PyObject *m, PyObject *pairs);
PyObject *twpy_header_names(PyObject *m, PyObject *unused);

#endif /* TWPY_CORE_H */
