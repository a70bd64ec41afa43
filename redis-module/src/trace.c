/* trace.c — spans reported from inside Redis (see trace.h).
 *
 * Per push command: one PRODUCER span "send <key>", child of the pushed
 * context, covering the command's work; its context is what every envelope of
 * that command stores. Per popped traced item: one span "wait <key>", child of
 * the stored context, from the server-clock enqueue time to the server-clock
 * dequeue time; its context is returned to the consumer, whose own span then
 * continues the chain producer -> send -> wait -> consumer. Attributes follow
 * the OpenTelemetry messaging conventions (messaging.system=redis, since
 * "redis" is not a well-known system value, a custom one is allowed).
 *
 * Fast path. Almost every carrier this module sees is one W3C traceparent:
 * the module stores exactly "traceparent: 00-…-0x" (W3C is its default
 * inject format) and producers mostly push the same. Such a carrier is
 * recognised by its shape and goes through the core's traceparent-only
 * functions (tw_span_context_from_traceparent / _to_traceparent, the rules
 * extract and inject use), skipping the generic extract (collect every
 * format, copy, merge) and inject, which cost a few thousand instructions
 * per command. The context is the one the generic path gives (no baggage, no
 * tracestate), and the fast path is only enabled when the configuration
 * makes it so (twrm_trace_setup). Any other carrier, or a traceparent the
 * core rejects, takes the generic path, which also words the errors.
 */
#include "trace.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_KEY_MAX 200   /* bytes of the key kept in a span name */
#define TP_LEN 55          /* a version-00 traceparent value */

/* Set once by twrm_trace_setup at module load (one module instance per
 * process), read-only afterwards. */
static int fast_extract, fast_inject;

static int has_format(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, name, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

void twrm_trace_setup(const tw_config *cfg)
{
    char ex[128] = "", in[128] = "", uber[256] = "";
    fast_extract = fast_inject = 0;
    if (cfg == NULL || tw_config_get(cfg, "propagation.extract", ex, sizeof ex) != TW_OK
        || tw_config_get(cfg, "propagation.inject", in, sizeof in) != TW_OK
        || tw_config_get(cfg, "trace_id_header", uber, sizeof uber) != TW_OK)
        return;
    /* A Jaeger trace header renamed to "traceparent" would be read as Jaeger. */
    fast_extract = has_format(ex, "w3c") && strcasecmp(uber, "traceparent") != 0;
    fast_inject = fast_extract && strcmp(in, "w3c") == 0;
}

/* The traceparent value (TP_LEN bytes at *val) when text is exactly
 *   "traceparent" (':' | ': ' | '=') <55 bytes> ["\n" | "\r\n"]
 * — one entry, which the generic path would parse to the same name and
 * value; NULL otherwise. */
static const char *lone_traceparent(const char *text, size_t len)
{
    if (len < 12 + TP_LEN || memcmp(text, "traceparent", 11) != 0)
        return NULL;
    size_t v = 12;
    if (text[11] == ':') {
        if (text[12] == ' ')
            v = 13;
    } else if (text[11] != '=') {
        return NULL;
    }
    size_t end = v + TP_LEN;
    if (!(len == end || (len == end + 1 && text[end] == '\n')
          || (len == end + 2 && text[end] == '\r' && text[end + 1] == '\n')))
        return NULL;
    return text + v;
}

void twrm_text_init(twrm_text *t)
{
    t->p = t->inline_buf;
    t->len = 0;
    t->cap = sizeof t->inline_buf;
    t->failed = 0;
    t->inline_buf[0] = '\0';
}

void twrm_text_free(twrm_text *t)
{
    if (t->p != t->inline_buf)
        free(t->p);
    twrm_text_init(t);
}

static int text_append(twrm_text *t, const char *s, size_t n)
{
    if (t->failed)
        return -1;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap * 2;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = malloc(cap);
        if (p == NULL) {
            t->failed = 1;
            return -1;
        }
        memcpy(p, t->p, t->len);
        if (t->p != t->inline_buf)
            free(t->p);
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
    return 0;
}

static tw_status span_named(tw_tracer *t, const char *op, const char *key, size_t key_len,
                            const tw_span_context *parent, int64_t start_us, tw_span **out)
{
    char name[16 + NAME_KEY_MAX];
    size_t oplen = strlen(op), kl = key_len > NAME_KEY_MAX ? NAME_KEY_MAX : key_len;
    memcpy(name, op, oplen);
    name[oplen] = ' ';
    memcpy(name + oplen + 1, key, kl);
    tw_span_ref ref = { TW_REF_CHILD_OF, parent };
    return tw_span_start(t, name, oplen + 1 + kl, parent ? &ref : NULL, parent ? 1 : 0, start_us,
                         out);
}

/* Tags through tw_span_set_tag with the lengths known here (no strlen). */
#define LIT(s) s, sizeof(s) - 1

static void tag_str(tw_span *s, const char *k, size_t kl, const char *v, size_t vl)
{
    tw_field f = { .key = k, .key_len = kl, .type = TW_VAL_STRING };
    f.v.str.ptr = v;
    f.v.str.len = vl;
    tw_span_set_tag(s, &f);
}

static void tag_int(tw_span *s, const char *k, size_t kl, int64_t v)
{
    tw_field f = { .key = k, .key_len = kl, .type = TW_VAL_INT64 };
    f.v.i64 = v;
    tw_span_set_tag(s, &f);
}

/* op names the operation both as messaging.operation.type and .name. */
static void messaging_tags(tw_span *s, const char *key, size_t key_len, const char *op,
                           size_t op_len)
{
    tag_str(s, LIT("messaging.system"), LIT("redis"));
    tag_str(s, LIT("messaging.destination.name"), key, key_len);
    tag_str(s, LIT("messaging.operation.type"), op, op_len);
    tag_str(s, LIT("messaging.operation.name"), op, op_len);
}

/* The parent context a carrier names: *parent is new, or NULL when the
 * carrier holds no context. *simple is 1 when that context is ids and flags
 * only (fast path, or nothing), so write_carrier may use the fast inject.
 * Returns NULL, or a static English reason. */
static const char *carrier_parent(tw_tracer *t, const char *carrier, size_t len,
                                  tw_span_context **parent, int *simple)
{
    tw_carrier_text c;
    const char *tp = fast_extract ? lone_traceparent(carrier, len) : NULL;
    *parent = NULL;
    *simple = 0;
    if (tp && tw_span_context_from_traceparent(tp, TP_LEN, parent) == TW_OK) {
        *simple = 1;
        return NULL;
    }
    const char *err;
    if (tw_carrier_text_parse(carrier, len, &c, &err) != TW_OK)
        return err;
    if (c.n == 0) {
        *simple = 1;
        return NULL;
    }
    tw_status st = tw_tracer_extract(t, TW_PROP_DEFAULT, tw_carrier_text_foreach, &c, parent);
    if (st == TW_OK || st == TW_ERR_NOT_FOUND)
        return NULL;
    return st == TW_ERR_NOMEM ? "out of memory" : "malformed trace context in carrier";
}

/* Appends c as a header block to out (the fast path, or the core writer).
 * Returns 0, or -1 (out of memory, or a carrier beyond the carrier text
 * bounds, which no next hop would parse). */
static int write_carrier(tw_tracer *t, const tw_span_context *c, int simple, twrm_text *out)
{
    if (simple && fast_inject) {
        /* what the core's W3C inject writes for a context without
         * tracestate and baggage */
        char tp[13 + TP_LEN];
        memcpy(tp, "traceparent: ", 13);
        tw_span_context_to_traceparent(c, tp + 13);
        return text_append(out, tp, sizeof tp);
    }
    /* the core's carrier text writer, the one Python and Lua use too; a
     * carrier it refuses (over the carrier bounds) would be refused by the
     * next hop's parse anyway */
    char buf[TW_CARRIER_TEXT_MAX_BYTES + 1];
    tw_carrier_text_writer w;
    tw_carrier_text_writer_init(&w, buf, sizeof buf);
    if (tw_tracer_inject(t, c, TW_PROP_DEFAULT, tw_carrier_text_put, &w) != TW_OK)
        return -1;
    return text_append(out, buf, w.len);
}

const char *twrm_trace_send_begin(tw_tracer *t, const char *key, size_t key_len,
                                  const char *carrier, size_t len, size_t nitems,
                                  int64_t now_us, twrm_text *stored, tw_span **span_out)
{
    tw_span_context *parent;
    tw_span *span = NULL;
    int simple;
    *span_out = NULL;
    const char *err = carrier_parent(t, carrier, len, &parent, &simple);
    if (err)
        return err;
    tw_status st = span_named(t, "send", key, key_len, parent, now_us, &span);
    tw_span_context_free(parent);
    if (st != TW_OK)
        return tw_strerror(st);
    tw_span_set_kind(span, TW_KIND_PRODUCER);
    messaging_tags(span, key, key_len, LIT("send"));
    if (nitems > 1)
        tag_int(span, LIT("messaging.batch.message_count"), (int64_t)nitems);
    if (write_carrier(t, tw_span_get_context(span), simple, stored) != 0) {
        tw_span_free(span);
        twrm_text_free(stored);
        return "out of memory";
    }
    *span_out = span;
    return NULL;
}

const char *twrm_trace_send_verbatim(tw_tracer *t, const char *carrier, size_t len,
                                     twrm_text *stored)
{
    tw_span_context *ctx;
    int simple;
    const char *err = carrier_parent(t, carrier, len, &ctx, &simple);
    tw_span_context_free(ctx);
    if (err)
        return err;
    if (text_append(stored, carrier, len))
        return "out of memory";
    return NULL;
}

void twrm_trace_send_end(tw_span *span, int ok)
{
    if (span == NULL)
        return;
    if (ok)
        tw_span_finish(span, 0);
    tw_span_free(span);
}

int twrm_trace_wait(tw_tracer *t, const char *key, size_t key_len, const char *stored,
                    size_t stored_len, int64_t enqueue_us, int64_t now_us, const char *op,
                    twrm_text *out)
{
    tw_span_context *parent = NULL;
    tw_span *span = NULL;
    int simple;
    if (stored_len == 0)
        return 0;
    if (carrier_parent(t, stored, stored_len, &parent, &simple) != NULL || parent == NULL)
        goto verbatim;
    if (span_named(t, "wait", key, key_len, parent, enqueue_us, &span) != TW_OK)
        goto verbatim;
    messaging_tags(span, key, key_len, op, strlen(op));
    tag_int(span, LIT("messaging.redis.queue_wait_us"), twrm_wait_us(now_us, enqueue_us));
    if (write_carrier(t, tw_span_get_context(span), simple, out) != 0) {
        tw_span_free(span);
        twrm_text_free(out);
        goto verbatim;
    }
    tw_span_finish(span, now_us < enqueue_us ? enqueue_us : now_us);
    tw_span_free(span);
    tw_span_context_free(parent);
    return 1;
verbatim:
    tw_span_context_free(parent);
    twrm_text_free(out);
    text_append(out, stored, stored_len);
    return 0;
}

/* ---------------------------------------------------------------- streams */

void twrm_trace_tag_message_id(tw_span *span, const char *id, size_t id_len)
{
    if (span)
        tag_str(span, LIT("messaging.message.id"), id, id_len);
}

int twrm_trace_stream_wait(tw_tracer *t, const char *key, size_t key_len, const char *carrier,
                           size_t len, int64_t enqueue_us, int64_t now_us, const char *id,
                           size_t id_len, long long delivery_count)
{
    tw_span_context *parent = NULL;
    tw_span *span = NULL;
    int simple;
    if (len == 0)
        return 0;
    if (carrier_parent(t, carrier, len, &parent, &simple) != NULL || parent == NULL
        || span_named(t, "wait", key, key_len, parent, enqueue_us, &span) != TW_OK) {
        tw_span_context_free(parent);
        return 0;
    }
    tw_span_context_free(parent);
    messaging_tags(span, key, key_len, LIT("receive"));
    tag_str(span, LIT("messaging.message.id"), id, id_len);
    tag_int(span, LIT("messaging.redis.queue_wait_us"), twrm_wait_us(now_us, enqueue_us));
    if (delivery_count >= 0) {
        tw_field f = { .key = "messaging.redis.redelivered",
                       .key_len = sizeof "messaging.redis.redelivered" - 1, .type = TW_VAL_BOOL };
        f.v.b = 1;
        tw_span_set_tag(span, &f);
        if (delivery_count > 0)
            tag_int(span, LIT("messaging.redis.delivery_count"), delivery_count);
    }
    tw_span_finish(span, now_us < enqueue_us ? enqueue_us : now_us);
    tw_span_free(span);
    return 1;
}
