/* throttler.h — jaeger_client's debug-span throttler (throttler.c), private
 * to the core: credits per operation fetched from the agent on the reporter
 * thread, spent by span threads when a span asks to become a debug span. */
#ifndef TW_THROTTLER_H
#define TW_THROTTLER_H

#include "config.h"
#include "counters.h"
#include "diag.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct twp_throttler twp_throttler;

/* new: *out NULL (and TW_OK) when cfg does not turn the throttler on. service and uuid are borrowed for the
 * throttler's life; uuid is read on every poll (a forked child rewrites it in
 * place). ctr: the tracer's counters (throttled_debug_spans,
 * throttler_updates_*), borrowed. */
tw_status twp_throttler_new(const tw_config *cfg, const char *service, const char *uuid,
                            twp_counters *ctr, twp_throttler **out);
void twp_throttler_free(twp_throttler *t);

/* Any thread: may a span of operation op become a debug span? Spends one
 * credit of op if it has one; an operation never seen is remembered with no
 * credit (so the next poll asks for it) and refused, as jaeger_client. */
bool twp_throttler_allow(twp_throttler *t, const char *op, size_t op_len);

/* Reporter thread: requests credits if due at now_us (the first request comes
 * after a random delay within one refresh interval, as jaeger_client; none
 * while no operation was seen). A failure is said through d. Returns the
 * monotonic time of the next poll. */
int64_t twp_throttler_poll(twp_throttler *t, int64_t now_us, int timeout_ms,
                           _Atomic int64_t *abort_at_us, twp_diag *d);
/* Forked child (no other thread): fresh lock, poll schedule from scratch. */
void twp_throttler_after_fork(twp_throttler *t);

#endif
