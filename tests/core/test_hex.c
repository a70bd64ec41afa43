/* test_hex.c — the id hex parser (twp_hex_u64): its eight-digits-at-once
 * path must agree with a digit-by-digit reference on every input — each byte
 * value at each position of a 16-digit id, every length, upper/lower case
 * with and without upper_ok, and a million random strings over the bytes
 * around the digit ranges. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"

static bool ref_hex(const char *s, size_t n, bool upper_ok, uint64_t *out)
{
    if (n == 0 || n > 16)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (upper_ok && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

static void agree(const char *s, size_t n, bool upper_ok)
{
    uint64_t a = 0xdead, b = 0xbeef;
    bool ra = twp_hex_u64(s, n, upper_ok, &a);
    bool rb = ref_hex(s, n, upper_ok, &b);
    if (ra != rb || (ra && a != b))
        fail_msg("'%.*s' (n=%zu upper_ok=%d): got %d %016llx, want %d %016llx", (int)n, s, n,
                 upper_ok, ra, (unsigned long long)a, rb, (unsigned long long)b);
}

static void every_byte_at_every_position(void **state)
{
    (void)state;
    char s[16];
    for (int pos = 0; pos < 16; pos++)
        for (int c = 0; c < 256; c++) {
            memcpy(s, "0123456789abcdef", 16);
            s[pos] = (char)c;
            agree(s, 16, false);
            agree(s, 16, true);
        }
}

static void known_values_and_lengths(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(twp_hex_u64("00f067aa0ba902b7", 16, false, &v));
    assert_int_equal(v, 0x00f067aa0ba902b7ULL);
    assert_true(twp_hex_u64("ffffffffffffffff", 16, false, &v));
    assert_int_equal(v, UINT64_MAX);
    assert_false(twp_hex_u64("00F067AA0BA902B7", 16, false, &v));
    assert_true(twp_hex_u64("00F067AA0BA902B7", 16, true, &v));
    assert_int_equal(v, 0x00f067aa0ba902b7ULL);
    const char *d = "4bf92f3577b34da6a3ce929d0e0e4736";
    for (size_t n = 0; n <= 17; n++) {
        agree(d, n, false);
        agree(d + 1, n, true);          /* unaligned starts */
    }
}

static void random_strings(void **state)
{
    (void)state;
    static const char pool[] = "0123456789abcdefABCDEFgG/:@`{ \x7f\x80\xff\x10";
    srand(12345);
    char s[16];
    for (int i = 0; i < 1000000; i++) {
        int mode = rand() % 4;
        for (int j = 0; j < 16; j++)
            s[j] = mode == 0 ? (char)(rand() & 0xff)
                 : pool[rand() % (int)(mode == 1 ? 16 : sizeof pool - 1)];
        agree(s, 16, (i & 1) != 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_byte_at_every_position),
        cmocka_unit_test(known_values_and_lengths),
        cmocka_unit_test(random_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
