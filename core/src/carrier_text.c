/* carrier_text.c — the text form of a trace carrier (format in tracewire.h,
 * "carrier text"): what TQ.* commands take and queue envelopes store.
 *
 * Borrowing only: entries point into the caller's text, nothing is
 * allocated, so the Redis module parses on its command path without a
 * malloc. Stricter than extract's carriers on purpose: the text comes from
 * a client argument or a stored value, and a name outside the header token
 * characters, a control character in a value, or more entries or bytes than
 * the documented bounds is refused with a reason instead of half-read. The
 * Python and Lua helpers parse through their bindings with this same code.
 *
 * Writing is here too (tw_carrier_text_put), over the same character
 * table, so the one writer every face uses cannot produce text the parser
 * refuses: Python's and Lua's format_carrier and the Redis module's stored
 * carriers (tw_tracer_inject straight into a writer).
 */
#include "envelope.h"

#include <string.h>

/* Character classes, one table lookup per byte. */
enum { C_TOKEN = 1, C_BLANK = 2, C_CTL = 4, C_SEP = 8 };
static const unsigned char cls[256] = {
    ['\t'] = C_BLANK | C_CTL, [' '] = C_BLANK, [':'] = C_SEP, ['='] = C_SEP,
    ['-'] = C_TOKEN, ['_'] = C_TOKEN, ['.'] = C_TOKEN,
    ['0' ... '9'] = C_TOKEN, ['A' ... 'Z'] = C_TOKEN, ['a' ... 'z'] = C_TOKEN,
    [0 ... 8] = C_CTL, [10 ... 31] = C_CTL, [127] = C_CTL,
};

static const char too_many[] = "carrier has more than 64 headers";

static int out_of_bounds(const char *err) { return err == too_many; }

static const char *parse_entry(const char *s, size_t len, tw_carrier_text *out)
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
    if (out->n == TW_CARRIER_TEXT_MAX_ENTRIES)
        return too_many;
    struct tw_carrier_text_entry *e = &out->e[out->n++];
    e->name = s; e->name_len = nlen; e->val = v; e->val_len = vlen;
    return NULL;
}

tw_status tw_carrier_text_parse(const char *text, size_t len, tw_carrier_text *out,
                                const char **why)
{
    out->n = 0;
    if (why)
        *why = NULL;
    if (len > TW_CARRIER_TEXT_MAX_BYTES) {
        if (why)
            *why = "carrier longer than 16384 bytes";
        return TW_ERR_TOO_LARGE;
    }
    if (len == 0)
        return TW_OK;
    char sep = memchr(text, '\n', len) ? '\n' : ';';
    const char *p = text, *end = text + len;
    for (;;) {
        const char *q = memchr(p, sep, (size_t)(end - p));
        const char *err = parse_entry(p, (size_t)((q ? q : end) - p), out);
        if (err) {
            out->n = 0;
            if (why)
                *why = err;
            return out_of_bounds(err) ? TW_ERR_TOO_LARGE : TW_ERR_CORRUPTED;
        }
        if (q == NULL)
            return TW_OK;
        p = q + 1;
    }
}

int tw_carrier_text_foreach(void *carrier, tw_kv_fn visit, void *visit_ud)
{
    const tw_carrier_text *c = carrier;
    if (c == NULL)
        return 1;
    for (size_t i = 0; i < c->n; i++)
        if (visit(visit_ud, c->e[i].name, c->e[i].name_len, c->e[i].val, c->e[i].val_len))
            break;
    return 0;
}

void tw_carrier_text_writer_init(tw_carrier_text_writer *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->n = 0;
    w->status = cap ? TW_OK : TW_ERR_INVALID_ARG;
    w->why = cap ? NULL : "carrier buffer without room";
    if (cap)
        buf[0] = '\0';
}

static int refuse(tw_carrier_text_writer *w, tw_status st, const char *why)
{
    w->status = st;
    w->why = why;
    return (int)st;
}

int tw_carrier_text_put(void *ud, const char *name, size_t name_len, const char *val,
                        size_t val_len)
{
    tw_carrier_text_writer *w = ud;
    if (w->status != TW_OK)
        return (int)w->status;
    if (name_len == 0)
        return refuse(w, TW_ERR_CORRUPTED, "carrier entry without a header name");
    for (size_t k = 0; k < name_len; k++)
        if (!(cls[(unsigned char)name[k]] & C_TOKEN))
            return refuse(w, TW_ERR_CORRUPTED,
                          "carrier header name holds a character outside [A-Za-z0-9._-]");
    while (val_len && cls[(unsigned char)*val] == C_BLANK) { val++; val_len--; }
    while (val_len && cls[(unsigned char)val[val_len - 1]] == C_BLANK) val_len--;
    for (size_t k = 0; k < val_len; k++)
        if (cls[(unsigned char)val[k]] & C_CTL)
            return refuse(w, TW_ERR_CORRUPTED, "carrier header value holds a control character");
    if (w->n == TW_CARRIER_TEXT_MAX_ENTRIES)
        return refuse(w, TW_ERR_TOO_LARGE, too_many);
    size_t add = (w->len ? 1 : 0) + name_len + 2 + val_len;
    size_t room = w->cap - 1 < TW_CARRIER_TEXT_MAX_BYTES ? w->cap - 1 : TW_CARRIER_TEXT_MAX_BYTES;
    if (add > room - w->len)
        return refuse(w, TW_ERR_TOO_LARGE, w->cap - 1 < TW_CARRIER_TEXT_MAX_BYTES
                                               ? "carrier text longer than its buffer"
                                               : "carrier longer than 16384 bytes");
    char *p = w->buf + w->len;
    if (w->len)
        *p++ = '\n';
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = ':';
    *p++ = ' ';
    if (val_len)
        memcpy(p, val, val_len);
    p += val_len;
    *p = '\0';
    w->len += add;
    w->n++;
    return 0;
}
