/* carrier.c — parsing of the text carrier (format in carrier.h). Borrowing
 * only: entries point into the caller's text, nothing is allocated. */
#include "carrier.h"

#include <string.h>

/* Character classes, one table lookup per byte. */
enum { C_TOKEN = 1, C_BLANK = 2, C_CTL = 4, C_SEP = 8 };
static const unsigned char cls[256] = {
    ['\t'] = C_BLANK | C_CTL, [' '] = C_BLANK, [':'] = C_SEP, ['='] = C_SEP,
    ['-'] = C_TOKEN, ['_'] = C_TOKEN, ['.'] = C_TOKEN,
    ['0' ... '9'] = C_TOKEN, ['A' ... 'Z'] = C_TOKEN, ['a' ... 'z'] = C_TOKEN,
    [0 ... 8] = C_CTL, [10 ... 31] = C_CTL, [127] = C_CTL,
};

static const char *parse_entry(const char *s, size_t len, twrm_carrier *out)
{
    while (len && (cls[(unsigned char)*s] & C_BLANK)) { s++; len--; }
    while (len && ((cls[(unsigned char)s[len - 1]] & C_BLANK) || s[len - 1] == '\r')) len--;
    if (len == 0)
        return NULL;                       /* empty line or trailing separator */
    size_t i = 0;
    while (i < len && (cls[(unsigned char)s[i]] & C_TOKEN)) i++;
    size_t nlen = i;
    while (i < len && (cls[(unsigned char)s[i]] & C_BLANK)) i++;
    if (i == len || !(cls[(unsigned char)s[i]] & C_SEP)) {
        if (nlen == 0 && i < len && (cls[(unsigned char)s[i]] & C_SEP))
            return "carrier entry without a header name";
        for (size_t k = i; k < len; k++)
            if (cls[(unsigned char)s[k]] & C_SEP)
                return "carrier header name holds a character outside [A-Za-z0-9._-]";
        return "carrier entry without ':' or '='";
    }
    if (nlen == 0)
        return "carrier entry without a header name";
    const char *v = s + i + 1;
    size_t vlen = len - i - 1;
    while (vlen && (cls[(unsigned char)*v] & C_BLANK)) { v++; vlen--; }
    for (size_t k = 0; k < vlen; k++)
        if (cls[(unsigned char)v[k]] & C_CTL)
            return "carrier header value holds a control character";
    if (out->n == TWRM_CARRIER_MAX_ENTRIES)
        return "carrier has more than 64 headers";
    twrm_carrier_entry *e = &out->e[out->n++];
    e->name = s; e->name_len = nlen; e->val = v; e->val_len = vlen;
    return NULL;
}

const char *twrm_carrier_parse(const char *text, size_t len, twrm_carrier *out)
{
    out->n = 0;
    if (len > TWRM_CARRIER_MAX_BYTES)
        return "carrier longer than 16384 bytes";
    char sep = memchr(text, '\n', len) ? '\n' : ';';
    const char *p = text, *end = text + len;
    for (;;) {
        const char *q = memchr(p, sep, (size_t)(end - p));
        const char *err = parse_entry(p, (size_t)((q ? q : end) - p), out);
        if (err) {
            out->n = 0;
            return err;
        }
        if (q == NULL)
            return NULL;
        p = q + 1;
    }
}

int twrm_carrier_foreach(void *carrier, int (*visit)(void *, const char *, size_t, const char *, size_t),
                         void *visit_ud)
{
    const twrm_carrier *c = carrier;
    for (size_t i = 0; i < c->n; i++)
        if (visit(visit_ud, c->e[i].name, c->e[i].name_len, c->e[i].val, c->e[i].val_len))
            break;
    return 0;
}
