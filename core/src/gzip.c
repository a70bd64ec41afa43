/* gzip.c — request-body compression (Content-Encoding: gzip) through zlib.
 *
 * A pure function over buffers with one reusable deflate state: deflateInit2
 * allocates ~268 KB of window and hash tables, so the sender keeps one
 * twp_gzip and each body costs a deflateReset instead. The output is one
 * complete gzip member (RFC 1952: windowBits 15 + 16 selects zlib's gzip
 * wrapper), produced in one deflate(Z_FINISH) call into capacity reserved
 * from deflateBound, so no output loop is needed.
 */
#include "otlp_proto.h"

#include <stdlib.h>
#include <zlib.h>

struct twp_gzip {
    z_stream zs;
};

tw_status twp_gzip_new(int level, twp_gzip **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (level < -1 || level > 9)
        return TW_ERR_INVALID_ARG;
    twp_gzip *z = calloc(1, sizeof *z);
    if (!z)
        return TW_ERR_NOMEM;
    int rc = deflateInit2(&z->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        free(z);
        return rc == Z_MEM_ERROR ? TW_ERR_NOMEM : TW_ERR_INVALID_ARG;
    }
    *out = z;
    return TW_OK;
}

void twp_gzip_free(twp_gzip *z)
{
    if (!z)
        return;
    deflateEnd(&z->zs);
    free(z);
}

tw_status twp_gzip_compress(twp_gzip *z, const void *in, size_t n, twp_buf *out)
{
    if (!z || !out || (!in && n))
        return TW_ERR_INVALID_ARG;
    if (n > UINT32_MAX / 2)       /* zlib counts in uInt; bodies are far smaller */
        return TW_ERR_TOO_LARGE;
    if (deflateReset(&z->zs) != Z_OK)
        return TW_ERR_INVALID_ARG;
    /* deflateBound covers the zlib wrapper; the gzip one is 12 bytes longer */
    size_t bound = (size_t)deflateBound(&z->zs, (uLong)n) + 32;
    if (!twp_buf_reserve(out, bound))
        return TW_ERR_NOMEM;
    z->zs.next_in = (Bytef *)(uintptr_t)in;
    z->zs.avail_in = (uInt)n;
    z->zs.next_out = (Bytef *)out->data + out->len;
    z->zs.avail_out = (uInt)bound;
    int rc = deflate(&z->zs, Z_FINISH);
    if (rc != Z_STREAM_END)
        return TW_ERR_NOMEM;     /* only if the bound were wrong */
    out->len += bound - z->zs.avail_out;
    return TW_OK;
}
