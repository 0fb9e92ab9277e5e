/* store_pg — the PostgreSQL backend of store.h (issue 13), the twin of sqlite/store_sqlite.c:
 * connections, executing statements, meta, the generation, transactions, LISTEN/NOTIFY, the
 * ops table, open and close. Elsewhere: parameters and column readers (store_pg_param.c),
 * signing keys, clients and revoked jtis (store_pg_keys.c), migrations (store_pg_migrate.c),
 * the op wrapper (store_pg_op.c) and one file per op family (store_pg_<family>.c).
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
 *  - The transaction contract (store.h): tx_begin = BEGIN ISOLATION LEVEL REPEATABLE READ, then
 *    the writer lock: SELECT ... FROM store_writer WHERE id = 1 FOR UPDATE, which makes writers
 *    exclusive across every process using the database (no advisory locks: they are no-ops on
 *    CockroachDB), and an UPDATE of that row. The UPDATE is what makes the snapshot current: a
 *    REPEATABLE READ transaction's snapshot is taken by its first statement, i.e. before the lock
 *    wait, so a writer that waited for another one would not see that one's writes. Because every
 *    writer updates the row, the waiter's SELECT ... FOR UPDATE fails with a serialization
 *    failure (40001, "concurrent update") exactly in that case; nothing has been done yet, so tx_begin rolls back
 *    and begins again (bounded: PG_BEGIN_RETRY_MS, with a short random back-off that grows with
 *    the attempts so that many waiting writers do not all retry in lock step and one of them
 *    does not starve), and the next snapshot is taken after the previous writer's commit.
 *    Writers thus run one at a time, each on a snapshot that holds every earlier commit: a serial
 *    schedule, serializable without SERIALIZABLE. Not SERIALIZABLE itself: its predicate locks
 *    (SSI) add nothing between writers that never overlap, but the waiters' reads of the lock row
 *    make it cancel a writer at COMMIT now and then ("conflict in from prepared pivot"), and a
 *    failed COMMIT is not retried: bench/scim_bulk.sh saw 6 of 100,000 SCIM creates and some
 *    heartbeats fail that way (500) with fsync on. Readers outside a transaction run each
 *    statement on its own snapshot (READ COMMITTED).
 *  - Schema: applied on open by store_pg_migrate (store_pg_migrate.c: one transaction per
 *    migration; a newer schema refused; no store without create = IDP_ERR_NOT_FOUND).
 *  - LISTEN/NOTIFY: the generation trigger also sends NOTIFY idpd_generation (migration 0002);
 *    wait_change waits for it on a dedicated connection outside the pool (reopened at most
 *    once per PG_LISTEN_RETRY_MS when it breaks). Polling store_generation stays the
 *    correctness path (CockroachDB has no NOTIFY); a notification only makes a reload early.
 *  - Fault injection as on SQLite (IDPD_FAULT_STORE_FULL, the fail-closed tests): pg_fault_full. */
#include "store/pg/internal.h"

#include "core/mem.h"
#include "core/rand.h"

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

#define PG_POOL_DEFAULT 4
#define PG_POOL_WAIT_S 30       /* longest wait for a free connection */
#define PG_BEGIN_RETRY_MS 15000 /* tx_begin retries this long while other writers commit */
#define PG_CONNECT_TIMEOUT "10" /* s */
#define PG_LOCK_TIMEOUT "5000"  /* ms */
#define PG_LISTEN_RETRY_MS 1000 /* least time between two attempts to open the listener */

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

idp_err store_pg_connect(const char *uri, PGconn **out, idp_error *err)
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
        idp_err rc = store_pg_connect(s->uri, &pc, err);
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

typedef enum pg_core_id { C_GENERATION, C_META_GET, C_META_SET, C__COUNT } pg_core_id;
_Static_assert(PG_STMT_CORE + C__COUNT <= PG_STMT_CORE_END, "statement slots");

/* The writer lock (see the top of this file): the row lock, then the bump that makes a writer
 * whose snapshot predates another writer's commit fail with 40001 instead of reading stale. */
#define PG_WRITER_LOCK "SELECT n FROM store_writer WHERE id = 1 FOR UPDATE"
#define PG_WRITER_BUMP "UPDATE store_writer SET n = n + 1 WHERE id = 1"

static const char *const pg_sql[C__COUNT] = {
    [C_GENERATION] = "SELECT n FROM store_generation WHERE id = 1",
    [C_META_GET] = "SELECT value FROM meta WHERE key = $1",
    [C_META_SET] = "INSERT INTO meta (key, value) VALUES ($1, $2) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
};

static idp_err core_exec(store *st, pg_core_id id, const pg_params *p, const char *what,
                         PGresult **res, idp_error *err)
{
    return store_pg_exec(st, PG_STMT_CORE + (int)id, pg_sql[id], p, what, res, err);
}

/* ---- transactions --------------------------------------------------------------------------- */

/* On this thread's held connection: BEGIN REPEATABLE READ + the writer lock, retried while the
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
            st, "BEGIN ISOLATION LEVEL REPEATABLE READ; " PG_WRITER_LOCK "; " PG_WRITER_BUMP, &r, err);
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
    idp_err rc = store_pg_connect(s->uri, &c, err);
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
    .key_list = store_pg_key_list,
    .key_insert = store_pg_key_insert,
    .key_update_state = store_pg_key_update_state,
    .key_delete = store_pg_key_delete,
    .client_insert = store_pg_client_insert,
    .client_get = store_pg_client_get,
    .client_list = store_pg_client_list,
    .client_delete = store_pg_client_delete,
    .client_set_secret = store_pg_client_set_secret,
    .client_update = store_pg_client_update,
    .jti_revoke = store_pg_jti_revoke,
    .jti_is_revoked = store_pg_jti_is_revoked,
    .jti_prune = store_pg_jti_prune,
    .rev_list = store_pg_rev_list,
    .rev_bound_raise = store_pg_rev_bound_raise,
    .rev_prune = store_pg_rev_prune,
    .rev_last_seq = store_pg_rev_last_seq,
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
    idp_err rc = store_pg_connect(uri, &c, err);
    if (rc) return rc;
    rc = store_pg_migrate(c, create, err);
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
