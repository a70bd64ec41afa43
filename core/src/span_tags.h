/* span_tags.h — writing a span's record directly, for the core's own tag
 * sets (http_span.c). Private to core/.
 *
 * tw_span_set_tag copies every key into the record and checks it against the
 * special keys (span.kind, sampling.priority): right for keys an application
 * chooses, wasted for the core's own fixed keys ("http.url", ...), which are
 * string literals that outlive every record. A gateway's server span is on
 * the path of every traced request, so http_span.c writes its tags into the
 * record itself with these helpers: keys borrowed (as the sampler tags are:
 * see span_data.h), values that are literals too (component=nginx, GET,
 * POST, ...) borrowed, the other string values copied once into the
 * record's arena, straight from their pieces (a URL from scheme, host and
 * target, no temporary). Values are cut to max_tag_value_length like any
 * tag (twp_record_copy). The record itself is span.c's: these only append
 * value slots and arena bytes, the way span.c's own writers do.
 */
#ifndef TW_SPAN_TAGS_H
#define TW_SPAN_TAGS_H

#include "tracewire.h"
#include "span_data.h"

#include <string.h>

/* memcpy for the short strings spans are made of (names, keys, values):
 * inline, reading only inside [src, src + n). Longer copies call memcpy. */
static inline __attribute__((always_inline)) void twp_copy_short(char *dst, const char *src,
                                                                  size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n > 16 && n <= 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src, 8);
        memcpy(&b, src + 8, 8);
        memcpy(&c, src + n - 16, 8);
        memcpy(&d, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + 8, &b, 8);
        memcpy(dst + n - 16, &c, 8);
        memcpy(dst + n - 8, &d, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
    } else {
        memcpy(dst, src, n);
    }
}

/* n bytes from a record's arena, unaligned: the common case inline, growth
 * in buf.c. NULL on OOM. */
static inline __attribute__((always_inline)) char *twp_arena_take(twp_arena *a, size_t n)
{
    if (__builtin_expect(a->cur != NULL && a->used <= a->cap && n <= a->cap - a->used, 1)) {
        char *p = a->cur + a->used;
        a->used += n;
        return p;
    }
    return twp_arena_alloc(a, n);
}

/* span.c: the slow half of twp_tags_room (the tag array grows into the
 * arena). NULL on OOM. */
twp_value *twp_tags_grow(twp_span_data *d, size_t n);

/* Room for n more tags at the end of d's: the first free slot. The caller
 * fills the slots, then adds what it filled to d->ntags. NULL on OOM. */
static inline __attribute__((always_inline)) twp_value *twp_tags_room(twp_span_data *d, size_t n)
{
    if (__builtin_expect(d->cap_tags - d->ntags >= n, 1))
        return d->tags + d->ntags;
    return twp_tags_grow(d, n);
}

/* A tag whose key and value are both string literals: nothing copied. */
static inline void twp_tag_static(twp_value *v, const char *key, uint16_t key_len,
                                  const char *val, uint32_t len)
{
    v->key = key;
    v->key_len = key_len;
    v->type = TW_VAL_STRING;
    v->v.str = val;
    v->len = len;
}

/* A tag with a literal key and a string value already in the record. */
#define twp_tag_str twp_tag_static

static inline void twp_tag_int(twp_value *v, const char *key, uint16_t key_len, int64_t x)
{
    v->key = key;
    v->key_len = key_len;
    v->type = TW_VAL_INT64;
    v->v.i64 = x;
    v->len = 0;
}

static inline void twp_tag_bool(twp_value *v, const char *key, uint16_t key_len, bool x)
{
    v->key = key;
    v->key_len = key_len;
    v->type = TW_VAL_BOOL;
    v->v.b = x;
    v->len = 0;
}

typedef struct twp_piece {
    const char *p;                 /* borrowed for the call; may be NULL when n is 0 */
    size_t n;
} twp_piece;

/* span.c: the pieces concatenated into d's arena and NUL-terminated, cut to
 * max bytes (never inside a UTF-8 sequence); *len is the kept length. NULL
 * on OOM. */
const char *twp_record_copy(twp_span_data *d, const twp_piece *pc, size_t np, size_t max,
                            uint32_t *len);

/* s's record and the tracer's max_tag_value_length, for a sampled,
 * unfinished span; NULL otherwise (tw_span_is_finished tells which). */
twp_span_data *twp_span_record(const tw_span *s, size_t *max_tag_len);

/* tw_span_start with the span's kind set at once and its record returned
 * (*rec: NULL when unsampled). The arguments are not checked again: t and
 * out non-NULL, name non-NULL, name_len at most UINT32_MAX, refs as
 * tw_span_start takes them. */
tw_status twp_span_start_kind(tw_tracer *t, const char *name, size_t name_len,
                              const tw_span_ref *refs, size_t nrefs, int64_t start_us,
                              tw_span_kind kind, tw_span **out, twp_span_data **rec,
                              size_t *max_tag_len);

#endif
