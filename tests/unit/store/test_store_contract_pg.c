/* The store contract suite (store_contract.c) against the PostgreSQL backend. The database is
 * named by IDPD_TEST_PG_URI (scripts/pg.sh start DIR writes one to DIR/uri); without it the
 * test is skipped (exit 77). Each case gets an empty database: the driver drops and recreates
 * the public schema, then opens the store (which migrates it). */
#include "testutil.h"

#include "store/pg/internal.h"
#include "store_contract.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

static const char *uri;

static bool pg_reset(void)
{
    PGconn *c = PQconnectdb(uri);
    bool ok = c && PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, "SET client_min_messages = warning; "
                                "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
        ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) fprintf(stderr, "pg reset: %s", PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return ok;
}

static store *pg_open(void **ctx)
{
    store *st = NULL;
    idp_error e = {0};
    *ctx = NULL;
    if (!pg_reset()) return NULL;
    if (store_pg_complete()) {
        if (store_open(uri, true, &st, &e)) {
            fprintf(stderr, "store_open: %s\n", e.msg);
            return NULL;
        }
        return st;
    }
    /* the backend is not complete yet: store_open refuses it; open it directly */
    if (store_pg_open(uri, 4, true, &st, &e) || store_front_install(st, &e)) {
        fprintf(stderr, "store_pg_open: %s\n", e.msg);
        if (st) st->ops->close(st);
        return NULL;
    }
    return st;
}

static void pg_close(store *st, void *ctx)
{
    (void)ctx;
    store_close(st);
}

int main(void)
{
    uri = getenv("IDPD_TEST_PG_URI");
    if (!uri || !*uri) {
        fprintf(stderr, "test_store_contract_pg: IDPD_TEST_PG_URI is not set: skipped\n");
        return 77;
    }
    const store_contract_backend b = {"store_contract_pg", pg_open, pg_close};
    return store_contract_run(&b);
}
