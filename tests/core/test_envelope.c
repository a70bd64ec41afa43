/* test_envelope.c — the core's queue codecs, which the Redis module, the
 * Python extension and the Lua module all call: the v1 queue envelope
 * (envelope.c), its CRC-32 (crc32.c) and the carrier text parser and
 * writer (carrier_text.c). Plain CHECKs, a count printed at the end. */
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;
#define CHECK(cond) do { checks++; if (!(cond)) { failures++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)

static char *encode(const char *carrier, const char *payload, size_t plen, size_t *len)
{
    *len = tw_envelope_size(strlen(carrier), plen);
    char *b = malloc(*len);
    tw_envelope_encode(b, 1700000000000123, carrier, strlen(carrier), payload, plen);
    return b;
}

static void test_crc_reference_vector(void)
{
    CHECK(tw_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(tw_crc32(0, "", 0) == 0);
}

/* Bit-at-a-time IEEE CRC-32: the definition, independent of every table. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

/* The folding path (CPUs with carry-less multiply) and the table path must
 * both equal the definition for every length around the 64-byte threshold
 * and the 16-byte block size, at every alignment, and chain. */
static void test_crc_paths_agree(void)
{
    static unsigned char buf[1200 + 16];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    int bad = 0;
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= 1200; n += (n < 300 ? 1 : 37)) {
            uint32_t want = crc_bitwise(buf + off, n);
            if (tw_crc32(0, buf + off, n) != want || twp_crc32_portable(0, buf + off, n) != want)
                bad++;
            size_t h = n / 3;
            if (tw_crc32(tw_crc32(0, buf + off, h), buf + off + h, n - h) != want)
                bad++;
        }
    CHECK(bad == 0);
    memset(buf, 0xff, sizeof buf);
    CHECK(tw_crc32(0, buf, 1000) == crc_bitwise(buf, 1000));
    memset(buf, 0, sizeof buf);
    CHECK(tw_crc32(0, buf, 1000) == crc_bitwise(buf, 1000));
}

static void test_round_trip_and_layout(void)
{
    size_t len;
    char *b = encode("traceparent: x", "p\0q", 3, &len);
    CHECK(len == TW_ENVELOPE_OVERHEAD + 14 + 3);
    CHECK(memcmp(b, "\0TWQ\x1a\x01\0\0", 8) == 0);
    tw_envelope it;
    CHECK(tw_envelope_decode(b, len, &it, NULL) == TW_OK);
    CHECK(it.enqueue_us == 1700000000000123);
    CHECK(it.carrier_len == 14 && memcmp(it.carrier, "traceparent: x", 14) == 0);
    CHECK(it.payload_len == 3 && memcmp(it.payload, "p\0q", 3) == 0);
    free(b);
}

static void test_plain_values_pass_through(void)
{
    tw_envelope it;
    CHECK(tw_envelope_decode("hello", 5, &it, NULL) == TW_ERR_NOT_FOUND);
    CHECK(it.payload_len == 5 && it.carrier_len == 0 && it.enqueue_us == -1);
    CHECK(tw_envelope_decode("", 0, &it, NULL) == TW_ERR_NOT_FOUND);
    CHECK(tw_envelope_decode("\0TWQ", 4, &it, NULL) == TW_ERR_NOT_FOUND);        /* shorter than the magic */
    CHECK(tw_envelope_decode("x\0TWQ\x1a", 6, &it, NULL) == TW_ERR_NOT_FOUND);   /* magic not at offset 0 */
}

static void test_every_corruption_is_detected(void)
{
    size_t len;
    char *b = encode("c", "payload", 7, &len);
    tw_envelope it;
    for (size_t cut = TW_ENVELOPE_MAGIC_LEN; cut < len; cut++)            /* every truncation */
        CHECK(tw_envelope_decode(b, cut, &it, NULL) == TW_ERR_CORRUPTED);
    for (size_t i = TW_ENVELOPE_MAGIC_LEN; i < len; i++)                  /* every single-bit flip */
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (char)(1 << bit);
            CHECK(tw_envelope_decode(b, len, &it, NULL) == TW_ERR_CORRUPTED);
            b[i] ^= (char)(1 << bit);
        }
    char *longer = malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 0;
    const char *why;
    CHECK(tw_envelope_decode(longer, len + 1, &it, &why) == TW_ERR_CORRUPTED);
    CHECK(strcmp(why, "envelope length mismatch") == 0);
    CHECK(it.payload == longer && it.payload_len == len + 1 && it.enqueue_us == -1);
    b[5] = 2;
    CHECK(tw_envelope_decode(b, len, &it, &why) == TW_ERR_CORRUPTED);
    CHECK(strcmp(why, "unknown envelope version") == 0);
    memset(b + 16, 0xff, 4);                                       /* huge carrier length */
    b[5] = 1;
    CHECK(tw_envelope_decode(b, len, &it, &why) == TW_ERR_CORRUPTED);
    CHECK(strcmp(why, "truncated envelope") == 0);
    b[16] = b[17] = b[18] = b[19] = 0;
    b[23] ^= 1;                                                    /* payload_len off by one */
    CHECK(tw_envelope_decode(b, len, &it, &why) == TW_ERR_CORRUPTED);
    b[23] ^= 1;
    b[17] = 0; b[19] = 1;                                          /* back to carrier_len 1 */
    b[len - 1] ^= 1;                                               /* checksum */
    CHECK(tw_envelope_decode(b, len, &it, &why) == TW_ERR_CORRUPTED);
    CHECK(strcmp(why, "envelope checksum mismatch") == 0);
    free(longer);
    free(b);
}

static void test_carrier_forms(void)
{
    tw_carrier_text c;
    CHECK(tw_carrier_text_parse("", 0, &c, NULL) == TW_OK && c.n == 0);
    const char *one = " traceparent = 00-a-b-01 ; tracestate=k=v;";
    CHECK(tw_carrier_text_parse(one, strlen(one), &c, NULL) == TW_OK && c.n == 2);
    CHECK(c.e[0].name_len == 11 && memcmp(c.e[0].name, "traceparent", 11) == 0);
    CHECK(c.e[0].val_len == 9 && memcmp(c.e[0].val, "00-a-b-01", 9) == 0);
    CHECK(c.e[1].val_len == 3 && memcmp(c.e[1].val, "k=v", 3) == 0);
    const char *block = "uber-trace-id: a:b:0:1\r\nbaggage: k=v;prop\r\n\r\n";
    CHECK(tw_carrier_text_parse(block, strlen(block), &c, NULL) == TW_OK && c.n == 2);
    CHECK(c.e[0].name_len == 13 && memcmp(c.e[0].name, "uber-trace-id", 13) == 0);
    CHECK(c.e[0].val_len == 7 && memcmp(c.e[0].val, "a:b:0:1", 7) == 0);
    CHECK(c.e[1].val_len == 8 && memcmp(c.e[1].val, "k=v;prop", 8) == 0);   /* ';' kept in block form */
}

static void test_carrier_errors(void)
{
    tw_carrier_text c;
    const char *bad[] = { "words only", "=v", "a b=c", "na\x01me=v", "k=v\x7f", "k=\x01" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        CHECK(tw_carrier_text_parse(bad[i], strlen(bad[i]), &c, &why) == TW_ERR_CORRUPTED);
        CHECK(why != NULL);
        CHECK(c.n == 0);
    }
    CHECK(tw_carrier_text_parse("k=v\0x", 5, &c, NULL) != TW_OK);            /* NUL in a value */
    char *big = malloc(TW_CARRIER_TEXT_MAX_BYTES + 2);
    memset(big, 'a', TW_CARRIER_TEXT_MAX_BYTES + 1);
    big[0] = 'k'; big[1] = '=';
    CHECK(tw_carrier_text_parse(big, TW_CARRIER_TEXT_MAX_BYTES + 1, &c, NULL) == TW_ERR_TOO_LARGE);
    CHECK(tw_carrier_text_parse(big, TW_CARRIER_TEXT_MAX_BYTES, &c, NULL) == TW_OK && c.n == 1);
    free(big);
    char many[65 * 6 + 1] = "";
    for (int i = 0; i < 65; i++) sprintf(many + strlen(many), "h%02d=v;", i);
    const char *why;
    CHECK(tw_carrier_text_parse(many, strlen(many), &c, &why) == TW_ERR_TOO_LARGE);
    CHECK(strcmp(why, "carrier has more than 64 headers") == 0 && c.n == 0);
    CHECK(tw_carrier_text_parse(many, 64 * 6, &c, NULL) == TW_OK && c.n == 64);
}

/* The writer's text parses back to what was put; what the parser would
 * refuse is refused at put time, the first refusal sticks. */
static void test_carrier_writer(void)
{
    char buf[512];
    tw_carrier_text_writer w;
    tw_carrier_text_writer_init(&w, buf, sizeof buf);
    CHECK(w.len == 0 && buf[0] == '\0');
    CHECK(tw_carrier_text_put(&w, "traceparent", 11, "00-a-b-01", 9) == 0);
    CHECK(tw_carrier_text_put(&w, "baggage", 7, " k=v;prop ", 10) == 0);
    CHECK(strcmp(buf, "traceparent: 00-a-b-01\nbaggage: k=v;prop") == 0 && w.len == strlen(buf));
    tw_carrier_text c;
    CHECK(tw_carrier_text_parse(buf, w.len, &c, NULL) == TW_OK && c.n == 2);
    CHECK(c.e[1].val_len == 8 && memcmp(c.e[1].val, "k=v;prop", 8) == 0);
    size_t len = w.len;
    CHECK(tw_carrier_text_put(&w, "k", 1, "a\nb", 3) == TW_ERR_CORRUPTED && w.why != NULL);
    CHECK(tw_carrier_text_put(&w, "k", 1, "fine", 4) == TW_ERR_CORRUPTED);   /* sticky */
    CHECK(w.len == len && strlen(buf) == len);

    const char *bad_names[] = { "", "a b", "a:b", "n\x01" };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        tw_carrier_text_writer_init(&w, buf, sizeof buf);
        CHECK(tw_carrier_text_put(&w, bad_names[i], strlen(bad_names[i]), "v", 1) == TW_ERR_CORRUPTED);
    }
    tw_carrier_text_writer_init(&w, buf, 8);                 /* "k: 1234" fits, one more does not */
    CHECK(tw_carrier_text_put(&w, "k", 1, "1234", 4) == 0 && w.len == 7);
    tw_carrier_text_writer_init(&w, buf, 8);
    CHECK(tw_carrier_text_put(&w, "k", 1, "12345", 5) == TW_ERR_TOO_LARGE && buf[0] == '\0');
    tw_carrier_text_writer_init(&w, buf, sizeof buf);
    int st = 0;
    for (int i = 0; i < 65 && st == 0; i++) st = tw_carrier_text_put(&w, "h", 1, "", 0);
    CHECK(st == TW_ERR_TOO_LARGE && w.n == 64);
    CHECK(tw_carrier_text_parse(buf, w.len, &c, NULL) == TW_OK && c.n == 64);
    char *big = malloc(TW_CARRIER_TEXT_MAX_BYTES * 2);
    char *val = malloc(TW_CARRIER_TEXT_MAX_BYTES);
    memset(val, 'a', TW_CARRIER_TEXT_MAX_BYTES);
    tw_carrier_text_writer_init(&w, big, TW_CARRIER_TEXT_MAX_BYTES * 2);
    CHECK(tw_carrier_text_put(&w, "k", 1, val, TW_CARRIER_TEXT_MAX_BYTES - 3) == 0);
    CHECK(w.len == TW_CARRIER_TEXT_MAX_BYTES);
    tw_carrier_text_writer_init(&w, big, TW_CARRIER_TEXT_MAX_BYTES * 2);
    CHECK(tw_carrier_text_put(&w, "k", 1, val, TW_CARRIER_TEXT_MAX_BYTES - 2) == TW_ERR_TOO_LARGE);
    free(val);
    free(big);
}

int main(void)
{
    test_crc_reference_vector();
    test_crc_paths_agree();
    test_round_trip_and_layout();
    test_plain_values_pass_through();
    test_every_corruption_is_detected();
    test_carrier_forms();
    test_carrier_errors();
    test_carrier_writer();
    printf("%d checks, %d failed\n", checks, failures);
    return failures != 0;
}
