/* span.c — span handles and the finished-span records they fill.
 *
 * A tw_span handle is what the bindings hold. It owns:
 *   - its current context: inline in the handle (ictx) when the span carries
 *     no baggage or tracestate, else a heap context from context.c. Contexts
 *     replaced by set_baggage are retired into an array and live until
 *     tw_span_free, so a borrowed tw_span_get_context pointer stays valid;
 *   - a copy of the operation name (readable after finish);
 *   - for a sampled, unfinished span, the twp_span_data record. finish hands
 *     the record to the reporter (which then owns it) and clears the pointer.
 *
 * Unsampled spans are the cheap path: no record, no clock read, tags and logs
 * are dropped after a key check for the two special tags (span.kind,
 * sampling.priority). Their start_us is the explicit start or 0. A
 * sampling.priority > 0 upgrades such a span: it gets a record started at that
 * moment (or at the explicit start time) and is reported like any other.
 *
 * Handles and records come from per-thread free lists, which keeps malloc
 * off the steady-state hot path; records freed on another thread go back to
 * the list of the thread that made them (homes: see "per-thread cache"
 * below). Lists are released by a pthread key destructor at thread exit; a
 * forked child inherits the forking thread's lists (valid memory) and loses
 * the other threads' (leaked, a few KB at most; their homes stay listed). A
 * library unload (dlclose) drains the unloading thread's lists; homes are
 * not released (128 bytes per thread that ever cached). Under
 * AddressSanitizer the lists are disabled so use-after-free is caught.
 */
#include "tracer.h"
#include "ids.h"
#include "trace_flags.h"
#include "propagation.h"
#include "encoders.h"
#include "span_tags.h"
#include "const_tags.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TWP_CACHE_MAX 128u
#if defined(__SANITIZE_ADDRESS__)
#  define TWP_CACHE_ON 0
#else
#  define TWP_CACHE_ON 1
#endif

#define OP_INLINE 48

struct tw_span {
    tw_tracer *t;
    twp_span_data *data;          /* sampled and unfinished only */
    tw_span_context *ctx;         /* == &ictx or a heap context */
    tw_span_context ictx;
    tw_span_context **retired;    /* heap contexts replaced by set_baggage */
    uint32_t nretired, cap_retired;
    uint32_t op_len;
    int64_t start_us;
    tw_span_kind kind;
    unsigned shard;               /* the starting thread's counter shard: finish counts there */
    bool finished;
    const twp_scope *scope;       /* tw_span_set_scope; copied into a record made later */
    char *op;                     /* == op_inline or heap */
    char op_inline[OP_INLINE];
    struct tw_span *next_free;
};

/* ------------------------------------------------------------ per-thread cache */

/* per-thread free lists: twp_tls.cache (ids.h), next to the id generator.
 *
 * Records and their homes. A record freed by the thread that made it goes
 * back on that thread's list. A record freed elsewhere -- the reporter's
 * thread, after sending it -- goes back to its maker too, through the
 * maker's home: the freeing thread gathers records per home (twp_tls.ret,
 * up to TWP_RET_CHAIN) and pushes each chain onto the home's return list
 * with one CAS; the maker takes the whole list with one exchange when its
 * own list runs dry. So a span costs no malloc/free pair, and the only
 * shared cache line, the home's return list, is written once per chain by
 * the returner and once per refill by the maker, never per span.
 *
 * Bounds: a record the thread frees itself joins its list only while the
 * list holds fewer than TWP_DATA_CACHE_MAX; a refill keeps up to
 * TWP_DATA_REFILL_MAX of what came back (a thread whose spans wait in the
 * reporter's queue needs about that many in flight: trimming them at a
 * refill would make it malloc them again at once), and releases the rest to
 * malloc. So a thread holds at most its in-flight records plus
 * TWP_DATA_REFILL_MAX idle ones (about 560 KB) after a burst; records still
 * coming back then wait on the return list until its next refill (or exit).
 *
 * Thread exit (the key destructor) closes the home: one exchange takes the
 * return list and leaves a mark that makes later returners free their
 * records instead; whoever settles the home's last record (refs: the
 * records out when it closed, counted down by returners) marks it free, and
 * the next new thread reuses it. Homes are never released: they stay on a
 * push-only list (as many as threads ever ran at once, 128 bytes each).
 * Fork: the child's forking thread keeps its home (its generation is
 * renewed, twp_span_after_fork); records of every other home belong to
 * threads that do not exist in the child, so returning them frees them
 * (their homes are recognised by the stale generation, and never reused).
 */

#define TWP_DATA_CACHE_MAX 256u
#define TWP_DATA_REFILL_MAX 1024u
#define TWP_RET_CHAIN 32u
#define HOME_CLOSED ((twp_span_data *)(uintptr_t)1)

typedef struct twp_home {
    _Alignas(64) _Atomic(twp_span_data *) ret;   /* returned records, or HOME_CLOSED */
    struct twp_home *all_next;                  /* homes list (immutable once pushed) */
    _Atomic int in_use;                         /* 0: settled, free for a new thread */
    /* after close: records still out minus those settled since (freed with
     * the home when it reaches 0); on a line of its own, as it is written
     * by returners only after the owner is gone */
    _Alignas(64) _Atomic int64_t refs;
    int64_t owned;        /* owner-only: records allocated for this home, not freed */
    unsigned gen;         /* fork generation of the owning thread */
} twp_home;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static _Atomic(twp_home *) all_homes;

static void ret_flush(twp_tls_state *tls, struct twp_ret *r);

/* A home for this thread: a settled one reused, else a new one. NULL on OOM. */
static twp_home *home_get(void)
{
    unsigned gen = atomic_load_explicit(&twp_fork_gen, memory_order_relaxed);
    for (twp_home *h = atomic_load_explicit(&all_homes, memory_order_acquire); h; h = h->all_next) {
        int free_ = 0;
        if (h->gen == gen && atomic_load_explicit(&h->in_use, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&h->in_use, &free_, 1, memory_order_acquire,
                                                    memory_order_relaxed)) {
            atomic_store_explicit(&h->ret, NULL, memory_order_relaxed);
            atomic_store_explicit(&h->refs, 0, memory_order_relaxed);
            h->owned = 0;
            return h;
        }
    }
    twp_home *h = aligned_alloc(64, sizeof *h);   /* sizeof is a multiple of 64 */
    if (!h)
        return NULL;
    memset(h, 0, sizeof *h);
    h->gen = gen;
    atomic_store_explicit(&h->in_use, 1, memory_order_relaxed);
    twp_home *head = atomic_load_explicit(&all_homes, memory_order_relaxed);
    do {
        h->all_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&all_homes, &head, h, memory_order_release,
                                                    memory_order_relaxed));
    return h;
}

/* The home's last record is settled: free for the next new thread. */
static void home_release(twp_home *h)
{
    atomic_store_explicit(&h->in_use, 0, memory_order_release);
}

/* Settles n records of a closed home; the last one releases it. */
static void home_settle(twp_home *h, int64_t n)
{
    if (atomic_fetch_sub_explicit(&h->refs, n, memory_order_acq_rel) == n)
        home_release(h);
}

/* Hands a chain of h's records back (any thread but the owner's). */
static void home_push(twp_home *h, twp_span_data *first, twp_span_data *last, unsigned n)
{
    if (h->gen != atomic_load_explicit(&twp_fork_gen, memory_order_relaxed)) {
        /* a thread of the parent process: gone in this child */
        while (first) {
            twp_span_data *next = first->next;
            free(first);
            first = next;
        }
        return;
    }
    twp_span_data *old = atomic_load_explicit(&h->ret, memory_order_relaxed);
    do {
        if (old == HOME_CLOSED) {
            /* exactly our chain: a failed CAS left last->next pointing at
             * the list the owner took when it closed (its records, which
             * it frees itself) */
            last->next = NULL;
            while (first) {
                twp_span_data *next = first->next;
                free(first);
                first = next;
            }
            home_settle(h, n);
            return;
        }
        last->next = old;
    } while (!atomic_compare_exchange_weak_explicit(&h->ret, &old, first, memory_order_release,
                                                    memory_order_relaxed));
}

static void cache_drain(void *unused)
{
    (void)unused;
    twp_tls_state *tls = twp_tls_get();
    tls->cache.dead = true;   /* thread is exiting: stop caching */
    while (tls->cache.spans) {
        struct tw_span *n = tls->cache.spans->next_free;
        free(tls->cache.spans);
        tls->cache.spans = n;
    }
    while (tls->cache.ops) {
        char *n;
        memcpy(&n, tls->cache.ops, sizeof n);
        free(tls->cache.ops);
        tls->cache.ops = n;
    }
    tls->cache.nops = 0;
    for (unsigned i = 0; i < sizeof tls->ret / sizeof tls->ret[0]; i++)
        ret_flush(tls, &tls->ret[i]);
    twp_home *h = tls->cache.home;
    twp_span_data *back = NULL;
    if (h)
        back = atomic_exchange_explicit(&h->ret, HOME_CLOSED, memory_order_acquire);
    int64_t freed = 0;
    for (twp_span_data *l = tls->cache.datas; l;) {
        twp_span_data *n = l->next;
        free(l);
        l = n;
        freed++;
    }
    for (twp_span_data *l = back; l;) {
        twp_span_data *n = l->next;
        free(l);
        l = n;
        freed++;
    }
    tls->cache.datas = NULL;
    tls->cache.nspans = tls->cache.ndatas = 0;
    if (h) {
        tls->cache.home = NULL;
        int64_t out = h->owned - freed;   /* still in flight: returners settle them */
        if (atomic_fetch_add_explicit(&h->refs, out, memory_order_acq_rel) + out == 0)
            home_release(h);
    }
}

static bool cache_key_made;

static void cache_key_init(void)
{
    cache_key_made = pthread_key_create(&cache_key, cache_drain) == 0;
}

/* When the library is unloaded (dlclose of a binding that linked the core
 * statically, e.g. Redis MODULE UNLOAD), the key's destructor must not run
 * later at thread exit in unmapped code. */
__attribute__((destructor)) static void cache_key_unload(void)
{
    /* dlclose (MODULE UNLOAD, a Lua state closing) runs no thread-exit
     * destructor for the unloading thread: release its cache here. */
    cache_drain(NULL);
    if (cache_key_made)
        pthread_key_delete(cache_key);
    /* Homes are otherwise never freed (threads find free ones by walking the
     * list); with the list's head unmapped they would be lost. Nothing of
     * this library runs on other threads while it is unloaded, so every
     * settled home can go; one still in use (a live thread's, or records
     * still out) stays listed. */
    twp_home *keep = NULL;
    for (twp_home *h = atomic_exchange(&all_homes, NULL); h;) {
        twp_home *next = h->all_next;
        if (atomic_load(&h->in_use) == 0) {
            free(h);
        } else {
            h->all_next = keep;
            keep = h;
        }
        h = next;
    }
    atomic_store(&all_homes, keep);
}

/* Registers the thread-exit destructor the first time a thread caches. */
__attribute__((noinline)) static bool cache_register(void)
{
    pthread_once(&cache_once, cache_key_init);
    if (!cache_key_made || pthread_setspecific(cache_key, &twp_tls) != 0)
        return false;
    twp_tls.cache.registered = true;
    return true;
}

static inline bool cache_usable(twp_tls_state *tls)
{
    if (__builtin_expect(tls->cache.registered, 1))
        return !tls->cache.dead;
    return cache_register();
}

void twp_span_after_fork(void)
{
    /* the forking thread is the child's only thread: its home lives on */
    if (twp_tls.cache.home)
        twp_tls.cache.home->gen = atomic_load(&twp_fork_gen);
}

/* ------------------------------------------------------------ records */

/* Field by field rather than memset: a ~180-byte memset compiles to
 * "rep stos", whose start-up cost dominated span start in profiles. The
 * part a span's record gets no value for at start (make_record writes the
 * rest itself). */
static inline void data_reset_body(twp_span_data *d)
{
    d->next = NULL;
    d->duration_us = 0;
    d->tracestate = NULL;
    d->tags = d->inline_tags;
    d->ntags = 0;
    d->cap_tags = sizeof(d->inline_tags) / sizeof(d->inline_tags[0]);
    d->logs = NULL;
    d->nlogs = d->cap_logs = 0;
    d->refs = NULL;
    d->nrefs = 0;
    d->arena.cur = d->inline_mem;
    d->arena.used = 0;
    d->arena.cap = sizeof(d->inline_mem);
    d->arena.chunks = NULL;
}

static inline void data_reset(twp_span_data *d)
{
    d->trace_hi = d->trace_lo = d->span_id = d->parent_id = 0;
    d->flags = 0;
    d->kind = TW_KIND_UNSPECIFIED;
    d->start_us = 0;
    d->op = NULL;
    d->op_len = 0;
    d->scope = NULL;
    data_reset_body(d);
}

/* The thread's list ran dry: take what came back home, else malloc. */
static __attribute__((noinline)) twp_span_data *data_refill(twp_tls_state *tls)
{
    twp_home *h = tls->cache.home;
    if (TWP_CACHE_ON && !h && cache_usable(tls))
        h = tls->cache.home = home_get();
    if (h && !tls->cache.dead) {
        twp_span_data *l = NULL;
        if (atomic_load_explicit(&h->ret, memory_order_relaxed))
            l = atomic_exchange_explicit(&h->ret, NULL, memory_order_acquire);
        if (l) {
            twp_span_data *d = l;
            l = l->next;
            /* keep up to the bound, release the rest */
            while (l && tls->cache.ndatas < TWP_DATA_REFILL_MAX) {
                twp_span_data *n = l->next;
                l->next = tls->cache.datas;
                tls->cache.datas = l;
                tls->cache.ndatas++;
                l = n;
            }
            while (l) {
                twp_span_data *n = l->next;
                free(l);
                h->owned--;
                l = n;
            }
            return d;
        }
    }
    twp_span_data *d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    if (h && !tls->cache.dead) {
        d->home = h;
        h->owned++;
    } else {
        d->home = NULL;   /* plain malloc/free */
    }
    return d;
}

/* A record from the cache, not reset. */
static inline twp_span_data *data_take(twp_tls_state *tls)
{
    twp_span_data *d = tls->cache.datas;
    if (__builtin_expect(d != NULL, 1)) {
        tls->cache.datas = d->next;
        tls->cache.ndatas--;
        return d;
    }
    return data_refill(tls);
}

static inline twp_span_data *data_new(twp_tls_state *tls)
{
    twp_span_data *d = data_take(tls);
    if (d)
        data_reset(d);
    return d;
}

twp_span_data *twp_span_data_new(void)
{
    return data_new(twp_tls_get());
}

/* Pushes a gathered chain home. */
static void ret_flush(twp_tls_state *tls, struct twp_ret *r)
{
    (void)tls;
    if (r->n)
        home_push(r->home, r->head, r->tail, r->n);
    r->home = NULL;
    r->head = r->tail = NULL;
    r->n = 0;
}

/* Adds the chain head..tail of n records of home h (another thread's) to
 * the chain gathered for h; a chain of TWP_RET_CHAIN or more goes home. The
 * caller checked cache_usable. */
static inline __attribute__((always_inline)) void ret_gather(twp_tls_state *tls, twp_home *h,
                                                             twp_span_data *head,
                                                             twp_span_data *tail, unsigned n)
{
    struct twp_ret *r = &tls->ret[((uintptr_t)h >> 6) & 3];
    if (r->home != h) {
        ret_flush(tls, r);
        r->home = h;
    }
    tail->next = r->head;
    r->head = head;
    if (!r->tail)
        r->tail = tail;
    if ((r->n += n) >= TWP_RET_CHAIN)
        ret_flush(tls, r);
}

/* A record of another thread's home: gathered, sent back a chain at a time. */
static __attribute__((noinline)) void data_return(twp_tls_state *tls, twp_span_data *d)
{
    twp_home *h = d->home;
    if (!TWP_CACHE_ON || !cache_usable(tls)) {   /* exiting thread: at once */
        d->next = NULL;
        home_push(h, d, d, 1);
        return;
    }
    ret_gather(tls, h, d, d, 1);
}

void twp_span_data_return_flush(void)
{
    twp_tls_state *tls = twp_tls_get();
    for (unsigned i = 0; i < sizeof tls->ret / sizeof tls->ret[0]; i++)
        ret_flush(tls, &tls->ret[i]);
}

static inline void data_free(twp_tls_state *tls, twp_span_data *d)
{
    if (d->arena.chunks)
        twp_arena_release(&d->arena);
    twp_home *h = d->home;
    if (__builtin_expect(h != NULL && h == tls->cache.home, 1)) {
        if (tls->cache.ndatas < TWP_DATA_CACHE_MAX && !tls->cache.dead) {
            d->next = tls->cache.datas;
            tls->cache.datas = d;
            tls->cache.ndatas++;
            return;
        }
        h->owned--;
        free(d);
        return;
    }
    if (!h) {
        free(d);
        return;
    }
    data_return(tls, d);
}

void twp_span_data_free(twp_span_data *d)
{
    if (!d)
        return;
    data_free(twp_tls_get(), d);
}

void twp_span_data_free_n(twp_span_data *const *d, size_t n)
{
    if (!n)
        return;
    twp_tls_state *tls = twp_tls_get();   /* once, not per record */
    if (!TWP_CACHE_ON || !cache_usable(tls)) {   /* an exiting thread: one by one */
        for (size_t i = 0; i < n; i++)
            twp_span_data_free(d[i]);
        return;
    }
    twp_home *own = tls->cache.home;
    /* a run of records of one home (a batch is mostly runs: one maker's
     * spans in a row) is chained here and gathered once */
    twp_home *rh = NULL;
    twp_span_data *head = NULL, *tail = NULL;
    unsigned rn = 0;
    /* the driven reporter's case (#15: the host's loop sends on the thread
     * that made the records): a leading run of this thread's own records,
     * nothing to release, goes onto its record cache while the cache has
     * room -- no thread-local lookup and no call per record; the rest (the
     * reporter thread's case, and whatever breaks the run) below */
    size_t i = 0;
    if (own && tls->cache.ndatas < TWP_DATA_CACHE_MAX) {
        size_t room = TWP_DATA_CACHE_MAX - tls->cache.ndatas;
        size_t m = n < room ? n : room;
        twp_span_data *cached = tls->cache.datas;
        for (; i < m; i++) {
            twp_span_data *r = d[i];
            if (!r || r->home != own || r->arena.chunks)
                break;
            r->next = cached;
            cached = r;
        }
        tls->cache.datas = cached;
        tls->cache.ndatas += (unsigned)i;
    }
    for (; i < n; i++) {
        twp_span_data *r = d[i];
        /* the reporter thread's case: another thread's record, nothing to
         * release (NULL and every other case: twp_span_data_free) */
        twp_home *h;
        if (__builtin_expect(r && !r->arena.chunks && (h = r->home) != NULL && h != own, 1)) {
            if (h == rh && rn < TWP_RET_CHAIN) {
                r->next = head;
                head = r;
                rn++;
                continue;
            }
            if (rn)
                ret_gather(tls, rh, head, tail, rn);
            rh = h;
            head = tail = r;
            rn = 1;
        } else {
            twp_span_data_free(r);
        }
    }
    if (rn)
        ret_gather(tls, rh, head, tail, rn);
}

/* ------------------------------------------------------------ arrays */

_Static_assert(sizeof(twp_value) == 24, "twp_value grew past 24 bytes (span_data.h)");
_Static_assert(offsetof(twp_span_data, inline_mem) % 8 == 0,
               "the inline arena chunk must be 8-byte aligned (twp_arena_alloc)");

const twp_array *twp_array_copy(void *dst, const twp_array *a)
{
    memcpy(dst, a, a->size);
    return twp_array_moved(dst, (uintptr_t)a);
}

const twp_array *twp_array_moved(void *dst, uintptr_t was)
{
    twp_array *c = dst;
    uintptr_t delta = (uintptr_t)dst - was;   /* modulo 2^N: adding it moves a pointer */
    c->json = (const char *)((uintptr_t)c->json + delta);
    for (uint32_t i = 0; i < c->n; i++)
        if (c->items[i].type == TW_VAL_STRING)
            c->items[i].v.str = (const char *)((uintptr_t)c->items[i].v.str + delta);
    return c;
}

static bool copy_value(twp_arena *a, twp_value *dst, const twp_value *src)
{
    *dst = *src;
    dst->key = twp_arena_strdup(a, src->key, src->key_len);
    if (!dst->key)
        return false;
    if (src->type == TW_VAL_STRING || src->type == TW_VAL_BINARY) {
        dst->v.str = twp_arena_strdup(a, src->v.str, src->len);
        if (!dst->v.str)
            return false;
    } else if (src->type == TW_VAL_ARRAY) {
        void *m = twp_arena_alloc(a, src->v.arr->size);
        if (!m)
            return false;
        dst->v.arr = twp_array_copy(m, src->v.arr);
    }
    return true;
}

twp_span_data *twp_span_data_clone(const twp_span_data *s)
{
    twp_span_data *d = twp_span_data_new();
    if (!d)
        return NULL;
    twp_arena *a = &d->arena;
    d->trace_hi = s->trace_hi;
    d->trace_lo = s->trace_lo;
    d->span_id = s->span_id;
    d->parent_id = s->parent_id;
    d->flags = s->flags;
    d->kind = s->kind;
    d->start_us = s->start_us;
    d->duration_us = s->duration_us;
    d->scope = s->scope;
    d->op_len = s->op_len;
    if (!(d->op = twp_arena_strdup(a, s->op ? s->op : "", s->op_len)))
        goto fail;
    if (s->tracestate && !(d->tracestate = twp_arena_strdup(a, s->tracestate, strlen(s->tracestate))))
        goto fail;
    if (s->ntags > d->cap_tags) {
        if (!(d->tags = twp_arena_alloc(a, sizeof(twp_value) * s->ntags)))
            goto fail;
        d->cap_tags = s->ntags;
    }
    for (uint32_t i = 0; i < s->ntags; i++)
        if (!copy_value(a, &d->tags[i], &s->tags[i]))
            goto fail;
    d->ntags = s->ntags;
    if (s->nlogs) {
        if (!(d->logs = twp_arena_alloc(a, sizeof(twp_log) * s->nlogs)))
            goto fail;
        for (uint32_t i = 0; i < s->nlogs; i++) {
            const twp_log *sl = &s->logs[i];
            twp_log *dl = &d->logs[i];
            dl->ts_us = sl->ts_us;
            dl->nfields = 0;
            dl->fields = sl->nfields ? twp_arena_alloc(a, sizeof(twp_value) * sl->nfields) : NULL;
            if (sl->nfields && !dl->fields)
                goto fail;
            for (uint32_t j = 0; j < sl->nfields; j++)
                if (!copy_value(a, &dl->fields[j], &sl->fields[j]))
                    goto fail;
            dl->nfields = sl->nfields;
        }
        d->nlogs = d->cap_logs = s->nlogs;
    }
    if (s->nrefs) {
        if (!(d->refs = twp_arena_alloc(a, sizeof(twp_ref) * s->nrefs)))
            goto fail;
        memcpy(d->refs, s->refs, sizeof(twp_ref) * s->nrefs);
        d->nrefs = s->nrefs;
        for (uint32_t i = 0; i < s->nrefs; i++) {
            uint32_t na = s->refs[i].nattrs;
            const char *ts = s->refs[i].tracestate;
            if (ts && !(d->refs[i].tracestate = twp_arena_strdup(a, ts, strlen(ts))))
                goto fail;
            if (!na)
                continue;
            d->refs[i].nattrs = 0;
            if (!(d->refs[i].attrs = twp_arena_alloc(a, sizeof(twp_value) * na)))
                goto fail;
            for (uint32_t j = 0; j < na; j++)
                if (!copy_value(a, &d->refs[i].attrs[j], &s->refs[i].attrs[j]))
                    goto fail;
            d->refs[i].nattrs = na;
        }
    }
    return d;
fail:
    twp_span_data_free(d);
    return NULL;
}

/* ------------------------------------------------------------ handles */

static inline __attribute__((always_inline)) struct tw_span *handle_new(twp_tls_state *tls)
{
    struct tw_span *s = tls->cache.spans;
    if (s) {
        tls->cache.spans = s->next_free;
        tls->cache.nspans--;
        return s;
    }
    return malloc(sizeof(*s));
}

static inline __attribute__((always_inline)) void handle_release(twp_tls_state *tls,
                                                                 struct tw_span *s)
{
    if (TWP_CACHE_ON && tls->cache.nspans < TWP_CACHE_MAX && cache_usable(tls)) {
        s->next_free = tls->cache.spans;
        tls->cache.spans = s;
        tls->cache.nspans++;
        return;
    }
    free(s);
}

void twp_span_cache_prewarm(size_t handles, size_t records)
{
    twp_tls_state *tls = twp_tls_get();
    if (!TWP_CACHE_ON || !cache_usable(tls))
        return;
    struct tw_span *hl = NULL;
    for (size_t i = 0; i < handles && tls->cache.nspans + i < TWP_CACHE_MAX; i++) {
        struct tw_span *h = malloc(sizeof(*h));
        if (!h)
            break;
        h->next_free = hl;
        hl = h;
    }
    while (hl) {
        struct tw_span *next = hl->next_free;
        handle_release(tls, hl);
        hl = next;
    }
    twp_span_data *dl = NULL;
    for (size_t i = 0; i < records && i < TWP_DATA_CACHE_MAX; i++) {
        twp_span_data *d = data_new(tls);
        if (!d)
            break;
        d->next = dl;
        dl = d;
    }
    while (dl) {
        twp_span_data *next = dl->next;
        data_free(tls, dl);
        dl = next;
    }
}

/* Operation names too long for a handle's op_inline (a request's "METHOD
 * /path" often is): blocks of OP_BLOCK bytes for names up to OP_BLOCK - 1
 * bytes, kept on a per-thread list as handles are (twp_tls.cache.ops, a
 * block's first bytes link it), so a traced request with a long path pays
 * no malloc/free pair for its name; longer names are malloc'd to size. */
#define OP_BLOCK 256u
#define OP_CACHE_MAX 64u

static inline char *op_alloc(twp_tls_state *tls, size_t len)
{
    if (len >= OP_BLOCK)
        return malloc(len + 1);
    char *b = tls->cache.ops;
    if (TWP_CACHE_ON && b) {
        memcpy(&tls->cache.ops, b, sizeof b);
        tls->cache.nops--;
        return b;
    }
    return malloc(OP_BLOCK);
}

/* op held a name of len bytes (its size class). */
static inline void op_release(twp_tls_state *tls, char *op, size_t len)
{
    if (TWP_CACHE_ON && len < OP_BLOCK && tls->cache.nops < OP_CACHE_MAX && cache_usable(tls)) {
        memcpy(op, &tls->cache.ops, sizeof op);
        tls->cache.ops = op;
        tls->cache.nops++;
        return;
    }
    free(op);
}

static inline __attribute__((always_inline)) bool
handle_set_op(twp_tls_state *tls, struct tw_span *s, const char *name, size_t len)
{
    char *dst = s->op_inline;
    if (len >= OP_INLINE) {
        dst = op_alloc(tls, len);
        if (!dst)
            return false;
    }
    twp_copy_short(dst, name, len);
    dst[len] = '\0';
    if (s->op != s->op_inline && s->op != dst)
        op_release(tls, s->op, s->op_len);
    s->op = dst;
    s->op_len = (uint32_t)len;
    return true;
}

/* ------------------------------------------------------------ record writes */

static inline twp_value *add_value_slot(twp_span_data *d)
{
    return twp_tags_room(d, 1);
}

/* Byte length after truncation to max, not splitting a UTF-8 sequence. */
static size_t clip(const char *s, size_t len, size_t max, bool utf8)
{
    if (len <= max)
        return len;
    size_t n = max;
    if (utf8)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    return n;
}

/* Fills v from f, copying key and string value into the record's arena in
 * one piece ("key\0value\0"). Keys are not interned here: a lookup costs
 * about 40 instructions more than the copy, per key and span, on the path
 * every traced request takes; records that wait long are interned when
 * packed (span_pack.c). */
static inline __attribute__((always_inline)) tw_status
fill_value(twp_span_data *d, size_t max, twp_value *v, const tw_field *f)
{
    if (f->key_len > TWP_MAX_KEY_LEN)
        return TW_ERR_TOO_LARGE;
    size_t n = 0;
    bool is_str = f->type == TW_VAL_STRING || f->type == TW_VAL_BINARY;
    if (is_str) {
        if (!f->v.str.ptr && f->v.str.len)
            return TW_ERR_INVALID_ARG;
        n = clip(f->v.str.ptr, f->v.str.len, max, f->type == TW_VAL_STRING);
    } else if (f->type == TW_VAL_ARRAY) {
        return twp_value_fill(&d->arena, max, v, f);
    } else if ((unsigned)f->type > TW_VAL_BINARY) {
        return TW_ERR_INVALID_ARG;
    }
    size_t klen = f->key_len;
    char *p = twp_arena_take(&d->arena, klen + 1 + (is_str ? n + 1 : 0));
    if (!p)
        return TW_ERR_NOMEM;
    twp_copy_short(p, f->key, klen);
    p[klen] = '\0';
    v->type = (uint8_t)f->type;
    v->key = p;
    v->key_len = (uint16_t)klen;
    v->len = 0;
    switch (f->type) {
    case TW_VAL_STRING:
    case TW_VAL_BINARY: {
        char *q = p + klen + 1;
        twp_copy_short(q, f->v.str.ptr, n);
        q[n] = '\0';
        v->v.str = q;
        v->len = (uint32_t)n;
        break;
    }
    case TW_VAL_INT64:  v->v.i64 = f->v.i64; break;
    case TW_VAL_DOUBLE: v->v.f64 = f->v.f64; break;
    default:            v->v.b = f->v.b ? 1 : 0; break;
    }
    return TW_OK;
}

static inline tw_status record_tag(tw_span *s, const tw_field *f)
{
    twp_span_data *d = s->data;
    twp_value *slot = add_value_slot(d);
    if (!slot)
        return TW_ERR_NOMEM;
    tw_status st = fill_value(d, s->t->max_tag_len, slot, f);
    if (st == TW_OK)
        d->ntags++;
    return st;
}

static tw_status record_tag_str(tw_span *s, const char *k, const char *v, size_t vlen)
{
    tw_field f = {.key = k, .key_len = strlen(k), .type = TW_VAL_STRING};
    f.v.str.ptr = v;
    f.v.str.len = vlen;
    return record_tag(s, &f);
}

/* span_tags.h: the tag array grows into the arena (doubling), keeping the
 * tags written so far. */
twp_value *twp_tags_grow(twp_span_data *d, size_t n)
{
    size_t cap = d->cap_tags * 2u;
    while (cap - d->ntags < n)
        cap *= 2;
    if (cap > UINT32_MAX)
        return NULL;
    twp_value *nv = twp_arena_alloc(&d->arena, sizeof(twp_value) * cap);
    if (!nv)
        return NULL;
    memcpy(nv, d->tags, sizeof(twp_value) * d->ntags);
    d->tags = nv;
    d->cap_tags = (uint32_t)cap;
    return nv + d->ntags;
}

const char *twp_record_copy(twp_span_data *d, const twp_piece *pc, size_t np, size_t max,
                            uint32_t *len)
{
    size_t total = 0;
    for (size_t j = 0; j < np; j++)
        total += pc[j].n;
    /* a value longer than the bound: copied up to one byte past it (clip()
     * reads that byte to find where a UTF-8 sequence starts), then cut */
    size_t room = total > max ? max + 1 : total;
    char *q = twp_arena_take(&d->arena, room + 1);
    if (!q)
        return NULL;
    size_t at = 0;
    for (size_t j = 0; j < np && at < room; j++) {
        size_t k = pc[j].n < room - at ? pc[j].n : room - at;
        twp_copy_short(q + at, pc[j].p, k);
        at += k;
    }
    size_t n = clip(q, total, max, true);
    q[n] = '\0';
    *len = (uint32_t)n;
    return q;
}

twp_span_data *twp_span_record(const tw_span *s, size_t *max_tag_len)
{
    *max_tag_len = s->t->max_tag_len;
    return s->data;
}

/* ------------------------------------------------------------ start */

/* Capacity of a refs array holding n: the next power of two. tw_span_add_link
 * relies on it (an array whose count is a power of two is full). */
static uint32_t ref_cap(uint32_t n)
{
    return n <= 1 ? 1 : 1u << (32 - __builtin_clz(n - 1));
}

static bool ctx_has_ids(const tw_span_context *c)
{
    return (c->trace_hi | c->trace_lo) != 0 && c->span_id != 0;
}

/* The record's operation name, copied into its arena. NULL on OOM. */
static inline __attribute__((always_inline)) const char *
record_op(twp_span_data *d, const char *name, size_t len)
{
    char *op = twp_arena_take(&d->arena, len + 1);
    if (!op)
        return NULL;
    twp_copy_short(op, name, len);
    op[len] = '\0';
    return op;
}

/* Creates the record of a span that becomes sampled (at start or later). */
static inline __attribute__((always_inline)) tw_status
make_record(twp_tls_state *tls, tw_span *s, unsigned flags, int64_t start_us)
{
    twp_span_data *d = data_take(tls);
    if (!d)
        return TW_ERR_NOMEM;
    data_reset_body(d);
    const tw_span_context *c = s->ctx;
    d->trace_hi = c->trace_hi;
    d->trace_lo = c->trace_lo;
    d->span_id = c->span_id;
    d->parent_id = c->parent_id;
    d->flags = flags;
    d->kind = s->kind;
    d->scope = s->scope;
    d->start_us = start_us;
    if (!(d->op = record_op(d, s->op, s->op_len)))
        goto nomem;
    d->op_len = s->op_len;
    if (c->tracestate) {
        d->tracestate = twp_arena_strdup(&d->arena, c->tracestate, c->tracestate_len);
        if (!d->tracestate)
            goto nomem;
    }
    s->data = d;
    return TW_OK;
nomem:
    twp_span_data_free(d);
    return TW_ERR_NOMEM;
}

/* A remote sampler learns its strategies on the reporter thread, which starts
 * lazily. If the initial rate samples nothing, no span would ever be reported
 * and the thread would never start: so the first sampler decision in each
 * process (fork generation) starts it with a zero-timeout flush. Never at
 * tracer creation, so forking parents stay thread-free. */

static void remote_sampling_kick(tw_tracer *t)
{
    unsigned g = atomic_load_explicit(&twp_fork_gen, memory_order_relaxed);
    if (atomic_load_explicit(&t->sampling_kick_gen, memory_order_relaxed) == g)
        return;
    if (atomic_exchange(&t->sampling_kick_gen, g) != g)
        t->reporter->ops->flush(t->reporter, 0);
}

/* A const sampler's tags on a sampled root (sampler.type=const,
 * sampler.param=true), copied whole into the record: static strings as the
 * general path's (const_tags.h). */
static const twp_value const_sampler_tags[2] = {
    { .key = twp_ckeys[TWP_K_SAMPLER_TYPE].str, .key_len = TWP_KLEN_SAMPLER_TYPE,
      .type = TW_VAL_STRING, .v.str = twp_cvals[TWP_V_CONST].str, .len = TWP_VLEN_CONST },
    { .key = twp_ckeys[TWP_K_SAMPLER_PARAM].str, .key_len = TWP_KLEN_SAMPLER_PARAM,
      .type = TW_VAL_BOOL, .v.b = 1, .len = 0 },
};

/* tw_span_start and twp_span_start_kind (span_tags.h): one body, inlined
 * into both, so the gateway's entry sets the kind without a second call.
 * checked: the caller vouches for the arguments (a span_tags.h caller
 * passes a tracer, a name of at most TW_HTTP_MAX_NAME bytes, refs as
 * tw_span_start takes them). */
static inline __attribute__((always_inline)) tw_status
span_start(tw_tracer *t, const char *name, size_t name_len, const tw_span_ref *refs, size_t nrefs,
           int64_t start_us, tw_span_kind kind, tw_span **out, bool checked)
{
    if (!checked) {
        if (!out)
            return TW_ERR_INVALID_ARG;
        *out = NULL;
        if (!t || (!name && name_len) || (!refs && nrefs) || name_len > UINT32_MAX)
            return TW_ERR_INVALID_ARG;
    }

    /* Parent: first CHILD_OF with ids, else first FOLLOWS_FROM with ids (as
     * Jaeger clients do). A context without ids (baggage / debug id only,
     * from a carrier) seeds a new root. */
    const tw_span_context *parent = NULL, *follows = NULL, *seed = NULL;
    size_t nvalid = 0;
    for (size_t i = 0; i < nrefs; i++) {
        const tw_span_context *c = refs[i].ctx;
        if (!c)
            continue;
        if (!ctx_has_ids(c)) {
            if (!seed)
                seed = c;
            continue;
        }
        nvalid++;
        if (refs[i].type != TW_REF_FOLLOWS_FROM) {     /* CHILD_OF or PARENT */
            if (!parent)
                parent = c;
        } else if (!follows) {
            follows = c;
        }
    }
    if (!parent)
        parent = follows;
    if (nvalid > TWP_MAX_REFS)
        return TW_ERR_TOO_LARGE;   /* a record keeps 16-bit counts (span_data.h) */

    twp_tls_state *tls = twp_tls_get();   /* one TLS lookup for the whole start */
    tw_span *s = handle_new(tls);
    if (!s)
        return TW_ERR_NOMEM;
    s->t = t;
    s->data = NULL;
    s->retired = NULL;
    s->nretired = s->cap_retired = 0;
    s->kind = kind;
    s->finished = false;
    s->scope = NULL;
    s->start_us = start_us;
    /* the name, written once (handle_set_op would test for an old one) */
    char *op = s->op_inline;
    if (name_len >= OP_INLINE && !(op = op_alloc(tls, name_len))) {
        handle_release(tls, s);
        return TW_ERR_NOMEM;
    }
    twp_copy_short(op, name, name_len);
    op[name_len] = '\0';
    s->op = op;
    s->op_len = (uint32_t)name_len;

    const tw_config *cfg = &t->cfg;
    uint64_t hi, lo, pid;
    unsigned flags = 0;
    bool root = parent == NULL;
    twp_sample_result sr;
    bool sampler_tags = false, const_tags = false, debug_id_tag = false;
    const tw_span_context *inherit = parent ? parent : seed;
    if (parent) {
        hi = parent->trace_hi;
        lo = parent->trace_lo;
        pid = parent->span_id;
    } else {
        if (cfg->trace_id_128bit) {
            twp_random_id2_inline(tls, &lo, &hi);
        } else {
            lo = twp_random_id_inline(tls);
            hi = 0;
        }
        pid = 0;
    }
    if (parent && cfg->parent_based) {
        flags = parent->flags & (TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
        if (flags & TW_FLAG_DEBUG)
            flags |= TW_FLAG_SAMPLED;
    } else if (seed && !parent && seed->debug_id) {
        /* jaeger_client: a debug id alone makes a debug trace if the
         * throttler lets it, else an unsampled one (the sampler is not
         * asked); the reporter thread must run to fetch credits */
        if (t->throttler)
            remote_sampling_kick(t);
        debug_id_tag = !t->throttler || twp_throttler_allow(t->throttler, name, name_len);
        flags = debug_id_tag ? TW_FLAG_SAMPLED | TW_FLAG_DEBUG : 0;
    } else if (t->const_decision >= 0) {
        /* a const sampler never changes: no call, no strategy load, and
         * its tags are one constant pair */
        if (t->const_decision) {
            flags = TW_FLAG_SAMPLED;
            sampler_tags = root && cfg->sampler_tags;
            const_tags = true;
        }
    } else {
        if (cfg->sampler_type == TWP_SAMPLER_REMOTE)
            remote_sampling_kick(t);
        if (twp_sampler_decide(t->sampler, lo, name, name_len, &sr)) {
            flags = TW_FLAG_SAMPLED;
            sampler_tags = root && cfg->sampler_tags;
        }
    }
    /* W3C trace-flags other than sampled (random, reserved) describe the
     * trace, not the sampling decision: children keep them (trace_flags.h) */
    if (parent)
        flags |= parent->flags & TWP_FLAG_W3C_MASK;
    /* A root's span id is its trace id's low half, as in Jaeger clients:
     * one generator call less on the hot path. */
    uint64_t sid = parent ? twp_random_id_inline(tls) : lo;

    tw_status st;
    if (inherit && (inherit->nbaggage || inherit->tracestate)) {
        st = twp_context_child(inherit, hi, lo, sid, pid, flags, &s->ctx);
        if (st != TW_OK) {
            if (s->op != s->op_inline)
                op_release(tls, s->op, s->op_len);
            handle_release(tls, s);
            return st;
        }
        s->ctx->trace_id_128bit_hex = cfg->trace_id_128bit || hi != 0;
    } else {
        tw_span_context *c = &s->ictx;
        memset(c, 0, sizeof(*c));
        c->trace_hi = hi;
        c->trace_lo = lo;
        c->span_id = sid;
        c->parent_id = pid;
        c->flags = flags;
        c->trace_id_128bit_hex = cfg->trace_id_128bit;
        s->ctx = c;
    }

    s->shard = twp_ctr_shard_inline(tls);
    twp_ctr_shard *sh = &t->ctr.shard[s->shard];
    atomic_fetch_add_explicit(&sh->spans_started, 1, memory_order_relaxed);
    if (flags & TW_FLAG_SAMPLED) {
        atomic_fetch_add_explicit(&sh->spans_sampled, 1, memory_order_relaxed);
        if (!start_us)
            s->start_us = start_us = tw_now_us();
        st = make_record(tls, s, flags, start_us);
        if (st != TW_OK)
            goto fail;
        twp_span_data *d = s->data;
        if (nvalid) {
            /* a power-of-two capacity: tw_span_add_link grows it by doubling */
            d->refs = twp_arena_alloc(&d->arena, sizeof(twp_ref) * ref_cap((uint32_t)nvalid));
            if (!d->refs) {
                st = TW_ERR_NOMEM;
                goto fail;
            }
            bool jc = t->cfg.profile == TWP_PROFILE_JAEGER_CLIENT;
            for (size_t i = 0; i < nrefs; i++) {
                const tw_span_context *c = refs[i].ctx;
                if (!c || !ctx_has_ids(c) || (jc && refs[i].type == TW_REF_PARENT))
                    continue;
                twp_ref *r = &d->refs[d->nrefs++];
                r->nattrs = 0;
                r->attrs = NULL;
                r->tracestate = NULL;
                r->w3c_flags = 0;
                r->link = false;
                r->type = refs[i].type == TW_REF_FOLLOWS_FROM ? TW_REF_FOLLOWS_FROM : TW_REF_CHILD_OF;
                r->trace_hi = c->trace_hi;
                r->trace_lo = c->trace_lo;
                r->span_id = c->span_id;
            }
        }
        if (sampler_tags && const_tags) {
            memcpy(d->tags, const_sampler_tags, sizeof const_sampler_tags);
            d->ntags = 2;
        } else if (sampler_tags) {
            /* The record's first two tags; keys and the type name are static
             * strings (const_tags.h: the encoder copies their bytes whole),
             * which outlive any record, so nothing is copied. */
            twp_value *v = d->tags;
            v[0].type = TW_VAL_STRING;
            v[0].key = twp_ckeys[TWP_K_SAMPLER_TYPE].str;
            v[0].key_len = TWP_KLEN_SAMPLER_TYPE;
            v[0].v.str = sr.type;
            v[0].len = sr.type_len;
            v[1].key = twp_ckeys[TWP_K_SAMPLER_PARAM].str;
            v[1].key_len = TWP_KLEN_SAMPLER_PARAM;
            v[1].len = 0;
            if (sr.param_is_bool) {
                v[1].type = TW_VAL_BOOL;
                v[1].v.b = sr.param > 0;
            } else {
                v[1].type = TW_VAL_DOUBLE;
                v[1].v.f64 = sr.param;
            }
            d->ntags = 2;
        }
        if (debug_id_tag) {
            const char *k = cfg->debug_id_header && *cfg->debug_id_header ? cfg->debug_id_header
                                                                         : "jaeger-debug-id";
            st = record_tag_str(s, k, seed->debug_id, seed->debug_id_len);
            if (st != TW_OK)
                goto fail;
        }
    }
    *out = s;
    return TW_OK;
fail:
    tw_span_free(s);
    return st;
}

tw_status tw_span_start(tw_tracer *t, const char *name, size_t name_len,
                        const tw_span_ref *refs, size_t nrefs,
                        int64_t start_us, tw_span **out)
{
    return span_start(t, name, name_len, refs, nrefs, start_us, TW_KIND_UNSPECIFIED, out, false);
}

tw_status twp_span_start_kind(tw_tracer *t, const char *name, size_t name_len,
                              const tw_span_ref *refs, size_t nrefs, int64_t start_us,
                              tw_span_kind kind, tw_span **out, twp_span_data **rec,
                              size_t *max_tag_len)
{
    *out = NULL;
    tw_status st = span_start(t, name, name_len, refs, nrefs, start_us, kind, out, true);
    *rec = st == TW_OK ? (*out)->data : NULL;
    *max_tag_len = t->max_tag_len;
    return st;
}

/* ------------------------------------------------------------ finish / free */

tw_status tw_span_finish(tw_span *s, int64_t finish_us)
{
    if (!s)
        return TW_ERR_INVALID_ARG;
    if (s->finished)
        return TW_ERR_FINISHED;
    s->finished = true;
    twp_span_data *d = s->data;
    if (!d)
        return TW_OK;
    s->data = NULL;
    tw_tracer *t = s->t;
    if (atomic_load_explicit(&t->closed, memory_order_relaxed)) {
        twp_span_data_free(d);
        return TW_OK;
    }
    if (!finish_us)
        finish_us = tw_now_us();
    /* saturating: application-supplied times may be far apart (signed
     * overflow is undefined; found by tests/fuzz/fuzz_span_api) */
    if (finish_us <= d->start_us || __builtin_sub_overflow(finish_us, d->start_us, &d->duration_us))
        d->duration_us = finish_us > d->start_us ? INT64_MAX : 0;
    /* the starting thread's shard: no thread-local lookup here (counters
     * are sums over shards, whichever thread finishes) */
    atomic_fetch_add_explicit(&t->ctr.shard[s->shard].spans_finished, 1,
                              memory_order_relaxed);
    t->reporter->ops->report(t->reporter, d, s->shard);
    return TW_OK;
}

void tw_span_free(tw_span *s)
{
    if (!s)
        return;
    twp_tls_state *tls = twp_tls_get();
    if (s->data)
        data_free(tls, s->data);
    if (s->ctx != &s->ictx)
        tw_span_context_free(s->ctx);
    if (s->retired) {
        for (uint32_t i = 0; i < s->nretired; i++)
            tw_span_context_free(s->retired[i]);
        free(s->retired);
    }
    if (s->op != s->op_inline)
        op_release(tls, s->op, s->op_len);
    handle_release(tls, s);
}

/* ------------------------------------------------------------ context swaps */

/* Makes c the span's current context, keeping the old one alive. */
static tw_status swap_context(tw_span *s, tw_span_context *c)
{
    if (s->ctx != &s->ictx) {
        if (s->nretired == s->cap_retired) {
            uint32_t cap = s->cap_retired ? s->cap_retired * 2 : 4;
            tw_span_context **n = realloc(s->retired, sizeof(*n) * cap);
            if (!n) {
                tw_span_context_free(c);
                return TW_ERR_NOMEM;
            }
            s->retired = n;
            s->cap_retired = cap;
        }
        s->retired[s->nretired++] = s->ctx;
    }
    s->ctx = c;
    return TW_OK;
}

/* Changes the sampling flags (sampling.priority). The inline context is
 * updated in place; a heap context is replaced by a copy. */
static tw_status set_flags(tw_span *s, unsigned flags)
{
    if (s->ctx == &s->ictx) {
        s->ictx.flags = flags;
        return TW_OK;
    }
    const tw_span_context *c = s->ctx;
    tw_span_context *n;
    tw_status st = twp_context_child(c, c->trace_hi, c->trace_lo, c->span_id, c->parent_id,
                                     flags, &n);
    if (st != TW_OK)
        return st;
    return swap_context(s, n);
}

/* ------------------------------------------------------------ tags */

static bool key_is(const tw_field *f, const char *k, size_t n)
{
    return f->key_len == n && memcmp(f->key, k, n) == 0;
}

static bool parse_kind(const char *v, size_t n, tw_span_kind *k)
{
    static const struct { const char *name; tw_span_kind kind; } kinds[] = {
        {"client", TW_KIND_CLIENT}, {"server", TW_KIND_SERVER},
        {"producer", TW_KIND_PRODUCER}, {"consumer", TW_KIND_CONSUMER},
        {"internal", TW_KIND_INTERNAL},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strlen(kinds[i].name) == n && memcmp(kinds[i].name, v, n) == 0) {
            *k = kinds[i].kind;
            return true;
        }
    return false;
}

/* sampling.priority: > 0 forces sampled+debug, 0 unsamples. As
 * jaeger_client, the tag itself is recorded (*record) only when it made the
 * span a debug span: not on a span that already is one, nor when the
 * throttler has no credit for the operation (the span stays as it was). */
static tw_status apply_priority(tw_span *s, const tw_field *f, bool *record)
{
    *record = false;
    double p;
    switch (f->type) {
    case TW_VAL_INT64:  p = (double)f->v.i64; break;
    case TW_VAL_DOUBLE: p = f->v.f64; break;
    case TW_VAL_BOOL:   p = f->v.b ? 1 : 0; break;
    case TW_VAL_STRING: {
        char tmp[32];
        size_t n = f->v.str.len < sizeof(tmp) - 1 ? f->v.str.len : sizeof(tmp) - 1;
        memcpy(tmp, f->v.str.ptr, n);
        tmp[n] = '\0';
        char *end;
        p = strtod(tmp, &end);
        if (end == tmp)
            return TW_ERR_INVALID_ARG;
        break;
    }
    default:
        return TW_ERR_INVALID_ARG;
    }
    unsigned flags = s->ctx->flags;
    if (p > 0) {
        if (flags & TW_FLAG_DEBUG)
            return TW_OK;
        if (s->t->throttler) {
            remote_sampling_kick(s->t);
            if (!twp_throttler_allow(s->t->throttler, s->op, s->op_len))
                return TW_OK;
        }
        *record = true;
        flags |= TW_FLAG_SAMPLED | TW_FLAG_DEBUG;
        if (!s->data) {
            int64_t start = s->start_us ? s->start_us : tw_now_us();
            s->start_us = start;
            tw_status st = make_record(twp_tls_get(), s, flags, start);
            if (st != TW_OK)
                return st;
            TWP_INC_SHARDED(&s->t->ctr, spans_sampled, 1);
        }
        s->data->flags = flags;
    } else {
        flags &= ~(TW_FLAG_SAMPLED | TW_FLAG_DEBUG);
        twp_span_data_free(s->data);
        s->data = NULL;
    }
    return set_flags(s, flags);
}

/* The body of every tag setter: public functions are interposable in a
 * shared library, so the convenience setters must not call tw_span_set_tag
 * (that would go through the PLT and block inlining). */
static inline __attribute__((always_inline)) tw_status set_tag_impl(tw_span *s, const tw_field *tag)
{
    if (!s || !tag || (!tag->key && tag->key_len) || (unsigned)tag->type > TW_VAL_ARRAY ||
        ((tag->type == TW_VAL_STRING || tag->type == TW_VAL_BINARY) && !tag->v.str.ptr &&
         tag->v.str.len))
        return TW_ERR_INVALID_ARG;
    if (s->finished)
        return TW_ERR_FINISHED;
    if (tag->key_len == 9 && key_is(tag, "span.kind", 9) && tag->type == TW_VAL_STRING) {
        tw_span_kind k;
        if (parse_kind(tag->v.str.ptr, tag->v.str.len, &k)) {
            s->kind = k;
            if (s->data)
                s->data->kind = k;
            return TW_OK;
        }
    } else if (tag->key_len == 17 && key_is(tag, "sampling.priority", 17)) {
        bool record;
        tw_status st = apply_priority(s, tag, &record);
        if (st != TW_OK || !s->data || !record)
            return st;
    }
    if (!s->data)
        return TW_OK;
    return record_tag(s, tag);
}

tw_status tw_span_set_tag(tw_span *s, const tw_field *tag)
{
    return set_tag_impl(s, tag);
}

/* Unsampled, unfinished span and a key that cannot be special (both special
 * keys start with 's'): nothing to record, skip measuring the strings. */
static inline bool tag_is_noop(const tw_span *s, const char *key)
{
    return s && !s->data && !s->finished && key[0] != 's';
}

tw_status tw_span_set_tag_str(tw_span *s, const char *key, const char *val)
{
    if (!key || !val)
        return TW_ERR_INVALID_ARG;
    if (tag_is_noop(s, key))
        return TW_OK;
    tw_field f = {.key = key, .key_len = strlen(key), .type = TW_VAL_STRING};
    f.v.str.ptr = val;
    f.v.str.len = strlen(val);
    return set_tag_impl(s, &f);
}

tw_status tw_span_set_tag_int(tw_span *s, const char *key, int64_t val)
{
    if (!key)
        return TW_ERR_INVALID_ARG;
    if (tag_is_noop(s, key))
        return TW_OK;
    tw_field f = {.key = key, .key_len = strlen(key), .type = TW_VAL_INT64};
    f.v.i64 = val;
    return set_tag_impl(s, &f);
}

tw_status tw_span_set_tag_double(tw_span *s, const char *key, double val)
{
    if (!key)
        return TW_ERR_INVALID_ARG;
    if (tag_is_noop(s, key))
        return TW_OK;
    tw_field f = {.key = key, .key_len = strlen(key), .type = TW_VAL_DOUBLE};
    f.v.f64 = val;
    return set_tag_impl(s, &f);
}

tw_status tw_span_set_tag_bool(tw_span *s, const char *key, int val)
{
    if (!key)
        return TW_ERR_INVALID_ARG;
    if (tag_is_noop(s, key))
        return TW_OK;
    tw_field f = {.key = key, .key_len = strlen(key), .type = TW_VAL_BOOL};
    f.v.b = val ? 1 : 0;
    return set_tag_impl(s, &f);
}

/* ------------------------------------------------------------ logs */

tw_status tw_span_log(tw_span *s, int64_t ts_us, const tw_field *fields, size_t n)
{
    if (!s || (!fields && n) || n > UINT32_MAX)
        return TW_ERR_INVALID_ARG;
    if (s->finished)
        return TW_ERR_FINISHED;
    for (size_t i = 0; i < n; i++)
        if ((!fields[i].key && fields[i].key_len) || (unsigned)fields[i].type > TW_VAL_ARRAY ||
            ((fields[i].type == TW_VAL_STRING || fields[i].type == TW_VAL_BINARY) &&
             !fields[i].v.str.ptr && fields[i].v.str.len))
            return TW_ERR_INVALID_ARG;
    twp_span_data *d = s->data;
    if (!d)
        return TW_OK;
    if (d->nlogs == TWP_MAX_LOGS)
        return TW_ERR_TOO_LARGE;
    if (d->nlogs == d->cap_logs) {
        uint32_t cap = d->cap_logs ? d->cap_logs * 2 : 4;
        twp_log *nl = twp_arena_alloc(&d->arena, sizeof(twp_log) * cap);
        if (!nl)
            return TW_ERR_NOMEM;
        if (d->nlogs)
            memcpy(nl, d->logs, sizeof(twp_log) * d->nlogs);
        d->logs = nl;
        d->cap_logs = cap;
    }
    twp_value *vals = n ? twp_arena_alloc(&d->arena, sizeof(twp_value) * n) : NULL;
    if (n && !vals)
        return TW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        /* a "stack" field (the opentracing error log's traceback) has its own
         * bound, as jaeger_client truncates tracebacks to max_traceback_length */
        const tw_field *f = &fields[i];
        bool stack = f->key && f->key_len == 5 && memcmp(f->key, "stack", 5) == 0;
        size_t cap = stack ? s->t->max_tb_len : s->t->max_tag_len;
        tw_status st = fill_value(d, cap, &vals[i], f);
        if (st != TW_OK)
            return st;   /* the arena keeps the garbage; the log is not added */
    }
    twp_log *l = &d->logs[d->nlogs++];
    l->ts_us = ts_us ? ts_us : tw_now_us();
    l->fields = vals;
    l->nfields = (uint32_t)n;
    return TW_OK;
}

/* ------------------------------------------------------------ name, kind */

tw_status tw_span_set_operation_name(tw_span *s, const char *name, size_t name_len)
{
    if (!s || (!name && name_len) || name_len > UINT32_MAX)
        return TW_ERR_INVALID_ARG;
    if (s->finished)
        return TW_ERR_FINISHED;
    if (s->data) {
        const char *p = record_op(s->data, name_len ? name : "", name_len);
        if (!p)
            return TW_ERR_NOMEM;
        s->data->op = p;
        s->data->op_len = (uint32_t)name_len;
    }
    return handle_set_op(twp_tls_get(), s, name_len ? name : "", name_len) ? TW_OK
                                                                            : TW_ERR_NOMEM;
}

tw_status tw_span_set_kind(tw_span *s, tw_span_kind kind)
{
    if (!s || (unsigned)kind > TW_KIND_CONSUMER)
        return TW_ERR_INVALID_ARG;
    if (s->finished)
        return TW_ERR_FINISHED;
    s->kind = kind;
    if (s->data)
        s->data->kind = kind;
    return TW_OK;
}

/* ------------------------------------------------------------ baggage */

tw_status tw_span_set_baggage(tw_span *s, const char *key, size_t key_len,
                              const char *val, size_t val_len)
{
    if (!s || !key || key_len == 0 || (!val && val_len))
        return TW_ERR_INVALID_ARG;
    if (s->finished)
        return TW_ERR_FINISHED;
    /* baggage restrictions from the agent (baggage_restrictions.c): a
     * denied key is not set, a long value is cut, and both are logged on a
     * sampled span as jaeger-client-go's baggage setter does */
    bool denied = false, truncated = false;
    if (s->t->restrictions) {
        size_t allowed;
        remote_sampling_kick(s->t);
        if (!twp_restrictions_allow(s->t->restrictions, key, key_len, &allowed)) {
            denied = true;
            TWP_INC(&s->t->ctr, baggage_updates_err, 1);
        } else if (val_len > allowed) {
            val_len = allowed;
            truncated = true;
            TWP_INC(&s->t->ctr, baggage_truncations, 1);
        }
    }
    size_t max = (size_t)s->t->cfg.max_baggage_size;
    if (key_len > max || val_len > max - key_len)
        return TW_ERR_TOO_LARGE;
    /* A new key beyond the bound extract applies is refused: every set keeps
     * the replaced context alive (retired), so an unbounded item count made
     * memory grow with the square of the calls (10k items: 1.9 GB). */
    const char *old = NULL;
    size_t old_len = 0;
    bool had = tw_span_context_baggage(s->ctx, key, key_len, &old, &old_len) == TW_OK;
    tw_status st = TW_OK;
    if (!denied) {
        if (s->ctx->nbaggage >= TWP_MAX_BAGGAGE_ITEMS && !had)
            return TW_ERR_TOO_LARGE;
        tw_span_context *n;
        st = twp_context_with_baggage(s->ctx, key, key_len, val_len ? val : "", val_len, &n);
        if (st != TW_OK)
            return st;
        st = swap_context(s, n);
        if (st == TW_OK && s->t->restrictions)
            TWP_INC(&s->t->ctr, baggage_updates_ok, 1);
    }
    if (st != TW_OK || !s->data)
        return st;
    /* Jaeger clients log every baggage write on sampled spans: event, key,
     * value, and override when it replaced a non-empty value (jaeger_client);
     * truncated / invalid as jaeger-client-go's restricted setter (a denied
     * key logs no override: it replaced nothing). */
    tw_field f[5];
    size_t nf = 0;
#define LOGF(k, p, n) \
    f[nf++] = (tw_field){.key = k, .key_len = sizeof k - 1, .type = TW_VAL_STRING, \
                         .v.str = {.ptr = (p), .len = (n)}}
    LOGF("event", "baggage", 7);
    LOGF("key", key, key_len);
    LOGF("value", val_len ? val : "", val_len);
    if (had && old_len && !denied)
        LOGF("override", "true", 4);
    if (truncated)
        LOGF("truncated", "true", 4);
    if (denied)
        LOGF("invalid", "true", 4);
#undef LOGF
    return tw_span_log(s, 0, f, nf);
}

/* ------------------------------------------------------------ readers */

const tw_span_context *tw_span_get_context(const tw_span *s)
{
    return s ? s->ctx : NULL;
}

const char *tw_span_operation_name(const tw_span *s, size_t *len)
{
    if (!s) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = s->op_len;
    return s->op;
}

int tw_span_is_finished(const tw_span *s)
{
    return s ? s->finished : 0;
}

int64_t tw_span_start_us(const tw_span *s)
{
    return s ? s->start_us : 0;
}

/* ------------------------------------------------------------ arrays */

static bool array_item_ok(const tw_field *f)
{
    switch (f->type) {
    case TW_VAL_STRING: return f->v.str.ptr || !f->v.str.len;
    case TW_VAL_BOOL:
    case TW_VAL_INT64:
    case TW_VAL_DOUBLE:
    case TW_VAL_NULL:   return true;
    default:            return false;
    }
}

/* An ARRAY: checks it is homogeneous (NULL items aside), writes its JSON
 * text (twp_json_array_text, the OTLP JSON writer's scalars) and lays out the
 * twp_array block described in span_data.h. Off the hot path: one temporary
 * item array and one buffer for the text. */
static tw_status fill_array(twp_arena *a, size_t max, twp_value *v, const tw_field *f)
{
    size_t n = f->v.arr.n;
    const tw_field *in = f->v.arr.items;
    if ((!in && n) || n > UINT32_MAX / 64)
        return TW_ERR_INVALID_ARG;
    tw_value_type et = TW_VAL_NULL;
    size_t strings = 0;
    for (size_t i = 0; i < n; i++) {
        if (!array_item_ok(&in[i]))
            return TW_ERR_INVALID_ARG;
        if (in[i].type == TW_VAL_NULL)
            continue;
        if (et == TW_VAL_NULL)
            et = in[i].type;
        else if (in[i].type != et)
            return TW_ERR_INVALID_ARG;   /* OTel: homogeneous sequences only */
        if (in[i].type == TW_VAL_STRING)
            strings += clip(in[i].v.str.ptr, in[i].v.str.len, max, true) + 1;
    }
    twp_value *tmp = n ? malloc(sizeof(twp_value) * n) : NULL;
    if (n && !tmp)
        return TW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        twp_value *it = &tmp[i];
        memset(it, 0, sizeof *it);
        it->type = in[i].type;
        it->key = "";
        switch (in[i].type) {
        case TW_VAL_STRING:
            it->v.str = in[i].v.str.ptr ? in[i].v.str.ptr : "";
            it->len = (uint32_t)clip(it->v.str, in[i].v.str.len, max, true);
            break;
        case TW_VAL_BOOL:   it->v.b = in[i].v.b ? 1 : 0; break;
        case TW_VAL_INT64:  it->v.i64 = in[i].v.i64; break;
        case TW_VAL_DOUBLE: it->v.f64 = in[i].v.f64; break;
        default:            break;
        }
    }
    twp_buf jb;
    twp_buf_init(&jb);
    tw_status st = TW_ERR_NOMEM;
    if (!twp_json_array_text(&jb, tmp, (uint32_t)n) || jb.len > UINT32_MAX)
        goto out;
    size_t hdr = offsetof(twp_array, items) + sizeof(twp_value) * n;
    size_t size = hdr + jb.len + 1 + strings;
    twp_array *arr = twp_arena_alloc(a, size);
    char *key = arr ? twp_arena_strdup(a, f->key_len ? f->key : "", f->key_len) : NULL;
    if (!key)
        goto out;
    arr->n = (uint32_t)n;
    arr->size = size;
    arr->json_len = (uint32_t)jb.len;
    char *q = (char *)arr + hdr;
    memcpy(q, jb.data, jb.len);
    q[jb.len] = '\0';
    arr->json = q;
    q += jb.len + 1;
    for (size_t i = 0; i < n; i++) {
        arr->items[i] = tmp[i];
        if (tmp[i].type == TW_VAL_STRING) {
            memcpy(q, tmp[i].v.str, tmp[i].len);
            q[tmp[i].len] = '\0';
            arr->items[i].v.str = q;
            q += tmp[i].len + 1;
        }
    }
    v->type = TW_VAL_ARRAY;
    v->key = key;
    v->key_len = (uint16_t)f->key_len;   /* <= TWP_MAX_KEY_LEN: twp_value_fill */
    v->len = arr->json_len;
    v->v.arr = arr;
    st = TW_OK;
out:
    twp_buf_free(&jb);
    free(tmp);
    return st;
}

tw_status twp_value_fill(twp_arena *a, size_t max, twp_value *v, const tw_field *f)
{
    if (!f || (!f->key && f->key_len))
        return TW_ERR_INVALID_ARG;
    if (f->key_len > TWP_MAX_KEY_LEN)
        return TW_ERR_TOO_LARGE;
    if (f->type == TW_VAL_ARRAY)
        return fill_array(a, max, v, f);
    if ((unsigned)f->type > TW_VAL_BINARY ||
        ((f->type == TW_VAL_STRING || f->type == TW_VAL_BINARY) && !f->v.str.ptr && f->v.str.len))
        return TW_ERR_INVALID_ARG;
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)f->type;
    v->key_len = (uint16_t)f->key_len;
    if (!(v->key = twp_arena_strdup(a, f->key_len ? f->key : "", f->key_len)))
        return TW_ERR_NOMEM;
    switch (f->type) {
    case TW_VAL_STRING:
    case TW_VAL_BINARY: {
        size_t n = clip(f->v.str.ptr, f->v.str.len, max, f->type == TW_VAL_STRING);
        if (!(v->v.str = twp_arena_strdup(a, n ? f->v.str.ptr : "", n)))
            return TW_ERR_NOMEM;
        v->len = (uint32_t)n;
        break;
    }
    case TW_VAL_INT64:  v->v.i64 = f->v.i64; break;
    case TW_VAL_DOUBLE: v->v.f64 = f->v.f64; break;
    default:            v->v.b = f->v.b ? 1 : 0; break;
    }
    return TW_OK;
}

/* ------------------------------------------------------------ links, scope */

static bool field_ok(const tw_field *f)
{
    return (f->key || !f->key_len) && (unsigned)f->type <= TW_VAL_ARRAY &&
           !((f->type == TW_VAL_STRING || f->type == TW_VAL_BINARY) && !f->v.str.ptr &&
             f->v.str.len);
}

tw_status tw_span_add_link(tw_span *s, const tw_span_context *c, const tw_field *attrs, size_t n)
{
    if (!c)
        return TW_ERR_INVALID_ARG;
    return tw_span_add_link_ids(s, c->trace_hi, c->trace_lo, c->span_id,
                                c->flags & TW_FLAG_SAMPLED, c->tracestate, c->tracestate_len,
                                attrs, n);
}

tw_status tw_span_add_link_ids(tw_span *s, uint64_t trace_hi, uint64_t trace_lo,
                               uint64_t span_id, unsigned trace_flags,
                               const char *tracestate, size_t tracestate_len,
                               const tw_field *attrs, size_t n)
{
    if (!s || (!attrs && n) || n > UINT32_MAX || (!tracestate && tracestate_len) ||
        tracestate_len > UINT32_MAX)
        return TW_ERR_INVALID_ARG;
    if (s->finished)
        return TW_ERR_FINISHED;
    /* the OTel SDK's rule (_is_valid_link): a valid context, or attributes,
     * or a tracestate */
    if (((trace_hi | trace_lo) == 0 || span_id == 0) && n == 0 && tracestate_len == 0)
        return TW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (!field_ok(&attrs[i]))
            return TW_ERR_INVALID_ARG;
    twp_span_data *d = s->data;
    if (!d)
        return TW_OK;
    if (d->nrefs == TWP_MAX_REFS)
        return TW_ERR_TOO_LARGE;
    if (d->nrefs == 0 || (d->nrefs & (d->nrefs - 1)) == 0) {   /* full (ref_cap) */
        twp_ref *nr = twp_arena_alloc(&d->arena, sizeof(twp_ref) * ref_cap(d->nrefs + 1));
        if (!nr)
            return TW_ERR_NOMEM;
        if (d->nrefs)
            memcpy(nr, d->refs, sizeof(twp_ref) * d->nrefs);
        d->refs = nr;
    }
    twp_value *vals = n ? twp_arena_alloc(&d->arena, sizeof(twp_value) * n) : NULL;
    if (n && !vals)
        return TW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        tw_status st = fill_value(d, s->t->max_tag_len, &vals[i], &attrs[i]);
        if (st != TW_OK)
            return st;   /* the arena keeps the garbage; the link is not added */
    }
    const char *ts = NULL;
    if (tracestate_len && !(ts = twp_arena_strdup(&d->arena, tracestate, tracestate_len)))
        return TW_ERR_NOMEM;
    twp_ref *r = &d->refs[d->nrefs++];
    memset(r, 0, sizeof *r);
    r->type = TW_REF_FOLLOWS_FROM;
    r->trace_hi = trace_hi;
    r->trace_lo = trace_lo;
    r->span_id = span_id;
    r->tracestate = ts;
    r->w3c_flags = (uint8_t)(trace_flags & 0xffu);
    r->attrs = vals;
    r->nattrs = (uint32_t)n;
    r->link = true;
    return TW_OK;
}

tw_status tw_span_set_scope(tw_span *s, const tw_scope *scope)
{
    if (!s || (scope && scope->owner != s->t))
        return TW_ERR_INVALID_ARG;
    if (s->finished)
        return TW_ERR_FINISHED;
    s->scope = scope;
    if (s->data)
        s->data->scope = scope;
    return TW_OK;
}
