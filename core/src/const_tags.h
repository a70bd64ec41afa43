/* const_tags.h — the core's own tag keys and constant tag values, each
 * stored right after its Thrift compact bytes. Private to core/.
 *
 * Why: a span the native nginx module reports carries eight tags, and for
 * most of them the key -- and for several the value too (span.kind=server,
 * sampler.type=const, component=nginx, http.method=GET) -- is the same string
 * in every span. Encoding a Tag struct key by key and value by value cost the
 * reporter thread ~54 instructions a tag (issue #15). Here each such string
 * lives in a 32-byte slot whose leading bytes are the compact bytes that go
 * before it in a Tag:
 *
 *   key slot    [0x18 len]            "sampler.type\0..."    Tag.key's field
 *                                                            header and length
 *   value slot  [0x15 0x00 0x18 len]  "const\0..."           vType=STRING,
 *                                                            vStr's header and
 *                                                            length; the NUL
 *                                                            after the string
 *                                                            is the Tag's stop
 *
 * Records point their key (and value) at the slot's string, as they already
 * point at static literals (span_data.h): nothing is copied, every other
 * reader (Thrift binary, OTLP, the log line) sees an ordinary string. The
 * compact encoder (thrift.c) recognises a slot by its address -- one range
 * test -- and copies 32 bytes from its start, advancing by the bytes that
 * count: no per-byte work, no branch on the length. The bytes are built by
 * the compiler from the strings (sizeof), and tests/core/test_thrift.c
 * compares every slot's Tag with the generic encoder's.
 *
 * A value slot is used only with a key slot (the encoder looks at values of
 * known keys only), and only while the value is not truncated
 * (max_tag_value_length): the encoder also checks the record's length
 * against the slot's.
 */
#ifndef TW_CONST_TAGS_H
#define TW_CONST_TAGS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TWP_CSLOT 32u   /* bytes per slot: the encoder copies this many */

/* X(id, string): keys up to 29 bytes */
#define TWP_CONST_KEYS(X)                                    \
    X(SAMPLER_TYPE, "sampler.type")                          \
    X(SAMPLER_PARAM, "sampler.param")                        \
    X(SPAN_KIND, "span.kind")                                \
    X(COMPONENT, "component")                                \
    X(HTTP_METHOD, "http.method")                            \
    X(HTTP_URL, "http.url")                                  \
    X(HTTP_STATUS_CODE, "http.status_code")                  \
    X(PEER_ADDRESS, "peer.address")                          \
    X(ERROR, "error")                                        \
    X(UPSTREAM_ADDRESS, "upstream.address")                  \
    X(UPSTREAM_RESPONSE_TIME_MS, "upstream.response_time_ms")

/* X(id, string): string values up to 27 bytes */
#define TWP_CONST_VALUES(X)                                  \
    X(SERVER, "server")                                      \
    X(CLIENT, "client")                                      \
    X(PRODUCER, "producer")                                  \
    X(CONSUMER, "consumer")                                  \
    X(CONST, "const")                                        \
    X(PROBABILISTIC, "probabilistic")                        \
    X(RATELIMITING, "ratelimiting")                          \
    X(LOWERBOUND, "lowerbound")                              \
    X(NGINX, "nginx")                                        \
    X(GET, "GET")                                            \
    X(HEAD, "HEAD")                                          \
    X(POST, "POST")                                          \
    X(PUT, "PUT")                                            \
    X(DELETE, "DELETE")                                      \
    X(OPTIONS, "OPTIONS")                                    \
    X(PATCH, "PATCH")                                        \
    X(TRACE, "TRACE")                                        \
    X(CONNECT, "CONNECT")

typedef struct twp_ckey {
    char hdr[2];                         /* 0x18, length */
    char str[TWP_CSLOT - 2];             /* NUL-terminated, zero-padded */
} twp_ckey;

typedef struct twp_cval {
    char hdr[4];                         /* 0x15 0x00 0x18, length */
    char str[TWP_CSLOT - 4];
} twp_cval;

#define TWP_K_ID_(id, s) TWP_K_##id,
#define TWP_V_ID_(id, s) TWP_V_##id,
enum { TWP_CONST_KEYS(TWP_K_ID_) TWP_K_COUNT };
enum { TWP_CONST_VALUES(TWP_V_ID_) TWP_V_COUNT };
#undef TWP_K_ID_
#undef TWP_V_ID_
#define TWP_K_LEN_(id, s) TWP_KLEN_##id = sizeof(s) - 1,
#define TWP_V_LEN_(id, s) TWP_VLEN_##id = sizeof(s) - 1,
enum { TWP_CONST_KEYS(TWP_K_LEN_) TWP_KLEN_END_ };
enum { TWP_CONST_VALUES(TWP_V_LEN_) TWP_VLEN_END_ };
#undef TWP_K_LEN_
#undef TWP_V_LEN_

/* const_tags.c: the slots, contiguous (the encoder's range tests) */
extern const twp_ckey twp_ckeys[TWP_K_COUNT];
extern const twp_cval twp_cvals[TWP_V_COUNT];

/* A key or value: the static string (borrowed by records forever) and its
 * length, e.g. TWP_KEY(COMPONENT) -> "component", 9. */
#define TWP_KEY(id) (twp_ckeys[TWP_K_##id].str), ((uint16_t)TWP_KLEN_##id)
#define TWP_VAL(id) (twp_cvals[TWP_V_##id].str), ((uint32_t)TWP_VLEN_##id)

/* Whether p is a key / value slot's string (p itself may be anything). */
static inline int twp_is_ckey(const char *p)
{
    return (uintptr_t)p - (uintptr_t)twp_ckeys < sizeof twp_ckeys;
}

static inline int twp_is_cval(const char *p)
{
    return (uintptr_t)p - (uintptr_t)twp_cvals < sizeof twp_cvals;
}

/* The value slot holding exactly p[0..n), or NULL: for writers that get a
 * value from outside (an HTTP method, a component name) and can borrow the
 * slot's copy instead of copying theirs into the record. Inline, by length
 * and first byte, against literals (the compiler compares with immediates);
 * every slot must be findable here (test_thrift.c checks). */
static inline __attribute__((always_inline)) const char *twp_cval_find(const char *p, size_t n)
{
#define TWP_IS_(id, lit) (memcmp(p, lit, sizeof(lit) - 1) == 0 ? twp_cvals[TWP_V_##id].str : NULL)
    switch (n) {
    case 3: return p[0] == 'G' ? TWP_IS_(GET, "GET") : TWP_IS_(PUT, "PUT");
    case 4: return p[0] == 'P' ? TWP_IS_(POST, "POST") : TWP_IS_(HEAD, "HEAD");
    case 5: return p[0] == 'n' ? TWP_IS_(NGINX, "nginx") : p[0] == 'P' ? TWP_IS_(PATCH, "PATCH")
                 : p[0] == 'T' ? TWP_IS_(TRACE, "TRACE") : TWP_IS_(CONST, "const");
    case 6: return p[0] == 'D' ? TWP_IS_(DELETE, "DELETE") : p[0] == 's' ? TWP_IS_(SERVER, "server")
                 : TWP_IS_(CLIENT, "client");
    case 7: return p[0] == 'O' ? TWP_IS_(OPTIONS, "OPTIONS") : TWP_IS_(CONNECT, "CONNECT");
    case 8: return p[0] == 'p' ? TWP_IS_(PRODUCER, "producer") : TWP_IS_(CONSUMER, "consumer");
    case 10: return TWP_IS_(LOWERBOUND, "lowerbound");
    case 12: return TWP_IS_(RATELIMITING, "ratelimiting");
    case 13: return TWP_IS_(PROBABILISTIC, "probabilistic");
    default: return NULL;
    }
#undef TWP_IS_
}

#endif
