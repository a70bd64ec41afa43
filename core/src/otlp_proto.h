/* otlp_proto.h — private: the OTLP/HTTP protobuf request encoder, the gzip
 * body compressor. Nothing
 * outside core/ (tests and benchmarks aside) may include it. */
#ifndef TW_OTLP_PROTO_H
#define TW_OTLP_PROTO_H

#include "span_data.h"
#include "trace_flags.h"

/* ------------------------------------------------------------ protobuf */

/* An ExportTraceServiceRequest (opentelemetry-proto collector/trace/v1,
 * binary protobuf, the OTLP/HTTP default) with one ResourceSpans for p and
 * the n spans, appended to b. Same mapping as twp_otlp_json_encode, so both
 * bodies decode to the same message. TW_ERR_NOMEM on OOM (b stays valid,
 * its content unspecified). */
tw_status twp_otlp_proto_encode(twp_buf *b, const twp_process *p, twp_span_data *const *spans,
                                size_t n);

/* partial_success.rejected_spans of a protobuf ExportTraceServiceResponse;
 * 0 when absent, negative or the body is malformed (the spec: an empty or
 * unreadable success answer is a full success). */
int64_t twp_otlp_proto_rejected(const void *body, size_t n);

/* ------------------------------------------------------------ gzip */

/* A reusable deflate state (zlib, gzip wrapper, RFC 1952). One owner thread.
 * new (twp_gzip_free; twp_gzip_free(NULL) is a no-op). level: zlib's 0..9,
 * -1 for zlib's default. */
typedef struct twp_gzip twp_gzip;
tw_status twp_gzip_new(int level, twp_gzip **out);
void twp_gzip_free(twp_gzip *z);
/* Appends the gzip member holding in[0..n) to out. TW_ERR_NOMEM on OOM
 * (out keeps its previous length). */
tw_status twp_gzip_compress(twp_gzip *z, const void *in, size_t n, twp_buf *out);

#endif /* TW_OTLP_PROTO_H */
