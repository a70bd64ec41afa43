/* test_otlp_proto.c — the small pure functions around the OTLP exporter:
 * the W3C trace-flags byte round-trips through the flags word for all 256
 * values; gzip output inflates (zlib) back to the input, empty input
 * included, with one state reused; the protobuf ExportTraceServiceResponse
 * reader finds partial_success.rejected_spans, skips unknown fields and reads
 * anything malformed as 0 (full success, as the spec says of an unreadable
 * answer); the header-list checker takes what OTEL_EXPORTER_OTLP_HEADERS
 * allows and refuses what would break a request. The encoder itself is
 * checked against opentelemetry-proto in tests/wire/test_otlp_proto.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "http_options.h"
#include "otlp_proto.h"

static void w3c_trace_flags_round_trip_every_byte(void **state)
{
    (void)state;
    for (unsigned f = 0; f < 256; f++) {
        unsigned word = twp_flags_from_w3c(f);
        assert_int_equal(twp_w3c_trace_flags(word), f);
        assert_int_equal(word & TWP_FLAG_JAEGER_MASK, (f & 1) ? TW_FLAG_SAMPLED : 0);
        /* Jaeger's debug bit never comes from W3C's random bit */
        assert_int_equal(word & TW_FLAG_DEBUG, 0);
    }
}

static void gzip_inflates_back(void **state)
{
    (void)state;
    twp_gzip *z;
    assert_int_equal(twp_gzip_new(1, &z), TW_OK);
    static char in[100000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)("tracewire otlp "[i % 15] ^ (i % 7 == 0 ? (char)i : 0));
    size_t sizes[] = { 0, 1, 15, 4096, sizeof in };
    for (int round = 0; round < 2; round++) {        /* the state is reused */
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            twp_buf out;
            twp_buf_init(&out);
            assert_int_equal(twp_gzip_compress(z, in, sizes[k], &out), TW_OK);
            assert_true(out.len >= 18 && (unsigned char)out.data[0] == 0x1f &&
                        (unsigned char)out.data[1] == 0x8b);
            static char back[sizeof in + 1];
            z_stream zs;
            memset(&zs, 0, sizeof zs);
            assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
            zs.next_in = (Bytef *)out.data;
            zs.avail_in = (uInt)out.len;
            zs.next_out = (Bytef *)back;
            zs.avail_out = sizeof back;
            assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
            assert_int_equal(zs.total_out, sizes[k]);
            assert_int_equal(zs.avail_in, 0);           /* nothing after the member */
            inflateEnd(&zs);
            assert_memory_equal(back, in, sizes[k]);
            twp_buf_free(&out);
        }
    }
    twp_gzip_free(z);
    twp_gzip_free(NULL);
    assert_int_equal(twp_gzip_new(10, &z), TW_ERR_INVALID_ARG);
    assert_null(z);
}

#define R(lit) twp_otlp_proto_rejected(lit, sizeof(lit) - 1)

static void response_rejected_spans(void **state)
{
    (void)state;
    assert_int_equal(twp_otlp_proto_rejected("", 0), 0);
    /* partial_success { rejected_spans: 5 } */
    assert_int_equal(R("\x0a\x02\x08\x05"), 5);
    /* with error_message "too old" first, and a 2-byte varint 300 */
    assert_int_equal(R("\x0a\x0c\x12\x07too old\x08\xac\x02"), 300);
    /* an unknown top-level field (9: varint) before it is skipped */
    assert_int_equal(R("\x48\x01\x0a\x02\x08\x07"), 7);
    /* an empty partial_success: full success */
    assert_int_equal(R("\x0a\x00"), 0);
    /* negative (int64 -1, ten bytes): not a count */
    assert_int_equal(R("\x0a\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), 0);
    /* malformed: a length past the end, a truncated varint, a bad wire type */
    assert_int_equal(R("\x0a\x09\x08\x05"), 0);
    assert_int_equal(R("\x0a\x02\x08\x85"), 0);
    assert_int_equal(R("\x0f\x01"), 0);
    /* JSON handed to the protobuf reader reads as no rejection, never a crash */
    assert_int_equal(R("{\"partialSuccess\":{\"rejectedSpans\":\"2\"}}"), 0);
}

static void header_lists(void **state)
{
    (void)state;
    static const char *const good[] = {
        "", "a=b", "authorization=Bearer%20abc", " x-tenant = t1 , api-key=k%2Cv ",
        "x-empty=", "a=b,,c=d", "k=v=w",
    };
    static const char *const bad[] = {
        "novalue", "=v", "bad name=v", "x=a%0D%0Ainjected: 1", "x=%zz", "x=a\tb%00",
        "x=\x01", "a=b,c",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(twp_http_headers_check(good[i]), TW_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (twp_http_headers_check(bad[i]) != TW_ERR_INVALID_ARG)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(w3c_trace_flags_round_trip_every_byte),
        cmocka_unit_test(gzip_inflates_back),
        cmocka_unit_test(response_rejected_spans),
        cmocka_unit_test(header_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
