/* exporter_log.c — the logging exporter: one human-readable line per span
 * on stderr, as the Jaeger clients' LoggingReporter prints:
 *   tracewire: span svc op=<name> trace=<hex> span=<hex> parent=<hex> flags=N
 *   kind=N start_us=N duration_us=N tags={k=v, ...} logs=N refs=N
 * or, under the jaeger_client profile, jaeger_client's own span text:
 *   tracewire: span <trace hex>:<span hex>:<parent hex>:<flags hex> svc.op
 * The lines are formatted and written by the reporter thread, so logging
 * costs the application's thread no syscall either. Control characters and
 * non-ASCII bytes in names and values are escaped as \xNN so one span stays
 * one line. A span counts as delivered by this exporter only when it is the
 * sole one (a log line beside a real sender is a mirror, not a delivery).
 * A binding may take the lines instead of stderr (tw_config_set_span_log):
 * Python hands them to logging "jaeger_tracing", as jaeger_client's
 * LoggingReporter does with `logging: True`.
 */
#include "exporter.h"
#include "trace_flags.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

static bool put_escaped(twp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            if (!twp_buf_putc(b, (char)c))
                return false;
        } else {
            char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
            if (!twp_buf_append(b, e, 4))
                return false;
        }
    }
    return true;
}

static bool put_fmt(twp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool put_fmt(twp_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    return twp_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static bool put_value(twp_buf *b, const twp_value *v)
{
    bool ok = put_escaped(b, v->key, v->key_len) && twp_buf_putc(b, '=');
    switch (v->type) {
    case TW_VAL_STRING:
        return ok && put_escaped(b, v->v.str, v->len);
    case TW_VAL_BINARY:
        return ok && put_fmt(b, "<%" PRIu32 " bytes>", v->len);
    case TW_VAL_DOUBLE:
        return ok && put_fmt(b, "%.17g", v->v.f64);
    case TW_VAL_BOOL:
        return ok && put_fmt(b, "%s", v->v.b ? "true" : "false");
    case TW_VAL_INT64:
        return ok && put_fmt(b, "%" PRId64, v->v.i64);
    case TW_VAL_ARRAY:
        return ok && put_escaped(b, v->v.arr->json, v->v.arr->json_len);
    case TW_VAL_NULL:
        break;
    }
    return ok;
}

bool twp_log_format_span(twp_buf *b, const twp_process *p, const twp_span_data *s)
{
    const char *svc = p && p->service_name ? p->service_name : "";
    bool ok = twp_buf_append(b, "tracewire: span ", 16) && put_escaped(b, svc, strlen(svc)) &&
              twp_buf_append(b, " op=", 4) && put_escaped(b, s->op, s->op_len);
    if (s->trace_hi)
        ok = ok && put_fmt(b, " trace=%016" PRIx64 "%016" PRIx64, s->trace_hi, s->trace_lo);
    else
        ok = ok && put_fmt(b, " trace=%016" PRIx64, s->trace_lo);
    ok = ok && put_fmt(b, " span=%016" PRIx64 " parent=%016" PRIx64 " flags=%u kind=%d",
                       s->span_id, s->parent_id, s->flags & TWP_FLAG_JAEGER_MASK, (int)s->kind);
    ok = ok && put_fmt(b, " start_us=%" PRId64 " duration_us=%" PRId64 " tags={", s->start_us,
                       s->duration_us);
    for (uint32_t i = 0; ok && i < s->ntags; i++)
        ok = (i == 0 || twp_buf_append(b, ", ", 2)) && put_value(b, &s->tags[i]);
    ok = ok && put_fmt(b, "} logs=%" PRIu32 " refs=%" PRIu32 "\n", s->nlogs, s->nrefs);
    return ok;
}

/* jaeger_client's LoggingReporter text (Span.__repr__): "trace:span:parent:flags
 * service.operation", ids as variable-length lower-case hex (its
 * span_context_to_string), a root's parent as 0 — what the jaeger_client
 * profile (tracewire.Config with `logging: True`) prints after the same
 * prefix, so the line users of the talk's step 3 know stays the same. */
static bool log_format_span_jaeger(twp_buf *b, const twp_process *p, const twp_span_data *s)
{
    const char *svc = p && p->service_name ? p->service_name : "";
    bool ok = twp_buf_append(b, "tracewire: span ", 16);
    if (s->trace_hi)
        ok = ok && put_fmt(b, "%" PRIx64 "%016" PRIx64, s->trace_hi, s->trace_lo);
    else
        ok = ok && put_fmt(b, "%" PRIx64, s->trace_lo);
    ok = ok && put_fmt(b, ":%" PRIx64 ":%" PRIx64 ":%x ", s->span_id, s->parent_id,
                       (unsigned)(s->flags & TWP_FLAG_JAEGER_MASK));
    return ok && put_escaped(b, svc, strlen(svc)) && twp_buf_putc(b, '.') &&
           put_escaped(b, s->op, s->op_len) && twp_buf_putc(b, '\n');
}

typedef struct log_exporter {
    twp_exporter base;
    twp_exporter_env env;
    twp_buf msg;
} log_exporter;

#define LINE_PREFIX_LEN 16   /* "tracewire: span " */

static tw_status log_export(twp_exporter *e, const twp_batch *b, char *why, size_t cap)
{
    log_exporter *x = (log_exporter *)e;
    x->msg.len = 0;
    const tw_config *cfg = x->env.cfg;
    bool (*format)(twp_buf *, const twp_process *, const twp_span_data *) =
        cfg->profile == TWP_PROFILE_JAEGER_CLIENT ? log_format_span_jaeger : twp_log_format_span;
    if (cfg->span_log_fn) {   /* the host's log, one line per span, no stderr */
        for (size_t i = 0; i < b->n; i++) {
            x->msg.len = 0;
            if (!format(&x->msg, x->env.proc, b->spans[i]) ||
                !twp_buf_putc(&x->msg, '\0')) {
                snprintf(why, cap, "out of memory formatting a span line");
                return TW_ERR_NOMEM;
            }
            size_t len = x->msg.len - 2;                /* without "\n\0" */
            x->msg.data[len] = '\0';
            cfg->span_log_fn(cfg->span_log_ud, x->msg.data + LINE_PREFIX_LEN,
                             len - LINE_PREFIX_LEN);
            if (x->env.sole)
                b->state[i] |= TWP_SPAN_DELIVERED;
        }
        return TW_OK;
    }
    for (size_t i = 0; i < b->n; i++)
        (void)format(&x->msg, x->env.proc, b->spans[i]);
    size_t off = 0;
    while (off < x->msg.len) {
        ssize_t n = write(STDERR_FILENO, x->msg.data + off, x->msg.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (off != x->msg.len) {
        snprintf(why, cap, "write to stderr failed");
        return TW_ERR_IO;
    }
    if (x->env.sole)
        for (size_t i = 0; i < b->n; i++)
            b->state[i] |= TWP_SPAN_DELIVERED;
    return TW_OK;
}

static void log_after_fork_child(twp_exporter *e)
{
    twp_buf_init(&((log_exporter *)e)->msg);   /* the parent's, maybe mid-update: leaked */
}

static void log_free(twp_exporter *e)
{
    log_exporter *x = (log_exporter *)e;
    twp_buf_free(&x->msg);
    free(x);
}

tw_status tw_config_set_span_log(tw_config *cfg, tw_span_log_fn fn, void *ud)
{
    if (!cfg)
        return TW_ERR_INVALID_ARG;
    cfg->span_log_fn = fn;
    cfg->span_log_ud = fn ? ud : NULL;
    return TW_OK;
}

static const twp_exporter_ops log_ops = { "log", log_export, log_after_fork_child, log_free };

tw_status twp_exporter_log_new(const twp_exporter_env *env, twp_exporter **out)
{
    log_exporter *x = calloc(1, sizeof *x);
    *out = NULL;
    if (!x)
        return TW_ERR_NOMEM;
    x->base.ops = &log_ops;
    x->env = *env;
    twp_buf_init(&x->msg);
    *out = &x->base;
    return TW_OK;
}
