/* reporter.c — the pipeline reporter: bounded queue + one background thread.
 *
 * Caller's side (report): the queue is TWP_Q_SHARDS shards, each on its own
 * cache line, and a span goes to the one its starting thread's counter
 * shard index names (counters.h: assigned round-robin on first use; the
 * span keeps it, so finish needs no thread-local lookup), so two threads
 * finishing their own spans never write the same cache line per span (issue #21: one shared
 * list head and bound counter cost 3.6x the single-thread CPU per span with
 * two threads). Per span the caller takes one slot from its shard's credit,
 * counts the span in the shard's pushed and pushes the record on the shard's
 * lock-free LIFO list with one CAS -- three uncontended atomics on one line.
 * The bound: queue_size slots, each either in the shared pool, in a shard's
 * credit, or held by a span accepted and not yet finalized, so memory stays
 * bounded by queue_size records whatever the senders do. A shard whose
 * credit is out refills from the pool in chunks (the only shared line a
 * caller writes, once per chunk); when the pool is empty too, the caller
 * takes a slot from any other shard's credit before it refuses the span, so
 * a span is dropped (and counted in dropped_queue_full) only when every
 * slot is held by a queued span or being moved. The worker gives slots back
 * to the pool once per batch. No lock, no encoding, no syscall in steady
 * state. The only syscalls a caller can ever pay are the thread creation on
 * the first report in a process and one futex wake when the worker had gone
 * to deep sleep after 100 ms without spans.
 *
 * Worker's side (one thread per tracer, in the process that uses it, started
 * lazily, signals blocked as in Redis' bio.c): while spans flow it polls the
 * list (that is what spares the callers the wake-ups) about as often as the
 * observed rate fills a batch, every 2 ms at the fastest and, at a trickle,
 * at most every 50 ms (less when a 200k spans/s burst could fill half the
 * queue in that time); after 100 ms without spans it sleeps until woken.
 * Each poll takes every shard's list at once (an exchange per shard),
 * restores each shard's FIFO order (one thread's spans leave in finish
 * order; threads' spans interleave by shard) and sends as soon
 * as batch_size spans are pending (taking up to 4 x batch_size at once when
 * it has fallen behind, which cuts the number of HTTP requests exactly when
 * they are the bottleneck); a partial batch leaves when its oldest span is
 * flush_interval_ms old, or on flush()/close(). Each batch goes to every
 * exporter (exporter.h: UDP, Thrift HTTP, OTLP, log -- built from
 * reporter.protocols by reporter_factory.c; this file knows none of them by
 * name), which encodes and sends it and marks each span delivered, refused
 * for size or abandoned at the close() deadline.
 *
 * Counters, with several exporters: every span gets exactly one outcome.
 *   reported              at least one exporter delivered it (UDP: the
 *                         datagram left and the agent's port did not refuse
 *                         it; log counts only when it is the sole exporter);
 *   dropped_too_large     none delivered it and one refused it for size;
 *   dropped_send_failed   none delivered it (an OTLP partialSuccess
 *                         with rejectedSpans=N counts N of the batch here);
 *   dropped_on_close      still queued, or its send was abandoned, at the
 *                         close() deadline; or handed over after close();
 *   dropped_queue_full    refused by report() because the bound was reached.
 * So spans_finished = reported + every dropped_* once the queue is drained
 * (the "none" reporter's spans_discarded is reporter_factory.c's).
 * send_failures counts failed attempts (datagrams or HTTP requests, retries
 * included); batches_sent/bytes_sent count messages that left successfully;
 * the exporters count those three.
 *
 * Remote sampling (sampling_poll.c) rides on this thread: every wake-up asks
 * the poller whether a poll is due, and a deep sleep ends no later than the
 * next one. The worker starts on the first report() or flush(): a tracer
 * that wants its strategies before its first sampled span calls flush(0).
 *
 * Diagnostics: the worker tells the tracer's diagnostics hook (diag.c) about
 * every batch an exporter failed to deliver, once per exporter per batch, after
 * the batch's spans are counted; about drops counted elsewhere (report() on a
 * full queue, UDP size refusals, close) by comparing the counters with what
 * it already said, on every wake-up; and about failed sampling polls. Rate
 * limiting is diag.c's. What close() drops after the worker exited is said
 * on close()'s thread.
 *
 * Driven by the host's loop (tw_tracer_drive_start, issue #15): no worker
 * thread at all in that process. A second thread makes glibc take its
 * multi-thread paths in every syscall wrapper and in malloc for the life of
 * the process (~460 instructions per nginx request measured), a third of
 * the whole request budget; so when every call the configuration needs is
 * non-blocking (loopable: UDP only, to an IP address, no HTTP polling of
 * the agent) and reporter.driver is not "thread", a host with an event loop
 * may run the worker's loop body itself: tw_tracer_drive is one turn of it
 * (take the lists, send full batches, a partial one at its flush deadline,
 * say drops) and returns when the next turn is due. The queue and the
 * outcomes are the thread path's, unchanged. report() kicks the host (its
 * callback only schedules a turn) when a full batch is queued or the first
 * span arrives after a turn left nothing pending. flush() and close() send
 * on their caller's thread; drive_mu makes turns, flushes and close take
 * turns. UDP sends never wait for room (twp_batch.no_wait): a full socket
 * buffer is a failed send, counted and said as on the thread.
 *
 * Fork (pthread_atfork via the tracer): prepare takes the mutex, the parent
 * releases it; the child re-creates mutex and condition variables, frees the
 * queued records, abandons the worker's in-flight batch and buffers (the
 * thread that owned them does not exist in the child), lets every exporter
 * forget its inherited socket, curl handle and buffers (after_fork_child),
 * and starts its own worker lazily on its first report. The inherited queued spans are the parent's to count (it
 * still holds them); the child's counters start at zero (tracer.c), so
 * summing the metrics of a parent and its children counts each span once.
 */
#include "diag.h"
#include "exporter.h"
#include "propagation.h"   /* the baggage bounds, for messages */
#include "reporter.h"
#include "sampling_poll.h"

#include <arpa/inet.h>
#include <pthread.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MIN_US 2000          /* poll interval while spans flow fast */
#define POLL_MAX_US 50000         /* ... and at a trickle */
#define IDLE_BEFORE_SLEEP_US 100000   /* no span for this long: deep sleep */
#define MAX_SLEEP_MS 1000
/* the poll interval never exceeds the time a burst of this rate takes to
 * fill half the queue, so callers need not wake the worker */
#define BURST_RATE_PER_S 200000

/* Queue shards: as many as the counters have, picked by the same index. */
#define TWP_Q_SHARDS TWP_CTR_SHARDS
/* Slots a shard takes from the pool at once: at most this, and at most
 * queue_size / (4 x shards) so small queues are not parked in credits. */
#define CHUNK_MAX 64

typedef struct qshard {
    _Alignas(64) _Atomic(twp_span_data *) head;   /* LIFO of pushed records */
    _Atomic int64_t credit;         /* slots reserved from the pool, unused */
    _Atomic uint64_t pushed;        /* records ever pushed here (flush targets) */
} qshard;


typedef struct pipeline {
    twp_reporter base;
    const tw_config *cfg;
    twp_counters *ctr;
    int64_t queue_size;
    int batch_size, flush_ms, max_packet;
    size_t max_batch;                 /* spans per send under backlog: 4 x batch_size */

    /* shared with callers */
    qshard q[TWP_Q_SHARDS];
    _Alignas(64) _Atomic int64_t pool; /* free slots no shard holds */
    int64_t chunk;
    _Alignas(64) _Atomic uint64_t finalized;   /* written by the worker (close: its caller) */
    _Atomic int deep_sleep;
    _Atomic int closed;
    _Atomic int started;              /* worker running in this process */
    _Atomic int64_t abort_at_us;      /* monotonic; 0 = none */
    _Atomic int64_t create_retry_at_us;  /* pthread_create failed: not again before */

    pthread_mutex_t mu;
    pthread_cond_t wake, progress;
    pthread_t thread;
    bool joinable, exited, stop;
    uint64_t flush_req;
    int flush_waiters;
    tw_status close_status;

    /* worker-only */
    twp_span_data *pend_head, *pend_tail;
    size_t npend;
    int64_t pend_since_us;
    uint64_t flush_seen;
    twp_span_data **arr;
    unsigned char *state;
    twp_exporter *exp[TWP_MAX_EXPORTERS];   /* owned; every batch goes to each */
    size_t nexp;
    twp_sampling_poll poll;

    /* diagnostics (worker-only, or close()'s caller once the worker is gone) */
    twp_diag diag;
    struct send_failure {             /* the exporters that failed in this batch */
        const char *sender;
        tw_status st;
        char why[200];
    } failed[TWP_MAX_EXPORTERS];
    int nfailed;
    const char *cur_sender;      /* the exporter sending now, for stall messages */
    size_t cur_n;                /* ... and its batch size */
    uint64_t seen_queue_full, seen_too_large, seen_on_close;   /* counters already said */
    uint64_t seen_baggage;       /* baggage_dropped already said (propagation.c counts) */

    /* driven by the host's loop (tw_tracer_drive_start): no worker thread */
    bool loopable;                   /* every call the config needs is non-blocking */
    _Atomic int driven;              /* in this process; cleared in a forked child */
    tw_drive_kick_fn kick;           /* NULL: none */
    void *kick_ud;
    _Atomic uint64_t drive_unsent;   /* pushed since the last turn: kick at batch_size */
    _Atomic int drive_idle;          /* the last turn left nothing: kick on the next push */
    pthread_mutex_t drive_mu;        /* turns, flushes and close take turns */
} pipeline;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void abs_deadline(struct timespec *ts, int64_t mono_deadline_us)
{
    ts->tv_sec = (time_t)(mono_deadline_us / 1000000);
    ts->tv_nsec = (long)(mono_deadline_us % 1000000) * 1000;
}

static void init_sync(pipeline *p)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_cond_init(&p->progress, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->drive_mu, NULL);
}

/* ------------------------------------------------------------ finalizing */

/* Gives n records' outcomes to the counters (st[i], or all `all` when st is
 * NULL), frees them and returns their slots to the pool. Under p->mu. */
static void finalize_n(pipeline *p, twp_span_data **recs, const unsigned char *st, unsigned all,
                       size_t n)
{
    uint64_t c[4] = { 0, 0, 0, 0 };   /* reported, on_close, too_large, send_failed */
#define OUTCOME(o) ((o) & TWP_SPAN_DELIVERED ? 0 : (o) & TWP_SPAN_ABANDONED ? 1 \
                    : (o) & TWP_SPAN_TOO_LARGE ? 2 : 3)
    if (st)
        for (size_t i = 0; i < n; i++)
            c[OUTCOME(st[i])]++;
    else
        c[OUTCOME(all)] = n;
#undef OUTCOME
    twp_span_data_free_n(recs, n);
    if (c[0])
        TWP_INC(p->ctr, spans_reported, c[0]);
    if (c[1])
        TWP_INC(p->ctr, dropped_on_close, c[1]);
    if (c[2])
        TWP_INC(p->ctr, dropped_too_large, c[2]);
    if (c[3])
        TWP_INC(p->ctr, dropped_send_failed, c[3]);
    atomic_fetch_add(&p->pool, (int64_t)n);
    atomic_fetch_add(&p->finalized, (uint64_t)n);
}

/* A list of records (linked by next), all abandoned: one outcome each. */
static void finalize_list_abandoned(pipeline *p, twp_span_data *l)
{
    twp_span_data *buf[64];
    size_t n = 0;
    while (l) {
        buf[n++] = l;
        l = l->next;
        if (n == 64 || !l) {
            finalize_n(p, buf, NULL, TWP_SPAN_ABANDONED, n);
            n = 0;
        }
    }
    /* home now: this may be an application thread (close, a late finish)
     * whose next flush or exit could be far off */
    twp_span_data_return_flush();
}

/* Records ever pushed (racy while callers push: a hint for the worker's
 * schedule and a flush target; exact once they stopped). */
static uint64_t pushed_total(pipeline *p)
{
    uint64_t n = 0;
    for (int i = 0; i < TWP_Q_SHARDS; i++)
        n += atomic_load_explicit(&p->q[i].pushed, memory_order_relaxed);
    return n;
}

static bool queues_empty(pipeline *p)
{
    for (int i = 0; i < TWP_Q_SHARDS; i++)
        if (atomic_load(&p->q[i].head))
            return false;
    return true;
}

/* ------------------------------------------------------------ sending */

/* A send that moved no byte for TWP_HTTP_STALL_MS (a blackholed collector
 * accepts the connection and never answers): said at once as a failed send,
 * long before the export's timeout gives up. The give-up itself follows as
 * a second SEND_FAILED event, so it lands in the kind's next summary. */
static void on_stall(void *ud, const char *why)
{
    pipeline *p = ud;
    twp_diag_event(&p->diag, TW_DIAG_SEND_FAILED, TW_ERR_TIMEOUT, 1, mono_us(),
                   "tracewire: %s sender stalled: %s; %zu spans wait on it",
                   p->cur_sender ? p->cur_sender : "?", why, p->cur_n);
}

/* Sends the first k pending spans (k <= max_batch) through every exporter
 * and finalizes them: each span gets exactly one outcome. */
static void send_batch(pipeline *p, size_t k)
{
    /* locals: stores through arr and state could alias p's fields */
    twp_span_data *h = p->pend_head, **arr = p->arr;
    for (size_t i = 0; i < k; i++) {
        arr[i] = h;
        h = h->next;
    }
    p->pend_head = h;
    memset(p->state, 0, k);
    if (!h)
        p->pend_tail = NULL;
    p->npend -= k;
    p->pend_since_us = mono_us();
    p->nfailed = 0;
    twp_batch b = { p->arr, p->state, k, &p->abort_at_us, p->diag.fn ? on_stall : NULL, p,
                    atomic_load_explicit(&p->driven, memory_order_relaxed) != 0 };
    p->cur_n = k;
    for (size_t e = 0; e < p->nexp; e++) {
        struct send_failure *f = &p->failed[p->nfailed];
        p->cur_sender = p->exp[e]->ops->name;
        f->why[0] = '\0';
        tw_status st = p->exp[e]->ops->export(p->exp[e], &b, f->why, sizeof f->why);
        if (st != TW_OK) {
            f->sender = p->exp[e]->ops->name;
            f->st = st;
            p->nfailed++;
        }
    }
    /* the usual outcome, every span delivered, is told a word at a time */
    bool all_ok = twp_states_all(p->state, k, TWP_SPAN_DELIVERED);
    size_t lost = 0;
    for (size_t i = 0; !all_ok && i < k; i++)
        if (!(p->state[i] & (TWP_SPAN_DELIVERED | TWP_SPAN_TOO_LARGE | TWP_SPAN_ABANDONED)))
            lost++;
    /* under the mutex: a fork (whose prepare handler takes it) must never see
     * a span counted as reported but still outstanding */
    pthread_mutex_lock(&p->mu);
    finalize_n(p, p->arr, all_ok ? NULL : p->state, TWP_SPAN_DELIVERED, k);
    pthread_mutex_unlock(&p->mu);
    twp_span_data_return_flush();   /* the records go home now (span.c) */
    /* after the books: whoever the hook wakes sees the counters settled */
    for (int i = 0; i < p->nfailed; i++) {
        struct send_failure *f = &p->failed[i];
        if (f->st == TW_ERR_TIMEOUT)
            continue;   /* abandoned at close(): said as dropped at close */
        if (lost)
            twp_diag_event(&p->diag, TW_DIAG_SEND_FAILED, f->st, 1, mono_us(),
                           "tracewire: %s sender failed: %s; %zu of %zu spans not delivered",
                           f->sender, f->why, lost, k);
        else
            twp_diag_event(&p->diag, TW_DIAG_SEND_FAILED, f->st, 1, mono_us(),
                           "tracewire: %s sender failed: %s; the %zu spans went out through "
                           "another sender", f->sender, f->why, k);
    }
}

/* Drops counted elsewhere (report() on a full queue, UDP size refusals, the
 * close() deadline) become diagnostics here, on the worker's schedule. */
static void diag_drops(pipeline *p)
{
    if (!p->diag.fn)
        return;
    uint64_t qf = atomic_load_explicit(&p->ctr->dropped_queue_full, memory_order_relaxed);
    uint64_t tl = atomic_load_explicit(&p->ctr->dropped_too_large, memory_order_relaxed);
    uint64_t oc = atomic_load_explicit(&p->ctr->dropped_on_close, memory_order_relaxed);
    int64_t now = mono_us();
    if (qf > p->seen_queue_full)
        twp_diag_event(&p->diag, TW_DIAG_DROPPED, TW_ERR_TOO_LARGE, qf - p->seen_queue_full, now,
                       "tracewire: queue full (reporter.queue_size=%" PRId64 "): %" PRIu64
                       " spans dropped", p->queue_size, qf - p->seen_queue_full);
    if (tl > p->seen_too_large)
        twp_diag_event(&p->diag, TW_DIAG_DROPPED, TW_ERR_TOO_LARGE, tl - p->seen_too_large, now,
                       "tracewire: %" PRIu64 " spans larger than reporter.max_packet_size=%d "
                       "dropped", tl - p->seen_too_large, p->max_packet);
    if (oc > p->seen_on_close)
        twp_diag_event(&p->diag, TW_DIAG_DROPPED, TW_ERR_TIMEOUT, oc - p->seen_on_close, now,
                       "tracewire: %" PRIu64 " spans dropped at close (still queued or in "
                       "flight at the deadline, or finished after close)",
                       oc - p->seen_on_close);
    /* inject/extract run on the application's threads and only count: the
     * words come from here, so the hook keeps its one-thread contract */
    uint64_t bd = atomic_load_explicit(&p->ctr->baggage_dropped, memory_order_relaxed);
    if (bd > p->seen_baggage)
        twp_diag_event(&p->diag, TW_DIAG_BAGGAGE, TW_ERR_TOO_LARGE, bd - p->seen_baggage, now,
                       "tracewire: %" PRIu64 " baggage items dropped: over max_baggage_size=%d "
                       "bytes per baggage header or %d items (inject left them out; extract "
                       "dropped them and kept the trace context); counted in baggage_dropped",
                       bd - p->seen_baggage,
                       p->cfg->max_baggage_size > 0 ? p->cfg->max_baggage_size
                                                    : TWP_DEFAULT_BAGGAGE_SIZE,
                       TWP_MAX_BAGGAGE_ITEMS);
    p->seen_queue_full = qf;
    p->seen_too_large = tl;
    p->seen_on_close = oc;
    p->seen_baggage = bd;
    twp_diag_tick(&p->diag, now);
}

/* ------------------------------------------------------------ worker */

static void take_queue(pipeline *p)
{
    for (int i = 0; i < TWP_Q_SHARDS; i++) {
        if (!atomic_load_explicit(&p->q[i].head, memory_order_relaxed))
            continue;   /* a push the load missed is taken on the next poll */
        twp_span_data *l = atomic_exchange(&p->q[i].head, NULL);
        if (!l)
            continue;
        twp_span_data *rev = NULL, *last = l;
        size_t n = 0;
        while (l) {
            twp_span_data *next = l->next;
            l->next = rev;
            rev = l;
            l = next;
            n++;
        }
        last->next = NULL;
        if (p->pend_tail)
            p->pend_tail->next = rev;
        else {
            p->pend_head = rev;
            p->pend_since_us = mono_us();
        }
        p->pend_tail = last;
        p->npend += n;
    }
}

/* Caller must not hold p->mu. */
static void drop_all(pipeline *p)
{
    take_queue(p);
    pthread_mutex_lock(&p->mu);
    finalize_list_abandoned(p, p->pend_head);
    p->pend_head = p->pend_tail = NULL;
    p->npend = 0;
    pthread_mutex_unlock(&p->mu);
}

static bool is_aborted(pipeline *p)
{
    int64_t a = atomic_load(&p->abort_at_us);
    return a != 0 && mono_us() >= a;
}

static void *worker(void *arg)
{
    pipeline *p = arg;
    int64_t last_span_us = mono_us(), last_poll_us = last_span_us;
    int64_t poll_cap_us = (int64_t)((double)p->queue_size / 2 / BURST_RATE_PER_S * 1e6);
    if (poll_cap_us > POLL_MAX_US)
        poll_cap_us = POLL_MAX_US;
    if (poll_cap_us < POLL_MIN_US)
        poll_cap_us = POLL_MIN_US;
    int64_t poll_us = POLL_MIN_US;
    pthread_setname_np(pthread_self(), "tw-reporter");   /* shows in top/perf/gdb */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        bool flush_now = p->flush_req != p->flush_seen || p->stop;
        uint64_t flush_gen = p->flush_req;
        bool stopping = p->stop;
        pthread_mutex_unlock(&p->mu);

        size_t before = p->npend;
        take_queue(p);
        int64_t now = mono_us();
        size_t got = p->npend - before;
        if (got) {
            /* sleep about as long as the current rate needs to fill a batch */
            double per_us = (double)got / (double)(now - last_poll_us + 1);
            double fill_us = (double)p->batch_size / per_us;
            poll_us = fill_us < POLL_MIN_US ? POLL_MIN_US
                    : fill_us > poll_cap_us ? poll_cap_us : (int64_t)fill_us;
            last_span_us = now;
        }
        last_poll_us = now;
        if (stopping && is_aborted(p)) {
            drop_all(p);
        } else {
            while (p->npend >= (size_t)p->batch_size)
                send_batch(p, p->npend < p->max_batch ? p->npend : p->max_batch);
            if (p->npend && (flush_now ||
                             mono_us() - p->pend_since_us >= (int64_t)p->flush_ms * 1000)) {
                while (p->npend)
                    send_batch(p, p->npend < p->max_batch ? p->npend : p->max_batch);
            }
            if (stopping && is_aborted(p))
                drop_all(p);
            if (!stopping)
                twp_sampling_poll_run(&p->poll, mono_us(), &p->abort_at_us, &p->diag);
        }
        diag_drops(p);
        if (stopping && p->npend == 0 && queues_empty(p))
            twp_diag_flush(&p->diag, mono_us());   /* last words before the exit below */

        pthread_mutex_lock(&p->mu);
        if (flush_now)
            p->flush_seen = flush_gen;
        if (p->flush_waiters)
            pthread_cond_broadcast(&p->progress);
        if (stopping && p->npend == 0 && queues_empty(p))
            break;
        /* more to do right away: a stop or flush request, or a full batch
         * queued (a few new spans wait for the next poll, else a steady
         * trickle would keep this thread spinning) */
        if (p->stop != stopping || p->flush_req != p->flush_seen ||
            pushed_total(p) - atomic_load(&p->finalized) >= (uint64_t)p->batch_size)
            continue;
        int64_t sleep_ms;
        if (mono_us() - last_span_us < IDLE_BEFORE_SLEEP_US) {
            int64_t sleep_us = poll_us;
            if (p->npend) {   /* wake for the flush deadline of a partial batch */
                int64_t left = p->pend_since_us + (int64_t)p->flush_ms * 1000 - mono_us();
                if (left < sleep_us)
                    sleep_us = left < 100 ? 100 : left;
            }
            struct timespec ts;
            abs_deadline(&ts, mono_us() + sleep_us);
            pthread_cond_timedwait(&p->wake, &p->mu, &ts);
            continue;
        } else {
            sleep_ms = MAX_SLEEP_MS;
            if (p->npend) {
                int64_t left = (p->pend_since_us + (int64_t)p->flush_ms * 1000 - mono_us()) / 1000;
                sleep_ms = left < 1 ? 1 : left;
            }
            if (twp_sampling_poll_enabled(&p->poll)) {
                int64_t left = (p->poll.next_us - mono_us()) / 1000;
                if (left < sleep_ms)
                    sleep_ms = left < 1 ? 1 : left;
            }
            atomic_store(&p->deep_sleep, 1);
            if (!queues_empty(p)) {   /* a push raced with the flag: no sleep */
                atomic_store(&p->deep_sleep, 0);
                continue;
            }
        }
        struct timespec ts;
        abs_deadline(&ts, mono_us() + sleep_ms * 1000);
        pthread_cond_timedwait(&p->wake, &p->mu, &ts);
        atomic_store(&p->deep_sleep, 0);
    }
    p->exited = true;
    pthread_cond_broadcast(&p->progress);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ------------------------------------------------------------ driven */

/* One turn of the worker's loop body on the host's thread (driven): take
 * the lists, send every full batch, and the partial one when its flush
 * deadline passed (all: at once -- flush, close). Returns the ms until the
 * next turn is due. Under drive_mu. */
static int64_t drive_turn(pipeline *p, bool all)
{
    atomic_store_explicit(&p->drive_unsent, 0, memory_order_relaxed);
    atomic_store_explicit(&p->drive_idle, 0, memory_order_relaxed);
    take_queue(p);
    if (is_aborted(p)) {
        drop_all(p);
    } else {
        while (p->npend >= (size_t)p->batch_size)
            send_batch(p, p->npend < p->max_batch ? p->npend : p->max_batch);
        if (p->npend && (all || mono_us() - p->pend_since_us >= (int64_t)p->flush_ms * 1000))
            while (p->npend && !is_aborted(p))
                send_batch(p, p->npend < p->max_batch ? p->npend : p->max_batch);
        if (is_aborted(p))
            drop_all(p);
    }
    diag_drops(p);
    if (p->npend) {   /* a partial batch: due at its flush deadline */
        int64_t left = (p->pend_since_us + (int64_t)p->flush_ms * 1000 - mono_us()) / 1000;
        return left < 1 ? 1 : left;
    }
    /* nothing pending: the next push kicks the host (seq_cst, against
     * report()'s push then load: one side sees the other, as deep_sleep) */
    atomic_store(&p->drive_idle, 1);
    if (!queues_empty(p)) {
        atomic_store(&p->drive_idle, 0);
        return 1;
    }
    /* only the diagnostics' summaries need a turn now and then */
    return MAX_SLEEP_MS;
}

/* The records the driving thread will hold between turns (about a batch,
 * more in a burst), made now and left in its record cache (span.c): the
 * host drives from before it serves (nginx: init_process), so they sit
 * below its per-request allocations in the heap. Made during the first
 * requests instead, they sat between nginx's request pools and the top of
 * the heap, so a freed pool no longer merged back into the top chunk and
 * every later pool came out of the unsorted bin: +250 instructions of
 * _int_malloc per nginx request, traced or not (bench/README.md). 256 is
 * what span.c's cache keeps of records its own thread frees. */
static void prewarm_records(pipeline *p)
{
    size_t n = (size_t)p->batch_size * 2;
    twp_span_cache_prewarm(8, n);
}

static tw_status p_drive_start(twp_reporter *r, tw_drive_kick_fn kick, void *ud)
{
    pipeline *p = (pipeline *)r;
    if (atomic_load(&p->closed))
        return TW_ERR_CLOSED;
    if (p->cfg->reporter_driver == TWP_DRIVER_THREAD || !p->loopable)
        return TW_ERR_UNSUPPORTED;
    pthread_mutex_lock(&p->mu);
    bool running = atomic_load(&p->started);   /* spans went out on a thread already */
    if (!running) {
        p->kick = kick;
        p->kick_ud = ud;
        atomic_store(&p->drive_idle, 1);   /* nothing sent yet: the first span kicks */
        atomic_store(&p->driven, 1);
    }
    pthread_mutex_unlock(&p->mu);
    if (!running)
        prewarm_records(p);
    return running ? TW_ERR_UNSUPPORTED : TW_OK;
}

static int64_t p_drive(twp_reporter *r)
{
    pipeline *p = (pipeline *)r;
    if (!atomic_load_explicit(&p->driven, memory_order_relaxed) || atomic_load(&p->closed))
        return -1;
    pthread_mutex_lock(&p->drive_mu);
    int64_t ms = drive_turn(p, false);
    pthread_mutex_unlock(&p->drive_mu);
    return ms;
}

/* Starts the worker in this process if it is not running (never when the
 * host's loop drives). Caller must not hold p->mu. */
static void ensure_started(pipeline *p)
{
    if (atomic_load_explicit(&p->started, memory_order_acquire) ||
        atomic_load_explicit(&p->driven, memory_order_relaxed))
        return;
    int64_t now = mono_us();
    if (now < atomic_load(&p->create_retry_at_us))
        return;   /* creation failed recently: the span waits in the queue */
    pthread_mutex_lock(&p->mu);
    if (!atomic_load(&p->started) && !p->stop && !atomic_load(&p->driven)) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        p->exited = false;
        if (pthread_create(&p->thread, NULL, worker, p) == 0) {
            p->joinable = true;
            atomic_store_explicit(&p->started, 1, memory_order_release);
        } else {
            atomic_store(&p->create_retry_at_us, now + 1000000);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&p->mu);
}

/* ------------------------------------------------------------ ops */

/* A report() that passed the closed check, then pushed after close() began.
 * While the worker has not exited it still empties the list before it does
 * (its exit test reads head under mu, after this push). Otherwise the final
 * drain may be over: this caller takes the list itself and counts what it
 * got as dropped_on_close, so the books balance once every finish() that
 * raced close() has returned, not only at free(). A record is taken by
 * exactly one atomic_exchange, so racing drains never count one twice. */
static __attribute__((noinline, cold)) void late_push(pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    bool worker_will_drain = atomic_load(&p->started) && !p->exited;
    pthread_mutex_unlock(&p->mu);
    if (worker_will_drain)
        return;
    for (int i = 0; i < TWP_Q_SHARDS; i++) {
        twp_span_data *l = atomic_exchange(&p->q[i].head, NULL);
        if (!l)
            continue;
        pthread_mutex_lock(&p->mu);   /* finalize under mu, as everywhere (fork) */
        finalize_list_abandoned(p, l);
        pthread_mutex_unlock(&p->mu);
    }
}

/* One slot of the bound for a span on shard q when q's credit is out: a
 * chunk from the pool (the rest becomes q's credit); else one from any
 * shard's credit (only when the pool is empty: near the bound, not per
 * span). False: every slot is taken. Out of line: once per chunk. */
static __attribute__((noinline)) bool take_slot_slow(pipeline *p, qshard *q)
{
    int64_t avail = atomic_load_explicit(&p->pool, memory_order_relaxed);
    while (avail > 0) {
        int64_t take = avail < p->chunk ? avail : p->chunk;
        if (atomic_compare_exchange_weak_explicit(&p->pool, &avail, avail - take,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            if (take > 1)
                atomic_fetch_add_explicit(&q->credit, take - 1, memory_order_relaxed);
            return true;
        }
    }
    for (int i = 0; i < TWP_Q_SHARDS; i++) {
        qshard *o = &p->q[i];
        int64_t c = atomic_load_explicit(&o->credit, memory_order_relaxed);
        while (c > 0)
            if (atomic_compare_exchange_weak_explicit(&o->credit, &c, c - 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                return true;
    }
    return false;
}

/* One slot of the bound for a span on shard q: from q's credit, else
 * take_slot_slow. */
static inline bool take_slot(pipeline *p, qshard *q)
{
    int64_t c = atomic_load_explicit(&q->credit, memory_order_relaxed);
    while (c > 0)
        if (atomic_compare_exchange_weak_explicit(&q->credit, &c, c - 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    return take_slot_slow(p, q);
}

/* report()'s refusals: closed, or the bound reached. */
static __attribute__((noinline, cold)) void report_refuse(pipeline *p, twp_span_data *s,
                                                          bool closed)
{
    if (closed)
        TWP_INC(p->ctr, dropped_on_close, 1);
    else
        TWP_INC(p->ctr, dropped_queue_full, 1);
    twp_span_data_free(s);
}

/* After a push on the thread path: start the worker, or wake it from its
 * deep sleep. Out of line: the common case is neither. */
static __attribute__((noinline)) void report_wake(pipeline *p)
{
    if (!atomic_load_explicit(&p->started, memory_order_acquire)) {
        ensure_started(p);
    } else if (atomic_load(&p->deep_sleep) && atomic_exchange(&p->deep_sleep, 0)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Driven: ask the host for a turn when a batch is full, or when this is the
 * first span since a turn left nothing pending. */
static inline void report_kick(pipeline *p)
{
    if ((atomic_fetch_add_explicit(&p->drive_unsent, 1, memory_order_relaxed) + 1 ==
             (uint64_t)p->batch_size ||
         (atomic_load(&p->drive_idle) && atomic_exchange(&p->drive_idle, 0))) && p->kick)
        p->kick(p->kick_ud);
}

/* The hot path: everything rare (refusals, the slot pool, late pushes, the
 * worker's start and wake-up) is out of line, so this saves few registers. */
static void p_report(twp_reporter *r, twp_span_data *s, unsigned shard)
{
    pipeline *p = (pipeline *)r;
    if (!s)
        return;
    if (__builtin_expect(atomic_load_explicit(&p->closed, memory_order_relaxed) != 0, 0)) {
        report_refuse(p, s, true);
        return;
    }
    qshard *q = &p->q[shard];
    if (__builtin_expect(!take_slot(p, q), 0)) {
        report_refuse(p, s, false);
        return;
    }
    /* counted before the push, so finalized never passes the pushed sum */
    atomic_fetch_add_explicit(&q->pushed, 1, memory_order_relaxed);
    /* seq_cst: with the worker's store to deep_sleep then load of the
     * heads, this push then load of deep_sleep is a Dekker pair -- one side
     * sees the other, so a span never waits out a deep sleep (on x86 it is
     * the same lock cmpxchg as release) */
    twp_span_data *h = atomic_load_explicit(&q->head, memory_order_relaxed);
    do {
        s->next = h;
    } while (!atomic_compare_exchange_weak_explicit(&q->head, &h, s, memory_order_seq_cst,
                                                    memory_order_relaxed));
    /* seq_cst, against close()'s store of closed: if this load sees 0, the
     * push came first and the final drain (worker's or close()'s) takes it */
    if (__builtin_expect(atomic_load(&p->closed) != 0, 0)) {
        late_push(p);
        return;
    }
    if (atomic_load_explicit(&p->driven, memory_order_relaxed)) {
        report_kick(p);   /* the host's loop sends */
        return;
    }
    if (__builtin_expect(!atomic_load_explicit(&p->started, memory_order_acquire) ||
                             atomic_load(&p->deep_sleep),
                         0))
        report_wake(p);
}

static tw_status p_flush(twp_reporter *r, int timeout_ms)
{
    pipeline *p = (pipeline *)r;
    if (atomic_load(&p->closed))
        return pushed_total(p) != atomic_load(&p->finalized) ? TW_ERR_TIMEOUT : TW_OK;
    uint64_t target = pushed_total(p);
    if (atomic_load(&p->driven)) {   /* the caller's thread sends */
        pthread_mutex_lock(&p->drive_mu);
        (void)drive_turn(p, true);
        pthread_mutex_unlock(&p->drive_mu);
        return atomic_load(&p->finalized) >= target ? TW_OK : TW_ERR_TIMEOUT;
    }
    if (twp_sampling_poll_enabled(&p->poll) || target != atomic_load(&p->finalized))
        ensure_started(p);
    if (!atomic_load(&p->started))
        return atomic_load(&p->finalized) >= target ? TW_OK : TW_ERR_TIMEOUT;
    int64_t deadline = mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    pthread_mutex_lock(&p->mu);
    p->flush_req++;
    pthread_cond_signal(&p->wake);
    p->flush_waiters++;
    while (atomic_load(&p->finalized) < target && !p->exited) {
        if (mono_us() >= deadline)
            break;
        struct timespec ts;
        abs_deadline(&ts, deadline);
        if (pthread_cond_timedwait(&p->progress, &p->mu, &ts) == ETIMEDOUT)
            break;
    }
    p->flush_waiters--;
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&p->finalized) >= target ? TW_OK : TW_ERR_TIMEOUT;
}

static void join_worker(pipeline *p)
{
    if (p->joinable) {
        pthread_join(p->thread, NULL);
        p->joinable = false;
    }
    atomic_store(&p->started, 0);
}

static tw_status p_close(twp_reporter *r, int timeout_ms)
{
    pipeline *p = (pipeline *)r;
    if (atomic_exchange(&p->closed, 1))
        return p->close_status;
    if (timeout_ms < 0)
        timeout_ms = 0;
    int64_t now = mono_us();
    int64_t deadline = now + (int64_t)timeout_ms * 1000;
    /* senders give up min(100 ms, timeout/5) before the deadline, so the
     * worker can unwind (finalize, drop and count the rest, exit) inside it;
     * close waits up to 250 ms past the deadline for that on a loaded box.
     * If the worker is still not out then, close returns TW_ERR_TIMEOUT and
     * the counters settle when it exits (at the latest in free()). */
    int64_t margin = timeout_ms / 5 < 100 ? (int64_t)timeout_ms * 200 : 100000;
    uint64_t on_close_before = atomic_load(&p->ctr->dropped_on_close);
    atomic_store(&p->abort_at_us, deadline - margin > now ? deadline - margin : now + 1);
    if (atomic_load(&p->driven)) {   /* no worker: this thread sends what is queued */
        pthread_mutex_lock(&p->drive_mu);
        (void)drive_turn(p, true);
        pthread_mutex_unlock(&p->drive_mu);
    }
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    bool running = atomic_load(&p->started);
    p->flush_waiters++;
    while (running && !p->exited) {
        struct timespec ts;
        abs_deadline(&ts, deadline + 250000);
        if (pthread_cond_timedwait(&p->progress, &p->mu, &ts) == ETIMEDOUT)
            break;
    }
    p->flush_waiters--;
    bool exited = p->exited;
    pthread_mutex_unlock(&p->mu);
    tw_status st = TW_OK;
    if (!running || exited) {
        if (running)
            join_worker(p);
        drop_all(p);   /* spans queued while no worker ran */
        diag_drops(p); /* the worker is gone: this thread has the last word */
        twp_diag_flush(&p->diag, mono_us());
    } else {
        st = TW_ERR_TIMEOUT;   /* the worker still unwinds; free() joins it */
    }
    if (atomic_load(&p->ctr->dropped_on_close) != on_close_before)
        st = TW_ERR_TIMEOUT;
    p->close_status = st;
    return st;
}

static void p_free(twp_reporter *r)
{
    pipeline *p = (pipeline *)r;
    if (!p)
        return;
    if (!atomic_load(&p->closed))
        (void)p_close(r, 0);
    atomic_store(&p->abort_at_us, 1);
    if (p->joinable) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->mu);
        join_worker(p);
    }
    drop_all(p);
    free(p->arr);
    free(p->state);
    for (size_t i = 0; i < p->nexp; i++)
        twp_exporter_free(p->exp[i]);
    twp_sampling_poll_free(&p->poll);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->drive_mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->progress);
    free(p);
}

static void p_before_fork(twp_reporter *r)
{
    pipeline *p = (pipeline *)r;
    pthread_mutex_lock(&p->mu);
}

static void p_after_fork_parent(twp_reporter *r)
{
    pipeline *p = (pipeline *)r;
    pthread_mutex_unlock(&p->mu);
}

static void p_after_fork_child(twp_reporter *r)
{
    pipeline *p = (pipeline *)r;
    init_sync(p);   /* the inherited ones may be held by a thread that is gone */
    p->joinable = false;
    p->exited = false;
    p->stop = false;
    p->flush_req = p->flush_seen = 0;
    p->flush_waiters = 0;
    atomic_store(&p->started, 0);
    atomic_store(&p->deep_sleep, 0);
    atomic_store(&p->abort_at_us, 0);
    atomic_store(&p->create_retry_at_us, 0);
    /* the child has no loop of the parent's: it starts with the thread
     * again unless its own host asks (tw_tracer_drive_start) */
    atomic_store(&p->driven, 0);
    atomic_store(&p->drive_unsent, 0);
    atomic_store(&p->drive_idle, 0);
    p->kick = NULL;
    p->kick_ud = NULL;
    /* queued records are complete (a push is one CAS): free them; every
     * slot goes back to the pool */
    for (int i = 0; i < TWP_Q_SHARDS; i++) {
        twp_span_data *l = atomic_exchange(&p->q[i].head, NULL);
        while (l) {
            twp_span_data *n = l->next;
            twp_span_data_free(l);
            l = n;
        }
        atomic_store(&p->q[i].credit, 0);
        atomic_store(&p->q[i].pushed, 0);
    }
    /* the worker's pending/in-flight records and buffers may be mid-update by
     * a thread that no longer exists: abandon (leak) them */
    p->pend_head = p->pend_tail = NULL;
    p->npend = 0;
    /* the parent keeps the books of what it queued; the child's counters
     * start at zero (tracer.c clears them) */
    atomic_store(&p->pool, p->queue_size);
    atomic_store(&p->finalized, 0);
    for (size_t i = 0; i < p->nexp; i++)
        p->exp[i]->ops->after_fork_child(p->exp[i]);
    twp_sampling_poll_after_fork(&p->poll);
    twp_diag_reset(&p->diag);
    p->seen_queue_full = p->seen_too_large = p->seen_on_close = p->seen_baggage = 0;
}

static const twp_reporter_ops pipeline_ops = {
    p_report, p_flush, p_close, p_free, p_before_fork, p_after_fork_parent, p_after_fork_child,
    p_drive_start, p_drive,
};

/* An IP address literal: a host name needs getaddrinfo, which blocks or
 * (getaddrinfo_a) starts a resolver thread -- neither fits a host's loop. */
static bool is_ip_literal(const char *h)
{
    unsigned char a[16];
    return h && (inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1);
}

/* ------------------------------------------------------------ construction */

tw_status twp_pipeline_reporter_new(const tw_config *cfg, const twp_process *proc,
                                    twp_counters *ctr, const twp_sampling_hook *hook,
                                    twp_exporter *const *exporters, size_t nexp,
                                    twp_reporter **out)
{
    *out = NULL;
    if (!cfg || !proc || !ctr || nexp > TWP_MAX_EXPORTERS) {
        for (size_t i = 0; i < nexp; i++)
            twp_exporter_free(exporters[i]);
        return TW_ERR_INVALID_ARG;
    }
    pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        for (size_t i = 0; i < nexp; i++)
            twp_exporter_free(exporters[i]);
        return TW_ERR_NOMEM;
    }
    p->base.ops = &pipeline_ops;
    p->cfg = cfg;
    p->ctr = ctr;
    for (size_t i = 0; i < nexp; i++)
        p->exp[i] = exporters[i];   /* owned from here, even on failure */
    p->nexp = nexp;
    p->queue_size = cfg->queue_size > 0 ? cfg->queue_size : 10000;
    atomic_store(&p->pool, p->queue_size);
    p->chunk = p->queue_size / (4 * TWP_Q_SHARDS);
    p->chunk = p->chunk < 1 ? 1 : p->chunk > CHUNK_MAX ? CHUNK_MAX : p->chunk;
    p->batch_size = cfg->batch_size > 0 ? cfg->batch_size : 100;
    p->flush_ms = cfg->flush_interval_ms > 0 ? cfg->flush_interval_ms : 1000;
    p->max_packet = cfg->max_packet_size > 0 ? cfg->max_packet_size : 65000;
    twp_diag_init(&p->diag, cfg->diag_fn, cfg->diag_ud, 0);
    init_sync(p);
    tw_status st = TW_ERR_NOMEM;
    p->max_batch = 4 * (size_t)p->batch_size;
    p->arr = calloc(p->max_batch, sizeof *p->arr);
    p->state = calloc(p->max_batch, 1);
    if (!p->arr || !p->state)
        goto fail;
    if ((st = twp_sampling_poll_init(&p->poll, cfg, proc, hook)) != TW_OK)
        goto fail;
    p->loopable = (cfg->protocols & ~TWP_PROTO_MEMORY) == TWP_PROTO_UDP &&
                  !twp_sampling_poll_enabled(&p->poll) &&
                  is_ip_literal(cfg->agent_host && *cfg->agent_host ? cfg->agent_host
                                                                    : "127.0.0.1");
    if (cfg->reporter_driver == TWP_DRIVER_LOOP && !p->loopable) {
        st = TW_ERR_CONFIG;   /* the loop would block: refused, not quietly threaded */
        goto fail;
    }
    if ((cfg->protocols & (TWP_PROTO_HTTP | TWP_PROTO_OTLP)) ||
        twp_sampling_poll_enabled(&p->poll))
        (void)twp_http_global_init();   /* once, here, rather than racing later */
    *out = &p->base;
    return TW_OK;
fail:
    p_free(&p->base);
    return st;
}
