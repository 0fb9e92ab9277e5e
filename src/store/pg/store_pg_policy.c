/* store_pg_policy — versioned policy documents and their activations on PostgreSQL (DESIGN §7;
 * the twin of sqlite/store_sqlite_policy.c; ops documented in store.h). Inserting and activating
 * bump the generation through triggers (pg/migrations/0001_init.sql). */
#include "store/pg/internal.h"

#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define PGV_MAX_ROWS 100000

#define PV_ACTIVATED                                                                               \
    "COALESCE((SELECT a.activated_at FROM policy_activations AS a WHERE a.version = p.version "    \
    "ORDER BY a.seq DESC LIMIT 1), 0)"

typedef enum pgv_id {
    V_INSERT,
    V_GET,
    V_LIST,
    V_ACTIVATE,
    V_ACTIVE,
    V_ACTIVATIONS,
    V__COUNT
} pgv_id;
_Static_assert(PG_STMT_POLICY + V__COUNT <= PG_STMT_POLICY_END, "statement slots");

static const char *const pgv_sql[V__COUNT] = {
    [V_INSERT] = "INSERT INTO policy_versions (sha256, document, created_at, actor, comment) "
                 "VALUES ($1, $2, $3, COALESCE($4, ''), $5) RETURNING version",
    [V_GET] =
        "SELECT p.version, p.sha256, p.document, p.created_at, p.actor, p.comment, " PV_ACTIVATED
        " FROM policy_versions AS p WHERE p.version = $1",
    [V_LIST] = "SELECT p.version, p.sha256, NULL, p.created_at, p.actor, p.comment, " PV_ACTIVATED
               " FROM policy_versions AS p ORDER BY p.version DESC",
    [V_ACTIVATE] = "INSERT INTO policy_activations (version, activated_at) "
                   "SELECT version, $2 FROM policy_versions WHERE version = $1",
    [V_ACTIVE] = "SELECT version FROM policy_activations ORDER BY seq DESC LIMIT 1",
    [V_ACTIVATIONS] = "SELECT seq, version, activated_at FROM policy_activations "
                      "ORDER BY seq DESC",
};

static idp_err ex(store *st, pgv_id id, const pg_params *p, const char *what, PGresult **r,
                  idp_error *err)
{
    return store_pg_exec(st, PG_STMT_POLICY + (int)id, pgv_sql[id], p, what, r, err);
}

static idp_err pv_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_policy *p = row;
    p->version = store_pg_int(r, i, 0);
    p->sha256 = store_pg_str(r, i, 1);
    p->document = store_pg_str(r, i, 2);
    p->created_at = store_pg_int(r, i, 3);
    p->actor = store_pg_str(r, i, 4);
    p->comment = store_pg_str(r, i, 5);
    p->activated_at = store_pg_int(r, i, 6);
    if (!p->sha256 || !p->actor)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: policy row is malformed");
    return IDP_OK;
}

static void pv_clear(void *row)
{
    store_policy_clear(row);
}

static bool hex64(const char *s)
{
    if (!s) return false;
    size_t i = 0;
    for (; s[i] && i <= 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return i == 64 && !s[i];
}

idp_err store_pg_policy_insert(store *st, store_policy *p, idp_error *err)
{
    if (!p->document) return IDP_FAIL(err, IDP_ERR_INVALID, "store: policy_insert: no document");
    if (!hex64(p->sha256))
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "store: policy_insert: sha256 must be 64 lowercase hex characters");
    if (strnlen(p->document, STORE_POLICY_MAX + 1) > STORE_POLICY_MAX)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: policy document longer than %u bytes",
                        STORE_POLICY_MAX);
    int64_t created = p->created_at > 0 ? p->created_at : time_now(), version = 0;
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        PGresult *r = NULL;
        pg_params q = {0};
        store_pg_text(&q, p->sha256);
        store_pg_text(&q, p->document);
        store_pg_i64(&q, created);
        store_pg_text(&q, p->actor);
        store_pg_text(&q, p->comment);
        if ((rc = ex(st, V_INSERT, &q, "policy_insert", &r, err))) continue;
        version = PQntuples(r) == 1 ? store_pg_int(r, 0, 0) : 0;
        if (version <= 0) rc = IDP_FAIL(err, IDP_ERR_STORE, "store: policy_insert failed");
        PQclear(r);
    }
    if (!rc) {
        p->version = version;
        p->created_at = created;
    }
    return rc;
}

idp_err store_pg_policy_get(store *st, int64_t version, store_policy *out, idp_error *err)
{
    idp_err rc = IDP_OK;
    memset(out, 0, sizeof *out);
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params q = {0};
        store_pg_i64(&q, version);
        if ((rc = ex(st, V_GET, &q, "policy_get", &r, err))) continue;
        if (PQntuples(r) != 1)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such policy version");
        else if ((rc = pv_row(r, 0, out, err)))
            store_policy_clear(out);
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_policy_list(store *st, store_policy **rows, size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if ((rc = ex(st, V_LIST, NULL, "policy_list", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_policy), PGV_MAX_ROWS, pv_row, pv_clear, &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_policy_activate(store *st, int64_t version, int64_t now, idp_error *err)
{
    if (now <= 0) return IDP_FAIL(err, IDP_ERR_INVALID, "store: policy_activate: time must be > 0");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params q = {0};
        store_pg_i64(&q, version);
        store_pg_i64(&q, now);
        rc = store_pg_write_one(st, PG_STMT_POLICY + V_ACTIVATE, pgv_sql[V_ACTIVATE], &q,
                                "policy_activate", err);
    }
    return rc;
}

idp_err store_pg_policy_active(store *st, int64_t *version, idp_error *err)
{
    idp_err rc = IDP_OK;
    *version = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        if ((rc = ex(st, V_ACTIVE, NULL, "policy_active", &r, err))) continue;
        if (PQntuples(r) == 1) *version = store_pg_int(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

static idp_err pa_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_policy_activation *a = row;
    (void)err;
    a->seq = store_pg_int(r, i, 0);
    a->version = store_pg_int(r, i, 1);
    a->activated_at = store_pg_int(r, i, 2);
    return IDP_OK;
}

idp_err store_pg_policy_activations(store *st, store_policy_activation **rows, size_t *n,
                                    idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if ((rc = ex(st, V_ACTIVATIONS, NULL, "policy_activations", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_policy_activation), PGV_MAX_ROWS, pa_row, NULL, &v, n,
                           err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}
