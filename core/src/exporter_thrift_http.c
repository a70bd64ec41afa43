/* exporter_thrift_http.c — Jaeger Thrift binary Batch, POSTed to a
 * collector's /api/traces (202), through transport_http.c: one kept-alive
 * curl handle, retries of connection errors and 5xx with backoff and jitter
 * within reporter.timeout_ms, never past the close() deadline, the configured
 * extra headers (reporter.http_headers) and TLS files. Never compressed:
 * Jaeger's collector reads the body raw. Batches carry seqNo (this
 * exporter's own sequence) and cumulative ClientStats.
 */
#include "exporter.h"
#include "http_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ENDPOINT "http://127.0.0.1:14268/api/traces"

typedef struct thrift_http_exporter {
    twp_exporter base;
    twp_exporter_env env;
    twp_http *http;
    const char *url;              /* borrowed from the config */
    twp_buf body;
    int64_t seq;
} thrift_http_exporter;

static tw_status th_export(twp_exporter *e, const twp_batch *b, char *why, size_t cap)
{
    thrift_http_exporter *x = (thrift_http_exporter *)e;
    twp_client_stats cs;
    twp_exporter_client_stats(&x->env, 0, &cs);
    twp_batch_meta m = { true, ++x->seq, &cs };
    x->body.len = 0;
    if (!twp_thrift_binary_batch(&x->body, x->env.proc, b->spans, b->n, &m)) {
        TWP_INC(x->env.ctr, send_failures, 1);
        snprintf(why, cap, "out of memory encoding a batch");
        return TW_ERR_NOMEM;
    }
    twp_http_result res = { 0 };
    twp_http_on_stall(x->http, b->stalled, b->stall_ud);
    tw_status st = twp_http_post(x->http, x->body.data, x->body.len, b->abort_at_us, &res);
    return twp_exporter_http_result(&x->env, x->url, b, st, &res, x->body.len, why, cap);
}

static void th_after_fork_child(twp_exporter *e)
{
    thrift_http_exporter *x = (thrift_http_exporter *)e;
    twp_buf_init(&x->body);   /* possibly mid-update by a thread that is gone: leaked */
    twp_http_after_fork_child(x->http);
    x->seq = 0;
}

static void th_free(twp_exporter *e)
{
    thrift_http_exporter *x = (thrift_http_exporter *)e;
    twp_http_free(x->http);
    twp_buf_free(&x->body);
    free(x);
}

static const twp_exporter_ops th_ops = { "http", th_export, th_after_fork_child, th_free };

tw_status twp_exporter_thrift_http_new(const twp_exporter_env *env, twp_exporter **out)
{
    *out = NULL;
    thrift_http_exporter *x = calloc(1, sizeof *x);
    if (!x)
        return TW_ERR_NOMEM;
    x->base.ops = &th_ops;
    x->env = *env;
    x->url = env->cfg->endpoint ? env->cfg->endpoint : DEFAULT_ENDPOINT;
    twp_buf_init(&x->body);
    const tw_config *cfg = env->cfg;
    twp_http_opts o;
    memset(&o, 0, sizeof o);
    o.url = x->url;
    o.content_type = "application/x-thrift";
    o.headers = cfg->http_headers;
    o.ca_file = cfg->tls_ca;
    o.cert_file = cfg->tls_cert;
    o.key_file = cfg->tls_key;
    o.policy = TWP_HTTP_THRIFT;
    o.timeout_ms = cfg->timeout_ms;
    o.retries = cfg->retries >= 0 ? cfg->retries : 3;
    tw_status st = twp_http_new_opts(&o, &x->http);
    if (st != TW_OK) {
        th_free(&x->base);
        return st;
    }
    *out = &x->base;
    return TW_OK;
}
