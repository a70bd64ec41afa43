/* demo.c — tracewire's C API in one page.
 *
 * Starts a trace ("checkout", a server span with tags, a log and baggage),
 * then for every propagation format injects the context into a header
 * carrier, prints the headers, extracts them as a receiving service would,
 * starts a child span from what it extracted and checks that trace id, parent
 * span id, sampled flag and baggage survived. It also round-trips the binary
 * format, then prints the spans the in-memory reporter recorded as a tree.
 *
 *   build/.../examples/c/tw_demo          exit status 0 when every round trip held
 *
 * Reporting: spans go to the memory reporter, so no Jaeger is needed. Set
 * TW_DEMO_PROTOCOLS=udp,memory (or http/otlp) to also send them to a running
 * Jaeger; the usual JAEGER_* / OTEL_* variables apply (tw_config_from_env).
 */
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tracewire.h"

#define CHECK(call)                                                          \
    do {                                                                     \
        tw_status st_ = (call);                                              \
        if (st_ != TW_OK) {                                                  \
            fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #call,  \
                    tw_strerror(st_));                                       \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* ------------------------------------------------------------ a carrier */

/* A list of HTTP-style headers, as a binding would keep a dict or table. */
typedef struct headers {
    struct { char name[64]; char value[1024]; } h[32];
    int n;
} headers;

static int header_set(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    headers *hs = ud;
    if (hs->n == 32 || kl >= 64 || vl >= 1024)
        return 1;
    /* show that names are matched case-insensitively on the way back */
    for (size_t i = 0; i < kl; i++)
        hs->h[hs->n].name[i] = (char)((i == 0 || k[i - 1] == '-') ? toupper((unsigned char)k[i]) : k[i]);
    hs->h[hs->n].name[kl] = '\0';
    memcpy(hs->h[hs->n].value, v, vl);
    hs->h[hs->n].value[vl] = '\0';
    hs->n++;
    return 0;
}

static int header_foreach(void *carrier, tw_kv_fn visit, void *visit_ud)
{
    headers *hs = carrier;
    for (int i = 0; i < hs->n; i++)
        if (visit(visit_ud, hs->h[i].name, strlen(hs->h[i].name), hs->h[i].value,
                  strlen(hs->h[i].value)))
            break;
    return 0;
}

/* ------------------------------------------------------------ checks */

static int failures;

static void expect(int ok, const char *what, const char *format)
{
    printf("    %-4s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) {
        failures++;
        fprintf(stderr, "demo: %s: %s did not survive\n", format, what);
    }
}

static void compare(const char *format, const tw_span_context *sent, const tw_span_context *got,
                    int expect_baggage)
{
    uint64_t h1, l1, h2, l2;
    tw_span_context_trace_id(sent, &h1, &l1);
    tw_span_context_trace_id(got, &h2, &l2);
    expect(h1 == h2 && l1 == l2, "trace id", format);
    expect(tw_span_context_span_id(sent) == tw_span_context_span_id(got), "span id", format);
    expect((tw_span_context_flags(sent) & TW_FLAG_SAMPLED) == (tw_span_context_flags(got) & TW_FLAG_SAMPLED),
           "sampled flag", format);
    if (expect_baggage) {
        const char *v = NULL;
        size_t vl = 0;
        int ok = tw_span_context_baggage(got, "customer", 8, &v, &vl) == TW_OK && vl == 14 &&
                 memcmp(v, "ACME Inc; 100%", 14) == 0;
        expect(ok, "baggage (customer=ACME Inc; 100%)", format);
    }
}

/* ------------------------------------------------------------ printing */

static void print_tree(json_t *spans, const char *parent, int depth)
{
    size_t i;
    json_t *s;
    json_array_foreach(spans, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "parent_id")), parent) != 0)
            continue;
        printf("  %*s%s  [%s] span %s, %" JSON_INTEGER_FORMAT " us",
               depth * 2, "", json_string_value(json_object_get(s, "operation_name")),
               json_string_value(json_object_get(s, "kind")),
               json_string_value(json_object_get(s, "span_id")),
               json_integer_value(json_object_get(s, "duration_us")));
        const char *k;
        json_t *v;
        printf("  {");
        int first = 1;
        json_object_foreach(json_object_get(s, "tags"), k, v) {
            char *txt = json_dumps(v, JSON_ENCODE_ANY);
            printf("%s%s=%s", first ? "" : ", ", k, txt ? txt : "?");
            free(txt);
            first = 0;
        }
        printf("}\n");
        print_tree(spans, json_string_value(json_object_get(s, "span_id")), depth + 1);
    }
}

/* ------------------------------------------------------------ main */

int main(void)
{
    tw_config *cfg;
    CHECK(tw_config_new(&cfg));
    CHECK(tw_config_set(cfg, "service_name", "tw-demo"));
    CHECK(tw_config_set(cfg, "reporter.protocols", "memory"));
    const char *bad = NULL;
    if (tw_config_from_env(cfg, &bad) != TW_OK)
        fprintf(stderr, "demo: ignoring malformed %s\n", bad);
    const char *protos = getenv("TW_DEMO_PROTOCOLS");
    if (protos)
        CHECK(tw_config_set(cfg, "reporter.protocols", protos));
    CHECK(tw_config_set(cfg, "sampler.type", "const"));
    CHECK(tw_config_set(cfg, "sampler.param", "1"));
    CHECK(tw_config_set(cfg, "propagation.extract", "jaeger,w3c,b3,b3multi"));
    tw_tracer *tracer;
    CHECK(tw_tracer_new(cfg, &tracer));
    tw_config_free(cfg);

    tw_span *root;
    CHECK(tw_span_start(tracer, "checkout", 8, NULL, 0, 0, &root));
    CHECK(tw_span_set_kind(root, TW_KIND_SERVER));
    CHECK(tw_span_set_tag_str(root, "http.method", "POST"));
    CHECK(tw_span_set_tag_int(root, "http.status_code", 200));
    CHECK(tw_span_set_baggage(root, "customer", 8, "ACME Inc; 100%", 14));
    tw_field ev[2] = {{.key = "event", .key_len = 5, .type = TW_VAL_STRING},
                      {.key = "items", .key_len = 5, .type = TW_VAL_INT64}};
    ev[0].v.str.ptr = "cart loaded";
    ev[0].v.str.len = 11;
    ev[1].v.i64 = 3;
    CHECK(tw_span_log(root, 0, ev, 2));
    const tw_span_context *rc = tw_span_get_context(root);
    char tid[33], sid[17];
    tw_span_context_trace_id_hex(rc, tid);
    tw_span_context_span_id_hex(rc, sid);
    printf("trace %s, root span %s (service tw-demo)\n\n", tid, sid);

    static const struct { unsigned bit; const char *name; int baggage; } formats[] = {
        {TW_PROP_JAEGER, "jaeger", 1},
        {TW_PROP_W3C, "w3c", 1},
        {TW_PROP_B3_MULTI, "b3multi", 0},   /* B3 defines no baggage header */
        {TW_PROP_B3_SINGLE, "b3", 0},
    };
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        headers hs = {.n = 0};
        printf("%s: inject\n", formats[i].name);
        CHECK(tw_tracer_inject(tracer, rc, formats[i].bit, header_set, &hs));
        for (int j = 0; j < hs.n; j++)
            printf("    %s: %s\n", hs.h[j].name, hs.h[j].value);
        printf("%s: extract\n", formats[i].name);
        tw_span_context *got = NULL;
        tw_status st = tw_tracer_extract(tracer, formats[i].bit, header_foreach, &hs, &got);
        if (st != TW_OK) {
            printf("    FAIL extract: %s\n", tw_strerror(st));
            failures++;
            continue;
        }
        compare(formats[i].name, rc, got, formats[i].baggage);
        char op[32];
        snprintf(op, sizeof op, "handle via %s", formats[i].name);
        tw_span_ref ref = {TW_REF_CHILD_OF, got};
        tw_span *child;
        CHECK(tw_span_start(tracer, op, strlen(op), &ref, 1, 0, &child));
        CHECK(tw_span_set_kind(child, TW_KIND_SERVER));
        CHECK(tw_span_set_tag_str(child, "propagation", formats[i].name));
        CHECK(tw_span_finish(child, 0));
        tw_span_free(child);
        tw_span_context_free(got);
        printf("\n");
    }

    /* a message-queue style hop: binary format, follows_from */
    char *bin;
    size_t binlen;
    CHECK(tw_span_context_to_binary(rc, &bin, &binlen));
    tw_span_context *fromq;
    CHECK(tw_span_context_from_binary(bin, binlen, &fromq));
    printf("binary: %zu bytes\n", binlen);
    compare("binary", rc, fromq, 1);
    tw_span_ref fref = {TW_REF_FOLLOWS_FROM, fromq};
    tw_span *consumer;
    CHECK(tw_span_start(tracer, "consume order", 13, &fref, 1, 0, &consumer));
    CHECK(tw_span_set_kind(consumer, TW_KIND_CONSUMER));
    CHECK(tw_span_finish(consumer, 0));
    tw_span_free(consumer);
    tw_span_context_free(fromq);
    tw_free(bin);

    CHECK(tw_span_finish(root, 0));
    tw_span_free(root);

    char *js;
    CHECK(tw_tracer_memory_spans(tracer, 0, &js));
    json_t *spans = json_loads(js, 0, NULL);
    printf("\nrecorded spans (memory reporter):\n");
    print_tree(spans, "0000000000000000", 0);
    tw_counters c;
    tw_tracer_counters(tracer, &c);
    printf("\ncounters: %" PRIu64 " started, %" PRIu64 " sampled, %" PRIu64 " finished\n",
           c.spans_started, c.spans_sampled, c.spans_finished);
    if (json_array_size(spans) != 6) {
        fprintf(stderr, "demo: expected 6 recorded spans, got %zu\n", json_array_size(spans));
        failures++;
    }
    json_decref(spans);
    tw_free(js);
    CHECK(tw_tracer_close(tracer, 2000));
    tw_tracer_free(tracer);
    printf("%s\n", failures ? "demo: some round trips FAILED" : "demo: every round trip held");
    return failures ? 1 : 0;
}
