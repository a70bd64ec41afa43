/* config_keys.h — the config key table (private to the core).
 *
 * One row per key a face may pass to tw_config_set: the native keys
 * (documented in tracewire.h) and their aliases — jaeger_client's
 * Config(config={...}) names flattened with dots, tracewire's own shorthands,
 * and the unit conversions (seconds in, milliseconds stored). Set, get,
 * defaults, copy, compare, the environment mapping, the fuzz targets' key
 * list and the README's configuration table are all driven by these rows, so
 * a key is added in exactly one place (config_keys.c).
 *
 * Row order is meaningful: tw_config_set_many applies pairs in row order, so
 * a key that depends on another (endpoint on reporter.protocols, sampler.param
 * on sampler.type, tags.<k> on tags, propagation.inject on propagation)
 * comes after it.
 */
#ifndef TW_CONFIG_KEYS_H
#define TW_CONFIG_KEYS_H

#include "config.h"

#include <stddef.h>

/* How a row's text is read and written. */
typedef enum twp_key_codec {
    TWK_STR,        /* string field; see TWK_NONEMPTY / TWK_LOWER */
    TWK_URL,        /* string field: http:// or https:// */
    TWK_HOST,       /* string field: host name or address, <= 255 bytes */
    TWK_HEADER,     /* string field: HTTP header token, stored lower-cased (but TWK_ASIS) */
    TWK_TAGS,       /* string field: "k=v,k2=v2" */
    TWK_HEADERS,    /* string field: "name=value,..." HTTP headers, values percent-encoded */
    TWK_INT,        /* int field within [lo, hi] */
    TWK_DOUBLE,     /* double field within [lo, hi]; also true/false (1/0) */
    TWK_BOOL,       /* bool field */
    TWK_PROTOCOLS,  /* unsigned field: comma list of TWP_PROTO_* names */
    TWK_FORMATS,    /* unsigned field: comma list of TW_PROP_* names */
    TWK_SAMPLER,    /* sampler_type + parent_based (+ sampler_param for always_*) */
    TWK_PROFILE,    /* the profile enum; re-applies that profile's defaults */
    TWK_SPECIAL,    /* alias with its own setter (row.set) */
    TWK_IGNORED     /* accepted for drop-in configs, not acted on (#20 names them) */
} twp_key_codec;

/* Row flags. */
#define TWK_ALIAS     0x01u  /* not a native key: writes `target`, reads back `target` */
#define TWK_JAEGER    0x02u  /* a jaeger_client Config key (flattened) */
#define TWK_PREFIX    0x04u  /* name ends in '.', matches name + anything */
#define TWK_NONEMPTY  0x08u  /* TWK_STR: the empty string is refused */
#define TWK_BOTH      0x10u  /* TWK_FORMATS: sets inject and extract */
#define TWK_EXTRACT   0x20u  /* TWK_FORMATS: sets extract (default: inject) */
#define TWK_ASIS      0x40u  /* TWK_HEADER: stored as given, not lower-cased */

typedef struct twp_config_key twp_config_key;
struct twp_config_key {
    const char *name;         /* as faces spell it after flattening */
    twp_key_codec codec;
    unsigned flags;
    size_t off;               /* field in tw_config (native rows) */
    double lo, hi;            /* TWK_INT / TWK_DOUBLE bounds (alias: in its own unit) */
    int scale;                /* alias: stored = given * scale (seconds -> ms) */
    const char *target;       /* alias: the native key written and read back */
    const char *def;          /* native default, as text (NULL: none / derived) */
    const char *def_jaeger;   /* jaeger_client profile default (NULL: same as def) */
    const char *env;          /* environment variables read for it (docs; see twp_env_rows) */
    const char *doc;          /* one line, for tracewire.h readers and the README table */
    /* TWK_SPECIAL: the setter, and the reader (NULL: read back `target`) */
    tw_status (*set)(tw_config *c, const char *key, const char *v);   /* key: as given */
    tw_status (*get)(const tw_config *c, char *buf, size_t cap);
};

extern const twp_config_key twp_config_keys[];
extern const size_t twp_config_nkeys;

/* The row for key (exact, or the longest TWK_PREFIX row), or NULL. */
const twp_config_key *twp_config_key_find(const char *key);

/* Parses v per the row k (found for key) into c; on failure c is unchanged. */
tw_status twp_config_key_set(tw_config *c, const twp_config_key *k, const char *key, const char *v);
/* Formats the row's current value into buf (truncated to cap). */
tw_status twp_config_key_get(const tw_config *c, const twp_config_key *k, char *buf, size_t cap);

/* Calls fn on each item of a comma list, blanks around it trimmed, empty
 * items skipped; false as soon as fn says false. */
typedef bool (*twp_item_fn)(const char *s, size_t n, void *ud);
bool twp_config_each_item(const char *v, twp_item_fn fn, void *ud);

/* A native row whose value lives in an owned string (char * at off). */
bool twp_config_key_owns_string(const twp_config_key *k);

/* The default text of a native row under a profile. */
const char *twp_config_key_default(const twp_config_key *k, twp_config_profile p);

/* ---- environment: one row per variable, applied in row order (lowest
 * precedence first). how says what to do with the value beyond a plain set. */
typedef enum twp_env_how {
    TWE_SET,              /* tw_config_set(key, value) */
    TWE_RESOURCE_ATTRS,   /* service.name -> service_name (unless OTEL_SERVICE_NAME), rest -> tags */
    TWE_SAMPLER_ARG,      /* per OTEL_TRACES_SAMPLER: ratio, or jaeger_remote's k=v list */
    TWE_OTLP_GENERIC,     /* unless the per-signal variable is set: value + "/v1/traces" */
    TWE_OTLP_SIGNAL,      /* used as is */
    TWE_JAEGER_ENDPOINT,  /* set; and default udp -> http */
    TWE_HOST_PORT_URL,    /* host:port -> http://host:port/sampling */
    TWE_TAGS_AFTER_OTEL,  /* appended to OTEL_RESOURCE_ATTRIBUTES' tags */
    TWE_OTLP_PROTOCOL,    /* set; grpc is named as unsupported */
    TWE_TRACES_EXPORTER,  /* OTEL_TRACES_EXPORTER names -> reporter.protocols */
    TWE_SDK_DISABLED      /* true: report nothing, sample no new trace */
} twp_env_how;

typedef struct twp_env_row {
    const char *var;
    const char *key;
    twp_env_how how;
} twp_env_row;

extern const twp_env_row twp_env_rows[];
extern const size_t twp_env_nrows;

#endif
