/* ldiag.c — failures speak in Lua: the core's diagnostics hook for a tracer.
 *
 * The core calls the hook on its reporter thread, where no Lua state may be
 * touched. Two routes, chosen when the tracer is made:
 *   - plain Lua (no global ngx): the hook writes "tracewire: ..." lines to
 *     stderr itself (write(2) is safe from any thread); nothing waits for the
 *     Lua side.
 *   - OpenResty (a global ngx with ngx.log): the hook only queues the line
 *     (bounded: TWL_DIAG_LINES, later ones counted and said as "N more"),
 *     and the Lua thread emits the queue through ngx.log(level, line) on
 *     its next tracer call (one relaxed atomic load when nothing waits) or
 *     when tracer:diagnostics() is called -- tracewire.nginx calls it from
 *     a one-second timer so an idle worker speaks too. The level is the
 *     core's for the kind (tw_diag_kind_is_warning): ngx.WARN for a failed
 *     poll of the agent, ngx.ERR for lost spans or baggage -- the levels the
 *     native nginx module logs them at.
 * The queue lives in the tracer's box and is freed after the core tracer,
 * so the hook's pointer outlives every call the core can make.
 */
#include "twlua.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TWL_DIAG_LINES 16
#define TWL_DIAG_LINE 512

struct twl_diag {
    pthread_mutex_t mu;
    atomic_int pending;       /* lines (or a lost count) wait for the Lua side */
    int queue;                /* 1: ngx.log from the Lua thread; 0: stderr at once */
    int n;
    unsigned long lost;
    char lines[TWL_DIAG_LINES][TWL_DIAG_LINE];
    char warn[TWL_DIAG_LINES];    /* 1: ngx.WARN, 0: ngx.ERR */
};

twl_diag *twl_diag_new(lua_State *L)
{
    twl_diag *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    pthread_mutex_init(&d->mu, NULL);
    lua_getglobal(L, "ngx");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "log");
        d->queue = lua_isfunction(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return d;
}

void twl_diag_free(twl_diag *d)
{
    if (d == NULL)
        return;
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void twl_diag_hook(void *ud, tw_diag_kind kind, tw_status st, const char *msg, uint64_t count)
{
    twl_diag *d = ud;
    (void)st;
    (void)count;
    if (!d->queue) {
        char line[TWL_DIAG_LINE + 2];
        int n = snprintf(line, sizeof line, "%s\n", msg);
        if (n > 0)
            (void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        return;
    }
    pthread_mutex_lock(&d->mu);
    if (d->n < TWL_DIAG_LINES) {
        d->warn[d->n] = (char)tw_diag_kind_is_warning(kind);
        snprintf(d->lines[d->n++], TWL_DIAG_LINE, "%s", msg);
    } else
        d->lost++;
    atomic_store(&d->pending, 1);
    pthread_mutex_unlock(&d->mu);
}

int twl_diag_emit(lua_State *L, twl_diag *d)
{
    if (d == NULL || !atomic_load_explicit(&d->pending, memory_order_relaxed))
        return 0;
    char (*lines)[TWL_DIAG_LINE] = malloc(sizeof d->lines);
    char warn[TWL_DIAG_LINES];
    if (lines == NULL)
        return 0;   /* they stay queued: the next call tries again */
    pthread_mutex_lock(&d->mu);
    int n = d->n;
    unsigned long lost = d->lost;
    memcpy(lines, d->lines, (size_t)n * TWL_DIAG_LINE);
    memcpy(warn, d->warn, (size_t)n);
    d->n = 0;
    d->lost = 0;
    atomic_store(&d->pending, 0);
    pthread_mutex_unlock(&d->mu);
    if (lost && n < TWL_DIAG_LINES) {
        warn[n] = 0;
        snprintf(lines[n++], TWL_DIAG_LINE,
                 "tracewire: %lu more diagnostics lines were dropped (queue of %d full)", lost,
                 TWL_DIAG_LINES);
    }
    int top = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        lua_getglobal(L, "ngx");
        if (!lua_istable(L, -1))
            break;
        lua_getfield(L, -1, "log");
        lua_getfield(L, -2, warn[i] ? "WARN" : "ERR");
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushinteger(L, warn[i] ? 5 : 4);   /* NGX_LOG_WARN, NGX_LOG_ERR */
        }
        lua_pushstring(L, lines[i]);
        (void)lua_pcall(L, 2, 0, 0);   /* a failing logger must not break tracing */
        lua_settop(L, top);
    }
    lua_settop(L, top);
    free(lines);
    return n;
}
