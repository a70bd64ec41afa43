/* http_options.h — private: what an HTTP sender (Thrift HTTP, OTLP/HTTP) is
 * built from beyond its URL: extra request headers, body encoding, TLS files,
 * the retry policy and the export time budget (transport_http.c). */
#ifndef TW_HTTP_OPTIONS_H
#define TW_HTTP_OPTIONS_H

#include "transport.h"

/* Every string is borrowed for the call (copied). NULL or "" = not set. */
typedef struct twp_http_opts {
    const char *url;
    const char *content_type;
    /* "name=value,name2=value2" (OTEL_EXPORTER_OTLP_HEADERS' form): values are
     * percent-decoded, blanks around items, names and values trimmed. */
    const char *headers;
    const char *content_encoding;   /* e.g. "gzip": the caller compresses */
    const char *ca_file;            /* PEM bundle to verify the server (https);
                                     * NULL: the system CA store */
    const char *cert_file, *key_file;   /* PEM client certificate and its key */
    twp_http_policy policy;
    int timeout_ms;                 /* budget of one export, retries and waits included */
    int retries;                    /* at most this many retries within the budget */
} twp_http_opts;

/* new (twp_http_free). TW_ERR_INVALID_ARG for a bad header list or no URL. */
tw_status twp_http_new_opts(const twp_http_opts *o, twp_http **out);

/* Checks a header list as twp_http_new_opts reads it: each item name=value,
 * name an RFC 7230 token, value (after percent-decoding) without control
 * characters. TW_OK, or TW_ERR_INVALID_ARG. */
tw_status twp_http_headers_check(const char *headers);

#endif /* TW_HTTP_OPTIONS_H */
