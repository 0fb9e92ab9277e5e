/* store_pg — the PostgreSQL backend of store.h (issue 13), the twin of sqlite/store_sqlite.c:
 * connections, statements, meta, the generation, signing keys, clients, revoked jtis,
 * transactions, migrations, open and close.
 *
 *  - A pool of at most `store_pool` connections (libpq, opened lazily). A thread holds one
 *    connection at a time: borrowed for the duration of an op (store_pg_op.c) or from tx_begin
 *    to commit/rollback, and found again through a pthread key while held.
 *  - Statements are prepared per connection on first use (PQprepare, by slot name) from constant
 *    SQL; values are always bound ($n). Error messages name the operation and the SQLSTATE,
 *    never PostgreSQL's message (it may quote a value).
 *  - A broken connection (PQstatus CONNECTION_BAD) fails the statement with IDP_ERR_STORE; it is
 *    reset (PQreset) before it is used again, and an op that held no caller's transaction is
 *    retried once on it (store_pg_op.c). Nothing fails open.
 *  - The transaction contract (store.h): tx_begin = BEGIN ISOLATION LEVEL SERIALIZABLE, then
 *    the writer lock: SELECT ... FROM store_writer WHERE id = 1 FOR UPDATE, which makes writers
 *    exclusive across every process using the database (no advisory locks: they are no-ops on
 *    CockroachDB), and an UPDATE of that row. The UPDATE is what makes the snapshot current: a
 *    SERIALIZABLE transaction's snapshot is taken by its first statement, i.e. before the lock
 *    wait, so a writer that waited for another one would not see that one's writes. Because every
 *    writer updates the row, the waiter's SELECT ... FOR UPDATE fails with a serialization
 *    failure (40001) exactly in that case; nothing has been done yet, so tx_begin rolls back
 *    and begins again (bounded: PG_BEGIN_RETRY_MS, with a short random back-off that grows with
 *    the attempts so that many waiting writers do not all retry in lock step and one of them
 *    does not starve), and the next snapshot is taken after the previous writer's commit.
 *  - Schema: numbered migrations (pg/migrations/, embedded by meson.build), the version in the
 *    table store_schema, each applied in its own transaction under the store_schema row lock. A
 *    database whose version is newer than the binary is refused; opening without create a
 *    database that holds no store is IDP_ERR_NOT_FOUND (as a missing SQLite file).
 *  - LISTEN/NOTIFY: the generation trigger also sends NOTIFY idpd_generation (migration 0002);
 *    wait_change waits for it on a dedicated connection outside the pool (reopened at most
 *    once per PG_LISTEN_RETRY_MS when it breaks). Polling store_generation stays the
 *    correctness path (CockroachDB has no NOTIFY); a notification only makes a reload early.
 *  - Fault injection as on SQLite (IDPD_FAULT_STORE_FULL, the fail-closed tests): pg_fault_full. */
#include "store/pg/internal.h"

#include "core/mem.h"
#include "core/rand.h"
#include "store_migrations_pg.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PG_MAX_KEYS 4096
#define PG_MAX_CLIENTS 1000000
#define PG_POOL_DEFAULT 4
#define PG_POOL_WAIT_S 30       /* longest wait for a free connection */
#define PG_BEGIN_RETRY_MS 15000 /* tx_begin retries this long while other writers commit */
#define PG_CONNECT_TIMEOUT "10" /* s */
#define PG_LOCK_TIMEOUT "5000"  /* ms */
#define PG_LISTEN_RETRY_MS 1000 /* least time between two attempts to open the listener */

static const char *const *const pg_migrations[] = {STORE_PG_MIGRATIONS};
_Static_assert(sizeof pg_migrations / sizeof *pg_migrations == STORE_PG_MIGRATION_COUNT,
               "migration table size");

struct pg_conn {
    PGconn *c;
    unsigned char prepared[PG_STMT_MAX / 8];
    bool in_tx;           /* inside tx_begin */
    bool broken;          /* the connection failed: reset before the next use */
    int last;             /* store_pg_last_failure */
    int depth;            /* op nesting */
    struct pg_conn *next; /* idle list */
};

typedef struct pg_store {
    store base; /* first */
    char *uri;
    int pool;
    int open_n; /* connections opened */
    pg_conn *idle;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    pthread_key_t tkey; /* this thread's held connection */
    /* wait_change: the LISTEN connection (NULL until opened or after it broke) */
    pthread_mutex_t lsn_lock;
    PGconn *lsn;
    int64_t lsn_failed_ms; /* monotonic ms of the last failed open or break; 0 = none */
} pg_store;

static pg_store *S(store *st)
{
    return (pg_store *)st;
}

/* ---- connections ---------------------------------------------------------------------------- */

static idp_err pg_connect(const char *uri, PGconn **out, idp_error *err)
{
    /* defaults first: what the URI says (expanded from dbname) overrides them */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT, "idpd", uri, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return IDP_FAIL(err, IDP_ERR_STORE, "store: cannot connect to the PostgreSQL database");
    }
    /* a writer waits at most PG_LOCK_TIMEOUT for another one, as SQLite's busy_timeout */
    PGresult *r =
        PQexec(c, "SET client_min_messages = warning; SET lock_timeout = " PG_LOCK_TIMEOUT);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        return IDP_FAIL(err, IDP_ERR_STORE, "store: PostgreSQL connection setup failed");
    }
    *out = c;
    return IDP_OK;
}

static pg_conn *tls_conn(store *st)
{
    return pthread_getspecific(S(st)->tkey);
}

idp_err store_pg_conn_hold(store *st, bool *borrowed, idp_error *err)
{
    pg_store *s = S(st);
    *borrowed = false;
    if (tls_conn(st)) return IDP_OK;
    pg_conn *c = NULL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += PG_POOL_WAIT_S;
    pthread_mutex_lock(&s->lock);
    while (!s->idle && s->open_n >= s->pool) {
        if (pthread_cond_timedwait(&s->cv, &s->lock, &until) != 0 && !s->idle) {
            pthread_mutex_unlock(&s->lock);
            return IDP_FAIL(err, IDP_ERR_STORE, "store: no free database connection");
        }
    }
    if (s->idle) {
        c = s->idle;
        s->idle = c->next;
        c->next = NULL;
    } else {
        s->open_n++;
    }
    pthread_mutex_unlock(&s->lock);
    if (!c) {
        PGconn *pc = NULL;
        idp_err rc = pg_connect(s->uri, &pc, err);
        if (rc) {
            pthread_mutex_lock(&s->lock);
            s->open_n--;
            pthread_cond_signal(&s->cv);
            pthread_mutex_unlock(&s->lock);
            return rc;
        }
        c = xcalloc(1, sizeof *c);
        c->c = pc;
    }
    pthread_setspecific(s->tkey, c);
    *borrowed = true;
    if (c->broken) return store_pg_conn_repair(st, err);
    return IDP_OK;
}

void store_pg_conn_release(store *st, bool borrowed)
{
    pg_store *s = S(st);
    pg_conn *c = tls_conn(st);
    if (!borrowed || !c || c->in_tx || c->depth) return;
    pthread_setspecific(s->tkey, NULL);
    pthread_mutex_lock(&s->lock);
    c->next = s->idle;
    s->idle = c;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->lock);
}

idp_err store_pg_conn_repair(store *st, idp_error *err)
{
    pg_conn *c = tls_conn(st);
    if (!c) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: no connection held");
    if (!c->broken && PQstatus(c->c) == CONNECTION_OK) return IDP_OK;
    PQreset(c->c);
    memset(c->prepared, 0, sizeof c->prepared);
    c->in_tx = false;
    if (PQstatus(c->c) != CONNECTION_OK) {
        c->broken = true;
        return IDP_FAIL(err, IDP_ERR_STORE, "store: the database connection is lost");
    }
    c->broken = false;
    return IDP_OK;
}

bool store_pg_in_tx(store *st)
{
    pg_conn *c = tls_conn(st);
    return c && c->in_tx;
}

int store_pg_op_depth(store *st, int delta)
{
    pg_conn *c = tls_conn(st);
    if (!c) return 0;
    c->depth += delta;
    return c->depth;
}

int store_pg_last_failure(store *st)
{
    pg_conn *c = tls_conn(st);
    return c ? c->last : 0;
}

/* ---- parameters and results ----------------------------------------------------------------- */

static int pg_param_slot(pg_params *p)
{
    if (p->n >= PG_PARAMS_MAX) {
        p->overflow = true;
        return -1;
    }
    return p->n++;
}

void store_pg_text(pg_params *p, const char *s)
{
    int i = pg_param_slot(p);
    if (i < 0) return;
    p->v[i] = s;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void store_pg_i64(pg_params *p, int64_t v)
{
    int i = pg_param_slot(p);
    if (i < 0) return;
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->v[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void store_pg_bool(pg_params *p, bool v)
{
    int i = pg_param_slot(p);
    if (i < 0) return;
    p->v[i] = v ? "true" : "false";
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void store_pg_bytea(pg_params *p, const void *b, size_t n)
{
    int i = pg_param_slot(p);
    if (i < 0) return;
    if (n > INT32_MAX) {
        p->overflow = true;
        return;
    }
    p->v[i] = b ? (n ? b : "") : NULL;
    p->len[i] = (int)n;
    p->fmt[i] = 1;
}

char *store_pg_str(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return NULL;
    return xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

int64_t store_pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool store_pg_boolv(const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    return !PQgetisnull(r, row, col) && (v[0] == 't' || v[0] == '1');
}

bool store_pg_isnull(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* bytea in the text format is "\x" and hex digits (bytea_output = hex, the default). */
bool store_pg_bytes_dup(const PGresult *r, int row, int col, unsigned char **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (PQgetisnull(r, row, col)) return false;
    const char *v = PQgetvalue(r, row, col);
    size_t len = (size_t)PQgetlength(r, row, col);
    if (len < 2 || v[0] != '\\' || v[1] != 'x' || (len - 2) % 2) return false;
    size_t m = (len - 2) / 2;
    unsigned char *b = xmalloc(m ? m : 1);
    for (size_t i = 0; i < m; i++) {
        int hi = hexval(v[2 + 2 * i]), lo = hexval(v[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            free(b);
            return false;
        }
        b[i] = (unsigned char)(hi * 16 + lo);
    }
    *out = b;
    *n = m;
    return true;
}

bool store_pg_bytes(const PGresult *r, int row, int col, unsigned char *out, size_t n)
{
    unsigned char *b = NULL;
    size_t m = 0;
    if (!store_pg_bytes_dup(r, row, col, &b, &m)) return false;
    bool ok = m == n;
    if (ok) memcpy(out, b, n);
    free(b);
    return ok;
}

idp_err store_pg_rows(const PGresult *r, size_t esize, size_t max, store_pg_row_fn fn,
                      store_pg_row_clear_fn clear, void **rows, size_t *n, idp_error *err)
{
    size_t len = (size_t)PQntuples(r);
    *rows = NULL;
    *n = 0;
    if (len > max) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: more than %zu rows", max);
    if (len == 0) return IDP_OK;
    char *v = xcalloc(len, esize);
    for (size_t i = 0; i < len; i++) {
        idp_err rc = fn(r, (int)i, v + i * esize, err);
        if (rc) {
            if (clear)
                for (size_t j = 0; j <= i; j++)
                    clear(v + j * esize);
            free(v);
            return rc;
        }
    }
    *rows = v;
    *n = len;
    return IDP_OK;
}

/* ---- executing ------------------------------------------------------------------------------ */

/* Classifies a failed result on c and maps it to an idp_err (see internal.h). */
static idp_err pg_fail(pg_conn *c, const PGresult *r, const char *what, idp_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    c->last = 0;
    if (PQstatus(c->c) != CONNECTION_OK) {
        c->broken = true;
        c->last = 2;
        return IDP_FAIL(err, IDP_ERR_STORE, "store: %s failed: the database connection is lost",
                        what);
    }
    if (!state) return IDP_FAIL(err, IDP_ERR_STORE, "store: %s failed", what);
    if (!strcmp(state, "40001") || !strcmp(state, "40P01")) c->last = 1;
    if (!strcmp(state, "23505"))
        return IDP_FAIL(err, IDP_ERR_CONFLICT, "store: %s: already exists", what);
    if (!strncmp(state, "23", 2) || !strncmp(state, "22", 2))
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: %s: constraint failed (SQLSTATE %s)", what,
                        state);
    return IDP_FAIL(err, IDP_ERR_STORE, "store: %s failed (SQLSTATE %s)", what, state);
}

/* Fault injection for the fail-closed tests, the twin of store_sqlite.c's: when
 * IDPD_FAULT_STORE_FULL names a file and that file exists, every op statement that writes (all
 * but SELECT) fails as SQLite's do on a full disk, before it is sent; transaction control
 * (BEGIN, the writer lock) and reads go on. Read at open; unset in production, where this costs
 * one NULL test per statement. */
static const char *pg_fault_full;

static bool pg_fault_refuses(pg_conn *c, const char *sql, const char *what, idp_error *err,
                             idp_err *rc)
{
    if (!pg_fault_full || access(pg_fault_full, F_OK) != 0) return false;
    while (*sql == ' ' || *sql == '\n' || *sql == '(')
        sql++;
    if (!strncasecmp(sql, "SELECT", 6)) return false;
    c->last = 0;
    *rc = IDP_FAIL(err, IDP_ERR_STORE, "store: %s failed: database or disk is full", what);
    return true;
}

idp_err store_pg_exec(store *st, int id, const char *sql, const pg_params *p, const char *what,
                      PGresult **res, idp_error *err)
{
    pg_conn *c = tls_conn(st);
    static const pg_params none;
    if (res) *res = NULL;
    if (!p) p = &none;
    if (!c) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: %s: no connection held", what);
    if (id < 0 || id >= PG_STMT_MAX || p->overflow)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: %s: bad statement", what);
    if (c->broken) return IDP_FAIL(err, IDP_ERR_STORE, "store: the database connection is lost");
    idp_err frc;
    if (pg_fault_refuses(c, sql, what, err, &frc)) return frc;
    char name[24];
    snprintf(name, sizeof name, "idpd_%d", id);
    if (!(c->prepared[id / 8] & (1u << (id % 8)))) {
        PGresult *r = PQprepare(c->c, name, sql, 0, NULL);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            idp_err rc = pg_fail(c, r, what, err);
            PQclear(r);
            return rc;
        }
        PQclear(r);
        c->prepared[id / 8] |= (unsigned char)(1u << (id % 8));
    }
    PGresult *r = PQexecPrepared(c->c, name, p->n, p->v, p->len, p->fmt, 0);
    ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) {
        idp_err rc = pg_fail(c, r, what, err);
        PQclear(r);
        return rc;
    }
    c->last = 0;
    if (res)
        *res = r;
    else
        PQclear(r);
    return IDP_OK;
}

idp_err store_pg_write(store *st, int id, const char *sql, const pg_params *p, const char *what,
                       int64_t *changes, idp_error *err)
{
    PGresult *r = NULL;
    idp_err rc = store_pg_exec(st, id, sql, p, what, &r, err);
    if (!rc && changes) *changes = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

idp_err store_pg_write_one(store *st, int id, const char *sql, const pg_params *p, const char *what,
                           idp_error *err)
{
    int64_t changes = 0;
    idp_err rc = store_pg_write(st, id, sql, p, what, &changes, err);
    if (!rc && changes == 0) rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: %s: no such row", what);
    return rc;
}

idp_err store_pg_exec_dyn(store *st, const char *sql, int n, const char *const *vals,
                          const char *what, PGresult **res, idp_error *err)
{
    pg_conn *c = tls_conn(st);
    *res = NULL;
    if (!c) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: %s: no connection held", what);
    if (c->broken) return IDP_FAIL(err, IDP_ERR_STORE, "store: the database connection is lost");
    idp_err frc;
    if (pg_fault_refuses(c, sql, what, err, &frc)) return frc;
    PGresult *r = PQexecParams(c->c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) {
        idp_err rc = pg_fail(c, r, what, err);
        PQclear(r);
        return rc;
    }
    c->last = 0;
    *res = r;
    return IDP_OK;
}

/* As store_pg_simple; *res (may be NULL) = the last result on success (PQclear it). */
static idp_err pg_simple_res(store *st, const char *sql, PGresult **res, idp_error *err)
{
    pg_conn *c = tls_conn(st);
    if (res) *res = NULL;
    if (!c) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: no connection held");
    if (c->broken) return IDP_FAIL(err, IDP_ERR_STORE, "store: the database connection is lost");
    PGresult *r = PQexec(c->c, sql);
    ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        idp_err rc = pg_fail(c, r, "transaction control", err);
        PQclear(r);
        return rc;
    }
    c->last = 0;
    if (res)
        *res = r;
    else
        PQclear(r);
    return IDP_OK;
}

idp_err store_pg_simple(store *st, const char *sql, idp_error *err)
{
    return pg_simple_res(st, sql, NULL, err);
}

/* ---- statements of this file ---------------------------------------------------------------- */

typedef enum pg_core_id {
    C_GENERATION,
    C_META_GET,
    C_META_SET,
    C_KEY_LIST,
    C_KEY_INSERT,
    C_KEY_UPDATE,
    C_KEY_DELETE,
    C_CLIENT_INSERT,
    C_CLIENT_GET,
    C_CLIENT_LIST,
    C_CLIENT_DELETE,
    C_CLIENT_SET_SECRET,
    C_CLIENT_UPDATE,
    C_JTI_REVOKE,
    C_JTI_IS_REVOKED,
    C_JTI_PRUNE,
    C__COUNT
} pg_core_id;
_Static_assert(PG_STMT_CORE + C__COUNT <= PG_STMT_CORE_END, "statement slots");

/* The writer lock (see the top of this file): the row lock, then the bump that makes a writer
 * whose snapshot predates another writer's commit fail with 40001 instead of reading stale. */
#define PG_WRITER_LOCK "SELECT n FROM store_writer WHERE id = 1 FOR UPDATE"
#define PG_WRITER_BUMP "UPDATE store_writer SET n = n + 1 WHERE id = 1"

#define PG_KEY_COLS "kid, alg, state, created_at, activated_at, retired_at, enc_private, public_jwk"
#define PG_CLIENT_COLS                                                                             \
    "client_id, name, secret_hash, grant_types, scope, audiences, token_alg, token_ttl, "          \
    "auth_method, created_at, secret_rotated_at, is_public, redirect_uris, "                       \
    "post_logout_redirect_uris, jwks, backchannel_logout_uri, introspect"

static const char *const pg_sql[C__COUNT] = {
    [C_GENERATION] = "SELECT n FROM store_generation WHERE id = 1",
    [C_META_GET] = "SELECT value FROM meta WHERE key = $1",
    [C_META_SET] = "INSERT INTO meta (key, value) VALUES ($1, $2) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [C_KEY_LIST] = "SELECT " PG_KEY_COLS " FROM signing_keys ORDER BY created_at, kid",
    [C_KEY_INSERT] = "INSERT INTO signing_keys (" PG_KEY_COLS ") "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [C_KEY_UPDATE] = "UPDATE signing_keys SET state = $2, activated_at = $3, retired_at = $4 "
                     "WHERE kid = $1",
    [C_KEY_DELETE] = "DELETE FROM signing_keys WHERE kid = $1",
    [C_CLIENT_INSERT] = "INSERT INTO clients (" PG_CLIENT_COLS ") VALUES ($1, COALESCE($2, ''), "
                        "$3, COALESCE($4, ''), COALESCE($5, ''), $6, $7, $8, "
                        "COALESCE($9, 'client_secret_basic'), $10, $11, $12, $13, $14, $15, "
                        "$16, $17)",
    [C_CLIENT_GET] = "SELECT " PG_CLIENT_COLS " FROM clients WHERE client_id = $1",
    [C_CLIENT_LIST] = "SELECT " PG_CLIENT_COLS " FROM clients ORDER BY client_id",
    [C_CLIENT_DELETE] = "DELETE FROM clients WHERE client_id = $1",
    [C_CLIENT_SET_SECRET] = "UPDATE clients SET secret_hash = $2, secret_rotated_at = $3 "
                            "WHERE client_id = $1",
    /* the parameters of client_insert, in the same positions ($3, $10, $11 unused) */
    [C_CLIENT_UPDATE] = "UPDATE clients SET name = COALESCE($2, ''), "
                        "grant_types = COALESCE($4, ''), scope = COALESCE($5, ''), "
                        "audiences = $6, token_alg = $7, token_ttl = $8, "
                        "auth_method = COALESCE($9, 'client_secret_basic'), is_public = $12, "
                        "redirect_uris = $13, post_logout_redirect_uris = $14, jwks = $15, "
                        "backchannel_logout_uri = $16, introspect = $17 WHERE client_id = $1 "
                        "AND $3::bytea IS NULL AND $10::bigint IS NULL AND $11::bigint IS NULL",
    [C_JTI_REVOKE] =
        "INSERT INTO revoked_jti (jti, exp) VALUES ($1, $2) "
        "ON CONFLICT (jti) DO UPDATE SET exp = GREATEST(revoked_jti.exp, excluded.exp)",
    [C_JTI_IS_REVOKED] = "SELECT 1 FROM revoked_jti WHERE jti = $1",
    [C_JTI_PRUNE] = "DELETE FROM revoked_jti WHERE exp < $1",
};

static idp_err core_exec(store *st, pg_core_id id, const pg_params *p, const char *what,
                         PGresult **res, idp_error *err)
{
    return store_pg_exec(st, PG_STMT_CORE + (int)id, pg_sql[id], p, what, res, err);
}

/* ---- transactions --------------------------------------------------------------------------- */

/* On this thread's held connection: BEGIN SERIALIZABLE + the writer lock, retried while the
 * snapshot predates another writer's commit (see the top of this file). */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Atomic int64_t pg_retries;
int64_t store_pg_retries(void)
{
    return pg_retries;
}
void store_pg_retried(void)
{
    pg_retries++;
}

idp_err store_pg_writer_begin(store *st, idp_error *err)
{
    idp_err rc = IDP_OK;
    int64_t until = mono_ms() + PG_BEGIN_RETRY_MS;
    for (int i = 0;; i++) {
        if (i > 0) {
            if (mono_ms() >= until) break;
            /* 0 .. min(i, 20) ms, random: the waiters that failed together spread out */
            unsigned char b[2];
            rand_bytes(b, sizeof b);
            int cap = (i < 20 ? i : 20) * 1000 + 1;
            usleep((useconds_t)(((unsigned)b[0] << 8 | b[1]) % (unsigned)cap));
        }
        /* one round trip: the three statements in one simple query; the first error ends it */
        PGresult *r = NULL;
        rc = pg_simple_res(
            st, "BEGIN ISOLATION LEVEL SERIALIZABLE; " PG_WRITER_LOCK "; " PG_WRITER_BUMP, &r, err);
        /* no lock row, no exclusion: fail closed */
        if (!rc && strcmp(PQcmdTuples(r), "1") != 0)
            rc = IDP_FAIL(err, IDP_ERR_STORE, "store: the writer lock row is missing");
        PQclear(r);
        if (!rc) return IDP_OK;
        int why = store_pg_last_failure(st);
        if (why != 2) store_pg_simple(st, "ROLLBACK", NULL);
        if (why != 1) return rc;
        store_pg_retried();
    }
    return rc;
}

static idp_err pg_tx_begin(store *st, idp_error *err)
{
    bool borrowed = false;
    if (store_pg_in_tx(st)) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: nested transaction");
    if (tls_conn(st) && tls_conn(st)->depth)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: transaction begun inside an op");
    idp_err rc = store_pg_conn_hold(st, &borrowed, err);
    if (rc) {
        store_pg_conn_release(st, borrowed);
        return rc;
    }
    rc = store_pg_writer_begin(st, err);
    if (rc && store_pg_last_failure(st) == 2 && !store_pg_conn_repair(st, NULL))
        rc = store_pg_writer_begin(st, err); /* nothing was done: once more on a new session */
    if (!rc)
        tls_conn(st)->in_tx = true;
    else
        store_pg_conn_release(st, borrowed);
    return rc;
}

static void pg_tx_rollback(store *st)
{
    pg_conn *c = tls_conn(st);
    if (!c || !c->in_tx) return;
    if (!c->broken) store_pg_simple(st, "ROLLBACK", NULL);
    c->in_tx = false;
    store_pg_conn_release(st, true);
}

static idp_err pg_tx_commit(store *st, idp_error *err)
{
    pg_conn *c = tls_conn(st);
    if (!c || !c->in_tx)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: commit without a transaction");
    /* A transaction aborted by an earlier error answers COMMIT with ROLLBACK: check first. */
    idp_err rc = IDP_OK;
    if (PQtransactionStatus(c->c) != PQTRANS_INTRANS)
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: commit: the transaction was aborted");
    else
        rc = store_pg_simple(st, "COMMIT", err);
    if (rc && !c->broken && PQtransactionStatus(c->c) != PQTRANS_IDLE)
        store_pg_simple(st, "ROLLBACK", NULL);
    c->in_tx = false;
    store_pg_conn_release(st, true);
    return rc;
}

static bool pg_tx_active(store *st)
{
    return store_pg_in_tx(st);
}

/* ---- generation and meta -------------------------------------------------------------------- */

static idp_err pg_generation(store *st, int64_t *out, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        if ((rc = core_exec(st, C_GENERATION, NULL, "generation", &r, err))) continue;
        if (PQntuples(r) == 1)
            *out = store_pg_int(r, 0, 0);
        else
            rc = IDP_FAIL(err, IDP_ERR_STORE, "store: generation row missing");
        PQclear(r);
    }
    return rc;
}

static idp_err pg_meta_get(store *st, const char *key, char **value, idp_error *err)
{
    idp_err rc = IDP_OK;
    *value = NULL;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, key);
        if ((rc = core_exec(st, C_META_GET, &p, "meta_get", &r, err))) continue;
        if (PQntuples(r) == 1)
            *value = store_pg_str(r, 0, 0);
        else
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such setting");
        PQclear(r);
    }
    return rc;
}

static idp_err pg_meta_set(store *st, const char *key, const char *value, idp_error *err)
{
    if (!key || !value) return IDP_FAIL(err, IDP_ERR_INVALID, "store: meta_set: missing value");
    if (strcmp(key, "generation") == 0)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: meta_set: reserved setting");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, key);
        store_pg_text(&p, value);
        rc = store_pg_write(st, PG_STMT_CORE + C_META_SET, pg_sql[C_META_SET], &p, "meta_set", NULL,
                            err);
    }
    return rc;
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

static idp_err pg_key_list(store *st, store_key **rows, size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if ((rc = core_exec(st, C_KEY_LIST, NULL, "key_list", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_key), PG_MAX_KEYS, pg_key_row, pg_key_clear, &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

static idp_err pg_key_insert(store *st, const store_key *k, idp_error *err)
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
        rc = core_exec(st, C_KEY_INSERT, &p, "key_insert", NULL, err);
    }
    return rc;
}

static idp_err pg_key_update_state(store *st, const char *kid, key_state state,
                                   int64_t activated_at, int64_t retired_at, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, kid);
        store_pg_i64(&p, (int64_t)state);
        store_pg_i64(&p, activated_at);
        store_pg_i64(&p, retired_at);
        rc = store_pg_write_one(st, PG_STMT_CORE + C_KEY_UPDATE, pg_sql[C_KEY_UPDATE], &p,
                                "key_update_state", err);
    }
    return rc;
}

static idp_err pg_key_delete(store *st, const char *kid, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, kid);
        rc = store_pg_write_one(st, PG_STMT_CORE + C_KEY_DELETE, pg_sql[C_KEY_DELETE], &p,
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

static idp_err pg_client_insert(store *st, const store_client *c, idp_error *err)
{
    pg_params p = {0};
    idp_err rc = pg_client_bind(&p, c, true, "client_insert", err);
    if (rc) return rc;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = core_exec(st, C_CLIENT_INSERT, &p, "client_insert", NULL, err);
    return rc;
}

static idp_err pg_client_update(store *st, const store_client *c, idp_error *err)
{
    pg_params p = {0};
    idp_err rc = pg_client_bind(&p, c, false, "client_update", err);
    if (rc) return rc;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    rc = store_pg_write_one(st, PG_STMT_CORE + C_CLIENT_UPDATE, pg_sql[C_CLIENT_UPDATE], &p,
                            "client_update", err);
    return rc;
}

static idp_err pg_client_get(store *st, const char *client_id, store_client *out, idp_error *err)
{
    idp_err rc = IDP_OK;
    memset(out, 0, sizeof *out);
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, client_id);
        if ((rc = core_exec(st, C_CLIENT_GET, &p, "client_get", &r, err))) continue;
        if (PQntuples(r) != 1)
            rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND, "store: no such client");
        else if ((rc = pg_client_row(r, 0, out, err)))
            store_client_clear(out);
        PQclear(r);
    }
    return rc;
}

static idp_err pg_client_list(store *st, store_client **rows, size_t *n, idp_error *err)
{
    idp_err rc = IDP_OK;
    *rows = NULL;
    *n = 0;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        void *v = NULL;
        if ((rc = core_exec(st, C_CLIENT_LIST, NULL, "client_list", &r, err))) continue;
        rc = store_pg_rows(r, sizeof(store_client), PG_MAX_CLIENTS, pg_client_row, pg_client_clear,
                           &v, n, err);
        *rows = v;
        PQclear(r);
    }
    return rc;
}

static idp_err pg_client_delete(store *st, const char *client_id, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, client_id);
        rc = store_pg_write_one(st, PG_STMT_CORE + C_CLIENT_DELETE, pg_sql[C_CLIENT_DELETE], &p,
                                "client_delete", err);
    }
    return rc;
}

static idp_err pg_client_set_secret(store *st, const char *client_id, const unsigned char hash[32],
                                    int64_t now, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, client_id);
        store_pg_bytea(&p, hash, 32);
        store_pg_i64(&p, now);
        rc = store_pg_write_one(st, PG_STMT_CORE + C_CLIENT_SET_SECRET, pg_sql[C_CLIENT_SET_SECRET],
                                &p, "client_set_secret", err);
    }
    return rc;
}

/* ---- revoked jtis (RFC 7009) ---------------------------------------------------------------- */

static idp_err pg_jti_revoke(store *st, const char *jti, int64_t exp, idp_error *err)
{
    if (!jti || !*jti) return IDP_FAIL(err, IDP_ERR_INVALID, "store: jti_revoke: empty jti");
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_text(&p, jti);
        store_pg_i64(&p, exp);
        rc = core_exec(st, C_JTI_REVOKE, &p, "jti_revoke", NULL, err);
    }
    return rc;
}

static idp_err pg_jti_is_revoked(store *st, const char *jti, bool *revoked, idp_error *err)
{
    idp_err rc = IDP_OK;
    *revoked = false;
    STORE_PG_OP(st, PG_READ, rc, err)
    {
        PGresult *r = NULL;
        pg_params p = {0};
        store_pg_text(&p, jti);
        if ((rc = core_exec(st, C_JTI_IS_REVOKED, &p, "jti_is_revoked", &r, err))) continue;
        *revoked = PQntuples(r) > 0;
        PQclear(r);
    }
    return rc;
}

static idp_err pg_jti_prune(store *st, int64_t now, idp_error *err)
{
    idp_err rc = IDP_OK;
    STORE_PG_OP(st, PG_WRITE, rc, err)
    {
        pg_params p = {0};
        store_pg_i64(&p, now);
        rc = core_exec(st, C_JTI_PRUNE, &p, "jti_prune", NULL, err);
    }
    return rc;
}

/* ---- migrations ----------------------------------------------------------------------------- */

static char *pg_migration_text(int v)
{
    size_t len = 0;
    for (const char *const *l = pg_migrations[v]; *l; l++)
        len += strlen(*l);
    char *sql = xmalloc(len + 1), *p = sql;
    for (const char *const *l = pg_migrations[v]; *l; l++) {
        size_t n = strlen(*l);
        memcpy(p, *l, n);
        p += n;
    }
    *p = '\0';
    return sql;
}

static bool pg_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    PQclear(r);
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* Applies the next pending migration in one transaction under the store_schema row lock (another
 * process may be migrating the same database: the version is read again under the lock). */
static idp_err pg_migrate_step(PGconn *c, bool *done, idp_error *err)
{
    idp_err rc = IDP_OK;
    char *sql = NULL;
    if (!pg_ok(c, "BEGIN") ||
        !pg_ok(c, "CREATE TABLE IF NOT EXISTS store_schema (id integer PRIMARY KEY CHECK "
                  "(id = 1), version bigint NOT NULL)") ||
        !pg_ok(c, "INSERT INTO store_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING")) {
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: cannot read the schema version");
        goto out;
    }
    PGresult *r = PQexec(c, "SELECT version FROM store_schema WHERE id = 1 FOR UPDATE");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: cannot read the schema version");
        goto out;
    }
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (v > STORE_PG_MIGRATION_COUNT || v < 0) {
        rc = IDP_FAIL(err, IDP_ERR_STORE,
                      "store: database schema version %lld is newer than this idpd supports "
                      "(%d); upgrade idpd",
                      v, STORE_PG_MIGRATION_COUNT);
        goto out;
    }
    *done = v == STORE_PG_MIGRATION_COUNT;
    if (*done) goto out;
    sql = pg_migration_text((int)v);
    char nv[24];
    snprintf(nv, sizeof nv, "%lld", v + 1);
    const char *vals[] = {nv};
    bool ok = pg_ok(c, sql);
    if (ok) {
        /* the version, bound like every value */
        r = PQexecParams(c, "UPDATE store_schema SET version = $1::bigint WHERE id = 1", 1, NULL,
                         vals, NULL, NULL, 0);
        ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (!ok) rc = IDP_FAIL(err, IDP_ERR_STORE, "store: migration %04lld failed", v + 1);
out:
    free(sql);
    if (!rc && pg_ok(c, "COMMIT")) return IDP_OK;
    pg_ok(c, "ROLLBACK");
    return rc ? rc : IDP_FAIL(err, IDP_ERR_STORE, "store: migration commit failed");
}

static idp_err pg_migrate(PGconn *c, bool create, idp_error *err)
{
    int tries = 0;
    if (!create) {
        /* as a SQLite file that does not exist: the database was never initialised */
        PGresult *r = PQexec(c, "SELECT to_regclass('store_schema') IS NULL");
        bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        bool missing = ok && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (!ok) return IDP_FAIL(err, IDP_ERR_STORE, "store: cannot read the schema version");
        if (missing)
            return IDP_FAIL(err, IDP_ERR_NOT_FOUND,
                            "store: the PostgreSQL database holds no idpd store (run idpd init "
                            "with this store first)");
    }
    for (bool done = false; !done;) {
        idp_err rc = pg_migrate_step(c, &done, err);
        /* two processes creating store_schema at once: one loses the race; try again */
        if (rc && PQstatus(c) == CONNECTION_OK && ++tries < 3) continue;
        if (rc) return rc;
    }
    return IDP_OK;
}

idp_err store_pg_schema_version(const char *uri, int64_t *version, int64_t *known,
                                idp_error *err)
{
    PGconn *c = NULL;
    *version = 0;
    *known = STORE_PG_MIGRATION_COUNT;
    idp_err rc = pg_connect(uri, &c, err);
    if (rc) return rc;
    /* a database without store_schema holds no store (as pg_migrate without create) */
    PGresult *r = PQexec(c, "SELECT to_regclass('store_schema') IS NULL");
    bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    bool missing = ok && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (ok && missing) {
        rc = IDP_FAIL(err, IDP_ERR_NOT_FOUND,
                      "store: the PostgreSQL database holds no idpd store (run idpd init with "
                      "this store first)");
    } else if (ok) {
        r = PQexec(c, "SELECT version FROM store_schema WHERE id = 1");
        ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        if (ok) *version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    if (!ok) rc = IDP_FAIL(err, IDP_ERR_STORE, "store: cannot read the schema version");
    PQfinish(c);
    return rc;
}

/* ---- open / close --------------------------------------------------------------------------- */

/* ---- LISTEN/NOTIFY ----------------------------------------------------------------------- */

/* Drains every queued notification; true when there was one. */
static bool lsn_drain(PGconn *c)
{
    bool any = false;
    for (PGnotify *n; (n = PQnotifies(c)) != NULL; PQfreemem(n)) any = true;
    return any;
}

static idp_err lsn_open(pg_store *s, idp_error *err)
{
    PGconn *c = NULL;
    idp_err rc = pg_connect(s->uri, &c, err);
    if (rc) return rc;
    PGresult *r = PQexec(c, "SET application_name = 'idpd_listen'; LISTEN idpd_generation");
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || PQsetnonblocking(c, 1) != 0) {
        PQfinish(c);
        return IDP_FAIL(err, IDP_ERR_STORE, "store: cannot LISTEN for generation changes");
    }
    s->lsn = c;
    return IDP_OK;
}

static idp_err pg_wait_change(store *st, int timeout_ms, bool *notified, idp_error *err)
{
    pg_store *s = S(st);
    idp_err rc = IDP_OK;
    *notified = false;
    if (timeout_ms < 0) timeout_ms = 0;
    pthread_mutex_lock(&s->lsn_lock);
    if (!s->lsn) {
        int64_t now = mono_ms();
        if (s->lsn_failed_ms && now - s->lsn_failed_ms < PG_LISTEN_RETRY_MS) {
            rc = IDP_FAIL(err, IDP_ERR_STORE, "store: the generation listener is not connected");
        } else if ((rc = lsn_open(s, err)) != IDP_OK) {
            s->lsn_failed_ms = now ? now : 1;
        } else {
            s->lsn_failed_ms = 0;
            *notified = true; /* a change may have been missed while nobody listened */
        }
        pthread_mutex_unlock(&s->lsn_lock);
        return rc;
    }
    bool broken = false;
    if (!PQconsumeInput(s->lsn)) {
        broken = true;
    } else if (lsn_drain(s->lsn)) {
        *notified = true;
    } else {
        struct pollfd pfd = {.fd = PQsocket(s->lsn), .events = POLLIN};
        int64_t until = mono_ms() + timeout_ms;
        while (!broken && !*notified) {
            int64_t left = until - mono_ms();
            if (left <= 0) break;
            int pr = poll(&pfd, 1, (int)left);
            if (pr < 0) {
                if (errno == EINTR) continue;
                broken = true;
            } else if (pr > 0) {
                if (!PQconsumeInput(s->lsn))
                    broken = true;
                else
                    *notified = lsn_drain(s->lsn);
            }
        }
    }
    if (broken || PQstatus(s->lsn) != CONNECTION_OK) {
        PQfinish(s->lsn);
        s->lsn = NULL;
        int64_t now = mono_ms();
        s->lsn_failed_ms = now ? now : 1;
        *notified = false;
        rc = IDP_FAIL(err, IDP_ERR_STORE, "store: the generation listener connection broke");
    }
    pthread_mutex_unlock(&s->lsn_lock);
    return rc;
}

static void pg_close(store *st)
{
    pg_store *s = S(st);
    PQfinish(s->lsn);
    pthread_mutex_destroy(&s->lsn_lock);
    pg_conn *held = tls_conn(st);
    pthread_key_delete(s->tkey);
    if (held && !held->next) {
        held->next = s->idle;
        s->idle = held;
    }
    for (pg_conn *c = s->idle, *n; c; c = n) {
        n = c->next;
        PQfinish(c->c);
        free(c);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cv);
    free(s->uri);
    free(s);
}

static const store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .tx_begin = pg_tx_begin,
    .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback,
    .generation = pg_generation,
    .wait_change = pg_wait_change,
    .meta_get = pg_meta_get,
    .meta_set = pg_meta_set,
    .key_list = pg_key_list,
    .key_insert = pg_key_insert,
    .key_update_state = pg_key_update_state,
    .key_delete = pg_key_delete,
    .client_insert = pg_client_insert,
    .client_get = pg_client_get,
    .client_list = pg_client_list,
    .client_delete = pg_client_delete,
    .client_set_secret = pg_client_set_secret,
    .client_update = pg_client_update,
    .jti_revoke = pg_jti_revoke,
    .jti_is_revoked = pg_jti_is_revoked,
    .jti_prune = pg_jti_prune,
    .rev_list = store_pg_rev_list,
    .rev_bound_raise = store_pg_rev_bound_raise,
    .rev_prune = store_pg_rev_prune,
    .user_create = store_pg_scim_user_create,
    .user_get = store_pg_scim_user_get,
    .user_get_by_name = store_pg_scim_user_get_by_name,
    .user_replace = store_pg_scim_user_replace,
    .user_delete = store_pg_scim_user_delete,
    .user_query = store_pg_scim_user_query,
    .user_groups = store_pg_scim_user_groups,
    .group_create = store_pg_scim_group_create,
    .group_get = store_pg_scim_group_get,
    .group_query = store_pg_scim_group_query,
    .group_members = store_pg_scim_group_members,
    .user_get_by_external_id = store_pg_scim_user_get_by_external_id,
    .user_name_key_taken = store_pg_scim_user_name_key_taken,
    .user_epoch_bump = store_pg_scim_user_epoch_bump,
    .group_update = store_pg_scim_group_update,
    .group_remove = store_pg_scim_group_remove,
    .pkey_insert = store_pg_pkey_insert,
    .pkey_get = store_pg_pkey_get,
    .pkey_list = store_pg_pkey_list,
    .pkey_update = store_pg_pkey_update,
    .pkey_touch = store_pg_pkey_touch,
    .audit_list = store_pg_audit_list,
    .audit_last = store_pg_audit_last,
    .audit_seq_before = store_pg_audit_seq_before,
    .audit_delete_through = store_pg_audit_delete_through,
    .code_insert = store_pg_oidc_code_insert,
    .code_consume = store_pg_oidc_code_consume,
    .code_set_issued = store_pg_oidc_code_set_issued,
    .refresh_insert = store_pg_oidc_refresh_insert,
    .refresh_get = store_pg_oidc_refresh_get,
    .refresh_rotate = store_pg_oidc_refresh_rotate,
    .refresh_revoke_family = store_pg_oidc_refresh_revoke_family,
    .refresh_revoke_session = store_pg_oidc_refresh_revoke_session,
    .refresh_revoke_user = store_pg_oidc_refresh_revoke_user,
    .session_insert = store_pg_oidc_session_insert,
    .session_get = store_pg_oidc_session_get,
    .session_get_by_sid = store_pg_oidc_session_get_by_sid,
    .session_touch = store_pg_oidc_session_touch,
    .session_add_client = store_pg_oidc_session_add_client,
    .session_delete = store_pg_oidc_session_delete,
    .session_delete_user = store_pg_oidc_session_delete_user,
    .session_list_user = store_pg_oidc_session_list_user,
    .login_fail = store_pg_oidc_login_fail,
    .login_fail_get = store_pg_oidc_login_fail_get,
    .login_fail_reset = store_pg_oidc_login_fail_reset,
    .assertion_jti_use = store_pg_oidc_assertion_jti_use,
    .consent_get = store_pg_oidc_consent_get,
    .user_rehash = store_pg_oidc_user_rehash,
    .consent_set = store_pg_oidc_consent_set,
    .oidc_prune = store_pg_oidc_prune,
    .policy_insert = store_pg_policy_insert,
    .policy_get = store_pg_policy_get,
    .policy_list = store_pg_policy_list,
    .policy_activate = store_pg_policy_activate,
    .policy_active = store_pg_policy_active,
    .policy_activations = store_pg_policy_activations,
    .fed_link_get = store_pg_fed_link_get,
    .fed_link_add = store_pg_fed_link_add,
    .fed_link_count = store_pg_fed_link_count,
    .fed_jti_use = store_pg_fed_jti_use,
    .fed_jwks_put = store_pg_fed_jwks_put,
    .fed_jwks_get = store_pg_fed_jwks_get,
    .fed_status_put = store_pg_fed_status_put,
    .fed_status_get = store_pg_fed_status_get,
    .fed_status_list = store_pg_fed_status_list,
    .tx_active = pg_tx_active,
    .audit_tail = store_pg_audit_tail,
    .audit_insert = store_pg_audit_insert,
};

/* The ops the front (store.c) composes: a backend leaves them NULL. */
static bool pg_front_op(size_t off)
{
    return off == offsetof(store_ops, user_create) || off == offsetof(store_ops, user_replace) ||
           off == offsetof(store_ops, group_replace) || off == offsetof(store_ops, group_delete) ||
           off == offsetof(store_ops, refresh_revoke_one) ||
           off == offsetof(store_ops, audit_append) || off == offsetof(store_ops, fed_provision);
}

bool store_pg_complete(void)
{
    typedef void (*fnp)(void);
    _Static_assert(offsetof(store_ops, close) % sizeof(fnp) == 0, "ops layout");
    for (size_t off = offsetof(store_ops, close); off < sizeof(store_ops); off += sizeof(fnp)) {
        fnp f;
        memcpy(&f, (const char *)&pg_ops + off, sizeof f);
        /* user_create and user_replace are the backend's own storage ops as well as front rules:
         * the front wraps them, the backend must provide them */
        bool front_only = pg_front_op(off) && off != offsetof(store_ops, user_create) &&
                          off != offsetof(store_ops, user_replace);
        if (!f && !front_only) return false;
    }
    return true;
}

idp_err store_pg_open(const char *uri, int pool_size, bool create, store **out, idp_error *err)
{
    PGconn *c = NULL;
    *out = NULL;
    const char *fault = getenv("IDPD_FAULT_STORE_FULL");
    if (fault && *fault) pg_fault_full = fault;
    idp_err rc = pg_connect(uri, &c, err);
    if (rc) return rc;
    rc = pg_migrate(c, create, err);
    if (rc) {
        PQfinish(c);
        return rc;
    }
    pg_store *s = xcalloc(1, sizeof *s);
    if (pthread_key_create(&s->tkey, NULL) != 0) {
        PQfinish(c);
        free(s);
        return IDP_FAIL(err, IDP_ERR_STORE, "store: too many open stores");
    }
    s->base.ops = &pg_ops;
    s->uri = xstrdup(uri);
    s->pool = pool_size > 0 ? pool_size : PG_POOL_DEFAULT;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->lsn_lock, NULL);
    /* The migrating connection is the pool's first. */
    pg_conn *pc = xcalloc(1, sizeof *pc);
    pc->c = c;
    s->idle = pc;
    s->open_n = 1;
    *out = &s->base;
    return IDP_OK;
}
