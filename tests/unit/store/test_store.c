/* Unit tests for src/store.
 *
 * The first part is the backend contract suite: it talks to the store only through store.h (the
 * ops table), so a future backend (store_pg.c) reuses it by changing tst_open(). The second part
 * checks SQLite specifics (file mode, migrations, schema version). */
#include "testutil.h"

#include "core/err.h"
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct fx {
    char *dir;
    char *spec; /* "sqlite:<dir>/idpd.db" */
    char *path; /* "<dir>/idpd.db" */
    store *st;
} fx;

static store *tst_open(const fx *f)
{
    store *st = NULL;
    idp_error e = {0};
    idp_err rc = store_open(f->spec, true, &st, &e);
    if (rc) fail_msg("store_open: %s", e.msg);
    return st;
}

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    size_t n = strlen(f->dir) + 32;
    f->path = malloc(n);
    snprintf(f->path, n, "%s/idpd.db", f->dir);
    f->spec = malloc(n);
    snprintf(f->spec, n, "sqlite:%s", f->path);
    f->st = tst_open(f);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->spec);
    free(f->path);
    free(f);
    return 0;
}

static unsigned char blob_byte(int i) { return (unsigned char)(i * 37 + 11); }

static void make_key(store_key *k, const char *kid, const char *alg, key_state s, int64_t created)
{
    memset(k, 0, sizeof *k);
    k->kid = (char *)kid;
    k->alg = (char *)alg;
    k->state = s;
    k->created_at = created;
    k->activated_at = s == KEY_NEXT ? 0 : created + 10;
    k->retired_at = s == KEY_RETIRED ? created + 20 : 0;
    static unsigned char blob[61];
    for (int i = 0; i < (int)sizeof blob; i++) blob[i] = blob_byte(i);
    blob[0] = 0x00; /* embedded zero bytes must survive */
    k->enc_private = blob;
    k->enc_private_len = sizeof blob;
    k->public_jwk = (char *)"{\"kty\":\"OKP\"}";
}

static void make_client(store_client *c, const char *id)
{
    memset(c, 0, sizeof *c);
    c->client_id = (char *)id;
    c->name = (char *)"Test client";
    c->grant_types = (char *)"client_credentials";
    c->scope = (char *)"read write";
    c->audiences = (char *)"https://api.example";
    c->token_alg = (char *)"EdDSA";
    c->token_ttl = 120;
    c->auth_method = (char *)"client_secret_basic";
    c->created_at = 1000;
    c->has_secret = true;
    for (int i = 0; i < 32; i++) c->secret_hash[i] = (unsigned char)(i + 1);
}

static int64_t gen(store *st)
{
    int64_t g = -1;
    assert_int_equal(store_generation(st, &g, NULL), IDP_OK);
    return g;
}

/* ---- contract ------------------------------------------------------------------------------- */

static void meta_ops(void **state)
{
    fx *f = *state;
    char *v = NULL;
    idp_error e = {0};
    assert_int_equal(store_meta_get(f->st, "nope", &v, &e), IDP_ERR_NOT_FOUND);
    assert_null(v);
    assert_int_equal(store_meta_set(f->st, "issuer", "https://a", NULL), IDP_OK);
    assert_int_equal(store_meta_get(f->st, "issuer", &v, NULL), IDP_OK);
    assert_string_equal(v, "https://a");
    free(v);
    assert_int_equal(store_meta_set(f->st, "issuer", "https://b", NULL), IDP_OK);
    assert_int_equal(store_meta_get(f->st, "issuer", &v, NULL), IDP_OK);
    assert_string_equal(v, "https://b");
    free(v);
    /* SQL metacharacters are data, never SQL. */
    assert_int_equal(store_meta_set(f->st, "x'; DROP TABLE meta; --", "'\"", NULL), IDP_OK);
    assert_int_equal(store_meta_get(f->st, "x'; DROP TABLE meta; --", &v, NULL), IDP_OK);
    assert_string_equal(v, "'\"");
    free(v);
    assert_int_equal(store_meta_set(f->st, "k", NULL, &e), IDP_ERR_INVALID);
    /* the change counter is reserved to the triggers */
    assert_int_equal(store_meta_set(f->st, "generation", "0", &e), IDP_ERR_INVALID);
}

static void key_ops(void **state)
{
    fx *f = *state;
    store_key k;
    idp_error e = {0};
    make_key(&k, "kid-b", "ES256", KEY_CURRENT, 200);
    assert_int_equal(store_key_insert(f->st, &k, NULL), IDP_OK);
    make_key(&k, "kid-a", "EdDSA", KEY_NEXT, 300);
    assert_int_equal(store_key_insert(f->st, &k, NULL), IDP_OK);
    make_key(&k, "kid-c", "RS256", KEY_RETIRED, 100);
    assert_int_equal(store_key_insert(f->st, &k, NULL), IDP_OK);
    make_key(&k, "kid-a", "ES256", KEY_NEXT, 400);
    assert_int_equal(store_key_insert(f->st, &k, &e), IDP_ERR_CONFLICT);
    assert_null(strstr(e.msg, "kid-a")); /* never a bound value in a message */
    k.public_jwk = NULL;
    assert_int_equal(store_key_insert(f->st, &k, &e), IDP_ERR_INVALID);

    store_key *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_key_list(f->st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 3);
    /* ordered by created_at */
    assert_string_equal(rows[0].kid, "kid-c");
    assert_string_equal(rows[1].kid, "kid-b");
    assert_string_equal(rows[2].kid, "kid-a");
    assert_int_equal(rows[0].state, KEY_RETIRED);
    assert_int_equal(rows[0].retired_at, 120);
    assert_int_equal(rows[1].state, KEY_CURRENT);
    assert_int_equal(rows[1].activated_at, 210);
    assert_string_equal(rows[2].alg, "EdDSA");
    assert_int_equal(rows[2].state, KEY_NEXT);
    assert_int_equal(rows[2].enc_private_len, 61);
    assert_int_equal(rows[2].enc_private[0], 0);
    for (int i = 1; i < 61; i++) assert_int_equal(rows[2].enc_private[i], blob_byte(i));
    assert_string_equal(rows[2].public_jwk, "{\"kty\":\"OKP\"}");
    store_key_list_free(rows, n);

    assert_int_equal(store_key_update_state(f->st, "kid-a", KEY_CURRENT, 500, 0, NULL), IDP_OK);
    assert_int_equal(store_key_update_state(f->st, "kid-zz", KEY_CURRENT, 500, 0, &e),
                     IDP_ERR_NOT_FOUND);
    assert_int_equal(store_key_delete(f->st, "kid-c", NULL), IDP_OK);
    assert_int_equal(store_key_delete(f->st, "kid-c", &e), IDP_ERR_NOT_FOUND);

    assert_int_equal(store_key_list(f->st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[1].kid, "kid-a");
    assert_int_equal(rows[1].state, KEY_CURRENT);
    assert_int_equal(rows[1].activated_at, 500);
    store_key_list_free(rows, n);
    store_key_list_free(NULL, 0);
}

static void client_ops(void **state)
{
    fx *f = *state;
    store_client c, got;
    idp_error e = {0};
    make_client(&c, "svc-b");
    assert_int_equal(store_client_insert(f->st, &c, NULL), IDP_OK);
    assert_int_equal(store_client_insert(f->st, &c, &e), IDP_ERR_CONFLICT);
    assert_null(strstr(e.msg, "svc-b"));

    /* A public client with every optional member left out. */
    memset(&c, 0, sizeof c);
    c.client_id = (char *)"svc-a";
    c.created_at = 5;
    assert_int_equal(store_client_insert(f->st, &c, NULL), IDP_OK);
    c.client_id = NULL;
    assert_int_equal(store_client_insert(f->st, &c, &e), IDP_ERR_INVALID);

    assert_int_equal(store_client_get(f->st, "svc-a", &got, NULL), IDP_OK);
    assert_false(got.has_secret);
    assert_string_equal(got.name, "");
    assert_string_equal(got.grant_types, "");
    assert_string_equal(got.auth_method, "client_secret_basic");
    assert_null(got.audiences);
    assert_null(got.token_alg);
    assert_int_equal(got.token_ttl, 0);
    assert_int_equal(got.created_at, 5);
    store_client_clear(&got);

    assert_int_equal(store_client_get(f->st, "svc-b", &got, NULL), IDP_OK);
    make_client(&c, "svc-b");
    assert_true(got.has_secret);
    assert_memory_equal(got.secret_hash, c.secret_hash, 32);
    assert_string_equal(got.name, "Test client");
    assert_string_equal(got.scope, "read write");
    assert_string_equal(got.audiences, "https://api.example");
    assert_string_equal(got.token_alg, "EdDSA");
    assert_int_equal(got.token_ttl, 120);
    store_client_clear(&got);

    assert_int_equal(store_client_get(f->st, "nobody", &got, &e), IDP_ERR_NOT_FOUND);
    assert_null(got.client_id);

    store_client *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_client_list(f->st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].client_id, "svc-a");
    assert_string_equal(rows[1].client_id, "svc-b");
    store_client_list_free(rows, n);

    unsigned char h[32];
    memset(h, 0xab, sizeof h);
    assert_int_equal(store_client_set_secret(f->st, "svc-a", h, 77, NULL), IDP_OK);
    assert_int_equal(store_client_set_secret(f->st, "nobody", h, 77, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(store_client_get(f->st, "svc-a", &got, NULL), IDP_OK);
    assert_true(got.has_secret);
    assert_memory_equal(got.secret_hash, h, 32);
    assert_int_equal(got.secret_rotated_at, 77);
    store_client_clear(&got);

    assert_int_equal(store_client_delete(f->st, "svc-a", NULL), IDP_OK);
    assert_int_equal(store_client_delete(f->st, "svc-a", &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(store_client_get(f->st, "svc-a", &got, &e), IDP_ERR_NOT_FOUND);
    store_client_clear(NULL);
    store_client_list_free(NULL, 0);
}

static void jti_ops(void **state)
{
    fx *f = *state;
    bool r = true;
    idp_error e = {0};
    assert_int_equal(store_jti_is_revoked(f->st, "j1", &r, NULL), IDP_OK);
    assert_false(r);
    assert_int_equal(store_jti_revoke(f->st, "j1", 100, NULL), IDP_OK);
    assert_int_equal(store_jti_revoke(f->st, "j2", 200, NULL), IDP_OK);
    assert_int_equal(store_jti_revoke(f->st, "j3", 300, NULL), IDP_OK);
    /* Revoking again is not an error and never shortens the deny-listing. */
    assert_int_equal(store_jti_revoke(f->st, "j3", 50, NULL), IDP_OK);
    assert_int_equal(store_jti_revoke(f->st, "", 50, &e), IDP_ERR_INVALID);
    assert_int_equal(store_jti_is_revoked(f->st, "j1", &r, NULL), IDP_OK);
    assert_true(r);

    /* prune(now) removes exp < now only */
    assert_int_equal(store_jti_prune(f->st, 200, NULL), IDP_OK);
    assert_int_equal(store_jti_is_revoked(f->st, "j1", &r, NULL), IDP_OK);
    assert_false(r);
    assert_int_equal(store_jti_is_revoked(f->st, "j2", &r, NULL), IDP_OK);
    assert_true(r);
    assert_int_equal(store_jti_prune(f->st, 299, NULL), IDP_OK);
    assert_int_equal(store_jti_is_revoked(f->st, "j2", &r, NULL), IDP_OK);
    assert_false(r);
    assert_int_equal(store_jti_is_revoked(f->st, "j3", &r, NULL), IDP_OK);
    assert_true(r);
    assert_int_equal(store_jti_prune(f->st, 301, NULL), IDP_OK);
    assert_int_equal(store_jti_is_revoked(f->st, "j3", &r, NULL), IDP_OK);
    assert_false(r);
}

/* A second handle on the same database stands for another process (the CLI). */
static void generation_seen_by_other_handle(void **state)
{
    fx *f = *state;
    store *cli = tst_open(f);
    int64_t g0 = gen(f->st);
    assert_int_equal(gen(cli), g0);

    store_key k;
    make_key(&k, "k1", "ES256", KEY_NEXT, 1);
    assert_int_equal(store_key_insert(cli, &k, NULL), IDP_OK);
    int64_t g1 = gen(f->st);
    assert_true(g1 > g0);
    assert_int_equal(store_key_update_state(cli, "k1", KEY_CURRENT, 2, 0, NULL), IDP_OK);
    int64_t g2 = gen(f->st);
    assert_true(g2 > g1);

    store_client c;
    make_client(&c, "c1");
    assert_int_equal(store_client_insert(cli, &c, NULL), IDP_OK);
    int64_t g3 = gen(f->st);
    assert_true(g3 > g2);
    unsigned char h[32] = {1};
    assert_int_equal(store_client_set_secret(cli, "c1", h, 9, NULL), IDP_OK);
    int64_t g4 = gen(f->st);
    assert_true(g4 > g3);
    assert_int_equal(store_client_delete(cli, "c1", NULL), IDP_OK);
    int64_t g5 = gen(f->st);
    assert_true(g5 > g4);
    assert_int_equal(store_key_delete(cli, "k1", NULL), IDP_OK);
    int64_t g6 = gen(f->st);
    assert_true(g6 > g5);

    /* Failed writes and unrelated tables do not bump it. */
    assert_int_equal(store_key_delete(cli, "k1", NULL), IDP_ERR_NOT_FOUND);
    assert_int_equal(store_jti_revoke(cli, "j", 5, NULL), IDP_OK);
    assert_int_equal(store_meta_set(cli, "x", "y", NULL), IDP_OK);
    assert_int_equal(gen(f->st), g6);

    /* And the other handle sees the row data, not only the counter. */
    char *v = NULL;
    assert_int_equal(store_meta_get(f->st, "x", &v, NULL), IDP_OK);
    assert_string_equal(v, "y");
    free(v);
    store_close(cli);
}

static void tx_commit_and_rollback(void **state)
{
    fx *f = *state;
    store *other = tst_open(f);
    idp_error e = {0};
    store_key k;
    store_client c;
    int64_t g0 = gen(f->st);

    assert_int_equal(store_tx_begin(f->st, NULL), IDP_OK);
    assert_int_equal(store_tx_begin(f->st, &e), IDP_ERR_INTERNAL); /* nesting is a bug */
    make_key(&k, "tk", "ES256", KEY_NEXT, 1);
    assert_int_equal(store_key_insert(f->st, &k, NULL), IDP_OK);
    make_client(&c, "tc");
    assert_int_equal(store_client_insert(f->st, &c, NULL), IDP_OK);
    assert_int_equal(store_meta_set(f->st, "tm", "1", NULL), IDP_OK);
    /* Inside the transaction the writer sees its rows; another handle does not. */
    store_client got;
    assert_int_equal(store_client_get(f->st, "tc", &got, NULL), IDP_OK);
    store_client_clear(&got);
    assert_int_equal(store_client_get(other, "tc", &got, NULL), IDP_ERR_NOT_FOUND);
    store_tx_rollback(f->st);
    store_tx_rollback(f->st); /* harmless without a transaction */

    store_key *rows = NULL;
    size_t n = 9;
    assert_int_equal(store_key_list(f->st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 0);
    store_key_list_free(rows, n);
    assert_int_equal(store_client_get(f->st, "tc", &got, NULL), IDP_ERR_NOT_FOUND);
    char *v = NULL;
    assert_int_equal(store_meta_get(f->st, "tm", &v, NULL), IDP_ERR_NOT_FOUND);
    assert_int_equal(gen(f->st), g0);

    assert_int_equal(store_tx_commit(f->st, &e), IDP_ERR_INTERNAL); /* no transaction */

    /* A failed statement inside a transaction leaves the transaction usable and rollback-able. */
    assert_int_equal(store_tx_begin(f->st, NULL), IDP_OK);
    assert_int_equal(store_key_insert(f->st, &k, NULL), IDP_OK);
    assert_int_equal(store_key_insert(f->st, &k, NULL), IDP_ERR_CONFLICT);
    assert_int_equal(store_tx_commit(f->st, NULL), IDP_OK);
    assert_int_equal(store_key_list(other, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 1);
    store_key_list_free(rows, n);
    assert_true(gen(other) > g0);

    /* The transaction is per handle: the other handle may start one after commit. */
    assert_int_equal(store_tx_begin(other, NULL), IDP_OK);
    assert_int_equal(store_key_delete(other, "tk", NULL), IDP_OK);
    assert_int_equal(store_tx_commit(other, NULL), IDP_OK);
    assert_int_equal(store_key_list(f->st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 0);
    store_key_list_free(rows, n);
    store_close(other);
}

#define THREADS 4
#define PER_THREAD 40

typedef struct worker {
    store *st;
    int id;
    int failures;
} worker;

static void *worker_run(void *p)
{
    worker *w = p;
    for (int i = 0; i < PER_THREAD; i++) {
        char id[64];
        snprintf(id, sizeof id, "t%d-c%d", w->id, i);
        store_client c, got;
        make_client(&c, id);
        if (store_client_insert(w->st, &c, NULL) != IDP_OK) w->failures++;
        if (store_client_get(w->st, id, &got, NULL) != IDP_OK) w->failures++;
        else if (strcmp(got.client_id, id) != 0) w->failures++;
        store_client_clear(&got);
        if (store_jti_revoke(w->st, id, 1000 + i, NULL) != IDP_OK) w->failures++;
        bool r = false;
        if (store_jti_is_revoked(w->st, id, &r, NULL) != IDP_OK || !r) w->failures++;
        int64_t g = 0;
        if (store_generation(w->st, &g, NULL) != IDP_OK) w->failures++;
        if (i % 10 == 0) { /* exclusive transactions interleave with the plain writes */
            if (store_tx_begin(w->st, NULL) != IDP_OK) {
                w->failures++;
                continue;
            }
            if (store_meta_set(w->st, "last", id, NULL) != IDP_OK) w->failures++;
            if (store_tx_commit(w->st, NULL) != IDP_OK) w->failures++;
        }
    }
    return NULL;
}

static void threads_concurrent(void **state)
{
    fx *f = *state;
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.st = f->st, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    store_client *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_client_list(f->st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, THREADS * PER_THREAD);
    store_client_list_free(rows, n);
}

/* Two handles on two files in one thread stay independent. */
static void two_stores_one_thread(void **state)
{
    fx *f = *state;
    fx g = {0};
    g.dir = tu_tmpdir();
    size_t n = strlen(g.dir) + 32;
    g.spec = malloc(n);
    snprintf(g.spec, n, "%s/other.db", g.dir); /* a plain path works too */
    g.st = tst_open(&g);
    assert_int_equal(store_meta_set(f->st, "who", "first", NULL), IDP_OK);
    assert_int_equal(store_meta_set(g.st, "who", "second", NULL), IDP_OK);
    char *v = NULL;
    assert_int_equal(store_meta_get(f->st, "who", &v, NULL), IDP_OK);
    assert_string_equal(v, "first");
    free(v);
    assert_int_equal(store_meta_get(g.st, "who", &v, NULL), IDP_OK);
    assert_string_equal(v, "second");
    free(v);
    store_close(g.st);
    tu_rmtree(g.dir);
    free(g.dir);
    free(g.spec);
}

/* ---- SQLite specifics ----------------------------------------------------------------------- */

static void open_errors(void **state)
{
    fx *f = *state;
    store *st = NULL;
    idp_error e = {0};
    char p[4096];
    snprintf(p, sizeof p, "%s/missing.db", f->dir);
    assert_int_equal(store_open(p, false, &st, &e), IDP_ERR_NOT_FOUND);
    assert_null(st);
    struct stat sb;
    assert_int_not_equal(stat(p, &sb), 0); /* not created */
    assert_int_equal(store_open("sqlite::memory:", true, &st, &e), IDP_ERR_CONFIG);
    assert_int_equal(store_open("", true, &st, &e), IDP_ERR_CONFIG);
    /* a PostgreSQL database that cannot be reached fails closed, without the URI in the
     * message (port 1: refused at once) */
    assert_int_equal(store_open("postgresql://nobody@127.0.0.1:1/idpd", true, &st, &e),
                     IDP_ERR_STORE);
    assert_null(st);
    assert_null(strstr(e.msg, "nobody"));
    assert_int_equal(store_open("postgres:idpd", true, &st, &e), IDP_ERR_CONFIG);
    snprintf(p, sizeof p, "%s/no/such/dir/x.db", f->dir);
    assert_int_not_equal(store_open(p, true, &st, &e), IDP_OK);
    assert_null(st);
    /* The database holds sealed keys and secret hashes: owner-only. */
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
}

static int user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void migration_idempotent(void **state)
{
    fx *f = *state;
    int v = user_version(f->path);
    assert_true(v >= 1);
    assert_int_equal(store_meta_set(f->st, "keep", "me", NULL), IDP_OK);
    int64_t g = gen(f->st);
    store_close(f->st);
    f->st = NULL;
    store *st = NULL;
    assert_int_equal(store_open(f->path, false, &st, NULL), IDP_OK);
    assert_int_equal(store_open(f->spec, true, &f->st, NULL), IDP_OK);
    assert_int_equal(user_version(f->path), v);
    char *val = NULL;
    assert_int_equal(store_meta_get(st, "keep", &val, NULL), IDP_OK);
    assert_string_equal(val, "me");
    free(val);
    assert_int_equal(gen(st), g);
    store_close(st);

    sqlite3 *db = NULL;
    char *mode = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    mode = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_string_equal(mode, "wal");
    free(mode);
}

static void newer_schema_refused(void **state)
{
    fx *f = *state;
    store_close(f->st);
    f->st = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    store *st = NULL;
    idp_error e = {0};
    assert_int_equal(store_open(f->spec, true, &st, &e), IDP_ERR_STORE);
    assert_null(st);
    assert_non_null(strstr(e.msg, "newer"));
    assert_int_equal(user_version(f->path), 999); /* left untouched */
}

static void fresh_file_is_migrated(void **state)
{
    fx *f = *state;
    char p[4096];
    snprintf(p, sizeof p, "%s/fresh.db", f->dir);
    store *st = NULL;
    assert_int_equal(store_open(p, true, &st, NULL), IDP_OK);
    assert_int_equal(gen(st), 0);
    store_close(st);
    assert_true(user_version(p) >= 1);
    store_close(NULL);
}

/* jti_is_revoked runs on every introspection: it must be one primary-key lookup, and prune must
 * use the exp index rather than scan the table. */
static char *query_plan(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char plan[1024] = "";
    size_t off = 0;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW && off < sizeof plan)
        off += (size_t)snprintf(plan + off, sizeof plan - off, "%s;", sqlite3_column_text(q, 3));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return strdup(plan);
}

static void jti_queries_use_indexes(void **state)
{
    fx *f = *state;
    char *p = query_plan(f->path, "EXPLAIN QUERY PLAN SELECT 1 FROM revoked_jti WHERE jti = ?1");
    assert_non_null(strstr(p, "SEARCH revoked_jti USING PRIMARY KEY (jti=?)"));
    free(p);
    p = query_plan(f->path, "EXPLAIN QUERY PLAN DELETE FROM revoked_jti WHERE exp < ?1");
    assert_non_null(strstr(p, "USING COVERING INDEX revoked_jti_exp"));
    free(p);
}

/* ---- the front's rules (store.c), pure ------------------------------------------------------ */

static void epoch_next_rule(void **state)
{
    (void)state;
    store_user cur = {.active = true, .token_epoch = 4, .password_hash = "$argon2id$a"};
    store_user u = cur;
    assert_int_equal(store_user_epoch_next(&cur, &u), 4);
    u.token_epoch = 2; /* never lower than stored */
    assert_int_equal(store_user_epoch_next(&cur, &u), 4);
    u.token_epoch = 9; /* never lower than asked */
    assert_int_equal(store_user_epoch_next(&cur, &u), 9);
    u.token_epoch = 4;
    u.active = false; /* deactivation */
    assert_int_equal(store_user_epoch_next(&cur, &u), 5);
    u.password_hash = "$argon2id$b"; /* and a new password */
    assert_int_equal(store_user_epoch_next(&cur, &u), 6);
    u.active = true;
    assert_int_equal(store_user_epoch_next(&cur, &u), 5);
    u.password_hash = NULL; /* no hash given: no bump */
    assert_int_equal(store_user_epoch_next(&cur, &u), 4);
    cur.password_hash = NULL; /* a first password */
    u.password_hash = "$argon2id$c";
    assert_int_equal(store_user_epoch_next(&cur, &u), 5);
    cur.active = false; /* reactivation: no bump */
    u.password_hash = NULL;
    assert_int_equal(store_user_epoch_next(&cur, &u), 4);
}

static void audit_link_rule(void **state)
{
    (void)state;
    unsigned char zero[32] = {0}, h[32];
    store_audit a = {.time_ms = 5, .actor = "cli", .action = "x.y"};
    store_audit_link(0, zero, &a);
    assert_int_equal(a.seq, 1);
    assert_memory_equal(a.prev_hash, zero, 32);
    store_audit_hash(&a, h);
    assert_memory_equal(a.hash, h, 32);
    store_audit b = {.time_ms = 6, .actor = "cli", .action = "x.z"};
    store_audit_link(a.seq, a.hash, &b);
    assert_int_equal(b.seq, 2);
    assert_memory_equal(b.prev_hash, a.hash, 32);
    assert_memory_not_equal(b.hash, a.hash, 32);
    store_audit_hash(&b, h);
    assert_memory_equal(b.hash, h, 32);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(meta_ops),
        T(key_ops),
        T(client_ops),
        T(jti_ops),
        T(generation_seen_by_other_handle),
        T(tx_commit_and_rollback),
        T(threads_concurrent),
        T(two_stores_one_thread),
        T(open_errors),
        T(migration_idempotent),
        T(newer_schema_refused),
        T(fresh_file_is_migrated),
        T(jti_queries_use_indexes),
        cmocka_unit_test(epoch_next_rule),
        cmocka_unit_test(audit_link_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
