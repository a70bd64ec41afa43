/* ngx_http_tracewire_headers.c — nginx's parsed request headers as the
 * core's carrier.
 *
 * Extract walks r->headers_in.headers (HTTP/1.x and HTTP/2 alike: nginx
 * parsed and bounded them already) through the core's carrier callback,
 * and only when one of them is a context header: most requests carry none,
 * and a one-byte test per header is far cheaper than setting up an extract
 * (about 600 instructions, bench/nginx_callgrind.sh).
 *
 * Inject writes the span's context into the same list, which proxy_pass,
 * grpc_pass, fastcgi_pass and the other upstream modules forward, so no
 * proxy_set_header is needed. First every incoming context header of every
 * format is removed (not only the injected formats: an upstream that sees
 * our traceparent next to the client's b3 would either pick the client's
 * span as parent or call the two formats corrupted), then the core's
 * headers are appended.
 *
 * Removal compacts nginx's header list in place. nginx keeps
 * pointers to its known headers (r->headers_in.host, .user_agent, the
 * cookie and X-Forwarded-For arrays...) into that list, so every element
 * that moves is looked up in the core module's headers_in_hash and the one
 * pointer (or array slot) that named its old address is moved with it.
 * Context headers are never known headers themselves, so nothing points at
 * a removed element.
 */
#include "ngx_http_tracewire.h"


typedef struct {
    ngx_conf_t                      *cf;
    ngx_http_tracewire_main_conf_t  *mcf;
    ngx_int_t                        rc;
} ngx_http_tracewire_names_ctx_t;


static int
ngx_http_tracewire_header_name(void *ud, const char *name, size_t len, int is_prefix)
{
    ngx_http_tracewire_names_ctx_t *nc = ud;

    ngx_str_t  *n;

    if (len == 0) {
        return 0;
    }

    n = ngx_array_push(is_prefix ? nc->mcf->ctx_prefixes : nc->mcf->ctx_names);
    if (n == NULL) {
        nc->rc = NGX_ERROR;
        return 1;
    }

    n->data = ngx_pnalloc(nc->cf->pool, len);
    if (n->data == NULL) {
        nc->rc = NGX_ERROR;
        return 1;
    }

    /* nginx's lowcase_key is what requests are matched on */
    ngx_strlow(n->data, (u_char *) name, len);
    n->len = len;
    nc->mcf->ctx_first[n->data[0]] = 1;

    return 0;
}


/* Every header of every format (not only the configured ones: a client's
 * b3 must not reach the upstream beside our traceparent), as the core names
 * them for this configuration (trace_id_header, baggage_header_prefix). */
ngx_int_t
ngx_http_tracewire_header_names(ngx_conf_t *cf, ngx_http_tracewire_main_conf_t *mcf,
    tw_tracer *t)
{
    ngx_http_tracewire_names_ctx_t  nc;

    mcf->ctx_names = ngx_array_create(cf->pool, 16, sizeof(ngx_str_t));
    mcf->ctx_prefixes = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
    if (mcf->ctx_names == NULL || mcf->ctx_prefixes == NULL) {
        return NGX_ERROR;
    }

    nc.cf = cf;
    nc.mcf = mcf;
    nc.rc = NGX_OK;

    if (tw_tracer_header_names(t, TW_PROP_ALL, ngx_http_tracewire_header_name, &nc) != TW_OK) {
        return NGX_ERROR;
    }

    return nc.rc;
}


int
ngx_http_tracewire_headers_foreach(void *carrier, tw_kv_fn visit, void *ud)
{
    ngx_http_request_t  *r = carrier;

    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (visit(ud, (const char *) h[i].key.data, h[i].key.len,
                      (const char *) h[i].value.data, h[i].value.len))
            {
                return 0;   /* the core has seen enough */
            }
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_tracewire_is_context_header(ngx_http_tracewire_main_conf_t *mcf,
    ngx_table_elt_t *h)
{
    u_char      *k;
    size_t       len;
    ngx_str_t   *n;
    ngx_uint_t   i;

    k = h->lowcase_key;
    len = h->key.len;

    /* most headers are none of ours: one byte decides for them */
    if (k == NULL || len == 0 || !mcf->ctx_first[k[0]]) {
        return 0;
    }

    n = mcf->ctx_names->elts;
    for (i = 0; i < mcf->ctx_names->nelts; i++) {
        if (len == n[i].len && ngx_memcmp(k, n[i].data, len) == 0) {
            return 1;
        }
    }

    n = mcf->ctx_prefixes->elts;
    for (i = 0; i < mcf->ctx_prefixes->nelts; i++) {
        if (len > n[i].len && ngx_memcmp(k, n[i].data, n[i].len) == 0) {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_tracewire_has_context_from(ngx_http_tracewire_main_conf_t *mcf,
    ngx_list_part_t *part, ngx_uint_t i)
{
    ngx_table_elt_t  *h;

    for ( /* void */ ; part; part = part->next, i = 0) {
        h = part->elts;

        for ( /* void */ ; i < part->nelts; i++) {
            if (ngx_http_tracewire_is_context_header(mcf, &h[i])) {
                return 1;
            }
        }
    }

    return 0;
}


/* h moved from old to h: move nginx's pointer to it along. */
static void
ngx_http_tracewire_moved(ngx_http_request_t *r, ngx_http_core_main_conf_t *cmcf,
    ngx_table_elt_t *old, ngx_table_elt_t *h)
{
    ngx_uint_t          i;
    ngx_array_t        *a;
    ngx_table_elt_t   **ph;
    ngx_http_header_t  *hh;

    hh = ngx_hash_find(&cmcf->headers_in_hash, h->hash, h->lowcase_key, h->key.len);
    if (hh == NULL) {
        return;
    }

    if (hh->offset == offsetof(ngx_http_headers_in_t, cookies)
#if (NGX_HTTP_X_FORWARDED_FOR)
        || hh->offset == offsetof(ngx_http_headers_in_t, x_forwarded_for)
#endif
       )
    {
        /* nginx 1.22 keeps these as arrays of pointers */
        a = (ngx_array_t *) ((char *) &r->headers_in + hh->offset);
        ph = a->elts;
        for (i = 0; i < a->nelts; i++) {
            if (ph[i] == old) {
                ph[i] = h;
            }
        }
        return;
    }

    ph = (ngx_table_elt_t **) ((char *) &r->headers_in + hh->offset);
    if (*ph == old) {
        *ph = h;
    }
}


/* Compacts the whole list (not part by part: nginx's own loops read
 * element 0 of every part after the first, so no such part may be left
 * empty); parts emptied at the end are unlinked and the list's last part
 * is the one the writes stopped in. */
static void
ngx_http_tracewire_remove_context(ngx_http_request_t *r,
    ngx_http_tracewire_main_conf_t *mcf)
{
    ngx_uint_t                  i, w;
    ngx_list_t                 *list;
    ngx_list_part_t            *part, *wpart;
    ngx_table_elt_t            *h, *dst;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    list = &r->headers_in.headers;

    wpart = &list->part;
    w = 0;

    for (part = &list->part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_tracewire_is_context_header(mcf, &h[i])) {
                continue;
            }

            if (w == list->nalloc) {
                /* the writes never overtake the reads: a next part exists */
                wpart->nelts = w;
                wpart = wpart->next;
                w = 0;
            }

            dst = (ngx_table_elt_t *) wpart->elts + w;
            if (dst != &h[i]) {
                *dst = h[i];
                ngx_http_tracewire_moved(r, cmcf, &h[i], dst);
            }

            w++;
        }
    }

    wpart->nelts = w;
    wpart->next = NULL;
    list->last = wpart;
}


static int
ngx_http_tracewire_add_header(void *ud, const char *key, size_t key_len,
    const char *val, size_t val_len)
{
    ngx_http_request_t  *r = ud;

    u_char           *p;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return 1;
    }

    p = ngx_pnalloc(r->pool, key_len + 1 + val_len + 1);
    if (p == NULL) {
        /* pushed but empty: make it a header no upstream module sends */
        r->headers_in.headers.last->nelts--;
        return 1;
    }

    /* the core's names are lower case already */
    h->key.data = p;
    h->key.len = key_len;
    h->lowcase_key = p;
    ngx_memcpy(p, key, key_len);
    p[key_len] = '\0';
    h->hash = ngx_hash_key(p, key_len);

    p += key_len + 1;
    h->value.data = p;
    h->value.len = val_len;
    ngx_memcpy(p, val, val_len);
    p[val_len] = '\0';

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return 0;
}


ngx_int_t
ngx_http_tracewire_inject(ngx_http_request_t *r, ngx_http_tracewire_main_conf_t *mcf,
    tw_span *span)
{
    ngx_http_tracewire_remove_context(r, mcf);

    if (tw_tracer_inject(mcf->tracer, tw_span_get_context(span), TW_PROP_DEFAULT,
                         ngx_http_tracewire_add_header, r)
        != TW_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
