/* fz_context.c — exact-size copies and the context checks every target
 * uses (needs only context.c). */
#include "fz_common.h"
#include "context.h"

char *fz_exact_copy(const uint8_t *data, size_t size)
{
    /* malloc(0) still returns a distinct pointer under ASan; any read of it
     * is reported as an overflow, which is what we want. */
    char *p = malloc(size ? size : 1);
    if (p && size)
        memcpy(p, data, size);
    return p;
}

/* ------------------------------------------------------------ context checks */

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

typedef struct bag_walk {
    const tw_span_context *ctx;
    size_t count;
    unsigned sum;
} bag_walk;

static int bag_visit(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    bag_walk *w = ud;
    FZ_CHECK(k != NULL || kl == 0);
    FZ_CHECK(v != NULL || vl == 0);
    /* Touch every byte so ASan sees any dangling or short storage. */
    for (size_t i = 0; i < kl; i++)
        w->sum += (unsigned char)k[i];
    for (size_t i = 0; i < vl; i++)
        w->sum += (unsigned char)v[i];
    const char *fv = NULL;
    size_t fvl = 0;
    FZ_CHECK(tw_span_context_baggage(w->ctx, k, kl, &fv, &fvl) == TW_OK);
    FZ_CHECK(fv != NULL || fvl == 0);
    w->count++;
    return 0;
}

void fz_exercise_context(const tw_span_context *ctx)
{
    uint64_t hi = 0, lo = 0;
    tw_span_context_trace_id(ctx, &hi, &lo);
    uint64_t span = tw_span_context_span_id(ctx);
    uint64_t parent = tw_span_context_parent_id(ctx);
    unsigned flags = tw_span_context_flags(ctx);
    (void)parent;

    /* A context either has no ids (baggage / debug-id only) or a non-zero
     * trace id AND a non-zero span id: tw_span_context_new refuses anything
     * else, so extract must too. */
    bool no_ids = hi == 0 && lo == 0 && span == 0;
    FZ_CHECK(no_ids || ((hi != 0 || lo != 0) && span != 0));

    char th[33], sh[17];
    memset(th, 'X', sizeof th);
    memset(sh, 'X', sizeof sh);
    tw_span_context_trace_id_hex(ctx, th);
    tw_span_context_span_id_hex(ctx, sh);
    size_t tl = strnlen(th, sizeof th), sl = strnlen(sh, sizeof sh);
    FZ_CHECK(tl == 16 || tl == 32);
    FZ_CHECK(sl == 16);
    FZ_CHECK(is_lower_hex(th, tl) && is_lower_hex(sh, sl));
    char want[33];
    if (tl == 32)
        snprintf(want, sizeof want, "%016llx%016llx", (unsigned long long)hi, (unsigned long long)lo);
    else {
        FZ_CHECK(hi == 0);
        snprintf(want, sizeof want, "%016llx", (unsigned long long)lo);
    }
    FZ_CHECK(strcmp(want, th) == 0);
    snprintf(want, sizeof want, "%016llx", (unsigned long long)span);
    FZ_CHECK(strcmp(want, sh) == 0);

    bag_walk w = { ctx, 0, 0 };
    tw_span_context_foreach_baggage(ctx, bag_visit, &w);
    FZ_CHECK(w.count == ctx->nbaggage);

    /* debug id / tracestate storage is readable for its whole length */
    volatile unsigned touch = 0;
    for (uint32_t i = 0; i < ctx->debug_id_len; i++)
        touch += (unsigned char)ctx->debug_id[i];
    for (uint32_t i = 0; i < ctx->tracestate_len; i++)
        touch += (unsigned char)ctx->tracestate[i];
    (void)touch;

    tw_span_context *dup = NULL;
    tw_status st = tw_span_context_dup(ctx, &dup);
    FZ_CHECK(st == TW_OK || st == TW_ERR_NOMEM);
    if (dup) {
        uint64_t dhi, dlo;
        tw_span_context_trace_id(dup, &dhi, &dlo);
        FZ_CHECK(dhi == hi && dlo == lo && tw_span_context_span_id(dup) == span);
        FZ_CHECK(tw_span_context_flags(dup) == flags);
        bag_walk dw = { dup, 0, 0 };
        tw_span_context_foreach_baggage(dup, bag_visit, &dw);
        FZ_CHECK(dw.count == w.count && dw.sum == w.sum);
        tw_span_context_free(dup);
    }

    char *bin = NULL;
    size_t blen = 0;
    st = tw_span_context_to_binary(ctx, &bin, &blen);
    FZ_CHECK(st == TW_OK || st == TW_ERR_NOMEM || st == TW_ERR_TOO_LARGE);
    if (st == TW_OK) {
        char *exact = fz_exact_copy((const uint8_t *)bin, blen);
        tw_free(bin);
        tw_span_context *back = NULL;
        st = tw_span_context_from_binary(exact, blen, &back);
        FZ_CHECK(st == TW_OK || st == TW_ERR_NOMEM);
        if (back) {
            uint64_t bhi, blo;
            tw_span_context_trace_id(back, &bhi, &blo);
            FZ_CHECK(bhi == hi && blo == lo && tw_span_context_span_id(back) == span);
            FZ_CHECK(tw_span_context_parent_id(back) == parent);
            FZ_CHECK((tw_span_context_flags(back) & 0xffu) == (flags & 0xffu));
            bag_walk bw = { back, 0, 0 };
            tw_span_context_foreach_baggage(back, bag_visit, &bw);
            FZ_CHECK(bw.count == w.count && bw.sum == w.sum);
            tw_span_context_free(back);
        }
        free(exact);
    }
}

