/* bench_reporter.c — reporting pipeline figures (prints, never asserts).
 *
 *   encode   spans/s and bytes/span on one core for each encoder (Thrift
 *            compact span structs as the UDP sender does them, a Thrift binary
 *            Batch, an OTLP JSON request, an OTLP protobuf request, and that
 *            request gzipped at zlib levels 1 and 6 — encode + compress),
 *            batches of 100 of a typical span:
 *            128-bit ids, a parent reference, 6 tags of mixed types, 1 log.
 *   e2e      the real tracer at an offered load (default 100k spans/s for 3 s)
 *            to an in-process UDP sink and an in-process HTTP/1.1 keep-alive
 *            sink (202 to every POST; Thrift HTTP, OTLP protobuf, OTLP
 *            protobuf + gzip (inflated by the sink), OTLP JSON); the sinks
 *            count the spans they receive
 *            (by the operation name's encoding), which gives the delivered
 *            fraction; finish() p50/p99 while loaded.
 *   cost     (bench_reporter --cost N PORT) N nginx-like server spans
 *            (tw_span_set_http_request/_status + peer.address, as the native
 *            module makes them) through a real tracer reporting over UDP to
 *            PORT, as fast as the application thread makes them, then
 *            close(). Meant for callgrind --separate-threads=yes:
 *            bench/reporter_callgrind.sh runs it twice and prints the
 *            reporter thread's and the application thread's instructions per
 *            span (the difference of two span counts, so set-up cancels).
 * Usage: bench_reporter [rate_per_s] [seconds] | bench_reporter --cost N PORT
 * Env: TW_BENCH_BATCH / TW_BENCH_QUEUE override reporter.batch_size / queue_size.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "encoders.h"
#include "otlp_proto.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ encode */

static twp_value tag(const char *k, tw_value_type t)
{
    twp_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    v.key = k;
    v.key_len = (uint32_t)strlen(k);
    return v;
}

static void bench_encode(void)
{
    static twp_value tags[6], fields[2], ptags[3];
    tags[0] = tag("http.method", TW_VAL_STRING);
    tags[0].v.str = "GET"; tags[0].len = 3;
    tags[1] = tag("http.url", TW_VAL_STRING);
    tags[1].v.str = "https://example.com/api/v1/items?id=12345"; tags[1].len = 41;
    tags[2] = tag("http.status_code", TW_VAL_INT64);
    tags[2].v.i64 = 200;
    tags[3] = tag("component", TW_VAL_STRING);
    tags[3].v.str = "tracewire"; tags[3].len = 9;
    tags[4] = tag("sampler.param", TW_VAL_DOUBLE);
    tags[4].v.f64 = 0.25;
    tags[5] = tag("cache.hit", TW_VAL_BOOL);
    tags[5].v.b = 1;
    fields[0] = tag("event", TW_VAL_STRING);
    fields[0].v.str = "retry"; fields[0].len = 5;
    fields[1] = tag("attempt", TW_VAL_INT64);
    fields[1].v.i64 = 2;
    ptags[0] = tag("hostname", TW_VAL_STRING);
    ptags[0].v.str = "bench-host"; ptags[0].len = 10;
    ptags[1] = tag("ip", TW_VAL_STRING);
    ptags[1].v.str = "10.0.0.1"; ptags[1].len = 8;
    ptags[2] = tag("jaeger.version", TW_VAL_STRING);
    ptags[2].v.str = "C-0.1.0"; ptags[2].len = 7;
    twp_process proc = { "bench-service", ptags, 3 };
    static twp_log lg;
    lg.ts_us = 1700000000000100LL;
    lg.fields = fields;
    lg.nfields = 2;
    enum { B = 100 };
    static twp_span_data spans[B];
    static twp_ref refs[B];
    twp_span_data *arr[B];
    for (int i = 0; i < B; i++) {
        twp_span_data *s = &spans[i];
        memset(s, 0, sizeof *s);
        s->trace_hi = 0x1234567890abcdefULL;
        s->trace_lo = 0xfedcba0987654321ULL + (uint64_t)i;
        s->span_id = 0x1111111111111111ULL * (uint64_t)(i % 15 + 1);
        s->parent_id = 0x2222222222222222ULL;
        s->flags = 1;
        s->kind = TW_KIND_SERVER;
        s->start_us = 1700000000000000LL + i;
        s->duration_us = 1234;
        s->op = "GET /api/v1/items";
        s->op_len = 17;
        refs[i] = (twp_ref){ .type = TW_REF_CHILD_OF, .trace_hi = s->trace_hi,
                             .trace_lo = s->trace_lo, .span_id = s->parent_id };
        s->refs = &refs[i];
        s->nrefs = 1;
        s->tags = tags;
        s->ntags = 6;
        s->logs = &lg;
        s->nlogs = 1;
        arr[i] = s;
    }
    twp_client_stats cs = { 1, 2, 3 };
    twp_batch_meta m = { true, 1, &cs };
    twp_buf b, pb;
    twp_buf_init(&b);
    twp_buf_init(&pb);
    twp_thrift_compact_process(&pb, &proc);
    const char *names[6] = { "thrift compact (UDP emitBatch)", "thrift binary (HTTP Batch)",
                             "OTLP JSON (direct writer)", "OTLP protobuf",
                             "OTLP protobuf + gzip level 1", "OTLP protobuf + gzip default (6)" };
    twp_gzip *gz1 = NULL, *gz6 = NULL;
    twp_buf zb;
    twp_buf_init(&zb);
    if (twp_gzip_new(1, &gz1) != TW_OK || twp_gzip_new(-1, &gz6) != TW_OK)
        return;
    for (int kind = 0; kind < 6; kind++) {
        double best = 0;
        size_t bytes = 0;
        for (int rep = 0; rep < 5; rep++) {
            int iters = kind == 2 || kind >= 4 ? 300 : 3000;
            double t0 = now_s();
            for (int it = 0; it < iters; it++) {
                b.len = 0;
                if (kind == 0) {   /* as exporter_udp.c: spans after room for the head */
                    size_t room = pb.len + TWP_EMIT_BATCH_HEAD_MAX;
                    twp_buf_reserve(&b, room);
                    b.len = room;
                    for (int i = 0; i < B; i++)
                        twp_thrift_compact_span(&b, arr[i]);
                    twp_thrift_compact_emit_batch_tail(&b, &m);
                    char *start = twp_thrift_compact_emit_batch_head_at(b.data + room, 1, pb.data,
                                                                        pb.len, B);
                    bytes = (size_t)(b.data + b.len - start);
                } else if (kind == 1) {
                    twp_thrift_binary_batch(&b, &proc, arr, B, &m);
                    bytes = b.len;
                } else if (kind == 2) {
                    twp_otlp_json_encode(&b, &proc, arr, B);
                    bytes = b.len;
                } else {
                    twp_otlp_proto_encode(&b, &proc, arr, B);
                    bytes = b.len;
                    if (kind >= 4) {
                        zb.len = 0;
                        twp_gzip_compress(kind == 4 ? gz1 : gz6, b.data, b.len, &zb);
                        bytes = zb.len;
                    }
                }
            }
            double rate = (double)iters * B / (now_s() - t0);
            if (rate > best)
                best = rate;
        }
        printf("encode %-32s %10.0f spans/s  %6.1f bytes/span (batch of %d, incl. envelope)%s\n",
               names[kind], best, (double)bytes / B, B,
               kind >= 4 ? " [100 near-identical spans: the ratio is a best case]" : "");
    }
    twp_buf_free(&b);
    twp_buf_free(&pb);
    twp_buf_free(&zb);
    twp_gzip_free(gz1);
    twp_gzip_free(gz6);
}

/* ------------------------------------------------------------ sinks */

#define OPNAME "tw-bench-e2e-op"

static size_t count_marker(const char *d, size_t n, const char *mk, size_t mlen)
{
    size_t c = 0;
    for (const char *p = d; (p = memmem(p, (size_t)(d + n - p), mk, mlen)); p += mlen)
        c++;
    return c;
}

typedef struct sink {
    int fd, port;
    int json;                 /* 0 Thrift binary, 1 OTLP JSON, 2 OTLP protobuf, 3 protobuf+gzip */
    volatile int stop;
    _Atomic uint64_t spans, messages;
    pthread_t th;
} sink;

static void *udp_sink_run(void *arg)
{
    sink *s = arg;
    static char buf[70000];
    const char mk[] = "\x18\x0f" OPNAME;
    while (!s->stop) {
        ssize_t n = recv(s->fd, buf, sizeof buf, 0);
        if (n > 0) {
            atomic_fetch_add(&s->messages, 1);
            atomic_fetch_add(&s->spans, count_marker(buf, (size_t)n, mk, sizeof mk - 1));
        }
    }
    return NULL;
}

static void *http_sink_run(void *arg)
{
    sink *s = arg;
    const char bin[] = "\x0b\x00\x05\x00\x00\x00\x0f" OPNAME;
    const char js[] = "\"name\":\"" OPNAME "\"";
    const char pb[] = "\x2a\x0f" OPNAME;      /* Span.name, field 5 */
    const char *mk = s->json == 1 ? js : s->json >= 2 ? pb : bin;
    size_t mlen = s->json == 1 ? sizeof js - 1 : s->json >= 2 ? sizeof pb - 1 : sizeof bin - 1;
    char *buf = malloc(1 << 24);
    unsigned char *raw = malloc(1 << 26);
    while (!s->stop) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        size_t have = 0;
        for (;;) {
            char *hdr_end = have ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
            if (hdr_end) {
                size_t hlen = (size_t)(hdr_end - buf) + 4;
                const char *cl = memmem(buf, hlen, "Content-Length:", 15);
                if (!cl)
                    cl = memmem(buf, hlen, "content-length:", 15);
                size_t blen = cl ? strtoul(cl + 15, NULL, 10) : 0;
                if (have >= hlen + blen) {
                    atomic_fetch_add(&s->messages, 1);
                    if (s->json == 3) {          /* inflate the gzip member */
                        z_stream zs;
                        memset(&zs, 0, sizeof zs);
                        size_t got = 0;
                        if (inflateInit2(&zs, 15 + 16) == Z_OK) {
                            zs.next_in = (Bytef *)buf + hlen;
                            zs.avail_in = (uInt)blen;
                            zs.next_out = raw;
                            zs.avail_out = 1u << 26;
                            if (inflate(&zs, Z_FINISH) == Z_STREAM_END)
                                got = zs.total_out;
                            inflateEnd(&zs);
                        }
                        atomic_fetch_add(&s->spans, count_marker((char *)raw, got, mk, mlen));
                    } else {
                        atomic_fetch_add(&s->spans, count_marker(buf + hlen, blen, mk, mlen));
                    }
                    const char resp[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
                    if (write(c, resp, sizeof resp - 1) < 0)
                        break;
                    memmove(buf, buf + hlen + blen, have - hlen - blen);
                    have -= hlen + blen;
                    continue;
                }
            }
            ssize_t n = read(c, buf + have, (1 << 24) - have);
            if (n <= 0)
                break;
            have += (size_t)n;
        }
        close(c);
    }
    free(buf);
    free(raw);
    return NULL;
}

static void sink_start(sink *s, int udp, int json)
{
    memset(s, 0, sizeof *s);
    s->json = json;
    s->fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    int big = 64 << 20, one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct timeval tv = { 0, 100000 };
    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0 || (!udp && listen(s->fd, 8) != 0)) {
        perror("sink");
        exit(1);
    }
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, udp ? udp_sink_run : http_sink_run, s);
}

static void sink_stop(sink *s)
{
    s->stop = 1;
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->fd);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* proto: udp | http | otlp (protobuf) | otlp+gzip | otlp+json */
static void bench_e2e(const char *name, double rate, double secs)
{
    sink s;
    const char *proto = !strncmp(name, "otlp", 4) ? "otlp" : name;
    int mode = !strcmp(name, "otlp+json") ? 1 : !strcmp(name, "otlp+gzip") ? 3
             : !strcmp(name, "otlp") ? 2 : 0;
    sink_start(&s, !strcmp(proto, "udp"), mode);
    char port[16], url[128], ourl[128];
    snprintf(port, sizeof port, "%d", s.port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/traces", s.port);
    snprintf(ourl, sizeof ourl, "http://127.0.0.1:%d/v1/traces", s.port);
    tw_config *c;
    tw_tracer *t;
    if (tw_config_new(&c) || tw_config_set(c, "reporter.protocols", proto) ||
        tw_config_set(c, "reporter.agent_port", port) || tw_config_set(c, "reporter.endpoint", url) ||
        tw_config_set(c, "reporter.otlp_endpoint", ourl) ||
        tw_config_set(c, "service_name", "bench") ||
        (mode == 1 && tw_config_set(c, "reporter.otlp_protocol", "http/json")) ||
        (mode == 3 && tw_config_set(c, "reporter.otlp_compression", "gzip")) ||
        (getenv("TW_BENCH_BATCH") && tw_config_set(c, "reporter.batch_size", getenv("TW_BENCH_BATCH"))) ||
        (getenv("TW_BENCH_QUEUE") && tw_config_set(c, "reporter.queue_size", getenv("TW_BENCH_QUEUE"))) ||
        tw_tracer_new(c, &t)) {
        fprintf(stderr, "tracer setup failed\n");
        exit(1);
    }
    tw_config_free(c);
    long n = (long)(rate * secs);
    double *lat = malloc(sizeof *lat * (size_t)n);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        /* paced in bursts of 100 spans: sleep (not spin) until each burst is
         * due, so the offered load does not also steal a core from the worker */
        if (i % 100 == 0) {
            double wait = t0 + (double)i / rate - now_s();
            if (wait > 0) {
                struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
                nanosleep(&ts, NULL);
            }
        }
        tw_span *sp;
        if (tw_span_start(t, OPNAME, sizeof OPNAME - 1, NULL, 0, 0, &sp) != TW_OK)
            continue;
        tw_span_set_tag_str(sp, "http.method", "GET");
        tw_span_set_tag_int(sp, "http.status_code", 200);
        tw_span_set_tag_str(sp, "component", "bench");
        double a = now_s();
        tw_span_finish(sp, 0);
        lat[i] = now_s() - a;
        tw_span_free(sp);
    }
    double emit_s = now_s() - t0;
    tw_tracer_close(t, 10000);
    double total_s = now_s() - t0;
    usleep(300000);   /* let the sink read what is in flight */
    tw_counters k;
    tw_tracer_counters(t, &k);
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    printf("e2e %-9s offered %ld spans at %.0f/s (achieved %.0f/s): sink received %" PRIu64
           " spans in %" PRIu64 " messages = %.4f%% delivered; reported %" PRIu64
           ", queue-full %" PRIu64 ", send-failed %" PRIu64 "; finish() p50 %.2f us p99 %.2f us;"
           " all delivered after %.2f s\n",
           name, n, rate, (double)n / emit_s, atomic_load(&s.spans), atomic_load(&s.messages),
           100.0 * (double)atomic_load(&s.spans) / (double)n, k.spans_reported,
           k.dropped_queue_full, k.dropped_send_failed, lat[n / 2] * 1e6,
           lat[(long)(n * 0.99)] * 1e6, total_s);
    free(lat);
    tw_tracer_free(t);
    sink_stop(&s);
}

static int bench_cost(long n, const char *port)
{
    tw_config *c;
    tw_tracer *t;
    if (tw_config_new(&c) || tw_config_set(c, "reporter.protocols", "udp") ||
        tw_config_set(c, "reporter.agent_port", port) ||
        tw_config_set(c, "service_name", "nginx-bench") ||
        tw_config_set(c, "reporter.queue_size", "1000000") ||
        (getenv("TW_BENCH_BATCH") && tw_config_set(c, "reporter.batch_size", getenv("TW_BENCH_BATCH"))) ||
        tw_tracer_new(c, &t)) {
        fprintf(stderr, "tracer setup failed\n");
        return 1;
    }
    tw_config_free(c);
    tw_http_request rq = { "GET", 3, "/static/x.txt", 13, "127.0.0.1:8080", 14, "http", 4,
                           "nginx", 5 };
    for (long i = 0; i < n; i++) {
        tw_span *sp;
        if (tw_span_start(t, "GET /static/x.txt", 17, NULL, 0, 0, &sp) != TW_OK)
            continue;
        tw_span_set_http_request(sp, &rq);
        tw_span_set_tag_str(sp, "peer.address", "127.0.0.1:53124");
        tw_span_set_http_status(sp, 200);
        tw_span_finish(sp, 0);
        tw_span_free(sp);
    }
    tw_status st = tw_tracer_close(t, 10000);
    tw_counters k;
    tw_tracer_counters(t, &k);
    printf("cost: %ld spans, reported %" PRIu64 ", dropped %" PRIu64 ", batches %" PRIu64
           ", close %s\n", n, k.spans_reported,
           k.dropped_queue_full + k.dropped_send_failed + k.dropped_too_large + k.dropped_on_close,
           k.batches_sent, st == TW_OK ? "ok" : "timeout");
    tw_tracer_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 3 && !strcmp(argv[1], "--cost"))
        return bench_cost(atol(argv[2]), argv[3]);
    double rate = argc > 1 ? atof(argv[1]) : 100000;
    double secs = argc > 2 ? atof(argv[2]) : 3;
    bench_encode();
    bench_e2e("udp", rate, secs);
    bench_e2e("http", rate, secs);
    bench_e2e("otlp", rate, secs);
    bench_e2e("otlp+gzip", rate, secs);
    bench_e2e("otlp+json", rate, secs);
    return 0;
}
