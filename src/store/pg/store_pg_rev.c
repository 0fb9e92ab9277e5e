/* store_pg_rev — the revocation feed's events on PostgreSQL (issue 14; the twin of
 * sqlite/store_sqlite_rev.c; schema and triggers: migrations/0003_rev_events.sql, which says why
 * seq comes from a locked counter row and not from a sequence). Ops documented in store.h. */
#include "store/pg/internal.h"

#include <stdlib.h>
#include <string.h>

typedef enum pgr_id { R_LIST, R_BOUND, R_PRUNE, R__COUNT } pgr_id;
_Static_assert(PG_STMT_REV + R__COUNT <= PG_STMT_REV_END, "statement slots");

static const char *const pgr_sql[R__COUNT] = {
    [R_LIST] = "SELECT seq, kind, subject, epoch, event_at, until_at FROM rev_events "
               "WHERE seq > $1 ORDER BY seq LIMIT $2",
    [R_BOUND] = "UPDATE rev_bound SET max_ttl = GREATEST(COALESCE(max_ttl, 0), $1::bigint), "
                "leeway = GREATEST(COALESCE(leeway, 0), $2::bigint) WHERE id = 1",
    [R_PRUNE] = "DELETE FROM rev_events WHERE until_at < $1",
};

static idp_err rev_row(const PGresult *r, int row, void *out, idp_error *err)
{
    store_rev_event *ev = out;
    ev->seq = store_pg_int(r, row, 0);
    ev->kind = (int)store_pg_int(r, row, 1);
    ev->subject = store_pg_str(r, row, 2);
    ev->epoch = store_pg_int(r, row, 3);
    ev->at = store_pg_int(r, row, 4);
    ev->until = store_pg_int(r, row, 5);
    if (!ev->subject) return IDP_FAIL(err, IDP_ERR_STORE, "store: revocation event row is incomplete");
    return IDP_OK;
}

static void rev_clear(void *row)
{
    store_rev_event *ev = row;
    free(ev->subject);
    ev->subject = NULL;
}

idp_err store_pg_rev_list(store *st, int64_t after_seq, size_t limit, store_rev_event **rows,
                          size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    if (limit > STORE_REV_LIST_MAX) limit = STORE_REV_LIST_MAX;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        pg_params p = {0};
        store_pg_i64(&p, after_seq);
        store_pg_i64(&p, (int64_t)limit);
        if ((rc = store_pg_exec(st, PG_STMT_REV + R_LIST, pgr_sql[R_LIST], &p, "rev_list", &r,
                                err)))
            continue;
        rc = store_pg_rows(r, sizeof(store_rev_event), STORE_REV_LIST_MAX, rev_row, rev_clear,
                           &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_rev_bound_raise(store *st, int64_t max_ttl, int64_t leeway, idp_error *err)
{
    idp_err rc = IDP_OK;
    if (max_ttl < 0 || leeway < 0)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: rev_bound_raise: negative bound");
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_i64(&p, max_ttl);
        store_pg_i64(&p, leeway);
        rc = store_pg_write(st, PG_STMT_REV + R_BOUND, pgr_sql[R_BOUND], &p, "rev_bound_raise",
                            NULL, err);
    }
    return rc;
}

idp_err store_pg_rev_prune(store *st, int64_t now, int64_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    int64_t changes = 0;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_i64(&p, now);
        rc = store_pg_write(st, PG_STMT_REV + R_PRUNE, pgr_sql[R_PRUNE], &p, "rev_prune",
                            &changes, err);
    }
    if (n) *n = rc ? 0 : changes;
    return rc;
}
