/* exporter_otlp.c — OTLP/HTTP: an ExportTraceServiceRequest (otlp_json.c)
 * POSTed to a receiver's /v1/traces (200), through transport_http.c with the
 * OTLP retry policy (429/502/503/504 and connection errors, Retry-After
 * honoured; other 4xx permanent). A 2xx answer's partialSuccess.rejectedSpans
 * marks that many spans of the batch undelivered (the receiver does not say
 * which, so the counts stay exact, not the identities).
 */
#include "exporter.h"

#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_ENDPOINT "http://127.0.0.1:4318/v1/traces"

typedef struct otlp_exporter {
    twp_exporter base;
    twp_exporter_env env;
    twp_http *http;
    const char *url;              /* borrowed from the config */
    twp_buf body;
} otlp_exporter;

static tw_status otlp_export(twp_exporter *e, const twp_batch *b, char *why, size_t cap)
{
    otlp_exporter *x = (otlp_exporter *)e;
    x->body.len = 0;
    if (twp_otlp_json_encode(&x->body, x->env.proc, b->spans, b->n) != TW_OK) {
        TWP_INC(x->env.ctr, send_failures, 1);
        snprintf(why, cap, "out of memory encoding a batch");
        return TW_ERR_NOMEM;
    }
    twp_http_result res = { 0 };
    tw_status st = twp_http_post(x->http, x->body.data, x->body.len, b->abort_at_us, &res);
    return twp_exporter_http_result(&x->env, x->url, b, st, &res, x->body.len, why, cap);
}

static void otlp_after_fork_child(twp_exporter *e)
{
    otlp_exporter *x = (otlp_exporter *)e;
    twp_buf_init(&x->body);   /* possibly mid-update by a thread that is gone: leaked */
    twp_http_after_fork_child(x->http);
}

static void otlp_free(twp_exporter *e)
{
    otlp_exporter *x = (otlp_exporter *)e;
    twp_http_free(x->http);
    twp_buf_free(&x->body);
    free(x);
}

static const twp_exporter_ops otlp_ops = { "otlp", otlp_export, otlp_after_fork_child, otlp_free };

tw_status twp_exporter_otlp_new(const twp_exporter_env *env, twp_exporter **out)
{
    *out = NULL;
    otlp_exporter *x = calloc(1, sizeof *x);
    if (!x)
        return TW_ERR_NOMEM;
    x->base.ops = &otlp_ops;
    x->env = *env;
    x->url = env->cfg->otlp_endpoint ? env->cfg->otlp_endpoint : DEFAULT_ENDPOINT;
    twp_buf_init(&x->body);
    tw_status st = twp_http_new(x->url, "application/json", TWP_HTTP_OTLP, env->cfg->timeout_ms,
                                env->cfg->retries >= 0 ? env->cfg->retries : 3, &x->http);
    if (st != TW_OK) {
        otlp_free(&x->base);
        return st;
    }
    *out = &x->base;
    return TW_OK;
}
