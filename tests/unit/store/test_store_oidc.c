/* Unit tests for the sign-in and policy part of src/store: client sign-in fields, authorization
 * codes, refresh token rotation and revocation, browser sessions, login throttling, client
 * assertion jtis, policy versions, pruning, and the 0002 -> 0003 migration.
 *
 * Contract style: everything goes through the ops table (store.h), so another backend reuses it
 * by changing fx_setup(). SQLite specifics (building a schema-2 file, EXPLAIN QUERY PLAN) open
 * the file directly. */
#include "testutil.h"

#include "store_sut.h"

#include "core/err.h"
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_SQLITE_LATEST 9 /* the newest migration (0009_rev_events.sql) */

typedef struct fx {
    char *dir;
    char *path;
    store *st;
} fx;

static void mk_user(store *st, const char *id, const char *name)
{
    store_user u = {.id = (char *)id, .user_name = (char *)name, .active = true, .doc = "{}"};
    idp_error e = {0};
    if (st->ops->user_create(st, &u, &e)) fail_msg("user_create: %s", e.msg);
}

static void mk_client(store *st, const char *id)
{
    store_client c = {.client_id = (char *)id, .created_at = 1};
    idp_error e = {0};
    if (store_client_insert(st, &c, &e)) fail_msg("client_insert: %s", e.msg);
}

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    size_t n = strlen(f->dir) + 32;
    f->path = malloc(n);
    snprintf(f->path, n, "%s/idpd.db", f->dir);
    idp_error e = {0};
    sut_reset();
    if (store_open(sut_spec(f->path), true, &f->st, &e)) fail_msg("store_open: %s", e.msg);
    mk_user(f->st, "u1", "alice");
    mk_user(f->st, "u2", "bob");
    mk_client(f->st, "c1");
    mk_client(f->st, "c2");
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static void H(unsigned char h[32], int seed)
{
    for (int i = 0; i < 32; i++)
        h[i] = (unsigned char)(seed * 31 + i);
}

static int64_t gen(store *st)
{
    int64_t g = -1;
    assert_int_equal(store_generation(st, &g, NULL), IDP_OK);
    return g;
}

static store_auth_code code_tmpl(int seed)
{
    store_auth_code c = {
        .client_id = "c1",
        .user_id = "u1",
        .redirect_uri = "https://app.example/cb?x='1'",
        .scope = "openid profile",
        .resource = "https://api.example",
        .nonce = "n-0S6_WzA2Mj",
        .code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        .session_id = "sid-1",
        .auth_time = 900,
        .amr = "pwd",
        .user_epoch = 3,
        .created_at = 1000,
        .expires_at = 1060,
    };
    H(c.hash, seed);
    return c;
}

static store_refresh rt_tmpl(int seed, const char *family, const char *session)
{
    store_refresh r = {
        .family_id = (char *)family,
        .client_id = "c1",
        .user_id = "u1",
        .scope = "openid offline_access",
        .resource = NULL,
        .session_id = (char *)session,
        .auth_time = 900,
        .amr = "pwd",
        .nonce = "n1",
        .user_epoch = 2,
        .created_at = 1000,
        .expires_at = 100000,
    };
    H(r.hash, seed);
    return r;
}

static store_session ss_tmpl(int seed, const char *sid, const char *user)
{
    store_session s = {
        .sid = (char *)sid,
        .user_id = (char *)user,
        .user_epoch = 4,
        .auth_time = 990,
        .amr = "pwd mfa",
        .created_at = 1000,
        .expires_at = 50000,
    };
    H(s.hash, seed);
    return s;
}

static bool rt_exists(store *st, int seed)
{
    unsigned char h[32];
    store_refresh r;
    H(h, seed);
    idp_err rc = st->ops->refresh_get(st, h, &r, NULL);
    store_refresh_clear(&r);
    assert_true(rc == IDP_OK || rc == IDP_ERR_NOT_FOUND);
    return rc == IDP_OK;
}

static int64_t rt_field(store *st, int seed, bool revoked)
{
    unsigned char h[32];
    store_refresh r;
    H(h, seed);
    assert_int_equal(st->ops->refresh_get(st, h, &r, NULL), IDP_OK);
    int64_t v = revoked ? r.revoked_at : r.rotated_at;
    store_refresh_clear(&r);
    return v;
}

/* ---- clients -------------------------------------------------------------------------------- */

static void client_signin_fields(void **state)
{
    fx *f = *state;
    idp_error e = {0};
    store_client c = {
        .client_id = "web",
        .name = "Web app",
        .grant_types = "authorization_code refresh_token",
        .scope = "openid profile",
        .auth_method = "private_key_jwt",
        .created_at = 50,
        .has_secret = true,
        .is_public = false,
        .redirect_uris = "https://app.example/cb https://app.example/cb2",
        .post_logout_redirect_uris = "https://app.example/bye",
        .jwks = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"}]}",
        .backchannel_logout_uri = "https://app.example/bcl",
    };
    memset(c.secret_hash, 0x5a, 32);
    assert_int_equal(store_client_insert(f->st, &c, NULL), IDP_OK);

    store_client got;
    assert_int_equal(store_client_get(f->st, "web", &got, NULL), IDP_OK);
    assert_false(got.is_public);
    assert_string_equal(got.auth_method, "private_key_jwt");
    assert_string_equal(got.redirect_uris, c.redirect_uris);
    assert_string_equal(got.post_logout_redirect_uris, c.post_logout_redirect_uris);
    assert_string_equal(got.jwks, c.jwks);
    assert_string_equal(got.backchannel_logout_uri, c.backchannel_logout_uri);
    store_client_clear(&got);

    /* Old-style rows (every new member zero/NULL) read back as zero/NULL. */
    assert_int_equal(store_client_get(f->st, "c1", &got, NULL), IDP_OK);
    assert_false(got.is_public);
    assert_null(got.redirect_uris);
    assert_null(got.post_logout_redirect_uris);
    assert_null(got.jwks);
    assert_null(got.backchannel_logout_uri);
    store_client_clear(&got);

    /* update replaces every mutable field, keeps the secret and created_at, bumps generation */
    int64_t g0 = gen(f->st);
    store_client u = {
        .client_id = "web",
        .name = "Web app 2",
        .grant_types = "authorization_code",
        .scope = "openid",
        .auth_method = "none",
        .is_public = true,
        .redirect_uris = "http://127.0.0.1/cb",
        .token_ttl = 60,
        .created_at = 999, /* ignored */
    };
    assert_int_equal(store_client_update(f->st, &u, NULL), IDP_OK);
    assert_true(gen(f->st) > g0);
    assert_int_equal(store_client_get(f->st, "web", &got, NULL), IDP_OK);
    assert_string_equal(got.name, "Web app 2");
    assert_string_equal(got.grant_types, "authorization_code");
    assert_string_equal(got.auth_method, "none");
    assert_true(got.is_public);
    assert_string_equal(got.redirect_uris, "http://127.0.0.1/cb");
    assert_null(got.post_logout_redirect_uris);
    assert_null(got.jwks);
    assert_null(got.backchannel_logout_uri);
    assert_int_equal(got.token_ttl, 60);
    assert_int_equal(got.created_at, 50);
    assert_true(got.has_secret);
    unsigned char h5a[32];
    memset(h5a, 0x5a, 32);
    assert_memory_equal(got.secret_hash, h5a, 32);
    store_client_clear(&got);

    /* list carries the new fields too */
    store_client *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_client_list(f->st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rows[2].client_id, "web");
    assert_true(rows[2].is_public);
    assert_string_equal(rows[2].redirect_uris, "http://127.0.0.1/cb");
    store_client_list_free(rows, n);

    /* rejections */
    u.client_id = "nobody";
    g0 = gen(f->st);
    assert_int_equal(store_client_update(f->st, &u, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(gen(f->st), g0);
    u.client_id = NULL;
    assert_int_equal(store_client_update(f->st, &u, &e), IDP_ERR_INVALID);
    u.client_id = "web";
    u.jwks = "{not json";
    assert_int_equal(store_client_update(f->st, &u, &e), IDP_ERR_INVALID);
    c.client_id = "web2";
    c.jwks = "[1,";
    assert_int_equal(store_client_insert(f->st, &c, &e), IDP_ERR_INVALID);
    c.jwks = NULL;
    char *big = malloc(STORE_CLIENT_FIELD_MAX + 2);
    memset(big, 'a', STORE_CLIENT_FIELD_MAX + 1);
    big[STORE_CLIENT_FIELD_MAX + 1] = '\0';
    c.redirect_uris = big;
    assert_int_equal(store_client_insert(f->st, &c, &e), IDP_ERR_INVALID);
    u.jwks = NULL;
    u.post_logout_redirect_uris = big;
    assert_int_equal(store_client_update(f->st, &u, &e), IDP_ERR_INVALID);
    big[STORE_CLIENT_FIELD_MAX] = '\0'; /* exactly the cap is fine */
    c.redirect_uris = big;
    assert_int_equal(store_client_insert(f->st, &c, NULL), IDP_OK);
    free(big);
    /* the failed update left the row as it was */
    assert_int_equal(store_client_get(f->st, "web", &got, NULL), IDP_OK);
    assert_string_equal(got.name, "Web app 2");
    assert_null(got.post_logout_redirect_uris);
    store_client_clear(&got);
}

/* ---- authorization codes -------------------------------------------------------------------- */

static void code_single_use(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    store_auth_code c = code_tmpl(1), got;
    bool replayed = true;
    assert_int_equal(st->ops->code_insert(st, &c, NULL), IDP_OK);
    assert_int_equal(st->ops->code_insert(st, &c, &e), IDP_ERR_CONFLICT);

    assert_int_equal(st->ops->code_consume(st, c.hash, 1010, &got, &replayed, NULL), IDP_OK);
    assert_false(replayed);
    assert_memory_equal(got.hash, c.hash, 32);
    assert_string_equal(got.client_id, "c1");
    assert_string_equal(got.user_id, "u1");
    assert_string_equal(got.redirect_uri, c.redirect_uri);
    assert_string_equal(got.scope, "openid profile");
    assert_string_equal(got.resource, c.resource);
    assert_string_equal(got.nonce, c.nonce);
    assert_string_equal(got.code_challenge, c.code_challenge);
    assert_string_equal(got.session_id, "sid-1");
    assert_int_equal(got.auth_time, 900);
    assert_string_equal(got.amr, "pwd");
    assert_int_equal(got.user_epoch, 3);
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.expires_at, 1060);
    assert_int_equal(got.used_at, 1010);
    assert_null(got.family_id);
    assert_null(got.access_jti);
    assert_int_equal(got.access_exp, 0);
    store_auth_code_clear(&got);

    /* What was issued from it, so a replay can revoke it (RFC 6749 §4.1.2). */
    assert_int_equal(st->ops->code_set_issued(st, c.hash, "fam-1", "jti-1", 1300, NULL), IDP_OK);

    /* Second use: the stored row, flagged, unchanged. */
    assert_int_equal(st->ops->code_consume(st, c.hash, 1020, &got, &replayed, NULL), IDP_OK);
    assert_true(replayed);
    assert_int_equal(got.used_at, 1010);
    assert_string_equal(got.family_id, "fam-1");
    assert_string_equal(got.access_jti, "jti-1");
    assert_int_equal(got.access_exp, 1300);
    store_auth_code_clear(&got);
    assert_int_equal(st->ops->code_consume(st, c.hash, 1030, &got, &replayed, NULL), IDP_OK);
    assert_true(replayed);
    assert_int_equal(got.used_at, 1010);
    store_auth_code_clear(&got);

    /* Unknown code. */
    unsigned char h[32];
    H(h, 99);
    replayed = true;
    assert_int_equal(st->ops->code_consume(st, h, 1010, &got, &replayed, &e), IDP_ERR_NOT_FOUND);
    assert_false(replayed);
    assert_null(got.client_id);
    assert_int_equal(st->ops->code_set_issued(st, h, "f", NULL, 0, &e), IDP_ERR_NOT_FOUND);

    /* Expired codes are returned as they are: the caller checks expires_at. */
    store_auth_code x = code_tmpl(2);
    x.resource = x.nonce = x.code_challenge = x.session_id = x.amr = NULL;
    x.scope = NULL;
    assert_int_equal(st->ops->code_insert(st, &x, NULL), IDP_OK);
    assert_int_equal(st->ops->code_consume(st, x.hash, 5000, &got, &replayed, NULL), IDP_OK);
    assert_false(replayed);
    assert_int_equal(got.expires_at, 1060);
    assert_string_equal(got.scope, "");
    assert_null(got.resource);
    assert_null(got.nonce);
    assert_null(got.code_challenge);
    assert_null(got.session_id);
    assert_null(got.amr);
    store_auth_code_clear(&got);

    /* Rejections. */
    x = code_tmpl(3);
    x.user_id = "no-such-user"; /* foreign key */
    assert_int_equal(st->ops->code_insert(st, &x, &e), IDP_ERR_INVALID);
    assert_null(strstr(e.msg, "no-such-user"));
    x = code_tmpl(3);
    x.client_id = "no-such-client";
    assert_int_equal(st->ops->code_insert(st, &x, &e), IDP_ERR_INVALID);
    x = code_tmpl(3);
    x.redirect_uri = NULL;
    assert_int_equal(st->ops->code_insert(st, &x, &e), IDP_ERR_INVALID);
    x = code_tmpl(3);
    assert_int_equal(st->ops->code_insert(st, &x, NULL), IDP_OK);
    assert_int_equal(st->ops->code_consume(st, x.hash, 0, &got, &replayed, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->code_consume(st, x.hash, 1001, &got, &replayed, NULL), IDP_OK);
    assert_false(replayed); /* the refused call did not use it */
    store_auth_code_clear(&got);
    store_auth_code_clear(NULL);
}

#define RACERS 8

typedef struct racer {
    store *st;
    const unsigned char *hash;
    pthread_barrier_t *bar;
    int won, replays, errors;
} racer;

static void *racer_run(void *p)
{
    racer *r = p;
    store_auth_code got;
    bool replayed = false;
    pthread_barrier_wait(r->bar);
    idp_err rc = r->st->ops->code_consume(r->st, r->hash, 2000, &got, &replayed, NULL);
    if (rc)
        r->errors++;
    else if (replayed)
        r->replays++;
    else
        r->won++;
    store_auth_code_clear(&got);
    return NULL;
}

/* Threads (one connection each) race for one code: exactly one wins. */
static void code_consume_race(void **state)
{
    fx *f = *state;
    for (int round = 0; round < 5; round++) {
        store_auth_code c = code_tmpl(10 + round);
        assert_int_equal(f->st->ops->code_insert(f->st, &c, NULL), IDP_OK);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, RACERS);
        pthread_t th[RACERS];
        racer r[RACERS];
        for (int i = 0; i < RACERS; i++) {
            r[i] = (racer){.st = f->st, .hash = c.hash, .bar = &bar};
            assert_int_equal(pthread_create(&th[i], NULL, racer_run, &r[i]), 0);
        }
        int won = 0, replays = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(r[i].errors, 0);
            won += r[i].won;
            replays += r[i].replays;
        }
        pthread_barrier_destroy(&bar);
        assert_int_equal(won, 1);
        assert_int_equal(replays, RACERS - 1);
    }
}

/* ---- refresh tokens ------------------------------------------------------------------------- */

static void refresh_insert_get(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    store_refresh r = rt_tmpl(1, "fam-a", "sid-1"), got;
    r.resource = "https://api.example";
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_insert(st, &r, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->refresh_get(st, r.hash, &got, NULL), IDP_OK);
    assert_memory_equal(got.hash, r.hash, 32);
    assert_string_equal(got.family_id, "fam-a");
    assert_string_equal(got.client_id, "c1");
    assert_string_equal(got.user_id, "u1");
    assert_string_equal(got.scope, "openid offline_access");
    assert_string_equal(got.resource, "https://api.example");
    assert_string_equal(got.session_id, "sid-1");
    assert_int_equal(got.auth_time, 900);
    assert_string_equal(got.amr, "pwd");
    assert_string_equal(got.nonce, "n1");
    assert_int_equal(got.user_epoch, 2);
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.expires_at, 100000);
    assert_int_equal(got.rotated_at, 0);
    assert_int_equal(got.revoked_at, 0);
    store_refresh_clear(&got);

    unsigned char h[32];
    H(h, 77);
    assert_int_equal(st->ops->refresh_get(st, h, &got, &e), IDP_ERR_NOT_FOUND);
    assert_null(got.family_id);

    r = rt_tmpl(2, "", NULL);
    assert_int_equal(st->ops->refresh_insert(st, &r, &e), IDP_ERR_INVALID);
    r = rt_tmpl(2, "fam-b", NULL);
    r.user_id = "ghost";
    assert_int_equal(st->ops->refresh_insert(st, &r, &e), IDP_ERR_INVALID);
    r = rt_tmpl(2, "fam-b", NULL);
    r.scope = NULL;
    r.amr = r.nonce = NULL;
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_get(st, r.hash, &got, NULL), IDP_OK);
    assert_string_equal(got.scope, "");
    assert_null(got.session_id);
    assert_null(got.amr);
    assert_null(got.nonce);
    store_refresh_clear(&got);
    store_refresh_clear(NULL);
}

static void refresh_rotate_race(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    bool raced = true;
    store_refresh r1 = rt_tmpl(1, "fam-a", "sid-1");
    assert_int_equal(st->ops->refresh_insert(st, &r1, NULL), IDP_OK);

    store_refresh r2 = rt_tmpl(2, "fam-a", "sid-1");
    assert_int_equal(st->ops->refresh_rotate(st, r1.hash, &r2, 2000, &raced, NULL), IDP_OK);
    assert_false(raced);
    assert_int_equal(rt_field(st, 1, false), 2000);
    assert_int_equal(rt_field(st, 2, false), 0);
    assert_true(rt_exists(st, 2));

    /* Second rotation of the same old token: raced, nothing written. */
    store_refresh r3 = rt_tmpl(3, "fam-a", "sid-1");
    raced = false;
    assert_int_equal(st->ops->refresh_rotate(st, r1.hash, &r3, 2001, &raced, NULL), IDP_OK);
    assert_true(raced);
    assert_false(rt_exists(st, 3));
    assert_int_equal(rt_field(st, 1, false), 2000);

    /* The current one rotates on. */
    assert_int_equal(st->ops->refresh_rotate(st, r2.hash, &r3, 2002, &raced, NULL), IDP_OK);
    assert_false(raced);
    assert_true(rt_exists(st, 3));

    /* A successor of another family is a caller bug: refused, nothing written. */
    store_refresh r4 = rt_tmpl(4, "fam-other", NULL);
    assert_int_equal(st->ops->refresh_rotate(st, r3.hash, &r4, 2003, &raced, &e), IDP_ERR_INVALID);
    assert_null(strstr(e.msg, "fam-other"));
    assert_false(rt_exists(st, 4));
    assert_int_equal(rt_field(st, 3, false), 0);
    /* Unknown old token. */
    unsigned char h[32];
    H(h, 50);
    r4 = rt_tmpl(4, "fam-a", NULL);
    assert_int_equal(st->ops->refresh_rotate(st, h, &r4, 2003, &raced, &e), IDP_ERR_NOT_FOUND);
    assert_false(rt_exists(st, 4));
    /* A successor whose hash exists: CONFLICT, and the old one stays current (rolled back). */
    store_refresh dup = rt_tmpl(1, "fam-a", NULL);
    assert_int_equal(st->ops->refresh_rotate(st, r3.hash, &dup, 2004, &raced, &e),
                     IDP_ERR_CONFLICT);
    assert_int_equal(rt_field(st, 3, false), 0);
    /* Bad time / missing family. */
    assert_int_equal(st->ops->refresh_rotate(st, r3.hash, &r4, 0, &raced, &e), IDP_ERR_INVALID);
    r4.family_id = NULL;
    assert_int_equal(st->ops->refresh_rotate(st, r3.hash, &r4, 2005, &raced, &e), IDP_ERR_INVALID);
    assert_int_equal(rt_field(st, 3, false), 0);

    /* A revoked current token does not rotate either. */
    assert_int_equal(st->ops->refresh_revoke_family(st, "fam-a", 2006, NULL), IDP_OK);
    r4 = rt_tmpl(4, "fam-a", NULL);
    assert_int_equal(st->ops->refresh_rotate(st, r3.hash, &r4, 2007, &raced, NULL), IDP_OK);
    assert_true(raced);
    assert_false(rt_exists(st, 4));
    assert_int_equal(rt_field(st, 3, false), 0);
}

/* Rotation joins the caller's transaction: rolled back with it; a race inside it leaves the
 * transaction usable. */
static void refresh_rotate_in_tx(void **state)
{
    fx *f = *state;
    store *st = f->st;
    bool raced = false;
    store_refresh r1 = rt_tmpl(1, "fam-a", NULL), r2 = rt_tmpl(2, "fam-a", NULL),
                  r3 = rt_tmpl(3, "fam-a", NULL);
    assert_int_equal(st->ops->refresh_insert(st, &r1, NULL), IDP_OK);
    assert_int_equal(store_tx_begin(st, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_rotate(st, r1.hash, &r2, 2000, &raced, NULL), IDP_OK);
    assert_false(raced);
    assert_true(rt_exists(st, 2));
    store_tx_rollback(st);
    assert_false(rt_exists(st, 2));
    assert_int_equal(rt_field(st, 1, false), 0);

    assert_int_equal(store_tx_begin(st, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_rotate(st, r1.hash, &r2, 2000, &raced, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_rotate(st, r1.hash, &r3, 2001, &raced, NULL), IDP_OK);
    assert_true(raced);
    assert_int_equal(st->ops->refresh_rotate(st, r2.hash, &r1, 2002, &raced, NULL),
                     IDP_ERR_CONFLICT);
    store_auth_code c = code_tmpl(1);
    assert_int_equal(st->ops->code_insert(st, &c, NULL), IDP_OK);
    assert_int_equal(store_tx_commit(st, NULL), IDP_OK);
    assert_true(rt_exists(st, 2));
    assert_false(rt_exists(st, 3));
    assert_int_equal(rt_field(st, 1, false), 2000);
    assert_int_equal(rt_field(st, 2, false), 0);
}

static void refresh_revoke(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    size_t n = 99;
    bool raced = false;
    /* family A in sid-1: 1 -> 2 (2 current); family B in sid-1: 3; family C no session: 4;
     * family D of u2 in sid-2: 5. */
    store_refresh r = rt_tmpl(1, "A", "sid-1");
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    store_refresh s = rt_tmpl(2, "A", "sid-1");
    assert_int_equal(st->ops->refresh_rotate(st, r.hash, &s, 1500, &raced, NULL), IDP_OK);
    r = rt_tmpl(3, "B", "sid-1");
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    r = rt_tmpl(4, "C", NULL);
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    r = rt_tmpl(5, "D", "sid-2");
    r.user_id = "u2";
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);

    /* Logout of sid-1: the current tokens of both families count. */
    assert_int_equal(st->ops->refresh_revoke_session(st, "sid-1", 2000, &n, NULL), IDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rt_field(st, 1, true), 2000);
    assert_int_equal(rt_field(st, 2, true), 2000);
    assert_int_equal(rt_field(st, 3, true), 2000);
    assert_int_equal(rt_field(st, 4, true), 0);
    assert_int_equal(rt_field(st, 5, true), 0);
    /* Again: nothing new, and the first revocation time is kept. */
    assert_int_equal(st->ops->refresh_revoke_session(st, "sid-1", 3000, &n, NULL), IDP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(rt_field(st, 2, true), 2000);
    assert_int_equal(st->ops->refresh_revoke_session(st, "sid-none", 3000, NULL, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_revoke_session(st, "sid-2", 0, &n, &e), IDP_ERR_INVALID);
    assert_int_equal(rt_field(st, 5, true), 0);

    /* RFC 7009 revoke of one token revokes its family. */
    r = rt_tmpl(6, "C", NULL);
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_revoke_one(st, r.hash, 3100, NULL), IDP_OK);
    assert_int_equal(rt_field(st, 4, true), 3100);
    assert_int_equal(rt_field(st, 6, true), 3100);
    assert_int_equal(rt_field(st, 5, true), 0);
    unsigned char h[32];
    H(h, 42);
    assert_int_equal(st->ops->refresh_revoke_one(st, h, 3100, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->refresh_revoke_one(st, r.hash, 0, &e), IDP_ERR_INVALID);

    /* Family and user revocation. */
    r = rt_tmpl(7, "E", NULL);
    r.user_id = "u2";
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    r = rt_tmpl(8, "F", NULL);
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_revoke_family(st, "E", 3200, NULL), IDP_OK);
    assert_int_equal(rt_field(st, 7, true), 3200);
    assert_int_equal(rt_field(st, 5, true), 0);
    assert_int_equal(st->ops->refresh_revoke_family(st, "no-family", 3200, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_revoke_family(st, "E", 0, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->refresh_revoke_user(st, "u2", 3300, NULL), IDP_OK);
    assert_int_equal(rt_field(st, 5, true), 3300);
    assert_int_equal(rt_field(st, 7, true), 3200); /* kept */
    assert_int_equal(rt_field(st, 8, true), 0);    /* u1's */
    assert_int_equal(st->ops->refresh_revoke_user(st, "u1", 3400, NULL), IDP_OK);
    assert_int_equal(rt_field(st, 8, true), 3400);
    assert_int_equal(rt_field(st, 1, true), 2000);
}

/* ---- sessions ------------------------------------------------------------------------------- */

static void session_ops(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    store_session s = ss_tmpl(1, "sid-1", "u1"), got;
    assert_int_equal(st->ops->session_insert(st, &s, NULL), IDP_OK);
    assert_int_equal(st->ops->session_insert(st, &s, &e), IDP_ERR_CONFLICT);
    store_session s2 = ss_tmpl(2, "sid-1", "u1"); /* sid taken */
    assert_int_equal(st->ops->session_insert(st, &s2, &e), IDP_ERR_CONFLICT);
    s2 = ss_tmpl(2, "", "u1");
    assert_int_equal(st->ops->session_insert(st, &s2, &e), IDP_ERR_INVALID);
    s2 = ss_tmpl(2, "sid-2", "ghost");
    assert_int_equal(st->ops->session_insert(st, &s2, &e), IDP_ERR_INVALID);

    assert_int_equal(st->ops->session_get(st, s.hash, &got, NULL), IDP_OK);
    assert_memory_equal(got.hash, s.hash, 32);
    assert_string_equal(got.sid, "sid-1");
    assert_string_equal(got.user_id, "u1");
    assert_int_equal(got.user_epoch, 4);
    assert_int_equal(got.auth_time, 990);
    assert_string_equal(got.amr, "pwd mfa");
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.last_seen, 1000); /* 0 on insert = created_at */
    assert_int_equal(got.expires_at, 50000);
    assert_string_equal(got.clients, "");
    store_session_clear(&got);
    assert_int_equal(st->ops->session_get_by_sid(st, "sid-1", &got, NULL), IDP_OK);
    assert_memory_equal(got.hash, s.hash, 32);
    store_session_clear(&got);
    unsigned char h[32];
    H(h, 9);
    assert_int_equal(st->ops->session_get(st, h, &got, &e), IDP_ERR_NOT_FOUND);
    assert_null(got.sid);
    assert_int_equal(st->ops->session_get_by_sid(st, "nope", &got, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->session_get_by_sid(st, NULL, &got, &e), IDP_ERR_NOT_FOUND);

    /* touch never goes backwards */
    assert_int_equal(st->ops->session_touch(st, s.hash, 1500, NULL), IDP_OK);
    assert_int_equal(st->ops->session_touch(st, s.hash, 1200, NULL), IDP_OK);
    assert_int_equal(st->ops->session_touch(st, h, 1500, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->session_get(st, s.hash, &got, NULL), IDP_OK);
    assert_int_equal(got.last_seen, 1500);
    store_session_clear(&got);

    /* client list: idempotent, whole-word */
    const char *adds[] = {"c-ab", "c-a", "c-ab", "c-a", "c-b", "c-a"};
    for (size_t i = 0; i < sizeof adds / sizeof *adds; i++)
        assert_int_equal(st->ops->session_add_client(st, s.hash, adds[i], NULL), IDP_OK);
    assert_int_equal(st->ops->session_get(st, s.hash, &got, NULL), IDP_OK);
    assert_string_equal(got.clients, "c-ab c-a c-b");
    store_session_clear(&got);
    assert_int_equal(st->ops->session_add_client(st, s.hash, "has space", &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->session_add_client(st, s.hash, "", &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->session_add_client(st, s.hash, NULL, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->session_add_client(st, h, "c-a", &e), IDP_ERR_NOT_FOUND);

    /* per user: list, delete one, delete all */
    s2 = ss_tmpl(2, "sid-2", "u1");
    s2.created_at = 900;
    s2.last_seen = 950;
    s2.clients = "c1";
    assert_int_equal(st->ops->session_insert(st, &s2, NULL), IDP_OK);
    store_session s3 = ss_tmpl(3, "sid-3", "u2");
    assert_int_equal(st->ops->session_insert(st, &s3, NULL), IDP_OK);
    store_session *rows = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->session_list_user(st, "u1", &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].sid, "sid-2"); /* oldest first */
    assert_int_equal(rows[0].last_seen, 950);
    assert_string_equal(rows[0].clients, "c1");
    assert_string_equal(rows[1].sid, "sid-1");
    store_session_list_free(rows, n);
    assert_int_equal(st->ops->session_list_user(st, "nobody", &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 0);
    store_session_list_free(rows, n);

    assert_int_equal(st->ops->session_delete(st, s.hash, NULL), IDP_OK);
    assert_int_equal(st->ops->session_delete(st, s.hash, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->session_get_by_sid(st, "sid-1", &got, &e), IDP_ERR_NOT_FOUND);
    n = 99;
    assert_int_equal(st->ops->session_delete_user(st, "u1", &n, NULL), IDP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st->ops->session_delete_user(st, "u1", &n, NULL), IDP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(st->ops->session_get(st, s3.hash, &got, NULL), IDP_OK);
    store_session_clear(&got);
    store_session_list_free(NULL, 0);
}

/* Deleting a user (SCIM) or a client takes its codes, refresh tokens and sessions with it. */
static void delete_cascades(void **state)
{
    fx *f = *state;
    store *st = f->st;
    store_auth_code c = code_tmpl(1), got;
    store_refresh r = rt_tmpl(1, "A", NULL);
    store_session s = ss_tmpl(1, "sid-1", "u1");
    store_session sg;
    bool replayed = false;
    assert_int_equal(st->ops->code_insert(st, &c, NULL), IDP_OK);
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    assert_int_equal(st->ops->session_insert(st, &s, NULL), IDP_OK);
    store_refresh r2 = rt_tmpl(2, "B", NULL);
    r2.user_id = "u2";
    r2.client_id = "c2";
    assert_int_equal(st->ops->refresh_insert(st, &r2, NULL), IDP_OK);

    assert_int_equal(st->ops->user_delete(st, "u1", 0, NULL), IDP_OK);
    assert_int_equal(st->ops->code_consume(st, c.hash, 1001, &got, &replayed, NULL),
                     IDP_ERR_NOT_FOUND);
    assert_false(rt_exists(st, 1));
    assert_int_equal(st->ops->session_get(st, s.hash, &sg, NULL), IDP_ERR_NOT_FOUND);
    assert_true(rt_exists(st, 2));
    assert_int_equal(store_client_delete(st, "c2", NULL), IDP_OK);
    assert_false(rt_exists(st, 2));
}

/* ---- login throttling, assertion jtis ------------------------------------------------------- */

static void login_throttle(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    int64_t fails = -1, last = -1;
    assert_int_equal(st->ops->login_fail_get(st, "user:alice", &fails, &last, NULL), IDP_OK);
    assert_int_equal(fails, 0);
    assert_int_equal(last, 0);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(st->ops->login_fail(st, "user:alice", 1000 + i, NULL, &fails, NULL), IDP_OK);
        assert_int_equal(fails, i);
    }
    assert_int_equal(st->ops->login_fail(st, "user:alice", 900, NULL, &fails, NULL), IDP_OK);
    assert_int_equal(fails, 6);
    assert_int_equal(st->ops->login_fail_get(st, "user:alice", &fails, &last, NULL), IDP_OK);
    assert_int_equal(fails, 6);
    assert_int_equal(last, 1005); /* never backwards */
    assert_int_equal(st->ops->login_fail(st, "ip:192.0.2.1", 1000, NULL, &fails, NULL), IDP_OK);
    assert_int_equal(fails, 1);
    assert_int_equal(st->ops->login_fail_get(st, "user:alice", &fails, NULL, NULL), IDP_OK);
    assert_int_equal(fails, 6);

    assert_int_equal(st->ops->login_fail_reset(st, "user:alice", NULL), IDP_OK);
    assert_int_equal(st->ops->login_fail_reset(st, "user:alice", NULL), IDP_OK);
    assert_int_equal(st->ops->login_fail_get(st, "user:alice", &fails, &last, NULL), IDP_OK);
    assert_int_equal(fails, 0);
    assert_int_equal(last, 0);
    assert_int_equal(st->ops->login_fail(st, "user:alice", 2000, NULL, &fails, NULL), IDP_OK);
    assert_int_equal(fails, 1);
    assert_int_equal(st->ops->login_fail_get(st, "ip:192.0.2.1", &fails, NULL, NULL), IDP_OK);
    assert_int_equal(fails, 1);

    assert_int_equal(st->ops->login_fail(st, "", 1, NULL, &fails, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->login_fail(st, NULL, 1, NULL, &fails, &e), IDP_ERR_INVALID);
    char key[STORE_LOGIN_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    assert_int_equal(st->ops->login_fail(st, key, 1, NULL, &fails, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->login_fail_get(st, key, &fails, NULL, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->login_fail_reset(st, key, &e), IDP_ERR_INVALID);
    key[STORE_LOGIN_KEY_MAX] = '\0';
    assert_int_equal(st->ops->login_fail(st, key, 1, NULL, &fails, NULL), IDP_OK);
}

/* The bound of the throttling table: a new key evicts the oldest counter that slows nobody
 * (few failures, or idle), and fails closed (TOO_LARGE, nothing written) when there is none. */
static void login_throttle_cap(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    int64_t fails = 0;
    store_login_cap cap = {.max_keys = 3, .fails_below = 2, .idle_before = 500};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(st->ops->login_fail(st, "a", 1000, &cap, &fails, NULL), IDP_OK);
        assert_int_equal(st->ops->login_fail(st, "b", 1001, &cap, &fails, NULL), IDP_OK);
    }
    assert_int_equal(st->ops->login_fail(st, "c", 1002, &cap, &fails, NULL), IDP_OK);
    /* full: d evicts c (1 failure < 2), the only counter that slows nobody */
    assert_int_equal(st->ops->login_fail(st, "d", 1003, &cap, &fails, NULL), IDP_OK);
    assert_int_equal(st->ops->login_fail_get(st, "c", &fails, NULL, NULL), IDP_OK);
    assert_int_equal(fails, 0);
    assert_int_equal(st->ops->login_fail(st, "d", 1004, &cap, &fails, NULL), IDP_OK);
    assert_int_equal(fails, 2);
    /* every counter is in back-off and recent: a new key is refused, nothing changes */
    assert_int_equal(st->ops->login_fail(st, "e", 1005, &cap, &fails, &e), IDP_ERR_TOO_LARGE);
    assert_int_equal(st->ops->login_fail_get(st, "e", &fails, NULL, NULL), IDP_OK);
    assert_int_equal(fails, 0);
    assert_int_equal(st->ops->login_fail_get(st, "a", &fails, NULL, NULL), IDP_OK);
    assert_int_equal(fails, 2);
    /* an existing key is still counted */
    assert_int_equal(st->ops->login_fail(st, "a", 1006, &cap, &fails, NULL), IDP_OK);
    assert_int_equal(fails, 3);
    /* once idle (last_at < idle_before) the oldest goes: b (1001) */
    cap.idle_before = 1002;
    assert_int_equal(st->ops->login_fail(st, "e", 1007, &cap, &fails, NULL), IDP_OK);
    assert_int_equal(st->ops->login_fail_get(st, "b", &fails, NULL, NULL), IDP_OK);
    assert_int_equal(fails, 0);
}

static void assertion_jti(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "jti-1", 2000, NULL), IDP_OK);
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "jti-1", 2000, &e), IDP_ERR_CONFLICT);
    assert_null(strstr(e.msg, "jti-1"));
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "jti-1", 9999, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->assertion_jti_use(st, "c2", "jti-1", 2000, NULL), IDP_OK);
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "jti-2", 2000, NULL), IDP_OK);
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "", 2000, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->assertion_jti_use(st, "", "j", 2000, &e), IDP_ERR_INVALID);
    char jti[STORE_JTI_MAX + 2];
    memset(jti, 'j', sizeof jti - 1);
    jti[sizeof jti - 1] = '\0';
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", jti, 2000, &e), IDP_ERR_INVALID);
}

/* ---- consent ---------------------------------------------------------------------------------- */

static void consent(void **state)
{
    store *st = ((fx *)*state)->st;
    char *sc = NULL;
    idp_error e = {0};
    assert_int_equal(st->ops->consent_get(st, "u1", "c1", &sc, &e), IDP_ERR_NOT_FOUND);
    assert_null(sc);
    assert_int_equal(st->ops->consent_set(st, "u1", "c1", "openid email", 10, &e), IDP_OK);
    assert_int_equal(st->ops->consent_set(st, "u1", "c2", "openid", 10, &e), IDP_OK);
    assert_int_equal(st->ops->consent_get(st, "u1", "c1", &sc, &e), IDP_OK);
    assert_string_equal(sc, "openid email");
    free(sc);
    assert_int_equal(st->ops->consent_set(st, "u1", "c1", "openid email profile", 11, &e), IDP_OK);
    assert_int_equal(st->ops->consent_get(st, "u1", "c1", &sc, &e), IDP_OK);
    assert_string_equal(sc, "openid email profile");
    free(sc);
    assert_int_equal(st->ops->consent_get(st, "u2", "c1", &sc, &e), IDP_ERR_NOT_FOUND);
    assert_int_not_equal(st->ops->consent_set(st, "nobody", "c1", "openid", 1, &e), IDP_OK);
    assert_int_equal(st->ops->consent_set(st, "", "c1", "openid", 1, &e), IDP_ERR_INVALID);
    /* deleting the client drops its consents */
    assert_int_equal(store_client_delete(st, "c2", &e), IDP_OK);
    assert_int_equal(st->ops->consent_get(st, "u1", "c2", &sc, &e), IDP_ERR_NOT_FOUND);
}

static void user_rehash(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    bool done = true;
    /* u1 has no password: nothing to replace */
    assert_int_equal(st->ops->user_rehash(st, "u1", "$old", "$new", &done, &e), IDP_OK);
    assert_false(done);
    store_user u = {0};
    assert_int_equal(st->ops->user_get(st, "u1", &u, &e), IDP_OK);
    store_user cur = u;
    cur.password_hash = "$old";
    int64_t v = u.version;
    assert_int_equal(st->ops->user_replace(st, &cur, 0, &e), IDP_OK);
    store_user_clear(&u);
    assert_int_equal(st->ops->user_get(st, "u1", &u, &e), IDP_OK);
    v = u.version;
    store_user_clear(&u);
    assert_int_equal(st->ops->user_rehash(st, "u1", "$other", "$new", &done, &e), IDP_OK);
    assert_false(done); /* changed meanwhile: compare-and-swap */
    assert_int_equal(st->ops->user_rehash(st, "u1", "$old", "$new", &done, &e), IDP_OK);
    assert_true(done);
    assert_int_equal(st->ops->user_get(st, "u1", &u, &e), IDP_OK);
    assert_string_equal(u.password_hash, "$new");
    assert_int_equal(u.version, v); /* not a SCIM change */
    store_user_clear(&u);
    assert_int_equal(st->ops->user_rehash(st, "u1", "", "$x", &done, &e), IDP_ERR_INVALID);
}

/* ---- policy versions ------------------------------------------------------------------------ */

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void policy_versions(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    int64_t active = -1;
    assert_int_equal(st->ops->policy_active(st, &active, NULL), IDP_OK);
    assert_int_equal(active, 0);

    int64_t g0 = gen(st);
    store_policy p1 = {.sha256 = SHA_A,
                       .document = "roles: {}\n# it's \"quoted\"\n",
                       .created_at = 100,
                       .actor = "cli",
                       .comment = "first"};
    assert_int_equal(st->ops->policy_insert(st, &p1, NULL), IDP_OK);
    assert_true(p1.version > 0);
    int64_t g1 = gen(st);
    assert_true(g1 > g0);
    store_policy p2 = {.sha256 = SHA_B, .document = "roles: {admin: {}}\n"};
    assert_int_equal(st->ops->policy_insert(st, &p2, NULL), IDP_OK);
    assert_true(p2.version > p1.version);
    assert_true(p2.created_at > 0); /* 0 = now */
    assert_true(gen(st) > g1);

    store_policy got;
    assert_int_equal(st->ops->policy_get(st, p1.version, &got, NULL), IDP_OK);
    assert_int_equal(got.version, p1.version);
    assert_string_equal(got.sha256, SHA_A);
    assert_string_equal(got.document, p1.document);
    assert_int_equal(got.created_at, 100);
    assert_string_equal(got.actor, "cli");
    assert_string_equal(got.comment, "first");
    assert_int_equal(got.activated_at, 0);
    store_policy_clear(&got);
    assert_int_equal(st->ops->policy_get(st, p2.version, &got, NULL), IDP_OK);
    assert_string_equal(got.actor, "");
    assert_null(got.comment);
    store_policy_clear(&got);
    assert_int_equal(st->ops->policy_get(st, 12345, &got, &e), IDP_ERR_NOT_FOUND);
    assert_null(got.sha256);

    /* activate, switch, roll back */
    int64_t g2 = gen(st);
    assert_int_equal(st->ops->policy_activate(st, p1.version, 500, NULL), IDP_OK);
    int64_t g3 = gen(st);
    assert_true(g3 > g2);
    assert_int_equal(st->ops->policy_active(st, &active, NULL), IDP_OK);
    assert_int_equal(active, p1.version);
    assert_int_equal(st->ops->policy_activate(st, p2.version, 600, NULL), IDP_OK);
    assert_int_equal(st->ops->policy_active(st, &active, NULL), IDP_OK);
    assert_int_equal(active, p2.version);
    int64_t g4 = gen(st);
    assert_true(g4 > g3);
    assert_int_equal(st->ops->policy_activate(st, p1.version, 700, NULL), IDP_OK);
    assert_true(gen(st) > g4);
    assert_int_equal(st->ops->policy_active(st, &active, NULL), IDP_OK);
    assert_int_equal(active, p1.version);
    int64_t g5 = gen(st);
    assert_int_equal(st->ops->policy_activate(st, 999999, 800, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->policy_activate(st, p2.version, 0, &e), IDP_ERR_INVALID);
    assert_int_equal(gen(st), g5);
    assert_int_equal(st->ops->policy_active(st, &active, NULL), IDP_OK);
    assert_int_equal(active, p1.version);

    /* history */
    store_policy_activation *acts = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->policy_activations(st, &acts, &n, NULL), IDP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(acts[0].version, p1.version);
    assert_int_equal(acts[0].activated_at, 700);
    assert_int_equal(acts[1].version, p2.version);
    assert_int_equal(acts[1].activated_at, 600);
    assert_int_equal(acts[2].version, p1.version);
    assert_int_equal(acts[2].activated_at, 500);
    assert_true(acts[0].seq > acts[1].seq && acts[1].seq > acts[2].seq);
    store_policy_activation_list_free(acts, n);

    store_policy *rows = NULL;
    assert_int_equal(st->ops->policy_list(st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].version, p2.version); /* newest first */
    assert_null(rows[0].document);                 /* light rows */
    assert_int_equal(rows[0].activated_at, 600);
    assert_int_equal(rows[1].version, p1.version);
    assert_string_equal(rows[1].sha256, SHA_A);
    assert_int_equal(rows[1].activated_at, 700); /* latest activation */
    store_policy_list_free(rows, n);

    /* rejections */
    int64_t g6 = gen(st);
    store_policy bad = {.sha256 = "ABC", .document = "x"};
    assert_int_equal(st->ops->policy_insert(st, &bad, &e), IDP_ERR_INVALID);
    bad.sha256 = SHA_A "0";
    assert_int_equal(st->ops->policy_insert(st, &bad, &e), IDP_ERR_INVALID);
    bad.sha256 =
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; /* lowercase only */
    assert_int_equal(st->ops->policy_insert(st, &bad, &e), IDP_ERR_INVALID);
    bad.sha256 = NULL;
    assert_int_equal(st->ops->policy_insert(st, &bad, &e), IDP_ERR_INVALID);
    bad.sha256 = SHA_A;
    bad.document = NULL;
    assert_int_equal(st->ops->policy_insert(st, &bad, &e), IDP_ERR_INVALID);
    char *big = malloc(STORE_POLICY_MAX + 2);
    memset(big, 'x', STORE_POLICY_MAX + 1);
    big[STORE_POLICY_MAX + 1] = '\0';
    bad.document = big;
    assert_int_equal(st->ops->policy_insert(st, &bad, &e), IDP_ERR_TOO_LARGE);
    free(big);
    assert_int_equal(gen(st), g6);
    assert_int_equal(bad.version, 0);

    store_policy_list_free(NULL, 0);
    store_policy_clear(NULL);
    store_policy_activation_list_free(NULL, 0);
}

/* Numbers are never reused, even after the newest row is deleted; another handle (another
 * process: the CLI) sees the generation move. */
static void policy_monotonic_across_handles(void **state)
{
    SUT_SQLITE_ONLY(); /* reads the SQLite file directly */
    fx *f = *state;
    store *cli = NULL;
    assert_int_equal(store_open(sut_spec(f->path), false, &cli, NULL), IDP_OK);
    store_policy p = {.sha256 = SHA_A, .document = "a"};
    assert_int_equal(cli->ops->policy_insert(cli, &p, NULL), IDP_OK);
    int64_t v1 = p.version;
    int64_t g = gen(f->st);
    assert_int_equal(cli->ops->policy_activate(cli, v1, 10, NULL), IDP_OK);
    assert_true(gen(f->st) > g);
    int64_t active = 0;
    assert_int_equal(f->st->ops->policy_active(f->st, &active, NULL), IDP_OK);
    assert_int_equal(active, v1);
    store_close(cli);

    p.version = 0;
    assert_int_equal(f->st->ops->policy_insert(f->st, &p, NULL), IDP_OK);
    int64_t v2 = p.version;
    assert_true(v2 > v1);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    g = gen(f->st);
    assert_int_equal(sqlite3_exec(db,
                                  "DELETE FROM policy_versions WHERE version = "
                                  "(SELECT max(version) FROM policy_versions)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_true(gen(f->st) > g); /* deletes count too */
    assert_int_equal(f->st->ops->policy_insert(f->st, &p, NULL), IDP_OK);
    assert_true(p.version > v2);
}

/* ---- prune ---------------------------------------------------------------------------------- */

static bool code_present(store *st, int seed)
{
    unsigned char h[32];
    store_auth_code c;
    bool replayed = false;
    H(h, seed);
    idp_err rc = st->ops->code_consume(st, h, 1, &c, &replayed, NULL);
    store_auth_code_clear(&c);
    assert_true(rc == IDP_OK || rc == IDP_ERR_NOT_FOUND);
    return rc == IDP_OK;
}

static void prune(void **state)
{
    fx *f = *state;
    store *st = f->st;
    const int64_t now = 100000;
    store_auth_code c;
    store_auth_code got;
    bool replayed;
    /* codes: 1 unused expired, 2 unused live, 3 used expired within the grace, 4 used expired
     * beyond it */
    c = code_tmpl(1);
    c.expires_at = now - 1;
    assert_int_equal(st->ops->code_insert(st, &c, NULL), IDP_OK);
    c = code_tmpl(2);
    c.expires_at = now + 30;
    assert_int_equal(st->ops->code_insert(st, &c, NULL), IDP_OK);
    c = code_tmpl(3);
    c.expires_at = now - STORE_PRUNE_GRACE + 5;
    assert_int_equal(st->ops->code_insert(st, &c, NULL), IDP_OK);
    assert_int_equal(st->ops->code_consume(st, c.hash, now - 700, &got, &replayed, NULL), IDP_OK);
    store_auth_code_clear(&got);
    c = code_tmpl(4);
    c.expires_at = now - STORE_PRUNE_GRACE - 5;
    assert_int_equal(st->ops->code_insert(st, &c, NULL), IDP_OK);
    assert_int_equal(st->ops->code_consume(st, c.hash, now - 700, &got, &replayed, NULL), IDP_OK);
    store_auth_code_clear(&got);
    /* refresh: 1 expired, 2 live */
    store_refresh r = rt_tmpl(1, "A", NULL);
    r.expires_at = now - 1;
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    r = rt_tmpl(2, "A", NULL);
    r.expires_at = now;
    assert_int_equal(st->ops->refresh_insert(st, &r, NULL), IDP_OK);
    /* sessions */
    store_session s1 = ss_tmpl(1, "s1", "u1"), s2 = ss_tmpl(2, "s2", "u1"), sg;
    s1.expires_at = now - 1;
    s2.expires_at = now + 1;
    assert_int_equal(st->ops->session_insert(st, &s1, NULL), IDP_OK);
    assert_int_equal(st->ops->session_insert(st, &s2, NULL), IDP_OK);
    /* assertion jtis: kept STORE_PRUNE_GRACE past exp */
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "old", now - STORE_PRUNE_GRACE - 1, NULL),
                     IDP_OK);
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "recent", now - 10, NULL), IDP_OK);
    /* login failures: a day */
    int64_t fails = 0;
    assert_int_equal(st->ops->login_fail(st, "old", now - 86400 - 1, NULL, &fails, NULL), IDP_OK);
    assert_int_equal(st->ops->login_fail(st, "recent", now - 86400 + 1, NULL, &fails, NULL), IDP_OK);

    assert_int_equal(st->ops->oidc_prune(st, now, NULL), IDP_OK);

    assert_false(code_present(st, 4));
    assert_false(code_present(st, 1));
    assert_true(code_present(st, 3));
    assert_true(code_present(st, 2));
    assert_false(rt_exists(st, 1));
    assert_true(rt_exists(st, 2));
    assert_int_equal(st->ops->session_get(st, s1.hash, &sg, NULL), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->session_get(st, s2.hash, &sg, NULL), IDP_OK);
    store_session_clear(&sg);
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "old", now + 60, NULL), IDP_OK);
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "recent", now + 60, NULL),
                     IDP_ERR_CONFLICT);
    int64_t last = 0;
    assert_int_equal(st->ops->login_fail_get(st, "old", &fails, &last, NULL), IDP_OK);
    assert_int_equal(fails, 0);
    assert_int_equal(st->ops->login_fail_get(st, "recent", &fails, &last, NULL), IDP_OK);
    assert_int_equal(fails, 1);

    /* inside a caller's transaction it rolls back with it */
    assert_int_equal(store_tx_begin(st, NULL), IDP_OK);
    assert_int_equal(st->ops->oidc_prune(st, now + 1000000, NULL), IDP_OK);
    assert_false(rt_exists(st, 2));
    store_tx_rollback(st);
    assert_true(rt_exists(st, 2));
}

/* ---- SQLite specifics ----------------------------------------------------------------------- */

static int user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void exec_file(sqlite3 *db, const char *name)
{
    const char *src = getenv("IDPD_SRC");
    char p[4096];
    snprintf(p, sizeof p, "%s/src/store/sqlite/migrations/%s", src ? src : ".", name);
    char *sql = tu_read_file(p, NULL);
    if (!sql) fail_msg("cannot read %s", p);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", name, msg);
    free(sql);
}

/* A database written by the schema-2 binary opens, migrates to 3, keeps its rows, and the old
 * client rows read as confidential clients without URIs. */
static void migration_from_0002(void **state)
{
    fx *f = *state;
    char p[4096];
    snprintf(p, sizeof p, "%s/old.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
    exec_file(db, "0001_init.sql");
    exec_file(db, "0002_scim.sql");
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO clients (client_id, name, secret_hash, grant_types, scope, "
                     "created_at) VALUES ('legacy', 'Legacy', zeroblob(32), "
                     "'client_credentials', 'read', 7);"
                     "INSERT INTO users (id, user_name, created_at, modified_at) "
                     "VALUES ('uo', 'olduser', 1, 1);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(user_version(p), 2);

    store *st = NULL;
    idp_error e = {0};
    assert_int_equal(store_open(p, false, &st, &e), IDP_OK);
    assert_int_equal(user_version(p), STORE_SQLITE_LATEST);
    int64_t g = gen(st);
    store_client c;
    assert_int_equal(store_client_get(st, "legacy", &c, NULL), IDP_OK);
    assert_string_equal(c.name, "Legacy");
    assert_true(c.has_secret);
    assert_string_equal(c.auth_method, "client_secret_basic");
    assert_int_equal(c.created_at, 7);
    assert_false(c.is_public);
    assert_null(c.redirect_uris);
    assert_null(c.post_logout_redirect_uris);
    assert_null(c.jwks);
    assert_null(c.backchannel_logout_uri);
    assert_null(c.introspect); /* 0007: an old client introspects only its own tokens */
    store_client_clear(&c);
    /* The new tables work against the old rows. */
    store_auth_code code = code_tmpl(1);
    code.client_id = "legacy";
    code.user_id = "uo";
    assert_int_equal(st->ops->code_insert(st, &code, NULL), IDP_OK);
    /* new client columns are watched by the old trigger */
    store_client u = {.client_id = "legacy", .redirect_uris = "https://x/cb"};
    assert_int_equal(store_client_update(st, &u, NULL), IDP_OK);
    assert_true(gen(st) > g);
    /* 0007: the introspect column round-trips and refuses an unknown mode */
    u.introspect = "any";
    assert_int_equal(store_client_update(st, &u, NULL), IDP_OK);
    assert_int_equal(store_client_get(st, "legacy", &c, NULL), IDP_OK);
    assert_string_equal(c.introspect, "any");
    store_client_clear(&c);
    u.introspect = "everyone";
    assert_int_equal(store_client_update(st, &u, NULL), IDP_ERR_INVALID);
    store_close(st);

    /* Opening again is a no-op. */
    assert_int_equal(store_open(p, false, &st, NULL), IDP_OK);
    assert_int_equal(user_version(p), STORE_SQLITE_LATEST);
    store_close(st);
}

static char *query_plan(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char plan[2048] = "";
    size_t off = 0;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    while (sqlite3_step(q) == SQLITE_ROW && off < sizeof plan)
        off += (size_t)snprintf(plan + off, sizeof plan - off, "%s;", sqlite3_column_text(q, 3));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return strdup(plan);
}

static void assert_plan(const char *path, const char *sql, const char *want)
{
    char eq[1024];
    snprintf(eq, sizeof eq, "EXPLAIN QUERY PLAN %s", sql);
    char *p = query_plan(path, eq);
    if (!strstr(p, want)) fail_msg("%s\n  plan: %s\n  want: %s", sql, p, want);
    assert_null(strstr(p, "SCAN"));
    free(p);
}

/* Every lookup is an index search, never a table scan. */
static void lookups_use_indexes(void **state)
{
    SUT_SQLITE_ONLY(); /* reads the SQLite file directly */
    fx *f = *state;
    const char *p = f->path;
    assert_plan(p, "SELECT * FROM auth_codes WHERE hash = ?1", "USING INDEX sqlite_autoindex");
    assert_plan(p, "SELECT * FROM refresh_tokens WHERE hash = ?1", "USING INDEX sqlite_autoindex");
    assert_plan(p, "UPDATE refresh_tokens SET revoked_at = 1 WHERE family_id = ?1",
                "refresh_tokens_family");
    assert_plan(p, "UPDATE refresh_tokens SET revoked_at = 1 WHERE user_id = ?1",
                "refresh_tokens_user");
    assert_plan(p,
                "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at = 0 AND family_id IN "
                "(SELECT family_id FROM refresh_tokens WHERE session_id = ?1)",
                "refresh_tokens_session");
    assert_plan(p, "DELETE FROM refresh_tokens WHERE expires_at < ?1", "refresh_tokens_expires");
    assert_plan(p,
                "DELETE FROM auth_codes WHERE expires_at < ?1 AND (used_at = 0 OR "
                "expires_at < ?2)",
                "auth_codes_expires");
    assert_plan(p, "SELECT * FROM sessions WHERE sid = ?1", "USING INDEX sqlite_autoindex");
    assert_plan(p, "SELECT * FROM sessions WHERE user_id = ?1", "sessions_user");
    assert_plan(p, "DELETE FROM sessions WHERE expires_at < ?1", "sessions_expires");
    assert_plan(p, "DELETE FROM assertion_jtis WHERE exp < ?1", "assertion_jtis_exp");
    assert_plan(p, "DELETE FROM login_failures WHERE last_at < ?1", "login_failures_last");
    assert_plan(p, "SELECT * FROM policy_activations WHERE version = ?1 ORDER BY seq DESC",
                "policy_activations_version");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    SUT_MAIN();
    const struct CMUnitTest tests[] = {
        T(client_signin_fields),
        T(code_single_use),
        T(code_consume_race),
        T(refresh_insert_get),
        T(refresh_rotate_race),
        T(refresh_rotate_in_tx),
        T(refresh_revoke),
        T(session_ops),
        T(delete_cascades),
        T(login_throttle),
        T(login_throttle_cap),
        T(assertion_jti),
        T(consent),
        T(user_rehash),
        T(policy_versions),
        T(policy_monotonic_across_handles),
        T(prune),
        T(migration_from_0002),
        T(lookups_use_indexes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
