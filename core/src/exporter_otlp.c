/* exporter_otlp.c — OTLP/HTTP: an ExportTraceServiceRequest, protobuf
 * (otlp_proto.c, the spec's default) or JSON (otlp_json.c) per
 * reporter.otlp_protocol, gzipped (gzip.c) when reporter.otlp_compression is
 * gzip, POSTed to a receiver's /v1/traces (200) through transport_http.c with
 * the OTLP retry policy (429/502/503/504 and connection errors, backoff with
 * jitter, Retry-After honoured, all within reporter.timeout_ms; other 4xx
 * permanent), the configured extra headers and TLS files. A 2xx answer's
 * partial_success.rejected_spans (protobuf or JSON by its Content-Type) marks
 * that many spans of the batch undelivered (the receiver does not say which,
 * so the counts stay exact, not the identities).
 */
#include "exporter.h"
#include "http_options.h"
#include "otlp_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ENDPOINT "http://127.0.0.1:4318/v1/traces"

typedef struct otlp_exporter {
    twp_exporter base;
    twp_exporter_env env;
    twp_http *http;
    const char *url;              /* borrowed from the config */
    twp_buf body;
    twp_gzip *gz;                 /* reporter.otlp_compression gzip, else NULL */
    twp_buf zbody;
} otlp_exporter;

static tw_status otlp_export(twp_exporter *e, const twp_batch *b, char *why, size_t cap)
{
    otlp_exporter *x = (otlp_exporter *)e;
    x->body.len = 0;
    tw_status st = x->env.cfg->otlp_json
                       ? twp_otlp_json_encode(&x->body, x->env.proc, b->spans, b->n)
                       : twp_otlp_proto_encode(&x->body, x->env.proc, b->spans, b->n);
    const twp_buf *out = &x->body;
    if (st == TW_OK && x->gz) {
        x->zbody.len = 0;
        st = twp_gzip_compress(x->gz, x->body.data, x->body.len, &x->zbody);
        out = &x->zbody;
    }
    if (st != TW_OK) {
        TWP_INC(x->env.ctr, send_failures, 1);
        snprintf(why, cap, "out of memory encoding a batch");
        return TW_ERR_NOMEM;
    }
    twp_http_result res = { 0 };
    twp_http_on_stall(x->http, b->stalled, b->stall_ud);
    st = twp_http_post(x->http, out->data, out->len, b->abort_at_us, &res);
    return twp_exporter_http_result(&x->env, x->url, b, st, &res, out->len, why, cap);
}

static void otlp_after_fork_child(twp_exporter *e)
{
    otlp_exporter *x = (otlp_exporter *)e;
    twp_buf_init(&x->body);   /* possibly mid-update by a thread that is gone: leaked */
    twp_buf_init(&x->zbody);
    twp_http_after_fork_child(x->http);
}

static void otlp_free(twp_exporter *e)
{
    otlp_exporter *x = (otlp_exporter *)e;
    twp_http_free(x->http);
    twp_buf_free(&x->body);
    twp_buf_free(&x->zbody);
    twp_gzip_free(x->gz);
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
    twp_buf_init(&x->zbody);
    const tw_config *cfg = env->cfg;
    twp_http_opts o;
    memset(&o, 0, sizeof o);
    o.url = x->url;
    o.content_type = cfg->otlp_json ? "application/json" : "application/x-protobuf";
    o.content_encoding = cfg->otlp_gzip ? "gzip" : NULL;
    o.headers = cfg->otlp_headers;
    o.ca_file = cfg->tls_ca;
    o.cert_file = cfg->tls_cert;
    o.key_file = cfg->tls_key;
    o.policy = TWP_HTTP_OTLP;
    o.timeout_ms = cfg->timeout_ms;
    o.retries = cfg->retries >= 0 ? cfg->retries : 3;
    tw_status st = twp_http_new_opts(&o, &x->http);
    /* level 1: bench_reporter encodes + compresses ~3.5M spans/s at 1 and
     * ~1.3M at zlib's default 6 on one core, for a few percent of size */
    if (st == TW_OK && cfg->otlp_gzip)
        st = twp_gzip_new(1, &x->gz);
    if (st != TW_OK) {
        otlp_free(&x->base);
        return st;
    }
    *out = &x->base;
    return TW_OK;
}
