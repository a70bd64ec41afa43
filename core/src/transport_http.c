/* transport_http.c — HTTP POST with libcurl for the Thrift and OTLP senders.
 *
 * One easy handle per sender, reused for every request so the connection is
 * kept alive, driven through its own multi handle: the reporter thread polls
 * in 20 ms slices and abandons a request as soon as the close() deadline
 * (*abort_at_us) passes, which a blocking curl_easy_perform could not do.
 * One export has a time budget, timeout_ms (OTEL_EXPORTER_OTLP_TIMEOUT's "maximum
 * time for each batch export"): every attempt, backoff and Retry-After wait
 * fits in it, and never runs past the abort deadline either. Failed attempts
 * are retried at most `retries` times with exponential backoff and jitter
 * (b = 100 ms doubling, capped at 2 s, each wait drawn from [b, 1.5 b]) so a fleet
 * does not retry in step; a Retry-After (seconds or HTTP date, read by
 * libcurl) replaces the backoff, and when it would end beyond the budget the
 * export gives up at once rather than sleep for nothing. What is retried
 * depends on the policy: Jaeger's collector answers 202 and may fail with
 * 5xx; an OTLP receiver answers 200, says 400 when the payload is bad for
 * good, and asks for a retry with 429/502/503/504 only (OTLP spec,
 * "Failures"). Connection failures are retried under both; a TLS peer that
 * fails verification, or a local certificate/key that cannot be loaded, is
 * a configuration error and is not.
 * A 2xx OTLP answer may carry partial_success.rejected_spans: protobuf or JSON
 * by the answer's Content-Type (JSON parsed with jansson); a body that does
 * not parse counts as full success, as the spec says an empty one does.
 * Headers: Content-Type, Content-Encoding when the body is compressed, the
 * configured extra headers (e.g. authorization), no "Expect: 100-continue".
 * TLS: libcurl's defaults verify peer and host name against the system CA
 * store; a CA file replaces the store, a client certificate and key are
 * presented when given.
 * A collector that accepts the connection and never answers (blackholed)
 * would only be reported when the export's budget runs out; so the poll loop
 * also watches the bytes moved, and once nothing moved for TWP_HTTP_STALL_MS
 * it tells the caller's stall hook (the reporter turns it into a diagnostic)
 * and keeps waiting. Watched in the 20 ms loop rather than through
 * CURLOPT_XFERINFOFUNCTION, which libcurl slows to about once a second when
 * nothing moves -- exactly the case to see early.
 * curl_global_init runs once per process (pthread_once). In a forked child the
 * inherited handles share sockets with the parent: they are abandoned (leaked,
 * a few KB once per fork) and fresh ones are built on the next request.
 */
#include "transport.h"
#include "http_options.h"
#include "otlp_proto.h"
#include "process_state.h"
#include "text.h"

#include <pthread.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#define RESP_MAX (64 * 1024)

struct twp_http {
    char *url;
    struct curl_slist *headers;
    char *content_type_header;
    char **extra;                 /* "Name: value" lines (Content-Encoding, configured) */
    size_t nextra;
    char *ca_file, *cert_file, *key_file;
    twp_http_policy policy;
    int timeout_ms, retries;
    CURLM *multi;
    CURL *easy;
    twp_buf resp;
    char errbuf[CURL_ERROR_SIZE];   /* curl's detailed message of the last failure */
    twp_http_stall_fn stall_fn;     /* NULL: stalls are not said */
    void *stall_ud;
};

/* What run_transfer needs to say a stall (NULL: not watched). */
typedef struct stall_watch {
    twp_http_stall_fn fn;
    void *ud;
    const char *url;
    size_t body_len;
    int64_t budget_end_us;
} stall_watch;

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

/* ---------------------------------------------------------------- headers */

typedef tw_status (*header_fn)(void *ud, const char *name, size_t nl, const char *val, size_t vl);

/* Walks "name=value,..." (values percent-decoded into a scratch buffer). */
static tw_status each_header(const char *s, header_fn fn, void *ud)
{
    if (!s)
        return TW_OK;
    size_t n = strlen(s);
    char *scratch = malloc(n + 1);
    if (!scratch)
        return TW_ERR_NOMEM;
    tw_status st = TW_OK;
    const char *p = s, *end = s + n;
    while (p <= end && st == TW_OK) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *item_end = c ? c : end;
        const char *it = p;
        size_t il = (size_t)(item_end - p);
        twp_trim_ows(&it, &il);
        if (il) {
            const char *eq = memchr(it, '=', il);
            if (!eq) {
                st = TW_ERR_INVALID_ARG;
                break;
            }
            const char *name = it, *val = eq + 1;
            size_t nl = (size_t)(eq - it), vl = il - nl - 1;
            twp_trim_ows(&name, &nl);
            twp_trim_ows(&val, &vl);
            size_t dl;
            bool ok = nl > 0;
            for (size_t i = 0; ok && i < nl; i++)
                ok = twp_is_tchar((unsigned char)name[i]);
            if (!ok || twp_percent_decode(val, vl, false, scratch, &dl) != TW_OK) {
                st = TW_ERR_INVALID_ARG;
                break;
            }
            for (size_t i = 0; ok && i < dl; i++)
                ok = (unsigned char)scratch[i] >= 0x20 && scratch[i] != 0x7f;
            if (!ok) {
                st = TW_ERR_INVALID_ARG;
                break;
            }
            st = fn(ud, name, nl, scratch, dl);
        }
        if (!c)
            break;
        p = c + 1;
    }
    free(scratch);
    return st;
}

static tw_status check_one(void *ud, const char *name, size_t nl, const char *val, size_t vl)
{
    (void)ud; (void)name; (void)nl; (void)val; (void)vl;
    return TW_OK;
}

tw_status twp_http_headers_check(const char *headers)
{
    return each_header(headers, check_one, NULL);
}

static tw_status add_line(twp_http *h, const char *name, size_t nl, const char *val, size_t vl)
{
    char **x = realloc(h->extra, (h->nextra + 1) * sizeof *x);
    if (!x)
        return TW_ERR_NOMEM;
    h->extra = x;
    char *line = malloc(nl + vl + 3);
    if (!line)
        return TW_ERR_NOMEM;
    memcpy(line, name, nl);
    if (vl == 0) {              /* libcurl: "Name:" removes a header, "Name;" sends it empty */
        line[nl] = ';';
        line[nl + 1] = '\0';
    } else {
        memcpy(line + nl, ": ", 2);
        memcpy(line + nl + 2, val, vl);
        line[nl + 2 + vl] = '\0';
    }
    h->extra[h->nextra++] = line;
    return TW_OK;
}

static tw_status add_header(void *ud, const char *name, size_t nl, const char *val, size_t vl)
{
    return add_line(ud, name, nl, val, vl);
}

static char *dup_opt(const char *s, bool *fail)
{
    if (!s || !*s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

tw_status twp_http_new_opts(const twp_http_opts *o, twp_http **out)
{
    *out = NULL;
    if (!o || !o->url || !o->content_type)
        return TW_ERR_INVALID_ARG;
    twp_http *h = calloc(1, sizeof *h);
    if (!h)
        return TW_ERR_NOMEM;
    bool fail = false;
    h->url = strdup(o->url);
    size_t n = strlen(o->content_type) + 16;
    h->content_type_header = malloc(n);
    h->ca_file = dup_opt(o->ca_file, &fail);
    h->cert_file = dup_opt(o->cert_file, &fail);
    h->key_file = dup_opt(o->key_file, &fail);
    if (!h->url || !h->content_type_header || fail) {
        twp_http_free(h);
        return TW_ERR_NOMEM;
    }
    snprintf(h->content_type_header, n, "Content-Type: %s", o->content_type);
    tw_status st = TW_OK;
    if (o->content_encoding && *o->content_encoding)
        st = add_line(h, "Content-Encoding", 16, o->content_encoding, strlen(o->content_encoding));
    if (st == TW_OK)
        st = each_header(o->headers, add_header, h);
    if (st != TW_OK) {
        twp_http_free(h);
        return st;
    }
    h->policy = o->policy;
    h->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    h->retries = o->retries >= 0 ? o->retries : 0;
    twp_buf_init(&h->resp);
    *out = h;
    return TW_OK;
}

tw_status twp_http_new(const char *url, const char *content_type, twp_http_policy policy,
                       int timeout_ms, int retries, twp_http **out)
{
    twp_http_opts o;
    memset(&o, 0, sizeof o);
    o.url = url;
    o.content_type = content_type;
    o.policy = policy;
    o.timeout_ms = timeout_ms;
    o.retries = retries;
    return twp_http_new_opts(&o, out);
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
    for (size_t i = 0; i < h->nextra; i++)
        free(h->extra[i]);
    free(h->extra);
    free(h->ca_file);
    free(h->cert_file);
    free(h->key_file);
    twp_buf_free(&h->resp);
    free(h);
}

void twp_http_on_stall(twp_http *h, twp_http_stall_fn fn, void *ud)
{
    h->stall_fn = fn;
    h->stall_ud = fn ? ud : NULL;
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
    for (size_t i = 0; l && i < h->nextra; i++) {
        l = curl_slist_append(l, h->extra[i]);
        if (l)
            h->headers = l;
    }
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
    /* https: peer and host verification stay on (libcurl's default) */
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (h->cert_file)
        curl_easy_setopt(e, CURLOPT_SSLCERT, h->cert_file);
    if (h->key_file)
        curl_easy_setopt(e, CURLOPT_SSLKEY, h->key_file);
    return TW_OK;
}

/* Runs one transfer on (multi, easy). Returns the CURLcode, or -1 when the
 * abort deadline passed first (the transfer is then cancelled). */
static int run_transfer(CURLM *multi, CURL *easy, _Atomic int64_t *abort_at,
                        const stall_watch *w)
{
    if (curl_multi_add_handle(multi, easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    int rc = CURLE_OK;
    curl_off_t moved = -1;
    int64_t moved_at = now_us();
    bool said = !w || !w->fn;
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
        if (!said) {
            curl_off_t up = 0, down = 0;
            curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &up);
            curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
            int64_t t = now_us();
            if (up + down != moved) {
                moved = up + down;
                moved_at = t;
            } else if (t - moved_at >= (int64_t)TWP_HTTP_STALL_MS * 1000) {
                char why[256];
                int64_t left = (w->budget_end_us - t) / 1000;
                snprintf(why, sizeof why,
                         "no answer from %.120s for %d ms (%" CURL_FORMAT_CURL_OFF_T " of %zu "
                         "bytes sent); still waiting, up to %" PRId64 " ms more",
                         w->url, TWP_HTTP_STALL_MS, up, w->body_len, left > 0 ? left : 0);
                said = true;
                w->fn(w->ud, why);
            }
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
 * number), 0 when absent or unparsable; a protobuf answer by its
 * Content-Type. */
static int64_t rejected_spans(const twp_buf *body, const char *ctype)
{
    if (!body->len)
        return 0;
    if (ctype && strncasecmp(ctype, "application/x-protobuf", 22) == 0)
        return twp_otlp_proto_rejected(body->data, body->len);
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
    else if (rc != CURLE_OK) {
        /* Cut to cap on purpose (a log line); copied by hand because gcc -O3
         * flags a "%s" that may truncate as an error under -Werror. */
        const char *s = errbuf && *errbuf ? errbuf : curl_easy_strerror((CURLcode)rc);
        size_t n = strnlen(s, cap - 1);
        memcpy(out, s, n);
        out[n] = '\0';
    }
    else
        snprintf(out, cap, "HTTP %ld", code);
}

typedef enum { OUT_OK, OUT_RETRY, OUT_PERMANENT } outcome;

static outcome classify(twp_http_policy policy, int rc, long code)
{
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
        rc == CURLE_SSL_CERTPROBLEM)
        return OUT_PERMANENT;    /* wrong CA, bad certificate files: no retry helps */
    if (rc != CURLE_OK)
        return OUT_RETRY;    /* refused, reset, timed out, garbage reply */
    if (code >= 200 && code < 300)
        return OUT_OK;
    if (policy == TWP_HTTP_OTLP)
        return (code == 429 || code == 502 || code == 503 || code == 504) ? OUT_RETRY
                                                                          : OUT_PERMANENT;
    return (code >= 500 || code == 429 || code == 408) ? OUT_RETRY : OUT_PERMANENT;
}

/* A backoff wait in ms for the attempt-th retry: b = 100 ms << attempt
 * (capped at 2 s), drawn from [b, 1.5 b] (jitter). */
static int64_t backoff_ms(int attempt)
{
    int64_t b = 100LL << (attempt < 5 ? attempt : 5);
    if (b > 2000)
        b = 2000;
    return b + (int64_t)(twp_random_id() % (uint64_t)(b / 2 + 1));
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
    const int64_t budget_end = now_us() + (int64_t)h->timeout_ms * 1000;
    for (int attempt = 0;; attempt++) {
        if (aborted(abort_at_us))
            return TW_ERR_TIMEOUT;
        int64_t left_ms = (budget_end - now_us()) / 1000;
        if (left_ms <= 0)
            return TW_ERR_IO;           /* the export's budget is spent */
        curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)left_ms);
        curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(left_ms < 2000 ? left_ms : 2000));
        h->resp.len = 0;
        h->errbuf[0] = '\0';
        res->attempts++;
        stall_watch w = { h->stall_fn, h->stall_ud, h->url, len, budget_end };
        int rc = run_transfer(h->multi, h->easy, abort_at_us, &w);
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
            if (h->policy == TWP_HTTP_OTLP) {
                char *ctype = NULL;
                curl_easy_getinfo(h->easy, CURLINFO_CONTENT_TYPE, &ctype);
                res->rejected = rejected_spans(&h->resp, ctype);
            }
            return TW_OK;
        }
        res->failures++;
        describe(res->error, sizeof res->error, rc, code, h->errbuf);
        if (o == OUT_PERMANENT || attempt >= h->retries)
            return TW_ERR_IO;
        int64_t wait_ms = backoff_ms(attempt);
        curl_off_t ra = 0;
        if (rc == CURLE_OK && curl_easy_getinfo(h->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
            ra > 0)
            wait_ms = (int64_t)ra * 1000;
        if (now_us() + wait_ms * 1000 >= budget_end) {
            /* the wait alone would outlast the export's budget: give up now */
            describe(res->error, sizeof res->error, rc, code, h->errbuf);
            return TW_ERR_IO;
        }
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
    int rc = run_transfer(multi, e, abort_at_us, NULL);
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
