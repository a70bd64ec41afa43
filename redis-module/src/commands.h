/* commands.h — how every TQ.* command presents itself to Redis: flags, key
 * positions, arity, key specs and COMMAND DOCS (see commands.c). */
#ifndef TWRM_COMMANDS_H
#define TWRM_COMMANDS_H

#include "redismodule_api.h"

/* Creates command `name` (lower case, one of commands.c's table) handled by
 * fn, then declares its command info where the server has the 7.0 API
 * (RedisModule_SetCommandInfo). Returns REDISMODULE_OK, or REDISMODULE_ERR
 * after logging why (unknown name, the server refused). Call from OnLoad. */
int twrm_command_create(RedisModuleCtx *ctx, const char *name, RedisModuleCmdFunc fn);

#endif /* TWRM_COMMANDS_H */
