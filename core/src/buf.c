/* buf.c — the core's two allocators.
 *
 * twp_buf is the growable byte buffer the encoders write into: appends never
 * leave it invalid, and a failed allocation is sticky (b->failed) so an encoder
 * may append a whole message and check once at the end.
 *
 * twp_arena is the bump allocator behind a span record: the first chunk is the
 * record's inline memory, later chunks come from malloc and are chained so
 * releasing the arena is one walk. Nothing in an arena is freed individually.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ byte buffer */

void twp_buf_init(twp_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void twp_buf_free(twp_buf *b)
{
    free(b->data);
    twp_buf_init(b);
}

bool twp_buf_reserve(twp_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra <= b->cap - b->len)
        return true;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

bool twp_buf_append(twp_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return !b->failed;
    if (!twp_buf_reserve(b, n))
        return false;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

bool twp_buf_putc(twp_buf *b, char c)
{
    if (b->len < b->cap && !b->failed) {
        b->data[b->len++] = c;
        return true;
    }
    return twp_buf_append(b, &c, 1);
}

/* ------------------------------------------------------------ arena */

#define ARENA_MIN_CHUNK 1024u

/* Moves the arena to a fresh heap chunk able to hold n bytes. The rest of the
 * previous chunk is abandoned: arenas live as long as one span, so the waste
 * is bounded by one chunk per growth step. */
static bool arena_grow(twp_arena *a, size_t n)
{
    size_t cap = a->cap * 2;
    if (cap < ARENA_MIN_CHUNK)
        cap = ARENA_MIN_CHUNK;
    if (cap < n + 8)
        cap = n + 8;
    if (cap > SIZE_MAX - sizeof(twp_arena_chunk))
        return false;
    twp_arena_chunk *c = malloc(sizeof(*c) + cap);
    if (!c)
        return false;
    c->next = a->chunks;
    c->used = 0;
    c->cap = cap;
    a->chunks = c;
    a->cur = c->mem;
    a->used = 0;
    a->cap = cap;
    return true;
}

void *twp_arena_alloc(twp_arena *a, size_t n)
{
    size_t off = (a->used + 7u) & ~(size_t)7u;
    if (!a->cur || off > a->cap || n > a->cap - off) {
        if (n > SIZE_MAX / 2 || !arena_grow(a, n))
            return NULL;
        off = 0;   /* chunk memory from malloc is suitably aligned */
    }
    a->used = off + n;
    return a->cur + off;
}

char *twp_arena_strdup(twp_arena *a, const char *s, size_t n)
{
    /* strings need no alignment: pack them */
    if (!a->cur || a->used > a->cap || n + 1 > a->cap - a->used) {
        if (n > SIZE_MAX / 2 || !arena_grow(a, n + 1))
            return NULL;
    }
    char *p = a->cur + a->used;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    a->used += n + 1;
    return p;
}

void twp_arena_release(twp_arena *a)
{
    twp_arena_chunk *c = a->chunks;
    while (c) {
        twp_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->cur = NULL;
    a->used = a->cap = 0;
}
