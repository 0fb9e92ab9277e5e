/* store internal — the backend constructors store_open dispatches to, and the helpers the SQLite
 * backend files (store_sqlite*.c) share. */
#ifndef IDPD_STORE_INTERNAL_H
#define IDPD_STORE_INTERNAL_H

#include "store/store.h"

#include <sqlite3.h>

/* SQLite backend (store_sqlite.c). path is a file name (never a URI; ":memory:" is refused
 * because every thread gets its own connection). The store it returns has the backend's own
 * ops table; store_open then installs the front's (store.c). */
idp_err store_sqlite_open(const char *path, bool create, store **out, idp_error *err);
/* PRAGMA user_version of the file at path (which must exist: else NOT_FOUND) and the count of
 * this binary's migrations; nothing is written (store.h store_schema_version). */
idp_err store_sqlite_schema_version(const char *path, int64_t *version, int64_t *known,
                                    idp_error *err);

/* ---- SQLite helpers (store_sqlite.c) ---- */
/* Statement slots: each backend file owns the range [SQ_XSTMT_<FILE>, SQ_XSTMT_<FILE>_END). */
#define SQ_XSTMT_MAX 192
#define SQ_XSTMT_SCIM 0 /* store_sqlite_scim.c */
#define SQ_XSTMT_SCIM_END 40
#define SQ_XSTMT_PKEY 40 /* store_sqlite_pkey.c */
#define SQ_XSTMT_PKEY_END 48
#define SQ_XSTMT_AUDIT 48 /* store_sqlite_audit.c */
#define SQ_XSTMT_AUDIT_END 56
#define SQ_XSTMT_OP 56 /* store_sqlite_op.c */
#define SQ_XSTMT_OP_END 64
#define SQ_XSTMT_OIDC 64 /* store_sqlite_oidc.c */
#define SQ_XSTMT_OIDC_END 112
#define SQ_XSTMT_POLICY 112 /* store_sqlite_policy.c */
#define SQ_XSTMT_POLICY_END 120
#define SQ_XSTMT_FED 120 /* store_sqlite_fed.c */
#define SQ_XSTMT_FED_END 152
#define SQ_XSTMT_REV 184 /* store_sqlite_rev.c */
#define SQ_XSTMT_REV_END 192
/* Statement slot id (0 <= id < SQ_XSTMT_MAX) of this thread's connection, prepared from the
 * constant sql on first use (the same id must always be used with the same sql). Finish with
 * store_sqlite_done. */
idp_err store_sqlite_xstmt(store *st, int id, const char *sql, sqlite3_stmt **out, idp_error *err);
/* This thread's connection, borrowed. */
idp_err store_sqlite_db(store *st, sqlite3 **out, idp_error *err);
void store_sqlite_done(sqlite3_stmt *q); /* reset + clear bindings */
idp_err store_sqlite_fail(idp_error *err, int rc, const char *what);
/* Binders: no-ops once *b holds an error; SQLITE_STATIC (bound memory must outlive the step). */
void store_sqlite_bind_text(sqlite3_stmt *q, int i, const char *s, int *b);
void store_sqlite_bind_i64(sqlite3_stmt *q, int i, int64_t v, int *b);
void store_sqlite_bind_blob(sqlite3_stmt *q, int i, const void *p, size_t n, int *b);
char *store_sqlite_col_str(sqlite3_stmt *q, int i); /* owned copy or NULL */
/* sqlite3_step, except that a statement that writes fails with SQLITE_FULL while the
 * IDPD_FAULT_STORE_FULL file exists (fault injection, store_sqlite.c). Every write steps
 * through it (store_sqlite_write does). */
int store_sqlite_step(sqlite3_stmt *q);
/* Steps a row-less statement: uniqueness -> CONFLICT, other constraints -> INVALID; resets q. */
idp_err store_sqlite_write(sqlite3_stmt *q, int b, const char *what, int *changes, idp_error *err);
/* As store_sqlite_write, and NOT_FOUND when no row changed. */
idp_err store_sqlite_write_one(sqlite3_stmt *q, int b, const char *what, idp_error *err);

/* ---- atomic multi-statement writes and row readers (store_sqlite_op.c) ---- */
/* Starts an atomic write: its own BEGIN IMMEDIATE in autocommit mode (*own = true), else a
 * SAVEPOINT inside the caller's transaction. */
idp_err store_sqlite_op_begin(store *st, bool *own, idp_error *err);
/* Ends it: commit/release when rc is IDP_OK, else undoes everything since op_begin. Returns rc
 * or the commit error. */
idp_err store_sqlite_op_end(store *st, bool own, idp_err rc, idp_error *err);
typedef idp_err (*store_sqlite_row_fn)(sqlite3_stmt *q, void *row, idp_error *err);
typedef void (*store_sqlite_row_clear_fn)(void *row);
/* Steps q (bound; b = the binders' status) expecting at most one row, read with fn into row;
 * *found tells whether there was one; further rows are stepped over (a RETURNING statement
 * finishes its work). Resets q; on error row is cleared (clear may be NULL). */
idp_err store_sqlite_op_one(sqlite3_stmt *q, int b, const char *what, store_sqlite_row_fn fn,
                            store_sqlite_row_clear_fn clear, void *row, bool *found,
                            idp_error *err);
/* Steps q to the end, reading each row with fn into a growing array of esize-byte rows; more
 * than max rows -> IDP_ERR_TOO_LARGE. Resets q; on error nothing is returned. */
idp_err store_sqlite_op_rows(sqlite3_stmt *q, int b, size_t esize, size_t max,
                             store_sqlite_row_fn fn, store_sqlite_row_clear_fn clear, void **rows,
                             size_t *n, idp_error *err);

/* ---- SCIM ops (store_sqlite_scim.c), as documented in store.h ---- */
idp_err store_sqlite_scim_user_create(store *st, const store_user *u, idp_error *err);
/* Gives rows from before migration 0006 their user_name_key (called once at open). */
idp_err store_sqlite_scim_user_backfill_name_keys(store *st, idp_error *err);
idp_err store_sqlite_scim_user_get(store *st, const char *id, store_user *out, idp_error *err);
idp_err store_sqlite_scim_user_get_by_name(store *st, const char *user_name, store_user *out,
                                           idp_error *err);
idp_err store_sqlite_scim_user_get_by_external_id(store *st, const char *external_id,
                                                  store_user *out, idp_error *err);
idp_err store_sqlite_scim_user_name_key_taken(store *st, const char *key, const char *id,
                                              bool *taken, idp_error *err);
idp_err store_sqlite_scim_user_replace(store *st, const store_user *u, int64_t expect_version,
                                       idp_error *err);
idp_err store_sqlite_scim_user_delete(store *st, const char *id, int64_t expect_version,
                                      idp_error *err);
idp_err store_sqlite_scim_user_query(store *st, const store_query *q, store_user **rows, size_t *n,
                                     int64_t *total, idp_error *err);
idp_err store_sqlite_scim_user_groups(store *st, const char *user_id, store_ref **rows, size_t *n,
                                      idp_error *err);
idp_err store_sqlite_scim_group_create(store *st, const store_group *g, const scim_delta *members,
                                       idp_error *err);
idp_err store_sqlite_scim_group_get(store *st, const char *id, store_group *out, idp_error *err);
idp_err store_sqlite_scim_group_update(store *st, const store_group *g, const scim_delta *members,
                                       int64_t expect_version, store_ids *left, idp_error *err);
idp_err store_sqlite_scim_group_remove(store *st, const char *id, int64_t expect_version,
                                       store_ids *left, idp_error *err);
idp_err store_sqlite_scim_user_epoch_bump(store *st, const char *user_id, idp_error *err);
idp_err store_sqlite_scim_group_query(store *st, const store_query *q, store_group **rows,
                                      size_t *n, int64_t *total, idp_error *err);
idp_err store_sqlite_scim_group_members(store *st, const char *group_id, store_ref **rows,
                                        size_t *n, idp_error *err);

/* ---- provisioning keys (store_sqlite_pkey.c) and the audit chain (store_sqlite_audit.c) ---- */
idp_err store_sqlite_pkey_insert(store *st, const store_pkey *k, idp_error *err);
idp_err store_sqlite_pkey_get(store *st, const char *id, store_pkey *out, idp_error *err);
idp_err store_sqlite_pkey_list(store *st, store_pkey **rows, size_t *n, idp_error *err);
idp_err store_sqlite_pkey_update(store *st, const store_pkey *k, idp_error *err);
idp_err store_sqlite_pkey_touch(store *st, const char *id, int64_t now, idp_error *err);
idp_err store_sqlite_audit_tail(store *st, int64_t *seq, unsigned char hash[32], idp_error *err);
idp_err store_sqlite_audit_insert(store *st, const store_audit *ev, idp_error *err);
idp_err store_sqlite_audit_list(store *st, int64_t after_seq, size_t limit, store_audit **rows,
                                size_t *n, idp_error *err);
idp_err store_sqlite_audit_last(store *st, size_t limit, store_audit **rows, size_t *n,
                                idp_error *err);
idp_err store_sqlite_audit_seq_before(store *st, int64_t time_ms, int64_t *seq, idp_error *err);
idp_err store_sqlite_audit_delete_through(store *st, int64_t seq, int64_t *n, idp_error *err);

/* ---- sign-in (OIDC) ops (store_sqlite_oidc.c), as documented in store.h ---- */
idp_err store_sqlite_oidc_code_insert(store *st, const store_auth_code *c, idp_error *err);
idp_err store_sqlite_oidc_code_consume(store *st, const unsigned char hash[32], int64_t now,
                                       store_auth_code *out, bool *replayed, idp_error *err);
idp_err store_sqlite_oidc_code_set_issued(store *st, const unsigned char hash[32],
                                          const char *family_id, const char *access_jti,
                                          int64_t access_exp, idp_error *err);
idp_err store_sqlite_oidc_refresh_insert(store *st, const store_refresh *r, idp_error *err);
idp_err store_sqlite_oidc_refresh_get(store *st, const unsigned char hash[32], store_refresh *out,
                                      idp_error *err);
idp_err store_sqlite_oidc_refresh_rotate(store *st, const unsigned char old_hash[32],
                                         const store_refresh *succ, int64_t now, bool *raced,
                                         idp_error *err);
idp_err store_sqlite_oidc_refresh_revoke_family(store *st, const char *family_id, int64_t now,
                                                idp_error *err);
idp_err store_sqlite_oidc_refresh_revoke_session(store *st, const char *session_id, int64_t now,
                                                 size_t *n, idp_error *err);
idp_err store_sqlite_oidc_refresh_revoke_user(store *st, const char *user_id, int64_t now,
                                              idp_error *err);
idp_err store_sqlite_oidc_session_insert(store *st, const store_session *s, idp_error *err);
idp_err store_sqlite_oidc_session_get(store *st, const unsigned char hash[32], store_session *out,
                                      idp_error *err);
idp_err store_sqlite_oidc_session_get_by_sid(store *st, const char *sid, store_session *out,
                                             idp_error *err);
idp_err store_sqlite_oidc_session_touch(store *st, const unsigned char hash[32], int64_t now,
                                        idp_error *err);
idp_err store_sqlite_oidc_session_add_client(store *st, const unsigned char hash[32],
                                             const char *client_id, idp_error *err);
idp_err store_sqlite_oidc_session_delete(store *st, const unsigned char hash[32], idp_error *err);
idp_err store_sqlite_oidc_session_delete_user(store *st, const char *user_id, size_t *n,
                                              idp_error *err);
idp_err store_sqlite_oidc_session_list_user(store *st, const char *user_id, store_session **rows,
                                            size_t *n, idp_error *err);
idp_err store_sqlite_oidc_login_fail(store *st, const char *key, int64_t now,
                                     const store_login_cap *cap, int64_t *fails, idp_error *err);
idp_err store_sqlite_oidc_login_fail_get(store *st, const char *key, int64_t *fails,
                                         int64_t *last_at, idp_error *err);
idp_err store_sqlite_oidc_login_fail_reset(store *st, const char *key, idp_error *err);
idp_err store_sqlite_oidc_user_rehash(store *st, const char *user_id, const char *old_hash,
                                      const char *new_hash, bool *done, idp_error *err);
idp_err store_sqlite_oidc_consent_get(store *st, const char *user_id, const char *client_id,
                                      char **scope, idp_error *err);
idp_err store_sqlite_oidc_consent_set(store *st, const char *user_id, const char *client_id,
                                      const char *scope, int64_t now, idp_error *err);
idp_err store_sqlite_oidc_assertion_jti_use(store *st, const char *client_id, const char *jti,
                                            int64_t exp, idp_error *err);
idp_err store_sqlite_oidc_prune(store *st, int64_t now, idp_error *err);

/* ---- policy versions (store_sqlite_policy.c) ---- */
idp_err store_sqlite_policy_insert(store *st, store_policy *p, idp_error *err);
idp_err store_sqlite_policy_get(store *st, int64_t version, store_policy *out, idp_error *err);
idp_err store_sqlite_policy_list(store *st, store_policy **rows, size_t *n, idp_error *err);
idp_err store_sqlite_policy_activate(store *st, int64_t version, int64_t now, idp_error *err);
idp_err store_sqlite_policy_active(store *st, int64_t *version, idp_error *err);
idp_err store_sqlite_policy_activations(store *st, store_policy_activation **rows, size_t *n,
                                        idp_error *err);

/* ---- federation (store_sqlite_fed.c) ---- */
idp_err store_sqlite_fed_link_get(store *st, const char *issuer, const char *subject,
                                  char **user_id, idp_error *err);
idp_err store_sqlite_fed_link_add(store *st, const char *issuer, const char *subject,
                                  const char *user_id, int64_t now, idp_error *err);
idp_err store_sqlite_fed_link_count(store *st, const char *user_id, int64_t *n, idp_error *err);
idp_err store_sqlite_fed_jti_use(store *st, const char *issuer, const char *jti, int64_t exp,
                                 int64_t now, int64_t max_rows, idp_error *err);
/* Deletes the upstream assertion ids with exp < before (oidc_prune, inside its transaction). */
idp_err store_sqlite_fed_prune(store *st, int64_t before, idp_error *err);
idp_err store_sqlite_fed_status_put(store *st, const store_fed_status *s, idp_error *err);
idp_err store_sqlite_fed_status_get(store *st, const char *issuer, store_fed_status *out,
                                    idp_error *err);
idp_err store_sqlite_fed_status_list(store *st, store_fed_status **rows, size_t *n,
                                     idp_error *err);
idp_err store_sqlite_fed_jwks_put(store *st, const store_fed_jwks *j, idp_error *err);
idp_err store_sqlite_fed_jwks_get(store *st, const char *issuer, store_fed_jwks *out,
                                  idp_error *err);

/* ---- revocation events (store_sqlite_rev.c) ---- */
idp_err store_sqlite_rev_list(store *st, int64_t after_seq, size_t limit, store_rev_event **rows,
                              size_t *n, idp_error *err);
idp_err store_sqlite_rev_bound_raise(store *st, int64_t max_ttl, int64_t leeway, idp_error *err);
idp_err store_sqlite_rev_prune(store *st, int64_t now, int64_t *n, idp_error *err);
idp_err store_sqlite_rev_last_seq(store *st, int64_t *seq, idp_error *err);

#endif
