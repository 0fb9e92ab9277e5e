/* store_sqlite — the embedded SQLite backend of store.h (DESIGN §2).
 *
 *  - One connection per thread and per store handle, opened lazily and found through a pthread
 *    key owned by the handle (so several handles in one process stay independent). A thread's
 *    connection is closed when the thread exits or when the handle is closed, whichever is first.
 *  - Every connection: WAL, synchronous=NORMAL, foreign_keys=ON, busy_timeout 5000 ms, extended
 *    result codes; statements prepared once per connection (SQLITE_PREPARE_PERSISTENT), reset and
 *    cleared after each use so no read transaction stays open.
 *  - SQL text is constant; values are always bound. Error messages name the operation and the
 *    SQLite error class, never a bound value.
 *  - Schema: numbered migrations embedded at build time (meson.build), tracked in
 *    PRAGMA user_version, each applied in its own BEGIN IMMEDIATE transaction. A database whose
 *    version is newer than the binary is refused. */
#include "store/sqlite/internal.h"

#include "core/mem.h"
#include "store_migrations_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_MAX_KEYS 4096        /* rows key_list will return */
#define SQ_MAX_CLIENTS 1000000  /* rows client_list will return */

/* One NULL-terminated array of lines per migration (see meson.build). */
static const char *const *const sq_migrations[] = {STORE_SQLITE_MIGRATIONS};
_Static_assert(sizeof sq_migrations / sizeof *sq_migrations == STORE_SQLITE_MIGRATION_COUNT,
               "migration table size");

typedef enum sq_stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_GENERATION,
    ST_META_GET,
    ST_META_SET,
    ST_KEY_LIST,
    ST_KEY_INSERT,
    ST_KEY_UPDATE,
    ST_KEY_DELETE,
    ST_CLIENT_INSERT,
    ST_CLIENT_GET,
    ST_CLIENT_LIST,
    ST_CLIENT_DELETE,
    ST_CLIENT_SET_SECRET,
    ST_CLIENT_UPDATE,
    ST_JTI_REVOKE,
    ST_JTI_IS_REVOKED,
    ST_JTI_PRUNE,
    ST__COUNT
} sq_stmt_id;

#define SQ_KEY_COLS "kid, alg, state, created_at, activated_at, retired_at, enc_private, public_jwk"
#define SQ_CLIENT_COLS                                                                          \
    "client_id, name, secret_hash, grant_types, scope, audiences, token_alg, token_ttl, "      \
    "auth_method, created_at, secret_rotated_at, is_public, redirect_uris, "                  \
    "post_logout_redirect_uris, jwks, backchannel_logout_uri, introspect"

static const char *const sq_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_GENERATION] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [ST_KEY_LIST] = "SELECT " SQ_KEY_COLS " FROM signing_keys ORDER BY created_at, kid",
    [ST_KEY_INSERT] = "INSERT INTO signing_keys (" SQ_KEY_COLS ") "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_KEY_UPDATE] = "UPDATE signing_keys SET state = ?2, activated_at = ?3, retired_at = ?4 "
                      "WHERE kid = ?1",
    [ST_KEY_DELETE] = "DELETE FROM signing_keys WHERE kid = ?1",
    [ST_CLIENT_INSERT] = "INSERT INTO clients (" SQ_CLIENT_COLS ") VALUES (?1, COALESCE(?2, ''), "
                         "?3, COALESCE(?4, ''), COALESCE(?5, ''), ?6, ?7, ?8, "
                         "COALESCE(?9, 'client_secret_basic'), ?10, ?11, ?12, ?13, ?14, ?15, "
                         "?16, ?17)",
    [ST_CLIENT_GET] = "SELECT " SQ_CLIENT_COLS " FROM clients WHERE client_id = ?1",
    [ST_CLIENT_LIST] = "SELECT " SQ_CLIENT_COLS " FROM clients ORDER BY client_id",
    [ST_CLIENT_DELETE] = "DELETE FROM clients WHERE client_id = ?1",
    [ST_CLIENT_SET_SECRET] = "UPDATE clients SET secret_hash = ?2, secret_rotated_at = ?3 "
                             "WHERE client_id = ?1",
    [ST_CLIENT_UPDATE] = "UPDATE clients SET name = COALESCE(?2, ''), grant_types = COALESCE(?4, ''), "
                         "scope = COALESCE(?5, ''), audiences = ?6, token_alg = ?7, "
                         "token_ttl = ?8, auth_method = COALESCE(?9, 'client_secret_basic'), "
                         "is_public = ?12, redirect_uris = ?13, "
                         "post_logout_redirect_uris = ?14, jwks = ?15, "
                         "backchannel_logout_uri = ?16, introspect = ?17 WHERE client_id = ?1",
    [ST_JTI_REVOKE] = "INSERT INTO revoked_jti (jti, exp) VALUES (?1, ?2) "
                      "ON CONFLICT (jti) DO UPDATE SET exp = max(exp, excluded.exp)",
    /* One primary-key lookup on a WITHOUT ROWID table: runs on every introspection. */
    [ST_JTI_IS_REVOKED] = "SELECT 1 FROM revoked_jti WHERE jti = ?1",
    [ST_JTI_PRUNE] = "DELETE FROM revoked_jti WHERE exp < ?1",
};

typedef struct sq_store sq_store;

typedef struct sq_conn {
    sq_store *owner;
    sqlite3 *db;
    sqlite3_stmt *stmt[ST__COUNT];
    sqlite3_stmt
        *xstmt[SQ_XSTMT_MAX]; /* statements of the other store_sqlite_*.c (store_sqlite_xstmt) */
    int in_tx;
    struct sq_conn *prev, *next;
} sq_conn;

struct sq_store {
    store base; /* first: a store * is a sq_store * */
    char *path;
    pthread_key_t tkey;
    pthread_mutex_t lock; /* guards conns */
    sq_conn *conns;
};

idp_err store_sqlite_fail(idp_error *err, int rc, const char *what)
{
    /* sqlite3_errstr gives the class of error only: no SQL, no bound values. */
    return IDP_FAIL(err, IDP_ERR_STORE, "store: %s failed: %s", what, sqlite3_errstr(rc));
}

/* ---- connections ---------------------------------------------------------------------------- */

static void sq_conn_close(sq_conn *c)
{
    if (!c) return;
    for (int i = 0; i < ST__COUNT; i++) sqlite3_finalize(c->stmt[i]);
    for (int i = 0; i < SQ_XSTMT_MAX; i++) sqlite3_finalize(c->xstmt[i]);
    sqlite3_close_v2(c->db); /* rolls back an open transaction */
    free(c);
}

/* pthread key destructor: the thread exits, its connection goes with it. */
static void sq_conn_thread_exit(void *p)
{
    sq_conn *c = p;
    sq_store *s = c->owner;
    pthread_mutex_lock(&s->lock);
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&s->lock);
    sq_conn_close(c);
}

static idp_err sq_db_open(const char *path, bool create, sqlite3 **out, idp_error *err)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(db);
        return IDP_FAIL(err, IDP_ERR_STORE, "store: cannot open %s: %s", path, sqlite3_errstr(rc));
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(db,
                      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                      "PRAGMA foreign_keys = ON;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(db);
        return store_sqlite_fail(err, rc, "connection setup");
    }
    *out = db;
    return IDP_OK;
}

/* This thread's connection for s, opened on first use. Borrowed. */
static idp_err sq_conn_get(sq_store *s, sq_conn **out, idp_error *err)
{
    sq_conn *c = pthread_getspecific(s->tkey);
    if (c) {
        *out = c;
        return IDP_OK;
    }
    sqlite3 *db = NULL;
    idp_err rc = sq_db_open(s->path, false, &db, err);
    if (rc) return rc;
    c = xcalloc(1, sizeof *c);
    c->owner = s;
    c->db = db;
    if (pthread_setspecific(s->tkey, c) != 0) {
        sq_conn_close(c);
        return IDP_FAIL(err, IDP_ERR_STORE, "store: cannot attach a connection to this thread");
    }
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    *out = c;
    return IDP_OK;
}

/* The cached statement id on this thread's connection, ready to bind. Finish with
 * store_sqlite_done. */
static idp_err sq_stmt(store *st, sq_stmt_id id, sqlite3_stmt **out, idp_error *err)
{
    sq_conn *c = NULL;
    idp_err rc = sq_conn_get((sq_store *)st, &c, err);
    if (rc) return rc;
    if (!c->stmt[id]) {
        int r = sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
                                   NULL);
        if (r != SQLITE_OK) return store_sqlite_fail(err, r, "prepare");
    }
    *out = c->stmt[id];
    return IDP_OK;
}

idp_err store_sqlite_xstmt(store *st, int id, const char *sql, sqlite3_stmt **out, idp_error *err)
{
    sq_conn *c = NULL;
    if (id < 0 || id >= SQ_XSTMT_MAX) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: bad statement");
    idp_err rc = sq_conn_get((sq_store *)st, &c, err);
    if (rc) return rc;
    if (!c->xstmt[id]) {
        int r = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->xstmt[id], NULL);
        if (r != SQLITE_OK) return store_sqlite_fail(err, r, "prepare");
    }
    *out = c->xstmt[id];
    return IDP_OK;
}

idp_err store_sqlite_db(store *st, sqlite3 **out, idp_error *err)
{
    sq_conn *c = NULL;
    idp_err rc = sq_conn_get((sq_store *)st, &c, err);
    if (!rc) *out = c->db;
    return rc;
}

void store_sqlite_done(sqlite3_stmt *q)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

/* ---- binding and reading -------------------------------------------------------------------- */

/* Each binder is a no-op once *b holds an error, so a run of binds is checked once. SQLITE_STATIC
 * is safe: every statement is stepped and reset before the bound memory goes away. */
void store_sqlite_bind_text(sqlite3_stmt *q, int i, const char *s, int *b)
{
    if (*b != SQLITE_OK) return;
    *b = s ? sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(q, i);
}

void store_sqlite_bind_i64(sqlite3_stmt *q, int i, int64_t v, int *b)
{
    if (*b == SQLITE_OK) *b = sqlite3_bind_int64(q, i, v);
}

void store_sqlite_bind_blob(sqlite3_stmt *q, int i, const void *p, size_t n, int *b)
{
    if (*b != SQLITE_OK) return;
    if (!p) *b = sqlite3_bind_null(q, i);
    else if (n > INT32_MAX) *b = SQLITE_TOOBIG;
    else *b = sqlite3_bind_blob(q, i, n ? p : "", (int)n, SQLITE_STATIC);
}

char *store_sqlite_col_str(sqlite3_stmt *q, int i)
{
    if (sqlite3_column_type(q, i) == SQLITE_NULL) return NULL;
    const unsigned char *t = sqlite3_column_text(q, i);
    return xstrndup(t ? (const char *)t : "", (size_t)sqlite3_column_bytes(q, i));
}

/* Fault injection for the fail-closed tests: when IDPD_FAULT_STORE_FULL names a file and that
 * file exists, every statement write fails as SQLite does on a full disk (SQLITE_FULL). A test
 * creates the file while the server runs and removes it again. Read once at open; unset in
 * production, where this costs one NULL test per write. */
static const char *sq_fault_full;

static bool sq_fault_full_now(void)
{
    return sq_fault_full && access(sq_fault_full, F_OK) == 0;
}

int store_sqlite_step(sqlite3_stmt *q)
{
    if (sq_fault_full_now() && !sqlite3_stmt_readonly(q)) return SQLITE_FULL;
    return sqlite3_step(q);
}

/* Steps a statement that returns no row. Maps uniqueness violations to IDP_ERR_CONFLICT and
 * reports the number of changed rows in *changes (may be NULL). Resets q. */
idp_err store_sqlite_write(sqlite3_stmt *q, int b, const char *what, int *changes, idp_error *err)
{
    idp_err rc = IDP_OK;
    int r = b != SQLITE_OK ? b : store_sqlite_step(q);
    if (r == SQLITE_DONE) {
        if (changes) *changes = sqlite3_changes(sqlite3_db_handle(q));
    } else if (r == SQLITE_CONSTRAINT_PRIMARYKEY || r == SQLITE_CONSTRAINT_UNIQUE) {
        rc = IDP_FAIL(err, IDP_ERR_CONFLICT, "store: %s: already exists", what);
    } else if ((r & 0xff) == SQLITE_CONSTRAINT) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: %s", what, sqlite3_errstr(r));
    } else {
        rc = store_sqlite_fail(err, r, what);
    }
    store_sqlite_done(q);
    return rc;
}

/* A write that must touch exactly one row identified by the first bound value. */
idp_err store_sqlite_write_one(sqlite3_stmt *q, int b, const char *what, idp_error *err)
{
    int changes = 0;
    idp_err rc = store_sqlite_write(q, b, what, &changes, err);
    if (!rc && changes == 0) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: %s: no such row", what);
    return rc;
}

/* ---- migrations ----------------------------------------------------------------------------- */

static idp_err sq_user_version(sqlite3 *db, int *out, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    int r = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);
    if (r == SQLITE_OK) r = sqlite3_step(q);
    if (r == SQLITE_ROW) *out = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return r == SQLITE_ROW ? IDP_OK : store_sqlite_fail(err, r, "reading the schema version");
}

/* The SQL text of migration index v (0-based): its lines joined. Owned. */
static char *sq_migration_text(int v)
{
    size_t len = 0;
    for (const char *const *l = sq_migrations[v]; *l; l++) len += strlen(*l);
    char *sql = xmalloc(len + 1), *p = sql;
    for (const char *const *l = sq_migrations[v]; *l; l++) {
        size_t n = strlen(*l);
        memcpy(p, *l, n);
        p += n;
    }
    *p = '\0';
    return sql;
}

/* Applies the next pending migration, if any, in one exclusive transaction (another process may
 * be migrating the same file: the version is read again under the lock). *done when none is left. */
static idp_err sq_migrate_step(sqlite3 *db, bool *done, idp_error *err)
{
    int v = 0;
    char *sql = NULL;
    int r = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (r != SQLITE_OK) return store_sqlite_fail(err, r, "migration lock");
    idp_err rc = sq_user_version(db, &v, err);
    if (rc) goto out;
    if (v > STORE_SQLITE_MIGRATION_COUNT) {
        rc = IDP_FAIL(err, IDP_ERR_STORE,
                      "store: database schema version %d is newer than this idpd supports (%d); "
                      "upgrade idpd",
                      v, STORE_SQLITE_MIGRATION_COUNT);
        goto out;
    }
    *done = v == STORE_SQLITE_MIGRATION_COUNT;
    if (*done) goto out;
    sql = sq_migration_text(v);
    r = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (r != SQLITE_OK) {
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: migration %04d failed: %s", v + 1,
                      sqlite3_errstr(r));
        goto out;
    }
    int nv = 0;
    rc = sq_user_version(db, &nv, err);
    if (!rc && nv != v + 1)
        rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "store: migration %04d does not set user_version",
                      v + 1);
out:
    free(sql);
    if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return IDP_OK;
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc ? rc : store_sqlite_fail(err, sqlite3_extended_errcode(db), "migration commit");
}

static idp_err sq_migrate(sqlite3 *db, idp_error *err)
{
    int v = 0;
    idp_err rc = sq_user_version(db, &v, err);
    if (rc) return rc;
    if (v > STORE_SQLITE_MIGRATION_COUNT)
        return IDP_FAIL(err, IDP_ERR_STORE,
                        "store: database schema version %d is newer than this idpd supports (%d); "
                        "upgrade idpd",
                        v, STORE_SQLITE_MIGRATION_COUNT);
    for (bool done = v == STORE_SQLITE_MIGRATION_COUNT; !done;) {
        rc = sq_migrate_step(db, &done, err);
        if (rc) return rc;
    }
    return IDP_OK;
}

/* ---- transactions and meta ------------------------------------------------------------------ */

static idp_err sq_tx_begin(store *st, idp_error *err)
{
    sq_conn *c = NULL;
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_conn_get((sq_store *)st, &c, err);
    if (rc) return rc;
    if (c->in_tx) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: nested transaction");
    rc = sq_stmt(st, ST_BEGIN, &q, err);
    if (rc) return rc;
    rc = store_sqlite_write(q, SQLITE_OK, "begin transaction", NULL, err);
    if (!rc) c->in_tx = 1;
    return rc;
}

static void sq_tx_rollback(store *st)
{
    sq_conn *c = NULL;
    sqlite3_stmt *q = NULL;
    if (sq_conn_get((sq_store *)st, &c, NULL) || !c->in_tx) return;
    c->in_tx = 0;
    /* SQLite may already have rolled back on an error; then there is nothing to do. */
    if (sqlite3_get_autocommit(c->db)) return;
    if (sq_stmt(st, ST_ROLLBACK, &q, NULL) == IDP_OK)
        store_sqlite_write(q, SQLITE_OK, "rollback", NULL, NULL);
}

static idp_err sq_tx_commit(store *st, idp_error *err)
{
    sq_conn *c = NULL;
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_conn_get((sq_store *)st, &c, err);
    if (rc) return rc;
    if (!c->in_tx) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: commit without a transaction");
    rc = sq_stmt(st, ST_COMMIT, &q, err);
    if (!rc) rc = store_sqlite_write(q, SQLITE_OK, "commit", NULL, err);
    if (rc) sq_tx_rollback(st);
    c->in_tx = 0;
    return rc;
}

static bool sq_tx_active(store *st)
{
    sq_conn *c = NULL;
    return sq_conn_get((sq_store *)st, &c, NULL) == IDP_OK && c->in_tx;
}

static idp_err sq_generation(store *st, int64_t *out, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_stmt(st, ST_GENERATION, &q, err);
    if (rc) return rc;
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW) *out = sqlite3_column_int64(q, 0);
    else if (r == SQLITE_DONE) rc = IDP_FAIL(err, IDP_ERR_STORE, "store: generation row missing");
    else rc = store_sqlite_fail(err, r, "generation");
    store_sqlite_done(q);
    return rc;
}

static idp_err sq_meta_get(store *st, const char *key, char **value, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *value = NULL;
    idp_err rc = sq_stmt(st, ST_META_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW) *value = store_sqlite_col_str(q, 0);
    else if (r == SQLITE_DONE) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such setting");
    else rc = store_sqlite_fail(err, r, "meta_get");
    store_sqlite_done(q);
    return rc;
}

static idp_err sq_meta_set(store *st, const char *key, const char *value, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!key || !value) return IDP_FAIL(err, IDP_ERR_INVALID, "store: meta_set: missing value");
    /* The change counter belongs to the triggers (store_generation). */
    if (strcmp(key, "generation") == 0)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: meta_set: reserved setting");
    idp_err rc = sq_stmt(st, ST_META_SET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, key, &b);
    store_sqlite_bind_text(q, 2, value, &b);
    return store_sqlite_write(q, b, "meta_set", NULL, err);
}

/* ---- signing keys --------------------------------------------------------------------------- */

static idp_err sq_key_row(sqlite3_stmt *q, store_key *k, idp_error *err)
{
    int64_t state = sqlite3_column_int64(q, 2);
    if (state < KEY_NEXT || state > KEY_RETIRED)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: signing key row has an invalid state");
    k->kid = store_sqlite_col_str(q, 0);
    k->alg = store_sqlite_col_str(q, 1);
    k->state = (key_state)state;
    k->created_at = sqlite3_column_int64(q, 3);
    k->activated_at = sqlite3_column_int64(q, 4);
    k->retired_at = sqlite3_column_int64(q, 5);
    const void *blob = sqlite3_column_blob(q, 6);
    k->enc_private_len = (size_t)sqlite3_column_bytes(q, 6);
    k->enc_private = xmalloc(k->enc_private_len ? k->enc_private_len : 1);
    if (k->enc_private_len) memcpy(k->enc_private, blob, k->enc_private_len);
    k->public_jwk = store_sqlite_col_str(q, 7);
    if (!k->kid || !k->alg || !k->public_jwk)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: signing key row is incomplete");
    return IDP_OK;
}

static idp_err sq_key_list(store *st, store_key **rows, size_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    store_key *v = NULL;
    size_t len = 0, cap = 0;
    *rows = NULL;
    *n = 0;
    idp_err rc = sq_stmt(st, ST_KEY_LIST, &q, err);
    if (rc) return rc;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == SQ_MAX_KEYS) {
            rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: more than %d signing keys", SQ_MAX_KEYS);
            goto out;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            v = xrealloc(v, cap * sizeof *v);
        }
        memset(&v[len], 0, sizeof *v);
        rc = sq_key_row(q, &v[len++], err);
        if (rc) goto out;
    }
    if (r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "key_list");
out:
    store_sqlite_done(q);
    if (rc) {
        store_key_list_free(v, len);
        return rc;
    }
    *rows = v;
    *n = len;
    return IDP_OK;
}

static idp_err sq_key_insert(store *st, const store_key *k, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!k->kid || !k->alg || !k->public_jwk || !k->enc_private)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: key_insert: incomplete key");
    idp_err rc = sq_stmt(st, ST_KEY_INSERT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, k->kid, &b);
    store_sqlite_bind_text(q, 2, k->alg, &b);
    store_sqlite_bind_i64(q, 3, (int64_t)k->state, &b);
    store_sqlite_bind_i64(q, 4, k->created_at, &b);
    store_sqlite_bind_i64(q, 5, k->activated_at, &b);
    store_sqlite_bind_i64(q, 6, k->retired_at, &b);
    store_sqlite_bind_blob(q, 7, k->enc_private, k->enc_private_len, &b);
    store_sqlite_bind_text(q, 8, k->public_jwk, &b);
    return store_sqlite_write(q, b, "key_insert", NULL, err);
}

static idp_err sq_key_update_state(store *st, const char *kid, key_state state,
                                   int64_t activated_at, int64_t retired_at, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_stmt(st, ST_KEY_UPDATE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, kid, &b);
    store_sqlite_bind_i64(q, 2, (int64_t)state, &b);
    store_sqlite_bind_i64(q, 3, activated_at, &b);
    store_sqlite_bind_i64(q, 4, retired_at, &b);
    return store_sqlite_write_one(q, b, "key_update_state", err);
}

static idp_err sq_key_delete(store *st, const char *kid, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_stmt(st, ST_KEY_DELETE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, kid, &b);
    return store_sqlite_write_one(q, b, "key_delete", err);
}

/* ---- clients -------------------------------------------------------------------------------- */

static idp_err sq_client_row(sqlite3_stmt *q, store_client *c, idp_error *err)
{
    c->client_id = store_sqlite_col_str(q, 0);
    c->name = store_sqlite_col_str(q, 1);
    if (sqlite3_column_type(q, 2) != SQLITE_NULL) {
        if (sqlite3_column_bytes(q, 2) != (int)sizeof c->secret_hash)
            return IDP_FAIL(err, IDP_ERR_STORE, "store: client row has a malformed secret hash");
        memcpy(c->secret_hash, sqlite3_column_blob(q, 2), sizeof c->secret_hash);
        c->has_secret = true;
    }
    c->grant_types = store_sqlite_col_str(q, 3);
    c->scope = store_sqlite_col_str(q, 4);
    c->audiences = store_sqlite_col_str(q, 5);
    c->token_alg = store_sqlite_col_str(q, 6);
    c->token_ttl = sqlite3_column_int64(q, 7);
    c->auth_method = store_sqlite_col_str(q, 8);
    c->created_at = sqlite3_column_int64(q, 9);
    c->secret_rotated_at = sqlite3_column_int64(q, 10);
    c->is_public = sqlite3_column_int(q, 11) != 0;
    c->redirect_uris = store_sqlite_col_str(q, 12);
    c->post_logout_redirect_uris = store_sqlite_col_str(q, 13);
    c->jwks = store_sqlite_col_str(q, 14);
    c->backchannel_logout_uri = store_sqlite_col_str(q, 15);
    c->introspect = store_sqlite_col_str(q, 16);
    if (!c->client_id || !c->name || !c->grant_types || !c->scope || !c->auth_method)
        return IDP_FAIL(err, IDP_ERR_STORE, "store: client row is incomplete");
    return IDP_OK;
}

static bool sq_field_ok(const char *s)
{
    return !s || strnlen(s, STORE_CLIENT_FIELD_MAX + 1) <= STORE_CLIENT_FIELD_MAX;
}

/* Validates c and binds every column but the secret ones (?3, ?10, ?11) to q. */
static idp_err sq_client_bind(sqlite3_stmt *q, const store_client *c, const char *what, int *b,
                              idp_error *err)
{
    if (!c->client_id || !*c->client_id)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: missing client_id", what);
    if (!sq_field_ok(c->redirect_uris) || !sq_field_ok(c->post_logout_redirect_uris) ||
        !sq_field_ok(c->jwks) || !sq_field_ok(c->backchannel_logout_uri))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: a client field is too long", what);
    store_sqlite_bind_text(q, 1, c->client_id, b);
    store_sqlite_bind_text(q, 2, c->name, b);
    store_sqlite_bind_text(q, 4, c->grant_types, b);
    store_sqlite_bind_text(q, 5, c->scope, b);
    store_sqlite_bind_text(q, 6, c->audiences, b);
    store_sqlite_bind_text(q, 7, c->token_alg, b);
    store_sqlite_bind_i64(q, 8, c->token_ttl, b);
    store_sqlite_bind_text(q, 9, c->auth_method, b);
    store_sqlite_bind_i64(q, 12, c->is_public ? 1 : 0, b);
    store_sqlite_bind_text(q, 13, c->redirect_uris, b);
    store_sqlite_bind_text(q, 14, c->post_logout_redirect_uris, b);
    store_sqlite_bind_text(q, 15, c->jwks, b);
    store_sqlite_bind_text(q, 16, c->backchannel_logout_uri, b);
    store_sqlite_bind_text(q, 17, c->introspect, b);
    return IDP_OK;
}

static idp_err sq_client_insert(store *st, const store_client *c, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_stmt(st, ST_CLIENT_INSERT, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    if ((rc = sq_client_bind(q, c, "client_insert", &b, err))) {
        store_sqlite_done(q);
        return rc;
    }
    store_sqlite_bind_blob(q, 3, c->has_secret ? c->secret_hash : NULL, sizeof c->secret_hash, &b);
    store_sqlite_bind_i64(q, 10, c->created_at, &b);
    store_sqlite_bind_i64(q, 11, c->secret_rotated_at, &b);
    /* jwks that is not JSON fails its CHECK: IDP_ERR_INVALID. */
    return store_sqlite_write(q, b, "client_insert", NULL, err);
}

/* Every mutable field; not the secret nor created_at. NOT_FOUND. */
static idp_err sq_client_update(store *st, const store_client *c, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_stmt(st, ST_CLIENT_UPDATE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    if ((rc = sq_client_bind(q, c, "client_update", &b, err))) {
        store_sqlite_done(q);
        return rc;
    }
    return store_sqlite_write_one(q, b, "client_update", err);
}

static idp_err sq_client_get(store *st, const char *client_id, store_client *out, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    memset(out, 0, sizeof *out);
    idp_err rc = sq_stmt(st, ST_CLIENT_GET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, client_id, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW) rc = sq_client_row(q, out, err);
    else if (r == SQLITE_DONE) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such client");
    else rc = store_sqlite_fail(err, r, "client_get");
    store_sqlite_done(q);
    if (rc) store_client_clear(out);
    return rc;
}

static idp_err sq_client_list(store *st, store_client **rows, size_t *n, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    store_client *v = NULL;
    size_t len = 0, cap = 0;
    *rows = NULL;
    *n = 0;
    idp_err rc = sq_stmt(st, ST_CLIENT_LIST, &q, err);
    if (rc) return rc;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == SQ_MAX_CLIENTS) {
            rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: more than %d clients", SQ_MAX_CLIENTS);
            goto out;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            v = xrealloc(v, cap * sizeof *v);
        }
        memset(&v[len], 0, sizeof *v);
        rc = sq_client_row(q, &v[len++], err);
        if (rc) goto out;
    }
    if (r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "client_list");
out:
    store_sqlite_done(q);
    if (rc) {
        store_client_list_free(v, len);
        return rc;
    }
    *rows = v;
    *n = len;
    return IDP_OK;
}

static idp_err sq_client_delete(store *st, const char *client_id, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_stmt(st, ST_CLIENT_DELETE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, client_id, &b);
    return store_sqlite_write_one(q, b, "client_delete", err);
}

/* hash NULL removes the secret (a public client). */
static idp_err sq_client_set_secret(store *st, const char *client_id, const unsigned char hash[32],
                                    int64_t now, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_stmt(st, ST_CLIENT_SET_SECRET, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, client_id, &b);
    store_sqlite_bind_blob(q, 2, hash, 32, &b);
    store_sqlite_bind_i64(q, 3, now, &b);
    return store_sqlite_write_one(q, b, "client_set_secret", err);
}

/* ---- revoked jtis (RFC 7009) ---------------------------------------------------------------- */

static idp_err sq_jti_revoke(store *st, const char *jti, int64_t exp, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    if (!jti || !*jti) return IDP_FAIL(err, IDP_ERR_INVALID, "store: jti_revoke: empty jti");
    idp_err rc = sq_stmt(st, ST_JTI_REVOKE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, jti, &b);
    store_sqlite_bind_i64(q, 2, exp, &b);
    return store_sqlite_write(q, b, "jti_revoke", NULL, err);
}

static idp_err sq_jti_is_revoked(store *st, const char *jti, bool *revoked, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    *revoked = false;
    idp_err rc = sq_stmt(st, ST_JTI_IS_REVOKED, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_text(q, 1, jti, &b);
    int r = b != SQLITE_OK ? b : sqlite3_step(q);
    if (r == SQLITE_ROW) *revoked = true;
    else if (r != SQLITE_DONE) rc = store_sqlite_fail(err, r, "jti_is_revoked");
    store_sqlite_done(q);
    return rc;
}

/* Deletes the rows with exp < now. A caller that accepts tokens within a clock-skew leeway
 * passes now - leeway so a revoked token never becomes acceptable again. */
static idp_err sq_jti_prune(store *st, int64_t now, idp_error *err)
{
    sqlite3_stmt *q = NULL;
    idp_err rc = sq_stmt(st, ST_JTI_PRUNE, &q, err);
    if (rc) return rc;
    int b = SQLITE_OK;
    store_sqlite_bind_i64(q, 1, now, &b);
    return store_sqlite_write(q, b, "jti_prune", NULL, err);
}

/* ---- open / close --------------------------------------------------------------------------- */

static void sq_close(store *st)
{
    sq_store *s = (sq_store *)st;
    /* After this no thread-exit destructor can run for s; the remaining connections are ours. */
    pthread_key_delete(s->tkey);
    pthread_mutex_lock(&s->lock);
    for (sq_conn *c = s->conns, *n; c; c = n) {
        n = c->next;
        sq_conn_close(c);
    }
    s->conns = NULL;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

static const store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
    .generation = sq_generation,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .key_list = sq_key_list,
    .key_insert = sq_key_insert,
    .key_update_state = sq_key_update_state,
    .key_delete = sq_key_delete,
    .client_insert = sq_client_insert,
    .client_get = sq_client_get,
    .client_list = sq_client_list,
    .client_delete = sq_client_delete,
    .client_set_secret = sq_client_set_secret,
    .client_update = sq_client_update,
    .jti_revoke = sq_jti_revoke,
    .jti_is_revoked = sq_jti_is_revoked,
    .jti_prune = sq_jti_prune,
    .rev_list = store_sqlite_rev_list,
    .rev_bound_raise = store_sqlite_rev_bound_raise,
    .rev_prune = store_sqlite_rev_prune,
    .rev_last_seq = store_sqlite_rev_last_seq,
    .user_create = store_sqlite_scim_user_create,
    .user_get = store_sqlite_scim_user_get,
    .user_get_by_name = store_sqlite_scim_user_get_by_name,
    .user_replace = store_sqlite_scim_user_replace,
    .user_delete = store_sqlite_scim_user_delete,
    .user_query = store_sqlite_scim_user_query,
    .user_groups = store_sqlite_scim_user_groups,
    .group_create = store_sqlite_scim_group_create,
    .group_get = store_sqlite_scim_group_get,
    .group_query = store_sqlite_scim_group_query,
    .group_members = store_sqlite_scim_group_members,
    .pkey_insert = store_sqlite_pkey_insert,
    .pkey_get = store_sqlite_pkey_get,
    .pkey_list = store_sqlite_pkey_list,
    .pkey_update = store_sqlite_pkey_update,
    .pkey_touch = store_sqlite_pkey_touch,
    .audit_list = store_sqlite_audit_list,
    .audit_last = store_sqlite_audit_last,
    .audit_seq_before = store_sqlite_audit_seq_before,
    .audit_delete_through = store_sqlite_audit_delete_through,
    .code_insert = store_sqlite_oidc_code_insert,
    .code_consume = store_sqlite_oidc_code_consume,
    .code_set_issued = store_sqlite_oidc_code_set_issued,
    .refresh_insert = store_sqlite_oidc_refresh_insert,
    .refresh_get = store_sqlite_oidc_refresh_get,
    .refresh_rotate = store_sqlite_oidc_refresh_rotate,
    .refresh_revoke_family = store_sqlite_oidc_refresh_revoke_family,
    .refresh_revoke_session = store_sqlite_oidc_refresh_revoke_session,
    .refresh_revoke_user = store_sqlite_oidc_refresh_revoke_user,
    .session_insert = store_sqlite_oidc_session_insert,
    .session_get = store_sqlite_oidc_session_get,
    .session_get_by_sid = store_sqlite_oidc_session_get_by_sid,
    .session_touch = store_sqlite_oidc_session_touch,
    .session_add_client = store_sqlite_oidc_session_add_client,
    .session_delete = store_sqlite_oidc_session_delete,
    .session_delete_user = store_sqlite_oidc_session_delete_user,
    .session_list_user = store_sqlite_oidc_session_list_user,
    .login_fail = store_sqlite_oidc_login_fail,
    .login_fail_get = store_sqlite_oidc_login_fail_get,
    .login_fail_reset = store_sqlite_oidc_login_fail_reset,
    .assertion_jti_use = store_sqlite_oidc_assertion_jti_use,
    .consent_get = store_sqlite_oidc_consent_get,
    .user_rehash = store_sqlite_oidc_user_rehash,
    .consent_set = store_sqlite_oidc_consent_set,
    .policy_insert = store_sqlite_policy_insert,
    .policy_get = store_sqlite_policy_get,
    .policy_list = store_sqlite_policy_list,
    .policy_activate = store_sqlite_policy_activate,
    .policy_active = store_sqlite_policy_active,
    .policy_activations = store_sqlite_policy_activations,
    .oidc_prune = store_sqlite_oidc_prune,
    .fed_link_get = store_sqlite_fed_link_get,
    .fed_link_add = store_sqlite_fed_link_add,
    .fed_link_count = store_sqlite_fed_link_count,
    .user_get_by_external_id = store_sqlite_scim_user_get_by_external_id,
    .fed_jti_use = store_sqlite_fed_jti_use,
    .fed_jwks_put = store_sqlite_fed_jwks_put,
    .fed_jwks_get = store_sqlite_fed_jwks_get,
    .fed_status_put = store_sqlite_fed_status_put,
    .fed_status_get = store_sqlite_fed_status_get,
    .fed_status_list = store_sqlite_fed_status_list,
    .tx_active = sq_tx_active,
    .user_name_key_taken = store_sqlite_scim_user_name_key_taken,
    .user_epoch_bump = store_sqlite_scim_user_epoch_bump,
    .group_update = store_sqlite_scim_group_update,
    .group_remove = store_sqlite_scim_group_remove,
    .audit_tail = store_sqlite_audit_tail,
    .audit_insert = store_sqlite_audit_insert,
};

/* Makes sure the file exists, creating it with mode 0600 (it holds sealed keys and secret hashes;
 * SQLite gives the -wal and -shm files the same mode). */
static idp_err sq_prepare_file(const char *path, bool create, idp_error *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0) return IDP_OK;
    if (errno != ENOENT)
        return IDP_FAIL(err, IDP_ERR_IO, "store: cannot access %s: %s", path, strerror(errno));
    if (!create) return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: %s does not exist", path);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
        return IDP_FAIL(err, IDP_ERR_IO, "store: cannot create %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return IDP_OK;
}

idp_err store_sqlite_schema_version(const char *path, int64_t *version, int64_t *known,
                                    idp_error *err)
{
    sqlite3 *db = NULL;
    int v = 0;
    *version = 0;
    *known = STORE_SQLITE_MIGRATION_COUNT;
    if (!*path || strcmp(path, ":memory:") == 0)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "store: a database file name is required");
    idp_err rc = sq_prepare_file(path, false, err);
    if (!rc) rc = sq_db_open(path, false, &db, err);
    if (!rc) rc = sq_user_version(db, &v, err);
    sqlite3_close_v2(db);
    if (!rc) *version = v;
    return rc;
}

idp_err store_sqlite_open(const char *path, bool create, store **out, idp_error *err)
{
    sq_store *s = NULL;
    sqlite3 *db = NULL;
    *out = NULL;
    if (!*path || strcmp(path, ":memory:") == 0)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "store: a database file name is required");
    const char *fault = getenv("IDPD_FAULT_STORE_FULL");
    if (fault && *fault) sq_fault_full = fault;
    idp_err rc = sq_prepare_file(path, create, err);
    if (rc) return rc;
    rc = sq_db_open(path, false, &db, err);
    if (rc) return rc;
    rc = sq_migrate(db, err);
    if (rc) goto out;
    s = xcalloc(1, sizeof *s);
    if (pthread_key_create(&s->tkey, sq_conn_thread_exit) != 0) {
        free(s);
        s = NULL;
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: too many open stores");
        goto out;
    }
    s->base.ops = &sq_ops;
    s->path = xstrdup(path);
    pthread_mutex_init(&s->lock, NULL);
    /* The migrating connection becomes this thread's connection. */
    sq_conn *c = xcalloc(1, sizeof *c);
    c->owner = s;
    c->db = db;
    db = NULL;
    pthread_setspecific(s->tkey, c);
    s->conns = c;
    /* rows written before migration 0006 get their userName comparison key */
    if ((rc = store_sqlite_scim_user_backfill_name_keys(&s->base, err)) != IDP_OK) {
        sq_close(&s->base);
        goto out;
    }
    *out = &s->base;
out:
    sqlite3_close_v2(db);
    return rc;
}
