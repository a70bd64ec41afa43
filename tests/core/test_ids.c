/* test_ids.c — id generator: never zero, no collisions within a process,
 * across threads, and across forked processes (the acceptance test: two
 * forked children each creating 1M ids, zero collisions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process_state.h"

#define PER_PROC 1000000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t duplicates(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t d = 0;
    for (size_t i = 1; i < n; i++)
        d += v[i] == v[i - 1];
    return d;
}

static void ids_are_never_zero_and_distinct(void **state)
{
    (void)state;
    uint64_t *v = malloc(sizeof(uint64_t) * PER_PROC);
    assert_non_null(v);
    for (size_t i = 0; i < PER_PROC; i++) {
        v[i] = twp_random_id();
        assert_true(v[i] != 0);
    }
    assert_int_equal(duplicates(v, PER_PROC), 0);
    free(v);
}

typedef struct { uint64_t *out; size_t n; } job;

static void *gen(void *p)
{
    job *j = p;
    for (size_t i = 0; i < j->n; i++)
        j->out[i] = twp_random_id();
    return NULL;
}

static void threads_do_not_share_a_sequence(void **state)
{
    (void)state;
    size_t n = 200000;
    uint64_t *v = malloc(sizeof(uint64_t) * n * 2);
    assert_non_null(v);
    job j[2] = {{v, n}, {v + n, n}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, gen, &j[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(duplicates(v, n * 2), 0);
    free(v);
}

/* The fork case that matters: the parent has a seeded generator (and a
 * tracer, so the atfork handler is registered) before forking. */
static pid_t child_writing_ids(FILE *f)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t buf[4096];
        size_t left = PER_PROC;
        while (left) {
            size_t n = left < 4096 ? left : 4096;
            for (size_t i = 0; i < n; i++)
                buf[i] = twp_random_id();
            if (fwrite(buf, sizeof(uint64_t), n, f) != n)
                _exit(2);
            left -= n;
        }
        fflush(f);
        _exit(0);
    }
    return pid;
}

static void two_forked_processes_make_2m_distinct_ids(void **state)
{
    (void)state;
    tw_config *c;
    tw_tracer *t;
    assert_int_equal(tw_config_new(&c), TW_OK);
    assert_int_equal(tw_config_set(c, "reporter.protocols", "none"), TW_OK);
    assert_int_equal(tw_tracer_new(c, &t), TW_OK);
    tw_config_free(c);
    (void)twp_random_id();   /* seed this thread before forking */

    FILE *f[2] = {tmpfile(), tmpfile()};
    assert_non_null(f[0]);
    assert_non_null(f[1]);
    pid_t p[2] = {child_writing_ids(f[0]), child_writing_ids(f[1])};
    for (int i = 0; i < 2; i++) {
        int status;
        assert_true(p[i] > 0);
        assert_int_equal(waitpid(p[i], &status, 0), p[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    uint64_t *v = malloc(sizeof(uint64_t) * PER_PROC * 3);
    assert_non_null(v);
    for (int i = 0; i < 2; i++) {
        rewind(f[i]);
        assert_int_equal(fread(v + (size_t)i * PER_PROC, sizeof(uint64_t), PER_PROC, f[i]), PER_PROC);
        fclose(f[i]);
    }
    /* and the parent's own next million */
    for (size_t i = 0; i < PER_PROC; i++)
        v[2 * PER_PROC + i] = twp_random_id();
    size_t d = duplicates(v, (size_t)PER_PROC * 3);
    printf("3M ids from parent + 2 forked children: %zu duplicates\n", d);
    assert_int_equal(d, 0);
    free(v);
    tw_tracer_free(t);
}

static void child_after_fork_differs_from_parent(void **state)
{
    (void)state;
    tw_tracer *t;
    assert_int_equal(tw_tracer_new(NULL, &t), TW_OK);   /* registers atfork */
    (void)twp_random_id();
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t id[4];
        for (int i = 0; i < 4; i++)
            id[i] = twp_random_id();
        _exit(write(fd[1], id, sizeof id) == (ssize_t)sizeof id ? 0 : 1);
    }
    uint64_t mine[4], theirs[4];
    for (int i = 0; i < 4; i++)
        mine[i] = twp_random_id();
    assert_int_equal(read(fd[0], theirs, sizeof theirs), sizeof theirs);
    int status;
    waitpid(pid, &status, 0);
    close(fd[0]);
    close(fd[1]);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            assert_true(mine[i] != theirs[j]);
    tw_tracer_free(t);
}

static void span_ids_in_a_forked_child_differ(void **state)
{
    (void)state;
    tw_config *c;
    tw_tracer *t;
    assert_int_equal(tw_config_new(&c), TW_OK);
    assert_int_equal(tw_config_set(c, "reporter.protocols", "memory"), TW_OK);
    assert_int_equal(tw_tracer_new(c, &t), TW_OK);
    tw_config_free(c);
    tw_span *warm;
    assert_int_equal(tw_span_start(t, "warm", 4, NULL, 0, 0, &warm), TW_OK);
    tw_span_free(warm);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        tw_span *s;
        uint64_t id = 0;
        if (tw_span_start(t, "child", 5, NULL, 0, 0, &s) == TW_OK) {
            id = tw_span_context_span_id(tw_span_get_context(s));
            tw_span_free(s);
        }
        _exit(write(fd[1], &id, sizeof id) == (ssize_t)sizeof id ? 0 : 1);
    }
    tw_span *s;
    assert_int_equal(tw_span_start(t, "parent", 6, NULL, 0, 0, &s), TW_OK);
    uint64_t theirs;
    assert_int_equal(read(fd[0], &theirs, sizeof theirs), sizeof theirs);
    int status;
    waitpid(pid, &status, 0);
    assert_true(theirs != 0);
    assert_true(theirs != tw_span_context_span_id(tw_span_get_context(s)));
    tw_span_free(s);
    close(fd[0]);
    close(fd[1]);
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_never_zero_and_distinct),
        cmocka_unit_test(threads_do_not_share_a_sequence),
        cmocka_unit_test(two_forked_processes_make_2m_distinct_ids),
        cmocka_unit_test(child_after_fork_differs_from_parent),
        cmocka_unit_test(span_ids_in_a_forked_child_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
