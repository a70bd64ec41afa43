/* module.h — the module's process-wide state, shared by module.c (lists,
 * load/unload, INFO), stream.c and settings.c. One module instance per
 * process (Redis loads a module once) and every command runs on Redis's
 * main thread, so plain fields suffice; the reporter thread is the core's
 * and touches none of this. */
#ifndef TWRM_MODULE_H
#define TWRM_MODULE_H

#include <stddef.h>

#include "redismodule_api.h"
#include "tracewire.h"

typedef struct twrm_state {
    tw_tracer *tracer;          /* replaced by CONFIG SET (settings.c) between commands */
    size_t max_item;            /* tq.max_item_size */
    int spans;                  /* tq.spans: 1 report send/wait spans, 0 propagate only */
    unsigned long long pushed, popped, popped_plain, corrupted, rejected_carrier;
    unsigned long long xadded, xdelivered, xdelivered_plain, xredelivered;
} twrm_state;

extern twrm_state twrm_g;

/* Builds the module's tracer from cfg (borrowed). The one place a tracer is
 * made, at load and on every CONFIG SET that replaces it (settings.c), so
 * whatever the module attaches to its tracer is attached to each one. */
tw_status twrm_tracer_new(const tw_config *cfg, tw_tracer **out);

/* Stream commands (stream.c). */
int twrm_cmd_xadd(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int twrm_cmd_xreadgroup(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif /* TWRM_MODULE_H */
