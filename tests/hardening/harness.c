/* harness.c — loopback peers, latency recording and counter checks for the
 * hardening tests (see harness.h; the hz_ prefix is short for hardening). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int hz_failures;

int64_t hz_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void hz_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long hz_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ------------------------------------------------------------ sockets */

static int listen_tcp(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int hz_dead_port(void)
{
    int port = 0;
    int fd = listen_tcp(&port);
    if (fd >= 0)
        close(fd);
    return port;
}

const char *hz_mode_name(hz_mode m)
{
    switch (m) {
    case HZ_OK_202: return "ok-202";
    case HZ_OK_200: return "ok-200";
    case HZ_500: return "http-500";
    case HZ_GARBAGE: return "garbage";
    case HZ_HANG: return "hanging";
    case HZ_SLOW_READER: return "slow-reader";
    }
    return "?";
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one request (headers, then Content-Length body bytes, discarded);
 * false on EOF/error or when asked to stop. */
static bool read_request(hz_http_server *s, int fd, size_t *total)
{
    char buf[16384];
    size_t have = 0, body = 0;
    long clen = -1;
    for (;;) {
        struct pollfd pf = { fd, POLLIN, 0 };
        int pr = poll(&pf, 1, 50);
        if (atomic_load(&s->stop))
            return false;
        if (pr <= 0)
            continue;
        char *dst = clen < 0 ? buf + have : buf;
        size_t want = clen < 0 ? sizeof buf - have : sizeof buf;
        if (want == 0)
            return false;                       /* headers too long */
        if (s->mode == HZ_SLOW_READER && want > 64)
            want = 64;
        ssize_t r = recv(fd, dst, want, 0);
        if (r <= 0)
            return false;
        *total += (size_t)r;
        if (s->mode == HZ_SLOW_READER)
            hz_sleep_ms(10);
        if (clen >= 0) {
            body += (size_t)r;
        } else {
            have += (size_t)r;
            char *e = memmem(buf, have, "\r\n\r\n", 4);
            if (!e)
                continue;
            size_t hdr_end = (size_t)(e - buf) + 4;
            clen = 0;
            for (char *p = buf; p < e; p++) {
                if (strncasecmp(p, "\r\ncontent-length:", 17) == 0) {
                    clen = strtol(p + 17, NULL, 10);
                    break;
                }
            }
            if (clen < 0)
                clen = 0;
            body = have - hdr_end;
        }
        if (body >= (size_t)clen)
            return true;
    }
}

static void serve_conn(hz_http_server *s, int fd)
{
    for (;;) {
        size_t total = 0;
        if (!read_request(s, fd, &total))
            break;
        atomic_fetch_add(&s->requests, 1);
        atomic_fetch_add(&s->bytes, total);
        const char *resp = NULL;
        switch (s->mode) {
        case HZ_OK_202:
        case HZ_SLOW_READER:
            resp = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
            break;
        case HZ_OK_200:
            resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
            break;
        case HZ_500:
            resp = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nerror";
            break;
        case HZ_GARBAGE: {
            char junk[512];
            for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (char)(i * 131 + 7);
            send_all(fd, junk, sizeof junk);
            close(fd);
            return;
        }
        case HZ_HANG:
            if (s->nheld < (int)(sizeof s->held / sizeof s->held[0])) {
                s->held[s->nheld++] = fd;   /* never answered, closed at stop */
                return;
            }
            close(fd);
            return;
        }
        if (!send_all(fd, resp, strlen(resp)))
            break;
    }
    close(fd);
}

static void *http_main(void *arg)
{
    hz_http_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd pf = { s->fd, POLLIN, 0 };
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        atomic_fetch_add(&s->connections, 1);
        if (s->mode == HZ_SLOW_READER) {
            int small = 1024;
            setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        }
        serve_conn(s, c);
    }
    return NULL;
}

int hz_http_start(hz_http_server *s, hz_mode mode)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->fd = listen_tcp(&s->port);
    if (s->fd < 0)
        return -1;
    if (mode == HZ_SLOW_READER) {
        int small = 1024;   /* inherited by accepted sockets */
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    return pthread_create(&s->thread, NULL, http_main, s);
}

void hz_http_stop(hz_http_server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->nheld; i++)
        close(s->held[i]);
    close(s->fd);
}

/* ------------------------------------------------------------ udp sink */

static void *udp_main(void *arg)
{
    hz_udp_sink *u = arg;
    char buf[70000];
    while (!atomic_load(&u->stop)) {
        struct pollfd pf = { u->fd, POLLIN, 0 };
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t r = recv(u->fd, buf, sizeof buf, 0);
        if (r > 0) {
            atomic_fetch_add(&u->datagrams, 1);
            atomic_fetch_add(&u->bytes, (uint64_t)r);
        }
    }
    return NULL;
}

int hz_udp_start(hz_udp_sink *u)
{
    return hz_udp_start_at(u, "127.0.0.1", 0);
}

int hz_udp_start_at(hz_udp_sink *u, const char *ip, int port)
{
    memset(u, 0, sizeof *u);
    u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u->fd < 0)
        return -1;
    int big = 4 << 20;
    setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    socklen_t al = sizeof a;
    if (bind(u->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(u->fd, (struct sockaddr *)&a, &al) != 0) {
        close(u->fd);
        return -1;
    }
    u->port = ntohs(a.sin_port);
    return pthread_create(&u->thread, NULL, udp_main, u);
}

void hz_udp_stop(hz_udp_sink *u)
{
    atomic_store(&u->stop, 1);
    pthread_join(u->thread, NULL);
    close(u->fd);
}

/* ------------------------------------------------------------ latency */

void hz_lat_add(hz_lat *l, int64_t ns)
{
    if (!l->ns && !(l->ns = malloc(HZ_LAT_RESERVOIR * sizeof *l->ns)))
        return;
    if (ns > l->max)
        l->max = ns;
    if (ns > HZ_SLOW_NS)
        l->slow++;
    l->n++;
    if (l->cap < HZ_LAT_RESERVOIR) {
        l->ns[l->cap++] = ns;
        return;
    }
    l->rng = l->rng * 6364136223846793005ull + 1442695040888963407ull;   /* LCG */
    uint64_t j = (l->rng >> 11) % l->n;
    if (j < HZ_LAT_RESERVOIR)
        l->ns[j] = ns;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

hz_lat_summary hz_lat_report(hz_lat *l, const char *label)
{
    hz_lat_summary r = { 0, 0, 0, l->n, l->slow };
    if (l->n == 0) {
        printf("  %s: no samples\n", label);
        return r;
    }
    qsort(l->ns, l->cap, sizeof l->ns[0], cmp_i64);
    r.p50_us = l->ns[l->cap / 2] / 1e3;
    r.p99_us = l->ns[l->cap * 99 / 100] / 1e3;
    r.max_us = l->max / 1e3;
    printf("  %s: spans=%zu p50=%.1f us p99=%.1f us max=%.1f us; calls over %d ms: %llu\n", label,
           l->n, r.p50_us, r.p99_us, r.max_us, HZ_SLOW_NS / 1000000, (unsigned long long)l->slow);
    return r;
}

void hz_lat_free(hz_lat *l)
{
    free(l->ns);
    memset(l, 0, sizeof *l);
}

int64_t hz_one_span(tw_tracer *t, const char *name)
{
    int64_t t0 = hz_mono_ns();
    tw_span *s = NULL;
    if (tw_span_start(t, name, strlen(name), NULL, 0, 0, &s) == TW_OK) {
        tw_span_set_tag_str(s, "component", "hardening");
        tw_span_set_tag_int(s, "n", 42);
        tw_span_finish(s, 0);
        tw_span_free(s);
    }
    return hz_mono_ns() - t0;
}

/* ------------------------------------------------------------ tracer */

tw_tracer *hz_tracer(const char *const *kv)
{
    tw_config *cfg = NULL;
    HZ_OK(tw_config_new(&cfg));
    for (size_t i = 0; kv[i]; i++) {
        const char *eq = strchr(kv[i], '=');
        char key[128];
        size_t kl = (size_t)(eq - kv[i]);
        memcpy(key, kv[i], kl);
        key[kl] = '\0';
        HZ_OK(tw_config_set(cfg, key, eq + 1));
    }
    tw_tracer *t = NULL;
    HZ_OK(tw_tracer_new(cfg, &t));
    tw_config_free(cfg);
    return t;
}

bool hz_check_balance(tw_tracer *t, const char *label, tw_counters *out)
{
    tw_counters c;
    tw_tracer_counters(t, &c);
    uint64_t dropped = c.dropped_queue_full + c.dropped_too_large + c.dropped_send_failed +
                       c.dropped_on_close;
    printf("  %s: started=%llu sampled=%llu finished=%llu reported=%llu dropped{queue_full=%llu "
           "too_large=%llu send_failed=%llu on_close=%llu} send_failures=%llu batches=%llu bytes=%llu\n",
           label, (unsigned long long)c.spans_started, (unsigned long long)c.spans_sampled,
           (unsigned long long)c.spans_finished, (unsigned long long)c.spans_reported,
           (unsigned long long)c.dropped_queue_full, (unsigned long long)c.dropped_too_large,
           (unsigned long long)c.dropped_send_failed, (unsigned long long)c.dropped_on_close,
           (unsigned long long)c.send_failures, (unsigned long long)c.batches_sent,
           (unsigned long long)c.bytes_sent);
    bool ok = c.spans_finished == c.spans_reported + dropped;
    HZ_CHECK(ok, "%s: finished %llu != reported %llu + dropped %llu", label,
             (unsigned long long)c.spans_finished, (unsigned long long)c.spans_reported,
             (unsigned long long)dropped);
    if (out)
        *out = c;
    return ok;
}
