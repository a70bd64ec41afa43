/* envelope.h — the wire format of a traced queue item (version 1).
 *
 * A traced item is stored in a plain Redis list as one binary-safe value:
 *
 *   offset size  field
 *   0      5     magic        00 'T' 'W' 'Q' 1A   (a leading NUL: no text payload starts so)
 *   5      1     version      0x01
 *   6      1     flags        0 (reserved; readers reject unknown bits)
 *   7      1     reserved     0
 *   8      8     enqueue_us   int64 big-endian, server wall clock (µs since epoch)
 *   16     4     carrier_len  uint32 big-endian
 *   20     4     payload_len  uint32 big-endian
 *   24     c     carrier      text, "name: value" lines joined by '\n'
 *   24+c   p     payload      the item's bytes, untouched
 *   24+c+p 4     crc32        IEEE CRC-32 (zlib's) of bytes [0, 24+c+p), big-endian
 *
 * A value that does not start with the 5 magic bytes is a plain item (pushed with
 * LPUSH) and passes through untouched. A value that starts with the magic but
 * whose lengths, version, flags or checksum do not match is corrupted: readers
 * report it and never guess. Pure functions over buffers, no Redis, no tracing.
 */
#ifndef TWRM_ENVELOPE_H
#define TWRM_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define TWQ_MAGIC "\0TWQ\x1a"
#define TWQ_MAGIC_LEN 5
#define TWQ_VERSION 1
#define TWQ_HEADER_LEN 24
#define TWQ_TRAILER_LEN 4
#define TWQ_OVERHEAD (TWQ_HEADER_LEN + TWQ_TRAILER_LEN)

typedef enum twq_decode {
    TWQ_PLAIN = 0,        /* no magic: a plain item */
    TWQ_ENVELOPE,         /* a valid envelope; fields filled */
    TWQ_TRUNCATED,        /* magic present, value shorter than its lengths say */
    TWQ_BAD_VERSION,      /* magic present, version or flags unknown */
    TWQ_BAD_LENGTH,       /* magic present, lengths do not add up to the value size */
    TWQ_BAD_CHECKSUM      /* magic present, checksum mismatch */
} twq_decode;

typedef struct twq_item {
    int64_t enqueue_us;
    const char *carrier;   /* borrowed from the decoded buffer */
    size_t carrier_len;
    const char *payload;   /* borrowed from the decoded buffer */
    size_t payload_len;
} twq_item;

/* Bytes an envelope of these sizes takes; 0 if a length exceeds UINT32_MAX. */
size_t twq_encoded_size(size_t carrier_len, size_t payload_len);

/* Writes the envelope into out (twq_encoded_size bytes). */
void twq_encode(char *out, int64_t enqueue_us, const char *carrier, size_t carrier_len,
                const char *payload, size_t payload_len);

/* Classifies buf. On TWQ_ENVELOPE, *it points into buf. On TWQ_PLAIN, *it holds
 * the whole buffer as payload with no carrier and enqueue_us -1. */
twq_decode twq_decode_item(const char *buf, size_t len, twq_item *it);

/* A short English phrase for a decode result. */
const char *twq_decode_str(twq_decode d);

/* IEEE CRC-32 (reflected 0xEDB88320, init and final xor 0xFFFFFFFF); crc is
 * a previous result to continue from (0 to start). */
uint32_t twq_crc32(uint32_t crc, const void *buf, size_t len);
/* The same with the table code only, whatever the CPU (for tests). */
uint32_t twq_crc32_portable(uint32_t crc, const void *buf, size_t len);

#endif /* TWRM_ENVELOPE_H */
