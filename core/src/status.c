/* status.c — the one status enum in words (tw_strerror, curl's *_strerror
 * habit) and tw_free, which releases what the library hands out as "free
 * with tw_free" (so a binding never pairs our malloc with its own free).
 */
#define TW_BUILDING 1
#include "tracewire.h"

#include <stdlib.h>

/* ------------------------------------------------------------ status */

const char *tw_strerror(tw_status st)
{
    switch (st) {
    case TW_OK:              return "success";
    case TW_ERR_INVALID_ARG: return "invalid argument";
    case TW_ERR_NOMEM:       return "out of memory";
    case TW_ERR_FINISHED:    return "the span is already finished";
    case TW_ERR_NOT_FOUND:   return "no trace context found";
    case TW_ERR_CORRUPTED:   return "malformed trace context or data";
    case TW_ERR_UNSUPPORTED: return "unsupported format, option or protocol";
    case TW_ERR_TOO_LARGE:   return "input exceeds a size bound";
    case TW_ERR_CLOSED:      return "the tracer is closed";
    case TW_ERR_TIMEOUT:     return "timed out; queued spans remain or were dropped";
    case TW_ERR_IO:          return "network or I/O failure";
    case TW_ERR_CONFIG:      return "invalid configuration value";
    }
    return "unknown tracewire status";
}

void tw_free(void *p)
{
    free(p);
}
