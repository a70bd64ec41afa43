/* sampling_poll.h — what the reporter thread fetches from the agent's HTTP
 * port (sampling_poll.c), private to the core: remote sampling strategies,
 * and the throttler's credits and the baggage restrictions (throttler.c,
 * baggage_restrictions.c, which use the GET helpers below). */
#ifndef TW_SAMPLING_POLL_H
#define TW_SAMPLING_POLL_H

#include "diag.h"
#include "reporter.h"
#include "transport.h"

typedef struct twp_sampling_poll {
    char *url;                        /* sampler_url?service=NAME; NULL = no strategies */
    const twp_sampling_hook *hook;    /* borrowed (the tracer's) */
    int refresh_ms, timeout_ms;
    int64_t next_us;                  /* monotonic time of the next poll (any of the
                                       * three); 0 = at once */
    int64_t sampling_next_us, throttler_next_us, restrictions_next_us;
} twp_sampling_poll;

/* Appends "key=value" to the URL in u after '?' (or '&' when u has one),
 * value percent-encoded (RFC 3986 unreserved characters kept). Allocation
 * failure: u->failed. */
void twp_url_param(twp_buf *u, const char *key, const char *val, size_t val_len);
/* GET url from the agent within timeout_ms: TW_OK with a 2xx body in body
 * (new, caller frees), else a status and why (cap bytes) says it in words.
 * abort_at_us: the close() deadline. */
tw_status twp_agent_get(const char *url, int timeout_ms, _Atomic int64_t *abort_at_us,
                        twp_buf *body, char *why, size_t cap);

/* Polls strategies for a remote sampler with a hook, and runs the hook's
 * throttler and baggage restrictions when it has them; with none of the
 * three every other call is a no-op. TW_ERR_NOMEM on OOM. */
tw_status twp_sampling_poll_init(twp_sampling_poll *p, const tw_config *cfg,
                                 const twp_process *proc, const twp_sampling_hook *hook);
static inline bool twp_sampling_poll_enabled(const twp_sampling_poll *p)
{
    return p->url != NULL || (p->hook && (p->hook->throttler || p->hook->restrictions));
}
/* Runs what is due at now_us and sets p->next_us. Strategies: GET, then the
 * hook applies a 2xx body; a failure (transport, status, rejected strategy)
 * keeps the current strategy and is said through d. abort_at_us: the
 * close() deadline. */
void twp_sampling_poll_run(twp_sampling_poll *p, int64_t now_us, _Atomic int64_t *abort_at_us,
                           twp_diag *d);
/* Forked child: poll at once on the child's first wake-up. */
void twp_sampling_poll_after_fork(twp_sampling_poll *p);
void twp_sampling_poll_free(twp_sampling_poll *p);

#endif
