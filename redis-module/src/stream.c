/* stream.c — trace context through Redis Streams and consumer groups.
 *
 *   TQ.XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]] id carrier field value ...
 *       XADD with the carrier's context stored as ordinary fields before the
 *       caller's (traceparent, and tracestate/baggage when present: the
 *       headers the core injects, W3C by default), so any consumer — with or
 *       without the module, in any language — reads the context. Reports a
 *       PRODUCER span "send <key>" tagged with the entry id. Replies what XADD
 *       replies.
 *   TQ.XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key ... id ...
 *       Replies exactly what XREADGROUP replies, and reports per delivered
 *       entry that carries a context a "wait <key>" span from the entry id's
 *       milliseconds to the delivery, child of the entry's context; entries
 *       read from the pending list (an id other than '>') are redeliveries,
 *       tagged so with their delivery count (from XPENDING).
 *
 * Both run the plain command through RedisModule_Call with replication on
 * ('!'), so replicas and the AOF receive only what XADD and XREADGROUP
 * propagate themselves (XADD with the resolved id and exact trimming, the
 * XCLAIM / XGROUP SETID effects of a read): a server without the module ends
 * with identical streams, groups and PELs. Errors are the plain commands'
 * own ('E': errors come back as replies, relayed verbatim), so the same
 * mistakes give the same errors, and nothing is stored or acknowledged when
 * one is answered. The module's own errors: a bad carrier, a caller field
 * named like a carrier header, arity.
 *
 * Blocking. A command run through RedisModule_Call may not block (the server
 * treats BLOCK as an immediate timeout there), so TQ.XREADGROUP runs the read
 * once; when it answers nil and BLOCK was given, the client blocks on the
 * stream keys and the read is run again each time one of them is signalled
 * (XADD, TQ.XADD), until it answers entries or the timeout answers nil — the
 * reply plain XREADGROUP gives. Inside MULTI or a script it does not block,
 * as plain XREADGROUP does not.
 *
 * Cluster: the keys follow STREAMS; the command is flagged getkeys-api and
 * names them here when the server asks, parsing as XREADGROUP does (the key
 * spec in commands.c, which COMMAND GETKEYS reads, finds the first STREAMS
 * from argv[4], as XREADGROUP's own does: the same keys unless a group or
 * consumer is itself named STREAMS after other options).
 */
#include "module.h"
#include "trace.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int arg_is(RedisModuleString *s, const char *word)
{
    size_t len, wl = strlen(word);
    const char *p = RedisModule_StringPtrLen(s, &len);
    return len == wl && strncasecmp(p, word, wl) == 0;
}

/* Field names read back as the carrier: every header name the core injects
 * or extracts, from the core (tw_header_names), the list the Python and Lua
 * stream helpers use too. */
typedef struct field_probe {
    const char *n;
    size_t l;
    int found;
} field_probe;

static int probe_name(void *ud, const char *name, size_t len, int is_prefix)
{
    field_probe *p = ud;
    if (is_prefix ? (p->l > len && strncasecmp(p->n, name, len) == 0)
                  : (p->l == len && strncasecmp(p->n, name, len) == 0))
        p->found = 1;
    return p->found;
}

static int is_carrier_field(const char *n, size_t l)
{
    field_probe p = { n, l, 0 };
    tw_header_names(TW_PROP_ALL, probe_name, &p);
    return p.found;
}

/* ---------------------------------------------------------------- TQ.XADD */

/* Index of the id argument, skipping XADD's options the way XADD parses
 * them (an unparsable option list is left for XADD to refuse). */
static int xadd_id_index(RedisModuleString **argv, int argc)
{
    int i = 2;
    for (; i < argc; i++) {
        int more = argc - 1 - i;
        if (arg_is(argv[i], "*"))
            break;
        if ((arg_is(argv[i], "MAXLEN") || arg_is(argv[i], "MINID")) && more) {
            if (more >= 2 && (arg_is(argv[i + 1], "=") || arg_is(argv[i + 1], "~")))
                i++;
            i++;
        } else if (arg_is(argv[i], "LIMIT") && more) {
            i++;
        } else if (!arg_is(argv[i], "NOMKSTREAM")) {
            break;
        }
    }
    return i;
}

int twrm_cmd_xadd(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    if (argc < 6)
        return RedisModule_WrongArity(ctx);
    int id = xadd_id_index(argv, argc), fields = id + 2;
    if (fields >= argc || (argc - fields) % 2 != 0)
        return RedisModule_WrongArity(ctx);
    for (int j = fields; j < argc; j += 2) {
        size_t fl;
        const char *f = RedisModule_StringPtrLen(argv[j], &fl);
        if (is_carrier_field(f, fl)) {
            char msg[200];
            snprintf(msg, sizeof msg, "ERR field '%.*s' is reserved for the trace context "
                     "(TQ.XADD writes it from the carrier)", (int)(fl > 64 ? 64 : fl), f);
            return RedisModule_ReplyWithError(ctx, msg);
        }
    }
    size_t klen, clen;
    const char *k = RedisModule_StringPtrLen(argv[1], &klen);
    const char *carrier = RedisModule_StringPtrLen(argv[id + 1], &clen);
    twrm_text stored;
    tw_span *span = NULL;
    twrm_text_init(&stored);
    const char *err = twrm_g.spans
        ? twrm_trace_send_begin(twrm_g.tracer, k, klen, carrier, clen, 1, tw_now_us(), &stored, &span)
        : twrm_trace_send_verbatim(twrm_g.tracer, carrier, clen, &stored);
    tw_carrier_text c;
    if (err == NULL)
        tw_carrier_text_parse(stored.p, stored.len, &c, &err);   /* err: NULL when it parses */
    if (err) {
        twrm_trace_send_end(span, 0);
        twrm_text_free(&stored);
        twrm_g.rejected_carrier++;
        char msg[200];
        snprintf(msg, sizeof msg, "ERR bad carrier: %s", err);
        return RedisModule_ReplyWithError(ctx, msg);
    }

    /* XADD key [options] id, the carrier fields, then the caller's fields. */
    size_t n = (size_t)id + 2 * c.n + (size_t)(argc - fields);
    RedisModuleString **vec = malloc(n * sizeof *vec);
    if (vec == NULL) {
        twrm_trace_send_end(span, 0);
        twrm_text_free(&stored);
        return RedisModule_ReplyWithError(ctx, "ERR out of memory");
    }
    size_t at = 0;
    for (int j = 1; j <= id; j++)
        vec[at++] = argv[j];
    size_t first_new = at;
    for (size_t e = 0; e < c.n; e++) {
        vec[at++] = RedisModule_CreateString(ctx, c.e[e].name, c.e[e].name_len);
        vec[at++] = RedisModule_CreateString(ctx, c.e[e].val, c.e[e].val_len);
    }
    size_t end_new = at;
    for (int j = fields; j < argc; j++)
        vec[at++] = argv[j];
    RedisModuleCallReply *rep = RedisModule_Call(ctx, "XADD", "!E0v", vec, n);
    for (size_t j = first_new; j < end_new; j++)
        RedisModule_FreeString(ctx, vec[j]);
    free(vec);
    twrm_text_free(&stored);
    if (rep == NULL) {
        twrm_trace_send_end(span, 0);
        return RedisModule_ReplyWithError(ctx, "ERR XADD could not run");
    }
    if (RedisModule_CallReplyType(rep) == REDISMODULE_REPLY_STRING) {
        size_t il;
        const char *eid = RedisModule_CallReplyStringPtr(rep, &il);
        twrm_trace_tag_message_id(span, eid, il);
        twrm_trace_send_end(span, 1);
        twrm_g.xadded++;
    } else {
        twrm_trace_send_end(span, 0);     /* an error, or nil (NOMKSTREAM): nothing added */
    }
    RedisModule_ReplyWithCallReply(ctx, rep);
    RedisModule_FreeCallReply(rep);
    return REDISMODULE_OK;
}

/* ---------------------------------------------------------------- TQ.XREADGROUP */

/* What TQ.XREADGROUP needs of its arguments, found the way XREADGROUP
 * parses them (options in any order, then STREAMS key ... id ...): where the
 * group name and STREAMS are, and BLOCK's milliseconds. Anything XREADGROUP
 * would refuse is left for it to refuse (it answers the error). */
typedef struct {
    int group;        /* index of the group name (the consumer follows); 0: none */
    int streams;      /* index of STREAMS; 0: none */
    int nkeys;        /* keys after STREAMS (half of what follows) */
    long long block;  /* BLOCK ms; -1 when absent or unparsable */
} xrg_args;

static xrg_args parse_xreadgroup(RedisModuleString **argv, int argc)
{
    xrg_args a = { 0, 0, 0, -1 };
    for (int i = 1; i < argc; i++) {
        int more = argc - 1 - i;
        if (arg_is(argv[i], "BLOCK") && more) {
            i++;
            if (RedisModule_StringToLongLong(argv[i], &a.block) != REDISMODULE_OK || a.block < 0)
                a.block = -1;
        } else if (arg_is(argv[i], "COUNT") && more) {
            i++;
        } else if (arg_is(argv[i], "STREAMS") && more) {
            a.streams = i;
            a.nkeys = (argc - i - 1) / 2;
            break;
        } else if (arg_is(argv[i], "GROUP") && more >= 2) {
            a.group = i + 1;
            i += 2;
        } else if (!arg_is(argv[i], "NOACK")) {
            break;
        }
    }
    return a;
}

static RedisModuleCallReply *call_xreadgroup(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    return RedisModule_Call(ctx, "XREADGROUP", "!E0v", argv + 1, (size_t)(argc - 1));
}

/* The delivery count XPENDING reports for entry id of group; 0 if unknown. */
static long long delivery_count(RedisModuleCtx *ctx, const char *key, size_t klen,
                                RedisModuleString *group, const char *id, size_t idlen)
{
    long long n = 0;
    RedisModuleCallReply *r = RedisModule_Call(ctx, "XPENDING", "bsbbc", key, klen, group, id,
                                               idlen, id, idlen, "1");
    if (r && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ARRAY
        && RedisModule_CallReplyLength(r) == 1) {
        RedisModuleCallReply *e = RedisModule_CallReplyArrayElement(r, 0);
        if (e && RedisModule_CallReplyType(e) == REDISMODULE_REPLY_ARRAY
            && RedisModule_CallReplyLength(e) == 4)
            n = RedisModule_CallReplyInteger(RedisModule_CallReplyArrayElement(e, 3));
    }
    if (r)
        RedisModule_FreeCallReply(r);
    return n;
}

/* The entry id's milliseconds in microseconds (saturated). */
static int64_t id_us(const char *id, size_t len)
{
    uint64_t ms = 0;
    for (size_t i = 0; i < len && isdigit((unsigned char)id[i]); i++) {
        ms = ms * 10 + (uint64_t)(id[i] - '0');
        if (ms > (uint64_t)INT64_MAX / 1000)
            return INT64_MAX;
    }
    return (int64_t)ms * 1000;
}

/* Reports the wait spans of one stream's delivered entries. */
static void stream_entries(RedisModuleCtx *ctx, RedisModuleString **argv, const xrg_args *xa,
                           RedisModuleCallReply *keyrep, RedisModuleCallReply *entries,
                           int64_t now)
{
    size_t klen;
    const char *key = RedisModule_CallReplyStringPtr(keyrep, &klen);
    if (key == NULL || RedisModule_CallReplyType(entries) != REDISMODULE_REPLY_ARRAY
        || xa->group == 0)
        return;
    int history = 0;
    for (int i = 0; i < xa->nkeys; i++) {
        size_t al;
        const char *a = RedisModule_StringPtrLen(argv[xa->streams + 1 + i], &al);
        if (al == klen && memcmp(a, key, klen) == 0) {
            history = !arg_is(argv[xa->streams + 1 + xa->nkeys + i], ">");
            break;
        }
    }
    RedisModuleString *group = argv[xa->group], *consumer = argv[xa->group + 1];
    size_t n = RedisModule_CallReplyLength(entries);
    char carrier_buf[TW_CARRIER_TEXT_MAX_BYTES + 1];
    for (size_t e = 0; e < n; e++) {
        RedisModuleCallReply *ent = RedisModule_CallReplyArrayElement(entries, e);
        if (ent == NULL || RedisModule_CallReplyType(ent) != REDISMODULE_REPLY_ARRAY
            || RedisModule_CallReplyLength(ent) != 2)
            continue;
        size_t idlen;
        const char *id = RedisModule_CallReplyStringPtr(RedisModule_CallReplyArrayElement(ent, 0),
                                                        &idlen);
        RedisModuleCallReply *fv = RedisModule_CallReplyArrayElement(ent, 1);
        if (id == NULL || fv == NULL || RedisModule_CallReplyType(fv) != REDISMODULE_REPLY_ARRAY)
            continue;                     /* a pending entry deleted since: [id, nil] */
        /* the carrier fields as carrier text, by the core's writer (the one
         * TQ.PUSH's stored carriers and the Python/Lua helpers use); a field
         * it refuses makes a carrier no parse would read: delivered as
         * traced, no wait span, as a malformed carrier always was */
        tw_carrier_text_writer w;
        tw_carrier_text_writer_init(&w, carrier_buf, sizeof carrier_buf);
        size_t nf = RedisModule_CallReplyLength(fv);
        for (size_t f = 0; f + 1 < nf; f += 2) {
            size_t fl, vl;
            const char *fn = RedisModule_CallReplyStringPtr(RedisModule_CallReplyArrayElement(fv, f), &fl);
            const char *v = RedisModule_CallReplyStringPtr(RedisModule_CallReplyArrayElement(fv, f + 1), &vl);
            if (fn == NULL || v == NULL || !is_carrier_field(fn, fl))
                continue;
            tw_carrier_text_put(&w, fn, fl, v, vl);
        }
        long long count = history ? delivery_count(ctx, key, klen, group, id, idlen) : -1;
        if (count > 0) {
            /* A read of the pending list raises each entry's delivery count
             * and time, and XREADGROUP propagates neither: replicas and the
             * AOF would keep the old count. Replicate the effect as an XCLAIM
             * by the same consumer setting the count and the time (JUSTID:
             * no further increment). */
            RedisModule_Replicate(ctx, "XCLAIM", "bsscbclclc", key, klen, group, consumer, "0",
                                  id, idlen, "TIME", (long long)(now / 1000), "RETRYCOUNT", count,
                                  "JUSTID");
        }
        if (w.n == 0 && w.status == TW_OK) {
            twrm_g.xdelivered_plain++;
        } else {
            if (history)
                twrm_g.xredelivered++;
            if (twrm_g.spans && w.status == TW_OK)
                twrm_trace_stream_wait(twrm_g.tracer, key, klen, w.buf, w.len,
                                       id_us(id, idlen), now, id, idlen, history ? count : -1);
            twrm_g.xdelivered++;
        }
    }
}

/* Reports the spans of a read's reply, then relays the reply and frees it. */
static void deliver(RedisModuleCtx *ctx, RedisModuleString **argv, int argc,
                    RedisModuleCallReply *rep)
{
    xrg_args xa = parse_xreadgroup(argv, argc);
    if (rep == NULL) {
        RedisModule_ReplyWithError(ctx, "ERR XREADGROUP could not run");
        return;
    }
    int64_t now = tw_now_us();
    int type = RedisModule_CallReplyType(rep);
    size_t n = type == REDISMODULE_REPLY_ARRAY || type == REDISMODULE_REPLY_MAP
                   ? RedisModule_CallReplyLength(rep) : 0;     /* nil, or an error to relay */
    for (size_t i = 0; i < n; i++) {
        RedisModuleCallReply *k = NULL, *v = NULL;
        if (type == REDISMODULE_REPLY_ARRAY) {          /* RESP2: [[key, entries], ...] */
            RedisModuleCallReply *kv = RedisModule_CallReplyArrayElement(rep, i);
            if (kv && RedisModule_CallReplyType(kv) == REDISMODULE_REPLY_ARRAY
                && RedisModule_CallReplyLength(kv) == 2) {
                k = RedisModule_CallReplyArrayElement(kv, 0);
                v = RedisModule_CallReplyArrayElement(kv, 1);
            }
        } else if (type == REDISMODULE_REPLY_MAP && RedisModule_CallReplyMapElement) {
            RedisModule_CallReplyMapElement(rep, i, &k, &v);    /* RESP3: {key: entries} */
        }
        if (k && v)
            stream_entries(ctx, argv, &xa, k, v, now);
    }
    RedisModule_ReplyWithCallReply(ctx, rep);
    RedisModule_FreeCallReply(rep);
}

static int xrg_ready(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    RedisModuleCallReply *rep = call_xreadgroup(ctx, argv, argc);
    if (rep && RedisModule_CallReplyType(rep) == REDISMODULE_REPLY_NULL) {
        RedisModule_FreeCallReply(rep);
        return REDISMODULE_ERR;                         /* nothing yet: keep waiting */
    }
    deliver(ctx, argv, argc, rep);
    return REDISMODULE_OK;
}

static int xrg_timeout(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    (void)argv;
    (void)argc;
    return RedisModule_ReplyWithNullArray(ctx);
}

int twrm_cmd_xreadgroup(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    xrg_args xa = parse_xreadgroup(argv, argc);
    if (RedisModule_IsKeysPositionRequest(ctx)) {
        for (int i = 0; xa.streams && i < xa.nkeys; i++)
            RedisModule_KeyAtPos(ctx, xa.streams + 1 + i);
        return REDISMODULE_OK;
    }
    if (argc < 7)
        return RedisModule_WrongArity(ctx);
    RedisModuleCallReply *rep = call_xreadgroup(ctx, argv, argc);
    if (rep && RedisModule_CallReplyType(rep) == REDISMODULE_REPLY_NULL && xa.block >= 0
        && xa.nkeys > 0
        && !(RedisModule_GetContextFlags(ctx) & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA
                                                 | REDISMODULE_CTX_FLAGS_DENY_BLOCKING))) {
        RedisModule_FreeCallReply(rep);
        RedisModule_BlockClientOnKeys(ctx, xrg_ready, xrg_timeout, NULL, xa.block,
                                      argv + xa.streams + 1, xa.nkeys, NULL);
        return REDISMODULE_OK;
    }
    deliver(ctx, argv, argc, rep);
    return REDISMODULE_OK;
}
