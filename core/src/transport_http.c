/* transport_http.c — HTTP POST with libcurl for the Thrift and OTLP senders.
 *
 * One easy handle per sender, reused for every request so the connection is
 * kept alive, driven through its own multi handle: the reporter thread polls
 * in 20 ms slices and abandons a request as soon as the close() deadline
 * (*abort_at_us) passes, which a blocking curl_easy_perform could not do.
 * Each attempt has a connect timeout and a total timeout; failed attempts are
 * retried a bounded number of times with exponential backoff (100 ms doubling,
 * capped at 2 s), or after the server's Retry-After (capped at the total
 * timeout), and never past the abort deadline. What is retried depends on the
 * policy: Jaeger's collector answers 202 and may fail with 5xx; an OTLP
 * receiver answers 200, says 400 when the payload is bad for good, and asks
 * for a retry with 429/502/503/504 only (OTLP spec, "Failures").
 * A 2xx OTLP answer may carry partialSuccess.rejectedSpans (JSON, parsed with
 * jansson; a body that does not parse counts as full success, as the spec
 * says an empty one does).
 * curl_global_init runs once per process (pthread_once). In a forked child the
 * inherited handles share sockets with the parent: they are abandoned (leaked,
 * a few KB once per fork) and fresh ones are built on the next request.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#define RESP_MAX (64 * 1024)

struct twp_http {
    char *url;
    struct curl_slist *headers;
    char *content_type_header;
    twp_http_policy policy;
    int timeout_ms, retries;
    CURLM *multi;
    CURL *easy;
    twp_buf resp;
    char errbuf[CURL_ERROR_SIZE];   /* curl's detailed message of the last failure */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_ALL);
}

tw_status twp_http_global_init(void)
{
    pthread_once(&global_once, global_init);
    return global_rc == CURLE_OK ? TW_OK : TW_ERR_IO;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The abort deadline is in CLOCK_MONOTONIC microseconds; 0 = none. */
static bool aborted(_Atomic int64_t *abort_at)
{
    if (!abort_at)
        return false;
    int64_t a = atomic_load(abort_at);
    return a != 0 && now_us() >= a;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    twp_buf *b = ud;
    size_t len = size * n;
    if (b->len < RESP_MAX)
        (void)twp_buf_append(b, p, len < RESP_MAX - b->len ? len : RESP_MAX - b->len);
    return len;
}

/* Sampling strategies with many per-operation entries can be large. */
#define GET_MAX (4 * 1024 * 1024)

static size_t on_get_body(char *p, size_t size, size_t n, void *ud)
{
    twp_buf *b = ud;
    size_t len = size * n;
    if (b->len + len > GET_MAX)
        return 0;   /* abort the transfer: a truncated body must not be applied */
    return twp_buf_append(b, p, len) ? len : 0;
}

tw_status twp_http_new(const char *url, const char *content_type, twp_http_policy policy,
                       int timeout_ms, int retries, twp_http **out)
{
    *out = NULL;
    if (!url || !content_type)
        return TW_ERR_INVALID_ARG;
    twp_http *h = calloc(1, sizeof *h);
    if (!h)
        return TW_ERR_NOMEM;
    h->url = strdup(url);
    size_t n = strlen(content_type) + 16;
    h->content_type_header = malloc(n);
    if (!h->url || !h->content_type_header) {
        twp_http_free(h);
        return TW_ERR_NOMEM;
    }
    snprintf(h->content_type_header, n, "Content-Type: %s", content_type);
    h->policy = policy;
    h->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    h->retries = retries >= 0 ? retries : 0;
    twp_buf_init(&h->resp);
    *out = h;
    return TW_OK;
}

static void drop_handles(twp_http *h)
{
    if (h->multi && h->easy)
        curl_multi_remove_handle(h->multi, h->easy);
    if (h->easy)
        curl_easy_cleanup(h->easy);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->headers);
    h->easy = NULL;
    h->multi = NULL;
    h->headers = NULL;
}

void twp_http_free(twp_http *h)
{
    if (!h)
        return;
    drop_handles(h);
    free(h->url);
    free(h->content_type_header);
    twp_buf_free(&h->resp);
    free(h);
}

void twp_http_after_fork_child(twp_http *h)
{
    if (!h)
        return;
    h->easy = NULL;     /* leaked on purpose: its sockets are the parent's */
    h->multi = NULL;
    h->headers = NULL;
}

static tw_status ensure_handles(twp_http *h)
{
    if (h->easy)
        return TW_OK;
    if (twp_http_global_init() != TW_OK)
        return TW_ERR_IO;
    h->multi = curl_multi_init();
    h->easy = curl_easy_init();
    struct curl_slist *l = curl_slist_append(NULL, h->content_type_header);
    if (l)
        h->headers = l;
    l = l ? curl_slist_append(l, "Expect:") : NULL;   /* no 100-continue round trip */
    if (l)
        h->headers = l;
    if (!h->multi || !h->easy || !l) {
        drop_handles(h);
        return TW_ERR_NOMEM;
    }
    CURL *e = h->easy;
    curl_easy_setopt(e, CURLOPT_URL, h->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(h->timeout_ms < 2000 ? h->timeout_ms : 2000));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &h->resp);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "tracewire/" TW_VERSION);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    return TW_OK;
}

/* Runs one transfer on (multi, easy). Returns the CURLcode, or -1 when the
 * abort deadline passed first (the transfer is then cancelled). */
static int run_transfer(CURLM *multi, CURL *easy, _Atomic int64_t *abort_at)
{
    if (curl_multi_add_handle(multi, easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    int rc = CURLE_OK;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
        int left;
        CURLMsg *m;
        bool done = false;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg == CURLMSG_DONE && m->easy_handle == easy) {
                rc = (int)m->data.result;
                done = true;
            }
        }
        if (done)
            break;
        if (!running) {   /* finished without a DONE message: treat as failed */
            rc = CURLE_RECV_ERROR;
            break;
        }
        if (aborted(abort_at)) {
            rc = -1;
            break;
        }
        if (curl_multi_poll(multi, NULL, 0, 20, NULL) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
    }
    curl_multi_remove_handle(multi, easy);
    return rc;
}

static bool sleep_until_abort(int64_t ms, _Atomic int64_t *abort_at)
{
    int64_t end = now_us() + ms * 1000;
    for (;;) {
        int64_t left = end - now_us();
        if (left <= 0)
            return true;
        if (aborted(abort_at))
            return false;
        int64_t slice = left < 20000 ? left : 20000;
        struct timespec ts = { (time_t)(slice / 1000000), (long)(slice % 1000000) * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* {"partialSuccess":{"rejectedSpans":"N",...}}: N (int64 as a string or a
 * number), 0 when absent or unparsable. */
static int64_t rejected_spans(const twp_buf *body)
{
    if (!body->len)
        return 0;
    json_t *root = json_loadb(body->data, body->len, 0, NULL);
    json_t *v = json_object_get(json_object_get(root, "partialSuccess"), "rejectedSpans");
    int64_t n = 0;
    if (json_is_integer(v))
        n = (int64_t)json_integer_value(v);
    else if (json_is_string(v))
        n = strtoll(json_string_value(v), NULL, 10);
    json_decref(root);
    return n > 0 ? n : 0;
}

/* Words for a failed transfer: curl's detailed buffer when it has one
 * ("Failed to connect to 127.0.0.1 port 9: Connection refused"), else its
 * generic text, or the HTTP status. */
static void describe(char *out, size_t cap, int rc, long code, const char *errbuf)
{
    if (rc == -1)
        snprintf(out, cap, "abandoned at the close() deadline");
    else if (rc != CURLE_OK)
        snprintf(out, cap, "%s", errbuf && *errbuf ? errbuf : curl_easy_strerror((CURLcode)rc));
    else
        snprintf(out, cap, "HTTP %ld", code);
}

typedef enum { OUT_OK, OUT_RETRY, OUT_PERMANENT } outcome;

static outcome classify(twp_http_policy policy, int rc, long code)
{
    if (rc != CURLE_OK)
        return OUT_RETRY;    /* refused, reset, timed out, garbage reply */
    if (code >= 200 && code < 300)
        return OUT_OK;
    if (policy == TWP_HTTP_OTLP)
        return (code == 429 || code == 502 || code == 503 || code == 504) ? OUT_RETRY
                                                                          : OUT_PERMANENT;
    return (code >= 500 || code == 429 || code == 408) ? OUT_RETRY : OUT_PERMANENT;
}

tw_status twp_http_post(twp_http *h, const void *body, size_t len, _Atomic int64_t *abort_at_us,
                        twp_http_result *res)
{
    twp_http_result tmp;
    if (!res)
        res = &tmp;
    memset(res, 0, sizeof *res);
    tw_status st = ensure_handles(h);
    if (st != TW_OK)
        return st;
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    for (int attempt = 0;; attempt++) {
        if (aborted(abort_at_us))
            return TW_ERR_TIMEOUT;
        h->resp.len = 0;
        h->errbuf[0] = '\0';
        res->attempts++;
        int rc = run_transfer(h->multi, h->easy, abort_at_us);
        if (rc == -1) {
            res->failures++;
            describe(res->error, sizeof res->error, rc, 0, NULL);
            return TW_ERR_TIMEOUT;
        }
        long code = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
        res->status = code;
        outcome o = classify(h->policy, rc, code);
        if (o == OUT_OK) {
            if (h->policy == TWP_HTTP_OTLP)
                res->rejected = rejected_spans(&h->resp);
            return TW_OK;
        }
        res->failures++;
        describe(res->error, sizeof res->error, rc, code, h->errbuf);
        if (o == OUT_PERMANENT || attempt >= h->retries)
            return TW_ERR_IO;
        int64_t wait_ms = 100LL << (attempt < 5 ? attempt : 5);
        if (wait_ms > 2000)
            wait_ms = 2000;
        curl_off_t ra = 0;
        if (rc == CURLE_OK && curl_easy_getinfo(h->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
            ra > 0)
            wait_ms = ra * 1000 < h->timeout_ms ? ra * 1000 : h->timeout_ms;
        if (!sleep_until_abort(wait_ms, abort_at_us)) {
            describe(res->error, sizeof res->error, -1, 0, NULL);
            return TW_ERR_TIMEOUT;
        }
    }
}

tw_status twp_http_get(const char *url, int timeout_ms, _Atomic int64_t *abort_at_us,
                       twp_buf *body, long *code, char *err, size_t cap)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    char scratch[8];
    if (!err) {
        err = scratch;
        cap = sizeof scratch;
    }
    if (cap)
        err[0] = '\0';
    *code = 0;
    if (twp_http_global_init() != TW_OK)
        return TW_ERR_IO;
    CURLM *multi = curl_multi_init();
    CURL *e = curl_easy_init();
    tw_status st = TW_ERR_NOMEM;
    if (!multi || !e)
        goto out;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_get_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "tracewire/" TW_VERSION);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    int rc = run_transfer(multi, e, abort_at_us);
    if (rc == -1) {
        st = TW_ERR_TIMEOUT;
    } else if (rc != CURLE_OK) {
        st = TW_ERR_IO;
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
        st = (*code >= 200 && *code < 300) ? TW_OK : TW_ERR_IO;
    }
    if (st != TW_OK && cap)
        describe(err, cap, rc, *code, errbuf);
out:
    if (e)
        curl_easy_cleanup(e);
    if (multi)
        curl_multi_cleanup(multi);
    return st;
}
