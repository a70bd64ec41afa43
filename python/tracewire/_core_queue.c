/* _core_queue.c — the core's queue codecs for Python: the Redis queue
 * envelope and the carrier text (tracewire.h, "queue envelope" and "carrier
 * text").
 *
 * redis_queue.py's wrap / unwrap / parse_carrier / format_carrier call these, so Python reads
 * and writes exactly the bytes the Redis module does, with the module's own
 * code: one codec for C, Python and Lua. Module-level functions, no type.
 * Byte inputs go through the buffer protocol (bytes, bytearray, memoryview),
 * str inputs as UTF-8; carrier text read from a value (bytes) comes back as
 * latin-1 str, so every byte survives a round trip.
 */
#include "_core.h"

/* A read-only view of bytes-like or str o. *view is filled for bytes-likes
 * (release with PyBuffer_Release when view->obj is set); str borrows its
 * UTF-8 (or a temporary kept in *tmp). */
static const char *
bytes_of(PyObject *o, Py_ssize_t *len, Py_buffer *view, PyObject **tmp, int *is_str)
{
    view->obj = NULL;
    *tmp = NULL;
    *is_str = PyUnicode_Check(o);
    if (*is_str)
        return twpy_utf8_of(o, len, tmp);
    if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) < 0)
        return NULL;
    *len = view->len;
    return view->buf;
}

static void
release(Py_buffer *view, PyObject *tmp)
{
    if (view->obj)
        PyBuffer_Release(view);
    Py_XDECREF(tmp);
}

/* envelope_encode(payload, carrier, enqueue_us) -> bytes */
PyObject *
twpy_envelope_encode(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    (void)m;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "envelope_encode(payload, carrier, enqueue_us)");
        return NULL;
    }
    PyObject *out = NULL, *ptmp = NULL, *ctmp = NULL;
    Py_buffer pv = {0}, cv = {0};
    Py_ssize_t plen = 0, clen = 0;
    int is_str;
    long long enq = PyLong_AsLongLong(args[2]);
    if (enq == -1 && PyErr_Occurred())
        goto done;
    const char *p = bytes_of(args[0], &plen, &pv, &ptmp, &is_str);
    if (p == NULL)
        goto done;
    const char *c = bytes_of(args[1], &clen, &cv, &ctmp, &is_str);
    if (c == NULL)
        goto done;
    size_t need = tw_envelope_size((size_t)clen, (size_t)plen);
    if (need == 0 || need > PY_SSIZE_T_MAX) {
        PyErr_SetString(PyExc_OverflowError, "envelope part longer than 4 GiB");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)need);
    if (out == NULL)
        goto done;
    tw_envelope_encode(PyBytes_AS_STRING(out), (int64_t)enq, c, (size_t)clen, p, (size_t)plen);
done:
    release(&pv, ptmp);
    release(&cv, ctmp);
    return out;
}

/* envelope_decode(raw) -> None for a plain item, else (payload: bytes,
 * carrier: str (latin-1), enqueue_us: int); ValueError naming the damage for
 * a corrupted envelope. */
PyObject *
twpy_envelope_decode(PyObject *m, PyObject *raw)
{
    (void)m;
    Py_buffer view;
    if (PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    tw_envelope env;
    const char *why;
    PyObject *out = NULL;
    tw_status st = tw_envelope_decode(view.buf, (size_t)view.len, &env, &why);
    if (st == TW_ERR_NOT_FOUND)
        out = Py_NewRef(Py_None);
    else if (st != TW_OK)
        PyErr_SetString(PyExc_ValueError, why);
    else
        out = Py_BuildValue("(y#NL)", env.payload, (Py_ssize_t)env.payload_len,
                            PyUnicode_DecodeLatin1(env.carrier, (Py_ssize_t)env.carrier_len, NULL),
                            (long long)env.enqueue_us);
    PyBuffer_Release(&view);
    return out;
}

/* carrier_parse(text) -> {lower-case name: value}; ValueError with the
 * core's reason for text it refuses. Values of str text come back as they
 * were; of bytes text, decoded latin-1. */
PyObject *
twpy_carrier_parse(PyObject *m, PyObject *text)
{
    (void)m;
    PyObject *tmp = NULL, *dict = NULL;
    Py_buffer view = {0};
    Py_ssize_t len;
    int is_str;
    const char *s = bytes_of(text, &len, &view, &tmp, &is_str);
    if (s == NULL)
        goto done;
    tw_carrier_text *c = PyMem_Malloc(sizeof *c);     /* ~2 KiB: off the C stack */
    if (c == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const char *why;
    if (tw_carrier_text_parse(s, (size_t)len, c, &why) != TW_OK) {
        PyErr_SetString(PyExc_ValueError, why);
        PyMem_Free(c);
        goto done;
    }
    dict = PyDict_New();
    for (size_t i = 0; dict && i < c->n; i++) {
        const struct tw_carrier_text_entry *e = &c->e[i];
        /* names are header tokens (ASCII): lower-cased here, as extract matches */
        PyObject *name = PyUnicode_New((Py_ssize_t)e->name_len, 127);
        PyObject *val = NULL;
        if (name) {
            Py_UCS1 *d = PyUnicode_1BYTE_DATA(name);
            for (size_t k = 0; k < e->name_len; k++) {
                char ch = e->name[k];
                d[k] = (Py_UCS1)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
            }
            val = is_str ? PyUnicode_DecodeUTF8(e->val, (Py_ssize_t)e->val_len, NULL)
                         : PyUnicode_DecodeLatin1(e->val, (Py_ssize_t)e->val_len, NULL);
        }
        if (val == NULL || PyDict_SetItem(dict, name, val) < 0)
            Py_CLEAR(dict);
        Py_XDECREF(name);
        Py_XDECREF(val);
    }
    PyMem_Free(c);
done:
    release(&view, tmp);
    return dict;
}

/* carrier_format(pairs) -> str: [(name, value), ...] (str each) through the
 * core's carrier text writer, in the given order; ValueError with the core's
 * reason for a name or value the text cannot hold (the parser would refuse
 * it). */
PyObject *
twpy_carrier_format(PyObject *m, PyObject *pairs)
{
    (void)m;
    PyObject *seq = PySequence_Fast(pairs, "carrier_format(pairs): a sequence of (name, value)");
    if (seq == NULL)
        return NULL;
    PyObject *res = NULL;
    char *buf = PyMem_Malloc(TW_CARRIER_TEXT_MAX_BYTES + 1);   /* 16 KiB: off the C stack */
    if (buf == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    tw_carrier_text_writer w;
    tw_carrier_text_writer_init(&w, buf, TW_CARRIER_TEXT_MAX_BYTES + 1);
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *p = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(p, 0)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(p, 1))) {
            PyErr_SetString(PyExc_TypeError, "carrier_format(pairs): each pair is (str, str)");
            goto done;
        }
        Py_ssize_t nl, vl;
        const char *n = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(p, 0), &nl);
        const char *v = n ? PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(p, 1), &vl) : NULL;
        if (v == NULL)
            goto done;
        if (tw_carrier_text_put(&w, n, (size_t)nl, v, (size_t)vl) != 0) {
            PyErr_SetString(PyExc_ValueError, w.why);
            goto done;
        }
    }
    res = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)w.len, NULL);
done:
    PyMem_Free(buf);
    Py_DECREF(seq);
    return res;
}

static int
add_header_name(void *ud, const char *name, size_t len, int is_prefix)
{
    PyObject *item = Py_BuildValue("(s#O)", name, (Py_ssize_t)len, is_prefix ? Py_True : Py_False);
    if (item == NULL || PyList_Append((PyObject *)ud, item) < 0) {
        Py_XDECREF(item);
        return 1;
    }
    Py_DECREF(item);
    return 0;
}

/* header_names() -> ((name, is_prefix), ...): every header name the core
 * injects or extracts, under the default names (tw_header_names): the
 * stream entry fields redis_queue reads back as the carrier, the list the
 * Redis module uses. */
PyObject *
twpy_header_names(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    tw_header_names(TW_PROP_ALL, add_header_name, list);
    if (PyErr_Occurred()) {
        Py_DECREF(list);
        return NULL;
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}
