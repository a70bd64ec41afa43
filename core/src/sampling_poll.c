/* sampling_poll.c — what the reporter thread asks the agent's HTTP port.
 *
 * Remote sampling: with sampler type REMOTE the reporter thread GETs
 * sampler_url?service=NAME (name percent-encoded) when it starts and every
 * sampler_refresh_ms, with a min(timeout_ms, 2 s) timeout, and hands a 2xx
 * body to the tracer's hook (sampler.c swaps strategies; it keeps the old one
 * on a body it rejects). The throttler's credits (throttler.c) and the
 * baggage restrictions (baggage_restrictions.c) ride on the same schedule
 * keeping: each says when it is due next, and p->next_us is the earliest of
 * the three. The reporter thread calls twp_sampling_poll_run on every wake-up
 * and sleeps no longer than next_us, so polling needs no thread of its own
 * and never runs on an application thread. A failed poll is said through
 * the diagnostics hook (rate-limited there) and changes nothing.
 */
#include "sampling_poll.h"
#include "baggage_restrictions.h"
#include "throttler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void twp_url_param(twp_buf *u, const char *key, const char *val, size_t val_len)
{
    static const char hex[] = "0123456789ABCDEF";
    bool query = u->len && memchr(u->data, '?', u->len);
    twp_buf_putc(u, query ? '&' : '?');
    twp_buf_append(u, key, strlen(key));
    twp_buf_putc(u, '=');
    for (size_t i = 0; i < val_len; i++) {
        unsigned char c = (unsigned char)val[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            twp_buf_putc(u, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            twp_buf_append(u, e, 3);
        }
    }
}

tw_status twp_agent_get(const char *url, int timeout_ms, _Atomic int64_t *abort_at_us,
                        twp_buf *body, char *why, size_t cap)
{
    long code = 0;
    twp_buf_init(body);
    tw_status st = twp_http_get(url, timeout_ms, abort_at_us, body, &code, why, cap);
    if (st == TW_OK && body->failed) {
        st = TW_ERR_NOMEM;
        snprintf(why, cap, "out of memory reading the answer");
    }
    return st;
}

static char *sampling_url(const char *base, const char *service)
{
    if (!base || !*base)
        return NULL;
    twp_buf u;
    twp_buf_init(&u);
    twp_buf_append(&u, base, strlen(base));
    twp_url_param(&u, "service", service ? service : "", service ? strlen(service) : 0);
    if (!twp_buf_putc(&u, '\0') || u.failed) {
        twp_buf_free(&u);
        return NULL;
    }
    return u.data;   /* the buffer's block, NUL-terminated: ours to free */
}

tw_status twp_sampling_poll_init(twp_sampling_poll *p, const tw_config *cfg,
                                 const twp_process *proc, const twp_sampling_hook *hook)
{
    memset(p, 0, sizeof *p);
    if (!hook)
        return TW_OK;
    p->hook = hook;
    p->refresh_ms = cfg->sampler_refresh_ms > 0 ? cfg->sampler_refresh_ms : 60000;
    p->timeout_ms = cfg->timeout_ms > 0 && cfg->timeout_ms < 2000 ? cfg->timeout_ms : 2000;
    if (cfg->sampler_type != TWP_SAMPLER_REMOTE || !hook->apply)
        return TW_OK;
    p->url = sampling_url(cfg->sampler_url, proc->service_name);
    if (!p->url && cfg->sampler_url && *cfg->sampler_url)
        return TW_ERR_NOMEM;
    return TW_OK;
}

static void poll_strategies(twp_sampling_poll *p, int64_t now_us, _Atomic int64_t *abort_at_us,
                            twp_diag *d)
{
    p->sampling_next_us = now_us + (int64_t)p->refresh_ms * 1000;
    twp_buf body;
    char why[192];
    tw_status st = twp_agent_get(p->url, p->timeout_ms, abort_at_us, &body, why, sizeof why);
    if (st == TW_OK) {
        /* the tracer's apply() counts sampler_updates */
        st = p->hook->apply(p->hook->ud, body.data ? body.data : "", body.len);
        if (st != TW_OK)
            snprintf(why, sizeof why, "strategy rejected: %s", tw_strerror(st));
    }
    if (st != TW_OK && st != TW_ERR_TIMEOUT)   /* TIMEOUT: abandoned at close() */
        twp_diag_event(d, TW_DIAG_SAMPLING, st, 1, now_us,
                       "tracewire: remote sampling: GET %s: %s; keeping the current strategy",
                       p->url, why);
    twp_buf_free(&body);
}

void twp_sampling_poll_run(twp_sampling_poll *p, int64_t now_us, _Atomic int64_t *abort_at_us,
                           twp_diag *d)
{
    if (!twp_sampling_poll_enabled(p) || now_us < p->next_us)
        return;
    int64_t next = INT64_MAX;
    if (p->url) {
        if (now_us >= p->sampling_next_us)
            poll_strategies(p, now_us, abort_at_us, d);
        next = p->sampling_next_us;
    }
    if (p->hook->throttler) {
        if (now_us >= p->throttler_next_us)
            p->throttler_next_us = twp_throttler_poll(p->hook->throttler, now_us, p->timeout_ms,
                                                      abort_at_us, d);
        if (p->throttler_next_us < next)
            next = p->throttler_next_us;
    }
    if (p->hook->restrictions) {
        if (now_us >= p->restrictions_next_us)
            p->restrictions_next_us = twp_restrictions_poll(p->hook->restrictions, now_us,
                                                            p->timeout_ms, abort_at_us, d);
        if (p->restrictions_next_us < next)
            next = p->restrictions_next_us;
    }
    p->next_us = next;
}

void twp_sampling_poll_after_fork(twp_sampling_poll *p)
{
    /* the throttler's and restrictions' locks are re-made by tracer.c's
     * atfork handler, whatever the reporter */
    p->next_us = p->sampling_next_us = p->throttler_next_us = p->restrictions_next_us = 0;
}

void twp_sampling_poll_free(twp_sampling_poll *p)
{
    free(p->url);
    p->url = NULL;
}
