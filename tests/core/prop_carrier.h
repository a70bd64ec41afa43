/* prop_carrier.h — a tiny text-map carrier for the propagation tests: an
 * ordered list of (name, value) pairs with explicit lengths (so values may
 * hold NUL bytes), a tw_carrier_foreach walker and a tw_kv_fn setter, plus a
 * hand-built tw_config (the tests do not depend on config.c). Header-only,
 * static functions; not a test itself (the glob only takes test_*.c). */
#ifndef PROP_CARRIER_H
#define PROP_CARRIER_H

#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CARRIER_MAX 512

typedef struct carrier {
    char *name[CARRIER_MAX], *val[CARRIER_MAX];
    size_t name_len[CARRIER_MAX], val_len[CARRIER_MAX];
    size_t n;
    int fail_at;          /* setter: fail the fail_at-th call (1-based), 0 = never */
    int fail_rc;
    int calls;
} carrier;

static inline char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static inline void carrier_addn(carrier *c, const char *k, size_t kl, const char *v, size_t vl)
{
    if (c->n >= CARRIER_MAX)
        abort();
    c->name[c->n] = dupn(k, kl);
    c->name_len[c->n] = kl;
    c->val[c->n] = dupn(v, vl);
    c->val_len[c->n] = vl;
    c->n++;
}

static inline void carrier_add(carrier *c, const char *k, const char *v)
{
    carrier_addn(c, k, strlen(k), v, strlen(v));
}

static inline void carrier_clear(carrier *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->name[i]);
        free(c->val[i]);
    }
    memset(c, 0, sizeof *c);
}

/* The value of the first header named k (exact, case-sensitive: inject must
 * write lower-case names), or NULL. */
static inline const char *carrier_get(const carrier *c, const char *k)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->name_len[i] == strlen(k) && memcmp(c->name[i], k, c->name_len[i]) == 0)
            return c->val[i];
    return NULL;
}

static inline int carrier_count(const carrier *c, const char *k)
{
    int n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->name_len[i] == strlen(k) && memcmp(c->name[i], k, c->name_len[i]) == 0)
            n++;
    return n;
}

static inline int carrier_each(void *carrier_ud, tw_kv_fn visit, void *visit_ud)
{
    carrier *c = carrier_ud;
    for (size_t i = 0; i < c->n; i++)
        if (visit(visit_ud, c->name[i], c->name_len[i], c->val[i], c->val_len[i]) != 0)
            return 1;
    return 0;
}

static inline int carrier_set(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    carrier *c = ud;
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at)
        return c->fail_rc;
    /* values must be NUL-terminated for C callers */
    if (v[vl] != '\0')
        return (int)TW_ERR_INVALID_ARG;
    carrier_addn(c, k, kl, v, vl);
    return 0;
}

static inline void test_config(tw_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->inject_formats = TW_PROP_JAEGER | TW_PROP_W3C;
    cfg->extract_formats = TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_MULTI | TW_PROP_B3_SINGLE;
    cfg->trace_id_header = NULL;         /* default uber-trace-id */
    cfg->baggage_header_prefix = NULL;   /* default uberctx- */
    cfg->trace_id_128bit = true;
    cfg->max_baggage_size = 8192;
}

#define ALL_PROP (TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_MULTI | TW_PROP_B3_SINGLE)

#endif
