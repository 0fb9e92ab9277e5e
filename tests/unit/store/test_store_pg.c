/* PostgreSQL backend specifics (pg/store_pg.c) that the backend-neutral contract suite cannot
 * express: a broken connection is reset and an op outside a transaction retried; inside one it
 * fails (IDP_ERR_STORE) and the store recovers; a database that cannot be reached fails closed;
 * a schema newer than the binary is refused, a database without one is NOT_FOUND unless
 * created, a missing writer lock row fails every write; error messages carry no values;
 * writers of two store handles (as two processes) exclude each other and the second sees the
 * first's writes; revocation events get their seq in commit order even from writers that
 * bypass the writer lock (raw SQL in READ COMMITTED, which a sequence would get wrong); the
 * SCIM filters that have an index (userName, externalId, displayName eq) are planned with it.
 * Needs IDPD_TEST_PG_URI (scripts/pg.sh); skipped (77) without it. */
#include "testutil.h"

#include "scim/filter.h"
#include "scim/plan.h"
#include "scim/schema.h"
#include "store/pg/pg_sql.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *uri;

/* A connection to the test database, or with other_db to the cluster's "postgres" database
 * (ALTER DATABASE cannot name the database it is connected to). */
static PGconn *admin_to(bool other_db)
{
    const char *keys[] = {"dbname", other_db ? "dbname" : NULL, NULL};
    const char *vals[] = {uri, "postgres", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) fail_msg("admin connection: %s", PQerrorMessage(c));
    return c;
}

static void sql_on(bool other_db, const char *q)
{
    PGconn *c = admin_to(other_db);
    PGresult *r = PQexec(c, q);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) fail_msg("%s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void sql(const char *q)
{
    sql_on(false, q);
}

/* ALTER DATABASE <the test database> ALLOW_CONNECTIONS on|off. */
static void allow_connections(bool on)
{
    static char name[256];
    if (!name[0]) {
        PGconn *c = admin_to(false);
        char *q = PQescapeIdentifier(c, PQdb(c), strlen(PQdb(c)));
        snprintf(name, sizeof name, "%s", q);
        PQfreemem(q);
        PQfinish(c);
    }
    char q[400];
    snprintf(q, sizeof q, "ALTER DATABASE %s ALLOW_CONNECTIONS %s", name, on ? "true" : "false");
    sql_on(true, q);
}

/* Ends every session of idpd (application_name) but ours. */
static void kill_idpd_sessions(void)
{
    sql_on(true, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE application_name = 'idpd'");
    usleep(100 * 1000);
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
    allow_connections(true); /* after lost_database_fails_closed, even when it failed */
    store_close(*state);
    return 0;
}

static void client(store *st, const char *id, idp_err want)
{
    store_client c = {.client_id = (char *)id, .created_at = 1};
    idp_error e = {0};
    assert_int_equal(store_client_insert(st, &c, &e), want);
}

static void reconnect_outside_tx(void **state)
{
    store *st = *state;
    store_client c;
    client(st, "c1", IDP_OK);
    kill_idpd_sessions();
    /* the op finds its connection broken, resets it and runs once more */
    assert_int_equal(store_client_get(st, "c1", &c, NULL), IDP_OK);
    store_client_clear(&c);
    kill_idpd_sessions();
    client(st, "c2", IDP_OK);
    assert_int_equal(store_client_get(st, "c2", &c, NULL), IDP_OK);
    store_client_clear(&c);
}

static void broken_inside_tx_fails(void **state)
{
    store *st = *state;
    idp_error e = {0};
    store_client c;
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    client(st, "t1", IDP_OK);
    kill_idpd_sessions();
    /* the transaction is gone with its session: no retry, no silent success */
    client(st, "t2", IDP_ERR_STORE);
    assert_int_not_equal(store_tx_commit(st, &e), IDP_OK);
    store_tx_rollback(st);
    /* nothing of it was written; the store works again */
    assert_int_equal(store_client_get(st, "t1", &c, NULL), IDP_ERR_NOT_FOUND);
    client(st, "t3", IDP_OK);
}

static void lost_database_fails_closed(void **state)
{
    store *st = *state;
    store_client c;
    bool revoked = true;
    client(st, "d1", IDP_OK);
    allow_connections(false);
    kill_idpd_sessions();
    idp_error e = {0};
    assert_int_equal(store_client_get(st, "d1", &c, &e), IDP_ERR_STORE);
    assert_int_equal(store_jti_is_revoked(st, "j", &revoked, &e), IDP_ERR_STORE);
    client(st, "d2", IDP_ERR_STORE);
    allow_connections(true);
    assert_int_equal(store_client_get(st, "d1", &c, NULL), IDP_OK);
    store_client_clear(&c);
}

static void newer_schema_refused(void **state)
{
    store *st = NULL;
    idp_error e = {0};
    (void)state;
    sql("UPDATE store_schema SET version = 999");
    assert_int_equal(store_open(uri, false, &st, &e), IDP_ERR_STORE);
    assert_null(st);
    assert_non_null(strstr(e.msg, "newer"));
    sql("UPDATE store_schema SET version = 2");
}

static void messages_carry_no_values(void **state)
{
    store *st = *state;
    idp_error e = {0};
    client(st, "value-in-a-key-7f3a", IDP_OK);
    store_client c = {.client_id = "value-in-a-key-7f3a", .created_at = 1};
    assert_int_equal(store_client_insert(st, &c, &e), IDP_ERR_CONFLICT);
    assert_null(strstr(e.msg, "7f3a"));
    store_client j = {.client_id = "jwks-7f3a", .created_at = 1, .jwks = "{not json 7f3a"};
    assert_int_equal(store_client_insert(st, &j, &e), IDP_ERR_INVALID);
    assert_null(strstr(e.msg, "7f3a"));
}

static void uninitialised_not_found(void **state)
{
    store *st = NULL;
    idp_error e = {0};
    (void)state;
    sql("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    /* like a SQLite file that does not exist: only init (create) makes the schema */
    assert_int_equal(store_open(uri, false, &st, &e), IDP_ERR_NOT_FOUND);
    assert_null(st);
}

static void writer_row_missing_fails_closed(void **state)
{
    store *st = *state;
    idp_error e = {0};
    sql("DELETE FROM store_writer");
    assert_int_equal(store_meta_set(st, "k", "v", &e), IDP_ERR_STORE);
    assert_int_equal(store_tx_begin(st, &e), IDP_ERR_STORE);
    sql("INSERT INTO store_writer (id, n) VALUES (1, 0)");
    assert_int_equal(store_meta_set(st, "k", "v", &e), IDP_OK);
}

static void *open_one(void *p)
{
    store *st = NULL;
    idp_err *rc = p;
    *rc = store_open(uri, true, &st, NULL);
    store_close(st);
    return NULL;
}

/* Several processes starting on an empty database at once: one migrates, the others wait for it
 * and find the schema current. */
static void concurrent_first_open(void **state)
{
    (void)state;
    sql("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    pthread_t th[4];
    idp_err rc[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, open_one, &rc[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rc[i], IDP_OK);
    }
}

typedef struct writer_arg {
    store *st;
    int64_t seen; /* clients the second writer saw inside its transaction */
    struct timespec done;
    idp_err rc;
} writer_arg;

static void *second_writer(void *p)
{
    writer_arg *a = p;
    store_client *rows = NULL;
    size_t n = 0;
    idp_error e = {0};
    if ((a->rc = store_tx_begin(a->st, &e))) return NULL;
    a->rc = store_client_list(a->st, &rows, &n, &e);
    a->seen = (int64_t)n;
    store_client_list_free(rows, n);
    store_client c = {.client_id = "w2", .created_at = 1};
    if (!a->rc) a->rc = store_client_insert(a->st, &c, &e);
    if (!a->rc)
        a->rc = store_tx_commit(a->st, &e);
    else
        store_tx_rollback(a->st);
    clock_gettime(CLOCK_MONOTONIC, &a->done);
    return NULL;
}

static void writers_exclusive_across_handles(void **state)
{
    store *st = *state, *other = NULL;
    idp_error e = {0};
    assert_int_equal(store_open(uri, false, &other, &e), IDP_OK);
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    client(st, "w1", IDP_OK);
    writer_arg a = {.st = other};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, second_writer, &a), 0);
    usleep(300 * 1000); /* the second writer is waiting in its tx_begin meanwhile */
    struct timespec committed;
    clock_gettime(CLOCK_MONOTONIC, &committed);
    assert_int_equal(store_tx_commit(st, &e), IDP_OK);
    pthread_join(th, NULL);
    assert_int_equal(a.rc, IDP_OK);
    /* it ran after the commit and its read saw the first writer's row */
    assert_true(a.done.tv_sec > committed.tv_sec ||
                (a.done.tv_sec == committed.tv_sec && a.done.tv_nsec >= committed.tv_nsec));
    assert_int_equal(a.seen, 1);
    store_close(other);
}

/* Revocation events (pg/migrations/0003): writers on their own connections, without the store's
 * writer lock, insert revoked jtis and hold their transactions open a little (so that, with a
 * sequence, a lower seq would commit after a higher one); a reader tailing through rev_list from
 * its last seq must see each seq right after the previous, and all of them. */
enum { RAW_WRITERS = 4, RAW_EACH = 20 };

static void *raw_writer(void *p)
{
    int id = (int)(intptr_t)p;
    PGconn *c = admin_to(false);
    int bad = 0;
    for (int i = 0; i < RAW_EACH; i++) {
        char q[300];
        snprintf(q, sizeof q,
                 "BEGIN; INSERT INTO revoked_jti (jti, exp) VALUES ('raw%d-%d', 4000000000); "
                 "SELECT pg_sleep(random() * 0.01); COMMIT",
                 id, i);
        PGresult *r = PQexec(c, q);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) bad++;
        PQclear(r);
    }
    PQfinish(c);
    return (void *)(intptr_t)bad;
}

static void rev_seq_commit_order(void **state)
{
    store *st = *state;
    pthread_t t[RAW_WRITERS];
    for (int i = 0; i < RAW_WRITERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, raw_writer, (void *)(intptr_t)i), 0);
    int64_t cursor = 0, seen = 0, gaps = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (seen < RAW_WRITERS * RAW_EACH) {
        store_rev_event *r = NULL;
        size_t n = 0;
        idp_error e = {0};
        assert_int_equal(st->ops->rev_list(st, cursor, 5, &r, &n, &e), IDP_OK);
        for (size_t i = 0; i < n; i++) {
            if (r[i].seq != cursor + 1) gaps++;
            cursor = r[i].seq;
            seen++;
        }
        store_rev_event_list_free(r, n);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 60) break;
    }
    int bad = 0;
    for (int i = 0; i < RAW_WRITERS; i++) {
        void *rv = NULL;
        pthread_join(t[i], &rv);
        bad += (int)(intptr_t)rv;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(gaps, 0);
    assert_int_equal(seen, RAW_WRITERS * RAW_EACH);
}

/* EXPLAIN of the count query the SCIM list endpoint runs for filter (pg_sql_build, as
 * store_pg_scim.c), with sequential scans priced out: a plan that still scans the table could
 * not use an index. The plan lines joined with '|'. Owned. */
static char *pg_plan(const scim_resource_type *rt, const char *filter)
{
    sf_node *f = NULL;
    scim_plan *pl = NULL;
    idp_error e = {0};
    pg_sql s;
    assert_int_equal(scim_filter_parse(filter, strlen(filter), &f, &e), IDP_OK);
    assert_int_equal(scim_plan_build(rt, f, &pl, &e), IDP_OK);
    assert_int_equal(pg_sql_build(rt, pl, NULL, false, &s, &e), IDP_OK);
    char q[4096];
    snprintf(q, sizeof q, "EXPLAIN (COSTS OFF) SELECT count(*) FROM %s WHERE %s", s.table,
             buf_cstr(&s.where));
    const char *vals[8] = {0};
    assert_true(s.nparams <= 8);
    for (size_t i = 0; i < s.nparams; i++) vals[i] = s.params[i].s;
    PGconn *c = admin_to(false);
    PGresult *r = PQexec(c, "SET enable_seqscan = off");
    PQclear(r);
    r = PQexecParams(c, q, (int)s.nparams, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", q, PQerrorMessage(c));
    char *out = calloc(1, 4096);
    size_t off = 0;
    for (int i = 0; i < PQntuples(r) && off < 4000; i++)
        off += (size_t)snprintf(out + off, 4096 - off, "%s|", PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(c);
    pg_sql_clear(&s);
    scim_plan_free(pl);
    scim_filter_free(f);
    return out;
}

/* The twin of test_store_scim.c's SQLite plan test: an `eq` on an indexed attribute is an index
 * lookup, not a scan of every user (found by bench/scim_bulk.sh: `userName eq` on 100,000
 * users). */
static void filter_plans_use_indexes(void **state)
{
    (void)state;
    struct {
        const scim_resource_type *rt;
        const char *filter, *index;
    } cases[] = {
        {&scim_rt_user, "userName eq \"Alice\"", "users_user_name"},
        {&scim_rt_user, "externalId eq \"x\"", "users_external_id"},
        {&scim_rt_group, "displayName eq \"x\"", "groups_display_name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *p = pg_plan(cases[i].rt, cases[i].filter);
        if (!strstr(p, cases[i].index) || strstr(p, "Seq Scan"))
            fail_msg("%s: plan %s", cases[i].filter, p);
        free(p);
    }
}

int main(void)
{
    uri = getenv("IDPD_TEST_PG_URI");
    if (!uri || !*uri) {
        fprintf(stderr, "test_store_pg: IDPD_TEST_PG_URI is not set: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reconnect_outside_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(broken_inside_tx_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_database_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(messages_carry_no_values, setup, teardown),
        cmocka_unit_test_setup_teardown(writers_exclusive_across_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(uninitialised_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(writer_row_missing_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_first_open, setup, teardown),
        cmocka_unit_test_setup_teardown(rev_seq_commit_order, setup, teardown),
        cmocka_unit_test_setup_teardown(filter_plans_use_indexes, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_pg", tests, NULL, NULL);
}
