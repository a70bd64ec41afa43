/* baggage_restrictions.h — baggage restrictions from the agent
 * (baggage_restrictions.c), private to the core: which baggage keys a span
 * may set and how long their values may be, fetched on the reporter thread,
 * read by tw_span_set_baggage on any thread. */
#ifndef TW_BAGGAGE_RESTRICTIONS_H
#define TW_BAGGAGE_RESTRICTIONS_H

#include "config.h"
#include "counters.h"
#include "diag.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Before the first answer with deny_baggage_on_initialization_failure false,
 * every key is allowed with values cut at this length (jaeger-client-go). */
#define TWP_RESTRICTION_DEFAULT_MAX 2048

typedef struct twp_restrictions twp_restrictions;

/* new: *out NULL (and TW_OK) when cfg does not turn the restrictions on. service borrowed; ctr: the
 * tracer's counters (baggage_restrictions_updates_*), borrowed. */
tw_status twp_restrictions_new(const tw_config *cfg, const char *service, twp_counters *ctr,
                               twp_restrictions **out);
void twp_restrictions_free(twp_restrictions *r);

/* Any thread: may key be set, and with values up to *max_len bytes? */
bool twp_restrictions_allow(twp_restrictions *r, const char *key, size_t key_len,
                            size_t *max_len);

/* Reporter thread: fetches the restrictions if due at now_us (at once the
 * first time, then every refresh interval); returns the next due time. A
 * failure keeps the current restrictions and is said through d. */
int64_t twp_restrictions_poll(twp_restrictions *r, int64_t now_us, int timeout_ms,
                              _Atomic int64_t *abort_at_us, twp_diag *d);
/* Forked child (no other thread): fresh lock. */
void twp_restrictions_after_fork(twp_restrictions *r);

#endif
