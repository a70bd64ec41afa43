/* module.c — the tracewire Redis module: traced work queues on plain lists.
 *
 *   MODULE LOAD /path/tracewire.so [key=value ...]
 *     keys are tw_config_set's (service_name=redis reporter.protocols=udp ...)
 *     plus the module's own: tq.max_item_size (bytes, default 536870912) and
 *     tq.spans (on: send/wait spans [default]; off: propagate the pushed
 *     carrier verbatim, no spans).
 *   TQ.PUSH key carrier item [item ...]  -> list length (LPUSH semantics)
 *   TQ.POP key                           -> [item, carrier, enqueue_us, wait_us] | nil
 *   TQ.BPOP key timeout                  -> same, blocking up to timeout seconds (0 = forever)
 *   TQ.MOVE src dst                      -> same; moves the stored value src tail -> dst head
 *   TQ.ACK key item                      -> 1|0; removes the tail-most value of key whose
 *                                           payload is item (ends a TQ.MOVE reliable pop)
 *   TQ.XADD, TQ.XREADGROUP               -> streams: see stream.c
 * Command declarations (arity, flags, key specs, docs) are in commands.c,
 * the tracewire.* configs and their run-time changes in settings.c.
 *
 * Items live in a plain list, each wrapped in the core's envelope (tracewire.h), so
 * RDB, AOF and replicas never need the module: every command replicates its
 * *effect* (LPUSH of the envelopes, RPOP, LMOVE), never itself, and the
 * server-clock enqueue time inside the envelope is computed once, here. Plain
 * items pushed by LPUSH pop with an empty carrier and enqueue/wait of -1. A
 * corrupted envelope at the tail is reported as an error and left in place
 * (RPOP removes it). Blocking pops answer an error inside MULTI and scripts.
 *
 * Global state: one module instance per process (Redis loads a module once),
 * so the tracer and counters live in twrm_g (module.h); OnUnload closes the
 * tracer, which joins the reporter thread. Fork (BGSAVE, AOF rewrite) is covered by
 * the core's pthread_atfork handlers; the child never reports.
 */
#include "redismodule_api.h"
#include "commands.h"
#include "module.h"
#include "settings.h"
#include "trace.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWRM_EXPORT __attribute__((visibility("default")))
#define MAX_TIMEOUT_S 315360000.0   /* ten years */

twrm_state twrm_g;

/* ---------------------------------------------------------------- replies */

static int reply_err(RedisModuleCtx *ctx, const char *fmt, const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    return RedisModule_ReplyWithError(ctx, msg);
}

/* Replies [payload, carrier, enqueue_us, wait_us] for one dequeued value and
 * reports its wait span. */
static void reply_item(RedisModuleCtx *ctx, RedisModuleString *key, const tw_envelope *it,
                       int traced, int64_t now_us, const char *op)
{
    size_t klen;
    const char *k = RedisModule_StringPtrLen(key, &klen);
    RedisModule_ReplyWithArray(ctx, 4);
    RedisModule_ReplyWithStringBuffer(ctx, it->payload, it->payload_len);
    if (traced) {
        twrm_text out;
        twrm_text_init(&out);
        if (twrm_g.spans) {
            twrm_trace_wait(twrm_g.tracer, k, klen, it->carrier, it->carrier_len, it->enqueue_us,
                            now_us, op, &out);
            RedisModule_ReplyWithStringBuffer(ctx, out.p, out.len);
        } else {
            RedisModule_ReplyWithStringBuffer(ctx, it->carrier, it->carrier_len);
        }
        twrm_text_free(&out);
        RedisModule_ReplyWithLongLong(ctx, it->enqueue_us);
        RedisModule_ReplyWithLongLong(ctx, twrm_wait_us(now_us, it->enqueue_us));
        twrm_g.popped++;
    } else {
        RedisModule_ReplyWithStringBuffer(ctx, "", 0);
        RedisModule_ReplyWithLongLong(ctx, -1);
        RedisModule_ReplyWithLongLong(ctx, -1);
        twrm_g.popped_plain++;
    }
}

/* ---------------------------------------------------------------- TQ.PUSH */

static int cmd_push(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    if (argc < 4)
        return RedisModule_WrongArity(ctx);
    size_t klen, clen;
    const char *k = RedisModule_StringPtrLen(argv[1], &klen);
    const char *carrier = RedisModule_StringPtrLen(argv[2], &clen);
    int nitems = argc - 3;
    for (int i = 0; i < nitems; i++) {
        size_t len;
        RedisModule_StringPtrLen(argv[3 + i], &len);
        if (len > twrm_g.max_item) {
            char msg[160];
            snprintf(msg, sizeof msg, "ERR item %d is larger than tq.max_item_size (%zu bytes)",
                     i + 1, twrm_g.max_item);
            return RedisModule_ReplyWithError(ctx, msg);
        }
    }
    /* The type is checked read-only: a refused push must not signal the key
     * modified (other clients' WATCH); it is opened for writing only once
     * every envelope is built. */
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ);
    int type = RedisModule_KeyType(key);
    RedisModule_CloseKey(key);
    if (type != REDISMODULE_KEYTYPE_EMPTY && type != REDISMODULE_KEYTYPE_LIST)
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);

    int64_t now = tw_now_us();
    twrm_text stored;
    tw_span *span = NULL;
    twrm_text_init(&stored);
    const char *err = twrm_g.spans ? twrm_trace_send_begin(twrm_g.tracer, k, klen, carrier, clen,
                                                      (size_t)nitems, now, &stored, &span)
                              : twrm_trace_send_verbatim(twrm_g.tracer, carrier, clen, &stored);
    if (err) {
        twrm_g.rejected_carrier++;
        return reply_err(ctx, "ERR bad carrier: %s%s", err, NULL);
    }

    /* Build every envelope first so that a failure leaves the list unchanged. */
    RedisModuleString *envs_small[16];
    RedisModuleString **envs = nitems <= 16 ? envs_small : malloc(sizeof *envs * (size_t)nitems);
    char stackbuf[1024];            /* small items: no heap round trip per push */
    char *buf = stackbuf;
    size_t bufcap = sizeof stackbuf;
    int built = 0, ok = envs != NULL;
    for (int i = 0; ok && i < nitems; i++) {
        size_t plen;
        const char *p = RedisModule_StringPtrLen(argv[3 + i], &plen);
        size_t need = tw_envelope_size(stored.len, plen);
        if (need == 0) { ok = 0; break; }
        if (need > bufcap) {
            char *nb = realloc(buf == stackbuf ? NULL : buf, need);
            if (nb == NULL) { ok = 0; break; }
            buf = nb;
            bufcap = need;
        }
        tw_envelope_encode(buf, now, stored.p, stored.len, p, plen);
        envs[i] = RedisModule_CreateString(ctx, buf, need);
        built++;
    }
    if (buf != stackbuf)
        free(buf);
    if (!ok) {
        for (int i = 0; i < built; i++) RedisModule_FreeString(ctx, envs[i]);
        if (envs != envs_small) free(envs);
        twrm_trace_send_end(span, 0);
        twrm_text_free(&stored);
        return RedisModule_ReplyWithError(ctx, "ERR out of memory");
    }
    key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
    for (int i = 0; i < nitems; i++)
        RedisModule_ListPush(key, REDISMODULE_LIST_HEAD, envs[i]);
    long long len = (long long)RedisModule_ValueLength(key);
    RedisModule_CloseKey(key);
    RedisModule_Replicate(ctx, "LPUSH", "sv", argv[1], envs, (size_t)nitems);
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_LIST, "lpush", argv[1]);
    RedisModule_SignalKeyAsReady(ctx, argv[1]);
    for (int i = 0; i < nitems; i++) RedisModule_FreeString(ctx, envs[i]);
    if (envs != envs_small) free(envs);
    twrm_trace_send_end(span, 1);
    twrm_text_free(&stored);
    twrm_g.pushed += (unsigned long long)nitems;
    return RedisModule_ReplyWithLongLong(ctx, len);
}

/* ---------------------------------------------------------------- pop core */

enum pop_result { POP_EMPTY, POP_DONE, POP_REPLIED_ERROR };

/* Pops the tail of src (pushing the stored value onto dst's head when dst is
 * not NULL), replies and replicates. Never changes anything when it answers
 * an error or finds nothing.
 *
 * Keys are opened read-only until something will change: closing a key
 * opened for writing signals it modified, which aborts other clients'
 * WATCH ... EXEC, and a poll that finds nothing (or a corrupted tail) must
 * not do that (plain RPOP/LMOVE do not). The tail is read, checked, and only
 * then removed, so a corrupted value never leaves its place. The moved value
 * is never taken out of a one-item list that it goes back into (src == dst):
 * deleting the last element deletes the key and its TTL, where the LMOVE
 * that replicas and the AOF replay keeps both. */
static enum pop_result pop_one(RedisModuleCtx *ctx, RedisModuleString *src,
                               RedisModuleString *dst, const char *op)
{
    RedisModuleKey *sk = RedisModule_OpenKey(ctx, src, REDISMODULE_READ);
    int type = RedisModule_KeyType(sk);
    if (type == REDISMODULE_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(sk);
        return POP_EMPTY;
    }
    if (type != REDISMODULE_KEYTYPE_LIST) {
        RedisModule_CloseKey(sk);
        RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
        return POP_REPLIED_ERROR;
    }
    size_t slen, dlen = 0;
    const char *sname = RedisModule_StringPtrLen(src, &slen);
    const char *dname = dst ? RedisModule_StringPtrLen(dst, &dlen) : NULL;
    int same = dst && slen == dlen && memcmp(sname, dname, slen) == 0;
    if (dst && !same) {
        RedisModuleKey *dk = RedisModule_OpenKey(ctx, dst, REDISMODULE_READ);
        int dt = RedisModule_KeyType(dk);
        RedisModule_CloseKey(dk);
        if (dt != REDISMODULE_KEYTYPE_EMPTY && dt != REDISMODULE_KEYTYPE_LIST) {
            RedisModule_CloseKey(sk);
            RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
            return POP_REPLIED_ERROR;
        }
    }
    size_t n = RedisModule_ValueLength(sk);
    RedisModuleString *val = RedisModule_ListGet(sk, -1);   /* a copy: outlives the key */
    RedisModule_CloseKey(sk);
    if (val == NULL)     /* cannot happen for a non-empty list; stay safe */
        return POP_EMPTY;
    size_t vlen;
    const char *v = RedisModule_StringPtrLen(val, &vlen);
    tw_envelope it;
    const char *why;
    tw_status d = tw_envelope_decode(v, vlen, &it, &why);
    if (d == TW_ERR_CORRUPTED) {
        twrm_g.corrupted++;
        char msg[300];
        snprintf(msg, sizeof msg,
                 "ERR corrupted queue item at the tail of the list (%s); list unchanged, "
                 "remove it with RPOP", why);
        RedisModule_ReplyWithError(ctx, msg);
        RedisModule_FreeString(ctx, val);
        return POP_REPLIED_ERROR;
    }
    int64_t now = tw_now_us();
    sk = RedisModule_OpenKey(ctx, src, REDISMODULE_READ | REDISMODULE_WRITE);
    if (!(same && n == 1)) {          /* a one-item rotation changes nothing */
        RedisModule_ListDelete(sk, -1);
        if (same)
            RedisModule_ListPush(sk, REDISMODULE_LIST_HEAD, val);
    }
    RedisModule_CloseKey(sk);
    if (dst && !same) {
        RedisModuleKey *dk = RedisModule_OpenKey(ctx, dst, REDISMODULE_READ | REDISMODULE_WRITE);
        RedisModule_ListPush(dk, REDISMODULE_LIST_HEAD, val);
        RedisModule_CloseKey(dk);
    }
    if (dst) {
        RedisModule_Replicate(ctx, "LMOVE", "sscc", src, dst, "RIGHT", "LEFT");
        RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_LIST, "rpop", src);
        RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_LIST, "lpush", dst);
        RedisModule_SignalKeyAsReady(ctx, dst);
    } else {
        RedisModule_Replicate(ctx, "RPOP", "s", src);
        RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_LIST, "rpop", src);
    }
    reply_item(ctx, src, &it, d == TW_OK, now, op);
    RedisModule_FreeString(ctx, val);
    return POP_DONE;
}

static int cmd_pop(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (pop_one(ctx, argv[1], NULL, "receive") == POP_EMPTY)
        return RedisModule_ReplyWithNullArray(ctx);
    return REDISMODULE_OK;
}

static int cmd_move(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    if (pop_one(ctx, argv[1], argv[2], "receive") == POP_EMPTY)
        return RedisModule_ReplyWithNullArray(ctx);
    return REDISMODULE_OK;
}

/* ---------------------------------------------------------------- TQ.ACK */

static int cmd_ack(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    /* Read-only while searching: an ACK that matches nothing must not signal
     * the key modified (that would abort other clients' WATCH; LREM does not). */
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ);
    int type = RedisModule_KeyType(key);
    if (type == REDISMODULE_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithLongLong(ctx, 0);
    }
    if (type != REDISMODULE_KEYTYPE_LIST) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
    }
    size_t want_len, n = RedisModule_ValueLength(key);
    const char *want = RedisModule_StringPtrLen(argv[2], &want_len);
    /* Scan from the tail (where TQ.MOVE's oldest in-flight items sit); the
     * module API caches the list position, so a sequential scan is linear. */
    for (size_t i = 0; i < n; i++) {
        long idx = -1 - (long)i;
        RedisModuleString *v = RedisModule_ListGet(key, idx);
        if (v == NULL)
            break;
        size_t vlen;
        const char *vp = RedisModule_StringPtrLen(v, &vlen);
        tw_envelope it;
        tw_status d = tw_envelope_decode(vp, vlen, &it, NULL);
        if (d != TW_ERR_CORRUPTED && it.payload_len == want_len
            && memcmp(it.payload, want, want_len) == 0) {
            RedisModule_CloseKey(key);
            key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
            RedisModule_ListDelete(key, idx);
            RedisModule_CloseKey(key);
            /* LREM -1 removes the tail-most value equal to this one, which is
             * this element: any equal value nearer the tail would have matched first. */
            RedisModule_Replicate(ctx, "LREM", "sls", argv[1], -1LL, v);
            RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_LIST, "lrem", argv[1]);
            RedisModule_FreeString(ctx, v);
            return RedisModule_ReplyWithLongLong(ctx, 1);
        }
        RedisModule_FreeString(ctx, v);
    }
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithLongLong(ctx, 0);
}

/* ---------------------------------------------------------------- TQ.BPOP */

static int bpop_ready(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    (void)argv;
    (void)argc;
    RedisModuleString *key = RedisModule_GetBlockedClientReadyKey(ctx);
    if (key == NULL || pop_one(ctx, key, NULL, "receive") == POP_EMPTY)
        return REDISMODULE_ERR;   /* keep waiting */
    return REDISMODULE_OK;
}

static int bpop_timeout(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    (void)argv;
    (void)argc;
    return RedisModule_ReplyWithNullArray(ctx);
}

static int cmd_bpop(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    double secs;
    if (RedisModule_StringToDouble(argv[2], &secs) != REDISMODULE_OK || !isfinite(secs))
        return RedisModule_ReplyWithError(ctx, "ERR timeout is not a float or out of range");
    if (secs < 0)
        return RedisModule_ReplyWithError(ctx, "ERR timeout is negative");
    if (secs > MAX_TIMEOUT_S)
        return RedisModule_ReplyWithError(ctx, "ERR timeout is out of range (max 315360000 seconds)");
    enum pop_result r = pop_one(ctx, argv[1], NULL, "receive");
    if (r != POP_EMPTY)
        return REDISMODULE_OK;
    if (RedisModule_GetContextFlags(ctx)
        & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA | REDISMODULE_CTX_FLAGS_DENY_BLOCKING))
        return RedisModule_ReplyWithError(
            ctx, "ERR TQ.BPOP cannot block inside MULTI, scripts or module calls; use TQ.POP");
    long long ms = (long long)ceil(secs * 1000.0);
    RedisModule_BlockClientOnKeys(ctx, bpop_ready, bpop_timeout, NULL, ms, &argv[1], 1, NULL);
    return REDISMODULE_OK;
}

/* ---------------------------------------------------------------- INFO */

static void info_cb(RedisModuleInfoCtx *ctx, int for_crash_report)
{
    (void)for_crash_report;
    RedisModule_InfoAddSection(ctx, "queue");
    RedisModule_InfoAddFieldULongLong(ctx, "items_pushed", twrm_g.pushed);
    RedisModule_InfoAddFieldULongLong(ctx, "items_popped_traced", twrm_g.popped);
    RedisModule_InfoAddFieldULongLong(ctx, "items_popped_plain", twrm_g.popped_plain);
    RedisModule_InfoAddFieldULongLong(ctx, "corrupted_items_refused", twrm_g.corrupted);
    RedisModule_InfoAddFieldULongLong(ctx, "pushes_refused_bad_carrier", twrm_g.rejected_carrier);
    RedisModule_InfoAddFieldULongLong(ctx, "stream_entries_added", twrm_g.xadded);
    RedisModule_InfoAddFieldULongLong(ctx, "stream_entries_delivered_traced", twrm_g.xdelivered);
    RedisModule_InfoAddFieldULongLong(ctx, "stream_entries_delivered_plain", twrm_g.xdelivered_plain);
    RedisModule_InfoAddFieldULongLong(ctx, "stream_entries_redelivered", twrm_g.xredelivered);
    if (twrm_g.tracer && !for_crash_report) {
        tw_counters c;
        twrm_settings_counters(&c);
        RedisModule_InfoAddSection(ctx, "reporter");
        RedisModule_InfoAddFieldCString(ctx, "service_name", tw_tracer_service_name(twrm_g.tracer));
        /* every counter the core names (tw_counters_at), under its name */
        const char *name;
        uint64_t v;
        for (size_t i = 0; tw_counters_at(&c, i, &name, &v); i++)
            RedisModule_InfoAddFieldULongLong(ctx, name, v);
        twrm_settings_info(ctx);
    }
}

/* ---------------------------------------------------------------- load/unload */

tw_status twrm_tracer_new(const tw_config *cfg, tw_tracer **out)
{
    return tw_tracer_new(cfg, out);
}

static int configure(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, tw_config *cfg)
{
    for (int i = 0; i < argc; i++) {
        size_t len;
        const char *a = RedisModule_StringPtrLen(argv[i], &len);
        const char *eq = memchr(a, '=', len);
        if (eq == NULL || eq == a || memchr(a, '\0', len)) {
            RedisModule_Log(ctx, "warning", "tracewire: argument '%s' is not key=value", a);
            return -1;
        }
        char keybuf[128];
        size_t kl = (size_t)(eq - a);
        if (kl >= sizeof keybuf) {
            RedisModule_Log(ctx, "warning", "tracewire: argument key too long");
            return -1;
        }
        memcpy(keybuf, a, kl);
        keybuf[kl] = '\0';
        const char *val = eq + 1;
        if (strcmp(keybuf, "tq.max_item_size") == 0) {
            const char *why = twrm_parse_max_item(val, &twrm_g.max_item);
            if (why) {
                RedisModule_Log(ctx, "warning", "tracewire: tq.max_item_size '%s' %s", val, why);
                return -1;
            }
            continue;
        }
        if (strcmp(keybuf, "tq.spans") == 0) {
            if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0) {
                RedisModule_Log(ctx, "warning", "tracewire: tq.spans must be on or off");
                return -1;
            }
            twrm_g.spans = strcmp(val, "on") == 0;
            continue;
        }
        tw_status st = tw_config_set(cfg, keybuf, val);
        if (st != TW_OK) {
            RedisModule_Log(ctx, "warning", "tracewire: %s=%s: %s", keybuf, val, tw_strerror(st));
            return -1;
        }
    }
    return 0;
}

TWRM_EXPORT int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    const char *missing;
    if (twrm_api_init(ctx, "tracewire", TW_VERSION_NUM, &missing) != REDISMODULE_OK) {
        if (RedisModule_Log)
            RedisModule_Log(ctx, "warning", "tracewire: cannot load: %s", missing);
        return REDISMODULE_ERR;
    }
    memset(&twrm_g, 0, sizeof twrm_g);
    twrm_g.max_item = 536870912;
    twrm_g.spans = 1;
    /* settings: defaults < environment < module configs < MODULE LOAD args */
    if (twrm_settings_init(ctx) != 0
        || configure(ctx, argv, argc, twrm_settings_config()) != 0
        || twrm_tracer_new(twrm_settings_config(), &twrm_g.tracer) != TW_OK) {
        twrm_settings_free();
        twrm_g.tracer = NULL;
        return REDISMODULE_ERR;
    }
    twrm_trace_setup(twrm_settings_config());
    if (twrm_command_create(ctx, "tq.push", cmd_push) != REDISMODULE_OK
        || twrm_command_create(ctx, "tq.pop", cmd_pop) != REDISMODULE_OK
        || twrm_command_create(ctx, "tq.bpop", cmd_bpop) != REDISMODULE_OK
        || twrm_command_create(ctx, "tq.move", cmd_move) != REDISMODULE_OK
        || twrm_command_create(ctx, "tq.ack", cmd_ack) != REDISMODULE_OK
        || twrm_command_create(ctx, "tq.xadd", twrm_cmd_xadd) != REDISMODULE_OK
        || twrm_command_create(ctx, "tq.xreadgroup", twrm_cmd_xreadgroup) != REDISMODULE_OK
        || RedisModule_RegisterInfoFunc(ctx, info_cb) != REDISMODULE_OK) {
        tw_tracer_free(twrm_g.tracer);
        twrm_g.tracer = NULL;
        twrm_settings_free();
        return REDISMODULE_ERR;
    }
    twrm_settings_loaded();
    RedisModule_Log(ctx, "notice", "tracewire: loaded, service %s", tw_tracer_service_name(twrm_g.tracer));
    return REDISMODULE_OK;
}

TWRM_EXPORT int RedisModule_OnUnload(RedisModuleCtx *ctx)
{
    (void)ctx;
    if (twrm_g.tracer) {
        tw_tracer_close(twrm_g.tracer, 2000);
        tw_tracer_free(twrm_g.tracer);
        twrm_g.tracer = NULL;
    }
    twrm_settings_free();
    return REDISMODULE_OK;
}
