/* store_sqlite_rev — the revocation feed's events on SQLite (issue 14; schema and triggers:
 * migrations/0009_rev_events.sql; ops documented in store.h). The rows are written by the
 * triggers only; this file reads them, records the token-lifetime bounds the triggers compute
 * `until` from, and prunes. Constant SQL in store_sqlite_xstmt slots from SQ_XSTMT_REV up. */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

typedef enum sqr_id { R_LIST, R_BOUND, R_PRUNE, R__COUNT } sqr_id;
_Static_assert(SQ_XSTMT_REV + R__COUNT <= SQ_XSTMT_REV_END, "statement slots");

static const char *const sqr_sql[R__COUNT] = {
    [R_LIST] = "SELECT seq, kind, subject, epoch, event_at, until_at FROM rev_events "
               "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    /* only ever raised: a lower bound from one server must not cut another's tokens short */
    [R_BOUND] = "UPDATE rev_bound SET max_ttl = max(COALESCE(max_ttl, 0), ?1), "
                "leeway = max(COALESCE(leeway, 0), ?2) WHERE id = 1",
    [R_PRUNE] = "DELETE FROM rev_events WHERE until_at < ?1",
};

static idp_err stmt(store *st, sqr_id id, sqlite3_stmt **q, idp_error *err)
{
    return store_sqlite_xstmt(st, SQ_XSTMT_REV + (int)id, sqr_sql[id], q, err);
}

static idp_err rev_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_rev_event *ev = row;
    ev->seq = sqlite3_column_int64(q, 0);
    ev->kind = (int)sqlite3_column_int64(q, 1);
    ev->subject = store_sqlite_col_str(q, 2);
    ev->epoch = sqlite3_column_int64(q, 3);
    ev->at = sqlite3_column_int64(q, 4);
    ev->until = sqlite3_column_int64(q, 5);
    if (!ev->subject) return IDP_FAIL(err, IDP_ERR_STORE, "store: revocation event row is incomplete");
    return IDP_OK;
}

static void rev_clear(void *row)
{
    store_rev_event *ev = row;
    free(ev->subject);
    ev->subject = NULL;
}

idp_err store_sqlite_rev_list(store *st, int64_t after_seq, size_t limit, store_rev_event **rows,
                              size_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    *rows = NULL;
    *n = 0;
    if (limit > STORE_REV_LIST_MAX) limit = STORE_REV_LIST_MAX;
    idp_err rc = stmt(st, R_LIST, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, after_seq, &b);
    store_sqlite_bind_i64(q, 2, (int64_t)limit, &b);
    rc = store_sqlite_op_rows(q, b, sizeof(store_rev_event), STORE_REV_LIST_MAX, rev_row,
                              rev_clear, &v, n, err);
    store_sqlite_done(q);
    *rows = v;
    return rc;
}

idp_err store_sqlite_rev_bound_raise(store *st, int64_t max_ttl, int64_t leeway, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (max_ttl < 0 || leeway < 0)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: rev_bound_raise: negative bound");
    idp_err rc = stmt(st, R_BOUND, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, max_ttl, &b);
    store_sqlite_bind_i64(q, 2, leeway, &b);
    return store_sqlite_write(q, b, "rev_bound_raise", NULL, err);
}

idp_err store_sqlite_rev_prune(store *st, int64_t now, int64_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    int changes = 0;
    if (n) *n = 0;
    idp_err rc = stmt(st, R_PRUNE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, now, &b);
    rc = store_sqlite_write(q, b, "rev_prune", &changes, err);
    if (!rc && n) *n = changes;
    return rc;
}
