/* fuzz_binary_context.c — tw_span_context_from_binary on raw bytes (the
 * OpenTracing BINARY carrier). A decoded context must be readable and must
 * encode back to bytes that decode to the same context. */
#include "fz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fz_exact_copy(data, size);
    if (!buf)
        return 0;
    tw_span_context *ctx = NULL;
    tw_status st = tw_span_context_from_binary(buf, size, &ctx);
    FZ_CHECK(st == TW_OK || st == TW_ERR_NOT_FOUND || st == TW_ERR_CORRUPTED ||
             st == TW_ERR_NOMEM || st == TW_ERR_TOO_LARGE);
    FZ_CHECK(st == TW_OK ? ctx != NULL : ctx == NULL);
    if (ctx) {
        fz_exercise_context(ctx);
        /* A well-formed input is canonical except for nothing: re-encoding
         * gives the same bytes. */
        char *again = NULL;
        size_t alen = 0;
        if (tw_span_context_to_binary(ctx, &again, &alen) == TW_OK) {
            FZ_CHECK(alen == size && memcmp(again, buf, size) == 0);
            tw_free(again);
        }
        tw_span_context_free(ctx);
    }
    free(buf);
    return 0;
}
