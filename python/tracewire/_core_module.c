/* _core_module.c — the tracewire._core module: state, type creation, init.
 *
 * Module state (not C globals) holds the types, the interned names and the
 * opentracing classes each C type subclasses (see make_type). Multi-phase
 * init (Py_mod_exec); only PyInit__core is exported.
 */
#include "_core.h"
#include "_core_diag.h"

static const char *const kw_text[K_COUNT] = {
    "operation_name", "child_of", "references", "tags", "start_time",
    "ignore_active_span", "finish_on_close", "span_context", "format", "carrier",
    "finish_time", "key_values", "timestamp", "span", "timeout", "options",
    "scope_manager", "clear",
    "name", "context", "kind", "attributes", "links", "record_exception",
    "set_status_on_exception", "end_on_exit", "end_time", "status", "description", "key",
    "value",
};

#if !TW_OT_DIRECT
/* the members every type shares (weakref and dict offsets); see _core.h */
PyMemberDef twpy_common_members[] = {
    COMMON_MEMBERS
    {NULL, 0, 0, 0, NULL},
};
#endif

/* ------------------------------------------------------------ module */

static PyObject *
mod_now(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    return PyLong_FromLongLong((long long)tw_now_us());
}

/* A config key as the core takes it: str without NUL (else *k is NULL: no
 * key of the table), or -1 with TypeError. */
static int
config_key_text(PyObject *key, const char **k)
{
    Py_ssize_t kl;
    *k = PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &kl) : NULL;
    if (*k == NULL) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "config key must be str, not %.100s", Py_TYPE(key)->tp_name);
        return -1;
    }
    if (strlen(*k) != (size_t)kl)
        *k = NULL;
    return 0;
}

static PyObject *
mod_config_key_known(PyObject *m, PyObject *key)
{
    (void)m;
    const char *k;
    if (config_key_text(key, &k) < 0)
        return NULL;
    return PyBool_FromLong(k && tw_config_key_known(k));
}

static PyObject *
mod_config_key_is_group(PyObject *m, PyObject *key)
{
    (void)m;
    const char *k;
    if (config_key_text(key, &k) < 0)
        return NULL;
    return PyBool_FromLong(k && tw_config_key_is_group(k));
}

static PyMethodDef module_methods[] = {
    {"now_us", mod_now, METH_NOARGS, "now_us() -> int: the core's wall clock (µs)"},
    {"config_key_known", mod_config_key_known, METH_O,
     "config_key_known(key) -> bool: whether the core's key table has key (flattened with dots)"},
    {"config_key_is_group", mod_config_key_is_group, METH_O,
     "config_key_is_group(key) -> bool: whether key is a group switch (throttler, ...) that an "
     "empty nested dict turns on (tw_config_key_is_group)"},
    {"envelope_encode", (PyCFunction)(void (*)(void))twpy_envelope_encode, METH_FASTCALL,
     "envelope_encode(payload, carrier, enqueue_us) -> bytes: a Redis queue envelope"},
    {"envelope_decode", twpy_envelope_decode, METH_O,
     "envelope_decode(raw) -> None (plain item) or (payload, carrier, enqueue_us); "
     "ValueError for a corrupted envelope"},
    {"carrier_parse", twpy_carrier_parse, METH_O,
     "carrier_parse(text) -> {lower-case name: value}; ValueError for text the core refuses"},
    {"carrier_format", twpy_carrier_format, METH_O,
     "carrier_format([(name, value), ...]) -> str: carrier text by the core's writer; "
     "ValueError for a name or value carrier text cannot hold"},
    {"otel_setup", (PyCFunction)(void (*)(void))twpy_otel_setup, METH_FASTCALL | METH_KEYWORDS,
     "otel_setup(**objects): the OpenTelemetry API objects tracewire.otel's C types use "
     "(called once by tracewire.otel)"},
    {"header_names", twpy_header_names, METH_NOARGS,
     "header_names() -> ((name, is_prefix), ...): every propagation header name the core "
     "reads or writes, default names"},
    {"otel_set_attribute", (PyCFunction)(void (*)(void))twpy_otel_set_attribute, METH_FASTCALL,
     "otel_set_attribute(span, key, value): an attribute; list/tuple -> an OTel array"},
    {"otel_add_event", (PyCFunction)(void (*)(void))twpy_otel_add_event, METH_FASTCALL,
     "otel_add_event(span, name, attributes, timestamp): an event (sequences -> arrays)"},
    {"otel_add_link", (PyCFunction)(void (*)(void))twpy_otel_add_link, METH_FASTCALL,
     "otel_add_link(span, trace_id, span_id, trace_flags, tracestate, attributes): a link "
     "with attributes, also after start"},
    {"otel_scope", (PyCFunction)(void (*)(void))twpy_otel_scope, METH_FASTCALL,
     "otel_scope(tracer, name, version, schema_url, attributes) -> scope handle"},
    {"otel_set_scope", (PyCFunction)(void (*)(void))twpy_otel_set_scope, METH_FASTCALL,
     "otel_set_scope(span, scope): the span's instrumentation scope"},
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
    /* The interpreter's specialized calls of a C method (3.11+: ..._METHOD_
     * DESCRIPTOR_FAST) require self's type to be the method's own type, and
     * every other call checks it as a subtype: the C methods are bound again
     * on the public class, so calls on its instances take the fast road. */
    for (PyMethodDef *d = (*base)->tp_methods; d != NULL && d->ml_name != NULL; d++) {
        PyObject *descr = PyDescr_NewMethod((PyTypeObject *)cls, d);
        int rc = descr ? PyObject_SetAttrString(cls, d->ml_name, descr) : -1;
        Py_XDECREF(descr);
        if (rc < 0) {
            Py_DECREF(cls);
            return -1;
        }
    }
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

    if (make_type(m, &twpy_span_spec, ot_span, "Span", &st->span_base, &st->span_type) < 0
        || make_type(m, &twpy_ctx_spec, ot_ctx, "SpanContext", &st->ctx_base, &st->ctx_type) < 0
        || make_type(m, &twpy_scope_spec, ot_scope, "Scope", &st->scope_base, &st->scope_type) < 0
        || make_type(m, &twpy_tlsm_spec, ot_sm, "ThreadLocalScopeManager", &st->tlsm_base,
                     &st->tlsm_type) < 0
        || make_type(m, &twpy_cvsm_spec, ot_sm, "ContextVarsScopeManager", &st->cvsm_base,
                     &st->cvsm_type) < 0
        || make_type(m, &twpy_tracer_spec, ot_tracer, "Tracer", &st->tracer_base, &st->tracer_type) < 0)
        goto done;
    if ((st->cm_desc_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &twpy_cm_desc_spec, NULL)) == NULL
        || (st->cm_bound_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &twpy_cm_bound_spec, NULL)) == NULL
        || twpy_cm_install(st, st->span_base, twpy_span_exit) < 0
        || twpy_cm_install(st, st->scope_base, twpy_scope_exit) < 0)
        goto done;
    if (PyModule_AddObjectRef(m, "Span", (PyObject *)st->span_type) < 0
        || PyModule_AddObjectRef(m, "SpanContext", (PyObject *)st->ctx_type) < 0
        || PyModule_AddObjectRef(m, "Scope", (PyObject *)st->scope_type) < 0
        || PyModule_AddObjectRef(m, "ThreadLocalScopeManager", (PyObject *)st->tlsm_type) < 0
        || PyModule_AddObjectRef(m, "ContextVarsScopeManager", (PyObject *)st->cvsm_type) < 0
        || PyModule_AddObjectRef(m, "Tracer", (PyObject *)st->tracer_type) < 0
        || PyModule_AddStringConstant(m, "VERSION", TW_VERSION) < 0)
        goto done;
    /* the OpenTelemetry face's C types (plain bases: tracewire.otel subclasses them) */
    if ((st->otel_span_base = (PyTypeObject *)PyType_FromModuleAndSpec(m, &twpy_otel_span_spec,
                                                                       NULL)) == NULL
        || (st->otel_tracer_base = (PyTypeObject *)PyType_FromModuleAndSpec(
                m, &twpy_otel_tracer_spec, NULL)) == NULL
        || (st->otel_cur_type = (PyTypeObject *)PyType_FromModuleAndSpec(
                m, &twpy_otel_current_spec, NULL)) == NULL
        || (st->otel_curm_type = (PyTypeObject *)PyType_FromModuleAndSpec(
                m, &twpy_otel_curm_spec, NULL)) == NULL
        || PyModule_AddObjectRef(m, "OtelSpan", (PyObject *)st->otel_span_base) < 0
        || PyModule_AddObjectRef(m, "OtelTracer", (PyObject *)st->otel_tracer_base) < 0
        || PyModule_AddObjectRef(m, "OtelCurrentSpan", (PyObject *)st->otel_cur_type) < 0
        || twpy_otel_types_ready(st) < 0)
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
    X(s_message) X(s_stack) X(otel_span_base) X(otel_tracer_base) X(otel_cur_type) \
    X(otel_curm_type) X(cm_desc_type) X(cm_bound_type)

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
    return twpy_otel_traverse(st, visit, arg);
}

static int
module_clear(PyObject *m)
{
    modstate *st = PyModule_GetState(m);
    if (st == NULL)
        return 0;
    /* pooled objects first: freeing one reads its type */
    while (st->span_pooled > 0)
        PyObject_GC_Del(st->span_pool[--st->span_pooled]);
    while (st->scope_pooled > 0)
        PyObject_GC_Del(st->scope_pool[--st->scope_pooled]);
    while (st->bound_pooled > 0)
        PyObject_GC_Del(st->bound_pool[--st->bound_pooled]);
    twpy_otel_clear(st);          /* its pools too, and the OTel objects it was given */
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
    {Py_mod_exec, twpy_diag_exec},
    {0, NULL},
};

struct PyModuleDef twpy_core_module = {
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
    return PyModuleDef_Init(&twpy_core_module);
}
