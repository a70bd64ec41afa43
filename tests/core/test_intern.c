/* test_intern.c — the tracer's string table (intern.h): exact matches at
 * every length, the fill limit, duplicates from concurrent inserts, and the
 * span model using it for tag keys and operation names, with records that
 * still read back every string (long keys and names copied as before). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>

#include "span_helpers.h"
#include "intern.h"
#include "span_data.h"

static twp_intern *new_table(void)
{
    twp_intern *t = calloc(1, sizeof *t);
    assert_non_null(t);
    return t;
}

/* Strings of every internable length that differ in one byte only, at each
 * position: each is its own entry, found again at the same address. */
static void every_length_and_byte_position_is_told_apart(void **state)
{
    (void)state;
    twp_intern *t = new_table();
    char buf[TWP_INTERN_MAX_LEN + 1];
    for (size_t n = 0; n <= 12; n++) {
        memset(buf, 'a', sizeof buf);
        const char *base = twp_intern_get(t, buf, n, TWP_INTERN_FULL);
        assert_non_null(base);
        assert_int_equal(strlen(base), n);
        assert_memory_equal(base, buf, n);
        for (size_t i = 0; i < n; i++) {
            buf[i] = 'b';
            const char *o = twp_intern_get(t, buf, n, TWP_INTERN_FULL);
            assert_non_null(o);
            assert_ptr_not_equal(o, base);
            assert_memory_equal(o, buf, n);
            buf[i] = 'a';
        }
        assert_ptr_equal(twp_intern_get(t, buf, n, TWP_INTERN_FULL), base);
    }
    /* lengths 13..31, one byte changed in the middle (the 17..31 compare
     * reads the middle words) */
    for (size_t n = 13; n <= TWP_INTERN_MAX_LEN; n++) {
        memset(buf, 'c', sizeof buf);
        const char *base = twp_intern_get(t, buf, n, TWP_INTERN_FULL);
        buf[n / 2] = 'd';
        const char *o = twp_intern_get(t, buf, n, TWP_INTERN_FULL);
        assert_non_null(base);
        assert_non_null(o);
        assert_ptr_not_equal(o, base);
        assert_memory_equal(o, buf, n);
        assert_int_equal(o[n], '\0');
    }
    memset(buf, 'e', sizeof buf);
    assert_null(twp_intern_get(t, buf, TWP_INTERN_MAX_LEN + 1, TWP_INTERN_FULL));
    free(t);
}

static void inserts_stop_at_the_limit_and_lookups_go_on(void **state)
{
    (void)state;
    twp_intern *t = new_table();
    char k[32];
    const char *first[TWP_INTERN_FULL];
    unsigned got = 0;
    for (unsigned i = 0; i < 2 * TWP_INTERN_SLOTS; i++) {
        int n = snprintf(k, sizeof k, "key-%u", i);
        const char *p = twp_intern_get(t, k, (size_t)n, TWP_INTERN_FULL);
        if (p) {
            assert_true(got < TWP_INTERN_FULL);
            first[got++] = p;
        }
    }
    assert_int_equal(atomic_load(&t->used), got);
    assert_true(got >= TWP_INTERN_FULL * 9 / 10);   /* probe limits may skip a few */
    assert_true(got <= TWP_INTERN_FULL);
    unsigned again = 0;
    for (unsigned i = 0; i < 2 * TWP_INTERN_SLOTS && again < got; i++) {
        int n = snprintf(k, sizeof k, "key-%u", i);
        const char *p = twp_intern_get(t, k, (size_t)n, 0);   /* 0: lookup only */
        if (p)
            assert_ptr_equal(p, first[again++]);
    }
    assert_int_equal(again, got);
    free(t);
}

typedef struct racer { twp_intern *t; const char *out[64]; pthread_barrier_t *bar; } racer;

static void *race(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->bar);
    char k[32];
    for (int i = 0; i < 64; i++) {
        int n = snprintf(k, sizeof k, "race.key.%d", i);
        r->out[i] = twp_intern_get(r->t, k, (size_t)n, TWP_INTERN_FULL);
    }
    return NULL;
}

/* Four threads inserting the same 64 keys at once: every answer holds the
 * right bytes (two equal copies of a key are allowed, wrong bytes are not). */
static void concurrent_inserts_give_right_strings(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        twp_intern *t = new_table();
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 4);
        racer r[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            r[i].t = t;
            r[i].bar = &bar;
            pthread_create(&th[i], NULL, race, &r[i]);
        }
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 64; j++) {
                char k[32];
                snprintf(k, sizeof k, "race.key.%d", j);
                assert_non_null(r[i].out[j]);
                assert_string_equal(r[i].out[j], k);
            }
        assert_true(atomic_load(&t->used) >= 64 && atomic_load(&t->used) <= 4 * 64);
        pthread_barrier_destroy(&bar);
        free(t);
    }
}

/* Through the memory reporter (which compacts records): short keys and names
 * land in the process's table (so records point at them), long ones and
 * values are copied; the recorded spans read back every string either way. */
static void spans_point_at_interned_keys_and_names(void **state)
{
    (void)state;
    tw_tracer *t = mem_tracer(NULL);
    char longkey[80], longop[80];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    memset(longop, 'o', sizeof longop - 1);
    longop[sizeof longop - 1] = '\0';
    for (int i = 0; i < 2; i++) {
        tw_span *s;
        assert_int_equal(tw_span_start(t, i ? longop : "GET /items", i ? 79 : 10, NULL, 0, 0, &s),
                         TW_OK);
        assert_int_equal(tw_span_set_tag_str(s, "http.method", "GET"), TW_OK);
        assert_int_equal(tw_span_set_tag_int(s, longkey, 7), TW_OK);
        tw_field f = {.key = "event", .key_len = 5, .type = TW_VAL_STRING};
        f.v.str.ptr = "done";
        f.v.str.len = 4;
        assert_int_equal(tw_span_log(s, 0, &f, 1), TW_OK);
        assert_int_equal(tw_span_finish(s, 0), TW_OK);
        tw_span_free(s);
    }
    assert_non_null(twp_intern_get(&twp_strings, "http.method", 11, 0));
    assert_non_null(twp_intern_get(&twp_strings, "GET /items", 10, 0));
    assert_non_null(twp_intern_get(&twp_strings, "event", 5, 0));
    assert_null(twp_intern_get(&twp_strings, "GET", 3, 0));   /* values are copied */
    json_t *a = recorded(t, 0);
    assert_int_equal(json_array_size(a), 2);
    json_t *x = span_named(a, "GET /items"), *y = span_named(a, longop);
    assert_string_equal(json_string_value(json_object_get(json_object_get(x, "tags"),
                                                           "http.method")), "GET");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(y, "tags"), longkey)), 7);
    json_decref(a);
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_length_and_byte_position_is_told_apart),
        cmocka_unit_test(inserts_stop_at_the_limit_and_lookups_go_on),
        cmocka_unit_test(concurrent_inserts_give_right_strings),
        cmocka_unit_test(spans_point_at_interned_keys_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
