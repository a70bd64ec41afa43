/* tracewire.h — the one public header of the tracewire C core.
 *
 * Every binding (Python, Lua, Redis) is a translation of this file. Types are
 * opaque; every function that can fail returns a tw_status (0 = TW_OK) and never
 * aborts on bad input. Ownership is stated next to each function in three words:
 *   new       the caller owns the result and frees it with the named function;
 *   borrowed  the result belongs to someone else; its lifetime is stated;
 *   copies    the function copies its input; the caller keeps ownership.
 *
 * Threads: one tw_tracer is shared by all threads of a process. A tw_span is used
 * by one thread at a time (bindings with a GIL or a single Lua state get this for
 * free). tw_span_context objects are immutable once created and may be read from
 * any thread.
 *
 * Fork: the library registers pthread_atfork handlers once. A forked child keeps
 * its tracers; their queues start empty, ids are reseeded, and the reporter
 * thread starts lazily in the child on first use. Nothing is started at tracer
 * creation: a forking parent (gunicorn --preload, nginx master, Redis) stays
 * thread-free until it reports its first span.
 */
#ifndef TRACEWIRE_H
#define TRACEWIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TW_BUILDING) && defined(__GNUC__)
#  define TW_API __attribute__((visibility("default")))
#else
#  define TW_API
#endif

/* The version of this release, the same as the VERSION file at the top of the
 * source tree (CMake and setup.py refuse to build when they differ). TW_VERSION_NUM
 * is MAJOR * 10000 + MINOR * 100 + PATCH, the integer Redis shows in MODULE LIST. */
#define TW_VERSION "0.1.0"
#define TW_VERSION_MAJOR 0
#define TW_VERSION_MINOR 1
#define TW_VERSION_PATCH 0
#define TW_VERSION_NUM (TW_VERSION_MAJOR * 10000 + TW_VERSION_MINOR * 100 + TW_VERSION_PATCH)

/* ---------------------------------------------------------------- status */

typedef enum tw_status {
    TW_OK = 0,
    TW_ERR_INVALID_ARG,   /* NULL, wrong type or out-of-range argument */
    TW_ERR_NOMEM,         /* an allocation failed; nothing was changed */
    TW_ERR_FINISHED,      /* write to a finished span; ignored */
    TW_ERR_NOT_FOUND,     /* extract: the carrier holds no trace context */
    TW_ERR_CORRUPTED,     /* extract: a context header is present but malformed */
    TW_ERR_UNSUPPORTED,   /* unknown format, sampler, protocol or config key */
    TW_ERR_TOO_LARGE,     /* input exceeds a documented bound */
    TW_ERR_CLOSED,        /* the tracer was closed */
    TW_ERR_TIMEOUT,       /* flush/close gave up at the timeout; spans were dropped */
    TW_ERR_IO,            /* a socket or HTTP operation failed */
    TW_ERR_CONFIG         /* a config value does not parse */
} tw_status;

/* A static English sentence for a status; never NULL. */
TW_API const char *tw_strerror(tw_status st);

/* ---------------------------------------------------------------- values */

typedef enum tw_value_type {
    TW_VAL_STRING = 0,    /* Jaeger TagType numbering, on purpose */
    TW_VAL_DOUBLE = 1,
    TW_VAL_BOOL   = 2,
    TW_VAL_INT64  = 3,
    TW_VAL_BINARY = 4,
    /* An OTel homogeneous sequence: v.arr holds n items, all of one of the
     * four scalar types above (BINARY excepted) or NULL. OTLP carries it as
     * an arrayValue; Jaeger Thrift (which has no array tag) and the log
     * exporter as a string tag holding its JSON text, the OTel rule for
     * non-OTLP formats (specification/common/mapping-to-non-otlp.md). */
    TW_VAL_ARRAY  = 5,
    TW_VAL_NULL   = 6     /* only as an item of an ARRAY (OTel allows None there) */
} tw_value_type;

/* A typed key/value used for tags and log fields. A plain descriptor, not an
 * owner: the pointers are borrowed for the duration of the call that takes it;
 * the span copies what it keeps. Keys need not be NUL-terminated. */
typedef struct tw_field {
    const char *key;
    size_t key_len;
    tw_value_type type;
    union {
        struct { const char *ptr; size_t len; } str;   /* STRING and BINARY */
        int64_t i64;
        double f64;
        int b;                                        /* BOOL: 0 or 1 */
        struct { const struct tw_field *items; size_t n; } arr;   /* ARRAY: keys ignored */
    } v;
} tw_field;

typedef enum tw_span_kind {
    TW_KIND_UNSPECIFIED = 0,  /* OTLP numbering: internal on the wire */
    TW_KIND_INTERNAL = 1,
    TW_KIND_SERVER = 2,
    TW_KIND_CLIENT = 3,
    TW_KIND_PRODUCER = 4,
    TW_KIND_CONSUMER = 5
} tw_span_kind;

typedef enum tw_ref_type {
    TW_REF_CHILD_OF = 0,      /* Jaeger SpanRefType numbering */
    TW_REF_FOLLOWS_FROM = 1,
    /* CHILD_OF given as the parent, not as a reference (opentracing's
     * child_of= argument, the active span): the same parent choice; the span
     * lists it among its references too, except under the jaeger_client
     * profile, where jaeger_client sends a parent alone as parentSpanId and
     * only explicit references= as references (#20) */
    TW_REF_PARENT = 2
} tw_ref_type;

#define TW_FLAG_SAMPLED 0x01u
#define TW_FLAG_DEBUG   0x02u

/* ---------------------------------------------------------------- clock */

/* Wall-clock microseconds since the Unix epoch. */
TW_API int64_t tw_now_us(void);

/* ---------------------------------------------------------------- config */

typedef struct tw_config tw_config;

/* new: free with tw_config_free. Starts with every default below. */
TW_API tw_status tw_config_new(tw_config **out);
TW_API void tw_config_free(tw_config *cfg);   /* NULL is a no-op */

/* Sets one option from text (copies). Bindings pass their dict/table/args here
 * so every face of tracewire accepts the same keys with the same meaning.
 * Unknown key -> TW_ERR_UNSUPPORTED; bad value -> TW_ERR_CONFIG; either way
 * the config is unchanged. Every key is a row of the core's key table
 * (core/src/config_keys.c; README.md's configuration table is generated from
 * it), which also accepts aliases: tracewire's shorthands (protocol, endpoint,
 * reporter.host, ...) and jaeger_client's Config keys flattened with dots
 * (local_agent.reporting_port, reporter_flush_interval in seconds, tags.<name>,
 * ...). Native keys (defaults in brackets):
 *   profile                 native | jaeger_client [native]: which face's
 *                           defaults and key meanings apply (jaeger_client:
 *                           propagation sets inject only, "b3" = b3multi)
 *   service_name            [unknown_service]
 *   tags                    "k=v,k2=v2" tracer-level (process) tags
 *   sampler.type            const | probabilistic | ratelimiting | remote
 *                           | parentbased_always_on | parentbased_always_off
 *                           | parentbased_traceidratio [const]
 *                           every type honours a parent's decision; "remote"
 *                           starts as probabilistic(sampler.param) and follows
 *                           the strategies polled from sampler.url
 *   sampler.param           number, or true/false for 1/0 [1]
 *   sampler.tags            true: sampled roots carry sampler.type and
 *                           sampler.param tags, as Jaeger clients'; false
 *                           as the OTel SDK (tracewire.otel sets it) [true]
 *   sampler.url             remote sampling endpoint [http://127.0.0.1:5778/sampling]
 *   sampler.refresh_ms      remote poll interval [60000]
 *   reporter.protocols      comma list of udp | http | otlp | memory | log | none [udp]
 *   reporter.agent_host     [127.0.0.1]
 *   reporter.agent_port     [6831]
 *   reporter.endpoint       Thrift HTTP collector [http://127.0.0.1:14268/api/traces]
 *   reporter.otlp_endpoint  [http://127.0.0.1:4318/v1/traces]
 *   reporter.otlp_protocol  http/protobuf | http/json (no grpc) [http/protobuf]
 *   reporter.otlp_compression gzip | none [none]
 *   reporter.otlp_headers   "name=value,..." extra OTLP headers, values percent-encoded []
 *   reporter.http_headers   the same for the Thrift HTTP sender []
 *   reporter.tls_ca         PEM CA file for https:// senders (empty: system store) []
 *   reporter.tls_cert       PEM client certificate []
 *   reporter.tls_key        PEM key of tls_cert []
 *   reporter.queue_size     spans [10000]
 *   reporter.batch_size     spans per batch [100]
 *   reporter.flush_interval_ms [1000]
 *   reporter.max_packet_size UDP datagram bound [65000]
 *   reporter.timeout_ms     one HTTP export's budget, retries included [5000]
 *   reporter.retries        HTTP retries [3]
 *   reporter.driver         auto | thread | loop: a reporter thread, or the host's
 *                           event loop (tw_tracer_drive_start) [auto]
 *   propagation.inject      comma list of jaeger | w3c | b3 | b3multi [jaeger,w3c]
 *   propagation.extract     same names [jaeger,w3c,b3,b3multi]
 *   propagation             sets both (jaeger_client profile: inject only)
 *   trace_id_header         [uber-trace-id]
 *   baggage_header_prefix   [uberctx-]
 *   trace_id_128bit         true|false [true]
 *   max_tag_value_length    bytes [1024]
 *   max_baggage_size        bytes per header [8192]
 *   max_traceback_length    bytes of a log's "stack" field [4096]
 *   debug_id_header         header whose value, in a carrier without a trace
 *                           context, starts a sampled+debug trace tagged with
 *                           it (jaeger_client's) [jaeger-debug-id]
 *   throttler               debug-span throttling with credits from the agent
 *                           (jaeger_client's); setting a throttler.* key
 *                           turns it on unless it was set itself [false]
 *   throttler.port          agent port of /credits (host: reporter.agent_host) [5778]
 *   throttler.refresh_interval_ms [5000]
 *   baggage_restrictions    allowed baggage keys and value lengths from the
 *                           agent (jaeger-client-go's); the same rule for
 *                           baggage_restrictions.* keys [false]
 *   baggage_restrictions.host_port  of /baggageRestrictions (empty:
 *                           reporter.agent_host:5778) []
 *   baggage_restrictions.refresh_interval_ms [60000]
 *   baggage_restrictions.deny_baggage_on_initialization_failure  true: no
 *                           baggage until restrictions arrived [false]
 */
TW_API tw_status tw_config_set(tw_config *cfg, const char *key, const char *value);

/* Applies the environment (reads getenv; copies). Precedence, lowest first:
 * defaults < OTEL_* < JAEGER_* < tw_config_set calls made AFTER this call.
 * Bindings call it first, then apply their explicit options, so code wins.
 * Recognised: JAEGER_SERVICE_NAME, JAEGER_AGENT_HOST, JAEGER_AGENT_PORT,
 * JAEGER_ENDPOINT, JAEGER_SAMPLER_TYPE, JAEGER_SAMPLER_PARAM,
 * JAEGER_SAMPLER_MANAGER_HOST_PORT, JAEGER_TAGS, JAEGER_PROPAGATION,
 * JAEGER_TRACEID_128BIT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_PROPAGATORS,
 * OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
 * OTEL_EXPORTER_OTLP_{,TRACES_}{PROTOCOL,HEADERS,TIMEOUT,COMPRESSION,
 * CERTIFICATE,CLIENT_CERTIFICATE,CLIENT_KEY} (per-signal beats generic),
 * OTEL_TRACES_EXPORTER, OTEL_SDK_DISABLED (applied last). An OTLP endpoint
 * variable selects the otlp protocol when reporter.protocols was not set.
 * A malformed variable is skipped and reported: *bad_var (borrowed static
 * text, may be NULL) starts with the first one's name — the name alone, or
 * followed by "=value (why)" when there is more to say (grpc) — and
 * TW_ERR_CONFIG is returned after all the good ones were applied. */
TW_API tw_status tw_config_from_env(tw_config *cfg, const char **bad_var);

/* tw_config_from_env read as the options about to be set mean it: first the
 * profile the n pairs name (the last "profile" pair; none: cfg's own), then
 * the environment. A face calls it between tw_config_new and
 * tw_config_set_many with the same pairs, so a variable means the same under
 * Python's tracewire.Config and Lua's profile = "jaeger_client" (e.g.
 * JAEGER_AGENT_HOST moves the sampling host too, JAEGER_SAMPLER_TYPE=const
 * without a param samples none). A bad profile name is left as it is for
 * tw_config_set_many to refuse, named. Returns and *bad_var as
 * tw_config_from_env; TW_ERR_INVALID_ARG for a NULL cfg or NULL arrays with n. */
TW_API tw_status tw_config_from_env_for(tw_config *cfg, size_t n, const char *const *keys,
                                        const char *const *values, const char **bad_var);

/* Reads an option back as text into buf (NUL-terminated, truncated to cap). */
TW_API tw_status tw_config_get(const tw_config *cfg, const char *key, char *buf, size_t cap);

/* Sets n options as one change, for faces whose dict or table has no order
 * of its own: the pairs are applied in the key table's order (e.g.
 * reporter.protocols before endpoint, sampler.type before sampler.param,
 * propagation before propagation.inject; keys of one row, such as tags.<k>,
 * by name), not in the order given, so the same pairs always give the same
 * config. Copies. All or nothing: on failure
 * cfg is unchanged and *bad_index (may be NULL) is the index of the pair that
 * failed: TW_ERR_UNSUPPORTED (unknown key), TW_ERR_CONFIG (bad value),
 * TW_ERR_INVALID_ARG (a NULL key or value), TW_ERR_NOMEM. */
TW_API tw_status tw_config_set_many(tw_config *cfg, size_t n, const char *const *keys,
                                    const char *const *values, size_t *bad_index);

/* 1 if tw_config_set knows key (a native key, an alias or a jaeger_client
 * key, flattened with dots), else 0. */
TW_API int tw_config_key_known(const char *key);

/* 1 if key names a group switch: a bool key G of the key table that has
 * keys "G.<x>" (throttler, baggage_restrictions), else 0. jaeger clients turn
 * such a group on by its mere presence (jaeger_client's `throttler: {}`), so
 * a face flattening a nested config passes key = "true" for a group given as
 * an empty table; a group given with keys needs nothing (setting any G.<x>
 * key turns G on, unless G itself was set). One rule for every face. */
TW_API int tw_config_key_is_group(const char *key);

/* ---------------------------------------------------------------- tracer */

typedef struct tw_tracer tw_tracer;
typedef struct tw_span tw_span;
typedef struct tw_span_context tw_span_context;

/* new: free with tw_tracer_free. Copies cfg (cfg may be freed afterwards).
 * Starts no thread and opens no socket. */
TW_API tw_status tw_tracer_new(const tw_config *cfg, tw_tracer **out);

/* Closes (flush with a 2 s timeout) if not closed, then frees. Every span of
 * this tracer must have been freed first. NULL is a no-op. */
TW_API void tw_tracer_free(tw_tracer *t);

/* Delivers what is queued, waiting at most timeout_ms. TW_ERR_TIMEOUT if
 * something was still queued at the deadline (it stays queued). Never hangs. */
TW_API tw_status tw_tracer_flush(tw_tracer *t, int timeout_ms);

/* Flushes, stops and joins the reporter thread within timeout_ms. Spans still
 * queued at the deadline are dropped and counted. Later spans are not
 * recorded (counted dropped_on_close). Idempotent. Once it returned TW_OK
 * and every span finish that ran concurrently with it has returned, the
 * counters balance (see tw_counters). */
TW_API tw_status tw_tracer_close(tw_tracer *t, int timeout_ms);

/* borrowed: valid until tw_tracer_free. */
TW_API const char *tw_tracer_service_name(const tw_tracer *t);

/* Reads one of the tracer's options back as text, as tw_config_get does on
 * the config the tracer copied at creation. */
TW_API tw_status tw_tracer_config_get(const tw_tracer *t, const char *key, char *buf, size_t cap);

typedef struct tw_counters {
    uint64_t spans_started;       /* every span, sampled or not */
    uint64_t spans_sampled;       /* started with the sampled flag */
    uint64_t spans_finished;      /* sampled spans handed to the reporter */
    uint64_t spans_reported;      /* accepted by the collector/agent (UDP: sent) */
    uint64_t dropped_queue_full;
    uint64_t dropped_too_large;   /* a single span above the datagram bound */
    uint64_t dropped_send_failed; /* spans in batches that failed for good */
    uint64_t dropped_on_close;    /* still queued when close() timed out, or
                                   * finished after close() began */
    uint64_t send_failures;       /* failed send attempts (retries count) */
    uint64_t batches_sent;
    uint64_t bytes_sent;
    uint64_t sampler_updates;     /* remote strategies applied */
    uint64_t baggage_dropped;     /* baggage items inject left out or extract
                                   * dropped over max_baggage_size bytes per
                                   * header or 180 items (not spans: outside
                                   * the balance below) */
    uint64_t spans_discarded;     /* reporter.protocols=none: accepted and
                                   * discarded by design, never "reported" */
    /* The agent's controls (issue #20; jaeger_client's metric names in
     * brackets). Throttler: debug spans refused for want of a credit
     * [jaeger:throttled_debug_spans]; credit requests that succeeded / failed
     * [jaeger:throttler_update result=ok|err]. Baggage restrictions (only
     * when on): baggage writes allowed / denied [baggage_updates], values cut
     * to the allowed length [baggage_truncations], restriction fetches that
     * succeeded / failed [baggage_restrictions_updates]. */
    uint64_t throttled_debug_spans;
    uint64_t throttler_updates_ok, throttler_updates_err;
    uint64_t baggage_updates_ok, baggage_updates_err, baggage_truncations;
    uint64_t baggage_restrictions_updates_ok, baggage_restrictions_updates_err;
} tw_counters;
/* Once the queue is drained: spans_finished = spans_reported +
 * spans_discarded + every dropped_*. In a forked child every counter starts
 * at zero: the parent keeps the books of what it queued before the fork. */

/* Snapshot of the counters (atomic reads; may be called from any thread). */
TW_API void tw_tracer_counters(const tw_tracer *t, tw_counters *out);

/* The counters by name, for faces that list them all (Python's metrics(),
 * Lua's tracer:counters(), Redis INFO), so a counter the core adds appears in
 * every face: for i below the number of counters, sets *name (static: the
 * field's name in tw_counters) and *value (that field of c; 0 if c is NULL)
 * and returns 1; for any larger i returns 0. Order: as in tw_counters.
 *   for (size_t i = 0; tw_counters_at(&c, i, &name, &v); i++) ... */
TW_API int tw_counters_at(const tw_counters *c, size_t i, const char **name, uint64_t *value);

/* In-memory reporter ("memory" protocol) — for tests of every binding.
 * new: *json_out is a NUL-terminated JSON array of the spans recorded so far,
 * one object per span (trace_id, span_id, parent_id as hex, operation_name,
 * flags, kind, start_us, duration_us, references, tags, logs with typed
 * values), freed by the caller with tw_free. With clear != 0 the recorded
 * spans are dropped. TW_ERR_UNSUPPORTED if the memory reporter is off. */
TW_API tw_status tw_tracer_memory_spans(tw_tracer *t, int clear, char **json_out);

/* Frees memory returned by tracewire as "free with tw_free". */
TW_API void tw_free(void *p);

/* ---------------------------------------------------------------- spans */

typedef struct tw_span_ref {
    tw_ref_type type;
    const tw_span_context *ctx;   /* borrowed for the call */
} tw_span_ref;

/* new: free with tw_span_free. The first CHILD_OF reference is the parent
 * (its baggage and sampling decision are inherited); with none the span is a
 * root and the sampler decides. refs may be NULL when nrefs is 0. start_us 0
 * means now. name is copied. Never fails for an unsampled span except NOMEM. */
TW_API tw_status tw_span_start(tw_tracer *t, const char *name, size_t name_len,
                               const tw_span_ref *refs, size_t nrefs,
                               int64_t start_us, tw_span **out);

/* Finishes the span at finish_us (0 = now) and, if sampled, hands it to the
 * reporter without blocking. Second finish -> TW_ERR_FINISHED, no effect.
 * The span handle stays valid (context, baggage readable) until tw_span_free. */
TW_API tw_status tw_span_finish(tw_span *s, int64_t finish_us);

/* Frees the handle. An unfinished span is discarded, never reported (the
 * garbage-collector path of the bindings). NULL is a no-op. */
TW_API void tw_span_free(tw_span *s);

/* Writes below return TW_ERR_FINISHED on a finished span and change nothing.
 * Values are copied; strings longer than max_tag_value_length are truncated.
 * Tag "span.kind" (client|server|producer|consumer) also sets the kind;
 * "sampling.priority" > 0 forces sampled+debug (as Jaeger clients do). */
TW_API tw_status tw_span_set_tag(tw_span *s, const tw_field *tag);
TW_API tw_status tw_span_set_tag_str(tw_span *s, const char *key, const char *val);
TW_API tw_status tw_span_set_tag_int(tw_span *s, const char *key, int64_t val);
TW_API tw_status tw_span_set_tag_double(tw_span *s, const char *key, double val);
TW_API tw_status tw_span_set_tag_bool(tw_span *s, const char *key, int val);

/* One log record of n typed fields at ts_us (0 = now). Copies. */
TW_API tw_status tw_span_log(tw_span *s, int64_t ts_us, const tw_field *fields, size_t n);

TW_API tw_status tw_span_set_operation_name(tw_span *s, const char *name, size_t name_len);
TW_API tw_status tw_span_set_kind(tw_span *s, tw_span_kind kind);

/* Baggage travels with the context to children and across processes.
 * Copies. On a finished span: TW_ERR_FINISHED. Key and value bounded by
 * max_baggage_size, and a context holds at most 180 items (the bound extract
 * applies): a new key beyond that is TW_ERR_TOO_LARGE, replacing an existing
 * one is always allowed. The items together may exceed max_baggage_size;
 * inject then sends whole items, in order, while each header stays within
 * max_baggage_size bytes (8192 by default: W3C Baggage's limit), and counts
 * the items it left out in baggage_dropped (see tw_tracer_inject).
 * With baggage_restrictions on, a key the agent does not allow is not set
 * (TW_OK: logged on a sampled span with invalid=true and counted in
 * baggage_updates_err), and a value longer than the key's allowed length is
 * cut to it (logged with truncated=true, counted in baggage_truncations). */
TW_API tw_status tw_span_set_baggage(tw_span *s, const char *key, size_t key_len,
                                     const char *val, size_t val_len);

/* borrowed: the span's current context, valid until the span is freed (a
 * later set_baggage does not invalidate it: contexts are immutable and the
 * span switches to a new one; the old one lives until tw_span_free). */
TW_API const tw_span_context *tw_span_get_context(const tw_span *s);

/* borrowed: valid until the next set_operation_name or tw_span_free. */
TW_API const char *tw_span_operation_name(const tw_span *s, size_t *len);
TW_API int tw_span_is_finished(const tw_span *s);
TW_API int64_t tw_span_start_us(const tw_span *s);

/* A link (OTel Span.add_link, also after start): a FOLLOWS_FROM reference to
 * c with n attributes (copied; ARRAY values allowed; strings bounded as tag
 * values). OTLP: Span.links[] with these attributes and no
 * opentracing.ref_type attribute; Jaeger Thrift: a FOLLOWS_FROM SpanRef, the
 * attributes dropped (SpanRef has no place for them, as in the OTel->Jaeger
 * translator). Unsampled span: TW_OK, nothing kept. A context without ids:
 * TW_ERR_INVALID_ARG. Finished: TW_ERR_FINISHED. */
TW_API tw_status tw_span_add_link(tw_span *s, const tw_span_context *c,
                                  const tw_field *attrs, size_t n);
/* The same from ids (the OTel face holds OTel SpanContexts, not core ones):
 * trace_hi/trace_lo/span_id, the W3C trace-flags byte and tracestate (NULL or
 * "" when none; copied, sent as OTLP Link.trace_state / Link.flags). As the
 * OTel SDK keeps it, a link to an invalid context (zero ids) is recorded when
 * it has attributes or a tracestate, else TW_ERR_INVALID_ARG; Jaeger Thrift
 * leaves such a link out (a SpanRef needs ids). */
TW_API tw_status tw_span_add_link_ids(tw_span *s, uint64_t trace_hi, uint64_t trace_lo,
                                      uint64_t span_id, unsigned trace_flags,
                                      const char *tracestate, size_t tracestate_len,
                                      const tw_field *attrs, size_t n);

/* An OTel instrumentation scope (name, version, schema_url, attributes).
 * borrowed: owned by the tracer, valid until tw_tracer_free; asking twice
 * with equal name, version and schema_url and no attributes gives the same
 * scope. At most 4096 scopes per tracer (then TW_ERR_TOO_LARGE). version and
 * schema_url may be NULL (absent). */
typedef struct tw_scope tw_scope;
TW_API tw_status tw_tracer_scope(tw_tracer *t, const char *name, size_t name_len,
                                 const char *version, size_t version_len,
                                 const char *schema_url, size_t schema_url_len,
                                 const tw_field *attrs, size_t n, const tw_scope **out);
/* The span's scope (NULL: the tracer's own, "tracewire"). OTLP groups spans
 * by scope (one ScopeSpans each, with its schema_url); Jaeger Thrift gets
 * the tags otel.library.name / otel.library.version, the OTel->Jaeger
 * mapping (specification/trace/sdk_exporters/jaeger.md). The scope must
 * come from the span's tracer. Finished: TW_ERR_FINISHED. */
TW_API tw_status tw_span_set_scope(tw_span *s, const tw_scope *scope);

/* ---------------------------------------------------------------- contexts */

/* new: a deep copy; free with tw_span_context_free. */
TW_API tw_status tw_span_context_dup(const tw_span_context *c, tw_span_context **out);
TW_API void tw_span_context_free(tw_span_context *c);   /* NULL is a no-op */

/* new: a context built from ids (for bindings that receive raw ids).
 * trace id all-zero or span id zero -> TW_ERR_INVALID_ARG. */
TW_API tw_status tw_span_context_new(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
                                     uint64_t parent_id, unsigned flags, tw_span_context **out);

TW_API void tw_span_context_trace_id(const tw_span_context *c, uint64_t *hi, uint64_t *lo);
TW_API uint64_t tw_span_context_span_id(const tw_span_context *c);
TW_API uint64_t tw_span_context_parent_id(const tw_span_context *c);  /* 0 = root */
TW_API unsigned tw_span_context_flags(const tw_span_context *c);
/* Lower-case hex into buf: 32 chars for 128-bit ids (16 when the high half is
 * 0 and 128-bit mode is off), 16 for span ids. buf needs 33 bytes. */
TW_API void tw_span_context_trace_id_hex(const tw_span_context *c, char buf[33]);
TW_API void tw_span_context_span_id_hex(const tw_span_context *c, char buf[17]);

/* borrowed: value valid while c lives. TW_ERR_NOT_FOUND if absent.
 * Keys compare case-sensitively (as opentracing does). */
TW_API tw_status tw_span_context_baggage(const tw_span_context *c, const char *key, size_t key_len,
                                         const char **val, size_t *val_len);
/* Calls fn for each baggage item in insertion order; stops early when fn
 * returns non-zero. Pointers are borrowed for the call. */
typedef int (*tw_kv_fn)(void *ud, const char *key, size_t key_len, const char *val, size_t val_len);
TW_API void tw_span_context_foreach_baggage(const tw_span_context *c, tw_kv_fn fn, void *ud);

/* ---------------------------------------------------------------- propagation */

/* Format bits for inject/extract; the tracer's config picks the default set. */
#define TW_PROP_JAEGER    0x01u   /* uber-trace-id, uberctx-*, jaeger-debug-id, jaeger-baggage */
#define TW_PROP_W3C       0x02u   /* traceparent, tracestate, baggage */
#define TW_PROP_B3_MULTI  0x04u   /* X-B3-TraceId / SpanId / ParentSpanId / Sampled / Flags */
#define TW_PROP_B3_SINGLE 0x08u   /* b3 */
#define TW_PROP_DEFAULT   0u      /* use the tracer's configured set */

/* Writes the context as text headers through set (one call per header). Names
 * are lower-case. Returns the first non-OK status set returned, if any.
 * Baggage: each baggage header (all uberctx-* together; W3C baggage) holds
 * at most max_baggage_size bytes (encoded key + value) and 180 items; items
 * beyond, or whose key is not an HTTP token, are left out whole (never cut)
 * and counted in baggage_dropped, which the reporter thread says through the
 * diagnostics hook (TW_DIAG_BAGGAGE: the first drop at once, later ones in
 * at most one summary per 10 s). The request still goes out with its trace
 * context. */
TW_API tw_status tw_tracer_inject(tw_tracer *t, const tw_span_context *c, unsigned formats,
                                  tw_kv_fn set, void *ud);

/* The binding's carrier walker: calls visit(visit_ud, key, val) for every
 * header it holds (repeated headers: once per value), and returns 0, or
 * non-zero if the carrier itself is unusable. */
typedef int (*tw_carrier_foreach)(void *carrier, tw_kv_fn visit, void *visit_ud);

/* new: *out on TW_OK, freed with tw_span_context_free.
 * TW_ERR_NOT_FOUND: no context header of the enabled formats was present.
 * TW_ERR_CORRUPTED: a context header was present but malformed (or two formats
 *   disagree, or an id/tracestate size bound was exceeded); nothing is
 *   half-applied.
 * Too much baggage is not corruption: per baggage header (all uberctx-*
 * together; jaeger-baggage; W3C baggage) at most max_baggage_size bytes, and
 * at most 180 items after merging, are kept; the excess items are dropped
 * whole, counted in baggage_dropped (said like inject's, TW_DIAG_BAGGAGE),
 * and the trace context is returned as usual.
 * Header names match case-insensitively. A context with only baggage or only
 * a jaeger-debug-id (no ids) is returned with zero ids; starting a child from
 * it makes a new root that keeps the baggage / forces debug sampling. */
TW_API tw_status tw_tracer_extract(tw_tracer *t, unsigned formats, tw_carrier_foreach each,
                                   void *carrier, tw_span_context **out);

/* Raw HTTP/1.x request heads as carriers: what a gateway received, e.g.
 * nginx's ngx.req.raw_header() ("GET /p HTTP/1.1" CRLF "Host: a" CRLF ...),
 * CRLF or bare LF line ends, the closing blank line optional; anything after
 * it is never read. Gives extract every header in one pass without building
 * a table first. Bytes are borrowed for the call. */
typedef struct tw_http_head {
    const char *data;
    size_t len;
} tw_http_head;

/* A tw_carrier_foreach over a tw_http_head*: visits each "name: value" line
 * (value without surrounding blanks), skipping the request line and lines
 * that are not headers (folded continuations included). Non-zero only for a
 * NULL or unusable head. */
TW_API int tw_http_head_foreach(void *head, tw_kv_fn visit, void *ud);

/* borrowed: the request line's method and target, pointing into h.
 * TW_ERR_CORRUPTED unless the first line is METHOD SP TARGET SP HTTP/x.y. */
TW_API tw_status tw_http_head_request_line(const tw_http_head *h, const char **method,
                                           size_t *method_len, const char **target,
                                           size_t *target_len);

/* borrowed: the first value of header name (ASCII case-insensitive).
 * TW_ERR_NOT_FOUND if absent. */
TW_API tw_status tw_http_head_header(const tw_http_head *h, const char *name, const char **val,
                                     size_t *val_len);

/* W3C traceparent alone, for carriers that hold nothing else (a queue
 * envelope, a job header): the 55-byte version-00 text of c into buf (no
 * NUL; trace ids always as 32 digits; flags: the sampled bit plus the W3C
 * trace-flags bits other than sampled that c was extracted with) ... */
TW_API void tw_span_context_to_traceparent(const tw_span_context *c, char buf[55]);
/* ... and new: the context of one traceparent value, parsed by the same
 * rules as extract (no tracestate, no baggage). TW_ERR_CORRUPTED if
 * malformed; free with tw_span_context_free. */
TW_API tw_status tw_span_context_from_traceparent(const char *s, size_t len, tw_span_context **out);

/* OpenTracing BINARY format (Jaeger's layout: trace hi, lo, span, parent as
 * big-endian u64, flags u8, u32 baggage count, then u32-length-prefixed key and
 * value pairs). inject: new, *buf freed with tw_free. */
TW_API tw_status tw_span_context_to_binary(const tw_span_context *c, char **buf, size_t *len);
TW_API tw_status tw_span_context_from_binary(const char *buf, size_t len, tw_span_context **out);

/* ---------------------------------------------------------------- queue envelope */

/* A traced queue item as the Redis module stores it in a plain list, one
 * binary-safe value (version 1, integers big-endian):
 *
 *   offset size  field
 *   0      5     magic        00 'T' 'W' 'Q' 1A   (no text payload starts so)
 *   5      1     version      0x01
 *   6      1     flags        0 (reserved; readers reject unknown bits)
 *   7      1     reserved     0
 *   8      8     enqueue_us   int64, server wall clock (µs since the epoch)
 *   16     4     carrier_len  uint32
 *   20     4     payload_len  uint32
 *   24     c     carrier      carrier text (below), as stored by the producer side
 *   24+c   p     payload      the item's bytes, untouched
 *   24+c+p 4     crc32        tw_crc32 of bytes [0, 24+c+p)
 *
 * A value that does not start with the magic is a plain item (LPUSH) and
 * passes through untouched. Pure functions over buffers; no Redis, no spans. */
#define TW_ENVELOPE_MAGIC      "\0TWQ\x1a"
#define TW_ENVELOPE_MAGIC_LEN  5
#define TW_ENVELOPE_HEADER_LEN 24
#define TW_ENVELOPE_OVERHEAD   28      /* header + crc32 trailer */

/* A decoded item: a plain descriptor, every pointer borrowed from the buffer
 * given to tw_envelope_decode. */
typedef struct tw_envelope {
    int64_t enqueue_us;       /* -1 for a plain item */
    const char *carrier;      /* "" (length 0) for a plain item */
    size_t carrier_len;
    const char *payload;      /* the whole value for a plain item */
    size_t payload_len;
} tw_envelope;

/* Bytes an envelope with these parts takes; 0 if a part exceeds UINT32_MAX. */
TW_API size_t tw_envelope_size(size_t carrier_len, size_t payload_len);

/* Writes the envelope of (enqueue_us, carrier, payload) into out, which holds
 * tw_envelope_size(carrier_len, payload_len) bytes (copies; cannot fail). */
TW_API void tw_envelope_encode(char *out, int64_t enqueue_us, const char *carrier,
                               size_t carrier_len, const char *payload, size_t payload_len);

/* borrowed: classifies the value buf (len bytes); *out points into buf.
 *   TW_OK             an envelope; *out holds its parts
 *   TW_ERR_NOT_FOUND  no magic: a plain item (*out as described above)
 *   TW_ERR_CORRUPTED  the magic, but lengths, version, flags or checksum do
 *                     not match; *out as for a plain item
 * why (may be NULL) receives a static English phrase: "envelope", "plain
 * item", "truncated envelope", "unknown envelope version", "envelope length
 * mismatch" or "envelope checksum mismatch". */
TW_API tw_status tw_envelope_decode(const char *buf, size_t len, tw_envelope *out,
                                    const char **why);

/* IEEE CRC-32 (zlib's: reflected 0xEDB88320, init and final xor 0xFFFFFFFF)
 * of len bytes; crc is a previous result to continue from (0 to start). */
TW_API uint32_t tw_crc32(uint32_t crc, const void *buf, size_t len);

/* ---------------------------------------------------------------- carrier text */

/* Propagation headers written as text, the carrier the TQ.* commands take
 * and return and queue envelopes store, in either form:
 *   header block  "traceparent: 00-…-01\ntracestate: k=v" — one header a line
 *                 (CRLF accepted), separator ':' or '=';
 *   one line      "traceparent=00-…-01;tracestate=k=v" — entries split on ';'.
 * Text that contains a newline is a header block, otherwise one line (values
 * holding ';', such as W3C baggage properties, need the block form). Names
 * are header tokens [A-Za-z0-9._-], matched case-insensitively by extract;
 * blanks around names and values are ignored; empty entries are skipped;
 * values hold no control character. Empty text means "no context". */
#define TW_CARRIER_TEXT_MAX_BYTES   16384
#define TW_CARRIER_TEXT_MAX_ENTRIES 64

/* A parsed carrier text: a plain descriptor (no allocation, fits on a
 * stack); every pointer borrowed from the parsed text. */
typedef struct tw_carrier_text {
    struct tw_carrier_text_entry {
        const char *name, *val;
        size_t name_len, val_len;
    } e[TW_CARRIER_TEXT_MAX_ENTRIES];
    size_t n;
} tw_carrier_text;

/* borrowed: splits text (len bytes) into out's entries, pointing into text.
 * TW_ERR_TOO_LARGE beyond TW_CARRIER_TEXT_MAX_BYTES or _ENTRIES,
 * TW_ERR_CORRUPTED for an entry that is not "name: value" (name outside the
 * token characters, no separator, a control character in the value); then
 * out->n is 0 and why (may be NULL) receives a static English reason. */
TW_API tw_status tw_carrier_text_parse(const char *text, size_t len, tw_carrier_text *out,
                                       const char **why);

/* A tw_carrier_foreach over a parsed tw_carrier_text* (for tw_tracer_extract).
 * Non-zero only for a NULL carrier. */
TW_API int tw_carrier_text_foreach(void *carrier, tw_kv_fn visit, void *visit_ud);

/* Writing carrier text: the one writer every face uses (Python
 * format_carrier, Lua format_carrier, the Redis module's stored carriers).
 * It writes the header-block form, "name: value" lines joined by "\n", and
 * refuses what tw_carrier_text_parse would refuse, so whatever it writes
 * parses back to the same entries. A plain struct the caller owns: buf
 * (borrowed, cap bytes, cap >= 1) is kept NUL-terminated; len is the text's
 * length; status is TW_OK until the first refusal, after which every put is
 * a no-op (status and why, a static English reason, keep the first one). */
typedef struct tw_carrier_text_writer {
    char *buf;
    size_t cap, len, n;        /* n: entries written */
    tw_status status;
    const char *why;
} tw_carrier_text_writer;

/* borrowed: w->buf = buf, w->cap = cap, empty text, status TW_OK. */
TW_API void tw_carrier_text_writer_init(tw_carrier_text_writer *w, char *buf, size_t cap);

/* A tw_kv_fn (ud: the tw_carrier_text_writer*), so tw_tracer_inject writes
 * straight into it: appends one "name: value" line. Returns 0, or the
 * writer's status (non-zero, also left in w->status): TW_ERR_CORRUPTED for a
 * name outside [A-Za-z0-9._-] or empty, or a value holding a control
 * character (a newline included); TW_ERR_TOO_LARGE beyond
 * TW_CARRIER_TEXT_MAX_ENTRIES, TW_CARRIER_TEXT_MAX_BYTES or cap - 1 bytes.
 * Blanks around a value are not kept (the parser drops them). */
TW_API int tw_carrier_text_put(void *w, const char *name, size_t name_len, const char *val,
                               size_t val_len);

/* ---------------------------------------------------------------- diagnostics */

/* Failures that speak. The reporter thread tells the application when spans
 * do not reach the collector (or baggage was dropped), in four kinds
 * rate-limited separately: the first event of a kind is reported at once,
 * later ones of that kind are summed into at most one summary per kind
 * every 10 s. Nothing is reported
 * from the thread that starts or finishes spans (finish() stays a queue push).
 *   TW_DIAG_SEND_FAILED  a sender could not deliver a batch (refused, 404,
 *                        500, unresolvable host, timeout...); the message
 *                        names the sender, the endpoint, the cause and how
 *                        many spans no sender delivered. Also said early, as
 *                        "sender stalled", when an HTTP send has moved no
 *                        byte for 1 s (a collector that accepts and never
 *                        answers), long before its timeout gives up; the
 *                        give-up follows as one more event of this kind
 *                        (so such a send counts twice in summaries).
 *   TW_DIAG_DROPPED      spans dropped for another reason: queue full, a span
 *                        too large for a datagram, close() deadline.
 *   TW_DIAG_SAMPLING     a remote-sampling poll failed or its answer was
 *                        rejected (the sampler keeps its strategy).
 *   TW_DIAG_BAGGAGE      baggage items dropped over max_baggage_size or 180
 *                        items (inject left them out, or extract dropped
 *                        them and kept the trace); counted in
 *                        baggage_dropped, said by the reporter thread.
 *   TW_DIAG_THROTTLER    a throttler credit request failed (transport,
 *                        status or body); the credits stay as they were.
 *   TW_DIAG_BAGGAGE_RESTRICTIONS  a baggage restrictions fetch failed; the
 *                        restrictions stay as they were. */
typedef enum tw_diag_kind {
    TW_DIAG_SEND_FAILED = 1,
    TW_DIAG_DROPPED = 2,
    TW_DIAG_SAMPLING = 3,
    TW_DIAG_BAGGAGE = 4,
    TW_DIAG_THROTTLER = 5,
    TW_DIAG_BAGGAGE_RESTRICTIONS = 6
} tw_diag_kind;

/* The hook. status: the tw_status of the (latest) failure. message: one line
 * of English, no newline, borrowed for the call. count: the events the
 * message stands for -- 1 for a first report; in a summary, the failed sends
 * (SEND_FAILED), dropped spans (DROPPED), failed polls (SAMPLING) or dropped
 * baggage items (BAGGAGE) since the previous report of that kind.
 * Threads: called on the tracer's reporter thread, and, for what close()
 * finds once that thread has stopped, on the thread calling
 * tw_tracer_close / tw_tracer_free -- never concurrently for one tracer,
 * never while the caller holds a tracewire lock that a span call needs. It
 * must not block for long (the reporter waits for it) and must not call
 * tw_tracer_close/flush/free on the same tracer. In a forked child it is
 * called by the child's own reporter thread. */
typedef void (*tw_diag_fn)(void *ud, tw_diag_kind kind, tw_status status,
                           const char *message, uint64_t count);

/* Sets (fn non-NULL) or clears (fn NULL) the diagnostics hook of tracers
 * created from cfg afterwards. ud is borrowed: it must stay valid until every
 * such tracer has been freed. Default: none (failures are only counted). */
TW_API tw_status tw_config_set_diagnostics(tw_config *cfg, tw_diag_fn fn, void *ud);

/* 1 if a kind is a warning, 0 if an error, for a face choosing its log level
 * (nginx's error log, ngx.log under OpenResty): spans or baggage lost
 * (SEND_FAILED, DROPPED, BAGGAGE) are errors; a failed poll of the agent that
 * keeps the current state (SAMPLING, THROTTLER, BAGGAGE_RESTRICTIONS) is a
 * warning. Unknown kinds: 0. */
TW_API int tw_diag_kind_is_warning(tw_diag_kind kind);

/* The logging exporter's span lines (reporter.protocols "log", jaeger_client's
 * `logging: True`): written to stderr by default; with a hook set, handed to
 * fn instead, one call per span, so a binding can route them to its host's
 * log (Python: logging "jaeger_tracing", as jaeger_client's LoggingReporter).
 * line: "<service> op=<name> trace=<hex> span=<hex> ..." -- the stderr line
 * without its "tracewire: span " prefix and newline -- len bytes,
 * NUL-terminated, borrowed for the call. Threads and limits: as the
 * diagnostics hook's (the reporter thread; must not block for long). ud is
 * borrowed until every tracer created from cfg afterwards has been freed. */
typedef void (*tw_span_log_fn)(void *ud, const char *line, size_t len);
TW_API tw_status tw_config_set_span_log(tw_config *cfg, tw_span_log_fn fn, void *ud);

/* ---------------------------------------------------------------- gateways */

#define TW_PROP_ALL (TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_MULTI | TW_PROP_B3_SINGLE)

/* One header name of a propagation format, lower-case; is_prefix: every
 * header that starts with name (Jaeger's baggage items, "uberctx-" by
 * default). Return non-zero to stop. */
typedef int (*tw_header_name_fn)(void *ud, const char *name, size_t len, int is_prefix);

/* Visits the header names the given formats (TW_PROP_* bits; TW_PROP_DEFAULT:
 * the tracer's extract and inject formats together) read or write, as this
 * tracer's configuration names them (trace_id_header, baggage_header_prefix).
 * A gateway removes these from a request before injecting its own context,
 * so an upstream never sees two contexts that disagree. Names are borrowed
 * for the call. TW_ERR_UNSUPPORTED for unknown format bits. */
TW_API tw_status tw_tracer_header_names(tw_tracer *t, unsigned formats, tw_header_name_fn visit,
                                        void *ud);

/* The same without a tracer, under the default names (uber-trace-id,
 * "uberctx-"); TW_PROP_DEFAULT means TW_PROP_ALL. For carriers kept apart
 * from any tracer: the Redis module's stream entry fields and the Python and
 * Lua stream helpers read exactly these back as the carrier. */
TW_API tw_status tw_header_names(unsigned formats, tw_header_name_fn visit, void *ud);

/* An HTTP request as a gateway received it, for tw_span_set_http_request: a
 * plain descriptor, every pointer borrowed for the call. */
typedef struct tw_http_request {
    const char *method;       /* "GET" */
    size_t method_len;
    const char *target;       /* the request target as received: "/p?q", or absolute-form */
    size_t target_len;
    const char *host;         /* Host header (or server name); NULL when unknown */
    size_t host_len;
    const char *scheme;       /* "http" / "https"; NULL: "http" */
    size_t scheme_len;
    const char *component;    /* e.g. "nginx"; NULL: no component tag */
    size_t component_len;
} tw_http_request;

/* Makes s the server span of request r, the same way for every gateway face:
 * kind SERVER and, when s is sampled (an unsampled span records nothing),
 * the tags component, http.method and http.url (an absolute-form target as
 * it is; else scheme://host + target; the target alone without a host).
 * Copies. TW_ERR_FINISHED on a finished span. (tw_http_span_start does this
 * with the span's start.) */
TW_API tw_status tw_span_set_http_request(tw_span *s, const tw_http_request *r);

/* The response of that request: http.status_code (a negative status: none)
 * and, for 5xx, error=true (sampled spans only). TW_ERR_FINISHED on a
 * finished span. */
TW_API tw_status tw_span_set_http_status(tw_span *s, int64_t status);

/* The response of an HTTP request, for tw_http_span_finish: a plain
 * descriptor, every pointer borrowed for the call. */
typedef struct tw_http_response {
    int64_t status;              /* http.status_code; negative: none (nothing was sent) */
    const char *upstream_addr;   /* upstream.address (e.g. nginx's $upstream_addr); NULL: none */
    size_t upstream_addr_len;
    int64_t upstream_time_ms;    /* upstream.response_time_ms; negative: none */
} tw_http_response;

/* The longest name tw_http_span_start gives a span; longer ones are cut. */
#define TW_HTTP_MAX_NAME 1024

/* A gateway's server span in one call per request: named "METHOD /path"
 * (r's target without its query, cut to TW_HTTP_MAX_NAME bytes), child of
 * parent (borrowed; NULL: a new root), started at start_us (0: now), kind
 * SERVER and, when sampled, tagged as tw_span_set_http_request does plus
 * peer.address = peer (the client's address text; NULL: no tag). Copies
 * what it keeps. *out is the new span, or NULL on error. */
TW_API tw_status tw_http_span_start(tw_tracer *t, const tw_http_request *r, const char *peer,
                                    size_t peer_len, const tw_span_context *parent,
                                    int64_t start_us, tw_span **out);

/* The response's tags on a sampled span: http.status_code, error=true for
 * 5xx, upstream.address and upstream.response_time_ms (each when given).
 * TW_OK and nothing done for an unsampled span; TW_ERR_FINISHED on a
 * finished one. */
TW_API tw_status tw_http_span_tag_response(tw_span *s, const tw_http_response *resp);

/* tw_http_span_tag_response (resp NULL: none) then tw_span_finish(s,
 * finish_us), in one call; its status is finish's (a tag lost to memory
 * does not keep the span from being reported). */
TW_API tw_status tw_http_span_finish(tw_span *s, const tw_http_response *resp,
                                     int64_t finish_us);

/* ------------------------------------------------------------ driven reporting */

/* A host with its own event loop (the nginx module) may send the tracer's
 * spans from that loop instead of a reporter thread: a second thread in a
 * process makes glibc take its multi-thread paths in every syscall wrapper
 * and in malloc for good (issue #15 measured ~460 instructions per nginx
 * request). The key reporter.driver decides: thread = always the reporter
 * thread; loop = the host's loop (tw_tracer_new refuses a configuration
 * that could block it); auto (default) = the loop when the host asks and
 * the configuration needs no blocking call -- reporter.protocols udp only
 * (memory may ride along) to an IP address (a host name needs a resolver
 * that blocks or starts a thread) and a const, probabilistic or
 * ratelimiting sampler with no throttler and no baggage restrictions
 * (those poll the agent over HTTP).
 *
 * Called from tw_span_finish, on the finishing thread, when the host should
 * drive soon: a full batch is queued, or the first span after the reporter
 * went idle. It must only schedule a tw_tracer_drive (nginx: post an event),
 * never call one itself. */
typedef void (*tw_drive_kick_fn)(void *ud);

/* Asks that this process's spans be sent by the caller's loop. Call it in
 * the process that reports (after any fork; a forked child starts with the
 * thread again), before that process finishes its first span. TW_OK: driven
 * -- no reporter thread starts in this process; the host calls
 * tw_tracer_drive when it returned due, and when kick (NULL: none;
 * kick_ud borrowed for the tracer's life) asks; tw_tracer_flush and
 * tw_tracer_close send what is queued on their caller's thread.
 * TW_ERR_UNSUPPORTED: the tracer keeps its reporter thread (reporter.driver
 * thread, or auto with a configuration that may block); nothing changed.
 * TW_ERR_CLOSED after close. tw_tracer_drive, flush and close of a driven
 * tracer take turns (a lock): meant for one loop thread, safe from any. */
TW_API tw_status tw_tracer_drive_start(tw_tracer *t, tw_drive_kick_fn kick, void *kick_ud);

/* One turn of a driven tracer's reporter, on the loop's thread: encodes and
 * sends every full batch queued, and a partial one once its oldest span has
 * waited reporter.flush_interval_ms; says drops and failed sends through the
 * diagnostics hook (rate-limited as on the thread). Never blocks: the UDP
 * socket is non-blocking and a full socket buffer counts the batch as
 * dropped_send_failed instead of waiting. Returns the milliseconds until
 * the next call is due (>= 1); -1 when t is NULL, not driven or closed. */
TW_API int64_t tw_tracer_drive(tw_tracer *t);

#ifdef __cplusplus
}
#endif
#endif /* TRACEWIRE_H */
