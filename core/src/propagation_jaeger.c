/* propagation_jaeger.c — Jaeger's native text-map format.
 *
 *   uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}
 *
 * all hex; the trace id has 1..32 digits (more than 16 = 128-bit), span and
 * parent 1..16, flags 1..2 (0x01 sampled, 0x02 debug; other bits dropped).
 * Jaeger clients write ids without leading zeros and some proxies url-encode
 * the colons, so parsing accepts both; upper-case hex is tolerated (Go's
 * ParseUint does). The header name is configurable (trace_id_header).
 *
 * Baggage: one uberctx-{key} header per item (prefix configurable), value
 * url-encoded; the key is the rest of the header name, lower-cased as Jaeger
 * clients do. jaeger-baggage: "k=v, k2=v2" (incoming only, url-decoded).
 * jaeger-debug-id is collected by propagation.c and stored on the context.
 *
 * Inject writes ids zero-padded (16 hex, 32 for 128-bit trace ids) — under
 * the jaeger_client profile without leading zeros, as jaeger_client's
 * span_context_to_string ('{:x}') — parent "0" for a root, flags as hex, and skips baggage items whose key is not a token
 * or collides (case-insensitively) with an earlier one, and items beyond
 * max_baggage_size bytes in total or TWP_MAX_BAGGAGE_ITEMS items, so extract
 * always accepts what inject made. Skipped items are whole (never a cut
 * value) and marked in missed[] for the caller to count: a bound is not a
 * reason to fail the request that carries the headers.
 */
#include "propagation.h"
#include "text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tw_status twp_jaeger_parse_trace_header(const char *s, size_t n, twp_ids *out)
{
    char dec[TWP_MAX_ID_HEADER];
    memset(out, 0, sizeof *out);
    if (n == 0 || n > sizeof dec)
        return TW_ERR_CORRUPTED;
    if (memchr(s, '%', n)) {
        size_t dl;
        if (twp_percent_decode(s, n, false, dec, &dl) != TW_OK)
            return TW_ERR_CORRUPTED;
        s = dec;
        n = dl;
    }
    const char *part[4];
    size_t plen[4];
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ':') {
            if (np == 4)
                return TW_ERR_CORRUPTED;
            part[np] = s + start;
            plen[np] = i - start;
            np++;
            start = i + 1;
        }
    }
    if (np != 4)
        return TW_ERR_CORRUPTED;
    uint64_t hi, lo, span, parent, flags;
    if (!twp_hex_trace_id(part[0], plen[0], true, &hi, &lo) ||
        !twp_hex_u64(part[1], plen[1], true, &span) ||
        !twp_hex_u64(part[2], plen[2], true, &parent) ||
        plen[3] > 2 || !twp_hex_u64(part[3], plen[3], true, &flags))
        return TW_ERR_CORRUPTED;
    if ((hi == 0 && lo == 0) || span == 0)
        return TW_ERR_CORRUPTED;
    out->trace_hi = hi;
    out->trace_lo = lo;
    out->span_id = span;
    out->parent_id = parent;
    out->flags = (unsigned)flags & (TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
    out->has_ids = true;
    out->sampled_known = true;
    out->trace_128 = plen[0] > 16;
    return TW_OK;
}

tw_status twp_jaeger_decode_value(const char *s, size_t n, char *out, size_t *out_len)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return TW_ERR_CORRUPTED;
    }
    return twp_percent_decode(s, n, true, out, out_len);
}

tw_status twp_jaeger_parse_baggage_header(const char *s, size_t n, twp_kv_sink sink, void *ud)
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
            if (n != 0 || comma)
                st = TW_ERR_CORRUPTED;
            break;
        }
        const char *eq = memchr(m, '=', mlen);
        if (!eq) {
            st = TW_ERR_CORRUPTED;
            break;
        }
        const char *k = m, *v = eq + 1;
        size_t kl = (size_t)(eq - m), vl = mlen - kl - 1;
        twp_trim_ows(&k, &kl);
        twp_trim_ows(&v, &vl);
        size_t dkl, dvl;
        if (kl == 0) {
            st = TW_ERR_CORRUPTED;
            break;
        }
        /* key and value decoded into the one scratch buffer, back to back */
        st = twp_jaeger_decode_value(k, kl, scratch, &dkl);
        if (st == TW_OK)
            st = twp_jaeger_decode_value(v, vl, scratch + dkl, &dvl);
        if (st == TW_OK && dkl == 0)
            st = TW_ERR_CORRUPTED;
        if (st == TW_OK)
            st = sink(ud, scratch, dkl, scratch + dkl, dvl);
    }
    free(scratch);
    return st;
}

/* ---------------------------------------------------------------- inject */

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool key_ok(const twp_baggage_item *items, uint32_t i)
{
    const twp_baggage_item *it = &items[i];
    if (it->key_len == 0)
        return false;
    for (uint32_t j = 0; j < it->key_len; j++)
        if (!twp_is_tchar((unsigned char)it->key[j]))
            return false;
    for (uint32_t p = 0; p < i; p++)
        if (twp_ascii_ieq(items[p].key, items[p].key_len, it->key, it->key_len))
            return false;
    return true;
}

static tw_status inject_baggage(const tw_config *cfg, const tw_span_context *c, tw_kv_fn set,
                                void *ud, unsigned char *missed)
{
    if (c->nbaggage == 0)
        return TW_OK;
    const char *prefix = cfg->baggage_header_prefix ? cfg->baggage_header_prefix : "uberctx-";
    size_t plen = strlen(prefix);
    size_t bound = cfg->max_baggage_size > 0 ? (size_t)cfg->max_baggage_size
                                              : TWP_DEFAULT_BAGGAGE_SIZE;
    size_t maxk = 0, maxv = 0;
    for (uint32_t i = 0; i < c->nbaggage; i++) {
        const twp_baggage_item *it = &c->baggage[i];
        size_t ev = twp_percent_encoded_len(it->val, it->val_len, TWP_PCT_URL);
        if (it->key_len > maxk)
            maxk = it->key_len;
        if (ev > maxv)
            maxv = ev;
    }
    char *name = malloc(plen + maxk + 1);
    char *val = malloc(maxv + 1);
    tw_status st = TW_OK;
    if (!name || !val) {
        st = TW_ERR_NOMEM;
        goto done;
    }
    memcpy(name, prefix, plen);
    size_t used = 0, items = 0;
    for (uint32_t i = 0; i < c->nbaggage; i++) {
        const twp_baggage_item *it = &c->baggage[i];
        size_t vl = twp_percent_encoded_len(it->val, it->val_len, TWP_PCT_URL);
        if (items == TWP_MAX_BAGGAGE_ITEMS || !key_ok(c->baggage, i) ||
            used + it->key_len + vl > bound) {
            if (missed)
                missed[i] = 1;
            continue;
        }
        used += it->key_len + vl;
        for (uint32_t j = 0; j < it->key_len; j++)
            name[plen + j] = lower(it->key[j]);
        name[plen + it->key_len] = '\0';
        twp_percent_encode(it->val, it->val_len, TWP_PCT_URL, val);
        val[vl] = '\0';
        st = twp_setter_status(set(ud, name, plen + it->key_len, val, vl));
        if (st != TW_OK)
            break;
        items++;
    }
done:
    free(name);
    free(val);
    return st;
}

tw_status twp_jaeger_inject(const tw_config *cfg, const tw_span_context *c, tw_kv_fn set, void *ud,
                            unsigned char *missed)
{
    if (c->trace_hi || c->trace_lo) {
        const char *hname = cfg->trace_id_header ? cfg->trace_id_header : "uber-trace-id";
        char v[32 + 1 + 16 + 1 + 16 + 1 + 2 + 1];
        size_t o;
        unsigned flags = c->flags & (TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
        if (cfg->profile == TWP_PROFILE_JAEGER_CLIENT) {
            int n = c->trace_hi ?
                snprintf(v, sizeof v, "%" PRIx64 "%016" PRIx64 ":%" PRIx64 ":%" PRIx64 ":%x",
                         c->trace_hi, c->trace_lo, c->span_id, c->parent_id, flags) :
                snprintf(v, sizeof v, "%" PRIx64 ":%" PRIx64 ":%" PRIx64 ":%x",
                         c->trace_lo, c->span_id, c->parent_id, flags);
            o = (size_t)n;        /* fits: at most 32+1+16+1+16+1+1 characters */
        } else {
            tw_span_context_trace_id_hex(c, v);
            o = strlen(v);
            v[o++] = ':';
            twp_hex_put_u64(v + o, c->span_id);
            o += 16;
            v[o++] = ':';
            if (c->parent_id) {
                twp_hex_put_u64(v + o, c->parent_id);
                o += 16;
            } else {
                v[o++] = '0';
            }
            v[o++] = ':';
            v[o++] = "0123456789abcdef"[flags];
            v[o] = '\0';
        }
        tw_status st = twp_setter_status(set(ud, hname, strlen(hname), v, o));
        if (st != TW_OK)
            return st;
    }
    return inject_baggage(cfg, c, set, ud, missed);
}
