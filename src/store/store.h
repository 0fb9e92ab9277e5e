/* store — persistence behind an ops table (DESIGN §2, STYLE.md habit 11). store_sqlite.c is the
 * embedded default; store_pg.c (later) implements the same table. Bound parameters only.
 *
 * Threading: a store handle is shared by all threads of a process. Backends keep one database
 * connection per thread (created lazily), with prepared statements cached per connection.
 *
 * Ownership: rows returned through out-parameters are owned by the caller and freed with the
 * matching *_free/_list_free function. Strings inside rows are owned by the row. */
#ifndef IDPD_STORE_STORE_H
#define IDPD_STORE_STORE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

typedef enum key_state { KEY_NEXT = 0, KEY_CURRENT = 1, KEY_RETIRED = 2 } key_state;

typedef struct store_key {
    char *kid;
    char *alg;               /* "ES256", ... */
    key_state state;
    int64_t created_at;      /* = when it entered the JWKS */
    int64_t activated_at;    /* when it became current; 0 while next */
    int64_t retired_at;      /* when it stopped signing; 0 until retired */
    unsigned char *enc_private; /* AES-256-GCM sealed PKCS#8 (keys/kek.h) */
    size_t enc_private_len;
    char *public_jwk;        /* JSON text */
} store_key;

typedef struct store_client {
    char *client_id;
    char *name;
    bool has_secret;
    unsigned char secret_hash[32]; /* HMAC-SHA-256 under the pepper (oauth/client_secret.h) */
    char *grant_types;       /* space-separated, e.g. "client_credentials" */
    char *scope;             /* space-separated scopes the client may request */
    char *audiences;         /* space-separated resource indicators the client may target
                                (RFC 8707); the first is the default audience; NULL = none */
    char *token_alg;         /* NULL = server default_alg */
    int64_t token_ttl;       /* 0 = server token_ttl */
    char *auth_method;       /* "client_secret_basic" (also accepts _post) */
    int64_t created_at;
    int64_t secret_rotated_at;
} store_client;

typedef struct store_ops {
    const char *name;
    void (*close)(store *st);
    /* Exclusive write transaction (SQLite: BEGIN IMMEDIATE, waits for the lock), bound to the
     * calling thread. Nesting is a bug (IDP_ERR_INTERNAL); rollback without one is a no-op. */
    idp_err (*tx_begin)(store *st, idp_error *err);
    idp_err (*tx_commit)(store *st, idp_error *err);
    void (*tx_rollback)(store *st);
    /* A counter bumped by every change to keys or clients, by any process (triggers). */
    idp_err (*generation)(store *st, int64_t *out, idp_error *err);
    idp_err (*meta_get)(store *st, const char *key, char **value, idp_error *err); /* NOT_FOUND */
    idp_err (*meta_set)(store *st, const char *key, const char *value, idp_error *err);

    idp_err (*key_list)(store *st, store_key **rows, size_t *n, idp_error *err); /* by created_at */
    idp_err (*key_insert)(store *st, const store_key *k, idp_error *err);
    idp_err (*key_update_state)(store *st, const char *kid, key_state state, int64_t activated_at,
                                int64_t retired_at, idp_error *err);
    idp_err (*key_delete)(store *st, const char *kid, idp_error *err);

    idp_err (*client_insert)(store *st, const store_client *c, idp_error *err); /* CONFLICT */
    idp_err (*client_get)(store *st, const char *client_id, store_client *out, idp_error *err);
    idp_err (*client_list)(store *st, store_client **rows, size_t *n, idp_error *err);
    idp_err (*client_delete)(store *st, const char *client_id, idp_error *err); /* NOT_FOUND */
    /* hash NULL removes the secret (public client). NOT_FOUND. */
    idp_err (*client_set_secret)(store *st, const char *client_id, const unsigned char hash[32],
                                 int64_t now, idp_error *err);

    /* Revoked access tokens: jti deny-listed until exp (RFC 7009). */
    idp_err (*jti_revoke)(store *st, const char *jti, int64_t exp, idp_error *err);
    idp_err (*jti_is_revoked)(store *st, const char *jti, bool *revoked, idp_error *err);
    /* Deletes rows with exp < now; callers that accept clock skew pass now - leeway. */
    idp_err (*jti_prune)(store *st, int64_t now, idp_error *err);
} store_ops;

struct store {
    const store_ops *ops;
};

/* Opens (creating when create is true) the store at spec: a SQLite file path, or
 * "sqlite:PATH". IDP_ERR_NOT_FOUND when !create and it does not exist. Pending schema migrations
 * are applied on every open; a database newer than this binary is refused (IDP_ERR_STORE).
 * Errors of every op: IDP_ERR_CONFLICT (duplicate key), IDP_ERR_NOT_FOUND (no such row, where
 * noted), IDP_ERR_STORE (database failure; the message never contains a bound value). */
idp_err store_open(const char *spec, bool create, store **out, idp_error *err);
void store_close(store *st); /* accepts NULL */

void store_key_clear(store_key *k);
void store_key_list_free(store_key *rows, size_t n);
void store_client_clear(store_client *c);
void store_client_list_free(store_client *rows, size_t n);

/* Thin inline wrappers so callers read as store_key_list(st, ...). */
#define store_tx_begin(st, e) ((st)->ops->tx_begin((st), (e)))
#define store_tx_commit(st, e) ((st)->ops->tx_commit((st), (e)))
#define store_tx_rollback(st) ((st)->ops->tx_rollback((st)))
#define store_generation(st, o, e) ((st)->ops->generation((st), (o), (e)))
#define store_meta_get(st, k, v, e) ((st)->ops->meta_get((st), (k), (v), (e)))
#define store_meta_set(st, k, v, e) ((st)->ops->meta_set((st), (k), (v), (e)))
#define store_key_list(st, r, n, e) ((st)->ops->key_list((st), (r), (n), (e)))
#define store_key_insert(st, k, e) ((st)->ops->key_insert((st), (k), (e)))
#define store_key_update_state(st, kid, s, a, r, e) \
    ((st)->ops->key_update_state((st), (kid), (s), (a), (r), (e)))
#define store_key_delete(st, kid, e) ((st)->ops->key_delete((st), (kid), (e)))
#define store_client_insert(st, c, e) ((st)->ops->client_insert((st), (c), (e)))
#define store_client_get(st, id, o, e) ((st)->ops->client_get((st), (id), (o), (e)))
#define store_client_list(st, r, n, e) ((st)->ops->client_list((st), (r), (n), (e)))
#define store_client_delete(st, id, e) ((st)->ops->client_delete((st), (id), (e)))
#define store_client_set_secret(st, id, h, now, e) \
    ((st)->ops->client_set_secret((st), (id), (h), (now), (e)))
#define store_jti_revoke(st, j, x, e) ((st)->ops->jti_revoke((st), (j), (x), (e)))
#define store_jti_is_revoked(st, j, r, e) ((st)->ops->jti_is_revoked((st), (j), (r), (e)))
#define store_jti_prune(st, now, e) ((st)->ops->jti_prune((st), (now), (e)))

#endif
