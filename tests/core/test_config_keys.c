/* test_config_keys.c — the key table (core/src/config_keys.c) against what is
 * written about it elsewhere:
 *   - README.md's configuration table is exactly the table rendered as
 *     markdown (a key added or removed on either side fails; the message
 *     names it). `test_config_keys --markdown` prints the rendering,
 *     `test_config_keys --write-readme` puts it into README.md.
 *   - tests/config_vectors.tsv (the Python + Lua face test) lists exactly the
 *     native keys, and sets every alias and jaeger_client key of the table.
 *   - tracewire.h's tw_config_set comment lists every native key.
 *   - every row is well formed: defaults parse, aliases point at native rows,
 *     names are unique, and set/get agree with the table's bounds.
 * TW_SRC (set by ctest) is the source tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys.h"

#define BEGIN_MARK "<!-- config-keys:begin"
#define END_MARK "<!-- config-keys:end -->"

/* ---------------------------------------------------------------- helpers */

typedef struct sbuf { char *p; size_t n, cap; } sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0)
            abort();
        if (b->p && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        b->cap = (b->cap + (size_t)w + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
}

/* text with '|' escaped for a markdown cell */
static void sb_cell(sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            sb_add(b, "\\|");
        else
            sb_add(b, "%c", *s);
    }
}

static char *read_file(const char *rel)
{
    const char *src = getenv("TW_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (TW_SRC=%s)\n", path, src ? src : "(unset)");
        return NULL;
    }
    sbuf b = {0};
    char chunk[4096];
    size_t n;
    sb_add(&b, "%s", "");
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_add(&b, "%.*s", (int)n, chunk);
    fclose(f);
    return b.p;
}

/* The README block: one row per key of the table. */
static char *render_markdown(void)
{
    sbuf b = {0};
    sb_add(&b, "%s: generated from core/src/config_keys.c by "
               "`build/release/tests/core/test_config_keys --write-readme`; ctest fails when they differ -->\n",
           BEGIN_MARK);
    sb_add(&b, "| key | what it is | default | environment | meaning |\n");
    sb_add(&b, "|---|---|---|---|---|\n");
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        sb_add(&b, "| `%s%s` | ", k->name, (k->flags & TWK_PREFIX) && k->name[strlen(k->name) - 1] == '.'
                                               ? "<name>" : "");
        if (k->codec == TWK_IGNORED)
            sb_add(&b, "%s", (k->flags & TWK_JAEGER) ? "jaeger_client key, ignored" : "ignored");
        else if (k->flags & TWK_ALIAS)
            sb_add(&b, "%salias of `%s`%s", (k->flags & TWK_JAEGER) ? "jaeger_client key, " : "",
                   k->target, k->scale == 1000 ? " (seconds)" : "");
        else
            sb_add(&b, "%s", (k->flags & TWK_JAEGER) ? "key (jaeger_client's too)" : "key");
        sb_add(&b, " | ");
        if (k->def && !*k->def) {
            sb_add(&b, "(empty)");
        } else if (k->def) {
            sb_add(&b, "`");
            sb_cell(&b, k->def);
            sb_add(&b, "`");
            if (k->def_jaeger) {
                sb_add(&b, " (jaeger_client profile: `");
                sb_cell(&b, k->def_jaeger);
                sb_add(&b, "`)");
            }
        }
        sb_add(&b, " | ");
        sb_cell(&b, k->env);
        sb_add(&b, " | ");
        sb_cell(&b, k->doc);
        sb_add(&b, " |\n");
    }
    sb_add(&b, "%s", END_MARK);
    return b.p;
}

/* [begin, end) of the README block, or false */
static bool find_block(const char *readme, const char **begin, const char **end)
{
    *begin = strstr(readme, BEGIN_MARK);
    const char *e = *begin ? strstr(*begin, END_MARK) : NULL;
    if (!e)
        return false;
    *end = e + strlen(END_MARK);
    return true;
}

/* Is `key` a row of the README block (as "| `key` |")? */
static bool block_has(const char *begin, const char *end, const char *name)
{
    char needle[300];
    snprintf(needle, sizeof needle, "| `%s", name);
    for (const char *p = begin; (p = strstr(p, needle)) && p < end; p++) {
        const char *q = p + strlen(needle);
        if (*q == '`' || *q == '<')
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- tests */

static void readme_table_is_the_key_table(void **state)
{
    (void)state;
    char *readme = read_file("README.md");
    assert_non_null(readme);
    const char *b = NULL, *e = NULL;
    if (!find_block(readme, &b, &e))
        fail_msg("README.md has no '%s ... %s' block", BEGIN_MARK, END_MARK);
    int missing = 0, extra = 0;
    for (size_t i = 0; i < twp_config_nkeys; i++)
        if (!block_has(b, e, twp_config_keys[i].name)) {
            fprintf(stderr, "README.md: key '%s' of the core table is missing\n", twp_config_keys[i].name);
            missing++;
        }
    /* every "| `name" row of the block must be a table key */
    for (const char *p = b; (p = strstr(p, "\n| `")) && p < e; p++) {
        const char *s = p + 4, *q = s + strcspn(s, "`<");
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(q - s), s);
        bool found = false;
        for (size_t i = 0; i < twp_config_nkeys && !found; i++)
            found = strcmp(twp_config_keys[i].name, name) == 0;
        if (!found) {
            fprintf(stderr, "README.md: key '%s' is not in the core table\n", name);
            extra++;
        }
    }
    char *want = render_markdown();
    bool same = (size_t)(e - b) == strlen(want) && memcmp(b, want, strlen(want)) == 0;
    if (!same)
        fprintf(stderr, "README.md's configuration table differs from the core's key table "
                        "(%d missing, %d extra); regenerate it with "
                        "build/release/tests/core/test_config_keys --write-readme\n", missing, extra);
    free(want);
    free(readme);
    assert_int_equal(missing, 0);
    assert_int_equal(extra, 0);
    assert_true(same);
}

static void vectors_cover_the_table(void **state)
{
    (void)state;
    char *v = read_file("tests/config_vectors.tsv");
    assert_non_null(v);
    /* the keys line: exactly the native keys, in table order */
    const char *kl = strstr(v, "\nkeys\t");
    assert_non_null(kl);
    kl += 6;
    sbuf want = {0};
    sb_add(&want, "%s", "");
    for (size_t i = 0; i < twp_config_nkeys; i++)
        if (!(twp_config_keys[i].flags & TWK_ALIAS))
            sb_add(&want, "%s%s", want.n ? " " : "", twp_config_keys[i].name);
    size_t len = strcspn(kl, "\n");
    if (len != want.n || memcmp(kl, want.p, len) != 0)
        fail_msg("tests/config_vectors.tsv: the keys line must read\nkeys\t%s", want.p);
    free(want.p);
    /* every alias and jaeger_client key is set by some case ('/' = '.') */
    int uncovered = 0;
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        if (!(k->flags & (TWK_ALIAS | TWK_JAEGER)))
            continue;
        char path[200];
        snprintf(path, sizeof path, "\nset\t%s", k->name);
        for (char *p = path; *p; p++)
            if (*p == '.')
                *p = '/';
        bool found = false;
        for (const char *p = v; (p = strstr(p, path)) != NULL; p++) {
            char after = p[strlen(path)];
            /* exact key, or any name under a prefix row */
            if (after == '\t' || ((k->flags & TWK_PREFIX) && path[strlen(path) - 1] == '/')) {
                found = true;
                break;
            }
        }
        if (!found) {
            fprintf(stderr, "tests/config_vectors.tsv: no case sets '%s'\n", k->name);
            uncovered++;
        }
    }
    free(v);
    assert_int_equal(uncovered, 0);
}

static void rows_are_well_formed(void **state)
{
    (void)state;
    tw_config *c;
    assert_int_equal(tw_config_new(&c), TW_OK);
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        char buf[512];
        assert_non_null(k->doc);
        assert_true(k->doc[0] != '\0');
        for (size_t j = 0; j < i; j++)
            if (strcmp(twp_config_keys[j].name, k->name) == 0)
                fail_msg("key '%s' twice in the table", k->name);
        if (k->flags & TWK_ALIAS) {
            if (k->codec == TWK_IGNORED)
                continue;
            const twp_config_key *t = twp_config_key_find(k->target);
            if (!t || (t->flags & TWK_ALIAS))
                fail_msg("alias '%s' targets '%s', not a native key", k->name, k->target);
            assert_null(k->def);
            continue;
        }
        assert_ptr_equal(twp_config_key_find(k->name), k);
        assert_int_equal(tw_config_get(c, k->name, buf, sizeof buf), TW_OK);
        /* the default is what a fresh config reads back (header names are stored lower-case) */
        if (k->def && k->codec != TWK_PROFILE && strcmp(buf, k->def) != 0 &&
            !(k->codec == TWK_DOUBLE && strtod(buf, NULL) == strtod(k->def, NULL)))
            fail_msg("key '%s': default '%s' reads back as '%s'", k->name, k->def, buf);
        if (k->codec == TWK_INT) {
            char v[32];
            snprintf(v, sizeof v, "%.0f", k->hi);
            assert_int_equal(tw_config_set(c, k->name, v), TW_OK);
            snprintf(v, sizeof v, "%.0f", k->hi + 1);
            assert_int_equal(tw_config_set(c, k->name, v), TW_ERR_CONFIG);
            snprintf(v, sizeof v, "%.0f", k->lo - 1);
            assert_int_equal(tw_config_set(c, k->name, v), TW_ERR_CONFIG);
            assert_int_equal(tw_config_set(c, k->name, k->def), TW_OK);
        }
    }
    tw_config_free(c);
}

/* tw_config_set_many: the order given does not matter, and a failure
 * changes nothing and names the pair. */
static void set_many_is_order_free_and_all_or_nothing(void **state)
{
    (void)state;
    const char *k[] = {"endpoint", "tags.b", "sampler.param", "protocol", "tags.a",
                       "propagation.extract", "propagation", "sampler.type", "enabled"};
    const char *v[] = {"http://c:4318/v1/traces", "2", "0.5", "otlp", "1", "w3c", "jaeger",
                       "probabilistic", "true"};
    enum { N = sizeof k / sizeof k[0] };
    const char *rk[N], *rv[N];
    for (size_t i = 0; i < N; i++) {
        rk[i] = k[N - 1 - i];
        rv[i] = v[N - 1 - i];
    }
    tw_config *a, *b;
    char buf[256];
    size_t bad = 99;
    assert_int_equal(tw_config_new(&a), TW_OK);
    assert_int_equal(tw_config_new(&b), TW_OK);
    assert_int_equal(tw_config_set_many(a, N, k, v, &bad), TW_OK);
    assert_int_equal(tw_config_set_many(b, N, rk, rv, NULL), TW_OK);
    assert_true(twp_config_equal(a, b));
    assert_int_equal(tw_config_get(a, "reporter.otlp_endpoint", buf, sizeof buf), TW_OK);
    assert_string_equal(buf, "http://c:4318/v1/traces");
    assert_int_equal(tw_config_get(a, "tags", buf, sizeof buf), TW_OK);
    assert_string_equal(buf, "a=1,b=2");
    assert_int_equal(tw_config_get(a, "propagation.extract", buf, sizeof buf), TW_OK);
    assert_string_equal(buf, "w3c");     /* the specific key after the general one */
    assert_int_equal(tw_config_get(a, "sampler.param", buf, sizeof buf), TW_OK);
    assert_string_equal(buf, "0.5");

    /* probabilistic with 1.5 fails at sampler.param whatever the order */
    const char *k2[] = {"service_name", "sampler.param", "sampler.type"};
    const char *v2[] = {"changed", "1.5", "probabilistic"};
    assert_int_equal(tw_config_set_many(b, 3, k2, v2, &bad), TW_ERR_CONFIG);
    assert_int_equal(bad, 1);
    assert_true(twp_config_equal(a, b));                  /* nothing applied */
    const char *k3[] = {"service_name", "no.such.key"};
    const char *v3[] = {"changed", "1"};
    assert_int_equal(tw_config_set_many(b, 2, k3, v3, &bad), TW_ERR_UNSUPPORTED);
    assert_int_equal(bad, 1);
    assert_true(twp_config_equal(a, b));
    assert_int_equal(tw_config_set_many(b, 0, NULL, NULL, &bad), TW_OK);
    assert_int_equal(tw_config_key_known("tags.anything"), 1);
    assert_int_equal(tw_config_key_known("tags."), 0);
    assert_int_equal(tw_config_key_known("local_agent.reporting_port"), 1);
    assert_int_equal(tw_config_key_known("lowerbound"), 0);
    tw_config_free(a);
    tw_config_free(b);
}

/* The group switches, the one rule both faces ask for an empty nested table:
 * bool rows with keys under them, nothing else. */
static void group_switches_are_the_bool_rows_with_keys_under_them(void **state)
{
    (void)state;
    assert_int_equal(tw_config_key_is_group("throttler"), 1);
    assert_int_equal(tw_config_key_is_group("baggage_restrictions"), 1);
    assert_int_equal(tw_config_key_is_group("throttler.port"), 0);
    assert_int_equal(tw_config_key_is_group("sampler"), 0);         /* no such row */
    assert_int_equal(tw_config_key_is_group("trace_id_128bit"), 0); /* bool, no keys under */
    assert_int_equal(tw_config_key_is_group("tags"), 0);
    assert_int_equal(tw_config_key_is_group("tags.throttler"), 0);
    assert_int_equal(tw_config_key_is_group(""), 0);
    assert_int_equal(tw_config_key_is_group(NULL), 0);
    /* every group the function names is a bool row whose G.<x> keys turn it on */
    size_t groups = 0;
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        if (!tw_config_key_is_group(k->name))
            continue;
        groups++;
        assert_int_equal(k->codec, TWK_BOOL);
        tw_config *c;
        char buf[16];
        assert_int_equal(tw_config_new(&c), TW_OK);
        assert_int_equal(tw_config_set(c, k->name, "true"), TW_OK);
        assert_int_equal(tw_config_get(c, k->name, buf, sizeof buf), TW_OK);
        assert_string_equal(buf, "true");
        tw_config_free(c);
    }
    assert_int_equal(groups, 2);
}

/* jaeger_client's propagation under its profile; native sets both. */
static void propagation_follows_the_profile(void **state)
{
    (void)state;
    tw_config *c;
    char buf[64];
    assert_int_equal(tw_config_new(&c), TW_OK);
    assert_int_equal(tw_config_set(c, "propagation", "b3"), TW_OK);
    assert_int_equal(c->inject_formats, TW_PROP_B3_SINGLE);
    assert_int_equal(c->extract_formats, TW_PROP_B3_SINGLE);
    assert_int_equal(tw_config_set(c, "profile", "jaeger_client"), TW_OK);
    assert_int_equal(tw_config_set(c, "propagation.extract", "jaeger,w3c"), TW_OK);
    assert_int_equal(tw_config_set(c, "propagation", "b3"), TW_OK);
    assert_int_equal(c->inject_formats, TW_PROP_B3_MULTI);
    assert_int_equal(c->extract_formats, TW_PROP_JAEGER | TW_PROP_W3C);
    assert_int_equal(tw_config_get(c, "profile", buf, sizeof buf), TW_OK);
    assert_string_equal(buf, "jaeger_client");
    assert_int_equal(tw_config_set(c, "profile", "python"), TW_ERR_CONFIG);
    tw_config_free(c);
}

/* tracewire.h documents every native key (the header is the C reader's manual). */
static void header_documents_every_native_key(void **state)
{
    (void)state;
    char *h = read_file("core/include/tracewire.h");
    assert_non_null(h);
    int missing = 0;
    for (size_t i = 0; i < twp_config_nkeys; i++) {
        const twp_config_key *k = &twp_config_keys[i];
        char needle[200];
        snprintf(needle, sizeof needle, " *   %s ", k->name);
        if (!(k->flags & TWK_ALIAS) && !strstr(h, needle)) {
            fprintf(stderr, "core/include/tracewire.h: tw_config_set's comment does not list '%s'\n", k->name);
            missing++;
        }
    }
    free(h);
    assert_int_equal(missing, 0);
}

static void env_rows_name_native_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < twp_env_nrows; i++) {
        const twp_config_key *k = twp_config_key_find(twp_env_rows[i].key);
        assert_non_null(k);
        /* the README's environment column names every variable of a key */
        const twp_config_key *native = (k->flags & TWK_ALIAS) ? twp_config_key_find(k->target) : k;
        bool named = (native->env && strstr(native->env, twp_env_rows[i].var)) ||
                     (k->env && strstr(k->env, twp_env_rows[i].var));
        if (!named) {
            /* variables documented on another row they feed (sampler args, endpoint switch) */
            for (size_t j = 0; j < twp_config_nkeys && !named; j++)
                named = twp_config_keys[j].env && strstr(twp_config_keys[j].env, twp_env_rows[i].var);
        }
        if (!named)
            fail_msg("%s is read (twp_env_rows) but no row's env column names it", twp_env_rows[i].var);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--markdown") == 0) {
        char *md = render_markdown();
        puts(md);
        free(md);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--write-readme") == 0) {
        char *readme = read_file("README.md");
        const char *b = NULL, *e = NULL;
        if (!readme || !find_block(readme, &b, &e)) {
            fprintf(stderr, "README.md: no '%s ... %s' block to replace\n", BEGIN_MARK, END_MARK);
            return 1;
        }
        char *md = render_markdown();
        const char *src = getenv("TW_SRC");
        char path[4096];
        snprintf(path, sizeof path, "%s/README.md", src ? src : ".");
        FILE *f = fopen(path, "wb");
        if (!f)
            return 1;
        fwrite(readme, 1, (size_t)(b - readme), f);
        fputs(md, f);
        fputs(e, f);
        fclose(f);
        free(md);
        free(readme);
        printf("README.md: configuration table rewritten from the key table\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readme_table_is_the_key_table),
        cmocka_unit_test(vectors_cover_the_table),
        cmocka_unit_test(rows_are_well_formed),
        cmocka_unit_test(env_rows_name_native_keys),
        cmocka_unit_test(header_documents_every_native_key),
        cmocka_unit_test(set_many_is_order_free_and_all_or_nothing),
        cmocka_unit_test(group_switches_are_the_bool_rows_with_keys_under_them),
        cmocka_unit_test(propagation_follows_the_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
