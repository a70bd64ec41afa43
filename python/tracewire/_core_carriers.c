/* _core_carriers.c — Tracer.inject and Tracer.extract over Python carriers.
 *
 * The core parses and writes the headers (whatever propagation the tracer is
 * configured with); this file only walks Python carriers (dicts, mappings,
 * lists of pairs, bytearrays for the binary format) and maps formats.
 * Injected header names are cached as str objects in module state, since the
 * same few names come back on every call.
 */
#include "_core.h"

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

PyObject *
twpy_tracer_inject(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_SPAN_CONTEXT, K_FORMAT, K_CARRIER};
    TracerObject *t = (TracerObject *)self;
    modstate *st = t->st;
    PyObject *a[3], *keep = NULL;
    if (twpy_parse_args(st, "inject", args, nargs, kwnames, idx, 3, a) < 0)
        return NULL;
    if (a[0] == NULL || a[1] == NULL || a[2] == NULL) {
        PyErr_SetString(PyExc_TypeError, "inject(span_context, format, carrier)");
        return NULL;
    }
    if (twpy_tracer_core(t) == NULL)
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
    const tw_span_context *c = twpy_ctx_of(st, a[0], &keep);
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
            return twpy_raise_status(st, s, "inject");
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
    unsigned formats = TW_PROP_DEFAULT;
    if (t->text_map_formats && (a[1] == st->fmt_text_map ||
                                (PyUnicode_Check(a[1]) && PyUnicode_Compare(a[1], st->fmt_text_map) == 0)))
        formats = t->text_map_formats;
    tw_status s = tw_tracer_inject(t->tracer, c, formats, inject_set, &iu);
    if (PyErr_Occurred())
        return NULL;
    if (s != TW_OK)
        return twpy_raise_status(st, s, "inject");
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
    int rc = twpy_foreach_pair(src, walk_pair, w, w->st);
    if (rc < 0 || PyErr_Occurred()) {
        w->pyerr = 1;
        return 1;
    }
    return 0;
}

PyObject *
twpy_tracer_extract(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const int idx[] = {K_FORMAT, K_CARRIER};
    TracerObject *t = (TracerObject *)self;
    modstate *st = t->st;
    PyObject *a[2];
    tw_span_context *out = NULL;
    tw_status s;
    if (twpy_parse_args(st, "extract", args, nargs, kwnames, idx, 2, a) < 0)
        return NULL;
    if (a[0] == NULL || a[1] == NULL) {
        PyErr_SetString(PyExc_TypeError, "extract(format, carrier)");
        return NULL;
    }
    if (twpy_tracer_core(t) == NULL)
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
        return twpy_raise_status(st, s, "extract");
    }
    return twpy_context_new(st, NULL, out, NULL);
}
