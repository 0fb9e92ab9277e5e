/* The store under test of the backend tests test_store_scim.c, test_store_oidc.c and
 * test_store_fed.c. Built plainly they open SQLite files; built with -DSTORE_TEST_PG (the
 * *_pg executables, tests/unit/meson.build) the same cases open the PostgreSQL database named by
 * IDPD_TEST_PG_URI, emptied before each case, and skip the cases that read the SQLite file
 * directly (query plans, tampering by hand, fault injection). Without the variable the *_pg
 * executables are skipped (exit 77). */
#ifndef IDPD_TESTS_STORE_SUT_H
#define IDPD_TESTS_STORE_SUT_H

#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef STORE_TEST_PG
#include <libpq-fe.h>

static inline const char *sut_spec(const char *path)
{
    (void)path;
    return getenv("IDPD_TEST_PG_URI");
}

/* Empties the database before a case opens it. */
static inline void sut_reset(void)
{
    PGconn *c = PQconnectdb(getenv("IDPD_TEST_PG_URI"));
    PGresult *r = PQexec(c, "SET client_min_messages = warning; "
                            "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    if (!ok) fail_msg("emptying the PostgreSQL test database failed");
}

#define SUT_SQLITE_ONLY() skip()
#define SUT_MAIN()                                                                                 \
    do {                                                                                           \
        const char *u_ = getenv("IDPD_TEST_PG_URI");                                               \
        if (!u_ || !*u_) {                                                                         \
            fprintf(stderr, "IDPD_TEST_PG_URI is not set: skipped\n");                             \
            return 77;                                                                             \
        }                                                                                          \
    } while (0)
#else
static inline const char *sut_spec(const char *path)
{
    return path;
}
static inline void sut_reset(void) {}
#define SUT_SQLITE_ONLY() ((void)0)
#define SUT_MAIN() ((void)0)
#endif

#endif
