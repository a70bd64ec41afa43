/* tracer.c — the tracer: config copy, process tags, sampler, reporter, and
 * the process-wide fork handling.
 *
 * A tracer is created cold: it copies the config, builds its process tags
 * (hostname, ip, client-uuid, jaeger.version, then the config's "tags"),
 * creates its sampler and reporter, and starts no thread and opens no socket.
 * It is shared by every thread; after tw_tracer_new only the counters
 * (atomics), the sampler (its own synchronisation) and the reporter (its own
 * lock) change.
 *
 * Global state. The core's mutable globals are: here, a list of live tracers
 * under live_lock and a pthread_atfork registration made once, by the first
 * tw_tracer_new; ids.c's fork generation; clock.c's TSC anchor; span.c's
 * per-thread caches (and their pthread key). prepare takes live_lock and
 * every reporter's locks (before_fork); the parent releases them
 * (after_fork_parent); the child bumps the id generation
 * (twp_ids_after_fork), frees the clock's re-anchor lock
 * (twp_clock_after_fork), resets every reporter (after_fork_child: locks
 * reset, inherited queue dropped, no thread) and every sampler's locks,
 * zeroes every tracer's counters (the child's books start empty), then
 * releases live_lock. No handler starts a thread or allocates.
 */
#include "tracer.h"
#include "ids.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define TW_JAEGER_VERSION "tracewire-C-" TW_VERSION

/* ------------------------------------------------------------ fork handling */

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static tw_tracer *live_head;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_mutex_lock(&live_lock);
    for (tw_tracer *t = live_head; t; t = t->live_next)
        if (t->reporter->ops->before_fork)
            t->reporter->ops->before_fork(t->reporter);
}

static void fork_parent(void)
{
    for (tw_tracer *t = live_head; t; t = t->live_next)
        if (t->reporter->ops->after_fork_parent)
            t->reporter->ops->after_fork_parent(t->reporter);
    pthread_mutex_unlock(&live_lock);
}

static void make_uuid(char buf[37]);

static void fork_child(void)
{
    twp_ids_after_fork();
    twp_clock_after_fork();
    twp_span_after_fork();
    for (tw_tracer *t = live_head; t; t = t->live_next) {
        if (t->client_uuid) {       /* a new emitter: its own client-uuid */
            char uuid[37];
            make_uuid(uuid);
            memcpy(t->client_uuid, uuid, 36);
        }
        if (t->reporter->ops->after_fork_child)
            t->reporter->ops->after_fork_child(t->reporter);
        twp_sampler_after_fork_child(t->sampler);
        twp_throttler_after_fork(t->throttler);
        twp_restrictions_after_fork(t->restrictions);
        /* a child keeps its own books from zero: the parent still counts
         * (and delivers) what it had queued, so summing workers' metrics
         * counts every span once */
        memset(&t->ctr, 0, sizeof t->ctr);
    }
    pthread_mutex_unlock(&live_lock);
}

static void atfork_register(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void live_add(tw_tracer *t)
{
    pthread_mutex_lock(&live_lock);
    t->live_prev = NULL;
    t->live_next = live_head;
    if (live_head)
        live_head->live_prev = t;
    live_head = t;
    pthread_mutex_unlock(&live_lock);
}

static void live_remove(tw_tracer *t)
{
    pthread_mutex_lock(&live_lock);
    if (t->live_prev)
        t->live_prev->live_next = t->live_next;
    else if (live_head == t)
        live_head = t->live_next;
    if (t->live_next)
        t->live_next->live_prev = t->live_prev;
    t->live_prev = t->live_next = NULL;
    pthread_mutex_unlock(&live_lock);
}

/* ------------------------------------------------------------ process tags */

typedef struct tagv {
    const char *k, *v;
    size_t klen, vlen;
} tagv;

static void first_ipv4(char *buf, size_t cap)
{
    snprintf(buf, cap, "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
            continue;
        const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)i->ifa_addr;
        inet_ntop(AF_INET, &sa->sin_addr, buf, (socklen_t)cap);
        break;
    }
    freeifaddrs(ifs);
}

/* A random (version 4) UUID in 36 lower-case hex chars and dashes. No
 * stdio: it also runs in the fork child handler. */
static void make_uuid(char buf[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t a = twp_random_id(), c = twp_random_id();
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *o = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

/* Adds or replaces (same key: later wins) a string process tag. */
static tw_status proc_tag(tw_tracer *t, twp_value *arr, size_t *n, const char *k, size_t klen,
                          const char *v, size_t vlen)
{
    twp_value *slot = NULL;
    if (klen > TWP_MAX_KEY_LEN)
        return TW_ERR_TOO_LARGE;   /* a tag key of 64 KB: said by tw_tracer_new's status */
    for (size_t i = 0; i < *n; i++)
        if (arr[i].key_len == klen && memcmp(arr[i].key, k, klen) == 0)
            slot = &arr[i];
    if (!slot) {
        slot = &arr[(*n)++];
        slot->key = twp_arena_strdup(&t->proc_arena, k, klen);
        slot->key_len = (uint16_t)klen;
        if (!slot->key)
            return TW_ERR_NOMEM;
    }
    slot->type = TW_VAL_STRING;
    slot->v.str = twp_arena_strdup(&t->proc_arena, v, vlen);
    slot->len = (uint32_t)vlen;
    return slot->v.str ? TW_OK : TW_ERR_NOMEM;
}

/* "k=v,k2=${ENV:default}" (the ${} form as in Jaeger clients' JAEGER_TAGS). */
static tw_status config_tags(tw_tracer *t, twp_value *arr, size_t *n, const char *spec)
{
    const char *p = spec;
    while (p && *p) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        const char *s = p;
        while (len && (*s == ' ' || *s == '\t')) { s++; len--; }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        const char *eq = len ? memchr(s, '=', len) : NULL;
        if (eq && eq > s) {
            size_t klen = (size_t)(eq - s);
            const char *v = eq + 1;
            size_t vlen = len - klen - 1;
            char envname[256];
            if (vlen > 3 && v[0] == '$' && v[1] == '{' && v[vlen - 1] == '}') {
                const char *in = v + 2;
                size_t inlen = vlen - 3;
                const char *colon = memchr(in, ':', inlen);
                size_t nlen = colon ? (size_t)(colon - in) : inlen;
                const char *ev = NULL;
                if (nlen < sizeof envname) {
                    memcpy(envname, in, nlen);
                    envname[nlen] = '\0';
                    ev = getenv(envname);
                }
                if (ev) {
                    v = ev;
                    vlen = strlen(ev);
                } else if (colon) {
                    v = colon + 1;
                    vlen = inlen - nlen - 1;
                } else {
                    vlen = 0;
                }
            }
            tw_status st = proc_tag(t, arr, n, s, klen, v, vlen);
            if (st != TW_OK)
                return st;
        }
        p = c ? c + 1 : NULL;
    }
    return TW_OK;
}

static tw_status build_process(tw_tracer *t)
{
    size_t max = 4 + (t->cfg.tags ? strlen(t->cfg.tags) / 2 + 1 : 0);
    twp_value *arr = twp_arena_alloc(&t->proc_arena, sizeof(twp_value) * max);
    if (!arr)
        return TW_ERR_NOMEM;
    size_t n = 0;
    char host[256], ip[64], uuid[37];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    first_ipv4(ip, sizeof ip);
    make_uuid(uuid);
    tw_status st;
    if ((st = proc_tag(t, arr, &n, "hostname", 8, host, strlen(host))) ||
        (st = proc_tag(t, arr, &n, "ip", 2, ip, strlen(ip))) ||
        (st = proc_tag(t, arr, &n, "client-uuid", 11, uuid, 36)) ||
        (st = proc_tag(t, arr, &n, "jaeger.version", 14, TW_JAEGER_VERSION,
                       strlen(TW_JAEGER_VERSION))) ||
        (st = config_tags(t, arr, &n, t->cfg.tags)))
        return st;
    t->proc.service_name = t->cfg.service_name;
    t->proc.tags = arr;
    t->proc.ntags = n;
    /* Jaeger tells emitters apart by client-uuid (ClientStats, batch seqNo):
     * remember ours so a forked child can take a new one */
    t->client_uuid = NULL;
    for (size_t i = 0; i < n; i++)
        if (arr[i].key_len == 11 && memcmp(arr[i].key, "client-uuid", 11) == 0 &&
            arr[i].len == 36 && memcmp(arr[i].v.str, uuid, 36) == 0)
            t->client_uuid = (char *)arr[i].v.str;
    return TW_OK;
}

/* A string process tag's value (arena, NUL-terminated), or NULL. */
static const char *proc_tag_value(const tw_tracer *t, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < t->proc.ntags; i++)
        if (t->proc.tags[i].key_len == kl && memcmp(t->proc.tags[i].key, key, kl) == 0 &&
            t->proc.tags[i].type == TW_VAL_STRING)
            return t->proc.tags[i].v.str;
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static tw_status apply_strategy(void *ud, const char *body, size_t len)
{
    tw_tracer *t = ud;
    if (t->cfg.sampler_type != TWP_SAMPLER_REMOTE)
        return TW_ERR_UNSUPPORTED;   /* only a remote sampler follows strategies */
    tw_status st = twp_sampler_apply_json(t->sampler, body, len);
    if (st == TW_OK)
        TWP_INC(&t->ctr, sampler_updates, 1);
    return st;
}

tw_status tw_tracer_new(const tw_config *cfg, tw_tracer **out)
{
    if (!out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_config *defaults = NULL;
    if (!cfg) {
        tw_status st = tw_config_new(&defaults);
        if (st != TW_OK)
            return st;
        cfg = defaults;
    }
    /* 64-byte aligned: the counter shards are one cache line each (calloc
     * and a manual round-up rather than aligned_alloc: one allocator family
     * for every block, as the allocation-failure test wraps it) */
    void *mem = calloc(1, sizeof(tw_tracer) + 63);
    tw_tracer *t = mem ? (tw_tracer *)(((uintptr_t)mem + 63) & ~(uintptr_t)63) : NULL;
    if (t)
        t->alloc_base = mem;
    if (!t) {
        tw_config_free(defaults);
        return TW_ERR_NOMEM;
    }
    tw_status st = twp_config_copy(&t->cfg, cfg);
    tw_config_free(defaults);
    if (st != TW_OK) {
        free(t->alloc_base);
        return st;
    }
    t->max_tag_len = (size_t)(t->cfg.max_tag_value_length > 0 ? t->cfg.max_tag_value_length : 1024);
    t->max_tb_len = (size_t)(t->cfg.max_traceback_length > 0 ? t->cfg.max_traceback_length : 4096);
    t->const_decision = t->cfg.sampler_type == TWP_SAMPLER_CONST ? t->cfg.sampler_param > 0 : -1;
    t->hook.apply = apply_strategy;
    t->hook.ud = t;
    /* the agent's controls before the reporter, whose thread polls them */
    if ((st = build_process(t)) == TW_OK &&
        (st = twp_throttler_new(&t->cfg, t->cfg.service_name, proc_tag_value(t, "client-uuid"),
                                &t->ctr, &t->throttler)) == TW_OK &&
        (st = twp_restrictions_new(&t->cfg, t->cfg.service_name, &t->ctr,
                                   &t->restrictions)) == TW_OK) {
        t->hook.throttler = t->throttler;
        t->hook.restrictions = t->restrictions;
    }
    if (st != TW_OK ||
        (st = twp_sampler_new(&t->cfg, &t->sampler)) != TW_OK ||
        (st = twp_reporter_new(&t->cfg, &t->proc, &t->ctr, &t->hook, &t->reporter)) != TW_OK) {
        twp_throttler_free(t->throttler);
        twp_restrictions_free(t->restrictions);
        twp_sampler_free(t->sampler);
        twp_arena_release(&t->proc_arena);
        twp_config_clear(&t->cfg);
        free(t->alloc_base);
        return st;
    }
    pthread_once(&atfork_once, atfork_register);
    live_add(t);
    *out = t;
    return TW_OK;
}

tw_status tw_tracer_flush(tw_tracer *t, int timeout_ms)
{
    if (!t)
        return TW_ERR_INVALID_ARG;
    if (atomic_load(&t->closed))
        return TW_ERR_CLOSED;
    return t->reporter->ops->flush(t->reporter, timeout_ms < 0 ? 0 : timeout_ms);
}

tw_status tw_tracer_close(tw_tracer *t, int timeout_ms)
{
    if (!t)
        return TW_ERR_INVALID_ARG;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&t->closed, &expected, 1))
        return TW_OK;
    return t->reporter->ops->close(t->reporter, timeout_ms < 0 ? 0 : timeout_ms);
}

tw_status tw_tracer_drive_start(tw_tracer *t, tw_drive_kick_fn kick, void *kick_ud)
{
    if (!t)
        return TW_ERR_INVALID_ARG;
    if (atomic_load(&t->closed))
        return TW_ERR_CLOSED;
    if (!t->reporter->ops->drive_start)
        return TW_ERR_UNSUPPORTED;   /* memory / none: no thread to spare */
    return t->reporter->ops->drive_start(t->reporter, kick, kick_ud);
}

int64_t tw_tracer_drive(tw_tracer *t)
{
    if (!t || atomic_load_explicit(&t->closed, memory_order_relaxed) || !t->reporter->ops->drive)
        return -1;
    return t->reporter->ops->drive(t->reporter);
}

void tw_tracer_free(tw_tracer *t)
{
    if (!t)
        return;
    tw_tracer_close(t, 2000);
    live_remove(t);
    t->reporter->ops->free(t->reporter);
    twp_scopes_free(t);
    twp_throttler_free(t->throttler);
    twp_restrictions_free(t->restrictions);
    twp_sampler_free(t->sampler);
    twp_arena_release(&t->proc_arena);
    twp_config_clear(&t->cfg);
    free(t->alloc_base);
}

const char *tw_tracer_service_name(const tw_tracer *t)
{
    return t ? t->cfg.service_name : NULL;
}

const tw_config *twp_tracer_config(const tw_tracer *t)
{
    return t ? &t->cfg : NULL;
}

void tw_tracer_counters(const tw_tracer *t, tw_counters *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!t)
        return;
    twp_counters *c = (twp_counters *)&t->ctr;
#define R(f) out->f = atomic_load_explicit(&c->f, memory_order_relaxed)
#define S(f) out->f = TWP_SHARDED_SUM(c, f)
    S(spans_started); S(spans_sampled); S(spans_finished); S(spans_discarded);
    R(spans_reported);
    R(dropped_queue_full); R(dropped_too_large); R(dropped_send_failed); R(dropped_on_close);
    R(send_failures); R(batches_sent); R(bytes_sent); R(sampler_updates);
    R(baggage_dropped);
    R(throttled_debug_spans); R(throttler_updates_ok); R(throttler_updates_err);
    R(baggage_updates_ok); R(baggage_updates_err); R(baggage_truncations);
    R(baggage_restrictions_updates_ok); R(baggage_restrictions_updates_err);
#undef R
#undef S
}

/* ------------------------------------------------------------ counter shards */

static _Atomic unsigned next_shard;

unsigned twp_ctr_shard_assign(twp_tls_state *tls)
{
    unsigned s = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % TWP_CTR_SHARDS;
    tls->ctr_shard = s + 1;
    return s + 1;
}

unsigned twp_ctr_shard_index(void)
{
    return twp_ctr_shard_inline(&twp_tls);
}

uint64_t twp_ctr_sum(const twp_counters *c, size_t offset)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < TWP_CTR_SHARDS; i++)
        sum += atomic_load_explicit((_Atomic uint64_t *)((char *)&c->shard[i] + offset),
                                    memory_order_relaxed);
    return sum;
}

/* Dropped baggage is counted on the caller's thread (inject/extract run on
 * the application's threads, where the diagnostics hook must not be called);
 * the reporter thread reads the counter and says it through the hook, rate
 * limited like every diagnostic (reporter.c diag_drops). */
void twp_tracer_baggage_dropped(tw_tracer *t, uint64_t n)
{
    TWP_INC(&t->ctr, baggage_dropped, n);
}

tw_status tw_tracer_memory_spans(tw_tracer *t, int clear, char **json_out)
{
    if (!t || !json_out)
        return TW_ERR_INVALID_ARG;
    *json_out = NULL;
    return twp_reporter_memory_json(t->reporter, clear, json_out);
}
