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

/* ---- SCIM resources (DESIGN §4) ---- */

/* Group membership changes without rewriting the group (RFC 7644 §3.5.2 on "members"). */
typedef struct store_member_delta {
    bool replace_all;  /* drop every current member first (PUT, or PATCH replace of members) */
    char **add;        /* user ids to add (owned) */
    size_t nadd;
    char **remove;     /* user ids to remove (owned) */
    size_t nremove;
} store_member_delta;
void store_member_delta_clear(store_member_delta *d);
void store_member_delta_add(store_member_delta *d, const char *user_id);    /* copies */
void store_member_delta_remove(store_member_delta *d, const char *user_id); /* copies */

typedef struct store_user {
    char *id;            /* UUID, server-assigned */
    char *user_name;     /* unique, case-insensitive (RFC 7643 §4.1.1) */
    char *external_id;   /* or NULL */
    bool active;
    char *doc;           /* normalised SCIM JSON without id, meta, groups, password */
    char *password_hash; /* Argon2id encoded, or NULL; never returned over SCIM */
    int64_t token_epoch; /* bumped on deactivate/delete/group removal: tokens issued before are dead */
    int64_t version;     /* starts at 1, +1 per change; the ETag is W/"<version>" */
    int64_t created_at;  /* ms since the epoch */
    int64_t modified_at; /* ms */
} store_user;

typedef struct store_group {
    char *id;
    char *display_name;
    char *external_id;
    char *doc;           /* normalised SCIM JSON without id, meta, members */
    int64_t version;
    int64_t created_at;  /* ms */
    int64_t modified_at; /* ms */
} store_group;

typedef struct store_ref {
    char *id;
    char *display;       /* userName for users, displayName for groups */
} store_ref;

struct sf_node;
struct scim_resource_type;
/* A list query (RFC 7644 §3.4.2): the filter is compiled to SQL with bound parameters by the
 * backend, never evaluated by loading rows into C. */
typedef struct store_query {
    const struct scim_resource_type *rt; /* scim_rt_user or scim_rt_group */
    const struct sf_node *filter;        /* NULL = all */
    const char *sort_by;                 /* attribute path or NULL (= created order) */
    bool descending;
    int64_t start_index;                 /* 1-based (values < 1 are treated as 1) */
    int64_t count;                       /* max rows to return; 0 = only the total */
} store_query;

/* ---- provisioning keys ---- */
typedef struct store_pkey {
    char *id;             /* public id, part of the key string */
    char *name;
    unsigned char hash[32]; /* HMAC-SHA-256 under the pepper */
    char *scopes;         /* space-separated: scim:read scim:write admin */
    int64_t created_at;   /* s */
    int64_t expires_at;   /* s, 0 = never */
    int64_t revoked_at;   /* s, 0 = active */
    int64_t last_used_at; /* s, 0 = never */
    char *replaced_by;    /* id of the successor after rotate, or NULL */
} store_pkey;

/* ---- audit (hash-chained, DESIGN §9) ---- */
typedef struct store_audit {
    int64_t seq;          /* assigned by the store */
    int64_t time_ms;
    char *actor;          /* e.g. "pkey:<id>", "cli" */
    char *action;         /* e.g. "user.create", "group.patch", "pkey.revoke" */
    char *target_type;    /* "User", "Group", "ProvisioningKey", ... */
    char *target_id;
    int64_t before_version; /* 0 = none */
    int64_t after_version;  /* 0 = none (delete) */
    char *detail;         /* JSON object text or NULL; never a secret */
    unsigned char prev_hash[32];
    unsigned char hash[32]; /* SHA-256(prev_hash || canonical fields), computed by the store */
} store_audit;

typedef struct store_ops {
    const char *name;
    void (*close)(store *st);
    /* Exclusive write transaction (SQLite: BEGIN IMMEDIATE, waits for the lock), bound to the
     * calling thread. Nesting is a bug (IDP_ERR_INTERNAL); rollback without one is a no-op. */
    idp_err (*tx_begin)(store *st, idp_error *err);
    idp_err (*tx_commit)(store *st, idp_error *err);
    void (*tx_rollback)(store *st);
    /* A counter bumped by every change to keys, clients or provisioning keys (not by
     * pkey_touch), by any process (triggers). */
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

    /* Users. create/replace: CONFLICT when userName (case-insensitively; ASCII folding, see
     * migrations/sqlite/0002_scim.sql) is taken. replace and delete with expect_version > 0:
     * IDP_ERR_PRECONDITION when the stored version differs (NOT_FOUND when there is no such
     * user). create: version 0 means 1, created_at/modified_at 0 mean now. replace bumps version
     * and sets modified_at from the row (0 = now); token_epoch becomes max(stored, u->token_epoch)
     * and is bumped once more when active goes true -> false, so a revocation is never lost.
     * delete removes memberships too. All writes join the caller's store_tx_begin transaction
     * when there is one (atomic within it through a savepoint). */
    idp_err (*user_create)(store *st, const store_user *u, idp_error *err);
    idp_err (*user_get)(store *st, const char *id, store_user *out, idp_error *err);
    idp_err (*user_get_by_name)(store *st, const char *user_name, store_user *out, idp_error *err);
    idp_err (*user_replace)(store *st, const store_user *u, int64_t expect_version, idp_error *err);
    idp_err (*user_delete)(store *st, const char *id, int64_t expect_version, idp_error *err);
    /* total may be NULL. Errors from the filter/sortBy translation: IDP_ERR_SCIM_INVALID_FILTER
     * (unknown or unfilterable attribute such as password, wrong operator or value type),
     * IDP_ERR_SCIM_INVALID_PATH (sortBy), IDP_ERR_SCIM_TOO_MANY. count is capped at 10,000. */
    idp_err (*user_query)(store *st, const store_query *q, store_user **rows, size_t *n,
                          int64_t *total, idp_error *err);
    /* Groups of a user (for the readOnly User "groups" attribute). */
    idp_err (*user_groups)(store *st, const char *user_id, store_ref **rows, size_t *n, idp_error *err);

    /* Groups. create applies *members (may be NULL); replace/delete as for users; replace with
     * members NULL keeps the membership. A delta applies replace_all (keeping the ids in add,
     * which keep their position), then remove, then add (appended in order; existing members
     * ignored): builders must cancel opposite operations on one id. Member ids that are not
     * users -> IDP_ERR_SCIM_INVALID_VALUE (nothing written). Every user that leaves a group
     * (remove, replace_all, group delete) gets token_epoch + 1 in the same transaction. */
    idp_err (*group_create)(store *st, const store_group *g, const store_member_delta *members,
                            idp_error *err);
    idp_err (*group_get)(store *st, const char *id, store_group *out, idp_error *err);
    idp_err (*group_replace)(store *st, const store_group *g, const store_member_delta *members,
                             int64_t expect_version, idp_error *err);
    idp_err (*group_delete)(store *st, const char *id, int64_t expect_version, idp_error *err);
    idp_err (*group_query)(store *st, const store_query *q, store_group **rows, size_t *n,
                           int64_t *total, idp_error *err);
    /* Members in insertion order; members of a group users removed from it get token_epoch+1. */
    idp_err (*group_members)(store *st, const char *group_id, store_ref **rows, size_t *n,
                             idp_error *err);

    /* Provisioning keys. */
    idp_err (*pkey_insert)(store *st, const store_pkey *k, idp_error *err);
    idp_err (*pkey_get)(store *st, const char *id, store_pkey *out, idp_error *err);
    idp_err (*pkey_list)(store *st, store_pkey **rows, size_t *n, idp_error *err);
    idp_err (*pkey_update)(store *st, const store_pkey *k, idp_error *err); /* expires, revoked, replaced_by */
    idp_err (*pkey_touch)(store *st, const char *id, int64_t now, idp_error *err); /* last_used */

    /* Audit: append computes seq, prev_hash and hash; list returns events with seq > after_seq,
     * oldest first, at most limit. */
    idp_err (*audit_append)(store *st, store_audit *ev, idp_error *err);
    idp_err (*audit_list)(store *st, int64_t after_seq, size_t limit, store_audit **rows, size_t *n,
                          idp_error *err);
    idp_err (*audit_last)(store *st, size_t limit, store_audit **rows, size_t *n, idp_error *err);
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

void store_user_clear(store_user *u);
void store_user_list_free(store_user *rows, size_t n);
void store_group_clear(store_group *g);
void store_group_list_free(store_group *rows, size_t n);
void store_ref_list_free(store_ref *rows, size_t n);
void store_pkey_clear(store_pkey *k);
void store_pkey_list_free(store_pkey *rows, size_t n);
void store_audit_clear(store_audit *a);
void store_audit_list_free(store_audit *rows, size_t n);

/* The audit chain (DESIGN §9). hash = SHA-256 over, in this order:
 *   prev_hash (32 bytes) || I64(seq) || I64(time_ms) || S(actor) || S(action) || S(target_type)
 *   || S(target_id) || I64(before_version) || I64(after_version) || S(detail)
 * where I64(v) = 8 bytes big-endian two's complement, S(NULL) = the 4 bytes FF FF FF FF, and
 * S(s) = 4-byte big-endian strlen(s) followed by the bytes of s (no NUL). The first event has
 * prev_hash = 32 zero bytes; each next event's prev_hash is the previous event's hash. Fields
 * longer than STORE_AUDIT_FIELD_MAX are refused by audit_append. Recompute with ev->prev_hash
 * set to verify a chain (`idpd audit tail --verify`); ev->hash is not read. */
#define STORE_AUDIT_FIELD_MAX (1024u * 1024u)
void store_audit_hash(const store_audit *ev, unsigned char out[32]);

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
/* The SCIM, provisioning-key and audit ops are called as st->ops->user_create(st, ...). */

#endif
