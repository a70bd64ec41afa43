/* envelope.c — encode/decode of the version-1 queue envelope (see envelope.h).
 * The CRC is a table-driven slice-by-8 CRC-32 so that checking a multi-megabyte
 * item costs about a millisecond; the tables are built once, on first use. */
#include "envelope.h"

#include <pthread.h>
#include <string.h>

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t twq_crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
                             | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16
                      | (uint32_t)p[7] << 24;
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff]
              ^ crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff]
              ^ crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put_u32(char *o, uint32_t v)
{
    o[0] = (char)(v >> 24); o[1] = (char)(v >> 16); o[2] = (char)(v >> 8); o[3] = (char)v;
}

static uint32_t get_u32(const char *b)
{
    const unsigned char *p = (const unsigned char *)b;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t twq_encoded_size(size_t carrier_len, size_t payload_len)
{
    if (carrier_len > UINT32_MAX || payload_len > UINT32_MAX)
        return 0;
    return TWQ_OVERHEAD + carrier_len + payload_len;
}

void twq_encode(char *out, int64_t enqueue_us, const char *carrier, size_t carrier_len,
                const char *payload, size_t payload_len)
{
    uint64_t t = (uint64_t)enqueue_us;
    memcpy(out, TWQ_MAGIC, TWQ_MAGIC_LEN);
    out[5] = TWQ_VERSION;
    out[6] = 0;
    out[7] = 0;
    put_u32(out + 8, (uint32_t)(t >> 32));
    put_u32(out + 12, (uint32_t)t);
    put_u32(out + 16, (uint32_t)carrier_len);
    put_u32(out + 20, (uint32_t)payload_len);
    if (carrier_len)
        memcpy(out + TWQ_HEADER_LEN, carrier, carrier_len);
    if (payload_len)
        memcpy(out + TWQ_HEADER_LEN + carrier_len, payload, payload_len);
    size_t body = TWQ_HEADER_LEN + carrier_len + payload_len;
    put_u32(out + body, twq_crc32(0, out, body));
}

twq_decode twq_decode_item(const char *buf, size_t len, twq_item *it)
{
    it->enqueue_us = -1;
    it->carrier = "";
    it->carrier_len = 0;
    it->payload = buf;
    it->payload_len = len;
    if (len < TWQ_MAGIC_LEN || memcmp(buf, TWQ_MAGIC, TWQ_MAGIC_LEN) != 0)
        return TWQ_PLAIN;
    if (len < TWQ_HEADER_LEN + TWQ_TRAILER_LEN)
        return TWQ_TRUNCATED;
    if (buf[5] != TWQ_VERSION || buf[6] != 0 || buf[7] != 0)
        return TWQ_BAD_VERSION;
    uint64_t clen = get_u32(buf + 16), plen = get_u32(buf + 20);
    uint64_t want = TWQ_OVERHEAD + clen + plen;
    if (want > len)
        return TWQ_TRUNCATED;
    if (want < len)
        return TWQ_BAD_LENGTH;
    size_t body = TWQ_HEADER_LEN + (size_t)clen + (size_t)plen;
    if (twq_crc32(0, buf, body) != get_u32(buf + body))
        return TWQ_BAD_CHECKSUM;
    it->enqueue_us = (int64_t)((uint64_t)get_u32(buf + 8) << 32 | get_u32(buf + 12));
    it->carrier = buf + TWQ_HEADER_LEN;
    it->carrier_len = (size_t)clen;
    it->payload = buf + TWQ_HEADER_LEN + clen;
    it->payload_len = (size_t)plen;
    return TWQ_ENVELOPE;
}

const char *twq_decode_str(twq_decode d)
{
    switch (d) {
    case TWQ_PLAIN: return "plain item";
    case TWQ_ENVELOPE: return "envelope";
    case TWQ_TRUNCATED: return "truncated envelope";
    case TWQ_BAD_VERSION: return "unknown envelope version";
    case TWQ_BAD_LENGTH: return "envelope length mismatch";
    case TWQ_BAD_CHECKSUM: return "envelope checksum mismatch";
    }
    return "unknown";
}
