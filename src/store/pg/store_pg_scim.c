/* store_pg_scim — SCIM users, groups and memberships on PostgreSQL (the twin of
 * sqlite/store_sqlite_scim.c; ops documented in store.h).
 *
 *  - Constant SQL is prepared per connection (slots from PG_STMT_SCIM); list queries are
 *    assembled by pg_sql.c from fixed fragments and run with PQexecParams, every value bound.
 *  - Each multi-statement write is one op (STORE_PG_OP): its own writer transaction, or a
 *    savepoint inside the caller's, so a failure leaves nothing written.
 *  - Membership changes are row inserts/deletes; group_update and group_remove report the users
 *    who left, and the front (store.c) bumps their token_epoch in the same transaction. */
#include "store/pg/internal.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "scim/username.h"
#include "store/pg/pg_sql.h"

#include <stdlib.h>
#include <string.h>

#define PGS_MAX_PAGE 10000
#define PGS_MAX_REFS 10000000

#define USER_COLS                                                                                  \
    "id, user_name, external_id, active, doc, password_hash, token_epoch, version, created_at, "   \
    "modified_at"
#define GROUP_COLS "id, display_name, external_id, doc, version, created_at, modified_at"

typedef enum pgs_id {
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
} pgs_id;
_Static_assert(PG_STMT_SCIM + X__COUNT <= PG_STMT_SCIM_END, "statement slots");

static const char *const pgs_sql[X__COUNT] = {
    [X_USER_INSERT] = "INSERT INTO users (" USER_COLS ", user_name_key) VALUES ($1, $2, $3, $4, "
                      "$5, $6, $7, $8, $9, $10, $11)",
    [X_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = $1",
    /* served by the unique index users_user_name (store_fold: ASCII folding, as NOCASE) */
    [X_USER_GET_NAME] = "SELECT " USER_COLS " FROM users WHERE store_fold(user_name) = "
                        "store_fold($1::text)",
    [X_USER_GET_EXT] = "SELECT " USER_COLS " FROM users WHERE external_id = $1 LIMIT 2",
    [X_USER_UPDATE] = "UPDATE users SET user_name = $2, external_id = $3, active = $4, doc = $5, "
                      "password_hash = $6, user_name_key = $10, token_epoch = $7, "
                      "version = version + 1, modified_at = $8 "
                      "WHERE id = $1 AND ($9::bigint = 0 OR version = $9::bigint)",
    [X_USER_DELETE] =
        "DELETE FROM users WHERE id = $1 AND ($2::bigint = 0 OR version = $2::bigint)",
    [X_USER_VERSION] = "SELECT version FROM users WHERE id = $1",
    [X_USER_GROUPS] = "SELECT g.id, g.display_name FROM memberships AS m JOIN groups AS g "
                      "ON g.id = m.group_id WHERE m.user_id = $1 "
                      "ORDER BY store_fold(g.display_name) COLLATE \"C\", g.id COLLATE \"C\"",
    [X_USER_BUMP] = "UPDATE users SET token_epoch = token_epoch + 1 WHERE id = $1",
    [X_USER_NAME_KEY_TAKEN] = "SELECT 1 FROM users WHERE user_name_key = $1 AND id <> $2 LIMIT 1",
    [X_GROUP_INSERT] = "INSERT INTO groups (" GROUP_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [X_GROUP_GET] = "SELECT " GROUP_COLS " FROM groups WHERE id = $1",
    [X_GROUP_UPDATE] = "UPDATE groups SET display_name = $2, external_id = $3, doc = $4, "
                       "version = version + 1, modified_at = $5 "
                       "WHERE id = $1 AND ($6::bigint = 0 OR version = $6::bigint)",
    [X_GROUP_DELETE] = "DELETE FROM groups WHERE id = $1",
    [X_GROUP_VERSION] = "SELECT version FROM groups WHERE id = $1",
    [X_GROUP_SEQ_GET] = "SELECT member_seq FROM groups WHERE id = $1",
    [X_GROUP_SEQ_SET] = "UPDATE groups SET member_seq = $2 WHERE id = $1",
    /* a user id that is no user fails the foreign key (DO NOTHING covers duplicates only) */
    [X_MEMBER_ADD] = "INSERT INTO memberships (group_id, user_id, added_seq) VALUES ($1, $2, $3) "
                     "ON CONFLICT (group_id, user_id) DO NOTHING",
    [X_MEMBER_DEL] = "DELETE FROM memberships WHERE group_id = $1 AND user_id = $2",
    [X_MEMBER_IDS] = "SELECT user_id, NULL FROM memberships WHERE group_id = $1",
    [X_MEMBERS] = "SELECT m.user_id, u.user_name FROM memberships AS m JOIN users AS u "
                  "ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY m.added_seq",
};

static idp_err ex(store *st, pgs_id id, const pg_params *p, const char *what, PGresult **r,
                  idp_error *err)
{
    return store_pg_exec(st, PG_STMT_SCIM + (int)id, pgs_sql[id], p, what, r, err);
}

static idp_err wr(store *st, pgs_id id, const pg_params *p, const char *what, int64_t *changes,
                  idp_error *err)
{
    return store_pg_write(st, PG_STMT_SCIM + (int)id, pgs_sql[id], p, what, changes, err);
}

static idp_err one_text(store *st, pgs_id id, const char *key, const char *what, PGresult **r,
                        idp_error *err)
{
    pg_params p = {0};
    store_pg_text(&p, key);
    return ex(st, id, &p, what, r, err);
}

/* After an UPDATE/DELETE guarded by "version = expect" changed nothing: which error? */
static idp_err version_miss(store *st, pgs_id vid, const char *id, const char *what, idp_error *err)
{
    PGresult *r = NULL;
    idp_err rc = one_text(st, vid, id, what, &r, err);
    if (rc) return rc;
    if (PQntuples(r) > 0)
        rc = IDP_FAIL(err, IDP_ERR_PRECONDITION, "store: %s: version mismatch", what);
    else
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: %s: no such resource", what);
    PQclear(r);
    return rc;
}

static int64_t or_now(int64_t ms)
{
    return ms > 0 ? ms : time_now_ms();
}

/* ---- users ---------------------------------------------------------------------------------- */

static idp_err user_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_user *u = row;
    u->id = store_pg_str(r, i, 0);
    u->user_name = store_pg_str(r, i, 1);
    u->external_id = store_pg_str(r, i, 2);
    u->active = store_pg_boolv(r, i, 3);
    u->doc = store_pg_str(r, i, 4);
    u->password_hash = store_pg_str(r, i, 5);
    u->token_epoch = store_pg_int(r, i, 6);
    u->version = store_pg_int(r, i, 7);
    u->created_at = store_pg_int(r, i, 8);
    u->modified_at = store_pg_int(r, i, 9);
    if (!u->id || !u->user_name || !u->doc)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: user row is incomplete");
    return IDP_OK;
}

static void user_clear(void *row)
{
    store_user_clear(row);
}

static idp_err user_check(const store_user *u, idp_error *err)
{
    if (!u->id || !*u->id || !u->user_name || !*u->user_name)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: user without id or userName");
    return IDP_OK;
}

static idp_err name_key_of(const store_user *u, char **key, idp_error *err)
{
    *key = username_key(u->user_name);
    return *key ? IDP_OK : IDP_FAIL(err, IDP_ERR_INVALID, "store: userName is not valid UTF-8");
}

idp_err store_pg_scim_user_name_key_taken(store *st, const char *key, const char *id, bool *taken,
                                          idp_error *err)
{
    idp_err rc = IDP_OK;
    *taken = false;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, key);
        store_pg_text(&p, id);
        if ((rc = ex(st, X_USER_NAME_KEY_TAKEN, &p, "user_name_key", &r, err))) continue;
        *taken = PQntuples(r) > 0;
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_scim_user_create(store *st, const store_user *u, idp_error *err)
{
    char *key = NULL;
    idp_err rc = user_check(u, err);
    if (rc || (rc = name_key_of(u, &key, err))) return rc;
    int64_t created = or_now(u->created_at);
    pg_params p = {0};
    store_pg_text(&p, u->id);
    store_pg_text(&p, u->user_name);
    store_pg_text(&p, u->external_id);
    store_pg_bool(&p, u->active);
    store_pg_text(&p, u->doc ? u->doc : "{}");
    store_pg_text(&p, u->password_hash);
    store_pg_i64(&p, u->token_epoch);
    store_pg_i64(&p, u->version > 0 ? u->version : 1);
    store_pg_i64(&p, created);
    store_pg_i64(&p, u->modified_at > 0 ? u->modified_at : created);
    store_pg_text(&p, key);
    /* CONFLICT: the id, or the userName case-insensitively (unique store_fold index) */
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = wr(st, X_USER_INSERT, &p, "user_create", NULL, err);
    free(key);
    return rc;
}

static idp_err user_get_by(store *st, pgs_id id, const char *key, store_user *out, idp_error *err)
{
    idp_err rc = IDP_OK;
    memset(out, 0, sizeof *out);
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        if ((rc = one_text(st, id, key, "user_get", &r, err))) continue;
        if (PQntuples(r) == 0)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such user");
        else if ((rc = user_row(r, 0, out, err)))
            store_user_clear(out);
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_scim_user_get(store *st, const char *id, store_user *out, idp_error *err)
{
    return user_get_by(st, X_USER_GET, id, out, err);
}

idp_err store_pg_scim_user_get_by_name(store *st, const char *user_name, store_user *out,
                                       idp_error *err)
{
    return user_get_by(st, X_USER_GET_NAME, user_name, out, err);
}

idp_err store_pg_scim_user_get_by_external_id(store *st, const char *external_id, store_user *out,
                                              idp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!external_id || !*external_id)
        return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no user with this externalId");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        if ((rc = one_text(st, X_USER_GET_EXT, external_id, "user_get_by_external_id", &r, err)))
            continue;
        if (PQntuples(r) == 0)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no user with this externalId");
        else if (!(rc = user_row(r, 0, out, err)) && PQntuples(r) > 1)
            rc = IDP_FAIL(err, IDP_ERR_CONFLICT, "store: more than one user has this externalId");
        if (rc) store_user_clear(out);
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_scim_user_replace(store *st, const store_user *u, int64_t expect_version,
                                   idp_error *err)
{
    char *key = NULL;
    idp_err rc = user_check(u, err);
    if (rc || (rc = name_key_of(u, &key, err))) return rc;
    pg_params p = {0};
    store_pg_text(&p, u->id);
    store_pg_text(&p, u->user_name);
    store_pg_text(&p, u->external_id);
    store_pg_bool(&p, u->active);
    store_pg_text(&p, u->doc ? u->doc : "{}");
    store_pg_text(&p, u->password_hash);
    store_pg_i64(&p, u->token_epoch);
    store_pg_i64(&p, or_now(u->modified_at));
    store_pg_i64(&p, expect_version > 0 ? expect_version : 0);
    store_pg_text(&p, key);
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        int64_t changes = 0;
        rc = wr(st, X_USER_UPDATE, &p, "user_replace", &changes, err);
        if (!rc && changes == 0) rc = version_miss(st, X_USER_VERSION, u->id, "user_replace", err);
    }
    free(key);
    return rc;
}

idp_err store_pg_scim_user_delete(store *st, const char *id, int64_t expect_version, idp_error *err)
{
    idp_err rc = IDP_OK;
    pg_params p = {0};
    store_pg_text(&p, id);
    store_pg_i64(&p, expect_version > 0 ? expect_version : 0);
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        int64_t changes = 0;
        rc = wr(st, X_USER_DELETE, &p, "user_delete", &changes, err);
        if (!rc && changes == 0) rc = version_miss(st, X_USER_VERSION, id, "user_delete", err);
    }
    return rc;
}

static idp_err ref_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_ref *f = row;
    f->id = store_pg_str(r, i, 0);
    f->display = store_pg_str(r, i, 1);
    if (!f->id) return IDP_FAIL(err, IDP_ERR_STORE, "store: membership row is incomplete");
    return IDP_OK;
}

static void ref_clear(void *row)
{
    store_ref *f = row;
    free(f->id);
    free(f->display);
}

/* Inside an op. */
static idp_err refs_of(store *st, pgs_id id, const char *key, store_ref **rows, size_t *n,
                       idp_error *err)
{
    PGresult *r = NULL;
    void *v = NULL;
    *rows = NULL;
    *n = 0;
    idp_err rc = one_text(st, id, key, "memberships", &r, err);
    if (rc) return rc;
    rc = store_pg_rows(r, sizeof(store_ref), PGS_MAX_REFS, ref_row, ref_clear, &v, n, err);
    *rows = v;
    PQclear(r);
    return rc;
}

static idp_err refs_op(store *st, pgs_id id, const char *key, store_ref **rows, size_t *n,
                       idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    rc = refs_of(st, id, key, rows, n, err);
    return rc;
}

idp_err store_pg_scim_user_groups(store *st, const char *user_id, store_ref **rows, size_t *n,
                                  idp_error *err)
{
    return refs_op(st, X_USER_GROUPS, user_id, rows, n, err);
}

idp_err store_pg_scim_group_members(store *st, const char *group_id, store_ref **rows, size_t *n,
                                    idp_error *err)
{
    return refs_op(st, X_MEMBERS, group_id, rows, n, err);
}

/* ---- groups and memberships ----------------------------------------------------------------- */

static idp_err group_row(const PGresult *r, int i, void *row, idp_error *err)
{
    store_group *g = row;
    g->id = store_pg_str(r, i, 0);
    g->display_name = store_pg_str(r, i, 1);
    g->external_id = store_pg_str(r, i, 2);
    g->doc = store_pg_str(r, i, 3);
    g->version = store_pg_int(r, i, 4);
    g->created_at = store_pg_int(r, i, 5);
    g->modified_at = store_pg_int(r, i, 6);
    if (!g->id || !g->display_name || !g->doc)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: group row is incomplete");
    return IDP_OK;
}

static void group_clear(void *row)
{
    store_group_clear(row);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static idp_err member_remove(store *st, const char *gid, const char *uid, store_ids *left,
                             idp_error *err)
{
    int64_t changes = 0;
    pg_params p = {0};
    store_pg_text(&p, gid);
    store_pg_text(&p, uid);
    idp_err rc = wr(st, X_MEMBER_DEL, &p, "member remove", &changes, err);
    if (!rc && changes && left) store_ids_add(left, uid);
    return rc;
}

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

static idp_err members_add(store *st, const char *gid, const scim_delta *d, idp_error *err)
{
    PGresult *r = NULL;
    int64_t seq = 0;
    if (d->nadd == 0) return IDP_OK;
    idp_err rc = one_text(st, X_GROUP_SEQ_GET, gid, "member_seq", &r, err);
    if (rc) return rc;
    if (PQntuples(r) > 0)
        seq = store_pg_int(r, 0, 0);
    else
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such group");
    PQclear(r);
    for (size_t i = 0; !rc && i < d->nadd; i++) {
        int64_t changes = 0;
        const char *uid = d->add[i];
        if (!uid || !*uid) return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "members: empty value");
        pg_params p = {0};
        store_pg_text(&p, gid);
        store_pg_text(&p, uid);
        store_pg_i64(&p, seq + 1);
        rc = wr(st, X_MEMBER_ADD, &p, "member add", &changes, err);
        if (rc == IDP_ERR_INVALID) /* the foreign key: not a user (a group id, or unknown) */
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "members: %.64s is not a user", uid);
        if (!rc && changes) seq++;
    }
    if (rc) return rc;
    pg_params p = {0};
    store_pg_text(&p, gid);
    store_pg_i64(&p, seq);
    return wr(st, X_GROUP_SEQ_SET, &p, "member_seq", NULL, err);
}

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

idp_err store_pg_scim_group_create(store *st, const store_group *g, const scim_delta *members,
                                   idp_error *err)
{
    idp_err rc = group_check(g, err);
    if (rc) return rc;
    int64_t created = or_now(g->created_at);
    pg_params p = {0};
    store_pg_text(&p, g->id);
    store_pg_text(&p, g->display_name);
    store_pg_text(&p, g->external_id);
    store_pg_text(&p, g->doc ? g->doc : "{}");
    store_pg_i64(&p, g->version > 0 ? g->version : 1);
    store_pg_i64(&p, created);
    store_pg_i64(&p, g->modified_at > 0 ? g->modified_at : created);
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        rc = wr(st, X_GROUP_INSERT, &p, "group_create", NULL, err);
        if (!rc) rc = members_apply(st, g->id, members, NULL, err);
    }
    return rc;
}

idp_err store_pg_scim_group_get(store *st, const char *id, store_group *out, idp_error *err)
{
    idp_err rc = IDP_OK;
    memset(out, 0, sizeof *out);
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        if ((rc = one_text(st, X_GROUP_GET, id, "group_get", &r, err))) continue;
        if (PQntuples(r) == 0)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such group");
        else if ((rc = group_row(r, 0, out, err)))
            store_group_clear(out);
        PQclear(r);
    }
    return rc;
}

idp_err store_pg_scim_group_update(store *st, const store_group *g, const scim_delta *members,
                                   int64_t expect_version, store_ids *left, idp_error *err)
{
    idp_err rc = group_check(g, err);
    if (rc) return rc;
    pg_params p = {0};
    store_pg_text(&p, g->id);
    store_pg_text(&p, g->display_name);
    store_pg_text(&p, g->external_id);
    store_pg_text(&p, g->doc ? g->doc : "{}");
    store_pg_i64(&p, or_now(g->modified_at));
    store_pg_i64(&p, expect_version > 0 ? expect_version : 0);
    size_t left0 = left ? left->n : 0;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        int64_t changes = 0;
        while (left && left->n > left0)
            free(left->v[--left->n]); /* a retry starts over */
        rc = wr(st, X_GROUP_UPDATE, &p, "group_replace", &changes, err);
        if (!rc && changes == 0)
            rc = version_miss(st, X_GROUP_VERSION, g->id, "group_replace", err);
        if (!rc) rc = members_apply(st, g->id, members, left, err);
    }
    return rc;
}

idp_err store_pg_scim_user_epoch_bump(store *st, const char *user_id, idp_error *err)
{
    idp_err rc = IDP_OK;
    pg_params p = {0};
    store_pg_text(&p, user_id);
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = wr(st, X_USER_BUMP, &p, "token epoch", NULL, err);
    return rc;
}

idp_err store_pg_scim_group_remove(store *st, const char *id, int64_t expect_version,
                                   store_ids *left, idp_error *err)
{
    idp_err rc = IDP_OK;
    size_t left0 = left->n;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        PGresult *r = NULL;
        store_ref *cur = NULL;
        size_t ncur = 0;
        while (left->n > left0)
            free(left->v[--left->n]);
        if ((rc = one_text(st, X_GROUP_VERSION, id, "group_delete", &r, err))) continue;
        if (PQntuples(r) == 0)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such group");
        else if (expect_version > 0 && store_pg_int(r, 0, 0) != expect_version)
            rc = IDP_FAIL(err, IDP_ERR_PRECONDITION, "store: group_delete: version mismatch");
        PQclear(r);
        if (rc || (rc = refs_of(st, X_MEMBER_IDS, id, &cur, &ncur, err))) continue;
        for (size_t i = 0; i < ncur; i++)
            store_ids_add(left, cur[i].id);
        store_ref_list_free(cur, ncur);
        pg_params p = {0};
        store_pg_text(&p, id);
        rc = store_pg_write_one(st, PG_STMT_SCIM + X_GROUP_DELETE, pgs_sql[X_GROUP_DELETE], &p,
                                "group_delete", err);
    }
    return rc;
}

/* ---- list queries (RFC 7644 §3.4.2) --------------------------------------------------------- */

/* Runs "<head> FROM <table> WHERE <where><tail>" with s's parameters and extra ones. */
static idp_err run_sql(store *st, const pg_sql *s, const char *head, const char *tail,
                       const char *const *extra, size_t nextra, PGresult **r, idp_error *err)
{
    idp_buf b;
    size_t n = s->nparams + nextra;
    const char **vals = xcalloc(n ? n : 1, sizeof *vals);
    for (size_t i = 0; i < s->nparams; i++)
        vals[i] = s->params[i].s;
    for (size_t i = 0; i < nextra; i++)
        vals[s->nparams + i] = extra[i];
    buf_init(&b, 0);
    buf_printf(&b, "%s FROM %s WHERE %s%s", head, s->table, buf_cstr((idp_buf *)&s->where), tail);
    idp_err rc = store_pg_exec_dyn(st, buf_cstr(&b), (int)n, vals, "query", r, err);
    buf_free(&b);
    free(vals);
    return rc;
}

static idp_err run_query(store *st, const store_query *qq, const char *cols, size_t esize,
                         store_pg_row_fn fn, store_pg_row_clear_fn clear, void **rows, size_t *n,
                         int64_t *total, idp_error *err)
{
    pg_sql s;
    idp_buf tail;
    *rows = NULL;
    *n = 0;
    if (total) *total = 0;
    buf_init(&tail, 0);
    idp_err rc = pg_sql_build(qq->rt, qq->plan, qq->sort_by, qq->descending, &s, err);
    if (rc) goto out;
    int64_t count = qq->count < 0 ? 0 : qq->count > PGS_MAX_PAGE ? PGS_MAX_PAGE : qq->count;
    int64_t offset = qq->start_index > 1 ? qq->start_index - 1 : 0;
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%lld", (long long)count);
    snprintf(off, sizeof off, "%lld", (long long)offset);
    const char *extra[2] = {lim, off};
    buf_printf(&tail, " ORDER BY %s LIMIT $%zu::bigint OFFSET $%zu::bigint", buf_cstr(&s.order),
               s.nparams + 1, s.nparams + 2);
    /* the count and the page in one read-only op (one connection, statement by statement as on
     * SQLite) */
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if (total) {
            if ((rc = run_sql(st, &s, "SELECT count(*)", "", NULL, 0, &r, err))) continue;
            *total = PQntuples(r) > 0 ? store_pg_int(r, 0, 0) : 0;
            PQclear(r);
        }
        if (count == 0) continue;
        if ((rc = run_sql(st, &s, cols, buf_cstr(&tail), extra, 2, &r, err))) continue;
        rc = store_pg_rows(r, esize, PGS_MAX_PAGE, fn, clear, &v, n, err);
        *rows = v;
        PQclear(r);
    }
out:
    buf_free(&tail);
    pg_sql_clear(&s);
    if (rc && total) *total = 0;
    return rc;
}

idp_err store_pg_scim_user_query(store *st, const store_query *q, store_user **rows, size_t *n,
                                 int64_t *total, idp_error *err)
{
    void *v = NULL;
    if (q->rt != &scim_rt_user) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: not a user query");
    idp_err rc = run_query(st, q, "SELECT " USER_COLS, sizeof(store_user), user_row, user_clear, &v,
                           n, total, err);
    *rows = v;
    return rc;
}

idp_err store_pg_scim_group_query(store *st, const store_query *q, store_group **rows, size_t *n,
                                  int64_t *total, idp_error *err)
{
    void *v = NULL;
    if (q->rt != &scim_rt_group) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: not a group query");
    idp_err rc = run_query(st, q, "SELECT " GROUP_COLS, sizeof(store_group), group_row, group_clear,
                           &v, n, total, err);
    *rows = v;
    return rc;
}
