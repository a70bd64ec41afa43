/* redismodule_api.c — resolves the module API pointers declared in
 * redismodule_api.h. The server's RedisModuleCtx starts with a pointer to
 * GetApi(name, void *out); everything else is looked up by name through it. */
#include "redismodule_api.h"

#include <stddef.h>

#define TWRM_DEFINE(ret, name, params) ret(*RedisModule_##name) params = NULL;
TWRM_API_LIST(TWRM_DEFINE)
TWRM_OPTIONAL_API_LIST(TWRM_DEFINE)
#undef TWRM_DEFINE

typedef int (*twrm_getapi_fn)(const char *name, void *out);

int twrm_api_init(RedisModuleCtx *ctx, const char *name, int ver, const char **missing)
{
    twrm_getapi_fn getapi = *(twrm_getapi_fn *)(void *)ctx;
    *missing = NULL;
    if (getapi == NULL) {
        *missing = "GetApi";
        return REDISMODULE_ERR;
    }
#define TWRM_LOOKUP(ret, fname, params)                                          \
    if (getapi("RedisModule_" #fname, (void *)&RedisModule_##fname) != REDISMODULE_OK \
        || RedisModule_##fname == NULL) {                                        \
        *missing = "RedisModule_" #fname;                                        \
        return REDISMODULE_ERR;                                                  \
    }
    TWRM_API_LIST(TWRM_LOOKUP)
#undef TWRM_LOOKUP
#define TWRM_LOOKUP_OPTIONAL(ret, fname, params)                                 \
    if (getapi("RedisModule_" #fname, (void *)&RedisModule_##fname) != REDISMODULE_OK) \
        RedisModule_##fname = NULL;
    TWRM_OPTIONAL_API_LIST(TWRM_LOOKUP_OPTIONAL)
#undef TWRM_LOOKUP_OPTIONAL
    if (RedisModule_IsModuleNameBusy(name)) {
        *missing = "name busy";
        return REDISMODULE_ERR;
    }
    RedisModule_SetModuleAttribs(ctx, name, ver, REDISMODULE_APIVER_1);
    return REDISMODULE_OK;
}
