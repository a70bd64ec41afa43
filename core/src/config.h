/* config.h — the parsed configuration (struct tw_config) and its copies
 * (config.c; the key table is config_keys.h). Private to core/.
 */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H

#define TW_BUILDING 1
#include "tracewire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ config */

#define TWP_PROTO_UDP    0x01u
#define TWP_PROTO_HTTP   0x02u
#define TWP_PROTO_OTLP   0x04u
#define TWP_PROTO_MEMORY 0x08u
#define TWP_PROTO_LOG    0x10u

typedef enum twp_sampler_type {
    TWP_SAMPLER_CONST, TWP_SAMPLER_PROBABILISTIC, TWP_SAMPLER_RATELIMITING,
    TWP_SAMPLER_REMOTE
} twp_sampler_type;

/* reporter.driver: auto = the host's loop when the host offers one
 * (tw_tracer_drive_start) and every call the config needs is non-blocking;
 * thread = always the reporter thread; loop = the host's loop (the config
 * must be non-blocking: tw_tracer_new refuses it otherwise). */
typedef enum twp_reporter_driver {
    TWP_DRIVER_AUTO, TWP_DRIVER_THREAD, TWP_DRIVER_LOOP
} twp_reporter_driver;

/* Which face's defaults and alias meanings apply (config_keys.c): native
 * (C, Lua, tracewire.Tracer) or jaeger_client (tracewire.Config). */
typedef enum twp_config_profile {
    TWP_PROFILE_NATIVE, TWP_PROFILE_JAEGER_CLIENT
} twp_config_profile;

/* Parsed configuration; tw_config wraps one. All strings heap-owned by the
 * config (freed by tw_config_free). Its fields are read and written through
 * the key table (config_keys.c): a new field gets a row there. */
struct tw_config {
    char *service_name;
    char *tags;                      /* "k=v,k2=v2" as given */
    twp_sampler_type sampler_type;
    bool parent_based;               /* always true for jaeger types; explicit for OTEL names */
    double sampler_param;
    char *sampler_url;
    int sampler_refresh_ms;
    unsigned protocols;              /* TWP_PROTO_* */
    char *agent_host;
    int agent_port;
    char *endpoint;                  /* Thrift HTTP */
    char *otlp_endpoint;
    int queue_size, batch_size, flush_interval_ms, max_packet_size, timeout_ms, retries;
    unsigned inject_formats, extract_formats;   /* TW_PROP_* */
    char *trace_id_header;           /* lower-cased */
    char *baggage_header_prefix;     /* lower-cased */
    bool trace_id_128bit;
    int max_tag_value_length;
    int max_baggage_size;
    /* last, so the fields the span path reads keep their offsets */
    twp_config_profile profile;
    uint64_t explicit_keys[2];       /* bit i: key table row i was set (tw_config_set or env);
                                      * config_keys.c asserts the table fits */
    tw_diag_fn diag_fn;              /* tw_config_set_diagnostics; NULL = off */
    void *diag_ud;                   /* borrowed */
    tw_span_log_fn span_log_fn;      /* tw_config_set_span_log; NULL = stderr */
    void *span_log_ud;               /* borrowed */
    /* OTLP/HTTP and the HTTP senders (issue #14) */
    bool otlp_json;                  /* reporter.otlp_protocol http/json (default http/protobuf) */
    bool otlp_gzip;                  /* reporter.otlp_compression gzip (default none) */
    char *otlp_headers;              /* "k=v,..." (values percent-encoded), OTLP sender */
    char *http_headers;              /* the same, Thrift HTTP sender */
    char *tls_ca, *tls_cert, *tls_key;   /* PEM files for https:// senders, or NULL */
    int max_traceback_length;        /* bytes of a "stack" log field (jaeger_client's
                                      * max_traceback_length); after the span-path fields */
    /* the agent's other controls (issue #20): jaeger_client's debug id header,
     * its debug-span throttler and jaeger-client-go's baggage restrictions */
    char *debug_id_header;           /* as given (extract matches it ignoring case) */
    bool throttler;                  /* also set by any throttler.* key (config.c) */
    int throttler_port, throttler_refresh_ms;
    bool baggage_restrictions;       /* also set by any baggage_restrictions.* key */
    char *baggage_restrictions_host_port;   /* "host:port"; empty: agent_host:5778 */
    int baggage_restrictions_refresh_ms;
    bool baggage_restrictions_deny;  /* deny_baggage_on_initialization_failure */
    /* sampler.tags: sampled roots carry sampler.type/sampler.param, as Jaeger
     * clients write them; the OTel face turns it off (the OTel SDK's spans
     * carry no sampler attributes) */
    bool sampler_tags;
    /* reporter.driver (issue #15): who sends -- a reporter thread, or the
     * host's event loop through tw_tracer_drive (reporter.c) */
    twp_reporter_driver reporter_driver;
};

/* config.c: struct copies for the tracer. init sets every non-string default
 * (strings stay NULL: it allocates nothing); copy makes dst an independent
 * deep copy (dst must be cleared/uninitialised); clear frees the strings;
 * equal compares every key's value. */
void twp_config_init(tw_config *c);
tw_status twp_config_copy(tw_config *dst, const tw_config *src);
void twp_config_clear(tw_config *c);
bool twp_config_equal(const tw_config *a, const tw_config *b);

#endif
