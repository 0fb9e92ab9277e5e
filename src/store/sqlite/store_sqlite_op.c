/* store_sqlite_op — what the SQLite backend files share besides store_sqlite.c's connection
 * helpers: atomic multi-statement writes (their own BEGIN IMMEDIATE transaction in autocommit
 * mode, otherwise a SAVEPOINT inside the caller's store_tx_begin transaction, so a failure leaves
 * the caller's transaction as it was) and row readers. Declared in internal.h. */
#include "store/sqlite/internal.h"

#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

typedef enum sqp_id {
    P_BEGIN,
    P_COMMIT,
    P_ROLLBACK,
    P_SAVEPOINT,
    P_RELEASE,
    P_ROLLBACK_TO,
    P__COUNT
} sqp_id;
_Static_assert(SQ_XSTMT_OP + P__COUNT <= SQ_XSTMT_OP_END, "statement slots");

static const char *const sqp_sql[P__COUNT] = {
    [P_BEGIN] = "BEGIN IMMEDIATE", [P_COMMIT] = "COMMIT",
    [P_ROLLBACK] = "ROLLBACK",     [P_SAVEPOINT] = "SAVEPOINT sq_op",
    [P_RELEASE] = "RELEASE sq_op", [P_ROLLBACK_TO] = "ROLLBACK TO sq_op",
};

static idp_err exec_id(store *st, sqp_id id, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = store_sqlite_xstmt(st, SQ_XSTMT_OP + (int)id, sqp_sql[id], &q, err);
    return rc ? rc : store_sqlite_write(q, SQLITE_OK, sqp_sql[id], NULL, err);
}

idp_err store_sqlite_op_begin(store *st, bool *own, idp_error *err)
{
    sqlite3 *db = NULL;
    idp_err rc = store_sqlite_db(st, &db, err);
    if (rc) return rc;
    *own = sqlite3_get_autocommit(db) != 0;
    return exec_id(st, *own ? P_BEGIN : P_SAVEPOINT, err);
}

idp_err store_sqlite_op_end(store *st, bool own, idp_err rc, idp_error *err)
{
    sqlite3 *db = NULL;
    if (!rc) {
        rc = exec_id(st, own ? P_COMMIT : P_RELEASE, err);
        if (!rc) return IDP_OK;
    }
    if (store_sqlite_db(st, &db, NULL) || sqlite3_get_autocommit(db))
        return rc; /* already rolled back */
    if (own) {
        exec_id(st, P_ROLLBACK, NULL);
    } else if (!exec_id(st, P_ROLLBACK_TO, NULL)) {
        exec_id(st, P_RELEASE, NULL);
    }
    return rc;
}

idp_err store_sqlite_op_one(sqlite3_stmt *q, int b, const char *what, store_sqlite_row_fn fn,
                            store_sqlite_row_clear_fn clear, void *row, bool *found, idp_error *err)
{
    idp_err rc = IDP_OK;
    *found = false;
    int r = b != SQLITE_OK ? b : store_sqlite_step(q);
    if (r == SQLITE_ROW) {
        *found = true;
        rc = fn(q, row, err);
        while (!rc && (r = sqlite3_step(q)) == SQLITE_ROW) {
        }
    }
    if (!rc && r != SQLITE_DONE) rc = store_sqlite_fail(err, r, what);
    store_sqlite_done(q);
    if (rc && clear) clear(row);
    return rc;
}

idp_err store_sqlite_op_rows(sqlite3_stmt *q, int b, size_t esize, size_t max,
                             store_sqlite_row_fn fn, store_sqlite_row_clear_fn clear, void **rows,
                             size_t *n, idp_error *err)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    idp_err rc = IDP_OK;
    int r = b;
    while (r == SQLITE_OK && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == max) {
            rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: more than %zu rows", max);
            goto out;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            v = xrealloc(v, cap * esize);
        }
        memset(v + len * esize, 0, esize);
        rc = fn(q, v + len++ * esize, err);
        if (rc) goto out;
        r = SQLITE_OK;
    }
    if (r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "reading rows");
out:
    store_sqlite_done(q);
    if (rc) {
        if (clear)
            for (size_t i = 0; i < len; i++)
                clear(v + i * esize);
        free(v);
        v = NULL;
        len = 0;
    }
    *rows = v;
    *n = len;
    return rc;
}
