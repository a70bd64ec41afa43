/* envelope.h — private parts of the queue codecs (crc32.c, envelope.c,
 * carrier_text.c); their public API is in tracewire.h ("queue envelope" and
 * "carrier text"). */
#ifndef TWP_ENVELOPE_H
#define TWP_ENVELOPE_H

#ifndef TW_BUILDING
#define TW_BUILDING 1      /* TW_API symbols are exported from the shared library */
#endif
#include "tracewire.h"

/* tw_crc32 with the table code only, whatever the CPU (tests compare the two). */
uint32_t twp_crc32_portable(uint32_t crc, const void *buf, size_t len);

#endif /* TWP_ENVELOPE_H */
