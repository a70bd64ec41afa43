/* text.c — the text codecs the propagation formats share: percent-encoding,
 * hex ids, RFC 7230 token characters, trimming, ASCII case-insensitive compare.
 *
 * Two encode sets cover every format: Jaeger's uberctx-* values use URL
 * encoding (only RFC 3986 unreserved characters stay literal, so Go's
 * QueryUnescape, Java's URLDecoder and JS decodeURIComponent all read our
 * output the same way), W3C baggage keeps its baggage-octets. Decoding is
 * strict: a '%' not followed by two hex digits is an error, never copied
 * through, so a malformed header is reported rather than half-understood.
 * Everything works on (pointer, length); nothing needs a NUL.
 */
#include "text.h"

#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool keep_literal(unsigned char c, twp_pct_set set)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    if (set == TWP_PCT_URL)
        return c == '-' || c == '.' || c == '_' || c == '~';
    /* baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E, minus '%'
     * which must be escaped because values are percent-decoded. */
    if (c == '%')
        return false;
    return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
           (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

size_t twp_percent_encoded_len(const char *s, size_t n, twp_pct_set set)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += keep_literal((unsigned char)s[i], set) ? 1 : 3;
    return len;
}

size_t twp_percent_encode(const char *s, size_t n, twp_pct_set set, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (keep_literal(c, set)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 0xf];
        }
    }
    return o;
}

tw_status twp_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3)
                return TW_ERR_CORRUPTED;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return TW_ERR_CORRUPTED;
            out[o++] = (char)((h << 4) | l);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = (char)c;
        }
    }
    *out_len = o;
    return TW_OK;
}

/* Digit values; upper-case A-F carry 0x10 so callers can refuse them; every
 * other byte is 0, told apart from '0' by the caller. */
static const unsigned char HEX[256] = {
    ['0'] = 0, ['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4, ['5'] = 5, ['6'] = 6, ['7'] = 7,
    ['8'] = 8, ['9'] = 9, ['a'] = 10, ['b'] = 11, ['c'] = 12, ['d'] = 13, ['e'] = 14, ['f'] = 15,
    ['A'] = 0x1a, ['B'] = 0x1b, ['C'] = 0x1c, ['D'] = 0x1d, ['E'] = 0x1e, ['F'] = 0x1f,
};

/* Eight lower-case hex digits at once, as one 64-bit word (the first
 * character in the lowest byte): per byte the value is its low nibble, plus
 * 9 for a letter (bit 6 set); the bytes were digits exactly when turning the
 * values back into characters gives the same word. Ids are 16 or 32 digits
 * and parsed on every extract, so this is the common path. */
#define TWP_BYTES(v) (0x0101010101010101ull * (v))

static bool hex8_lower(const char *s, uint32_t *out)
{
    uint64_t x;
    memcpy(&x, s, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    uint64_t v = ((x & TWP_BYTES(0x0f)) + ((x >> 6) & TWP_BYTES(0x01)) * 9) & TWP_BYTES(0x0f);
    uint64_t back = v + TWP_BYTES(0x30) + (((v + TWP_BYTES(0x06)) >> 4) & TWP_BYTES(0x01)) * 0x27;
    if (back != x)
        return false;
    /* nibbles -> bytes -> 16-bit -> 32-bit lanes, first digit ending up in
     * the lowest byte; a byte swap makes it the most significant */
    v = ((v << 4) | (v >> 8)) & 0x00ff00ff00ff00ffull;
    v = (v | (v >> 8)) & 0x0000ffff0000ffffull;
    v = (v | (v >> 16)) & 0xffffffffull;
    *out = __builtin_bswap32((uint32_t)v);
    return true;
}

bool twp_hex_u64(const char *s, size_t n, bool upper_ok, uint64_t *out)
{
    if (n == 0 || n > 16)
        return false;
    uint32_t hi, lo;
    if (n == 16 && hex8_lower(s, &hi) && hex8_lower(s + 8, &lo)) {
        *out = (uint64_t)hi << 32 | lo;
        return true;
    }
    /* other lengths, upper-case digits, and every refusal: one at a time */
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        unsigned d = HEX[c];
        /* the table's zero-initialised entries are ambiguous with '0' */
        if (d == 0 && c != '0')
            return false;
        if (d & 0x10) {
            if (!upper_ok)
                return false;
            d &= 0x0f;
        }
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

bool twp_hex_trace_id(const char *s, size_t n, bool upper_ok, uint64_t *hi, uint64_t *lo)
{
    if (n == 0 || n > 32)
        return false;
    uint64_t h = 0, l;
    if (n > 16) {
        if (!twp_hex_u64(s, n - 16, upper_ok, &h))
            return false;
        s += n - 16;
        n = 16;
    }
    if (!twp_hex_u64(s, n, upper_ok, &l))
        return false;
    *hi = h;
    *lo = l;
    return true;
}

/* The inverse of hex8_lower: the 32-bit value's eight digits, most
 * significant first, spread one nibble a byte and turned into characters in
 * one word (inject writes three ids per traceparent). */
static void hex8_put(char *dst, uint32_t v)
{
    uint64_t x = __builtin_bswap32(v);       /* most significant byte lowest */
    x = (x | (x << 16)) & 0x0000ffff0000ffffull;
    x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
    x = ((x >> 4) & 0x000f000f000f000full) | ((x & 0x000f000f000f000full) << 8);
    x += TWP_BYTES(0x30) + (((x + TWP_BYTES(0x06)) >> 4) & TWP_BYTES(0x01)) * 0x27;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    memcpy(dst, &x, 8);
}

void twp_hex_put_u64(char *dst, uint64_t v)
{
    hex8_put(dst, (uint32_t)(v >> 32));
    hex8_put(dst + 8, (uint32_t)v);
}

bool twp_is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

void twp_trim_ows(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n;
    while (len && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    *s = p;
    *n = len;
}

bool twp_ascii_ieq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

size_t twp_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;   /* bounds of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;        /* overlong */
        else if (c == 0xED)
            hi = 0x9F;        /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;        /* overlong */
        else if (c == 0xF4)
            hi = 0x8F;        /* past U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}
