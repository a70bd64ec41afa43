/* fz_common.h — shared pieces of the libFuzzer targets.
 *
 * Inputs for the header-based targets are plain text so that seeds read like
 * HTTP requests and libFuzzer's mutations stay meaningful:
 *
 *     @key=value          tw_config_set(cfg, key, value) before extracting
 *     name: value         one carrier header (one optional space after ':')
 *     name                a header with an empty value
 *
 * lines separated by '\n'. An input whose first byte is NUL switches to
 * "raw" mode: the rest is split on NUL into name, value, name, value, ... so
 * header values may contain '\n' and '\r' too.
 *
 * Every header name and value is copied into its own malloc of EXACTLY its
 * length, without a terminating NUL: a parser that reads one byte past the
 * length it was given is caught by ASan.
 *
 * FZ_CHECK aborts (which libFuzzer reports as a crash) when a documented
 * property does not hold, e.g. an extracted context that does not survive
 * inject + extract.
 */
#ifndef FZ_COMMON_H
#define FZ_COMMON_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_CHECK(cond)                                                          \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "FZ_CHECK failed at %s:%d: %s\n", __FILE__,         \
                    __LINE__, #cond);                                           \
            abort();                                                            \
        }                                                                       \
    } while (0)

typedef struct fz_header {
    char *key, *val;
    size_t key_len, val_len;
} fz_header;

typedef struct fz_carrier {
    fz_header *h;
    size_t n, cap;
} fz_carrier;

/* Appends a header (copies into exact-size allocations). false on OOM. */
bool fz_carrier_add(fz_carrier *c, const char *k, size_t kl, const char *v, size_t vl);
void fz_carrier_free(fz_carrier *c);

/* A tw_carrier_foreach over an fz_carrier; stops when visit returns non-zero. */
int fz_carrier_foreach(void *carrier, tw_kv_fn visit, void *visit_ud);

/* A tw_kv_fn that appends to the fz_carrier in ud (inject's setter). */
int fz_carrier_set(void *ud, const char *k, size_t kl, const char *v, size_t vl);

/* Parses an input in the format above. Config lines are applied to cfg (when
 * cfg is not NULL; failures are ignored — tw_config_set is itself fuzzed by
 * fuzz_config_set). */
void fz_parse_input(const uint8_t *data, size_t size, tw_config *cfg, fz_carrier *out);

/* Reads everything a caller can read from ctx (ids, hex, flags, every
 * baggage item, lookups by key, dup, the binary round trip) and checks the
 * documented properties. */
void fz_exercise_context(const tw_span_context *ctx);

/* Injects ctx in each single format with a default config, extracts the
 * result again and checks that ids and the sampled decision survive. */
void fz_roundtrip_context(const tw_span_context *ctx);

/* Runs one extract over the parsed input (cfg already configured) with the
 * given formats, exercises and round-trips what comes back, checks the
 * status is one of the documented ones. */
void fz_extract_and_check(const tw_config *cfg, unsigned formats, fz_carrier *carrier);

/* A cursor over the fuzzer's bytes for binary-structured targets: reads
 * past the end give zeros, so every input decodes to something. */
typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static inline uint8_t u8(rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static inline uint64_t u64(rd *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | u8(r);
    return v;
}

/* A byte string with an exact-size allocation (for parsers taking buf+len). */
char *fz_exact_copy(const uint8_t *data, size_t size);

#endif /* FZ_COMMON_H */
