/* fuzz_extract_w3c.c — extract with only the w3c format enabled.
 * Input: see fz_common.h ("@key=value" config lines, "name: value" headers).
 * Checks: documented status, readable context, and that what was extracted
 * survives inject + extract in every format.
 * requires: core/src/config.c core/src/propagation.c tests/fuzz/fz_common.c */
#include "fz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tw_config *cfg = NULL;
    if (tw_config_new(&cfg) != TW_OK)
        return 0;
    fz_carrier carrier;
    fz_parse_input(data, size, cfg, &carrier);
    fz_extract_and_check(cfg, TW_PROP_W3C, &carrier);
    fz_carrier_free(&carrier);
    tw_config_free(cfg);
    return 0;
}
