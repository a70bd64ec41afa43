/* redismodule_api.h — tracewire's own minimal declarations of the Redis module API.
 *
 * Redis does not ship a module header in any Debian package, and the module ABI
 * does not need one: the server passes a context whose first field points at
 * RM_GetApi(name, &fnptr), which fills one function pointer per documented API
 * name. This file declares only what the tracewire module uses — opaque types,
 * the constants it passes (values from the Redis module API documentation for
 * 7.0), and one function pointer per API — and twrm_api_init() resolves them.
 *
 * Every pointer is checked after lookup: an API missing from the running server
 * makes MODULE LOAD fail with a message instead of crashing on a NULL call.
 * The command-info structures are read by the server by layout, so theirs
 * follows the documented 7.0 field order (our names).
 * Written for tracewire; no text is taken from Redis's redismodule.h.
 */
#ifndef TW_REDISMODULE_API_H
#define TW_REDISMODULE_API_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- opaque types */
typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleString RedisModuleString;
typedef struct RedisModuleKey RedisModuleKey;
typedef struct RedisModuleBlockedClient RedisModuleBlockedClient;
typedef struct RedisModuleInfoCtx RedisModuleInfoCtx;
typedef struct RedisModuleCommand RedisModuleCommand;
typedef struct RedisModuleCallReply RedisModuleCallReply;

/* ---------------------------------------------------------------- constants */
#define REDISMODULE_OK 0
#define REDISMODULE_ERR 1
#define REDISMODULE_APIVER_1 1

#define REDISMODULE_READ (1 << 0)
#define REDISMODULE_WRITE (1 << 1)

#define REDISMODULE_KEYTYPE_EMPTY 0
#define REDISMODULE_KEYTYPE_LIST 2
#define REDISMODULE_KEYTYPE_STREAM 7

/* RedisModule_CallReplyType */
#define REDISMODULE_REPLY_STRING 0
#define REDISMODULE_REPLY_ERROR 1
#define REDISMODULE_REPLY_INTEGER 2
#define REDISMODULE_REPLY_ARRAY 3
#define REDISMODULE_REPLY_NULL 4
#define REDISMODULE_REPLY_MAP 5

#define REDISMODULE_LIST_HEAD 0
#define REDISMODULE_LIST_TAIL 1

#define REDISMODULE_NOTIFY_LIST (1 << 4)

#define REDISMODULE_CTX_FLAGS_LUA (1 << 0)
#define REDISMODULE_CTX_FLAGS_MULTI (1 << 1)
#define REDISMODULE_CTX_FLAGS_CLUSTER (1 << 5)
#define REDISMODULE_CTX_FLAGS_LOADING (1 << 13)
#define REDISMODULE_CTX_FLAGS_DENY_BLOCKING (1 << 21)

#define REDISMODULE_ERRORMSG_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"

/* ---------------------------------------------------------------- callbacks */
typedef int (*RedisModuleCmdFunc)(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
typedef void (*RedisModuleFreePrivFunc)(RedisModuleCtx *ctx, void *privdata);
typedef void (*RedisModuleInfoFunc)(RedisModuleInfoCtx *ctx, int for_crash_report);
typedef RedisModuleString *(*RedisModuleConfigGetStringFunc)(const char *name, void *privdata);
typedef int (*RedisModuleConfigSetStringFunc)(const char *name, RedisModuleString *val,
                                              void *privdata, RedisModuleString **err);
typedef int (*RedisModuleConfigApplyFunc)(RedisModuleCtx *ctx, void *privdata,
                                          RedisModuleString **err);

#define REDISMODULE_CONFIG_DEFAULT 0
#define REDISMODULE_CONFIG_IMMUTABLE (1ULL << 0)

/* ---------------------------------------------------------------- command info (7.0)
 * RedisModule_SetCommandInfo reads these structures by layout: the field
 * order and types follow the Redis 7.0 module API documentation (version 1
 * of the command info), and the server checks the sizes we pass in
 * twrm_command_info_version. */
typedef enum {
    TWRM_ARG_STRING = 0, TWRM_ARG_INTEGER, TWRM_ARG_DOUBLE, TWRM_ARG_KEY, TWRM_ARG_PATTERN,
    TWRM_ARG_UNIX_TIME, TWRM_ARG_PURE_TOKEN, TWRM_ARG_ONEOF, TWRM_ARG_BLOCK
} twrm_arg_type;
#define TWRM_ARG_OPTIONAL (1 << 0)
#define TWRM_ARG_MULTIPLE (1 << 1)

typedef enum { TWRM_BS_INVALID = 0, TWRM_BS_UNKNOWN, TWRM_BS_INDEX, TWRM_BS_KEYWORD } twrm_bs_type;
typedef enum { TWRM_FK_OMITTED = 0, TWRM_FK_UNKNOWN, TWRM_FK_RANGE, TWRM_FK_KEYNUM } twrm_fk_type;

#define TWRM_KEY_RO (1ULL << 0)
#define TWRM_KEY_RW (1ULL << 1)
#define TWRM_KEY_OW (1ULL << 2)
#define TWRM_KEY_RM (1ULL << 3)
#define TWRM_KEY_ACCESS (1ULL << 4)
#define TWRM_KEY_UPDATE (1ULL << 5)
#define TWRM_KEY_INSERT (1ULL << 6)
#define TWRM_KEY_DELETE (1ULL << 7)

typedef struct twrm_command_arg {
    const char *name;
    twrm_arg_type type;
    int key_spec_index;            /* -1 unless type is KEY */
    const char *token;
    const char *summary;
    const char *since;
    int flags;                     /* TWRM_ARG_* */
    const char *deprecated_since;
    struct twrm_command_arg *subargs;   /* ONEOF/BLOCK; ends with a zeroed entry */
} twrm_command_arg;

typedef struct {
    const char *since, *changes;
} twrm_command_history;

typedef struct {
    const char *notes;
    uint64_t flags;                /* TWRM_KEY_* */
    twrm_bs_type begin_search_type;
    union {
        struct { int pos; } index;
        struct { const char *keyword; int startfrom; } keyword;
    } bs;
    twrm_fk_type find_keys_type;
    union {
        struct { int lastkey, keystep, limit; } range;
        struct { int keynumidx, firstkey, keystep; } keynum;
    } fk;
} twrm_key_spec;

typedef struct {
    int version;                   /* 1 */
    size_t sizeof_historyentry, sizeof_keyspec, sizeof_arg;
} twrm_command_info_version;

typedef struct {
    const twrm_command_info_version *version;
    const char *summary, *complexity, *since;
    twrm_command_history *history;
    const char *tips;
    int arity;                     /* N exactly, -N at least N (command name counted) */
    twrm_key_spec *key_specs;      /* ends with a zeroed entry */
    twrm_command_arg *args;        /* ends with a zeroed entry */
} twrm_command_info;

/* ---------------------------------------------------------------- API table
 * X(return type, name, parameter list). Expanded below into extern function
 * pointers (defined once in redismodule_api.c) and into the lookup loop. */
#define TWRM_API_LIST(X) \
    X(void, SetModuleAttribs, (RedisModuleCtx *ctx, const char *name, int ver, int apiver)) \
    X(int, IsModuleNameBusy, (const char *name)) \
    X(int, CreateCommand, (RedisModuleCtx *ctx, const char *name, RedisModuleCmdFunc fn, \
                           const char *flags, int firstkey, int lastkey, int keystep)) \
    X(void, Log, (RedisModuleCtx *ctx, const char *level, const char *fmt, ...)) \
    X(int, GetContextFlags, (RedisModuleCtx *ctx)) \
    X(int, WrongArity, (RedisModuleCtx *ctx)) \
    X(int, ReplyWithError, (RedisModuleCtx *ctx, const char *err)) \
    X(int, ReplyWithLongLong, (RedisModuleCtx *ctx, long long v)) \
    X(int, ReplyWithStringBuffer, (RedisModuleCtx *ctx, const char *buf, size_t len)) \
    X(int, ReplyWithArray, (RedisModuleCtx *ctx, long len)) \
    X(int, ReplyWithNull, (RedisModuleCtx *ctx)) \
    X(int, ReplyWithNullArray, (RedisModuleCtx *ctx)) \
    X(RedisModuleString *, CreateString, (RedisModuleCtx *ctx, const char *ptr, size_t len)) \
    X(void, FreeString, (RedisModuleCtx *ctx, RedisModuleString *s)) \
    X(const char *, StringPtrLen, (const RedisModuleString *s, size_t *len)) \
    X(int, StringToDouble, (const RedisModuleString *s, double *d)) \
    X(RedisModuleKey *, OpenKey, (RedisModuleCtx *ctx, RedisModuleString *name, int mode)) \
    X(void, CloseKey, (RedisModuleKey *key)) \
    X(int, KeyType, (RedisModuleKey *key)) \
    X(size_t, ValueLength, (RedisModuleKey *key)) \
    X(int, ListPush, (RedisModuleKey *key, int where, RedisModuleString *ele)) \
    X(RedisModuleString *, ListPop, (RedisModuleKey *key, int where)) \
    X(RedisModuleString *, ListGet, (RedisModuleKey *key, long index)) \
    X(int, ListDelete, (RedisModuleKey *key, long index)) \
    X(int, Replicate, (RedisModuleCtx *ctx, const char *cmd, const char *fmt, ...)) \
    X(int, NotifyKeyspaceEvent, (RedisModuleCtx *ctx, int type, const char *event, \
                                 RedisModuleString *key)) \
    X(void, SignalKeyAsReady, (RedisModuleCtx *ctx, RedisModuleString *key)) \
    X(RedisModuleBlockedClient *, BlockClientOnKeys, \
      (RedisModuleCtx *ctx, RedisModuleCmdFunc reply_cb, RedisModuleCmdFunc timeout_cb, \
       RedisModuleFreePrivFunc free_priv, long long timeout_ms, RedisModuleString **keys, \
       int nkeys, void *privdata)) \
    X(RedisModuleString *, GetBlockedClientReadyKey, (RedisModuleCtx *ctx)) \
    X(void *, GetBlockedClientPrivateData, (RedisModuleCtx *ctx)) \
    X(int, RegisterInfoFunc, (RedisModuleCtx *ctx, RedisModuleInfoFunc cb)) \
    X(int, InfoAddSection, (RedisModuleInfoCtx *ctx, const char *name)) \
    X(int, InfoAddFieldULongLong, (RedisModuleInfoCtx *ctx, const char *field, unsigned long long v)) \
    X(int, InfoAddFieldCString, (RedisModuleInfoCtx *ctx, const char *field, const char *v)) \
    X(int, IsKeysPositionRequest, (RedisModuleCtx *ctx)) \
    X(void, KeyAtPos, (RedisModuleCtx *ctx, int pos)) \
    X(RedisModuleCallReply *, Call, (RedisModuleCtx *ctx, const char *cmd, const char *fmt, ...)) \
    X(void, FreeCallReply, (RedisModuleCallReply *reply)) \
    X(int, CallReplyType, (RedisModuleCallReply *reply)) \
    X(size_t, CallReplyLength, (RedisModuleCallReply *reply)) \
    X(RedisModuleCallReply *, CallReplyArrayElement, (RedisModuleCallReply *reply, size_t idx)) \
    X(const char *, CallReplyStringPtr, (RedisModuleCallReply *reply, size_t *len)) \
    X(long long, CallReplyInteger, (RedisModuleCallReply *reply)) \
    X(int, ReplyWithCallReply, (RedisModuleCtx *ctx, RedisModuleCallReply *reply)) \
    X(int, StringToLongLong, (const RedisModuleString *s, long long *ll))

/* APIs the module uses when the server has them (module configs: 7.0+);
 * NULL otherwise. */
#define TWRM_OPTIONAL_API_LIST(X) \
    X(int, RegisterStringConfig, \
      (RedisModuleCtx *ctx, const char *name, const char *default_val, unsigned int flags, \
       RedisModuleConfigGetStringFunc getfn, RedisModuleConfigSetStringFunc setfn, \
       RedisModuleConfigApplyFunc applyfn, void *privdata)) \
    X(int, LoadConfigs, (RedisModuleCtx *ctx)) \
    X(RedisModuleCommand *, GetCommand, (RedisModuleCtx *ctx, const char *name)) \
    X(int, SetCommandInfo, (RedisModuleCommand *command, const twrm_command_info *info)) \
    X(int, CallReplyMapElement, (RedisModuleCallReply *reply, size_t idx, \
                                 RedisModuleCallReply **key, RedisModuleCallReply **val))

#define TWRM_DECLARE(ret, name, params) extern ret(*RedisModule_##name) params;
TWRM_API_LIST(TWRM_DECLARE)
TWRM_OPTIONAL_API_LIST(TWRM_DECLARE)
#undef TWRM_DECLARE

/* Resolves every pointer through the GetApi pointer stored in ctx's first field
 * and registers the module name. Returns REDISMODULE_OK, or REDISMODULE_ERR with
 * *missing set to the first API the server does not provide (borrowed static
 * text) or to "name busy". */
int twrm_api_init(RedisModuleCtx *ctx, const char *name, int ver, const char **missing);

#endif /* TW_REDISMODULE_API_H */
