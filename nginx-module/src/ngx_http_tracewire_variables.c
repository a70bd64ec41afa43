/* ngx_http_tracewire_variables.c — $tracewire_trace_id, $tracewire_span_id,
 * $tracewire_parent_id, $tracewire_sampled, $tracewire_traceparent.
 *
 * Each reads the request's server span (starting it if the location traces
 * and nothing started it yet, so add_header works in a location answered by
 * `return`); "not found" (empty) when the request is not traced. Not
 * cacheable: a variable read before the span existed must not pin an empty
 * value for the rest of the request.
 */
#include "ngx_http_tracewire.h"

enum {
    NGX_HTTP_TRACEWIRE_VAR_TRACE_ID,
    NGX_HTTP_TRACEWIRE_VAR_SPAN_ID,
    NGX_HTTP_TRACEWIRE_VAR_PARENT_ID,
    NGX_HTTP_TRACEWIRE_VAR_SAMPLED,
    NGX_HTTP_TRACEWIRE_VAR_TRACEPARENT
};


static ngx_int_t
ngx_http_tracewire_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                 *p;
    size_t                  len;
    uint64_t                parent;
    tw_span                *span;
    const tw_span_context  *c;

    span = ngx_http_tracewire_request_span(r);
    if (span == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    c = tw_span_get_context(span);

    if (data == NGX_HTTP_TRACEWIRE_VAR_SAMPLED) {
        v->data = (u_char *) ((tw_span_context_flags(c) & TW_FLAG_SAMPLED) ? "1" : "0");
        v->len = 1;
        goto found;
    }

    p = ngx_pnalloc(r->pool, 56);
    if (p == NULL) {
        return NGX_ERROR;
    }

    switch (data) {

    case NGX_HTTP_TRACEWIRE_VAR_TRACE_ID:
        tw_span_context_trace_id_hex(c, (char *) p);
        len = ngx_strlen(p);
        break;

    case NGX_HTTP_TRACEWIRE_VAR_SPAN_ID:
        tw_span_context_span_id_hex(c, (char *) p);
        len = 16;
        break;

    case NGX_HTTP_TRACEWIRE_VAR_PARENT_ID:
        parent = tw_span_context_parent_id(c);
        if (parent == 0) {
            v->not_found = 1;       /* a root span: no parent */
            return NGX_OK;
        }
        ngx_sprintf(p, "%016xL", parent);
        len = 16;
        break;

    default: /* NGX_HTTP_TRACEWIRE_VAR_TRACEPARENT */
        tw_span_context_to_traceparent(c, (char *) p);
        len = 55;
        break;
    }

    v->data = p;
    v->len = len;

found:

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_http_variable_t  ngx_http_tracewire_vars[] = {

    { ngx_string("tracewire_trace_id"), NULL, ngx_http_tracewire_variable,
      NGX_HTTP_TRACEWIRE_VAR_TRACE_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tracewire_span_id"), NULL, ngx_http_tracewire_variable,
      NGX_HTTP_TRACEWIRE_VAR_SPAN_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tracewire_parent_id"), NULL, ngx_http_tracewire_variable,
      NGX_HTTP_TRACEWIRE_VAR_PARENT_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tracewire_sampled"), NULL, ngx_http_tracewire_variable,
      NGX_HTTP_TRACEWIRE_VAR_SAMPLED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tracewire_traceparent"), NULL, ngx_http_tracewire_variable,
      NGX_HTTP_TRACEWIRE_VAR_TRACEPARENT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_tracewire_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_tracewire_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
