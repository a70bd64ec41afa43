/* fuzz_redis_envelope.c — the core's queue-item envelope decoder
 * (tw_envelope_decode: the Redis module's, Python's and Lua's) and the carrier
 * text it holds (tw_carrier_text_parse, then extract). Input: one mode byte, then the value as Redis would hand it over.
 *   bit 0  fix the CRC-32 trailer first, so mutations get past the checksum
 *   bit 1  also make carrier_len/payload_len add up to the value size
 *   bit 2  skip the envelope: the rest is carrier text (TQ.* carrier argument)
 * Checks: a decoded envelope's parts lie inside the value and re-encode to the
 * identical bytes; a parsed carrier's entries lie inside the text; extract on
 * it returns a documented status and a readable context.
 * requires: core/src/envelope.c core/src/carrier_text.c core/src/crc32.c
 * requires: core/src/propagation.c tests/fuzz/fz_common.c */
#include "fz_common.h"
#include "envelope.h"
#include "propagation.h"

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool inside(const char *base, size_t len, const char *p, size_t n)
{
    return n == 0 || (p >= base && p <= base + len && n <= (size_t)(base + len - p));
}

static void carrier_and_extract(const char *text, size_t len)
{
    static tw_config *cfg;
    if (!cfg)
        FZ_CHECK(tw_config_new(&cfg) == TW_OK);
    tw_carrier_text *c = malloc(sizeof *c);
    if (!c)
        return;
    const char *why = NULL;
    tw_status ps = tw_carrier_text_parse(text, len, c, &why);
    FZ_CHECK(ps == TW_OK || ps == TW_ERR_CORRUPTED || ps == TW_ERR_TOO_LARGE);
    if (ps == TW_OK) {
        FZ_CHECK(c->n <= TW_CARRIER_TEXT_MAX_ENTRIES);
        for (size_t i = 0; i < c->n; i++) {
            FZ_CHECK(inside(text, len, c->e[i].name, c->e[i].name_len));
            FZ_CHECK(inside(text, len, c->e[i].val, c->e[i].val_len));
        }
        tw_span_context *ctx = NULL;
        tw_status st = twp_extract(cfg, TW_PROP_DEFAULT, tw_carrier_text_foreach, c, &ctx);
        FZ_CHECK(st == TW_OK || st == TW_ERR_NOT_FOUND || st == TW_ERR_CORRUPTED ||
                 st == TW_ERR_NOMEM);
        if (ctx) {
            fz_exercise_context(ctx);
            tw_span_context_free(ctx);
        }
    } else {
        FZ_CHECK(why != NULL && why[0] != '\0' && c->n == 0);
    }
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0];
    size_t len = size - 1;
    unsigned char *buf = (unsigned char *)fz_exact_copy(data + 1, len);
    if (!buf)
        return 0;
    if (mode & 4) {
        carrier_and_extract((const char *)buf, len);
        free(buf);
        return 0;
    }
    if ((mode & 3) && len >= TW_ENVELOPE_OVERHEAD && memcmp(buf, TW_ENVELOPE_MAGIC, TW_ENVELOPE_MAGIC_LEN) == 0) {
        size_t room = len - TW_ENVELOPE_OVERHEAD;
        if (mode & 2) {
            uint32_t clen = get_be32(buf + 16);
            if (clen > room)
                clen = (uint32_t)room;
            put_be32(buf + 16, clen);
            put_be32(buf + 20, (uint32_t)(room - clen));
        }
        uint64_t body = (uint64_t)TW_ENVELOPE_HEADER_LEN + get_be32(buf + 16) + get_be32(buf + 20);
        if (body + 4 <= len)
            put_be32(buf + body, tw_crc32(0, buf, (size_t)body));
    }
    tw_envelope it;
    const char *why = NULL;
    tw_status d = tw_envelope_decode((const char *)buf, len, &it, &why);
    FZ_CHECK(d == TW_OK || d == TW_ERR_NOT_FOUND || d == TW_ERR_CORRUPTED);
    FZ_CHECK(why != NULL && why[0] != '\0');
    const char *b = (const char *)buf;
    if (d == TW_OK) {
        FZ_CHECK(inside(b, len, it.carrier, it.carrier_len));
        FZ_CHECK(inside(b, len, it.payload, it.payload_len));
        size_t need = tw_envelope_size(it.carrier_len, it.payload_len);
        FZ_CHECK(need == len);
        char *again = malloc(need);
        if (again) {
            tw_envelope_encode(again, it.enqueue_us, it.carrier, it.carrier_len, it.payload, it.payload_len);
            FZ_CHECK(memcmp(again, b, len) == 0);
            free(again);
        }
        carrier_and_extract(it.carrier, it.carrier_len);
    } else {
        FZ_CHECK(it.payload == b && it.payload_len == len && it.carrier_len == 0);
        FZ_CHECK(it.enqueue_us == -1);
    }
    free(buf);
    return 0;
}
