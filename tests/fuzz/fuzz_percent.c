/* fuzz_percent.c — percent-decoding and the hex/text helpers of text.c.
 * The first input byte picks options, the rest is the text. Checks:
 * decoding never writes more than n bytes, in-place decoding equals
 * out-of-place, encode -> decode gives back the input for both encode sets,
 * and hex parse -> print -> parse is the identity.
 * requires: core/src/text.c */
#include "fz_common.h"
#include "text.h"

static void check_encode_roundtrip(const char *s, size_t n, twp_pct_set set)
{
    size_t elen = twp_percent_encoded_len(s, n, set);
    FZ_CHECK(elen >= n && elen <= 3 * n);
    char *enc = malloc(elen ? elen : 1);
    if (!enc)
        return;
    FZ_CHECK(twp_percent_encode(s, n, set, enc) == elen);
    char *dec = malloc(elen ? elen : 1);
    size_t dlen = 0;
    if (dec) {
        FZ_CHECK(twp_percent_decode(enc, elen, false, dec, &dlen) == TW_OK);
        FZ_CHECK(dlen == n && (n == 0 || memcmp(dec, s, n) == 0));
        if (set == TWP_PCT_URL) {
            /* '+' is never literal in the URL set, so form decoding agrees */
            FZ_CHECK(twp_percent_decode(enc, elen, true, dec, &dlen) == TW_OK);
            FZ_CHECK(dlen == n && (n == 0 || memcmp(dec, s, n) == 0));
        }
        free(dec);
    }
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool plus = data[0] & 1;
    const uint8_t *text = data + 1;
    size_t n = size - 1;
    char *s = fz_exact_copy(text, n);
    char *out = malloc(n ? n : 1);
    char *inplace = fz_exact_copy(text, n);
    if (!s || !out || !inplace)
        goto done;

    size_t olen = (size_t)-1, ilen = (size_t)-1;
    tw_status st = twp_percent_decode(s, n, plus, out, &olen);
    FZ_CHECK(st == TW_OK || st == TW_ERR_CORRUPTED);
    tw_status st2 = twp_percent_decode(inplace, n, plus, inplace, &ilen);
    FZ_CHECK(st2 == st);
    if (st == TW_OK) {
        FZ_CHECK(olen <= n && ilen == olen);
        FZ_CHECK(olen == 0 || memcmp(out, inplace, olen) == 0);
        check_encode_roundtrip(out, olen, TWP_PCT_URL);
        check_encode_roundtrip(out, olen, TWP_PCT_BAGGAGE);
    }
    check_encode_roundtrip(s, n, TWP_PCT_URL);
    check_encode_roundtrip(s, n, TWP_PCT_BAGGAGE);

    uint64_t v = 0, hi = 0, lo = 0;
    bool upper = data[0] & 2;
    if (twp_hex_u64(s, n, upper, &v)) {
        char hex[16];
        twp_hex_put_u64(hex, v);
        uint64_t w = 0;
        FZ_CHECK(twp_hex_u64(hex, 16, false, &w) && w == v);
    }
    if (twp_hex_trace_id(s, n, upper, &hi, &lo)) {
        char hex[32];
        twp_hex_put_u64(hex, hi);
        twp_hex_put_u64(hex + 16, lo);
        uint64_t h2 = 0, l2 = 0;
        FZ_CHECK(twp_hex_trace_id(hex, 32, false, &h2, &l2) && h2 == hi && l2 == lo);
    }

    const char *t = s;
    size_t tn = n;
    twp_trim_ows(&t, &tn);
    FZ_CHECK(t >= s && t + tn <= s + n);
    FZ_CHECK(tn == 0 || (t[0] != ' ' && t[0] != '\t' && t[tn - 1] != ' ' && t[tn - 1] != '\t'));

    size_t half = n / 2;
    FZ_CHECK(twp_ascii_ieq(s, half, s + half, n - half) ==
             twp_ascii_ieq(s + half, n - half, s, half));
    for (size_t i = 0; i < n; i++)
        (void)twp_is_tchar((unsigned char)s[i]);
done:
    free(s);
    free(out);
    free(inplace);
    return 0;
}
