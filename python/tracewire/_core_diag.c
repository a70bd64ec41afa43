/* _core_diag.c — failures speak in Python: the core's diagnostics hook routed
 * to logging.getLogger("jaeger_tracing"), jaeger_client's logger.
 *
 * The core calls the hook on its reporter thread (and on close()'s thread for
 * the last words), never on the thread that finishes spans, at most once per
 * kind per 10 s after the first. The hook takes the GIL with
 * PyGILState_Ensure and calls logger.error(message) with the kind, status
 * and count in the record's `extra` (tracewire_kind, tracewire_status,
 * tracewire_count).
 *
 * Taking the GIL from a foreign thread has two traps, both handled here:
 *   - interpreter exit: once finalization started, a thread asking for the
 *     GIL is parked or killed by CPython (it would hold the reporter forever).
 *     An atexit handler (registered when the module loads, so it runs after
 *     the atexit closes of tracers made later) stops the route first: it sets
 *     `closing`, then waits, GIL released, for hooks already inside Python to
 *     leave. A hook that sees `closing` writes its line to stderr instead, so
 *     the last words of a tracer freed during finalization are not lost.
 *     The counter and the flag are ordered (seq_cst) so a hook either sees
 *     the flag or is waited for.
 *   - fork: a hook that was waiting for the GIL in the parent does not exist
 *     in the child, so its in-flight mark is cleared there (pthread_atfork);
 *     the child's own reporter thread takes the GIL normally.
 * The logging exporter's span lines (`logging: True`, reporter.protocols
 * "log") take the same route, as logger.info("Reporting span %s", line),
 * jaeger_client's LoggingReporter call, instead of raw stderr.
 * Exceptions raised by logging (a broken handler) are printed as unraisable,
 * never propagated into the core.
 */
#include "_core_diag.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int closing;      /* interpreter exit began: no more GIL */
static atomic_int in_flight;    /* hooks between their check and leaving Python */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
    atomic_store(&in_flight, 0);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

static int finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

static const char *kind_name(tw_diag_kind k)
{
    switch (k) {
    case TW_DIAG_SEND_FAILED: return "send_failed";
    case TW_DIAG_DROPPED: return "dropped";
    case TW_DIAG_SAMPLING: return "sampling";
    case TW_DIAG_BAGGAGE: return "baggage";
    case TW_DIAG_THROTTLER: return "throttler";
    case TW_DIAG_BAGGAGE_RESTRICTIONS: return "baggage_restrictions";
    }
    return "unknown";
}

static void to_stderr(const char *msg)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "jaeger_tracing: %s\n", msg);
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void log_record(tw_diag_kind kind, tw_status st, const char *msg, uint64_t count)
{
    PyObject *logging = NULL, *logger = NULL, *extra = NULL, *args = NULL, *kw = NULL,
             *error = NULL, *r = NULL;
    logging = PyImport_ImportModule("logging");
    if (!logging)
        goto done;
    logger = PyObject_CallMethod(logging, "getLogger", "s", "jaeger_tracing");
    if (!logger)
        goto done;
    extra = Py_BuildValue("{sssisK}", "tracewire_kind", kind_name(kind), "tracewire_status",
                          (int)st, "tracewire_count", (unsigned long long)count);
    args = Py_BuildValue("(ss)", "%s", msg);
    kw = extra ? Py_BuildValue("{sO}", "extra", extra) : NULL;
    error = PyObject_GetAttrString(logger, "error");
    if (!args || !kw || !error)
        goto done;
    r = PyObject_Call(error, args, kw);
done:
    if (!r && PyErr_Occurred())
        PyErr_WriteUnraisable(NULL);
    Py_XDECREF(r);
    Py_XDECREF(error);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(extra);
    Py_XDECREF(logger);
    Py_XDECREF(logging);
}

static void route(void *ud, tw_diag_kind kind, tw_status st, const char *msg, uint64_t count)
{
    (void)ud;
    atomic_fetch_add(&in_flight, 1);
    if (atomic_load(&closing) || finalizing()) {
        atomic_fetch_sub(&in_flight, 1);
        to_stderr(msg);
        return;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    log_record(kind, st, msg, count);
    PyGILState_Release(g);
    atomic_fetch_sub(&in_flight, 1);
}

/* logging "jaeger_tracing" .info("Reporting span %s", line): jaeger_client's
 * LoggingReporter's logger, level and format; under the jaeger_client
 * profile (Config) the line is its span text too ("trace:span:parent:flags
 * service.op", core/src/exporter_log.c), natively tracewire's longer one. */
static void log_span(const char *line, size_t len)
{
    PyObject *logging = NULL, *logger = NULL, *r = NULL;
    logging = PyImport_ImportModule("logging");
    if (logging)
        logger = PyObject_CallMethod(logging, "getLogger", "s", "jaeger_tracing");
    if (logger)
        r = PyObject_CallMethod(logger, "info", "ss#", "Reporting span %s", line,
                                (Py_ssize_t)len);
    if (!r && PyErr_Occurred())
        PyErr_WriteUnraisable(NULL);
    Py_XDECREF(r);
    Py_XDECREF(logger);
    Py_XDECREF(logging);
}

/* The span-line hook: the same exit handling as route() (at interpreter exit
 * the line goes to stderr as the core would have written it). */
static void route_span(void *ud, const char *line, size_t len)
{
    (void)ud;
    atomic_fetch_add(&in_flight, 1);
    if (atomic_load(&closing) || finalizing()) {
        atomic_fetch_sub(&in_flight, 1);
        char buf[1024];
        int n = snprintf(buf, sizeof buf, "tracewire: span %.*s\n",
                         (int)(len < 900 ? len : 900), line);
        if (n > 0)
            (void)!write(STDERR_FILENO, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        return;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    log_span(line, len);
    PyGILState_Release(g);
    atomic_fetch_sub(&in_flight, 1);
}

void twpy_diag_attach(tw_config *cfg)
{
    (void)tw_config_set_diagnostics(cfg, route, NULL);
    (void)tw_config_set_span_log(cfg, route_span, NULL);
}

/* atexit: stop taking the GIL, let hooks inside Python finish (bounded: a
 * hook stuck in a slow logging handler must not hang the exit). */
static PyObject *diag_shutdown(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    atomic_store(&closing, 1);
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < 400 && atomic_load(&in_flight) > 0; i++) {
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef shutdown_def = {
    "_diag_shutdown", diag_shutdown, METH_NOARGS,
    "stops routing core diagnostics into logging (registered with atexit)",
};

int twpy_diag_exec(PyObject *m)
{
    pthread_once(&atfork_once, register_atfork);
    atomic_store(&closing, 0);
    PyObject *fn = PyCFunction_NewEx(&shutdown_def, NULL, NULL);
    if (!fn)
        return -1;
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *r = atexit ? PyObject_CallMethod(atexit, "register", "O", fn) : NULL;
    int rc = -1;
    if (r) {   /* PyModule_AddObject steals on success only (3.9 has no AddObjectRef) */
        Py_INCREF(fn);
        rc = PyModule_AddObject(m, "_diag_shutdown", fn);
        if (rc < 0)
            Py_DECREF(fn);
    }
    Py_XDECREF(r);
    Py_XDECREF(atexit);
    Py_DECREF(fn);
    return rc;
}

int twpy_diag_failed_since(const tw_tracer *t, uint64_t *seen)
{
    tw_counters c;
    tw_tracer_counters(t, &c);
    uint64_t bad = c.send_failures + c.dropped_queue_full + c.dropped_too_large +
                   c.dropped_send_failed + c.dropped_on_close;
    int failed = bad != *seen;
    *seen = bad;
    return failed;
}
