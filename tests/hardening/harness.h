/* harness.h — helpers for the fault and load tests (tests/hardening).
 *
 * Real peers on loopback, written here so each fault can be switched on:
 *   hz_http_server  a collector that answers 202/200, 500, garbage, hangs
 *                   (accepts and never answers), or reads 64 bytes per 10 ms;
 *                   "down" is a port nobody listens on.
 *   hz_udp_sink     an agent that receives and counts datagrams.
 * Plus latency recording (every span's start+finish+free, in ns), counter
 * printing and the balance check spans_finished = reported + dropped_*.
 * Every test prints the figures it checked and exits non-zero on failure.
 */
#ifndef HZ_H
#define HZ_H

#include "tracewire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>

extern int hz_failures;

#define HZ_CHECK(cond, ...)                                                     \
    do {                                                                        \
        if (!(cond)) {                                                          \
            hz_failures++;                                                      \
            printf("  FAIL %s:%d: %s — ", __FILE__, __LINE__, #cond);           \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
        }                                                                       \
    } while (0)

#define HZ_OK(expr)                                                             \
    do {                                                                        \
        tw_status st_ = (expr);                                                 \
        if (st_ != TW_OK) {                                                     \
            printf("  FAIL %s:%d: %s -> %s\n", __FILE__, __LINE__, #expr,       \
                   tw_strerror(st_));                                           \
            exit(2);                                                            \
        }                                                                       \
    } while (0)

int64_t hz_mono_ns(void);
void hz_sleep_ms(int ms);
long hz_rss_kb(void);

/* ------------------------------------------------------------ http server */

typedef enum hz_mode {
    HZ_OK_202, HZ_OK_200, HZ_500, HZ_GARBAGE, HZ_HANG, HZ_SLOW_READER
} hz_mode;

typedef struct hz_http_server {
    int fd, port;
    hz_mode mode;
    pthread_t thread;
    _Atomic int stop;
    _Atomic uint64_t requests, bytes, connections;
    int held[256];             /* HANG: connections kept open, never answered */
    int nheld;
} hz_http_server;

int hz_http_start(hz_http_server *s, hz_mode mode);   /* 0 ok */
void hz_http_stop(hz_http_server *s);
const char *hz_mode_name(hz_mode m);

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
int hz_dead_port(void);

/* ------------------------------------------------------------ udp sink */

typedef struct hz_udp_sink {
    int fd, port;
    pthread_t thread;
    _Atomic int stop;
    _Atomic uint64_t datagrams, bytes;
} hz_udp_sink;

int hz_udp_start(hz_udp_sink *u);
/* Binds ip:port instead (e.g. a DNS server that never answers). */
int hz_udp_start_at(hz_udp_sink *u, const char *ip, int port);
void hz_udp_stop(hz_udp_sink *u);

/* ------------------------------------------------------------ latency */

/* A fixed-size reservoir sample (so a long run does not grow the test's own
 * RSS) plus the exact count and maximum. */
#define HZ_LAT_RESERVOIR 65536
typedef struct hz_lat {
    int64_t *ns;
    size_t n, cap;        /* n: samples seen; cap: reservoir slots in use */
    int64_t max;
    uint64_t slow;        /* calls above HZ_SLOW_NS */
    uint64_t rng;
} hz_lat;

/* A call slower than this is counted. On a loaded 2-core machine a thread is
 * sometimes descheduled for tens of ms, so tests bound how OFTEN calls are
 * slow (a caller blocked on the network would be slow on every batch), not
 * the single worst call. */
#define HZ_SLOW_NS 50000000
typedef struct hz_lat_summary { double p50_us, p99_us, max_us; uint64_t n, slow; } hz_lat_summary;

void hz_lat_add(hz_lat *l, int64_t ns);
/* Sorts and prints "label: n=… p50=… p99=… max=… µs, slow=…". */
hz_lat_summary hz_lat_report(hz_lat *l, const char *label);
void hz_lat_free(hz_lat *l);

/* One span: start, two tags, finish, free; returns the ns it took. */
int64_t hz_one_span(tw_tracer *t, const char *name);

/* ------------------------------------------------------------ tracer */

/* new tracer from "key=value" pairs, NULL-terminated. */
tw_tracer *hz_tracer(const char *const *kv);

/* Prints the counters and checks finished = reported + every dropped_*. */
bool hz_check_balance(tw_tracer *t, const char *label, tw_counters *out);

#endif
