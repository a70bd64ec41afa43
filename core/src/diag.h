/* diag.h — the diagnostics rate limiter (diag.c), private to the core.
 *
 * One twp_diag per reporter, used by one thread at a time (the reporter
 * thread, or close()'s caller once that thread is gone), so it has no lock.
 */
#ifndef TW_DIAG_H
#define TW_DIAG_H

#define TW_BUILDING 1
#include "tracewire.h"

#include <stdbool.h>

#define TWP_DIAG_KINDS 7                 /* indexed by tw_diag_kind (0 unused) */
#define TWP_DIAG_INTERVAL_US 10000000    /* at most one summary per kind per 10 s */
#define TWP_DIAG_MSG 320

typedef struct twp_diag_slot {
    int64_t last_emit_us;     /* monotonic; 0 = never reported */
    uint64_t pending;         /* events since the last report */
    tw_status status;         /* of the latest pending event */
    char latest[TWP_DIAG_MSG];
} twp_diag_slot;

typedef struct twp_diag {
    tw_diag_fn fn;            /* NULL: diagnostics off, every call is a no-op */
    void *ud;
    int64_t interval_us;
    twp_diag_slot slot[TWP_DIAG_KINDS];
} twp_diag;

/* fn may be NULL. interval_us <= 0 means TWP_DIAG_INTERVAL_US. */
void twp_diag_init(twp_diag *d, tw_diag_fn fn, void *ud, int64_t interval_us);

/* One event of kind standing for count occurrences, at now_us (monotonic):
 * reported at once when nothing of that kind was reported within the
 * interval, else summed for the next summary. The message is printf-style. */
void twp_diag_event(twp_diag *d, tw_diag_kind kind, tw_status st, uint64_t count,
                    int64_t now_us, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Reports the summaries that are due at now_us. Cheap when nothing is
 * pending (the reporter calls it on every wake-up). */
void twp_diag_tick(twp_diag *d, int64_t now_us);

/* Reports every pending summary now, due or not (close: last words). */
void twp_diag_flush(twp_diag *d, int64_t now_us);

/* Forked child: forget the parent's history (the child keeps its own books). */
void twp_diag_reset(twp_diag *d);

#endif
