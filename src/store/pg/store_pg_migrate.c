/* store_pg_migrate — the PostgreSQL backend's schema migrations (issue 13): numbered files
 * (pg/migrations/, embedded by meson.build into store_migrations_pg.h), the version in the
 * one-row table store_schema. Each pending migration is applied in its own transaction under
 * the store_schema row lock (FOR UPDATE), with the version read again under the lock, so
 * processes opening one database at once apply each migration once; a version above this
 * binary's count is refused (IDP_ERR_STORE, naming both) before anything is written. Opening
 * without create a database that holds no store (no store_schema table) is IDP_ERR_NOT_FOUND,
 * as a missing SQLite file. store_pg_schema_version reads the version without writing. */
#include "store/pg/internal.h"

#include "core/mem.h"
#include "store_migrations_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const *const pg_migrations[] = {STORE_PG_MIGRATIONS};
_Static_assert(sizeof pg_migrations / sizeof *pg_migrations == STORE_PG_MIGRATION_COUNT,
               "migration table size");

/* ---- migrations ----------------------------------------------------------------------------- */

static char *pg_migration_text(int v)
{
    size_t len = 0;
    for (const char *const *l = pg_migrations[v]; *l; l++)
        len += strlen(*l);
    char *sql = xmalloc(len + 1), *p = sql;
    for (const char *const *l = pg_migrations[v]; *l; l++) {
        size_t n = strlen(*l);
        memcpy(p, *l, n);
        p += n;
    }
    *p = '\0';
    return sql;
}

static bool pg_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    PQclear(r);
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* Applies the next pending migration in one transaction under the store_schema row lock (another
 * process may be migrating the same database: the version is read again under the lock). */
static idp_err pg_migrate_step(PGconn *c, bool *done, idp_error *err)
{
    idp_err rc = IDP_OK;
    char *sql = NULL;
    if (!pg_ok(c, "BEGIN") ||
        !pg_ok(c, "CREATE TABLE IF NOT EXISTS store_schema (id integer PRIMARY KEY CHECK "
                  "(id = 1), version bigint NOT NULL)") ||
        !pg_ok(c, "INSERT INTO store_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING")) {
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: cannot read the schema version");
        goto out;
    }
    PGresult *r = PQexec(c, "SELECT version FROM store_schema WHERE id = 1 FOR UPDATE");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: cannot read the schema version");
        goto out;
    }
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (v > STORE_PG_MIGRATION_COUNT || v < 0) {
        rc = IDP_FAIL(err, IDP_ERR_STORE,
                      "store: database schema version %lld is newer than this idpd supports "
                      "(%d); upgrade idpd",
                      v, STORE_PG_MIGRATION_COUNT);
        goto out;
    }
    *done = v == STORE_PG_MIGRATION_COUNT;
    if (*done) goto out;
    sql = pg_migration_text((int)v);
    char nv[24];
    snprintf(nv, sizeof nv, "%lld", v + 1);
    const char *vals[] = {nv};
    bool ok = pg_ok(c, sql);
    if (ok) {
        /* the version, bound like every value */
        r = PQexecParams(c, "UPDATE store_schema SET version = $1::bigint WHERE id = 1", 1, NULL,
                         vals, NULL, NULL, 0);
        ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (!ok) rc = IDP_FAIL(err, IDP_ERR_STORE, "store: migration %04lld failed", v + 1);
out:
    free(sql);
    if (!rc && pg_ok(c, "COMMIT")) return IDP_OK;
    pg_ok(c, "ROLLBACK");
    return rc ? rc : IDP_FAIL(err, IDP_ERR_STORE, "store: migration commit failed");
}

/* IDP_OK when the database on c holds a store (the table store_schema exists); NOT_FOUND when
 * not, as a SQLite file that does not exist: the database was never initialised. */
static idp_err pg_store_exists(PGconn *c, idp_error *err)
{
    PGresult *r = PQexec(c, "SELECT to_regclass('store_schema') IS NULL");
    bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    bool missing = ok && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!ok) return IDP_FAIL(err, IDP_ERR_STORE, "store: cannot read the schema version");
    if (missing)
        return IDP_FAIL(err, IDP_ERR_NOT_FOUND,
                        "store: the PostgreSQL database holds no idpd store (run idpd init with "
                        "this store first)");
    return IDP_OK;
}

idp_err store_pg_migrate(PGconn *c, bool create, idp_error *err)
{
    int tries = 0;
    idp_err rc = create ? IDP_OK : pg_store_exists(c, err);
    if (rc) return rc;
    for (bool done = false; !done;) {
        rc = pg_migrate_step(c, &done, err);
        /* two processes creating store_schema at once: one loses the race; try again */
        if (rc && PQstatus(c) == CONNECTION_OK && ++tries < 3) continue;
        if (rc) return rc;
    }
    return IDP_OK;
}

idp_err store_pg_schema_version(const char *uri, int64_t *version, int64_t *known, idp_error *err)
{
    PGconn *c = NULL;
    *version = 0;
    *known = STORE_PG_MIGRATION_COUNT;
    idp_err rc = store_pg_connect(uri, &c, err);
    if (rc) return rc;
    if (!(rc = pg_store_exists(c, err))) {
        PGresult *r = PQexec(c, "SELECT version FROM store_schema WHERE id = 1");
        bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        if (ok) *version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (!ok) rc = IDP_FAIL(err, IDP_ERR_STORE, "store: cannot read the schema version");
    }
    PQfinish(c);
    return rc;
}
