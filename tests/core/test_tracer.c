/* test_tracer.c — tracer lifecycle, process tags, counters, the memory
 * reporter's JSON dump and bounds, close semantics and fork behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "span_helpers.h"
#include "tracer.h"

static const twp_value *proc_tag(const tw_tracer *t, const char *key)
{
    const twp_value *found = NULL;
    for (size_t i = 0; i < t->proc.ntags; i++)
        if (t->proc.tags[i].key_len == strlen(key) && memcmp(t->proc.tags[i].key, key, strlen(key)) == 0) {
            assert_null(found);   /* keys are unique */
            found = &t->proc.tags[i];
        }
    return found;
}

static void process_tags_describe_the_process(void **state)
{
    (void)state;
    setenv("TW_TEST_REGION", "eu-west", 1);
    unsetenv("TW_TEST_UNSET");
    tw_tracer *t = mem_tracer("service_name", "billing",
                              "tags", "team=payments, region=${TW_TEST_REGION:none},"
                                      "zone=${TW_TEST_UNSET:z1},team=core",
                              NULL);
    assert_string_equal(t->proc.service_name, "billing");
    assert_string_equal(tw_tracer_service_name(t), "billing");
    char host[256];
    gethostname(host, sizeof host);
    assert_string_equal(proc_tag(t, "hostname")->v.str, host);
    const twp_value *ip = proc_tag(t, "ip");
    assert_non_null(ip);
    int a, b, c, d;
    assert_int_equal(sscanf(ip->v.str, "%d.%d.%d.%d", &a, &b, &c, &d), 4);
    const twp_value *uuid = proc_tag(t, "client-uuid");
    assert_int_equal(uuid->len, 36);
    assert_int_equal(uuid->v.str[14], '4');
    assert_string_equal(proc_tag(t, "jaeger.version")->v.str, "tracewire-C-" TW_VERSION);
    assert_string_equal(proc_tag(t, "team")->v.str, "core");        /* later wins */
    assert_string_equal(proc_tag(t, "region")->v.str, "eu-west");   /* ${ENV:default} */
    assert_string_equal(proc_tag(t, "zone")->v.str, "z1");
    assert_int_equal(t->proc.ntags, 7);
    for (size_t i = 0; i < t->proc.ntags; i++)
        assert_int_equal(t->proc.tags[i].type, TW_VAL_STRING);

    /* each tracer has its own client uuid */
    tw_tracer *t2 = mem_tracer(NULL);
    assert_string_not_equal(proc_tag(t2, "client-uuid")->v.str, uuid->v.str);
    assert_string_equal(tw_tracer_service_name(t2), "unknown_service");
    tw_tracer_free(t2);
    tw_tracer_free(t);
}

/* Jaeger tells emitters apart by client-uuid: a forked child (gunicorn,
 * nginx workers) reports as a new one, unless the config named the uuid. */
static void forked_child_takes_a_new_client_uuid(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_tracer *fixed = mem_tracer("tags", "client-uuid=pinned-by-config", NULL);
    char before[37];
    memcpy(before, proc_tag(t, "client-uuid")->v.str, 37);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char out[80];
        snprintf(out, sizeof out, "%.36s|%s", proc_tag(t, "client-uuid")->v.str,
                 proc_tag(fixed, "client-uuid")->v.str);
        ssize_t w = write(fds[1], out, strlen(out));
        _exit(w > 0 ? 0 : 1);
    }
    close(fds[1]);
    char got[81] = {0};
    ssize_t r = read(fds[0], got, sizeof got - 1);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(r > 37);
    assert_int_equal(got[36], '|');
    got[36] = '\0';
    assert_string_not_equal(got, before);                 /* the child: a new one */
    assert_int_equal(got[14], '4');                       /* still a version 4 uuid */
    assert_int_equal(got[8], '-');
    assert_string_equal(got + 37, "pinned-by-config");    /* configured: kept */
    assert_memory_equal(proc_tag(t, "client-uuid")->v.str, before, 37);   /* parent unchanged */
    tw_tracer_free(fixed);
    tw_tracer_free(t);
}

static void memory_dump_has_every_field(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *r;
    assert_int_equal(tw_span_start(t, "GET /", 5, NULL, 0, 1000, &r), TW_OK);
    assert_int_equal(tw_span_set_kind(r, TW_KIND_SERVER), TW_OK);
    assert_int_equal(tw_span_set_tag_str(r, "quote\"d", "line\nbreak \xe2\x82\xac"), TW_OK);
    assert_int_equal(tw_span_finish(r, 1600), TW_OK);
    const tw_span_context *rc = tw_span_get_context(r);
    char tid[33], sid[17];
    tw_span_context_trace_id_hex(rc, tid);
    tw_span_context_span_id_hex(rc, sid);

    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 1);
    json_t *s = json_array_get(a, 0);
    assert_string_equal(jstr(s, "trace_id"), tid);
    assert_string_equal(jstr(s, "span_id"), sid);
    assert_string_equal(jstr(s, "parent_id"), "0000000000000000");
    assert_string_equal(jstr(s, "operation_name"), "GET /");
    assert_int_equal(json_integer_value(json_object_get(s, "flags")), 1);
    assert_string_equal(jstr(s, "kind"), "server");
    assert_int_equal(json_integer_value(json_object_get(s, "start_us")), 1000);
    assert_int_equal(json_integer_value(json_object_get(s, "duration_us")), 600);
    assert_true(json_is_array(json_object_get(s, "references")));
    assert_true(json_is_array(json_object_get(s, "logs")));
    assert_string_equal(jstr(json_object_get(s, "tags"), "quote\"d"), "line\nbreak \xe2\x82\xac");
    json_decref(a);

    /* clear=0 keeps, clear=1 returns then drops */
    a = recorded(t, 1);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    tw_span_free(r);
    tw_tracer_free(t);
}

static void memory_dump_needs_the_memory_reporter(void **state)
{
    (void)state;
    tw_config *c;
    assert_int_equal(tw_config_new(&c), TW_OK);
    assert_int_equal(tw_config_set(c, "reporter.protocols", "none"), TW_OK);
    tw_tracer *t;
    assert_int_equal(tw_tracer_new(c, &t), TW_OK);
    tw_config_free(c);
    char *out = (char *)1;
    assert_int_equal(tw_tracer_memory_spans(t, 0, &out), TW_ERR_UNSUPPORTED);
    assert_null(out);
    assert_int_equal(tw_tracer_memory_spans(NULL, 0, &out), TW_ERR_INVALID_ARG);
    tw_tracer_free(t);
}

static void counters_follow_the_spans(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "probabilistic", "sampler.param", "0.5", NULL);
    int sampled = 0;
    for (int i = 0; i < 1000; i++) {
        tw_span *s = start(t, "op", NULL);
        sampled += (tw_span_context_flags(tw_span_get_context(s)) & TW_FLAG_SAMPLED) != 0;
        if (i % 10 == 0)
            tw_span_free(s);   /* discarded: not finished */
        else
            finish_free(s);
    }
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_started, 1000);
    assert_int_equal(c.spans_sampled, (uint64_t)sampled);
    assert_true(c.spans_finished < c.spans_sampled);
    assert_int_equal(c.spans_reported, c.spans_finished);
    json_t *a = recorded(t, 1);
    assert_int_equal(json_array_size(a), c.spans_finished);
    json_decref(a);
    assert_int_equal(c.dropped_queue_full + c.dropped_send_failed + c.dropped_on_close, 0);
    /* by name: every field, in struct order, with its value */
    const char *name;
    uint64_t v;
    size_t n = 0;
    for (; tw_counters_at(&c, n, &name, &v); n++) {
        assert_int_equal(v, ((const uint64_t *)(const void *)&c)[n]);
        if (n == 0)
            assert_string_equal(name, "spans_started");
        if (strcmp(name, "spans_sampled") == 0)
            assert_int_equal(v, (uint64_t)sampled);
    }
    assert_int_equal(n, sizeof c / sizeof(uint64_t));
    assert_string_equal(name, "baggage_restrictions_updates_err");
    assert_int_equal(tw_counters_at(NULL, 0, &name, &v), 1);
    assert_int_equal(v, 0);
    assert_int_equal(tw_counters_at(&c, n + 100, &name, &v), 0);
    tw_tracer_counters(NULL, &c);
    assert_int_equal(c.spans_started, 0);
    tw_tracer_free(t);
}

static void memory_reporter_is_bounded_by_queue_size(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("reporter.queue_size", "3", NULL);
    for (int i = 0; i < 5; i++)
        finish_free(start(t, "op", NULL));
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_finished, 5);
    assert_int_equal(c.spans_reported, 3);
    assert_int_equal(c.dropped_queue_full, 2);
    json_t *a = recorded(t, 1);
    assert_int_equal(json_array_size(a), 3);
    json_decref(a);
    finish_free(start(t, "again", NULL));
    a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    tw_tracer_free(t);
}

static void closed_tracer_records_nothing_more(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *open = start(t, "open-at-close", NULL);
    finish_free(start(t, "before", NULL));
    assert_int_equal(tw_tracer_flush(t, 100), TW_OK);
    assert_int_equal(tw_tracer_close(t, 100), TW_OK);
    assert_int_equal(tw_tracer_close(t, 100), TW_OK);   /* idempotent */
    assert_int_equal(tw_tracer_flush(t, 100), TW_ERR_CLOSED);
    finish_free(open);
    tw_span *after = start(t, "after", NULL);   /* still works: context only */
    assert_non_null(tw_span_get_context(after));
    finish_free(after);
    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 1);
    span_named(a, "before");
    json_decref(a);
    tw_tracer_free(t);
    tw_tracer_free(NULL);
    assert_int_equal(tw_tracer_close(NULL, 0), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_tracer_new(NULL, NULL), TW_ERR_INVALID_ARG);
}


typedef struct worker { tw_tracer *t; int n; } worker;

static void *work(void *p)
{
    worker *w = p;
    for (int i = 0; i < w->n; i++) {
        tw_span *s;
        if (tw_span_start(w->t, "w", 1, NULL, 0, 0, &s) != TW_OK)
            return (void *)1;
        tw_span_set_tag_int(s, "i", i);
        tw_span_finish(s, 0);
        tw_span_free(s);
    }
    return NULL;
}

static void spans_from_many_threads_are_all_recorded(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("reporter.queue_size", "100000", NULL);
    pthread_t th[4];
    worker w = {t, 5000};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, work, &w);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    tw_counters c;
    tw_tracer_counters(t, &c);
    assert_int_equal(c.spans_started, 20000);
    assert_int_equal(c.spans_reported, 20000);
    json_t *a = recorded(t, 1);
    assert_int_equal(json_array_size(a), 20000);
    json_decref(a);
    tw_tracer_free(t);
}

static void forked_child_starts_with_an_empty_memory_reporter(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    finish_free(start(t, "in-parent", NULL));
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char *js = NULL;
        int before = -1, after = -1;
        if (tw_tracer_memory_spans(t, 0, &js) == TW_OK)
            before = strcmp(js, "[]") == 0;
        tw_free(js);
        tw_span *s;
        if (tw_span_start(t, "in-child", 8, NULL, 0, 0, &s) == TW_OK) {
            tw_span_finish(s, 0);
            tw_span_free(s);
        }
        if (tw_tracer_memory_spans(t, 0, &js) == TW_OK)
            after = strstr(js, "in-child") != NULL;
        tw_free(js);
        int r[2] = {before, after};
        _exit(write(fd[1], r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
    }
    int r[2];
    assert_int_equal(read(fd[0], r, sizeof r), sizeof r);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 1);
    json_t *a = recorded(t, 0);   /* the parent keeps its own */
    assert_int_equal(json_array_size(a), 1);
    span_named(a, "in-parent");
    json_decref(a);
    close(fd[0]);
    close(fd[1]);
    tw_tracer_free(t);
}

static void memory_mirrors_a_real_reporter(void **state)
{
    (void)state;
    /* memory + log: the pipeline (log lines on stderr, silenced here) owns
     * the counters; the memory reporter keeps a deep copy of each span. */
    fflush(stderr);
    int saved = dup(2);
    int devnull = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && devnull >= 0);
    dup2(devnull, 2);
    tw_tracer *t = mem_tracer("reporter.protocols", "memory,log", NULL);
    tw_span *s = start(t, "mirrored", NULL);
    assert_int_equal(tw_span_set_tag_str(s, "k", "v"), TW_OK);
    assert_int_equal(tw_span_set_baggage(s, "b", 1, "c", 1), TW_OK);
    tw_span *c = start(t, "child", tw_span_get_context(s));
    finish_free(c);
    finish_free(s);
    assert_int_equal(tw_tracer_flush(t, 5000), TW_OK);
    tw_counters k;
    tw_tracer_counters(t, &k);
    json_t *a = recorded(t, 1);
    tw_tracer_free(t);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    assert_int_equal(k.spans_finished, 2);
    assert_int_equal(k.spans_reported, 2);
    assert_int_equal(json_array_size(a), 2);
    json_t *m = span_named(a, "mirrored");
    assert_string_equal(jstr(json_object_get(m, "tags"), "k"), "v");
    assert_string_equal(jstr(json_object_get(m, "tags"), "sampler.type"), "const");
    json_t *l = json_array_get(json_object_get(m, "logs"), 0);
    assert_string_equal(jstr(json_object_get(l, "fields"), "event"), "baggage");
    assert_int_equal(json_array_size(json_object_get(span_named(a, "child"), "references")), 1);
    json_decref(a);
}

/* The W3C trace-flags of a remote parent (random 0x02, reserved bits) reach
 * its children and grandchildren unchanged; the record's Jaeger flags stay 1. */
static void w3c_trace_flags_reach_children(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    static const char *const in[] = { "03", "02", "87" };
    static const char *const want_child[] = { "03", "02", "87" };
    for (int i = 0; i < 3; i++) {
        char tp[56];
        snprintf(tp, sizeof tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-%s", in[i]);
        tw_span_context *remote;
        assert_int_equal(tw_span_context_from_traceparent(tp, 55, &remote), TW_OK);
        tw_span *child = start(t, "child", remote);
        tw_span *grand = start(t, "grandchild", tw_span_get_context(child));
        char out[55];
        tw_span_context_to_traceparent(tw_span_get_context(grand), out);
        assert_memory_equal(out + 53, want_child[i], 2);
        assert_memory_equal(out, tp, 36);               /* same trace */
        assert_int_equal(tw_span_context_flags(tw_span_get_context(grand)),
                         in[i][1] == '3' || in[i][1] == '7' ? TW_FLAG_SAMPLED : 0);
        finish_free(grand);
        finish_free(child);
        tw_span_context_free(remote);
    }
    json_t *a = recorded(t, 1);
    size_t k;
    json_t *v;
    json_array_foreach(a, k, v)
        assert_int_equal(json_integer_value(json_object_get(v, "flags")), TW_FLAG_SAMPLED);
    assert_int_equal(json_array_size(a), 4);   /* 03 and 87 are sampled: 2 spans each */
    json_decref(a);
    tw_tracer_free(t);
}

static void strerror_covers_every_status(void **state)
{
    (void)state;
    for (int s = TW_OK; s <= TW_ERR_CONFIG; s++) {
        const char *m = tw_strerror((tw_status)s);
        assert_non_null(m);
        assert_string_not_equal(m, "unknown tracewire status");
    }
    assert_string_equal(tw_strerror((tw_status)999), "unknown tracewire status");
    tw_free(NULL);
}

static void arena_and_buffer_basics(void **state)
{
    (void)state;
    twp_arena a = {0};
    char *s = twp_arena_strdup(&a, "hello", 5);
    assert_string_equal(s, "hello");
    for (int i = 0; i < 1000; i++) {
        uint64_t *p = twp_arena_alloc(&a, 24);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        *p = (uint64_t)i;
    }
    char *big = twp_arena_alloc(&a, 100000);
    assert_non_null(big);
    memset(big, 1, 100000);
    assert_string_equal(s, "hello");
    twp_arena_release(&a);

    twp_buf b;
    twp_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        assert_true(twp_buf_putc(&b, (char)('a' + i % 26)));
    assert_true(twp_buf_append(&b, "xyz", 3));
    assert_int_equal(b.len, 10003);
    assert_memory_equal(b.data + 10000, "xyz", 3);
    assert_false(b.failed);
    twp_buf_free(&b);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(process_tags_describe_the_process),
        cmocka_unit_test(forked_child_takes_a_new_client_uuid),
        cmocka_unit_test(memory_dump_has_every_field),
        cmocka_unit_test(memory_dump_needs_the_memory_reporter),
        cmocka_unit_test(counters_follow_the_spans),
        cmocka_unit_test(memory_reporter_is_bounded_by_queue_size),
        cmocka_unit_test(closed_tracer_records_nothing_more),
        cmocka_unit_test(spans_from_many_threads_are_all_recorded),
        cmocka_unit_test(forked_child_starts_with_an_empty_memory_reporter),
        cmocka_unit_test(memory_mirrors_a_real_reporter),
        cmocka_unit_test(w3c_trace_flags_reach_children),
        cmocka_unit_test(strerror_covers_every_status),
        cmocka_unit_test(arena_and_buffer_basics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
