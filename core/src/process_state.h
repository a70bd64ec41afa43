/* process_state.h — the core's process-wide state that fork handling must
 * reset: the id generator (ids.c; its hot path is inline in ids.h) and the
 * clock's TSC anchor (clock.c). tracer.c's atfork child handler calls the
 * *_after_fork functions. Private to core/.
 */
#ifndef TW_PROCESS_STATE_H
#define TW_PROCESS_STATE_H

#define TW_BUILDING 1
#include "tracewire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ ids */

/* Per-thread xoshiro-class generator seeded from getrandom(2); reseeded in a
 * forked child (fork generation counter bumped by the atfork child handler).
 * Never returns 0. */
uint64_t twp_random_id(void);
void twp_ids_after_fork(void);

/* atfork child (tracer.c, after twp_ids_after_fork): the forking thread's
 * record cache stays valid in the child (span.c). */
void twp_span_after_fork(void);

/* Monotonic nanoseconds (clock.c), for rate limiters. */
int64_t twp_mono_ns(void);
/* atfork child (tracer.c): releases the clock's re-anchor lock. */
void twp_clock_after_fork(void);

#endif
