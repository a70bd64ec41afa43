/* config_keys.c — the config key table and the value codecs behind it.
 *
 * Every key any face accepts is one row below: native keys (tracewire.h),
 * tracewire's shorthands (protocol, reporter.host, ...) and jaeger_client's
 * Config keys as the faces flatten them (sampler.type, local_agent.
 * reporting_port, reporter_flush_interval in seconds, tags.<name>, ...). The
 * Python and Lua faces only flatten their nested dict/table into dotted keys
 * and pass the text here; neither knows an alias. config.c drives set, get,
 * defaults, copy, compare and the environment from these rows; the fuzz
 * targets and a test reading README.md walk the same rows.
 *
 * Where jaeger_client and tracewire's faces used to disagree, a row decides
 * it once (reasons in the row's comment). A codec parses into temporaries and
 * commits only when the whole value is good: a bad value changes nothing.
 */
#include "config_keys.h"
#include "http_options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ text parsers */

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* A decimal number, blanks around it allowed, within [lo, hi]. integer:
 * digits only (strtol: "1.5" and "1e3" are refused), as int fields take. */
static bool parse_number(const char *v, double lo, double hi, bool integer, double *out)
{
    char tmp[41];
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    if (n == 0 || n >= (integer ? 21 : sizeof tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double x = integer ? (double)strtol(tmp, &end, 10) : strtod(tmp, &end);
    if (errno || *end || !isfinite(x) || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static bool parse_int(const char *v, double lo, double hi, int *out)
{
    double x;
    if (!parse_number(v, lo, hi, true, &x))
        return false;
    *out = (int)x;
    return true;
}

static bool parse_double(const char *v, double lo, double hi, double *out)
{
    return parse_number(v, lo, hi, false, out);
}

bool twp_config_each_item(const char *v, twp_item_fn fn, void *ud)
{
    const char *p = v;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        const char *s = p;
        trim(&s, &n);
        if (n && !fn(s, n, ud))
            return false;
        if (!c)
            return true;
        p = c + 1;
    }
}

static bool word_eq(const char *s, size_t n, const char *w)
{
    return n == strlen(w) && strncasecmp(s, w, n) == 0;
}

static bool parse_bool(const char *v, bool *out)
{
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (word_eq(s, n, yes[i])) {
            *out = true;
            return true;
        }
        if (word_eq(s, n, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Name <-> bit for the comma-list codecs. */
typedef struct bit_name { unsigned bit; const char *name; } bit_name;

static const bit_name protocol_names[] = {
    {TWP_PROTO_UDP, "udp"}, {TWP_PROTO_HTTP, "http"}, {TWP_PROTO_OTLP, "otlp"},
    {TWP_PROTO_MEMORY, "memory"}, {TWP_PROTO_LOG, "log"}, {0, NULL},
};
/* Read back in this order; the OTEL_PROPAGATORS spellings are extra input
 * names (tracecontext and baggage are both the W3C format). */
static const bit_name format_names[] = {
    {TW_PROP_JAEGER, "jaeger"}, {TW_PROP_W3C, "w3c"}, {TW_PROP_B3_SINGLE, "b3"},
    {TW_PROP_B3_MULTI, "b3multi"}, {TW_PROP_W3C, "tracecontext"}, {TW_PROP_W3C, "baggage"},
    {0, NULL},
};

typedef struct names_acc { const bit_name *names; unsigned acc; } names_acc;

static bool name_item(const char *s, size_t n, void *ud)
{
    names_acc *a = ud;
    if (word_eq(s, n, "none"))
        return true;
    for (const bit_name *b = a->names; b->name; b++)
        if (word_eq(s, n, b->name)) {
            a->acc |= b->bit;
            return true;
        }
    return false;
}

/* A comma list of names ("none" adds nothing; empty items are skipped). */
static bool parse_names(const char *v, const bit_name *names, unsigned *out)
{
    names_acc a = {names, 0};
    if (!twp_config_each_item(v, name_item, &a))
        return false;
    *out = a.acc;
    return true;
}

static void put(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

static void list_names(unsigned f, const bit_name *names, char *buf, size_t cap)
{
    char out[128] = "";
    unsigned seen = 0;
    for (const bit_name *b = names; b->name; b++)
        if ((f & b->bit) && !(seen & b->bit)) {
            seen |= b->bit;
            if (out[0])
                strcat(out, ",");
            strcat(out, b->name);
        }
    put(buf, cap, out[0] ? out : "none");
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

static bool tag_item(const char *s, size_t n, void *ud)
{
    (void)ud;
    const char *eq = memchr(s, '=', n);
    return eq && eq != s;
}

/* "k=v,k2=v2": every non-empty item needs a non-empty key and an '='. */
static bool valid_tags(const char *v)
{
    return twp_config_each_item(v, tag_item, NULL);
}

static bool valid_url(const char *v)
{
    return strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
}

static bool valid_host(const char *v)
{
    return *v && strlen(v) <= 255 && !strpbrk(v, " \t/");
}

/* OTEL and Jaeger sampler names -> type, parent_based, and the param the
 * always_* names imply. jaeger_client's own names are const, probabilistic,
 * ratelimiting and rate_limiting; "lowerbound" is refused, as
 * jaeger_client 4.8 refuses it ("Unknown sampler type"). */
static bool parse_sampler_type(const char *v, twp_sampler_type *type, bool *pb, double *forced,
                               bool *has_forced)
{
    static const struct {
        const char *name;
        twp_sampler_type type;
        bool pb;
        int forced;          /* -1: none */
    } names[] = {
        {"const", TWP_SAMPLER_CONST, true, -1},
        {"probabilistic", TWP_SAMPLER_PROBABILISTIC, true, -1},
        {"ratelimiting", TWP_SAMPLER_RATELIMITING, true, -1},
        {"rate_limiting", TWP_SAMPLER_RATELIMITING, true, -1},
        {"remote", TWP_SAMPLER_REMOTE, true, -1},
        {"jaeger_remote", TWP_SAMPLER_REMOTE, true, -1},
        {"parentbased_jaeger_remote", TWP_SAMPLER_REMOTE, true, -1},
        {"parentbased_always_on", TWP_SAMPLER_CONST, true, 1},
        {"parentbased_always_off", TWP_SAMPLER_CONST, true, 0},
        {"parentbased_traceidratio", TWP_SAMPLER_PROBABILISTIC, true, -1},
        {"always_on", TWP_SAMPLER_CONST, false, 1},
        {"always_off", TWP_SAMPLER_CONST, false, 0},
        {"traceidratio", TWP_SAMPLER_PROBABILISTIC, false, -1},
    };
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (word_eq(s, n, names[i].name)) {
            *type = names[i].type;
            *pb = names[i].pb;
            *has_forced = names[i].forced >= 0;
            *forced = names[i].forced >= 0 ? names[i].forced : 0;
            return true;
        }
    return false;
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

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->off))
#define CFIELD(c, k, type) ((const type *)(const void *)((const char *)(c) + (k)->off))

/* ------------------------------------------------------------ special setters */

static const twp_config_key *row(const char *name)
{
    return twp_config_key_find(name);
}

/* tags.<name> = value: one process tag, the flattened form of jaeger_client's
 * tags dict. Replaces a tag of the same name, else appends, so tags from the
 * environment (JAEGER_TAGS) stay, as jaeger_client merges them. A name with
 * ',' or '=' or a value with ',' cannot be written in the "k=v,..." list the
 * tracer reads: refused with TW_ERR_CONFIG, in every face (the Python face
 * used to drop such a tag with a warning, the Lua face refused it; a
 * dropped tag would change what lands in Jaeger unseen). */
typedef struct tag_merge { const char *name; size_t nl; char *out; size_t olen; } tag_merge;

static bool keep_other_tag(const char *s, size_t n, void *ud)
{
    tag_merge *m = ud;
    const char *eq = memchr(s, '=', n);
    size_t kl = eq ? (size_t)(eq - s) : 0;
    while (kl && isspace((unsigned char)s[kl - 1]))
        kl--;
    if (eq && kl == m->nl && memcmp(s, m->name, kl) == 0)
        return true;          /* replaced below */
    if (m->olen)
        m->out[m->olen++] = ',';
    memcpy(m->out + m->olen, s, n);
    m->olen += n;
    return true;
}

/* The item "name=..." of a tags list, as written (trimmed), or n 0. */
typedef struct tag_find { const char *name; size_t nl; const char *s; size_t n; } tag_find;

static bool find_tag(const char *s, size_t n, void *ud)
{
    tag_find *f = ud;
    const char *eq = memchr(s, '=', n);
    size_t kl = eq ? (size_t)(eq - s) : 0;
    while (kl && isspace((unsigned char)s[kl - 1]))
        kl--;
    if (eq && kl == f->nl && memcmp(s, f->name, kl) == 0) {
        f->s = s;
        f->n = n;     /* the last one: the one the tracer keeps */
    }
    return true;
}

/* jaeger_client 4.8's Config.tags is the config's tags dict updated by
 * JAEGER_TAGS: the variable wins a tag of the same name. Under that profile a
 * tags.<name> keeps the tag the environment put there (the config holds that
 * very item of JAEGER_TAGS: tw_config_from_env ran), so the order the faces
 * apply things in (environment first, keys after) does not decide it. */
static bool env_tag_wins(const tw_config *c, const char *name, size_t nl)
{
    const char *ev = getenv("JAEGER_TAGS");
    if (c->profile != TWP_PROFILE_JAEGER_CLIENT || !ev || !c->tags)
        return false;
    tag_find in_env = {name, nl, NULL, 0}, in_cfg = {name, nl, NULL, 0};
    twp_config_each_item(ev, find_tag, &in_env);
    twp_config_each_item(c->tags, find_tag, &in_cfg);
    return in_env.n && in_env.n == in_cfg.n && memcmp(in_env.s, in_cfg.s, in_env.n) == 0;
}

static tw_status set_tag_item(tw_config *c, const char *key, const char *v)
{
    const char *name = key + strlen("tags.");
    size_t nl = strlen(name), vl = strlen(v);
    if (!nl || strpbrk(name, ",=") || strchr(v, ','))
        return TW_ERR_CONFIG;
    if (env_tag_wins(c, name, nl))
        return TW_OK;
    const char *old = c->tags ? c->tags : "";
    tag_merge m = {name, nl, malloc(strlen(old) + nl + vl + 3), 0};
    if (!m.out)
        return TW_ERR_NOMEM;
    twp_config_each_item(old, keep_other_tag, &m);
    snprintf(m.out + m.olen, nl + vl + 3, "%s%s=%s", m.olen ? "," : "", name, v);
    free(c->tags);
    c->tags = m.out;
    return TW_OK;
}

/* Rewrites the host or the port of the URL in *slot (scheme://host:port/path),
 * keeping the rest. An IPv6 address gets its brackets. */
static tw_status url_replace(char **slot, const char *host, const char *port)
{
    const char *url = *slot ? *slot : "http://127.0.0.1:5778/sampling";
    const char *auth = strstr(url, "://");
    if (!auth)
        return TW_ERR_CONFIG;
    auth += 3;
    const char *path = auth + strcspn(auth, "/?#");
    const char *colon = NULL;
    if (*auth == '[') {
        const char *rb = memchr(auth, ']', (size_t)(path - auth));
        if (rb && rb + 1 < path && rb[1] == ':')
            colon = rb + 1;
    } else {
        colon = memchr(auth, ':', (size_t)(path - auth));
    }
    const char *old_host_end = colon ? colon : path;
    size_t hl = host ? strlen(host) : (size_t)(old_host_end - auth);
    bool v6 = host && strchr(host, ':') && host[0] != '[';
    const char *old_port = colon ? colon + 1 : NULL;
    size_t pl = port ? strlen(port) : (old_port ? (size_t)(path - old_port) : 0);
    size_t n = (size_t)(auth - url) + hl + 2 + 1 + pl + strlen(path) + 1;
    char *out = malloc(n);
    if (!out)
        return TW_ERR_NOMEM;
    int w = snprintf(out, n, "%.*s%s%.*s%s%s%.*s%s", (int)(auth - url), url, v6 ? "[" : "",
                     (int)hl, host ? host : auth, v6 ? "]" : "", pl ? ":" : "", (int)pl,
                     port ? port : (old_port ? old_port : ""), path);
    if (w < 0 || (size_t)w >= n) {
        free(out);
        return TW_ERR_CONFIG;
    }
    free(*slot);
    *slot = out;
    return TW_OK;
}

/* local_agent.reporting_host: jaeger_client's LocalAgentSender uses this one
 * host for spans (UDP) and for sampling strategies (HTTP, sampling_port), so
 * it sets reporter.agent_host and the host of sampler.url. */
static tw_status set_reporting_host(tw_config *c, const char *key, const char *v)
{
    (void)key;
    if (!valid_host(v))
        return TW_ERR_CONFIG;
    char *url = c->sampler_url ? strdup(c->sampler_url) : NULL;
    if (c->sampler_url && !url)
        return TW_ERR_NOMEM;
    tw_status st = url_replace(&url, v, NULL);
    if (st == TW_OK && (st = set_str(&c->agent_host, v, false)) == TW_OK) {
        free(c->sampler_url);
        c->sampler_url = url;
        return TW_OK;
    }
    free(url);
    return st;
}

/* local_agent.sampling_host (tracewire's): only the host of sampler.url. */
static tw_status set_sampling_host(tw_config *c, const char *key, const char *v)
{
    (void)key;
    if (!valid_host(v))
        return TW_ERR_CONFIG;
    return url_replace(&c->sampler_url, v, NULL);
}

/* local_agent.sampling_port: the port of sampler.url (jaeger_client polls
 * http://reporting_host:sampling_port/sampling). */
static tw_status set_sampling_port(tw_config *c, const char *key, const char *v)
{
    (void)key;
    int port;
    char text[8];
    if (!parse_int(v, 1, 65535, &port))
        return TW_ERR_CONFIG;
    snprintf(text, sizeof text, "%d", port);
    return url_replace(&c->sampler_url, NULL, text);
}

/* endpoint (tracewire's shorthand): the collector URL of the HTTP protocol
 * chosen — reporter.otlp_endpoint when reporter.protocols has otlp but not
 * http, else reporter.endpoint (the Thrift collector, as JAEGER_ENDPOINT).
 * It comes after reporter.protocols in row order, so a face's dict order
 * does not matter. (The Python face did this; the Lua face always wrote
 * reporter.endpoint, sending OTLP to the default endpoint unseen.) */
static tw_status set_endpoint(tw_config *c, const char *key, const char *v)
{
    (void)key;
    bool otlp = (c->protocols & TWP_PROTO_OTLP) && !(c->protocols & TWP_PROTO_HTTP);
    const char *to = otlp ? "reporter.otlp_endpoint" : "reporter.endpoint";
    return twp_config_key_set(c, row(to), to, v);
}

/* logging (jaeger_client): true adds the log reporter to the configured
 * ones (jaeger_client wraps its reporter with a LoggingReporter); false
 * removes it. */
static tw_status set_logging(tw_config *c, const char *key, const char *v)
{
    (void)key;
    bool b;
    if (!parse_bool(v, &b))
        return TW_ERR_CONFIG;
    c->protocols = b ? (c->protocols | TWP_PROTO_LOG) : (c->protocols & ~TWP_PROTO_LOG);
    return TW_OK;
}

static tw_status get_logging(const tw_config *c, char *buf, size_t cap)
{
    put(buf, cap, (c->protocols & TWP_PROTO_LOG) ? "true" : "false");
    return TW_OK;
}

/* enabled (jaeger_client): false reports nothing (reporter.protocols none,
 * after logging and protocols in row order, so it wins over both); true
 * changes nothing. */
static tw_status set_enabled(tw_config *c, const char *key, const char *v)
{
    (void)key;
    bool b;
    if (!parse_bool(v, &b))
        return TW_ERR_CONFIG;
    if (!b)
        c->protocols = 0;
    return TW_OK;
}

static tw_status get_enabled(const tw_config *c, char *buf, size_t cap)
{
    put(buf, cap, c->protocols ? "true" : "false");
    return TW_OK;
}

/* propagation. Native profile: one list for inject and extract (C, Lua,
 * the environment). jaeger_client profile: what this service writes — the
 * single value "b3" is jaeger_client's B3Codec, i.e. the X-B3-* headers
 * (b3multi); other values are tracewire's names. Extract keeps reading every
 * format there, so a mixed fleet keeps joining up. */
static tw_status set_propagation(tw_config *c, const char *key, const char *v)
{
    (void)key;
    unsigned f;
    if (c->profile == TWP_PROFILE_JAEGER_CLIENT) {
        const char *s = v;
        size_t n = strlen(v);
        trim(&s, &n);
        if (word_eq(s, n, "b3"))
            f = TW_PROP_B3_MULTI;
        else if (!parse_names(v, format_names, &f))
            return TW_ERR_CONFIG;
        c->inject_formats = f;
        return TW_OK;
    }
    if (!parse_names(v, format_names, &f))
        return TW_ERR_CONFIG;
    c->inject_formats = c->extract_formats = f;
    return TW_OK;
}

/* reporter.otlp_protocol: http/protobuf (the OTLP spec's default) or
 * http/json; grpc is not spoken (OTLP/HTTP only) and is refused. */
static tw_status set_otlp_protocol(tw_config *c, const char *key, const char *v)
{
    (void)key;
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    if (word_eq(s, n, "http/protobuf"))
        c->otlp_json = false;
    else if (word_eq(s, n, "http/json"))
        c->otlp_json = true;
    else
        return TW_ERR_CONFIG;
    return TW_OK;
}

static tw_status get_otlp_protocol(const tw_config *c, char *buf, size_t cap)
{
    put(buf, cap, c->otlp_json ? "http/json" : "http/protobuf");
    return TW_OK;
}

/* reporter.otlp_compression: gzip | none (the OTLP exporter spec's values). */
static tw_status set_otlp_compression(tw_config *c, const char *key, const char *v)
{
    (void)key;
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    if (word_eq(s, n, "gzip"))
        c->otlp_gzip = true;
    else if (word_eq(s, n, "none"))
        c->otlp_gzip = false;
    else
        return TW_ERR_CONFIG;
    return TW_OK;
}

static tw_status get_otlp_compression(const tw_config *c, char *buf, size_t cap)
{
    put(buf, cap, c->otlp_gzip ? "gzip" : "none");
    return TW_OK;
}

/* reporter.driver: auto | thread | loop (reporter.c says what each does). */
static tw_status set_reporter_driver(tw_config *c, const char *key, const char *v)
{
    (void)key;
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    if (word_eq(s, n, "auto"))
        c->reporter_driver = TWP_DRIVER_AUTO;
    else if (word_eq(s, n, "thread"))
        c->reporter_driver = TWP_DRIVER_THREAD;
    else if (word_eq(s, n, "loop"))
        c->reporter_driver = TWP_DRIVER_LOOP;
    else
        return TW_ERR_CONFIG;
    return TW_OK;
}

static tw_status get_reporter_driver(const tw_config *c, char *buf, size_t cap)
{
    put(buf, cap, c->reporter_driver == TWP_DRIVER_THREAD ? "thread"
                  : c->reporter_driver == TWP_DRIVER_LOOP ? "loop" : "auto");
    return TW_OK;
}

/* ------------------------------------------------------------ the table */

#define F(field) offsetof(tw_config, field)
#define NATIVE(name, codec, flags, field, lo, hi, def, env, doc) \
    {name, codec, flags, F(field), lo, hi, 0, NULL, def, NULL, env, doc, NULL, NULL}
/* a native row whose default differs under the jaeger_client profile
 * (tracewire.Config): jaeger_client 4.8's default, checked against the
 * installed jaeger_client by tests/python/test_fidelity_defaults.py */
#define NATIVE_J(name, codec, flags, field, lo, hi, def, def_j, env, doc) \
    {name, codec, flags, F(field), lo, hi, 0, NULL, def, def_j, env, doc, NULL, NULL}
#define ALIAS(name, target, flags, scale, doc) \
    {name, TWK_SPECIAL, TWK_ALIAS | (flags), 0, 0, 0, scale, target, NULL, NULL, NULL, doc, NULL, NULL}
#define SPECIAL(name, target, flags, set, get, doc) \
    {name, TWK_SPECIAL, TWK_ALIAS | (flags), 0, 0, 0, 0, target, NULL, NULL, NULL, doc, set, get}
#define IGNORED(name, flags, doc) \
    {name, TWK_IGNORED, TWK_ALIAS | (flags), 0, 0, 0, 0, NULL, NULL, NULL, NULL, doc, NULL, NULL}

#define JC TWK_JAEGER

const twp_config_key twp_config_keys[] = {
    /* first: the profile decides the meaning of later rows */
    {"profile", TWK_PROFILE, 0, F(profile), 0, 0, 0, NULL, "native", NULL, NULL,
     "native | jaeger_client: which face's defaults and key meanings apply "
     "(tracewire.Config sets jaeger_client)", NULL, NULL},

    NATIVE("service_name", TWK_STR, TWK_NONEMPTY, service_name, 0, 0, "unknown_service",
           "OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES service.name, JAEGER_SERVICE_NAME",
           "the service's name"),
    NATIVE("tags", TWK_TAGS, 0, tags, 0, 0, "", "OTEL_RESOURCE_ATTRIBUTES, JAEGER_TAGS",
           "\"k=v,k2=v2\" tracer-level (process) tags"),
    SPECIAL("tags.", "tags", TWK_PREFIX | JC, set_tag_item, NULL,
            "one process tag (jaeger_client's tags dict); no ',' in it, no '=' in its name"),

    /* jaeger_client without a sampler key: RemoteControlledSampler, initial
     * ProbabilisticSampler(0.001), polling the agent's sampling port */
    NATIVE_J("sampler.type", TWK_SAMPLER, JC, sampler_type, 0, 0, "const", "remote",
           "OTEL_TRACES_SAMPLER, JAEGER_SAMPLER_TYPE, OTEL_SDK_DISABLED (parentbased_always_off)",
           "const | probabilistic | ratelimiting | rate_limiting | remote | always_on | "
           "always_off | traceidratio | parentbased_always_on | parentbased_always_off | "
           "parentbased_traceidratio | parentbased_jaeger_remote"),
    NATIVE_J("sampler.param", TWK_DOUBLE, JC, sampler_param, 0, 1e9, "1", "0.001",
           "OTEL_TRACES_SAMPLER_ARG, JAEGER_SAMPLER_PARAM",
           "number (true/false: 1/0, as jaeger_client's const sampler takes); <= 1 when probabilistic; "
           "jaeger_client profile, const: only true/1 sample, no param samples none (as jaeger_client)"),
    /* Jaeger clients tag a sampled root with the sampler that decided; the
     * OTel SDK writes no such attributes, so the OTel face sets it false */
    NATIVE("sampler.tags", TWK_BOOL, 0, sampler_tags, 0, 0, "true", NULL,
           "true: a sampled root span carries sampler.type and sampler.param tags (as Jaeger "
           "clients); the OTel face sets false (as the OTel SDK)"),

    NATIVE("reporter.protocols", TWK_PROTOCOLS, 0, protocols, 0, 0, "udp",
           "OTEL_TRACES_EXPORTER, OTEL_SDK_DISABLED (none), JAEGER_ENDPOINT (udp -> http), "
           "OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT (udp -> otlp)",
           "comma list of udp | http | otlp | memory | log | none"),
    ALIAS("reporter.protocol", "reporter.protocols", 0, 0, "same as reporter.protocols"),
    ALIAS("protocols", "reporter.protocols", 0, 0, "same as reporter.protocols"),
    ALIAS("protocol", "reporter.protocols", 0, 0, "same as reporter.protocols"),
    SPECIAL("logging", "reporter.protocols", JC, set_logging, get_logging,
            "true adds the log reporter to reporter.protocols, false removes it"),
    SPECIAL("enabled", "reporter.protocols", JC, set_enabled, get_enabled,
            "false: reporter.protocols none (wins over protocol and logging)"),

    NATIVE("reporter.agent_host", TWK_HOST, 0, agent_host, 0, 0, "127.0.0.1", "JAEGER_AGENT_HOST",
           "Jaeger agent host (UDP)"),
    ALIAS("reporter.host", "reporter.agent_host", 0, 0, "same as reporter.agent_host"),
    SPECIAL("local_agent.sampling_host", "sampler.url", 0, set_sampling_host, NULL,
            "the host of sampler.url"),
    SPECIAL("local_agent.reporting_host", "reporter.agent_host", JC, set_reporting_host, NULL,
            "reporter.agent_host and the host of sampler.url"),
    NATIVE("reporter.agent_port", TWK_INT, 0, agent_port, 1, 65535, "6831", "JAEGER_AGENT_PORT",
           "Jaeger agent port (UDP)"),
    ALIAS("reporter.port", "reporter.agent_port", 0, 0, "same as reporter.agent_port"),
    ALIAS("local_agent.reporting_port", "reporter.agent_port", JC, 0, "same as reporter.agent_port"),
    SPECIAL("local_agent.sampling_port", "sampler.url", JC, set_sampling_port, NULL,
            "the port of sampler.url"),
    IGNORED("local_agent.enabled", JC, "accepted, not acted on"),

    /* after local_agent.*: an explicit URL wins over the host and port */
    NATIVE("sampler.url", TWK_URL, 0, sampler_url, 0, 0, "http://127.0.0.1:5778/sampling",
           "JAEGER_SAMPLER_MANAGER_HOST_PORT, JAEGER_SAMPLING_ENDPOINT, OTEL_TRACES_SAMPLER_ARG endpoint",
           "remote sampling endpoint"),
    ALIAS("sampler.sampling_server_url", "sampler.url", 0, 0, "same as sampler.url"),
    NATIVE("sampler.refresh_ms", TWK_INT, 0, sampler_refresh_ms, 1, 86400000, "60000",
           "OTEL_TRACES_SAMPLER_ARG pollingIntervalMs", "remote sampling poll interval, ms"),
    ALIAS("sampling_refresh_interval", "sampler.refresh_ms", JC, 1000, "seconds"),

    NATIVE("reporter.endpoint", TWK_URL, 0, endpoint, 0, 0, "http://127.0.0.1:14268/api/traces",
           "JAEGER_ENDPOINT", "Thrift HTTP collector"),
    NATIVE("reporter.otlp_endpoint", TWK_URL, 0, otlp_endpoint, 0, 0, "http://127.0.0.1:4318/v1/traces",
           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces)",
           "OTLP/HTTP collector"),
    ALIAS("otlp_endpoint", "reporter.otlp_endpoint", 0, 0, "same as reporter.otlp_endpoint"),
    {"reporter.otlp_protocol", TWK_SPECIAL, 0, F(otlp_json), 0, 0, 0, NULL, "http/protobuf", NULL,
     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL",
     "http/protobuf | http/json (grpc is not supported)", set_otlp_protocol, get_otlp_protocol},
    {"reporter.otlp_compression", TWK_SPECIAL, 0, F(otlp_gzip), 0, 0, 0, NULL, "none", NULL,
     "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION",
     "gzip | none: the OTLP request body (Thrift HTTP is never compressed)",
     set_otlp_compression, get_otlp_compression},
    NATIVE("reporter.otlp_headers", TWK_HEADERS, 0, otlp_headers, 0, 0, "",
           "OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS",
           "\"name=value,...\" extra OTLP request headers (e.g. authorization), values percent-decoded"),
    NATIVE("reporter.http_headers", TWK_HEADERS, 0, http_headers, 0, 0, "", NULL,
           "\"name=value,...\" extra Thrift HTTP request headers, values percent-decoded"),
    NATIVE("reporter.tls_ca", TWK_STR, 0, tls_ca, 0, 0, "",
           "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, OTEL_EXPORTER_OTLP_CERTIFICATE",
           "PEM CA bundle verifying https:// collectors (empty: the system store)"),
    NATIVE("reporter.tls_cert", TWK_STR, 0, tls_cert, 0, 0, "",
           "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
           "PEM client certificate presented to https:// collectors"),
    NATIVE("reporter.tls_key", TWK_STR, 0, tls_key, 0, 0, "",
           "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, OTEL_EXPORTER_OTLP_CLIENT_KEY",
           "PEM private key of reporter.tls_cert"),
    SPECIAL("endpoint", "reporter.endpoint", 0, set_endpoint, NULL,
            "reporter.otlp_endpoint when protocols has otlp and not http, else reporter.endpoint"),

    /* jaeger_client's reporter_queue_size (100) bounds a tornado queue its
     * ioloop drains span by span; here the bound counts every span not yet
     * sent while the worker polls every 2 ms, so 100 would drop bursts
     * jaeger_client carries: kept at 10000 under both profiles (README). */
    NATIVE("reporter.queue_size", TWK_INT, 0, queue_size, 1, 10000000, "10000", NULL, "spans"),
    /* jaeger_client: reporter_batch_size 10 spans per UDP datagram */
    ALIAS("reporter_queue_size", "reporter.queue_size", JC, 0, "same as reporter.queue_size"),
    NATIVE_J("reporter.batch_size", TWK_INT, 0, batch_size, 1, 100000, "100", "10", NULL,
             "spans per batch"),
    ALIAS("reporter_batch_size", "reporter.batch_size", JC, 0, "same as reporter.batch_size"),
    NATIVE("reporter.flush_interval_ms", TWK_INT, 0, flush_interval_ms, 1, 3600000, "1000", NULL, "ms"),
    ALIAS("reporter_flush_interval", "reporter.flush_interval_ms", JC, 1000, "seconds"),
    NATIVE("reporter.max_packet_size", TWK_INT, 0, max_packet_size, 512, 65000, "65000", NULL,
           "UDP datagram bound, bytes"),
    ALIAS("max_packet_size", "reporter.max_packet_size", 0, 0, "same as reporter.max_packet_size"),
    NATIVE("reporter.timeout_ms", TWK_INT, 0, timeout_ms, 1, 3600000, "5000",
           "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT",
           "HTTP export budget, ms: every attempt, backoff and Retry-After wait of one batch"),
    ALIAS("reporter_timeout", "reporter.timeout_ms", 0, 1000, "seconds"),
    NATIVE("reporter.retries", TWK_INT, 0, retries, 0, 100, "3", NULL, "HTTP retries"),
    ALIAS("reporter_retries", "reporter.retries", 0, 0, "same as reporter.retries"),
    /* issue #15: a second thread in an nginx worker makes glibc take its
     * multi-thread paths in every syscall wrapper and in malloc (~460
     * instructions per request measured): the worker's loop sends instead */
    {"reporter.driver", TWK_SPECIAL, 0, F(reporter_driver), 0, 0, 0, NULL, "auto", NULL,
     "TRACEWIRE_REPORTER_DRIVER",
     "auto | thread | loop: who sends the spans. thread: a reporter thread per process; "
     "loop: the host's event loop (nginx module; needs reporter.protocols udp to an IP "
     "address and a sampler that does not poll; a face without a loop uses the thread); "
     "auto: loop when the host has one and the config allows it, else thread",
     set_reporter_driver, get_reporter_driver},

    /* the general key before the specific ones, so these win */
    SPECIAL("propagation", "propagation.inject", JC, set_propagation, NULL,
            "native: sets inject and extract; jaeger_client profile: sets inject, \"b3\" = X-B3-* headers"),
    /* jaeger_client writes uber-trace-id + uberctx-* only (B3 with "b3") */
    NATIVE_J("propagation.inject", TWK_FORMATS, 0, inject_formats, 0, 0, "jaeger,w3c", "jaeger",
           "OTEL_PROPAGATORS, JAEGER_PROPAGATION", "comma list of jaeger | w3c | b3 | b3multi | none"),
    NATIVE("propagation.extract", TWK_FORMATS, TWK_EXTRACT, extract_formats, 0, 0,
           "jaeger,w3c,b3,b3multi", "OTEL_PROPAGATORS, JAEGER_PROPAGATION", "same names"),
    NATIVE("trace_id_header", TWK_HEADER, JC, trace_id_header, 0, 0, "uber-trace-id", NULL,
           "Jaeger context header (lower-cased)"),
    NATIVE("baggage_header_prefix", TWK_HEADER, JC, baggage_header_prefix, 0, 0, "uberctx-", NULL,
           "Jaeger baggage header prefix (lower-cased)"),
    /* jaeger_client: 64-bit ids unless generate_128bit_trace_id (a 3.x
     * service drops the high half of a 128-bit id) */
    NATIVE_J("trace_id_128bit", TWK_BOOL, 0, trace_id_128bit, 0, 0, "true", "false",
             "JAEGER_TRACEID_128BIT",
           "true | false"),
    ALIAS("generate_128bit_trace_id", "trace_id_128bit", JC, 0, "same as trace_id_128bit"),
    NATIVE("max_tag_value_length", TWK_INT, JC, max_tag_value_length, 1, 1 << 24, "1024", NULL,
           "bytes"),
    NATIVE("max_baggage_size", TWK_INT, 0, max_baggage_size, 1, 1 << 24, "8192", NULL,
           "bytes per header"),

    NATIVE("max_traceback_length", TWK_INT, JC, max_traceback_length, 1, 1 << 24, "4096", NULL,
           "bytes of a log's \"stack\" field (the error log's traceback), as jaeger_client"),

    /* jaeger_client's debug id header: a carrier holding it (and no trace
     * context) starts a debug trace tagged with its value (span.c). Kept as
     * given: jaeger_client matches it case-insensitively and names the tag
     * exactly as configured. */
    NATIVE("debug_id_header", TWK_HEADER, JC | TWK_ASIS, debug_id_header, 0, 0, "jaeger-debug-id",
           NULL, "header (matched case-insensitively) whose value, in a carrier without a trace "
           "context, starts a sampled+debug trace tagged <debug_id_header>=value"),
    /* jaeger_client's throttler group (throttler.c): present = on */
    NATIVE("throttler", TWK_BOOL, JC, throttler, 0, 0, "false", NULL,
           "debug-span throttling with credits from the agent; setting any throttler.* key "
           "turns it on unless it was set"),
    NATIVE("throttler.port", TWK_INT, JC, throttler_port, 1, 65535, "5778", NULL,
           "agent port of GET /credits (host: reporter.agent_host)"),
    NATIVE("throttler.refresh_interval_ms", TWK_INT, 0, throttler_refresh_ms, 1, 86400000,
           "5000", NULL, "ms between credit requests"),
    ALIAS("throttler.refresh_interval", "throttler.refresh_interval_ms", JC, 1000, "seconds"),
    /* jaeger-client-go's baggage_restrictions group (baggage_restrictions.c;
     * jaeger_client 4.8 has no restriction manager): present = on */
    NATIVE("baggage_restrictions", TWK_BOOL, 0, baggage_restrictions, 0, 0, "false", NULL,
           "baggage keys and value lengths from the agent; setting any baggage_restrictions.* "
           "key turns it on unless it was set"),
    NATIVE("baggage_restrictions.host_port", TWK_STR, 0, baggage_restrictions_host_port, 0, 0,
           "", NULL, "host:port of GET /baggageRestrictions (empty: reporter.agent_host:5778)"),
    NATIVE("baggage_restrictions.refresh_interval_ms", TWK_INT, 0,
           baggage_restrictions_refresh_ms, 1, 86400000, "60000", NULL,
           "ms between restriction requests"),
    ALIAS("baggage_restrictions.refresh_interval", "baggage_restrictions.refresh_interval_ms",
          0, 1000, "seconds"),
    NATIVE("baggage_restrictions.deny_baggage_on_initialization_failure", TWK_BOOL, 0,
           baggage_restrictions_deny, 0, 0, "false", NULL,
           "true: no baggage is set until restrictions arrived; false: any key, values cut "
           "at 2048 bytes"),

    /* jaeger_client keys tracewire accepts and does not act on (#20): each
     * face names them in a warning (python/tracewire/config.py) */
    IGNORED("metrics", JC, "accepted, not acted on"),
    IGNORED("span_context_header_keys", 0, "accepted, not acted on"),
    IGNORED("span_context_header_keys.", TWK_PREFIX, "accepted, not acted on"),
};
const size_t twp_config_nkeys = sizeof twp_config_keys / sizeof twp_config_keys[0];
_Static_assert(sizeof twp_config_keys / sizeof twp_config_keys[0] <=
                   8 * sizeof(((tw_config *)0)->explicit_keys),
               "tw_config.explicit_keys needs a bit per row of the key table");

const twp_env_row twp_env_rows[] = {
    /* OpenTelemetry names (lowest) */
    {"OTEL_RESOURCE_ATTRIBUTES", "tags", TWE_RESOURCE_ATTRS},
    {"OTEL_SERVICE_NAME", "service_name", TWE_SET},
    {"OTEL_TRACES_SAMPLER", "sampler.type", TWE_SET},
    {"OTEL_TRACES_SAMPLER_ARG", "sampler.param", TWE_SAMPLER_ARG},
    {"OTEL_PROPAGATORS", "propagation", TWE_SET},
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "reporter.otlp_endpoint", TWE_OTLP_SIGNAL},
    {"OTEL_EXPORTER_OTLP_ENDPOINT", "reporter.otlp_endpoint", TWE_OTLP_GENERIC},
    /* OTLP exporter options: the generic variable, then the per-signal one
     * (later rows win, as the spec's "signal-specific takes precedence") */
    {"OTEL_EXPORTER_OTLP_PROTOCOL", "reporter.otlp_protocol", TWE_OTLP_PROTOCOL},
    {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "reporter.otlp_protocol", TWE_OTLP_PROTOCOL},
    {"OTEL_EXPORTER_OTLP_HEADERS", "reporter.otlp_headers", TWE_SET},
    {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "reporter.otlp_headers", TWE_SET},
    {"OTEL_EXPORTER_OTLP_TIMEOUT", "reporter.timeout_ms", TWE_SET},
    {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "reporter.timeout_ms", TWE_SET},
    {"OTEL_EXPORTER_OTLP_COMPRESSION", "reporter.otlp_compression", TWE_SET},
    {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "reporter.otlp_compression", TWE_SET},
    {"OTEL_EXPORTER_OTLP_CERTIFICATE", "reporter.tls_ca", TWE_SET},
    {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "reporter.tls_ca", TWE_SET},
    {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "reporter.tls_cert", TWE_SET},
    {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "reporter.tls_cert", TWE_SET},
    {"OTEL_EXPORTER_OTLP_CLIENT_KEY", "reporter.tls_key", TWE_SET},
    {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "reporter.tls_key", TWE_SET},
    /* after the endpoints: a named exporter beats "an endpoint selects otlp" */
    {"OTEL_TRACES_EXPORTER", "reporter.protocols", TWE_TRACES_EXPORTER},
    /* Jaeger names (win over OTEL) */
    {"JAEGER_SERVICE_NAME", "service_name", TWE_SET},
    {"JAEGER_AGENT_HOST", "reporter.agent_host", TWE_SET},
    {"JAEGER_AGENT_PORT", "reporter.agent_port", TWE_SET},
    {"JAEGER_ENDPOINT", "reporter.endpoint", TWE_JAEGER_ENDPOINT},
    {"JAEGER_SAMPLER_TYPE", "sampler.type", TWE_SET},
    {"JAEGER_SAMPLER_PARAM", "sampler.param", TWE_SET},
    {"JAEGER_SAMPLER_MANAGER_HOST_PORT", "sampler.url", TWE_HOST_PORT_URL},
    {"JAEGER_SAMPLING_ENDPOINT", "sampler.url", TWE_SET},
    {"JAEGER_TAGS", "tags", TWE_TAGS_AFTER_OTEL},
    {"JAEGER_PROPAGATION", "propagation", TWE_SET},
    {"JAEGER_TRACEID_128BIT", "trace_id_128bit", TWE_SET},
    {"TRACEWIRE_REPORTER_DRIVER", "reporter.driver", TWE_SET},
    /* last: disabling wins over every other variable */
    {"OTEL_SDK_DISABLED", "reporter.protocols", TWE_SDK_DISABLED},
};
const size_t twp_env_nrows = sizeof twp_env_rows / sizeof twp_env_rows[0];

/* ------------------------------------------------------------ lookup */

const twp_config_key *twp_config_key_find(const char *key)
{
    const twp_config_key *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        size_t n = strlen(k->name);
        if (k->name[n - 1] == '.' && (k->flags & TWK_PREFIX)) {
            /* a prefix row needs something after the dot */
            if (strncmp(key, k->name, n) == 0 && key[n] && n > best_len) {
                best = k;
                best_len = n;
            }
        } else if (strcmp(key, k->name) == 0) {
            return k;
        }
    }
    return best;
}

bool twp_config_key_owns_string(const twp_config_key *k)
{
    if (k->flags & TWK_ALIAS)
        return false;
    switch (k->codec) {
    case TWK_STR: case TWK_URL: case TWK_HOST: case TWK_HEADER: case TWK_TAGS: case TWK_HEADERS:
        return true;
    default:
        return false;
    }
}

const char *twp_config_key_default(const twp_config_key *k, twp_config_profile p)
{
    if (p == TWP_PROFILE_JAEGER_CLIENT && k->def_jaeger)
        return k->def_jaeger;
    return k->def;
}

/* ------------------------------------------------------------ set */

tw_status twp_config_key_set(tw_config *c, const twp_config_key *k, const char *key, const char *v)
{
    int i;
    double d;
    bool b;
    unsigned u;

    switch (k->codec) {
    case TWK_STR:
        if ((k->flags & TWK_NONEMPTY) && !*v)
            return TW_ERR_CONFIG;
        return set_str(FIELD(c, k, char *), v, false);
    case TWK_URL:
        return valid_url(v) ? set_str(FIELD(c, k, char *), v, false) : TW_ERR_CONFIG;
    case TWK_HOST:
        return valid_host(v) ? set_str(FIELD(c, k, char *), v, false) : TW_ERR_CONFIG;
    case TWK_HEADER:
        return valid_header_name(v) ? set_str(FIELD(c, k, char *), v, !(k->flags & TWK_ASIS))
                                    : TW_ERR_CONFIG;
    case TWK_TAGS:
        return valid_tags(v) ? set_str(FIELD(c, k, char *), v, false) : TW_ERR_CONFIG;
    case TWK_HEADERS:
        return twp_http_headers_check(v) == TW_OK ? set_str(FIELD(c, k, char *), v, false)
                                                  : TW_ERR_CONFIG;
    case TWK_INT:
        if (!parse_int(v, k->lo, k->hi, &i))
            return TW_ERR_CONFIG;
        *FIELD(c, k, int) = i;
        return TW_OK;
    case TWK_DOUBLE:
        if (c->profile == TWP_PROFILE_JAEGER_CLIENT && c->sampler_type == TWP_SAMPLER_CONST &&
            k->off == offsetof(tw_config, sampler_param)) {
            /* jaeger_client: ConstSampler(get_boolean(param, False)) — only
             * "true" and "1" sample; "2", "yes", "0.5" sample none there */
            const char *s = v;
            size_t n = strlen(v);
            trim(&s, &n);
            *FIELD(c, k, double) = (word_eq(s, n, "true") || word_eq(s, n, "1")) ? 1 : 0;
            return TW_OK;
        }
        if (parse_double(v, k->lo, k->hi, &d))
            ;
        else if (parse_bool(v, &b))
            d = b ? 1 : 0;        /* jaeger_client's const sampler takes param: true */
        else
            return TW_ERR_CONFIG;
        if (c->sampler_type == TWP_SAMPLER_PROBABILISTIC && d > 1)
            return TW_ERR_CONFIG;
        *FIELD(c, k, double) = d;
        return TW_OK;
    case TWK_BOOL:
        if (!parse_bool(v, &b))
            return TW_ERR_CONFIG;
        *FIELD(c, k, bool) = b;
        return TW_OK;
    case TWK_PROTOCOLS:
        if (!parse_names(v, protocol_names, &u))
            return TW_ERR_CONFIG;
        *FIELD(c, k, unsigned) = u;
        return TW_OK;
    case TWK_FORMATS:
        if (!parse_names(v, format_names, &u))
            return TW_ERR_CONFIG;
        *FIELD(c, k, unsigned) = u;
        return TW_OK;
    case TWK_SAMPLER: {
        twp_sampler_type t;
        bool has_forced;
        if (!parse_sampler_type(v, &t, &b, &d, &has_forced))
            return TW_ERR_CONFIG;
        c->sampler_type = t;
        c->parent_based = b;
        if (has_forced)
            c->sampler_param = d;
        else if (c->profile == TWP_PROFILE_JAEGER_CLIENT && t == TWP_SAMPLER_CONST)
            c->sampler_param = 0;   /* jaeger_client: const without param samples none (a
                                     * sampler.param given too is a later row: it wins) */
        return TW_OK;
    }
    case TWK_PROFILE: {
        const char *s = v;
        size_t n = strlen(v);
        trim(&s, &n);
        if (word_eq(s, n, "native"))
            c->profile = TWP_PROFILE_NATIVE;
        else if (word_eq(s, n, "jaeger_client"))
            c->profile = TWP_PROFILE_JAEGER_CLIENT;
        else
            return TW_ERR_CONFIG;
        return TW_OK;
    }
    case TWK_SPECIAL:
        if (k->set)
            return k->set(c, key, v);
        if (k->scale) {
            /* seconds in: the target keeps its own bounds in its unit */
            char tmp[32];
            if (!parse_double(v, 0, 1e12, &d))
                return TW_ERR_CONFIG;
            snprintf(tmp, sizeof tmp, "%.0f", round(d * k->scale));
            return twp_config_key_set(c, row(k->target), k->target, tmp);
        }
        return twp_config_key_set(c, row(k->target), k->target, v);
    case TWK_IGNORED:
        return TW_OK;
    }
    return TW_ERR_UNSUPPORTED;
}

/* ------------------------------------------------------------ get */

tw_status twp_config_key_get(const tw_config *c, const twp_config_key *k, char *buf, size_t cap)
{
    char tmp[64];
    switch (k->codec) {
    case TWK_STR: case TWK_URL: case TWK_HOST: case TWK_HEADER: case TWK_TAGS: case TWK_HEADERS: {
        const char *s = *CFIELD(c, k, char *const);
        put(buf, cap, s ? s : "");
        return TW_OK;
    }
    case TWK_INT:
        snprintf(tmp, sizeof tmp, "%d", *CFIELD(c, k, int));
        put(buf, cap, tmp);
        return TW_OK;
    case TWK_DOUBLE: {
        double d = *CFIELD(c, k, double);
        /* shortest text that reads back as the same double */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
        put(buf, cap, tmp);
        return TW_OK;
    }
    case TWK_BOOL:
        put(buf, cap, *CFIELD(c, k, bool) ? "true" : "false");
        return TW_OK;
    case TWK_PROTOCOLS:
        list_names(*CFIELD(c, k, unsigned), protocol_names, buf, cap);
        return TW_OK;
    case TWK_FORMATS:
        list_names(*CFIELD(c, k, unsigned), format_names, buf, cap);
        return TW_OK;
    case TWK_SAMPLER:
        put(buf, cap, sampler_name(c));
        return TW_OK;
    case TWK_PROFILE:
        put(buf, cap, c->profile == TWP_PROFILE_JAEGER_CLIENT ? "jaeger_client" : "native");
        return TW_OK;
    case TWK_SPECIAL:
        if (k->get)
            return k->get(c, buf, cap);
        return twp_config_key_get(c, row(k->target), buf, cap);
    case TWK_IGNORED:
        return TW_ERR_NOT_FOUND;
    }
    return TW_ERR_UNSUPPORTED;
}
