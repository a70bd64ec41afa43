/* transport_udp.c — one connected, non-blocking UDP socket to the Jaeger agent.
 *
 * The address is resolved on the first send (never at tracer creation:
 * getaddrinfo may block, and only the reporter thread calls us). The socket
 * is connected, so the kernel tells us when nobody listens: an ICMP "port
 * unreachable" makes the pending socket error ECONNREFUSED. On loopback it
 * arrives while send() runs, so the error is read back (SO_ERROR) right after
 * each datagram and that datagram counts as failed; from a remote host it
 * arrives later and the next send() fails with it. Either way a dead agent is
 * a send failure (counted, and said through the diagnostics hook), not
 * "reported". After a failed send the socket is closed and, for a host name,
 * the name is resolved again when the next send opens a new one -- at most
 * once per 5 s, so an agent that moved (a new container address) is found
 * again and a dead one costs one lookup per 5 s.
 * When the socket buffer is full (EAGAIN) the reporter thread waits up to
 * 100 ms for room, once, then counts a failure; a host's event loop
 * (no_wait: the driven reporter) never waits, the send fails at once. A failed resolve or socket()
 * is not retried for 5 s.
 * Names are resolved with getaddrinfo_a and waited for at most 100 ms per
 * send: a DNS server that never answers must not hold the reporter thread
 * past a close() deadline. The lookup keeps running and the next send picks
 * its answer up; a lookup still running when the transport is freed (or in a
 * forked child, where its helper thread does not exist) is abandoned, not
 * freed, since the resolver may still write to it. Numeric hosts are parsed
 * at once.
 * After fork the child closes its inherited descriptor and reopens on demand.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* getaddrinfo_a */
#endif
#include "transport.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

tw_status twp_udp_init(twp_udp *u, const char *host, int port)
{
    memset(u, 0, sizeof *u);
    u->fd = -1;
    u->port = port;
    u->host = strdup(host && *host ? host : "127.0.0.1");
    return u->host ? TW_OK : TW_ERR_NOMEM;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One in-flight lookup: the request, its hints and its strings live together
 * because the resolver thread reads them until it is done. */
typedef struct lookup {
    struct gaicb cb;
    struct addrinfo hints;
    char port[16];
    char host[];
} lookup;

/* *res on TW_OK (caller frees with freeaddrinfo); TW_ERR_IO while the lookup
 * runs or when it failed. */
static tw_status resolve(twp_udp *u, struct addrinfo **res)
{
    struct addrinfo hints;
    char port[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(port, sizeof port, "%d", u->port);
    hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(u->host, port, &hints, res) == 0 && *res)
        return TW_OK;
    lookup *l = u->lookup;
    if (!l) {
        size_t hl = strlen(u->host);
        l = calloc(1, sizeof *l + hl + 1);
        if (!l)
            return TW_ERR_NOMEM;
        memcpy(l->host, u->host, hl + 1);
        memcpy(l->port, port, sizeof port);
        l->hints.ai_family = AF_UNSPEC;
        l->hints.ai_socktype = SOCK_DGRAM;
        l->cb.ar_name = l->host;
        l->cb.ar_service = l->port;
        l->cb.ar_request = &l->hints;
        struct gaicb *list[1] = { &l->cb };
        if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
            free(l);
            return TW_ERR_IO;
        }
        u->lookup = l;
    }
    const struct gaicb *wait[1] = { &l->cb };
    struct timespec ts = { 0, 100 * 1000000L };
    (void)gai_suspend(wait, 1, &ts);
    int err = gai_error(&l->cb);
    if (err == EAI_INPROGRESS) {
        u->retry_at_us = 0;   /* not a failure yet: look again on the next send */
        return TW_ERR_IO;
    }
    u->lookup = NULL;
    *res = l->cb.ar_result;
    free(l);
    if (err != 0 || !*res) {
        if (*res)
            freeaddrinfo(*res);
        *res = NULL;
        return TW_ERR_IO;
    }
    return TW_OK;
}

/* A lookup still running is left to the resolver (see the top comment). */
static void abandon_lookup(twp_udp *u)
{
    lookup *l = u->lookup;
    if (!l)
        return;
    u->lookup = NULL;
    if (gai_cancel(&l->cb) == EAI_ALLDONE || gai_error(&l->cb) != EAI_INPROGRESS) {
        if (l->cb.ar_result)
            freeaddrinfo(l->cb.ar_result);
        free(l);
    }
}

/* Keeps the new address in u->addr (the old one stays if the lookup is
 * still running or failed and there is one). */
static tw_status refresh_addr(twp_udp *u)
{
    struct addrinfo *res = NULL;
    tw_status st = resolve(u, &res);
    if (st != TW_OK) {
        if (st != TW_ERR_NOMEM && !u->lookup)
            snprintf(u->error, sizeof u->error, "cannot resolve agent host %s", u->host);
        else if (u->lookup)
            snprintf(u->error, sizeof u->error, "still resolving agent host %s", u->host);
        return u->addr && u->stale ? TW_OK : st;
    }
    void *a = malloc(res->ai_addrlen);
    if (!a) {
        freeaddrinfo(res);
        return u->addr ? TW_OK : TW_ERR_NOMEM;
    }
    memcpy(a, res->ai_addr, res->ai_addrlen);
    free(u->addr);
    u->addr = a;
    u->addr_len = (unsigned)res->ai_addrlen;
    u->resolved_at_us = mono_us();
    freeaddrinfo(res);
    return TW_OK;
}

static tw_status udp_open(twp_udp *u)
{
    int64_t now = mono_us();
    if (u->retry_at_us && now < u->retry_at_us) {
        if (!u->error[0])
            snprintf(u->error, sizeof u->error, "agent %s:%d unreachable", u->host, u->port);
        return TW_ERR_IO;
    }
    u->retry_at_us = now + 5000000;   /* cleared on success */
    if (!u->addr || (u->stale && now - u->resolved_at_us >= 5000000)) {
        tw_status st = refresh_addr(u);
        if (st != TW_OK)
            return st;
    }
    int fd = socket(((struct sockaddr *)u->addr)->sa_family,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(u->error, sizeof u->error, "socket: %s", strerror(errno));
        return TW_ERR_IO;
    }
    if (connect(fd, (struct sockaddr *)u->addr, (socklen_t)u->addr_len) != 0) {
        snprintf(u->error, sizeof u->error, "connect to agent %s:%d: %s", u->host, u->port,
                 strerror(errno));
        close(fd);
        return TW_ERR_IO;
    }
    /* room for a few full-size datagrams while the agent catches up */
    int sz = 4 * 1024 * 1024;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    u->fd = fd;
    u->retry_at_us = 0;
    u->stale = false;
    return TW_OK;
}

/* A failed send: say why, close the socket (a new one is opened, and the
 * name maybe resolved again, by the next send). */
static tw_status send_failed(twp_udp *u, int err)
{
    snprintf(u->error, sizeof u->error, "send to agent %s:%d: %s", u->host, u->port,
             strerror(err));
    twp_udp_close(u);
    u->stale = true;
    return TW_ERR_IO;
}

tw_status twp_udp_send(twp_udp *u, const void *data, size_t len)
{
    u->error[0] = '\0';
    if (u->fd < 0) {
        tw_status st = udp_open(u);
        if (st != TW_OK)
            return st;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        ssize_t n = send(u->fd, data, len, MSG_NOSIGNAL);
        if (n == (ssize_t)len) {
            /* an ICMP refusal of this datagram, when the agent is local */
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr != 0)
                return send_failed(u, soerr);
            return TW_OK;
        }
        if (n < 0 && errno == EINTR) {
            attempt--;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) &&
            attempt == 0 && !u->no_wait) {
            struct pollfd pfd = { u->fd, POLLOUT, 0 };
            (void)poll(&pfd, 1, 100);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            snprintf(u->error, sizeof u->error, "send to agent %s:%d: socket buffer full",
                     u->host, u->port);
            return TW_ERR_IO;
        }
        return send_failed(u, n < 0 ? errno : EMSGSIZE);
    }
    return TW_ERR_IO;
}

void twp_udp_close(twp_udp *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}

void twp_udp_free(twp_udp *u)
{
    abandon_lookup(u);
    twp_udp_close(u);
    free(u->host);
    free(u->addr);
    memset(u, 0, sizeof *u);
    u->fd = -1;
}

void twp_udp_after_fork_child(twp_udp *u)
{
    u->lookup = NULL;   /* its helper thread is not in this process: leak, never free */
    twp_udp_close(u);
    /* a fork during the parent's udp_open inherits its "retry in 5 s" mark:
     * the child never tried, so it may open at once */
    u->retry_at_us = 0;
    u->error[0] = '\0';
}
