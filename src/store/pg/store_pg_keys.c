/* store_pg_keys — the PostgreSQL backend's signing keys, clients and revoked token ids
 * (store.h key_*, client_*, jti_*), the twin of the same ops in sqlite/store_sqlite.c. Every op
 * runs in STORE_PG_OP (store_pg_op.c: atomic, serialization failures retried), values are bound
 * ($n), list reads are bounded (PG_MAX_KEYS, PG_MAX_CLIENTS: IDP_ERR_TOO_LARGE beyond), and an
 * update or delete of a row that does not exist is IDP_ERR_NOT_FOUND. */
#include "store/pg/internal.h"

#include <string.h>

#define PG_MAX_KEYS 4096
#define PG_MAX_CLIENTS 1000000

/* ---- statements of this file ---------------------------------------------------------------- */

typedef enum pg_keys_id {
    K_KEY_LIST,
    K_KEY_INSERT,
    K_KEY_UPDATE,
    K_KEY_DELETE,
    K_CLIENT_INSERT,
    K_CLIENT_GET,
    K_CLIENT_LIST,
    K_CLIENT_DELETE,
    K_CLIENT_SET_SECRET,
    K_CLIENT_UPDATE,
    K_JTI_REVOKE,
    K_JTI_IS_REVOKED,
    K_JTI_PRUNE,
    K__COUNT
} pg_keys_id;
_Static_assert(PG_STMT_KEYS + K__COUNT <= PG_STMT_KEYS_END, "statement slots");

#define PG_KEY_COLS "kid, alg, state, created_at, activated_at, retired_at, enc_private, public_jwk"
#define PG_CLIENT_COLS                                                                             \
    "client_id, name, secret_hash, grant_types, scope, audiences, token_alg, token_ttl, "          \
    "auth_method, created_at, secret_rotated_at, is_public, redirect_uris, "                       \
    "post_logout_redirect_uris, jwks, backchannel_logout_uri, introspect"

static const char *const pg_keys_sql[K__COUNT] = {
    [K_KEY_LIST] = "SELECT " PG_KEY_COLS " FROM signing_keys ORDER BY created_at, kid",
    [K_KEY_INSERT] = "INSERT INTO signing_keys (" PG_KEY_COLS ") "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [K_KEY_UPDATE] = "UPDATE signing_keys SET state = $2, activated_at = $3, retired_at = $4 "
                     "WHERE kid = $1",
    [K_KEY_DELETE] = "DELETE FROM signing_keys WHERE kid = $1",
    [K_CLIENT_INSERT] = "INSERT INTO clients (" PG_CLIENT_COLS ") VALUES ($1, COALESCE($2, ''), "
                        "$3, COALESCE($4, ''), COALESCE($5, ''), $6, $7, $8, "
                        "COALESCE($9, 'client_secret_basic'), $10, $11, $12, $13, $14, $15, "
                        "$16, $17)",
    [K_CLIENT_GET] = "SELECT " PG_CLIENT_COLS " FROM clients WHERE client_id = $1",
    [K_CLIENT_LIST] = "SELECT " PG_CLIENT_COLS " FROM clients ORDER BY client_id",
    [K_CLIENT_DELETE] = "DELETE FROM clients WHERE client_id = $1",
    [K_CLIENT_SET_SECRET] = "UPDATE clients SET secret_hash = $2, secret_rotated_at = $3 "
                            "WHERE client_id = $1",
    /* the parameters of client_insert, in the same positions ($3, $10, $11 unused) */
    [K_CLIENT_UPDATE] = "UPDATE clients SET name = COALESCE($2, ''), "
                        "grant_types = COALESCE($4, ''), scope = COALESCE($5, ''), "
                        "audiences = $6, token_alg = $7, token_ttl = $8, "
                        "auth_method = COALESCE($9, 'client_secret_basic'), is_public = $12, "
                        "redirect_uris = $13, post_logout_redirect_uris = $14, jwks = $15, "
                        "backchannel_logout_uri = $16, introspect = $17 WHERE client_id = $1 "
                        "AND $3::bytea IS NULL AND $10::bigint IS NULL AND $11::bigint IS NULL",
    [K_JTI_REVOKE] =
        "INSERT INTO revoked_jti (jti, exp) VALUES ($1, $2) "
        "ON CONFLICT (jti) DO UPDATE SET exp = GREATEST(revoked_jti.exp, excluded.exp)",
    [K_JTI_IS_REVOKED] = "SELECT 1 FROM revoked_jti WHERE jti = $1",
    [K_JTI_PRUNE] = "DELETE FROM revoked_jti WHERE exp < $1",
};

static idp_err keys_exec(store *st, pg_keys_id id, const pg_params *p, const char *what,
                         PGresult **res, idp_error *err)
{
    return store_pg_exec(st, PG_STMT_KEYS + (int)id, pg_keys_sql[id], p, what, res, err);
}

/* ---- signing keys --------------------------------------------------------------------------- */

static idp_err pg_key_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_key *k = row;
    int64_t state = store_pg_int(r, i, 2);
    if (state < KEY_NEXT || state > KEY_RETIRED)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: signing key row has an invalid state");
    k->kid = store_pg_str(r, i, 0);
    k->alg = store_pg_str(r, i, 1);
    k->state = (key_state)state;
    k->created_at = store_pg_int(r, i, 3);
    k->activated_at = store_pg_int(r, i, 4);
    k->retired_at = store_pg_int(r, i, 5);
    bool ok = store_pg_bytes_dup(r, i, 6, &k->enc_private, &k->enc_private_len);
    k->public_jwk = store_pg_str(r, i, 7);
    if (!ok || !k->kid || !k->alg || !k->public_jwk)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: signing key row is incomplete");
    return IDP_OK;
}

static void pg_key_clear(void *row)
{
    store_key_clear(row);
}

idp_err store_pg_key_list(store *st, store_key **rows, size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if ((rc = keys_exec(st, K_KEY_LIST, NULL, "key_list", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_key), PG_MAX_KEYS, pg_key_row, pg_key_clear, &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_key_insert(store *st, const store_key *k, idp_error *err)
{
    if (!k->kid || !k->alg || !k->public_jwk || !k->enc_private)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: key_insert: incomplete key");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, k->kid);
        store_pg_text(&p, k->alg);
        store_pg_i64(&p, (int64_t)k->state);
        store_pg_i64(&p, k->created_at);
        store_pg_i64(&p, k->activated_at);
        store_pg_i64(&p, k->retired_at);
        store_pg_bytea(&p, k->enc_private, k->enc_private_len);
        store_pg_text(&p, k->public_jwk);
        rc = keys_exec(st, K_KEY_INSERT, &p, "key_insert", NULL, err);
    }
    return rc;
}

idp_err store_pg_key_update_state(store *st, const char *kid, key_state state, int64_t activated_at,
                                  int64_t retired_at, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, kid);
        store_pg_i64(&p, (int64_t)state);
        store_pg_i64(&p, activated_at);
        store_pg_i64(&p, retired_at);
        rc = store_pg_write_one(st, PG_STMT_KEYS + K_KEY_UPDATE, pg_keys_sql[K_KEY_UPDATE], &p,
                                "key_update_state", err);
    }
    return rc;
}

idp_err store_pg_key_delete(store *st, const char *kid, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, kid);
        rc = store_pg_write_one(st, PG_STMT_KEYS + K_KEY_DELETE, pg_keys_sql[K_KEY_DELETE], &p,
                                "key_delete", err);
    }
    return rc;
}

/* ---- clients -------------------------------------------------------------------------------- */

static idp_err pg_client_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_client *c = row;
    c->client_id = store_pg_str(r, i, 0);
    c->name = store_pg_str(r, i, 1);
    if (!store_pg_isnull(r, i, 2)) {
        if (!store_pg_bytes(r, i, 2, c->secret_hash, sizeof c->secret_hash))
            return IDP_FAIL(err, IDP_ERR_STORE, "store: client row has a malformed secret hash");
        c->has_secret = true;
    }
    c->grant_types = store_pg_str(r, i, 3);
    c->scope = store_pg_str(r, i, 4);
    c->audiences = store_pg_str(r, i, 5);
    c->token_alg = store_pg_str(r, i, 6);
    c->token_ttl = store_pg_int(r, i, 7);
    c->auth_method = store_pg_str(r, i, 8);
    c->created_at = store_pg_int(r, i, 9);
    c->secret_rotated_at = store_pg_int(r, i, 10);
    c->is_public = store_pg_boolv(r, i, 11);
    c->redirect_uris = store_pg_str(r, i, 12);
    c->post_logout_redirect_uris = store_pg_str(r, i, 13);
    c->jwks = store_pg_str(r, i, 14);
    c->backchannel_logout_uri = store_pg_str(r, i, 15);
    c->introspect = store_pg_str(r, i, 16);
    if (!c->client_id || !c->name || !c->grant_types || !c->scope || !c->auth_method)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: client row is incomplete");
    return IDP_OK;
}

static void pg_client_clear(void *row)
{
    store_client_clear(row);
}

static bool pg_field_ok(const char *s)
{
    return !s || strnlen(s, STORE_CLIENT_FIELD_MAX + 1) <= STORE_CLIENT_FIELD_MAX;
}

/* Validates c and binds all 17 parameters of client_insert / client_update. */
static idp_err pg_client_bind(pg_params *p, const store_client *c, bool insert, const char *what,
                              idp_error *err)
{
    if (!c->client_id || !*c->client_id)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: missing client_id", what);
    if (!pg_field_ok(c->redirect_uris) || !pg_field_ok(c->post_logout_redirect_uris) ||
        !pg_field_ok(c->jwks) || !pg_field_ok(c->backchannel_logout_uri))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: a client field is too long", what);
    store_pg_text(p, c->client_id);
    store_pg_text(p, c->name);
    store_pg_bytea(p, insert && c->has_secret ? c->secret_hash : NULL, sizeof c->secret_hash);
    store_pg_text(p, c->grant_types);
    store_pg_text(p, c->scope);
    store_pg_text(p, c->audiences);
    store_pg_text(p, c->token_alg);
    store_pg_i64(p, c->token_ttl);
    store_pg_text(p, c->auth_method);
    if (insert) {
        store_pg_i64(p, c->created_at);
        store_pg_i64(p, c->secret_rotated_at);
    } else {
        store_pg_text(p, NULL);
        store_pg_text(p, NULL);
    }
    store_pg_bool(p, c->is_public);
    store_pg_text(p, c->redirect_uris);
    store_pg_text(p, c->post_logout_redirect_uris);
    store_pg_text(p, c->jwks);
    store_pg_text(p, c->backchannel_logout_uri);
    store_pg_text(p, c->introspect);
    return IDP_OK;
}

idp_err store_pg_client_insert(store *st, const store_client *c, idp_error *err)
{
    pg_params p = {0};
    idp_err rc = pg_client_bind(&p, c, true, "client_insert", err);
    if (rc) return rc;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = keys_exec(st, K_CLIENT_INSERT, &p, "client_insert", NULL, err);
    return rc;
}

idp_err store_pg_client_update(store *st, const store_client *c, idp_error *err)
{
    pg_params p = {0};
    idp_err rc = pg_client_bind(&p, c, false, "client_update", err);
    if (rc) return rc;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = store_pg_write_one(st, PG_STMT_KEYS + K_CLIENT_UPDATE, pg_keys_sql[K_CLIENT_UPDATE], &p,
                            "client_update", err);
    return rc;
}

idp_err store_pg_client_get(store *st, const char *client_id, store_client *out, idp_error *err)
{
    idp_err rc = IDP_OK;
    memset(out, 0, sizeof *out);
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, client_id);
        if ((rc = keys_exec(st, K_CLIENT_GET, &p, "client_get", &r, err))) continue;
        if (PQntuples(r) != 1)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such client");
        else if ((rc = pg_client_row(r, 0, out, err)))
            store_client_clear(out);
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_client_list(store *st, store_client **rows, size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if ((rc = keys_exec(st, K_CLIENT_LIST, NULL, "client_list", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_client), PG_MAX_CLIENTS, pg_client_row, pg_client_clear,
                           &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_client_delete(store *st, const char *client_id, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, client_id);
        rc = store_pg_write_one(st, PG_STMT_KEYS + K_CLIENT_DELETE, pg_keys_sql[K_CLIENT_DELETE],
                                &p, "client_delete", err);
    }
    return rc;
}

idp_err store_pg_client_set_secret(store *st, const char *client_id, const unsigned char hash[32],
                                   int64_t now, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, client_id);
        store_pg_bytea(&p, hash, 32);
        store_pg_i64(&p, now);
        rc = store_pg_write_one(st, PG_STMT_KEYS + K_CLIENT_SET_SECRET,
                                pg_keys_sql[K_CLIENT_SET_SECRET], &p, "client_set_secret", err);
    }
    return rc;
}

/* ---- revoked jtis (RFC 7009) ---------------------------------------------------------------- */

idp_err store_pg_jti_revoke(store *st, const char *jti, int64_t exp, idp_error *err)
{
    if (!jti || !*jti) return IDP_FAIL(err, IDP_ERR_INVALID, "store: jti_revoke: empty jti");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, jti);
        store_pg_i64(&p, exp);
        rc = keys_exec(st, K_JTI_REVOKE, &p, "jti_revoke", NULL, err);
    }
    return rc;
}

idp_err store_pg_jti_is_revoked(store *st, const char *jti, bool *revoked, idp_error *err)
{
    idp_err rc = IDP_OK;
    *revoked = false;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, jti);
        if ((rc = keys_exec(st, K_JTI_IS_REVOKED, &p, "jti_is_revoked", &r, err))) continue;
        *revoked = PQntuples(r) > 0;
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_jti_prune(store *st, int64_t now, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_i64(&p, now);
        rc = keys_exec(st, K_JTI_PRUNE, &p, "jti_prune", NULL, err);
    }
    return rc;
}
