/* store_pg_audit — the hash-chained audit log on PostgreSQL (DESIGN §9; the twin of
 * sqlite/store_sqlite_audit.c). The front (store.c) links each event to the tail inside the
 * writer's transaction; this file stores and reads events as given. */
#include "store/pg/internal.h"

#include <stdlib.h>
#include <string.h>

#define PGA_MAX_AUDIT 100000
#define AUDIT_COLS                                                                                 \
    "seq, time_ms, actor, action, target_type, target_id, before_version, after_version, "         \
    "detail, prev_hash, hash"

typedef enum pga_id {
    A_TAIL,
    A_INSERT,
    A_LIST,
    A_LAST,
    A_SEQ_BEFORE,
    A_DELETE_THROUGH,
    A__COUNT
} pga_id;
_Static_assert(PG_STMT_AUDIT + A__COUNT <= PG_STMT_AUDIT_END, "statement slots");

static const char *const pga_sql[A__COUNT] = {
    [A_TAIL] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
    [A_INSERT] = "INSERT INTO audit_events (" AUDIT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, "
                 "$7, $8, $9, $10, $11)",
    [A_LIST] = "SELECT " AUDIT_COLS " FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
    [A_LAST] = "SELECT * FROM (SELECT " AUDIT_COLS " FROM audit_events ORDER BY seq DESC "
               "LIMIT $1) AS t ORDER BY seq",
    [A_SEQ_BEFORE] = "SELECT seq FROM audit_events WHERE time_ms < $1 ORDER BY seq DESC LIMIT 1",
    [A_DELETE_THROUGH] = "DELETE FROM audit_events WHERE seq <= $1",
};

static idp_err ex(store *st, pga_id id, const pg_params *p, const char *what, PGresult **r,
                  idp_error *err)
{
    return store_pg_exec(st, PG_STMT_AUDIT + (int)id, pga_sql[id], p, what, r, err);
}

static idp_err audit_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_audit *a = row;
    a->seq = store_pg_int(r, i, 0);
    a->time_ms = store_pg_int(r, i, 1);
    a->actor = store_pg_str(r, i, 2);
    a->action = store_pg_str(r, i, 3);
    a->target_type = store_pg_str(r, i, 4);
    a->target_id = store_pg_str(r, i, 5);
    a->before_version = store_pg_int(r, i, 6);
    a->after_version = store_pg_int(r, i, 7);
    a->detail = store_pg_str(r, i, 8);
    if (!store_pg_bytes(r, i, 9, a->prev_hash, 32) || !store_pg_bytes(r, i, 10, a->hash, 32) ||
        !a->actor || !a->action)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: audit row %lld is malformed",
                        (long long)a->seq);
    return IDP_OK;
}

static void audit_clear(void *row)
{
    store_audit_clear(row);
}

idp_err store_pg_audit_tail(store *st, int64_t *seq, unsigned char hash[32], idp_error *err)
{
    idp_err rc = IDP_OK;
    *seq = 0;
    memset(hash, 0, 32);
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        if ((rc = ex(st, A_TAIL, NULL, "audit tail", &r, err))) continue;
        if (PQntuples(r) == 1) {
            if (store_pg_bytes(r, 0, 1, hash, 32))
                *seq = store_pg_int(r, 0, 0);
            else
                rc = IDP_FAIL(err, IDP_ERR_STORE, "store: audit tail is malformed");
        }
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_audit_insert(store *st, const store_audit *ev, idp_error *err)
{
    idp_err rc = IDP_OK;
    pg_params p = {0};
    store_pg_i64(&p, ev->seq);
    store_pg_i64(&p, ev->time_ms);
    store_pg_text(&p, ev->actor);
    store_pg_text(&p, ev->action);
    store_pg_text(&p, ev->target_type);
    store_pg_text(&p, ev->target_id);
    store_pg_i64(&p, ev->before_version);
    store_pg_i64(&p, ev->after_version);
    store_pg_text(&p, ev->detail);
    store_pg_bytea(&p, ev->prev_hash, 32);
    store_pg_bytea(&p, ev->hash, 32);
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = ex(st, A_INSERT, &p, "audit_append", NULL, err);
    return rc;
}

static idp_err audit_read(store *st, pga_id id, int64_t a1, int64_t a2, store_audit **rows,
                          size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        pg_params p = {0};
        store_pg_i64(&p, a1);
        if (id == A_LIST) store_pg_i64(&p, a2);
        if ((rc = ex(st, id, &p, "audit_list", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_audit), PGA_MAX_AUDIT, audit_row, audit_clear, &v, n,
                           err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_audit_list(store *st, int64_t after_seq, size_t limit, store_audit **rows,
                            size_t *n, idp_error *err)
{
    int64_t lim = limit > PGA_MAX_AUDIT ? PGA_MAX_AUDIT : (int64_t)limit;
    return audit_read(st, A_LIST, after_seq, lim, rows, n, err);
}

idp_err store_pg_audit_last(store *st, size_t limit, store_audit **rows, size_t *n, idp_error *err)
{
    int64_t lim = limit > PGA_MAX_AUDIT ? PGA_MAX_AUDIT : (int64_t)limit;
    return audit_read(st, A_LAST, lim, 0, rows, n, err);
}

idp_err store_pg_audit_seq_before(store *st, int64_t time_ms, int64_t *seq, idp_error *err)
{
    idp_err rc = IDP_OK;
    *seq = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_i64(&p, time_ms);
        if ((rc = ex(st, A_SEQ_BEFORE, &p, "audit_seq_before", &r, err))) continue;
        if (PQntuples(r) == 1) *seq = store_pg_int(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_audit_delete_through(store *st, int64_t seq, int64_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    int64_t changes = 0;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_i64(&p, seq);
        rc = store_pg_write(st, PG_STMT_AUDIT + A_DELETE_THROUGH, pga_sql[A_DELETE_THROUGH], &p,
                            "audit_delete_through", &changes, err);
    }
    if (n) *n = rc ? 0 : changes;
    return rc;
}
