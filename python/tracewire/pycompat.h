/* pycompat.h — the CPython C API the extension uses, on every CPython it supports.
 *
 * The extension (_core_*.c, through _core.h) is written against the 3.11+ API; pyproject.toml promises 3.9 and
 * up, and tests/python/run.sh runs the suite on each of 3.9 … 3.13. The handful of
 * names that appeared after 3.9 are provided here, each with the exact meaning
 * the newer CPython gives it, so the extension's own files need no version tests.
 * Include it right after <Python.h>. Nothing here is defined on a CPython that
 * already has the name.
 *
 *   name                                  public since   here, before that
 *   Py_NewRef / Py_XNewRef                3.10           static inline
 *   PyModule_AddObjectRef                 3.10           static inline (does not steal)
 *   Py_TPFLAGS_DISALLOW_INSTANTIATION     3.10           bit 7 (3.10's bit, free in 3.9),
 *                                                        honoured by PyType_FromModuleAndSpec below
 *   PyType_GetModuleByDef                 3.11           3.10: its private _PyType_GetModuleByDef;
 *                                                        3.9: the same MRO walk over ht_module
 */
#ifndef TW_PYCOMPAT_H
#define TW_PYCOMPAT_H

#include <Python.h>

#if PY_VERSION_HEX < 0x03090000
#  error "tracewire needs CPython 3.9 or newer"
#endif

#if PY_VERSION_HEX < 0x030A0000

static inline PyObject *
tw_compat_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

static inline PyObject *
tw_compat_XNewRef(PyObject *o)
{
    Py_XINCREF(o);
    return o;
}

#define Py_NewRef(o) tw_compat_NewRef((PyObject *)(o))
#define Py_XNewRef(o) tw_compat_XNewRef((PyObject *)(o))

/* New reference to value for the module; unlike PyModule_AddObject it never
 * steals, also on success (3.10's contract). */
static inline int
tw_compat_AddObjectRef(PyObject *mod, const char *name, PyObject *value)
{
    if (value == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "PyModule_AddObjectRef() must be called with an exception raised if value is NULL");
        return -1;
    }
    Py_INCREF(value);
    if (PyModule_AddObject(mod, name, value) < 0) {
        Py_DECREF(value);
        return -1;
    }
    return 0;
}
#define PyModule_AddObjectRef tw_compat_AddObjectRef

/* 3.10 gives types created with this flag tp_new = NULL, so calling the type
 * raises TypeError ("cannot create '…' instances"). 3.9 does not know bit 7
 * and leaves it in tp_flags; the wrapper below clears it and applies the same
 * rule once the type is ready. */
#define Py_TPFLAGS_DISALLOW_INSTANTIATION (1UL << 7)

static inline PyObject *
tw_compat_FromModuleAndSpec(PyObject *module, PyType_Spec *spec, PyObject *bases)
{
    PyObject *t = (PyType_FromModuleAndSpec)(module, spec, bases);
    if (t != NULL && (((PyTypeObject *)t)->tp_flags & Py_TPFLAGS_DISALLOW_INSTANTIATION)) {
        ((PyTypeObject *)t)->tp_flags &= ~Py_TPFLAGS_DISALLOW_INSTANTIATION;
        ((PyTypeObject *)t)->tp_new = NULL;
    }
    return t;
}
#define PyType_FromModuleAndSpec tw_compat_FromModuleAndSpec

#endif /* < 3.10 */

#if PY_VERSION_HEX < 0x030B0000
/* Borrowed reference to the module whose def is def, from the first heap type
 * in type's MRO created by PyType_FromModuleAndSpec for it; TypeError if none. */
#  if PY_VERSION_HEX >= 0x030A0000
#    define PyType_GetModuleByDef(type, def) _PyType_GetModuleByDef((type), (def))
#  else
static inline PyObject *
tw_compat_GetModuleByDef(PyTypeObject *type, struct PyModuleDef *def)
{
    PyObject *mro = type->tp_mro;
    Py_ssize_t n = mro ? PyTuple_GET_SIZE(mro) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *m = ((PyHeapTypeObject *)t)->ht_module;
        if (m != NULL && PyModule_GetDef(m) == def)
            return m;
    }
    PyErr_Format(PyExc_TypeError, "PyType_GetModuleByDef: No superclass of '%s' has the given module",
                 type->tp_name);
    return NULL;
}
#    define PyType_GetModuleByDef(type, def) tw_compat_GetModuleByDef((type), (def))
#  endif
#endif /* < 3.11 */

#endif /* TW_PYCOMPAT_H */
