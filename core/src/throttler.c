/* throttler.c — debug-span throttling with credits from the agent, as
 * jaeger_client 4.8's RemoteThrottler (throttler.py).
 *
 * A span asks to become a debug span in two places: a child of a carrier
 * holding only a debug id (jaeger-debug-id), and sampling.priority > 0
 * (span.c). With the throttler on, each such ask spends one credit of the
 * span's operation; an operation without a credit is refused (the span stays
 * as it was: the debug-id child is not sampled at all, as jaeger_client does
 * not ask its sampler then) and counted in throttled_debug_spans. An
 * operation never seen is remembered with 0 credits, so the next request asks
 * for it: the first debug span of an operation is always refused, as in
 * jaeger_client.
 *
 * Credits come from GET http://AGENT_HOST:PORT/credits?service=S&uuid=U&
 * operations=OP1&operations=OP2... on the reporter thread (sampling_poll.c
 * calls twp_throttler_poll), first after a random delay within one refresh
 * interval (jaeger_client's anti-stampede delay), then every refresh
 * interval, and only when some operation was seen. The answer
 * {"balances":[{"operation":OP,"balance":N},...]} adds N to OP's credits.
 * uuid is the tracer's client-uuid process tag (jaeger_client sends a random
 * decimal number that it also puts in its client-uuid tag; both keep the tag
 * and the request in agreement). A failure (transport, status, body) counts
 * throttler_updates_err and is said through the diagnostics hook; the
 * credits stay as they were.
 *
 * Span threads and the reporter thread share the table under one mutex held
 * for a lookup or a merge, never across the HTTP request. Operations are
 * bounded (TWP_THROTTLER_MAX_OPS): beyond, a new operation is refused without
 * being remembered.
 */
#include "throttler.h"
#include "ids.h"
#include "sampling_poll.h"

#include <jansson.h>
#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWP_THROTTLER_MAX_OPS 1000
#define MINIMUM_CREDITS 1.0

typedef struct op_credit {
    char *name;
    size_t len;
    double credits;
} op_credit;

struct twp_throttler {
    pthread_mutex_t mu;
    op_credit *ops;                  /* under mu */
    size_t nops, cap;
    const char *service, *uuid;      /* borrowed */
    char *base_url;                  /* http://host:port/credits */
    int refresh_ms;
    bool started;                    /* reporter thread: the first delay is scheduled */
    twp_counters *ctr;
};

tw_status twp_throttler_new(const tw_config *cfg, const char *service, const char *uuid,
                            twp_counters *ctr, twp_throttler **out)
{
    *out = NULL;
    if (!cfg->throttler)
        return TW_OK;
    twp_throttler *t = calloc(1, sizeof *t);
    if (!t)
        return TW_ERR_NOMEM;
    const char *host = cfg->agent_host && *cfg->agent_host ? cfg->agent_host : "127.0.0.1";
    bool v6 = strchr(host, ':') && host[0] != '[';
    size_t n = strlen(host) + 40;
    t->base_url = malloc(n);
    if (!t->base_url) {
        free(t);
        return TW_ERR_NOMEM;
    }
    snprintf(t->base_url, n, "http://%s%s%s:%d/credits", v6 ? "[" : "", host, v6 ? "]" : "",
             cfg->throttler_port > 0 ? cfg->throttler_port : 5778);
    pthread_mutex_init(&t->mu, NULL);
    t->service = service ? service : "";
    t->uuid = uuid ? uuid : "";
    t->refresh_ms = cfg->throttler_refresh_ms > 0 ? cfg->throttler_refresh_ms : 5000;
    t->ctr = ctr;
    *out = t;
    return TW_OK;
}

void twp_throttler_free(twp_throttler *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nops; i++)
        free(t->ops[i].name);
    free(t->ops);
    free(t->base_url);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Under mu: op's entry, added with 0 credits when new (NULL: over the bound
 * or out of memory). */
static op_credit *find_or_add(twp_throttler *t, const char *op, size_t len, bool add)
{
    for (size_t i = 0; i < t->nops; i++)
        if (t->ops[i].len == len && memcmp(t->ops[i].name, op, len) == 0)
            return &t->ops[i];
    if (!add || t->nops == TWP_THROTTLER_MAX_OPS)
        return NULL;
    if (t->nops == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        op_credit *n = realloc(t->ops, cap * sizeof *n);
        if (!n)
            return NULL;
        t->ops = n;
        t->cap = cap;
    }
    char *name = malloc(len + 1);
    if (!name)
        return NULL;
    if (len)
        memcpy(name, op, len);
    name[len] = '\0';
    t->ops[t->nops] = (op_credit){name, len, 0};
    return &t->ops[t->nops++];
}

bool twp_throttler_allow(twp_throttler *t, const char *op, size_t op_len)
{
    if (!op)
        op = "";
    bool ok = false;
    pthread_mutex_lock(&t->mu);
    op_credit *c = find_or_add(t, op, op_len, true);
    if (c && c->credits >= MINIMUM_CREDITS) {
        c->credits -= MINIMUM_CREDITS;
        ok = true;
    }
    pthread_mutex_unlock(&t->mu);
    if (!ok)
        TWP_INC(t->ctr, throttled_debug_spans, 1);
    return ok;
}

/* The request URL for the operations seen so far (new), or NULL when none
 * (or out of memory: *oom). */
static char *credits_url(twp_throttler *t, bool *oom)
{
    twp_buf u;
    twp_buf_init(&u);
    twp_buf_append(&u, t->base_url, strlen(t->base_url));
    twp_url_param(&u, "service", t->service, strlen(t->service));
    twp_url_param(&u, "uuid", t->uuid, strlen(t->uuid));
    pthread_mutex_lock(&t->mu);
    size_t n = t->nops;
    for (size_t i = 0; i < n; i++)
        twp_url_param(&u, "operations", t->ops[i].name, t->ops[i].len);
    pthread_mutex_unlock(&t->mu);
    twp_buf_putc(&u, '\0');
    *oom = u.failed;
    if (n == 0 || u.failed) {
        twp_buf_free(&u);
        return NULL;
    }
    return u.data;
}

/* {"balances":[{"operation":OP,"balance":N},...]}: validated whole, then
 * merged, so a bad body changes nothing. */
static tw_status apply_credits(twp_throttler *t, const char *body, size_t len, char *why,
                               size_t cap)
{
    json_error_t err;
    json_t *root = json_loadb(body, len, 0, &err);
    json_t *list = json_is_object(root) ? json_object_get(root, "balances") : NULL;
    if (!json_is_array(list)) {
        snprintf(why, cap, "no \"balances\" list in the answer");
        json_decref(root);
        return TW_ERR_CORRUPTED;
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        json_t *op = json_object_get(e, "operation"), *bal = json_object_get(e, "balance");
        if (!json_is_string(op) || !json_is_number(bal) || !(json_number_value(bal) >= 0)) {
            snprintf(why, cap, "balance %zu is not {\"operation\": text, \"balance\": number >= 0}",
                     i);
            json_decref(root);
            return TW_ERR_CORRUPTED;
        }
    }
    pthread_mutex_lock(&t->mu);
    json_array_foreach(list, i, e) {
        json_t *op = json_object_get(e, "operation");
        op_credit *c = find_or_add(t, json_string_value(op), json_string_length(op), true);
        if (c)
            c->credits += json_number_value(json_object_get(e, "balance"));
    }
    pthread_mutex_unlock(&t->mu);
    json_decref(root);
    return TW_OK;
}

int64_t twp_throttler_poll(twp_throttler *t, int64_t now_us, int timeout_ms,
                           _Atomic int64_t *abort_at_us, twp_diag *d)
{
    int64_t period = (int64_t)t->refresh_ms * 1000;
    if (!t->started) {
        /* jaeger_client: the first request after random() * refresh_interval */
        t->started = true;
        uint64_t r = twp_random_id_inline(&twp_tls);
        return now_us + (int64_t)((double)(r >> 11) / 9007199254740992.0 * (double)period);
    }
    bool oom = false;
    char *url = credits_url(t, &oom);
    if (!url) {
        if (oom)
            twp_diag_event(d, TW_DIAG_THROTTLER, TW_ERR_NOMEM, 1, now_us,
                           "tracewire: throttler: out of memory building the credits request");
        return now_us + period;
    }
    twp_buf body;
    char why[192];
    tw_status st = twp_agent_get(url, timeout_ms, abort_at_us, &body, why, sizeof why);
    if (st == TW_OK)
        st = apply_credits(t, body.data ? body.data : "", body.len, why, sizeof why);
    if (st == TW_OK) {
        TWP_INC(t->ctr, throttler_updates_ok, 1);
    } else if (st != TW_ERR_TIMEOUT) {   /* TIMEOUT: abandoned at close() */
        TWP_INC(t->ctr, throttler_updates_err, 1);
        twp_diag_event(d, TW_DIAG_THROTTLER, st, 1, now_us,
                       "tracewire: throttler: GET %s: %s; keeping the current credits", url,
                       why);
    }
    twp_buf_free(&body);
    free(url);
    return now_us + period;
}

void twp_throttler_after_fork(twp_throttler *t)
{
    if (!t)
        return;
    pthread_mutex_init(&t->mu, NULL);
    t->started = false;
}
