/* scope.c — OTel instrumentation scopes (tw_tracer_scope).
 *
 * A scope is what an OTel Tracer is: (name, version, schema_url, attributes).
 * Records point at their scope and the encoders read it on the reporter
 * thread, possibly after the binding dropped its Tracer; so the tracer owns
 * every scope until tw_tracer_free (which runs after the reporter drained),
 * and a record only borrows. Scopes without attributes are interned (the
 * same arguments give the same scope), so get_tracer in a loop does not grow
 * the list; the list is bounded (TWP_MAX_SCOPES) against a leak through
 * scopes with attributes. Creation is rare (once per OTel Tracer): one
 * process-wide mutex is enough and keeps the tracer struct free of a lock
 * that calloc would have to initialise.
 */
#include "tracer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TWP_MAX_SCOPES 4096u

static pthread_mutex_t scopes_lock = PTHREAD_MUTEX_INITIALIZER;

static bool opt_eq(const char *a, uint32_t alen, const char *b, size_t blen)
{
    if (!a || !b)
        return !a && !b;
    return alen == blen && memcmp(a, b, blen) == 0;
}

static const char *opt_dup(twp_arena *a, const char *s, size_t n, bool *ok)
{
    if (!s)
        return NULL;
    const char *p = twp_arena_strdup(a, n ? s : "", n);
    if (!p)
        *ok = false;
    return p;
}

tw_status tw_tracer_scope(tw_tracer *t, const char *name, size_t name_len,
                          const char *version, size_t version_len,
                          const char *schema_url, size_t schema_url_len,
                          const tw_field *attrs, size_t n, const tw_scope **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    if (!t || (!name && name_len) || (!attrs && n) || name_len > UINT32_MAX ||
        version_len > UINT32_MAX || schema_url_len > UINT32_MAX || n > UINT32_MAX ||
        (!version && version_len) || (!schema_url && schema_url_len))
        return TW_ERR_INVALID_ARG;
    if (!name)
        name = "";
    tw_status st = TW_OK;
    pthread_mutex_lock(&scopes_lock);
    if (n == 0) {
        for (twp_scope *s = t->scopes; s; s = s->next) {
            if (s->nattrs == 0 && opt_eq(s->name, s->name_len, name, name_len) &&
                opt_eq(s->version, s->version_len, version, version_len) &&
                opt_eq(s->schema_url, s->schema_url_len, schema_url, schema_url_len)) {
                *out = s;
                goto done;
            }
        }
    }
    if (t->nscopes >= TWP_MAX_SCOPES) {
        st = TW_ERR_TOO_LARGE;
        goto done;
    }
    twp_scope *s = calloc(1, sizeof *s);
    if (!s) {
        st = TW_ERR_NOMEM;
        goto done;
    }
    bool ok = true;
    s->owner = t;
    s->name = opt_dup(&s->arena, name, name_len, &ok);
    s->version = opt_dup(&s->arena, version, version_len, &ok);
    s->schema_url = opt_dup(&s->arena, schema_url, schema_url_len, &ok);
    s->name_len = (uint32_t)name_len;
    s->version_len = (uint32_t)version_len;
    s->schema_url_len = (uint32_t)schema_url_len;
    if (ok && n) {
        s->attrs = twp_arena_alloc(&s->arena, sizeof(twp_value) * n);
        ok = s->attrs != NULL;
        for (size_t i = 0; ok && i < n; i++) {
            st = twp_value_fill(&s->arena, t->max_tag_len, &s->attrs[i], &attrs[i]);
            ok = st == TW_OK;
        }
        s->nattrs = (uint32_t)n;
    }
    if (!ok) {
        if (st == TW_OK)
            st = TW_ERR_NOMEM;
        twp_arena_release(&s->arena);
        free(s);
        goto done;
    }
    s->next = t->scopes;
    t->scopes = s;
    t->nscopes++;
    *out = s;
done:
    pthread_mutex_unlock(&scopes_lock);
    return st;
}

void twp_scopes_free(tw_tracer *t)
{
    twp_scope *s = t->scopes;
    while (s) {
        twp_scope *next = s->next;
        twp_arena_release(&s->arena);
        free(s);
        s = next;
    }
    t->scopes = NULL;
    t->nscopes = 0;
}
