/* reporter_factory.c — picks the reporter(s) a config names.
 *
 *   memory only            -> the memory reporter
 *   none (no protocol)     -> a reporter that frees every record, counted
 *                             spans_discarded (its own outcome: nothing was
 *                             delivered, and nothing failed)
 *   udp/http/otlp/log      -> the pipeline reporter (reporter.c: queue +
 *                             thread) over one exporter per protocol
 *                             (exporter.h; the table below is the only place
 *                             that maps a protocol to its exporter)
 *   memory + others        -> a composite: the pipeline gets the record, the
 *                             memory reporter a deep copy (and counts nothing,
 *                             so the counters describe the real delivery)
 */
#include "exporter.h"
#include "reporter.h"

#include <stdlib.h>

/* ------------------------------------------------------------ none */

typedef struct nullrep {
    twp_reporter base;
    twp_counters *ctr;
} nullrep;

static void null_report(twp_reporter *r, twp_span_data *d, unsigned shard)
{
    twp_counters *c = ((nullrep *)r)->ctr;
    atomic_fetch_add_explicit(&c->shard[shard].spans_discarded, 1, memory_order_relaxed);
    twp_span_data_free(d);
}

static tw_status null_flush(twp_reporter *r, int timeout_ms)
{
    (void)r;
    (void)timeout_ms;
    return TW_OK;
}

static void null_free(twp_reporter *r)
{
    free(r);
}

static const twp_reporter_ops null_ops = {
    .report = null_report, .flush = null_flush, .close = null_flush, .free = null_free,
};

/* ------------------------------------------------------------ composite */

typedef struct comprep {
    twp_reporter base;
    twp_reporter *main, *mem;
} comprep;

static void comp_report(twp_reporter *r, twp_span_data *d, unsigned shard)
{
    comprep *c = (comprep *)r;
    twp_span_data *copy = twp_span_data_clone(d);
    if (copy)
        c->mem->ops->report(c->mem, copy, shard);
    c->main->ops->report(c->main, d, shard);
}

static tw_status comp_flush(twp_reporter *r, int timeout_ms)
{
    comprep *c = (comprep *)r;
    return c->main->ops->flush(c->main, timeout_ms);
}

static tw_status comp_close(twp_reporter *r, int timeout_ms)
{
    comprep *c = (comprep *)r;
    c->mem->ops->close(c->mem, timeout_ms);
    return c->main->ops->close(c->main, timeout_ms);
}

static void comp_free(twp_reporter *r)
{
    comprep *c = (comprep *)r;
    c->main->ops->free(c->main);
    c->mem->ops->free(c->mem);
    free(c);
}

#define FORWARD(name)                                          \
    static void comp_##name(twp_reporter *r)                   \
    {                                                          \
        comprep *c = (comprep *)r;                             \
        if (c->main->ops->name)                                \
            c->main->ops->name(c->main);                       \
        if (c->mem->ops->name)                                 \
            c->mem->ops->name(c->mem);                         \
    }
FORWARD(before_fork)
FORWARD(after_fork_parent)
FORWARD(after_fork_child)

/* the memory copy needs no sending: the pipeline decides alone */
static tw_status comp_drive_start(twp_reporter *r, tw_drive_kick_fn kick, void *ud)
{
    comprep *c = (comprep *)r;
    return c->main->ops->drive_start ? c->main->ops->drive_start(c->main, kick, ud)
                                     : TW_ERR_UNSUPPORTED;
}

static int64_t comp_drive(twp_reporter *r)
{
    comprep *c = (comprep *)r;
    return c->main->ops->drive ? c->main->ops->drive(c->main) : -1;
}

static const twp_reporter_ops comp_ops = {
    .report = comp_report, .flush = comp_flush, .close = comp_close, .free = comp_free,
    .before_fork = comp_before_fork, .after_fork_parent = comp_after_fork_parent,
    .after_fork_child = comp_after_fork_child,
    .drive_start = comp_drive_start, .drive = comp_drive,
};

/* ------------------------------------------------------------ factory */

/* reporter.protocols -> exporter, in the order a batch visits them. */
static const struct {
    unsigned proto;
    tw_status (*make)(const twp_exporter_env *env, twp_exporter **out);
} exporter_table[] = {
    { TWP_PROTO_UDP, twp_exporter_udp_new },
    { TWP_PROTO_HTTP, twp_exporter_thrift_http_new },
    { TWP_PROTO_OTLP, twp_exporter_otlp_new },
    { TWP_PROTO_LOG, twp_exporter_log_new },
};
#define NTABLE (sizeof exporter_table / sizeof exporter_table[0])

static tw_status pipeline_new(const tw_config *cfg, const twp_process *proc, twp_counters *ctr,
                              const twp_sampling_hook *hook, unsigned protos,
                              twp_reporter **out)
{
    twp_exporter *exp[NTABLE];
    size_t n = 0, wanted = 0;
    for (size_t i = 0; i < NTABLE; i++)
        if (protos & exporter_table[i].proto)
            wanted++;
    twp_exporter_env env = { cfg, proc, ctr, wanted == 1 };
    tw_status st = TW_OK;
    for (size_t i = 0; i < NTABLE && st == TW_OK; i++)
        if (protos & exporter_table[i].proto)
            if ((st = exporter_table[i].make(&env, &exp[n])) == TW_OK)
                n++;
    if (st != TW_OK) {
        for (size_t i = 0; i < n; i++)
            twp_exporter_free(exp[i]);
        return st;
    }
    return twp_pipeline_reporter_new(cfg, proc, ctr, hook, exp, n, out);   /* takes exp */
}

tw_status twp_reporter_new(const tw_config *cfg, const twp_process *proc,
                           twp_counters *ctr, const twp_sampling_hook *hook,
                           twp_reporter **out)
{
    if (!cfg || !ctr || !out)
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    unsigned pipeline = cfg->protocols & ~TWP_PROTO_MEMORY;
    bool memory = (cfg->protocols & TWP_PROTO_MEMORY) != 0;
    if (!pipeline && memory)
        return twp_memory_reporter_new(cfg, ctr, true, out);
    if (!pipeline) {
        nullrep *n = calloc(1, sizeof(*n));
        if (!n)
            return TW_ERR_NOMEM;
        n->base.ops = &null_ops;
        n->ctr = ctr;
        *out = &n->base;
        return TW_OK;
    }
    twp_reporter *main = NULL, *mem = NULL;
    tw_status st = pipeline_new(cfg, proc, ctr, hook, pipeline, &main);
    if (st != TW_OK || !memory) {
        *out = main;
        return st;
    }
    comprep *c = calloc(1, sizeof(*c));
    if (!c || (st = twp_memory_reporter_new(cfg, ctr, false, &mem)) != TW_OK) {
        free(c);
        main->ops->free(main);
        return st != TW_OK ? st : TW_ERR_NOMEM;
    }
    c->base.ops = &comp_ops;
    c->main = main;
    c->mem = mem;
    *out = &c->base;
    return TW_OK;
}

tw_status twp_reporter_memory_json(twp_reporter *r, int clear, char **json_out)
{
    if (r && r->ops == &comp_ops)
        r = ((comprep *)r)->mem;
    return twp_memory_reporter_json(r, clear, json_out);
}
