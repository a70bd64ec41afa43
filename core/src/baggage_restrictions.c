/* baggage_restrictions.c — which baggage keys may be set, from the agent.
 *
 * jaeger_client 4.8 (Python) has no restriction manager; this is
 * jaeger-client-go's RemoteRestrictionManager, whose config group
 * (baggage_restrictions: host_port, refresh_interval,
 * deny_baggage_on_initialization_failure) the Python and Lua faces accept:
 *
 *  - GET http://HOST_PORT/baggageRestrictions?service=S on the reporter
 *    thread (sampling_poll.c calls twp_restrictions_poll) at once when it
 *    starts, then every refresh interval; the answer is a JSON list
 *    [{"baggageKey": K, "maxValueLength": N}, ...] and replaces the whole
 *    table (validated first: a bad body changes nothing).
 *  - Until the first good answer every key is allowed with values cut at
 *    2048 bytes, or, with deny_baggage_on_initialization_failure, none is.
 *  - After it, a key in the table is allowed with values cut at its
 *    maxValueLength; any other key is denied.
 * span.c applies the verdict in tw_span_set_baggage (a denied key is not
 * set; a long value is cut), logs it on a sampled span as Go's baggage
 * setter does (event=baggage, key, value, override / truncated / invalid)
 * and counts baggage_updates_ok/_err and baggage_truncations. A failed fetch
 * counts baggage_restrictions_updates_err and is said through the
 * diagnostics hook.
 *
 * The table is swapped whole under a mutex that lookups take briefly; the
 * HTTP request runs without it.
 */
#include "baggage_restrictions.h"
#include "sampling_poll.h"

#include <jansson.h>
#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct restriction {
    char *key;
    size_t key_len, max_len;
} restriction;

struct twp_restrictions {
    pthread_mutex_t mu;
    restriction *tab;        /* under mu; one block with the keys after the array */
    size_t n;
    bool initialized;        /* under mu: a good answer arrived */
    bool deny_uninitialized;
    char *url;               /* http://host:port/baggageRestrictions?service=S */
    int refresh_ms;
    twp_counters *ctr;
};

tw_status twp_restrictions_new(const tw_config *cfg, const char *service, twp_counters *ctr,
                               twp_restrictions **out)
{
    *out = NULL;
    if (!cfg->baggage_restrictions)
        return TW_OK;
    const char *hp = cfg->baggage_restrictions_host_port;
    char dflt[300];
    if (!hp || !*hp) {
        const char *host = cfg->agent_host && *cfg->agent_host ? cfg->agent_host : "127.0.0.1";
        bool v6 = strchr(host, ':') && host[0] != '[';
        snprintf(dflt, sizeof dflt, "%s%s%s:5778", v6 ? "[" : "", host, v6 ? "]" : "");
        hp = dflt;
    }
    if (strpbrk(hp, "/?# \t\r\n") || strlen(hp) > 280)
        return TW_ERR_CONFIG;      /* host:port, nothing else */
    twp_restrictions *r = calloc(1, sizeof *r);
    if (!r)
        return TW_ERR_NOMEM;
    twp_buf u;
    twp_buf_init(&u);
    twp_buf_append(&u, "http://", 7);
    twp_buf_append(&u, hp, strlen(hp));
    twp_buf_append(&u, "/baggageRestrictions", 20);
    twp_url_param(&u, "service", service ? service : "", service ? strlen(service) : 0);
    twp_buf_putc(&u, '\0');
    if (u.failed) {
        twp_buf_free(&u);
        free(r);
        return TW_ERR_NOMEM;
    }
    r->url = u.data;
    pthread_mutex_init(&r->mu, NULL);
    r->deny_uninitialized = cfg->baggage_restrictions_deny;
    r->refresh_ms = cfg->baggage_restrictions_refresh_ms > 0 ? cfg->baggage_restrictions_refresh_ms
                                                             : 60000;
    r->ctr = ctr;
    *out = r;
    return TW_OK;
}

void twp_restrictions_free(twp_restrictions *r)
{
    if (!r)
        return;
    free(r->tab);
    free(r->url);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

bool twp_restrictions_allow(twp_restrictions *r, const char *key, size_t key_len,
                            size_t *max_len)
{
    bool ok = false;
    pthread_mutex_lock(&r->mu);
    if (!r->initialized) {
        ok = !r->deny_uninitialized;
        *max_len = TWP_RESTRICTION_DEFAULT_MAX;
    } else {
        for (size_t i = 0; i < r->n; i++)
            if (r->tab[i].key_len == key_len && memcmp(r->tab[i].key, key, key_len) == 0) {
                ok = true;
                *max_len = r->tab[i].max_len;
                break;
            }
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

/* The answer -> a new table (one block), or a status and why. */
static tw_status parse(const char *body, size_t len, restriction **out, size_t *nout, char *why,
                       size_t cap)
{
    json_error_t err;
    json_t *root = json_loadb(body, len, 0, &err);
    if (!json_is_array(root)) {
        snprintf(why, cap, "the answer is not a JSON list of restrictions");
        json_decref(root);
        return TW_ERR_CORRUPTED;
    }
    size_t n = json_array_size(root), bytes = 0, i;
    json_t *e;
    json_array_foreach(root, i, e) {
        json_t *k = json_object_get(e, "baggageKey"), *m = json_object_get(e, "maxValueLength");
        if (!json_is_string(k) || !json_is_integer(m) || json_integer_value(m) < 0) {
            snprintf(why, cap, "restriction %zu is not {\"baggageKey\": text, "
                     "\"maxValueLength\": integer >= 0}", i);
            json_decref(root);
            return TW_ERR_CORRUPTED;
        }
        bytes += json_string_length(k) + 1;
    }
    restriction *tab = malloc(n * sizeof *tab + bytes + 1);
    if (!tab) {
        snprintf(why, cap, "out of memory");
        json_decref(root);
        return TW_ERR_NOMEM;
    }
    char *keys = (char *)(tab + n);
    json_array_foreach(root, i, e) {
        json_t *k = json_object_get(e, "baggageKey");
        size_t kl = json_string_length(k);
        memcpy(keys, json_string_value(k), kl);
        keys[kl] = '\0';
        tab[i] = (restriction){keys, kl, (size_t)json_integer_value(json_object_get(e, "maxValueLength"))};
        keys += kl + 1;
    }
    json_decref(root);
    *out = tab;
    *nout = n;
    return TW_OK;
}

int64_t twp_restrictions_poll(twp_restrictions *r, int64_t now_us, int timeout_ms,
                              _Atomic int64_t *abort_at_us, twp_diag *d)
{
    twp_buf body;
    char why[192];
    restriction *tab = NULL;
    size_t n = 0;
    tw_status st = twp_agent_get(r->url, timeout_ms, abort_at_us, &body, why, sizeof why);
    if (st == TW_OK)
        st = parse(body.data ? body.data : "", body.len, &tab, &n, why, sizeof why);
    if (st == TW_OK) {
        pthread_mutex_lock(&r->mu);
        restriction *old = r->tab;
        r->tab = tab;
        r->n = n;
        r->initialized = true;
        pthread_mutex_unlock(&r->mu);
        free(old);
        TWP_INC(r->ctr, baggage_restrictions_updates_ok, 1);
    } else if (st != TW_ERR_TIMEOUT) {   /* TIMEOUT: abandoned at close() */
        TWP_INC(r->ctr, baggage_restrictions_updates_err, 1);
        twp_diag_event(d, TW_DIAG_BAGGAGE_RESTRICTIONS, st, 1, now_us,
                       "tracewire: baggage restrictions: GET %s: %s; keeping the current ones",
                       r->url, why);
    }
    twp_buf_free(&body);
    return now_us + (int64_t)r->refresh_ms * 1000;
}

void twp_restrictions_after_fork(twp_restrictions *r)
{
    if (r)
        pthread_mutex_init(&r->mu, NULL);
}
