/* sampler.c — the root-span sampling decision.
 *
 * A sampler holds one immutable strategy behind an atomic pointer: span starts
 * load it (acquire) and decide without locks, except the rate limiters, which
 * take a tiny spinlock around their token bucket. Remote strategies
 * (twp_sampler_apply_json) are parsed completely into a new strategy first and
 * then published with one atomic store, so a malformed body changes nothing
 * and a concurrent span start sees either the old or the new strategy.
 *
 * Old strategies are retired, not freed, because a span start may still be
 * reading one (no reader epochs on the hot path). To keep that bounded, a body
 * equal to the one in force (compared after canonical re-serialisation) is a
 * no-op; Jaeger agents serve the same strategy for hours, so the retired list
 * only grows when an operator changes the strategy. It is freed with the
 * sampler.
 *
 * Decisions follow Jaeger clients: probabilistic compares the low 63 bits of
 * the trace id with rate * 2^63 (so every service of a trace agrees);
 * ratelimiting is a token bucket of max(rate, 1) credits starting with one
 * credit; per-operation ("guaranteed throughput") samples when the operation's
 * probabilistic sampler says yes or, failing that, its lower-bound limiter
 * grants a credit. Operations not listed use the default probability and
 * get their own lower-bound limiter on first use (up to 2000 of them, then a
 * shared one). Listed operations are looked up by binary search (at most
 * 10000 are accepted).
 */
#include "process_state.h"
#include "sampler.h"
#include "const_tags.h"

#include <pthread.h>

#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

typedef struct ratelimiter {
    atomic_flag lock;
    double rate;          /* credits per second */
    double max_balance;
    double balance;
    int64_t last_ns;
} ratelimiter;

typedef struct op_strategy {
    char *name;
    size_t name_len;
    uint64_t boundary;
    double rate;
    ratelimiter lower;
} op_strategy;

enum { ST_CONST, ST_PROB, ST_RATE, ST_PEROP };

typedef struct strategy {
    int kind;
    double param;              /* CONST 0/1, PROB rate, RATE per second */
    uint64_t boundary;         /* PROB */
    ratelimiter rl;            /* RATE */
    /* PEROP */
    double def_rate, lower_bound;
    uint64_t def_boundary;
    ratelimiter def_lower;     /* for unlisted operations beyond MAX_LAZY_OPS */
    op_strategy *ops;
    size_t nops;
    /* Unlisted operations get their own lower-bound limiter on first use
     * (as Jaeger clients create per-operation samplers lazily), in an
     * open-addressing table under lazy_lock, at most MAX_LAZY_OPS. */
    pthread_mutex_t lazy_lock;
    struct lazy_op { char *name; size_t len; ratelimiter *rl; } *lazy;   /* rl never moves */
    size_t nlazy, cap_lazy;
    char *canonical;           /* the JSON it came from, canonical form */
    struct strategy *retired_next;
} strategy;

struct twp_sampler {
    _Atomic(strategy *) cur;
    strategy *retired;
    pthread_mutex_t apply_lock;    /* serialises writers only */
};

/* ------------------------------------------------------------ rate limiter */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The limiters' time source. Tests set it (twp_sampler_set_clock_for_tests)
 * so the credit arithmetic is checked against time they control, not against
 * a scheduler that may stall the test for longer than a credit lasts. */
static _Atomic(int64_t (*)(void)) rl_clock;

void twp_sampler_set_clock_for_tests(int64_t (*now_ns)(void))
{
    atomic_store(&rl_clock, now_ns);
}

static inline int64_t rl_now(void)
{
    int64_t (*fn)(void) = atomic_load_explicit(&rl_clock, memory_order_relaxed);
    return fn ? fn() : twp_mono_ns();
}

static void rl_init(ratelimiter *r, double rate)
{
    atomic_flag_clear(&r->lock);
    r->rate = rate;
    r->max_balance = rate > 1 ? rate : 1;
    r->balance = rate > 0 ? 1 : 0;
    r->last_ns = rl_now();
}

__attribute__((noinline)) static bool rl_take(ratelimiter *r)
{
    if (r->rate <= 0)
        return false;
    int64_t now = rl_now();
    /* The critical section is a few instructions; if the holder was
     * preempted (2 cores, many threads) yield instead of burning the slice. */
    for (unsigned spins = 0; atomic_flag_test_and_set_explicit(&r->lock, memory_order_acquire);) {
        if (++spins % 64 == 0)
            sched_yield();
        else
            cpu_relax();
    }
    double elapsed = (double)(now - r->last_ns) / 1e9;
    if (elapsed > 0) {
        r->balance += elapsed * r->rate;
        if (r->balance > r->max_balance)
            r->balance = r->max_balance;
        r->last_ns = now;
    }
    bool ok = r->balance >= 1.0;
    if (ok)
        r->balance -= 1.0;
    atomic_flag_clear_explicit(&r->lock, memory_order_release);
    return ok;
}

static uint64_t prob_boundary(double rate)
{
    if (rate <= 0)
        return 0;
    if (rate >= 1)
        return (uint64_t)1 << 63;
    return (uint64_t)(rate * 9223372036854775808.0);
}

static inline bool prob_take(uint64_t boundary, uint64_t trace_lo)
{
    return (trace_lo & 0x7fffffffffffffffull) < boundary;
}

/* ------------------------------------------------------------ strategies */

static void strategy_free(strategy *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nops; i++)
        free(st->ops[i].name);
    free(st->ops);
    if (st->kind == ST_PEROP) {
        for (size_t i = 0; i < st->cap_lazy; i++) {
            free(st->lazy[i].name);
            free(st->lazy[i].rl);
        }
        free(st->lazy);
        pthread_mutex_destroy(&st->lazy_lock);
    }
    free(st->canonical);
    free(st);
}

static strategy *strategy_simple(int kind, double param)
{
    strategy *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->kind = kind;
    st->param = param;
    if (kind == ST_PROB) {
        if (st->param > 1)
            st->param = 1;
        st->boundary = prob_boundary(st->param);
    } else if (kind == ST_RATE) {
        rl_init(&st->rl, param);
    }
    return st;
}

tw_status twp_sampler_new(const tw_config *cfg, twp_sampler **out)
{
    if (!cfg || !out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    twp_sampler *s = calloc(1, sizeof(*s));
    if (!s)
        return TW_ERR_NOMEM;
    strategy *st;
    switch (cfg->sampler_type) {
    case TWP_SAMPLER_PROBABILISTIC:
    case TWP_SAMPLER_REMOTE:
        st = strategy_simple(ST_PROB, cfg->sampler_param);
        break;
    case TWP_SAMPLER_RATELIMITING:
        st = strategy_simple(ST_RATE, cfg->sampler_param);
        break;
    default:
        st = strategy_simple(ST_CONST, cfg->sampler_param > 0 ? 1 : 0);
        break;
    }
    if (!st) {
        free(s);
        return TW_ERR_NOMEM;
    }
    pthread_mutex_init(&s->apply_lock, NULL);
    atomic_init(&s->cur, st);
    *out = s;
    return TW_OK;
}

void twp_sampler_free(twp_sampler *s)
{
    if (!s)
        return;
    strategy_free(atomic_load(&s->cur));
    strategy *r = s->retired;
    while (r) {
        strategy *n = r->retired_next;
        strategy_free(r);
        r = n;
    }
    pthread_mutex_destroy(&s->apply_lock);
    free(s);
}

/* ops are sorted by (length, bytes) when parsed: binary search. */
static int op_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

static int op_sort_cmp(const void *x, const void *y)
{
    const op_strategy *a = x, *b = y;
    return op_cmp(a->name, a->name_len, b->name, b->name_len);
}

static op_strategy *find_op(strategy *st, const char *op, size_t len)
{
    size_t lo = 0, hi = st->nops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = op_cmp(op, len, st->ops[mid].name, st->ops[mid].name_len);
        if (c == 0)
            return &st->ops[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

#define MAX_LAZY_OPS 2000

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

/* The lower-bound limiter of an unlisted operation, created on first use;
 * the shared default one when the table is full or memory is short. Each
 * limiter is its own allocation, so a rehash moves only the table entries
 * and a limiter handed out earlier stays valid for the strategy's life. */
static ratelimiter *lazy_limiter(strategy *st, const char *op, size_t len)
{
    pthread_mutex_lock(&st->lazy_lock);
    ratelimiter *found = &st->def_lower;
    if (st->cap_lazy == 0 || (st->nlazy + 1) * 4 > st->cap_lazy * 3) {
        if (st->nlazy >= MAX_LAZY_OPS)
            goto done_lookup;
        size_t cap = st->cap_lazy ? st->cap_lazy * 2 : 64;
        struct lazy_op *n = calloc(cap, sizeof(*n));
        if (!n)
            goto done_lookup;
        for (size_t i = 0; i < st->cap_lazy; i++) {
            if (!st->lazy[i].name)
                continue;
            size_t j = fnv1a(st->lazy[i].name, st->lazy[i].len) & (cap - 1);
            while (n[j].name)
                j = (j + 1) & (cap - 1);
            n[j] = st->lazy[i];
        }
        free(st->lazy);
        st->lazy = n;
        st->cap_lazy = cap;
    }
done_lookup:
    if (st->cap_lazy) {
        size_t j = fnv1a(op, len) & (st->cap_lazy - 1);
        while (st->lazy[j].name) {
            if (st->lazy[j].len == len && memcmp(st->lazy[j].name, op, len) == 0) {
                found = st->lazy[j].rl;
                goto out;
            }
            j = (j + 1) & (st->cap_lazy - 1);
        }
        if (st->nlazy < MAX_LAZY_OPS && (st->nlazy + 1) * 4 <= st->cap_lazy * 3) {
            char *name = malloc(len + 1);
            ratelimiter *rl = malloc(sizeof(*rl));
            if (name && rl) {
                memcpy(name, op, len);
                name[len] = '\0';
                rl_init(rl, st->lower_bound);
                st->lazy[j].name = name;
                st->lazy[j].len = len;
                st->lazy[j].rl = rl;
                st->nlazy++;
                found = rl;
            } else {
                free(name);
                free(rl);
            }
        }
    }
out:
    pthread_mutex_unlock(&st->lazy_lock);
    return found;
}

static inline void set_type(twp_sample_result *res, int slot)
{
    res->type = twp_cvals[slot].str;
    res->type_len = (uint32_t)(unsigned char)twp_cvals[slot].hdr[3];
}

__attribute__((noinline)) static bool decide_perop(strategy *st, uint64_t trace_lo, const char *op,
                                                   size_t op_len, twp_sample_result *res)
{
    uint64_t boundary = st->def_boundary;
    double rate = st->def_rate;
    ratelimiter *lower = NULL;
    op_strategy *o = find_op(st, op, op_len);
    if (o) {
        boundary = o->boundary;
        rate = o->rate;
        lower = &o->lower;
    }
    res->param_is_bool = false;
    if (prob_take(boundary, trace_lo)) {
        set_type(res, TWP_V_PROBABILISTIC);
        res->param = rate;
        return true;
    }
    set_type(res, TWP_V_LOWERBOUND);
    res->param = st->lower_bound;
    if (st->lower_bound <= 0)
        return false;
    if (!lower)
        lower = lazy_limiter(st, op, op_len);
    return rl_take(lower);
}

bool twp_sampler_decide(twp_sampler *s, uint64_t trace_lo, const char *op, size_t op_len,
                        twp_sample_result *res)
{
    strategy *st = atomic_load_explicit(&s->cur, memory_order_acquire);
    switch (st->kind) {
    case ST_CONST:
        set_type(res, TWP_V_CONST);
        res->param = st->param;
        res->param_is_bool = true;
        return st->param > 0;
    case ST_PROB:
        set_type(res, TWP_V_PROBABILISTIC);
        res->param = st->param;
        res->param_is_bool = false;
        return prob_take(st->boundary, trace_lo);
    case ST_RATE:
        set_type(res, TWP_V_RATELIMITING);
        res->param = st->param;
        res->param_is_bool = false;
        return rl_take(&st->rl);
    default:
        return decide_perop(st, trace_lo, op, op_len, res);
    }
}

static void strategy_unlock(strategy *st)
{
    atomic_flag_clear(&st->rl.lock);
    atomic_flag_clear(&st->def_lower.lock);
    for (size_t i = 0; i < st->nops; i++)
        atomic_flag_clear(&st->ops[i].lower.lock);
    if (st->kind == ST_PEROP) {
        pthread_mutex_init(&st->lazy_lock, NULL);
        for (size_t i = 0; i < st->cap_lazy; i++)
            if (st->lazy[i].rl)
                atomic_flag_clear(&st->lazy[i].rl->lock);
    }
}

void twp_sampler_after_fork_child(twp_sampler *s)
{
    /* The child has one thread: any lock held at fork time belonged to a
     * thread that no longer exists. */
    pthread_mutex_init(&s->apply_lock, NULL);
    strategy_unlock(atomic_load(&s->cur));
    for (strategy *st = s->retired; st; st = st->retired_next)
        strategy_unlock(st);
}

/* ------------------------------------------------------------ remote JSON */

static bool get_number(json_t *o, const char *key, double lo, double hi, double *out, bool required)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return !required;
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi)
        return false;
    *out = d;
    return true;
}

/* {"samplingRate": r} -> r */
static bool get_prob(json_t *o, double *rate)
{
    return json_is_object(o) && get_number(o, "samplingRate", 0, 1, rate, true);
}

static strategy *parse_perop(json_t *ops_obj)
{
    double def_rate = 0, lower = 0;
    if (!get_number(ops_obj, "defaultSamplingProbability", 0, 1, &def_rate, true) ||
        !get_number(ops_obj, "defaultLowerBoundTracesPerSecond", 0, 1e9, &lower, false))
        return NULL;
    json_t *list = json_object_get(ops_obj, "perOperationStrategies");
    if (list && !json_is_array(list) && !json_is_null(list))
        return NULL;
    size_t n = json_is_array(list) ? json_array_size(list) : 0;
    if (n > 10000)
        return NULL;
    strategy *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->kind = ST_PEROP;
    pthread_mutex_init(&st->lazy_lock, NULL);
    st->def_rate = def_rate;
    st->def_boundary = prob_boundary(def_rate);
    st->lower_bound = lower;
    rl_init(&st->def_lower, lower);
    if (n) {
        st->ops = calloc(n, sizeof(*st->ops));
        if (!st->ops)
            goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i);
        json_t *name = json_object_get(e, "operation");
        double rate;
        if (!json_is_object(e) || !json_is_string(name) ||
            !get_prob(json_object_get(e, "probabilisticSampling"), &rate))
            goto fail;
        op_strategy *o = &st->ops[st->nops];
        o->name_len = json_string_length(name);
        o->name = malloc(o->name_len + 1);
        if (!o->name)
            goto fail;
        memcpy(o->name, json_string_value(name), o->name_len + 1);
        st->nops++;
        o->rate = rate;
        o->boundary = prob_boundary(rate);
        rl_init(&o->lower, lower);
    }
    /* a repeated operation keeps its first strategy (stable order not
     * needed: duplicates are a malformed strategy we tolerate) */
    if (st->nops > 1)
        qsort(st->ops, st->nops, sizeof(*st->ops), op_sort_cmp);
    return st;
fail:
    strategy_free(st);
    return NULL;
}

static strategy *parse_strategy(json_t *root)
{
    if (!json_is_object(root))
        return NULL;
    json_t *ops = json_object_get(root, "operationSampling");
    if (ops && !json_is_null(ops)) {
        if (!json_is_object(ops))
            return NULL;
        return parse_perop(ops);
    }
    json_t *type = json_object_get(root, "strategyType");
    bool want_rate = false;
    if (json_is_string(type))
        want_rate = strcmp(json_string_value(type), "RATE_LIMITING") == 0;
    else if (json_is_integer(type))
        want_rate = json_integer_value(type) == 1;
    json_t *prob = json_object_get(root, "probabilisticSampling");
    json_t *rate = json_object_get(root, "rateLimitingSampling");
    double v = 0;
    if (want_rate || (!json_is_object(prob) && json_is_object(rate))) {
        if (!json_is_object(rate) || !get_number(rate, "maxTracesPerSecond", 0, 1e9, &v, true))
            return NULL;
        return strategy_simple(ST_RATE, v);
    }
    if (!get_prob(prob, &v))
        return NULL;
    return strategy_simple(ST_PROB, v);
}

tw_status twp_sampler_apply_json(twp_sampler *s, const char *body, size_t len)
{
    if (!s || (!body && len))
        return TW_ERR_INVALID_ARG;
    if (len > (1u << 22))
        return TW_ERR_TOO_LARGE;
    json_error_t err;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return TW_ERR_CORRUPTED;
    char *canon = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    strategy *st = parse_strategy(root);
    json_decref(root);
    if (!st) {
        free(canon);
        return TW_ERR_CORRUPTED;
    }
    if (!canon) {
        strategy_free(st);
        return TW_ERR_NOMEM;
    }
    st->canonical = canon;
    pthread_mutex_lock(&s->apply_lock);
    strategy *old = atomic_load_explicit(&s->cur, memory_order_relaxed);
    if (old->canonical && strcmp(old->canonical, canon) == 0) {
        pthread_mutex_unlock(&s->apply_lock);
        strategy_free(st);
        return TW_OK;
    }
    atomic_store_explicit(&s->cur, st, memory_order_release);
    old->retired_next = s->retired;
    s->retired = old;
    pthread_mutex_unlock(&s->apply_lock);
    return TW_OK;
}
