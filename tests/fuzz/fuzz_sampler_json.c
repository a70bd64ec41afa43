/* fuzz_sampler_json.c — remote-sampling strategy JSON (the body polled from
 * sampler.url) through twp_sampler_apply_json, then sampling decisions on
 * the result. The first input byte picks the starting sampler type; the rest
 * is the body. Checks: only documented statuses; applying the same body
 * twice is accepted; decisions name a type and a finite parameter.
 * requires: core/src/sampler.c core/src/config.c */
#include "fz_common.h"
#include "sampler.h"

#include <math.h>

static void decide_some(twp_sampler *s, const char *body, size_t len)
{
    static const char *const ops[] = { "", "GET /", "op", "POST /api" };
    for (size_t i = 0; i < 4; i++) {
        twp_sample_result r;
        memset(&r, 0, sizeof r);
        (void)twp_sampler_decide(s, 0x123456789abcdefull * (i + 1), ops[i], strlen(ops[i]), &r);
        FZ_CHECK(r.type != NULL);
        FZ_CHECK(isfinite(r.param));
    }
    /* an operation name taken from the body itself may match a per-op entry */
    twp_sample_result r;
    size_t take = len < 32 ? len : 32;
    (void)twp_sampler_decide(s, UINT64_MAX, body, take, &r);
    FZ_CHECK(r.type != NULL && isfinite(r.param));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const types[] = { "remote", "probabilistic", "ratelimiting", "const" };
    tw_config *cfg = NULL;
    if (tw_config_new(&cfg) != TW_OK)
        return 0;
    (void)tw_config_set(cfg, "sampler.type", types[data[0] & 3]);
    twp_sampler *s = NULL;
    if (twp_sampler_new(cfg, &s) == TW_OK) {
        char *body = fz_exact_copy(data + 1, size - 1);
        if (body) {
            tw_status st = twp_sampler_apply_json(s, body, size - 1);
            FZ_CHECK(st == TW_OK || st == TW_ERR_CORRUPTED || st == TW_ERR_TOO_LARGE ||
                     st == TW_ERR_NOMEM);
            decide_some(s, body, size - 1);
            if (st == TW_OK) {
                FZ_CHECK(twp_sampler_apply_json(s, body, size - 1) == TW_OK);
                decide_some(s, body, size - 1);
            }
            free(body);
        }
        twp_sampler_free(s);
    }
    tw_config_free(cfg);
    return 0;
}
