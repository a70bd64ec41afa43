/* diag.c — failures that speak: the rate limiter behind tw_config_set_diagnostics.
 *
 * The reporter thread is the only place that learns a send failed or spans
 * were dropped, so it is the only caller: the span hot path never formats a
 * message or calls the hook. Each kind (send failed, dropped, sampling poll
 * failed) has one slot. An event of a kind that was not reported within the
 * interval goes to the hook at once, so the first failure is seen within the
 * time the send itself took; later events only add to the slot's count and
 * keep the latest text, and the next tick after the interval reports them as
 * one summary ("N more ... since the last report; latest: ..."). A flood of
 * failures therefore costs one formatted line per event and one hook call per
 * kind per interval, whatever the span rate.
 */
#include "diag.h"
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void twp_diag_init(twp_diag *d, tw_diag_fn fn, void *ud, int64_t interval_us)
{
    memset(d, 0, sizeof *d);
    d->fn = fn;
    d->ud = ud;
    d->interval_us = interval_us > 0 ? interval_us : TWP_DIAG_INTERVAL_US;
}

void twp_diag_reset(twp_diag *d)
{
    memset(d->slot, 0, sizeof d->slot);
}

static const char *what(tw_diag_kind kind)
{
    switch (kind) {
    case TW_DIAG_SEND_FAILED: return "failed sends";
    case TW_DIAG_DROPPED: return "spans dropped";
    case TW_DIAG_SAMPLING: return "failed sampling polls";
    case TW_DIAG_BAGGAGE: return "baggage items dropped";
    case TW_DIAG_THROTTLER: return "failed throttler credit requests";
    case TW_DIAG_BAGGAGE_RESTRICTIONS: return "failed baggage restriction fetches";
    }
    return "events";
}

static void summary(twp_diag *d, tw_diag_kind kind, int64_t now_us)
{
    twp_diag_slot *s = &d->slot[kind];
    char msg[TWP_DIAG_MSG + 128];
    int64_t secs = (now_us - s->last_emit_us + 500000) / 1000000;
    snprintf(msg, sizeof msg, "tracewire: %" PRIu64 " more %s in the last %" PRId64 " s; latest: %s",
             s->pending, what(kind), secs, s->latest);
    uint64_t n = s->pending;
    s->pending = 0;
    s->last_emit_us = now_us;
    d->fn(d->ud, kind, s->status, msg, n);
}

void twp_diag_event(twp_diag *d, tw_diag_kind kind, tw_status st, uint64_t count,
                    int64_t now_us, const char *fmt, ...)
{
    if (!d->fn || kind <= 0 || kind >= TWP_DIAG_KINDS || count == 0)
        return;
    twp_diag_slot *s = &d->slot[kind];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->latest, sizeof s->latest, fmt, ap);
    va_end(ap);
    s->status = st;
    if (s->last_emit_us != 0 && now_us - s->last_emit_us < d->interval_us) {
        s->pending += count;   /* reported in the next summary */
        return;
    }
    if (s->pending) {          /* an overdue summary: this event joins it */
        s->pending += count;
        summary(d, kind, now_us);
        return;
    }
    s->last_emit_us = now_us ? now_us : 1;
    d->fn(d->ud, kind, st, s->latest, count);
}

void twp_diag_tick(twp_diag *d, int64_t now_us)
{
    if (!d->fn)
        return;
    for (int k = 1; k < TWP_DIAG_KINDS; k++)
        if (d->slot[k].pending && now_us - d->slot[k].last_emit_us >= d->interval_us)
            summary(d, (tw_diag_kind)k, now_us);
}

void twp_diag_flush(twp_diag *d, int64_t now_us)
{
    if (!d->fn)
        return;
    for (int k = 1; k < TWP_DIAG_KINDS; k++)
        if (d->slot[k].pending)
            summary(d, (tw_diag_kind)k, now_us);
}

tw_status tw_config_set_diagnostics(tw_config *cfg, tw_diag_fn fn, void *ud)
{
    if (!cfg)
        return TW_ERR_INVALID_ARG;
    cfg->diag_fn = fn;
    cfg->diag_ud = fn ? ud : NULL;
    return TW_OK;
}

/* The severity is a property of the kind, so every face's log agrees: lost
 * spans or baggage are errors; a failed poll of the agent keeps the state
 * the tracer already has (strategy, credits, restrictions) and is a warning. */
int tw_diag_kind_is_warning(tw_diag_kind kind)
{
    switch (kind) {
    case TW_DIAG_SAMPLING:
    case TW_DIAG_THROTTLER:
    case TW_DIAG_BAGGAGE_RESTRICTIONS:
        return 1;
    case TW_DIAG_SEND_FAILED:
    case TW_DIAG_DROPPED:
    case TW_DIAG_BAGGAGE:
        return 0;
    }
    return 0;
}
