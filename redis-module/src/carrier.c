/* carrier.c — parsing of the text carrier (format in carrier.h). Borrowing
 * only: entries point into the caller's text, nothing is allocated. */
#include "carrier.h"

#include <string.h>

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int is_token(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '.';
}

static const char *parse_entry(const char *s, size_t len, twrm_carrier *out)
{
    while (len && is_blank(*s)) { s++; len--; }
    while (len && (is_blank(s[len - 1]) || s[len - 1] == '\r')) len--;
    if (len == 0)
        return NULL;                       /* empty line or trailing separator */
    size_t i = 0;
    while (i < len && s[i] != ':' && s[i] != '=') i++;
    if (i == len)
        return "carrier entry without ':' or '='";
    size_t nlen = i;
    while (nlen && is_blank(s[nlen - 1])) nlen--;
    if (nlen == 0)
        return "carrier entry without a header name";
    for (size_t k = 0; k < nlen; k++)
        if (!is_token(s[k]))
            return "carrier header name holds a character outside [A-Za-z0-9._-]";
    const char *v = s + i + 1;
    size_t vlen = len - i - 1;
    while (vlen && is_blank(*v)) { v++; vlen--; }
    for (size_t k = 0; k < vlen; k++)
        if ((unsigned char)v[k] < 0x20 || v[k] == 0x7f)
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
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == sep) {
            const char *err = parse_entry(text + start, i - start, out);
            if (err) {
                out->n = 0;
                return err;
            }
            start = i + 1;
        }
    }
    return NULL;
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
