/* trace.h — the module's bridge to the tracewire core: turns a pushed carrier
 * into a producer span plus the carrier to store, and a stored carrier into a
 * queue-wait span plus the carrier to hand to the consumer. All span logic is
 * the core's; this file only names spans and sets messaging attributes. */
#ifndef TWRM_TRACE_H
#define TWRM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "tracewire.h"

/* A text buffer with inline storage: carriers are short. */
typedef struct twrm_text {
    char *p;
    size_t len, cap;
    int failed;
    char inline_buf[512];
} twrm_text;
void twrm_text_init(twrm_text *t);
void twrm_text_free(twrm_text *t);

/* Reads from cfg (the tracer's configuration; borrowed for the call) whether
 * the fast carrier path of trace.c may be used: W3C among the extracted
 * formats (and no Jaeger header renamed "traceparent") for reading,
 * propagation.inject exactly "w3c" for writing. Call once at module load,
 * before any command; without it every carrier takes the generic path. */
void twrm_trace_setup(const tw_config *cfg);

/* Push side. Parses and extracts carrier (len bytes), starts the "send <key>"
 * PRODUCER span as its child (a root when the carrier holds no context) and
 * writes the span's context as a header block into stored. *span_out is new
 * (end it with twrm_trace_send_end). On failure returns a static English
 * reason, starts nothing, and leaves stored empty. */
const char *twrm_trace_send_begin(tw_tracer *t, const char *key, size_t key_len,
                                  const char *carrier, size_t len, size_t nitems,
                                  int64_t now_us, twrm_text *stored, tw_span **span_out);
/* Propagation only (tq.spans=off): checks the carrier as above (parse and
 * extract) and copies it verbatim into stored; no span. */
const char *twrm_trace_send_verbatim(tw_tracer *t, const char *carrier, size_t len,
                                     twrm_text *stored);

/* Finishes (ok != 0) or discards the send span, then frees it. NULL is a no-op. */
void twrm_trace_send_end(tw_span *span, int ok);

/* The queue wait now_us - enqueue_us: 0 when the enqueue time is not in the
 * past, INT64_MAX when the difference does not fit (only a forged envelope
 * holds such an enqueue time; the plain subtraction overflowed). */
static inline int64_t twrm_wait_us(int64_t now_us, int64_t enqueue_us)
{
    if (enqueue_us >= now_us)
        return 0;
    if (enqueue_us < 0 && now_us > INT64_MAX + enqueue_us)
        return INT64_MAX;
    return now_us - enqueue_us;
}

/* Pop side. From the stored carrier, reports the "wait <key>" span from
 * enqueue_us to now_us (child of the stored context) and writes its context
 * into out. A stored carrier the core cannot read is returned as stored and
 * no span is reported (returns 0 then, 1 when a span was reported). */
int twrm_trace_wait(tw_tracer *t, const char *key, size_t key_len, const char *stored,
                    size_t stored_len, int64_t enqueue_us, int64_t now_us, const char *op,
                    twrm_text *out);

/* Stream side (stream.c). Tags the send span of a TQ.XADD with the entry id
 * it got (messaging.message.id). NULL span is a no-op. */
void twrm_trace_tag_message_id(tw_span *span, const char *id, size_t id_len);

/* Reports the "wait <key>" span of one stream entry delivered by
 * TQ.XREADGROUP: from enqueue_us (the entry id's milliseconds) to now_us,
 * child of the context in carrier (a header block made of the entry's
 * carrier fields), tagged with the entry id. delivery_count >= 0 marks a
 * redelivered pending entry (messaging.redis.redelivered=true, and the count
 * when > 0); -1 for a first delivery. Returns 1 when a span was reported, 0
 * when the carrier holds no readable context (nothing reported). */
int twrm_trace_stream_wait(tw_tracer *t, const char *key, size_t key_len, const char *carrier,
                           size_t len, int64_t enqueue_us, int64_t now_us, const char *id,
                           size_t id_len, long long delivery_count);

#endif /* TWRM_TRACE_H */
