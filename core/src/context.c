/* context.c — immutable span contexts.
 *
 * A context is built once and never changes, so it can be shared between
 * threads and borrowed by spans without locks. Every context is ONE malloc:
 *
 *     [struct tw_span_context][twp_baggage_item x n][key\0 val\0 ...][debug_id\0][tracestate\0]
 *
 * so copying is one allocation plus memcpy-sized work and freeing is one
 * free(). "Changing" baggage builds a new context (twp_context_with_baggage).
 * Every string is stored NUL-terminated (handy for C callers) but lengths are
 * authoritative: baggage values may contain NUL bytes (W3C %00).
 *
 * The binary form follows Jaeger's BINARY carrier: trace hi, trace lo, span id,
 * parent id as big-endian u64, flags as one byte, a big-endian u32 baggage
 * count, then per item a u32 key length, key, u32 value length, value.
 */
#include "context.h"
#include "trace_flags.h"

#include <stdlib.h>
#include <string.h>

/* Adds b to *acc; false on size_t overflow. */
static bool add_size(size_t *acc, size_t b)
{
    if (b > SIZE_MAX - *acc)
        return false;
    *acc += b;
    return true;
}

/* Copies n bytes to *cursor, NUL-terminates, returns the copy. */
static const char *place(char **cursor, const char *s, size_t n)
{
    char *dst = *cursor;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
    *cursor = dst + n + 1;
    return dst;
}

tw_status twp_context_build(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
                            uint64_t parent_id, unsigned flags,
                            const twp_baggage_item *baggage, uint32_t nbaggage,
                            const char *debug_id, size_t debug_id_len,
                            const char *tracestate, size_t tracestate_len,
                            tw_span_context **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if ((nbaggage && !baggage) || (debug_id_len && !debug_id) || (tracestate_len && !tracestate))
        return TW_ERR_INVALID_ARG;
    if (debug_id_len > UINT32_MAX || tracestate_len > UINT32_MAX)
        return TW_ERR_TOO_LARGE;

    size_t total = sizeof(tw_span_context);
    if ((size_t)nbaggage > (SIZE_MAX - total) / sizeof(twp_baggage_item))
        return TW_ERR_TOO_LARGE;
    total += (size_t)nbaggage * sizeof(twp_baggage_item);
    for (uint32_t i = 0; i < nbaggage; i++) {
        if ((baggage[i].key_len && !baggage[i].key) || (baggage[i].val_len && !baggage[i].val))
            return TW_ERR_INVALID_ARG;
        if (!add_size(&total, (size_t)baggage[i].key_len + 1) ||
            !add_size(&total, (size_t)baggage[i].val_len + 1))
            return TW_ERR_TOO_LARGE;
    }
    if (debug_id && !add_size(&total, debug_id_len + 1))
        return TW_ERR_TOO_LARGE;
    if (tracestate && !add_size(&total, tracestate_len + 1))
        return TW_ERR_TOO_LARGE;

    char *mem = malloc(total);
    if (!mem)
        return TW_ERR_NOMEM;
    tw_span_context *c = (tw_span_context *)mem;
    twp_baggage_item *items = (twp_baggage_item *)(mem + sizeof(tw_span_context));
    char *cursor = (char *)(items + nbaggage);

    memset(c, 0, sizeof *c);
    c->trace_hi = trace_hi;
    c->trace_lo = trace_lo;
    c->span_id = span_id;
    c->parent_id = parent_id;
    c->flags = flags;
    for (uint32_t i = 0; i < nbaggage; i++) {
        items[i].key_len = baggage[i].key_len;
        items[i].val_len = baggage[i].val_len;
        items[i].key = place(&cursor, baggage[i].key, baggage[i].key_len);
        items[i].val = place(&cursor, baggage[i].val, baggage[i].val_len);
    }
    c->baggage = nbaggage ? items : NULL;
    c->nbaggage = nbaggage;
    if (debug_id) {
        c->debug_id = place(&cursor, debug_id, debug_id_len);
        c->debug_id_len = (uint32_t)debug_id_len;
    }
    if (tracestate) {
        c->tracestate = place(&cursor, tracestate, tracestate_len);
        c->tracestate_len = (uint32_t)tracestate_len;
    }
    c->trace_id_128bit_hex = trace_hi != 0;
    *out = c;
    return TW_OK;
}

tw_status twp_context_with_baggage(const tw_span_context *c, const char *key, size_t key_len,
                                   const char *val, size_t val_len, tw_span_context **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (!c || (key_len && !key) || (val_len && !val))
        return TW_ERR_INVALID_ARG;
    if (key_len > UINT32_MAX || val_len > UINT32_MAX)
        return TW_ERR_TOO_LARGE;

    uint32_t n = c->nbaggage;
    uint32_t at = n;
    for (uint32_t i = 0; i < n; i++) {
        if (c->baggage[i].key_len == key_len && memcmp(c->baggage[i].key, key, key_len) == 0) {
            at = i;
            break;
        }
    }
    uint32_t newn = at == n ? n + 1 : n;
    if (newn < n)
        return TW_ERR_TOO_LARGE;
    twp_baggage_item *tmp = malloc((size_t)newn * sizeof *tmp);
    if (!tmp)
        return TW_ERR_NOMEM;
    if (n)
        memcpy(tmp, c->baggage, (size_t)n * sizeof *tmp);
    tmp[at].key = key;
    tmp[at].key_len = (uint32_t)key_len;
    tmp[at].val = val;
    tmp[at].val_len = (uint32_t)val_len;

    tw_status st = twp_context_build(c->trace_hi, c->trace_lo, c->span_id, c->parent_id, c->flags,
                                     tmp, newn, c->debug_id, c->debug_id_len,
                                     c->tracestate, c->tracestate_len, out);
    free(tmp);
    if (st == TW_OK)
        (*out)->trace_id_128bit_hex = c->trace_id_128bit_hex;
    return st;
}

/* The child keeps baggage and tracestate but not the debug id: jaeger-debug-id
 * marks the one span that received it, it is not propagated further. */
tw_status twp_context_child(const tw_span_context *parent, uint64_t trace_hi, uint64_t trace_lo,
                            uint64_t span_id, uint64_t parent_id, unsigned flags,
                            tw_span_context **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (!parent)
        return TW_ERR_INVALID_ARG;
    tw_status st = twp_context_build(trace_hi, trace_lo, span_id, parent_id, flags,
                                     parent->baggage, parent->nbaggage, NULL, 0,
                                     parent->tracestate, parent->tracestate_len, out);
    if (st == TW_OK)
        (*out)->trace_id_128bit_hex = parent->trace_id_128bit_hex || trace_hi != 0;
    return st;
}

/* ---------------------------------------------------------------- public */

tw_status tw_span_context_dup(const tw_span_context *c, tw_span_context **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (!c)
        return TW_ERR_INVALID_ARG;
    tw_status st = twp_context_build(c->trace_hi, c->trace_lo, c->span_id, c->parent_id, c->flags,
                                     c->baggage, c->nbaggage, c->debug_id, c->debug_id_len,
                                     c->tracestate, c->tracestate_len, out);
    if (st == TW_OK)
        (*out)->trace_id_128bit_hex = c->trace_id_128bit_hex;
    return st;
}

void tw_span_context_free(tw_span_context *c)
{
    free(c);
}

tw_status tw_span_context_new(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
                              uint64_t parent_id, unsigned flags, tw_span_context **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if ((trace_hi == 0 && trace_lo == 0) || span_id == 0)
        return TW_ERR_INVALID_ARG;
    return twp_context_build(trace_hi, trace_lo, span_id, parent_id, flags & 0xffu,
                             NULL, 0, NULL, 0, NULL, 0, out);
}

void tw_span_context_trace_id(const tw_span_context *c, uint64_t *hi, uint64_t *lo)
{
    if (hi)
        *hi = c ? c->trace_hi : 0;
    if (lo)
        *lo = c ? c->trace_lo : 0;
}

uint64_t tw_span_context_span_id(const tw_span_context *c)
{
    return c ? c->span_id : 0;
}

uint64_t tw_span_context_parent_id(const tw_span_context *c)
{
    return c ? c->parent_id : 0;
}

unsigned tw_span_context_flags(const tw_span_context *c)
{
    return c ? c->flags & TWP_FLAG_JAEGER_MASK : 0;   /* trace_flags.h */
}

static void hex16(uint64_t v, char *dst)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        dst[i] = digits[v & 0xf];
        v >>= 4;
    }
}

void tw_span_context_trace_id_hex(const tw_span_context *c, char buf[33])
{
    if (!buf)
        return;
    uint64_t hi = c ? c->trace_hi : 0, lo = c ? c->trace_lo : 0;
    if (hi != 0 || (c && c->trace_id_128bit_hex)) {
        hex16(hi, buf);
        hex16(lo, buf + 16);
        buf[32] = '\0';
    } else {
        hex16(lo, buf);
        buf[16] = '\0';
    }
}

void tw_span_context_span_id_hex(const tw_span_context *c, char buf[17])
{
    if (!buf)
        return;
    hex16(c ? c->span_id : 0, buf);
    buf[16] = '\0';
}

tw_status tw_span_context_baggage(const tw_span_context *c, const char *key, size_t key_len,
                                  const char **val, size_t *val_len)
{
    if (val)
        *val = NULL;
    if (val_len)
        *val_len = 0;
    if (!c || (key_len && !key))
        return TW_ERR_INVALID_ARG;
    for (uint32_t i = 0; i < c->nbaggage; i++) {
        const twp_baggage_item *it = &c->baggage[i];
        if (it->key_len == key_len && (key_len == 0 || memcmp(it->key, key, key_len) == 0)) {
            if (val)
                *val = it->val;
            if (val_len)
                *val_len = it->val_len;
            return TW_OK;
        }
    }
    return TW_ERR_NOT_FOUND;
}

void tw_span_context_foreach_baggage(const tw_span_context *c, tw_kv_fn fn, void *ud)
{
    if (!c || !fn)
        return;
    for (uint32_t i = 0; i < c->nbaggage; i++) {
        const twp_baggage_item *it = &c->baggage[i];
        if (fn(ud, it->key, it->key_len, it->val, it->val_len) != 0)
            return;
    }
}

/* ---------------------------------------------------------------- binary */

#define BIN_HEADER (8 * 4 + 1 + 4)

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

tw_status tw_span_context_to_binary(const tw_span_context *c, char **buf, size_t *len)
{
    if (buf)
        *buf = NULL;
    if (len)
        *len = 0;
    if (!c || !buf || !len)
        return TW_ERR_INVALID_ARG;
    size_t total = BIN_HEADER;
    for (uint32_t i = 0; i < c->nbaggage; i++) {
        if (!add_size(&total, 8) || !add_size(&total, c->baggage[i].key_len) ||
            !add_size(&total, c->baggage[i].val_len))
            return TW_ERR_TOO_LARGE;
    }
    unsigned char *p = malloc(total);
    if (!p)
        return TW_ERR_NOMEM;
    put_u64(p, c->trace_hi);
    put_u64(p + 8, c->trace_lo);
    put_u64(p + 16, c->span_id);
    put_u64(p + 24, c->parent_id);
    p[32] = (unsigned char)(c->flags & 0xffu);
    put_u32(p + 33, c->nbaggage);
    size_t off = BIN_HEADER;
    for (uint32_t i = 0; i < c->nbaggage; i++) {
        const twp_baggage_item *it = &c->baggage[i];
        put_u32(p + off, it->key_len);
        off += 4;
        if (it->key_len)
            memcpy(p + off, it->key, it->key_len);
        off += it->key_len;
        put_u32(p + off, it->val_len);
        off += 4;
        if (it->val_len)
            memcpy(p + off, it->val, it->val_len);
        off += it->val_len;
    }
    *buf = (char *)p;
    *len = total;
    return TW_OK;
}

/* Strict: every length must fit the remaining input, nothing may trail, ids
 * are either all valid or all zero (a baggage-only context). Each item costs
 * at least 8 bytes, so a hostile count is rejected before any allocation. */
tw_status tw_span_context_from_binary(const char *buf, size_t len, tw_span_context **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (!buf && len)
        return TW_ERR_INVALID_ARG;
    if (len == 0)
        return TW_ERR_NOT_FOUND;
    if (len < BIN_HEADER)
        return TW_ERR_CORRUPTED;
    const unsigned char *p = (const unsigned char *)buf;
    uint64_t hi = get_u64(p), lo = get_u64(p + 8), span = get_u64(p + 16), parent = get_u64(p + 24);
    unsigned flags = p[32];
    uint32_t n = get_u32(p + 33);
    bool ids_zero = hi == 0 && lo == 0 && span == 0;
    if (!ids_zero && ((hi == 0 && lo == 0) || span == 0))
        return TW_ERR_CORRUPTED;
    if (ids_zero && parent != 0)
        return TW_ERR_CORRUPTED;
    size_t rest = len - BIN_HEADER;
    if ((size_t)n > rest / 8)
        return TW_ERR_CORRUPTED;

    twp_baggage_item *items = NULL;
    if (n) {
        items = malloc((size_t)n * sizeof *items);
        if (!items)
            return TW_ERR_NOMEM;
    }
    size_t off = BIN_HEADER;
    tw_status st = TW_OK;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t kl, vl;
        if (len - off < 4) { st = TW_ERR_CORRUPTED; break; }
        kl = get_u32(p + off);
        off += 4;
        if (len - off < kl) { st = TW_ERR_CORRUPTED; break; }
        items[i].key = buf + off;
        items[i].key_len = kl;
        off += kl;
        if (len - off < 4) { st = TW_ERR_CORRUPTED; break; }
        vl = get_u32(p + off);
        off += 4;
        if (len - off < vl) { st = TW_ERR_CORRUPTED; break; }
        items[i].val = buf + off;
        items[i].val_len = vl;
        off += vl;
    }
    if (st == TW_OK && off != len)
        st = TW_ERR_CORRUPTED;
    if (st == TW_OK)
        st = twp_context_build(hi, lo, span, parent, flags, items, n, NULL, 0, NULL, 0, out);
    free(items);
    return st;
}
