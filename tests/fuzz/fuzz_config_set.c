/* fuzz_config_set.c — tw_config_set with fuzzed keys and values.
 * Input: lines "key=value" applied in order to one config (a line without
 * '=' sets the whole line as a key with an empty value). Checks: only the
 * documented statuses; a refused set changes nothing (every key read back
 * is identical); an accepted value read back is a fix point of set/get.
 * requires: core/src/config.c core/src/config_keys.c */
#include "fz_common.h"
#include "fz_config_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tw_config *cfg = NULL;
    if (tw_config_new(&cfg) != TW_OK)
        return 0;
    const char *p = (const char *)data;
    size_t i = 0;
    while (i < size) {
        const char *nl = memchr(p + i, '\n', size - i);
        size_t len = nl ? (size_t)(nl - (p + i)) : size - i;
        char *line = malloc(len + 1);
        if (!line)
            break;
        memcpy(line, p + i, len);
        line[len] = '\0';
        i += len + 1;
        char *eq = strchr(line, '=');
        const char *key = line, *val = "";
        if (eq) {
            *eq = '\0';
            val = eq + 1;
        }
        tw_config before;
        if (twp_config_copy(&before, cfg) != TW_OK) {
            free(line);
            break;
        }
        tw_status st = tw_config_set(cfg, key, val);
        FZ_CHECK(st == TW_OK || st == TW_ERR_UNSUPPORTED || st == TW_ERR_CONFIG ||
                 st == TW_ERR_NOMEM);
        if (st != TW_OK && !twp_config_equal(&before, cfg)) {
            fprintf(stderr, "refused set %s=\"%s\" (%d) changed the config\n", key, val, (int)st);
            FZ_CHECK(0);
        }
        twp_config_clear(&before);
        if (st == TW_OK)
            fz_config_fixpoint(cfg, key);
        free(line);
    }
    /* a copy reads back identically */
    tw_config copy;
    if (twp_config_copy(&copy, cfg) == TW_OK) {
        static char s1[FZ_NKEYS_MAX * FZ_VALCAP], s2[FZ_NKEYS_MAX * FZ_VALCAP];
        size_t l1 = fz_config_snapshot(cfg, s1), l2 = fz_config_snapshot(&copy, s2);
        FZ_CHECK(l1 == l2 && memcmp(s1, s2, l1) == 0);
        twp_config_clear(&copy);
    }
    tw_config_free(cfg);
    return 0;
}
