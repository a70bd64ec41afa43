/* internal.h — what the core's files share and nothing outside core/ may use.
 *
 * The finished-span record (twp_span_data) is the contract between the span
 * model (span.c), the reporter queue (reporter.c) and the encoders (thrift.c,
 * otlp_json.c, memory/log reporters). A span owns one record; every string it
 * points at lives in the record's arena, so handing a finished span to the
 * queue moves one pointer and freeing it is one arena release.
 * Internal names: twp_ prefix.
 */
#ifndef TW_INTERNAL_H
#define TW_INTERNAL_H

#define TW_BUILDING 1
#include "tracewire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>

/* ------------------------------------------------------------ byte buffer */

/* A growable byte buffer for encoders. Owner: whoever declared it; release
 * with twp_buf_free. Appends fail (return false) only on allocation failure,
 * and then leave the buffer valid. */
typedef struct twp_buf {
    char *data;
    size_t len, cap;
    bool failed;          /* sticky: set when an append could not allocate */
} twp_buf;
void twp_buf_init(twp_buf *b);
void twp_buf_free(twp_buf *b);
bool twp_buf_reserve(twp_buf *b, size_t extra);
bool twp_buf_append(twp_buf *b, const void *p, size_t n);
bool twp_buf_putc(twp_buf *b, char c);

/* ------------------------------------------------------------ arena */

/* Bump allocator owned by one span record. The first chunk is inline in the
 * record so a span with a few short tags allocates nothing else. */
typedef struct twp_arena_chunk {
    struct twp_arena_chunk *next;
    size_t used, cap;
    char mem[];
} twp_arena_chunk;

typedef struct twp_arena {
    char *cur;            /* inline chunk or the head chunk */
    size_t used, cap;
    twp_arena_chunk *chunks;   /* heap chunks, freed with the arena */
} twp_arena;

void *twp_arena_alloc(twp_arena *a, size_t n);      /* 8-byte aligned; NULL on OOM */
char *twp_arena_strdup(twp_arena *a, const char *s, size_t n);  /* NUL-terminates */
void twp_arena_release(twp_arena *a);               /* frees heap chunks only */

/* ------------------------------------------------------------ span record */

typedef struct twp_value {
    tw_value_type type;
    uint32_t key_len;
    uint32_t len;         /* STRING/BINARY byte length */
    const char *key;      /* arena */
    union { const char *str; int64_t i64; double f64; int b; } v;   /* str: arena */
} twp_value;

typedef struct twp_log {
    int64_t ts_us;
    twp_value *fields;    /* arena */
    uint32_t nfields;
} twp_log;

typedef struct twp_ref {
    tw_ref_type type;
    uint64_t trace_hi, trace_lo, span_id;
} twp_ref;

typedef struct twp_span_data {
    struct twp_span_data *next;     /* queue / free-list link */
    uint64_t trace_hi, trace_lo;    /* trace_hi 0 in 64-bit mode */
    uint64_t span_id, parent_id;    /* parent_id 0 = root */
    unsigned flags;                 /* TW_FLAG_* */
    tw_span_kind kind;
    int64_t start_us, duration_us;
    const char *op;                 /* arena */
    uint32_t op_len;
    const char *tracestate;         /* arena, may be NULL: W3C tracestate to re-emit (OTLP) */
    twp_value *tags;  uint32_t ntags, cap_tags;   /* array in arena, grows by copy */
    twp_log *logs;    uint32_t nlogs, cap_logs;
    twp_ref *refs;    uint32_t nrefs;
    size_t approx_size;             /* bytes of strings held, for batching bounds */
    twp_arena arena;
    char inline_mem[384];           /* first arena chunk */
    /* appended by the span model (H1): the first tags live here, so a span
     * with up to 8 tags (sampler tags included) needs no extra allocation.
     * tags points here until it grows into the arena. */
    twp_value inline_tags[8];
} twp_span_data;

/* ------------------------------------------------------------ process */

/* What every batch carries about the emitting process. Owned by the tracer. */
typedef struct twp_process {
    const char *service_name;
    twp_value *tags;                /* hostname, ip, client-uuid, jaeger.version + config tags */
    size_t ntags;
} twp_process;

/* ------------------------------------------------------------ reporter hook */

/* The tracer hands every finished sampled span to exactly one reporter.
 * report() takes ownership of the record (frees it with twp_span_data_free
 * when done or dropped) and must not block or make syscalls on the caller's
 * thread. */
typedef struct twp_reporter twp_reporter;
typedef struct twp_reporter_ops {
    void (*report)(twp_reporter *r, twp_span_data *span);
    tw_status (*flush)(twp_reporter *r, int timeout_ms);
    tw_status (*close)(twp_reporter *r, int timeout_ms);
    void (*free)(twp_reporter *r);
    /* pthread_atfork, called by tracer.c for every live tracer: prepare takes
     * the reporter's locks, parent releases them, child resets them, drops
     * inherited spans and forgets the (non-existent) thread. */
    void (*before_fork)(twp_reporter *r);
    void (*after_fork_parent)(twp_reporter *r);
    void (*after_fork_child)(twp_reporter *r);
} twp_reporter_ops;
struct twp_reporter { const twp_reporter_ops *ops; };

void twp_span_data_free(twp_span_data *d);

/* ------------------------------------------------------------ span context */

/* Immutable once built; one malloc holds the struct, the baggage array and
 * every string (context.c). A context with trace_lo == trace_hi == 0 carries
 * only baggage and/or a debug id (from a carrier without ids). */
typedef struct twp_baggage_item {
    const char *key, *val;
    uint32_t key_len, val_len;
} twp_baggage_item;

struct tw_span_context {
    uint64_t trace_hi, trace_lo, span_id, parent_id;
    unsigned flags;                  /* TW_FLAG_* */
    const char *debug_id;            /* jaeger-debug-id value or NULL */
    const char *tracestate;          /* W3C tracestate to re-emit, or NULL */
    const twp_baggage_item *baggage;
    uint32_t nbaggage;
    uint32_t debug_id_len, tracestate_len;
    bool trace_id_128bit_hex;        /* print 32 hex chars even if trace_hi == 0 */
};

/* new (tw_span_context_free): copies everything. baggage may be NULL when n is
 * 0. To add/replace one item use twp_context_with_baggage. */
tw_status twp_context_build(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
                            uint64_t parent_id, unsigned flags,
                            const twp_baggage_item *baggage, uint32_t nbaggage,
                            const char *debug_id, size_t debug_id_len,
                            const char *tracestate, size_t tracestate_len,
                            tw_span_context **out);
/* new: a copy of c with key set to val (replacing an existing key). */
tw_status twp_context_with_baggage(const tw_span_context *c, const char *key, size_t key_len,
                                   const char *val, size_t val_len, tw_span_context **out);
/* new: a copy of c with different ids/flags, keeping baggage and tracestate
 * (used by span start: child ids + parent's baggage). */
tw_status twp_context_child(const tw_span_context *parent, uint64_t trace_hi, uint64_t trace_lo,
                            uint64_t span_id, uint64_t parent_id, unsigned flags,
                            tw_span_context **out);

/* ------------------------------------------------------------ ids */

/* Per-thread xoshiro-class generator seeded from getrandom(2); reseeded in a
 * forked child (fork generation counter bumped by the atfork child handler).
 * Never returns 0. */
uint64_t twp_random_id(void);
void twp_ids_after_fork(void);

/* ------------------------------------------------------------ counters */

/* Live counters, owned by the tracer, written by span.c and the reporter. */
typedef struct twp_counters {
    _Atomic uint64_t spans_started, spans_sampled, spans_finished, spans_reported;
    _Atomic uint64_t dropped_queue_full, dropped_too_large, dropped_send_failed, dropped_on_close;
    _Atomic uint64_t send_failures, batches_sent, bytes_sent, sampler_updates;
    _Atomic uint64_t baggage_dropped;   /* propagation.c via tw_tracer_inject/extract */
    _Atomic uint64_t spans_discarded;
} twp_counters;

#define TWP_INC(c, field, n) atomic_fetch_add_explicit(&(c)->field, (uint64_t)(n), memory_order_relaxed)

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
    /* OTLP/HTTP and the HTTP senders (issue #14) */
    bool otlp_json;                  /* reporter.otlp_protocol http/json (default http/protobuf) */
    bool otlp_gzip;                  /* reporter.otlp_compression gzip (default none) */
    char *otlp_headers;              /* "k=v,..." (values percent-encoded), OTLP sender */
    char *http_headers;              /* the same, Thrift HTTP sender */
    char *tls_ca, *tls_cert, *tls_key;   /* PEM files for https:// senders, or NULL */
};

/* ------------------------------------------------------------ reporter factory */

/* Remote sampling: the reporter thread fetches cfg->sampler_url?service=NAME
 * every sampler_refresh_ms (only when sampler_type is REMOTE) and hands the
 * body to apply(); sampler.c parses it and swaps strategies. A fetch failure
 * or bad body changes nothing. */
typedef struct twp_sampling_hook {
    tw_status (*apply)(void *ud, const char *body, size_t len);
    void *ud;
} twp_sampling_hook;

/* new: builds the reporter(s) the config names (composite when several).
 * Borrows cfg, proc, ctr and hook for its whole life (the tracer owns them).
 * Starts no thread: the first report() or flush() does (lazily, per pid). */
tw_status twp_reporter_new(const tw_config *cfg, const twp_process *proc,
                           twp_counters *ctr, const twp_sampling_hook *hook,
                           twp_reporter **out);

/* Memory reporter access for tw_tracer_memory_spans. NULL if none configured. */
tw_status twp_reporter_memory_json(twp_reporter *r, int clear, char **json_out);

/* ------------------------------------------------------------ tracer internals */

/* borrowed: the tracer's parsed config, valid until tw_tracer_free. */
const tw_config *twp_tracer_config(const tw_tracer *t);

/* Propagation over a config (propagation.c); tw_tracer_inject/extract wrap
 * these with twp_tracer_config(t). Same contracts as the public functions. */
tw_status twp_inject(const tw_config *cfg, const tw_span_context *c, unsigned formats,
                     tw_kv_fn set, void *ud);
tw_status twp_extract(const tw_config *cfg, unsigned formats, tw_carrier_foreach each,
                      void *carrier, tw_span_context **out);
/* The same, also telling how many baggage items did not make it (NULL: not
 * wanted). inject: items of c left out of at least one baggage-carrying
 * header (over max_baggage_size in total, beyond TWP_MAX_BAGGAGE_ITEMS, or a
 * key that cannot be a header name / collides case-insensitively); set only
 * when inject returns TW_OK. extract: items received but dropped because a
 * bound was exceeded (the context is kept); set on TW_OK and
 * TW_ERR_NOT_FOUND (all baggage dropped, nothing else there). */
tw_status twp_inject_counted(const tw_config *cfg, const tw_span_context *c, unsigned formats,
                             tw_kv_fn set, void *ud, uint64_t *baggage_dropped);
tw_status twp_extract_counted(const tw_config *cfg, unsigned formats, tw_carrier_foreach each,
                              void *carrier, tw_span_context **out, uint64_t *baggage_dropped);

/* tracer.c: counts n baggage items dropped by inject or extract (the
 * reporter thread says it through the diagnostics hook). */
void twp_tracer_baggage_dropped(tw_tracer *t, uint64_t n);

/* Remote-sampling strategy JSON -> sampler (sampler.c). TW_ERR_CORRUPTED on bad
 * JSON; then nothing changes. */
typedef struct twp_sampler twp_sampler;
tw_status twp_sampler_apply_json(twp_sampler *s, const char *body, size_t len);

/* ------------------------------------------------------------ span model (H1) */

/* Two ids in one call (ids.c), for a root's 128-bit trace id. */
void twp_random_id2(uint64_t *a, uint64_t *b);

/* Monotonic nanoseconds (clock.c), for rate limiters. */
int64_t twp_mono_ns(void);
/* atfork child (tracer.c): releases the clock's re-anchor lock. */
void twp_clock_after_fork(void);

/* config.c: struct copies for the tracer. init sets every non-string default
 * (strings stay NULL: it allocates nothing); copy makes dst an independent
 * deep copy (dst must be cleared/uninitialised); clear frees the strings;
 * equal compares every key's value. */
void twp_config_init(tw_config *c);
tw_status twp_config_copy(tw_config *dst, const tw_config *src);
void twp_config_clear(tw_config *c);
bool twp_config_equal(const tw_config *a, const tw_config *b);

/* span.c: a fresh empty record (from a per-thread cache), and a deep copy
 * (used when two reporters each need their own). Both NULL on OOM. */
twp_span_data *twp_span_data_new(void);
twp_span_data *twp_span_data_clone(const twp_span_data *d);

/* sampler.c. One sampler per tracer; decide() may be called from any thread
 * concurrently with twp_sampler_apply_json. */
typedef struct twp_sample_result {
    const char *type;       /* static: const|probabilistic|ratelimiting|lowerbound */
    double param;
    bool param_is_bool;     /* const sampler: param is a bool tag */
} twp_sample_result;
tw_status twp_sampler_new(const tw_config *cfg, twp_sampler **out);
void twp_sampler_free(twp_sampler *s);
bool twp_sampler_decide(twp_sampler *s, uint64_t trace_lo, const char *op, size_t op_len,
                        twp_sample_result *res);
/* atfork: the rate limiters' spinlocks are reset in the child. */
void twp_sampler_after_fork_child(twp_sampler *s);

/* reporter_memory.c: the "memory" reporter. count_reported: whether it counts
 * spans_reported (off when it only mirrors another reporter). */
tw_status twp_memory_reporter_new(const tw_config *cfg, twp_counters *ctr, bool count_reported,
                                  twp_reporter **out);
bool twp_is_memory_reporter(const twp_reporter *r);
tw_status twp_memory_reporter_json(twp_reporter *r, int clear, char **json_out);


/* Span kind in records: twp_span_data.kind is the single source of truth. A
 * "span.kind" tag set on a span updates kind and is NOT also stored in tags[];
 * encoders that need a span.kind tag (Jaeger Thrift) derive it from kind. */
/* Record strings: besides the arena, tag keys/values may point at static
 * string literals (span.c writes the sampler.type/sampler.param tags that
 * way); they outlive every record and are never freed. */
/* ---- end of span model (H1) section */


/* ============================================================ H3: reporting pipeline
 * (appended by the reporting-pipeline work: reporter.c, thrift.c, otlp_json.c,
 * transport_udp.c, transport_http.c, reporter_log.c) */

/* Jaeger ClientStats, cumulative since the tracer started. */
typedef struct twp_client_stats {
    int64_t full_queue_dropped, too_large_dropped, failed_to_emit;
} twp_client_stats;

/* Optional Batch fields. stats NULL: ClientStats left out. */
typedef struct twp_batch_meta {
    bool has_seq_no;
    int64_t seq_no;
    const twp_client_stats *stats;
} twp_batch_meta;

/* thrift.c — every function appends to b and returns false only when b could
 * not grow (b stays valid, its content is then unspecified). */
bool twp_thrift_compact_span(twp_buf *b, const twp_span_data *s);          /* Span struct */
bool twp_thrift_compact_process(twp_buf *b, const twp_process *p);         /* Process struct */
/* Agent.emitBatch oneway message (compact) around pre-encoded structs: proc is
 * one Process, spans is nspans Span structs back to back. */
bool twp_thrift_compact_emit_batch_raw(twp_buf *b, int32_t seqid, const void *proc,
                                       size_t proc_len, const void *spans, size_t spans_len,
                                       uint32_t nspans, const twp_batch_meta *m);
bool twp_thrift_compact_emit_batch(twp_buf *b, int32_t seqid, const twp_process *p,
                                   twp_span_data *const *spans, size_t n,
                                   const twp_batch_meta *m);
bool twp_thrift_binary_span(twp_buf *b, const twp_span_data *s);
/* A bare Batch struct (binary protocol), the body of POST /api/traces. */
bool twp_thrift_binary_batch(twp_buf *b, const twp_process *p, twp_span_data *const *spans,
                             size_t n, const twp_batch_meta *m);
/* Upper bound of an emitBatch message minus its Process and Span structs
 * (header, list header, seqNo, ClientStats, stops); jaeger-client-go uses 70. */
#define TWP_EMIT_BATCH_OVERHEAD 80u

/* otlp_json.c — an ExportTraceServiceRequest (OTLP/HTTP JSON) with one
 * ResourceSpans for p and the n spans. Appends to b. TW_ERR_NOMEM on OOM. */
tw_status twp_otlp_json_encode(twp_buf *b, const twp_process *p, twp_span_data *const *spans,
                               size_t n);

/* reporter_log.c — one human-readable line per span (with trailing newline). */
bool twp_log_format_span(twp_buf *b, const twp_process *p, const twp_span_data *s);

/* transport_udp.c — a lazily opened, connected, non-blocking UDP socket.
 * Not thread-safe: used by the reporter thread only. */
typedef struct twp_udp {
    char *host;
    int port;
    int fd;               /* -1 until the first send, and after a failed one */
    void *addr;           /* resolved sockaddr (malloc) */
    unsigned addr_len;
    int64_t retry_at_us;  /* after a failed resolve/socket: no new try before (monotonic) */
    int64_t resolved_at_us;   /* when addr was last resolved (monotonic) */
    bool stale;           /* a send failed: re-resolve on the next open (5 s schedule) */
    void *lookup;         /* an asynchronous getaddrinfo_a still running, or NULL */
    char error[160];      /* why the last send failed, for diagnostics */
} twp_udp;
tw_status twp_udp_init(twp_udp *u, const char *host, int port);   /* copies host */
/* One datagram. TW_ERR_IO when it could not be sent or the agent's port
 * refused it (ICMP port unreachable, seen at once on loopback, else by the
 * next send); u->error then says why. */
tw_status twp_udp_send(twp_udp *u, const void *data, size_t len);
void twp_udp_close(twp_udp *u);                                   /* closes fd, keeps address */
void twp_udp_free(twp_udp *u);
void twp_udp_after_fork_child(twp_udp *u);  /* close inherited fd; reopen on next send */

/* transport_http.c — one reused libcurl handle (keep-alive), driven through a
 * multi handle so a send can be abandoned within ~20 ms of *abort_at_us. */
typedef struct twp_http twp_http;
typedef enum twp_http_policy {
    TWP_HTTP_THRIFT,      /* 2xx ok; retry connection errors and 5xx */
    TWP_HTTP_OTLP         /* 2xx ok; 400 (other 4xx) permanent; retry 429/502/503/504
                           * and connection errors, honouring Retry-After */
} twp_http_policy;
typedef struct twp_http_result {
    long status;          /* last HTTP status, 0 if no response */
    int attempts;         /* requests made */
    int failures;         /* failed attempts */
    int64_t rejected;     /* OTLP partialSuccess.rejectedSpans of a 2xx answer, else 0 */
    char error[192];      /* why the last attempt failed, for diagnostics ("" if ok) */
} twp_http_result;
/* new (twp_http_free). url and content_type copied. */
tw_status twp_http_new(const char *url, const char *content_type, twp_http_policy policy,
                       int timeout_ms, int retries, twp_http **out);
void twp_http_free(twp_http *h);
/* POST body; retries per policy with backoff, never past *abort_at_us (read
 * atomically on every poll; 0 = no abort deadline). TW_OK when delivered,
 * TW_ERR_IO when failed for good, TW_ERR_TIMEOUT when abandoned at abort_at. */
tw_status twp_http_post(twp_http *h, const void *body, size_t len,
                        _Atomic int64_t *abort_at_us, twp_http_result *res);
/* GET url into body (new, caller frees with twp_buf_free); status via *code.
 * On failure err (cap bytes, may be NULL) says why in words. */
tw_status twp_http_get(const char *url, int timeout_ms, _Atomic int64_t *abort_at_us,
                       twp_buf *body, long *code, char *err, size_t cap);
/* In a forked child: forget (leak) inherited curl state, never touch its
 * sockets; the next post builds a new handle. */
void twp_http_after_fork_child(twp_http *h);
/* curl_global_init once per process, thread-safely. */
tw_status twp_http_global_init(void);

/* reporter.c — the queue + background thread reporter, over nexp exporters
 * (exporter.h; at most TWP_MAX_EXPORTERS) that it takes ownership of, even
 * when it fails. new: same borrowing contract as twp_reporter_new. */
#define TWP_MAX_EXPORTERS 8
typedef struct twp_exporter twp_exporter;
tw_status twp_pipeline_reporter_new(const tw_config *cfg, const twp_process *proc,
                                    twp_counters *ctr, const twp_sampling_hook *hook,
                                    twp_exporter *const *exporters, size_t nexp,
                                    twp_reporter **out);

/* ------------------------------------------------------------ propagation (H2) */

/* Bounds applied by twp_extract. Exceeding an id or tracestate bound makes
 * it return TW_ERR_CORRUPTED. Baggage is bounded by cfg->max_baggage_size
 * bytes per baggage header (TWP_DEFAULT_BAGGAGE_SIZE when <= 0; the
 * uberctx-* headers count together as one) and TWP_MAX_BAGGAGE_ITEMS items
 * after merging; baggage beyond them is dropped and counted, never a reason
 * to lose the trace context. Inject applies the same two bounds per header. */
#define TWP_MAX_ID_HEADER          512    /* uber-trace-id, traceparent, b3, x-b3-*, jaeger-debug-id */
#define TWP_MAX_TRACESTATE         8192   /* all tracestate headers joined */
#define TWP_MAX_TRACESTATE_ENTRIES 32
#define TWP_MAX_BAGGAGE_ITEMS      180    /* after merging every baggage carrier */
#define TWP_DEFAULT_BAGGAGE_SIZE   8192

/* What one format's id header says. */
typedef struct twp_ids {
    uint64_t trace_hi, trace_lo, span_id, parent_id;
    unsigned flags;          /* TW_FLAG_SAMPLED | TW_FLAG_DEBUG only */
    bool has_ids;            /* false: a sampling decision only (b3 "0"/"1"/"d") */
    bool sampled_known;      /* false: the header deferred the decision (b3) */
    bool trace_128;          /* the trace id was written with more than 16 hex digits */
} twp_ids;

/* Receives each decoded baggage item; a non-OK return stops the parse and is
 * returned by it. Pointers are borrowed for the call. */
typedef tw_status (*twp_kv_sink)(void *ud, const char *key, size_t key_len,
                                 const char *val, size_t val_len);

/* Parsers: plain functions over (ptr, len) — no NUL needed, no state, so a
 * libFuzzer target can call them directly. They return TW_OK or
 * TW_ERR_CORRUPTED (TW_ERR_NOMEM if a baggage parser cannot get its one
 * decode buffer, or whatever a sink returned), and leave *out unspecified on
 * error. A sink may be called for some items before a later one fails. */
tw_status twp_jaeger_parse_trace_header(const char *s, size_t n, twp_ids *out);
tw_status twp_jaeger_parse_baggage_header(const char *s, size_t n, twp_kv_sink sink, void *ud);
/* uberctx-* value: url-decoded ('+' is a space); out needs n bytes. */
tw_status twp_jaeger_decode_value(const char *s, size_t n, char *out, size_t *out_len);
tw_status twp_w3c_parse_traceparent(const char *s, size_t n, twp_ids *out);
/* Validates and normalises (members trimmed, empty members dropped, joined by
 * ","); out needs n bytes; *out_len 0 for an empty list. */
tw_status twp_w3c_parse_tracestate(const char *s, size_t n, char *out, size_t *out_len);
tw_status twp_w3c_parse_baggage(const char *s, size_t n, twp_kv_sink sink, void *ud);
tw_status twp_b3_parse_single(const char *s, size_t n, twp_ids *out);
/* X-B3-* values; a NULL pointer means the header is absent. */
typedef struct twp_b3_headers {
    const char *trace_id, *span_id, *parent_id, *sampled, *flags;
    size_t trace_id_len, span_id_len, parent_id_len, sampled_len, flags_len;
} twp_b3_headers;
tw_status twp_b3_parse_multi(const twp_b3_headers *h, twp_ids *out);

/* Injectors: one call of set per header, lower-case names, NUL-terminated
 * values; return the first non-OK status of set (and stop there). Contexts
 * with zero ids emit only their baggage headers. missed: NULL, or
 * c->nbaggage flags; a baggage injector sets missed[i] = 1 for each item it
 * left out (and never clears one). */
tw_status twp_jaeger_inject(const tw_config *cfg, const tw_span_context *c, tw_kv_fn set, void *ud,
                            unsigned char *missed);
tw_status twp_w3c_inject(const tw_config *cfg, const tw_span_context *c, tw_kv_fn set, void *ud,
                         unsigned char *missed);
tw_status twp_b3_inject_multi(const tw_span_context *c, tw_kv_fn set, void *ud);
tw_status twp_b3_inject_single(const tw_span_context *c, tw_kv_fn set, void *ud);

/* propagation.c: a tw_kv_fn setter's return as a status: 0 -> TW_OK, a
 * tw_status value -> itself, anything else -> TW_ERR_IO. */
tw_status twp_setter_status(int rc);

/* percent.c: percent-encoding and the small text helpers the codecs share. */
typedef enum twp_pct_set {
    TWP_PCT_URL,       /* keep RFC 3986 unreserved (A-Z a-z 0-9 - . _ ~); Jaeger */
    TWP_PCT_BAGGAGE    /* keep W3C baggage-octets except '%'; W3C baggage */
} twp_pct_set;
size_t twp_percent_encoded_len(const char *s, size_t n, twp_pct_set set);
/* Writes twp_percent_encoded_len bytes (upper-case %XX), returns that count. */
size_t twp_percent_encode(const char *s, size_t n, twp_pct_set set, char *out);
/* Strict: '%' must be followed by two hex digits, else TW_ERR_CORRUPTED.
 * plus_is_space: '+' decodes to ' ' (form/query encoding). out needs n bytes
 * and may alias s. */
tw_status twp_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t *out_len);
/* 1..16 hex digits -> u64; 1..32 -> a trace id. upper_ok accepts A-F. */
bool twp_hex_u64(const char *s, size_t n, bool upper_ok, uint64_t *out);
bool twp_hex_trace_id(const char *s, size_t n, bool upper_ok, uint64_t *hi, uint64_t *lo);
void twp_hex_put_u64(char *dst, uint64_t v);   /* 16 lower-case digits, no NUL */
bool twp_is_tchar(unsigned char c);            /* RFC 7230 token character */
void twp_trim_ows(const char **s, size_t *n);  /* strips spaces and tabs at both ends */
/* ASCII case-insensitive equality of (a, an) and (b, bn). */
bool twp_ascii_ieq(const char *a, size_t an, const char *b, size_t bn);

#endif /* TW_INTERNAL_H */
