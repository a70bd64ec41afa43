/* propagation.c — inject/extract dispatch over the per-format codecs.
 *
 * Extract runs in three steps and allocates the result only at the end, so a
 * bad carrier never leaves anything half-applied:
 *
 *  1. collect: walk the carrier ONCE (tw_carrier_foreach). Header names match
 *     ASCII case-insensitively; only headers of the enabled formats are kept,
 *     copied (the walker's pointers are borrowed per call) and trimmed of
 *     surrounding spaces/tabs. Single-valued headers repeated with the SAME
 *     value are accepted, with a different value they are CORRUPTED. List
 *     headers (tracestate, baggage, jaeger-baggage) repeated are joined with
 *     "," as HTTP does. Every value is size-bounded (propagation.h TWP_MAX_*,
 *     cfg->max_baggage_size per baggage header, uberctx-* counted together).
 *     Baggage over its bound is dropped, not rejected: a baggage header keeps
 *     its longest prefix of whole members that fits, uberctx-* items that do
 *     not fit (or come after the 180th) are skipped; each dropped item is
 *     counted. Too much baggage is the sender's excess, not a corrupted
 *     context: the trace goes on (W3C Baggage lets a platform drop
 *     list-members beyond its limits; jaeger_client keeps every item).
 *  2. parse each present format with the plain (ptr, len) parsers of
 *     propagation_{jaeger,w3c,b3}.c. Any present-but-malformed context
 *     header makes the whole extract TW_ERR_CORRUPTED.
 *  3. merge. Ids come from the first format that has them, in the order
 *         b3 (single)  >  traceparent  >  uber-trace-id  >  X-B3-* (multi)
 *     (b3 single before multi is B3's own rule; W3C before Jaeger because
 *     traceparent is the standard and what a mixed fleet agrees on). Every
 *     other format carrying ids must name the same trace id (numerically:
 *     16 and 32 hex digits of the same 64-bit id agree), else CORRUPTED. The
 *     sampling state comes from the first format, in the same order, that
 *     states one (B3 may defer). Baggage from every enabled carrier is
 *     merged in the order uberctx-*, jaeger-baggage, W3C baggage; a later
 *     carrier's value replaces an earlier one for the same key (so W3C wins),
 *     keeping the first position; at most TWP_MAX_BAGGAGE_ITEMS items (later
 *     new keys are dropped and counted).
 *     tracestate is only read when traceparent is present (W3C rule).
 *
 * A carrier with baggage, a debug id (debug_id_header, jaeger-debug-id by
 * default; a context header too, so it beats a same-named baggage prefix) or
 * a B3 sampling state but no ids
 * yields a context with zero ids (flags = the B3 state if any); span.c
 * decides what a child of it is. Nothing relevant at all: TW_ERR_NOT_FOUND.
 */
#include "propagation.h"
#include "text.h"
#include "trace_flags.h"

#include <stdlib.h>
#include <string.h>

#define ALL_FORMATS (TW_PROP_JAEGER | TW_PROP_W3C | TW_PROP_B3_MULTI | TW_PROP_B3_SINGLE)

tw_status twp_setter_status(int rc)
{
    if (rc == 0)
        return TW_OK;
    if (rc > 0 && rc <= (int)TW_ERR_CONFIG)
        return (tw_status)rc;
    return TW_ERR_IO;
}

/* ---------------------------------------------------------------- inject */

/* An item is dropped when any baggage-carrying header left it out: with
 * jaeger and w3c both on, the peer may read either. One flag per item, on
 * the stack for the usual context (a set_baggage context holds at most
 * TWP_MAX_BAGGAGE_ITEMS), on the heap for a larger one (from_binary). */
#define MISSED_INLINE 256

tw_status twp_inject_counted(const tw_config *cfg, const tw_span_context *c, unsigned formats,
                             tw_kv_fn set, void *ud, uint64_t *baggage_dropped)
{
    if (baggage_dropped)
        *baggage_dropped = 0;
    if (!cfg || !c || !set)
        return TW_ERR_INVALID_ARG;
    if (formats == TW_PROP_DEFAULT)
        formats = cfg->inject_formats;
    if (formats & ~ALL_FORMATS)
        return TW_ERR_UNSUPPORTED;
    unsigned char small[MISSED_INLINE], *missed = NULL;
    if (baggage_dropped && c->nbaggage && (formats & (TW_PROP_JAEGER | TW_PROP_W3C))) {
        missed = c->nbaggage <= MISSED_INLINE ? small : malloc(c->nbaggage);
        if (!missed)
            return TW_ERR_NOMEM;
        memset(missed, 0, c->nbaggage);
    }
    tw_status st = TW_OK;
    if (formats & TW_PROP_JAEGER)
        st = twp_jaeger_inject(cfg, c, set, ud, missed);
    if (st == TW_OK && (formats & TW_PROP_W3C))
        st = twp_w3c_inject(cfg, c, set, ud, missed);
    if (st == TW_OK && (formats & TW_PROP_B3_MULTI))
        st = twp_b3_inject_multi(cfg, c, set, ud);
    if (st == TW_OK && (formats & TW_PROP_B3_SINGLE))
        st = twp_b3_inject_single(c, set, ud);
    if (missed) {
        uint64_t n = 0;
        for (uint32_t i = 0; i < c->nbaggage; i++)
            n += missed[i];
        if (st == TW_OK)
            *baggage_dropped = n;
        if (missed != small)
            free(missed);
    }
    return st;
}

tw_status twp_inject(const tw_config *cfg, const tw_span_context *c, unsigned formats,
                     tw_kv_fn set, void *ud)
{
    return twp_inject_counted(cfg, c, formats, set, ud, NULL);
}

/* ---------------------------------------------------------------- collect */

enum {
    H_UBER, H_DEBUG_ID, H_JBAGGAGE,
    H_TRACEPARENT, H_TRACESTATE, H_BAGGAGE,
    H_B3,
    H_B3_TRACE, H_B3_SPAN, H_B3_PARENT, H_B3_SAMPLED, H_B3_FLAGS,
    H_COUNT
};

typedef struct header_def {
    const char *name;    /* NULL: H_UBER and H_DEBUG_ID, named by the config */
    size_t len;
    unsigned format;
    bool list;           /* repeated values are joined with "," */
} header_def;

#define N(lit) lit, sizeof(lit) - 1
static const header_def HEADERS[H_COUNT] = {
    [H_UBER]        = { NULL,                0, TW_PROP_JAEGER,    false },
    [H_DEBUG_ID]    = { NULL,                0, TW_PROP_JAEGER,    false },
    [H_JBAGGAGE]    = { N("jaeger-baggage"),    TW_PROP_JAEGER,    true  },
    [H_TRACEPARENT] = { N("traceparent"),       TW_PROP_W3C,       false },
    [H_TRACESTATE]  = { N("tracestate"),        TW_PROP_W3C,       true  },
    [H_BAGGAGE]     = { N("baggage"),           TW_PROP_W3C,       true  },
    [H_B3]          = { N("b3"),                TW_PROP_B3_SINGLE, false },
    [H_B3_TRACE]    = { N("x-b3-traceid"),      TW_PROP_B3_MULTI,  false },
    [H_B3_SPAN]     = { N("x-b3-spanid"),       TW_PROP_B3_MULTI,  false },
    [H_B3_PARENT]   = { N("x-b3-parentspanid"), TW_PROP_B3_MULTI,  false },
    [H_B3_SAMPLED]  = { N("x-b3-sampled"),      TW_PROP_B3_MULTI,  false },
    [H_B3_FLAGS]    = { N("x-b3-flags"),        TW_PROP_B3_MULTI,  false },
};
#undef N

#define SLOT_INLINE 72           /* fits every id header we write */

typedef struct slot {
    char *v;                     /* small, or heap when longer / a list */
    size_t len;
    bool seen;
    char small[SLOT_INLINE];
} slot;

typedef struct raw_item {        /* one uberctx-* header: key lower-cased, value raw */
    char *key, *val;             /* one allocation at key */
    size_t key_len, val_len;
} raw_item;

typedef struct collector {
    unsigned formats;
    const char *uber_name, *prefix, *dbg_name;
    size_t uber_name_len, prefix_len, dbg_name_len;
    size_t baggage_bound;
    unsigned char uber_first, prefix_first, dbg_first;   /* lower-cased first letters */
    slot s[H_COUNT];
    raw_item *uber;              /* grows; at most TWP_MAX_BAGGAGE_ITEMS */
    size_t nuber, cap_uber, uber_bytes;
    uint64_t dropped;            /* baggage items dropped over a bound */
    tw_status err;
} collector;

static void collector_free(collector *c)
{
    for (int i = 0; i < H_COUNT; i++)
        if (c->s[i].v != c->s[i].small)
            free(c->s[i].v);
    for (size_t i = 0; i < c->nuber; i++)
        free(c->uber[i].key);
    free(c->uber);
}

static size_t bound_of(const collector *c, int id)
{
    switch (id) {
    case H_TRACESTATE: return TWP_MAX_TRACESTATE;
    case H_BAGGAGE:
    case H_JBAGGAGE: return c->baggage_bound;
    default: return TWP_MAX_ID_HEADER;
    }
}

/* Members of a baggage list: comma-separated parts holding more than OWS. */
static uint64_t count_members(const char *v, size_t n)
{
    uint64_t members = 0;
    bool content = false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == ',') {
            members += content;
            content = false;
        } else if (v[i] != ' ' && v[i] != '\t') {
            content = true;
        }
    }
    return members + content;
}

/* The longest prefix of whole members of v (vl > room) within room bytes,
 * trailing OWS trimmed; 0 when even the first member does not fit. */
static size_t fitting_prefix(const char *v, size_t vl, size_t room)
{
    size_t p = room < vl ? room : vl - 1;
    while (p > 0 && v[p] != ',')
        p--;
    while (p > 0 && (v[p - 1] == ' ' || v[p - 1] == '\t'))
        p--;
    return p;
}

static tw_status slot_add(collector *c, int id, const char *v, size_t vl)
{
    slot *s = &c->s[id];
    bool baggage = id == H_BAGGAGE || id == H_JBAGGAGE;
    if (!baggage && vl > bound_of(c, id))
        return TW_ERR_CORRUPTED;
    if (!HEADERS[id].list) {
        if (s->seen)
            return (s->len == vl && memcmp(s->v, v, vl) == 0) ? TW_OK : TW_ERR_CORRUPTED;
        s->v = vl < SLOT_INLINE ? s->small : malloc(vl + 1);
        if (!s->v)
            return TW_ERR_NOMEM;
        memcpy(s->v, v, vl);
        s->v[vl] = '\0';
        s->len = vl;
        s->seen = true;
        return TW_OK;
    }
    if (vl == 0)
        return TW_OK;           /* an empty list adds nothing */
    size_t sep = s->seen ? 1 : 0;
    size_t bound = bound_of(c, id);
    if (s->len + sep + vl > bound) {
        if (!baggage)
            return TW_ERR_CORRUPTED;
        size_t room = s->len + sep < bound ? bound - s->len - sep : 0;
        size_t keep = fitting_prefix(v, vl, room);
        c->dropped += count_members(v + keep, vl - keep);
        vl = keep;
        if (vl == 0)
            return TW_OK;
    }
    char *nv = realloc(s->v, s->len + sep + vl + 1);
    if (!nv)
        return TW_ERR_NOMEM;
    if (sep)
        nv[s->len] = ',';
    memcpy(nv + s->len + sep, v, vl);
    s->len += sep + vl;
    nv[s->len] = '\0';
    s->v = nv;
    s->seen = true;
    return TW_OK;
}

static tw_status uber_add(collector *c, const char *k, size_t kl, const char *v, size_t vl)
{
    for (size_t i = 0; i < c->nuber; i++) {
        if (twp_ascii_ieq(c->uber[i].key, c->uber[i].key_len, k, kl)) {
            if (c->uber[i].val_len == vl && memcmp(c->uber[i].val, v, vl) == 0)
                return TW_OK;
            return TW_ERR_CORRUPTED;     /* the same key twice, different values */
        }
    }
    /* over a bound: skipped whole (a later, smaller item may still fit) */
    if (c->nuber == TWP_MAX_BAGGAGE_ITEMS || kl + vl > c->baggage_bound ||
        c->uber_bytes + kl + vl > c->baggage_bound) {
        c->dropped++;
        return TW_OK;
    }
    if (c->nuber == c->cap_uber) {
        size_t cap = c->cap_uber ? c->cap_uber * 2 : 8;
        raw_item *n = realloc(c->uber, cap * sizeof *n);
        if (!n)
            return TW_ERR_NOMEM;
        c->uber = n;
        c->cap_uber = cap;
    }
    char *mem = malloc(kl + vl + 2);
    if (!mem)
        return TW_ERR_NOMEM;
    for (size_t i = 0; i < kl; i++)
        mem[i] = (k[i] >= 'A' && k[i] <= 'Z') ? (char)(k[i] - 'A' + 'a') : k[i];
    mem[kl] = '\0';
    memcpy(mem + kl + 1, v, vl);
    mem[kl + 1 + vl] = '\0';
    raw_item *it = &c->uber[c->nuber++];
    it->key = mem;
    it->key_len = kl;
    it->val = mem + kl + 1;
    it->val_len = vl;
    c->uber_bytes += kl + vl;
    return TW_OK;
}

static int classify(const collector *c, const char *k, size_t kl)
{
    if ((c->formats & TW_PROP_JAEGER) && twp_ascii_ieq(k, kl, c->uber_name, c->uber_name_len))
        return H_UBER;
    if ((c->formats & TW_PROP_JAEGER) && twp_ascii_ieq(k, kl, c->dbg_name, c->dbg_name_len))
        return H_DEBUG_ID;
    for (int i = 0; i < H_COUNT; i++) {
        if (!HEADERS[i].name || !(c->formats & HEADERS[i].format))
            continue;
        if (twp_ascii_ieq(k, kl, HEADERS[i].name, HEADERS[i].len))
            return i;
    }
    return -1;
}

static int visit(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    collector *c = ud;
    if (c->err != TW_OK)
        return 1;
    if ((!k && kl) || (!v && vl)) {
        c->err = TW_ERR_CORRUPTED;
        return 1;
    }
    if (!v)
        v = "";
    /* Most headers of a request (host, user-agent, accept, cookie...) are
     * none of ours: a first-letter test skips them before any name compare */
    if (kl == 0)
        return 0;
    unsigned char f = (unsigned char)(k[0] | 0x20);
    if (f != 'j' && f != 't' && f != 'b' && f != 'x' && f != c->uber_first &&
        f != c->prefix_first && f != c->dbg_first)
        return 0;
    twp_trim_ows(&v, &vl);
    int id = classify(c, k, kl);
    if (id == H_DEBUG_ID && vl == 0)
        return 0;               /* an empty jaeger-debug-id is no debug id */
    if (id >= 0) {
        c->err = slot_add(c, id, v, vl);
    } else if ((c->formats & TW_PROP_JAEGER) && kl > c->prefix_len &&
               twp_ascii_ieq(k, c->prefix_len, c->prefix, c->prefix_len)) {
        c->err = uber_add(c, k + c->prefix_len, kl - c->prefix_len, v, vl);
    }
    return c->err != TW_OK;
}

/* ---------------------------------------------------------------- merge */

typedef struct bag {
    twp_baggage_item *items;     /* grows; at most TWP_MAX_BAGGAGE_ITEMS */
    uint32_t n, icap;
    char *store;                 /* decoded bytes; sized to the raw input */
    size_t used, cap;
    uint64_t dropped;            /* new keys beyond TWP_MAX_BAGGAGE_ITEMS */
} bag;

static tw_status bag_put(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    bag *b = ud;
    if (kl == 0)
        return TW_ERR_CORRUPTED;
    if (kl + vl > b->cap - b->used)
        return TW_ERR_CORRUPTED;     /* cannot happen: decoding never grows */
    char *dst = b->store + b->used;
    memcpy(dst, k, kl);
    if (vl)
        memcpy(dst + kl, v, vl);
    b->used += kl + vl;
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->items[i].key_len == kl && memcmp(b->items[i].key, k, kl) == 0) {
            b->items[i].val = dst + kl;
            b->items[i].val_len = (uint32_t)vl;
            return TW_OK;
        }
    }
    if (b->n == TWP_MAX_BAGGAGE_ITEMS) {
        b->dropped++;
        return TW_OK;
    }
    if (b->n == b->icap) {
        uint32_t cap = b->icap ? b->icap * 2 : 8;
        twp_baggage_item *n = realloc(b->items, cap * sizeof *n);
        if (!n)
            return TW_ERR_NOMEM;
        b->items = n;
        b->icap = cap;
    }
    b->items[b->n].key = dst;
    b->items[b->n].key_len = (uint32_t)kl;
    b->items[b->n].val = dst + kl;
    b->items[b->n].val_len = (uint32_t)vl;
    b->n++;
    return TW_OK;
}

static tw_status collect_baggage(collector *c, bag *b)
{
    tw_status st = TW_OK;
    for (size_t i = 0; i < c->nuber && st == TW_OK; i++) {
        raw_item *it = &c->uber[i];
        size_t dl;
        /* decode in place: the copy is ours and decoding never grows */
        st = twp_jaeger_decode_value(it->val, it->val_len, it->val, &dl);
        if (st == TW_OK)
            st = bag_put(b, it->key, it->key_len, it->val, dl);
    }
    if (st == TW_OK && c->s[H_JBAGGAGE].seen)
        st = twp_jaeger_parse_baggage_header(c->s[H_JBAGGAGE].v, c->s[H_JBAGGAGE].len, bag_put, b);
    if (st == TW_OK && c->s[H_BAGGAGE].seen)
        st = twp_w3c_parse_baggage(c->s[H_BAGGAGE].v, c->s[H_BAGGAGE].len, bag_put, b);
    return st;
}

static bool debug_id_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

enum { F_B3_SINGLE, F_W3C, F_JAEGER, F_B3_MULTI, F_COUNT };   /* precedence order */

static tw_status parse_formats(collector *c, twp_ids ids[F_COUNT], bool present[F_COUNT])
{
    slot *s = c->s;
    tw_status st = TW_OK;
    memset(present, 0, F_COUNT * sizeof *present);
    if (s[H_B3].seen) {
        present[F_B3_SINGLE] = true;
        st = twp_b3_parse_single(s[H_B3].v, s[H_B3].len, &ids[F_B3_SINGLE]);
    }
    if (st == TW_OK && s[H_TRACEPARENT].seen) {
        present[F_W3C] = true;
        st = twp_w3c_parse_traceparent(s[H_TRACEPARENT].v, s[H_TRACEPARENT].len, &ids[F_W3C]);
    }
    if (st == TW_OK && s[H_UBER].seen) {
        present[F_JAEGER] = true;
        st = twp_jaeger_parse_trace_header(s[H_UBER].v, s[H_UBER].len, &ids[F_JAEGER]);
    }
    if (st == TW_OK && (s[H_B3_TRACE].seen || s[H_B3_SPAN].seen || s[H_B3_PARENT].seen ||
                        s[H_B3_SAMPLED].seen || s[H_B3_FLAGS].seen)) {
        twp_b3_headers h;
        memset(&h, 0, sizeof h);
#define B3H(field, id) if (s[id].seen) { h.field = s[id].v; h.field##_len = s[id].len; }
        B3H(trace_id, H_B3_TRACE)
        B3H(span_id, H_B3_SPAN)
        B3H(parent_id, H_B3_PARENT)
        B3H(sampled, H_B3_SAMPLED)
        B3H(flags, H_B3_FLAGS)
#undef B3H
        present[F_B3_MULTI] = true;
        st = twp_b3_parse_multi(&h, &ids[F_B3_MULTI]);
    }
    return st;
}

tw_status twp_extract_counted(const tw_config *cfg, unsigned formats, tw_carrier_foreach each,
                              void *carrier, tw_span_context **out, uint64_t *baggage_dropped)
{
    if (baggage_dropped)
        *baggage_dropped = 0;
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (!cfg || !each)
        return TW_ERR_INVALID_ARG;
    if (formats == TW_PROP_DEFAULT)
        formats = cfg->extract_formats;
    if (formats & ~ALL_FORMATS)
        return TW_ERR_UNSUPPORTED;

    /* on the stack: a few hundred bytes, heap only for long values */
    collector cs, *c = &cs;
    memset(c, 0, sizeof *c);
    bag bs, *b = &bs;
    memset(b, 0, sizeof *b);
    c->formats = formats;
    c->uber_name = cfg->trace_id_header && *cfg->trace_id_header ? cfg->trace_id_header
                                                                   : "uber-trace-id";
    c->uber_name_len = strlen(c->uber_name);
    c->prefix = cfg->baggage_header_prefix && *cfg->baggage_header_prefix
                    ? cfg->baggage_header_prefix : "uberctx-";
    c->prefix_len = strlen(c->prefix);
    /* debug_id_header (jaeger_client's, default jaeger-debug-id) */
    c->dbg_name = cfg->debug_id_header && *cfg->debug_id_header ? cfg->debug_id_header
                                                                : "jaeger-debug-id";
    c->dbg_name_len = strlen(c->dbg_name);
    c->uber_first = (unsigned char)(c->uber_name[0] | 0x20);
    c->dbg_first = (unsigned char)(c->dbg_name[0] | 0x20);
    c->prefix_first = (unsigned char)(c->prefix[0] | 0x20);
    c->baggage_bound = cfg->max_baggage_size > 0 ? (size_t)cfg->max_baggage_size
                                                  : TWP_DEFAULT_BAGGAGE_SIZE;

    char *ts = NULL;
    tw_status st;
    int rc = each(carrier, visit, c);
    st = c->err;
    if (st == TW_OK && rc != 0)
        st = TW_ERR_INVALID_ARG;        /* the carrier itself is unusable */
    if (st != TW_OK)
        goto done;

    twp_ids ids[F_COUNT];
    bool present[F_COUNT];
    st = parse_formats(c, ids, present);
    if (st != TW_OK)
        goto done;

    const twp_ids *primary = NULL, *decision = NULL;
    unsigned debug = 0;     /* debug is sticky: any format saying so wins */
    for (int f = 0; f < F_COUNT; f++) {
        if (!present[f])
            continue;
        if (ids[f].has_ids) {
            if (!primary)
                primary = &ids[f];
            else if (ids[f].trace_hi != primary->trace_hi || ids[f].trace_lo != primary->trace_lo) {
                st = TW_ERR_CORRUPTED;  /* two formats name different traces */
                goto done;
            }
        }
        if (ids[f].sampled_known && !decision)
            decision = &ids[f];
        debug |= ids[f].flags & TW_FLAG_DEBUG;
    }

    /* tracestate belongs to a valid traceparent; without one it is ignored */
    size_t ts_len = 0;
    if (present[F_W3C] && c->s[H_TRACESTATE].seen) {
        ts = malloc(c->s[H_TRACESTATE].len + 1);
        if (!ts) {
            st = TW_ERR_NOMEM;
            goto done;
        }
        st = twp_w3c_parse_tracestate(c->s[H_TRACESTATE].v, c->s[H_TRACESTATE].len, ts, &ts_len);
        if (st != TW_OK)
            goto done;
    }

    const slot *dbg = &c->s[H_DEBUG_ID];
    if (dbg->seen && !debug_id_valid(dbg->v, dbg->len)) {
        st = TW_ERR_CORRUPTED;
        goto done;
    }

    b->cap = c->uber_bytes + c->s[H_JBAGGAGE].len + c->s[H_BAGGAGE].len;
    if (b->cap) {
        b->store = malloc(b->cap);
        if (!b->store) {
            st = TW_ERR_NOMEM;
            goto done;
        }
        st = collect_baggage(c, b);
        if (st != TW_OK)
            goto done;
    }

    if (!primary && !decision && !dbg->seen && b->n == 0) {
        st = TW_ERR_NOT_FOUND;
        goto done;
    }

    twp_ids zero;
    memset(&zero, 0, sizeof zero);
    const twp_ids *idp = primary ? primary : &zero;
    unsigned flags = decision ? decision->flags : 0;
    if (present[F_W3C])     /* W3C's own bits, whichever format decided sampling */
        flags = (flags & ~TWP_FLAG_W3C_MASK) | (ids[F_W3C].flags & TWP_FLAG_W3C_MASK);
    if (debug)
        flags |= TW_FLAG_DEBUG | TW_FLAG_SAMPLED;
    st = twp_context_build(idp->trace_hi, idp->trace_lo, idp->span_id, idp->parent_id, flags,
                           b->items, b->n, dbg->seen ? dbg->v : NULL, dbg->seen ? dbg->len : 0,
                           ts_len ? ts : NULL, ts_len, out);
    if (st == TW_OK)
        (*out)->trace_id_128bit_hex = idp->trace_128 || idp->trace_hi != 0;

done:
    if (baggage_dropped && (st == TW_OK || st == TW_ERR_NOT_FOUND))
        *baggage_dropped = c->dropped + b->dropped;
    free(b->store);
    free(b->items);
    free(ts);
    collector_free(c);
    return st;
}

tw_status twp_extract(const tw_config *cfg, unsigned formats, tw_carrier_foreach each,
                      void *carrier, tw_span_context **out)
{
    return twp_extract_counted(cfg, formats, each, carrier, out, NULL);
}

/* ---------------------------------------------------------------- public */

tw_status tw_tracer_inject(tw_tracer *t, const tw_span_context *c, unsigned formats,
                           tw_kv_fn set, void *ud)
{
    if (!t)
        return TW_ERR_INVALID_ARG;
    uint64_t dropped = 0;
    tw_status st = twp_inject_counted(twp_tracer_config(t), c, formats, set, ud, &dropped);
    if (dropped)
        twp_tracer_baggage_dropped(t, dropped);
    return st;
}

tw_status tw_tracer_extract(tw_tracer *t, unsigned formats, tw_carrier_foreach each,
                            void *carrier, tw_span_context **out)
{
    if (out)
        *out = NULL;
    if (!t)
        return TW_ERR_INVALID_ARG;
    uint64_t dropped = 0;
    tw_status st = twp_extract_counted(twp_tracer_config(t), formats, each, carrier, out, &dropped);
    if (dropped)
        twp_tracer_baggage_dropped(t, dropped);
    return st;
}

/* The header names of formats, with the Jaeger trace id header, debug id
 * header and baggage prefix given (a tracer's configured ones, or the
 * defaults). The names come from the table extract matches against
 * (HEADERS), so a gateway clears, and a stream reads back, exactly what the
 * core reads. */
static tw_status header_names(unsigned formats, const char *uber, const char *dbg,
                              const char *prefix, tw_header_name_fn visit, void *ud)
{
    if (formats & ~ALL_FORMATS)
        return TW_ERR_UNSUPPORTED;
    for (int i = 0; i < H_COUNT; i++) {
        if (!(formats & HEADERS[i].format))
            continue;
        /* H_UBER, H_DEBUG_ID: configured */
        const char *n = HEADERS[i].name ? HEADERS[i].name : i == H_UBER ? uber : dbg;
        size_t len = HEADERS[i].name ? HEADERS[i].len : strlen(n);
        if (visit(ud, n, len, 0))
            return TW_OK;
    }
    if (formats & TW_PROP_JAEGER)
        visit(ud, prefix, strlen(prefix), 1);
    return TW_OK;
}

tw_status tw_tracer_header_names(tw_tracer *t, unsigned formats, tw_header_name_fn visit, void *ud)
{
    if (!t || !visit)
        return TW_ERR_INVALID_ARG;
    const tw_config *cfg = twp_tracer_config(t);
    if (formats == TW_PROP_DEFAULT)
        formats = cfg->extract_formats | cfg->inject_formats;
    return header_names(formats,
                        cfg->trace_id_header && *cfg->trace_id_header ? cfg->trace_id_header
                                                                      : "uber-trace-id",
                        cfg->debug_id_header && *cfg->debug_id_header ? cfg->debug_id_header
                                                                      : "jaeger-debug-id",
                        cfg->baggage_header_prefix && *cfg->baggage_header_prefix
                            ? cfg->baggage_header_prefix
                            : "uberctx-",
                        visit, ud);
}

tw_status tw_header_names(unsigned formats, tw_header_name_fn visit, void *ud)
{
    if (!visit)
        return TW_ERR_INVALID_ARG;
    return header_names(formats == TW_PROP_DEFAULT ? TW_PROP_ALL : formats, "uber-trace-id",
                        "jaeger-debug-id", "uberctx-", visit, ud);
}
