/* settings.h — the module's tracewire.* configs: registered with the server
 * (redis.conf, MODULE LOADEX … CONFIG, CONFIG GET/SET), the effective core
 * configuration, and the tracer swap that makes a CONFIG SET take effect on
 * the next command (settings.c). */
#ifndef TWRM_SETTINGS_H
#define TWRM_SETTINGS_H

#include <stddef.h>

#include "redismodule_api.h"
#include "tracewire.h"

/* Creates the effective configuration (module defaults, then the
 * environment), registers the tracewire.* configs where the server has
 * module configs (7.0+) and loads their redis.conf / LOADEX values. Call
 * once from OnLoad, before the tracer exists. 0, or -1 (logged). */
int twrm_settings_init(RedisModuleCtx *ctx);

/* borrowed: the effective configuration (MODULE LOAD args are applied to it
 * after twrm_settings_init; the tracer is built from it). */
tw_config *twrm_settings_config(void);

/* From now on a set is a run-time change (CONFIG SET): mutable settings
 * rebuild the tracer, fixed ones refuse with their reason. */
void twrm_settings_loaded(void);

/* Frees the configuration and the values handed to CONFIG GET. */
void twrm_settings_free(void);

/* Counters of the current tracer plus those of every tracer a CONFIG SET
 * replaced (the totals never go backwards). */
void twrm_settings_counters(tw_counters *out);

/* Adds INFO's "settings" section: each setting's effective value and the
 * number of tracer replacements. */
void twrm_settings_info(RedisModuleInfoCtx *ctx);

/* Parses a tq.max_item_size value; NULL, or a static reason. */
const char *twrm_parse_max_item(const char *v, size_t *out);

#endif /* TWRM_SETTINGS_H */
