/* store_pg_oidc — end-user sign-in on PostgreSQL (authorization codes, refresh tokens, browser
 * sessions, login throttling, client assertion jtis, consent, password rehash, prune); the twin
 * of sqlite/store_sqlite_oidc.c, ops documented in store.h.
 *
 *  - Single-use artefacts are consumed in one atomic statement (UPDATE ... WHERE used_at = 0
 *    RETURNING), so two racing requests cannot both win; and every write holds the writer lock.
 *  - Multi-statement ops (rotation, throttling, prune) are atomic through STORE_PG_OP.
 *  - Secrets never reach this file: codes, refresh tokens and cookies arrive as SHA-256. */
#include "store/pg/internal.h"

#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

#define PGO_MAX_ROWS 100000
#define PGO_DAY 86400

#define CODE_COLS                                                                                  \
    "hash, client_id, user_id, redirect_uri, scope, resource, nonce, code_challenge, "             \
    "session_id, auth_time, amr, user_epoch, created_at, expires_at, used_at, family_id, "         \
    "access_jti, access_exp"
#define RT_COLS                                                                                    \
    "hash, family_id, client_id, user_id, scope, resource, session_id, auth_time, amr, nonce, "    \
    "user_epoch, created_at, expires_at, rotated_at, revoked_at"
#define SS_COLS                                                                                    \
    "hash, sid, user_id, user_epoch, auth_time, amr, created_at, last_seen, expires_at, clients"

typedef enum pgo_id {
    O_CODE_INSERT,
    O_CODE_CONSUME,
    O_CODE_GET,
    O_CODE_SET_ISSUED,
    O_RT_INSERT,
    O_RT_GET,
    O_RT_MARK_ROTATED,
    O_RT_FAMILY_OF,
    O_RT_REVOKE_FAMILY,
    O_RT_REVOKE_SESSION,
    O_RT_REVOKE_USER,
    O_SS_INSERT,
    O_SS_GET,
    O_SS_GET_SID,
    O_SS_TOUCH,
    O_SS_ADD_CLIENT,
    O_SS_DELETE,
    O_SS_DELETE_USER,
    O_SS_LIST_USER,
    O_LF_FAIL,
    O_LF_GET,
    O_LF_RESET,
    O_LF_COUNT,
    O_LF_EVICT,
    O_AJ_USE,
    O_CS_GET,
    O_CS_SET,
    O_PW_REHASH,
    O_PRUNE_CODES,
    O_PRUNE_RT,
    O_PRUNE_SS,
    O_PRUNE_AJ,
    O_PRUNE_LF,
    O__COUNT
} pgo_id;
_Static_assert(PG_STMT_OIDC + O__COUNT <= PG_STMT_OIDC_END, "statement slots");

static const char *const pgo_sql[O__COUNT] = {
    [O_CODE_INSERT] = "INSERT INTO auth_codes (" CODE_COLS ") VALUES ($1, $2, $3, $4, "
                      "COALESCE($5, ''), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
                      "$18)",
    [O_CODE_CONSUME] = "UPDATE auth_codes SET used_at = $2 WHERE hash = $1 AND used_at = 0 "
                       "RETURNING " CODE_COLS,
    [O_CODE_GET] = "SELECT " CODE_COLS " FROM auth_codes WHERE hash = $1",
    [O_CODE_SET_ISSUED] = "UPDATE auth_codes SET family_id = $2, access_jti = $3, "
                          "access_exp = $4 WHERE hash = $1",
    [O_RT_INSERT] = "INSERT INTO refresh_tokens (" RT_COLS ") VALUES ($1, $2, $3, $4, "
                    "COALESCE($5, ''), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    [O_RT_GET] = "SELECT " RT_COLS " FROM refresh_tokens WHERE hash = $1",
    [O_RT_MARK_ROTATED] = "UPDATE refresh_tokens SET rotated_at = $2 WHERE hash = $1 AND "
                          "family_id = $3 AND rotated_at = 0 AND revoked_at = 0",
    [O_RT_FAMILY_OF] = "SELECT family_id FROM refresh_tokens WHERE hash = $1",
    [O_RT_REVOKE_FAMILY] = "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 "
                           "AND revoked_at = 0",
    [O_RT_REVOKE_SESSION] = "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at = 0 AND "
                            "family_id IN (SELECT family_id FROM refresh_tokens "
                            "WHERE session_id = $1) RETURNING rotated_at",
    [O_RT_REVOKE_USER] = "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 "
                         "AND revoked_at = 0",
    [O_SS_INSERT] = "INSERT INTO sessions (" SS_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, "
                    "CASE WHEN $8::bigint = 0 THEN $7::bigint ELSE $8::bigint END, $9, "
                    "COALESCE($10, ''))",
    [O_SS_GET] = "SELECT " SS_COLS " FROM sessions WHERE hash = $1",
    [O_SS_GET_SID] = "SELECT " SS_COLS " FROM sessions WHERE sid = $1",
    [O_SS_TOUCH] = "UPDATE sessions SET last_seen = GREATEST(last_seen, $2) WHERE hash = $1",
    [O_SS_ADD_CLIENT] = "UPDATE sessions SET clients = CASE "
                        "WHEN strpos(' ' || clients || ' ', ' ' || $2::text || ' ') > 0 "
                        "THEN clients WHEN clients = '' THEN $2::text "
                        "ELSE clients || ' ' || $2::text END WHERE hash = $1",
    [O_SS_DELETE] = "DELETE FROM sessions WHERE hash = $1",
    [O_SS_DELETE_USER] = "DELETE FROM sessions WHERE user_id = $1",
    [O_SS_LIST_USER] = "SELECT " SS_COLS " FROM sessions WHERE user_id = $1 "
                       "ORDER BY created_at, sid",
    [O_LF_FAIL] = "INSERT INTO login_failures (key, fails, first_at, last_at) "
                  "VALUES ($1, 1, $2, $2) ON CONFLICT (key) DO UPDATE SET "
                  "fails = login_failures.fails + 1, "
                  "last_at = GREATEST(login_failures.last_at, excluded.last_at) RETURNING fails",
    [O_LF_GET] = "SELECT fails, last_at FROM login_failures WHERE key = $1",
    [O_LF_RESET] = "DELETE FROM login_failures WHERE key = $1",
    [O_LF_COUNT] = "SELECT count(*) FROM login_failures",
    [O_LF_EVICT] = "DELETE FROM login_failures WHERE key = (SELECT key FROM login_failures "
                   "WHERE fails < $1 OR last_at < $2 ORDER BY last_at LIMIT 1)",
    [O_AJ_USE] = "INSERT INTO assertion_jtis (client_id, jti, exp) VALUES ($1, $2, $3)",
    [O_CS_GET] = "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2",
    [O_CS_SET] =
        "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, "
        "granted_at = excluded.granted_at",
    [O_PW_REHASH] = "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
    /* $1 = now, $2 = now - STORE_PRUNE_GRACE (store_pg_oidc_prune) */
    [O_PRUNE_CODES] = "DELETE FROM auth_codes WHERE expires_at < $1 AND "
                      "(used_at = 0 OR expires_at < $2)",
    [O_PRUNE_RT] = "DELETE FROM refresh_tokens WHERE expires_at < $1",
    [O_PRUNE_SS] = "DELETE FROM sessions WHERE expires_at < $1",
    [O_PRUNE_AJ] = "DELETE FROM assertion_jtis WHERE exp < $1",
    [O_PRUNE_LF] = "DELETE FROM login_failures WHERE last_at < $1",
};

static idp_err ex(store *st, pgo_id id, const pg_params *p, const char *what, PGresult **r,
                  idp_error *err)
{
    return store_pg_exec(st, PG_STMT_OIDC + (int)id, pgo_sql[id], p, what, r, err);
}

static idp_err wr(store *st, pgo_id id, const pg_params *p, const char *what, int64_t *changes,
                  idp_error *err)
{
    return store_pg_write(st, PG_STMT_OIDC + (int)id, pgo_sql[id], p, what, changes, err);
}

static idp_err wr_one(store *st, pgo_id id, const pg_params *p, const char *what, idp_error *err)
{
    return store_pg_write_one(st, PG_STMT_OIDC + (int)id, pgo_sql[id], p, what, err);
}

/* A single write statement as its own op. */
static idp_err op_write(store *st, pgo_id id, const pg_params *p, const char *what, bool one,
                        int64_t *changes, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = one ? wr_one(st, id, p, what, err) : wr(st, id, p, what, changes, err);
    return rc;
}

/* A query reading at most one row with fn into out as its own op; *found. */
static idp_err op_read_one(store *st, pgo_id id, const pg_params *p, const char *what,
                           store_pg_row_fn fn, store_pg_row_clear_fn clear, void *out, bool *found,
                           idp_error *err)
{
    idp_err rc = IDP_OK;
    *found = false;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        if ((rc = ex(st, id, p, what, &r, err))) continue;
        if (PQntuples(r) > 0) {
            *found = true;
            if ((rc = fn(r, 0, out, err)) && clear) clear(out);
        }
        PQclear(r);
    }
    return rc;
}

static bool nonempty(const char *s)
{
    return s && *s;
}

/* ---- authorization codes -------------------------------------------------------------------- */

static idp_err code_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_auth_code *c = row;
    bool ok = store_pg_bytes(r, i, 0, c->hash, 32);
    c->client_id = store_pg_str(r, i, 1);
    c->user_id = store_pg_str(r, i, 2);
    c->redirect_uri = store_pg_str(r, i, 3);
    c->scope = store_pg_str(r, i, 4);
    c->resource = store_pg_str(r, i, 5);
    c->nonce = store_pg_str(r, i, 6);
    c->code_challenge = store_pg_str(r, i, 7);
    c->session_id = store_pg_str(r, i, 8);
    c->auth_time = store_pg_int(r, i, 9);
    c->amr = store_pg_str(r, i, 10);
    c->user_epoch = store_pg_int(r, i, 11);
    c->created_at = store_pg_int(r, i, 12);
    c->expires_at = store_pg_int(r, i, 13);
    c->used_at = store_pg_int(r, i, 14);
    c->family_id = store_pg_str(r, i, 15);
    c->access_jti = store_pg_str(r, i, 16);
    c->access_exp = store_pg_int(r, i, 17);
    if (!ok || !c->client_id || !c->user_id || !c->redirect_uri || !c->scope)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: authorization code row is malformed");
    return IDP_OK;
}

static void code_clear(void *row)
{
    store_auth_code_clear(row);
}

idp_err store_pg_oidc_code_insert(store *st, const store_auth_code *c, idp_error *err)
{
    if (!nonempty(c->client_id) || !nonempty(c->user_id) || !nonempty(c->redirect_uri))
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "store: code_insert: missing client, user or redirect_uri");
    pg_params p = {0};
    store_pg_bytea(&p, c->hash, 32);
    store_pg_text(&p, c->client_id);
    store_pg_text(&p, c->user_id);
    store_pg_text(&p, c->redirect_uri);
    store_pg_text(&p, c->scope);
    store_pg_text(&p, c->resource);
    store_pg_text(&p, c->nonce);
    store_pg_text(&p, c->code_challenge);
    store_pg_text(&p, c->session_id);
    store_pg_i64(&p, c->auth_time);
    store_pg_text(&p, c->amr);
    store_pg_i64(&p, c->user_epoch);
    store_pg_i64(&p, c->created_at);
    store_pg_i64(&p, c->expires_at);
    store_pg_i64(&p, c->used_at);
    store_pg_text(&p, c->family_id);
    store_pg_text(&p, c->access_jti);
    store_pg_i64(&p, c->access_exp);
    /* an unknown client or user fails its foreign key: IDP_ERR_INVALID */
    return op_write(st, O_CODE_INSERT, &p, "code_insert", false, NULL, err);
}

idp_err store_pg_oidc_code_consume(store *st, const unsigned char hash[32], int64_t now,
                                   store_auth_code *out, bool *replayed, idp_error *err)
{
    memset(out, 0, sizeof *out);
    *replayed = false;
    if (now <= 0) return IDP_FAIL(err, IDP_ERR_INVALID, "store: code_consume: time must be > 0");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0}, g = {0};
        store_pg_bytea(&p, hash, 32);
        store_pg_i64(&p, now);
        store_pg_bytea(&g, hash, 32);
        *replayed = false;
        if ((rc = ex(st, O_CODE_CONSUME, &p, "code_consume", &r, err))) continue;
        if (PQntuples(r) == 0) {
            PQclear(r);
            if ((rc = ex(st, O_CODE_GET, &g, "code_consume", &r, err))) continue;
            if (PQntuples(r) == 0) {
                rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such authorization code");
                PQclear(r);
                continue;
            }
            *replayed = true;
        }
        if ((rc = code_row(r, 0, out, err))) {
            code_clear(out);
            *replayed = false;
        }
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_oidc_code_set_issued(store *st, const unsigned char hash[32],
                                      const char *family_id, const char *access_jti,
                                      int64_t access_exp, idp_error *err)
{
    pg_params p = {0};
    store_pg_bytea(&p, hash, 32);
    store_pg_text(&p, family_id);
    store_pg_text(&p, access_jti);
    store_pg_i64(&p, access_exp);
    return op_write(st, O_CODE_SET_ISSUED, &p, "code_set_issued", true, NULL, err);
}

/* ---- refresh tokens ------------------------------------------------------------------------- */

static idp_err rt_row(const PGresult *res, int i, void *row, idp_error *err)
{
    store_refresh *r = row;
    bool ok = store_pg_bytes(res, i, 0, r->hash, 32);
    r->family_id = store_pg_str(res, i, 1);
    r->client_id = store_pg_str(res, i, 2);
    r->user_id = store_pg_str(res, i, 3);
    r->scope = store_pg_str(res, i, 4);
    r->resource = store_pg_str(res, i, 5);
    r->session_id = store_pg_str(res, i, 6);
    r->auth_time = store_pg_int(res, i, 7);
    r->amr = store_pg_str(res, i, 8);
    r->nonce = store_pg_str(res, i, 9);
    r->user_epoch = store_pg_int(res, i, 10);
    r->created_at = store_pg_int(res, i, 11);
    r->expires_at = store_pg_int(res, i, 12);
    r->rotated_at = store_pg_int(res, i, 13);
    r->revoked_at = store_pg_int(res, i, 14);
    if (!ok || !r->family_id || !r->client_id || !r->user_id || !r->scope)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: refresh token row is malformed");
    return IDP_OK;
}

static void rt_clear(void *row)
{
    store_refresh_clear(row);
}

static idp_err rt_check(const store_refresh *r, const char *what, idp_error *err)
{
    if (!nonempty(r->family_id) || !nonempty(r->client_id) || !nonempty(r->user_id))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: missing family, client or user", what);
    return IDP_OK;
}

static void rt_bind(pg_params *p, const store_refresh *r)
{
    store_pg_bytea(p, r->hash, 32);
    store_pg_text(p, r->family_id);
    store_pg_text(p, r->client_id);
    store_pg_text(p, r->user_id);
    store_pg_text(p, r->scope);
    store_pg_text(p, r->resource);
    store_pg_text(p, r->session_id);
    store_pg_i64(p, r->auth_time);
    store_pg_text(p, r->amr);
    store_pg_text(p, r->nonce);
    store_pg_i64(p, r->user_epoch);
    store_pg_i64(p, r->created_at);
    store_pg_i64(p, r->expires_at);
    store_pg_i64(p, r->rotated_at);
    store_pg_i64(p, r->revoked_at);
}

idp_err store_pg_oidc_refresh_insert(store *st, const store_refresh *r, idp_error *err)
{
    idp_err rc = rt_check(r, "refresh_insert", err);
    if (rc) return rc;
    pg_params p = {0};
    rt_bind(&p, r);
    return op_write(st, O_RT_INSERT, &p, "refresh_insert", false, NULL, err);
}

idp_err store_pg_oidc_refresh_get(store *st, const unsigned char hash[32], store_refresh *out,
                                  idp_error *err)
{
    bool found = false;
    memset(out, 0, sizeof *out);
    pg_params p = {0};
    store_pg_bytea(&p, hash, 32);
    idp_err rc = op_read_one(st, O_RT_GET, &p, "refresh_get", rt_row, rt_clear, out, &found, err);
    if (!rc && !found) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such refresh token");
    return rc;
}

idp_err store_pg_oidc_refresh_rotate(store *st, const unsigned char old_hash[32],
                                     const store_refresh *succ, int64_t now, bool *raced,
                                     idp_error *err)
{
    *raced = false;
    if (now <= 0) return IDP_FAIL(err, IDP_ERR_INVALID, "store: refresh_rotate: time must be > 0");
    if (!nonempty(succ->family_id))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: refresh_rotate: missing family");
    idp_err rc = rt_check(succ, "refresh_rotate", err);
    if (rc) return rc;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        PGresult *r = NULL;
        int64_t changes = 0;
        pg_params m = {0}, f = {0}, ins = {0};
        store_pg_bytea(&m, old_hash, 32);
        store_pg_i64(&m, now);
        store_pg_text(&m, succ->family_id);
        store_pg_bytea(&f, old_hash, 32);
        rt_bind(&ins, succ);
        *raced = false;
        if ((rc = wr(st, O_RT_MARK_ROTATED, &m, "refresh_rotate", &changes, err))) continue;
        if (changes == 1) {
            rc = wr(st, O_RT_INSERT, &ins, "refresh_rotate", NULL, err);
            continue;
        }
        /* nothing marked: absent, another family (a caller bug), or lost the race */
        if ((rc = ex(st, O_RT_FAMILY_OF, &f, "refresh token family", &r, err))) continue;
        if (PQntuples(r) == 0)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such refresh token");
        else if (store_pg_isnull(r, 0, 0) || strcmp(PQgetvalue(r, 0, 0), succ->family_id) != 0)
            rc = IDP_FAIL(err, IDP_ERR_INVALID,
                          "store: refresh_rotate: successor of another family");
        else
            *raced = true;
        PQclear(r);
    }
    if (rc) *raced = false;
    return rc;
}

static idp_err rt_revoke_by(store *st, pgo_id id, const char *key, int64_t now, const char *what,
                            idp_error *err)
{
    if (now <= 0) return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: time must be > 0", what);
    pg_params p = {0};
    store_pg_text(&p, key);
    store_pg_i64(&p, now);
    return op_write(st, id, &p, what, false, NULL, err);
}

idp_err store_pg_oidc_refresh_revoke_family(store *st, const char *family_id, int64_t now,
                                            idp_error *err)
{
    return rt_revoke_by(st, O_RT_REVOKE_FAMILY, family_id, now, "refresh_revoke_family", err);
}

idp_err store_pg_oidc_refresh_revoke_user(store *st, const char *user_id, int64_t now,
                                          idp_error *err)
{
    return rt_revoke_by(st, O_RT_REVOKE_USER, user_id, now, "refresh_revoke_user", err);
}

idp_err store_pg_oidc_refresh_revoke_session(store *st, const char *session_id, int64_t now,
                                             size_t *n, idp_error *err)
{
    size_t live = 0;
    if (n) *n = 0;
    if (now <= 0)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: refresh_revoke_session: time must be > 0");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, session_id);
        store_pg_i64(&p, now);
        live = 0;
        if ((rc = ex(st, O_RT_REVOKE_SESSION, &p, "refresh_revoke_session", &r, err))) continue;
        for (int i = 0; i < PQntuples(r); i++)
            if (store_pg_int(r, i, 0) == 0) live++;
        PQclear(r);
    }
    if (!rc && n) *n = live;
    return rc;
}

/* ---- sessions ------------------------------------------------------------------------------- */

static idp_err ss_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_session *s = row;
    bool ok = store_pg_bytes(r, i, 0, s->hash, 32);
    s->sid = store_pg_str(r, i, 1);
    s->user_id = store_pg_str(r, i, 2);
    s->user_epoch = store_pg_int(r, i, 3);
    s->auth_time = store_pg_int(r, i, 4);
    s->amr = store_pg_str(r, i, 5);
    s->created_at = store_pg_int(r, i, 6);
    s->last_seen = store_pg_int(r, i, 7);
    s->expires_at = store_pg_int(r, i, 8);
    s->clients = store_pg_str(r, i, 9);
    if (!ok || !s->sid || !s->user_id || !s->clients)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: session row is malformed");
    return IDP_OK;
}

static void ss_clear(void *row)
{
    store_session_clear(row);
}

idp_err store_pg_oidc_session_insert(store *st, const store_session *s, idp_error *err)
{
    if (!nonempty(s->sid) || !nonempty(s->user_id))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: session_insert: missing sid or user");
    pg_params p = {0};
    store_pg_bytea(&p, s->hash, 32);
    store_pg_text(&p, s->sid);
    store_pg_text(&p, s->user_id);
    store_pg_i64(&p, s->user_epoch);
    store_pg_i64(&p, s->auth_time);
    store_pg_text(&p, s->amr);
    store_pg_i64(&p, s->created_at);
    store_pg_i64(&p, s->last_seen);
    store_pg_i64(&p, s->expires_at);
    store_pg_text(&p, s->clients);
    /* CONFLICT on a duplicate cookie hash or sid */
    return op_write(st, O_SS_INSERT, &p, "session_insert", false, NULL, err);
}

static idp_err ss_get(store *st, pgo_id id, const void *key, bool blob, store_session *out,
                      idp_error *err)
{
    bool found = false;
    memset(out, 0, sizeof *out);
    pg_params p = {0};
    if (blob)
        store_pg_bytea(&p, key, 32);
    else
        store_pg_text(&p, key);
    idp_err rc = op_read_one(st, id, &p, "session_get", ss_row, ss_clear, out, &found, err);
    if (!rc && !found) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such session");
    return rc;
}

idp_err store_pg_oidc_session_get(store *st, const unsigned char hash[32], store_session *out,
                                  idp_error *err)
{
    return ss_get(st, O_SS_GET, hash, true, out, err);
}

idp_err store_pg_oidc_session_get_by_sid(store *st, const char *sid, store_session *out,
                                         idp_error *err)
{
    if (!sid) {
        memset(out, 0, sizeof *out);
        return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such session");
    }
    return ss_get(st, O_SS_GET_SID, sid, false, out, err);
}

idp_err store_pg_oidc_session_touch(store *st, const unsigned char hash[32], int64_t now,
                                    idp_error *err)
{
    pg_params p = {0};
    store_pg_bytea(&p, hash, 32);
    store_pg_i64(&p, now);
    return op_write(st, O_SS_TOUCH, &p, "session_touch", true, NULL, err);
}

static bool list_item_ok(const char *s)
{
    if (!nonempty(s) || strlen(s) > 1024) return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) return false;
    return true;
}

idp_err store_pg_oidc_session_add_client(store *st, const unsigned char hash[32],
                                         const char *client_id, idp_error *err)
{
    if (!list_item_ok(client_id))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: session_add_client: invalid client_id");
    pg_params p = {0};
    store_pg_bytea(&p, hash, 32);
    store_pg_text(&p, client_id);
    return op_write(st, O_SS_ADD_CLIENT, &p, "session_add_client", true, NULL, err);
}

idp_err store_pg_oidc_session_delete(store *st, const unsigned char hash[32], idp_error *err)
{
    pg_params p = {0};
    store_pg_bytea(&p, hash, 32);
    return op_write(st, O_SS_DELETE, &p, "session_delete", true, NULL, err);
}

idp_err store_pg_oidc_session_delete_user(store *st, const char *user_id, size_t *n, idp_error *err)
{
    int64_t changes = 0;
    if (n) *n = 0;
    pg_params p = {0};
    store_pg_text(&p, user_id);
    idp_err rc = op_write(st, O_SS_DELETE_USER, &p, "session_delete_user", false, &changes, err);
    if (!rc && n) *n = (size_t)changes;
    return rc;
}

idp_err store_pg_oidc_session_list_user(store *st, const char *user_id, store_session **rows,
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
        store_pg_text(&p, user_id);
        if ((rc = ex(st, O_SS_LIST_USER, &p, "session_list_user", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_session), PGO_MAX_ROWS, ss_row, ss_clear, &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

/* ---- login throttling ----------------------------------------------------------------------- */

static idp_err lf_key_check(const char *key, const char *what, idp_error *err)
{
    if (!nonempty(key) || strnlen(key, STORE_LOGIN_KEY_MAX + 1) > STORE_LOGIN_KEY_MAX)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: empty or too long key", what);
    return IDP_OK;
}

/* Makes room for a new key under cap (see store.h): IDP_OK when key exists or there is room. */
static idp_err lf_make_room(store *st, const char *key, const store_login_cap *cap, idp_error *err)
{
    PGresult *r = NULL;
    pg_params k = {0}, e = {0};
    store_pg_text(&k, key);
    idp_err rc = ex(st, O_LF_GET, &k, "login_fail", &r, err);
    if (rc) return rc;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    if (found) return IDP_OK;
    if ((rc = ex(st, O_LF_COUNT, NULL, "login_fail count", &r, err))) return rc;
    int64_t n = PQntuples(r) > 0 ? store_pg_int(r, 0, 0) : 0;
    PQclear(r);
    if (n < cap->max_keys) return IDP_OK;
    int64_t changes = 0;
    store_pg_i64(&e, cap->fails_below);
    store_pg_i64(&e, cap->idle_before);
    if ((rc = wr(st, O_LF_EVICT, &e, "login_fail evict", &changes, err))) return rc;
    if (changes == 0)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: login_fail: every counter is in use");
    return IDP_OK;
}

idp_err store_pg_oidc_login_fail(store *st, const char *key, int64_t now,
                                 const store_login_cap *cap, int64_t *fails, idp_error *err)
{
    int64_t f = 0;
    *fails = 0;
    idp_err rc = lf_key_check(key, "login_fail", err);
    if (rc) return rc;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, key);
        store_pg_i64(&p, now);
        if (cap && (rc = lf_make_room(st, key, cap, err))) continue;
        if ((rc = ex(st, O_LF_FAIL, &p, "login_fail", &r, err))) continue;
        f = PQntuples(r) > 0 ? store_pg_int(r, 0, 0) : 0;
        PQclear(r);
    }
    if (!rc) *fails = f;
    return rc;
}

idp_err store_pg_oidc_login_fail_get(store *st, const char *key, int64_t *fails, int64_t *last_at,
                                     idp_error *err)
{
    *fails = 0;
    if (last_at) *last_at = 0;
    idp_err rc = lf_key_check(key, "login_fail_get", err);
    if (rc) return rc;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, key);
        if ((rc = ex(st, O_LF_GET, &p, "login_fail_get", &r, err))) continue;
        if (PQntuples(r) > 0) {
            *fails = store_pg_int(r, 0, 0);
            if (last_at) *last_at = store_pg_int(r, 0, 1);
        }
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_oidc_login_fail_reset(store *st, const char *key, idp_error *err)
{
    idp_err rc = lf_key_check(key, "login_fail_reset", err);
    if (rc) return rc;
    pg_params p = {0};
    store_pg_text(&p, key);
    return op_write(st, O_LF_RESET, &p, "login_fail_reset", false, NULL, err);
}

/* ---- client assertion jtis (RFC 7523 §3) ---------------------------------------------------- */

idp_err store_pg_oidc_assertion_jti_use(store *st, const char *client_id, const char *jti,
                                        int64_t exp, idp_error *err)
{
    if (!nonempty(client_id) || !nonempty(jti) || strnlen(jti, STORE_JTI_MAX + 1) > STORE_JTI_MAX)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: assertion_jti_use: empty or too long jti");
    pg_params p = {0};
    store_pg_text(&p, client_id);
    store_pg_text(&p, jti);
    store_pg_i64(&p, exp);
    /* the primary key (client_id, jti): a replay is IDP_ERR_CONFLICT */
    return op_write(st, O_AJ_USE, &p, "assertion_jti_use", false, NULL, err);
}

/* ---- consent -------------------------------------------------------------------------------- */

idp_err store_pg_oidc_consent_get(store *st, const char *user_id, const char *client_id,
                                  char **scope, idp_error *err)
{
    idp_err rc = IDP_OK;
    *scope = NULL;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, user_id);
        store_pg_text(&p, client_id);
        if ((rc = ex(st, O_CS_GET, &p, "consent_get", &r, err))) continue;
        if (PQntuples(r) == 0)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no consent");
        else
            *scope = xstrdup(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_oidc_consent_set(store *st, const char *user_id, const char *client_id,
                                  const char *scope, int64_t now, idp_error *err)
{
    if (!nonempty(user_id) || !nonempty(client_id) || !scope)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: consent_set: missing field");
    pg_params p = {0};
    store_pg_text(&p, user_id);
    store_pg_text(&p, client_id);
    store_pg_text(&p, scope);
    store_pg_i64(&p, now);
    return op_write(st, O_CS_SET, &p, "consent_set", false, NULL, err);
}

/* ---- password rehash (DESIGN §5) ------------------------------------------------------------ */

idp_err store_pg_oidc_user_rehash(store *st, const char *user_id, const char *old_hash,
                                  const char *new_hash, bool *done, idp_error *err)
{
    int64_t changes = 0;
    *done = false;
    if (!nonempty(user_id) || !nonempty(old_hash) || !nonempty(new_hash))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: user_rehash: missing field");
    pg_params p = {0};
    store_pg_text(&p, user_id);
    store_pg_text(&p, old_hash);
    store_pg_text(&p, new_hash);
    idp_err rc = op_write(st, O_PW_REHASH, &p, "user_rehash", false, &changes, err);
    if (!rc) *done = changes == 1;
    return rc;
}

/* ---- prune ---------------------------------------------------------------------------------- */

idp_err store_pg_oidc_prune(store *st, int64_t now, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params both = {0}, n = {0}, grace = {0}, day = {0};
        store_pg_i64(&both, now);
        store_pg_i64(&both, now - STORE_PRUNE_GRACE);
        store_pg_i64(&n, now);
        store_pg_i64(&grace, now - STORE_PRUNE_GRACE);
        store_pg_i64(&day, now - PGO_DAY);
        if ((rc = wr(st, O_PRUNE_CODES, &both, "oidc_prune", NULL, err)) ||
            (rc = wr(st, O_PRUNE_RT, &n, "oidc_prune", NULL, err)) ||
            (rc = wr(st, O_PRUNE_SS, &n, "oidc_prune", NULL, err)) ||
            (rc = wr(st, O_PRUNE_AJ, &grace, "oidc_prune", NULL, err)) ||
            (rc = wr(st, O_PRUNE_LF, &day, "oidc_prune", NULL, err)))
            continue;
        rc = store_pg_fed_prune(st, now - STORE_PRUNE_GRACE, err);
    }
    return rc;
}
