/* store_pg_pkey — provisioning keys on PostgreSQL (the twin of sqlite/store_sqlite_pkey.c; ops
 * documented in store.h). Inserts and updates bump the generation through triggers; pkey_touch
 * does not (its trigger lists the columns, as on SQLite). */
#include "store/pg/internal.h"

#include <stdlib.h>
#include <string.h>

#define PGK_MAX_ROWS 10000
#define PKEY_COLS                                                                                  \
    "id, name, hash, scopes, created_at, expires_at, revoked_at, last_used_at, replaced_by"

typedef enum pgk_id { K_INSERT, K_GET, K_LIST, K_UPDATE, K_TOUCH, K__COUNT } pgk_id;
_Static_assert(PG_STMT_PKEY + K__COUNT <= PG_STMT_PKEY_END, "statement slots");

static const char *const pgk_sql[K__COUNT] = {
    [K_INSERT] = "INSERT INTO provisioning_keys (" PKEY_COLS ") VALUES ($1, COALESCE($2, ''), "
                 "$3, COALESCE($4, ''), $5, $6, $7, $8, $9)",
    [K_GET] = "SELECT " PKEY_COLS " FROM provisioning_keys WHERE id = $1",
    [K_LIST] = "SELECT " PKEY_COLS " FROM provisioning_keys ORDER BY created_at, id",
    [K_UPDATE] = "UPDATE provisioning_keys SET expires_at = $2, revoked_at = $3, "
                 "replaced_by = $4 WHERE id = $1",
    [K_TOUCH] = "UPDATE provisioning_keys SET last_used_at = GREATEST(last_used_at, $2) "
                "WHERE id = $1",
};

static idp_err pkey_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_pkey *k = row;
    k->id = store_pg_str(r, i, 0);
    k->name = store_pg_str(r, i, 1);
    if (!store_pg_bytes(r, i, 2, k->hash, sizeof k->hash))
        return IDP_FAIL(err, IDP_ERR_STORE, "store: provisioning key row has a malformed hash");
    k->scopes = store_pg_str(r, i, 3);
    k->created_at = store_pg_int(r, i, 4);
    k->expires_at = store_pg_int(r, i, 5);
    k->revoked_at = store_pg_int(r, i, 6);
    k->last_used_at = store_pg_int(r, i, 7);
    k->replaced_by = store_pg_str(r, i, 8);
    if (!k->id || !k->name || !k->scopes)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: provisioning key row is incomplete");
    return IDP_OK;
}

static void pkey_clear(void *row)
{
    store_pkey_clear(row);
}

static idp_err wr(store *st, pgk_id id, const pg_params *p, const char *what, bool one,
                  idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = one ? store_pg_write_one(st, PG_STMT_PKEY + (int)id, pgk_sql[id], p, what, err)
             : store_pg_write(st, PG_STMT_PKEY + (int)id, pgk_sql[id], p, what, NULL, err);
    return rc;
}

idp_err store_pg_pkey_insert(store *st, const store_pkey *k, idp_error *err)
{
    if (!k->id || !*k->id) return IDP_FAIL(err, IDP_ERR_INVALID, "store: pkey_insert: missing id");
    pg_params p = {0};
    store_pg_text(&p, k->id);
    store_pg_text(&p, k->name);
    store_pg_bytea(&p, k->hash, sizeof k->hash);
    store_pg_text(&p, k->scopes);
    store_pg_i64(&p, k->created_at);
    store_pg_i64(&p, k->expires_at);
    store_pg_i64(&p, k->revoked_at);
    store_pg_i64(&p, k->last_used_at);
    store_pg_text(&p, k->replaced_by);
    return wr(st, K_INSERT, &p, "pkey_insert", false, err);
}

idp_err store_pg_pkey_get(store *st, const char *id, store_pkey *out, idp_error *err)
{
    idp_err rc = IDP_OK;
    memset(out, 0, sizeof *out);
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, id);
        if ((rc = store_pg_exec(st, PG_STMT_PKEY + K_GET, pgk_sql[K_GET], &p, "pkey_get", &r, err)))
            continue;
        if (PQntuples(r) != 1)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such provisioning key");
        else if ((rc = pkey_row(r, 0, out, err)))
            store_pkey_clear(out);
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_pkey_list(store *st, store_pkey **rows, size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if ((rc = store_pg_exec(st, PG_STMT_PKEY + K_LIST, pgk_sql[K_LIST], NULL, "pkey_list", &r,
                                err)))
            continue;
        rc = store_pg_rows(r, sizeof(store_pkey), PGK_MAX_ROWS, pkey_row, pkey_clear, &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_pkey_update(store *st, const store_pkey *k, idp_error *err)
{
    pg_params p = {0};
    store_pg_text(&p, k->id);
    store_pg_i64(&p, k->expires_at);
    store_pg_i64(&p, k->revoked_at);
    store_pg_text(&p, k->replaced_by);
    return wr(st, K_UPDATE, &p, "pkey_update", true, err);
}

idp_err store_pg_pkey_touch(store *st, const char *id, int64_t now, idp_error *err)
{
    pg_params p = {0};
    store_pg_text(&p, id);
    store_pg_i64(&p, now);
    return wr(st, K_TOUCH, &p, "pkey_touch", true, err);
}
