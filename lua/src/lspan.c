/* lspan.c — tracewire.span: tracer:start_span and the span methods.
 *
 * A span userdata is created (with its metatable, so the collector owns it)
 * BEFORE the core span is started and before any option is applied: a Lua
 * error halfway through (a bad tag, say) then leaves a userdata whose __gc
 * frees the core span without reporting it. Nothing is half-applied to the
 * tracer, and nothing leaks.
 *
 * __close (Lua 5.4 `local s <close> = ...`) and __gc share span_release():
 * closing finishes the span (tagging error=true and logging the error when
 * the scope is left by an error); collecting frees it and never reports an
 * unfinished span. Both are safe to run twice.
 */
#include "twlua.h"

#include <string.h>

twl_span *twl_check_span(lua_State *L, int idx)
{
    twl_span *u = twl_checkudata(L, idx, TWL_UV_SPAN);
    if (u->s == NULL)
        luaL_argerror(L, idx, "span already freed");
    return u;
}

/* The key at idx: a non-empty string of at most TWL_MAX_NAME bytes. */
static const char *check_key(lua_State *L, int idx, const char *what, size_t *len)
{
    const char *k;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "tracewire: %s key must be a string, got %s", what, luaL_typename(L, idx));
    k = lua_tolstring(L, idx, len);
    if (*len == 0)
        luaL_error(L, "tracewire: %s key must not be empty", what);
    if (*len > TWL_MAX_NAME)
        luaL_error(L, "tracewire: %s key longer than %d bytes", what, TWL_MAX_NAME);
    return k;
}

/* The operation name at idx (a string of at most TWL_MAX_NAME bytes). */
static const char *check_name(lua_State *L, int idx, size_t *len)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_argerror(L, idx, "operation name must be a string");
    if (lua_rawlen(L, idx) > TWL_MAX_NAME)
        luaL_argerror(L, idx, "operation name longer than 1024 bytes");
    return lua_tolstring(L, idx, len);
}

/* Sets the tag whose key is at kidx and value at vidx. */
static void set_tag(lua_State *L, tw_span *s, int kidx, int vidx)
{
    tw_field f;
    tw_status st;
    f.key = check_key(L, kidx, "tag", &f.key_len);
    if (twl_value_to_field(L, vidx, &f) != 0)
        luaL_error(L, "tracewire: tag '%s' must be a string, number or boolean, got %s",
                   f.key, luaL_typename(L, vidx));
    st = tw_span_set_tag(s, &f);
    if (st != TW_OK && st != TW_ERR_FINISHED)
        twl_status_error(L, st, "set_tag");
}

static void set_tags(lua_State *L, tw_span *s, int tidx)
{
    luaL_checkstack(L, 3, NULL);
    lua_pushnil(L);
    while (lua_next(L, tidx) != 0) {
        set_tag(L, s, -2, -1);
        lua_pop(L, 1);
    }
}

static tw_ref_type check_ref_type(lua_State *L, int idx)
{
    const char *t = lua_tostring(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
        if (strcmp(t, "child_of") == 0)
            return TW_REF_CHILD_OF;
        if (strcmp(t, "follows_from") == 0)
            return TW_REF_FOLLOWS_FROM;
    }
    luaL_error(L, "tracewire: reference type must be \"child_of\" or \"follows_from\"");
    return TW_REF_CHILD_OF;
}

/* tracer:start_span(name[, {child_of=, references=, tags=, start_timestamp=}]) */
int twl_span_start(lua_State *L)
{
    twl_tracer *tr = twl_check_tracer(L, 1);
    tw_span_ref refs[TWL_MAX_REFS];
    size_t nrefs = 0, nlen;
    int64_t start_us = 0;
    const char *name;
    int has_opts;
    twl_span *u;

    name = check_name(L, 2, &nlen);
    has_opts = !lua_isnoneornil(L, 3);
    if (has_opts && !lua_istable(L, 3))
        return luaL_argerror(L, 3, "options must be a table");
    lua_settop(L, 3);

    lua_pushnil(L);                          /* 4: tags */
    lua_pushnil(L);                          /* 5: references */
    lua_pushnil(L);                          /* 6: child_of */
    if (has_opts) {
        /* One lua_next walk instead of a lua_getfield per option (each of
         * which interns its key string). Unknown options are ignored. */
        lua_pushnil(L);
        while (lua_next(L, 3) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                const char *k = lua_tostring(L, -2);
                int slot = 0;
                if (strcmp(k, "child_of") == 0)
                    slot = 6;
                else if (strcmp(k, "tags") == 0)
                    slot = 4;
                else if (strcmp(k, "references") == 0)
                    slot = 5;
                else if (strcmp(k, "start_timestamp") == 0)
                    start_us = twl_check_timestamp(L, -1, 3);
                if (slot != 0) {
                    lua_replace(L, slot);
                    continue;
                }
            }
            lua_pop(L, 1);
        }
        /* Referenced objects stay reachable through the stack slots above,
         * so the borrowed context pointers are safe. */
        if (!lua_isnil(L, 6)) {
            refs[0].ctx = twl_to_context(L, 6);
            if (refs[0].ctx == NULL)
                return luaL_argerror(L, 3, "child_of must be a span or span context");
            refs[0].type = TW_REF_PARENT;   /* a parent; listed as a reference
                                              * except under profile jaeger_client */
            nrefs = 1;
        }
        if (!lua_isnil(L, 5)) {
            size_t n;
            if (!lua_istable(L, 5))
                return luaL_argerror(L, 3, "references must be an array of {type, context}");
            n = lua_rawlen(L, 5);
            for (size_t i = 1; i <= n; i++) {
                if (nrefs == TWL_MAX_REFS)
                    return luaL_error(L, "tracewire: at most %d references per span", TWL_MAX_REFS);
                lua_rawgeti(L, 5, (int)i);
                if (!lua_istable(L, -1))
                    return luaL_error(L, "tracewire: reference %d must be a table {type, context}", (int)i);
                lua_rawgeti(L, -1, 1);
                refs[nrefs].type = check_ref_type(L, -1);
                lua_rawgeti(L, -2, 2);
                refs[nrefs].ctx = twl_to_context(L, -1);
                if (refs[nrefs].ctx == NULL)
                    return luaL_error(L, "tracewire: reference %d: span or span context expected", (int)i);
                nrefs++;
                /* the element table stays referenced by the references array */
                lua_pop(L, 3);
            }
        }
        if (!lua_isnil(L, 4) && !lua_istable(L, 4))
            return luaL_argerror(L, 3, "tags must be a table");
    }

    u = twl_push_new_span(L, tr, name, nlen, nrefs ? refs : NULL, nrefs, start_us);
    if (lua_istable(L, 4))
        set_tags(L, u->s, 4);
    return 1;
}

twl_span *twl_push_new_span(lua_State *L, twl_tracer *tr, const char *name, size_t nlen,
                            const tw_span_ref *refs, size_t nrefs, int64_t start_us)
{
    twl_span *u = twl_newuserdata(L, sizeof *u);
    tw_status st;
    u->s = NULL;
    u->box = NULL;
    twl_setmetatable(L, TWL_UV_SPAN);
    st = tw_span_start(tr->box->t, name, nlen, refs, nrefs, start_us, &u->s);
    if (st != TW_OK)
        twl_status_error(L, st, "start_span");
    u->box = tr->box;
    tr->box->refs++;
    return u;
}

/* span:set_tag(key, value) -> span. Ignored on a finished span. */
static int span_set_tag(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    set_tag(L, u->s, 2, 3);
    lua_settop(L, 1);
    return 1;
}

/* span:set_tags{k=v, ...} -> span. */
static int span_set_tags(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    set_tags(L, u->s, 2);
    lua_settop(L, 1);
    return 1;
}

/* span:log_kv({k=v, ...}[, timestamp]) -> span. */
static int span_log_kv(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    int64_t ts;
    size_t n = 0;
    tw_field *fields;
    tw_status st;

    luaL_checktype(L, 2, LUA_TTABLE);
    ts = twl_check_timestamp(L, 3, 3);
    lua_settop(L, 2);
    luaL_checkstack(L, 4, NULL);
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
        lua_pop(L, 1);
        if (++n > TWL_MAX_FIELDS)
            return luaL_error(L, "tracewire: log_kv: at most %d fields per record", TWL_MAX_FIELDS);
    }
    if (n == 0)
        return luaL_argerror(L, 2, "log_kv needs at least one field");
    /* Scratch space owned by the collector: nothing to free on error. */
    fields = twl_newuserdata(L, n * sizeof *fields);
    n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
        tw_field *f = &fields[n++];
        f->key = check_key(L, -2, "log field", &f->key_len);
        if (twl_value_to_field(L, -1, f) != 0)
            return luaL_error(L, "tracewire: log field '%s' must be a string, number or boolean, got %s",
                              f->key, luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    st = tw_span_log(u->s, ts, fields, n);
    if (st != TW_OK && st != TW_ERR_FINISHED)
        return twl_status_error(L, st, "log_kv");
    lua_settop(L, 1);
    return 1;
}

/* span:log(key, value[, timestamp]) -> span (opentracing-lua's single field). */
static int span_log(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    int64_t ts = twl_check_timestamp(L, 4, 4);
    tw_field f;
    tw_status st;
    f.key = check_key(L, 2, "log field", &f.key_len);
    if (twl_value_to_field(L, 3, &f) != 0)
        return luaL_argerror(L, 3, "log value must be a string, number or boolean");
    st = tw_span_log(u->s, ts, &f, 1);
    if (st != TW_OK && st != TW_ERR_FINISHED)
        return twl_status_error(L, st, "log");
    lua_settop(L, 1);
    return 1;
}

static int span_set_operation_name(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    size_t n;
    tw_status st;
    const char *name = check_name(L, 2, &n);
    st = tw_span_set_operation_name(u->s, name, n);
    if (st != TW_OK && st != TW_ERR_FINISHED)
        return twl_status_error(L, st, "set_operation_name");
    lua_settop(L, 1);
    return 1;
}

static int span_operation_name(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    size_t n;
    const char *name = tw_span_operation_name(u->s, &n);
    lua_pushlstring(L, name ? name : "", name ? n : 0);
    return 1;
}

/* span:finish([timestamp]) -> true, or false when it was already finished. */
static int span_finish(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    int64_t ts = twl_check_timestamp(L, 2, 2);
    return twl_push_finish(L, tw_span_finish(u->s, ts), "finish");
}

int twl_push_finish(lua_State *L, tw_status st, const char *what)
{
    if (st != TW_OK && st != TW_ERR_FINISHED)
        return twl_status_error(L, st, what);
    lua_pushboolean(L, st == TW_OK);
    return 1;
}

static int span_is_finished(lua_State *L)
{
    lua_pushboolean(L, tw_span_is_finished(twl_check_span(L, 1)->s) != 0);
    return 1;
}

/* span:context() -> a new context (a copy; it outlives the span). */
static int span_context(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    twl_context *c = twl_new_context(L);
    tw_status st = tw_span_context_dup(tw_span_get_context(u->s), &c->c);
    if (st != TW_OK)
        return twl_status_error(L, st, "context");
    return 1;
}

static int span_set_baggage_item(lua_State *L)
{
    twl_span *u = twl_check_span(L, 1);
    size_t kl, vl;
    const char *k, *v;
    tw_status st;
    k = check_key(L, 2, "baggage", &kl);
    if (lua_type(L, 3) != LUA_TSTRING)
        return luaL_argerror(L, 3, "baggage value must be a string");
    v = lua_tolstring(L, 3, &vl);
    st = tw_span_set_baggage(u->s, k, kl, v, vl);
    if (st != TW_OK && st != TW_ERR_FINISHED)
        return twl_status_error(L, st, "set_baggage_item");
    lua_settop(L, 1);
    return 1;
}

/* One function behind __gc and __close. finish: finish an unfinished span
 * first (the __close path); otherwise just free (the __gc path). */
static int span_release(lua_State *L, int finish)
{
    twl_span *u = twl_checkudata(L, 1, TWL_UV_SPAN);
    if (u->s == NULL)
        return 0;
    if (finish) {
        if (!tw_span_is_finished(u->s)) {
            if (!lua_isnoneornil(L, 2)) {        /* scope left by an error */
                tw_field f[2];
                f[0].key = "event";
                f[0].key_len = 5;
                f[0].type = TW_VAL_STRING;
                f[0].v.str.ptr = "error";
                f[0].v.str.len = 5;
                f[1].key = "message";
                f[1].key_len = 7;
                f[1].type = TW_VAL_STRING;
                if (lua_type(L, 2) == LUA_TSTRING) {
                    f[1].v.str.ptr = lua_tolstring(L, 2, &f[1].v.str.len);
                } else {
                    f[1].v.str.ptr = luaL_typename(L, 2);
                    f[1].v.str.len = strlen(f[1].v.str.ptr);
                }
                tw_span_set_tag_bool(u->s, "error", 1);
                tw_span_log(u->s, 0, f, 2);
            }
            tw_span_finish(u->s, 0);
        }
        return 0;
    }
    tw_span_free(u->s);
    u->s = NULL;
    twl_box_release(u->box);
    u->box = NULL;
    return 0;
}

static int span_gc(lua_State *L) { return span_release(L, 0); }
static int span_close(lua_State *L) { return span_release(L, 1); }

static int span_tostring(lua_State *L)
{
    twl_span *u = twl_checkudata(L, 1, TWL_UV_SPAN);
    size_t n;
    const char *name;
    if (u->s == NULL) {
        lua_pushliteral(L, "tracewire.span (freed)");
        return 1;
    }
    name = tw_span_operation_name(u->s, &n);
    lua_pushfstring(L, "tracewire.span '%s'%s", name ? name : "",
                    tw_span_is_finished(u->s) ? " (finished)" : "");
    return 1;
}

static const luaL_Reg span_methods[] = {
    {"set_tag", span_set_tag},
    {"set_tags", span_set_tags},
    {"log_kv", span_log_kv},
    {"log", span_log},
    {"set_operation_name", span_set_operation_name},
    {"operation_name", span_operation_name},
    {"finish", span_finish},
    {"finish_http", twl_span_finish_http},
    {"set_http_request", twl_span_set_http_request},
    {"is_finished", span_is_finished},
    {"context", span_context},
    {"set_baggage_item", span_set_baggage_item},
    {"__gc", span_gc},
#if TWL_HAVE_CLOSE
    {"__close", span_close},
#endif
    {"__tostring", span_tostring},
    {NULL, NULL}
};

void twl_span_open(lua_State *L)
{
    luaL_getmetatable(L, TWL_SPAN_MT);
    twl_setfuncs(L, twl_context_readers);   /* trace_id, span_id, get_baggage_item, ... */
    twl_setfuncs(L, span_methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
#if !TWL_HAVE_CLOSE
    (void)span_close;
#endif
}
