/* buf.h — the core's two allocators (buf.c): a growable byte buffer
 * for encoders and the bump arena behind every span record. Private to core/.
 */
#ifndef TW_BUF_H
#define TW_BUF_H

#define TW_BUILDING 1
#include "tracewire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ byte buffer */

/* A growable byte buffer for encoders. Owner: whoever declared it; release
 * with twp_buf_free. Appends fail (return false) only on allocation failure,
 * and then leave the buffer valid. */
typedef struct twp_buf {
    char *data;
    size_t len, cap;
    bool failed;          /* sticky: set when an append could not allocate */
} twp_buf;
void twp_buf_init(twp_buf *b);
void twp_buf_free(twp_buf *b);
bool twp_buf_reserve(twp_buf *b, size_t extra);
bool twp_buf_append(twp_buf *b, const void *p, size_t n);
bool twp_buf_putc(twp_buf *b, char c);

/* ------------------------------------------------------------ arena */

/* Bump allocator owned by one span record. The first chunk is inline in the
 * record so a span with a few short tags allocates nothing else. */
typedef struct twp_arena_chunk {
    struct twp_arena_chunk *next;
    size_t used, cap;
    char mem[];
} twp_arena_chunk;

typedef struct twp_arena {
    char *cur;            /* inline chunk or the head chunk */
    size_t used, cap;
    twp_arena_chunk *chunks;   /* heap chunks, freed with the arena */
} twp_arena;

void *twp_arena_alloc(twp_arena *a, size_t n);      /* 8-byte aligned; NULL on OOM */
char *twp_arena_strdup(twp_arena *a, const char *s, size_t n);  /* NUL-terminates */
void twp_arena_release(twp_arena *a);               /* frees heap chunks only */

#endif
