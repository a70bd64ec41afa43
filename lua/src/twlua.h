/* twlua.h — what the files of the Lua binding share.
 *
 * The binding is translation only: every decision (sampling, ids, encoding,
 * propagation, reporting) is made by the C core behind tracewire.h. Three
 * userdata types exist per Lua state, each with a metatable in the registry:
 *   tracewire.tracer   a twl_tracer, pointing at a refcounted twl_box
 *   tracewire.span     a twl_span (holds one box reference)
 *   tracewire.context  a twl_context owning one tw_span_context
 * The box exists because tw_tracer_free requires every span to be freed
 * first, while the garbage collector may collect a tracer before its spans:
 * the tw_tracer is freed when the last holder lets go. No C globals.
 */
#ifndef TWL_TWLUA_H
#define TWL_TWLUA_H

#include "compat.h"
#include "tracewire.h"

#define TWL_TRACER_MT  "tracewire.tracer"
#define TWL_SPAN_MT    "tracewire.span"
#define TWL_CONTEXT_MT "tracewire.context"

#define TWL_MAX_REFS   64     /* references per start_span */
#define TWL_MAX_FIELDS 256    /* fields per log_kv record */
#define TWL_MAX_NAME   1024   /* bytes in an operation name or a tag/log key */

/* Every C function of the module is a closure over the three metatables
 * (upvalues 1..3): checking a userdata's type is then one rawequal instead of
 * a registry lookup by name, which interns a string on every call. */
#define TWL_UV_TRACER  1
#define TWL_UV_SPAN    2
#define TWL_UV_CONTEXT 3

typedef struct twl_diag twl_diag;

typedef struct twl_box {
    tw_tracer *t;         /* NULL until new_tracer succeeded */
    tw_config *cfg;       /* the config the tracer was built from (for tracer:config) */
    int refs;             /* tracer userdata + live spans */
    twl_diag *diag;       /* the diagnostics queue (ldiag.c); freed after t */
} twl_box;

typedef struct twl_tracer { twl_box *box; } twl_tracer;
typedef struct twl_span { tw_span *s; twl_box *box; } twl_span;
typedef struct twl_context { tw_span_context *c; } twl_context;

/* lvalues.c */
/* The userdata at idx if its metatable is upvalue uv, else NULL. */
void *twl_testudata(lua_State *L, int idx, int uv);
/* Same, raising "<type> expected, got <type>" on a mismatch. */
void *twl_checkudata(lua_State *L, int idx, int uv);
/* Sets metatable upvalue uv on the value at the top of the stack. */
void twl_setmetatable(lua_State *L, int uv);
/* luaL_setfuncs into the table at the top, with the three metatables as
 * upvalues (they must exist in the registry already). */
void twl_setfuncs(lua_State *L, const luaL_Reg *l);
/* Raises a Lua error "tracewire: <what>: <tw_strerror(st)>"; never returns. */
int twl_status_error(lua_State *L, tw_status st, const char *what);
/* Timestamp at idx as epoch microseconds; 0 (= now) for nil/none. Numbers
 * above 1e11 are microseconds, others seconds (float or integer). Errors
 * name argument argn. */
int64_t twl_check_timestamp(lua_State *L, int idx, int argn);
/* Timeout in seconds at idx (default def_ms when nil) as milliseconds. */
int twl_check_timeout_ms(lua_State *L, int idx, int def_ms);
/* Fills f->type/f->v from the value at idx (string, number, boolean);
 * returns 0, or -1 for any other type. Pointers borrow the Lua string. */
int twl_value_to_field(lua_State *L, int idx, tw_field *f);
/* Pushes a 64-bit unsigned counter (integer in 5.4, number in LuaJIT). */
void twl_push_u64(lua_State *L, uint64_t v);

/* lcontext.c */
void twl_context_open(lua_State *L);
/* Pushes a new, empty context userdata; the caller stores the context it
 * owns in ->c right after (creating the userdata first means a Lua error
 * can never leak a core context). */
twl_context *twl_new_context(lua_State *L);
/* Readers shared by context and span methods (first argument: either). */
extern const luaL_Reg twl_context_readers[];
/* borrowed: the context of a span or context userdata at idx, or NULL. */
const tw_span_context *twl_to_context(lua_State *L, int idx);

/* lspan.c */
void twl_span_open(lua_State *L);
int twl_span_start(lua_State *L);      /* tracer:start_span(name, opts) */
/* Pushes a new span userdata (collector-owned, holding a box reference) for
 * a started core span; raises a Lua error if the core refuses. */
twl_span *twl_push_new_span(lua_State *L, twl_tracer *tr, const char *name, size_t nlen,
                            const tw_span_ref *refs, size_t nrefs, int64_t start_us);
/* finish's result for Lua: true, false when already finished, or raises. */
int twl_push_finish(lua_State *L, tw_status st, const char *what);
/* The span at idx; raises unless it is a live span. */
twl_span *twl_check_span(lua_State *L, int idx);
/* tracer:start_http_span(head, ...) and span:finish_http(status) (lhttp.c) */
int twl_start_http_span(lua_State *L);
int twl_span_finish_http(lua_State *L);
/* span:set_http_request(method, target[, host[, scheme[, component]]]) and
 * tracer:header_names([which]) (lhttp.c) */
int twl_span_set_http_request(lua_State *L);
int twl_tracer_header_names(lua_State *L);
int twl_header_names(lua_State *L);

/* lqueue.c: envelope_encode, envelope_decode, carrier_parse (module functions) */
extern const luaL_Reg twl_queue_funcs[];

/* ldiag.c: the diagnostics route (stderr, or ngx.log from the Lua thread) */
twl_diag *twl_diag_new(lua_State *L);   /* NULL on OOM */
void twl_diag_free(twl_diag *d);
void twl_diag_hook(void *ud, tw_diag_kind kind, tw_status st, const char *msg, uint64_t count);
/* Emits queued lines through ngx.log; returns how many. Cheap when none. */
int twl_diag_emit(lua_State *L, twl_diag *d);

/* ltracer.c */
void twl_tracer_open(lua_State *L);
int twl_new_tracer(lua_State *L);      /* tracewire.new_tracer([name, ]{...}) */
twl_tracer *twl_check_tracer(lua_State *L, int idx);
void twl_box_release(twl_box *box);

#endif /* TWL_TWLUA_H */
