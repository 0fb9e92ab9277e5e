/* store internal — the backend constructors store_open dispatches to, and the helpers the SQLite
 * backend files (store_sqlite.c, store_sqlite_scim.c) share. */
#ifndef IDPD_STORE_INTERNAL_H
#define IDPD_STORE_INTERNAL_H

#include "store/store.h"

#include <sqlite3.h>

/* SQLite backend (store_sqlite.c). path is a file name (never a URI; ":memory:" is refused
 * because every thread gets its own connection). */
idp_err store_sqlite_open(const char *path, bool create, store **out, idp_error *err);

/* ---- SQLite helpers (store_sqlite.c) ---- */
#define SQ_XSTMT_MAX 64
/* Statement slot id (0 <= id < SQ_XSTMT_MAX) of this thread's connection, prepared from the
 * constant sql on first use (the same id must always be used with the same sql). Finish with
 * sq_done. */
idp_err sq_xstmt(store *st, int id, const char *sql, sqlite3_stmt **out, idp_error *err);
idp_err sq_db(store *st, sqlite3 **out, idp_error *err); /* this thread's connection, borrowed */
void sq_done(sqlite3_stmt *q);                            /* reset + clear bindings */
idp_err sq_fail(idp_error *err, int rc, const char *what);
/* Binders: no-ops once *b holds an error; SQLITE_STATIC (bound memory must outlive the step). */
void sq_bind_text(sqlite3_stmt *q, int i, const char *s, int *b);
void sq_bind_i64(sqlite3_stmt *q, int i, int64_t v, int *b);
void sq_bind_blob(sqlite3_stmt *q, int i, const void *p, size_t n, int *b);
char *sq_col_str(sqlite3_stmt *q, int i); /* owned copy or NULL */
/* Steps a row-less statement: uniqueness -> CONFLICT, other constraints -> INVALID; resets q. */
idp_err sq_write(sqlite3_stmt *q, int b, const char *what, int *changes, idp_error *err);
idp_err sq_write_one(sqlite3_stmt *q, int b, const char *what, idp_error *err); /* NOT_FOUND */

/* ---- SCIM, provisioning-key and audit ops (store_sqlite_scim.c), as documented in store.h ---- */
idp_err sqs_user_create(store *st, const store_user *u, idp_error *err);
idp_err sqs_user_get(store *st, const char *id, store_user *out, idp_error *err);
idp_err sqs_user_get_by_name(store *st, const char *user_name, store_user *out, idp_error *err);
idp_err sqs_user_replace(store *st, const store_user *u, int64_t expect_version, idp_error *err);
idp_err sqs_user_delete(store *st, const char *id, int64_t expect_version, idp_error *err);
idp_err sqs_user_query(store *st, const store_query *q, store_user **rows, size_t *n,
                       int64_t *total, idp_error *err);
idp_err sqs_user_groups(store *st, const char *user_id, store_ref **rows, size_t *n,
                        idp_error *err);
idp_err sqs_group_create(store *st, const store_group *g, const store_member_delta *members,
                         idp_error *err);
idp_err sqs_group_get(store *st, const char *id, store_group *out, idp_error *err);
idp_err sqs_group_replace(store *st, const store_group *g, const store_member_delta *members,
                          int64_t expect_version, idp_error *err);
idp_err sqs_group_delete(store *st, const char *id, int64_t expect_version, idp_error *err);
idp_err sqs_group_query(store *st, const store_query *q, store_group **rows, size_t *n,
                        int64_t *total, idp_error *err);
idp_err sqs_group_members(store *st, const char *group_id, store_ref **rows, size_t *n,
                          idp_error *err);
idp_err sqs_pkey_insert(store *st, const store_pkey *k, idp_error *err);
idp_err sqs_pkey_get(store *st, const char *id, store_pkey *out, idp_error *err);
idp_err sqs_pkey_list(store *st, store_pkey **rows, size_t *n, idp_error *err);
idp_err sqs_pkey_update(store *st, const store_pkey *k, idp_error *err);
idp_err sqs_pkey_touch(store *st, const char *id, int64_t now, idp_error *err);
idp_err sqs_audit_append(store *st, store_audit *ev, idp_error *err);
idp_err sqs_audit_list(store *st, int64_t after_seq, size_t limit, store_audit **rows, size_t *n,
                       idp_error *err);
idp_err sqs_audit_last(store *st, size_t limit, store_audit **rows, size_t *n, idp_error *err);

#endif
