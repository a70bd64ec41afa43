/* ngx_http_tracewire_diag.c — the core's diagnostics in nginx's error log.
 *
 * The core calls its diagnostics hook (tw_config_set_diagnostics) on the
 * worker's reporter thread: a failed send, dropped spans, a failed sampling
 * poll, rate-limited by the core (the first of a kind at once, then one
 * summary per kind every 10 s). nginx's logging belongs to the worker's
 * event loop thread, so the hook only copies the message into a small
 * mutex-guarded queue; a 1 s timer of the event loop (cancelable: it never
 * holds up a graceful shutdown) writes what is queued with ngx_log_error,
 * and exit_process writes the rest after the tracer is closed. The queue is
 * bounded; messages beyond it are counted and the count is logged.
 */
#include "ngx_http_tracewire.h"

#include <pthread.h>


#define NGX_HTTP_TRACEWIRE_DIAG_EVERY  1000     /* ms between drains */


static void
ngx_http_tracewire_diag_hook(void *ud, tw_diag_kind kind, tw_status status,
    const char *message, uint64_t count)
{
    ngx_http_tracewire_main_conf_t *mcf = ud;

    size_t                        len;
    ngx_http_tracewire_diag_t    *d;
    ngx_http_tracewire_diag_msg_t *m;

    d = &mcf->diag;

    (void) pthread_mutex_lock(&d->lock);

    if (d->n == NGX_HTTP_TRACEWIRE_DIAG_QUEUE) {
        d->lost++;

    } else {
        m = &d->msgs[d->n++];
        m->kind = kind;
        m->status = status;
        m->count = count;
        len = ngx_min(ngx_strlen(message), sizeof(m->text) - 1);
        ngx_memcpy(m->text, message, len);
        m->text[len] = '\0';
    }

    (void) pthread_mutex_unlock(&d->lock);
}


void
ngx_http_tracewire_diag_drain(ngx_http_tracewire_main_conf_t *mcf, ngx_log_t *log)
{
    ngx_uint_t                      i, n, lost, level;
    ngx_http_tracewire_diag_t      *d;
    ngx_http_tracewire_diag_msg_t   msgs[NGX_HTTP_TRACEWIRE_DIAG_QUEUE];

    d = &mcf->diag;

    if (!d->ready) {
        return;
    }

    (void) pthread_mutex_lock(&d->lock);
    n = d->n;
    lost = d->lost;
    ngx_memcpy(msgs, d->msgs, n * sizeof(ngx_http_tracewire_diag_msg_t));
    d->n = 0;
    d->lost = 0;
    (void) pthread_mutex_unlock(&d->lock);

    for (i = 0; i < n; i++) {
        /* lost spans are errors; a failed poll of the agent (sampling,
         * throttler, baggage restrictions) only keeps the current state:
         * the core says which is which, for every face */
        level = tw_diag_kind_is_warning(msgs[i].kind) ? NGX_LOG_WARN
                                                      : NGX_LOG_ERR;
        ngx_log_error(level, log, 0, "%s", msgs[i].text);   /* "tracewire: ..." */
    }

    if (lost) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "tracewire: %ui more diagnostics were not logged "
                      "(the queue between drains holds %d)",
                      lost, NGX_HTTP_TRACEWIRE_DIAG_QUEUE);
    }
}


static void
ngx_http_tracewire_diag_timer(ngx_event_t *ev)
{
    ngx_http_tracewire_main_conf_t *mcf = ev->data;

    ngx_http_tracewire_diag_drain(mcf, ev->log);

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(ev, NGX_HTTP_TRACEWIRE_DIAG_EVERY);
    }
}


ngx_int_t
ngx_http_tracewire_diag_init(ngx_cycle_t *cycle, ngx_http_tracewire_main_conf_t *mcf)
{
    ngx_http_tracewire_diag_t  *d;

    d = &mcf->diag;

    if (pthread_mutex_init(&d->lock, NULL) != 0) {
        return NGX_ERROR;
    }

    d->n = 0;
    d->lost = 0;
    d->ready = 1;

    if (tw_config_set_diagnostics(mcf->cfg, ngx_http_tracewire_diag_hook, mcf) != TW_OK) {
        return NGX_ERROR;
    }

    d->ev.handler = ngx_http_tracewire_diag_timer;
    d->ev.data = mcf;
    d->ev.log = cycle->log;
    d->ev.cancelable = 1;
    ngx_add_timer(&d->ev, NGX_HTTP_TRACEWIRE_DIAG_EVERY);

    return NGX_OK;
}
