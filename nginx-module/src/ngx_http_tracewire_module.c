/* ngx_http_tracewire_module.c — directives, configuration and the per-worker
 * tracer.
 *
 * Configuration is checked where nginx checks its own: every
 * `tracewire_config KEY VALUE` goes through tw_config_set while the file is
 * parsed (an unknown key or a bad value stops `nginx -t` with the key in the
 * message), and once the http block is complete a tracer is built from the
 * result and thrown away, so combinations the core refuses fail there too.
 * That throwaway tracer starts no thread and opens no socket (the core
 * promises it), so the master stays thread-free.
 *
 * Each worker builds its own tracer in init_process, after the fork. Who
 * sends its spans (issue #15): when the configuration needs no blocking
 * call (reporter.protocols udp to an IP address, a sampler that does not
 * poll the agent) and reporter.driver is not "thread", the worker's own
 * event loop does -- a cancelable timer (it never keeps a quitting worker
 * alive) runs a turn of the core's reporter (tw_tracer_drive) when the
 * core says one is due, and the core's kick posts the same event when a
 * full batch is queued, so a burst does not wait for the timer; the turn
 * runs after the request's handlers, never inside the log phase. No thread
 * then exists in the worker: a second thread makes glibc take its
 * multi-thread paths in every syscall wrapper and in malloc for good,
 * measured at ~460 instructions per request. Otherwise the worker's
 * reporter thread starts with its first finished span, as before. exit_process
 * (graceful quit, reload, or fast shutdown) closes it: what is queued is
 * sent, the reporter joined, and the worker's counters logged. The core's
 * diagnostics (failed sends, dropped spans) reach the error log through
 * ngx_http_tracewire_diag.c while the worker runs. The tracer is
 * closed but never freed: on a fast shutdown requests may still be open, and
 * their spans point at it until the process is gone.
 */
#include "ngx_http_tracewire.h"

/* How long exit_process waits for queued spans to be sent. */
#define NGX_HTTP_TRACEWIRE_CLOSE_MS  3000

static ngx_int_t ngx_http_tracewire_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_tracewire_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_tracewire_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_tracewire_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_tracewire_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tracewire_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *ngx_http_tracewire_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_tracewire(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_tracewire_span_tag(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_tracewire_init_process(ngx_cycle_t *cycle);
static void ngx_http_tracewire_drive_handler(ngx_event_t *ev);
static void ngx_http_tracewire_drive_kick(void *ud);
static void ngx_http_tracewire_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_tracewire_context_modes[] = {
    { ngx_string("extract"),   NGX_HTTP_TRACEWIRE_EXTRACT },
    { ngx_string("inject"),    NGX_HTTP_TRACEWIRE_INJECT },
    { ngx_string("propagate"), NGX_HTTP_TRACEWIRE_EXTRACT | NGX_HTTP_TRACEWIRE_INJECT },
    { ngx_string("ignore"),    0 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_tracewire_commands[] = {

    { ngx_string("tracewire_config"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_tracewire_config,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracewire"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tracewire,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracewire_context"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracewire_loc_conf_t, context),
      &ngx_http_tracewire_context_modes },

    { ngx_string("tracewire_span_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracewire_loc_conf_t, span_name),
      NULL },

    { ngx_string("tracewire_span_tag"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_tracewire_span_tag,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tracewire_module_ctx = {
    ngx_http_tracewire_preconfiguration,   /* preconfiguration */
    ngx_http_tracewire_postconfiguration,  /* postconfiguration */

    ngx_http_tracewire_create_main_conf,   /* create main configuration */
    ngx_http_tracewire_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tracewire_create_loc_conf,    /* create location configuration */
    ngx_http_tracewire_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_tracewire_module = {
    NGX_MODULE_V1,
    &ngx_http_tracewire_module_ctx,        /* module context */
    ngx_http_tracewire_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_tracewire_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_tracewire_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void
ngx_http_tracewire_config_cleanup(void *data)
{
    tw_config_free(data);
}


static void *
ngx_http_tracewire_create_main_conf(ngx_conf_t *cf)
{
    const char                      *bad_var;
    ngx_pool_cleanup_t              *cln;
    ngx_http_tracewire_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tracewire_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    if (tw_config_new(&mcf->cfg) != TW_OK) {
        return NULL;
    }

    cln->handler = ngx_http_tracewire_config_cleanup;
    cln->data = mcf->cfg;

    /* Lowest precedence first: this face's default name, then the
     * environment (JAEGER_*, OTEL_*), then tracewire_config directives. */
    (void) tw_config_set(mcf->cfg, "service_name", "nginx");

    bad_var = NULL;
    if (tw_config_from_env(mcf->cfg, &bad_var) != TW_OK) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "tracewire: environment variable \"%s\" is malformed "
                           "and was ignored", bad_var ? bad_var : "?");
    }


    return mcf;
}


static char *
ngx_http_tracewire_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_tracewire_main_conf_t *mcf = conf;

    tw_status   st;
    tw_tracer  *probe;

    st = tw_tracer_new(mcf->cfg, &probe);
    if (st != TW_OK) {
        char  driver[16];

        if (st == TW_ERR_CONFIG
            && tw_config_get(mcf->cfg, "reporter.driver", driver, sizeof(driver)) == TW_OK
            && ngx_strcmp(driver, "loop") == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "tracewire: tracewire_config reporter.driver loop needs "
                               "reporter.protocols udp to an IP address and a sampler "
                               "that does not poll the agent (no remote sampler, "
                               "throttler or baggage_restrictions)");
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tracewire: the configuration does not make a tracer: %s",
                           tw_strerror(st));
        return NGX_CONF_ERROR;
    }

    /* the context headers injection replaces, as the core names them for
     * this configuration; workers inherit the list */
    if (ngx_http_tracewire_header_names(cf, mcf, probe) != NGX_OK) {
        tw_tracer_free(probe);
        return NGX_CONF_ERROR;
    }

    tw_tracer_free(probe);

    return NGX_CONF_OK;
}


static void *
ngx_http_tracewire_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tracewire_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tracewire_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->enable_var = NULL;
     *     conf->tags = NULL;
     */

    conf->enable = NGX_HTTP_TRACEWIRE_UNSET;
    conf->context = NGX_CONF_UNSET_UINT;
    conf->span_name = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_tracewire_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tracewire_loc_conf_t *prev = parent;
    ngx_http_tracewire_loc_conf_t *conf = child;

    if (conf->enable == NGX_HTTP_TRACEWIRE_UNSET) {
        conf->enable = (prev->enable == NGX_HTTP_TRACEWIRE_UNSET)
                       ? NGX_HTTP_TRACEWIRE_OFF : prev->enable;
        conf->enable_var = prev->enable_var;
    }

    /* propagate by default, as tracewire.nginx and jaeger clients do
     * (nginx-otel's default is ignore): see nginx-module/README.md */
    ngx_conf_merge_uint_value(conf->context, prev->context,
                              NGX_HTTP_TRACEWIRE_EXTRACT | NGX_HTTP_TRACEWIRE_INJECT);
    ngx_conf_merge_ptr_value(conf->span_name, prev->span_name, NULL);

    if (conf->tags == NULL) {
        conf->tags = prev->tags;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tracewire_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracewire_main_conf_t *mcf = conf;

    char        probe[2];
    tw_status   st;
    ngx_str_t  *value;

    value = cf->args->elts;

    /* nginx NUL-terminates every configuration word */
    st = tw_config_set(mcf->cfg, (const char *) value[1].data,
                       (const char *) value[2].data);

    if (st == TW_ERR_UNSUPPORTED
        && tw_config_get(mcf->cfg, (const char *) value[1].data, probe,
                         sizeof(probe))
           == TW_ERR_UNSUPPORTED)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown tracewire_config key \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (st != TW_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" for tracewire_config key \"%V\": %s",
                           &value[2], &value[1], tw_strerror(st));
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tracewire(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracewire_loc_conf_t *lcf = conf;

    ngx_str_t                         *value;
    ngx_http_tracewire_main_conf_t    *mcf;
    ngx_http_compile_complex_value_t   ccv;

    if (lcf->enable != NGX_HTTP_TRACEWIRE_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        lcf->enable = NGX_HTTP_TRACEWIRE_OFF;
        return NGX_CONF_OK;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tracewire_module);
    mcf->used = 1;

    if (ngx_strcmp(value[1].data, "on") == 0) {
        lcf->enable = NGX_HTTP_TRACEWIRE_ON;
        return NGX_CONF_OK;
    }

    if (ngx_http_script_variables_count(&value[1]) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"on\", \"off\" or contain a variable",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    lcf->enable_var = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (lcf->enable_var == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = lcf->enable_var;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    lcf->enable = NGX_HTTP_TRACEWIRE_VAR;

    return NGX_CONF_OK;
}


static char *
ngx_http_tracewire_span_tag(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracewire_loc_conf_t *lcf = conf;

    ngx_str_t                         *value;
    ngx_http_tracewire_tag_t          *tag;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > NGX_HTTP_TRACEWIRE_MAX_NAME) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tag name \"%V\" in \"%V\" directive "
                           "(1 to %d bytes)", &value[1], &cmd->name,
                           NGX_HTTP_TRACEWIRE_MAX_NAME);
        return NGX_CONF_ERROR;
    }

    if (lcf->tags == NULL) {
        lcf->tags = ngx_array_create(cf->pool, 4, sizeof(ngx_http_tracewire_tag_t));
        if (lcf->tags == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    tag = ngx_array_push(lcf->tags);
    if (tag == NULL) {
        return NGX_CONF_ERROR;
    }

    tag->key = value[1];

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &tag->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tracewire_preconfiguration(ngx_conf_t *cf)
{
    /* before the http block is parsed: log_format, add_header and
     * proxy_set_header may name the variables anywhere in it */
    return ngx_http_tracewire_add_variables(cf);
}


static ngx_int_t
ngx_http_tracewire_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_tracewire_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tracewire_module);
    if (!mcf->used) {
        return NGX_OK;      /* no location traces: no handler runs at all */
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* rewrite: the location is known (tracewire is per location) and the
     * proxied request is not built yet; a dynamic module's handler runs
     * before the rewrite module's, so `return` does not skip it */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_tracewire_rewrite_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_tracewire_log_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tracewire_init_process(ngx_cycle_t *cycle)
{
    tw_status                        st;
    ngx_http_tracewire_main_conf_t  *mcf;

    /* workers (and the single process of master_process off) serve
     * requests; cache manager and loader processes trace nothing */
    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tracewire_module);
    if (mcf == NULL || !mcf->used) {
        return NGX_OK;
    }

    /* the core's failures (sends, drops, sampling polls) go to the error
     * log; without the hook they would only be counted */
    if (ngx_http_tracewire_diag_init(cycle, mcf) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "tracewire: diagnostics hook not set: reporting failures "
                      "are only counted in this worker");
    }

    st = tw_tracer_new(mcf->cfg, &mcf->tracer);
    if (st != TW_OK) {
        /* the configuration was checked by the master: only memory can fail
         * here, and a worker that serves untraced beats one that is gone */
        mcf->tracer = NULL;
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "tracewire: no tracer in this worker (%s): requests are "
                      "served untraced", tw_strerror(st));
        return NGX_OK;
    }

    /* before the first request: from here on no reporter thread can start */
    if (tw_tracer_drive_start(mcf->tracer, ngx_http_tracewire_drive_kick, mcf) == TW_OK) {
        mcf->drive_ev.handler = ngx_http_tracewire_drive_handler;
        mcf->drive_ev.data = mcf;
        mcf->drive_ev.log = cycle->log;
        mcf->drive_ev.cancelable = 1;
        ngx_add_timer(&mcf->drive_ev, 1000);

        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "tracewire: this worker's event loop sends its spans "
                      "(reporter.driver auto/loop: no reporter thread)");

    } else {
        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "tracewire: this worker's spans go through a reporter thread");
    }

    return NGX_OK;
}


/* One turn of the core's reporter on the event loop: what is due is encoded
 * and sent (non-blocking UDP), what it said is logged, and the timer is set
 * for the next turn the core asks for. */
static void
ngx_http_tracewire_drive_handler(ngx_event_t *ev)
{
    ngx_http_tracewire_main_conf_t *mcf = ev->data;

    int64_t  ms;

    ms = tw_tracer_drive(mcf->tracer);

    ngx_http_tracewire_diag_drain(mcf, ev->log);

    if (ms < 0) {
        return;     /* closed (exit_process): nothing more to drive */
    }

    ngx_add_timer(ev, (ngx_msec_t) ms);
}


/* The core's kick, from inside a span's finish (the log phase): only posts
 * the turn, which runs once the current events are handled. */
static void
ngx_http_tracewire_drive_kick(void *ud)
{
    ngx_http_tracewire_main_conf_t *mcf = ud;

    ngx_post_event(&mcf->drive_ev, &ngx_posted_events);
}


static void
ngx_http_tracewire_exit_process(ngx_cycle_t *cycle)
{
    tw_status                        st;
    ngx_uint_t                       level;
    tw_counters                      c;
    ngx_http_tracewire_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tracewire_module);
    if (mcf == NULL || mcf->tracer == NULL) {
        return;
    }

    st = tw_tracer_close(mcf->tracer, NGX_HTTP_TRACEWIRE_CLOSE_MS);
    tw_tracer_counters(mcf->tracer, &c);

    /* the reporter thread is joined: what it (or close) said is final */
    ngx_http_tracewire_diag_drain(mcf, cycle->log);

    level = (st != TW_OK || c.dropped_queue_full || c.dropped_too_large
             || c.dropped_send_failed || c.dropped_on_close)
            ? NGX_LOG_WARN : NGX_LOG_NOTICE;

    ngx_log_error(level, cycle->log, 0,
                  "tracewire: worker exit: close %s; spans started %uL, "
                  "sampled %uL, finished %uL, reported %uL, dropped: queue full %uL, "
                  "too large %uL, send failed %uL, on close %uL; send failures %uL; "
                  "baggage dropped %uL; discarded %uL",
                  st == TW_OK ? "ok" : tw_strerror(st),
                  c.spans_started, c.spans_sampled, c.spans_finished,
                  c.spans_reported, c.dropped_queue_full, c.dropped_too_large,
                  c.dropped_send_failed, c.dropped_on_close, c.send_failures,
                  c.baggage_dropped, c.spans_discarded);

    /* closed, not freed: see the comment at the top of this file */
}
