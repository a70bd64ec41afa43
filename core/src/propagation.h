/* propagation.h — context propagation over a config: inject/extract
 * (propagation.c), the per-format parsers and injectors
 * (propagation_{jaeger,w3c,b3}.c) and their bounds. Private to core/.
 */
#ifndef TW_PROPAGATION_H
#define TW_PROPAGATION_H

#include "config.h"
#include "context.h"

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
tw_status twp_b3_inject_multi(const tw_config *cfg, const tw_span_context *c, tw_kv_fn set, void *ud);
tw_status twp_b3_inject_single(const tw_span_context *c, tw_kv_fn set, void *ud);

/* propagation.c: a tw_kv_fn setter's return as a status: 0 -> TW_OK, a
 * tw_status value -> itself, anything else -> TW_ERR_IO. */
tw_status twp_setter_status(int rc);

#endif
