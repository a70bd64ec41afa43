/* exporter_udp.c — Jaeger Thrift compact emitBatch datagrams to the agent.
 *
 * Each span is encoded once (thrift.c) straight into the datagram buffer,
 * after room left for the message head -- runs of ordinary spans in
 * thrift.c's own loop (twp_thrift_compact_span_run), the rest one by one
 * here; when the next span would push the
 * datagram past reporter.max_packet_size (process + spans +
 * TWP_EMIT_BATCH_OVERHEAD), the group so far leaves as one emitBatch -- the
 * head (with the process struct, encoded once per exporter) written into
 * that room just before the spans, the tail appended after them, so the
 * spans are never copied -- and the span's bytes move to the front of the
 * room for the next group. A span that cannot fit alone is refused
 * (tooLarge). Batches carry seqNo (one sequence per exporter:
 * the agent reads gaps as lost batches) and cumulative ClientStats; when UDP
 * is the only exporter, spans of this batch already refused for size are
 * announced in ClientStats at once. The socket is transport_udp.c's: a
 * connected socket, so a dead agent is a failed send, not a delivery.
 */
#include "exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct udp_exporter {
    twp_exporter base;
    twp_exporter_env env;
    twp_udp udp;
    twp_buf proc_bytes;
    twp_buf msg;                  /* [room for the head][span structs][tail] */
    twp_buf spill;                /* the span that opens the next datagram */
    size_t room;                  /* bytes kept for the head: process + HEAD_MAX */
    int64_t seq;
    int64_t batch_too_large;      /* spans of this batch refused for size */
    size_t group_skipped;         /* spans of the current group refused or not encoded */
    size_t max_packet;
    tw_status failed;             /* first failure of this batch, words in why */
    char *why;
    size_t cap;
} udp_exporter;

static void fail(udp_exporter *u, tw_status st, const char *what)
{
    TWP_INC(u->env.ctr, send_failures, 1);
    if (u->failed == TW_OK) {
        u->failed = st;
        snprintf(u->why, u->cap, "%s", what);
    }
}

/* One datagram around the span structs in msg after the room, which belong
 * to spans [from, to) minus those refused or not encoded. Leaves msg empty
 * (its length at the room). */
static void flush_group(udp_exporter *u, const twp_batch *b, size_t from, size_t to,
                        size_t nspans)
{
    if (nspans == 0)
        return;
    twp_client_stats cs;
    twp_exporter_client_stats(&u->env, u->env.sole ? u->batch_too_large : 0, &cs);
    twp_batch_meta m = { true, ++u->seq, &cs };
    bool ok = twp_thrift_compact_emit_batch_tail(&u->msg, &m);
    char *start = ok ? twp_thrift_compact_emit_batch_head_at(u->msg.data + u->room, (int32_t)u->seq,
                                                             u->proc_bytes.data, u->proc_bytes.len,
                                                             (uint32_t)nspans)
                     : NULL;
    size_t len = ok ? (size_t)(u->msg.data + u->msg.len - start) : 0;
    u->msg.len = u->room;
    if (!ok) {
        fail(u, TW_ERR_NOMEM, "out of memory encoding a batch");
        return;
    }
    if (twp_udp_send(&u->udp, start, len) != TW_OK) {
        fail(u, TW_ERR_IO, u->udp.error[0] ? u->udp.error : "send failed");
        return;
    }
    TWP_INC(u->env.ctr, batches_sent, 1);
    TWP_INC(u->env.ctr, bytes_sent, len);
    if (!u->group_skipped) {
        twp_states_or(b->state + from, to - from, TWP_SPAN_DELIVERED);
        return;
    }
    for (size_t i = from; i < to; i++)
        if (!(b->state[i] & (TWP_SPAN_TOO_LARGE | TWP_SPAN_PRIVATE)))
            b->state[i] |= TWP_SPAN_DELIVERED;
}

static tw_status udp_export(twp_exporter *e, const twp_batch *b, char *why, size_t cap)
{
    udp_exporter *u = (udp_exporter *)e;
    u->failed = TW_OK;
    u->why = why;
    u->cap = cap;
    u->udp.no_wait = b->no_wait;   /* the host's loop never waits for the socket */
    twp_states_clear(b->state, b->n, TWP_SPAN_PRIVATE);   /* PRIVATE: not encoded (OOM) */
    if (u->proc_bytes.len == 0 && !twp_thrift_compact_process(&u->proc_bytes, u->env.proc)) {
        fail(u, TW_ERR_NOMEM, "out of memory encoding the process");
        return u->failed;
    }
    size_t fixed = u->proc_bytes.len + TWP_EMIT_BATCH_OVERHEAD;
    u->room = u->proc_bytes.len + TWP_EMIT_BATCH_HEAD_MAX;
    u->msg.len = 0;
    if (!twp_buf_reserve(&u->msg, u->room)) {
        fail(u, TW_ERR_NOMEM, "out of memory encoding a batch");
        return u->failed;
    }
    u->msg.len = u->room;
    u->batch_too_large = 0;
    u->group_skipped = 0;
    size_t gstart = 0, gcount = 0;
    /* span bytes a datagram holds (the rest is the process, head and tail) */
    size_t limit = u->max_packet > fixed ? u->max_packet - fixed : 0;
    for (size_t i = 0; i < b->n; i++) {
        /* the common case, a run of spans that fit their budgets and the
         * datagram, in thrift.c's loop; then span i is one that did not */
        size_t before = 0;
        bool encoded;
        size_t k = twp_thrift_compact_span_run(&u->msg, b->spans + i, b->n - i, u->room, limit,
                                               &before, &encoded);
        i += k;
        gcount += k;
        if (i == b->n)
            break;
        if (!encoded) {
            before = u->msg.len;
            if (!twp_thrift_compact_span(&u->msg, b->spans[i])) {
                u->msg.len = before;
                b->state[i] |= TWP_SPAN_PRIVATE;
                u->group_skipped++;
                continue;
            }
        }
        size_t sz = u->msg.len - before;
        if (fixed + sz > u->max_packet) {
            u->msg.len = before;
            b->state[i] |= TWP_SPAN_TOO_LARGE;
            u->batch_too_large++;
            u->group_skipped++;
            continue;
        }
        if (fixed + (before - u->room) + sz > u->max_packet) {
            /* the span opens the next datagram: keep its bytes aside while
             * the tail of this one is written where they are */
            u->spill.len = 0;
            if (!twp_buf_append(&u->spill, u->msg.data + before, sz)) {
                u->msg.len = before;
                b->state[i] |= TWP_SPAN_PRIVATE;
                u->group_skipped++;
                continue;
            }
            u->msg.len = before;
            flush_group(u, b, gstart, i, gcount);
            u->group_skipped = 0;
            /* msg held room + sz bytes before: no growth, no failure */
            memcpy(u->msg.data + u->room, u->spill.data, sz);
            u->msg.len = u->room + sz;
            gstart = i;
            gcount = 0;
        }
        gcount++;
    }
    flush_group(u, b, gstart, b->n, gcount);
    return u->failed;
}

static void udp_after_fork_child(twp_exporter *e)
{
    udp_exporter *u = (udp_exporter *)e;
    /* buffers may be mid-update by a thread that no longer exists: leak them */
    twp_buf_init(&u->proc_bytes);
    twp_buf_init(&u->spill);
    twp_buf_init(&u->msg);
    twp_udp_after_fork_child(&u->udp);
    u->seq = 0;   /* a new emitter: its batches count from 1 */
}

static void udp_free(twp_exporter *e)
{
    udp_exporter *u = (udp_exporter *)e;
    twp_udp_free(&u->udp);
    twp_buf_free(&u->proc_bytes);
    twp_buf_free(&u->spill);
    twp_buf_free(&u->msg);
    free(u);
}

static const twp_exporter_ops udp_ops = { "udp", udp_export, udp_after_fork_child, udp_free };

tw_status twp_exporter_udp_new(const twp_exporter_env *env, twp_exporter **out)
{
    *out = NULL;
    udp_exporter *u = calloc(1, sizeof *u);
    if (!u)
        return TW_ERR_NOMEM;
    u->base.ops = &udp_ops;
    u->env = *env;
    u->max_packet = (size_t)(env->cfg->max_packet_size > 0 ? env->cfg->max_packet_size : 65000);
    twp_buf_init(&u->proc_bytes);
    twp_buf_init(&u->spill);
    twp_buf_init(&u->msg);
    tw_status st = twp_udp_init(&u->udp, env->cfg->agent_host,
                                env->cfg->agent_port > 0 ? env->cfg->agent_port : 6831);
    if (st != TW_OK) {
        udp_free(&u->base);
        return st;
    }
    *out = &u->base;
    return TW_OK;
}
