/* sampling_poll.h — remote sampling strategies fetched on the reporter
 * thread (sampling_poll.c), private to the core. */
#ifndef TW_SAMPLING_POLL_H
#define TW_SAMPLING_POLL_H

#include "diag.h"
#include "reporter.h"
#include "transport.h"

typedef struct twp_sampling_poll {
    char *url;                        /* sampler_url?service=NAME; NULL = not polling */
    const twp_sampling_hook *hook;    /* borrowed (the tracer's) */
    int refresh_ms, timeout_ms;
    int64_t next_us;                  /* monotonic time of the next poll; 0 = at once */
} twp_sampling_poll;

/* Polls only for a remote sampler with a hook (else p->url stays NULL and
 * every other call is a no-op). TW_ERR_NOMEM on OOM. */
tw_status twp_sampling_poll_init(twp_sampling_poll *p, const tw_config *cfg,
                                 const twp_process *proc, const twp_sampling_hook *hook);
static inline bool twp_sampling_poll_enabled(const twp_sampling_poll *p) { return p->url != NULL; }
/* Polls if due at now_us: GET, then the hook applies a 2xx body. A failure
 * (transport, status, rejected strategy) keeps the current strategy and is
 * said through d. abort_at_us: the close() deadline. */
void twp_sampling_poll_run(twp_sampling_poll *p, int64_t now_us, _Atomic int64_t *abort_at_us,
                           twp_diag *d);
/* Forked child: poll at once on the child's first wake-up. */
void twp_sampling_poll_after_fork(twp_sampling_poll *p);
void twp_sampling_poll_free(twp_sampling_poll *p);

#endif
