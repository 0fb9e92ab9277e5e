/* store_sqlite_scim — SCIM users, groups and memberships on SQLite (schema:
 * migrations/0002_scim.sql, 0006_user_name_key.sql; ops documented in store.h). Provisioning
 * keys are in store_sqlite_pkey.c, the audit chain in store_sqlite_audit.c.
 *
 *  - Constant SQL is prepared once per connection (store_sqlite_xstmt slots); list queries are
 *    assembled by scim_sql.c from fixed fragments and prepared per call, every value bound.
 *  - Each multi-statement write runs atomically (store_sqlite_op_begin/_end, store_sqlite_op.c):
 *    in its own BEGIN IMMEDIATE transaction when the connection is in autocommit mode, otherwise
 *    (inside the caller's store_tx_begin) under a SAVEPOINT, so a failure leaves the caller's
 *    transaction as it was ("nothing written").
 *  - Membership changes are row inserts/deletes; group_update and group_remove report the users
 *    who left, and the front (store.c) bumps their token_epoch in the same transaction. */
#include "store/sqlite/internal.h"
#include "scim/username.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "store/sqlite/scim_sql.h"

#include <stdlib.h>
#include <string.h>

#define SQS_MAX_PAGE 10000    /* rows one query returns */
#define SQS_MAX_REFS 10000000 /* members / groups returned */

#define USER_COLS                                                                                  \
    "id, user_name, external_id, active, doc, password_hash, token_epoch, version, created_at, "   \
    "modified_at"
#define GROUP_COLS "id, display_name, external_id, doc, version, created_at, modified_at"

typedef enum sqs_id {
    X_USER_INSERT,
    X_USER_GET,
    X_USER_GET_NAME,
    X_USER_GET_EXT,
    X_USER_UPDATE,
    X_USER_DELETE,
    X_USER_VERSION,
    X_USER_GROUPS,
    X_USER_BUMP,
    X_USER_NAME_KEY_TAKEN,
    X_USER_NAME_KEY_MISSING,
    X_USER_NAME_KEY_SET,
    X_GROUP_INSERT,
    X_GROUP_GET,
    X_GROUP_UPDATE,
    X_GROUP_DELETE,
    X_GROUP_VERSION,
    X_GROUP_SEQ_GET,
    X_GROUP_SEQ_SET,
    X_MEMBER_ADD,
    X_MEMBER_DEL,
    X_MEMBER_IDS,
    X_MEMBERS,
    X__COUNT
} sqs_id;
_Static_assert(SQ_XSTMT_SCIM + X__COUNT <= SQ_XSTMT_SCIM_END, "statement slots");

static const char *const sqs_sql[X__COUNT] = {
    [X_USER_INSERT] = "INSERT INTO users (" USER_COLS ", user_name_key) VALUES (?1, ?2, ?3, ?4, "
                      "?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [X_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    /* user_name is COLLATE NOCASE: served by the unique index users_user_name. */
    [X_USER_GET_NAME] = "SELECT " USER_COLS " FROM users WHERE user_name = ?1",
    /* exact (BINARY) match, served by users_external_id; two rows tell a conflict */
    [X_USER_GET_EXT] = "SELECT " USER_COLS " FROM users WHERE external_id = ?1 LIMIT 2",
    /* token_epoch as given: the front computed it (store_user_epoch_next, store.c). */
    [X_USER_UPDATE] = "UPDATE users SET user_name = ?2, external_id = ?3, active = ?4, doc = ?5, "
                      "password_hash = ?6, user_name_key = ?10, token_epoch = ?7, "
                      "version = version + 1, modified_at = ?8 "
                      "WHERE id = ?1 AND (?9 = 0 OR version = ?9)",
    [X_USER_DELETE] = "DELETE FROM users WHERE id = ?1 AND (?2 = 0 OR version = ?2)",
    [X_USER_VERSION] = "SELECT version FROM users WHERE id = ?1",
    [X_USER_GROUPS] = "SELECT g.id, g.display_name FROM memberships AS m JOIN groups AS g "
                      "ON g.id = m.group_id WHERE m.user_id = ?1 ORDER BY g.display_name, g.id",
    [X_USER_BUMP] = "UPDATE users SET token_epoch = token_epoch + 1 WHERE id = ?1",
    /* look-alike userNames (scim/username.h): served by users_user_name_key */
    [X_USER_NAME_KEY_TAKEN] = "SELECT 1 FROM users WHERE user_name_key = ?1 AND id <> ?2 LIMIT 1",
    [X_USER_NAME_KEY_MISSING] =
        "SELECT id, user_name FROM users WHERE user_name_key IS NULL LIMIT 1",
    [X_USER_NAME_KEY_SET] = "UPDATE users SET user_name_key = ?2 WHERE id = ?1",
    [X_GROUP_INSERT] = "INSERT INTO groups (" GROUP_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [X_GROUP_GET] = "SELECT " GROUP_COLS " FROM groups WHERE id = ?1",
    [X_GROUP_UPDATE] = "UPDATE groups SET display_name = ?2, external_id = ?3, doc = ?4, "
                       "version = version + 1, modified_at = ?5 "
                       "WHERE id = ?1 AND (?6 = 0 OR version = ?6)",
    [X_GROUP_DELETE] = "DELETE FROM groups WHERE id = ?1",
    [X_GROUP_VERSION] = "SELECT version FROM groups WHERE id = ?1",
    [X_GROUP_SEQ_GET] = "SELECT member_seq FROM groups WHERE id = ?1",
    [X_GROUP_SEQ_SET] = "UPDATE groups SET member_seq = ?2 WHERE id = ?1",
    /* A user id that is no user fails the foreign key (OR IGNORE covers duplicates only). */
    [X_MEMBER_ADD] = "INSERT OR IGNORE INTO memberships (group_id, user_id, added_seq) "
                     "VALUES (?1, ?2, ?3)",
    [X_MEMBER_DEL] = "DELETE FROM memberships WHERE group_id = ?1 AND user_id = ?2",
    [X_MEMBER_IDS] = "SELECT user_id, NULL FROM memberships WHERE group_id = ?1",
    [X_MEMBERS] = "SELECT m.user_id, u.user_name FROM memberships AS m JOIN users AS u "
                  "ON u.id = m.user_id WHERE m.group_id = ?1 ORDER BY m.added_seq",
};

static idp_err stmt(store *st, sqs_id id, sqlite3_stmt **q, idp_error *err)
{
    return store_sqlite_xstmt(st, SQ_XSTMT_SCIM + (int)id, sqs_sql[id], q, err);
}

/* After an UPDATE/DELETE guarded by "version = expect" changed nothing: which error? */
static idp_err version_miss(store *st, sqs_id vid, const char *id, const char *what, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, vid, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, id, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        rc = IDP_FAIL(err, IDP_ERR_PRECONDITION, "store: %s: version mismatch", what);
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: %s: no such resource", what);
    else
        rc = store_sqlite_fail(err, r, what);
    store_sqlite_done(q);
    return rc;
}

/* ---- row lists ------------------------------------------------------------------------------ */

typedef idp_err (*row_fn)(sqlite3_stmt *q, void *row, idp_error *err);
typedef void (*rows_free_fn)(void *rows, size_t n);

/* Steps q to the end, reading each row with fn into a growing array of esize-byte rows. */
static idp_err read_rows(sqlite3_stmt *q, size_t esize, size_t max, row_fn fn, rows_free_fn lfree,
                         void **rows, size_t *n, idp_error *err)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    idp_err rc = IDP_OK;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == max) {
            rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: more than %zu rows", max);
            goto out;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, cap * esize);
        }
        memset(v + len * esize, 0, esize);
        rc = fn(q, v + len++ * esize, err);
        if (rc) goto out;
    }
    if (r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "reading rows");
out:
    if (rc) {
        lfree(v, len);
        v = NULL;
        len = 0;
    }
    *rows = v;
    *n = len;
    return rc;
}

static int64_t or_now(int64_t ms)
{
    return ms > 0 ? ms : time_now_ms();
}

/* ---- users ---------------------------------------------------------------------------------- */

static idp_err user_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_user *u = row;
    u->id = store_sqlite_col_str(q, 0);
    u->user_name = store_sqlite_col_str(q, 1);
    u->external_id = store_sqlite_col_str(q, 2);
    u->active = sqlite3_column_int(q, 3) != 0;
    u->doc = store_sqlite_col_str(q, 4);
    u->password_hash = store_sqlite_col_str(q, 5);
    u->token_epoch = sqlite3_column_int64(q, 6);
    u->version = sqlite3_column_int64(q, 7);
    u->created_at = sqlite3_column_int64(q, 8);
    u->modified_at = sqlite3_column_int64(q, 9);
    if (!u->id || !u->user_name || !u->doc)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: user row is incomplete");
    return IDP_OK;
}

static void user_rows_free(void *rows, size_t n)
{
    store_user_list_free(rows, n);
}

static idp_err user_check(const store_user *u, idp_error *err)
{
    if (!u->id || !*u->id || !u->user_name || !*u->user_name)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: user without id or userName");
    return IDP_OK;
}

/* The comparison key of u's userName (scim/username.h), owned, for the user_name_key column. */
static idp_err name_key_of(const store_user *u, char **key, idp_error *err)
{
    *key = username_key(u->user_name);
    return *key ? IDP_OK : IDP_FAIL(err, IDP_ERR_INVALID, "store: userName is not valid UTF-8");
}

idp_err store_sqlite_scim_user_name_key_taken(store *st, const char *key, const char *id,
                                              bool *taken, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *taken = false;
    idp_err rc = stmt(st, X_USER_NAME_KEY_TAKEN, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    store_sqlite_bind_text(q, 2, id, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        *taken = true;
    else if (r != SQLITE_DONE)
        rc = store_sqlite_fail(err, r, "user_name_key");
    store_sqlite_done(q);
    return rc;
}

idp_err store_sqlite_scim_user_backfill_name_keys(store *st, idp_error *err)
{
    bool own = false, began = false;
    idp_err rc = IDP_OK;
    /* One row at a time (the update moves it out of the scanned index range); the common case,
     * nothing to do, takes no write lock. */
    for (;;) {
        sqlite3_stmt *q = NULL, *w = NULL;
        if ((rc = stmt(st, X_USER_NAME_KEY_MISSING, &q, err))) break;
        int r = sqlite3_step(q);
        if (r != SQLITE_ROW) {
            store_sqlite_done(q);
            if (r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "user_name_key backfill");
            break;
        }
        char *id = store_sqlite_col_str(q, 0),
             *key = username_key((const char *)sqlite3_column_text(q, 1));
        store_sqlite_done(q);
        if (!began && !(rc = store_sqlite_op_begin(st, &own, err))) began = true;
        if (!rc) rc = stmt(st, X_USER_NAME_KEY_SET, &w, err);
        if (!rc) {
            int b = SQLITE_OK;
            store_sqlite_bind_text(w, 1, id, &b);
            /* a name that is not valid UTF-8 (only possible before this version) gets "" */
            store_sqlite_bind_text(w, 2, key ? key : "", &b);
            rc = store_sqlite_write(w, b, "user_name_key backfill", NULL, err);
        }
        free(id);
        free(key);
        if (rc) break;
    }
    return began ? store_sqlite_op_end(st, own, rc, err) : rc;
}

idp_err store_sqlite_scim_user_create(store *st, const store_user *u, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    char *key = NULL;
    bool own = false;
    idp_err rc = user_check(u, err);
    if (rc || (rc = store_sqlite_op_begin(st, &own, err))) return rc;
    if ((rc = name_key_of(u, &key, err)) || (rc = stmt(st, X_USER_INSERT, &q, err))) goto out;
    int64_t created = or_now(u->created_at);
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, u->id, &b);
    store_sqlite_bind_text(q, 2, u->user_name, &b);
    store_sqlite_bind_text(q, 3, u->external_id, &b);
    store_sqlite_bind_i64(q, 4, u->active, &b);
    store_sqlite_bind_text(q, 5, u->doc ? u->doc : "{}", &b);
    store_sqlite_bind_text(q, 6, u->password_hash, &b);
    store_sqlite_bind_i64(q, 7, u->token_epoch, &b);
    store_sqlite_bind_i64(q, 8, u->version > 0 ? u->version : 1, &b);
    store_sqlite_bind_i64(q, 9, created, &b);
    store_sqlite_bind_i64(q, 10, u->modified_at > 0 ? u->modified_at : created, &b);
    store_sqlite_bind_text(q, 11, key, &b);
    /* CONFLICT: the id, or the userName case-insensitively (unique NOCASE index). */
    rc = store_sqlite_write(q, b, "user_create", NULL, err);
out:
    free(key);
    return store_sqlite_op_end(st, own, rc, err);
}

static idp_err user_get_by(store *st, sqs_id id, const char *key, store_user *out, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    memset(out, 0, sizeof *out);
    idp_err rc = stmt(st, id, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        rc = user_row(q, out, err);
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such user");
    else
        rc = store_sqlite_fail(err, r, "user_get");
    store_sqlite_done(q);
    if (rc) store_user_clear(out);
    return rc;
}

idp_err store_sqlite_scim_user_get(store *st, const char *id, store_user *out, idp_error *err)
{
    return user_get_by(st, X_USER_GET, id, out, err);
}

idp_err store_sqlite_scim_user_get_by_name(store *st, const char *user_name, store_user *out,
                                           idp_error *err)
{
    return user_get_by(st, X_USER_GET_NAME, user_name, out, err);
}

idp_err store_sqlite_scim_user_get_by_external_id(store *st, const char *external_id,
                                                  store_user *out, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    memset(out, 0, sizeof *out);
    if (!external_id || !*external_id)
        return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no user with this externalId");
    idp_err rc = stmt(st, X_USER_GET_EXT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, external_id, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW) {
        if (!(rc = user_row(q, out, err)) && (r = sqlite3_step(q)) == SQLITE_ROW)
            rc = IDP_FAIL(err, IDP_ERR_CONFLICT, "store: more than one user has this externalId");
        else if (!rc && r != SQLITE_DONE)
            rc = store_sqlite_fail(err, r, "user_get_by_external_id");
    } else if (r == SQLITE_DONE) {
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no user with this externalId");
    } else {
        rc = store_sqlite_fail(err, r, "user_get_by_external_id");
    }
    store_sqlite_done(q);
    if (rc) store_user_clear(out);
    return rc;
}

idp_err store_sqlite_scim_user_replace(store *st, const store_user *u, int64_t expect_version,
                                       idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool own = false;
    int changes = 0;
    char *key = NULL;
    idp_err rc = user_check(u, err);
    if (rc || (rc = store_sqlite_op_begin(st, &own, err))) return rc;
    if ((rc = name_key_of(u, &key, err)) || (rc = stmt(st, X_USER_UPDATE, &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, u->id, &b);
    store_sqlite_bind_text(q, 2, u->user_name, &b);
    store_sqlite_bind_text(q, 3, u->external_id, &b);
    store_sqlite_bind_i64(q, 4, u->active, &b);
    store_sqlite_bind_text(q, 5, u->doc ? u->doc : "{}", &b);
    store_sqlite_bind_text(q, 6, u->password_hash, &b);
    store_sqlite_bind_i64(q, 7, u->token_epoch, &b);
    store_sqlite_bind_i64(q, 8, or_now(u->modified_at), &b);
    store_sqlite_bind_i64(q, 9, expect_version > 0 ? expect_version : 0, &b);
    store_sqlite_bind_text(q, 10, key, &b);
    rc = store_sqlite_write(q, b, "user_replace", &changes, err);
    if (!rc && changes == 0) rc = version_miss(st, X_USER_VERSION, u->id, "user_replace", err);
out:
    free(key);
    return store_sqlite_op_end(st, own, rc, err);
}

/* Memberships go with the user (ON DELETE CASCADE). */
idp_err store_sqlite_scim_user_delete(store *st, const char *id, int64_t expect_version,
                                      idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool own = false;
    int changes = 0;
    idp_err rc = store_sqlite_op_begin(st, &own, err);
    if (rc) return rc;
    if ((rc = stmt(st, X_USER_DELETE, &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, id, &b);
    store_sqlite_bind_i64(q, 2, expect_version > 0 ? expect_version : 0, &b);
    rc = store_sqlite_write(q, b, "user_delete", &changes, err);
    if (!rc && changes == 0) rc = version_miss(st, X_USER_VERSION, id, "user_delete", err);
out:
    return store_sqlite_op_end(st, own, rc, err);
}

static idp_err ref_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_ref *r = row;
    r->id = store_sqlite_col_str(q, 0);
    r->display = store_sqlite_col_str(q, 1);
    if (!r->id) return IDP_FAIL(err, IDP_ERR_STORE, "store: membership row is incomplete");
    return IDP_OK;
}

static void ref_rows_free(void *rows, size_t n)
{
    store_ref_list_free(rows, n);
}

static idp_err refs_of(store *st, sqs_id id, const char *key, store_ref **rows, size_t *n,
                       idp_error *err)
{
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    *rows = NULL;
    *n = 0;
    idp_err rc = stmt(st, id, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    if (b != SQLITE_OK)
        rc = store_sqlite_fail(err, b, "bind");
    else
        rc = read_rows(q, sizeof(store_ref), SQS_MAX_REFS, ref_row, ref_rows_free, &v, n, err);
    store_sqlite_done(q);
    *rows = v;
    return rc;
}

idp_err store_sqlite_scim_user_groups(store *st, const char *user_id, store_ref **rows, size_t *n,
                                      idp_error *err)
{
    return refs_of(st, X_USER_GROUPS, user_id, rows, n, err);
}

idp_err store_sqlite_scim_group_members(store *st, const char *group_id, store_ref **rows,
                                        size_t *n, idp_error *err)
{
    return refs_of(st, X_MEMBERS, group_id, rows, n, err);
}

/* ---- groups and memberships ----------------------------------------------------------------- */

static idp_err group_row(sqlite3_stmt *q, void *row, idp_error *err)
{
    store_group *g = row;
    g->id = store_sqlite_col_str(q, 0);
    g->display_name = store_sqlite_col_str(q, 1);
    g->external_id = store_sqlite_col_str(q, 2);
    g->doc = store_sqlite_col_str(q, 3);
    g->version = sqlite3_column_int64(q, 4);
    g->created_at = sqlite3_column_int64(q, 5);
    g->modified_at = sqlite3_column_int64(q, 6);
    if (!g->id || !g->display_name || !g->doc)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: group row is incomplete");
    return IDP_OK;
}

static void group_rows_free(void *rows, size_t n)
{
    store_group_list_free(rows, n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes one member; one that was a member is appended to *left (may be NULL) so that the front
 * ends its tokens (store.c). */
static idp_err member_remove(store *st, const char *gid, const char *uid, store_ids *left,
                             idp_error *err)
{
    sqlite3_stmt *q = NULL;
    int changes = 0;
    idp_err rc = stmt(st, X_MEMBER_DEL, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, gid, &b);
    store_sqlite_bind_text(q, 2, uid, &b);
    if (!(rc = store_sqlite_write(q, b, "member remove", &changes, err)) && changes && left)
        store_ids_add(left, uid);
    return rc;
}

/* replace_all: every current member not in d->add leaves (the others keep their position). */
static idp_err members_drop_others(store *st, const char *gid, const scim_delta *d, store_ids *left,
                                   idp_error *err)
{
    store_ref *cur = NULL;
    size_t ncur = 0;
    char **keep = d->nadd ? xmalloc(d->nadd * sizeof *keep) : NULL;
    if (keep) memcpy(keep, d->add, d->nadd * sizeof *keep);
    if (keep) qsort(keep, d->nadd, sizeof *keep, cmp_str);
    idp_err rc = refs_of(st, X_MEMBER_IDS, gid, &cur, &ncur, err);
    for (size_t i = 0; !rc && i < ncur; i++) {
        const char *id = cur[i].id;
        if (!keep || !bsearch(&id, keep, d->nadd, sizeof *keep, cmp_str))
            rc = member_remove(st, gid, id, left, err);
    }
    store_ref_list_free(cur, ncur);
    free(keep);
    return rc;
}

/* Adds members in order after the group's last added_seq; existing members stay where they are. */
static idp_err members_add(store *st, const char *gid, const scim_delta *d, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    int64_t seq = 0;
    if (d->nadd == 0) return IDP_OK;
    idp_err rc = stmt(st, X_GROUP_SEQ_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, gid, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        seq = sqlite3_column_int64(q, 0);
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such group");
    else
        rc = store_sqlite_fail(err, r, "member_seq");
    store_sqlite_done(q);
    for (size_t i = 0; !rc && i < d->nadd; i++) {
        int changes = 0;
        const char *uid = d->add[i];
        if (!uid || !*uid) return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "members: empty value");
        if ((rc = stmt(st, X_MEMBER_ADD, &q, err))) return rc;
        store_sqlite_bind_text(q, 1, gid, &b);
        store_sqlite_bind_text(q, 2, uid, &b);
        store_sqlite_bind_i64(q, 3, seq + 1, &b);
        rc = store_sqlite_write(q, b, "member add", &changes, err);
        if (rc == IDP_ERR_INVALID) /* the foreign key: not a user (a group id, or unknown) */
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "members: %.64s is not a user", uid);
        if (!rc && changes) seq++;
    }
    if (rc || (rc = stmt(st, X_GROUP_SEQ_SET, &q, err))) return rc;
    store_sqlite_bind_text(q, 1, gid, &b);
    store_sqlite_bind_i64(q, 2, seq, &b);
    return store_sqlite_write(q, b, "member_seq", NULL, err);
}

/* Order: replace_all (keeping the ids of d->add), then d->remove, then d->add. */
static idp_err members_apply(store *st, const char *gid, const scim_delta *d, store_ids *left,
                             idp_error *err)
{
    idp_err rc = IDP_OK;
    if (!d) return IDP_OK;
    if (d->replace_all) rc = members_drop_others(st, gid, d, left, err);
    for (size_t i = 0; !rc && i < d->nremove; i++)
        if (d->remove[i]) rc = member_remove(st, gid, d->remove[i], left, err);
    return rc ? rc : members_add(st, gid, d, err);
}

static idp_err group_check(const store_group *g, idp_error *err)
{
    if (!g->id || !*g->id || !g->display_name || !*g->display_name)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: group without id or displayName");
    return IDP_OK;
}

idp_err store_sqlite_scim_group_create(store *st, const store_group *g, const scim_delta *members,
                                       idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool own = false;
    idp_err rc = group_check(g, err);
    if (rc || (rc = store_sqlite_op_begin(st, &own, err))) return rc;
    if ((rc = stmt(st, X_GROUP_INSERT, &q, err))) goto out;
    int64_t created = or_now(g->created_at);
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, g->id, &b);
    store_sqlite_bind_text(q, 2, g->display_name, &b);
    store_sqlite_bind_text(q, 3, g->external_id, &b);
    store_sqlite_bind_text(q, 4, g->doc ? g->doc : "{}", &b);
    store_sqlite_bind_i64(q, 5, g->version > 0 ? g->version : 1, &b);
    store_sqlite_bind_i64(q, 6, created, &b);
    store_sqlite_bind_i64(q, 7, g->modified_at > 0 ? g->modified_at : created, &b);
    rc = store_sqlite_write(q, b, "group_create", NULL, err);
    if (!rc) rc = members_apply(st, g->id, members, NULL, err);
out:
    return store_sqlite_op_end(st, own, rc, err);
}

idp_err store_sqlite_scim_group_get(store *st, const char *id, store_group *out, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    memset(out, 0, sizeof *out);
    idp_err rc = stmt(st, X_GROUP_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, id, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW)
        rc = group_row(q, out, err);
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such group");
    else
        rc = store_sqlite_fail(err, r, "group_get");
    store_sqlite_done(q);
    if (rc) store_group_clear(out);
    return rc;
}

/* members NULL keeps the membership as it is. */
idp_err store_sqlite_scim_group_update(store *st, const store_group *g, const scim_delta *members,
                                       int64_t expect_version, store_ids *left, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool own = false;
    int changes = 0;
    idp_err rc = group_check(g, err);
    if (rc || (rc = store_sqlite_op_begin(st, &own, err))) return rc;
    if ((rc = stmt(st, X_GROUP_UPDATE, &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, g->id, &b);
    store_sqlite_bind_text(q, 2, g->display_name, &b);
    store_sqlite_bind_text(q, 3, g->external_id, &b);
    store_sqlite_bind_text(q, 4, g->doc ? g->doc : "{}", &b);
    store_sqlite_bind_i64(q, 5, or_now(g->modified_at), &b);
    store_sqlite_bind_i64(q, 6, expect_version > 0 ? expect_version : 0, &b);
    rc = store_sqlite_write(q, b, "group_replace", &changes, err);
    if (!rc && changes == 0) rc = version_miss(st, X_GROUP_VERSION, g->id, "group_replace", err);
    if (!rc) rc = members_apply(st, g->id, members, left, err);
out:
    return store_sqlite_op_end(st, own, rc, err);
}

idp_err store_sqlite_scim_user_epoch_bump(store *st, const char *user_id, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = stmt(st, X_USER_BUMP, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, user_id, &b);
    return store_sqlite_write(q, b, "token epoch", NULL, err);
}

/* Appends the ids of gid's members to *left. */
static idp_err member_ids(store *st, const char *gid, store_ids *left, idp_error *err)
{
    store_ref *cur = NULL;
    size_t ncur = 0;
    idp_err rc = refs_of(st, X_MEMBER_IDS, gid, &cur, &ncur, err);
    for (size_t i = 0; !rc && i < ncur; i++)
        store_ids_add(left, cur[i].id);
    store_ref_list_free(cur, ncur);
    return rc;
}

/* The members lose the group: *left gets them before the rows cascade away. */
idp_err store_sqlite_scim_group_remove(store *st, const char *id, int64_t expect_version,
                                       store_ids *left, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    bool own = false;
    idp_err rc = store_sqlite_op_begin(st, &own, err);
    if (rc) return rc;
    if ((rc = stmt(st, X_GROUP_VERSION, &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, id, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW && expect_version > 0 && sqlite3_column_int64(q, 0) != expect_version)
        rc = IDP_FAIL(err, IDP_ERR_PRECONDITION, "store: group_delete: version mismatch");
    else if (r == SQLITE_DONE)
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such group");
    else if (r != SQLITE_ROW)
        rc = store_sqlite_fail(err, r, "group_delete");
    store_sqlite_done(q);
    if (rc || (rc = member_ids(st, id, left, err))) goto out;
    if ((rc = stmt(st, X_GROUP_DELETE, &q, err))) goto out;
    store_sqlite_bind_text(q, 1, id, &b);
    rc = store_sqlite_write_one(q, b, "group_delete", err);
out:
    return store_sqlite_op_end(st, own, rc, err);
}

/* ---- list queries (RFC 7644 §3.4.2) --------------------------------------------------------- */

static idp_err bind_params(sqlite3_stmt *q, const scim_sql *s, idp_error *err)
{
    int r = SQLITE_OK;
    for (size_t i = 0; r == SQLITE_OK && i < s->nparams; i++) {
        const scim_sql_param *p = &s->params[i];
        int idx = (int)i + 1;
        if (p->type == SCIM_SQL_TEXT)
            r = sqlite3_bind_text(q, idx, p->s, -1, SQLITE_STATIC);
        else if (p->type == SCIM_SQL_INT)
            r = sqlite3_bind_int64(q, idx, p->i);
        else
            r = sqlite3_bind_double(q, idx, p->d);
    }
    return r == SQLITE_OK ? IDP_OK : store_sqlite_fail(err, r, "query bind");
}

/* Prepares "<head> FROM <table> WHERE <where><tail>" (all constant or generated fragments). */
static idp_err prepare_query(store *st, const scim_sql *s, const char *head, const char *tail,
                             sqlite3_stmt **q, idp_error *err)
{
    sqlite3 *db = NULL;
    idp_buf b;
    *q = NULL;
    idp_err rc = store_sqlite_db(st, &db, err);
    if (rc) return rc;
    buf_init(&b, 0);
    buf_printf(&b, "%s FROM %s WHERE %s%s", head, s->table, buf_cstr((idp_buf *)&s->where), tail);
    int r = sqlite3_prepare_v3(db, buf_cstr(&b), -1, 0, q, NULL);
    buf_free(&b);
    if (r != SQLITE_OK) return store_sqlite_fail(err, r, "query prepare");
    rc = bind_params(*q, s, err);
    if (rc) {
        sqlite3_finalize(*q);
        *q = NULL;
    }
    return rc;
}

static idp_err query_total(store *st, const scim_sql *s, int64_t *total, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = prepare_query(st, s, "SELECT count(*)", "", &q, err);
    if (rc) return rc;
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW)
        *total = sqlite3_column_int64(q, 0);
    else
        rc = store_sqlite_fail(err, r, "query count");
    sqlite3_finalize(q);
    return rc;
}

/* The filter and sort are compiled by scim_sql_build (bound values only); totalResults counts
 * with the same WHERE. count is capped at SQS_MAX_PAGE; the HTTP layer caps lower. */
static idp_err run_query(store *st, const store_query *qq, const char *cols, size_t esize,
                         row_fn fn, rows_free_fn lfree, void **rows, size_t *n, int64_t *total,
                         idp_error *err)
{
    scim_sql s;
    sqlite3_stmt *q = NULL;
    idp_buf tail;
    *rows = NULL;
    *n = 0;
    if (total) *total = 0;
    buf_init(&tail, 0);
    idp_err rc = scim_sql_build(qq->rt, qq->plan, qq->sort_by, qq->descending, &s, err);
    if (rc) goto out;
    if (total && (rc = query_total(st, &s, total, err))) goto out;
    int64_t count = qq->count < 0 ? 0 : qq->count > SQS_MAX_PAGE ? SQS_MAX_PAGE : qq->count;
    int64_t offset = qq->start_index > 1 ? qq->start_index - 1 : 0;
    if (count == 0) goto out;
    /* LIMIT and OFFSET are bound too: parameters nparams+1 and nparams+2. */
    buf_printf(&tail, " ORDER BY %s LIMIT ?%zu OFFSET ?%zu", buf_cstr(&s.order), s.nparams + 1,
               s.nparams + 2);
    if ((rc = prepare_query(st, &s, cols, buf_cstr(&tail), &q, err))) goto out;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, (int)s.nparams + 1, count, &b);
    store_sqlite_bind_i64(q, (int)s.nparams + 2, offset, &b);
    if (b != SQLITE_OK)
        rc = store_sqlite_fail(err, b, "query bind");
    else
        rc = read_rows(q, esize, SQS_MAX_PAGE, fn, lfree, rows, n, err);
out:
    sqlite3_finalize(q);
    buf_free(&tail);
    scim_sql_clear(&s);
    return rc;
}

idp_err store_sqlite_scim_user_query(store *st, const store_query *q, store_user **rows, size_t *n,
                                     int64_t *total, idp_error *err)
{
    void *v = NULL;
    if (q->rt != &scim_rt_user) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: not a user query");
    idp_err rc = run_query(st, q, "SELECT " USER_COLS, sizeof(store_user), user_row, user_rows_free,
                           &v, n, total, err);
    *rows = v;
    return rc;
}

idp_err store_sqlite_scim_group_query(store *st, const store_query *q, store_group **rows,
                                      size_t *n, int64_t *total, idp_error *err)
{
    void *v = NULL;
    if (q->rt != &scim_rt_group) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: not a group query");
    idp_err rc = run_query(st, q, "SELECT " GROUP_COLS, sizeof(store_group), group_row,
                           group_rows_free, &v, n, total, err);
    *rows = v;
    return rc;
}
