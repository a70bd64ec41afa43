/* _core_diag.h — the Python route of the core's diagnostics hook (_core_diag.c). */
#ifndef TWPY_CORE_DIAG_H
#define TWPY_CORE_DIAG_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "tracewire.h"

/* Routes cfg's diagnostics, and the log exporter's span lines, to
 * logging.getLogger("jaeger_tracing"). */
void twpy_diag_attach(tw_config *cfg);

/* Py_mod_exec slot: registers the interpreter-exit handler. 0 or -1. */
int twpy_diag_exec(PyObject *m);

/* Failures since the previous call for this tracer: send_failures plus every
 * dropped_* counter. *seen holds the total already answered for. */
int twpy_diag_failed_since(const tw_tracer *t, uint64_t *seen);

#endif
