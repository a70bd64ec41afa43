/* ngx_http_tracewire.h — what the files of the native nginx module share.
 *
 * The module is a translation of nginx's request lifecycle into the core's
 * public API (core/include/tracewire.h) and nothing more: sampling, ids,
 * propagation formats, encoding and reporting all live in the core.
 *
 *   ngx_http_tracewire_module.c     directives, configuration, process hooks
 *   ngx_http_tracewire_request.c    the server span of a request: decide,
 *                                   start (rewrite phase), finish (log phase)
 *   ngx_http_tracewire_headers.c    request headers as the core's carrier:
 *                                   extract, and inject into the proxied request
 *   ngx_http_tracewire_variables.c  $tracewire_* variables
 *   ngx_http_tracewire_diag.c       the core's diagnostics in the error log
 *
 * Per process: the master parses the configuration into a tw_config (and
 * builds one throwaway tracer from it so that `nginx -t` sees every error);
 * each worker makes its own tw_tracer in init_process and closes it in
 * exit_process; that worker's event loop sends its spans when the
 * configuration allows it (tw_tracer_drive_start), else its reporter thread. Per request: a small context in the request pool, found again
 * after an internal redirect through its pool cleanup (nginx clears module
 * contexts on redirects), holds the span; the cleanup frees it.
 */
#ifndef NGX_HTTP_TRACEWIRE_H_INCLUDED_
#define NGX_HTTP_TRACEWIRE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <pthread.h>
#include <tracewire.h>

/* tracewire on | off | $variable */
#define NGX_HTTP_TRACEWIRE_UNSET  NGX_CONF_UNSET_UINT
#define NGX_HTTP_TRACEWIRE_OFF    0
#define NGX_HTTP_TRACEWIRE_ON     1
#define NGX_HTTP_TRACEWIRE_VAR    2

/* tracewire_context: bits */
#define NGX_HTTP_TRACEWIRE_EXTRACT  0x01
#define NGX_HTTP_TRACEWIRE_INJECT   0x02

/* The longest operation name: the core's bound for "METHOD /path". */
#define NGX_HTTP_TRACEWIRE_MAX_NAME  TW_HTTP_MAX_NAME

/* The core's diagnostics, queued by the reporter thread for the event loop
 * (ngx_http_tracewire_diag.c). */
#define NGX_HTTP_TRACEWIRE_DIAG_QUEUE  16

typedef struct {
    tw_diag_kind               kind;
    tw_status                  status;
    uint64_t                   count;
    char                       text[256];
} ngx_http_tracewire_diag_msg_t;

typedef struct {
    pthread_mutex_t            lock;
    ngx_uint_t                 n;            /* queued in msgs */
    ngx_uint_t                 lost;         /* beyond the queue since the last drain */
    unsigned                   ready:1;      /* lock initialised (a worker) */
    ngx_event_t                ev;           /* the event loop's drain timer */
    ngx_http_tracewire_diag_msg_t  msgs[NGX_HTTP_TRACEWIRE_DIAG_QUEUE];
} ngx_http_tracewire_diag_t;

typedef struct {
    tw_config                 *cfg;          /* owned; freed with the cycle pool */
    tw_tracer                 *tracer;       /* this worker's; NULL in the master */
    ngx_flag_t                 used;         /* some `tracewire` is not off */
    ngx_array_t               *ctx_names;    /* ngx_str_t: every context header, */
    ngx_array_t               *ctx_prefixes; /* lower case (tw_tracer_header_names) */
    u_char                     ctx_first[256];  /* first bytes of those */
    ngx_http_tracewire_diag_t  diag;         /* this worker's */
    ngx_event_t                drive_ev;     /* reporting from the event loop (no
                                                reporter thread): timer and kick */
} ngx_http_tracewire_main_conf_t;

typedef struct {
    ngx_str_t                  key;
    ngx_http_complex_value_t   value;
} ngx_http_tracewire_tag_t;

typedef struct {
    ngx_uint_t                 enable;       /* OFF | ON | VAR */
    ngx_http_complex_value_t  *enable_var;   /* VAR: "on" or "1" traces */
    ngx_uint_t                 context;      /* EXTRACT | INJECT bits */
    ngx_http_complex_value_t  *span_name;    /* NULL: "METHOD /path" */
    ngx_array_t               *tags;         /* of ngx_http_tracewire_tag_t */
} ngx_http_tracewire_loc_conf_t;

typedef struct {
    tw_span                   *span;         /* NULL: not traced */
    unsigned                   decided:1;    /* span (or its absence) is final */
    unsigned                   injected:1;
    unsigned                   finished:1;
} ngx_http_tracewire_ctx_t;

extern ngx_module_t  ngx_http_tracewire_module;

/* The module's own cross-file functions stay out of the .so's dynamic
 * symbol table: nginx looks up only ngx_modules and friends. */
#pragma GCC visibility push(hidden)

/* request.c */
ngx_int_t ngx_http_tracewire_rewrite_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_tracewire_log_handler(ngx_http_request_t *r);
/* The request's span, started now if this location traces and nothing was
 * decided yet (variables used before the rewrite phase, or a `return` in the
 * server block). NULL when the request is not traced. */
tw_span *ngx_http_tracewire_request_span(ngx_http_request_t *r);

/* headers.c */
ngx_int_t ngx_http_tracewire_header_names(ngx_conf_t *cf,
    ngx_http_tracewire_main_conf_t *mcf, tw_tracer *t);
int ngx_http_tracewire_headers_foreach(void *carrier, tw_kv_fn visit, void *ud);
/* Whether a header from h (the i-th of part) on is a context header of any
 * format: the full check, for a scan whose first byte matched. */
ngx_int_t ngx_http_tracewire_has_context_from(ngx_http_tracewire_main_conf_t *mcf,
    ngx_list_part_t *part, ngx_uint_t i);

/* Whether any incoming header is a context header of any format. Inline,
 * a loop that calls nothing: most requests carry no context header, and
 * one byte (the lowercase name's first) clears each of theirs. */
static ngx_inline ngx_int_t
ngx_http_tracewire_has_context(ngx_http_request_t *r,
    ngx_http_tracewire_main_conf_t *mcf)
{
    u_char           *k;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            k = h[i].lowcase_key;
            if (h[i].key.len && k && mcf->ctx_first[k[0]]) {
                return ngx_http_tracewire_has_context_from(mcf, part, i);
            }
        }
    }

    return 0;
}

ngx_int_t ngx_http_tracewire_inject(ngx_http_request_t *r,
    ngx_http_tracewire_main_conf_t *mcf, tw_span *span);

/* diag.c: routes the core's diagnostics hook to the error log (worker only) */
ngx_int_t ngx_http_tracewire_diag_init(ngx_cycle_t *cycle,
    ngx_http_tracewire_main_conf_t *mcf);
void ngx_http_tracewire_diag_drain(ngx_http_tracewire_main_conf_t *mcf, ngx_log_t *log);

/* variables.c */
ngx_int_t ngx_http_tracewire_add_variables(ngx_conf_t *cf);

#pragma GCC visibility pop

#endif /* NGX_HTTP_TRACEWIRE_H_INCLUDED_ */
