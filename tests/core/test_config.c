/* test_config.c — every key through tw_config_set/get, bad values leaving the
 * config unchanged, and the environment with its documented precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "propagation.h"

static const char *ENV_VARS[] = {
    "JAEGER_SERVICE_NAME", "JAEGER_AGENT_HOST", "JAEGER_AGENT_PORT", "JAEGER_ENDPOINT",
    "JAEGER_SAMPLER_TYPE", "JAEGER_SAMPLER_PARAM", "JAEGER_SAMPLER_MANAGER_HOST_PORT",
    "JAEGER_SAMPLING_ENDPOINT", "JAEGER_TAGS", "JAEGER_PROPAGATION", "JAEGER_TRACEID_128BIT",
    "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
};

static int clean_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ENV_VARS) / sizeof(ENV_VARS[0]); i++)
        unsetenv(ENV_VARS[i]);
    return 0;
}

static tw_config *fresh(void)
{
    tw_config *c;
    assert_int_equal(tw_config_new(&c), TW_OK);
    return c;
}

static void expect(const tw_config *c, const char *key, const char *want)
{
    char buf[256];
    assert_int_equal(tw_config_get(c, key, buf, sizeof buf), TW_OK);
    if (strcmp(buf, want) != 0)
        fail_msg("%s: got '%s', want '%s'", key, buf, want);
}

static const struct { const char *key, *def; } DEFAULTS[] = {
    {"service_name", "unknown_service"},
    {"tags", ""},
    {"sampler.type", "const"},
    {"sampler.param", "1"},
    {"sampler.url", "http://127.0.0.1:5778/sampling"},
    {"sampler.refresh_ms", "60000"},
    {"reporter.protocols", "udp"},
    {"reporter.agent_host", "127.0.0.1"},
    {"reporter.agent_port", "6831"},
    {"reporter.endpoint", "http://127.0.0.1:14268/api/traces"},
    {"reporter.otlp_endpoint", "http://127.0.0.1:4318/v1/traces"},
    {"reporter.queue_size", "10000"},
    {"reporter.batch_size", "100"},
    {"reporter.flush_interval_ms", "1000"},
    {"reporter.max_packet_size", "65000"},
    {"reporter.timeout_ms", "5000"},
    {"reporter.retries", "3"},
    {"propagation.inject", "jaeger,w3c"},
    {"propagation.extract", "jaeger,w3c,b3,b3multi"},
    {"trace_id_header", "uber-trace-id"},
    {"baggage_header_prefix", "uberctx-"},
    {"trace_id_128bit", "true"},
    {"max_tag_value_length", "1024"},
    {"max_baggage_size", "8192"},
};

static void defaults_match_the_header(void **state)
{
    (void)state;
    tw_config *c = fresh();
    for (size_t i = 0; i < sizeof(DEFAULTS) / sizeof(DEFAULTS[0]); i++)
        expect(c, DEFAULTS[i].key, DEFAULTS[i].def);
    assert_true(c->parent_based);
    assert_int_equal(c->protocols, TWP_PROTO_UDP);
    tw_config_free(c);
    tw_config_free(NULL);
}

/* key, good value, value read back, bad values */
static const struct { const char *key, *good, *back, *bad[4]; } CASES[] = {
    {"service_name", "checkout", "checkout", {""}},
    {"tags", "a=1, b=two", "a=1, b=two", {"novalue", "=x", "a=1,b"}},
    {"sampler.type", "probabilistic", "probabilistic", {"sometimes", "", "const2"}},
    {"sampler.param", "0.1", "0.1", {"abc", "-1", "nan", "1e99"}},
    {"sampler.url", "http://agent:5778/sampling", "http://agent:5778/sampling", {"agent:5778", "ftp://x"}},
    {"sampler.refresh_ms", "500", "500", {"0", "-5", "ten", "99999999999"}},
    {"reporter.protocols", "http, otlp,memory", "http,otlp,memory", {"udp,carrier-pigeon", "grpc"}},
    {"reporter.agent_host", "jaeger.local", "jaeger.local", {"", "a b", "x/y"}},
    {"reporter.agent_port", "6832", "6832", {"0", "65536", "port", "12x"}},
    {"reporter.endpoint", "https://c:14268/api/traces", "https://c:14268/api/traces", {"c:14268"}},
    {"reporter.otlp_endpoint", "http://o:4318/v1/traces", "http://o:4318/v1/traces", {"o:4318"}},
    {"reporter.queue_size", "50", "50", {"0", "-1", "many"}},
    {"reporter.batch_size", "10", "10", {"0", "x"}},
    {"reporter.flush_interval_ms", "250", "250", {"0", "1.5"}},
    {"reporter.max_packet_size", "1500", "1500", {"100", "70000"}},
    {"reporter.timeout_ms", "100", "100", {"0", ""}},
    {"reporter.retries", "0", "0", {"-1", "101"}},
    {"propagation.inject", "b3multi,jaeger", "jaeger,b3multi", {"zipkin", "w3c,,x"}},
    {"propagation.extract", "w3c", "w3c", {"nope"}},
    {"trace_id_header", "X-Trace", "x-trace", {"", "bad header", "a:b"}},
    {"baggage_header_prefix", "Ctx-", "ctx-", {"", "p r"}},
    {"trace_id_128bit", "FALSE", "false", {"maybe", "2"}},
    {"max_tag_value_length", "64", "64", {"0", "-3", "big"}},
    {"max_baggage_size", "100", "100", {"0", "x"}},
};

static void every_key_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        tw_config *c = fresh();
        tw_status st = tw_config_set(c, CASES[i].key, CASES[i].good);
        if (st != TW_OK)
            fail_msg("%s=%s: %s", CASES[i].key, CASES[i].good, tw_strerror(st));
        expect(c, CASES[i].key, CASES[i].back);
        tw_config_free(c);
    }
}

static void bad_values_leave_the_config_unchanged(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        tw_config *c = fresh();
        assert_int_equal(tw_config_set(c, CASES[i].key, CASES[i].good), TW_OK);
        for (int j = 0; j < 4 && CASES[i].bad[j]; j++) {
            tw_status st = tw_config_set(c, CASES[i].key, CASES[i].bad[j]);
            if (st != TW_ERR_CONFIG)
                fail_msg("%s=%s accepted (%d)", CASES[i].key, CASES[i].bad[j], st);
            expect(c, CASES[i].key, CASES[i].back);
        }
        tw_config_free(c);
    }
}

static void probabilistic_param_is_bounded_by_one(void **state)
{
    (void)state;
    tw_config *c = fresh();
    assert_int_equal(tw_config_set(c, "sampler.param", "5"), TW_OK);   /* const: any >= 0 */
    assert_int_equal(tw_config_set(c, "sampler.type", "probabilistic"), TW_OK);
    assert_int_equal(tw_config_set(c, "sampler.param", "1.5"), TW_ERR_CONFIG);
    expect(c, "sampler.param", "5");
    assert_int_equal(tw_config_set(c, "sampler.type", "ratelimiting"), TW_OK);
    assert_int_equal(tw_config_set(c, "sampler.param", "150"), TW_OK);
    tw_config_free(c);
}

static void unknown_keys_and_bad_arguments(void **state)
{
    (void)state;
    tw_config *c = fresh();
    char buf[8];
    assert_int_equal(tw_config_set(c, "no.such.key", "1"), TW_ERR_UNSUPPORTED);
    assert_int_equal(tw_config_get(c, "no.such.key", buf, sizeof buf), TW_ERR_UNSUPPORTED);
    assert_int_equal(tw_config_set(NULL, "service_name", "x"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_config_set(c, NULL, "x"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_config_set(c, "service_name", NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_config_get(c, "service_name", NULL, 4), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_config_new(NULL), TW_ERR_INVALID_ARG);
    /* get truncates to the buffer */
    assert_int_equal(tw_config_get(c, "service_name", buf, sizeof buf), TW_OK);
    assert_string_equal(buf, "unknown");
    tw_config_free(c);
}

static void sampler_type_names(void **state)
{
    (void)state;
    const struct { const char *in; twp_sampler_type type; bool pb; double param; const char *back; } n[] = {
        {"const", TWP_SAMPLER_CONST, true, 1, "const"},
        {"probabilistic", TWP_SAMPLER_PROBABILISTIC, true, 1, "probabilistic"},
        {"ratelimiting", TWP_SAMPLER_RATELIMITING, true, 1, "ratelimiting"},
        {"remote", TWP_SAMPLER_REMOTE, true, 1, "remote"},
        {"parentbased_always_on", TWP_SAMPLER_CONST, true, 1, "const"},
        {"parentbased_always_off", TWP_SAMPLER_CONST, true, 0, "const"},
        {"parentbased_traceidratio", TWP_SAMPLER_PROBABILISTIC, true, 1, "probabilistic"},
        {"always_off", TWP_SAMPLER_CONST, false, 0, "always_off"},
        {"traceidratio", TWP_SAMPLER_PROBABILISTIC, false, 1, "traceidratio"},
        {"parentbased_jaeger_remote", TWP_SAMPLER_REMOTE, true, 1, "remote"},
    };
    for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
        tw_config *c = fresh();
        assert_int_equal(tw_config_set(c, "sampler.type", n[i].in), TW_OK);
        assert_int_equal(c->sampler_type, n[i].type);
        assert_int_equal(c->parent_based, n[i].pb);
        assert_true(c->sampler_param == n[i].param);
        expect(c, "sampler.type", n[i].back);
        tw_config_free(c);
    }
}

static void propagation_sets_both_directions(void **state)
{
    (void)state;
    tw_config *c = fresh();
    assert_int_equal(tw_config_set(c, "propagation", "b3,w3c"), TW_OK);
    assert_int_equal(c->inject_formats, TW_PROP_B3_SINGLE | TW_PROP_W3C);
    assert_int_equal(c->extract_formats, TW_PROP_B3_SINGLE | TW_PROP_W3C);
    assert_int_equal(tw_config_set(c, "propagation.inject", "none"), TW_OK);
    assert_int_equal(c->inject_formats, 0);
    expect(c, "propagation.inject", "none");
    assert_int_equal(tw_config_set(c, "reporter.protocols", "none"), TW_OK);
    assert_int_equal(c->protocols, 0);
    expect(c, "reporter.protocols", "none");
    tw_config_free(c);
}

/* ---------------------------------------------------------------- env */

static tw_config *from_env(tw_status want, const char *want_bad)
{
    tw_config *c = fresh();
    const char *bad = "untouched";
    assert_int_equal(tw_config_from_env(c, &bad), want);
    if (want_bad)
        assert_string_equal(bad, want_bad);
    else
        assert_null(bad);
    return c;
}

static void jaeger_variables_are_applied(void **state)
{
    (void)state;
    setenv("JAEGER_SERVICE_NAME", "jsvc", 1);
    setenv("JAEGER_AGENT_HOST", "agent.local", 1);
    setenv("JAEGER_AGENT_PORT", "6832", 1);
    setenv("JAEGER_SAMPLER_TYPE", "probabilistic", 1);
    setenv("JAEGER_SAMPLER_PARAM", "0.5", 1);
    setenv("JAEGER_SAMPLER_MANAGER_HOST_PORT", "mgr:5778", 1);
    setenv("JAEGER_TAGS", "env=prod,region=eu", 1);
    setenv("JAEGER_PROPAGATION", "b3", 1);
    setenv("JAEGER_TRACEID_128BIT", "false", 1);
    tw_config *c = from_env(TW_OK, NULL);
    expect(c, "service_name", "jsvc");
    expect(c, "reporter.agent_host", "agent.local");
    expect(c, "reporter.agent_port", "6832");
    expect(c, "sampler.type", "probabilistic");
    expect(c, "sampler.param", "0.5");
    expect(c, "sampler.url", "http://mgr:5778/sampling");
    expect(c, "tags", "env=prod,region=eu");
    expect(c, "propagation.inject", "b3");
    expect(c, "propagation.extract", "b3");
    expect(c, "trace_id_128bit", "false");
    expect(c, "reporter.protocols", "udp");
    tw_config_free(c);
}

static void jaeger_endpoint_switches_to_http(void **state)
{
    (void)state;
    setenv("JAEGER_ENDPOINT", "http://collector:14268/api/traces", 1);
    tw_config *c = from_env(TW_OK, NULL);
    expect(c, "reporter.endpoint", "http://collector:14268/api/traces");
    expect(c, "reporter.protocols", "http");
    tw_config_free(c);
    /* protocols chosen in code before from_env are left alone */
    c = fresh();
    assert_int_equal(tw_config_set(c, "reporter.protocols", "otlp"), TW_OK);
    assert_int_equal(tw_config_from_env(c, NULL), TW_OK);
    expect(c, "reporter.protocols", "otlp");
    tw_config_free(c);
}

/* tw_config_from_env_for: the environment read under the profile the pairs
 * name, then the pairs; what both faces do (Python Config, Lua profile=). */
static void env_is_read_under_the_profile_the_options_name(void **state)
{
    (void)state;
    setenv("JAEGER_AGENT_HOST", "agent.example", 1);
    setenv("JAEGER_SAMPLER_TYPE", "const", 1);
    const char *keys[] = {"service_name", "profile"};
    const char *vals[] = {"svc", "jaeger_client"};
    const char *bad = "x";
    tw_config *c = fresh();
    assert_int_equal(tw_config_from_env_for(c, 2, keys, vals, &bad), TW_OK);
    assert_null(bad);
    assert_int_equal(tw_config_set_many(c, 2, keys, vals, NULL), TW_OK);
    expect(c, "profile", "jaeger_client");
    expect(c, "reporter.agent_host", "agent.example");
    expect(c, "sampler.url", "http://agent.example:5778/sampling");   /* jaeger_client's */
    expect(c, "sampler.type", "const");
    expect(c, "sampler.param", "0");        /* const without param: samples none */
    expect(c, "trace_id_128bit", "false");
    tw_config_free(c);
    /* no profile among the pairs: the native meanings */
    c = fresh();
    assert_int_equal(tw_config_from_env_for(c, 1, keys, vals, NULL), TW_OK);
    expect(c, "profile", "native");
    expect(c, "sampler.url", "http://127.0.0.1:5778/sampling");
    expect(c, "sampler.param", "1");
    tw_config_free(c);
    /* a bad profile name is left for set_many, which names it */
    const char *bk[] = {"profile"}, *bv[] = {"nonsense"};
    size_t at = 9;
    c = fresh();
    assert_int_equal(tw_config_from_env_for(c, 1, bk, bv, NULL), TW_OK);
    assert_int_equal(tw_config_set_many(c, 1, bk, bv, &at), TW_ERR_CONFIG);
    assert_int_equal(at, 0);
    assert_int_equal(tw_config_from_env_for(NULL, 0, NULL, NULL, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_config_from_env_for(c, 1, NULL, NULL, NULL), TW_ERR_INVALID_ARG);
    tw_config_free(c);
}

static void otel_variables_are_applied(void **state)
{
    (void)state;
    setenv("OTEL_SERVICE_NAME", "osvc", 1);
    setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored,deployment.environment=staging", 1);
    setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio", 1);
    setenv("OTEL_TRACES_SAMPLER_ARG", "0.125", 1);
    setenv("OTEL_PROPAGATORS", "tracecontext,baggage,b3multi", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318/", 1);
    tw_config *c = from_env(TW_OK, NULL);
    expect(c, "service_name", "osvc");
    expect(c, "tags", "deployment.environment=staging");
    expect(c, "sampler.type", "probabilistic");
    assert_true(c->parent_based);
    expect(c, "sampler.param", "0.125");
    expect(c, "propagation.inject", "w3c,b3multi");
    expect(c, "reporter.otlp_endpoint", "http://otel:4318/v1/traces");
    tw_config_free(c);

    setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/custom", 1);
    unsetenv("OTEL_SERVICE_NAME");
    setenv("OTEL_TRACES_SAMPLER", "always_off", 1);
    c = from_env(TW_OK, NULL);
    expect(c, "reporter.otlp_endpoint", "http://traces:4318/custom");
    expect(c, "service_name", "ignored");   /* service.name used without OTEL_SERVICE_NAME */
    expect(c, "sampler.type", "always_off");
    assert_false(c->parent_based);
    tw_config_free(c);
}

static void otel_jaeger_remote_argument(void **state)
{
    (void)state;
    setenv("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote", 1);
    setenv("OTEL_TRACES_SAMPLER_ARG",
           "endpoint=http://agent:5778/sampling,pollingIntervalMs=5000,initialSamplingRate=0.25", 1);
    tw_config *c = from_env(TW_OK, NULL);
    expect(c, "sampler.type", "remote");
    expect(c, "sampler.url", "http://agent:5778/sampling");
    expect(c, "sampler.refresh_ms", "5000");
    expect(c, "sampler.param", "0.25");
    tw_config_free(c);
}

static void jaeger_wins_over_otel_and_code_wins_over_env(void **state)
{
    (void)state;
    setenv("OTEL_SERVICE_NAME", "from-otel", 1);
    setenv("JAEGER_SERVICE_NAME", "from-jaeger", 1);
    setenv("OTEL_TRACES_SAMPLER", "traceidratio", 1);
    setenv("OTEL_TRACES_SAMPLER_ARG", "0.3", 1);
    setenv("JAEGER_SAMPLER_TYPE", "ratelimiting", 1);
    setenv("JAEGER_SAMPLER_PARAM", "7", 1);
    setenv("OTEL_PROPAGATORS", "b3", 1);
    setenv("JAEGER_PROPAGATION", "jaeger", 1);
    setenv("OTEL_RESOURCE_ATTRIBUTES", "a=otel,b=otel", 1);
    setenv("JAEGER_TAGS", "b=jaeger", 1);
    tw_config *c = fresh();
    assert_int_equal(tw_config_set(c, "service_name", "before-env"), TW_OK);
    assert_int_equal(tw_config_from_env(c, NULL), TW_OK);
    expect(c, "service_name", "from-jaeger");
    expect(c, "sampler.type", "ratelimiting");
    expect(c, "sampler.param", "7");
    expect(c, "propagation.inject", "jaeger");
    expect(c, "tags", "a=otel,b=otel,b=jaeger");
    assert_int_equal(tw_config_set(c, "service_name", "from-code"), TW_OK);
    expect(c, "service_name", "from-code");
    tw_config_free(c);
}

static void a_bad_variable_is_named_and_the_rest_applied(void **state)
{
    (void)state;
    setenv("JAEGER_SERVICE_NAME", "good", 1);
    setenv("JAEGER_AGENT_PORT", "not-a-port", 1);
    setenv("JAEGER_SAMPLER_PARAM", "-3", 1);
    setenv("JAEGER_TRACEID_128BIT", "false", 1);
    tw_config *c = from_env(TW_ERR_CONFIG, "JAEGER_AGENT_PORT");
    expect(c, "service_name", "good");
    expect(c, "reporter.agent_port", "6831");
    expect(c, "sampler.param", "1");
    expect(c, "trace_id_128bit", "false");
    tw_config_free(c);

    clean_env(NULL);
    setenv("OTEL_PROPAGATORS", "carrier-pigeon", 1);
    setenv("JAEGER_SAMPLER_MANAGER_HOST_PORT", "no-port-here", 1);
    c = from_env(TW_ERR_CONFIG, "OTEL_PROPAGATORS");
    expect(c, "propagation.inject", "jaeger,w3c");
    expect(c, "sampler.url", "http://127.0.0.1:5778/sampling");
    tw_config_free(c);
}

static void empty_environment_changes_nothing(void **state)
{
    (void)state;
    setenv("JAEGER_SERVICE_NAME", "", 1);
    tw_config *c = from_env(TW_OK, NULL);
    for (size_t i = 0; i < sizeof(DEFAULTS) / sizeof(DEFAULTS[0]); i++)
        expect(c, DEFAULTS[i].key, DEFAULTS[i].def);
    tw_config_free(c);
    assert_int_equal(tw_config_from_env(NULL, NULL), TW_ERR_INVALID_ARG);
}

static void tracer_copies_the_config(void **state)
{
    (void)state;
    tw_config *c = fresh();
    assert_int_equal(tw_config_set(c, "service_name", "copied"), TW_OK);
    assert_int_equal(tw_config_set(c, "reporter.protocols", "memory"), TW_OK);
    tw_tracer *t;
    assert_int_equal(tw_tracer_new(c, &t), TW_OK);
    assert_int_equal(tw_config_set(c, "service_name", "changed"), TW_OK);
    tw_config_free(c);
    assert_string_equal(tw_tracer_service_name(t), "copied");
    const tw_config *tc = twp_tracer_config(t);
    char buf[64];
    assert_int_equal(tw_config_get(tc, "reporter.protocols", buf, sizeof buf), TW_OK);
    assert_string_equal(buf, "memory");
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_match_the_header, clean_env),
        cmocka_unit_test_setup(every_key_round_trips, clean_env),
        cmocka_unit_test_setup(bad_values_leave_the_config_unchanged, clean_env),
        cmocka_unit_test_setup(probabilistic_param_is_bounded_by_one, clean_env),
        cmocka_unit_test_setup(unknown_keys_and_bad_arguments, clean_env),
        cmocka_unit_test_setup(sampler_type_names, clean_env),
        cmocka_unit_test_setup(propagation_sets_both_directions, clean_env),
        cmocka_unit_test_setup(jaeger_variables_are_applied, clean_env),
        cmocka_unit_test_setup(jaeger_endpoint_switches_to_http, clean_env),
        cmocka_unit_test_setup(otel_variables_are_applied, clean_env),
        cmocka_unit_test_setup(otel_jaeger_remote_argument, clean_env),
        cmocka_unit_test_setup(jaeger_wins_over_otel_and_code_wins_over_env, clean_env),
        cmocka_unit_test_setup(a_bad_variable_is_named_and_the_rest_applied, clean_env),
        cmocka_unit_test_setup(empty_environment_changes_nothing, clean_env),
        cmocka_unit_test_setup(tracer_copies_the_config, clean_env),
        cmocka_unit_test_setup(env_is_read_under_the_profile_the_options_name, clean_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
