/* test_otlp_json.c — the OTLP JSON writer always produces JSON that parses
 * (checked with jansson's parser), escapes per RFC 8259, replaces invalid
 * UTF-8 with U+FFFD, writes int64 as strings and non-finite doubles as the
 * proto3-JSON strings. Field-by-field checks against opentelemetry-proto are
 * in tests/wire/test_otlp_wire.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include <jansson.h>

#include "encoders.h"

static json_t *encode_one(twp_value *tags, uint32_t n)
{
    twp_span_data s;
    memset(&s, 0, sizeof s);
    s.trace_lo = 1;
    s.span_id = 2;
    s.op = "op";
    s.op_len = 2;
    s.tags = tags;
    s.ntags = n;
    twp_span_data *arr[1] = { &s };
    twp_process proc = { "svc", NULL, 0 };
    twp_buf b;
    twp_buf_init(&b);
    assert_int_equal(twp_otlp_json_encode(&b, &proc, arr, 1), TW_OK);
    json_error_t err;
    json_t *root = json_loadb(b.data, b.len, 0, &err);
    if (!root)
        fail_msg("not JSON: %s: %.*s", err.text, (int)b.len, b.data);
    twp_buf_free(&b);
    return root;
}

static json_t *attr_value(json_t *root, size_t i)
{
    json_t *sp = json_array_get(json_object_get(json_array_get(json_object_get(
        json_array_get(json_object_get(root, "resourceSpans"), 0), "scopeSpans"), 0), "spans"), 0);
    return json_object_get(json_array_get(json_object_get(sp, "attributes"), i), "value");
}

static void strings_are_escaped_and_invalid_utf8_replaced(void **state)
{
    (void)state;
    static const char raw[] = "q\"b\\n\n\x01 \xc3\xa9 \xff \xed\xa0\x80";
    twp_value t;
    memset(&t, 0, sizeof t);
    t.type = TW_VAL_STRING;
    t.key = "k\t";
    t.key_len = 2;
    t.v.str = raw;
    t.len = sizeof raw - 1;
    json_t *root = encode_one(&t, 1);
    const char *got = json_string_value(json_object_get(attr_value(root, 0), "stringValue"));
    assert_non_null(got);
    assert_string_equal(got, "q\"b\\n\n\x01 \xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(root);
}

static void a_tag_set_twice_is_one_attribute_with_the_last_value(void **state)
{
    (void)state;
    twp_value t[3];
    memset(t, 0, sizeof t);
    t[0].type = TW_VAL_INT64; t[0].key = "k"; t[0].key_len = 1; t[0].v.i64 = 1;
    t[1].type = TW_VAL_INT64; t[1].key = "other"; t[1].key_len = 5; t[1].v.i64 = 7;
    t[2].type = TW_VAL_STRING; t[2].key = "k"; t[2].key_len = 1; t[2].v.str = "last"; t[2].len = 4;
    json_t *root = encode_one(t, 3);
    json_t *sp = json_array_get(json_object_get(json_array_get(json_object_get(
        json_array_get(json_object_get(root, "resourceSpans"), 0), "scopeSpans"), 0), "spans"), 0);
    json_t *attrs = json_object_get(sp, "attributes");
    assert_int_equal(json_array_size(attrs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(attrs, 0), "key")), "other");
    assert_string_equal(json_string_value(json_object_get(json_array_get(attrs, 1), "key")), "k");
    assert_string_equal(json_string_value(json_object_get(attr_value(root, 1), "stringValue")), "last");
    json_decref(root);
}

static void int64_and_nonfinite_doubles_follow_proto3_json(void **state)
{
    (void)state;
    twp_value t[4];
    memset(t, 0, sizeof t);
    t[0].type = TW_VAL_INT64; t[0].key = "i"; t[0].key_len = 1; t[0].v.i64 = INT64_MIN;
    t[1].type = TW_VAL_DOUBLE; t[1].key = "n"; t[1].key_len = 1; t[1].v.f64 = NAN;
    t[2].type = TW_VAL_DOUBLE; t[2].key = "m"; t[2].key_len = 1; t[2].v.f64 = -INFINITY;
    t[3].type = TW_VAL_DOUBLE; t[3].key = "d"; t[3].key_len = 1; t[3].v.f64 = 0.1;
    json_t *root = encode_one(t, 4);
    assert_string_equal(json_string_value(json_object_get(attr_value(root, 0), "intValue")),
                        "-9223372036854775808");
    assert_string_equal(json_string_value(json_object_get(attr_value(root, 1), "doubleValue")), "NaN");
    assert_string_equal(json_string_value(json_object_get(attr_value(root, 2), "doubleValue")),
                        "-Infinity");
    assert_true(json_real_value(json_object_get(attr_value(root, 3), "doubleValue")) == 0.1);
    json_decref(root);
}

/* Every double the writer prints reads back as the same bits (jansson parses
 * with strtod, correctly rounded): short decimals through the fast path,
 * arbitrary bit patterns through %.17g. */
static void doubles_round_trip_exactly(void **state)
{
    (void)state;
    static const double fixed[] = { 0.0, -0.0, 1.0, -1.0, 0.1, 0.25, -3.25, 0.005, 123456.789,
                                    1e-300, 5e-324, 1.7976931348623157e308, 9007199254740991.0,
                                    9007199254740993.0, 0.30000000000000004, -2.5e-7 };
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 20000; i++) {
        double d;
        if (i < (int)(sizeof fixed / sizeof fixed[0])) {
            d = fixed[i];
        } else if (i % 2) {   /* short decimals */
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            d = (double)(int64_t)(x % 2000000001ULL - 1000000000ULL) / 1000.0;
        } else {              /* arbitrary finite bit patterns */
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            memcpy(&d, &x, sizeof d);
            if (!isfinite(d))
                continue;
        }
        twp_value t;
        memset(&t, 0, sizeof t);
        t.type = TW_VAL_DOUBLE; t.key = "d"; t.key_len = 1; t.v.f64 = d;
        json_t *root = encode_one(&t, 1);
        json_t *v = json_object_get(attr_value(root, 0), "doubleValue");
        double got = json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
        if (memcmp(&got, &d, sizeof d) != 0)
            fail_msg("%.17g came back as %.17g", d, got);
        json_decref(root);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings_are_escaped_and_invalid_utf8_replaced),
        cmocka_unit_test(int64_and_nonfinite_doubles_follow_proto3_json),
        cmocka_unit_test(a_tag_set_twice_is_one_attribute_with_the_last_value),
        cmocka_unit_test(doubles_round_trip_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
