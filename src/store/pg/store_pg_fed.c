/* store_pg_fed — federation storage on PostgreSQL (issue 12; the twin of
 * sqlite/store_sqlite_fed.c; ops documented in store.h): upstream identity links, single-use
 * upstream assertion ids (bounded, fail closed), the last good JWKS and the key-cache status per
 * upstream issuer. Every value bound. */
#include "store/pg/internal.h"

#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

#define PGF_MAX_STATUS 100000

typedef enum pgf_id {
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
} pgf_id;
_Static_assert(PG_STMT_FED + F__COUNT <= PG_STMT_FED_END, "statement slots");

static const char *const pgf_sql[F__COUNT] = {
    [F_LINK_GET] = "SELECT user_id FROM upstream_identities WHERE issuer = $1 AND subject = $2",
    [F_LINK_ADD] = "INSERT INTO upstream_identities (issuer, subject, user_id, created_at) "
                   "VALUES ($1, $2, $3, $4) ON CONFLICT (issuer, subject) DO NOTHING",
    [F_LINK_COUNT] = "SELECT count(*) FROM upstream_identities WHERE user_id = $1",
    [F_JTI_GET] = "SELECT exp FROM fed_jti WHERE issuer = $1 AND jti = $2",
    [F_JTI_DEL_ONE] = "DELETE FROM fed_jti WHERE issuer = $1 AND jti = $2",
    [F_JTI_COUNT] = "SELECT n FROM fed_jti_count WHERE id = 1",
    [F_JTI_DEL_EXPIRED] = "DELETE FROM fed_jti WHERE exp <= $1",
    [F_JTI_INSERT] = "INSERT INTO fed_jti (issuer, jti, exp) VALUES ($1, $2, $3)",
    [F_JTI_PRUNE] = "DELETE FROM fed_jti WHERE exp < $1",
    [F_JWKS_PUT] = "INSERT INTO fed_jwks (issuer, body, fetched_at, max_age) "
                   "VALUES ($1, $2, $3, $4) ON CONFLICT (issuer) DO UPDATE SET "
                   "body = excluded.body, fetched_at = excluded.fetched_at, "
                   "max_age = excluded.max_age",
    [F_JWKS_GET] = "SELECT body, fetched_at, max_age FROM fed_jwks WHERE issuer = $1",
    [F_STATUS_PUT] =
        "INSERT INTO fed_status (issuer, name, state, last_success, last_attempt, last_error, "
        "next_refresh, kids, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (issuer) DO UPDATE SET name = excluded.name, state = excluded.state, "
        "last_success = excluded.last_success, last_attempt = excluded.last_attempt, "
        "last_error = excluded.last_error, next_refresh = excluded.next_refresh, "
        "kids = excluded.kids, source = excluded.source",
    [F_STATUS_GET] = "SELECT issuer, name, state, last_success, last_attempt, last_error, "
                     "next_refresh, kids FROM fed_status WHERE issuer = $1",
    [F_STATUS_LIST] = "SELECT issuer, name, state, last_success, last_attempt, last_error, "
                      "next_refresh, kids FROM fed_status ORDER BY issuer",
};

static idp_err ex(store *st, pgf_id id, const pg_params *p, const char *what, PGresult **r,
                  idp_error *err)
{
    return store_pg_exec(st, PG_STMT_FED + (int)id, pgf_sql[id], p, what, r, err);
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

/* A one-column integer query; *v = 0 and *found = false when it has no row. */
static idp_err one_i64(store *st, pgf_id id, const pg_params *p, const char *what, int64_t *v,
                       bool *found, idp_error *err)
{
    PGresult *r = NULL;
    *v = 0;
    if (found) *found = false;
    idp_err rc = ex(st, id, p, what, &r, err);
    if (!rc && PQntuples(r) > 0) {
        *v = store_pg_int(r, 0, 0);
        if (found) *found = true;
    }
    PQclear(r);
    return rc;
}

/* ---- upstream identity links ---------------------------------------------------------------- */

static idp_err link_get(store *st, const char *issuer, const char *subject, char **user_id,
                        idp_error *err)
{
    PGresult *r = NULL;
    pg_params p = {0};
    store_pg_text(&p, issuer);
    store_pg_text(&p, subject);
    idp_err rc = ex(st, F_LINK_GET, &p, "fed_link_get", &r, err);
    if (rc) return rc;
    if (PQntuples(r) == 0)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such upstream identity");
    else if (!(*user_id = store_pg_str(r, 0, 0)))
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: upstream identity row is malformed");
    PQclear(r);
    return rc;
}

idp_err store_pg_fed_link_get(store *st, const char *issuer, const char *subject, char **user_id,
                              idp_error *err)
{
    *user_id = NULL;
    idp_err rc = pair_check(issuer, subject, "fed_link_get", err);
    if (rc) return rc;
    STORE_PG_OP(st, PG_READ, rc, err)
    rc = link_get(st, issuer, subject, user_id, err);
    return rc;
}

idp_err store_pg_fed_link_add(store *st, const char *issuer, const char *subject,
                              const char *user_id, int64_t now, idp_error *err)
{
    idp_err rc = pair_check(issuer, subject, "fed_link_add", err);
    if (rc) return rc;
    if (!user_id || !*user_id)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_link_add: missing user");
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        char *cur = NULL;
        int64_t changes = 0;
        pg_params p = {0};
        store_pg_text(&p, issuer);
        store_pg_text(&p, subject);
        store_pg_text(&p, user_id);
        store_pg_i64(&p, now);
        /* an unknown user fails the foreign key: IDP_ERR_INVALID */
        if ((rc = store_pg_write(st, PG_STMT_FED + F_LINK_ADD, pgf_sql[F_LINK_ADD], &p,
                                 "fed_link_add", &changes, err)) ||
            changes)
            continue;
        /* the pair was linked already: to this user (not an error) or to another one */
        if (!(rc = link_get(st, issuer, subject, &cur, err)) && strcmp(cur, user_id) != 0)
            rc = IDP_FAIL(err, IDP_ERR_CONFLICT,
                          "store: fed_link_add: the upstream identity is linked to another user");
        free(cur);
    }
    return rc;
}

idp_err store_pg_fed_link_count(store *st, const char *user_id, int64_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, user_id);
        rc = one_i64(st, F_LINK_COUNT, &p, "fed_link_count", n, NULL, err);
    }
    return rc;
}

/* ---- single-use upstream assertion ids ------------------------------------------------------ */

static idp_err jti_rows(store *st, int64_t *n, idp_error *err)
{
    bool found = false;
    idp_err rc = one_i64(st, F_JTI_COUNT, NULL, "fed_jti_use count", n, &found, err);
    if (rc) return rc;
    return found ? IDP_OK : IDP_FAIL(err, IDP_ERR_STORE, "store: fed_jti_count row is missing");
}

static idp_err jti_write(store *st, pgf_id id, const pg_params *p, const char *what, idp_error *err)
{
    return store_pg_write(st, PG_STMT_FED + (int)id, pgf_sql[id], p, what, NULL, err);
}

idp_err store_pg_fed_jti_use(store *st, const char *issuer, const char *jti, int64_t exp,
                             int64_t now, int64_t max_rows, idp_error *err)
{
    if (!id_ok(issuer) || !jti || !*jti || strnlen(jti, STORE_JTI_MAX + 1) > STORE_JTI_MAX)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_jti_use: empty or too long issuer/jti");
    if (max_rows <= 0 || max_rows > STORE_FED_JTI_MAX) max_rows = STORE_FED_JTI_MAX;
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        bool found = false;
        int64_t stored = 0, n = 0;
        pg_params pair = {0}, t = {0}, ins = {0};
        store_pg_text(&pair, issuer);
        store_pg_text(&pair, jti);
        store_pg_i64(&t, now);
        store_pg_text(&ins, issuer);
        store_pg_text(&ins, jti);
        store_pg_i64(&ins, exp);
        if ((rc = one_i64(st, F_JTI_GET, &pair, "fed_jti_use", &stored, &found, err))) continue;
        if (found && stored > now) {
            rc = IDP_FAIL(err, IDP_ERR_CONFLICT, "store: fed_jti_use: assertion id already used");
            continue;
        }
        /* an expired use of the same id is replaced */
        if (found && (rc = jti_write(st, F_JTI_DEL_ONE, &pair, "fed_jti_use", err))) continue;
        if ((rc = jti_rows(st, &n, err))) continue;
        if (n >= max_rows) {
            if ((rc = jti_write(st, F_JTI_DEL_EXPIRED, &t, "fed_jti_use", err)) ||
                (rc = jti_rows(st, &n, err)))
                continue;
            if (n >= max_rows) {
                /* fail closed: an id we cannot record could be replayed */
                rc = IDP_FAIL(err, IDP_ERR_UNAVAILABLE,
                              "store: fed_jti_use: %lld unexpired assertion ids kept, no room",
                              (long long)n);
                continue;
            }
        }
        rc = jti_write(st, F_JTI_INSERT, &ins, "fed_jti_use", err);
    }
    return rc;
}

idp_err store_pg_fed_prune(store *st, int64_t before, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_i64(&p, before);
        rc = jti_write(st, F_JTI_PRUNE, &p, "fed_prune", err);
    }
    return rc;
}

/* ---- last good JWKS per upstream issuer ----------------------------------------------------- */

idp_err store_pg_fed_jwks_put(store *st, const store_fed_jwks *j, idp_error *err)
{
    if (!id_ok(j->issuer) || !j->body)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_jwks_put: missing issuer or body");
    if (strnlen(j->body, STORE_FED_JWKS_MAX + 1) > STORE_FED_JWKS_MAX)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: fed_jwks_put: body longer than %u bytes",
                        STORE_FED_JWKS_MAX);
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, j->issuer);
        store_pg_text(&p, j->body);
        store_pg_i64(&p, j->fetched_at);
        store_pg_i64(&p, j->max_age);
        /* a body that is not JSON fails its CHECK: IDP_ERR_INVALID */
        rc = jti_write(st, F_JWKS_PUT, &p, "fed_jwks_put", err);
    }
    return rc;
}

idp_err store_pg_fed_jwks_get(store *st, const char *issuer, store_fed_jwks *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!id_ok(issuer))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_jwks_get: empty or too long issuer");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, issuer);
        if ((rc = ex(st, F_JWKS_GET, &p, "fed_jwks_get", &r, err))) continue;
        if (PQntuples(r) == 0) {
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no JWKS stored for this issuer");
        } else {
            out->issuer = xstrdup(issuer);
            out->body = store_pg_str(r, 0, 0);
            out->fetched_at = store_pg_int(r, 0, 1);
            out->max_age = store_pg_int(r, 0, 2);
            if (!out->body) rc = IDP_FAIL(err, IDP_ERR_STORE, "store: fed_jwks row is malformed");
        }
        PQclear(r);
        if (rc) store_fed_jwks_clear(out);
    }
    return rc;
}

/* ---- key-cache status per upstream issuer --------------------------------------------------- */

static bool state_ok(const char *s)
{
    return s && (!strcmp(s, "unfetched") || !strcmp(s, "ok") || !strcmp(s, "stale") ||
                 !strcmp(s, "failing"));
}

idp_err store_pg_fed_status_put(store *st, const store_fed_status *s, idp_error *err)
{
    if (!id_ok(s->issuer) || !s->name || !*s->name)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_status_put: missing issuer or name");
    if (!state_ok(s->state))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_status_put: unknown state");
    const char *le = s->last_error ? s->last_error : "";
    if (strnlen(le, STORE_FED_ERROR_MAX + 1) > STORE_FED_ERROR_MAX)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_status_put: last_error over %u bytes",
                        STORE_FED_ERROR_MAX);
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, s->issuer);
        store_pg_text(&p, s->name);
        store_pg_text(&p, s->state);
        store_pg_i64(&p, s->last_success);
        store_pg_i64(&p, s->last_attempt);
        store_pg_text(&p, le);
        store_pg_i64(&p, s->next_refresh);
        store_pg_text(&p, s->kids ? s->kids : "[]");
        store_pg_text(&p, s->notify ? "cli" : "server");
        /* kids that are not a JSON array fail its CHECK: IDP_ERR_INVALID */
        rc = jti_write(st, F_STATUS_PUT, &p, "fed_status_put", err);
    }
    return rc;
}

static idp_err status_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_fed_status *o = row;
    o->issuer = store_pg_str(r, i, 0);
    o->name = store_pg_str(r, i, 1);
    o->state = store_pg_str(r, i, 2);
    o->last_success = store_pg_int(r, i, 3);
    o->last_attempt = store_pg_int(r, i, 4);
    o->last_error = store_pg_str(r, i, 5);
    o->next_refresh = store_pg_int(r, i, 6);
    o->kids = store_pg_str(r, i, 7);
    if (!o->issuer || !o->name || !o->state || !o->last_error || !o->kids)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: fed_status row is malformed");
    return IDP_OK;
}

static void status_clear(void *row)
{
    store_fed_status_clear(row);
}

idp_err store_pg_fed_status_get(store *st, const char *issuer, store_fed_status *out,
                                idp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!id_ok(issuer))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: fed_status_get: empty or too long issuer");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, issuer);
        if ((rc = ex(st, F_STATUS_GET, &p, "fed_status_get", &r, err))) continue;
        if (PQntuples(r) == 0)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no status stored for this issuer");
        else if ((rc = status_row(r, 0, out, err)))
            store_fed_status_clear(out);
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_fed_status_list(store *st, store_fed_status **rows, size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if ((rc = ex(st, F_STATUS_LIST, NULL, "fed_status_list", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_fed_status), PGF_MAX_STATUS, status_row, status_clear,
                           &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}
