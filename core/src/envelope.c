/* envelope.c — the version-1 queue envelope: encode and decode, pure
 * functions over buffers (format in tracewire.h, "queue envelope").
 *
 * One implementation for every face: the Redis module wraps and unwraps
 * items with it, and the Python and Lua helpers (redis_queue.py, redisq.lua)
 * call it through their bindings to read values taken with plain RPOP/BRPOP,
 * so a reader can never disagree with the writer about what is corrupted.
 * Decoding never guesses: a value with the magic whose lengths, version,
 * flags or checksum do not match is reported, in words, and left alone.
 */
#include "envelope.h"

#include <string.h>

#define ENV_VERSION 1
#define ENV_TRAILER_LEN 4

static void put_u32(char *o, uint32_t v)
{
    o[0] = (char)(v >> 24); o[1] = (char)(v >> 16); o[2] = (char)(v >> 8); o[3] = (char)v;
}

static uint32_t get_u32(const char *b)
{
    const unsigned char *p = (const unsigned char *)b;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t tw_envelope_size(size_t carrier_len, size_t payload_len)
{
    if (carrier_len > UINT32_MAX || payload_len > UINT32_MAX)
        return 0;
    return TW_ENVELOPE_OVERHEAD + carrier_len + payload_len;
}

void tw_envelope_encode(char *out, int64_t enqueue_us, const char *carrier, size_t carrier_len,
                        const char *payload, size_t payload_len)
{
    uint64_t t = (uint64_t)enqueue_us;
    memcpy(out, TW_ENVELOPE_MAGIC, TW_ENVELOPE_MAGIC_LEN);
    out[5] = ENV_VERSION;
    out[6] = 0;
    out[7] = 0;
    put_u32(out + 8, (uint32_t)(t >> 32));
    put_u32(out + 12, (uint32_t)t);
    put_u32(out + 16, (uint32_t)carrier_len);
    put_u32(out + 20, (uint32_t)payload_len);
    if (carrier_len)
        memcpy(out + TW_ENVELOPE_HEADER_LEN, carrier, carrier_len);
    if (payload_len)
        memcpy(out + TW_ENVELOPE_HEADER_LEN + carrier_len, payload, payload_len);
    size_t body = TW_ENVELOPE_HEADER_LEN + carrier_len + payload_len;
    put_u32(out + body, tw_crc32(0, out, body));
}

static tw_status corrupted(const char **why, const char *what)
{
    if (why)
        *why = what;
    return TW_ERR_CORRUPTED;
}

tw_status tw_envelope_decode(const char *buf, size_t len, tw_envelope *out, const char **why)
{
    out->enqueue_us = -1;
    out->carrier = "";
    out->carrier_len = 0;
    out->payload = buf;
    out->payload_len = len;
    if (why)
        *why = "plain item";
    if (len < TW_ENVELOPE_MAGIC_LEN || memcmp(buf, TW_ENVELOPE_MAGIC, TW_ENVELOPE_MAGIC_LEN) != 0)
        return TW_ERR_NOT_FOUND;
    if (len < TW_ENVELOPE_OVERHEAD)
        return corrupted(why, "truncated envelope");
    if (buf[5] != ENV_VERSION || buf[6] != 0 || buf[7] != 0)
        return corrupted(why, "unknown envelope version");
    uint64_t clen = get_u32(buf + 16), plen = get_u32(buf + 20);
    uint64_t want = TW_ENVELOPE_OVERHEAD + clen + plen;
    if (want > len)
        return corrupted(why, "truncated envelope");
    if (want < len)
        return corrupted(why, "envelope length mismatch");
    size_t body = TW_ENVELOPE_HEADER_LEN + (size_t)clen + (size_t)plen;
    if (tw_crc32(0, buf, body) != get_u32(buf + body))
        return corrupted(why, "envelope checksum mismatch");
    out->enqueue_us = (int64_t)((uint64_t)get_u32(buf + 8) << 32 | get_u32(buf + 12));
    out->carrier = buf + TW_ENVELOPE_HEADER_LEN;
    out->carrier_len = (size_t)clen;
    out->payload = buf + TW_ENVELOPE_HEADER_LEN + clen;
    out->payload_len = (size_t)plen;
    if (why)
        *why = "envelope";
    return TW_OK;
}
