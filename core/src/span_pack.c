/* span_pack.c — a finished span record packed into one small byte block for
 * a long wait in a buffer (the memory reporter), and unpacked back into a
 * record when it is read.
 *
 * Why: a record (span_data.h) is laid out for the hot path -- 24-byte value
 * slots, pointers for every array and string, an inline arena -- and a span
 * kept for minutes pays for all of it. The memory reporter keeps every span
 * until it is read (issue #16: the OTel face's memory per buffered span,
 * against the OTel SDK's ReadableSpan objects), so it keeps this form
 * instead: ids and timestamps as 8 raw bytes, counts and small integers as
 * varints, absent parts not at all, tag keys and operation names as 2-byte
 * references into the process's string table (intern.h), values by type (an
 * int as a zigzag varint, a string as length + bytes). A typical OTel span
 * (128-bit ids, a scope, 3 attributes) is ~85 bytes in one 96-byte malloc
 * chunk; its record copy was 256. Nothing on the span path changes: only
 * the memory reporter packs (on report) and unpacks (to render JSON), and
 * every encoder still reads records.
 *
 * Format (native byte order: a packed span never leaves the process):
 *   u8 parts (P_* bits); [u64 trace_hi]; u64 trace_lo; u64 span_id;
 *   [u64 parent_id]; u64 start_us; zz duration_us; var flags; u8 kind;
 *   str op; [u64 scope pointer]; [bytes tracestate];
 *   var ntags, value*; [var nlogs, (u64 ts_us, var nfields, value*)*];
 *   [var nrefs, (u8 type, u8 link, u8 w3c_flags, u64 hi, lo, span_id,
 *    var tracestate length + 1 (0: none), bytes, var nattrs, value*)*]
 *   value: str key, u8 type, then STRING/BINARY: bytes; INT64: zz; DOUBLE:
 *          u64 bits; BOOL: u8; ARRAY: var size, var len, u64 old address,
 *          the block's bytes (twp_array_moved fixes it where it lands);
 *          NULL: nothing
 *   str:   var x: x odd: slot x >> 1 of twp_strings; x even: NULL when 0,
 *          else (x >> 1) - 1 bytes follow
 *   bytes: var n, n bytes
 * twp_span_pack writes into a stack buffer (the heap past 512 bytes) and
 * copies the result into a block of exactly its size: one pass, one
 * string-table lookup per key.
 */
#include "span_data.h"
#include "intern.h"

#include <stdlib.h>
#include <string.h>

enum { P_HI = 1, P_PARENT = 2, P_SCOPE = 4, P_TRACESTATE = 8, P_LOGS = 16, P_REFS = 32 };

/* ------------------------------------------------------------ writer */

typedef struct pk {
    unsigned char *p;     /* stack buffer, then the heap when it grows */
    size_t n, cap;
    bool heap, bad;       /* bad: sticky, out of memory */
} pk;

static __attribute__((noinline)) bool grow(pk *w, size_t need)
{
    size_t cap = w->cap * 2 > need ? w->cap * 2 : need;
    unsigned char *q = w->heap ? realloc(w->p, cap) : malloc(cap);
    if (!q) {
        w->bad = true;
        return false;
    }
    if (!w->heap)
        memcpy(q, w->p, w->n);
    w->p = q;
    w->cap = cap;
    w->heap = true;
    return true;
}

/* Room for n more bytes: true, or false once out of memory. */
static inline bool room(pk *w, size_t n)
{
    return w->n + n <= w->cap || (!w->bad && grow(w, w->n + n));
}

static inline void put(pk *w, const void *s, size_t n)
{
    if (n && room(w, n)) {
        memcpy(w->p + w->n, s, n);
        w->n += n;
    }
}

static inline void put_u8(pk *w, unsigned v)
{
    if (room(w, 1))
        w->p[w->n++] = (unsigned char)v;
}

static inline void put_var(pk *w, uint64_t v)
{
    if (!room(w, 10))
        return;
    while (v >= 0x80) {
        w->p[w->n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    w->p[w->n++] = (unsigned char)v;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline void put_u64(pk *w, uint64_t v)
{
    if (room(w, 8)) {
        memcpy(w->p + w->n, &v, 8);
        w->n += 8;
    }
}

static void put_bytes(pk *w, const char *s, size_t n)
{
    put_var(w, n);
    put(w, s, n);
}

/* A key or name: the table's slot when it holds (or takes) it, else inline.
 * Operation names get half the table at most, as their cardinality is the
 * application's (keys keep room). */
static void put_str(pk *w, const char *s, size_t n, uint32_t limit)
{
    const char *k = s && n ? twp_intern_get(&twp_strings, s, n, limit) : NULL;
    if (k) {
        put_var(w, (uint64_t)((const twp_intern_slot *)(const void *)k - twp_strings.slot) << 1 | 1);
        return;
    }
    put_var(w, s ? ((uint64_t)n + 1) << 1 : 0);
    put(w, s, s ? n : 0);
}

static void put_value(pk *w, const twp_value *v)
{
    put_str(w, v->key, v->key_len, TWP_INTERN_FULL);
    put_u8(w, v->type);
    switch (v->type) {
    case TW_VAL_STRING:
    case TW_VAL_BINARY:
        put_bytes(w, v->v.str, v->len);
        break;
    case TW_VAL_INT64:
        put_var(w, zigzag(v->v.i64));
        break;
    case TW_VAL_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->v.f64, 8);
        put_u64(w, bits);
        break;
    }
    case TW_VAL_BOOL:
        put_u8(w, v->v.b != 0);
        break;
    case TW_VAL_ARRAY:
        put_var(w, v->v.arr->size);
        put_var(w, v->len);
        put_u64(w, (uint64_t)(uintptr_t)v->v.arr);
        put(w, v->v.arr, v->v.arr->size);
        break;
    default:
        break;
    }
}

static void put_values(pk *w, const twp_value *v, uint32_t n)
{
    put_var(w, n);
    for (uint32_t i = 0; i < n; i++)
        put_value(w, &v[i]);
}

static void put_span(pk *w, const twp_span_data *d)
{
    unsigned parts = (d->trace_hi ? P_HI : 0) | (d->parent_id ? P_PARENT : 0) |
                     (d->scope ? P_SCOPE : 0) | (d->tracestate ? P_TRACESTATE : 0) |
                     (d->nlogs ? P_LOGS : 0) | (d->nrefs ? P_REFS : 0);
    put_u8(w, parts);
    if (parts & P_HI)
        put_u64(w, d->trace_hi);
    put_u64(w, d->trace_lo);
    put_u64(w, d->span_id);
    if (parts & P_PARENT)
        put_u64(w, d->parent_id);
    put_u64(w, (uint64_t)d->start_us);
    put_var(w, zigzag(d->duration_us));
    put_var(w, d->flags);
    put_u8(w, d->kind);
    put_str(w, d->op, d->op_len, TWP_INTERN_FULL / 2);
    if (parts & P_SCOPE)
        put_u64(w, (uint64_t)(uintptr_t)d->scope);
    if (parts & P_TRACESTATE)
        put_bytes(w, d->tracestate, strlen(d->tracestate));
    put_values(w, d->tags, d->ntags);
    if (parts & P_LOGS) {
        put_var(w, d->nlogs);
        for (uint32_t i = 0; i < d->nlogs; i++) {
            put_u64(w, (uint64_t)d->logs[i].ts_us);
            put_values(w, d->logs[i].fields, d->logs[i].nfields);
        }
    }
    if (parts & P_REFS) {
        put_var(w, d->nrefs);
        for (uint32_t i = 0; i < d->nrefs; i++) {
            const twp_ref *r = &d->refs[i];
            put_u8(w, r->type);
            put_u8(w, r->link);
            put_u8(w, r->w3c_flags);
            put_u64(w, r->trace_hi);
            put_u64(w, r->trace_lo);
            put_u64(w, r->span_id);
            size_t tl = r->tracestate ? strlen(r->tracestate) : 0;
            put_var(w, r->tracestate ? tl + 1 : 0);
            put(w, r->tracestate, tl);
            put_values(w, r->attrs, r->nattrs);
        }
    }
}

twp_packed *twp_span_pack(const twp_span_data *d)
{
    if (!d)
        return NULL;
    unsigned char stack[512];
    pk w = {stack, 0, sizeof stack, false, false};
    put_span(&w, d);
    twp_packed *p = !w.bad && w.n <= UINT32_MAX ? malloc(offsetof(twp_packed, b) + w.n) : NULL;
    if (p) {
        memcpy(p->b, w.p, w.n);
        p->next = NULL;
        p->len = (uint32_t)w.n;
    }
    if (w.heap)
        free(w.p);
    return p;
}

/* ------------------------------------------------------------ reader */

typedef struct rd {
    const unsigned char *p, *end;
    twp_arena *a;
    bool bad;             /* sticky: a read past the end, a bad reference, OOM */
} rd;

static const unsigned char *take(rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *q = r->p;
    r->p += n;
    return q;
}

static unsigned get_u8(rd *r)
{
    const unsigned char *q = take(r, 1);
    return q ? *q : 0;
}

static uint64_t get_var(rd *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        unsigned c = get_u8(r);
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static uint64_t get_u64(rd *r)
{
    uint64_t v = 0;
    const unsigned char *q = take(r, 8);
    if (q)
        memcpy(&v, q, 8);
    return v;
}

/* A copy in the record's arena (NUL-terminated). */
static const char *get_bytes(rd *r, size_t n)
{
    const unsigned char *q = take(r, n);
    char *s = q ? twp_arena_strdup(r->a, (const char *)q, n) : NULL;
    if (!s)
        r->bad = true;
    return s;
}

static const char *get_str(rd *r, size_t *len)
{
    uint64_t x = get_var(r);
    *len = 0;
    if (x & 1) {
        uint64_t i = x >> 1;
        if (i >= TWP_INTERN_SLOTS) {
            r->bad = true;
            return NULL;
        }
        const twp_intern_slot *s = &twp_strings.slot[i];
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st < 2) {     /* a packed span names only published slots */
            r->bad = true;
            return NULL;
        }
        *len = st - 2;
        return s->str;
    }
    if (!x)
        return NULL;
    *len = (size_t)((x >> 1) - 1);
    return get_bytes(r, *len);
}

static void get_value(rd *r, twp_value *v)
{
    size_t kl;
    v->key = get_str(r, &kl);
    v->key_len = (uint16_t)kl;
    v->type = (uint8_t)get_u8(r);
    v->len = 0;
    v->v.i64 = 0;
    switch (v->type) {
    case TW_VAL_STRING:
    case TW_VAL_BINARY: {
        size_t n = (size_t)get_var(r);
        v->len = (uint32_t)n;
        v->v.str = get_bytes(r, n);
        break;
    }
    case TW_VAL_INT64:
        v->v.i64 = unzigzag(get_var(r));
        break;
    case TW_VAL_DOUBLE: {
        uint64_t bits = get_u64(r);
        memcpy(&v->v.f64, &bits, 8);
        break;
    }
    case TW_VAL_BOOL:
        v->v.b = get_u8(r) != 0;
        break;
    case TW_VAL_ARRAY: {
        size_t size = (size_t)get_var(r);
        v->len = (uint32_t)get_var(r);
        uintptr_t was = (uintptr_t)get_u64(r);
        const unsigned char *q = take(r, size);
        twp_array *m = q && size >= sizeof(twp_array) ? twp_arena_alloc(r->a, size) : NULL;
        if (m)
            memcpy(m, q, size);
        if (!m || m->n > (size - sizeof(twp_array)) / sizeof(twp_value)) {
            r->bad = true;
            break;
        }
        v->v.arr = twp_array_moved(m, was);
        break;
    }
    default:
        break;
    }
}

/* n values into a fresh arena array (NULL when n is 0). */
static twp_value *get_values(rd *r, uint32_t *n_out)
{
    uint64_t n = get_var(r);
    *n_out = 0;
    if (!n || r->bad)
        return NULL;
    if (n > (size_t)(r->end - r->p)) {    /* each value is at least 2 bytes */
        r->bad = true;
        return NULL;
    }
    twp_value *v = twp_arena_alloc(r->a, sizeof(twp_value) * n);
    if (!v) {
        r->bad = true;
        return NULL;
    }
    for (uint64_t i = 0; i < n && !r->bad; i++)
        get_value(r, &v[i]);
    *n_out = (uint32_t)n;
    return v;
}

twp_span_data *twp_span_unpack(const twp_packed *p)
{
    twp_span_data *d = p ? twp_span_data_new() : NULL;
    if (!d)
        return NULL;
    rd r = {p->b, p->b + p->len, &d->arena, false};
    unsigned parts = get_u8(&r);
    d->trace_hi = parts & P_HI ? get_u64(&r) : 0;
    d->trace_lo = get_u64(&r);
    d->span_id = get_u64(&r);
    d->parent_id = parts & P_PARENT ? get_u64(&r) : 0;
    d->start_us = (int64_t)get_u64(&r);
    d->duration_us = unzigzag(get_var(&r));
    d->flags = (uint16_t)get_var(&r);
    d->kind = (uint8_t)get_u8(&r);
    size_t n;
    d->op = get_str(&r, &n);
    d->op_len = (uint32_t)n;
    if (parts & P_SCOPE)
        d->scope = (const twp_scope *)(uintptr_t)get_u64(&r);
    if (parts & P_TRACESTATE)
        d->tracestate = get_bytes(&r, (size_t)get_var(&r));
    /* tags: the record's inline slots stay unused (one array in the arena) */
    uint32_t nt;
    twp_value *tags = get_values(&r, &nt);
    if (nt) {
        d->tags = tags;
        d->ntags = d->cap_tags = nt;
    }
    if ((parts & P_LOGS) && !r.bad) {
        uint64_t nl = get_var(&r);
        d->logs = nl && nl <= TWP_MAX_LOGS ? twp_arena_alloc(&d->arena, sizeof(twp_log) * nl) : NULL;
        if (!d->logs)
            r.bad = true;
        for (uint64_t i = 0; i < nl && !r.bad; i++) {
            d->logs[i].ts_us = (int64_t)get_u64(&r);
            d->logs[i].fields = get_values(&r, &d->logs[i].nfields);
            d->nlogs = d->cap_logs = (uint16_t)(i + 1);
        }
    }
    if ((parts & P_REFS) && !r.bad) {
        uint64_t nr = get_var(&r);
        d->refs = nr && nr <= TWP_MAX_REFS ? twp_arena_alloc(&d->arena, sizeof(twp_ref) * nr) : NULL;
        if (!d->refs)
            r.bad = true;
        for (uint64_t i = 0; i < nr && !r.bad; i++) {
            twp_ref *f = &d->refs[i];
            memset(f, 0, sizeof *f);
            f->type = (tw_ref_type)get_u8(&r);
            f->link = get_u8(&r) != 0;
            f->w3c_flags = (uint8_t)get_u8(&r);
            f->trace_hi = get_u64(&r);
            f->trace_lo = get_u64(&r);
            f->span_id = get_u64(&r);
            uint64_t tl = get_var(&r);
            if (tl)
                f->tracestate = get_bytes(&r, (size_t)(tl - 1));
            f->attrs = get_values(&r, &f->nattrs);
            d->nrefs = (uint16_t)(i + 1);
        }
    }
    if (r.bad || r.p != r.end) {
        twp_span_data_free(d);
        return NULL;
    }
    return d;
}
