/* carrier.h — the text form of a trace carrier passed to and returned by TQ.*.
 *
 * A carrier is a set of propagation headers written as text, in either form:
 *   header block   "traceparent: 00-…-01\ntracestate: k=v\n" — one header a line
 *                  (CRLF accepted), separator ':' or '=';
 *   one line       "traceparent=00-…-01;tracestate=k=v" — entries split on ';'.
 * A carrier that contains a newline is a header block, otherwise one line (so
 * values holding ';' — W3C baggage properties — need the block form). Names
 * are the header names of any propagation format the core extracts (W3C
 * traceparent/tracestate/baggage, Jaeger uber-trace-id/uberctx-*, B3 b3 and
 * X-B3-*), matched case-insensitively by the core; the first ':' or '=' ends
 * the name; blanks around names and values are ignored. An empty carrier
 * means "no context". The module returns carriers as header blocks joined by
 * '\n' without a trailing newline.
 */
#ifndef TWRM_CARRIER_H
#define TWRM_CARRIER_H

#include <stddef.h>

#define TWRM_CARRIER_MAX_BYTES 16384
#define TWRM_CARRIER_MAX_ENTRIES 64

typedef struct twrm_carrier_entry {
    const char *name, *val;
    size_t name_len, val_len;
} twrm_carrier_entry;

typedef struct twrm_carrier {
    twrm_carrier_entry e[TWRM_CARRIER_MAX_ENTRIES];
    size_t n;
} twrm_carrier;

/* Splits text into entries borrowing text. Returns NULL on success, or a
 * static English reason (too large, too many entries, entry without a name,
 * control character in a header). */
const char *twrm_carrier_parse(const char *text, size_t len, twrm_carrier *out);

/* tw_carrier_foreach over a parsed twrm_carrier (for tw_tracer_extract). */
int twrm_carrier_foreach(void *carrier, int (*visit)(void *, const char *, size_t, const char *, size_t),
                         void *visit_ud);

#endif /* TWRM_CARRIER_H */
