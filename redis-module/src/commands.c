/* commands.c — the declaration of every TQ.* command: what CreateCommand
 * needs (flags, legacy first/last/step key positions) and what the 7.0
 * command-info API adds (arity, key specs, summary, arguments).
 *
 * Why both: COMMAND GETKEYS and ACLs read key specs, cluster-aware clients
 * route by COMMAND's key positions (or COMMAND GETKEYS for movable keys),
 * and the server itself, in cluster mode, finds a module command's keys
 * through the legacy first/last/step range (Redis 7.0's getKeysFromCommand)
 * or, for commands flagged getkeys-api, by asking the command. So a command
 * whose keys sit at fixed places declares them both ways, and a command whose
 * keys follow a keyword (TQ.XREADGROUP's STREAMS) declares a keyword key spec
 * and answers the getkeys-api request itself (stream.c): the two must agree,
 * and the cluster tests check that they do. Keys in different slots then
 * answer CROSSSLOT before the command runs.
 *
 * Key-spec flags mirror the plain commands each one replicates as: TQ.PUSH
 * is LPUSH (RW INSERT), TQ.POP is RPOP (RW ACCESS DELETE), TQ.MOVE is LMOVE,
 * TQ.ACK is LREM (RW DELETE), TQ.XADD is XADD (RW UPDATE), TQ.XREADGROUP is
 * XREADGROUP (RO ACCESS).
 *
 * Servers before 7.0 lack RedisModule_SetCommandInfo: the commands then
 * exist with their legacy key positions and arity -1.
 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#define END { 0 }
#define KEY(n, ks, sum) { .name = n, .type = TWRM_ARG_KEY, .key_spec_index = ks, .summary = sum }
#define STR(n, sum) { .name = n, .type = TWRM_ARG_STRING, .key_spec_index = -1, .summary = sum }

/* Version 1 of the command info; the server checks these sizes against its own. */
static const twrm_command_info_version info_v1 = {
    1, sizeof(twrm_command_history), sizeof(twrm_key_spec), sizeof(twrm_command_arg)
};

/* One key at a fixed index. */
#define KS_AT(at, fl) { .flags = (fl), .begin_search_type = TWRM_BS_INDEX, .bs.index.pos = (at), \
                         .find_keys_type = TWRM_FK_RANGE, .fk.range = { 0, 1, 0 } }

/* ---------------------------------------------------------------- lists */

static twrm_key_spec ks_push[] = { KS_AT(1, TWRM_KEY_RW | TWRM_KEY_INSERT), END };
static twrm_command_arg args_push[] = {
    KEY("key", 0, "the list"),
    STR("carrier", "propagation headers (a header block or name=value;...); empty: a new trace"),
    { .name = "item", .type = TWRM_ARG_STRING, .key_spec_index = -1, .flags = TWRM_ARG_MULTIPLE,
      .summary = "the payloads, pushed at the head in order (LPUSH)" },
    END
};

static twrm_key_spec ks_pop[] = { KS_AT(1, TWRM_KEY_RW | TWRM_KEY_ACCESS | TWRM_KEY_DELETE), END };
static twrm_command_arg args_pop[] = { KEY("key", 0, "the list"), END };
static twrm_command_arg args_bpop[] = {
    KEY("key", 0, "the list"),
    { .name = "timeout", .type = TWRM_ARG_DOUBLE, .key_spec_index = -1,
      .summary = "seconds to wait (0: forever)" },
    END
};

static twrm_key_spec ks_move[] = {
    KS_AT(1, TWRM_KEY_RW | TWRM_KEY_ACCESS | TWRM_KEY_DELETE),
    KS_AT(2, TWRM_KEY_RW | TWRM_KEY_INSERT),
    END
};
static twrm_command_arg args_move[] = {
    KEY("source", 0, "the list popped at its tail"),
    KEY("destination", 1, "the list the stored value is pushed onto (its head)"),
    END
};

static twrm_key_spec ks_ack[] = { KS_AT(1, TWRM_KEY_RW | TWRM_KEY_DELETE), END };
static twrm_command_arg args_ack[] = {
    KEY("key", 0, "the processing list"),
    STR("item", "the payload to remove (the tail-most match)"),
    END
};

/* ---------------------------------------------------------------- streams */

static twrm_key_spec ks_xadd[] = { KS_AT(1, TWRM_KEY_RW | TWRM_KEY_UPDATE), END };
static twrm_command_arg xadd_strategy[] = {
    { .name = "maxlen", .type = TWRM_ARG_PURE_TOKEN, .key_spec_index = -1, .token = "MAXLEN" },
    { .name = "minid", .type = TWRM_ARG_PURE_TOKEN, .key_spec_index = -1, .token = "MINID" },
    END
};
static twrm_command_arg xadd_operator[] = {
    { .name = "equal", .type = TWRM_ARG_PURE_TOKEN, .key_spec_index = -1, .token = "=" },
    { .name = "approximately", .type = TWRM_ARG_PURE_TOKEN, .key_spec_index = -1, .token = "~" },
    END
};
static twrm_command_arg xadd_trim[] = {
    { .name = "strategy", .type = TWRM_ARG_ONEOF, .key_spec_index = -1, .subargs = xadd_strategy },
    { .name = "operator", .type = TWRM_ARG_ONEOF, .key_spec_index = -1, .flags = TWRM_ARG_OPTIONAL,
      .subargs = xadd_operator },
    STR("threshold", "MAXLEN count or MINID id"),
    { .name = "count", .type = TWRM_ARG_INTEGER, .key_spec_index = -1, .token = "LIMIT",
      .flags = TWRM_ARG_OPTIONAL },
    END
};
static twrm_command_arg xadd_id[] = {
    { .name = "auto-id", .type = TWRM_ARG_PURE_TOKEN, .key_spec_index = -1, .token = "*" },
    STR("id", "an explicit entry id"),
    END
};
static twrm_command_arg xadd_data[] = { STR("field", NULL), STR("value", NULL), END };
static twrm_command_arg args_xadd[] = {
    KEY("key", 0, "the stream"),
    { .name = "nomkstream", .type = TWRM_ARG_PURE_TOKEN, .key_spec_index = -1,
      .token = "NOMKSTREAM", .flags = TWRM_ARG_OPTIONAL },
    { .name = "trim", .type = TWRM_ARG_BLOCK, .key_spec_index = -1, .flags = TWRM_ARG_OPTIONAL,
      .subargs = xadd_trim },
    { .name = "id-selector", .type = TWRM_ARG_ONEOF, .key_spec_index = -1, .subargs = xadd_id },
    STR("carrier", "propagation headers; stored as the fields traceparent, tracestate, baggage"),
    { .name = "data", .type = TWRM_ARG_BLOCK, .key_spec_index = -1, .flags = TWRM_ARG_MULTIPLE,
      .subargs = xadd_data },
    END
};

/* Keys follow STREAMS (searched from argv[4]: GROUP g c STREAMS is the
 * shortest prefix) and take the first half of what remains, as XREADGROUP's. */
static twrm_key_spec ks_xreadgroup[] = {
    { .flags = TWRM_KEY_RO | TWRM_KEY_ACCESS, .begin_search_type = TWRM_BS_KEYWORD,
      .bs.keyword = { "STREAMS", 4 }, .find_keys_type = TWRM_FK_RANGE, .fk.range = { -1, 1, 2 } },
    END
};
static twrm_command_arg xrg_group[] = { STR("group", NULL), STR("consumer", NULL), END };
static twrm_command_arg xrg_streams[] = {
    { .name = "key", .type = TWRM_ARG_KEY, .key_spec_index = 0, .flags = TWRM_ARG_MULTIPLE },
    { .name = "id", .type = TWRM_ARG_STRING, .key_spec_index = -1, .flags = TWRM_ARG_MULTIPLE,
      .summary = "'>' for new entries, an id for this consumer's pending ones" },
    END
};
static twrm_command_arg args_xreadgroup[] = {
    { .name = "group-block", .type = TWRM_ARG_BLOCK, .key_spec_index = -1, .token = "GROUP",
      .subargs = xrg_group },
    { .name = "count", .type = TWRM_ARG_INTEGER, .key_spec_index = -1, .token = "COUNT",
      .flags = TWRM_ARG_OPTIONAL },
    { .name = "milliseconds", .type = TWRM_ARG_INTEGER, .key_spec_index = -1, .token = "BLOCK",
      .flags = TWRM_ARG_OPTIONAL },
    { .name = "noack", .type = TWRM_ARG_PURE_TOKEN, .key_spec_index = -1, .token = "NOACK",
      .flags = TWRM_ARG_OPTIONAL },
    { .name = "streams", .type = TWRM_ARG_BLOCK, .key_spec_index = -1, .token = "STREAMS",
      .subargs = xrg_streams },
    END
};

/* ---------------------------------------------------------------- the table */

typedef struct {
    const char *name, *flags;
    int first, last, step;
    twrm_command_info info;
} command_def;

#define INFO(ar, sum, cx, ks, a) { .version = &info_v1, .summary = sum, .complexity = cx, \
                                   .arity = ar, .key_specs = ks, .args = a }

static const command_def defs[] = {
    { "tq.push", "write deny-oom", 1, 1, 1,
      INFO(-4, "Pushes items onto a list with their trace context and the server-clock enqueue "
               "time, reporting a 'send <key>' span", "O(N) in the items", ks_push, args_push) },
    { "tq.pop", "write fast", 1, 1, 1,
      INFO(2, "Pops the oldest item of a list: [item, carrier, enqueue_us, wait_us], reporting "
              "a 'wait <key>' span", "O(1)", ks_pop, args_pop) },
    { "tq.bpop", "write blocking", 1, 1, 1,
      INFO(3, "TQ.POP, waiting up to timeout seconds for an item", "O(1)", ks_pop, args_bpop) },
    { "tq.move", "write fast", 1, 2, 1,
      INFO(3, "TQ.POP that also pushes the stored value onto destination (a reliable queue's "
              "processing list)", "O(1)", ks_move, args_move) },
    { "tq.ack", "write", 1, 1, 1,
      INFO(3, "Removes a processed item (the tail-most whose payload matches) from a "
              "processing list: 1 or 0", "O(N)", ks_ack, args_ack) },
    { "tq.xadd", "write deny-oom fast", 1, 1, 1,
      INFO(-6, "XADD with the trace context stored as the fields traceparent/tracestate/baggage, "
               "reporting a 'send <key>' span", "O(1) (trimming: O(N) evicted)", ks_xadd,
           args_xadd) },
    { "tq.xreadgroup", "write blocking getkeys-api", 0, 0, 0,
      INFO(-7, "XREADGROUP that reports a 'wait <key>' span per delivered entry (entry id time "
               "to delivery)", "O(M) in the entries returned", ks_xreadgroup, args_xreadgroup) },
};

int twrm_command_create(RedisModuleCtx *ctx, const char *name, RedisModuleCmdFunc fn)
{
    const command_def *d = NULL;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strcmp(defs[i].name, name) == 0)
            d = &defs[i];
    if (d == NULL) {
        RedisModule_Log(ctx, "warning", "tracewire: no declaration for command %s", name);
        return REDISMODULE_ERR;
    }
    if (RedisModule_CreateCommand(ctx, d->name, fn, d->flags, d->first, d->last, d->step)
        != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "tracewire: cannot create command %s", name);
        return REDISMODULE_ERR;
    }
    if (RedisModule_SetCommandInfo == NULL || RedisModule_GetCommand == NULL)
        return REDISMODULE_OK;           /* before 7.0: legacy key positions only */
    RedisModuleCommand *cmd = RedisModule_GetCommand(ctx, d->name);
    if (cmd == NULL || RedisModule_SetCommandInfo(cmd, &d->info) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "tracewire: the server refused the command info of %s",
                        name);
        return REDISMODULE_ERR;
    }
    return REDISMODULE_OK;
}
