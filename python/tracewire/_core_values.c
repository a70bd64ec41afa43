/* _core_values.c — Python values into the core's terms, shared by every type.
 *
 * The status -> exception table, the METH_FASTCALL keyword matcher over
 * interned names, seconds -> microseconds, str -> UTF-8 views that borrow
 * whenever the str is compact ASCII (no copy on the hot path), Python values
 * -> tw_field, and iteration over dicts / items() / pair lists. No type lives
 * here: these are the translations the type files share.
 */
#include "_core.h"

/* ------------------------------------------------------------ helpers */

/* The one status -> exception table. */
PyObject *
twpy_raise_status(modstate *st, tw_status s, const char *what)
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
int
twpy_parse_args(modstate *st, const char *fname, PyObject *const *args, Py_ssize_t nargs,
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
int
twpy_seconds_to_us(PyObject *o, int64_t *us)
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
const char *
twpy_utf8_of(PyObject *o, Py_ssize_t *len, PyObject **tmp)
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

/* Python value -> tw_field: the inline fast conversions (_core.h) first, then
 * everything else. tmps receives up to two new references the field
 * points into; the caller releases them after the core call. bool is tested
 * before int (bool is an int); ints beyond int64 become their decimal text;
 * bytes become BINARY; None and other objects become str(obj). */
int
twpy_field_from_py(tw_field *f, PyObject *key, PyObject *val, PyObject **tmps)
{
    Py_ssize_t n;
    tmps[0] = tmps[1] = NULL;
    if (!twpy_key_fast(f, key)) {
        f->key = twpy_utf8_of(key, &n, &tmps[0]);
        if (f->key == NULL)
            return -1;
        f->key_len = (size_t)n;
    }
    if (twpy_value_fast(f, val))
        return 0;
    if (PyBool_Check(val)) {
        f->type = TW_VAL_BOOL;
        f->v.b = val == Py_True;
    } else if (PyUnicode_Check(val)) {
        f->type = TW_VAL_STRING;
        f->v.str.ptr = twpy_utf8_of(val, &n, &tmps[1]);
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
            f->v.str.ptr = twpy_utf8_of(val, &n, &tmps[1]);
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
        f->v.str.ptr = twpy_utf8_of(val, &n, &tmps[1]);
        if (f->v.str.ptr == NULL)
            return -1;
        f->v.str.len = (size_t)n;
    }
    return 0;
}

int
twpy_foreach_pair(PyObject *obj, pair_fn fn, void *ud, modstate *st)
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

void
twpy_fl_init(fieldlist *fl)
{
    fl->f = fl->f_stack;
    fl->tmps = fl->t_stack;
    fl->n = 0;
    fl->cap = 8;
}

void
twpy_fl_free(fieldlist *fl)
{
    for (size_t i = 0; i < 2 * fl->n; i++)
        Py_XDECREF(fl->tmps[i]);
    if (fl->f != fl->f_stack) {
        PyMem_Free(fl->f);
        PyMem_Free(fl->tmps);
    }
}

int
twpy_fl_add(void *ud, PyObject *k, PyObject *v)
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
    if (twpy_field_from_py(&fl->f[fl->n], k, v, t) != 0) {
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
