/* config.c — tracer options from text, from the environment, and back.
 *
 * Every face of tracewire (C, Python kwargs, Lua tables, Redis module args)
 * funnels options through tw_config_set(key, text), so all accept the same keys
 * with the same meaning. What a key is — its type, bounds, default, field,
 * aliases and environment variables — is one row of the key table
 * (config_keys.c); this file only walks the rows: init/defaults, copy, clear,
 * compare, set, get, and the environment. A setter parses into temporaries
 * and only then commits, which is how "a bad value leaves the config
 * unchanged" holds; tw_config_set_many gets the same guarantee by working on
 * a copy.
 *
 * Environment precedence, lowest first: defaults < OTEL_* < JAEGER_* <
 * tw_config_set calls made after tw_config_from_env. Within OTEL,
 * OTEL_SERVICE_NAME beats service.name in OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT beats OTEL_EXPORTER_OTLP_ENDPOINT (to
 * which "/v1/traces" is appended, per the OTLP exporter spec). Tags from
 * OTEL_RESOURCE_ATTRIBUTES and JAEGER_TAGS are concatenated (JAEGER last, so
 * it wins a duplicate key when the tracer builds its process tags); under the
 * jaeger_client profile a JAEGER_TAGS tag also beats a tags.<name> key set
 * after it, as jaeger_client's Config.tags (set_tag_item, config_keys.c).
 * JAEGER_ENDPOINT, like in Jaeger clients, also switches the reporter from the
 * UDP agent to the HTTP collector when protocols were left at the default;
 * an OTLP endpoint variable switches it to OTLP the same way (a new user who
 * sets only OTEL_EXPORTER_OTLP_ENDPOINT gets OTLP). The OTLP exporter
 * options follow the spec's precedence: OTEL_EXPORTER_OTLP_TRACES_<X> beats
 * OTEL_EXPORTER_OTLP_<X>. OTEL_EXPORTER_OTLP_PROTOCOL=grpc is refused (OTLP/HTTP
 * only) and named as such; OTEL_TRACES_EXPORTER picks the protocols (otlp,
 * console = log, none, jaeger = the UDP agent, or tracewire's own names);
 * OTEL_SDK_DISABLED=true, applied last, reports nothing and starts no sampled
 * trace (reporter.protocols none, sampler parentbased_always_off).
 * JAEGER_SAMPLER_MANAGER_HOST_PORT (host:port) sets sampler.url to
 * http://host:port/sampling. The variables and their order are the table
 * twp_env_rows.
 */
#include "config_keys.h"
#include "propagation.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELD(c, k) ((char **)(void *)((char *)(c) + (k)->off))
#define CFIELD(c, k) ((char *const *)(const void *)((const char *)(c) + (k)->off))

/* ------------------------------------------------------------ lifecycle */

static size_t row_index(const twp_config_key *k)
{
    return (size_t)(k - twp_config_keys);
}

static bool is_explicit(const tw_config *c, size_t i)
{
    return (c->explicit_keys[i / 64] & (UINT64_C(1) << (i % 64))) != 0;
}

/* Applies the profile's defaults to the native rows: strings or not, and
 * (for a profile switch) only to rows nobody set explicitly. */
static tw_status apply_defaults(tw_config *c, twp_config_profile p, bool strings, bool only_unset)
{
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        const char *def = twp_config_key_default(k, p);
        if ((k->flags & TWK_ALIAS) || k->codec == TWK_PROFILE || !def ||
            twp_config_key_owns_string(k) != strings)
            continue;
        /* a switch touches only rows whose default differs between profiles
         * (the def_jaeger column) and that nobody set */
        if (only_unset && (!k->def_jaeger || is_explicit(c, i)))
            continue;
        /* a sampler type chosen explicitly keeps its own param (the param
         * OTEL_SDK_DISABLED or always_off implied, or the native one) */
        if (only_unset && strcmp(k->name, "sampler.param") == 0 &&
            is_explicit(c, row_index(twp_config_key_find("sampler.type"))))
            continue;
        tw_status st = twp_config_key_set(c, k, k->name, def);
        if (st != TW_OK)
            return st;    /* only NOMEM: the defaults parse (test_config checks) */
    }
    return TW_OK;
}

void twp_config_init(tw_config *c)
{
    memset(c, 0, sizeof(*c));
    (void)apply_defaults(c, TWP_PROFILE_NATIVE, false, false);   /* allocates nothing */
}

void twp_config_clear(tw_config *c)
{
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        if (twp_config_key_owns_string(k)) {
            free(*FIELD(c, k));
            *FIELD(c, k) = NULL;
        }
    }
}

tw_status twp_config_copy(tw_config *dst, const tw_config *src)
{
    bool fail = false;
    *dst = *src;
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        if (!twp_config_key_owns_string(k))
            continue;
        const char *s = *CFIELD(src, k);
        *FIELD(dst, k) = s ? strdup(s) : NULL;
        if (s && !*FIELD(dst, k))
            fail = true;
    }
    if (fail) {
        twp_config_clear(dst);
        return TW_ERR_NOMEM;
    }
    return TW_OK;
}

bool twp_config_equal(const tw_config *a, const tw_config *b)
{
    char x[256], y[256];
    if (a->profile != b->profile || a->parent_based != b->parent_based)
        return false;
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        if (k->flags & TWK_ALIAS)
            continue;
        if (twp_config_key_owns_string(k)) {
            const char *s = *CFIELD(a, k), *t = *CFIELD(b, k);
            if (!((!s && !t) || (s && t && strcmp(s, t) == 0)))
                return false;
        } else if (k->codec == TWK_DOUBLE) {
            /* bit for bit: -0 and 0 differ, as a refused set must not touch either */
            if (memcmp((const char *)a + k->off, (const char *)b + k->off, sizeof(double)) != 0)
                return false;
        } else if (twp_config_key_get(a, k, x, sizeof x) != twp_config_key_get(b, k, y, sizeof y) ||
                   strcmp(x, y) != 0) {
            return false;
        }
    }
    return true;
}

tw_status tw_config_new(tw_config **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_config *c = malloc(sizeof(*c));
    if (!c)
        return TW_ERR_NOMEM;
    /* the struct keeps NULL strings until set only inside twp_config_init;
     * every tw_config a caller sees holds real strings */
    twp_config_init(c);
    if (apply_defaults(c, TWP_PROFILE_NATIVE, true, false) != TW_OK) {
        twp_config_clear(c);
        free(c);
        return TW_ERR_NOMEM;
    }
    *out = c;
    return TW_OK;
}

void tw_config_free(tw_config *cfg)
{
    if (!cfg)
        return;
    twp_config_clear(cfg);
    free(cfg);
}

/* ------------------------------------------------------------ set / get */

/* A group switch: a native bool row G with rows "G.<x>" (throttler,
 * baggage_restrictions). A jaeger client turns the group on by its presence:
 * by any of its keys (group_switch_on), or, given empty, by the face passing
 * G = true (tw_config_key_is_group). */
static bool is_group_row(const twp_config_key *gk)
{
    if (!gk || gk->codec != TWK_BOOL || (gk->flags & TWK_ALIAS))
        return false;
    size_t n = strlen(gk->name);
    for (size_t i = 0; i < twp_config_nkeys; i++)
        if (strncmp(twp_config_keys[i].name, gk->name, n) == 0 && twp_config_keys[i].name[n] == '.')
            return true;
    return false;
}

int tw_config_key_is_group(const char *key)
{
    const twp_config_key *k = key ? twp_config_key_find(key) : NULL;
    return is_group_row(k) && strcmp(k->name, key) == 0;    /* not via a prefix row */
}

/* A key "G.x" whose group switch G nobody set turns G on: a face flattening
 * jaeger_client's {"throttler": {"port": 1}} passes only throttler.port, and
 * the group's presence is what turns it on. */
static void group_switch_on(tw_config *c, const twp_config_key *k)
{
    const char *dot = strchr(k->name, '.');
    char g[64];
    if (!dot || (size_t)(dot - k->name) >= sizeof g)
        return;
    memcpy(g, k->name, (size_t)(dot - k->name));
    g[dot - k->name] = '\0';
    const twp_config_key *gk = twp_config_key_find(g);
    if (is_group_row(gk) && !is_explicit(c, row_index(gk)))
        *(bool *)(void *)((char *)c + gk->off) = true;
}

tw_status tw_config_set(tw_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !value)
        return TW_ERR_INVALID_ARG;
    const twp_config_key *k = twp_config_key_find(key);
    if (!k)
        return TW_ERR_UNSUPPORTED;
    tw_status st = twp_config_key_set(cfg, k, key, value);
    if (st != TW_OK)
        return st;
    if (k->codec == TWK_PROFILE) {
        /* the new profile's defaults for what nobody set; a failure here is
         * an allocation failure, and the strings already replaced are valid */
        st = apply_defaults(cfg, cfg->profile, false, true);
        if (st == TW_OK)
            st = apply_defaults(cfg, cfg->profile, true, true);
        return st;
    }
    const twp_config_key *native = k;
    if (k->flags & TWK_ALIAS)
        native = k->target ? twp_config_key_find(k->target) : NULL;
    if (native && !(native->flags & TWK_ALIAS)) {
        size_t i = row_index(native);
        cfg->explicit_keys[i / 64] |= UINT64_C(1) << (i % 64);
        group_switch_on(cfg, native);
    }
    return TW_OK;
}

int tw_config_key_known(const char *key)
{
    return key && twp_config_key_find(key) != NULL;
}

/* Sort order of set_many: table row, then key text (tags.b after tags.a,
 * whatever order a Lua table yields them in), then position given. */
typedef struct pair_order {
    size_t row, pos;
    const char *key;
} pair_order;

static int by_row(const void *a, const void *b)
{
    const pair_order *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

tw_status tw_config_set_many(tw_config *cfg, size_t n, const char *const *keys,
                             const char *const *values, size_t *bad_index)
{
    if (bad_index)
        *bad_index = 0;
    if (!cfg || (n && (!keys || !values)))
        return TW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !values[i]) {
            if (bad_index)
                *bad_index = i;
            return TW_ERR_INVALID_ARG;
        }
        if (!twp_config_key_find(keys[i])) {
            if (bad_index)
                *bad_index = i;
            return TW_ERR_UNSUPPORTED;
        }
    }
    pair_order *order = n ? malloc(n * sizeof *order) : NULL;
    if (n && !order)
        return TW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = (pair_order){row_index(twp_config_key_find(keys[i])), i, keys[i]};
    if (n)
        qsort(order, n, sizeof *order, by_row);
    tw_config work;
    tw_status st = twp_config_copy(&work, cfg);
    for (size_t j = 0; st == TW_OK && j < n; j++) {
        size_t i = order[j].pos;
        st = tw_config_set(&work, keys[i], values[i]);
        if (st != TW_OK && bad_index)
            *bad_index = i;
    }
    free(order);
    if (st != TW_OK) {
        twp_config_clear(&work);
        return st;
    }
    twp_config_clear(cfg);
    *cfg = work;
    return TW_OK;
}

tw_status tw_config_get(const tw_config *cfg, const char *key, char *buf, size_t cap)
{
    if (!cfg || !key || !buf || cap == 0)
        return TW_ERR_INVALID_ARG;
    const twp_config_key *k = twp_config_key_find(key);
    if (!k)
        return TW_ERR_UNSUPPORTED;
    return twp_config_key_get(cfg, k, buf, cap);
}

tw_status tw_tracer_config_get(const tw_tracer *t, const char *key, char *buf, size_t cap)
{
    if (!t)
        return TW_ERR_INVALID_ARG;
    return tw_config_get(twp_tracer_config(t), key, buf, cap);
}

/* ------------------------------------------------------------ environment */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

/* Whether reporter.protocols was left at its default (nobody set it). */
static bool protocols_defaulted(const tw_config *cfg)
{
    const twp_config_key *k = twp_config_key_find("reporter.protocols");
    size_t i = (size_t)(k - twp_config_keys);
    return cfg->protocols == TWP_PROTO_UDP &&
           !(cfg->explicit_keys[i / 64] & (UINT64_C(1) << (i % 64)));
}

/* OTEL_TRACES_EXPORTER: a comma list of exporter names -> protocol names. */
static bool exporters_to_protocols(const char *v, char *out, size_t cap)
{
    static const struct { const char *otel, *proto; } names[] = {
        {"otlp", "otlp"}, {"console", "log"}, {"logging", "log"}, {"none", "none"},
        {"jaeger", "udp"}, {"udp", "udp"}, {"http", "http"}, {"log", "log"},
        {"memory", "memory"},
    };
    size_t o = 0;
    out[0] = '\0';
    const char *p = v;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        const char *s = p;
        twp_trim_ows(&s, &len);
        if (len) {
            size_t i = 0;
            while (i < sizeof names / sizeof names[0] &&
                   !(strlen(names[i].otel) == len && strncasecmp(s, names[i].otel, len) == 0))
                i++;
            if (i == sizeof names / sizeof names[0])
                return false;
            size_t pl = strlen(names[i].proto);
            if (o + pl + 2 > cap)
                return false;
            if (o)
                out[o++] = ',';
            memcpy(out + o, names[i].proto, pl + 1);
            o += pl;
        }
        if (!c)
            break;
        p = c + 1;
    }
    return o > 0;
}

/* Applies one env var; on a bad value remembers the first bad name. */
static void apply(tw_config *cfg, const char *var, const char *key, const char *val,
                  const char **bad, tw_status *st)
{
    if (!val)
        return;
    tw_status r = tw_config_set(cfg, key, val);
    if (r == TW_ERR_NOMEM && *st == TW_OK) {
        *st = TW_ERR_NOMEM;
        return;
    }
    if (r != TW_OK && !*bad) {
        *bad = var;
        if (*st == TW_OK)
            *st = TW_ERR_CONFIG;
    }
}

static void mark_bad(const char *var, const char **bad, tw_status *st)
{
    if (!*bad) {
        *bad = var;
        if (*st == TW_OK)
            *st = TW_ERR_CONFIG;
    }
}

/* OTEL_RESOURCE_ATTRIBUTES: service.name goes to the service (unless
 * OTEL_SERVICE_NAME is set); the rest become tags. */
typedef struct resource_split {
    char *tags, *svc;
    size_t len;
} resource_split;

static bool resource_item(const char *s, size_t n, void *ud)
{
    resource_split *r = ud;
    if (n > 13 && strncmp(s, "service.name=", 13) == 0) {
        free(r->svc);
        r->svc = strndup(s + 13, n - 13);
        return true;
    }
    if (r->len)
        r->tags[r->len++] = ',';
    memcpy(r->tags + r->len, s, n);
    r->len += n;
    r->tags[r->len] = '\0';
    return true;
}

/* false on OOM; *tags and *svc are new strings or NULL. */
static bool split_resource_attrs(const char *v, char **tags, char **svc)
{
    resource_split r = {malloc(strlen(v) + 1), NULL, 0};
    *tags = *svc = NULL;
    if (!r.tags)
        return false;
    r.tags[0] = '\0';
    twp_config_each_item(v, resource_item, &r);
    *tags = r.tags;
    *svc = r.svc;
    return true;
}

/* OTEL_TRACES_SAMPLER_ARG for jaeger_remote:
 * "endpoint=http://...,pollingIntervalMs=5000,initialSamplingRate=0.25" */
typedef struct remote_arg {
    tw_config *cfg;
    const char *var, **bad;
    tw_status *st;
} remote_arg;

static bool remote_item(const char *s, size_t n, void *ud)
{
    static const struct { const char *name, *key; } args[] = {
        {"endpoint", "sampler.url"}, {"pollingIntervalMs", "sampler.refresh_ms"},
        {"initialSamplingRate", "sampler.param"},
    };
    remote_arg *r = ud;
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        mark_bad(r->var, r->bad, r->st);
        return true;
    }
    char *val = strndup(eq + 1, n - (size_t)(eq + 1 - s));
    size_t klen = (size_t)(eq - s);
    for (size_t i = 0; val && i < sizeof args / sizeof args[0]; i++)
        if (klen == strlen(args[i].name) && strncasecmp(s, args[i].name, klen) == 0)
            apply(r->cfg, r->var, args[i].key, val, r->bad, r->st);
    free(val);
    return true;
}

tw_status tw_config_from_env(tw_config *cfg, const char **bad_var)
{
    const char *bad = NULL;
    tw_status st = TW_OK;
    if (bad_var)
        *bad_var = NULL;
    if (!cfg)
        return TW_ERR_INVALID_ARG;

    char *otel_tags = NULL;     /* OTEL_RESOURCE_ATTRIBUTES' tags, for JAEGER_TAGS */
    for (size_t r = 0; r < twp_env_nrows && st != TW_ERR_NOMEM; r++) {
        const twp_env_row *e = &twp_env_rows[r];
        const char *v = env(e->var);
        if (!v)
            continue;
        switch (e->how) {
        case TWE_SET:
            /* jaeger_client (and every Jaeger client) polls sampling on the
             * agent host: under its profile JAEGER_AGENT_HOST moves both */
            if (cfg->profile == TWP_PROFILE_JAEGER_CLIENT && strcmp(e->var, "JAEGER_AGENT_HOST") == 0)
                apply(cfg, e->var, "local_agent.reporting_host", v, &bad, &st);
            else
                apply(cfg, e->var, e->key, v, &bad, &st);
            break;
        case TWE_RESOURCE_ATTRS: {
            char *svc = NULL;
            if (!split_resource_attrs(v, &otel_tags, &svc)) {
                st = TW_ERR_NOMEM;
                break;
            }
            if (svc && !env("OTEL_SERVICE_NAME"))
                apply(cfg, e->var, "service_name", svc, &bad, &st);
            if (otel_tags && *otel_tags)
                apply(cfg, e->var, e->key, otel_tags, &bad, &st);
            free(svc);
            break;
        }
        case TWE_SAMPLER_ARG: {
            const char *smp = env("OTEL_TRACES_SAMPLER");
            if (smp && strstr(smp, "jaeger_remote"))
                twp_config_each_item(v, remote_item, &(remote_arg){cfg, e->var, &bad, &st});
            else if (!smp || strstr(smp, "traceidratio"))
                apply(cfg, e->var, e->key, v, &bad, &st);
            break;
        }
        case TWE_OTLP_SIGNAL: {
            const char *before = bad;
            apply(cfg, e->var, e->key, v, &bad, &st);
            if (bad == before && protocols_defaulted(cfg))
                cfg->protocols = TWP_PROTO_OTLP;
            break;
        }
        case TWE_OTLP_PROTOCOL: {
            const char *s = v;
            size_t n = strlen(v);
            twp_trim_ows(&s, &n);
            if (n >= 4 && strncasecmp(s, "grpc", 4) == 0 && n == 4) {
                /* a clear word for the one value users will try */
                if (!bad) {
                    bad = strstr(e->var, "TRACES") ?
                        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc (tracewire speaks OTLP/HTTP "
                        "only: http/protobuf or http/json)" :
                        "OTEL_EXPORTER_OTLP_PROTOCOL=grpc (tracewire speaks OTLP/HTTP only: "
                        "http/protobuf or http/json)";
                    if (st == TW_OK)
                        st = TW_ERR_CONFIG;
                }
                break;
            }
            apply(cfg, e->var, e->key, v, &bad, &st);
            break;
        }
        case TWE_TRACES_EXPORTER: {
            char protos[64];
            if (!exporters_to_protocols(v, protos, sizeof protos))
                mark_bad(e->var, &bad, &st);
            else
                apply(cfg, e->var, e->key, protos, &bad, &st);
            break;
        }
        case TWE_SDK_DISABLED: {
            const char *s = v;
            size_t n = strlen(v);
            twp_trim_ows(&s, &n);
            if (n == 4 && strncasecmp(s, "true", 4) == 0) {
                apply(cfg, e->var, "reporter.protocols", "none", &bad, &st);
                apply(cfg, e->var, "sampler.type", "parentbased_always_off", &bad, &st);
            } else if (!(n == 5 && strncasecmp(s, "false", 5) == 0)) {
                mark_bad(e->var, &bad, &st);   /* the spec: anything else is false, warned */
            }
            break;
        }
        case TWE_OTLP_GENERIC: {
            if (env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
                break;
            size_t n = strlen(v);
            char *full = malloc(n + 12);
            if (!full) {
                st = TW_ERR_NOMEM;
                break;
            }
            memcpy(full, v, n + 1);
            if (n && full[n - 1] == '/')
                full[n - 1] = '\0';
            strcat(full, "/v1/traces");
            const char *before = bad;
            apply(cfg, e->var, e->key, full, &bad, &st);
            if (bad == before && protocols_defaulted(cfg))
                cfg->protocols = TWP_PROTO_OTLP;
            free(full);
            break;
        }
        case TWE_JAEGER_ENDPOINT: {
            const char *before = bad;
            apply(cfg, e->var, e->key, v, &bad, &st);
            if (bad == before && cfg->protocols == TWP_PROTO_UDP)
                cfg->protocols = TWP_PROTO_HTTP;
            break;
        }
        case TWE_HOST_PORT_URL: {
            char url[300];
            if (strlen(v) < 256 && !strpbrk(v, "/ ") && strchr(v, ':')) {
                snprintf(url, sizeof url, "http://%s/sampling", v);
                apply(cfg, e->var, e->key, url, &bad, &st);
            } else {
                mark_bad(e->var, &bad, &st);
            }
            break;
        }
        case TWE_TAGS_AFTER_OTEL: {
            /* concatenated only when both are good: a bad JAEGER_TAGS must
             * leave OTEL's tags in place and be named */
            if (!(otel_tags && *otel_tags && tw_config_set(cfg, e->key, v) == TW_OK)) {
                apply(cfg, e->var, e->key, v, &bad, &st);
                break;
            }
            size_t n = strlen(otel_tags) + strlen(v) + 2;
            char *both = malloc(n);
            if (!both) {
                st = TW_ERR_NOMEM;
                break;
            }
            snprintf(both, n, "%s,%s", otel_tags, v);
            apply(cfg, e->var, e->key, both, &bad, &st);
            free(both);
            break;
        }
        }
    }
    free(otel_tags);
    if (bad_var)
        *bad_var = bad;
    return st;
}

tw_status tw_config_from_env_for(tw_config *cfg, size_t n, const char *const *keys,
                                 const char *const *values, const char **bad_var)
{
    if (bad_var)
        *bad_var = NULL;
    if (!cfg || (n && (!keys || !values)))
        return TW_ERR_INVALID_ARG;
    const char *profile = NULL;
    for (size_t i = 0; i < n; i++)
        if (keys[i] && values[i] && strcmp(keys[i], "profile") == 0)
            profile = values[i];
    /* the profile row's own set: its defaults for what nobody set yet */
    if (profile) {
        tw_status st = tw_config_set(cfg, "profile", profile);
        if (st == TW_ERR_NOMEM)
            return st;
    }
    return tw_config_from_env(cfg, bad_var);
}
