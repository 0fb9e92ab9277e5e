/* store_sqlite_pkey — provisioning keys (the credentials of SCIM clients) on SQLite (schema:
 * migrations/0002_scim.sql; ops documented in store.h). Constant SQL prepared once per
 * connection, in store_sqlite_xstmt slots from SQ_XSTMT_PKEY up. Inserts and updates bump the
 * generation through triggers; pkey_touch does not. */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

#define SQK_MAX_ROWS 10000 /* keys pkey_list returns */

#define PKEY_COLS                                                                                  \
    "id, name, hash, scopes, created_at, expires_at, revoked_at, last_used_at, replaced_by"

typedef enum sqk_id { K_INSERT, K_GET, K_LIST, K_UPDATE, K_TOUCH, K__COUNT } sqk_id;
_Static_assert(SQ_XSTMT_PKEY + K__COUNT <= SQ_XSTMT_PKEY_END, "statement slots");

static const char *const sqk_sql[K__COUNT] = {
    [K_INSERT] = "INSERT INTO provisioning_keys (" PKEY_COLS ") VALUES (?1, COALESCE(?2, ''), "
                 "?3, COALESCE(?4, ''), ?5, ?6, ?7, ?8, ?9)",
    [K_GET] = "SELECT " PKEY_COLS " FROM provisioning_keys WHERE id = ?1",
    [K_LIST] = "SELECT " PKEY_COLS " FROM provisioning_keys ORDER BY created_at, id",
    [K_UPDATE] = "UPDATE provisioning_keys SET expires_at = ?2, revoked_at = ?3, "
                 "replaced_by = ?4 WHERE id = ?1",
    [K_TOUCH] = "UPDATE provisioning_keys SET last_used_at = max(last_used_at, ?2) "
                "WHERE id = ?1",
};

static idp_err stmt(store *st, sqk_id id, sqlite3_stmt **q, idp_error *err)
{
    return store_sqlite_xstmt(st, SQ_XSTMT_PKEY + (int)id, sqk_sql[id], q, err);
}

static idp_err pkey_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_pkey *k = row;
    k->id = store_sqlite_col_str(q, 0);
    k->name = store_sqlite_col_str(q, 1);
    if (sqlite3_column_bytes(q, 2) != (int)sizeof k->hash)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: provisioning key row has a malformed hash");
    memcpy(k->hash, sqlite3_column_blob(q, 2), sizeof k->hash);
    k->scopes = store_sqlite_col_str(q, 3);
    k->created_at = sqlite3_column_int64(q, 4);
    k->expires_at = sqlite3_column_int64(q, 5);
    k->revoked_at = sqlite3_column_int64(q, 6);
    k->last_used_at = sqlite3_column_int64(q, 7);
    k->replaced_by = store_sqlite_col_str(q, 8);
    if (!k->id || !k->name || !k->scopes)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: provisioning key row is incomplete");
    return IDP_OK;
}

static void pkey_clear(void *row)
{
    store_pkey_clear(row);
}

idp_err store_sqlite_pkey_insert(store *st, const store_pkey *k, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!k->id || !*k->id) return IDP_FAIL(err, IDP_ERR_INVALID, "store: pkey_insert: missing id");
    idp_err rc = stmt(st, K_INSERT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, k->id, &b);
    store_sqlite_bind_text(q, 2, k->name, &b);
    store_sqlite_bind_blob(q, 3, k->hash, sizeof k->hash, &b);
    store_sqlite_bind_text(q, 4, k->scopes, &b);
    store_sqlite_bind_i64(q, 5, k->created_at, &b);
    store_sqlite_bind_i64(q, 6, k->expires_at, &b);
    store_sqlite_bind_i64(q, 7, k->revoked_at, &b);
    store_sqlite_bind_i64(q, 8, k->last_used_at, &b);
    store_sqlite_bind_text(q, 9, k->replaced_by, &b);
    return store_sqlite_write(q, b, "pkey_insert", NULL, err);
}

idp_err store_sqlite_pkey_get(store *st, const char *id, store_pkey *out, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    memset(out, 0, sizeof *out);
    idp_err rc = stmt(st, K_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, id, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        rc = pkey_row(q, out, err);
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such provisioning key");
    else
        rc = store_sqlite_fail(err, r, "pkey_get");
    store_sqlite_done(q);
    if (rc) store_pkey_clear(out);
    return rc;
}

idp_err store_sqlite_pkey_list(store *st, store_pkey **rows, size_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    *rows = NULL;
    *n = 0;
    idp_err rc = stmt(st, K_LIST, &q, err);
    if (rc) return rc;
    rc = store_sqlite_op_rows(q, SQLITE_OK, sizeof(store_pkey), SQK_MAX_ROWS, pkey_row, pkey_clear,
                              &v, n, err);
    store_sqlite_done(q);
    *rows = v;
    return rc;
}

/* Updates expires_at, revoked_at and replaced_by. NOT_FOUND. */
idp_err store_sqlite_pkey_update(store *st, const store_pkey *k, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, K_UPDATE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, k->id, &b);
    store_sqlite_bind_i64(q, 2, k->expires_at, &b);
    store_sqlite_bind_i64(q, 3, k->revoked_at, &b);
    store_sqlite_bind_text(q, 4, k->replaced_by, &b);
    return store_sqlite_write_one(q, b, "pkey_update", err);
}

/* last_used_at never goes backwards. NOT_FOUND. */
idp_err store_sqlite_pkey_touch(store *st, const char *id, int64_t now, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, K_TOUCH, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, id, &b);
    store_sqlite_bind_i64(q, 2, now, &b);
    return store_sqlite_write_one(q, b, "pkey_touch", err);
}
