/* ngx_http_tracewire_request.c — one server span per traced request.
 *
 * Decide once per (main) request, at the first of: the rewrite phase of a
 * location that traces, a $tracewire_* variable, or the log phase (for
 * requests answered before any location, e.g. a `return` in the server
 * block). The span always starts at the request's start time
 * (r->start_sec/start_msec), whichever of these made it, and is finished in
 * the log phase with the status and the upstream's figures. Context headers
 * are written into the request (for proxy_pass and friends to forward) in
 * the rewrite phase of a location that has a content handler of its own,
 * so static locations never pay for injection.
 *
 * Per request the module makes one core call to start the span and one to
 * finish it (tw_http_span_start / tw_http_span_finish, core/src/http_span.c)
 * with the request's fields read straight from nginx's structures (no
 * variable lookups). The core names and tags the span the same way for
 * tracewire.nginx's spans, so a span looks the same whichever module made
 * it: span.kind=server, component=nginx, http.method, http.url,
 * peer.address, http.status_code, error (5xx), upstream.address (as
 * $upstream_addr) and upstream.response_time_ms. Unsampled spans get no
 * tags at all (the core would discard them), so the response's figures are
 * read only for sampled ones.
 *
 * Nothing here blocks: extract, span start and finish only touch memory
 * (finish queues the span for the worker's reporter thread).
 */
#include "ngx_http_tracewire.h"


static void
ngx_http_tracewire_cleanup(void *data)
{
    ngx_http_tracewire_ctx_t *ctx = data;

    tw_span_free(ctx->span);    /* an unfinished span is discarded */
    ctx->span = NULL;
}


/* The main request's context, or NULL. nginx clears module contexts on an
 * internal redirect; the pool cleanup that owns the context survives, so it
 * is found there again (as ngx_http_realip_module does). */
static ngx_http_tracewire_ctx_t *
ngx_http_tracewire_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_tracewire_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tracewire_module);
    if (ctx) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_tracewire_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_tracewire_module);
            return ctx;
        }
    }

    return NULL;
}


/* The context and its pool cleanup in one allocation, linked as
 * ngx_pool_cleanup_add links one (which allocates the two apart). */
typedef struct {
    ngx_pool_cleanup_t         cln;
    ngx_http_tracewire_ctx_t   ctx;
} ngx_http_tracewire_ctx_block_t;


static ngx_inline __attribute__((always_inline)) ngx_http_tracewire_ctx_t *
ngx_http_tracewire_create_ctx(ngx_http_request_t *r)
{
    ngx_http_tracewire_ctx_t        *ctx;
    ngx_http_tracewire_ctx_block_t  *b;

    b = ngx_palloc(r->pool, sizeof(ngx_http_tracewire_ctx_block_t));
    if (b == NULL) {
        return NULL;
    }

    ctx = &b->ctx;
    ngx_memzero(ctx, sizeof(ngx_http_tracewire_ctx_t));

    b->cln.handler = ngx_http_tracewire_cleanup;
    b->cln.data = ctx;
    b->cln.next = r->pool->cleanup;
    r->pool->cleanup = &b->cln;

    ngx_http_set_ctx(r, ctx, ngx_http_tracewire_module);

    return ctx;
}


static void
ngx_http_tracewire_tag(tw_span *span, const char *key, size_t key_len,
    u_char *val, size_t val_len)
{
    tw_field  f;

    f.key = key;
    f.key_len = key_len;
    f.type = TW_VAL_STRING;
    f.v.str.ptr = (const char *) val;
    f.v.str.len = val_len;

    (void) tw_span_set_tag(span, &f);
}


static ngx_inline int
ngx_http_tracewire_sampled(tw_span *span)
{
    return (tw_span_context_flags(tw_span_get_context(span)) & TW_FLAG_SAMPLED) != 0;
}


/* One core call: the request's fields as nginx already holds them (no
 * variable lookups, nothing copied here; the core borrows "METHOD /path"
 * from the request line when it is contiguous there, and copies only what
 * a sampled span keeps). */
static ngx_inline __attribute__((always_inline)) tw_span *
ngx_http_tracewire_start(ngx_http_request_t *r, ngx_http_tracewire_main_conf_t *mcf,
    ngx_http_tracewire_loc_conf_t *lcf)
{
    int64_t            start_us;
    tw_span           *span;
    tw_status          st;
    tw_span_context   *parent;
    tw_http_request    req;
    ngx_http_core_srv_conf_t  *cscf;

    parent = NULL;
    if ((lcf->context & NGX_HTTP_TRACEWIRE_EXTRACT)
        && ngx_http_tracewire_has_context(r, mcf))
    {
        /* absent or malformed context: a new root, as in every face */
        (void) tw_tracer_extract(mcf->tracer, TW_PROP_DEFAULT,
                                 ngx_http_tracewire_headers_foreach, r, &parent);
    }

    req.method = (const char *) r->method_name.data;
    req.method_len = r->method_name.len;
    req.target = (const char *) r->unparsed_uri.data;
    req.target_len = r->unparsed_uri.len;

    if (r->headers_in.host) {
        req.host = (const char *) r->headers_in.host->value.data;
        req.host_len = r->headers_in.host->value.len;
    } else {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        req.host = (const char *) cscf->server_name.data;
        req.host_len = cscf->server_name.len;
    }

    req.scheme = "http";
    req.scheme_len = 4;
#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        req.scheme = "https";
        req.scheme_len = 5;
    }
#endif

    req.component = "nginx";
    req.component_len = 5;

    start_us = (int64_t) r->start_sec * 1000000 + (int64_t) r->start_msec * 1000;

    st = tw_http_span_start(mcf->tracer, &req,
                            (const char *) r->connection->addr_text.data,
                            r->connection->addr_text.len, parent, start_us, &span);
    if (parent) {
        tw_span_context_free(parent);
    }

    if (st != TW_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tracewire: span not started: %s", tw_strerror(st));
        return NULL;
    }

    return span;
}


/* Decides once: off, a variable saying no, or no tracer in this worker
 * leave ctx->span NULL for the rest of the request. */
static ngx_inline __attribute__((always_inline)) tw_span *
ngx_http_tracewire_decide(ngx_http_request_t *r, ngx_http_tracewire_ctx_t *ctx,
    ngx_http_tracewire_main_conf_t *mcf, ngx_http_tracewire_loc_conf_t *lcf)
{
    ngx_str_t  v;

    /* first: a $tracewire_* variable inside the `tracewire $var` value
     * then reads "no span" instead of recursing into here */
    ctx->decided = 1;

    if (mcf->tracer == NULL || lcf->enable == NGX_HTTP_TRACEWIRE_OFF) {
        return NULL;
    }

    if (lcf->enable == NGX_HTTP_TRACEWIRE_VAR) {
        if (ngx_http_complex_value(r, lcf->enable_var, &v) != NGX_OK) {
            return NULL;
        }

        if (!((v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0)
              || (v.len == 1 && v.data[0] == '1')))
        {
            return NULL;
        }
    }

    ctx->span = ngx_http_tracewire_start(r, mcf, lcf);

    return ctx->span;
}


tw_span *
ngx_http_tracewire_request_span(ngx_http_request_t *r)
{
    ngx_http_tracewire_ctx_t        *ctx;
    ngx_http_tracewire_loc_conf_t   *lcf;
    ngx_http_tracewire_main_conf_t  *mcf;

    r = r->main;

    ctx = ngx_http_tracewire_get_ctx(r);
    if (ctx && ctx->decided) {
        return ctx->span;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_tracewire_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tracewire_module);

    if (mcf->tracer == NULL || lcf->enable == NGX_HTTP_TRACEWIRE_OFF) {
        return NULL;
    }

    if (ctx == NULL) {
        ctx = ngx_http_tracewire_create_ctx(r);
        if (ctx == NULL) {
            return NULL;
        }
    }

    return ngx_http_tracewire_decide(r, ctx, mcf, lcf);
}


ngx_int_t
ngx_http_tracewire_rewrite_handler(ngx_http_request_t *r)
{
    tw_span                         *span;
    ngx_http_tracewire_ctx_t        *ctx;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_tracewire_loc_conf_t   *lcf;
    ngx_http_tracewire_main_conf_t  *mcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_tracewire_module);
    if (mcf->tracer == NULL) {
        return NGX_DECLINED;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tracewire_module);

    ctx = ngx_http_tracewire_get_ctx(r);
    if (ctx == NULL) {
        if (lcf->enable == NGX_HTTP_TRACEWIRE_OFF) {
            return NGX_DECLINED;
        }

        ctx = ngx_http_tracewire_create_ctx(r);
        if (ctx == NULL) {
            return NGX_DECLINED;    /* no memory: serve untraced */
        }
    }

    span = ctx->decided ? ctx->span : ngx_http_tracewire_decide(r, ctx, mcf, lcf);

    if (span == NULL || ctx->injected || !(lcf->context & NGX_HTTP_TRACEWIRE_INJECT)) {
        return NGX_DECLINED;
    }

    /* Only a location with its own content handler (proxy_pass, grpc_pass,
     * fastcgi_pass, ...) sends the request on; after an internal redirect
     * to one (try_files, error_page), this handler runs again there. */
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    if (clcf->handler == NULL) {
        return NGX_DECLINED;
    }

    ctx->injected = 1;

    if (ngx_http_tracewire_inject(r, mcf, span) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tracewire: the trace context was not added to the request");
    }

    return NGX_DECLINED;
}


/* $upstream_addr without the variable: one upstream's address is borrowed
 * as it is; several (retries: ", ", internal redirects: " : ") are joined
 * in the request pool. */
static ngx_int_t
ngx_http_tracewire_upstream_addr(ngx_http_request_t *r, ngx_str_t *out)
{
    u_char                     *p;
    size_t                      len;
    ngx_uint_t                  i, n;
    ngx_http_upstream_state_t  *state;

    state = r->upstream_states->elts;
    n = r->upstream_states->nelts;

    if (n == 1) {
        if (state[0].peer == NULL) {
            return NGX_DECLINED;
        }
        *out = *state[0].peer;
        return NGX_OK;
    }

    len = 0;
    for (i = 0; i < n; i++) {
        len += (state[i].peer ? state[i].peer->len : 0) + 3;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }
    out->data = p;

    for (i = 0; ; ) {
        if (state[i].peer) {
            p = ngx_cpymem(p, state[i].peer->data, state[i].peer->len);
        }
        if (++i == n) {
            break;
        }
        if (state[i].peer) {
            *p++ = ',';
            *p++ = ' ';
        } else {
            *p++ = ' ';
            *p++ = ':';
            *p++ = ' ';
            if (++i == n) {
                break;
            }
        }
    }

    out->len = p - out->data;

    return out->len ? NGX_OK : NGX_DECLINED;
}


/* What only a sampled span needs: the response's figures (read from the
 * request, no variables) and the configured name and tags. Out of line:
 * a static location needs none of it. */
static __attribute__((noinline)) void
ngx_http_tracewire_response(ngx_http_request_t *r, ngx_http_tracewire_loc_conf_t *lcf,
    tw_span *span, tw_http_response *resp)
{
    ngx_str_t                   v;
    ngx_uint_t                  i;
    ngx_msec_t                  ms;
    ngx_http_upstream_state_t  *state;
    ngx_http_tracewire_tag_t   *tag;

    if (r->upstream_states && r->upstream_states->nelts) {
        if (ngx_http_tracewire_upstream_addr(r, &v) == NGX_OK) {
            resp->upstream_addr = (const char *) v.data;
            resp->upstream_addr_len = v.len;
        }

        /* the sum over every upstream tried (retries, internal redirects) */
        ms = 0;
        state = r->upstream_states->elts;
        for (i = 0; i < r->upstream_states->nelts; i++) {
            if (state[i].peer && state[i].response_time != (ngx_msec_t) -1) {
                ms += state[i].response_time;
            }
        }
        resp->upstream_time_ms = (int64_t) ms;
    }

    if (lcf->span_name
        && ngx_http_complex_value(r, lcf->span_name, &v) == NGX_OK && v.len)
    {
        (void) tw_span_set_operation_name(span, (const char *) v.data,
                                          ngx_min(v.len, NGX_HTTP_TRACEWIRE_MAX_NAME));
    }

    if (lcf->tags) {
        tag = lcf->tags->elts;
        for (i = 0; i < lcf->tags->nelts; i++) {
            if (ngx_http_complex_value(r, &tag[i].value, &v) == NGX_OK) {
                ngx_http_tracewire_tag(span, (const char *) tag[i].key.data,
                                       tag[i].key.len, v.data, v.len);
            }
        }
    }
}


/* The log phase of a request no phase has decided for yet (answered before
 * any location, e.g. a `return` in the server block) or whose context an
 * internal redirect cleared: the context found or made, and decided. Out of
 * line, so the common log phase below saves no registers for it. */
static __attribute__((noinline)) ngx_http_tracewire_ctx_t *
ngx_http_tracewire_log_ctx(ngx_http_request_t *r, ngx_http_tracewire_main_conf_t *mcf)
{
    ngx_http_tracewire_ctx_t       *ctx;
    ngx_http_tracewire_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tracewire_module);

    ctx = ngx_http_tracewire_get_ctx(r);
    if (ctx == NULL) {
        if (lcf->enable == NGX_HTTP_TRACEWIRE_OFF) {
            return NULL;
        }

        ctx = ngx_http_tracewire_create_ctx(r);
        if (ctx == NULL) {
            return NULL;
        }
    }

    if (!ctx->decided) {
        (void) ngx_http_tracewire_decide(r, ctx, mcf, lcf);
    }

    return ctx;
}


ngx_int_t
ngx_http_tracewire_log_handler(ngx_http_request_t *r)
{
    tw_span                         *span;
    ngx_uint_t                       status;
    tw_http_response                 resp;
    ngx_http_tracewire_ctx_t        *ctx;
    ngx_http_tracewire_loc_conf_t   *lcf;
    ngx_http_tracewire_main_conf_t  *mcf;

    if (r != r->main) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_tracewire_module);
    if (mcf->tracer == NULL) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_tracewire_module);
    if (ctx == NULL || !ctx->decided) {
        ctx = ngx_http_tracewire_log_ctx(r, mcf);
        if (ctx == NULL) {
            return NGX_OK;
        }
    }

    span = ctx->span;
    if (span == NULL || ctx->finished) {
        return NGX_OK;
    }

    ctx->finished = 1;

    /* what $status reports; http.status_code and error (5xx) by the core */
    status = r->err_status ? r->err_status : r->headers_out.status;
    resp.status = status ? (int64_t) status : -1;
    resp.upstream_addr = NULL;
    resp.upstream_addr_len = 0;
    resp.upstream_time_ms = -1;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tracewire_module);

    if ((r->upstream_states || lcf->span_name || lcf->tags)
        && ngx_http_tracewire_sampled(span))
    {
        ngx_http_tracewire_response(r, lcf, span, &resp);
    }

    /* the handle stays readable ($tracewire_* in access_log after this
     * handler) until the pool cleanup frees it */
    (void) tw_http_span_finish(span, &resp, 0);

    return NGX_OK;
}
