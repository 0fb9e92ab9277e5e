/* store_sqlite_oidc — end-user sign-in (authorization codes, refresh tokens, browser sessions,
 * login throttling, client assertion jtis, consent, password rehash) on SQLite (schema:
 * migrations/0003_oidc.sql, 0004_consent.sql; ops documented in store.h). Policy versions are
 * in store_sqlite_policy.c, federation in store_sqlite_fed.c.
 *
 *  - Constant SQL prepared once per connection, in store_sqlite_xstmt slots from SQ_XSTMT_OIDC up.
 *  - Single-use artefacts are consumed in one atomic statement (UPDATE ... WHERE used_at = 0
 *    RETURNING), so two racing requests cannot both win. Multi-statement ops (rotation, login
 *    throttling, prune) are atomic through store_sqlite_op_begin/_end (store_sqlite_op.c).
 *  - Secrets never reach this file: codes, refresh tokens and cookies arrive as SHA-256. */
#include "store/sqlite/internal.h"

#include "core/mem.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define SQO_MAX_ROWS 100000 /* rows one list op returns */
#define SQO_DAY 86400

#define CODE_COLS                                                                                  \
    "hash, client_id, user_id, redirect_uri, scope, resource, nonce, code_challenge, "             \
    "session_id, auth_time, amr, user_epoch, created_at, expires_at, used_at, family_id, "         \
    "access_jti, access_exp"
#define RT_COLS                                                                                    \
    "hash, family_id, client_id, user_id, scope, resource, session_id, auth_time, amr, nonce, "    \
    "user_epoch, created_at, expires_at, rotated_at, revoked_at"
#define SS_COLS                                                                                    \
    "hash, sid, user_id, user_epoch, auth_time, amr, created_at, last_seen, expires_at, clients"

typedef enum sqo_id {
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
} sqo_id;
_Static_assert(SQ_XSTMT_OIDC + O__COUNT <= SQ_XSTMT_OIDC_END, "statement slots");

static const char *const sqo_sql[O__COUNT] = {
    [O_CODE_INSERT] = "INSERT INTO auth_codes (" CODE_COLS ") VALUES (?1, ?2, ?3, ?4, "
                      "COALESCE(?5, ''), ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
                      "?18)",
    /* RFC 6749 §4.1.2 single use: only one caller can see used_at = 0 turn into now. */
    [O_CODE_CONSUME] = "UPDATE auth_codes SET used_at = ?2 WHERE hash = ?1 AND used_at = 0 "
                       "RETURNING " CODE_COLS,
    [O_CODE_GET] = "SELECT " CODE_COLS " FROM auth_codes WHERE hash = ?1",
    [O_CODE_SET_ISSUED] = "UPDATE auth_codes SET family_id = ?2, access_jti = ?3, "
                          "access_exp = ?4 WHERE hash = ?1",

    [O_RT_INSERT] = "INSERT INTO refresh_tokens (" RT_COLS ") VALUES (?1, ?2, ?3, ?4, "
                    "COALESCE(?5, ''), ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [O_RT_GET] = "SELECT " RT_COLS " FROM refresh_tokens WHERE hash = ?1",
    [O_RT_MARK_ROTATED] = "UPDATE refresh_tokens SET rotated_at = ?2 WHERE hash = ?1 AND "
                          "family_id = ?3 AND rotated_at = 0 AND revoked_at = 0",
    [O_RT_FAMILY_OF] = "SELECT family_id FROM refresh_tokens WHERE hash = ?1",
    [O_RT_REVOKE_FAMILY] = "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 "
                           "AND revoked_at = 0",
    [O_RT_REVOKE_SESSION] = "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at = 0 AND "
                            "family_id IN (SELECT family_id FROM refresh_tokens "
                            "WHERE session_id = ?1) RETURNING rotated_at",
    [O_RT_REVOKE_USER] = "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 "
                         "AND revoked_at = 0",

    [O_SS_INSERT] = "INSERT INTO sessions (" SS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                    "CASE WHEN ?8 = 0 THEN ?7 ELSE ?8 END, ?9, COALESCE(?10, ''))",
    [O_SS_GET] = "SELECT " SS_COLS " FROM sessions WHERE hash = ?1",
    [O_SS_GET_SID] = "SELECT " SS_COLS " FROM sessions WHERE sid = ?1",
    [O_SS_TOUCH] = "UPDATE sessions SET last_seen = max(last_seen, ?2) WHERE hash = ?1",
    /* Idempotent append to the space-separated list. */
    [O_SS_ADD_CLIENT] = "UPDATE sessions SET clients = CASE "
                        "WHEN instr(' ' || clients || ' ', ' ' || ?2 || ' ') > 0 THEN clients "
                        "WHEN clients = '' THEN ?2 ELSE clients || ' ' || ?2 END "
                        "WHERE hash = ?1",
    [O_SS_DELETE] = "DELETE FROM sessions WHERE hash = ?1",
    [O_SS_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1",
    [O_SS_LIST_USER] = "SELECT " SS_COLS " FROM sessions WHERE user_id = ?1 "
                       "ORDER BY created_at, sid",

    [O_LF_FAIL] = "INSERT INTO login_failures (key, fails, first_at, last_at) "
                  "VALUES (?1, 1, ?2, ?2) ON CONFLICT (key) DO UPDATE SET fails = fails + 1, "
                  "last_at = max(last_at, excluded.last_at) RETURNING fails",
    [O_LF_GET] = "SELECT fails, last_at FROM login_failures WHERE key = ?1",
    [O_LF_RESET] = "DELETE FROM login_failures WHERE key = ?1",
    [O_LF_COUNT] = "SELECT count(*) FROM login_failures",
    /* the oldest counter that slows nobody (store_sqlite_oidc_login_fail) */
    [O_LF_EVICT] = "DELETE FROM login_failures WHERE key = (SELECT key FROM login_failures "
                   "WHERE fails < ?1 OR last_at < ?2 ORDER BY last_at LIMIT 1)",

    [O_AJ_USE] = "INSERT INTO assertion_jtis (client_id, jti, exp) VALUES (?1, ?2, ?3)",

    [O_PW_REHASH] = "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
    [O_CS_GET] = "SELECT scope FROM consents WHERE user_id = ?1 AND client_id = ?2",
    [O_CS_SET] =
        "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, "
        "granted_at = excluded.granted_at",

    /* ?1 = now, ?2 = now - STORE_PRUNE_GRACE, ?3 = now - 1 day (store_sqlite_oidc_prune) */
    [O_PRUNE_CODES] = "DELETE FROM auth_codes WHERE expires_at < ?1 AND "
                      "(used_at = 0 OR expires_at < ?2)",
    [O_PRUNE_RT] = "DELETE FROM refresh_tokens WHERE expires_at < ?1",
    [O_PRUNE_SS] = "DELETE FROM sessions WHERE expires_at < ?1",
    [O_PRUNE_AJ] = "DELETE FROM assertion_jtis WHERE exp < ?2",
    [O_PRUNE_LF] = "DELETE FROM login_failures WHERE last_at < ?3",
};

static idp_err stmt(store *st, sqo_id id, sqlite3_stmt **q, idp_error *err)
{
    return store_sqlite_xstmt(st, SQ_XSTMT_OIDC + (int)id, sqo_sql[id], q, err);
}

static bool col_hash(sqlite3_stmt *q, int i, unsigned char out[32])
{
    if (sqlite3_column_type(q, i) != SQLITE_BLOB || sqlite3_column_bytes(q, i) != 32) return false;
    memcpy(out, sqlite3_column_blob(q, i), 32);
    return true;
}

static bool nonempty(const char *s)
{
    return s && *s;
}

/* ---- authorization codes -------------------------------------------------------------------- */

static idp_err code_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_auth_code *c = row;
    bool ok = col_hash(q, 0, c->hash);
    c->client_id = store_sqlite_col_str(q, 1);
    c->user_id = store_sqlite_col_str(q, 2);
    c->redirect_uri = store_sqlite_col_str(q, 3);
    c->scope = store_sqlite_col_str(q, 4);
    c->resource = store_sqlite_col_str(q, 5);
    c->nonce = store_sqlite_col_str(q, 6);
    c->code_challenge = store_sqlite_col_str(q, 7);
    c->session_id = store_sqlite_col_str(q, 8);
    c->auth_time = sqlite3_column_int64(q, 9);
    c->amr = store_sqlite_col_str(q, 10);
    c->user_epoch = sqlite3_column_int64(q, 11);
    c->created_at = sqlite3_column_int64(q, 12);
    c->expires_at = sqlite3_column_int64(q, 13);
    c->used_at = sqlite3_column_int64(q, 14);
    c->family_id = store_sqlite_col_str(q, 15);
    c->access_jti = store_sqlite_col_str(q, 16);
    c->access_exp = sqlite3_column_int64(q, 17);
    if (!ok || !c->client_id || !c->user_id || !c->redirect_uri || !c->scope)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: authorization code row is malformed");
    return IDP_OK;
}

static void code_clear(void *row)
{
    store_auth_code_clear(row);
}

idp_err store_sqlite_oidc_code_insert(store *st, const store_auth_code *c, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!nonempty(c->client_id) || !nonempty(c->user_id) || !nonempty(c->redirect_uri))
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "store: code_insert: missing client, user or "
                        "redirect_uri");
    idp_err rc = stmt(st, O_CODE_INSERT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, c->hash, 32, &b);
    store_sqlite_bind_text(q, 2, c->client_id, &b);
    store_sqlite_bind_text(q, 3, c->user_id, &b);
    store_sqlite_bind_text(q, 4, c->redirect_uri, &b);
    store_sqlite_bind_text(q, 5, c->scope, &b);
    store_sqlite_bind_text(q, 6, c->resource, &b);
    store_sqlite_bind_text(q, 7, c->nonce, &b);
    store_sqlite_bind_text(q, 8, c->code_challenge, &b);
    store_sqlite_bind_text(q, 9, c->session_id, &b);
    store_sqlite_bind_i64(q, 10, c->auth_time, &b);
    store_sqlite_bind_text(q, 11, c->amr, &b);
    store_sqlite_bind_i64(q, 12, c->user_epoch, &b);
    store_sqlite_bind_i64(q, 13, c->created_at, &b);
    store_sqlite_bind_i64(q, 14, c->expires_at, &b);
    store_sqlite_bind_i64(q, 15, c->used_at, &b);
    store_sqlite_bind_text(q, 16, c->family_id, &b);
    store_sqlite_bind_text(q, 17, c->access_jti, &b);
    store_sqlite_bind_i64(q, 18, c->access_exp, &b);
    /* An unknown client or user fails its foreign key: IDP_ERR_INVALID. */
    return store_sqlite_write(q, b, "code_insert", NULL, err);
}

/* One atomic UPDATE decides the winner; a loser reads the row as it is (replay). */
idp_err store_sqlite_oidc_code_consume(store *st, const unsigned char hash[32], int64_t now,
                                       store_auth_code *out, bool *replayed, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool found = false;
    memset(out, 0, sizeof *out);
    *replayed = false;
    if (now <= 0) return IDP_FAIL(err, IDP_ERR_INVALID, "store: code_consume: time must be > 0");
    idp_err rc = stmt(st, O_CODE_CONSUME, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, hash, 32, &b);
    store_sqlite_bind_i64(q, 2, now, &b);
    rc = store_sqlite_op_one(q, b, "code_consume", code_row, code_clear, out, &found, err);
    if (rc || found) return rc;
    if ((rc = stmt(st, O_CODE_GET, &q, err))) return rc;
    b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, hash, 32, &b);
    rc = store_sqlite_op_one(q, b, "code_consume", code_row, code_clear, out, &found, err);
    if (rc) return rc;
    if (!found) return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such authorization code");
    *replayed = true;
    return IDP_OK;
}

idp_err store_sqlite_oidc_code_set_issued(store *st, const unsigned char hash[32],
                                          const char *family_id, const char *access_jti,
                                          int64_t access_exp, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, O_CODE_SET_ISSUED, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, hash, 32, &b);
    store_sqlite_bind_text(q, 2, family_id, &b);
    store_sqlite_bind_text(q, 3, access_jti, &b);
    store_sqlite_bind_i64(q, 4, access_exp, &b);
    return store_sqlite_write_one(q, b, "code_set_issued", err);
}

/* ---- refresh tokens ------------------------------------------------------------------------- */

static idp_err rt_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_refresh *r = row;
    bool ok = col_hash(q, 0, r->hash);
    r->family_id = store_sqlite_col_str(q, 1);
    r->client_id = store_sqlite_col_str(q, 2);
    r->user_id = store_sqlite_col_str(q, 3);
    r->scope = store_sqlite_col_str(q, 4);
    r->resource = store_sqlite_col_str(q, 5);
    r->session_id = store_sqlite_col_str(q, 6);
    r->auth_time = sqlite3_column_int64(q, 7);
    r->amr = store_sqlite_col_str(q, 8);
    r->nonce = store_sqlite_col_str(q, 9);
    r->user_epoch = sqlite3_column_int64(q, 10);
    r->created_at = sqlite3_column_int64(q, 11);
    r->expires_at = sqlite3_column_int64(q, 12);
    r->rotated_at = sqlite3_column_int64(q, 13);
    r->revoked_at = sqlite3_column_int64(q, 14);
    if (!ok || !r->family_id || !r->client_id || !r->user_id || !r->scope)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: refresh token row is malformed");
    return IDP_OK;
}

static void rt_clear(void *row)
{
    store_refresh_clear(row);
}

static idp_err rt_insert(store *st, const store_refresh *r, const char *what, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!nonempty(r->family_id) || !nonempty(r->client_id) || !nonempty(r->user_id))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: missing family, client or user", what);
    idp_err rc = stmt(st, O_RT_INSERT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, r->hash, 32, &b);
    store_sqlite_bind_text(q, 2, r->family_id, &b);
    store_sqlite_bind_text(q, 3, r->client_id, &b);
    store_sqlite_bind_text(q, 4, r->user_id, &b);
    store_sqlite_bind_text(q, 5, r->scope, &b);
    store_sqlite_bind_text(q, 6, r->resource, &b);
    store_sqlite_bind_text(q, 7, r->session_id, &b);
    store_sqlite_bind_i64(q, 8, r->auth_time, &b);
    store_sqlite_bind_text(q, 9, r->amr, &b);
    store_sqlite_bind_text(q, 10, r->nonce, &b);
    store_sqlite_bind_i64(q, 11, r->user_epoch, &b);
    store_sqlite_bind_i64(q, 12, r->created_at, &b);
    store_sqlite_bind_i64(q, 13, r->expires_at, &b);
    store_sqlite_bind_i64(q, 14, r->rotated_at, &b);
    store_sqlite_bind_i64(q, 15, r->revoked_at, &b);
    return store_sqlite_write(q, b, what, NULL, err);
}

idp_err store_sqlite_oidc_refresh_insert(store *st, const store_refresh *r, idp_error *err)
{
    return rt_insert(st, r, "refresh_insert", err);
}

idp_err store_sqlite_oidc_refresh_get(store *st, const unsigned char hash[32], store_refresh *out,
                                      idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool found = false;
    memset(out, 0, sizeof *out);
    idp_err rc = stmt(st, O_RT_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, hash, 32, &b);
    rc = store_sqlite_op_one(q, b, "refresh_get", rt_row, rt_clear, out, &found, err);
    if (!rc && !found) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such refresh token");
    return rc;
}

/* The family of the token hash into *family (owned); NOT_FOUND. */
static idp_err rt_family_of(store *st, const unsigned char hash[32], char **family, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *family = NULL;
    idp_err rc = stmt(st, O_RT_FAMILY_OF, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, hash, 32, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW && (*family = store_sqlite_col_str(q, 0)) != NULL)
        rc = IDP_OK;
    else if (r == SQLITE_ROW)
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: refresh token row is malformed");
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such refresh token");
    else
        rc = store_sqlite_fail(err, r, "refresh token family");
    store_sqlite_done(q);
    return rc;
}

/* Compare-and-set on (rotated_at = 0, revoked_at = 0), then the successor, in one transaction. */
idp_err store_sqlite_oidc_refresh_rotate(store *st, const unsigned char old_hash[32],
                                         const store_refresh *succ, int64_t now, bool *raced,
                                         idp_error *err)
{
    sqlite3_stmt *q = NULL;
    char *family = NULL;
    bool own = false;
    int changes = 0;
    *raced = false;
    if (now <= 0) return IDP_FAIL(err, IDP_ERR_INVALID, "store: refresh_rotate: time must be > 0");
    if (!nonempty(succ->family_id))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: refresh_rotate: missing family");
    idp_err rc = store_sqlite_op_begin(st, &own, err);
    if (rc) return rc;
    if ((rc = stmt(st, O_RT_MARK_ROTATED, &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, old_hash, 32, &b);
    store_sqlite_bind_i64(q, 2, now, &b);
    store_sqlite_bind_text(q, 3, succ->family_id, &b);
    if ((rc = store_sqlite_write(q, b, "refresh_rotate", &changes, err))) goto out;
    if (changes == 1) {
        rc = rt_insert(st, succ, "refresh_rotate", err);
        goto out;
    }
    /* Nothing marked: absent, another family (a caller bug), or lost the race. */
    if ((rc = rt_family_of(st, old_hash, &family, err))) goto out;
    if (strcmp(family, succ->family_id) != 0)
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "store: refresh_rotate: successor of another family");
    else
        *raced = true;
out:
    free(family);
    return store_sqlite_op_end(st, own, rc, err);
}

static idp_err rt_revoke_by(store *st, sqo_id id, const char *key, int64_t now, const char *what,
                            idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (now <= 0) return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: time must be > 0", what);
    idp_err rc = stmt(st, id, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    store_sqlite_bind_i64(q, 2, now, &b);
    return store_sqlite_write(q, b, what, NULL, err);
}

idp_err store_sqlite_oidc_refresh_revoke_family(store *st, const char *family_id, int64_t now,
                                                idp_error *err)
{
    return rt_revoke_by(st, O_RT_REVOKE_FAMILY, family_id, now, "refresh_revoke_family", err);
}

idp_err store_sqlite_oidc_refresh_revoke_user(store *st, const char *user_id, int64_t now,
                                              idp_error *err)
{
    return rt_revoke_by(st, O_RT_REVOKE_USER, user_id, now, "refresh_revoke_user", err);
}

/* One statement (atomic); each RETURNING row is a token revoked now, counted when current. */
idp_err store_sqlite_oidc_refresh_revoke_session(store *st, const char *session_id, int64_t now,
                                                 size_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    size_t live = 0;
    if (n) *n = 0;
    if (now <= 0)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: refresh_revoke_session: time must be > 0");
    idp_err rc = stmt(st, O_RT_REVOKE_SESSION, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, session_id, &b);
    store_sqlite_bind_i64(q, 2, now, &b);
    int r = b;
    while (r == SQLITE_OK || r == SQLITE_ROW) {
        if (r == SQLITE_ROW && sqlite3_column_int64(q, 0) == 0) live++;
        r = store_sqlite_step(q);
    }
    if (r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "refresh_revoke_session");
    store_sqlite_done(q);
    if (!rc && n) *n = live;
    return rc;
}

/* ---- sessions ------------------------------------------------------------------------------- */

static idp_err ss_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_session *s = row;
    bool ok = col_hash(q, 0, s->hash);
    s->sid = store_sqlite_col_str(q, 1);
    s->user_id = store_sqlite_col_str(q, 2);
    s->user_epoch = sqlite3_column_int64(q, 3);
    s->auth_time = sqlite3_column_int64(q, 4);
    s->amr = store_sqlite_col_str(q, 5);
    s->created_at = sqlite3_column_int64(q, 6);
    s->last_seen = sqlite3_column_int64(q, 7);
    s->expires_at = sqlite3_column_int64(q, 8);
    s->clients = store_sqlite_col_str(q, 9);
    if (!ok || !s->sid || !s->user_id || !s->clients)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: session row is malformed");
    return IDP_OK;
}

static void ss_clear(void *row)
{
    store_session_clear(row);
}

idp_err store_sqlite_oidc_session_insert(store *st, const store_session *s, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!nonempty(s->sid) || !nonempty(s->user_id))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: session_insert: missing sid or user");
    idp_err rc = stmt(st, O_SS_INSERT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, s->hash, 32, &b);
    store_sqlite_bind_text(q, 2, s->sid, &b);
    store_sqlite_bind_text(q, 3, s->user_id, &b);
    store_sqlite_bind_i64(q, 4, s->user_epoch, &b);
    store_sqlite_bind_i64(q, 5, s->auth_time, &b);
    store_sqlite_bind_text(q, 6, s->amr, &b);
    store_sqlite_bind_i64(q, 7, s->created_at, &b);
    store_sqlite_bind_i64(q, 8, s->last_seen, &b);
    store_sqlite_bind_i64(q, 9, s->expires_at, &b);
    store_sqlite_bind_text(q, 10, s->clients, &b);
    /* CONFLICT on a duplicate cookie hash or sid. */
    return store_sqlite_write(q, b, "session_insert", NULL, err);
}

static idp_err ss_get(store *st, sqo_id id, const void *key, bool blob, store_session *out,
                      idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool found = false;
    memset(out, 0, sizeof *out);
    idp_err rc = stmt(st, id, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    if (blob)
        store_sqlite_bind_blob(q, 1, key, 32, &b);
    else
        store_sqlite_bind_text(q, 1, key, &b);
    rc = store_sqlite_op_one(q, b, "session_get", ss_row, ss_clear, out, &found, err);
    if (!rc && !found) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such session");
    return rc;
}

idp_err store_sqlite_oidc_session_get(store *st, const unsigned char hash[32], store_session *out,
                                      idp_error *err)
{
    return ss_get(st, O_SS_GET, hash, true, out, err);
}

idp_err store_sqlite_oidc_session_get_by_sid(store *st, const char *sid, store_session *out,
                                             idp_error *err)
{
    if (!sid) {
        memset(out, 0, sizeof *out);
        return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such session");
    }
    return ss_get(st, O_SS_GET_SID, sid, false, out, err);
}

idp_err store_sqlite_oidc_session_touch(store *st, const unsigned char hash[32], int64_t now,
                                        idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, O_SS_TOUCH, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, hash, 32, &b);
    store_sqlite_bind_i64(q, 2, now, &b);
    return store_sqlite_write_one(q, b, "session_touch", err);
}

/* client_id must be a list item: non-empty, printable ASCII without spaces. */
static bool list_item_ok(const char *s)
{
    if (!nonempty(s) || strlen(s) > 1024) return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) return false;
    return true;
}

idp_err store_sqlite_oidc_session_add_client(store *st, const unsigned char hash[32],
                                             const char *client_id, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!list_item_ok(client_id))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: session_add_client: invalid client_id");
    idp_err rc = stmt(st, O_SS_ADD_CLIENT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, hash, 32, &b);
    store_sqlite_bind_text(q, 2, client_id, &b);
    return store_sqlite_write_one(q, b, "session_add_client", err);
}

idp_err store_sqlite_oidc_session_delete(store *st, const unsigned char hash[32], idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, O_SS_DELETE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_blob(q, 1, hash, 32, &b);
    return store_sqlite_write_one(q, b, "session_delete", err);
}

idp_err store_sqlite_oidc_session_delete_user(store *st, const char *user_id, size_t *n,
                                              idp_error *err)
{
    sqlite3_stmt *q = NULL;
    int changes = 0;
    if (n) *n = 0;
    idp_err rc = stmt(st, O_SS_DELETE_USER, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, user_id, &b);
    rc = store_sqlite_write(q, b, "session_delete_user", &changes, err);
    if (!rc && n) *n = (size_t)changes;
    return rc;
}

idp_err store_sqlite_oidc_session_list_user(store *st, const char *user_id, store_session **rows,
                                            size_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    *rows = NULL;
    *n = 0;
    idp_err rc = stmt(st, O_SS_LIST_USER, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, user_id, &b);
    rc = store_sqlite_op_rows(q, b, sizeof(store_session), SQO_MAX_ROWS, ss_row, ss_clear, &v, n,
                              err);
    *rows = v;
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
    sqlite3_stmt *q = NULL;
    int64_t n = 0;
    bool found = false;
    idp_err rc = stmt(st, O_LF_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    found = r == SQLITE_ROW;
    if (r != SQLITE_ROW && r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "login_fail");
    store_sqlite_done(q);
    if (rc || found || (rc = stmt(st, O_LF_COUNT, &q, err))) return rc;
    r = sqlite3_step(q);
    if (r == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    else
        rc = store_sqlite_fail(err, r, "login_fail count");
    store_sqlite_done(q);
    if (rc || n < cap->max_keys || (rc = stmt(st, O_LF_EVICT, &q, err))) return rc;
    int changes = 0;
    b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, cap->fails_below, &b);
    store_sqlite_bind_i64(q, 2, cap->idle_before, &b);
    if ((rc = store_sqlite_write(q, b, "login_fail evict", &changes, err))) return rc;
    if (changes == 0)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: login_fail: every counter is in use");
    return IDP_OK;
}

idp_err store_sqlite_oidc_login_fail(store *st, const char *key, int64_t now,
                                     const store_login_cap *cap, int64_t *fails, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool own = false;
    *fails = 0;
    idp_err rc = lf_key_check(key, "login_fail", err);
    if (rc || (rc = store_sqlite_op_begin(st, &own, err))) return rc;
    if (cap && (rc = lf_make_room(st, key, cap, err))) goto out;
    if ((rc = stmt(st, O_LF_FAIL, &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    store_sqlite_bind_i64(q, 2, now, &b);
    int r = b != SQLITE_OK ? b : store_sqlite_step(q);
    if (r == SQLITE_ROW) {
        *fails = sqlite3_column_int64(q, 0);
        r = sqlite3_step(q);
    }
    if (r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "login_fail");
    store_sqlite_done(q);
out:
    return store_sqlite_op_end(st, own, rc, err);
}

idp_err store_sqlite_oidc_login_fail_get(store *st, const char *key, int64_t *fails,
                                         int64_t *last_at, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *fails = 0;
    if (last_at) *last_at = 0;
    idp_err rc = lf_key_check(key, "login_fail_get", err);
    if (rc || (rc = stmt(st, O_LF_GET, &q, err))) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW) {
        *fails = sqlite3_column_int64(q, 0);
        if (last_at) *last_at = sqlite3_column_int64(q, 1);
    } else if (r != SQLITE_DONE) {
        rc = store_sqlite_fail(err, r, "login_fail_get");
    }
    store_sqlite_done(q);
    return rc;
}

idp_err store_sqlite_oidc_login_fail_reset(store *st, const char *key, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = lf_key_check(key, "login_fail_reset", err);
    if (rc || (rc = stmt(st, O_LF_RESET, &q, err))) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    return store_sqlite_write(q, b, "login_fail_reset", NULL, err);
}

/* ---- client assertion jtis (RFC 7523 §3) ---------------------------------------------------- */

idp_err store_sqlite_oidc_assertion_jti_use(store *st, const char *client_id, const char *jti,
                                            int64_t exp, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!nonempty(client_id) || !nonempty(jti) || strnlen(jti, STORE_JTI_MAX + 1) > STORE_JTI_MAX)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: assertion_jti_use: empty or too long jti");
    idp_err rc = stmt(st, O_AJ_USE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, client_id, &b);
    store_sqlite_bind_text(q, 2, jti, &b);
    store_sqlite_bind_i64(q, 3, exp, &b);
    /* The primary key (client_id, jti): a replay is IDP_ERR_CONFLICT. */
    return store_sqlite_write(q, b, "assertion_jti_use", NULL, err);
}

/* ---- consent (migrations/sqlite/0004_consent.sql) ------------------------------------------- */

idp_err store_sqlite_oidc_consent_get(store *st, const char *user_id, const char *client_id,
                                      char **scope, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *scope = NULL;
    idp_err rc = stmt(st, O_CS_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, user_id, &b);
    store_sqlite_bind_text(q, 2, client_id, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        *scope = xstrdup((const char *)sqlite3_column_text(q, 0));
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no consent");
    else
        rc = store_sqlite_fail(err, r, "consent_get");
    store_sqlite_done(q);
    return rc;
}

idp_err store_sqlite_oidc_consent_set(store *st, const char *user_id, const char *client_id,
                                      const char *scope, int64_t now, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!nonempty(user_id) || !nonempty(client_id) || !scope)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: consent_set: missing field");
    idp_err rc = stmt(st, O_CS_SET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, user_id, &b);
    store_sqlite_bind_text(q, 2, client_id, &b);
    store_sqlite_bind_text(q, 3, scope, &b);
    store_sqlite_bind_i64(q, 4, now, &b);
    return store_sqlite_write(q, b, "consent_set", NULL, err);
}

/* ---- password rehash (DESIGN §5) ------------------------------------------------------------ */

idp_err store_sqlite_oidc_user_rehash(store *st, const char *user_id, const char *old_hash,
                                      const char *new_hash, bool *done, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *done = false;
    if (!nonempty(user_id) || !nonempty(old_hash) || !nonempty(new_hash))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: user_rehash: missing field");
    idp_err rc = stmt(st, O_PW_REHASH, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, user_id, &b);
    store_sqlite_bind_text(q, 2, old_hash, &b);
    store_sqlite_bind_text(q, 3, new_hash, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_DONE)
        *done = sqlite3_changes(sqlite3_db_handle(q)) == 1;
    else
        rc = store_sqlite_fail(err, r, "user_rehash");
    store_sqlite_done(q);
    return rc;
}

/* ---- prune ---------------------------------------------------------------------------------- */

idp_err store_sqlite_oidc_prune(store *st, int64_t now, idp_error *err)
{
    static const sqo_id ids[] = {O_PRUNE_CODES, O_PRUNE_RT, O_PRUNE_SS, O_PRUNE_AJ, O_PRUNE_LF};
    bool own = false;
    idp_err rc = store_sqlite_op_begin(st, &own, err);
    if (rc) return rc;
    for (size_t i = 0; !rc && i < sizeof ids / sizeof *ids; i++) {
        sqlite3_stmt *q = NULL;
        if ((rc = stmt(st, ids[i], &q, err))) break;
        /* Each statement uses some of ?1 = now, ?2 = now - grace, ?3 = now - 1 day; its
         * parameter count is the largest index it uses (binding past it is an error). */
        int b = SQLITE_OK, np = sqlite3_bind_parameter_count(q);
        if (np >= 1) store_sqlite_bind_i64(q, 1, now, &b);
        if (np >= 2) store_sqlite_bind_i64(q, 2, now - STORE_PRUNE_GRACE, &b);
        if (np >= 3) store_sqlite_bind_i64(q, 3, now - SQO_DAY, &b);
        rc = store_sqlite_write(q, b, "oidc_prune", NULL, err);
    }
    if (!rc) rc = store_sqlite_fed_prune(st, now - STORE_PRUNE_GRACE, err);
    return store_sqlite_op_end(st, own, rc, err);
}
