/* fuzz_extract_all.c — extract with the configured format set (all four by
 * default), so formats that disagree or overlap are exercised together.
 * Input: see fz_common.h; "@propagation.extract=..." lines change the set.
 * requires: core/src/config.c core/src/propagation.c tests/fuzz/fz_common.c */
#include "fz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tw_config *cfg = NULL;
    if (tw_config_new(&cfg) != TW_OK)
        return 0;
    fz_carrier carrier;
    fz_parse_input(data, size, cfg, &carrier);
    fz_extract_and_check(cfg, TW_PROP_DEFAULT, &carrier);
    fz_carrier_free(&carrier);
    tw_config_free(cfg);
    return 0;
}
