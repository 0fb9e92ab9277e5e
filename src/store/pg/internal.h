/* store pg internal — the PostgreSQL backend's constructor and the helpers its files
 * (store_pg*.c) share. Mirrors store/sqlite/internal.h: statement slots per file, bound
 * parameters only, row readers, and the op wrapper that runs each op atomically with the
 * bounded retry of serialization failures (store_pg_op.c). */
#ifndef IDPD_STORE_PG_INTERNAL_H
#define IDPD_STORE_PG_INTERNAL_H

#include "store/store.h"

#include <libpq-fe.h>

/* Opens the PostgreSQL store at uri ("postgresql://..." or "postgres://...", libpq syntax):
 * a pool of at most pool_size connections (< 1 = 4), pending migrations applied. create is
 * accepted for symmetry (a database is created by its administrator; the schema is created on
 * every open). The store has the backend's own ops table; store_open installs the front's. */
idp_err store_pg_open(const char *uri, int pool_size, bool create, store **out, idp_error *err);
/* The version in store_schema of the database at uri (NOT_FOUND when it holds no store) and the
 * count of this binary's migrations; nothing is written (store.h store_schema_version). */
idp_err store_pg_schema_version(const char *uri, int64_t *version, int64_t *known,
                                idp_error *err);
/* Installs the front's ops table on a backend's freshly opened store (store.c; store_close
 * removes it). Used by store_open, and by the PostgreSQL contract driver while store_open
 * refuses an incomplete backend. */
idp_err store_front_install(store *st, idp_error *err);
/* Whether every storage op of the backend's table is implemented (store_open refuses the
 * backend until it is). */
bool store_pg_complete(void);

/* ---- connections and migrations (store_pg.c, store_pg_migrate.c) ---- */
/* A new connection to uri with idpd's session settings (connect and lock timeouts); the
 * message never holds the URI. */
idp_err store_pg_connect(const char *uri, PGconn **out, idp_error *err);
/* Applies the pending migrations on c (store_pg_migrate.c); without create, a database that
 * holds no store is IDP_ERR_NOT_FOUND. A newer schema is IDP_ERR_STORE naming both versions. */
idp_err store_pg_migrate(PGconn *c, bool create, idp_error *err);

/* ---- statements (store_pg.c; parameters and readers: store_pg_param.c) ---- */
/* Statement slots: each file owns [PG_STMT_<FILE>, PG_STMT_<FILE>_END). A slot is prepared on a
 * connection on first use (PQprepare, name "idpd_<slot>"), always from the same constant SQL. */
#define PG_STMT_MAX 256
#define PG_STMT_CORE 0 /* store_pg.c */
#define PG_STMT_CORE_END 32
#define PG_STMT_SCIM 32 /* store_pg_scim.c */
#define PG_STMT_SCIM_END 80
#define PG_STMT_PKEY 80 /* store_pg_pkey.c */
#define PG_STMT_PKEY_END 88
#define PG_STMT_AUDIT 88 /* store_pg_audit.c */
#define PG_STMT_AUDIT_END 96
#define PG_STMT_OIDC 96 /* store_pg_oidc.c */
#define PG_STMT_OIDC_END 150
#define PG_STMT_POLICY 150 /* store_pg_policy.c */
#define PG_STMT_POLICY_END 158
#define PG_STMT_FED 158 /* store_pg_fed.c */
#define PG_STMT_FED_END 190
#define PG_STMT_KEYS 190 /* store_pg_keys.c */
#define PG_STMT_KEYS_END 206
#define PG_STMT_REV 248 /* store_pg_rev.c */
#define PG_STMT_REV_END 256

/* Bound parameters, $1.. in the order they are added; values are never part of SQL text. Text
 * parameters point at the caller's memory (it must outlive the exec); integers are formatted
 * into the struct. A NULL string/bytes is SQL NULL. */
#define PG_PARAMS_MAX 24
typedef struct pg_params {
    int n;
    bool overflow;
    const char *v[PG_PARAMS_MAX];
    int len[PG_PARAMS_MAX];
    int fmt[PG_PARAMS_MAX]; /* 0 text, 1 binary (bytea) */
    char num[PG_PARAMS_MAX][24];
} pg_params;
void store_pg_text(pg_params *p, const char *s);
void store_pg_i64(pg_params *p, int64_t v);
void store_pg_bool(pg_params *p, bool v);
void store_pg_bytea(pg_params *p, const void *b, size_t n);

/* Runs slot id (sql) with p on this thread's connection (which an op or a transaction holds).
 * *res (may be NULL: then cleared here) is PGRES_TUPLES_OK or PGRES_COMMAND_OK; PQclear it.
 * Errors: unique violation (23505) -> IDP_ERR_CONFLICT; another integrity or data error (SQLSTATE
 * class 23 or 22) -> IDP_ERR_INVALID; anything else -> IDP_ERR_STORE. Messages name `what` and
 * the SQLSTATE, never a value (PostgreSQL's own message can quote one, so it is not used). */
idp_err store_pg_exec(store *st, int id, const char *sql, const pg_params *p, const char *what,
                      PGresult **res, idp_error *err);
/* A statement without rows; *changes (may be NULL) = rows it changed. */
idp_err store_pg_write(store *st, int id, const char *sql, const pg_params *p, const char *what,
                       int64_t *changes, idp_error *err);
/* As store_pg_write, and NOT_FOUND when no row changed. */
idp_err store_pg_write_one(store *st, int id, const char *sql, const pg_params *p, const char *what,
                           idp_error *err);
/* Runs generated SQL (a list query from pg_sql.c: constant fragments only) unprepared with n
 * text parameters (PQexecParams); errors as store_pg_exec. */
idp_err store_pg_exec_dyn(store *st, const char *sql, int n, const char *const *vals,
                          const char *what, PGresult **res, idp_error *err);
/* Runs a constant statement outside the slots (transaction control: BEGIN, SAVEPOINT, ...). */
idp_err store_pg_simple(store *st, const char *sql, idp_error *err);

/* Column readers (text result format). */
char *store_pg_str(const PGresult *r, int row, int col);   /* owned copy, NULL for SQL NULL */
int64_t store_pg_int(const PGresult *r, int row, int col); /* 0 for NULL */
bool store_pg_boolv(const PGresult *r, int row, int col);
/* A bytea column of exactly n bytes into out; false when NULL or another length. */
bool store_pg_bytes(const PGresult *r, int row, int col, unsigned char *out, size_t n);
/* A bytea column of any length: owned (at least 1 byte allocated); false when NULL/malformed. */
bool store_pg_bytes_dup(const PGresult *r, int row, int col, unsigned char **out, size_t *n);
bool store_pg_isnull(const PGresult *r, int row, int col);

/* ---- ops (store_pg_op.c) ----
 * Every op body runs inside STORE_PG_OP: it holds this thread's connection for the duration,
 * and the op is atomic — outside a transaction a PG_WRITE op runs in its own transaction that
 * takes the writer lock (as tx_begin does) and a PG_READ op runs its statements directly; inside
 * the caller's transaction (or inside another op) it runs under a savepoint, so a failed op
 * (a CONFLICT, say) leaves the caller's transaction as it was, as on SQLite.
 *
 * The retry lives here: when the body fails with a serialization failure (40001) or a deadlock
 * (40P01) and the op began its own transaction, that transaction was rolled back and the body
 * is run again, at most PG_OP_RETRIES times; when the connection broke before COMMIT was sent
 * and no transaction of the caller's was open, the connection is reset and the body run once
 * more. This is safe because an op has no effect outside the database (it sends nothing, calls
 * no one) and its outputs are only set on success; a COMMIT that fails is never retried (it may
 * have taken effect). Inside the caller's transaction nothing is retried: the error is returned
 * and the caller rolls back (its transaction is lost). Bodies must therefore write their
 * out-parameters only once everything succeeded, and reset them at the start. */
#define PG_READ 0
#define PG_WRITE 1
#define PG_OP_RETRIES 8
typedef struct pg_op {
    int kind;
    int state;     /* 0 = not begun, 1 = body running, 2 = done */
    int attempts;  /* serialization retries used */
    bool reset;    /* the reconnect-once retry used */
    bool own;      /* began its own transaction (PG_WRITE outside one) */
    bool sp;       /* under a savepoint */
    bool borrowed; /* borrowed the connection from the pool */
    bool nested;   /* inside another op: no savepoint, no retry */
} pg_op;
bool store_pg_op_next(store *st, pg_op *op, idp_err *rc, idp_error *err);
#define STORE_PG_OP(st, kind_, rc, err)                                                            \
    for (pg_op op_ = {.kind = (kind_)}; store_pg_op_next((st), &op_, &(rc), (err));)

/* Used by store_pg_op.c: this thread's connection (borrowing one when borrow), the transaction
 * state and the retry classification of the last failed statement. */
typedef struct pg_conn pg_conn;
idp_err store_pg_conn_hold(store *st, bool *borrowed, idp_error *err);
void store_pg_conn_release(store *st, bool borrowed);
bool store_pg_in_tx(store *st);              /* inside tx_begin on this thread */
int store_pg_op_depth(store *st, int delta); /* adjusts and returns the nesting depth */
/* What the last failed statement on this thread's connection was: 1 = retryable serialization
 * failure or deadlock, 2 = the connection broke, 0 = another error. */
int store_pg_last_failure(store *st);
/* Resets this thread's connection when it broke (new session, statements prepared again). */
idp_err store_pg_conn_repair(store *st, idp_error *err);
/* Serialization failures retried so far by this process (tx_begin's writer lock and the op
 * wrapper), for the tests that prove the retry (test_store_pg_cluster). */
int64_t store_pg_retries(void);
void store_pg_retried(void);
/* BEGIN ISOLATION LEVEL REPEATABLE READ and the writer lock (store_pg.c, with its own retry). */
idp_err store_pg_writer_begin(store *st, idp_error *err);

/* Row readers: one row (NOT found is *found = false) and all rows into a growing array. */
typedef idp_err (*store_pg_row_fn)(const PGresult *r, int row, void *out, idp_error *err);
typedef void (*store_pg_row_clear_fn)(void *row);
idp_err store_pg_rows(const PGresult *r, size_t esize, size_t max, store_pg_row_fn fn,
                      store_pg_row_clear_fn clear, void **rows, size_t *n, idp_error *err);

/* ---- signing keys, clients, revoked jtis (store_pg_keys.c) ---- */
idp_err store_pg_key_list(store *st, store_key **rows, size_t *n, idp_error *err);
idp_err store_pg_key_insert(store *st, const store_key *k, idp_error *err);
idp_err store_pg_key_update_state(store *st, const char *kid, key_state state,
                                  int64_t activated_at, int64_t retired_at, idp_error *err);
idp_err store_pg_key_delete(store *st, const char *kid, idp_error *err);
idp_err store_pg_client_insert(store *st, const store_client *c, idp_error *err);
idp_err store_pg_client_update(store *st, const store_client *c, idp_error *err);
idp_err store_pg_client_get(store *st, const char *client_id, store_client *out,
                            idp_error *err);
idp_err store_pg_client_list(store *st, store_client **rows, size_t *n, idp_error *err);
idp_err store_pg_client_delete(store *st, const char *client_id, idp_error *err);
idp_err store_pg_client_set_secret(store *st, const char *client_id,
                                   const unsigned char hash[32], int64_t now, idp_error *err);
idp_err store_pg_jti_revoke(store *st, const char *jti, int64_t exp, idp_error *err);
idp_err store_pg_jti_is_revoked(store *st, const char *jti, bool *revoked, idp_error *err);
idp_err store_pg_jti_prune(store *st, int64_t now, idp_error *err);

/* ---- policy (store_pg_policy.c) ---- */
idp_err store_pg_policy_insert(store *st, store_policy *p, idp_error *err);
idp_err store_pg_policy_get(store *st, int64_t version, store_policy *out, idp_error *err);
idp_err store_pg_policy_list(store *st, store_policy **rows, size_t *n, idp_error *err);
idp_err store_pg_policy_activate(store *st, int64_t version, int64_t now, idp_error *err);
idp_err store_pg_policy_active(store *st, int64_t *version, idp_error *err);
idp_err store_pg_policy_activations(store *st, store_policy_activation **rows, size_t *n,
                                    idp_error *err);

/* ---- provisioning keys (store_pg_pkey.c) and audit (store_pg_audit.c) ---- */
idp_err store_pg_pkey_insert(store *st, const store_pkey *k, idp_error *err);
idp_err store_pg_pkey_get(store *st, const char *id, store_pkey *out, idp_error *err);
idp_err store_pg_pkey_list(store *st, store_pkey **rows, size_t *n, idp_error *err);
idp_err store_pg_pkey_update(store *st, const store_pkey *k, idp_error *err);
idp_err store_pg_pkey_touch(store *st, const char *id, int64_t now, idp_error *err);
idp_err store_pg_audit_tail(store *st, int64_t *seq, unsigned char hash[32], idp_error *err);
idp_err store_pg_audit_insert(store *st, const store_audit *ev, idp_error *err);
idp_err store_pg_audit_list(store *st, int64_t after_seq, size_t limit, store_audit **rows,
                            size_t *n, idp_error *err);
idp_err store_pg_audit_last(store *st, size_t limit, store_audit **rows, size_t *n, idp_error *err);
idp_err store_pg_audit_seq_before(store *st, int64_t time_ms, int64_t *seq, idp_error *err);
idp_err store_pg_audit_delete_through(store *st, int64_t seq, int64_t *n, idp_error *err);

/* ---- federation (store_pg_fed.c) ---- */
idp_err store_pg_fed_link_get(store *st, const char *issuer, const char *subject, char **user_id,
                              idp_error *err);
idp_err store_pg_fed_link_add(store *st, const char *issuer, const char *subject,
                              const char *user_id, int64_t now, idp_error *err);
idp_err store_pg_fed_link_count(store *st, const char *user_id, int64_t *n, idp_error *err);
idp_err store_pg_fed_jti_use(store *st, const char *issuer, const char *jti, int64_t exp,
                             int64_t now, int64_t max_rows, idp_error *err);
idp_err store_pg_fed_prune(store *st, int64_t before, idp_error *err);
idp_err store_pg_fed_status_put(store *st, const store_fed_status *s, idp_error *err);
idp_err store_pg_fed_status_get(store *st, const char *issuer, store_fed_status *out,
                                idp_error *err);
idp_err store_pg_fed_status_list(store *st, store_fed_status **rows, size_t *n, idp_error *err);
idp_err store_pg_fed_jwks_put(store *st, const store_fed_jwks *j, idp_error *err);
idp_err store_pg_fed_jwks_get(store *st, const char *issuer, store_fed_jwks *out, idp_error *err);

/* ---- SCIM (store_pg_scim.c) ---- */
idp_err store_pg_scim_user_create(store *st, const store_user *u, idp_error *err);
idp_err store_pg_scim_user_get(store *st, const char *id, store_user *out, idp_error *err);
idp_err store_pg_scim_user_get_by_name(store *st, const char *user_name, store_user *out,
                                       idp_error *err);
idp_err store_pg_scim_user_get_by_external_id(store *st, const char *external_id, store_user *out,
                                              idp_error *err);
idp_err store_pg_scim_user_name_key_taken(store *st, const char *key, const char *id, bool *taken,
                                          idp_error *err);
idp_err store_pg_scim_user_replace(store *st, const store_user *u, int64_t expect_version,
                                   idp_error *err);
idp_err store_pg_scim_user_delete(store *st, const char *id, int64_t expect_version,
                                  idp_error *err);
idp_err store_pg_scim_user_query(store *st, const store_query *q, store_user **rows, size_t *n,
                                 int64_t *total, idp_error *err);
idp_err store_pg_scim_user_groups(store *st, const char *user_id, store_ref **rows, size_t *n,
                                  idp_error *err);
idp_err store_pg_scim_group_create(store *st, const store_group *g, const scim_delta *members,
                                   idp_error *err);
idp_err store_pg_scim_group_get(store *st, const char *id, store_group *out, idp_error *err);
idp_err store_pg_scim_group_update(store *st, const store_group *g, const scim_delta *members,
                                   int64_t expect_version, store_ids *left, idp_error *err);
idp_err store_pg_scim_group_remove(store *st, const char *id, int64_t expect_version,
                                   store_ids *left, idp_error *err);
idp_err store_pg_scim_user_epoch_bump(store *st, const char *user_id, idp_error *err);
idp_err store_pg_scim_group_query(store *st, const store_query *q, store_group **rows, size_t *n,
                                  int64_t *total, idp_error *err);
idp_err store_pg_scim_group_members(store *st, const char *group_id, store_ref **rows, size_t *n,
                                    idp_error *err);

/* ---- sign-in (store_pg_oidc.c) ---- */
idp_err store_pg_oidc_code_insert(store *st, const store_auth_code *c, idp_error *err);
idp_err store_pg_oidc_code_consume(store *st, const unsigned char hash[32], int64_t now,
                                   store_auth_code *out, bool *replayed, idp_error *err);
idp_err store_pg_oidc_code_set_issued(store *st, const unsigned char hash[32],
                                      const char *family_id, const char *access_jti,
                                      int64_t access_exp, idp_error *err);
idp_err store_pg_oidc_refresh_insert(store *st, const store_refresh *r, idp_error *err);
idp_err store_pg_oidc_refresh_get(store *st, const unsigned char hash[32], store_refresh *out,
                                  idp_error *err);
idp_err store_pg_oidc_refresh_rotate(store *st, const unsigned char old_hash[32],
                                     const store_refresh *succ, int64_t now, bool *raced,
                                     idp_error *err);
idp_err store_pg_oidc_refresh_revoke_family(store *st, const char *family_id, int64_t now,
                                            idp_error *err);
idp_err store_pg_oidc_refresh_revoke_session(store *st, const char *session_id, int64_t now,
                                             size_t *n, idp_error *err);
idp_err store_pg_oidc_refresh_revoke_user(store *st, const char *user_id, int64_t now,
                                          idp_error *err);
idp_err store_pg_oidc_session_insert(store *st, const store_session *s, idp_error *err);
idp_err store_pg_oidc_session_get(store *st, const unsigned char hash[32], store_session *out,
                                  idp_error *err);
idp_err store_pg_oidc_session_get_by_sid(store *st, const char *sid, store_session *out,
                                         idp_error *err);
idp_err store_pg_oidc_session_touch(store *st, const unsigned char hash[32], int64_t now,
                                    idp_error *err);
idp_err store_pg_oidc_session_add_client(store *st, const unsigned char hash[32],
                                         const char *client_id, idp_error *err);
idp_err store_pg_oidc_session_delete(store *st, const unsigned char hash[32], idp_error *err);
idp_err store_pg_oidc_session_delete_user(store *st, const char *user_id, size_t *n,
                                          idp_error *err);
idp_err store_pg_oidc_session_list_user(store *st, const char *user_id, store_session **rows,
                                        size_t *n, idp_error *err);
idp_err store_pg_oidc_login_fail(store *st, const char *key, int64_t now,
                                 const store_login_cap *cap, int64_t *fails, idp_error *err);
idp_err store_pg_oidc_login_fail_get(store *st, const char *key, int64_t *fails, int64_t *last_at,
                                     idp_error *err);
idp_err store_pg_oidc_login_fail_reset(store *st, const char *key, idp_error *err);
idp_err store_pg_oidc_user_rehash(store *st, const char *user_id, const char *old_hash,
                                  const char *new_hash, bool *done, idp_error *err);
idp_err store_pg_oidc_consent_get(store *st, const char *user_id, const char *client_id,
                                  char **scope, idp_error *err);
idp_err store_pg_oidc_consent_set(store *st, const char *user_id, const char *client_id,
                                  const char *scope, int64_t now, idp_error *err);
idp_err store_pg_oidc_assertion_jti_use(store *st, const char *client_id, const char *jti,
                                        int64_t exp, idp_error *err);
idp_err store_pg_oidc_prune(store *st, int64_t now, idp_error *err);

/* ---- revocation events (store_pg_rev.c) ---- */
idp_err store_pg_rev_list(store *st, int64_t after_seq, size_t limit, store_rev_event **rows,
                          size_t *n, idp_error *err);
idp_err store_pg_rev_bound_raise(store *st, int64_t max_ttl, int64_t leeway, idp_error *err);
idp_err store_pg_rev_prune(store *st, int64_t now, int64_t *n, idp_error *err);
idp_err store_pg_rev_last_seq(store *st, int64_t *seq, idp_error *err);

#endif
