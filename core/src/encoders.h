/* encoders.h — span encoders: pure functions over buffers (thrift.c,
 * otlp_json.c, exporter_log.c's line format; otlp_proto.h has the protobuf
 * one). They know no socket. Private to core/.
 */
#ifndef TW_ENCODERS_H
#define TW_ENCODERS_H

#include "span_data.h"

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
/* Many spans into one buffer (exporter_udp.c), the common case in one tight
 * loop: encodes spans[0..n) one after another at the end of b while each
 * fits a budget (a fixed allowance per tag: no pass over the tags) and the
 * bytes from offset group on stay within limit. Returns how many spans it
 * appended. When it stops early, spans[k] (k: the return value) either is
 * encoded too, at [*at, b->len), but would take the bytes from group past
 * limit (*encoded true), or was not encoded (*encoded false): it needs
 * twp_thrift_compact_span (a span with logs, a tag with a key or value of 128
 * bytes or more, or a buffer that could not grow). */
size_t twp_thrift_compact_span_run(twp_buf *b, twp_span_data *const *spans, size_t n,
                                   size_t group, size_t limit, size_t *at, bool *encoded);
/* Tests only: whether ids are spread with PDEP (on a CPU that has it; the
 * default where it is fast) or with shifts; returns the previous choice. */
bool twp_thrift_use_pdep_for_tests(bool on);
bool twp_thrift_compact_process(twp_buf *b, const twp_process *p);         /* Process struct */
/* Agent.emitBatch oneway message (compact) around pre-encoded structs: proc is
 * one Process, spans is nspans Span structs back to back. */
bool twp_thrift_compact_emit_batch_raw(twp_buf *b, int32_t seqid, const void *proc,
                                       size_t proc_len, const void *spans, size_t spans_len,
                                       uint32_t nspans, const twp_batch_meta *m);
/* The same message built in place around spans already encoded in a buffer
 * (exporter_udp.c: no copy of the spans): head_at writes the head (through
 * the span list header) for nspans spans so that it ends exactly at end, and
 * returns where it starts -- the caller keeps TWP_EMIT_BATCH_HEAD_MAX +
 * proc_len bytes free before end; the tail (seqNo, ClientStats, stops) is
 * appended to b after the spans. */
#define TWP_EMIT_BATCH_HEAD_MAX 32u
char *twp_thrift_compact_emit_batch_head_at(char *end, int32_t seqid, const void *proc,
                                           size_t proc_len, uint32_t nspans);
bool twp_thrift_compact_emit_batch_tail(twp_buf *b, const twp_batch_meta *m);
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

/* otlp_json.c — the JSON text of an array's items ([1,2], ["a",null], NaN
 * as "NaN"): what Jaeger Thrift and the log line carry for an ARRAY value
 * (the OTel rule for non-OTLP formats). Appends to b; false on OOM. */
bool twp_json_array_text(twp_buf *b, const twp_value *items, uint32_t n);

/* otlp_json.c — whether spans[i] is the first of spans[0..i] with its scope:
 * both OTLP encoders write one ScopeSpans per scope, in first-seen order. */
bool twp_scope_first(twp_span_data *const *spans, size_t i);

/* otlp_json.c — the OTLP Status both OTLP encoders write for a record: code
 * 2 (ERROR) for error=true or otel.status_code=ERROR, with
 * otel.status_description as msg (borrowed from the record); code 1 for
 * otel.status_code=OK; 0 (unset, nothing written) otherwise. */
typedef struct twp_otlp_status {
    unsigned code;
    const char *msg;
    size_t msg_len;
} twp_otlp_status;
twp_otlp_status twp_otlp_status_of(const twp_span_data *s);

/* exporter_log.c — one human-readable line per span (with trailing newline). */
bool twp_log_format_span(twp_buf *b, const twp_process *p, const twp_span_data *s);

#endif
