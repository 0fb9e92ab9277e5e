/* store — persistence behind an ops table (DESIGN §2, STYLE.md habit 11). store_sqlite.c is the
 * embedded default; pg/store_pg.c implements the same table on PostgreSQL. Bound parameters only.
 *
 * Threading: a store handle is shared by all threads of a process. SQLite keeps one database
 * connection per thread (created lazily); PostgreSQL lends a pooled connection to a thread for
 * an op or a transaction. Prepared statements are cached per connection.
 *
 * Ownership: rows returned through out-parameters are owned by the caller and freed with the
 * matching *_free/_list_free function. Strings inside rows are owned by the row. */
#ifndef IDPD_STORE_STORE_H
#define IDPD_STORE_STORE_H

#include "core/err.h"
#include "scim/delta.h"

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
    char *auth_method;       /* client_secret_basic, client_secret_post, private_key_jwt or none;
                                NULL on insert = client_secret_basic */
    int64_t created_at;
    int64_t secret_rotated_at;
    /* Sign-in (authorization code flow). Zero/NULL = a confidential client without any. */
    bool is_public;          /* no secret; PKCE required (RFC 7636, RFC 9700 §2.1.1) */
    char *redirect_uris;     /* space-separated, compared exactly (RFC 9700 §4.1.3); NULL = none */
    char *post_logout_redirect_uris; /* space-separated (OIDC RP-Initiated Logout); NULL = none */
    char *jwks;              /* JSON text of the client's public JWK Set for private_key_jwt
                                (RFC 7523 §2.2); must be valid JSON; NULL = none */
    char *backchannel_logout_uri; /* OIDC Back-Channel Logout 1.0; NULL = none */
    char *introspect;        /* whose access tokens it may introspect besides its own (RFC 7662
                                §4): NULL = none, "audience" (aud names one of its audiences) or
                                "any"; another value fails the store's CHECK (IDP_ERR_INVALID) */
} store_client;
/* Longest redirect_uris / post_logout_redirect_uris / jwks a client row may hold (bytes). */
#define STORE_CLIENT_FIELD_MAX (64u * 1024u)

/* ---- end-user sign-in (OIDC): codes, refresh tokens, sessions (DESIGN §5) ----
 * Times in seconds since the epoch. Codes, refresh tokens and session cookies are stored only as
 * SHA-256 (hash[32]); the secret value never reaches the store. user_id and client_id must name
 * an existing user / client (else IDP_ERR_INVALID); deleting the user or client deletes its
 * codes, refresh tokens and sessions. */

/* RFC 6749 §4.1.2: single use, short-lived. */
typedef struct store_auth_code {
    unsigned char hash[32];   /* SHA-256 of the code */
    char *client_id, *user_id, *redirect_uri, *scope; /* scope NULL on insert = "" */
    char *resource;           /* RFC 8707 resource, or NULL */
    char *nonce;              /* OIDC Core §3.1.2.1, or NULL */
    char *code_challenge;     /* PKCE S256 challenge (RFC 7636 §4.2), or NULL */
    char *session_id;         /* public session id (sid), or NULL */
    int64_t auth_time;
    char *amr;                /* space-separated (RFC 8176), e.g. "pwd", or NULL */
    int64_t user_epoch;       /* the user's token_epoch when the code was issued */
    int64_t created_at, expires_at;
    int64_t used_at;          /* 0 = unused */
    char *family_id;          /* refresh family issued from this code, or NULL */
    char *access_jti;         /* access token issued from it, or NULL */
    int64_t access_exp;       /* its exp, or 0 */
} store_auth_code;

/* DESIGN §5, RFC 9700 §4.14: opaque, rotated on every use; a family is a chain of rotations. */
typedef struct store_refresh {
    unsigned char hash[32];   /* SHA-256 of the token */
    char *family_id;          /* random id shared by a chain of rotations */
    char *client_id, *user_id, *scope; /* scope NULL on insert = "" */
    char *resource;           /* or NULL */
    char *session_id;         /* sid of the browser session it came from, or NULL */
    int64_t auth_time;
    char *amr;                /* or NULL */
    char *nonce;              /* or NULL */
    int64_t user_epoch;       /* the user's token_epoch at issue: refresh refused when it moved */
    int64_t created_at, expires_at;
    int64_t rotated_at;       /* 0 = current; else when it was exchanged for its successor */
    int64_t revoked_at;       /* 0 = live */
} store_refresh;

/* A browser sign-in session. */
typedef struct store_session {
    unsigned char hash[32];   /* SHA-256 of the cookie value */
    char *sid;                /* public random id (ID token "sid", back-channel logout) */
    char *user_id;
    int64_t user_epoch;       /* the user's token_epoch at sign-in */
    int64_t auth_time;
    char *amr;                /* or NULL */
    int64_t created_at;
    int64_t last_seen;        /* 0 on insert = created_at */
    int64_t expires_at;       /* absolute expiry */
    char *clients;            /* space-separated client_ids that received tokens in this session
                                 (for back-channel logout); NULL on insert = "" */
} store_session;

/* The bound of the sign-in throttling table (login_fail). */
typedef struct store_login_cap {
    int64_t max_keys;    /* counters kept at most */
    int64_t fails_below; /* a counter with fewer failures may be evicted */
    int64_t idle_before; /* so may one whose last failure is older */
} store_login_cap;

/* ---- versioned policy (DESIGN §7) ---- */
typedef struct store_policy {
    int64_t version;          /* monotonic, assigned by policy_insert, never reused */
    char *sha256;             /* lowercase hex of the document's SHA-256 (64 characters) */
    char *document;           /* the policy text; NULL in policy_list rows */
    int64_t created_at;       /* 0 on insert = now */
    char *actor;              /* who loaded it, e.g. "cli", "pkey:<id>"; NULL on insert = "" */
    char *comment;            /* or NULL */
    int64_t activated_at;     /* read only: latest activation of this version, 0 = never */
} store_policy;
#define STORE_POLICY_MAX (16u * 1024u * 1024u) /* longest document policy_insert accepts */

typedef struct store_policy_activation {
    int64_t seq;              /* increasing per activation */
    int64_t version;
    int64_t activated_at;
} store_policy_activation;

/* ---- SCIM resources (DESIGN §4) ---- */

/* A list of ids (owned), e.g. the users who left a group. */
typedef struct store_ids {
    char **v;
    size_t n;
} store_ids;
void store_ids_add(store_ids *l, const char *id); /* copies */
void store_ids_clear(store_ids *l);

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

struct scim_plan;
struct scim_resource_type;
/* A list query (RFC 7644 §3.4.2): the resolved filter (scim/plan.h) is translated by the backend
 * into its query language with bound parameters, never evaluated by loading rows into C. */
typedef struct store_query {
    const struct scim_resource_type *rt; /* scim_rt_user or scim_rt_group */
    const struct scim_plan *plan;        /* built for rt; NULL = all */
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

/* ---- federation: upstream identity providers (issue 12) ---- */
/* The last good JWKS of an upstream issuer (kept so a key fetch failure does not stop sign-in). */
typedef struct store_fed_jwks {
    char *issuer;             /* the upstream `iss` */
    char *body;               /* the JWK Set document, JSON text */
    int64_t fetched_at;       /* ms since the epoch */
    int64_t max_age;          /* s the upstream allowed caching (Cache-Control max-age); 0 = none */
} store_fed_jwks;
/* The last known state of an upstream issuer's key cache (`idpd federation status`). */
typedef struct store_fed_status {
    char *issuer;       /* the upstream `iss` (the key) */
    char *name;         /* the policy's name for it */
    char *state;        /* "unfetched", "ok", "stale" or "failing" */
    int64_t last_success, last_attempt, next_refresh; /* ms since the epoch, 0 = never */
    char *last_error;   /* at most STORE_FED_ERROR_MAX bytes, "" when none (NULL on put = "") */
    char *kids;         /* JSON array of the current set's kids (NULL on put = "[]") */
    bool notify;        /* put: bump the generation (the CLI: running servers re-read the JWKS) */
} store_fed_status;
#define STORE_FED_ERROR_MAX 240u
#define STORE_FED_ID_MAX 2048u           /* longest issuer / subject (bytes) */
#define STORE_FED_JWKS_MAX (256u * 1024u) /* longest JWKS body fed_jwks_put accepts */
#define STORE_FED_JTI_MAX 1000000        /* assertion ids fed_jti_use keeps at most */

/* ---- revocation events (issue 14) ---- */
/* One event of the revocation feed, as the triggers wrote it. kind has the values of rev_kind
 * (verify/rev_event.h): 1 token revoked (subject = the jti, until = its exp + leeway), 2 user
 * disabled, 3 user deleted, 4 user changed (subject = the user id, epoch = its token_epoch after
 * the event, until = at + the longest access-token lifetime + leeway). */
typedef struct store_rev_event {
    int64_t seq;       /* increasing in commit order, gapless, never reused */
    int kind;
    char *subject;
    int64_t epoch;
    int64_t at;        /* s */
    int64_t until;     /* s */
} store_rev_event;
#define STORE_REV_LIST_MAX 10000 /* events rev_list returns at most */

typedef struct store_ops {
    const char *name;
    void (*close)(store *st);
    /* The transaction contract, for every backend. tx_begin starts a write transaction bound to
     * the calling thread and returns once this caller is the only writer: every other writer, in
     * this process or another one sharing the store, waits in its tx_begin (or in its single op)
     * until commit or rollback. Reads inside see every write made before tx_begin returned and
     * this transaction's own writes; so a read-then-write inside it (a version check, a chain
     * tail, a counter) cannot be overtaken. Every op called between begin and commit joins the
     * transaction; an op called outside one is atomic on its own. commit makes all of it durable
     * at once, rollback (or a failed commit) drops all of it. Nesting is a bug
     * (IDP_ERR_INTERNAL); rollback without a transaction is a no-op. SQLite: BEGIN IMMEDIATE on
     * this thread's connection. PostgreSQL: BEGIN ISOLATION LEVEL REPEATABLE READ and the
     * writer lock row (store_writer, pg/store_pg.c: writers one at a time, each on a snapshot
     * holding every earlier commit) on the connection this thread holds until the end. */
    idp_err (*tx_begin)(store *st, idp_error *err);
    idp_err (*tx_commit)(store *st, idp_error *err);
    void (*tx_rollback)(store *st);
    /* A counter bumped by every change to keys, clients, provisioning keys (not by pkey_touch),
     * policy versions or the active policy, by any process (triggers). */
    idp_err (*generation)(store *st, int64_t *out, idp_error *err);
    /* Optional (NULL: the caller sleeps instead). Waits at most timeout_ms for a change of the
     * generation made by any process: IDP_OK when one was announced (*notified) or the time
     * passed; IDP_ERR_STORE at once when the wake-up channel is not available (the caller then
     * sleeps: polling generation stays the correctness path, an announcement only makes it
     * early). One caller at a time (the server's background thread). PostgreSQL: LISTEN
     * idpd_generation on a dedicated connection, opened again (at most once a second) when it
     * breaks; *notified is also set right after it was (re)opened (a change may have been
     * missed). */
    idp_err (*wait_change)(store *st, int timeout_ms, bool *notified, idp_error *err);
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
    /* Replaces every mutable field of an existing client: name, grant_types, scope, audiences,
     * token_alg, token_ttl, auth_method, is_public, redirect_uris, post_logout_redirect_uris,
     * jwks, backchannel_logout_uri, introspect. Not the secret (client_set_secret) nor
     * created_at. NOT_FOUND; INVALID when jwks is not JSON, introspect is not a known mode or a
     * list is longer than STORE_CLIENT_FIELD_MAX. */
    idp_err (*client_update)(store *st, const store_client *c, idp_error *err);

    /* Revoked access tokens: jti deny-listed until exp (RFC 7009). */
    idp_err (*jti_revoke)(store *st, const char *jti, int64_t exp, idp_error *err);
    idp_err (*jti_is_revoked)(store *st, const char *jti, bool *revoked, idp_error *err);
    /* Deletes rows with exp < now; callers that accept clock skew pass now - leeway. */
    idp_err (*jti_prune)(store *st, int64_t now, idp_error *err);

    /* Revocation events (issue 14; the feed of verify/rev_event.h, see store_rev_event). Written
     * only by the store's own triggers, in the transaction of the change: a jti_revoke that
     * inserts a new jti, a user update that changes token_epoch, a user delete. rev_list: the
     * events with seq > after_seq in seq order, at most limit (capped at STORE_REV_LIST_MAX).
     * Contract for a reader that remembers the last seq it read: an event that commits later
     * never has a lower seq, so reading after it misses nothing (seqs are gapless; PostgreSQL
     * allocates them under a row lock, pg/migrations/0003). rev_bound_raise records that access
     * tokens live at most max_ttl and are accepted leeway past exp (s; the server calls it at
     * start, before it mints): the stored bounds only ever grow, and the until of every later
     * event is computed from them. rev_prune deletes the events with until < now; *n (may be
     * NULL) = how many. rev_last_seq: the highest seq ever given to an event (0: none yet),
     * pruned or not (the poll feed refuses a cursor beyond it: a receiver ahead of a restored
     * store). */
    idp_err (*rev_list)(store *st, int64_t after_seq, size_t limit, store_rev_event **rows,
                        size_t *n, idp_error *err);
    idp_err (*rev_bound_raise)(store *st, int64_t max_ttl, int64_t leeway, idp_error *err);
    idp_err (*rev_prune)(store *st, int64_t now, int64_t *n, idp_error *err);
    idp_err (*rev_last_seq)(store *st, int64_t *seq, idp_error *err);

    /* Users. create/replace: CONFLICT when userName (case-insensitively; ASCII folding, see
     * sqlite/migrations/0002_scim.sql) is taken, or when another user's userName has the same
     * comparison key (a look-alike, scim/username.h: the front checks it). replace and delete with expect_version > 0:
     * IDP_ERR_PRECONDITION when the stored version differs (NOT_FOUND when there is no such
     * user). create: version 0 means 1, created_at/modified_at 0 mean now. replace bumps version
     * and sets modified_at from the row (0 = now); token_epoch becomes store_user_epoch_next
     * (below): never lower than stored, one more on deactivation and on a new password hash.
     * The front (store.c) applies that rule and hands the backend's user_replace the resulting
     * token_epoch, which the backend stores as given. delete removes memberships too. All
     * writes join the caller's store_tx_begin transaction when there is one (atomic within it
     * through a savepoint). */
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
     * (remove, replace_all, group delete) gets token_epoch + 1 in the same transaction: the
     * front (store.c) composes replace and delete from the backend's group_update /
     * group_remove and user_epoch_bump; backends leave group_replace and group_delete NULL. */
    idp_err (*group_create)(store *st, const store_group *g, const scim_delta *members,
                            idp_error *err);
    idp_err (*group_get)(store *st, const char *id, store_group *out, idp_error *err);
    idp_err (*group_replace)(store *st, const store_group *g, const scim_delta *members,
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

    /* Audit: append computes seq, prev_hash and hash (store_audit_link, in the front: backends
     * leave the entry NULL and provide audit_tail and audit_insert below); list returns events
     * with seq > after_seq, oldest first, at most limit. */
    idp_err (*audit_append)(store *st, store_audit *ev, idp_error *err);
    idp_err (*audit_list)(store *st, int64_t after_seq, size_t limit, store_audit **rows, size_t *n,
                          idp_error *err);
    idp_err (*audit_last)(store *st, size_t limit, store_audit **rows, size_t *n, idp_error *err);
    /* Pruning (oauth/audit_checkpoint.h decides what and records the checkpoint first):
     * seq_before gives the seq of the newest event with time_ms < time_ms (0 when none);
     * delete_through deletes the events with seq <= seq, *n (may be NULL) = how many. */
    idp_err (*audit_seq_before)(store *st, int64_t time_ms, int64_t *seq, idp_error *err);
    idp_err (*audit_delete_through)(store *st, int64_t seq, int64_t *n, idp_error *err);

    /* ---- sign-in (OIDC). Every op joins the caller's store_tx_begin transaction when there is
     * one; multi-statement ops are atomic within it (savepoint). Where a stored 0 means "not
     * yet" (code_consume, refresh_rotate, the refresh revokes, policy_activate), now <= 0 is
     * IDP_ERR_INVALID. ---- */

    /* Authorization codes. insert: CONFLICT on a duplicate hash. consume marks the code used
     * (used_at = now) in one atomic statement and returns the row: a second consume of the same
     * code gets the row as stored with *replayed = true and changes nothing (RFC 6749 §4.1.2:
     * the caller then revokes family_id and access_jti). Expired codes are returned as they are
     * (the caller checks expires_at). NOT_FOUND when absent (or pruned). set_issued records
     * what was issued from a consumed code (family_id / access_jti may be NULL). NOT_FOUND. */
    idp_err (*code_insert)(store *st, const store_auth_code *c, idp_error *err);
    idp_err (*code_consume)(store *st, const unsigned char hash[32], int64_t now,
                            store_auth_code *out, bool *replayed, idp_error *err);
    idp_err (*code_set_issued)(store *st, const unsigned char hash[32], const char *family_id,
                               const char *access_jti, int64_t access_exp, idp_error *err);

    /* Refresh tokens. get: NOT_FOUND; rows are returned whatever their state (the caller checks
     * rotated_at, revoked_at, expires_at, user_epoch). rotate marks old rotated (rotated_at =
     * now) only when it is current and not revoked, and inserts succ, atomically; when old was
     * already rotated or revoked: *raced = true and nothing is written (the caller decides
     * between the grace window and revoking the family, DESIGN §5). succ->family_id must be
     * old's family (else INVALID); NOT_FOUND when old is absent. The revoke ops set revoked_at =
     * now on rows not revoked yet, and are not errors when nothing matches. revoke_session
     * revokes every family that has a token of session_id; *n (may be NULL) = the number of
     * current (unrotated) tokens it revoked. revoke_one revokes the whole family of the token
     * (RFC 7009 §2.1 MAY; RFC 9700 §4.14.2); NOT_FOUND when the hash is unknown. revoke_one is
     * the front's (refresh_get, then refresh_revoke_family): backends leave it NULL. */
    idp_err (*refresh_insert)(store *st, const store_refresh *r, idp_error *err);
    idp_err (*refresh_get)(store *st, const unsigned char hash[32], store_refresh *out,
                           idp_error *err);
    idp_err (*refresh_rotate)(store *st, const unsigned char old_hash[32],
                              const store_refresh *succ, int64_t now, bool *raced,
                              idp_error *err);
    idp_err (*refresh_revoke_family)(store *st, const char *family_id, int64_t now,
                                     idp_error *err);
    idp_err (*refresh_revoke_session)(store *st, const char *session_id, int64_t now, size_t *n,
                                      idp_error *err);
    idp_err (*refresh_revoke_user)(store *st, const char *user_id, int64_t now, idp_error *err);
    idp_err (*refresh_revoke_one)(store *st, const unsigned char hash[32], int64_t now,
                                  idp_error *err);

    /* Browser sessions. get/get_by_sid: NOT_FOUND; expired rows are returned (the caller checks
     * expires_at and user_epoch). touch: last_seen = max(last_seen, now). add_client appends a
     * client_id (no spaces) to clients unless it is already listed. delete: NOT_FOUND; it does
     * not revoke refresh tokens (refresh_revoke_session, in the same transaction if wanted).
     * delete_user: *n (may be NULL) = sessions deleted. list_user: the user's sessions, oldest
     * first (for sign-out everywhere and back-channel logout). */
    idp_err (*session_insert)(store *st, const store_session *s, idp_error *err); /* CONFLICT */
    idp_err (*session_get)(store *st, const unsigned char hash[32], store_session *out,
                           idp_error *err);
    idp_err (*session_get_by_sid)(store *st, const char *sid, store_session *out, idp_error *err);
    idp_err (*session_touch)(store *st, const unsigned char hash[32], int64_t now, idp_error *err);
    idp_err (*session_add_client)(store *st, const unsigned char hash[32], const char *client_id,
                                  idp_error *err);
    idp_err (*session_delete)(store *st, const unsigned char hash[32], idp_error *err);
    idp_err (*session_delete_user)(store *st, const char *user_id, size_t *n, idp_error *err);
    idp_err (*session_list_user)(store *st, const char *user_id, store_session **rows, size_t *n,
                                 idp_error *err);

    /* Sign-in throttling per key (the caller's choice, e.g. "user:<name>", "ip:<addr>"; at most
     * STORE_LOGIN_KEY_MAX bytes). fail counts one more failure at now and returns the count;
     * with cap (may be NULL) a new key is only added while fewer than cap->max_keys counters
     * exist, else first the counter with the oldest last_at among those with fails <
     * cap->fails_below or last_at < cap->idle_before is deleted, and when there is none,
     * IDP_ERR_TOO_LARGE and nothing is written. get returns 0/0 when there is none (last_at
     * may be NULL); reset forgets the key (after a success). */
    idp_err (*login_fail)(store *st, const char *key, int64_t now, const store_login_cap *cap,
                          int64_t *fails, idp_error *err);
    idp_err (*login_fail_get)(store *st, const char *key, int64_t *fails, int64_t *last_at,
                              idp_error *err);
    idp_err (*login_fail_reset)(store *st, const char *key, idp_error *err);

    /* private_key_jwt replay (RFC 7523 §3 item 7): records (client_id, jti) until exp;
     * CONFLICT when it was seen. jti at most STORE_JTI_MAX bytes. */
    idp_err (*assertion_jti_use)(store *st, const char *client_id, const char *jti, int64_t exp,
                                 idp_error *err);
    /* End-user consent per user and client: the space-separated scopes granted so far.
     * consent_get: NOT_FOUND when none; *scope owned. consent_set replaces the stored scopes. */
    idp_err (*consent_get)(store *st, const char *user_id, const char *client_id, char **scope,
                           idp_error *err);
    idp_err (*consent_set)(store *st, const char *user_id, const char *client_id,
                           const char *scope, int64_t now, idp_error *err);
    /* Replaces a user's password hash by new_hash only while it is still old_hash (a rehash
     * with new Argon2id parameters at sign-in, DESIGN §5); no version bump, it is not a SCIM
     * change. *done false when the hash had changed meanwhile or the user is gone. */
    idp_err (*user_rehash)(store *st, const char *user_id, const char *old_hash,
                           const char *new_hash, bool *done, idp_error *err);

    /* Policy versions (DESIGN §7). insert assigns p->version (monotonic, never reused) and
     * p->created_at when 0; TOO_LARGE past STORE_POLICY_MAX; INVALID unless sha256 is 64
     * characters. get: NOT_FOUND. list: newest first, document NULL. activate makes version
     * the active one (NOT_FOUND if there is no such version) and records the activation;
     * activating the active version again is recorded too. active: the version of the latest
     * activation, 0 when none. activations: every activation, newest first. Inserting and
     * activating bump the generation (store_generation). */
    idp_err (*policy_insert)(store *st, store_policy *p, idp_error *err);
    idp_err (*policy_get)(store *st, int64_t version, store_policy *out, idp_error *err);
    idp_err (*policy_list)(store *st, store_policy **rows, size_t *n, idp_error *err);
    idp_err (*policy_activate)(store *st, int64_t version, int64_t now, idp_error *err);
    idp_err (*policy_active)(store *st, int64_t *version, idp_error *err);
    idp_err (*policy_activations)(store *st, store_policy_activation **rows, size_t *n,
                                  idp_error *err);

    /* Deletes, in one transaction: unused codes with expires_at < now and used ones with
     * expires_at < now - STORE_PRUNE_GRACE (replay detection), refresh tokens and sessions with
     * expires_at < now, assertion jtis with exp < now - STORE_PRUNE_GRACE (so a verifier's clock
     * leeway cannot reopen one), login failures with last_at < now - 1 day, upstream assertion
     * ids (fed_jti_use) with exp < now - STORE_PRUNE_GRACE. */
    idp_err (*oidc_prune)(store *st, int64_t now, idp_error *err);

    /* ---- federation (issue 12). issuer is the upstream `iss`, subject its `sub` (each 1 to
     * STORE_FED_ID_MAX bytes, else IDP_ERR_INVALID); compared exactly. Every op joins the
     * caller's store_tx_begin transaction when there is one; multi-statement ops are atomic. ---- */
    /* Upstream identity links: (issuer, subject) names at most one local user; deleting the user
     * deletes its links. link_get: *user_id (owned) of the linked user, NOT_FOUND when none.
     * link_add links (issuer, subject) to user_id at now (s): linking it again to the same user
     * is not an error, to another user is CONFLICT; INVALID when user_id is no user. link_count:
     * how many links user_id has (0 when none or no such user). */
    idp_err (*fed_link_get)(store *st, const char *issuer, const char *subject, char **user_id,
                            idp_error *err);
    idp_err (*fed_link_add)(store *st, const char *issuer, const char *subject,
                            const char *user_id, int64_t now, idp_error *err);
    idp_err (*fed_link_count)(store *st, const char *user_id, int64_t *n, idp_error *err);
    /* The user whose externalId is exactly external_id (case-sensitive, RFC 7643 §3.1).
     * NOT_FOUND when none; CONFLICT when more than one user has it (*out is then empty). */
    idp_err (*user_get_by_external_id)(store *st, const char *external_id, store_user *out,
                                       idp_error *err);
    /* Just-in-time provisioning, in one transaction (the caller's when there is one, so the
     * caller may append its audit event to it): when (issuer, subject) is linked, *user_id =
     * the linked user and *created = false, nothing written; else a new user is created as SCIM
     * POST /Users would (doc: a SCIM User JSON object as text, NULL = {}; it is normalised like a
     * POST body (scim/patch.h scim_resource_normalize, `schemas` added when absent), userName is
     * set to user_name, a password in it is dropped, active defaults to true; a new UUID id,
     * version 1, created/modified now, the userName look-alike rule) and linked at now (s):
     * *created = true. *user_id is owned. Writers are serialised (tx_begin), so concurrent calls
     * for one pair end with one user and one link; each returns that user. Errors: CONFLICT
     * (userName taken or a look-alike of another user's), IDP_ERR_SCIM_INVALID_VALUE /
     * IDP_ERR_SCIM_INVALID_SYNTAX (a document POST /Users would refuse, or a bad userName),
     * INVALID (issuer/subject); nothing is written on error (inside the caller's transaction:
     * once the caller rolls back, as it must on an error). The front's (composed from
     * fed_link_get, user_create, fed_link_add): backends leave it NULL. */
    idp_err (*fed_provision)(store *st, const char *issuer, const char *subject,
                             const char *user_name, const char *doc, int64_t now, char **user_id,
                             bool *created, idp_error *err);
    /* Single use of an upstream assertion id (RFC 7523 §3 item 7, for assertions an upstream
     * issued): records (issuer, jti) until exp. IDP_OK the first time; CONFLICT when (issuer,
     * jti) is recorded with exp > now; a recorded one with exp <= now has expired and is
     * replaced (callers that accept clock skew pass now - leeway). At most max_rows ids are kept
     * (max_rows <= 0 or above STORE_FED_JTI_MAX = STORE_FED_JTI_MAX): when that many are, the
     * expired ones are dropped first, and when none is, IDP_ERR_UNAVAILABLE and nothing is
     * written (fail closed). jti at most STORE_JTI_MAX bytes. oidc_prune deletes ids with
     * exp < now - STORE_PRUNE_GRACE. */
    idp_err (*fed_jti_use)(store *st, const char *issuer, const char *jti, int64_t exp,
                           int64_t now, int64_t max_rows, idp_error *err);
    /* The last good JWKS per issuer. put replaces the stored one (upsert); TOO_LARGE past
     * STORE_FED_JWKS_MAX; INVALID when body is not JSON. get: NOT_FOUND when none; *out owned
     * (store_fed_jwks_clear). */
    idp_err (*fed_jwks_put)(store *st, const store_fed_jwks *j, idp_error *err);
    idp_err (*fed_jwks_get)(store *st, const char *issuer, store_fed_jwks *out, idp_error *err);
    /* Key-cache status per issuer. put upserts (INVALID: a state not in the list, a last_error
     * over STORE_FED_ERROR_MAX bytes, kids not a JSON array, a missing issuer or name); with
     * notify the generation is bumped. get: NOT_FOUND when none. list: every row, by issuer.
     * Rows owned (store_fed_status_clear / store_fed_status_list_free). */
    idp_err (*fed_status_put)(store *st, const store_fed_status *s, idp_error *err);
    idp_err (*fed_status_get)(store *st, const char *issuer, store_fed_status *out,
                              idp_error *err);
    idp_err (*fed_status_list)(store *st, store_fed_status **rows, size_t *n, idp_error *err);

    /* ---- backend primitives: called by the front (store.c) to compose the rule ops above,
     * not by callers. ---- */
    /* Whether the calling thread is inside tx_begin. */
    bool (*tx_active)(store *st);
    /* Whether a user other than id has a userName with this comparison key (scim/username.h
     * username_key; the front refuses such a look-alike with CONFLICT on create and replace). */
    idp_err (*user_name_key_taken)(store *st, const char *key, const char *id, bool *taken,
                                   idp_error *err);
    /* token_epoch + 1 for one user; not an error when there is no such user. */
    idp_err (*user_epoch_bump)(store *st, const char *user_id, idp_error *err);
    /* group_replace and group_delete without the epoch rule: each user that left the group
     * (a member before, not after) is appended once to *left. */
    idp_err (*group_update)(store *st, const store_group *g, const scim_delta *members,
                            int64_t expect_version, store_ids *left, idp_error *err);
    idp_err (*group_remove)(store *st, const char *id, int64_t expect_version, store_ids *left,
                            idp_error *err);
    /* The newest stored audit event's seq and hash; 0 and 32 zero bytes when none is stored. */
    idp_err (*audit_tail)(store *st, int64_t *seq, unsigned char hash[32], idp_error *err);
    /* Stores ev exactly as given (seq, prev_hash and hash included); CONFLICT on a taken seq. */
    idp_err (*audit_insert)(store *st, const store_audit *ev, idp_error *err);
} store_ops;

struct store {
    const store_ops *ops;
};

/* Opens (creating when create is true) the store at spec: a SQLite file path, "sqlite:PATH",
 * or a PostgreSQL connection URI "postgresql://..." / "postgres://..." (libpq syntax; the
 * database must exist, its schema is created). IDP_ERR_NOT_FOUND when !create and a SQLite file
 * does not exist. Pending schema migrations are applied on every open (each in its own
 * transaction under a lock, so processes opening one store at once migrate it once); a database
 * whose schema is newer than this binary knows is refused with IDP_ERR_STORE and a message
 * naming both versions ("store: database schema version 9 is newer than this idpd supports (8);
 * upgrade idpd"), before anything is written.
 * Errors of every op: IDP_ERR_CONFLICT (duplicate key), IDP_ERR_NOT_FOUND (no such row, where
 * noted), IDP_ERR_STORE (database failure; the message never contains a bound value). */
idp_err store_open(const char *spec, bool create, store **out, idp_error *err);
/* As store_open; pool = the most database connections a PostgreSQL store opens (config
 * store_pool; < 1 = the default, 4); ignored by SQLite (one connection per thread). */
idp_err store_open_pool(const char *spec, bool create, int pool, store **out, idp_error *err);
void store_close(store *st); /* accepts NULL */
/* The schema version of the store at spec (as store_open's) in *version, and in *known the
 * newest version this binary's migrations reach, read without opening it as a store: nothing is
 * migrated or written (`idpd store migrate` reads it before and after store_open). A version
 * above *known is a database a newer idpd migrated (store_open refuses it). IDP_ERR_NOT_FOUND
 * when spec holds no store (a missing SQLite file, a PostgreSQL database without the table
 * store_schema); IDP_ERR_STORE when it cannot be reached or read. */
idp_err store_schema_version(const char *spec, int64_t *version, int64_t *known, idp_error *err);
/* The file name of the migration that brings the schema of spec's backend to version (1 = the
 * first: "0001_init.sql"); NULL for a version this binary does not know or a malformed spec.
 * Static. */
const char *store_schema_migration_name(const char *spec, int64_t version);

void store_key_clear(store_key *k);
void store_key_list_free(store_key *rows, size_t n);
void store_client_clear(store_client *c);
void store_client_list_free(store_client *rows, size_t n);
void store_auth_code_clear(store_auth_code *c);
void store_refresh_clear(store_refresh *r);
void store_session_clear(store_session *s);
void store_session_list_free(store_session *rows, size_t n);
void store_policy_clear(store_policy *p);
void store_policy_list_free(store_policy *rows, size_t n);
void store_policy_activation_list_free(store_policy_activation *rows, size_t n);

#define STORE_LOGIN_KEY_MAX 512u
#define STORE_JTI_MAX 1024u
#define STORE_PRUNE_GRACE 600 /* s: used codes and assertion jtis outlive their expiry by this */

void store_user_clear(store_user *u);
void store_user_list_free(store_user *rows, size_t n);
void store_group_clear(store_group *g);
void store_group_list_free(store_group *rows, size_t n);
void store_ref_list_free(store_ref *rows, size_t n);
void store_pkey_clear(store_pkey *k);
void store_pkey_list_free(store_pkey *rows, size_t n);
void store_audit_clear(store_audit *a);
void store_audit_list_free(store_audit *rows, size_t n);
void store_fed_jwks_clear(store_fed_jwks *j);
void store_fed_status_clear(store_fed_status *s);
void store_fed_status_list_free(store_fed_status *rows, size_t n);
void store_rev_event_list_free(store_rev_event *rows, size_t n);

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
/* Links ev after the event (last_seq, last_hash) (0 and zeros for the first): sets ev->seq,
 * ev->prev_hash and ev->hash. */
void store_audit_link(int64_t last_seq, const unsigned char last_hash[32], store_audit *ev);

/* DESIGN §5 revocation reach: the token_epoch user_replace stores when u replaces stored. It
 * never goes down (a concurrent bump by a group removal is not lost) and moves once more when
 * active goes true -> false and when password_hash changes to a new non-NULL value (whoever held
 * the old password loses what it got them). */
int64_t store_user_epoch_next(const store_user *stored, const store_user *u);

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
#define store_client_update(st, c, e) ((st)->ops->client_update((st), (c), (e)))
#define store_jti_revoke(st, j, x, e) ((st)->ops->jti_revoke((st), (j), (x), (e)))
#define store_jti_is_revoked(st, j, r, e) ((st)->ops->jti_is_revoked((st), (j), (r), (e)))
#define store_jti_prune(st, now, e) ((st)->ops->jti_prune((st), (now), (e)))
/* The SCIM, provisioning-key, audit, sign-in, policy and federation ops are called as
 * st->ops->user_create(st, ...). */

#endif
