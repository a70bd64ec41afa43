/* config.c — tracer options from text, from the environment, and back.
 *
 * Every face of tracewire (C, Python kwargs, Lua tables, Redis module args)
 * funnels options through tw_config_set(key, text), so all accept the same keys
 * with the same meaning. Each setter parses into a temporary and only then
 * commits, which is how "a bad value leaves the config unchanged" holds.
 *
 * Environment precedence, lowest first: defaults < OTEL_* < JAEGER_* <
 * tw_config_set calls made after tw_config_from_env. Within OTEL,
 * OTEL_SERVICE_NAME beats service.name in OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT beats OTEL_EXPORTER_OTLP_ENDPOINT (to
 * which "/v1/traces" is appended, per the OTLP exporter spec). Tags from
 * OTEL_RESOURCE_ATTRIBUTES and JAEGER_TAGS are concatenated (JAEGER last, so
 * it wins a duplicate key when the tracer builds its process tags).
 * JAEGER_ENDPOINT, like in Jaeger clients, also switches the reporter from the
 * UDP agent to the HTTP collector when protocols were left at the default.
 * JAEGER_SAMPLER_MANAGER_HOST_PORT (host:port) sets sampler.url to
 * http://host:port/sampling.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEF_SERVICE "unknown_service"
#define DEF_SAMPLER_URL "http://127.0.0.1:5778/sampling"
#define DEF_AGENT_HOST "127.0.0.1"
#define DEF_ENDPOINT "http://127.0.0.1:14268/api/traces"
#define DEF_OTLP "http://127.0.0.1:4318/v1/traces"
#define DEF_TRACE_HDR "uber-trace-id"
#define DEF_BAGGAGE_PREFIX "uberctx-"

/* ------------------------------------------------------------ lifecycle */

void twp_config_init(tw_config *c)
{
    memset(c, 0, sizeof(*c));
    c->sampler_type = TWP_SAMPLER_CONST;
    c->parent_based = true;
    c->sampler_param = 1.0;
    c->sampler_refresh_ms = 60000;
    c->protocols = TWP_PROTO_UDP;
    c->agent_port = 6831;
    c->queue_size = 10000;
    c->batch_size = 100;
    c->flush_interval_ms = 1000;
    c->max_packet_size = 65000;
    c->timeout_ms = 5000;
    c->retries = 3;
    c->inject_formats = TW_PROP_JAEGER | TW_PROP_W3C;
    c->extract_formats = TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_SINGLE | TW_PROP_B3_MULTI;
    c->trace_id_128bit = true;
    c->max_tag_value_length = 1024;
    c->max_baggage_size = 8192;
}

void twp_config_clear(tw_config *c)
{
    free(c->service_name);
    free(c->tags);
    free(c->sampler_url);
    free(c->agent_host);
    free(c->endpoint);
    free(c->otlp_endpoint);
    free(c->trace_id_header);
    free(c->baggage_header_prefix);
    c->service_name = c->tags = c->sampler_url = c->agent_host = NULL;
    c->endpoint = c->otlp_endpoint = c->trace_id_header = c->baggage_header_prefix = NULL;
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

tw_status twp_config_copy(tw_config *dst, const tw_config *src)
{
    bool fail = false;
    *dst = *src;
    dst->service_name = dup_or_null(src->service_name, &fail);
    dst->tags = dup_or_null(src->tags, &fail);
    dst->sampler_url = dup_or_null(src->sampler_url, &fail);
    dst->agent_host = dup_or_null(src->agent_host, &fail);
    dst->endpoint = dup_or_null(src->endpoint, &fail);
    dst->otlp_endpoint = dup_or_null(src->otlp_endpoint, &fail);
    dst->trace_id_header = dup_or_null(src->trace_id_header, &fail);
    dst->baggage_header_prefix = dup_or_null(src->baggage_header_prefix, &fail);
    if (fail) {
        twp_config_clear(dst);
        return TW_ERR_NOMEM;
    }
    return TW_OK;
}

/* The struct keeps NULL for "default" strings until set, so a fresh config is
 * one allocation; accessors below resolve NULL to the default. Exposed through
 * twp_config_init's callers via fill_defaults at tw_config_new time instead,
 * so every consumer of the struct sees real strings. */
static tw_status fill_defaults(tw_config *c)
{
    struct { char **slot; const char *def; } d[] = {
        {&c->service_name, DEF_SERVICE}, {&c->sampler_url, DEF_SAMPLER_URL},
        {&c->agent_host, DEF_AGENT_HOST}, {&c->endpoint, DEF_ENDPOINT},
        {&c->otlp_endpoint, DEF_OTLP}, {&c->trace_id_header, DEF_TRACE_HDR},
        {&c->baggage_header_prefix, DEF_BAGGAGE_PREFIX}, {&c->tags, ""},
    };
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        if (!*d[i].slot && !(*d[i].slot = strdup(d[i].def)))
            return TW_ERR_NOMEM;
    }
    return TW_OK;
}

tw_status tw_config_new(tw_config **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_config *c = malloc(sizeof(*c));
    if (!c)
        return TW_ERR_NOMEM;
    twp_config_init(c);
    if (fill_defaults(c) != TW_OK) {
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

/* ------------------------------------------------------------ parsers */

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* Copies v without surrounding blanks into buf (NUL-terminated) so strtol /
 * strtod see exactly the value: false if it is empty or longer than cap - 1. */
static bool trimmed_copy(const char *v, char *buf, size_t cap)
{
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    if (n == 0 || n >= cap)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

static bool parse_int(const char *v, long lo, long hi, int *out)
{
    char tmp[21];
    if (!trimmed_copy(v, tmp, sizeof tmp))
        return false;
    char *end;
    errno = 0;
    long x = strtol(tmp, &end, 10);
    if (errno || *end || x < lo || x > hi)
        return false;
    *out = (int)x;
    return true;
}

static bool parse_double(const char *v, double lo, double hi, double *out)
{
    char tmp[41];
    if (!trimmed_copy(v, tmp, sizeof tmp))
        return false;
    char *end;
    errno = 0;
    double x = strtod(tmp, &end);
    if (errno || *end || !isfinite(x) || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static bool parse_bool(const char *v, bool *out)
{
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    static const char *yes[] = {"true", "1", "yes", "on"};
    static const char *no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (n == strlen(yes[i]) && strncasecmp(s, yes[i], n) == 0) {
            *out = true;
            return true;
        }
        if (n == strlen(no[i]) && strncasecmp(s, no[i], n) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool word_eq(const char *s, size_t n, const char *w)
{
    return n == strlen(w) && strncasecmp(s, w, n) == 0;
}

/* Walks a comma list calling fn on each trimmed non-empty item. */
static bool each_item(const char *v, bool (*fn)(const char *, size_t, unsigned *), unsigned *acc)
{
    const char *p = v;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        const char *s = p;
        trim(&s, &n);
        if (n && !fn(s, n, acc))
            return false;
        if (!c)
            return true;
        p = c + 1;
    }
}

static bool proto_item(const char *s, size_t n, unsigned *acc)
{
    if (word_eq(s, n, "udp"))         *acc |= TWP_PROTO_UDP;
    else if (word_eq(s, n, "http"))   *acc |= TWP_PROTO_HTTP;
    else if (word_eq(s, n, "otlp"))   *acc |= TWP_PROTO_OTLP;
    else if (word_eq(s, n, "memory")) *acc |= TWP_PROTO_MEMORY;
    else if (word_eq(s, n, "log"))    *acc |= TWP_PROTO_LOG;
    else if (!word_eq(s, n, "none"))  return false;
    return true;
}

/* Our names plus the OTEL_PROPAGATORS / JAEGER_PROPAGATION spellings. */
static bool prop_item(const char *s, size_t n, unsigned *acc)
{
    if (word_eq(s, n, "jaeger"))
        *acc |= TW_PROP_JAEGER;
    else if (word_eq(s, n, "w3c") || word_eq(s, n, "tracecontext") || word_eq(s, n, "baggage"))
        *acc |= TW_PROP_W3C;
    else if (word_eq(s, n, "b3"))
        *acc |= TW_PROP_B3_SINGLE;
    else if (word_eq(s, n, "b3multi"))
        *acc |= TW_PROP_B3_MULTI;
    else if (!word_eq(s, n, "none"))
        return false;
    return true;
}

static bool valid_header_name(const char *v)
{
    if (!*v || strlen(v) > 128)
        return false;
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* Replaces *slot with a copy of v (lower-cased if asked). */
static tw_status set_str(char **slot, const char *v, bool lower)
{
    char *d = strdup(v);
    if (!d)
        return TW_ERR_NOMEM;
    if (lower)
        for (char *p = d; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    free(*slot);
    *slot = d;
    return TW_OK;
}

static bool valid_tags(const char *v)
{
    /* "k=v,k2=v2": every non-empty item needs a non-empty key and an '='. */
    const char *p = v;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        const char *s = p;
        trim(&s, &n);
        if (n) {
            const char *eq = memchr(s, '=', n);
            if (!eq || eq == s)
                return false;
        }
        if (!c)
            return true;
        p = c + 1;
    }
}

static bool valid_url(const char *v)
{
    return strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
}

/* Parses an OTEL/our sampler name into type + parent_based. */
static bool parse_sampler_type(const char *v, twp_sampler_type *type, bool *pb, double *forced_param,
                               bool *has_forced)
{
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    *has_forced = false;
    *pb = true;
    if (word_eq(s, n, "const")) *type = TWP_SAMPLER_CONST;
    else if (word_eq(s, n, "probabilistic")) *type = TWP_SAMPLER_PROBABILISTIC;
    else if (word_eq(s, n, "ratelimiting") || word_eq(s, n, "rate_limiting")) *type = TWP_SAMPLER_RATELIMITING;
    else if (word_eq(s, n, "remote") || word_eq(s, n, "jaeger_remote") ||
             word_eq(s, n, "parentbased_jaeger_remote")) *type = TWP_SAMPLER_REMOTE;
    else if (word_eq(s, n, "parentbased_always_on")) {
        *type = TWP_SAMPLER_CONST; *forced_param = 1; *has_forced = true;
    } else if (word_eq(s, n, "parentbased_always_off")) {
        *type = TWP_SAMPLER_CONST; *forced_param = 0; *has_forced = true;
    } else if (word_eq(s, n, "parentbased_traceidratio")) *type = TWP_SAMPLER_PROBABILISTIC;
    else if (word_eq(s, n, "always_on")) {
        *type = TWP_SAMPLER_CONST; *forced_param = 1; *has_forced = true; *pb = false;
    } else if (word_eq(s, n, "always_off")) {
        *type = TWP_SAMPLER_CONST; *forced_param = 0; *has_forced = true; *pb = false;
    } else if (word_eq(s, n, "traceidratio")) {
        *type = TWP_SAMPLER_PROBABILISTIC; *pb = false;
    } else
        return false;
    return true;
}

/* ------------------------------------------------------------ set */

tw_status tw_config_set(tw_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !value)
        return TW_ERR_INVALID_ARG;
    int i;
    double d;
    bool b;
    unsigned u = 0;

#define KEY(k) (strcmp(key, (k)) == 0)
    if (KEY("service_name")) {
        if (!*value)
            return TW_ERR_CONFIG;
        return set_str(&cfg->service_name, value, false);
    }
    if (KEY("tags")) {
        if (!valid_tags(value))
            return TW_ERR_CONFIG;
        return set_str(&cfg->tags, value, false);
    }
    if (KEY("sampler.type")) {
        twp_sampler_type t;
        bool has_forced;
        double forced = 0;
        if (!parse_sampler_type(value, &t, &b, &forced, &has_forced))
            return TW_ERR_CONFIG;
        cfg->sampler_type = t;
        cfg->parent_based = b;
        if (has_forced)
            cfg->sampler_param = forced;
        return TW_OK;
    }
    if (KEY("sampler.param")) {
        if (!parse_double(value, 0, 1e9, &d))
            return TW_ERR_CONFIG;
        if (cfg->sampler_type == TWP_SAMPLER_PROBABILISTIC && d > 1)
            return TW_ERR_CONFIG;
        cfg->sampler_param = d;
        return TW_OK;
    }
    if (KEY("sampler.url")) {
        if (!valid_url(value))
            return TW_ERR_CONFIG;
        return set_str(&cfg->sampler_url, value, false);
    }
    if (KEY("sampler.refresh_ms")) {
        if (!parse_int(value, 1, 86400000, &i))
            return TW_ERR_CONFIG;
        cfg->sampler_refresh_ms = i;
        return TW_OK;
    }
    if (KEY("reporter.protocols")) {
        if (!each_item(value, proto_item, &u))
            return TW_ERR_CONFIG;
        cfg->protocols = u;
        return TW_OK;
    }
    if (KEY("reporter.agent_host")) {
        if (!*value || strlen(value) > 255 || strpbrk(value, " \t/"))
            return TW_ERR_CONFIG;
        return set_str(&cfg->agent_host, value, false);
    }
    if (KEY("reporter.agent_port")) {
        if (!parse_int(value, 1, 65535, &i))
            return TW_ERR_CONFIG;
        cfg->agent_port = i;
        return TW_OK;
    }
    if (KEY("reporter.endpoint")) {
        if (!valid_url(value))
            return TW_ERR_CONFIG;
        return set_str(&cfg->endpoint, value, false);
    }
    if (KEY("reporter.otlp_endpoint")) {
        if (!valid_url(value))
            return TW_ERR_CONFIG;
        return set_str(&cfg->otlp_endpoint, value, false);
    }
    struct { const char *k; int *slot; long lo, hi; } ints[] = {
        {"reporter.queue_size", &cfg->queue_size, 1, 10000000},
        {"reporter.batch_size", &cfg->batch_size, 1, 100000},
        {"reporter.flush_interval_ms", &cfg->flush_interval_ms, 1, 3600000},
        {"reporter.max_packet_size", &cfg->max_packet_size, 512, 65000},
        {"reporter.timeout_ms", &cfg->timeout_ms, 1, 3600000},
        {"reporter.retries", &cfg->retries, 0, 100},
        {"max_tag_value_length", &cfg->max_tag_value_length, 1, 1 << 24},
        {"max_baggage_size", &cfg->max_baggage_size, 1, 1 << 24},
    };
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
        if (KEY(ints[k].k)) {
            if (!parse_int(value, ints[k].lo, ints[k].hi, &i))
                return TW_ERR_CONFIG;
            *ints[k].slot = i;
            return TW_OK;
        }
    }
    if (KEY("propagation.inject") || KEY("propagation.extract") || KEY("propagation")) {
        if (!each_item(value, prop_item, &u))
            return TW_ERR_CONFIG;
        if (!KEY("propagation.extract"))
            cfg->inject_formats = u;
        if (!KEY("propagation.inject"))
            cfg->extract_formats = u;
        return TW_OK;
    }
    if (KEY("trace_id_header")) {
        if (!valid_header_name(value))
            return TW_ERR_CONFIG;
        return set_str(&cfg->trace_id_header, value, true);
    }
    if (KEY("baggage_header_prefix")) {
        if (!valid_header_name(value))
            return TW_ERR_CONFIG;
        return set_str(&cfg->baggage_header_prefix, value, true);
    }
    if (KEY("trace_id_128bit")) {
        if (!parse_bool(value, &b))
            return TW_ERR_CONFIG;
        cfg->trace_id_128bit = b;
        return TW_OK;
    }
#undef KEY
    return TW_ERR_UNSUPPORTED;
}

/* ------------------------------------------------------------ get */

static void put(char *buf, size_t cap, const char *s)
{
    if (cap == 0)
        return;
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

static void list_formats(unsigned f, char *out, size_t cap)
{
    out[0] = '\0';
    const struct { unsigned bit; const char *name; } names[] = {
        {TW_PROP_JAEGER, "jaeger"}, {TW_PROP_W3C, "w3c"},
        {TW_PROP_B3_SINGLE, "b3"}, {TW_PROP_B3_MULTI, "b3multi"},
    };
    for (size_t i = 0; i < 4; i++)
        if (f & names[i].bit) {
            if (out[0])
                strncat(out, ",", cap - strlen(out) - 1);
            strncat(out, names[i].name, cap - strlen(out) - 1);
        }
    if (!out[0])
        snprintf(out, cap, "none");
}

static void list_protocols(unsigned f, char *out, size_t cap)
{
    out[0] = '\0';
    const struct { unsigned bit; const char *name; } names[] = {
        {TWP_PROTO_UDP, "udp"}, {TWP_PROTO_HTTP, "http"}, {TWP_PROTO_OTLP, "otlp"},
        {TWP_PROTO_MEMORY, "memory"}, {TWP_PROTO_LOG, "log"},
    };
    for (size_t i = 0; i < 5; i++)
        if (f & names[i].bit) {
            if (out[0])
                strncat(out, ",", cap - strlen(out) - 1);
            strncat(out, names[i].name, cap - strlen(out) - 1);
        }
    if (!out[0])
        snprintf(out, cap, "none");
}

static const char *sampler_name(const tw_config *c)
{
    switch (c->sampler_type) {
    case TWP_SAMPLER_CONST:
        if (!c->parent_based)
            return c->sampler_param > 0 ? "always_on" : "always_off";
        return "const";
    case TWP_SAMPLER_PROBABILISTIC:
        return c->parent_based ? "probabilistic" : "traceidratio";
    case TWP_SAMPLER_RATELIMITING: return "ratelimiting";
    case TWP_SAMPLER_REMOTE: return "remote";
    }
    return "const";
}

tw_status tw_config_get(const tw_config *cfg, const char *key, char *buf, size_t cap)
{
    if (!cfg || !key || !buf || cap == 0)
        return TW_ERR_INVALID_ARG;
    char tmp[128];
#define KEY(k) (strcmp(key, (k)) == 0)
#define S(v) (put(buf, cap, (v) ? (v) : ""), TW_OK)
#define I(v) (snprintf(tmp, sizeof tmp, "%d", (v)), put(buf, cap, tmp), TW_OK)
    if (KEY("service_name")) return S(cfg->service_name);
    if (KEY("tags")) return S(cfg->tags);
    if (KEY("sampler.type")) return S(sampler_name(cfg));
    if (KEY("sampler.param")) {
        /* shortest text that reads back as the same double */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, cfg->sampler_param);
            if (strtod(tmp, NULL) == cfg->sampler_param)
                break;
        }
        put(buf, cap, tmp);
        return TW_OK;
    }
    if (KEY("sampler.url")) return S(cfg->sampler_url);
    if (KEY("sampler.refresh_ms")) return I(cfg->sampler_refresh_ms);
    if (KEY("reporter.protocols")) {
        list_protocols(cfg->protocols, tmp, sizeof tmp);
        put(buf, cap, tmp);
        return TW_OK;
    }
    if (KEY("reporter.agent_host")) return S(cfg->agent_host);
    if (KEY("reporter.agent_port")) return I(cfg->agent_port);
    if (KEY("reporter.endpoint")) return S(cfg->endpoint);
    if (KEY("reporter.otlp_endpoint")) return S(cfg->otlp_endpoint);
    if (KEY("reporter.queue_size")) return I(cfg->queue_size);
    if (KEY("reporter.batch_size")) return I(cfg->batch_size);
    if (KEY("reporter.flush_interval_ms")) return I(cfg->flush_interval_ms);
    if (KEY("reporter.max_packet_size")) return I(cfg->max_packet_size);
    if (KEY("reporter.timeout_ms")) return I(cfg->timeout_ms);
    if (KEY("reporter.retries")) return I(cfg->retries);
    if (KEY("max_tag_value_length")) return I(cfg->max_tag_value_length);
    if (KEY("max_baggage_size")) return I(cfg->max_baggage_size);
    if (KEY("propagation.inject") || KEY("propagation")) {
        list_formats(cfg->inject_formats, tmp, sizeof tmp);
        put(buf, cap, tmp);
        return TW_OK;
    }
    if (KEY("propagation.extract")) {
        list_formats(cfg->extract_formats, tmp, sizeof tmp);
        put(buf, cap, tmp);
        return TW_OK;
    }
    if (KEY("trace_id_header")) return S(cfg->trace_id_header);
    if (KEY("baggage_header_prefix")) return S(cfg->baggage_header_prefix);
    if (KEY("trace_id_128bit")) return S(cfg->trace_id_128bit ? "true" : "false");
#undef KEY
#undef S
#undef I
    return TW_ERR_UNSUPPORTED;
}

/* ------------------------------------------------------------ environment */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
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

/* OTEL_RESOURCE_ATTRIBUTES: service.name goes to the service (unless
 * OTEL_SERVICE_NAME is set); the rest become tags. Returns a new tag string
 * or NULL (OOM / nothing), *svc a new string or NULL. */
static bool split_resource_attrs(const char *v, char **tags, char **svc)
{
    *tags = NULL;
    *svc = NULL;
    size_t n = strlen(v);
    char *out = malloc(n + 1);
    if (!out)
        return false;
    out[0] = '\0';
    size_t olen = 0;
    const char *p = v;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        const char *s = p;
        trim(&s, &len);
        if (len) {
            if (len > 13 && strncmp(s, "service.name=", 13) == 0) {
                free(*svc);
                *svc = strndup(s + 13, len - 13);
            } else {
                if (olen)
                    out[olen++] = ',';
                memcpy(out + olen, s, len);
                olen += len;
                out[olen] = '\0';
            }
        }
        if (!c)
            break;
        p = c + 1;
    }
    *tags = out;
    return true;
}

/* "endpoint=http://...,pollingIntervalMs=5000,initialSamplingRate=0.25" */
static void apply_remote_arg(tw_config *cfg, const char *v, const char **bad, tw_status *st)
{
    const char *p = v;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        const char *s = p;
        trim(&s, &len);
        const char *eq = len ? memchr(s, '=', len) : NULL;
        if (eq) {
            char *val = strndup(eq + 1, len - (size_t)(eq + 1 - s));
            size_t klen = (size_t)(eq - s);
            const char *key = NULL;
            if (word_eq(s, klen, "endpoint")) key = "sampler.url";
            else if (word_eq(s, klen, "pollingIntervalMs")) key = "sampler.refresh_ms";
            else if (word_eq(s, klen, "initialSamplingRate")) key = "sampler.param";
            if (key && val)
                apply(cfg, "OTEL_TRACES_SAMPLER_ARG", key, val, bad, st);
            free(val);
        } else if (len && !*bad) {
            *bad = "OTEL_TRACES_SAMPLER_ARG";
            *st = TW_ERR_CONFIG;
        }
        if (!c)
            break;
        p = c + 1;
    }
}

tw_status tw_config_from_env(tw_config *cfg, const char **bad_var)
{
    const char *bad = NULL;
    tw_status st = TW_OK;
    if (bad_var)
        *bad_var = NULL;
    if (!cfg)
        return TW_ERR_INVALID_ARG;

    /* ---- OpenTelemetry names (lowest) */
    char *otel_tags = NULL, *otel_svc = NULL;
    const char *v = env("OTEL_RESOURCE_ATTRIBUTES");
    if (v) {
        if (!split_resource_attrs(v, &otel_tags, &otel_svc))
            return TW_ERR_NOMEM;
        if (otel_svc && !env("OTEL_SERVICE_NAME"))
            apply(cfg, "OTEL_RESOURCE_ATTRIBUTES", "service_name", otel_svc, &bad, &st);
        if (otel_tags && *otel_tags)
            apply(cfg, "OTEL_RESOURCE_ATTRIBUTES", "tags", otel_tags, &bad, &st);
    }
    apply(cfg, "OTEL_SERVICE_NAME", "service_name", env("OTEL_SERVICE_NAME"), &bad, &st);
    const char *smp = env("OTEL_TRACES_SAMPLER");
    apply(cfg, "OTEL_TRACES_SAMPLER", "sampler.type", smp, &bad, &st);
    const char *arg = env("OTEL_TRACES_SAMPLER_ARG");
    if (arg) {
        if (smp && strstr(smp, "jaeger_remote"))
            apply_remote_arg(cfg, arg, &bad, &st);
        else if (!smp || strstr(smp, "traceidratio"))
            apply(cfg, "OTEL_TRACES_SAMPLER_ARG", "sampler.param", arg, &bad, &st);
    }
    apply(cfg, "OTEL_PROPAGATORS", "propagation", env("OTEL_PROPAGATORS"), &bad, &st);
    const char *otlp = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    if (otlp) {
        apply(cfg, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "reporter.otlp_endpoint", otlp, &bad, &st);
    } else if ((otlp = env("OTEL_EXPORTER_OTLP_ENDPOINT"))) {
        size_t n = strlen(otlp);
        char *full = malloc(n + 12);
        if (full) {
            memcpy(full, otlp, n + 1);
            if (n && full[n - 1] == '/')
                full[n - 1] = '\0';
            strcat(full, "/v1/traces");
            apply(cfg, "OTEL_EXPORTER_OTLP_ENDPOINT", "reporter.otlp_endpoint", full, &bad, &st);
            free(full);
        } else {
            st = TW_ERR_NOMEM;
        }
    }

    /* ---- Jaeger names (win over OTEL) */
    apply(cfg, "JAEGER_SERVICE_NAME", "service_name", env("JAEGER_SERVICE_NAME"), &bad, &st);
    apply(cfg, "JAEGER_AGENT_HOST", "reporter.agent_host", env("JAEGER_AGENT_HOST"), &bad, &st);
    apply(cfg, "JAEGER_AGENT_PORT", "reporter.agent_port", env("JAEGER_AGENT_PORT"), &bad, &st);
    const char *ep = env("JAEGER_ENDPOINT");
    if (ep) {
        const char *before = bad;
        apply(cfg, "JAEGER_ENDPOINT", "reporter.endpoint", ep, &bad, &st);
        if (bad == before && cfg->protocols == TWP_PROTO_UDP)
            cfg->protocols = TWP_PROTO_HTTP;
    }
    apply(cfg, "JAEGER_SAMPLER_TYPE", "sampler.type", env("JAEGER_SAMPLER_TYPE"), &bad, &st);
    apply(cfg, "JAEGER_SAMPLER_PARAM", "sampler.param", env("JAEGER_SAMPLER_PARAM"), &bad, &st);
    const char *mgr = env("JAEGER_SAMPLER_MANAGER_HOST_PORT");
    if (mgr) {
        char url[300];
        if (strlen(mgr) < 256 && !strpbrk(mgr, "/ ") && strchr(mgr, ':')) {
            snprintf(url, sizeof url, "http://%s/sampling", mgr);
            apply(cfg, "JAEGER_SAMPLER_MANAGER_HOST_PORT", "sampler.url", url, &bad, &st);
        } else if (!bad) {
            bad = "JAEGER_SAMPLER_MANAGER_HOST_PORT";
            st = st == TW_OK ? TW_ERR_CONFIG : st;
        }
    }
    apply(cfg, "JAEGER_SAMPLING_ENDPOINT", "sampler.url", env("JAEGER_SAMPLING_ENDPOINT"), &bad, &st);
    const char *jt = env("JAEGER_TAGS");
    if (jt) {
        if (otel_tags && *otel_tags && valid_tags(jt)) {
            size_t n = strlen(otel_tags) + strlen(jt) + 2;
            char *both = malloc(n);
            if (both) {
                snprintf(both, n, "%s,%s", otel_tags, jt);
                apply(cfg, "JAEGER_TAGS", "tags", both, &bad, &st);
                free(both);
            } else {
                st = TW_ERR_NOMEM;
            }
        } else {
            apply(cfg, "JAEGER_TAGS", "tags", jt, &bad, &st);
        }
    }
    apply(cfg, "JAEGER_PROPAGATION", "propagation", env("JAEGER_PROPAGATION"), &bad, &st);
    apply(cfg, "JAEGER_TRACEID_128BIT", "trace_id_128bit", env("JAEGER_TRACEID_128BIT"), &bad, &st);
    free(otel_tags);
    free(otel_svc);
    if (bad_var)
        *bad_var = bad;
    return st;
}
