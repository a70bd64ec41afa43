/* settings.c — tracewire.* configs, and changing them at run time.
 *
 * Every setting is a module string config (Redis 7.0's module configs):
 * settable in redis.conf ("tracewire.sampler-type probabilistic"), with
 * MODULE LOADEX … CONFIG, and, once loaded, with CONFIG SET; CONFIG GET and
 * INFO tracewire show the value in effect, whatever set it (MODULE LOAD
 * key=value arguments included).
 *
 * What may change at run time, and how. The tracer is immutable in the core,
 * so a change to a tracer setting (sampler, reporter protocols and
 * endpoints, tags) builds a new tracer from the updated configuration in the
 * config's apply callback and swaps it in: the next command uses it. The
 * swap is safe because every span this module starts is started and
 * finished inside one command on the main thread, and CONFIG SET runs
 * between commands: no span of the old tracer is alive. The old tracer is
 * then closed (its queue flushed, at most SWAP_CLOSE_MS on the main thread;
 * what is left is counted dropped_on_close) and its counters are kept, so
 * INFO's totals never go backwards. tq.spans and tq.max_item_size are plain
 * module variables read on every command.
 *
 * Fixed after load, with the reason given to CONFIG SET:
 *   service-name        — it names this server in every trace; changing it
 *                         while running splits one server's spans between
 *                         two services in Jaeger.
 *   propagation-inject  — it is the format of every carrier the module
 *                         stores and returns (stream fields, TQ.POP
 *                         carriers): consumers built for one format would
 *                         stop finding the context mid-queue.
 * Both are accepted as registered configs at load time, as before.
 *
 * Every other tw_config_set key is a MODULE LOAD argument only (README.md,
 * "Settings at run time", says why for each group): the agent controls keep
 * state in the tracer (throttler credits, fetched baggage restrictions) that a
 * swap would start over; reporter.otlp_headers / http_headers may hold
 * credentials that CONFIG GET would show; propagation.extract decides which
 * stored carriers are read, like propagation-inject.
 *
 * A value that the core refuses leaves the setting unchanged (CONFIG SET
 * answers the core's reason); if building the new tracer fails, Redis
 * restores the old values through the same callbacks.
 */
#include "settings.h"
#include "module.h"
#include "trace.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWAP_CLOSE_MS 200

enum kind { TRACER, SPANS, MAX_ITEM, FIXED };

static const struct setting {
    const char *name;     /* config name after "tracewire." */
    const char *key;      /* tw_config_set key (TRACER and FIXED) */
    enum kind kind;
    const char *why;      /* FIXED: why it cannot change at run time */
} settings[] = {
    { "service-name", "service_name", FIXED,
      "it names this server in every trace; changing it while running would split one "
      "server's spans between two services (set it in redis.conf or MODULE LOADEX and restart)" },
    { "sampler-type", "sampler.type", TRACER, NULL },
    { "sampler-param", "sampler.param", TRACER, NULL },
    { "reporter-protocols", "reporter.protocols", TRACER, NULL },
    { "reporter-agent-host", "reporter.agent_host", TRACER, NULL },
    { "reporter-agent-port", "reporter.agent_port", TRACER, NULL },
    { "reporter-endpoint", "reporter.endpoint", TRACER, NULL },
    { "reporter-otlp-endpoint", "reporter.otlp_endpoint", TRACER, NULL },
    { "tags", "tags", TRACER, NULL },
    { "sampler-url", "sampler.url", TRACER, NULL },
    { "sampler-refresh-ms", "sampler.refresh_ms", TRACER, NULL },
    { "reporter-otlp-protocol", "reporter.otlp_protocol", TRACER, NULL },
    { "reporter-otlp-compression", "reporter.otlp_compression", TRACER, NULL },
    { "reporter-timeout-ms", "reporter.timeout_ms", TRACER, NULL },
    { "trace-id-128bit", "trace_id_128bit", TRACER, NULL },
    { "debug-id-header", "debug_id_header", TRACER, NULL },
    { "propagation-inject", "propagation.inject", FIXED,
      "it is the format of every carrier the module stores and returns; consumers would stop "
      "finding the context mid-queue (set it in redis.conf or MODULE LOADEX and restart)" },
    { "spans", NULL, SPANS, NULL },
    { "max-item-size", NULL, MAX_ITEM, NULL },
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static tw_config *cfg;                        /* effective configuration */
static RedisModuleString *last_get[NSETTINGS];   /* last value handed to CONFIG GET */
static int loaded;                            /* OnLoad finished: sets are run-time changes */
static int tracer_dirty;                      /* a tracer setting changed since the last apply */
static unsigned long long replacements;
static tw_counters retired;                   /* sum over replaced tracers */

tw_config *twrm_settings_config(void) { return cfg; }
void twrm_settings_loaded(void) { loaded = 1; }

const char *twrm_parse_max_item(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *v == '\0' || *end != '\0' || *v == '-' || n == 0 || n > UINT32_MAX - 65536ULL)
        return "must be an integer 1..4294901759";
    *out = (size_t)n;
    return NULL;
}

static void value_of(size_t i, char *buf, size_t cap)
{
    buf[0] = '\0';
    switch (settings[i].kind) {
    case SPANS:
        snprintf(buf, cap, "%s", twrm_g.spans ? "on" : "off");
        break;
    case MAX_ITEM:
        snprintf(buf, cap, "%zu", twrm_g.max_item);
        break;
    default:
        if (cfg)
            tw_config_get(cfg, settings[i].key, buf, cap);
    }
}

static RedisModuleString *config_get(const char *name, void *privdata)
{
    size_t i = (size_t)(uintptr_t)privdata;
    char buf[1024];
    (void)name;
    value_of(i, buf, sizeof buf);
    RedisModuleString *v = RedisModule_CreateString(NULL, buf, strlen(buf));
    if (last_get[i])
        RedisModule_FreeString(NULL, last_get[i]);
    last_get[i] = v;
    return v;
}

static int fail(RedisModuleString **err, const char *fmt, const char *a, const char *b)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a, b);
    *err = RedisModule_CreateString(NULL, msg, strlen(msg));
    return REDISMODULE_ERR;
}

static int config_set(const char *name, RedisModuleString *val, void *privdata,
                      RedisModuleString **err)
{
    size_t i = (size_t)(uintptr_t)privdata, len;
    const struct setting *s = &settings[i];
    const char *v = RedisModule_StringPtrLen(val, &len);
    (void)name;
    if (!loaded && len == 0)       /* the registered default "": keep defaults/environment */
        return REDISMODULE_OK;
    if (loaded && s->kind == FIXED)
        return fail(err, "tracewire.%s cannot change at run time: %s", s->name, s->why);
    if (memchr(v, '\0', len))
        return fail(err, "tracewire.%s: a NUL byte in the value%s", s->name, "");
    switch (s->kind) {
    case SPANS:
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
            return fail(err, "tracewire.%s must be on or off%s", s->name, "");
        twrm_g.spans = strcmp(v, "on") == 0;
        return REDISMODULE_OK;
    case MAX_ITEM: {
        size_t n;
        const char *why = twrm_parse_max_item(v, &n);
        if (why)
            return fail(err, "tracewire.%s %s", s->name, why);
        twrm_g.max_item = n;
        return REDISMODULE_OK;
    }
    default: {
        tw_status st = cfg ? tw_config_set(cfg, s->key, v) : TW_ERR_CONFIG;
        if (st != TW_OK)
            return fail(err, "tracewire.%s: %s", s->name, tw_strerror(st));
        if (loaded)
            tracer_dirty = 1;
        return REDISMODULE_OK;
    }
    }
}

/* Every field of tw_counters is a uint64_t counter: summed field by field,
 * so counters the core adds later are summed too. */
static void add_counters(tw_counters *sum, const tw_counters *c)
{
    _Static_assert(sizeof(tw_counters) % sizeof(uint64_t) == 0, "tw_counters holds uint64_t only");
    uint64_t *d = (uint64_t *)(void *)sum;
    const uint64_t *a = (const uint64_t *)(const void *)c;
    for (size_t i = 0; i < sizeof(tw_counters) / sizeof(uint64_t); i++)
        d[i] += a[i];
}

/* Runs once per CONFIG SET command (per setting set, deduplicated by the
 * dirty flag): the new tracer replaces the old before the next command. */
static int config_apply(RedisModuleCtx *ctx, void *privdata, RedisModuleString **err)
{
    (void)privdata;
    if (!tracer_dirty)
        return REDISMODULE_OK;
    tracer_dirty = 0;
    tw_tracer *nt;
    tw_status st = twrm_tracer_new(cfg, &nt);
    if (st != TW_OK)
        return fail(err, "tracewire: cannot build a tracer from the new settings: %s%s",
                    tw_strerror(st), "");
    tw_tracer *old = twrm_g.tracer;
    twrm_g.tracer = nt;
    twrm_trace_setup(cfg);
    replacements++;
    if (old) {
        tw_counters c;
        tw_tracer_close(old, SWAP_CLOSE_MS);
        tw_tracer_counters(old, &c);
        add_counters(&retired, &c);
        tw_tracer_free(old);
    }
    RedisModule_Log(ctx, "notice", "tracewire: settings changed; tracer replaced");
    return REDISMODULE_OK;
}

/* Failures speak: the core's diagnostics (a dead agent or collector, a full
 * queue, a failed sampling poll), rate-limited by the core, go to the Redis
 * log. Called on the reporter thread: RedisModule_Log takes a NULL context
 * there (Redis then names the module generically; the line says tracewire).
 * Set on the settings' config, so every tracer built from it (CONFIG SET
 * replaces the tracer) speaks. */
static void diag_to_log(void *ud, tw_diag_kind kind, tw_status st, const char *msg, uint64_t n)
{
    (void)ud;
    (void)kind;
    (void)st;
    (void)n;
    RedisModule_Log(NULL, "warning", "%s", msg);
}

int twrm_settings_init(RedisModuleCtx *ctx)
{
    const char *bad_var = NULL;
    loaded = 0;
    tracer_dirty = 0;
    if (tw_config_new(&cfg) != TW_OK)
        return -1;
    tw_config_set_diagnostics(cfg, diag_to_log, NULL);
    /* Precedence: module defaults < environment (JAEGER_*, OTEL_*) < module
     * configs (redis.conf, MODULE LOADEX CONFIG) < MODULE LOAD args. The
     * stored and returned carriers default to W3C only: one header to write
     * per push and to parse per pop (the core still extracts every format). */
    tw_config_set(cfg, "service_name", "redis");
    tw_config_set(cfg, "propagation.inject", "w3c");
    if (tw_config_from_env(cfg, &bad_var) != TW_OK && bad_var)
        RedisModule_Log(ctx, "warning", "tracewire: ignoring malformed environment variable %s",
                        bad_var);
    if (RedisModule_RegisterStringConfig == NULL || RedisModule_LoadConfigs == NULL)
        return 0;                             /* before 7.0: MODULE LOAD args only */
    for (size_t i = 0; i < NSETTINGS; i++)
        if (RedisModule_RegisterStringConfig(ctx, settings[i].name, "", REDISMODULE_CONFIG_DEFAULT,
                                             config_get, config_set, config_apply,
                                             (void *)(uintptr_t)i) != REDISMODULE_OK) {
            RedisModule_Log(ctx, "warning", "tracewire: cannot register config %s",
                            settings[i].name);
            return -1;
        }
    return RedisModule_LoadConfigs(ctx) == REDISMODULE_OK ? 0 : -1;
}

void twrm_settings_free(void)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (last_get[i])
            RedisModule_FreeString(NULL, last_get[i]);
        last_get[i] = NULL;
    }
    tw_config_free(cfg);
    cfg = NULL;
    loaded = 0;
    memset(&retired, 0, sizeof retired);
    replacements = 0;
}

void twrm_settings_counters(tw_counters *out)
{
    memset(out, 0, sizeof *out);
    if (twrm_g.tracer)
        tw_tracer_counters(twrm_g.tracer, out);
    add_counters(out, &retired);
}

void twrm_settings_info(RedisModuleInfoCtx *ctx)
{
    char field[64], buf[1024];
    RedisModule_InfoAddSection(ctx, "settings");
    for (size_t i = 0; i < NSETTINGS; i++) {
        size_t n = 0;
        for (const char *p = settings[i].name; *p && n + 1 < sizeof field; p++)
            field[n++] = *p == '-' ? '_' : *p;
        field[n] = '\0';
        value_of(i, buf, sizeof buf);
        RedisModule_InfoAddFieldCString(ctx, field, buf);
    }
    RedisModule_InfoAddFieldULongLong(ctx, "tracer_replacements", replacements);
}
