/* store_sqlite_audit — the hash-chained audit log on SQLite (DESIGN §9; schema:
 * migrations/0002_scim.sql; ops documented in store.h). The front (store.c) links each event to
 * the tail under the write lock; this file stores and reads events as given. Constant SQL
 * prepared once per connection, in store_sqlite_xstmt slots from SQ_XSTMT_AUDIT up. */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

#define SQA_MAX_AUDIT 100000 /* events one audit call returns */

#define AUDIT_COLS                                                                                 \
    "seq, time_ms, actor, action, target_type, target_id, before_version, after_version, "         \
    "detail, prev_hash, hash"

typedef enum sqa_id {
    A_TAIL,
    A_INSERT,
    A_LIST,
    A_LAST,
    A_SEQ_BEFORE,
    A_DELETE_THROUGH,
    A__COUNT
} sqa_id;
_Static_assert(SQ_XSTMT_AUDIT + A__COUNT <= SQ_XSTMT_AUDIT_END, "statement slots");

static const char *const sqa_sql[A__COUNT] = {
    [A_TAIL] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
    [A_INSERT] = "INSERT INTO audit_events (" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                 "?7, ?8, ?9, ?10, ?11)",
    [A_LIST] = "SELECT " AUDIT_COLS " FROM audit_events WHERE seq > ?1 ORDER BY seq "
               "LIMIT ?2",
    [A_LAST] = "SELECT * FROM (SELECT " AUDIT_COLS " FROM audit_events ORDER BY seq DESC "
               "LIMIT ?1) ORDER BY seq",
    /* the newest event older than ?1: scans backwards from the head, stopping at the first */
    [A_SEQ_BEFORE] = "SELECT seq FROM audit_events WHERE time_ms < ?1 ORDER BY seq DESC "
                     "LIMIT 1",
    [A_DELETE_THROUGH] = "DELETE FROM audit_events WHERE seq <= ?1",
};

static idp_err stmt(store *st, sqa_id id, sqlite3_stmt **q, idp_error *err)
{
    return store_sqlite_xstmt(st, SQ_XSTMT_AUDIT + (int)id, sqa_sql[id], q, err);
}

static idp_err audit_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_audit *a = row;
    a->seq = sqlite3_column_int64(q, 0);
    a->time_ms = sqlite3_column_int64(q, 1);
    a->actor = store_sqlite_col_str(q, 2);
    a->action = store_sqlite_col_str(q, 3);
    a->target_type = store_sqlite_col_str(q, 4);
    a->target_id = store_sqlite_col_str(q, 5);
    a->before_version = sqlite3_column_int64(q, 6);
    a->after_version = sqlite3_column_int64(q, 7);
    a->detail = store_sqlite_col_str(q, 8);
    if (sqlite3_column_bytes(q, 9) != 32 || sqlite3_column_bytes(q, 10) != 32 || !a->actor ||
        !a->action)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: audit row %lld is malformed",
                        (long long)a->seq);
    memcpy(a->prev_hash, sqlite3_column_blob(q, 9), 32);
    memcpy(a->hash, sqlite3_column_blob(q, 10), 32);
    return IDP_OK;
}

static void audit_clear(void *row)
{
    store_audit_clear(row);
}

/* The chain's tail, read under the caller's write lock (the front holds one: store.c). */
idp_err store_sqlite_audit_tail(store *st, int64_t *seq, unsigned char hash[32], idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *seq = 0;
    memset(hash, 0, 32);
    idp_err rc = stmt(st, A_TAIL, &q, err);
    if (rc) return rc;
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW && sqlite3_column_bytes(q, 1) == 32) {
        *seq = sqlite3_column_int64(q, 0);
        memcpy(hash, sqlite3_column_blob(q, 1), 32);
    } else if (r == SQLITE_ROW)
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: audit tail is malformed");
    else if (r != SQLITE_DONE)
        rc = store_sqlite_fail(err, r, "audit tail");
    store_sqlite_done(q);
    return rc;
}

idp_err store_sqlite_audit_insert(store *st, const store_audit *ev, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, A_INSERT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, ev->seq, &b);
    store_sqlite_bind_i64(q, 2, ev->time_ms, &b);
    store_sqlite_bind_text(q, 3, ev->actor, &b);
    store_sqlite_bind_text(q, 4, ev->action, &b);
    store_sqlite_bind_text(q, 5, ev->target_type, &b);
    store_sqlite_bind_text(q, 6, ev->target_id, &b);
    store_sqlite_bind_i64(q, 7, ev->before_version, &b);
    store_sqlite_bind_i64(q, 8, ev->after_version, &b);
    store_sqlite_bind_text(q, 9, ev->detail, &b);
    store_sqlite_bind_blob(q, 10, ev->prev_hash, 32, &b);
    store_sqlite_bind_blob(q, 11, ev->hash, 32, &b);
    return store_sqlite_write(q, b, "audit_append", NULL, err);
}

static idp_err audit_read(store *st, sqa_id id, int64_t a1, int64_t a2, store_audit **rows,
                          size_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    *rows = NULL;
    *n = 0;
    idp_err rc = stmt(st, id, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, a1, &b);
    if (id == A_LIST) store_sqlite_bind_i64(q, 2, a2, &b);
    rc = store_sqlite_op_rows(q, b, sizeof(store_audit), SQA_MAX_AUDIT, audit_row, audit_clear, &v,
                              n, err);
    *rows = v;
    return rc;
}

idp_err store_sqlite_audit_list(store *st, int64_t after_seq, size_t limit, store_audit **rows,
                                size_t *n, idp_error *err)
{
    int64_t lim = limit > SQA_MAX_AUDIT ? SQA_MAX_AUDIT : (int64_t)limit;
    return audit_read(st, A_LIST, after_seq, lim, rows, n, err);
}

/* The last limit events, oldest first. */
idp_err store_sqlite_audit_last(store *st, size_t limit, store_audit **rows, size_t *n,
                                idp_error *err)
{
    int64_t lim = limit > SQA_MAX_AUDIT ? SQA_MAX_AUDIT : (int64_t)limit;
    return audit_read(st, A_LAST, lim, 0, rows, n, err);
}

idp_err store_sqlite_audit_seq_before(store *st, int64_t time_ms, int64_t *seq, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *seq = 0;
    idp_err rc = stmt(st, A_SEQ_BEFORE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, time_ms, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        *seq = sqlite3_column_int64(q, 0);
    else if (r != SQLITE_DONE)
        rc = store_sqlite_fail(err, r, "audit_seq_before");
    store_sqlite_done(q);
    return rc;
}

idp_err store_sqlite_audit_delete_through(store *st, int64_t seq, int64_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    int changes = 0;
    idp_err rc = stmt(st, A_DELETE_THROUGH, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, seq, &b);
    rc = store_sqlite_write(q, b, "audit_delete_through", &changes, err);
    if (n) *n = rc ? 0 : changes;
    return rc;
}
