/* store_sqlite_fed — federation storage on SQLite (issue 12; schema:
 * migrations/0008_federation.sql; ops documented in store.h): upstream identity links, single-use
 * upstream assertion ids (bounded, fail closed) and the last good JWKS per upstream issuer.
 * Just-in-time provisioning is the front's (store.c), composed from these and user_create. Constant
 * SQL prepared once per connection, in store_sqlite_xstmt slots from SQ_XSTMT_FED up; every value
 * bound. */
#include "store/sqlite/internal.h"

#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

typedef enum sqf_id {
    F_LINK_GET,
    F_LINK_ADD,
    F_LINK_COUNT,
    F_JTI_GET,
    F_JTI_DEL_ONE,
    F_JTI_COUNT,
    F_JTI_DEL_EXPIRED,
    F_JTI_INSERT,
    F_JTI_PRUNE,
    F_JWKS_PUT,
    F_JWKS_GET,
    F_STATUS_PUT,
    F_STATUS_GET,
    F_STATUS_LIST,
    F__COUNT
} sqf_id;
_Static_assert(SQ_XSTMT_FED + F__COUNT <= SQ_XSTMT_FED_END, "statement slots");

static const char *const sqf_sql[F__COUNT] = {
    [F_LINK_GET] = "SELECT user_id FROM upstream_identities WHERE issuer = ?1 AND subject = ?2",
    /* A taken pair changes nothing (the caller then reads whose it is); an unknown user fails
     * the foreign key. */
    [F_LINK_ADD] = "INSERT INTO upstream_identities (issuer, subject, user_id, created_at) "
                   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (issuer, subject) DO NOTHING",
    [F_LINK_COUNT] = "SELECT count(*) FROM upstream_identities WHERE user_id = ?1",
    [F_JTI_GET] = "SELECT exp FROM fed_jti WHERE issuer = ?1 AND jti = ?2",
    [F_JTI_DEL_ONE] = "DELETE FROM fed_jti WHERE issuer = ?1 AND jti = ?2",
    [F_JTI_COUNT] = "SELECT n FROM fed_jti_count WHERE id = 1",
    [F_JTI_DEL_EXPIRED] = "DELETE FROM fed_jti WHERE exp <= ?1",
    [F_JTI_INSERT] = "INSERT INTO fed_jti (issuer, jti, exp) VALUES (?1, ?2, ?3)",
    [F_JTI_PRUNE] = "DELETE FROM fed_jti WHERE exp < ?1",
    [F_JWKS_PUT] = "INSERT INTO fed_jwks (issuer, body, fetched_at, max_age) "
                   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (issuer) DO UPDATE SET "
                   "body = excluded.body, fetched_at = excluded.fetched_at, "
                   "max_age = excluded.max_age",
    [F_JWKS_GET] = "SELECT body, fetched_at, max_age FROM fed_jwks WHERE issuer = ?1",
    [F_STATUS_PUT] =
        "INSERT INTO fed_status (issuer, name, state, last_success, last_attempt, last_error, "
        "next_refresh, kids, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT (issuer) DO UPDATE SET name = excluded.name, state = excluded.state, "
        "last_success = excluded.last_success, last_attempt = excluded.last_attempt, "
        "last_error = excluded.last_error, next_refresh = excluded.next_refresh, "
        "kids = excluded.kids, source = excluded.source",
    [F_STATUS_GET] = "SELECT issuer, name, state, last_success, last_attempt, last_error, "
                     "next_refresh, kids FROM fed_status WHERE issuer = ?1",
    [F_STATUS_LIST] = "SELECT issuer, name, state, last_success, last_attempt, last_error, "
                      "next_refresh, kids FROM fed_status ORDER BY issuer",
};

static idp_err stmt(store *st, sqf_id id, sqlite3_stmt **q, idp_error *err)
{
    return store_sqlite_xstmt(st, SQ_XSTMT_FED + (int)id, sqf_sql[id], q, err);
}

static bool id_ok(const char *s)
{
    return s && *s && strnlen(s, STORE_FED_ID_MAX + 1) <= STORE_FED_ID_MAX;
}

static idp_err pair_check(const char *issuer, const char *subject, const char *what, idp_error *err)
{
    if (!id_ok(issuer) || !id_ok(subject))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: empty or too long issuer/subject", what);
    return IDP_OK;
}

/* Steps a one-column integer query bound by the caller; *v = 0 and *found = false when it has
 * no row. Resets q. */
static idp_err one_i64(sqlite3_stmt *q, int b, const char *what, int64_t *v, bool *found,
                       idp_error *err)
{
    idp_err rc = IDP_OK;
    *v = 0;
    *found = false;
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW) {
        *v = sqlite3_column_int64(q, 0);
        *found = true;
    } else if (r != SQLITE_DONE) {
        rc = store_sqlite_fail(err, r, what);
    }
    store_sqlite_done(q);
    return rc;
}

/* ---- upstream identity links ---------------------------------------------------------------- */

idp_err store_sqlite_fed_link_get(store *st, const char *issuer, const char *subject,
                                  char **user_id, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *user_id = NULL;
    idp_err rc = pair_check(issuer, subject, "fed_link_get", err);
    if (rc || (rc = stmt(st, F_LINK_GET, &q, err))) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, issuer, &b);
    store_sqlite_bind_text(q, 2, subject, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW && (*user_id = store_sqlite_col_str(q, 0)) != NULL)
        rc = IDP_OK;
    else if (r == SQLITE_ROW)
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: upstream identity row is malformed");
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such upstream identity");
    else
        rc = store_sqlite_fail(err, r, "fed_link_get");
    store_sqlite_done(q);
    return rc;
}

idp_err store_sqlite_fed_link_add(store *st, const char *issuer, const char *subject,
                                  const char *user_id, int64_t now, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    char *cur = NULL;
    bool own = false;
    int changes = 0;
    idp_err rc = pair_check(issuer, subject, "fed_link_add", err);
    if (rc) return rc;
    if (!user_id || !*user_id)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_link_add: missing user");
    if ((rc = store_sqlite_op_begin(st, &own, err))) return rc;
    if ((rc = stmt(st, F_LINK_ADD, &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, issuer, &b);
    store_sqlite_bind_text(q, 2, subject, &b);
    store_sqlite_bind_text(q, 3, user_id, &b);
    store_sqlite_bind_i64(q, 4, now, &b);
    /* an unknown user fails the foreign key: IDP_ERR_INVALID */
    if ((rc = store_sqlite_write(q, b, "fed_link_add", &changes, err)) || changes) goto out;
    /* the pair was linked already: to this user (not an error) or to another one */
    if (!(rc = store_sqlite_fed_link_get(st, issuer, subject, &cur, err)) &&
        strcmp(cur, user_id) != 0)
        rc = IDP_FAIL(err, IDP_ERR_CONFLICT,
                      "store: fed_link_add: the upstream identity is linked to another user");
out:
    free(cur);
    return store_sqlite_op_end(st, own, rc, err);
}

idp_err store_sqlite_fed_link_count(store *st, const char *user_id, int64_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool found = false;
    *n = 0;
    idp_err rc = stmt(st, F_LINK_COUNT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, user_id, &b);
    return one_i64(q, b, "fed_link_count", n, &found, err);
}

/* ---- single-use upstream assertion ids ------------------------------------------------------ */

/* Runs a row-less statement bound with (issuer, jti), or with one integer when issuer is NULL. */
static idp_err jti_write(store *st, sqf_id id, const char *issuer, const char *jti, int64_t v,
                         const char *what, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, id, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    if (issuer) {
        store_sqlite_bind_text(q, 1, issuer, &b);
        store_sqlite_bind_text(q, 2, jti, &b);
        if (id == F_JTI_INSERT) store_sqlite_bind_i64(q, 3, v, &b);
    } else {
        store_sqlite_bind_i64(q, 1, v, &b);
    }
    return store_sqlite_write(q, b, what, NULL, err);
}

static idp_err jti_rows(store *st, int64_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool found = false;
    idp_err rc = stmt(st, F_JTI_COUNT, &q, err);
    if (rc || (rc = one_i64(q, SQLITE_OK, "fed_jti_use count", n, &found, err))) return rc;
    return found ? IDP_OK : IDP_FAIL(err, IDP_ERR_STORE, "store: fed_jti_count row is missing");
}

idp_err store_sqlite_fed_jti_use(store *st, const char *issuer, const char *jti, int64_t exp,
                                 int64_t now, int64_t max_rows, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool own = false, found = false;
    int64_t stored = 0, n = 0;
    if (!id_ok(issuer) || !jti || !*jti || strnlen(jti, STORE_JTI_MAX + 1) > STORE_JTI_MAX)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_jti_use: empty or too long issuer/jti");
    if (max_rows <= 0 || max_rows > STORE_FED_JTI_MAX) max_rows = STORE_FED_JTI_MAX;
    idp_err rc = store_sqlite_op_begin(st, &own, err);
    if (rc) return rc;
    if ((rc = stmt(st, F_JTI_GET, &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, issuer, &b);
    store_sqlite_bind_text(q, 2, jti, &b);
    if ((rc = one_i64(q, b, "fed_jti_use", &stored, &found, err))) goto out;
    if (found && stored > now) {
        rc = IDP_FAIL(err, IDP_ERR_CONFLICT, "store: fed_jti_use: assertion id already used");
        goto out;
    }
    /* an expired use of the same id is replaced */
    if (found && (rc = jti_write(st, F_JTI_DEL_ONE, issuer, jti, 0, "fed_jti_use", err))) goto out;
    if ((rc = jti_rows(st, &n, err))) goto out;
    if (n >= max_rows) {
        if ((rc = jti_write(st, F_JTI_DEL_EXPIRED, NULL, NULL, now, "fed_jti_use", err)) ||
            (rc = jti_rows(st, &n, err)))
            goto out;
        if (n >= max_rows) {
            /* fail closed: an id we cannot record could be replayed */
            rc = IDP_FAIL(err, IDP_ERR_UNAVAILABLE,
                          "store: fed_jti_use: %lld unexpired assertion ids kept, no room",
                          (long long)n);
            goto out;
        }
    }
    rc = jti_write(st, F_JTI_INSERT, issuer, jti, exp, "fed_jti_use", err);
out:
    return store_sqlite_op_end(st, own, rc, err);
}

idp_err store_sqlite_fed_prune(store *st, int64_t before, idp_error *err)
{
    return jti_write(st, F_JTI_PRUNE, NULL, NULL, before, "fed_prune", err);
}

/* ---- last good JWKS per upstream issuer ----------------------------------------------------- */

idp_err store_sqlite_fed_jwks_put(store *st, const store_fed_jwks *j, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!id_ok(j->issuer) || !j->body)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_jwks_put: missing issuer or body");
    if (strnlen(j->body, STORE_FED_JWKS_MAX + 1) > STORE_FED_JWKS_MAX)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: fed_jwks_put: body longer than %u bytes",
                        STORE_FED_JWKS_MAX);
    idp_err rc = stmt(st, F_JWKS_PUT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, j->issuer, &b);
    store_sqlite_bind_text(q, 2, j->body, &b);
    store_sqlite_bind_i64(q, 3, j->fetched_at, &b);
    store_sqlite_bind_i64(q, 4, j->max_age, &b);
    /* a body that is not JSON fails its CHECK: IDP_ERR_INVALID */
    return store_sqlite_write(q, b, "fed_jwks_put", NULL, err);
}

idp_err store_sqlite_fed_jwks_get(store *st, const char *issuer, store_fed_jwks *out,
                                  idp_error *err)
{
    sqlite3_stmt *q = NULL;
    memset(out, 0, sizeof *out);
    if (!id_ok(issuer))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_jwks_get: empty or too long issuer");
    idp_err rc = stmt(st, F_JWKS_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, issuer, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW) {
        out->issuer = xstrdup(issuer);
        out->body = store_sqlite_col_str(q, 0);
        out->fetched_at = sqlite3_column_int64(q, 1);
        out->max_age = sqlite3_column_int64(q, 2);
        if (!out->body) rc = IDP_FAIL(err, IDP_ERR_STORE, "store: fed_jwks row is malformed");
    } else if (r == SQLITE_DONE) {
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no JWKS stored for this issuer");
    } else {
        rc = store_sqlite_fail(err, r, "fed_jwks_get");
    }
    store_sqlite_done(q);
    if (rc) store_fed_jwks_clear(out);
    return rc;
}

/* ---- key-cache status per upstream issuer --------------------------------------------------- */

static bool state_ok(const char *s)
{
    return s && (!strcmp(s, "unfetched") || !strcmp(s, "ok") || !strcmp(s, "stale") ||
                 !strcmp(s, "failing"));
}

idp_err store_sqlite_fed_status_put(store *st, const store_fed_status *s, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!id_ok(s->issuer) || !s->name || !*s->name)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_status_put: missing issuer or name");
    if (!state_ok(s->state))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_status_put: unknown state");
    const char *le = s->last_error ? s->last_error : "";
    if (strnlen(le, STORE_FED_ERROR_MAX + 1) > STORE_FED_ERROR_MAX)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_status_put: last_error over %u bytes",
                        STORE_FED_ERROR_MAX);
    idp_err rc = stmt(st, F_STATUS_PUT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, s->issuer, &b);
    store_sqlite_bind_text(q, 2, s->name, &b);
    store_sqlite_bind_text(q, 3, s->state, &b);
    store_sqlite_bind_i64(q, 4, s->last_success, &b);
    store_sqlite_bind_i64(q, 5, s->last_attempt, &b);
    store_sqlite_bind_text(q, 6, le, &b);
    store_sqlite_bind_i64(q, 7, s->next_refresh, &b);
    store_sqlite_bind_text(q, 8, s->kids ? s->kids : "[]", &b);
    store_sqlite_bind_text(q, 9, s->notify ? "cli" : "server", &b);
    /* kids that are not a JSON array fail its CHECK: IDP_ERR_INVALID */
    return store_sqlite_write(q, b, "fed_status_put", NULL, err);
}

static idp_err status_row(sqlite3_stmt *q, store_fed_status *o, idp_error *err)
{
    o->issuer = store_sqlite_col_str(q, 0);
    o->name = store_sqlite_col_str(q, 1);
    o->state = store_sqlite_col_str(q, 2);
    o->last_success = sqlite3_column_int64(q, 3);
    o->last_attempt = sqlite3_column_int64(q, 4);
    o->last_error = store_sqlite_col_str(q, 5);
    o->next_refresh = sqlite3_column_int64(q, 6);
    o->kids = store_sqlite_col_str(q, 7);
    if (!o->issuer || !o->name || !o->state || !o->last_error || !o->kids)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: fed_status row is malformed");
    return IDP_OK;
}

idp_err store_sqlite_fed_status_get(store *st, const char *issuer, store_fed_status *out,
                                    idp_error *err)
{
    sqlite3_stmt *q = NULL;
    memset(out, 0, sizeof *out);
    if (!id_ok(issuer))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_status_get: empty or too long issuer");
    idp_err rc = stmt(st, F_STATUS_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, issuer, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        rc = status_row(q, out, err);
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no status stored for this issuer");
    else
        rc = store_sqlite_fail(err, r, "fed_status_get");
    store_sqlite_done(q);
    if (rc) store_fed_status_clear(out);
    return rc;
}

idp_err store_sqlite_fed_status_list(store *st, store_fed_status **rows, size_t *n,
                                     idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *rows = NULL;
    *n = 0;
    idp_err rc = stmt(st, F_STATUS_LIST, &q, err);
    if (rc) return rc;
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *rows = xrealloc(*rows, cap * sizeof **rows);
        }
        memset(&(*rows)[*n], 0, sizeof **rows);
        if ((rc = status_row(q, &(*rows)[(*n)++], err)) != IDP_OK) break;
    }
    if (rc == IDP_OK && r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "fed_status_list");
    store_sqlite_done(q);
    if (rc) {
        store_fed_status_list_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}
