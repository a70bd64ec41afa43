/* sampling_poll.c — remote sampling: with sampler type REMOTE the reporter
 * thread GETs sampler_url?service=NAME (name percent-encoded) when it starts
 * and every sampler_refresh_ms, with a min(timeout_ms, 2 s) timeout, and
 * hands a 2xx body to the tracer's hook (sampler.c swaps strategies; it keeps
 * the old one on a body it rejects). The reporter thread calls
 * twp_sampling_poll_run on every wake-up and sleeps no longer than next_us,
 * so polling needs no thread of its own. A failed poll is said through the
 * diagnostics hook (rate-limited there) and changes nothing.
 */
#include "sampling_poll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *sampling_url(const char *base, const char *service)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!base || !*base)
        return NULL;
    size_t bl = strlen(base), sl = service ? strlen(service) : 0;
    char *u = malloc(bl + 10 + 3 * sl + 1);
    if (!u)
        return NULL;
    memcpy(u, base, bl);
    char *o = u + bl;
    *o++ = strchr(base, '?') ? '&' : '?';
    memcpy(o, "service=", 8);
    o += 8;
    for (size_t i = 0; i < sl; i++) {
        unsigned char c = (unsigned char)service[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = 0;
    return u;
}

tw_status twp_sampling_poll_init(twp_sampling_poll *p, const tw_config *cfg,
                                 const twp_process *proc, const twp_sampling_hook *hook)
{
    memset(p, 0, sizeof *p);
    if (cfg->sampler_type != TWP_SAMPLER_REMOTE || !hook || !hook->apply)
        return TW_OK;
    p->hook = hook;
    p->refresh_ms = cfg->sampler_refresh_ms > 0 ? cfg->sampler_refresh_ms : 60000;
    p->timeout_ms = cfg->timeout_ms > 0 && cfg->timeout_ms < 2000 ? cfg->timeout_ms : 2000;
    p->url = sampling_url(cfg->sampler_url, proc->service_name);
    if (!p->url && cfg->sampler_url && *cfg->sampler_url)
        return TW_ERR_NOMEM;
    return TW_OK;
}

void twp_sampling_poll_run(twp_sampling_poll *p, int64_t now_us, _Atomic int64_t *abort_at_us,
                           twp_diag *d)
{
    if (!p->url || now_us < p->next_us)
        return;
    p->next_us = now_us + (int64_t)p->refresh_ms * 1000;
    twp_buf body;
    twp_buf_init(&body);
    long code = 0;
    char why[192];
    tw_status st = twp_http_get(p->url, p->timeout_ms, abort_at_us, &body, &code, why,
                                sizeof why);
    if (st == TW_OK && body.failed) {
        st = TW_ERR_NOMEM;
        snprintf(why, sizeof why, "out of memory reading the answer");
    }
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

void twp_sampling_poll_after_fork(twp_sampling_poll *p)
{
    p->next_us = 0;
}

void twp_sampling_poll_free(twp_sampling_poll *p)
{
    free(p->url);
    p->url = NULL;
}
