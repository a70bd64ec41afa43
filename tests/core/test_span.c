/* test_span.c — the span model as seen through the memory reporter: typed
 * tags, truncation, special tags, logs, references, baggage, names, kinds,
 * timestamps and the finished-span contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "span_helpers.h"
#include "context.h"
#include "span_data.h"
#include "tracer.h"
#include "intern.h"

static void every_tag_type_is_recorded_with_its_type(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s = start(t, "op", NULL);
    assert_int_equal(tw_span_set_tag_str(s, "s", "text"), TW_OK);
    assert_int_equal(tw_span_set_tag_int(s, "i", -42), TW_OK);
    assert_int_equal(tw_span_set_tag_int(s, "big", INT64_MAX), TW_OK);
    assert_int_equal(tw_span_set_tag_double(s, "d", 2.5), TW_OK);
    assert_int_equal(tw_span_set_tag_bool(s, "b", 1), TW_OK);
    assert_int_equal(tw_span_set_tag_bool(s, "f", 0), TW_OK);
    tw_field bin = {.key = "bin", .key_len = 3, .type = TW_VAL_BINARY};
    bin.v.str.ptr = "\x00\xff\x10";
    bin.v.str.len = 3;
    assert_int_equal(tw_span_set_tag(s, &bin), TW_OK);
    tw_field nk = {.key = "k\0ey", .key_len = 4, .type = TW_VAL_STRING};
    nk.v.str.ptr = "v";
    nk.v.str.len = 1;
    assert_int_equal(tw_span_set_tag(s, &nk), TW_OK);
    finish_free(s);

    json_t *a = recorded(t, 0);
    json_t *tags = json_object_get(span_named(a, "op"), "tags");
    assert_string_equal(json_string_value(json_object_get(tags, "s")), "text");
    assert_true(json_is_integer(json_object_get(tags, "i")));
    assert_int_equal(json_integer_value(json_object_get(tags, "i")), -42);
    assert_true(json_integer_value(json_object_get(tags, "big")) == INT64_MAX);
    assert_true(json_is_real(json_object_get(tags, "d")));
    assert_true(json_real_value(json_object_get(tags, "d")) == 2.5);
    assert_true(json_is_true(json_object_get(tags, "b")));
    assert_true(json_is_false(json_object_get(tags, "f")));
    assert_string_equal(jstr(json_object_get(tags, "bin"), "binary"), "00ff10");
    json_decref(a);
    tw_tracer_free(t);
}

static void many_tags_grow_past_the_inline_array(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s = start(t, "op", NULL);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(tw_span_set_tag_int(s, key, i), TW_OK);
    }
    finish_free(s);
    json_t *a = recorded(t, 0);
    json_t *tags = json_object_get(span_named(a, "op"), "tags");
    assert_int_equal(json_object_size(tags), 102);   /* + sampler.type/param */
    assert_int_equal(json_integer_value(json_object_get(tags, "k99")), 99);
    assert_int_equal(json_integer_value(json_object_get(tags, "k0")), 0);
    json_decref(a);
    tw_tracer_free(t);
}

static void long_values_are_truncated_to_max_tag_value_length(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("max_tag_value_length", "8", NULL);
    tw_span *s = start(t, "op", NULL);
    assert_int_equal(tw_span_set_tag_str(s, "long", "0123456789abcdef"), TW_OK);
    assert_int_equal(tw_span_set_tag_str(s, "exact", "01234567"), TW_OK);
    /* 'é' is 2 bytes at offsets 7-8: cutting at 8 would split it */
    assert_int_equal(tw_span_set_tag_str(s, "utf8", "abcdefg\xc3\xa9xyz"), TW_OK);
    tw_field bin = {.key = "bin", .key_len = 3, .type = TW_VAL_BINARY};
    bin.v.str.ptr = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a";
    bin.v.str.len = 10;
    assert_int_equal(tw_span_set_tag(s, &bin), TW_OK);
    tw_field lf = {.key = "msg", .key_len = 3, .type = TW_VAL_STRING};
    lf.v.str.ptr = "a log message that is long";
    lf.v.str.len = strlen(lf.v.str.ptr);
    assert_int_equal(tw_span_log(s, 0, &lf, 1), TW_OK);
    finish_free(s);
    json_t *a = recorded(t, 0);
    json_t *sp = span_named(a, "op");
    json_t *tags = json_object_get(sp, "tags");
    assert_string_equal(jstr(tags, "long"), "01234567");
    assert_string_equal(jstr(tags, "exact"), "01234567");
    assert_string_equal(jstr(tags, "utf8"), "abcdefg");
    assert_string_equal(jstr(json_object_get(tags, "bin"), "binary"), "0102030405060708");
    json_t *log0 = json_array_get(json_object_get(sp, "logs"), 0);
    assert_string_equal(jstr(json_object_get(log0, "fields"), "msg"), "a log me");
    json_decref(a);
    tw_tracer_free(t);
}

static void span_kind_tag_sets_the_kind(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    const char *kinds[] = {"client", "server", "producer", "consumer"};
    for (int i = 0; i < 4; i++) {
        tw_span *s = start(t, kinds[i], NULL);
        assert_int_equal(tw_span_set_tag_str(s, "span.kind", kinds[i]), TW_OK);
        finish_free(s);
    }
    tw_span *s = start(t, "explicit", NULL);
    assert_int_equal(tw_span_set_kind(s, TW_KIND_PRODUCER), TW_OK);
    assert_int_equal(tw_span_set_kind(s, (tw_span_kind)99), TW_ERR_INVALID_ARG);
    finish_free(s);
    s = start(t, "odd", NULL);
    assert_int_equal(tw_span_set_tag_str(s, "span.kind", "weird"), TW_OK);
    finish_free(s);
    s = start(t, "none", NULL);
    finish_free(s);

    json_t *a = recorded(t, 0);
    for (int i = 0; i < 4; i++) {
        json_t *sp = span_named(a, kinds[i]);
        assert_string_equal(jstr(sp, "kind"), kinds[i]);
        assert_null(json_object_get(json_object_get(sp, "tags"), "span.kind"));
    }
    assert_string_equal(jstr(span_named(a, "explicit"), "kind"), "producer");
    /* an unknown value stays an ordinary tag */
    assert_string_equal(jstr(span_named(a, "odd"), "kind"), "unspecified");
    assert_string_equal(jstr(json_object_get(span_named(a, "odd"), "tags"), "span.kind"), "weird");
    assert_string_equal(jstr(span_named(a, "none"), "kind"), "unspecified");
    json_decref(a);
    tw_tracer_free(t);
}

static void sampling_priority_forces_and_cancels_sampling(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_span *s = start(t, "forced", NULL);
    assert_int_equal(tw_span_context_flags(tw_span_get_context(s)) & TW_FLAG_SAMPLED, 0);
    assert_int_equal(tw_span_set_tag_str(s, "dropped", "before"), TW_OK);
    assert_int_equal(tw_span_set_tag_int(s, "sampling.priority", 1), TW_OK);
    assert_int_equal(tw_span_context_flags(tw_span_get_context(s)), TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
    assert_int_equal(tw_span_set_tag_str(s, "kept", "after"), TW_OK);
    /* a child of the forced span is sampled too */
    tw_span *c = start(t, "forced-child", tw_span_get_context(s));
    finish_free(c);
    finish_free(s);
    tw_tracer_free(t);

    t = mem_tracer(NULL);
    s = start(t, "cancelled", NULL);
    assert_int_equal(tw_span_set_tag_double(s, "sampling.priority", 0.0), TW_OK);
    assert_int_equal(tw_span_context_flags(tw_span_get_context(s)) & TW_FLAG_SAMPLED, 0);
    finish_free(s);
    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    tw_tracer_free(t);
}

static void sampling_priority_recorded_on_forced_span(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_span *s = start(t, "forced", NULL);
    assert_int_equal(tw_span_set_tag_str(s, "dropped", "before"), TW_OK);
    assert_int_equal(tw_span_set_tag_str(s, "sampling.priority", "1"), TW_OK);
    assert_int_equal(tw_span_set_tag_str(s, "kept", "after"), TW_OK);
    tw_span *c = start(t, "forced-child", tw_span_get_context(s));
    finish_free(c);
    finish_free(s);
    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 2);
    json_t *sp = span_named(a, "forced");
    assert_int_equal(json_integer_value(json_object_get(sp, "flags")), 3);
    json_t *tags = json_object_get(sp, "tags");
    assert_null(json_object_get(tags, "dropped"));
    assert_string_equal(jstr(tags, "kept"), "after");
    assert_string_equal(jstr(tags, "sampling.priority"), "1");
    assert_int_equal(json_integer_value(json_object_get(span_named(a, "forced-child"), "flags")), 3);
    json_decref(a);
    tw_counters k;
    tw_tracer_counters(t, &k);
    assert_int_equal(k.spans_started, 2);
    assert_int_equal(k.spans_sampled, 2);
    assert_int_equal(k.spans_finished, 2);
    tw_tracer_free(t);
}

static void logs_keep_typed_fields_and_timestamps(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s;
    assert_int_equal(tw_span_start(t, "op", 2, NULL, 0, 1000, &s), TW_OK);
    tw_field f[4] = {
        {.key = "event", .key_len = 5, .type = TW_VAL_STRING},
        {.key = "count", .key_len = 5, .type = TW_VAL_INT64},
        {.key = "ratio", .key_len = 5, .type = TW_VAL_DOUBLE},
        {.key = "ok", .key_len = 2, .type = TW_VAL_BOOL},
    };
    f[0].v.str.ptr = "error";
    f[0].v.str.len = 5;
    f[1].v.i64 = 7;
    f[2].v.f64 = 0.25;
    f[3].v.b = 1;
    assert_int_equal(tw_span_log(s, 1500, f, 4), TW_OK);
    for (int i = 0; i < 9; i++)
        assert_int_equal(tw_span_log(s, 1600 + i, f + 1, 1), TW_OK);
    assert_int_equal(tw_span_log(s, 1700, NULL, 0), TW_OK);
    int64_t before = tw_now_us();
    assert_int_equal(tw_span_log(s, 0, f, 1), TW_OK);
    assert_int_equal(tw_span_log(s, 0, NULL, 2), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_finish(s, 0), TW_OK);
    tw_span_free(s);

    json_t *a = recorded(t, 0);
    json_t *logs = json_object_get(span_named(a, "op"), "logs");
    assert_int_equal(json_array_size(logs), 12);
    json_t *l0 = json_array_get(logs, 0);
    assert_int_equal(json_integer_value(json_object_get(l0, "timestamp_us")), 1500);
    json_t *fl = json_object_get(l0, "fields");
    assert_string_equal(jstr(fl, "event"), "error");
    assert_int_equal(json_integer_value(json_object_get(fl, "count")), 7);
    assert_true(json_real_value(json_object_get(fl, "ratio")) == 0.25);
    assert_true(json_is_true(json_object_get(fl, "ok")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(logs, 9), "timestamp_us")), 1608);
    assert_int_equal(json_object_size(json_object_get(json_array_get(logs, 10), "fields")), 0);
    assert_true(json_integer_value(json_object_get(json_array_get(logs, 11), "timestamp_us")) >= before);
    json_decref(a);
    tw_tracer_free(t);
}

static void first_child_of_is_the_parent_and_all_refs_are_kept(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *p1 = start(t, "p1", NULL);
    tw_span *p2 = start(t, "p2", NULL);
    tw_span_ref refs[2] = {
        {TW_REF_FOLLOWS_FROM, tw_span_get_context(p1)},
        {TW_REF_CHILD_OF, tw_span_get_context(p2)},
    };
    tw_span *c;
    assert_int_equal(tw_span_start(t, "c", 1, refs, 2, 0, &c), TW_OK);
    const tw_span_context *cc = tw_span_get_context(c);
    uint64_t hi, lo, phi, plo;
    tw_span_context_trace_id(cc, &hi, &lo);
    tw_span_context_trace_id(tw_span_get_context(p2), &phi, &plo);
    assert_true(hi == phi && lo == plo);
    assert_true(tw_span_context_parent_id(cc) == tw_span_context_span_id(tw_span_get_context(p2)));

    /* follows_from only: same trace, that span is the parent (Jaeger) */
    tw_span *f;
    assert_int_equal(tw_span_start(t, "f", 1, refs, 1, 0, &f), TW_OK);
    assert_true(tw_span_context_parent_id(tw_span_get_context(f)) ==
                tw_span_context_span_id(tw_span_get_context(p1)));
    char p1id[17], p2id[17];
    hex_of(tw_span_context_span_id(tw_span_get_context(p1)), p1id);
    hex_of(tw_span_context_span_id(tw_span_get_context(p2)), p2id);
    finish_free(c);
    finish_free(f);
    finish_free(p1);
    finish_free(p2);

    json_t *a = recorded(t, 0);
    json_t *cs = span_named(a, "c");
    assert_string_equal(jstr(cs, "parent_id"), p2id);
    json_t *r = json_object_get(cs, "references");
    assert_int_equal(json_array_size(r), 2);
    assert_string_equal(jstr(json_array_get(r, 0), "type"), "follows_from");
    assert_string_equal(jstr(json_array_get(r, 0), "span_id"), p1id);
    assert_string_equal(jstr(json_array_get(r, 1), "type"), "child_of");
    assert_string_equal(jstr(json_array_get(r, 1), "span_id"), p2id);
    json_t *fs = span_named(a, "f");
    assert_string_equal(jstr(fs, "parent_id"), p1id);
    assert_string_equal(jstr(json_array_get(json_object_get(fs, "references"), 0), "type"), "follows_from");
    assert_string_equal(jstr(span_named(a, "p1"), "parent_id"), "0000000000000000");
    assert_int_equal(json_array_size(json_object_get(span_named(a, "p1"), "references")), 0);
    /* only roots carry sampler tags */
    assert_non_null(json_object_get(json_object_get(span_named(a, "p1"), "tags"), "sampler.type"));
    assert_null(json_object_get(json_object_get(cs, "tags"), "sampler.type"));
    json_decref(a);
    tw_tracer_free(t);
}

static void baggage_is_inherited_and_contexts_stay_valid(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *root = start(t, "root", NULL);
    const tw_span_context *before = tw_span_get_context(root);
    assert_int_equal(tw_span_set_baggage(root, "user", 4, "alice", 5), TW_OK);
    assert_int_equal(tw_span_set_baggage(root, "tenant", 6, "t1", 2), TW_OK);
    const tw_span_context *mid = tw_span_get_context(root);
    assert_int_equal(tw_span_set_baggage(root, "user", 4, "bob", 3), TW_OK);
    const tw_span_context *rc = tw_span_get_context(root);
    /* earlier borrowed contexts are still readable */
    assert_true(tw_span_context_span_id(before) == tw_span_context_span_id(rc));
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(mid, "user", 4, &v, &vl), TW_OK);
    assert_memory_equal(v, "alice", 5);
    assert_int_equal(tw_span_context_baggage(before, "user", 4, &v, &vl), TW_ERR_NOT_FOUND);

    tw_span *child = start(t, "child", rc);
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(child), "user", 4, &v, &vl), TW_OK);
    assert_int_equal(vl, 3);
    assert_memory_equal(v, "bob", 3);
    assert_int_equal(tw_span_set_baggage(child, "only", 4, "child", 5), TW_OK);
    tw_span *grand = start(t, "grand", tw_span_get_context(child));
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(grand), "tenant", 6, &v, &vl), TW_OK);
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(grand), "only", 4, &v, &vl), TW_OK);
    /* a child's baggage never flows back up */
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(root), "only", 4, &v, &vl),
                     TW_ERR_NOT_FOUND);
    /* an unsampled span propagates baggage too */
    tw_tracer *t0 = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_span *u = start(t0, "u", rc);
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(u), "user", 4, &v, &vl), TW_OK);
    finish_free(u);
    tw_tracer_free(t0);

    finish_free(grand);
    finish_free(child);
    assert_int_equal(tw_span_finish(root, 0), TW_OK);
    /* readable after finish, until free */
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(root), "user", 4, &v, &vl), TW_OK);
    tw_span_free(root);

    json_t *a = recorded(t, 0);
    json_t *logs = json_object_get(span_named(a, "root"), "logs");
    assert_int_equal(json_array_size(logs), 3);
    json_t *f = json_object_get(json_array_get(logs, 2), "fields");
    assert_string_equal(jstr(f, "event"), "baggage");
    assert_string_equal(jstr(f, "key"), "user");
    assert_string_equal(jstr(f, "value"), "bob");
    json_decref(a);
    tw_tracer_free(t);
}

/* At most 180 baggage items per context (extract's bound): the 181st new key
 * is refused and changes nothing, replacing a key still works. */
static void baggage_item_count_is_bounded(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s = start(t, "op", NULL);
    char k[16];
    for (int i = 0; i < 180; i++) {
        int kl = snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(tw_span_set_baggage(s, k, (size_t)kl, "v", 1), TW_OK);
    }
    const tw_span_context *before = tw_span_get_context(s);
    assert_int_equal(tw_span_set_baggage(s, "one-more", 8, "v", 1), TW_ERR_TOO_LARGE);
    assert_ptr_equal(tw_span_get_context(s), before);
    assert_int_equal(tw_span_set_baggage(s, "k7", 2, "new", 3), TW_OK);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(s), "k7", 2, &v, &vl), TW_OK);
    assert_int_equal(vl, 3);
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(s), "one-more", 8, &v, &vl),
                     TW_ERR_NOT_FOUND);
    finish_free(s);
    tw_tracer_free(t);
}

static void baggage_bounds_and_arguments(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("max_baggage_size", "10", NULL);
    tw_span *s = start(t, "op", NULL);
    assert_int_equal(tw_span_set_baggage(s, "key", 3, "1234567", 7), TW_OK);
    assert_int_equal(tw_span_set_baggage(s, "key", 3, "12345678", 8), TW_ERR_TOO_LARGE);
    assert_int_equal(tw_span_set_baggage(s, "", 0, "v", 1), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_set_baggage(s, NULL, 0, "v", 1), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_set_baggage(s, "k", 1, NULL, 0), TW_OK);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(s), "key", 3, &v, &vl), TW_OK);
    assert_int_equal(vl, 7);
    finish_free(s);
    tw_tracer_free(t);
}

static void operation_name_can_change_after_start(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s = start(t, "first", NULL);
    char longname[200];
    memset(longname, 'x', sizeof longname);
    assert_int_equal(tw_span_set_operation_name(s, longname, sizeof longname), TW_OK);
    size_t n;
    assert_int_equal(strlen(tw_span_operation_name(s, &n)), 200);
    assert_int_equal(tw_span_set_operation_name(s, "second", 6), TW_OK);
    assert_string_equal(tw_span_operation_name(s, &n), "second");
    assert_int_equal(n, 6);
    finish_free(s);
    /* unsampled spans remember their name too */
    tw_tracer *t0 = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_span *u = start(t0, "u1", NULL);
    assert_int_equal(tw_span_set_operation_name(u, "u2", 2), TW_OK);
    assert_string_equal(tw_span_operation_name(u, NULL), "u2");
    finish_free(u);
    tw_tracer_free(t0);

    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 1);
    span_named(a, "second");
    json_decref(a);
    tw_tracer_free(t);
}

static void finished_span_rejects_every_write(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s = start(t, "op", NULL);
    assert_false(tw_span_is_finished(s));
    assert_int_equal(tw_span_finish(s, 0), TW_OK);
    assert_true(tw_span_is_finished(s));
    assert_int_equal(tw_span_finish(s, 0), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_tag_str(s, "k", "v"), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_tag_int(s, "k", 1), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_tag_double(s, "k", 1), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_tag_bool(s, "k", 1), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_tag_int(s, "sampling.priority", 1), TW_ERR_FINISHED);
    tw_field f = {.key = "k", .key_len = 1, .type = TW_VAL_INT64};
    assert_int_equal(tw_span_set_tag(s, &f), TW_ERR_FINISHED);
    assert_int_equal(tw_span_log(s, 0, &f, 1), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_operation_name(s, "x", 1), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_kind(s, TW_KIND_CLIENT), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_baggage(s, "k", 1, "v", 1), TW_ERR_FINISHED);
    assert_string_equal(tw_span_operation_name(s, NULL), "op");
    assert_non_null(tw_span_get_context(s));
    tw_span_free(s);

    /* unsampled spans too */
    tw_tracer *t0 = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_span *u = start(t0, "u", NULL);
    assert_int_equal(tw_span_finish(u, 0), TW_OK);
    assert_int_equal(tw_span_finish(u, 0), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_tag_str(u, "k", "v"), TW_ERR_FINISHED);
    assert_int_equal(tw_span_set_baggage(u, "k", 1, "v", 1), TW_ERR_FINISHED);
    tw_span_free(u);
    tw_tracer_free(t0);

    json_t *a = recorded(t, 0);
    json_t *sp = span_named(a, "op");
    assert_null(json_object_get(json_object_get(sp, "tags"), "k"));
    assert_int_equal(json_array_size(json_object_get(sp, "logs")), 0);
    assert_string_equal(jstr(sp, "kind"), "unspecified");
    json_decref(a);
    tw_tracer_free(t);
}

static void explicit_timestamps_are_kept(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s;
    assert_int_equal(tw_span_start(t, "op", 2, NULL, 0, 1700000000000000, &s), TW_OK);
    assert_true(tw_span_start_us(s) == 1700000000000000);
    assert_int_equal(tw_span_finish(s, 1700000000002500), TW_OK);
    tw_span_free(s);
    /* finish before start clamps to 0 */
    assert_int_equal(tw_span_start(t, "back", 4, NULL, 0, 5000, &s), TW_OK);
    assert_int_equal(tw_span_finish(s, 4000), TW_OK);
    tw_span_free(s);
    int64_t t0 = tw_now_us();
    s = start(t, "now", NULL);
    assert_true(tw_span_start_us(s) >= t0);
    finish_free(s);
    int64_t t1 = tw_now_us();

    json_t *a = recorded(t, 0);
    json_t *sp = span_named(a, "op");
    assert_true(json_integer_value(json_object_get(sp, "start_us")) == 1700000000000000);
    assert_int_equal(json_integer_value(json_object_get(sp, "duration_us")), 2500);
    assert_int_equal(json_integer_value(json_object_get(span_named(a, "back"), "duration_us")), 0);
    json_t *n = span_named(a, "now");
    int64_t st = json_integer_value(json_object_get(n, "start_us"));
    assert_true(st >= t0 && st + json_integer_value(json_object_get(n, "duration_us")) <= t1);
    json_decref(a);
    tw_tracer_free(t);
}

static void unsampled_spans_propagate_but_are_not_recorded(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_span *r = start(t, "r", NULL);
    const tw_span_context *rc = tw_span_get_context(r);
    assert_true(tw_span_context_span_id(rc) != 0);
    assert_int_equal(tw_span_context_flags(rc), 0);
    assert_true(tw_span_start_us(r) == 0);
    assert_int_equal(tw_span_set_tag_str(r, "k", "v"), TW_OK);
    tw_field f = {.key = "k", .key_len = 1, .type = TW_VAL_INT64};
    assert_int_equal(tw_span_log(r, 0, &f, 1), TW_OK);
    tw_span *c = start(t, "c", rc);
    uint64_t h1, l1, h2, l2;
    tw_span_context_trace_id(rc, &h1, &l1);
    tw_span_context_trace_id(tw_span_get_context(c), &h2, &l2);
    assert_true(h1 == h2 && l1 == l2);
    assert_int_equal(tw_span_context_flags(tw_span_get_context(c)), 0);
    finish_free(c);
    finish_free(r);
    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    tw_counters k;
    tw_tracer_counters(t, &k);
    assert_int_equal(k.spans_started, 2);
    assert_int_equal(k.spans_sampled, 0);
    assert_int_equal(k.spans_finished, 0);
    tw_tracer_free(t);
}

static void context_without_ids_makes_a_root_keeping_baggage_and_debug(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    twp_baggage_item b = {.key = "k", .val = "v", .key_len = 1, .val_len = 1};
    tw_span_context *carrier;
    assert_int_equal(twp_context_build(0, 0, 0, 0, 0, &b, 1, "dbg-123", 7, NULL, 0, &carrier), TW_OK);
    tw_span *s = start(t, "debug-root", carrier);
    const tw_span_context *c = tw_span_get_context(s);
    uint64_t hi, lo;
    tw_span_context_trace_id(c, &hi, &lo);
    assert_true(lo != 0 && tw_span_context_span_id(c) != 0);
    assert_true(tw_span_context_parent_id(c) == 0);
    assert_int_equal(tw_span_context_flags(c), TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
    const char *v;
    size_t vl;
    assert_int_equal(tw_span_context_baggage(c, "k", 1, &v, &vl), TW_OK);
    finish_free(s);
    tw_span_context_free(carrier);

    /* baggage only: a root the sampler decides on (here: not sampled) */
    assert_int_equal(twp_context_build(0, 0, 0, 0, 0, &b, 1, NULL, 0, NULL, 0, &carrier), TW_OK);
    s = start(t, "bag-root", carrier);
    assert_int_equal(tw_span_context_flags(tw_span_get_context(s)), 0);
    assert_int_equal(tw_span_context_baggage(tw_span_get_context(s), "k", 1, &v, &vl), TW_OK);
    finish_free(s);
    tw_span_context_free(carrier);

    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 1);
    json_t *sp = span_named(a, "debug-root");
    assert_int_equal(json_integer_value(json_object_get(sp, "flags")), 3);
    assert_string_equal(jstr(json_object_get(sp, "tags"), "jaeger-debug-id"), "dbg-123");
    assert_int_equal(json_array_size(json_object_get(sp, "references")), 0);
    json_decref(a);
    tw_tracer_free(t);
}

static void tracestate_is_kept_on_children(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span_context *remote;
    assert_int_equal(twp_context_build(1, 2, 3, 0, TW_FLAG_SAMPLED, NULL, 0, NULL, 0,
                                       "vendor=abc", 10, &remote), TW_OK);
    tw_span *s = start(t, "op", remote);
    finish_free(s);
    tw_span_context_free(remote);
    json_t *a = recorded(t, 0);
    json_t *sp = span_named(a, "op");
    assert_string_equal(jstr(sp, "tracestate"), "vendor=abc");
    assert_string_equal(jstr(sp, "trace_id"), "00000000000000010000000000000002");
    assert_string_equal(jstr(sp, "parent_id"), "0000000000000003");
    json_decref(a);
    tw_tracer_free(t);
}

static void trace_ids_are_64_bit_when_configured(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("trace_id_128bit", "false", NULL);
    tw_span *s = start(t, "op", NULL);
    uint64_t hi, lo;
    tw_span_context_trace_id(tw_span_get_context(s), &hi, &lo);
    assert_true(hi == 0 && lo != 0);
    char buf[33];
    tw_span_context_trace_id_hex(tw_span_get_context(s), buf);
    assert_int_equal(strlen(buf), 16);
    finish_free(s);
    json_t *a = recorded(t, 0);
    assert_int_equal(strlen(jstr(span_named(a, "op"), "trace_id")), 16);
    json_decref(a);
    tw_tracer_free(t);

    t = mem_tracer(NULL);
    s = start(t, "op", NULL);
    tw_span_context_trace_id(tw_span_get_context(s), &hi, &lo);
    assert_true(hi != 0 && lo != 0);
    tw_span_context_trace_id_hex(tw_span_get_context(s), buf);
    assert_int_equal(strlen(buf), 32);
    finish_free(s);
    tw_tracer_free(t);
}

static void unfinished_span_is_discarded_on_free(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s = start(t, "lost", NULL);
    assert_int_equal(tw_span_set_tag_str(s, "k", "v"), TW_OK);
    tw_span_free(s);
    tw_span_free(NULL);
    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    tw_tracer_free(t);
}

static void any_bytes_in_tags_still_dump_as_json(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s;
    assert_int_equal(tw_span_start(t, "op\xff", 3, NULL, 0, 0, &s), TW_OK);
    tw_field f = {.key = "k\xc3", .key_len = 2, .type = TW_VAL_STRING};
    f.v.str.ptr = "a\x80" "b\0c";
    f.v.str.len = 5;
    assert_int_equal(tw_span_set_tag(s, &f), TW_OK);
    finish_free(s);
    json_t *a = recorded(t, 0);
    json_t *sp = json_array_get(a, 0);
    assert_string_equal(jstr(sp, "operation_name"), "op\xef\xbf\xbd");
    json_t *v = json_object_get(json_object_get(sp, "tags"), "k\xef\xbf\xbd");
    assert_int_equal(json_string_length(v), 7);
    assert_memory_equal(json_string_value(v), "a\xef\xbf\xbd" "b\0c", 7);
    json_decref(a);
    tw_tracer_free(t);
}

static void bad_arguments_are_rejected(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    tw_span *s = (tw_span *)1;
    assert_int_equal(tw_span_start(NULL, "x", 1, NULL, 0, 0, &s), TW_ERR_INVALID_ARG);
    assert_null(s);
    assert_int_equal(tw_span_start(t, NULL, 3, NULL, 0, 0, &s), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_start(t, "x", 1, NULL, 2, 0, &s), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_start(t, "x", 1, NULL, 0, 0, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_start(t, NULL, 0, NULL, 0, 0, &s), TW_OK);
    assert_string_equal(tw_span_operation_name(s, NULL), "");
    assert_int_equal(tw_span_set_tag_str(s, NULL, "v"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_set_tag_str(s, "k", NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_set_tag(s, NULL), TW_ERR_INVALID_ARG);
    tw_field bad = {.key = "k", .key_len = 1, .type = (tw_value_type)9};
    assert_int_equal(tw_span_set_tag(s, &bad), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_log(s, 0, &bad, 1), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_set_tag_int(NULL, "k", 1), TW_ERR_INVALID_ARG);
    tw_field nullstr = {.key = "k", .key_len = 1, .type = TW_VAL_STRING};
    nullstr.v.str.len = 3;
    assert_int_equal(tw_span_set_tag(s, &nullstr), TW_ERR_INVALID_ARG);
    /* a record keeps 16-bit key lengths (span_data.h): a 64 KB key is refused
     * by name, one byte less is kept whole */
    char *huge = malloc(65536);
    assert_non_null(huge);
    memset(huge, 'k', 65536);
    tw_field hk = {.key = huge, .key_len = 65536, .type = TW_VAL_INT64};
    assert_int_equal(tw_span_set_tag(s, &hk), TW_ERR_TOO_LARGE);
    assert_int_equal(tw_span_log(s, 0, &hk, 1), TW_ERR_TOO_LARGE);
    hk.key_len = 65535;
    assert_int_equal(tw_span_set_tag(s, &hk), TW_OK);
    free(huge);
    /* ... and 16-bit log and reference counts */
    for (int i = 0; i < 65535; i++)
        assert_int_equal(tw_span_log(s, 1, NULL, 0), TW_OK);
    assert_int_equal(tw_span_log(s, 1, NULL, 0), TW_ERR_TOO_LARGE);
    tw_span_ref *many = malloc(sizeof *many * 65536);
    assert_non_null(many);
    for (int i = 0; i < 65536; i++)
        many[i] = (tw_span_ref){TW_REF_FOLLOWS_FROM, tw_span_get_context(s)};
    tw_span *m = (tw_span *)1;
    assert_int_equal(tw_span_start(t, "m", 1, many, 65536, 0, &m), TW_ERR_TOO_LARGE);
    assert_null(m);
    assert_int_equal(tw_span_start(t, "m", 1, many, 65535, 0, &m), TW_OK);
    finish_free(m);
    free(many);
    /* unsampled spans validate the same way */
    tw_tracer *t0 = mem_tracer("sampler.type", "const", "sampler.param", "0", NULL);
    tw_span *u = start(t0, "u", NULL);
    assert_int_equal(tw_span_set_tag(u, &bad), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_set_tag(u, &nullstr), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_log(u, 0, &bad, 1), TW_ERR_INVALID_ARG);
    finish_free(u);
    tw_tracer_free(t0);
    assert_int_equal(tw_span_finish(NULL, 0), TW_ERR_INVALID_ARG);
    /* NULL contexts in refs are ignored */
    tw_span_ref r = {TW_REF_CHILD_OF, NULL};
    tw_span *c;
    assert_int_equal(tw_span_start(t, "c", 1, &r, 1, 0, &c), TW_OK);
    assert_true(tw_span_context_parent_id(tw_span_get_context(c)) == 0);
    finish_free(c);
    finish_free(s);
    tw_tracer_free(t);
}

/* twp_span_pack / twp_span_unpack (what the memory reporter keeps): every
 * field, array and string of the unpacked record equal to the original's,
 * strings from the original's arena (inline and heap chunks) and static
 * ones alike; short keys and the name point into the string table. A
 * packed span cut short or corrupted unpacks to NULL, never a crash. */
static void values_equal(const twp_value *a, const twp_value *b);
static void values_equal(const twp_value *a, const twp_value *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->key_len, b->key_len);
    assert_memory_equal(a->key, b->key, a->key_len + 1);
    if (a->type == TW_VAL_STRING || a->type == TW_VAL_BINARY) {
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->v.str, b->v.str, a->len + 1);
    } else if (a->type == TW_VAL_ARRAY) {
        assert_ptr_not_equal(a->v.arr, b->v.arr);
        assert_int_equal(a->v.arr->n, b->v.arr->n);
        assert_int_equal(a->v.arr->size, b->v.arr->size);
        assert_string_equal(a->v.arr->json, b->v.arr->json);
        for (uint32_t i = 0; i < a->v.arr->n; i++)
            values_equal(&a->v.arr->items[i], &b->v.arr->items[i]);
    } else {
        assert_memory_equal(&a->v, &b->v, sizeof a->v);
    }
}

static void packed_record_unpacks_equal_to_the_original(void **state)
{
    (void)state;
    twp_span_data *d = twp_span_data_new();
    assert_non_null(d);
    d->trace_hi = 1; d->trace_lo = 2; d->span_id = 3; d->parent_id = 4;
    d->flags = TW_FLAG_SAMPLED; d->kind = TW_KIND_SERVER;
    d->start_us = 5; d->duration_us = 6;
    d->op = twp_arena_strdup(&d->arena, "GET /x", 6);
    d->op_len = 6;
    d->tracestate = twp_arena_strdup(&d->arena, "a=b,c=d", 7);
    static const char skey[] = "sampler.type";
    char big[600];
    memset(big, 'v', sizeof big);
    /* 12 tags: past the 8 inline slots and, with the 600-byte value, past
     * the inline arena into heap chunks; tag 0 borrows a static key/value */
    d->tags[0] = (twp_value){.type = TW_VAL_STRING, .key = skey, .key_len = 12,
                             .len = 5, .v.str = "const"};
    d->ntags = 1;
    for (int i = 1; i < 12; i++) {
        if (d->ntags == d->cap_tags) {
            twp_value *n = twp_arena_alloc(&d->arena, sizeof(twp_value) * d->cap_tags * 2);
            assert_non_null(n);
            memcpy(n, d->tags, sizeof(twp_value) * d->ntags);
            d->tags = n;
            d->cap_tags *= 2;
        }
        twp_value *v = &d->tags[d->ntags++];
        char key[64];   /* key-5 is longer than a string-table slot holds: kept inline */
        int kl = snprintf(key, sizeof key, i == 5 ? "key-%d-longer-than-thirty-one-bytes" : "key-%d",
                          i);
        v->key = twp_arena_strdup(&d->arena, key, (size_t)kl);
        v->key_len = (uint32_t)kl;
        if (i == 3) {
            v->type = TW_VAL_STRING;
            v->v.str = twp_arena_strdup(&d->arena, big, sizeof big);
            v->len = sizeof big;
        } else if (i % 2) {
            v->type = TW_VAL_INT64;
            v->v.i64 = -i;
        } else {
            v->type = TW_VAL_BINARY;
            v->v.str = twp_arena_strdup(&d->arena, "\0\1\2", 3);
            v->len = 3;
        }
    }
    assert_non_null(d->arena.chunks);
    d->logs = twp_arena_alloc(&d->arena, sizeof(twp_log) * 2);
    d->nlogs = d->cap_logs = 2;
    for (uint32_t i = 0; i < 2; i++) {
        d->logs[i].ts_us = 100 + i;
        d->logs[i].nfields = i + 1;
        d->logs[i].fields = twp_arena_alloc(&d->arena, sizeof(twp_value) * (i + 1));
        for (uint32_t j = 0; j <= i; j++)
            d->logs[i].fields[j] = (twp_value){
                .type = TW_VAL_STRING, .key = twp_arena_strdup(&d->arena, "event", 5),
                .key_len = 5, .len = 2, .v.str = twp_arena_strdup(&d->arena, "hi", 2)};
    }
    d->refs = twp_arena_alloc(&d->arena, sizeof(twp_ref));
    d->refs[0] = (twp_ref){.type = TW_REF_FOLLOWS_FROM, .trace_hi = 7, .trace_lo = 8, .span_id = 9};
    d->nrefs = 1;

    twp_span_data *orig = twp_span_data_clone(d);
    assert_non_null(orig);
    twp_packed *p = twp_span_pack(d);
    assert_non_null(p);
    twp_span_data_free(d);
    twp_span_data *c = twp_span_unpack(p);
    assert_non_null(c);
    assert_int_equal(c->trace_hi, 1); assert_int_equal(c->trace_lo, 2);
    assert_int_equal(c->span_id, 3); assert_int_equal(c->parent_id, 4);
    assert_int_equal(c->flags, TW_FLAG_SAMPLED); assert_int_equal(c->kind, TW_KIND_SERVER);
    assert_int_equal(c->start_us, 5); assert_int_equal(c->duration_us, 6);
    assert_int_equal(c->op_len, 6);
    assert_string_equal(c->op, "GET /x");
    assert_string_equal(c->tracestate, "a=b,c=d");
    assert_int_equal(c->ntags, 12);
    for (uint32_t i = 0; i < 12; i++)
        values_equal(&c->tags[i], &orig->tags[i]);
    /* short keys and the name point into the process's string table */
    assert_ptr_equal(c->tags[0].key, twp_intern_get(&twp_strings, skey, 12, 0));
    assert_ptr_equal(c->tags[1].key, twp_intern_get(&twp_strings, "key-1", 5, 0));
    assert_ptr_equal(c->op, twp_intern_get(&twp_strings, "GET /x", 6, 0));
    assert_int_equal(c->tags[5].key_len, 34);
    assert_string_equal(c->tags[5].key, "key-5-longer-than-thirty-one-bytes");
    assert_non_null(c->op);
    assert_int_equal(c->nlogs, 2);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(c->logs[i].ts_us, 100 + i);
        assert_int_equal(c->logs[i].nfields, i + 1);
        for (uint32_t j = 0; j <= i; j++)
            values_equal(&c->logs[i].fields[j], &orig->logs[i].fields[j]);
    }
    assert_int_equal(c->nrefs, 1);
    /* field by field: the struct has padding after type, which nobody set */
    assert_int_equal(c->refs[0].type, orig->refs[0].type);
    assert_int_equal(c->refs[0].trace_hi, 7);
    assert_int_equal(c->refs[0].trace_lo, 8);
    assert_int_equal(c->refs[0].span_id, 9);
    assert_true(c->refs[0].link == orig->refs[0].link);
    assert_null(c->refs[0].tracestate);
    assert_null(c->refs[0].attrs);
    twp_span_data_free(c);
    twp_span_data_free(orig);
    /* every cut of the block, and a reference to a slot out of range */
    for (uint32_t len = 0; len < p->len; len++) {
        twp_packed *q = malloc(sizeof *q + len);
        assert_non_null(q);
        memcpy(q->b, p->b, len);
        q->len = len;
        assert_null(twp_span_unpack(q));
        free(q);
    }
    twp_packed *q = malloc(sizeof *q + p->len + 1);
    assert_non_null(q);
    memcpy(q->b, p->b, p->len);
    q->b[p->len] = 0;
    q->len = p->len + 1;                       /* a trailing byte */
    assert_null(twp_span_unpack(q));
    q->len = p->len;
    /* byte 0 is the parts; the op's reference follows ids and times: find
     * it by flipping every byte in turn, none may crash */
    for (uint32_t i = 0; i < p->len; i++) {
        q->b[i] ^= 0xff;
        twp_span_data_free(twp_span_unpack(q));
        q->b[i] ^= 0xff;
    }
    free(q);
    free(p);
}

/* OTel values (tw_span_add_link, ARRAY, scope) through the API, the
 * memory reporter's packed copy, and a clone + pack/unpack of one record. */
static void otel_arrays_links_and_scope_are_recorded_and_copied(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    const tw_scope *sc;
    assert_int_equal(tw_tracer_scope(t, "lib", 3, "1.0", 3, NULL, 0, NULL, 0, &sc), TW_OK);
    tw_span *a, *b;
    assert_int_equal(tw_span_start(t, "a", 1, NULL, 0, 0, &a), TW_OK);
    assert_int_equal(tw_span_start(t, "b", 1, NULL, 0, 0, &b), TW_OK);
    tw_field items[3] = {{.type = TW_VAL_STRING}, {.type = TW_VAL_NULL}, {.type = TW_VAL_STRING}};
    items[0].v.str.ptr = "x";
    items[0].v.str.len = 1;
    items[2].v.str.ptr = "yy";
    items[2].v.str.len = 2;
    tw_field f = {.key = "arr", .key_len = 3, .type = TW_VAL_ARRAY};
    f.v.arr.items = items;
    f.v.arr.n = 3;
    assert_int_equal(tw_span_set_tag(a, &f), TW_OK);
    assert_int_equal(tw_span_set_scope(a, sc), TW_OK);
    /* 5 links: the refs array grows past its power-of-two capacities */
    for (int i = 0; i < 5; i++)
        assert_int_equal(tw_span_add_link(a, tw_span_get_context(b), &f, 1), TW_OK);
    assert_int_equal(tw_span_add_link(a, NULL, NULL, 0), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_add_link(a, tw_span_get_context(b), NULL, 1), TW_ERR_INVALID_ARG);
    /* zero ids: only with attributes or a tracestate (the OTel SDK's rule) */
    assert_int_equal(tw_span_add_link_ids(a, 0, 0, 0, 0, NULL, 0, NULL, 0), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_add_link_ids(a, 0, 0, 0, 0, NULL, 1, NULL, 0), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_span_add_link_ids(a, 0, 0, 0, 0, "x=y", 3, NULL, 0), TW_OK);
    items[1].type = TW_VAL_INT64;              /* mixed: refused */
    assert_int_equal(tw_span_set_tag(a, &f), TW_ERR_INVALID_ARG);
    tw_tracer *other = mem_tracer(NULL);
    const tw_scope *osc;
    assert_int_equal(tw_tracer_scope(other, "lib", 3, "1.0", 3, NULL, 0, NULL, 0, &osc), TW_OK);
    assert_int_equal(tw_span_set_scope(b, osc), TW_ERR_INVALID_ARG);   /* not b's tracer */
    tw_tracer_free(other);
    tw_span_finish(a, 0);
    tw_span_finish(b, 0);
    json_t *arr = recorded(t, 1);
    json_t *sa = span_named(arr, "a");
    char *dump = json_dumps(json_object_get(json_object_get(sa, "tags"), "arr"), 0);
    assert_string_equal(dump, "[\"x\", null, \"yy\"]");
    free(dump);
    json_t *refs = json_object_get(sa, "references");
    assert_int_equal(json_array_size(refs), 6);
    assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 5), "tracestate")),
                        "x=y");
    dump = json_dumps(json_object_get(json_array_get(refs, 4), "attributes"), 0);
    assert_string_equal(dump, "{\"arr\": [\"x\", null, \"yy\"]}");
    free(dump);
    json_t *jsc = json_object_get(sa, "scope");
    assert_string_equal(json_string_value(json_object_get(jsc, "name")), "lib");
    assert_string_equal(json_string_value(json_object_get(jsc, "version")), "1.0");
    assert_null(json_object_get(span_named(arr, "b"), "scope"));
    json_decref(arr);
    tw_span_free(a);
    tw_span_free(b);

    /* clone and pack/unpack of a record holding an ARRAY tag and link attributes */
    items[1].type = TW_VAL_NULL;
    twp_span_data *d = twp_span_data_new();
    assert_non_null(d);
    d->op = "op";
    d->op_len = 2;
    d->scope = sc;
    assert_int_equal(twp_value_fill(&d->arena, 64, &d->tags[0], &f), TW_OK);
    d->ntags = 1;
    d->refs = twp_arena_alloc(&d->arena, sizeof(twp_ref));
    memset(d->refs, 0, sizeof(twp_ref));
    d->refs[0].link = true;
    d->refs[0].span_id = 9;
    d->refs[0].tracestate = twp_arena_strdup(&d->arena, "a=b", 3);
    d->refs[0].attrs = twp_arena_alloc(&d->arena, sizeof(twp_value) * 2);
    assert_int_equal(twp_value_fill(&d->arena, 64, &d->refs[0].attrs[0], &f), TW_OK);
    tw_field k = {.key = "k", .key_len = 1, .type = TW_VAL_INT64};
    k.v.i64 = 5;
    assert_int_equal(twp_value_fill(&d->arena, 64, &d->refs[0].attrs[1], &k), TW_OK);
    d->refs[0].nattrs = 2;
    d->nrefs = 1;
    twp_span_data *orig = twp_span_data_clone(d);
    assert_non_null(orig);
    assert_ptr_equal(orig->scope, sc);
    values_equal(&orig->tags[0], &d->tags[0]);
    twp_packed *p = twp_span_pack(d);
    assert_non_null(p);
    twp_span_data_free(d);
    twp_span_data *c = twp_span_unpack(p);
    free(p);
    assert_non_null(c);
    assert_ptr_equal(c->scope, sc);
    values_equal(&c->tags[0], &orig->tags[0]);
    assert_int_equal(c->refs[0].nattrs, 2);
    assert_true(c->refs[0].link);
    assert_string_equal(orig->refs[0].tracestate, "a=b");
    assert_string_equal(c->refs[0].tracestate, "a=b");
    assert_int_equal(c->refs[0].w3c_flags, orig->refs[0].w3c_flags);
    values_equal(&c->refs[0].attrs[0], &orig->refs[0].attrs[0]);
    values_equal(&c->refs[0].attrs[1], &orig->refs[0].attrs[1]);
    twp_span_data_free(c);
    twp_span_data_free(orig);
    tw_tracer_free(t);
}

/* Operation names of every size class a handle keeps (inline, a cached
 * block, malloc'd to size), renamed across classes, over many spans (the
 * blocks go round the thread's cache): each handle reads its own name
 * before and after finish, and each record carries the name it had. */
static void operation_names_of_every_length(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer("sampler.type", "const", "sampler.param", "1", NULL);
    static const size_t lens[] = {0, 1, 47, 48, 100, 255, 256, 1000};
    enum { N = sizeof lens / sizeof lens[0] };
    static char big[1001];
    for (size_t i = 0; i < 1000; i++)
        big[i] = (char)('a' + i % 26);
    for (int round = 0; round < 300; round++) {
        tw_span *s[N];
        for (size_t i = 0; i < N; i++) {
            char name[1001];
            memcpy(name, big + (round % 7), lens[i] - (lens[i] == 1000 ? round % 7 : 0));
            size_t n = lens[i] - (lens[i] == 1000 ? round % 7 : 0);
            assert_int_equal(tw_span_start(t, name, n, NULL, 0, 0, &s[i]), TW_OK);
            memset(name, 'x', sizeof name);
            size_t got;
            const char *p = tw_span_operation_name(s[i], &got);
            assert_int_equal(got, n);
            assert_memory_equal(p, big + (round % 7), n);
            assert_int_equal(p[n], '\0');
        }
        /* rename each to the next size class (the last to the first) */
        for (size_t i = 0; i < N; i++) {
            size_t n = lens[(i + 1) % N];
            if (round % 3 == 0)
                assert_int_equal(tw_span_set_operation_name(s[i], big, n), TW_OK);
            else
                n = lens[i] - (lens[i] == 1000 ? round % 7 : 0);
            const char *want = round % 3 == 0 ? big : big + (round % 7);
            assert_int_equal(tw_span_finish(s[i], 0), TW_OK);
            size_t got;
            const char *p = tw_span_operation_name(s[i], &got);
            assert_int_equal(got, n);
            assert_memory_equal(p, want, n);
            tw_span_free(s[i]);
        }
        if (round % 50 == 0) {
            json_t *a = recorded(t, 1);
            assert_int_equal(json_array_size(a), N);
            for (size_t i = 0; i < N; i++) {
                const char *op = jstr(json_array_get(a, i), "operation_name");
                size_t n = round % 3 == 0 ? lens[(i + 1) % N]
                                          : lens[i] - (lens[i] == 1000 ? round % 7 : 0);
                assert_int_equal(strlen(op), n);
                assert_memory_equal(op, round % 3 == 0 ? big : big + (round % 7), n);
            }
            json_decref(a);
        } else {
            json_decref(recorded(t, 1));
        }
    }
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_tag_type_is_recorded_with_its_type),
        cmocka_unit_test(operation_names_of_every_length),
        cmocka_unit_test(many_tags_grow_past_the_inline_array),
        cmocka_unit_test(long_values_are_truncated_to_max_tag_value_length),
        cmocka_unit_test(span_kind_tag_sets_the_kind),
        cmocka_unit_test(sampling_priority_forces_and_cancels_sampling),
        cmocka_unit_test(sampling_priority_recorded_on_forced_span),
        cmocka_unit_test(logs_keep_typed_fields_and_timestamps),
        cmocka_unit_test(first_child_of_is_the_parent_and_all_refs_are_kept),
        cmocka_unit_test(baggage_is_inherited_and_contexts_stay_valid),
        cmocka_unit_test(baggage_bounds_and_arguments),
        cmocka_unit_test(baggage_item_count_is_bounded),
        cmocka_unit_test(operation_name_can_change_after_start),
        cmocka_unit_test(finished_span_rejects_every_write),
        cmocka_unit_test(explicit_timestamps_are_kept),
        cmocka_unit_test(unsampled_spans_propagate_but_are_not_recorded),
        cmocka_unit_test(context_without_ids_makes_a_root_keeping_baggage_and_debug),
        cmocka_unit_test(tracestate_is_kept_on_children),
        cmocka_unit_test(trace_ids_are_64_bit_when_configured),
        cmocka_unit_test(unfinished_span_is_discarded_on_free),
        cmocka_unit_test(any_bytes_in_tags_still_dump_as_json),
        cmocka_unit_test(bad_arguments_are_rejected),
        cmocka_unit_test(packed_record_unpacks_equal_to_the_original),
        cmocka_unit_test(otel_arrays_links_and_scope_are_recorded_and_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
