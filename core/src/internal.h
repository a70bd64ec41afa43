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

/* Parsed configuration; tw_config wraps one. All strings heap-owned by the
 * config (freed by tw_config_free). */
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

/* Remote-sampling strategy JSON -> sampler (sampler.c). TW_ERR_CORRUPTED on bad
 * JSON; then nothing changes. */
typedef struct twp_sampler twp_sampler;
tw_status twp_sampler_apply_json(twp_sampler *s, const char *body, size_t len);

#endif /* TW_INTERNAL_H */
