/* test_envelope.c — unit tests of the Redis module's pure parts: the v1 queue
 * envelope (envelope.c) and the text carrier parser (carrier.c). Registered
 * with ctest by redis-module/CMakeLists.txt, so the sanitizer build runs it. */
#include "carrier.h"
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;
#define CHECK(cond) do { checks++; if (!(cond)) { failures++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)

static char *encode(const char *carrier, const char *payload, size_t plen, size_t *len)
{
    *len = twq_encoded_size(strlen(carrier), plen);
    char *b = malloc(*len);
    twq_encode(b, 1700000000000123, carrier, strlen(carrier), payload, plen);
    return b;
}

static void test_crc_reference_vector(void)
{
    CHECK(twq_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(twq_crc32(0, "", 0) == 0);
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
            if (twq_crc32(0, buf + off, n) != want || twq_crc32_portable(0, buf + off, n) != want)
                bad++;
            size_t h = n / 3;
            if (twq_crc32(twq_crc32(0, buf + off, h), buf + off + h, n - h) != want)
                bad++;
        }
    CHECK(bad == 0);
    memset(buf, 0xff, sizeof buf);
    CHECK(twq_crc32(0, buf, 1000) == crc_bitwise(buf, 1000));
    memset(buf, 0, sizeof buf);
    CHECK(twq_crc32(0, buf, 1000) == crc_bitwise(buf, 1000));
}

static void test_round_trip_and_layout(void)
{
    size_t len;
    char *b = encode("traceparent: x", "p\0q", 3, &len);
    CHECK(len == TWQ_OVERHEAD + 14 + 3);
    CHECK(memcmp(b, "\0TWQ\x1a\x01\0\0", 8) == 0);
    twq_item it;
    CHECK(twq_decode_item(b, len, &it) == TWQ_ENVELOPE);
    CHECK(it.enqueue_us == 1700000000000123);
    CHECK(it.carrier_len == 14 && memcmp(it.carrier, "traceparent: x", 14) == 0);
    CHECK(it.payload_len == 3 && memcmp(it.payload, "p\0q", 3) == 0);
    free(b);
}

static void test_plain_values_pass_through(void)
{
    twq_item it;
    CHECK(twq_decode_item("hello", 5, &it) == TWQ_PLAIN);
    CHECK(it.payload_len == 5 && it.carrier_len == 0 && it.enqueue_us == -1);
    CHECK(twq_decode_item("", 0, &it) == TWQ_PLAIN);
    CHECK(twq_decode_item("\0TWQ", 4, &it) == TWQ_PLAIN);        /* shorter than the magic */
    CHECK(twq_decode_item("x\0TWQ\x1a", 6, &it) == TWQ_PLAIN);   /* magic not at offset 0 */
}

static void test_every_corruption_is_detected(void)
{
    size_t len;
    char *b = encode("c", "payload", 7, &len);
    twq_item it;
    for (size_t cut = TWQ_MAGIC_LEN; cut < len; cut++)            /* every truncation */
        CHECK(twq_decode_item(b, cut, &it) != TWQ_ENVELOPE && twq_decode_item(b, cut, &it) != TWQ_PLAIN);
    for (size_t i = TWQ_MAGIC_LEN; i < len; i++)                  /* every single-bit flip */
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (char)(1 << bit);
            twq_decode d = twq_decode_item(b, len, &it);
            CHECK(d != TWQ_ENVELOPE && d != TWQ_PLAIN);
            b[i] ^= (char)(1 << bit);
        }
    char *longer = malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 0;
    CHECK(twq_decode_item(longer, len + 1, &it) == TWQ_BAD_LENGTH);
    b[5] = 2;
    CHECK(twq_decode_item(b, len, &it) == TWQ_BAD_VERSION);
    memset(b + 16, 0xff, 4);                                       /* huge carrier length */
    b[5] = 1;
    CHECK(twq_decode_item(b, len, &it) == TWQ_TRUNCATED);
    free(longer);
    free(b);
}

static void test_carrier_forms(void)
{
    twrm_carrier c;
    CHECK(twrm_carrier_parse("", 0, &c) == NULL && c.n == 0);
    const char *one = " traceparent = 00-a-b-01 ; tracestate=k=v;";
    CHECK(twrm_carrier_parse(one, strlen(one), &c) == NULL && c.n == 2);
    CHECK(c.e[0].name_len == 11 && memcmp(c.e[0].name, "traceparent", 11) == 0);
    CHECK(c.e[0].val_len == 9 && memcmp(c.e[0].val, "00-a-b-01", 9) == 0);
    CHECK(c.e[1].val_len == 3 && memcmp(c.e[1].val, "k=v", 3) == 0);
    const char *block = "uber-trace-id: a:b:0:1\r\nbaggage: k=v;prop\r\n\r\n";
    CHECK(twrm_carrier_parse(block, strlen(block), &c) == NULL && c.n == 2);
    CHECK(c.e[0].name_len == 13 && memcmp(c.e[0].name, "uber-trace-id", 13) == 0);
    CHECK(c.e[0].val_len == 7 && memcmp(c.e[0].val, "a:b:0:1", 7) == 0);
    CHECK(c.e[1].val_len == 8 && memcmp(c.e[1].val, "k=v;prop", 8) == 0);   /* ';' kept in block form */
}

static void test_carrier_errors(void)
{
    twrm_carrier c;
    const char *bad[] = { "words only", "=v", "a b=c", "na\x01me=v", "k=v\x7f", "k=\x01" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(twrm_carrier_parse(bad[i], strlen(bad[i]), &c) != NULL);
        CHECK(c.n == 0);
    }
    CHECK(twrm_carrier_parse("k=v\0x", 5, &c) != NULL);            /* NUL in a value */
    char *big = malloc(TWRM_CARRIER_MAX_BYTES + 2);
    memset(big, 'a', TWRM_CARRIER_MAX_BYTES + 1);
    big[0] = 'k'; big[1] = '=';
    CHECK(twrm_carrier_parse(big, TWRM_CARRIER_MAX_BYTES + 1, &c) != NULL);
    CHECK(twrm_carrier_parse(big, TWRM_CARRIER_MAX_BYTES, &c) == NULL && c.n == 1);
    free(big);
    char many[65 * 6 + 1] = "";
    for (int i = 0; i < 65; i++) sprintf(many + strlen(many), "h%02d=v;", i);
    CHECK(twrm_carrier_parse(many, strlen(many), &c) != NULL);
    CHECK(twrm_carrier_parse(many, 64 * 6, &c) == NULL && c.n == 64);
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
    printf("%d checks, %d failed\n", checks, failures);
    return failures != 0;
}
