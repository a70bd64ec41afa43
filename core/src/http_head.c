/* http_head.c — a raw HTTP/1.x request head as a propagation carrier.
 *
 * Gateways can hand tracewire the request head exactly as it arrived (nginx:
 * ngx.req.raw_header()) instead of building a table of every header first:
 * one string crosses into C and the context headers are picked out here, in
 * one pass, without copying. The same walk serves the request line (the span
 * name and http.url) and single-header lookups (Host).
 *
 * Tolerant by design, like every extract path: a line that is not
 * "name: value" is skipped rather than failing the whole head (RFC 9112 lets
 * a recipient reject such a message; a tracer must not, the server already
 * accepted it). Obsolete folded lines (leading SP/HTAB) are skipped, not
 * joined: no context header is ever folded by a conforming sender. The walk
 * stops at the first empty line, so a body that follows is never read.
 */
#include "text.h"

#include <string.h>

/* The next line of [p, end): its bytes without CR/LF in *line and *len; returns
 * the start of the following line. */
static const char *next_line(const char *p, const char *end, const char **line, size_t *len)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    *line = p;
    *len = (size_t)(stop - p);
    if (*len > 0 && p[*len - 1] == '\r')
        (*len)--;
    return nl ? nl + 1 : end;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Splits a header line into trimmed name and value; 0 if it is not one. */
static int split_header(const char *l, size_t n, const char **name, size_t *nlen,
                        const char **val, size_t *vlen)
{
    const char *colon;
    size_t i;
    if (n == 0 || is_blank(l[0]))
        return 0;                        /* obs-fold continuation or junk */
    colon = memchr(l, ':', n);
    if (colon == NULL || colon == l)
        return 0;
    for (i = 0; l + i < colon; i++)      /* no blanks inside or after a name */
        if (is_blank(l[i]) || (unsigned char)l[i] < 0x21 || l[i] == 0x7f)
            return 0;
    *name = l;
    *nlen = (size_t)(colon - l);
    l = colon + 1;
    n -= *nlen + 1;
    while (n > 0 && is_blank(*l)) {
        l++;
        n--;
    }
    while (n > 0 && is_blank(l[n - 1]))
        n--;
    *val = l;
    *vlen = n;
    return 1;
}

int tw_http_head_foreach(void *carrier, tw_kv_fn visit, void *ud)
{
    const tw_http_head *h = carrier;
    const char *p, *end, *line, *name, *val;
    size_t len, nlen, vlen;

    if (h == NULL || visit == NULL || (h->data == NULL && h->len != 0))
        return 1;
    p = h->data;
    end = p + h->len;
    if (p == end)
        return 0;
    p = next_line(p, end, &line, &len);  /* the request line */
    while (p < end) {
        p = next_line(p, end, &line, &len);
        if (len == 0)
            break;                       /* end of the head */
        if (split_header(line, len, &name, &nlen, &val, &vlen) && visit(ud, name, nlen, val, vlen) != 0)
            break;
    }
    return 0;
}

tw_status tw_http_head_request_line(const tw_http_head *h, const char **method, size_t *method_len,
                                    const char **target, size_t *target_len)
{
    const char *line, *sp1, *sp2;
    size_t len;

    if (h == NULL || method == NULL || method_len == NULL || target == NULL || target_len == NULL
        || h->data == NULL)
        return TW_ERR_INVALID_ARG;
    next_line(h->data, h->data + h->len, &line, &len);
    sp1 = memchr(line, ' ', len);
    if (sp1 == NULL || sp1 == line)
        return TW_ERR_CORRUPTED;
    sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
    if (sp2 == NULL || sp2 == sp1 + 1)
        return TW_ERR_CORRUPTED;
    if ((size_t)(line + len - (sp2 + 1)) < 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0)
        return TW_ERR_CORRUPTED;
    for (const char *c = line; c < sp1; c++)
        if ((unsigned char)*c < 0x21 || *c == 0x7f)
            return TW_ERR_CORRUPTED;
    for (const char *c = sp1 + 1; c < sp2; c++)
        if ((unsigned char)*c < 0x21 || *c == 0x7f)
            return TW_ERR_CORRUPTED;
    *method = line;
    *method_len = (size_t)(sp1 - line);
    *target = sp1 + 1;
    *target_len = (size_t)(sp2 - (sp1 + 1));
    return TW_OK;
}

struct find_arg {
    const char *name;
    size_t nlen;
    const char *val;
    size_t vlen;
    int found;
};

static int find_one(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    struct find_arg *a = ud;
    if (!twp_ascii_ieq(k, kl, a->name, a->nlen))
        return 0;
    a->val = v;
    a->vlen = vl;
    a->found = 1;
    return 1;
}

tw_status tw_http_head_header(const tw_http_head *h, const char *name, const char **val, size_t *val_len)
{
    struct find_arg a;
    if (h == NULL || name == NULL || val == NULL || val_len == NULL)
        return TW_ERR_INVALID_ARG;
    a.name = name;
    a.nlen = strlen(name);
    a.found = 0;
    if (tw_http_head_foreach((void *)h, find_one, &a) != 0)
        return TW_ERR_INVALID_ARG;
    if (!a.found)
        return TW_ERR_NOT_FOUND;
    *val = a.val;
    *val_len = a.vlen;
    return TW_OK;
}
