/* propagation_w3c.c — W3C Trace Context (traceparent, tracestate) and W3C
 * Baggage.
 *
 * traceparent follows the spec's parsing rules: version ff is invalid,
 * version 00 is exactly 55 characters, a higher version is parsed leniently
 * (its first four fields, with anything after a '-' at offset 55 ignored),
 * hex must be lower-case, all-zero ids are invalid. The trace-flags byte is
 * kept whole (trace_flags.h): 0x01 is TW_FLAG_SAMPLED, the others (0x02
 * "random", not Jaeger's debug, and the reserved bits) are carried apart
 * and re-emitted unchanged, so a hop through tracewire does not clear a
 * flag the next participant understands. W3C asks vendors to set reserved
 * bits to zero in what they generate; tracewire generates none, it only
 * passes on what it received.
 *
 * tracestate is validated (keys per the Level 2 grammar, values printable,
 * at most 32 members, no duplicate keys) and kept in a normalised form — the
 * members as received, trimmed and joined by "," — so it can be re-emitted
 * verbatim on inject. Malformed tracestate rejects the whole extract: the
 * tracer never half-applies a carrier.
 *
 * baggage: key = token, value = percent-encoded baggage-octets, optional
 * ";property" parts tolerated (validated, then dropped). Inject encodes every
 * byte outside baggage-octets (and '%') as %XX, skips items whose key is not
 * a token, and stops adding items at max_baggage_size bytes or
 * TWP_MAX_BAGGAGE_ITEMS items (whole items only, never a cut value; W3C
 * Baggage, "Limits": list-members MAY be dropped when the baggage-string
 * would exceed 8192 bytes, never partially propagated). Skipped items are
 * marked in missed[] for the caller to count.
 */
#include "propagation.h"
#include "text.h"
#include "trace_flags.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- traceparent */

tw_status twp_w3c_parse_traceparent(const char *s, size_t n, twp_ids *out)
{
    memset(out, 0, sizeof *out);
    if (n < 55)
        return TW_ERR_CORRUPTED;
    uint64_t version, flags, span;
    uint64_t hi, lo;
    if (!twp_hex_u64(s, 2, false, &version) || version == 0xff)
        return TW_ERR_CORRUPTED;
    if (version == 0 && n != 55)
        return TW_ERR_CORRUPTED;
    if (n > 55 && s[55] != '-')
        return TW_ERR_CORRUPTED;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return TW_ERR_CORRUPTED;
    if (!twp_hex_trace_id(s + 3, 32, false, &hi, &lo) || !twp_hex_u64(s + 36, 16, false, &span) ||
        !twp_hex_u64(s + 53, 2, false, &flags))
        return TW_ERR_CORRUPTED;
    if ((hi == 0 && lo == 0) || span == 0)
        return TW_ERR_CORRUPTED;
    out->trace_hi = hi;
    out->trace_lo = lo;
    out->span_id = span;
    out->flags = twp_flags_from_w3c((unsigned)flags);
    out->has_ids = true;
    out->sampled_known = true;
    out->trace_128 = hi != 0;
    return TW_OK;
}

/* ---------------------------------------------------------------- tracestate */

static bool ts_keychar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/';
}

static bool ts_key_valid(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    if (!at) {
        if (n < 1 || n > 256 || !(k[0] >= 'a' && k[0] <= 'z'))
            return false;
        for (size_t i = 1; i < n; i++)
            if (!ts_keychar((unsigned char)k[i]))
                return false;
        return true;
    }
    size_t tn = (size_t)(at - k), sn = n - tn - 1;
    const char *sys = at + 1;
    if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
        return false;
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')))
        return false;
    for (size_t i = 1; i < tn; i++)
        if (!ts_keychar((unsigned char)k[i]))
            return false;
    if (!(sys[0] >= 'a' && sys[0] <= 'z'))
        return false;
    for (size_t i = 1; i < sn; i++)
        if (!ts_keychar((unsigned char)sys[i]))
            return false;
    return true;
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
 * nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
static bool ts_value_valid(const char *v, size_t n)
{
    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

tw_status twp_w3c_parse_tracestate(const char *s, size_t n, char *out, size_t *out_len)
{
    size_t keys_off[TWP_MAX_TRACESTATE_ENTRIES], keys_len[TWP_MAX_TRACESTATE_ENTRIES];
    size_t count = 0, o = 0, pos = 0;
    *out_len = 0;
    while (pos <= n) {
        const char *m = s + pos;
        const char *comma = memchr(m, ',', n - pos);
        size_t mlen = comma ? (size_t)(comma - m) : n - pos;
        pos += mlen + 1;
        twp_trim_ows(&m, &mlen);
        if (mlen == 0)
            continue;           /* empty members are allowed and dropped */
        const char *eq = memchr(m, '=', mlen);
        if (!eq)
            return TW_ERR_CORRUPTED;
        size_t kl = (size_t)(eq - m), vl = mlen - kl - 1;
        if (!ts_key_valid(m, kl) || !ts_value_valid(eq + 1, vl))
            return TW_ERR_CORRUPTED;
        if (count == TWP_MAX_TRACESTATE_ENTRIES)
            return TW_ERR_CORRUPTED;
        for (size_t i = 0; i < count; i++)
            if (keys_len[i] == kl && memcmp(out + keys_off[i], m, kl) == 0)
                return TW_ERR_CORRUPTED;
        if (o)
            out[o++] = ',';
        keys_off[count] = o;
        keys_len[count] = kl;
        count++;
        memcpy(out + o, m, mlen);
        o += mlen;
    }
    *out_len = o;
    return TW_OK;
}

/* ---------------------------------------------------------------- baggage */

static bool baggage_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
           (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!twp_is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

/* property = key OWS "=" OWS value / key */
static bool property_valid(const char *p, size_t n)
{
    twp_trim_ows(&p, &n);
    const char *eq = memchr(p, '=', n);
    if (!eq)
        return is_token(p, n);
    const char *k = p, *v = eq + 1;
    size_t kl = (size_t)(eq - p), vl = n - kl - 1;
    twp_trim_ows(&k, &kl);
    twp_trim_ows(&v, &vl);
    if (!is_token(k, kl))
        return false;
    for (size_t i = 0; i < vl; i++)
        if (!baggage_octet((unsigned char)v[i]))
            return false;
    return true;
}

tw_status twp_w3c_parse_baggage(const char *s, size_t n, twp_kv_sink sink, void *ud)
{
    char *scratch = malloc(n ? n : 1);
    if (!scratch)
        return TW_ERR_NOMEM;
    tw_status st = TW_OK;
    size_t pos = 0;
    while (st == TW_OK && pos <= n) {
        const char *m = s + pos;
        const char *comma = memchr(m, ',', n - pos);
        size_t mlen = comma ? (size_t)(comma - m) : n - pos;
        pos += mlen + 1;
        twp_trim_ows(&m, &mlen);
        if (mlen == 0) {
            /* "" is an empty list; an empty member between commas is not. */
            if (n != 0 || comma)
                st = TW_ERR_CORRUPTED;
            break;
        }
        const char *semi = memchr(m, ';', mlen);
        size_t head = semi ? (size_t)(semi - m) : mlen;
        /* properties: validated, then dropped */
        if (semi) {
            const char *p = semi + 1;
            size_t left = mlen - head - 1;
            for (;;) {
                const char *next = memchr(p, ';', left);
                size_t plen = next ? (size_t)(next - p) : left;
                if (!property_valid(p, plen)) {
                    st = TW_ERR_CORRUPTED;
                    break;
                }
                if (!next)
                    break;
                left -= plen + 1;
                p = next + 1;
            }
            if (st != TW_OK)
                break;
        }
        const char *eq = memchr(m, '=', head);
        if (!eq) {
            st = TW_ERR_CORRUPTED;
            break;
        }
        const char *k = m, *v = eq + 1;
        size_t kl = (size_t)(eq - m), vl = head - kl - 1;
        twp_trim_ows(&k, &kl);
        twp_trim_ows(&v, &vl);
        if (!is_token(k, kl)) {
            st = TW_ERR_CORRUPTED;
            break;
        }
        for (size_t i = 0; i < vl; i++) {
            if (!baggage_octet((unsigned char)v[i])) {
                st = TW_ERR_CORRUPTED;
                break;
            }
        }
        if (st != TW_OK)
            break;
        size_t dl;
        st = twp_percent_decode(v, vl, false, scratch, &dl);
        if (st == TW_OK)
            st = sink(ud, k, kl, scratch, dl);
    }
    free(scratch);
    return st;
}

/* ---------------------------------------------------------------- inject */

static tw_status inject_baggage(const tw_config *cfg, const tw_span_context *c, tw_kv_fn set,
                                void *ud, unsigned char *missed)
{
    size_t bound = cfg->max_baggage_size > 0 ? (size_t)cfg->max_baggage_size
                                              : TWP_DEFAULT_BAGGAGE_SIZE;
    size_t total = 0;
    for (uint32_t i = 0; i < c->nbaggage; i++) {
        const twp_baggage_item *it = &c->baggage[i];
        total += it->key_len + 2 + twp_percent_encoded_len(it->val, it->val_len, TWP_PCT_BAGGAGE);
    }
    if (total == 0)
        return TW_OK;
    char *buf = malloc(total + 1);
    if (!buf)
        return TW_ERR_NOMEM;
    size_t o = 0, items = 0;
    for (uint32_t i = 0; i < c->nbaggage; i++) {
        const twp_baggage_item *it = &c->baggage[i];
        size_t need = (o ? 1 : 0) + it->key_len + 1 +
                      twp_percent_encoded_len(it->val, it->val_len, TWP_PCT_BAGGAGE);
        if (items == TWP_MAX_BAGGAGE_ITEMS || !is_token(it->key, it->key_len) || o + need > bound) {
            if (missed)
                missed[i] = 1;
            continue;
        }
        if (o)
            buf[o++] = ',';
        memcpy(buf + o, it->key, it->key_len);
        o += it->key_len;
        buf[o++] = '=';
        o += twp_percent_encode(it->val, it->val_len, TWP_PCT_BAGGAGE, buf + o);
        items++;
    }
    buf[o] = '\0';
    tw_status st = TW_OK;
    if (o)
        st = twp_setter_status(set(ud, "baggage", 7, buf, o));
    free(buf);
    return st;
}

void tw_span_context_to_traceparent(const tw_span_context *c, char buf[55])
{
    memcpy(buf, "00-", 3);
    twp_hex_put_u64(buf + 3, c->trace_hi);
    twp_hex_put_u64(buf + 19, c->trace_lo);
    buf[35] = '-';
    twp_hex_put_u64(buf + 36, c->span_id);
    buf[52] = '-';
    unsigned f = twp_w3c_trace_flags(c->flags);
    buf[53] = "0123456789abcdef"[f >> 4];
    buf[54] = "0123456789abcdef"[f & 15];
}

tw_status tw_span_context_from_traceparent(const char *s, size_t len, tw_span_context **out)
{
    twp_ids ids;
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (!s)
        return TW_ERR_INVALID_ARG;
    tw_status st = twp_w3c_parse_traceparent(s, len, &ids);
    if (st != TW_OK)
        return st;
    return twp_context_build(ids.trace_hi, ids.trace_lo, ids.span_id, 0, ids.flags, NULL, 0, NULL, 0,
                             NULL, 0, out);
}

tw_status twp_w3c_inject(const tw_config *cfg, const tw_span_context *c, tw_kv_fn set, void *ud,
                         unsigned char *missed)
{
    if (c->trace_hi || c->trace_lo) {
        char tp[56];
        tw_span_context_to_traceparent(c, tp);
        tp[55] = '\0';          /* setters get NUL-terminated values (C callers) */
        int rc = set(ud, "traceparent", 11, tp, 55);
        if (rc)
            return twp_setter_status(rc);
        if (c->tracestate && c->tracestate_len) {
            rc = set(ud, "tracestate", 10, c->tracestate, c->tracestate_len);
            if (rc)
                return twp_setter_status(rc);
        }
    }
    return inject_baggage(cfg, c, set, ud, missed);
}
