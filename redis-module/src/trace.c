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
 */
#include "trace.h"
#include "carrier.h"

#include <stdlib.h>
#include <string.h>

#define NAME_KEY_MAX 200   /* bytes of the key kept in a span name */

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

static int inject_line(void *ud, const char *k, size_t klen, const char *v, size_t vlen)
{
    twrm_text *t = ud;
    if (t->len && text_append(t, "\n", 1)) return 1;
    if (text_append(t, k, klen) || text_append(t, ": ", 2) || text_append(t, v, vlen))
        return 1;
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

static void messaging_tags(tw_span *s, const char *key, size_t key_len, const char *optype)
{
    tw_field f = { .key = "messaging.destination.name", .key_len = 26, .type = TW_VAL_STRING };
    f.v.str.ptr = key;
    f.v.str.len = key_len;
    tw_span_set_tag_str(s, "messaging.system", "redis");
    tw_span_set_tag(s, &f);
    tw_span_set_tag_str(s, "messaging.operation.type", optype);
}

const char *twrm_trace_send_begin(tw_tracer *t, const char *key, size_t key_len,
                                  const char *carrier, size_t len, size_t nitems,
                                  int64_t now_us, twrm_text *stored, tw_span **span_out)
{
    twrm_carrier c;
    tw_span_context *parent = NULL;
    tw_span *span = NULL;
    const char *err = twrm_carrier_parse(carrier, len, &c);
    *span_out = NULL;
    if (err)
        return err;
    if (c.n) {
        tw_status st = tw_tracer_extract(t, TW_PROP_DEFAULT, twrm_carrier_foreach, &c, &parent);
        if (st == TW_ERR_NOT_FOUND)
            parent = NULL;
        else if (st != TW_OK)
            return st == TW_ERR_NOMEM ? "out of memory" : "malformed trace context in carrier";
    }
    tw_status st = span_named(t, "send", key, key_len, parent, now_us, &span);
    tw_span_context_free(parent);
    if (st != TW_OK)
        return tw_strerror(st);
    tw_span_set_kind(span, TW_KIND_PRODUCER);
    messaging_tags(span, key, key_len, "send");
    tw_span_set_tag_str(span, "messaging.operation.name", "send");
    if (nitems > 1)
        tw_span_set_tag_int(span, "messaging.batch.message_count", (int64_t)nitems);
    if (tw_tracer_inject(t, tw_span_get_context(span), TW_PROP_DEFAULT, inject_line, stored) != TW_OK
        || stored->failed) {
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
    twrm_carrier c;
    tw_span_context *ctx = NULL;
    const char *err = twrm_carrier_parse(carrier, len, &c);
    if (err)
        return err;
    if (c.n) {
        tw_status st = tw_tracer_extract(t, TW_PROP_DEFAULT, twrm_carrier_foreach, &c, &ctx);
        tw_span_context_free(ctx);
        if (st != TW_OK && st != TW_ERR_NOT_FOUND)
            return st == TW_ERR_NOMEM ? "out of memory" : "malformed trace context in carrier";
    }
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
    twrm_carrier c;
    tw_span_context *parent = NULL;
    tw_span *span = NULL;
    int reported = 0;
    if (stored_len == 0)
        return 0;
    if (twrm_carrier_parse(stored, stored_len, &c) != NULL || c.n == 0
        || tw_tracer_extract(t, TW_PROP_DEFAULT, twrm_carrier_foreach, &c, &parent) != TW_OK)
        goto verbatim;
    if (span_named(t, "wait", key, key_len, parent, enqueue_us, &span) != TW_OK)
        goto verbatim;
    messaging_tags(span, key, key_len, "receive");
    tw_span_set_tag_str(span, "messaging.operation.name", op);
    tw_span_set_tag_int(span, "messaging.redis.queue_wait_us", now_us - enqueue_us);
    if (tw_tracer_inject(t, tw_span_get_context(span), TW_PROP_DEFAULT, inject_line, out) != TW_OK
        || out->failed) {
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
    return reported;
}
