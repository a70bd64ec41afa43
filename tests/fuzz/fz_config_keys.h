/* fz_config_keys.h — every key tw_config_set documents (tracewire.h), for
 * the config targets' "nothing changed on failure" and fix-point checks. */
#ifndef FZ_CONFIG_KEYS_H
#define FZ_CONFIG_KEYS_H

static const char *const fz_config_keys[] = {
    "service_name", "tags", "sampler.type", "sampler.param", "sampler.url",
    "sampler.refresh_ms", "reporter.protocols", "reporter.agent_host",
    "reporter.agent_port", "reporter.endpoint", "reporter.otlp_endpoint",
    "reporter.queue_size", "reporter.batch_size", "reporter.flush_interval_ms",
    "reporter.max_packet_size", "reporter.timeout_ms", "reporter.retries",
    "propagation.inject", "propagation.extract", "propagation", "trace_id_header",
    "baggage_header_prefix", "trace_id_128bit", "max_tag_value_length",
    "max_baggage_size",
};
#define FZ_NKEYS (sizeof fz_config_keys / sizeof fz_config_keys[0])
#define FZ_VALCAP 8192     /* inputs are capped at 4096 bytes (-max_len) */

/* All keys read back, concatenated with NUL separators into all (which
 * holds FZ_NKEYS * FZ_VALCAP bytes); returns the length. */
static inline size_t fz_config_snapshot(const tw_config *cfg, char *all)
{
    size_t off = 0;
    for (size_t k = 0; k < FZ_NKEYS; k++) {
        FZ_CHECK(tw_config_get(cfg, fz_config_keys[k], all + off, FZ_VALCAP) == TW_OK);
        size_t l = strnlen(all + off, FZ_VALCAP);
        FZ_CHECK(l < FZ_VALCAP);
        off += l + 1;
    }
    return off;
}

/* A value read back with tw_config_get must be accepted by tw_config_set and
 * read back unchanged (the text form is a fix point). */
static inline void fz_config_fixpoint(tw_config *cfg, const char *key)
{
    static char a[FZ_VALCAP], b[FZ_VALCAP];
    if (tw_config_get(cfg, key, a, FZ_VALCAP) == TW_OK && strlen(a) + 1 < FZ_VALCAP) {
        tw_status st = tw_config_set(cfg, key, a);
        /* KNOWN (config.c, reported): sampler.param > 1 is accepted for the
         * const/ratelimiting samplers and kept when sampler.type later
         * becomes probabilistic, a state set() itself refuses; the sampler
         * clamps the rate to 1, so only the text round trip breaks. */
        if (st == TW_ERR_CONFIG && strcmp(key, "sampler.param") == 0 && cfg->sampler_param > 1)
            return;
        if (st != TW_OK && st != TW_ERR_NOMEM)
            fprintf(stderr, "fixpoint: %s=\"%s\" read back but set refuses it (%d)\n", key, a, (int)st);
        FZ_CHECK(st == TW_OK || st == TW_ERR_NOMEM);
        FZ_CHECK(tw_config_get(cfg, key, b, FZ_VALCAP) == TW_OK);
        if (strcmp(a, b) != 0)
            fprintf(stderr, "fixpoint: %s: \"%s\" became \"%s\"\n", key, a, b);
        FZ_CHECK(strcmp(a, b) == 0);
    }
}

#endif
