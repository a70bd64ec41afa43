/* fuzz_parsers.c — the propagation header parsers called directly (no
 * carrier, no config), which is several times faster than going through
 * extract. The first byte picks the parser, the rest is the header value:
 *   0 uber-trace-id   1 jaeger-baggage   2 uberctx-* value decode
 *   3 traceparent     4 tracestate       5 W3C baggage
 *   6 b3 single       7 X-B3-* (the rest split on '\n' into TraceId, SpanId,
 *                       ParentSpanId, Sampled, Flags; a missing field is an
 *                       absent header)
 * Checks: only documented statuses, ids follow the twp_ids rules, every
 * decoded baggage item is readable, tracestate normalisation is idempotent.
 * requires: core/src/propagation_jaeger.c core/src/propagation_w3c.c
 * requires: core/src/propagation_b3.c core/src/text.c */
#include "fz_common.h"
#include "trace_flags.h"
#include "propagation.h"

static void check_ids(tw_status st, const twp_ids *ids)
{
    FZ_CHECK(st == TW_OK || st == TW_ERR_CORRUPTED);
    if (st != TW_OK)
        return;
    /* Jaeger's sampled/debug bits, and a traceparent's other trace-flags
     * bits kept for re-emission (trace_flags.h) */
    FZ_CHECK((ids->flags & ~(TW_FLAG_SAMPLED | TW_FLAG_DEBUG | TWP_FLAG_W3C_MASK)) == 0);
    if (ids->has_ids) {
        FZ_CHECK(ids->trace_hi != 0 || ids->trace_lo != 0);
        FZ_CHECK(ids->span_id != 0);
    }
}

static tw_status sink(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    size_t *count = ud;
    static volatile unsigned sum;
    (void)sum;
    FZ_CHECK(k != NULL || kl == 0);
    FZ_CHECK(v != NULL || vl == 0);
    for (size_t i = 0; i < kl; i++)
        sum += (unsigned char)k[i];
    for (size_t i = 0; i < vl; i++)
        sum += (unsigned char)v[i];
    (*count)++;
    return TW_OK;
}

static void b3_multi(const char *s, size_t n)
{
    const char *ptr[5] = { 0 };
    size_t len[5] = { 0 };
    size_t i = 0, f = 0;
    while (f < 5 && i <= n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t l = nl ? (size_t)(nl - (s + i)) : n - i;
        ptr[f] = s + i;
        len[f] = l;
        f++;
        if (!nl)
            break;
        i += l + 1;
    }
    /* A field spelled exactly "-" stands for an absent header. */
    for (size_t k = 0; k < 5; k++)
        if (ptr[k] && len[k] == 1 && ptr[k][0] == '-')
            ptr[k] = NULL, len[k] = 0;
    twp_b3_headers h = {
        .trace_id = ptr[0], .span_id = ptr[1], .parent_id = ptr[2],
        .sampled = ptr[3], .flags = ptr[4],
        .trace_id_len = len[0], .span_id_len = len[1], .parent_id_len = len[2],
        .sampled_len = len[3], .flags_len = len[4],
    };
    twp_ids ids;
    memset(&ids, 0, sizeof ids);
    check_ids(twp_b3_parse_multi(&h, &ids), &ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned which = data[0] & 7;
    size_t n = size - 1;
    char *s = fz_exact_copy(data + 1, n);
    if (!s)
        return 0;
    twp_ids ids;
    memset(&ids, 0, sizeof ids);
    size_t count = 0;
    tw_status st;
    switch (which) {
    case 0:
        check_ids(twp_jaeger_parse_trace_header(s, n, &ids), &ids);
        break;
    case 1:
        st = twp_jaeger_parse_baggage_header(s, n, sink, &count);
        FZ_CHECK(st == TW_OK || st == TW_ERR_CORRUPTED || st == TW_ERR_NOMEM);
        break;
    case 2: {
        char *out = malloc(n ? n : 1);
        size_t olen = 0;
        if (out) {
            st = twp_jaeger_decode_value(s, n, out, &olen);
            FZ_CHECK(st == TW_OK || st == TW_ERR_CORRUPTED);
            FZ_CHECK(st != TW_OK || olen <= n);
            free(out);
        }
        break;
    }
    case 3:
        check_ids(twp_w3c_parse_traceparent(s, n, &ids), &ids);
        break;
    case 4: {
        char *out = malloc(n ? n : 1);
        size_t olen = 0;
        if (!out)
            break;
        st = twp_w3c_parse_tracestate(s, n, out, &olen);
        FZ_CHECK(st == TW_OK || st == TW_ERR_CORRUPTED);
        if (st == TW_OK) {
            FZ_CHECK(olen <= n);
            /* normalised output parses to itself */
            char *again = fz_exact_copy((const uint8_t *)out, olen);
            char *out2 = malloc(olen ? olen : 1);
            size_t olen2 = 0;
            if (again && out2) {
                FZ_CHECK(twp_w3c_parse_tracestate(again, olen, out2, &olen2) == TW_OK);
                FZ_CHECK(olen2 == olen && (olen == 0 || memcmp(out2, out, olen) == 0));
            }
            free(again);
            free(out2);
        }
        free(out);
        break;
    }
    case 5:
        st = twp_w3c_parse_baggage(s, n, sink, &count);
        FZ_CHECK(st == TW_OK || st == TW_ERR_CORRUPTED || st == TW_ERR_NOMEM);
        break;
    case 6:
        check_ids(twp_b3_parse_single(s, n, &ids), &ids);
        break;
    default:
        b3_multi(s, n);
        break;
    }
    free(s);
    return 0;
}
