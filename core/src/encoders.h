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
/* The same in two steps, for a caller that encodes many spans into one
 * buffer (exporter_udp.c): twp_thrift_compact_span_budget(s) is the bytes to
 * have free at p, or 0 when s must go through twp_thrift_compact_span (a span
 * with logs or thousands of tags); twp_thrift_compact_span_at writes s at p
 * and returns its end, or NULL when one of its tags turned out longer than the
 * budget allows (a key or value of 128 bytes or more: then
 * twp_thrift_compact_span). The budget costs no pass over the tags. */
#define TWP_THRIFT_TAG_BUDGET 264u
static inline size_t twp_thrift_compact_span_budget(const twp_span_data *s)
{
    if (__builtin_expect(s->nlogs != 0 || s->ntags >= 4096u, 0))
        return 0;
    return 256u + s->op_len + (size_t)s->nrefs * 48u +
           (s->ntags + 3u) * (size_t)TWP_THRIFT_TAG_BUDGET;
}
char *twp_thrift_compact_span_at(char *p, const twp_span_data *s);
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
