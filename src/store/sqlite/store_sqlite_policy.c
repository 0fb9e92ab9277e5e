/* store_sqlite_policy — versioned policy documents and their activations on SQLite (DESIGN §7;
 * schema: migrations/0003_oidc.sql; ops documented in store.h). Constant SQL prepared once per
 * connection, in store_sqlite_xstmt slots from SQ_XSTMT_POLICY up. Inserting and activating
 * bump the generation through triggers. */
#include "store/sqlite/internal.h"

#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define SQV_MAX_ROWS 100000 /* rows one list op returns */

/* The latest activation of version p.version, 0 when never activated. */
#define PV_ACTIVATED                                                                               \
    "COALESCE((SELECT a.activated_at FROM policy_activations AS a WHERE a.version = p.version "    \
    "ORDER BY a.seq DESC LIMIT 1), 0)"

typedef enum sqv_id {
    V_INSERT,
    V_GET,
    V_LIST,
    V_ACTIVATE,
    V_ACTIVE,
    V_ACTIVATIONS,
    V__COUNT
} sqv_id;
_Static_assert(SQ_XSTMT_POLICY + V__COUNT <= SQ_XSTMT_POLICY_END, "statement slots");

static const char *const sqv_sql[V__COUNT] = {
    [V_INSERT] = "INSERT INTO policy_versions (sha256, document, created_at, actor, comment) "
                 "VALUES (?1, ?2, ?3, COALESCE(?4, ''), ?5) RETURNING version",
    [V_GET] =
        "SELECT p.version, p.sha256, p.document, p.created_at, p.actor, p.comment, " PV_ACTIVATED
        " FROM policy_versions AS p WHERE p.version = ?1",
    [V_LIST] = "SELECT p.version, p.sha256, NULL, p.created_at, p.actor, p.comment, " PV_ACTIVATED
               " FROM policy_versions AS p ORDER BY p.version DESC",
    [V_ACTIVATE] = "INSERT INTO policy_activations (version, activated_at) "
                   "SELECT version, ?2 FROM policy_versions WHERE version = ?1",
    [V_ACTIVE] = "SELECT version FROM policy_activations ORDER BY seq DESC LIMIT 1",
    [V_ACTIVATIONS] = "SELECT seq, version, activated_at FROM policy_activations "
                      "ORDER BY seq DESC",
};

static idp_err stmt(store *st, sqv_id id, sqlite3_stmt **q, idp_error *err)
{
    return store_sqlite_xstmt(st, SQ_XSTMT_POLICY + (int)id, sqv_sql[id], q, err);
}

static idp_err pv_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_policy *p = row;
    p->version = sqlite3_column_int64(q, 0);
    p->sha256 = store_sqlite_col_str(q, 1);
    p->document = store_sqlite_col_str(q, 2);
    p->created_at = sqlite3_column_int64(q, 3);
    p->actor = store_sqlite_col_str(q, 4);
    p->comment = store_sqlite_col_str(q, 5);
    p->activated_at = sqlite3_column_int64(q, 6);
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

idp_err store_sqlite_policy_insert(store *st, store_policy *p, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!p->document) return IDP_FAIL(err, IDP_ERR_INVALID, "store: policy_insert: no document");
    if (!hex64(p->sha256))
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "store: policy_insert: sha256 must be 64 lowercase "
                        "hex characters");
    if (strnlen(p->document, STORE_POLICY_MAX + 1) > STORE_POLICY_MAX)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: policy document longer than %u bytes",
                        STORE_POLICY_MAX);
    idp_err rc = stmt(st, V_INSERT, &q, err);
    if (rc) return rc;
    int64_t created = p->created_at > 0 ? p->created_at : time_now();
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, p->sha256, &b);
    store_sqlite_bind_text(q, 2, p->document, &b);
    store_sqlite_bind_i64(q, 3, created, &b);
    store_sqlite_bind_text(q, 4, p->actor, &b);
    store_sqlite_bind_text(q, 5, p->comment, &b);
    int64_t version = 0;
    int r = b != SQLITE_OK ? b : store_sqlite_step(q);
    if (r == SQLITE_ROW) {
        version = sqlite3_column_int64(q, 0);
        r = sqlite3_step(q);
    }
    if (r != SQLITE_DONE || version <= 0) rc = store_sqlite_fail(err, r, "policy_insert");
    store_sqlite_done(q);
    if (!rc) {
        p->version = version;
        p->created_at = created;
    }
    return rc;
}

idp_err store_sqlite_policy_get(store *st, int64_t version, store_policy *out, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool found = false;
    memset(out, 0, sizeof *out);
    idp_err rc = stmt(st, V_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, version, &b);
    rc = store_sqlite_op_one(q, b, "policy_get", pv_row, pv_clear, out, &found, err);
    if (!rc && !found) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such policy version");
    return rc;
}

idp_err store_sqlite_policy_list(store *st, store_policy **rows, size_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    *rows = NULL;
    *n = 0;
    idp_err rc = stmt(st, V_LIST, &q, err);
    if (rc) return rc;
    rc = store_sqlite_op_rows(q, SQLITE_OK, sizeof(store_policy), SQV_MAX_ROWS, pv_row, pv_clear,
                              &v, n, err);
    *rows = v;
    return rc;
}

idp_err store_sqlite_policy_activate(store *st, int64_t version, int64_t now, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (now <= 0) return IDP_FAIL(err, IDP_ERR_INVALID, "store: policy_activate: time must be > 0");
    idp_err rc = stmt(st, V_ACTIVATE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, version, &b);
    store_sqlite_bind_i64(q, 2, now, &b);
    /* Nothing inserted: no such version. */
    return store_sqlite_write_one(q, b, "policy_activate", err);
}

idp_err store_sqlite_policy_active(store *st, int64_t *version, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *version = 0;
    idp_err rc = stmt(st, V_ACTIVE, &q, err);
    if (rc) return rc;
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW)
        *version = sqlite3_column_int64(q, 0);
    else if (r != SQLITE_DONE)
        rc = store_sqlite_fail(err, r, "policy_active");
    store_sqlite_done(q);
    return rc;
}

static idp_err pa_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_policy_activation *a = row;
    (void)err;
    a->seq = sqlite3_column_int64(q, 0);
    a->version = sqlite3_column_int64(q, 1);
    a->activated_at = sqlite3_column_int64(q, 2);
    return IDP_OK;
}

idp_err store_sqlite_policy_activations(store *st, store_policy_activation **rows, size_t *n,
                                        idp_error *err)
{
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    *rows = NULL;
    *n = 0;
    idp_err rc = stmt(st, V_ACTIVATIONS, &q, err);
    if (rc) return rc;
    rc = store_sqlite_op_rows(q, SQLITE_OK, sizeof(store_policy_activation), SQV_MAX_ROWS, pa_row,
                              NULL, &v, n, err);
    *rows = v;
    return rc;
}
