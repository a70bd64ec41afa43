/* test_sampler.c — sampling decisions: const, probabilistic and ratelimiting
 * rates, parent decisions, remote strategy JSON (good and bad), per-operation
 * strategies, and strategy swaps racing span starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "sampler.h"
#include "span_helpers.h"
#include "tracer.h"
#include "context.h"

static bool sampled(const tw_span *s)
{
    return (tw_span_context_flags(tw_span_get_context(s)) & TW_FLAG_SAMPLED) != 0;
}

/* Starts and frees n root spans named op; returns how many were sampled. */
static int count_sampled(tw_tracer *t, const char *op, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        tw_span *s;
        assert_int_equal(tw_span_start(t, op, strlen(op), NULL, 0, 0, &s), TW_OK);
        k += sampled(s);
        tw_span_finish(s, 0);
        tw_span_free(s);
    }
    return k;
}

static tw_tracer *none_tracer(const char *type, const char *param)
{
    tw_config *c;
    assert_int_equal(tw_config_new(&c), TW_OK);
    assert_int_equal(tw_config_set(c, "reporter.protocols", "none"), TW_OK);
    assert_int_equal(tw_config_set(c, "sampler.type", type), TW_OK);
    if (param)
        assert_int_equal(tw_config_set(c, "sampler.param", param), TW_OK);
    tw_tracer *t;
    assert_int_equal(tw_tracer_new(c, &t), TW_OK);
    tw_config_free(c);
    return t;
}

static void const_sampler_samples_all_or_nothing(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("const", "1");
    assert_int_equal(count_sampled(t, "op", 1000), 1000);
    tw_tracer_free(t);
    t = none_tracer("const", "0");
    assert_int_equal(count_sampled(t, "op", 1000), 0);
    tw_tracer_free(t);
    t = none_tracer("parentbased_always_off", NULL);
    assert_int_equal(count_sampled(t, "op", 100), 0);
    tw_tracer_free(t);
}

static void probabilistic_ten_percent_over_200k_roots(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("probabilistic", "0.1");
    int n = 200000;
    int k = count_sampled(t, "op", n);
    double rate = (double)k / n;
    printf("probabilistic 0.1: %d of %d sampled (%.4f)\n", k, n, rate);
    assert_true(rate >= 0.09 && rate <= 0.11);
    tw_tracer_free(t);
}

static void probabilistic_decision_follows_the_trace_id(void **state)
{
    (void)state;
    /* Jaeger rule: sampled iff (trace_lo & 2^63-1) < rate * 2^63 */
    twp_sampler *s;
    tw_config c;
    twp_config_init(&c);
    c.sampler_type = TWP_SAMPLER_PROBABILISTIC;
    c.sampler_param = 0.5;
    assert_int_equal(twp_sampler_new(&c, &s), TW_OK);
    twp_sample_result r;
    assert_true(twp_sampler_decide(s, 0x3fffffffffffffffull, "op", 2, &r));
    assert_false(twp_sampler_decide(s, 0x4000000000000000ull, "op", 2, &r));
    assert_true(twp_sampler_decide(s, 0x8000000000000001ull, "op", 2, &r));  /* top bit ignored */
    assert_string_equal(r.type, "probabilistic");
    assert_true(r.param == 0.5);
    twp_sampler_free(s);
}

/* The rate limiters run on a clock these tests set (sampler.h), so their
 * credit arithmetic is checked exactly, whatever the scheduler does to this
 * process: a timed loop on a loaded 2-core box got stalled between span
 * starts and saw 291 of the ~300 credits it expected. */
static int64_t fake_ns;
static int64_t fake_clock(void)
{
    return fake_ns;
}

static int use_fake_clock(void **state)
{
    (void)state;
    fake_ns = 1000000000;   /* any start; only differences count */
    twp_sampler_set_clock_for_tests(fake_clock);
    return 0;
}

static int use_real_clock(void **state)
{
    (void)state;
    twp_sampler_set_clock_for_tests(NULL);
    return 0;
}

static void ratelimiting_100_per_second_credits_follow_the_clock(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("ratelimiting", "100");
    /* one credit to start with, no more while time stands still */
    assert_int_equal(count_sampled(t, "op", 50), 1);
    /* then one per 10 ms: 9.5 ms is not enough, 10.5 ms is */
    fake_ns += 9500000;
    assert_int_equal(count_sampled(t, "op", 50), 0);
    fake_ns += 1000000;
    assert_int_equal(count_sampled(t, "op", 50), 1);
    /* 3 s in 1 ms steps with 20 starts each: exactly 300 credits granted */
    int k = 0;
    for (int ms = 0; ms < 3000; ms++) {
        fake_ns += 1000000;
        k += count_sampled(t, "op", 20);
    }
    printf("ratelimiting 100/s: %d sampled in 3 s of limiter time\n", k);
    assert_int_equal(k, 300);
    /* idle for 10 s: the bucket holds max(rate, 1) = 100 credits, no more */
    fake_ns += 10000000000;
    assert_int_equal(count_sampled(t, "op", 500), 100);
    assert_int_equal(count_sampled(t, "op", 50), 0);
    /* a clock read that goes backwards grants nothing */
    fake_ns -= 5000000000;
    assert_int_equal(count_sampled(t, "op", 50), 0);
    tw_tracer_free(t);

    /* below one per second the bucket still holds one whole credit */
    t = none_tracer("ratelimiting", "0.5");
    assert_int_equal(count_sampled(t, "op", 10), 1);
    fake_ns += 1900000000;
    assert_int_equal(count_sampled(t, "op", 10), 0);
    fake_ns += 200000000;
    assert_int_equal(count_sampled(t, "op", 10), 1);
    fake_ns += 60000000000;
    assert_int_equal(count_sampled(t, "op", 10), 1);
    tw_tracer_free(t);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The one check on the real clock, with bounds a stalled process cannot
 * break: the limiter must refill (11 grants are reached; 30 s allows for any
 * load), and never faster than 100/s of the time that really passed. */
static void ratelimiting_on_the_real_clock_refills_at_its_rate(void **state)
{
    (void)state;
    double t0 = mono_s();
    tw_tracer *t = none_tracer("ratelimiting", "100");
    int k = 0;
    while (k < 11 && mono_s() - t0 < 30)
        k += count_sampled(t, "op", 1);
    double el = mono_s() - t0;
    printf("ratelimiting 100/s: %d sampled in %.3f s of real time\n", k, el);
    assert_int_equal(k, 11);
    assert_true(k <= 1 + 100 * el + 1e-6);   /* the first credit, then 100/s */
    tw_tracer_free(t);
}

static void root_spans_carry_sampler_tags(void **state)
{
    (void)state;
    const struct { const char *type, *param, *tag_type; bool is_bool; double v; } cases[] = {
        {"const", "1", "const", true, 1},
        {"probabilistic", "1", "probabilistic", false, 1},
        {"ratelimiting", "50", "ratelimiting", false, 50},
        {"remote", "1", "probabilistic", false, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tw_tracer *t = mem_tracer("sampler.type", cases[i].type, "sampler.param", cases[i].param, NULL);
        tw_span *s = start(t, "root", NULL);
        tw_span *c = start(t, "child", tw_span_get_context(s));
        finish_free(c);
        finish_free(s);
        json_t *a = recorded(t, 0);
        json_t *tags = json_object_get(span_named(a, "root"), "tags");
        assert_string_equal(jstr(tags, "sampler.type"), cases[i].tag_type);
        json_t *p = json_object_get(tags, "sampler.param");
        if (cases[i].is_bool)
            assert_true(json_is_true(p));
        else
            assert_true(json_is_real(p) && json_real_value(p) == cases[i].v);
        json_t *ct = json_object_get(span_named(a, "child"), "tags");
        assert_null(json_object_get(ct, "sampler.type"));
        assert_null(json_object_get(ct, "sampler.param"));
        json_decref(a);
        tw_tracer_free(t);
    }
}

/* ------------------------------------------------------------ parents */

static int sampled_children(tw_tracer *t, unsigned parent_flags, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        tw_span_context *p;
        assert_int_equal(tw_span_context_new(0x1234, (uint64_t)i + 1, 99, 0, parent_flags, &p), TW_OK);
        tw_span *s = start(t, "child", p);
        k += sampled(s);
        if (parent_flags & TW_FLAG_DEBUG)
            assert_true(tw_span_context_flags(tw_span_get_context(s)) & TW_FLAG_DEBUG);
        tw_span_free(s);
        tw_span_context_free(p);
    }
    return k;
}

static void parent_decisions_are_honoured(void **state)
{
    (void)state;
    const char *types[][2] = {
        {"const", "0"}, {"const", "1"}, {"probabilistic", "0"}, {"probabilistic", "1"},
        {"ratelimiting", "0"}, {"ratelimiting", "1000"}, {"remote", "0"},
        {"parentbased_always_on", NULL}, {"parentbased_always_off", NULL},
        {"parentbased_traceidratio", "0.5"},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        tw_tracer *t = none_tracer(types[i][0], types[i][1]);
        assert_int_equal(sampled_children(t, TW_FLAG_SAMPLED, 200), 200);
        assert_int_equal(sampled_children(t, 0, 200), 0);
        assert_int_equal(sampled_children(t, TW_FLAG_SAMPLED | TW_FLAG_DEBUG, 20), 20);
        assert_int_equal(sampled_children(t, TW_FLAG_DEBUG, 20), 20);
        tw_tracer_free(t);
    }
}

static void non_parent_based_otel_samplers_decide_themselves(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("always_off", NULL);
    assert_int_equal(sampled_children(t, TW_FLAG_SAMPLED, 50), 0);
    tw_tracer_free(t);
    t = none_tracer("always_on", NULL);
    assert_int_equal(sampled_children(t, 0, 50), 50);
    tw_tracer_free(t);
}

static void debug_id_forces_sampling(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("const", "0");
    tw_span_context *c;
    assert_int_equal(twp_context_build(0, 0, 0, 0, 0, NULL, 0, "abc", 3, NULL, 0, &c), TW_OK);
    tw_span *s = start(t, "root", c);
    assert_int_equal(tw_span_context_flags(tw_span_get_context(s)), TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
    finish_free(s);
    tw_span_context_free(c);
    tw_tracer_free(t);
}

/* ------------------------------------------------------------ via carriers */

typedef struct carrier {
    char k[8][64], v[8][512];
    int n;
} carrier;

static int carrier_set(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    carrier *c = ud;
    if (c->n == 8 || kl >= 64 || vl >= 512)
        return 1;
    memcpy(c->k[c->n], k, kl);
    c->k[c->n][kl] = 0;
    memcpy(c->v[c->n], v, vl);
    c->v[c->n][vl] = 0;
    c->n++;
    return 0;
}

static int carrier_each(void *p, tw_kv_fn visit, void *ud)
{
    carrier *c = p;
    for (int i = 0; i < c->n; i++)
        if (visit(ud, c->k[i], strlen(c->k[i]), c->v[i], strlen(c->v[i])))
            break;
    return 0;
}

static void parent_decisions_are_honoured_in_every_format(void **state)
{
    (void)state;
    const unsigned formats[] = {TW_PROP_JAEGER, TW_PROP_W3C, TW_PROP_B3_MULTI, TW_PROP_B3_SINGLE};
    for (int sampled = 0; sampled <= 1; sampled++) {
        /* the local sampler always says the opposite of the parent */
        tw_tracer *t = none_tracer("const", sampled ? "0" : "1");
        for (size_t f = 0; f < 4; f++) {
            tw_span_context *sent;
            assert_int_equal(tw_span_context_new(0x0123456789abcdefull, 0x1122334455667788ull,
                                                 0x99aabbccddeeff00ull, 0,
                                                 sampled ? TW_FLAG_SAMPLED : 0, &sent), TW_OK);
            carrier c = {.n = 0};
            assert_int_equal(tw_tracer_inject(t, sent, formats[f], carrier_set, &c), TW_OK);
            tw_span_context *got;
            assert_int_equal(tw_tracer_extract(t, formats[f], carrier_each, &c, &got), TW_OK);
            tw_span *child = start(t, "child", got);
            unsigned fl = tw_span_context_flags(tw_span_get_context(child));
            if (((fl & TW_FLAG_SAMPLED) != 0) != sampled)
                fail_msg("format %#x: parent sampled=%d, child flags %#x", formats[f], sampled, fl);
            assert_true(tw_span_context_parent_id(tw_span_get_context(child)) == 0x99aabbccddeeff00ull);
            tw_span_free(child);
            tw_span_context_free(got);
            tw_span_context_free(sent);
        }
        tw_tracer_free(t);
    }
}

/* ------------------------------------------------------------ remote JSON */

static tw_status apply(tw_tracer *t, const char *json)
{
    return t->hook.apply(t->hook.ud, json, strlen(json));
}

static void remote_starts_probabilistic_and_follows_strategies(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("remote", "1");
    assert_int_equal(count_sampled(t, "op", 100), 100);

    assert_int_equal(apply(t, "{\"strategyType\":\"PROBABILISTIC\","
                              "\"probabilisticSampling\":{\"samplingRate\":0}}"), TW_OK);
    assert_int_equal(count_sampled(t, "op", 1000), 0);

    assert_int_equal(apply(t, "{\"strategyType\":\"PROBABILISTIC\","
                              "\"probabilisticSampling\":{\"samplingRate\":0.5}}"), TW_OK);
    int k = count_sampled(t, "op", 20000);
    assert_true(k > 9000 && k < 11000);

    assert_int_equal(apply(t, "{\"strategyType\":\"RATE_LIMITING\","
                              "\"rateLimitingSampling\":{\"maxTracesPerSecond\":2}}"), TW_OK);
    k = count_sampled(t, "op", 1000);
    assert_int_equal(k, 1);   /* the limiters' clock stands still: its first credit */

    /* numeric strategyType (older agents) */
    assert_int_equal(apply(t, "{\"strategyType\":0,\"probabilisticSampling\":{\"samplingRate\":1}}"),
                     TW_OK);
    assert_int_equal(count_sampled(t, "op", 100), 100);

    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.sampler_updates, 4);
    tw_tracer_free(t);
}

static void per_operation_strategies(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "remote", "sampler.param", "0", NULL);
    assert_int_equal(apply(t,
        "{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":{\"samplingRate\":1},"
        " \"operationSampling\":{\"defaultSamplingProbability\":0,"
        "  \"defaultLowerBoundTracesPerSecond\":0,"
        "  \"perOperationStrategies\":["
        "   {\"operation\":\"hot\",\"probabilisticSampling\":{\"samplingRate\":1}},"
        "   {\"operation\":\"half\",\"probabilisticSampling\":{\"samplingRate\":0.5}}]}}"), TW_OK);
    assert_int_equal(count_sampled(t, "hot", 500), 500);
    assert_int_equal(count_sampled(t, "cold", 500), 0);
    int k = count_sampled(t, "half", 10000);
    assert_true(k > 4500 && k < 5500);
    json_t *a = recorded(t, 1);
    json_t *tags = json_object_get(json_array_get(a, 0), "tags");
    assert_string_equal(jstr(tags, "sampler.type"), "probabilistic");
    json_decref(a);

    /* default probability 0 with a lower bound: the bound guarantees some
     * (the limiter's clock stands still here: exactly its first credit) */
    assert_int_equal(apply(t,
        "{\"operationSampling\":{\"defaultSamplingProbability\":0,"
        "  \"defaultLowerBoundTracesPerSecond\":1,\"perOperationStrategies\":[]}}"), TW_OK);
    k = count_sampled(t, "rare", 1000);
    assert_int_equal(k, 1);
    fake_ns += 1000000000;   /* one second: one more */
    assert_int_equal(count_sampled(t, "rare", 1000), 1);
    a = recorded(t, 1);
    tags = json_object_get(json_array_get(a, 0), "tags");
    assert_string_equal(jstr(tags, "sampler.type"), "lowerbound");
    assert_true(json_real_value(json_object_get(tags, "sampler.param")) == 1.0);
    json_decref(a);
    tw_tracer_free(t);
}

static void many_operations_are_each_found(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("remote", "0");
    size_t cap = 64 + 300 * 96;
    char *j = malloc(cap);
    assert_non_null(j);
    size_t n = (size_t)snprintf(j, cap, "{\"operationSampling\":{\"defaultSamplingProbability\":0,"
                                "\"perOperationStrategies\":[");
    /* names of several lengths, listed in no particular order */
    for (int i = 299; i >= 0; i--)
        n += (size_t)snprintf(j + n, cap - n, "%s{\"operation\":\"op%0*d\",\"probabilisticSampling\":"
                              "{\"samplingRate\":%d}}", i == 299 ? "" : ",", 1 + i % 4, i, i % 2);
    n += (size_t)snprintf(j + n, cap - n, "]}}");
    assert_int_equal(apply(t, j), TW_OK);
    free(j);
    char op[16];
    for (int i = 0; i < 300; i++) {
        snprintf(op, sizeof op, "op%0*d", 1 + i % 4, i);
        assert_int_equal(count_sampled(t, op, 5), (i % 2) * 5);
    }
    assert_int_equal(count_sampled(t, "op", 5), 0);
    assert_int_equal(count_sampled(t, "unknown-operation", 5), 0);
    tw_tracer_free(t);
}

static void unlisted_operations_each_get_the_lower_bound(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("remote", "0");
    assert_int_equal(apply(t,
        "{\"operationSampling\":{\"defaultSamplingProbability\":0,"
        "  \"defaultLowerBoundTracesPerSecond\":0.5,\"perOperationStrategies\":[]}}"), TW_OK);
    /* each operation's own bucket starts with one credit, then 0.5/s (the
     * limiters' clock is the test's) */
    assert_int_equal(count_sampled(t, "x", 100), 1);
    assert_int_equal(count_sampled(t, "y", 100), 1);
    assert_int_equal(count_sampled(t, "x", 100), 0);
    fake_ns += 2100000000;
    assert_int_equal(count_sampled(t, "x", 100), 1);
    assert_int_equal(count_sampled(t, "y", 100), 1);
    /* far more operations than the table holds: still a decision each */
    char op[32];
    int k = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(op, sizeof op, "op-%d", i);
        k += count_sampled(t, op, 1);
    }
    /* 2000 own buckets (x, y and 1998 of these, one credit each), then one
     * shared bucket: its one credit */
    assert_int_equal(k, 1998 + 1);
    tw_tracer_free(t);
}

static void bad_strategy_json_changes_nothing(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "{",
        "not json",
        "[]",
        "null",
        "{}",
        "{\"strategyType\":\"PROBABILISTIC\"}",
        "{\"probabilisticSampling\":{\"samplingRate\":1.5}}",
        "{\"probabilisticSampling\":{\"samplingRate\":-0.1}}",
        "{\"probabilisticSampling\":{\"samplingRate\":\"0.5\"}}",
        "{\"probabilisticSampling\":{}}",
        "{\"probabilisticSampling\":5}",
        "{\"strategyType\":\"RATE_LIMITING\",\"rateLimitingSampling\":{\"maxTracesPerSecond\":-1}}",
        "{\"strategyType\":\"RATE_LIMITING\",\"probabilisticSampling\":{\"samplingRate\":0}}",
        "{\"operationSampling\":{}}",
        "{\"operationSampling\":[]}",
        "{\"operationSampling\":{\"defaultSamplingProbability\":2}}",
        "{\"operationSampling\":{\"defaultSamplingProbability\":0,\"perOperationStrategies\":{}}}",
        "{\"operationSampling\":{\"defaultSamplingProbability\":0,"
        "\"perOperationStrategies\":[{\"operation\":1,\"probabilisticSampling\":{\"samplingRate\":0}}]}}",
        "{\"operationSampling\":{\"defaultSamplingProbability\":0,"
        "\"perOperationStrategies\":[{\"operation\":\"x\"}]}}",
        "{\"operationSampling\":{\"defaultSamplingProbability\":0,"
        "\"defaultLowerBoundTracesPerSecond\":\"1\"}}",
        "{\"probabilisticSampling\":{\"samplingRate\":0},\"probabilisticSampling\":{\"samplingRate\":0}}",
    };
    tw_tracer *t = none_tracer("remote", "1");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tw_status st = apply(t, bad[i]);
        if (st != TW_ERR_CORRUPTED)
            fail_msg("accepted bad strategy #%zu %s (%d)", i, bad[i], st);
        assert_int_equal(count_sampled(t, "op", 50), 50);
    }
    /* embedded NUL / truncated body */
    assert_int_equal(t->hook.apply(t->hook.ud, "{\"a\":1}\0junk", 12), TW_ERR_CORRUPTED);
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.sampler_updates, 0);
    tw_tracer_free(t);
}

static void only_a_remote_sampler_follows_strategies(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("const", "1");
    assert_int_equal(apply(t, "{\"probabilisticSampling\":{\"samplingRate\":0}}"), TW_ERR_UNSUPPORTED);
    assert_int_equal(count_sampled(t, "op", 10), 10);
    tw_tracer_free(t);
}

static void same_strategy_twice_is_a_no_op(void **state)
{
    (void)state;
    tw_tracer *t = none_tracer("remote", "1");
    const char *j = "{\"probabilisticSampling\":{\"samplingRate\":0}}";
    assert_int_equal(apply(t, j), TW_OK);
    assert_int_equal(apply(t, "{ \"probabilisticSampling\" : { \"samplingRate\" : 0 } }"), TW_OK);
    assert_int_equal(count_sampled(t, "op", 100), 0);
    tw_tracer_free(t);
}

/* ------------------------------------------------------------ concurrency */

typedef struct race {
    tw_tracer *t;
    _Atomic int stop;
    long spans;
} race;

static void *starter(void *p)
{
    race *r = p;
    while (!atomic_load(&r->stop)) {
        tw_span *s;
        if (tw_span_start(r->t, "op", 2, NULL, 0, 0, &s) == TW_OK) {
            tw_span_finish(s, 0);
            tw_span_free(s);
            r->spans++;
        }
    }
    return NULL;
}

static void strategy_swaps_race_span_starts_safely(void **state)
{
    (void)state;
    race r[2] = {{.t = none_tracer("remote", "1")}, {0}};
    r[1].t = r[0].t;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, starter, &r[i]);
    char json[256];
    for (int i = 0; i < 300; i++) {
        if (i % 3 == 0)
            snprintf(json, sizeof json, "{\"probabilisticSampling\":{\"samplingRate\":%g}}", (i % 10) / 10.0);
        else if (i % 3 == 1)
            snprintf(json, sizeof json, "{\"strategyType\":\"RATE_LIMITING\","
                     "\"rateLimitingSampling\":{\"maxTracesPerSecond\":%d}}", i);
        else
            snprintf(json, sizeof json, "{\"operationSampling\":{\"defaultSamplingProbability\":0.%d,"
                     "\"perOperationStrategies\":[{\"operation\":\"op\","
                     "\"probabilisticSampling\":{\"samplingRate\":0.%d}}]}}", i % 10, (i + 3) % 10);
        assert_int_equal(apply(r[0].t, json), TW_OK);
    }
    atomic_store(&r[0].stop, 1);
    atomic_store(&r[1].stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    tw_counters c;
    tw_tracer_counters(r[0].t, &c);
    assert_int_equal(c.spans_started, (uint64_t)(r[0].spans + r[1].spans));
    assert_int_equal(c.spans_finished, c.spans_discarded);   /* protocol none */
    assert_int_equal(c.sampler_updates, 300);
    tw_tracer_free(r[0].t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(const_sampler_samples_all_or_nothing),
        cmocka_unit_test(probabilistic_ten_percent_over_200k_roots),
        cmocka_unit_test(probabilistic_decision_follows_the_trace_id),
        cmocka_unit_test_setup_teardown(ratelimiting_100_per_second_credits_follow_the_clock,
                                        use_fake_clock, use_real_clock),
        cmocka_unit_test(ratelimiting_on_the_real_clock_refills_at_its_rate),
        cmocka_unit_test(root_spans_carry_sampler_tags),
        cmocka_unit_test(parent_decisions_are_honoured),
        cmocka_unit_test(parent_decisions_are_honoured_in_every_format),
        cmocka_unit_test(non_parent_based_otel_samplers_decide_themselves),
        cmocka_unit_test(debug_id_forces_sampling),
        cmocka_unit_test_setup_teardown(remote_starts_probabilistic_and_follows_strategies,
                                        use_fake_clock, use_real_clock),
        cmocka_unit_test_setup_teardown(per_operation_strategies, use_fake_clock, use_real_clock),
        cmocka_unit_test(many_operations_are_each_found),
        cmocka_unit_test_setup_teardown(unlisted_operations_each_get_the_lower_bound,
                                        use_fake_clock, use_real_clock),
        cmocka_unit_test(bad_strategy_json_changes_nothing),
        cmocka_unit_test(only_a_remote_sampler_follows_strategies),
        cmocka_unit_test(same_strategy_twice_is_a_no_op),
        cmocka_unit_test(strategy_swaps_race_span_starts_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
