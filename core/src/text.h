/* text.h — text codecs the propagation formats share (text.c):
 * percent-encoding, hex ids, token characters, trimming, ASCII
 * case-insensitive compare. Private to core/.
 */
#ifndef TW_TEXT_H
#define TW_TEXT_H

#define TW_BUILDING 1
#include "tracewire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* text.c: percent-encoding and the small text helpers the codecs share. */
typedef enum twp_pct_set {
    TWP_PCT_URL,       /* keep RFC 3986 unreserved (A-Z a-z 0-9 - . _ ~); Jaeger */
    TWP_PCT_BAGGAGE    /* keep W3C baggage-octets except '%'; W3C baggage */
} twp_pct_set;
size_t twp_percent_encoded_len(const char *s, size_t n, twp_pct_set set);
/* Writes twp_percent_encoded_len bytes (upper-case %XX), returns that count. */
size_t twp_percent_encode(const char *s, size_t n, twp_pct_set set, char *out);
/* Strict: '%' must be followed by two hex digits, else TW_ERR_CORRUPTED.
 * plus_is_space: '+' decodes to ' ' (form/query encoding). out needs n bytes
 * and may alias s. */
tw_status twp_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t *out_len);
/* 1..16 hex digits -> u64; 1..32 -> a trace id. upper_ok accepts A-F. */
bool twp_hex_u64(const char *s, size_t n, bool upper_ok, uint64_t *out);
bool twp_hex_trace_id(const char *s, size_t n, bool upper_ok, uint64_t *hi, uint64_t *lo);
void twp_hex_put_u64(char *dst, uint64_t v);   /* 16 lower-case digits, no NUL */
bool twp_is_tchar(unsigned char c);            /* RFC 7230 token character */
void twp_trim_ows(const char **s, size_t *n);  /* strips spaces and tabs at both ends */
/* ASCII case-insensitive equality of (a, an) and (b, bn). */
bool twp_ascii_ieq(const char *a, size_t an, const char *b, size_t bn);

/* Length (1..4) of the valid UTF-8 sequence at s, or 0 if invalid: no
 * overlongs, no surrogates, nothing past U+10FFFF; ASCII is 1. One validator
 * for every encoder that replaces bad bytes with U+FFFD. */
size_t twp_utf8_seq(const unsigned char *s, size_t n);

#endif
