/* test_record_cache.c — span records go back to the thread that made them
 * (span.c's per-thread caches and homes): records freed on another thread
 * (as the reporter's thread does) are reused by their maker without new
 * allocations, a maker that exits first leaves nothing behind for later
 * returns to trip on, and a forked child keeps the forking thread's cache
 * and frees the records of threads it does not have. Run plainly here and
 * under TSan/valgrind by the hardening suite (the cache is off under ASan,
 * where every record is malloc'd so use-after-free is caught). */
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

#include "span_data.h"

#define N 64

#if defined(__SANITIZE_ADDRESS__)
#  define CACHE_ON 0
#else
#  define CACHE_ON 1
#endif

typedef struct batch { twp_span_data *d[N]; } batch;

static void *free_all(void *arg)
{
    batch *b = arg;
    for (int i = 0; i < N; i++)
        twp_span_data_free(b->d[i]);
    twp_span_data_return_flush();
    return NULL;
}

static bool in_batch(const batch *b, const twp_span_data *d)
{
    for (int i = 0; i < N; i++)
        if (b->d[i] == d)
            return true;
    return false;
}

/* The maker allocates N records (its list is then empty), another thread
 * frees them all; the maker's next N records are exactly those N. */
static void *maker(void *arg)
{
    (void)arg;
    /* empty this thread's list first: every record below is fresh */
    batch warm;
    for (int i = 0; i < N; i++)
        warm.d[i] = twp_span_data_new();
    batch b;
    for (int i = 0; i < N; i++) {
        b.d[i] = twp_span_data_new();
        assert_non_null(b.d[i]);
        b.d[i]->ntags = (uint32_t)i;   /* written by the maker... */
    }
    pthread_t th;
    pthread_create(&th, NULL, free_all, &b);   /* ...freed by another thread */
    pthread_join(th, NULL);
    for (int i = 0; i < N; i++)
        twp_span_data_free(warm.d[i]);   /* own frees: back on the list */
    batch again;
    for (int i = 0; i < 2 * N; i++) {
        twp_span_data *d = twp_span_data_new();
        assert_non_null(d);
        assert_int_equal(d->ntags, 0);   /* reset */
        if (i >= N)
            again.d[i - N] = d;
        else
            warm.d[i] = d;
    }
    int back = 0;
    for (int i = 0; i < N; i++) {
        back += in_batch(&b, warm.d[i]) + in_batch(&b, again.d[i]);
        twp_span_data_free(warm.d[i]);
        twp_span_data_free(again.d[i]);
    }
    if (CACHE_ON)
        assert_int_equal(back, N);   /* every returned record was reused */
    return NULL;
}

static void records_freed_elsewhere_come_back_to_their_maker(void **state)
{
    (void)state;
    pthread_t th;
    pthread_create(&th, NULL, maker, NULL);
    pthread_join(th, NULL);
}

static void *make_and_leave(void *arg)
{
    batch *b = arg;
    for (int i = 0; i < N; i++)
        b->d[i] = twp_span_data_new();
    return NULL;   /* exits with all N out: its home closes */
}

/* Records outliving their maker: freed after it exited (its home is closed
 * and freed by the last of them; valgrind and TSan check that in the
 * hardening suite). Twice, so a second maker gets a fresh home. */
static void records_outliving_their_thread_are_freed(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        batch b;
        pthread_t th;
        pthread_create(&th, NULL, make_and_leave, &b);
        pthread_join(th, NULL);
        for (int i = 0; i < N; i++) {
            assert_non_null(b.d[i]);
            twp_span_data_free(b.d[i]);
        }
        twp_span_data_return_flush();
    }
    /* half returned before the maker exits, half after */
    batch b;
    pthread_t th;
    pthread_create(&th, NULL, make_and_leave, &b);
    pthread_join(th, NULL);
    for (int i = 0; i < N / 2; i++)
        twp_span_data_free(b.d[i]);
    twp_span_data_return_flush();
    for (int i = N / 2; i < N; i++)
        twp_span_data_free(b.d[i]);
    twp_span_data_return_flush();
}

/* A maker exits while another thread hands its records back one at a time.
 * Its home already holds a returned chain when it closes, so a returner's
 * push that loses the race to the close must free its own records only
 * (it once freed the owner's list too: a double free, found by
 * test_reporter's four producer threads about once in 200 runs). */
typedef struct race { batch b; pthread_barrier_t *made, *go; } race;

static void *make_then_exit(void *arg)
{
    race *r = arg;
    for (int i = 0; i < N; i++)
        r->b.d[i] = twp_span_data_new();
    pthread_barrier_wait(r->made);
    pthread_barrier_wait(r->go);
    return NULL;   /* closes its home while records come back */
}

static void a_maker_exiting_while_records_come_back_frees_each_once(void **state)
{
    (void)state;
    int rounds = 20000;
    const char *env = getenv("TW_RACE_ROUNDS");
    if (env && atoi(env) > 0)
        rounds = atoi(env) * 100;
    for (int round = 0; round < rounds; round++) {
        pthread_barrier_t made, go;
        pthread_barrier_init(&made, NULL, 2);
        pthread_barrier_init(&go, NULL, 2);
        race r = { .made = &made, .go = &go };
        pthread_t th;
        pthread_create(&th, NULL, make_then_exit, &r);
        pthread_barrier_wait(&made);
        for (int i = 0; i < N / 2; i++)   /* a chain waits on the home */
            twp_span_data_free(r.b.d[i]);
        twp_span_data_return_flush();
        pthread_barrier_wait(&go);
        for (int i = N / 2; i < N; i++) {   /* one push per record, racing the exit */
            twp_span_data_free(r.b.d[i]);
            twp_span_data_return_flush();
        }
        pthread_join(th, NULL);
        pthread_barrier_destroy(&made);
        pthread_barrier_destroy(&go);
    }
}

typedef struct hold { batch b; pthread_barrier_t *made, *done; } hold;

static void *make_and_wait(void *arg)
{
    hold *h = arg;
    for (int i = 0; i < N; i++)
        h->b.d[i] = twp_span_data_new();
    pthread_barrier_wait(h->made);
    pthread_barrier_wait(h->done);   /* alive while the main thread forks */
    return NULL;
}

/* fork with another thread's records and this thread's records out: the
 * child frees both (the other thread does not exist there), then makes and
 * frees records of its own, on its own thread and on a new one. */
static void fork_keeps_the_forking_threads_cache(void **state)
{
    (void)state;
    /* a tracer registers the core's fork handlers (the fork generation) */
    tw_config *c;
    tw_tracer *t;
    assert_int_equal(tw_config_new(&c), TW_OK);
    assert_int_equal(tw_config_set(c, "reporter.protocols", "none"), TW_OK);
    assert_int_equal(tw_tracer_new(c, &t), TW_OK);
    tw_config_free(c);
    pthread_barrier_t made, done;
    pthread_barrier_init(&made, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    hold h = {.made = &made, .done = &done};
    pthread_t th;
    pthread_create(&th, NULL, make_and_wait, &h);
    pthread_barrier_wait(&made);
    batch mine;
    for (int i = 0; i < N; i++)
        mine.d[i] = twp_span_data_new();
    /* the forking thread has a half-gathered chain for the other's home */
    twp_span_data_free(h.b.d[0]);
    h.b.d[0] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 1; i < N; i++)
            twp_span_data_free(h.b.d[i]);   /* a thread the child lacks */
        twp_span_data_return_flush();
        for (int i = 0; i < N; i++)
            twp_span_data_free(mine.d[i]);
        batch again;
        int back = 0;
        for (int i = 0; i < N; i++) {
            again.d[i] = twp_span_data_new();
            if (!again.d[i])
                _exit(2);
            back += in_batch(&mine, again.d[i]);
        }
        pthread_t t2;
        pthread_create(&t2, NULL, free_all, &again);   /* a thread of the child */
        pthread_join(t2, NULL);
        _exit(CACHE_ON && back != N ? 3 : 0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    pthread_barrier_wait(&done);
    pthread_join(th, NULL);
    for (int i = 1; i < N; i++)
        twp_span_data_free(h.b.d[i]);
    for (int i = 0; i < N; i++)
        twp_span_data_free(mine.d[i]);
    twp_span_data_return_flush();
    pthread_barrier_destroy(&made);
    pthread_barrier_destroy(&done);
    tw_tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(records_freed_elsewhere_come_back_to_their_maker),
        cmocka_unit_test(records_outliving_their_thread_are_freed),
        cmocka_unit_test(fork_keeps_the_forking_threads_cache),
        cmocka_unit_test(a_maker_exiting_while_records_come_back_frees_each_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
