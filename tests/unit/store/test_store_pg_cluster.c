/* PostgreSQL backend across store handles (several idpd nodes on one database, issue 13):
 *  - wait_change: a change committed through one handle wakes wait_change on another within
 *    200 ms (the generation trigger's NOTIFY); a listener whose connection is killed reports
 *    IDP_ERR_STORE at once (the server then sleeps and polls: never a hang, never a missed
 *    generation), is not reopened before a second has passed, and then listens again;
 *  - the serialization retry: many writers on separate handles at once (as many processes) hit
 *    serialization failures (40001) on the writer lock row; each is retried and every write
 *    lands exactly once.
 * Needs IDPD_TEST_PG_URI (scripts/pg.sh); skipped (77) without it. */
#include "testutil.h"

#include "store/pg/internal.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *uri;

static void sql(const char *q)
{
    const char *keys[] = {"dbname", NULL};
    const char *vals[] = {uri, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) fail_msg("admin connection: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, q);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) fail_msg("%s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    sql("SET client_min_messages = warning; DROP SCHEMA IF EXISTS public CASCADE; "
        "CREATE SCHEMA public");
    store *st = NULL;
    idp_error e = {0};
    if (store_open_pool(uri, true, 2, &st, &e)) fail_msg("store_open: %s", e.msg);
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    return 0;
}

static void client(store *st, const char *id)
{
    store_client c = {.client_id = (char *)id, .created_at = 1};
    idp_error e = {0};
    assert_int_equal(store_client_insert(st, &c, &e), IDP_OK);
}

/* Opens the listener of st (the first call reports notified: a change may have been missed). */
static void listen_on(store *st)
{
    bool notified = false;
    idp_error e = {0};
    assert_non_null(st->ops->wait_change);
    assert_int_equal(st->ops->wait_change(st, 0, &notified, &e), IDP_OK);
    assert_true(notified);
    /* nothing pending: a short wait times out */
    assert_int_equal(st->ops->wait_change(st, 50, &notified, &e), IDP_OK);
    assert_false(notified);
}

typedef struct later_arg {
    store *st;
    const char *id;
    int64_t at; /* when the insert committed */
} later_arg;

static void *insert_later(void *p)
{
    later_arg *a = p;
    usleep(100 * 1000);
    client(a->st, a->id);
    a->at = now_ms();
    return NULL;
}

static void notify_wakes_other_handle(void **state)
{
    store *st = *state, *other = NULL;
    idp_error e = {0};
    assert_int_equal(store_open(uri, false, &other, &e), IDP_OK);
    listen_on(other);
    int64_t g0 = 0, g1 = 0;
    assert_int_equal(store_generation(other, &g0, &e), IDP_OK);
    for (int round = 0; round < 5; round++) {
        char id[16];
        snprintf(id, sizeof id, "n%d", round);
        later_arg a = {.st = st, .id = id};
        pthread_t th;
        int64_t t0 = now_ms();
        assert_int_equal(pthread_create(&th, NULL, insert_later, &a), 0);
        bool notified = false;
        /* the wait is long (5 s): only the notification ends it early */
        assert_int_equal(other->ops->wait_change(other, 5000, &notified, &e), IDP_OK);
        int64_t woke = now_ms();
        pthread_join(th, NULL);
        assert_true(notified);
        assert_true(woke - t0 < 2000);
        print_message("  round %d: woke %lld ms after the commit\n", round,
                      (long long)(woke - a.at));
        assert_true(woke - a.at < 200);
    }
    assert_int_equal(store_generation(other, &g1, &e), IDP_OK);
    assert_true(g1 > g0);
    store_close(other);
}

static void broken_listener_falls_back(void **state)
{
    store *st = *state, *other = NULL;
    idp_error e = {0};
    assert_int_equal(store_open(uri, false, &other, &e), IDP_OK);
    listen_on(other);
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'idpd_listen'");
    bool notified = true;
    int64_t t0 = now_ms();
    /* the broken connection is noticed at once (EOF on the socket), not after the timeout */
    assert_int_equal(other->ops->wait_change(other, 5000, &notified, &e), IDP_ERR_STORE);
    assert_false(notified);
    assert_true(now_ms() - t0 < 2000);
    /* not reopened at once: the caller sleeps and polls the generation, which still works */
    assert_int_equal(other->ops->wait_change(other, 5000, &notified, &e), IDP_ERR_STORE);
    int64_t g0 = 0, g1 = 0;
    assert_int_equal(store_generation(other, &g0, &e), IDP_OK);
    client(st, "while-down");
    assert_int_equal(store_generation(other, &g1, &e), IDP_OK);
    assert_true(g1 > g0);
    /* after the retry interval it listens again, and the next change wakes it */
    usleep(1100 * 1000);
    listen_on(other);
    later_arg a = {.st = st, .id = "after"};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, insert_later, &a), 0);
    assert_int_equal(other->ops->wait_change(other, 5000, &notified, &e), IDP_OK);
    int64_t woke = now_ms();
    pthread_join(th, NULL);
    assert_true(notified);
    assert_true(woke - a.at < 200);
    store_close(other);
}

#define WRITERS 8
#define PER_WRITER 40

typedef struct wr_arg {
    int n;
    idp_err rc;
    char msg[256];
} wr_arg;

static void *writer(void *p)
{
    wr_arg *a = p;
    store *st = NULL;
    idp_error e = {0};
    if ((a->rc = store_open(uri, false, &st, &e))) goto out;
    for (int i = 0; i < PER_WRITER && !a->rc; i++) {
        char id[32], jti[32];
        snprintf(id, sizeof id, "w%d-%d", a->n, i);
        snprintf(jti, sizeof jti, "j%d-%d", a->n, i);
        store_client c = {.client_id = id, .created_at = 1};
        if ((a->rc = store_client_insert(st, &c, &e))) break;
        if ((a->rc = store_jti_revoke(st, jti, 4000000000, &e))) break;
        /* a read-then-write transaction: the counter must end at WRITERS * PER_WRITER */
        if ((a->rc = store_tx_begin(st, &e))) break;
        char *v = NULL;
        idp_err g = store_meta_get(st, "counter", &v, &e);
        long n = g == IDP_OK ? strtol(v, NULL, 10) : 0;
        free(v);
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", n + 1);
        if (g != IDP_OK && g != IDP_ERR_NOT_FOUND) a->rc = g;
        if (!a->rc) a->rc = store_meta_set(st, "counter", buf, &e);
        if (!a->rc)
            a->rc = store_tx_commit(st, &e);
        else
            store_tx_rollback(st);
    }
out:
    snprintf(a->msg, sizeof a->msg, "%s", e.msg);
    store_close(st);
    return NULL;
}

static void concurrent_writers_retry_exactly_once(void **state)
{
    store *st = *state;
    idp_error e = {0};
    int64_t r0 = store_pg_retries();
    pthread_t th[WRITERS];
    wr_arg a[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        a[i] = (wr_arg){.n = i};
        assert_int_equal(pthread_create(&th[i], NULL, writer, &a[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        if (a[i].rc) fail_msg("writer %d: %d %s", i, a[i].rc, a[i].msg);
    }
    int64_t retried = store_pg_retries() - r0;
    print_message("  %d writers x %d: %lld serialization failures retried\n", WRITERS, PER_WRITER,
                  (long long)retried);
    assert_true(retried > 0);
    store_client *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_client_list(st, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, WRITERS * PER_WRITER);
    store_client_list_free(rows, n);
    for (int w = 0; w < WRITERS; w++)
        for (int i = 0; i < PER_WRITER; i++) {
            char jti[32];
            bool rev = false;
            snprintf(jti, sizeof jti, "j%d-%d", w, i);
            assert_int_equal(store_jti_is_revoked(st, jti, &rev, &e), IDP_OK);
            assert_true(rev);
        }
    char *v = NULL;
    assert_int_equal(store_meta_get(st, "counter", &v, &e), IDP_OK);
    assert_int_equal(strtol(v, NULL, 10), WRITERS * PER_WRITER);
    free(v);
}

int main(void)
{
    uri = getenv("IDPD_TEST_PG_URI");
    if (!uri || !*uri) {
        fprintf(stderr, "test_store_pg_cluster: IDPD_TEST_PG_URI is not set: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(notify_wakes_other_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(broken_listener_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers_retry_exactly_once, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_pg_cluster", tests, NULL, NULL);
}
