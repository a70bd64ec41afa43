/* fuzz_config_env.c — tw_config_from_env(_for) with a fuzzed environment,
 * under the native or the jaeger_client profile (the input's first byte).
 * Input: lines "NAME=value". NAME is one of the variables tw_config_from_env
 * reads, or a single character 'a'..'z', then 'A'.. that picks one by index. Every variable
 * is unset again after the run. Checks: TW_OK with no bad_var, or
 * TW_ERR_CONFIG naming one of the variables that were set; every key reads
 * back and is a fix point of set/get.
 * The environment is swapped, not edited: environ points at this run's own
 * "NAME=value" array during the call (glibc's setenv never frees replaced
 * strings, which ran the fuzzer out of memory after 7M runs).
 * requires: core/src/config.c core/src/config_keys.c */
#include "fz_common.h"
#include "fz_config_keys.h"

static const char *const vars[] = {
    "JAEGER_SERVICE_NAME", "JAEGER_AGENT_HOST", "JAEGER_AGENT_PORT", "JAEGER_ENDPOINT",
    "JAEGER_SAMPLER_TYPE", "JAEGER_SAMPLER_PARAM", "JAEGER_SAMPLER_MANAGER_HOST_PORT",
    "JAEGER_SAMPLING_ENDPOINT", "JAEGER_TAGS", "JAEGER_PROPAGATION", "JAEGER_TRACEID_128BIT",
    "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED",
};
#define NVARS (sizeof vars / sizeof vars[0])

extern char **environ;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool set[NVARS] = { false };
    char *envs[NVARS + 1] = { NULL };
    const char *p = (const char *)data;
    size_t i = 0;
    while (i < size) {
        const char *nl = memchr(p + i, '\n', size - i);
        size_t len = nl ? (size_t)(nl - (p + i)) : size - i;
        const char *line = p + i;
        i += len + 1;
        const char *eq = memchr(line, '=', len);
        if (!eq)
            continue;
        size_t nl_ = (size_t)(eq - line);
        int idx = -1;
        if (nl_ == 1 && line[0] >= 'a' && line[0] <= 'z')
            idx = line[0] - 'a';
        else if (nl_ == 1 && line[0] >= 'A' && line[0] < 'A' + (int)NVARS - 26)
            idx = 26 + (line[0] - 'A');
        for (size_t v = 0; idx < 0 && v < NVARS; v++)
            if (strlen(vars[v]) == nl_ && memcmp(vars[v], line, nl_) == 0)
                idx = (int)v;
        if (idx < 0)
            continue;
        size_t vl = len - nl_ - 1, name_len = strlen(vars[idx]);
        char *kv = malloc(name_len + 1 + vl + 1);
        if (!kv)
            break;
        memcpy(kv, vars[idx], name_len);
        kv[name_len] = '=';
        memcpy(kv + name_len + 1, eq + 1, vl);
        kv[name_len + 1 + vl] = '\0';
        free(envs[idx]);           /* a later line for the same variable wins */
        envs[idx] = kv;
        set[idx] = true;
    }

    char *envp[NVARS + 1];
    size_t ne = 0;
    for (size_t v = 0; v < NVARS; v++)
        if (envs[v])
            envp[ne++] = envs[v];
    envp[ne] = NULL;
    char **saved = environ;
    environ = envp;

    tw_config *cfg = NULL;
    if (tw_config_new(&cfg) == TW_OK) {
        const char *bad = (const char *)(uintptr_t)1;
        /* read under either profile, as the faces do (tw_config_from_env_for:
         * the profile the options name, then tw_config_from_env) */
        const char *pk[] = {"profile"};
        const char *pv[] = {size && (data[0] & 1) ? "jaeger_client" : "native"};
        tw_status st = tw_config_from_env_for(cfg, 1, pk, pv, &bad);
        FZ_CHECK(st == TW_OK || st == TW_ERR_CONFIG || st == TW_ERR_NOMEM);
        if (st == TW_OK)
            FZ_CHECK(bad == NULL);
        if (st == TW_ERR_CONFIG) {
            FZ_CHECK(bad != NULL);
            bool known = false;
            /* the name, alone or followed by "=value (why)" */
            for (size_t v = 0; v < NVARS; v++) {
                size_t n = strlen(vars[v]);
                if (strncmp(bad, vars[v], n) == 0 && (bad[n] == '\0' || bad[n] == '='))
                    known = set[v] || known;
            }
            if (!known)
                fprintf(stderr, "bad_var \"%s\" was not set\n", bad);
            FZ_CHECK(known);
        }
        /* the keys the set variables map to, plus one picked by the input
         * (all 25 every run would cost 10x in libFuzzer's strcmp hooks) */
        static const char *const var_key[NVARS] = {
            "service_name", "reporter.agent_host", "reporter.agent_port", "reporter.endpoint",
            "sampler.type", "sampler.param", "sampler.url", "sampler.url", "tags", "propagation",
            "trace_id_128bit", "service_name", "tags", "sampler.type", "sampler.param",
            "propagation.extract", "reporter.otlp_endpoint", "reporter.otlp_endpoint",
            "reporter.otlp_protocol", "reporter.otlp_protocol", "reporter.otlp_headers",
            "reporter.otlp_headers", "reporter.timeout_ms", "reporter.timeout_ms",
            "reporter.otlp_compression", "reporter.otlp_compression", "reporter.tls_ca",
            "reporter.tls_ca", "reporter.tls_cert", "reporter.tls_cert", "reporter.tls_key",
            "reporter.tls_key", "reporter.protocols", "reporter.protocols",
        };
        for (size_t v = 0; v < NVARS; v++)
            if (set[v])
                fz_config_fixpoint(cfg, var_key[v]);
        fz_config_fixpoint(cfg, fz_config_key(size % fz_config_nkeys()));
        tw_config_free(cfg);
    }
    environ = saved;
    for (size_t v = 0; v < NVARS; v++)
        free(envs[v]);
    return 0;
}
