/* propagation_b3.c — Zipkin B3, single header and multi header.
 *
 *   b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]   or   b3: {SamplingState}
 *   X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId, X-B3-Sampled, X-B3-Flags
 *
 * Per openzipkin/b3-propagation: trace ids are 16 or 32 lower-hex characters,
 * span ids 16; sampling state 1 (accept), 0 (deny), d (debug, implies
 * accept); X-B3-Sampled also takes the legacy true/false; X-B3-Flags: 1 is
 * debug. A header with only a sampling state carries a decision but no ids
 * (twp_ids.has_ids false); ids without a state defer the decision
 * (sampled_known false). B3 has no baggage: inject writes ids and flags only.
 */
#include "propagation.h"
#include "text.h"

#include <string.h>

static bool eq(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n == l && memcmp(s, lit, l) == 0;
}

static bool parse_trace(const char *s, size_t n, twp_ids *out)
{
    if (n != 16 && n != 32)
        return false;
    if (!twp_hex_trace_id(s, n, false, &out->trace_hi, &out->trace_lo))
        return false;
    out->trace_128 = n == 32;
    return out->trace_hi || out->trace_lo;
}

static bool parse_span(const char *s, size_t n, uint64_t *id)
{
    return n == 16 && twp_hex_u64(s, n, false, id) && *id != 0;
}

/* "1", "0" or "d" -> flags; false for anything else. */
static bool parse_state(const char *s, size_t n, unsigned *flags)
{
    if (eq(s, n, "1"))
        *flags = TW_FLAG_SAMPLED;
    else if (eq(s, n, "0"))
        *flags = 0;
    else if (eq(s, n, "d"))
        *flags = TW_FLAG_SAMPLED | TW_FLAG_DEBUG;
    else
        return false;
    return true;
}

tw_status twp_b3_parse_single(const char *s, size_t n, twp_ids *out)
{
    memset(out, 0, sizeof *out);
    const char *part[4];
    size_t plen[4];
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '-') {
            if (np == 4)
                return TW_ERR_CORRUPTED;
            part[np] = s + start;
            plen[np] = i - start;
            np++;
            start = i + 1;
        }
    }
    if (np == 1) {
        if (!parse_state(part[0], plen[0], &out->flags))
            return TW_ERR_CORRUPTED;
        out->sampled_known = true;
        return TW_OK;
    }
    if (!parse_trace(part[0], plen[0], out) || !parse_span(part[1], plen[1], &out->span_id))
        return TW_ERR_CORRUPTED;
    out->has_ids = true;
    if (np >= 3) {
        if (!parse_state(part[2], plen[2], &out->flags))
            return TW_ERR_CORRUPTED;
        out->sampled_known = true;
    }
    if (np == 4 && !parse_span(part[3], plen[3], &out->parent_id))
        return TW_ERR_CORRUPTED;
    return TW_OK;
}

tw_status twp_b3_parse_multi(const twp_b3_headers *h, twp_ids *out)
{
    memset(out, 0, sizeof *out);
    if (!h->trace_id != !h->span_id)
        return TW_ERR_CORRUPTED;       /* one id without the other */
    if (h->parent_id && !h->trace_id)
        return TW_ERR_CORRUPTED;
    if (h->trace_id) {
        if (!parse_trace(h->trace_id, h->trace_id_len, out) ||
            !parse_span(h->span_id, h->span_id_len, &out->span_id))
            return TW_ERR_CORRUPTED;
        if (h->parent_id && !parse_span(h->parent_id, h->parent_id_len, &out->parent_id))
            return TW_ERR_CORRUPTED;
        out->has_ids = true;
    }
    if (h->sampled) {
        if (eq(h->sampled, h->sampled_len, "1") || eq(h->sampled, h->sampled_len, "true"))
            out->flags = TW_FLAG_SAMPLED;
        else if (eq(h->sampled, h->sampled_len, "0") || eq(h->sampled, h->sampled_len, "false"))
            out->flags = 0;
        else
            return TW_ERR_CORRUPTED;
        out->sampled_known = true;
    }
    if (h->flags) {
        if (eq(h->flags, h->flags_len, "1")) {
            out->flags = TW_FLAG_SAMPLED | TW_FLAG_DEBUG;   /* debug implies accept */
            out->sampled_known = true;
        } else if (!eq(h->flags, h->flags_len, "0")) {
            return TW_ERR_CORRUPTED;
        }
    }
    return TW_OK;
}

/* ---------------------------------------------------------------- inject */

/* Under the jaeger_client profile the headers are what jaeger_client 4.8's
 * B3Codec writes: its spelling (X-B3-TraceId; a dict carrier is read by
 * exact key), a trace id of 32 digits when generate_128bit_trace_id is on
 * even for a 64-bit id, and no X-B3-Sampled on an unsampled span (it writes
 * Flags 1 for debug, Sampled 1 for sampled, nothing else). One difference
 * kept: a 128-bit id under a 64-bit config is written in 32 digits, where
 * jaeger_client writes it without leading zeros (17 to 31 digits that B3
 * readers other than jaeger_client's refuse; jaeger_client reads both). */
tw_status twp_b3_inject_multi(const tw_config *cfg, const tw_span_context *c, tw_kv_fn set, void *ud)
{
    static const char *const lower[] = {"x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
                                        "x-b3-sampled", "x-b3-flags"};
    static const char *const jc[] = {"X-B3-TraceId", "X-B3-SpanId", "X-B3-ParentSpanId",
                                     "X-B3-Sampled", "X-B3-Flags"};
    bool jaeger_client = cfg->profile == TWP_PROFILE_JAEGER_CLIENT;
    const char *const *name = jaeger_client ? jc : lower;
    if (!c->trace_hi && !c->trace_lo)
        return TW_OK;
    char trace[33], span[17];
    if (jaeger_client && cfg->trace_id_128bit) {
        twp_hex_put_u64(trace, c->trace_hi);
        twp_hex_put_u64(trace + 16, c->trace_lo);
        trace[32] = '\0';
    } else {
        tw_span_context_trace_id_hex(c, trace);
    }
    tw_span_context_span_id_hex(c, span);
    tw_status st = twp_setter_status(set(ud, name[0], 12, trace, strlen(trace)));
    if (st == TW_OK)
        st = twp_setter_status(set(ud, name[1], 11, span, 16));
    if (st == TW_OK && c->parent_id) {
        char parent[17];
        twp_hex_put_u64(parent, c->parent_id);
        parent[16] = '\0';
        st = twp_setter_status(set(ud, name[2], 17, parent, 16));
    }
    if (st == TW_OK) {
        if (c->flags & TW_FLAG_DEBUG)
            st = twp_setter_status(set(ud, name[4], 10, "1", 1));
        else if ((c->flags & TW_FLAG_SAMPLED) || !jaeger_client)
            st = twp_setter_status(set(ud, name[3], 12,
                                       (c->flags & TW_FLAG_SAMPLED) ? "1" : "0", 1));
    }
    return st;
}

tw_status twp_b3_inject_single(const tw_span_context *c, tw_kv_fn set, void *ud)
{
    if (!c->trace_hi && !c->trace_lo)
        return TW_OK;
    char v[32 + 1 + 16 + 1 + 1 + 1 + 16 + 1];
    tw_span_context_trace_id_hex(c, v);
    size_t o = strlen(v);
    v[o++] = '-';
    twp_hex_put_u64(v + o, c->span_id);
    o += 16;
    v[o++] = '-';
    v[o++] = (c->flags & TW_FLAG_DEBUG) ? 'd' : (c->flags & TW_FLAG_SAMPLED) ? '1' : '0';
    if (c->parent_id) {
        v[o++] = '-';
        twp_hex_put_u64(v + o, c->parent_id);
        o += 16;
    }
    v[o] = '\0';
    return twp_setter_status(set(ud, "b3", 2, v, o));
}
