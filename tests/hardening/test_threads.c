/* test_threads.c — many threads on one tracer.
 *
 *   test_threads concurrent [ITER]   8 threads, each ITER times: root span with
 *       baggage, inject (all four formats), extract, child of the extracted
 *       context, finish both. Checked: every extract gives back the root's ids
 *       and baggage, children join the root's trace, no span id repeats across
 *       all threads, every span is reported to a real UDP agent on loopback and
 *       finished = reported + dropped.
 *   test_threads close-race [ROUNDS] 8 threads keep creating spans (with
 *       inject/extract) while the main thread closes the tracer under them;
 *       they go on for a while after the close. Checked: no crash, no span
 *       start fails for any reason other than the documented ones, and after
 *       close finished = reported + dropped exactly, in every round.
 *   test_threads records [ROUNDS]    span records crossing threads (span.c's
 *       per-thread caches): each round 4 new threads make spans on a UDP
 *       tracer (records freed by the reporter's thread go back to their
 *       maker's home) and on a memory tracer (records packed, keys and
 *       names interned concurrently, new ones every round), then exit with
 *       records still in flight (closed homes, reused by the next round's
 *       threads). Checked: finished = reported + dropped on both tracers,
 *       the memory tracer kept every span. Meant for TSan.
 *   test_threads driven [ITER]       the driven reporter (issue #15) under
 *       threads: 8 threads make spans (as concurrent) while the main thread
 *       is the host's loop -- tw_tracer_drive as often as it asks, or at
 *       once when the kick (called on the finishing threads) says so -- then
 *       8 more threads race the main thread's close. Checked: every span of
 *       the first phase reported to the real UDP agent, finished = reported +
 *       dropped after the close race, no reporter thread ever (the process
 *       has exactly the test's threads). Meant for TSan.
 */
#include "harness.h"

#include <dirent.h>
#include <string.h>

#define NTHREADS 8
#define ALL_FORMATS (TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_MULTI | TW_PROP_B3_SINGLE)

typedef struct kv { char k[64], v[256]; size_t kl, vl; } kv;
typedef struct carrier { kv h[16]; size_t n; } carrier;

static int set_hdr(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    carrier *c = ud;
    if (c->n == 16 || kl >= sizeof c->h[0].k || vl >= sizeof c->h[0].v)
        return TW_ERR_TOO_LARGE;
    memcpy(c->h[c->n].k, k, kl);
    memcpy(c->h[c->n].v, v, vl);
    c->h[c->n].kl = kl;
    c->h[c->n].vl = vl;
    c->n++;
    return 0;
}

static int each_hdr(void *car, tw_kv_fn visit, void *ud)
{
    carrier *c = car;
    for (size_t i = 0; i < c->n; i++)
        if (visit(ud, c->h[i].k, c->h[i].kl, c->h[i].v, c->h[i].vl))
            break;
    return 0;
}

typedef struct worker {
    tw_tracer *t;
    int iters;                  /* concurrent: fixed count; close-race: until stop */
    _Atomic int *stop;
    uint64_t *ids;              /* span ids created (concurrent) */
    size_t nids;
    int id;
    int errors;                 /* property violations seen by this thread */
    uint64_t spans, start_refused;
    hz_lat lat;
} worker;

/* One round trip: root -> inject -> extract -> child. Returns false on a
 * property violation. */
static bool round_trip(worker *w, int i)
{
    tw_span *root = NULL, *child = NULL;
    int64_t t0 = hz_mono_ns();
    tw_status st = tw_span_start(w->t, "root", 4, NULL, 0, 0, &root);
    if (st != TW_OK) {
        w->start_refused++;
        return st == TW_ERR_CLOSED;
    }
    char val[32];
    int vl = snprintf(val, sizeof val, "t%d-%d", w->id, i);
    tw_span_set_baggage(root, "user", 4, val, (size_t)vl);
    const tw_span_context *rc = tw_span_get_context(root);
    carrier c = { .n = 0 };
    bool ok = true;
    if (tw_tracer_inject(w->t, rc, ALL_FORMATS, set_hdr, &c) != TW_OK)
        ok = false;
    tw_span_context *ex = NULL;
    if (ok && tw_tracer_extract(w->t, ALL_FORMATS, each_hdr, &c, &ex) != TW_OK)
        ok = false;
    if (ok) {
        uint64_t rh, rl, eh, el;
        tw_span_context_trace_id(rc, &rh, &rl);
        tw_span_context_trace_id(ex, &eh, &el);
        const char *bv = NULL;
        size_t bvl = 0;
        ok = rh == eh && rl == el && tw_span_context_span_id(rc) == tw_span_context_span_id(ex) &&
             tw_span_context_baggage(ex, "user", 4, &bv, &bvl) == TW_OK && bvl == (size_t)vl &&
             memcmp(bv, val, bvl) == 0;
        tw_span_ref ref = { TW_REF_CHILD_OF, ex };
        if (tw_span_start(w->t, "child", 5, &ref, 1, 0, &child) == TW_OK) {
            const tw_span_context *cc = tw_span_get_context(child);
            uint64_t ch, cl;
            tw_span_context_trace_id(cc, &ch, &cl);
            ok = ok && ch == rh && cl == rl && tw_span_context_parent_id(cc) == tw_span_context_span_id(rc);
            if (w->ids) {
                w->ids[w->nids++] = tw_span_context_span_id(rc);
                w->ids[w->nids++] = tw_span_context_span_id(cc);
            }
            tw_span_finish(child, 0);
            tw_span_free(child);
            w->spans++;
        }
    }
    tw_span_context_free(ex);
    tw_span_finish(root, 0);
    tw_span_free(root);
    w->spans++;
    hz_lat_add(&w->lat, hz_mono_ns() - t0);
    return ok;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; w->stop ? !atomic_load(w->stop) : i < w->iters; i++)
        if (!round_trip(w, i))
            w->errors++;
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static tw_tracer *udp_tracer(hz_udp_sink *sink, const char *queue)
{
    char port[48], q[48];
    snprintf(port, sizeof port, "reporter.agent_port=%d", sink->port);
    snprintf(q, sizeof q, "reporter.queue_size=%s", queue);
    const char *kv[] = { "service_name=hardening-threads", "reporter.protocols=udp",
                         "reporter.agent_host=127.0.0.1", port, q, "reporter.flush_interval_ms=50",
                         "sampler.type=const", "sampler.param=1", "propagation=jaeger,w3c,b3,b3multi",
                         NULL };
    return hz_tracer(kv);
}

static int concurrent(int iters)
{
    hz_udp_sink sink;
    if (hz_udp_start(&sink) != 0)
        return 2;
    tw_tracer *t = udp_tracer(&sink, "1000000");
    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    int64_t t0 = hz_mono_ns();
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){ .t = t, .iters = iters, .id = i };
        w[i].ids = malloc(sizeof(uint64_t) * 2 * (size_t)iters);
        pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    double secs = (hz_mono_ns() - t0) / 1e9;
    tw_status fst = tw_tracer_flush(t, 10000);
    HZ_OK(tw_tracer_close(t, 5000));

    printf("concurrent: %d threads x %d round trips (root + inject 4 formats + extract + child)\n",
           NTHREADS, iters);
    size_t total = 0;
    int errors = 0;
    hz_lat all = { 0 };
    for (int i = 0; i < NTHREADS; i++) {
        total += w[i].nids;
        errors += w[i].errors;
        for (size_t k = 0; k < w[i].lat.cap; k++)
            hz_lat_add(&all, w[i].lat.ns[k]);
        if (w[i].lat.max > all.max)
            all.max = w[i].lat.max;
    }
    uint64_t *ids = malloc(sizeof(uint64_t) * (total ? total : 1));
    size_t off = 0;
    for (int i = 0; i < NTHREADS; i++) {
        memcpy(ids + off, w[i].ids, w[i].nids * sizeof(uint64_t));
        off += w[i].nids;
    }
    qsort(ids, total, sizeof ids[0], cmp_u64);
    size_t dups = 0;
    for (size_t i = 1; i < total; i++)
        dups += ids[i] == ids[i - 1];
    printf("  %zu spans in %.2f s (%.0f spans/s); flush=%s\n", total, secs, total / secs,
           tw_strerror(fst));
    hz_lat_report(&all, "round-trip latency");
    printf("  property violations=%d duplicate span ids=%zu\n", errors, dups);
    tw_counters c;
    hz_check_balance(t, "counters", &c);
    hz_sleep_ms(200);
    printf("  agent saw: datagrams=%llu bytes=%llu (tracer bytes_sent=%llu)\n",
           (unsigned long long)atomic_load(&sink.datagrams), (unsigned long long)atomic_load(&sink.bytes),
           (unsigned long long)c.bytes_sent);
    HZ_CHECK(errors == 0, "%d inject/extract/child property violations", errors);
    HZ_CHECK(dups == 0, "%zu duplicate span ids", dups);
    HZ_CHECK(total == (size_t)NTHREADS * iters * 2, "made %zu spans", total);
    HZ_CHECK(c.spans_finished == total, "finished %llu", (unsigned long long)c.spans_finished);
    HZ_CHECK(c.spans_reported == total, "reported %llu of %zu", (unsigned long long)c.spans_reported, total);
    HZ_CHECK(atomic_load(&sink.bytes) == c.bytes_sent, "agent received %llu of %llu bytes",
             (unsigned long long)atomic_load(&sink.bytes), (unsigned long long)c.bytes_sent);
    tw_tracer_free(t);
    hz_udp_stop(&sink);
    for (int i = 0; i < NTHREADS; i++) {
        free(w[i].ids);
        hz_lat_free(&w[i].lat);
    }
    hz_lat_free(&all);
    free(ids);
    printf("  %s\n", hz_failures ? "FAILED" : "ok");
    return hz_failures ? 1 : 0;
}

static int close_race(int rounds)
{
    hz_udp_sink sink;
    if (hz_udp_start(&sink) != 0)
        return 2;
    printf("close-race: %d rounds, %d threads creating spans while the tracer closes\n", rounds,
           NTHREADS);
    uint64_t total_spans = 0, total_refused = 0;
    for (int r = 0; r < rounds; r++) {
        /* small queue in odd rounds: close also races queue-full drops */
        tw_tracer *t = udp_tracer(&sink, r % 2 ? "64" : "100000");
        _Atomic int stop = 0;
        worker w[NTHREADS];
        pthread_t th[NTHREADS];
        for (int i = 0; i < NTHREADS; i++) {
            w[i] = (worker){ .t = t, .stop = &stop, .id = i };
            pthread_create(&th[i], NULL, run_worker, &w[i]);
        }
        hz_sleep_ms(30 + r % 5 * 10);
        int64_t c0 = hz_mono_ns();
        tw_status cst = tw_tracer_close(t, 500);
        double close_ms = (hz_mono_ns() - c0) / 1e6;
        hz_sleep_ms(30);                 /* spans keep coming after close */
        atomic_store(&stop, 1);
        int errors = 0;
        uint64_t spans = 0, refused = 0;
        for (int i = 0; i < NTHREADS; i++) {
            pthread_join(th[i], NULL);
            errors += w[i].errors;
            spans += w[i].spans;
            refused += w[i].start_refused;
            hz_lat_free(&w[i].lat);
        }
        char label[64];
        snprintf(label, sizeof label, "round %d after close (%s, %.0f ms)", r, tw_strerror(cst), close_ms);
        tw_counters c;
        bool bal = hz_check_balance(t, label, &c);
        HZ_CHECK(errors == 0, "round %d: %d property violations", r, errors);
        HZ_CHECK(close_ms < 500 + 700, "round %d: close took %.0f ms", r, close_ms);
        printf("    spans made=%llu starts refused after close=%llu balance=%s\n",
               (unsigned long long)spans, (unsigned long long)refused, bal ? "exact" : "BROKEN");
        total_spans += spans;
        total_refused += refused;
        tw_tracer_free(t);
    }
    printf("  total spans=%llu refused starts=%llu\n", (unsigned long long)total_spans,
           (unsigned long long)total_refused);
    hz_udp_stop(&sink);
    printf("  %s\n", hz_failures ? "FAILED" : "ok");
    return hz_failures ? 1 : 0;
}

typedef struct rec_worker { tw_tracer *udp, *mem; int round, id, n, errors; } rec_worker;

static void *rec_run(void *arg)
{
    rec_worker *w = arg;
    char key[32], op[32];
    snprintf(key, sizeof key, "k.r%d.t%d", w->round, w->id);
    snprintf(op, sizeof op, "op.r%d.t%d", w->round, w->id);
    for (int i = 0; i < w->n; i++) {
        tw_tracer *t = i % 2 ? w->mem : w->udp;
        tw_span *s;
        if (tw_span_start(t, op, strlen(op), NULL, 0, 0, &s) != TW_OK) {
            w->errors++;
            continue;
        }
        tw_span_set_tag_str(s, "http.method", "GET");
        tw_span_set_tag_int(s, key, i);
        tw_span_set_tag_bool(s, "error", 0);
        tw_span_finish(s, 0);
        tw_span_free(s);
    }
    return NULL;   /* exits with UDP records still queued */
}

static int records(int rounds)
{
    hz_udp_sink sink;
    if (hz_udp_start(&sink) != 0)
        return 2;
    enum { RT = 4, PER = 2000 };
    printf("records: %d rounds, %d new threads each making %d spans (UDP and memory tracers)\n",
           rounds, RT, PER);
    tw_tracer *udp = udp_tracer(&sink, "1000000");
    const char *mkv[] = { "service_name=hardening-records", "reporter.protocols=memory",
                          "reporter.queue_size=1000000", "sampler.type=const", "sampler.param=1",
                          NULL };
    tw_tracer *mem = hz_tracer(mkv);
    for (int r = 0; r < rounds; r++) {
        rec_worker w[RT];
        pthread_t th[RT];
        for (int i = 0; i < RT; i++) {
            w[i] = (rec_worker){ .udp = udp, .mem = mem, .round = r, .id = i, .n = PER };
            pthread_create(&th[i], NULL, rec_run, &w[i]);
        }
        for (int i = 0; i < RT; i++) {
            pthread_join(th[i], NULL);
            HZ_CHECK(w[i].errors == 0, "round %d thread %d: %d span starts failed", r, i,
                     w[i].errors);
        }
    }
    tw_tracer_flush(udp, 10000);
    tw_tracer_close(udp, 5000);
    tw_tracer_close(mem, 5000);
    tw_counters cu, cm;
    bool bu = hz_check_balance(udp, "records udp", &cu);
    bool bm = hz_check_balance(mem, "records memory", &cm);
    uint64_t each = (uint64_t)rounds * RT * PER / 2;
    HZ_CHECK(cu.spans_finished == each, "udp: %llu finished, want %llu",
             (unsigned long long)cu.spans_finished, (unsigned long long)each);
    HZ_CHECK(cm.spans_reported == each, "memory: %llu kept, want %llu",
             (unsigned long long)cm.spans_reported, (unsigned long long)each);
    printf("    udp: finished=%llu reported=%llu (balance %s); memory: kept=%llu (balance %s)\n",
           (unsigned long long)cu.spans_finished, (unsigned long long)cu.spans_reported,
           bu ? "exact" : "BROKEN", (unsigned long long)cm.spans_reported, bm ? "exact" : "BROKEN");
    tw_tracer_free(udp);
    tw_tracer_free(mem);
    hz_udp_stop(&sink);
    printf("  %s\n", hz_failures ? "FAILED" : "ok");
    return hz_failures ? 1 : 0;
}

static _Atomic int kicked;
static void kick(void *ud)
{
    (void)ud;
    atomic_store(&kicked, 1);
}

/* Threads of this process now. */
static int task_count(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static _Atomic int producers_left;

static void *driven_worker(void *arg)
{
    run_worker(arg);
    atomic_fetch_sub(&producers_left, 1);
    return NULL;
}

/* The host's loop: a turn when due or kicked, while producers run (until
 * `until`, monotonic ns, when not 0). Returns the turns taken. */
static uint64_t drive_loop(tw_tracer *t, int64_t until)
{
    uint64_t turns = 0;
    int64_t due = hz_mono_ns();
    while (until ? hz_mono_ns() < until : atomic_load(&producers_left) > 0) {
        if (atomic_exchange(&kicked, 0) || hz_mono_ns() >= due) {
            int64_t ms = tw_tracer_drive(t);
            turns++;
            due = hz_mono_ns() + (ms > 0 ? ms : 1) * 1000000;
        }
        hz_sleep_ms(1);
    }
    return turns;
}

static int driven(int iters)
{
    hz_udp_sink sink;
    if (hz_udp_start(&sink) != 0)
        return 2;
    int base = task_count();   /* the main thread and the sink's */
    printf("driven: %d threads x %d round trips while the main thread drives the reporter\n",
           NTHREADS, iters);
    tw_tracer *t = udp_tracer(&sink, "1000000");
    HZ_OK(tw_tracer_drive_start(t, kick, NULL));
    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    atomic_store(&producers_left, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){ .t = t, .iters = iters, .id = i };
        pthread_create(&th[i], NULL, driven_worker, &w[i]);
    }
    uint64_t turns = drive_loop(t, 0);
    int errors = 0;
    uint64_t made = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
        made += w[i].spans;
        hz_lat_free(&w[i].lat);
    }
    HZ_OK(tw_tracer_flush(t, 10000));   /* sends the rest on this thread */
    HZ_CHECK(task_count() == base, "%d threads, want %d: a reporter thread started",
             task_count(), base);
    tw_counters c;
    hz_check_balance(t, "driven", &c);
    printf("    %llu spans, %llu turns; reported=%llu\n", (unsigned long long)made,
           (unsigned long long)turns, (unsigned long long)c.spans_reported);
    HZ_CHECK(errors == 0, "%d property violations", errors);
    HZ_CHECK(c.spans_reported == made, "reported %llu of %llu",
             (unsigned long long)c.spans_reported, (unsigned long long)made);
    hz_sleep_ms(200);
    HZ_CHECK(atomic_load(&sink.bytes) == c.bytes_sent, "agent received %llu of %llu bytes",
             (unsigned long long)atomic_load(&sink.bytes), (unsigned long long)c.bytes_sent);
    tw_tracer_free(t);

    /* close racing producers: the main thread drives, then closes under them */
    t = udp_tracer(&sink, "64");
    HZ_OK(tw_tracer_drive_start(t, kick, NULL));
    _Atomic int stop = 0;
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){ .t = t, .stop = &stop, .id = i };
        pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    drive_loop(t, hz_mono_ns() + 200000000);
    tw_status cst = tw_tracer_close(t, 500);
    hz_sleep_ms(30);   /* spans keep coming after close */
    atomic_store(&stop, 1);
    errors = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
        hz_lat_free(&w[i].lat);
    }
    char label[64];
    snprintf(label, sizeof label, "driven close race (%s)", tw_strerror(cst));
    hz_check_balance(t, label, &c);
    HZ_CHECK(errors == 0, "close race: %d property violations", errors);
    HZ_CHECK(task_count() == base, "%d threads after the close race, want %d", task_count(), base);
    tw_tracer_free(t);
    hz_udp_stop(&sink);
    printf("  %s\n", hz_failures ? "FAILED" : "ok");
    return hz_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "concurrent") == 0)
        return concurrent(argc > 2 ? atoi(argv[2]) : 2000);
    if (argc >= 2 && strcmp(argv[1], "close-race") == 0)
        return close_race(argc > 2 ? atoi(argv[2]) : 10);
    if (argc >= 2 && strcmp(argv[1], "records") == 0)
        return records(argc > 2 ? atoi(argv[2]) : 20);
    if (argc >= 2 && strcmp(argv[1], "driven") == 0)
        return driven(argc > 2 ? atoi(argv[2]) : 500);
    fprintf(stderr, "usage: %s concurrent [ITER] | close-race [ROUNDS] | records [ROUNDS] | "
                    "driven [ITER]\n", argv[0]);
    return 2;
}
