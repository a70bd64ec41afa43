/* span_helpers.h — shared by the span-model tests (test_span, test_sampler,
 * test_tracer): a memory-reporter tracer from "key=value" pairs and a parsed
 * view of what it recorded. */
#ifndef TW_SPAN_HELPERS_H
#define TW_SPAN_HELPERS_H

#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#include "buf.h"

/* new tracer with protocols=memory plus the given NULL-terminated key, value
 * pairs; fails the test on any error. */
static inline tw_tracer *mem_tracer(const char *k, ...)
{
    tw_config *c;
    assert_int_equal(tw_config_new(&c), TW_OK);
    assert_int_equal(tw_config_set(c, "reporter.protocols", "memory"), TW_OK);
    va_list ap;
    va_start(ap, k);
    for (const char *key = k; key; key = va_arg(ap, const char *)) {
        const char *val = va_arg(ap, const char *);
        assert_int_equal(tw_config_set(c, key, val), TW_OK);
    }
    va_end(ap);
    tw_tracer *t;
    assert_int_equal(tw_tracer_new(c, &t), TW_OK);
    tw_config_free(c);
    return t;
}

/* The recorded spans as a jansson array (caller json_decref). */
static inline json_t *recorded(tw_tracer *t, int clear)
{
    char *s = NULL;
    assert_int_equal(tw_tracer_memory_spans(t, clear, &s), TW_OK);
    json_error_t err;
    json_t *a = json_loads(s, JSON_ALLOW_NUL, &err);
    tw_free(s);
    assert_non_null(a);
    assert_true(json_is_array(a));
    return a;
}

/* The one recorded span named op (fails unless exactly one). Borrowed from a. */
static inline json_t *span_named(json_t *a, const char *op)
{
    json_t *found = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (strcmp(json_string_value(json_object_get(v, "operation_name")), op) == 0) {
            assert_null(found);
            found = v;
        }
    }
    assert_non_null(found);
    return found;
}

static inline const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static inline tw_span *start(tw_tracer *t, const char *name, const tw_span_context *parent)
{
    tw_span *s;
    tw_span_ref r = {TW_REF_CHILD_OF, parent};
    assert_int_equal(tw_span_start(t, name, strlen(name), parent ? &r : NULL, parent ? 1 : 0, 0, &s),
                     TW_OK);
    return s;
}

static inline void finish_free(tw_span *s)
{
    assert_int_equal(tw_span_finish(s, 0), TW_OK);
    tw_span_free(s);
}

static inline void hex_of(uint64_t v, char out[17])
{
    static const char *d = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = d[v & 15];
    out[16] = '\0';
}

#endif
