/* exporter.h — one way out for a batch of finished spans: the interface the
 * pipeline reporter (reporter.c) drives, private to the core.
 *
 * The reporter owns the queue, the thread, the outcome of every span and the
 * diagnostics; an exporter owns one destination: its encoder choice, its
 * transport (socket, curl handle), its buffers and its Batch sequence. The
 * reporter knows exporters only through these ops; reporter_factory.c maps
 * reporter.protocols names to their constructors. One exporter per file:
 *   exporter_udp.c          Jaeger Thrift compact emitBatch datagrams (agent)
 *   exporter_thrift_http.c  Jaeger Thrift binary Batch, POST (collector)
 *   exporter_otlp.c         OTLP/HTTP JSON, POST
 *   exporter_log.c          one line per span on stderr
 * A new destination (OTLP protobuf+gzip, retries with a disk spool, ...) is
 * one more file with a constructor and a row in reporter_factory.c.
 *
 * Threads: every op runs on the reporter thread (or, for free, on the thread
 * that frees the tracer once that thread is gone); after_fork_child runs in
 * the fork child handler (no allocation, no lock, no thread).
 */
#ifndef TW_EXPORTER_H
#define TW_EXPORTER_H

#include "encoders.h"
#include "reporter.h"
#include "transport.h"

#include <string.h>

/* Per-span outcome bits of one batch, set by exporters, read by the
 * reporter when it counts each span exactly once. */
#define TWP_SPAN_DELIVERED 0x01u   /* this exporter's destination accepted it */
#define TWP_SPAN_TOO_LARGE 0x02u   /* refused for size (a UDP datagram bound) */
#define TWP_SPAN_ABANDONED 0x04u   /* the send was abandoned at the close() deadline */
#define TWP_SPAN_PRIVATE   0x80u   /* scratch bit an exporter may use within export() */

/* Outcome bytes a word at a time (a batch has hundreds, and these loops
 * ran per span): set bits in all of st[0..n), clear bits in all, and
 * whether every byte is exactly v. */
#define TWP_STATES_WORD(b) (0x0101010101010101ULL * (unsigned char)(b))
static inline void twp_states_or(unsigned char *st, size_t n, unsigned bits)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, st + i, 8);
        w |= TWP_STATES_WORD(bits);
        memcpy(st + i, &w, 8);
    }
    for (; i < n; i++)
        st[i] |= (unsigned char)bits;
}

static inline void twp_states_clear(unsigned char *st, size_t n, unsigned bits)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, st + i, 8);
        w &= ~TWP_STATES_WORD(bits);
        memcpy(st + i, &w, 8);
    }
    for (; i < n; i++)
        st[i] &= (unsigned char)~bits;
}

static inline bool twp_states_all(const unsigned char *st, size_t n, unsigned v)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, st + i, 8);
        if (w != TWP_STATES_WORD(v))
            return false;
    }
    for (; i < n; i++)
        if (st[i] != v)
            return false;
    return true;
}

/* One batch, borrowed for the call. */
typedef struct twp_batch {
    twp_span_data *const *spans;
    unsigned char *state;            /* n outcome bytes: exporters OR bits in */
    size_t n;
    _Atomic int64_t *abort_at_us;    /* close() deadline, monotonic us; 0 = none */
    /* A send of this batch that moved no byte for a while (transport.h,
     * TWP_HTTP_STALL_MS) says so early through stalled(stall_ud, why), on
     * the reporter thread; NULL: not said. The HTTP exporters pass it on. */
    twp_http_stall_fn stalled;
    void *stall_ud;
    /* driven by the host's loop (tw_tracer_drive): never wait for the
     * socket -- a full buffer fails the send at once */
    bool no_wait;
} twp_batch;

/* What an exporter is built from; borrowed for the exporter's whole life
 * (the tracer owns it all). */
typedef struct twp_exporter_env {
    const tw_config *cfg;
    const twp_process *proc;
    twp_counters *ctr;               /* exporters count send_failures, batches_sent,
                                      * bytes_sent; the reporter counts spans */
    bool sole;                       /* the only exporter of the reporter */
} twp_exporter_env;

typedef struct twp_exporter twp_exporter;
typedef struct twp_exporter_ops {
    const char *name;                /* "udp", "http", "otlp", "log": names it in messages */
    /* Encodes and sends b (UDP packs datagrams while it encodes, so the two
     * are one step), marking what was delivered, refused or abandoned.
     * TW_OK when everything it tried went out; otherwise the failure, with
     * why (cap bytes) saying it in words for the diagnostics hook. */
    tw_status (*export)(twp_exporter *e, const twp_batch *b, char *why, size_t cap);
    /* Forked child: forget inherited sockets/handles/buffers without
     * touching them (they are the parent's), restart sequences. */
    void (*after_fork_child)(twp_exporter *e);
    /* Closes what it opened and frees e. NULL-safe through twp_exporter_free. */
    void (*free)(twp_exporter *e);
} twp_exporter_ops;
struct twp_exporter { const twp_exporter_ops *ops; };

static inline void twp_exporter_free(twp_exporter *e)
{
    if (e)
        e->ops->free(e);
}

/* Constructors, one per file. new: the caller frees with twp_exporter_free. */
tw_status twp_exporter_udp_new(const twp_exporter_env *env, twp_exporter **out);
tw_status twp_exporter_thrift_http_new(const twp_exporter_env *env, twp_exporter **out);
tw_status twp_exporter_otlp_new(const twp_exporter_env *env, twp_exporter **out);
tw_status twp_exporter_log_new(const twp_exporter_env *env, twp_exporter **out);

/* Jaeger ClientStats for a Thrift batch from the tracer's counters;
 * too_large_pending: spans of the current batch already refused for size
 * that no other exporter can still deliver (counted at finalize). */
void twp_exporter_client_stats(const twp_exporter_env *env, int64_t too_large_pending,
                               twp_client_stats *cs);

/* The HTTP exporters' common handling of a POST's result: counts attempts,
 * batches and bytes, marks the batch, words a failure into why. */
tw_status twp_exporter_http_result(const twp_exporter_env *env, const char *url,
                                   const twp_batch *b, tw_status st,
                                   const twp_http_result *res, size_t len, char *why,
                                   size_t cap);

#endif
