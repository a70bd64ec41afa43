/* span_data.h — the finished-span record, private to core/.
 *
 * twp_span_data is the contract between the span model (span.c), the
 * reporters (reporter.c, reporter_memory.c) and the encoders (thrift.c,
 * otlp_json.c, otlp_proto.c, exporter_log.c). A span owns one record; every
 * string it points at lives in the record's arena, so handing a finished
 * span to the queue moves one pointer and freeing it is one arena release.
 */
#ifndef TW_SPAN_DATA_H
#define TW_SPAN_DATA_H

#include "buf.h"

/* ------------------------------------------------------------ span record */

struct twp_array;

/* 24 bytes: key_len is 16 bits (span.c refuses longer tag keys with
 * TW_ERR_TOO_LARGE), type one byte. */
typedef struct twp_value {
    const char *key;      /* arena, the tracer's intern table, or a static literal */
    union { const char *str; int64_t i64; double f64; int b;
            const struct twp_array *arr; } v;   /* str, arr: arena (str: or static) */
    uint32_t len;         /* STRING/BINARY bytes, ARRAY JSON text bytes, 0 for scalars
                           * (thrift.c sizes tags from it without a type test) */
    uint16_t key_len;
    uint8_t type;         /* tw_value_type */
} twp_value;
#define TWP_MAX_KEY_LEN UINT16_MAX
#define TWP_MAX_LOGS UINT16_MAX     /* per span */
#define TWP_MAX_REFS UINT16_MAX     /* references and links per span */

/* An ARRAY value: one 8-aligned block holding this header, the items (keys
 * empty), the array's JSON text (what Jaeger Thrift and the log line carry)
 * and the items' strings. Self-contained: twp_array_copy relocates it. */
typedef struct twp_array {
    uint32_t n;           /* items */
    uint32_t json_len;
    size_t size;          /* bytes of the whole block */
    const char *json;     /* in the block, NUL-terminated */
    twp_value items[];
} twp_array;

/* span.c: copies the block a to dst (a->size bytes, 8-aligned) and fixes its
 * inner pointers; returns dst. twp_array_moved fixes them in a block whose
 * bytes were copied to dst from address was (span_pack.c). */
const twp_array *twp_array_copy(void *dst, const twp_array *a);
const twp_array *twp_array_moved(void *dst, uintptr_t was);

typedef struct twp_log {
    int64_t ts_us;
    twp_value *fields;    /* arena */
    uint32_t nfields;
} twp_log;

typedef struct twp_ref {
    tw_ref_type type;
    uint32_t nattrs;                /* link attributes (tw_span_add_link) */
    uint64_t trace_hi, trace_lo, span_id;
    twp_value *attrs;               /* arena; NULL for an opentracing reference */
    const char *tracestate;         /* arena, NULL: an OTel link's W3C tracestate */
    uint8_t w3c_flags;              /* an OTel link's W3C trace-flags byte (OTLP Link.flags) */
    bool link;                      /* an OTel link (tw_span_add_link): OTLP gets no
                                     * opentracing.ref_type attribute; its ids may be
                                     * zero (an invalid context with attributes) */
} twp_ref;

/* An instrumentation scope (tw_scope): made and owned by the tracer (scope.c),
 * immutable, outlives every record that points at it. */
typedef struct tw_scope {
    struct tw_scope *next;          /* the tracer's list */
    const void *owner;              /* the tw_tracer that made it */
    const char *name, *version, *schema_url;     /* version, schema_url may be NULL */
    uint32_t name_len, version_len, schema_url_len;
    uint32_t nattrs;
    twp_value *attrs;
    twp_arena arena;                /* owns the strings and attrs */
} twp_scope;

/* The record, laid out for the span path: what every reader uses first,
 * then what only the span model writes (capacities, the thread it returns
 * to, the arena with its inline first chunk). A record that must wait long
 * in a buffer is packed instead (twp_span_pack below). */
typedef struct twp_span_data {
    struct twp_span_data *next;     /* queue / free-list link */
    uint64_t trace_hi, trace_lo;    /* trace_hi 0 in 64-bit mode */
    uint64_t span_id, parent_id;    /* parent_id 0 = root */
    int64_t start_us, duration_us;
    const char *op;                 /* arena or the tracer's intern table */
    const char *tracestate;         /* arena, may be NULL: W3C tracestate to re-emit (OTLP) */
    twp_value *tags;                /* inline_tags, then arena (grows by copy) */
    twp_log *logs;                  /* arena */
    twp_ref *refs;                  /* arena */
    const twp_scope *scope;         /* NULL: tracewire's own; else borrowed from the tracer */
    uint32_t op_len, ntags;
    uint16_t nlogs, nrefs;          /* span.c refuses more with TW_ERR_TOO_LARGE */
    uint16_t flags;                 /* TW_FLAG_* and the W3C bits (trace_flags.h) */
    uint8_t kind;                   /* tw_span_kind */
    /* ---- the span model's (span.c) */
    uint32_t cap_tags, cap_logs;
    void *home;                     /* span.c: the per-thread cache it returns to */
    twp_arena arena;
    /* the first tags live here, so a span with up to 8 tags (sampler tags
     * included) needs no extra allocation; tags points here until it grows
     * into the arena */
    twp_value inline_tags[8];
    char inline_mem[192];           /* first arena chunk (8-byte aligned: arena) */
} twp_span_data;

/* ------------------------------------------------------------ process */

/* What every batch carries about the emitting process. Owned by the tracer. */
typedef struct twp_process {
    const char *service_name;
    twp_value *tags;                /* hostname, ip, client-uuid, jaeger.version + config tags */
    size_t ntags;
} twp_process;

/* span.c: returns a record to the per-thread cache of the thread that made
 * it (or frees it). On another thread than the maker's, records are
 * gathered per maker and handed back in chains; a thread that frees many
 * records (a reporter) calls twp_span_data_return_flush after a batch so
 * none waits for the next one. */
void twp_span_data_free(twp_span_data *d);
void twp_span_data_return_flush(void);
/* twp_span_data_free of d[0..n) (NULLs skipped), with one thread-state
 * lookup and no call per record: the reporter frees each batch so. */
void twp_span_data_free_n(twp_span_data *const *d, size_t n);

/* span.c: a fresh empty record (from a per-thread cache), and a deep copy
 * (used when two reporters each need their own). Both NULL on OOM. */
twp_span_data *twp_span_data_new(void);
/* Fills the calling thread's caches with up to `handles` span handles and
 * `records` records, made now: a host that drives the reporter from its own
 * loop calls this before it serves (reporter.c), so they sit below its
 * per-request allocations in the heap. */
void twp_span_cache_prewarm(size_t handles, size_t records);
twp_span_data *twp_span_data_clone(const twp_span_data *d);
/* span_pack.c: a record packed for a long wait in a buffer (the memory
 * reporter): one malloc'd block of about a third of a record's bytes (ids
 * and times raw, counts as varints, keys and names as references into the
 * process's string table, values by type; the format is in span_pack.c).
 * twp_span_pack leaves d as it was (the caller frees it) and returns NULL
 * on OOM; twp_span_unpack makes a fresh record (twp_span_data_new, freed
 * with twp_span_data_free) equal to the packed one, or NULL on OOM. A
 * packed span is freed with free(); next is the holder's list link. */
typedef struct twp_packed {
    struct twp_packed *next;
    uint32_t len;                   /* bytes in b */
    unsigned char b[];
} twp_packed;
twp_packed *twp_span_pack(const twp_span_data *d);
twp_span_data *twp_span_unpack(const twp_packed *p);

/* Span kind in records: twp_span_data.kind is the single source of truth. A
 * "span.kind" tag set on a span updates kind and is NOT also stored in tags[];
 * encoders that need a span.kind tag (Jaeger Thrift) derive it from kind. */
/* Record strings: besides the arena, tag keys/values may point at static
 * string literals (span.c writes the sampler.type/sampler.param tags that
 * way) or into the process's string table (an unpacked record's keys and
 * name); both outlive every record and are never freed. */

#endif
