/* bench_propagation.c — ns per inject and per extract for each format, on a
 * context with two baggage items (a typical service hop). Prints figures;
 * never asserts on time. Build: linked like the C tests (needs core/src private headers),
 * e.g.  cc -O2 -Icore/include -Icore/src bench/bench_propagation.c \
 *          build/release/core/libtracewire.a -lcurl -ljansson -lpthread -lm */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "propagation.h"

typedef struct hdrs {
    char name[16][64], val[16][256];
    size_t nl[16], vl[16];
    size_t n;
} hdrs;

static int set(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    hdrs *h = ud;
    if (h->n == 16 || kl >= 64 || vl >= 256)
        return 1;
    memcpy(h->name[h->n], k, kl);
    memcpy(h->val[h->n], v, vl);
    h->nl[h->n] = kl;
    h->vl[h->n] = vl;
    h->n++;
    return 0;
}

static int each(void *carrier, tw_kv_fn visit, void *ud)
{
    hdrs *h = carrier;
    for (size_t i = 0; i < h->n; i++)
        if (visit(ud, h->name[i], h->nl[i], h->val[i], h->vl[i]))
            return 1;
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(void)
{
    tw_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_baggage_size = 8192;
    twp_baggage_item b[] = { { "user", "alice smith", 4, 11 }, { "tenant", "acme", 6, 4 } };
    tw_span_context *ctx;
    if (twp_context_build(0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL,
                          0x1111111111111111ULL, TW_FLAG_SAMPLED, b, 2, NULL, 0, NULL, 0, &ctx))
        return 1;
    struct { const char *name; unsigned f; } fm[] = {
        { "jaeger", TW_PROP_JAEGER }, { "w3c", TW_PROP_W3C }, { "b3multi", TW_PROP_B3_MULTI },
        { "b3", TW_PROP_B3_SINGLE },
        { "all4", TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_MULTI | TW_PROP_B3_SINGLE },
    };
    const int iters = 200000;
    printf("%-8s %12s %12s\n", "format", "inject ns", "extract ns");
    for (size_t i = 0; i < sizeof fm / sizeof *fm; i++) {
        hdrs h;
        double t0 = now_ns();
        for (int k = 0; k < iters; k++) {
            h.n = 0;
            twp_inject(&cfg, ctx, fm[i].f, set, &h);
        }
        double t1 = now_ns();
        for (int k = 0; k < iters; k++) {
            tw_span_context *out;
            if (twp_extract(&cfg, fm[i].f, each, &h, &out) == TW_OK)
                tw_span_context_free(out);
        }
        double t2 = now_ns();
        printf("%-8s %12.0f %12.0f\n", fm[i].name, (t1 - t0) / iters, (t2 - t1) / iters);
    }
    tw_span_context_free(ctx);
    return 0;
}
