/* transport.h — the transports: a connected UDP socket (transport_udp.c) and
 * HTTP POST/GET over libcurl (transport_http.c). They know bytes and
 * endpoints, never spans. Private to core/.
 */
#ifndef TW_TRANSPORT_H
#define TW_TRANSPORT_H

#include "buf.h"

/* transport_udp.c — a lazily opened, connected, non-blocking UDP socket.
 * Not thread-safe: used by the reporter thread only. */
typedef struct twp_udp {
    char *host;
    int port;
    int fd;               /* -1 until the first send, and after a failed one */
    void *addr;           /* resolved sockaddr (malloc) */
    unsigned addr_len;
    int64_t retry_at_us;  /* after a failed resolve/socket: no new try before (monotonic) */
    int64_t resolved_at_us;   /* when addr was last resolved (monotonic) */
    bool stale;           /* a send failed: re-resolve on the next open (5 s schedule) */
    void *lookup;         /* an asynchronous getaddrinfo_a still running, or NULL */
    char error[160];      /* why the last send failed, for diagnostics */
    bool no_wait;         /* a full socket buffer fails at once (driven reporter), no
                           * 100 ms wait for room */
} twp_udp;
tw_status twp_udp_init(twp_udp *u, const char *host, int port);   /* copies host */
/* One datagram. TW_ERR_IO when it could not be sent or the agent's port
 * refused it (ICMP port unreachable, seen at once on loopback, else by the
 * next send); u->error then says why. */
tw_status twp_udp_send(twp_udp *u, const void *data, size_t len);
void twp_udp_close(twp_udp *u);                                   /* closes fd, keeps address */
void twp_udp_free(twp_udp *u);
void twp_udp_after_fork_child(twp_udp *u);  /* close inherited fd; reopen on next send */

/* transport_http.c — one reused libcurl handle (keep-alive), driven through a
 * multi handle so a send can be abandoned within ~20 ms of *abort_at_us. */
typedef struct twp_http twp_http;
typedef enum twp_http_policy {
    TWP_HTTP_THRIFT,      /* 2xx ok; retry connection errors and 5xx */
    TWP_HTTP_OTLP         /* 2xx ok; 400 (other 4xx) permanent; retry 429/502/503/504
                           * and connection errors, honouring Retry-After */
} twp_http_policy;
typedef struct twp_http_result {
    long status;          /* last HTTP status, 0 if no response */
    int attempts;         /* requests made */
    int failures;         /* failed attempts */
    int64_t rejected;     /* OTLP partialSuccess.rejectedSpans of a 2xx answer, else 0 */
    char error[192];      /* why the last attempt failed, for diagnostics ("" if ok) */
} twp_http_result;
/* new (twp_http_free). url and content_type copied. */
tw_status twp_http_new(const char *url, const char *content_type, twp_http_policy policy,
                       int timeout_ms, int retries, twp_http **out);
void twp_http_free(twp_http *h);
/* POST body; retries per policy with backoff, never past *abort_at_us (read
 * atomically on every poll; 0 = no abort deadline). TW_OK when delivered,
 * TW_ERR_IO when failed for good, TW_ERR_TIMEOUT when abandoned at abort_at. */
tw_status twp_http_post(twp_http *h, const void *body, size_t len,
                        _Atomic int64_t *abort_at_us, twp_http_result *res);
/* GET url into body (new, caller frees with twp_buf_free); status via *code.
 * On failure err (cap bytes, may be NULL) says why in words. */
tw_status twp_http_get(const char *url, int timeout_ms, _Atomic int64_t *abort_at_us,
                       twp_buf *body, long *code, char *err, size_t cap);
/* A stalled POST speaks early: once per transfer that has moved no byte
 * (connect, upload, answer) for TWP_HTTP_STALL_MS, fn(ud, why) is called on
 * the thread running twp_http_post, while the transfer keeps waiting for its
 * timeout. why: one line, borrowed for the call. fn NULL: silent (default).
 * Applies to the following posts until changed. */
#define TWP_HTTP_STALL_MS 1000
typedef void (*twp_http_stall_fn)(void *ud, const char *why);
void twp_http_on_stall(twp_http *h, twp_http_stall_fn fn, void *ud);
/* In a forked child: forget (leak) inherited curl state, never touch its
 * sockets; the next post builds a new handle. */
void twp_http_after_fork_child(twp_http *h);
/* curl_global_init once per process, thread-safely. */
tw_status twp_http_global_init(void);

#endif
