/* Unit tests for src/keys/rotation.c: the key lifecycle state machine, time driven by `now`. */
#include "testutil.h"

#include "core/err.h"
#include "jose/jws.h"
#include "keys/kek.h"
#include "keys/keyset.h"
#include "keys/rotation.h"
#include "keys/signer.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000
#define DAY 86400
#define PERIOD (30 * DAY)
#define AHEAD DAY
#define MAXTTL 3600
#define LEEWAY 30

typedef struct fx {
    char *dir;
    char db[4096];
    store *st;
    kek *k;
    cfg c;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    unsetenv("IDPD_MASTER_KEY");
    f->dir = tu_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/idpd.db", f->dir);
    assert_int_equal(store_open(f->db, true, &f->st, NULL), IDP_OK);
    char p[4096];
    snprintf(p, sizeof p, "%s/master.key", f->dir);
    assert_int_equal(kek_create_file(p, NULL), IDP_OK);
    assert_int_equal(kek_load(p, &f->k, NULL), IDP_OK);
    f->c = (cfg){
        .algs = (char *)"ES256 EdDSA",
        .rsa_bits = 2048,
        .rotation_period = PERIOD,
        .publish_ahead = AHEAD,
        .max_token_ttl = MAXTTL,
        .leeway = LEEWAY,
    };
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    kek_free(f->k);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* The state of one alg: how many keys in each state, and their kids (the last one seen). */
typedef struct alg_state {
    int n[3];
    char kid[3][64];
    int64_t activated[3], retired[3], created[3];
} alg_state;

static alg_state look(store *st, const char *alg)
{
    alg_state s;
    memset(&s, 0, sizeof s);
    store_key *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_key_list(st, &rows, &n, NULL), IDP_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].alg, alg) != 0) continue;
        int x = (int)rows[i].state;
        s.n[x]++;
        snprintf(s.kid[x], sizeof s.kid[x], "%s", rows[i].kid);
        s.activated[x] = rows[i].activated_at;
        s.retired[x] = rows[i].retired_at;
        s.created[x] = rows[i].created_at;
    }
    store_key_list_free(rows, n);
    return s;
}

static size_t nkeys(store *st)
{
    store_key *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_key_list(st, &rows, &n, NULL), IDP_OK);
    store_key_list_free(rows, n);
    return n;
}

static bool tick(fx *f, int64_t now)
{
    bool changed = false;
    idp_error e = {0};
    idp_err rc = rotation_tick(f->st, f->k, &f->c, now, &changed, &e);
    if (rc) fail_msg("rotation_tick: %s", e.msg);
    return changed;
}

static int64_t gen(store *st)
{
    int64_t g = 0;
    assert_int_equal(store_generation(st, &g, NULL), IDP_OK);
    return g;
}

static void init_creates_current_and_next(void **state)
{
    fx *f = *state;
    assert_true(tick(f, T0));
    const char *algs[] = {"ES256", "EdDSA"};
    for (int a = 0; a < 2; a++) {
        alg_state s = look(f->st, algs[a]);
        assert_int_equal(s.n[KEY_CURRENT], 1);
        assert_int_equal(s.n[KEY_NEXT], 1);
        assert_int_equal(s.n[KEY_RETIRED], 0);
        assert_int_equal(s.activated[KEY_CURRENT], T0);
        assert_int_equal(s.created[KEY_NEXT], T0);
        assert_int_equal(s.activated[KEY_NEXT], 0);
    }
    assert_int_equal(nkeys(f->st), 4);
    /* private parts are sealed with aad = kid, public parts carry no private member */
    store_key *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_key_list(f->st, &rows, &n, NULL), IDP_OK);
    for (size_t i = 0; i < n; i++) {
        unsigned char *pt = NULL;
        size_t ptlen = 0;
        assert_int_equal(kek_open(f->k, rows[i].kid, rows[i].enc_private, rows[i].enc_private_len,
                                  &pt, &ptlen, NULL),
                         IDP_OK);
        free(pt);
        assert_int_equal(kek_open(f->k, "other", rows[i].enc_private, rows[i].enc_private_len,
                                  &pt, &ptlen, NULL),
                         IDP_ERR_CRYPTO);
        assert_null(strstr(rows[i].public_jwk, "\"d\""));
        assert_int_equal(strlen(rows[i].kid), 43); /* SHA-256 thumbprint, base64url */
    }
    store_key_list_free(rows, n);

    /* Idempotent: a second tick at the same time writes nothing. */
    int64_t g = gen(f->st);
    assert_false(tick(f, T0));
    assert_int_equal(gen(f->st), g);
}

static void rotation_when_due(void **state)
{
    fx *f = *state;
    assert_true(tick(f, T0));
    alg_state before = look(f->st, "ES256");
    alg_state before_ed = look(f->st, "EdDSA");

    assert_false(tick(f, T0 + PERIOD - 1)); /* not due */
    alg_state s = look(f->st, "ES256");
    assert_string_equal(s.kid[KEY_CURRENT], before.kid[KEY_CURRENT]);

    assert_true(tick(f, T0 + PERIOD)); /* due */
    const char *algs[] = {"ES256", "EdDSA"};
    const alg_state *prev[] = {&before, &before_ed};
    for (int a = 0; a < 2; a++) {
        s = look(f->st, algs[a]);
        assert_int_equal(s.n[KEY_CURRENT], 1);
        assert_int_equal(s.n[KEY_NEXT], 1);
        assert_int_equal(s.n[KEY_RETIRED], 1);
        assert_string_equal(s.kid[KEY_CURRENT], prev[a]->kid[KEY_NEXT]);   /* next -> current */
        assert_string_equal(s.kid[KEY_RETIRED], prev[a]->kid[KEY_CURRENT]); /* current -> retired */
        assert_int_equal(s.activated[KEY_CURRENT], T0 + PERIOD);
        assert_int_equal(s.retired[KEY_RETIRED], T0 + PERIOD);
        assert_int_equal(s.activated[KEY_RETIRED], T0); /* history kept */
        assert_int_equal(s.created[KEY_NEXT], T0 + PERIOD);
        assert_string_not_equal(s.kid[KEY_NEXT], prev[a]->kid[KEY_NEXT]);
    }
    assert_false(tick(f, T0 + PERIOD));
}

/* DESIGN §6: a key signs only after publish_ahead in the JWKS, even when rotation is due. */
static void rotation_waits_for_publish_ahead(void **state)
{
    fx *f = *state;
    f->c.rotation_period = 100;
    f->c.publish_ahead = 200;
    assert_true(tick(f, T0));
    alg_state before = look(f->st, "ES256");
    assert_false(tick(f, T0 + 100));
    assert_false(tick(f, T0 + 199));
    alg_state s = look(f->st, "ES256");
    assert_string_equal(s.kid[KEY_CURRENT], before.kid[KEY_CURRENT]);
    assert_true(tick(f, T0 + 200));
    s = look(f->st, "ES256");
    assert_string_equal(s.kid[KEY_CURRENT], before.kid[KEY_NEXT]);
}

static void operator_rotate(void **state)
{
    fx *f = *state;
    idp_error e = {0};
    assert_true(tick(f, T0));
    alg_state before = look(f->st, "ES256");
    int64_t g = gen(f->st);

    /* next published for only 10 s: refused, message says how long to wait, nothing written */
    assert_int_equal(rotation_rotate(f->st, f->k, &f->c, JWS_ES256, false, T0 + 10, &e),
                     IDP_ERR_CONFLICT);
    assert_non_null(strstr(e.msg, "wait 86390 s"));
    assert_int_equal(gen(f->st), g);

    /* forced: next signs at once */
    assert_int_equal(rotation_rotate(f->st, f->k, &f->c, JWS_ES256, true, T0 + 10, NULL), IDP_OK);
    alg_state s = look(f->st, "ES256");
    assert_string_equal(s.kid[KEY_CURRENT], before.kid[KEY_NEXT]);
    assert_string_equal(s.kid[KEY_RETIRED], before.kid[KEY_CURRENT]);
    assert_int_equal(s.n[KEY_NEXT], 1);
    assert_int_equal(s.retired[KEY_RETIRED], T0 + 10);
    /* EdDSA untouched */
    alg_state ed = look(f->st, "EdDSA");
    assert_int_equal(ed.n[KEY_RETIRED], 0);

    /* after publish_ahead an unforced rotation is fine */
    before = s;
    assert_int_equal(rotation_rotate(f->st, f->k, &f->c, JWS_ES256, false, T0 + 10 + AHEAD, NULL),
                     IDP_OK);
    s = look(f->st, "ES256");
    assert_string_equal(s.kid[KEY_CURRENT], before.kid[KEY_NEXT]);
    assert_int_equal(s.n[KEY_RETIRED], 2);

    /* an alg that is not configured */
    assert_int_equal(rotation_rotate(f->st, f->k, &f->c, JWS_RS256, true, T0, &e), IDP_ERR_INVALID);
    assert_int_equal(rotation_rotate(f->st, f->k, &f->c, JWS_ALG_INVALID, true, T0, &e),
                     IDP_ERR_INVALID);
}

static void retired_deleted_after_tokens_expire(void **state)
{
    fx *f = *state;
    assert_true(tick(f, T0));
    assert_true(tick(f, T0 + PERIOD));
    int64_t r = T0 + PERIOD;
    alg_state s = look(f->st, "ES256");
    assert_int_equal(s.n[KEY_RETIRED], 1);
    assert_false(tick(f, r + MAXTTL + LEEWAY - 1));
    s = look(f->st, "ES256");
    assert_int_equal(s.n[KEY_RETIRED], 1);
    assert_true(tick(f, r + MAXTTL + LEEWAY));
    s = look(f->st, "ES256");
    assert_int_equal(s.n[KEY_RETIRED], 0);
    assert_int_equal(s.n[KEY_CURRENT], 1);
    assert_int_equal(s.n[KEY_NEXT], 1);
    assert_int_equal(nkeys(f->st), 4);
}

/* The retire window includes one JWKS cache lifetime (rotation_retire_window). */
static void retire_window_includes_jwks_max_age(void **state)
{
    fx *f = *state;
    f->c.jwks_max_age = 300;
    assert_int_equal(rotation_retire_window(&f->c), MAXTTL + LEEWAY + 300);
    assert_true(tick(f, T0));
    assert_true(tick(f, T0 + PERIOD));
    int64_t r = T0 + PERIOD;
    assert_false(tick(f, r + MAXTTL + LEEWAY + 300 - 1));
    assert_int_equal(look(f->st, "ES256").n[KEY_RETIRED], 1);
    assert_true(tick(f, r + MAXTTL + LEEWAY + 300));
    assert_int_equal(look(f->st, "ES256").n[KEY_RETIRED], 0);
}

static size_t retired_total(store *st)
{
    store_key *rows = NULL;
    size_t n = 0, r = 0;
    assert_int_equal(store_key_list(st, &rows, &n, NULL), IDP_OK);
    for (size_t i = 0; i < n; i++) r += rows[i].state == KEY_RETIRED;
    store_key_list_free(rows, n);
    return r;
}

/* Forced rotations retire a key each: past ROTATION_MAX_KEYS the key retired longest ago goes,
 * the next key (signed nothing) is what takes over, and the set stays one current + one next
 * per alg plus the most recent retired keys. Operator rotations and ticks keep the bound. */
static void forced_rotations_stay_bounded(void **state)
{
    fx *f = *state;
    static const jws_alg algs[] = {JWS_ES256, JWS_EDDSA};
    assert_true(tick(f, T0));
    char first_retired[64] = "";
    int rounds = ROTATION_MAX_KEYS; /* 2 algs x 64 forced rotations: twice the bound */
    for (int i = 0; i < rounds; i++) {
        int64_t now = T0 + 1 + i;
        for (size_t j = 0; j < 2; j++) {
            jws_alg a = algs[j];
            alg_state before = look(f->st, jws_alg_name(a));
            assert_int_equal(rotation_rotate(f->st, f->k, &f->c, a, true, now, NULL), IDP_OK);
            alg_state s = look(f->st, jws_alg_name(a));
            assert_string_equal(s.kid[KEY_CURRENT], before.kid[KEY_NEXT]); /* next took over */
            assert_int_equal(s.n[KEY_CURRENT], 1);
            assert_int_equal(s.n[KEY_NEXT], 1);
            assert_true(nkeys(f->st) <= ROTATION_MAX_KEYS);
        }
        if (i == 0)
            snprintf(first_retired, sizeof first_retired, "%s",
                     look(f->st, "ES256").kid[KEY_RETIRED]);
    }
    assert_int_equal(nkeys(f->st), ROTATION_MAX_KEYS);
    assert_int_equal(retired_total(f->st), ROTATION_MAX_KEYS - 4);
    /* the oldest retired keys went first: the first one retired is gone, the newest are kept */
    store_key *rows = NULL;
    size_t n = 0;
    int64_t oldest = INT64_MAX;
    assert_int_equal(store_key_list(f->st, &rows, &n, NULL), IDP_OK);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(rows[i].kid, first_retired);
        if (rows[i].state == KEY_RETIRED && rows[i].retired_at < oldest) oldest = rows[i].retired_at;
    }
    store_key_list_free(rows, n);
    /* 60 retired keys, two per round (one per alg): those of the last 30 rounds */
    assert_int_equal(oldest, T0 + 1 + (rounds - 1) - ((ROTATION_MAX_KEYS - 4) / 2 - 1));

    /* the whole set loads and every published key is in the JWKS */
    keyset *ks = NULL;
    assert_int_equal(keyset_load(f->st, f->k, &ks, NULL), IDP_OK);
    assert_int_equal(jwks_count(keyset_public(ks)), ROTATION_MAX_KEYS);
    keyset_unref(ks);

    /* a regular tick keeps it, and once the window is over only current + next remain */
    assert_false(tick(f, T0 + rounds));
    assert_int_equal(nkeys(f->st), ROTATION_MAX_KEYS);
    assert_true(tick(f, T0 + rounds + MAXTTL + LEEWAY));
    assert_int_equal(nkeys(f->st), 4);
}

/* A store already over the bound (written by an older version) is pruned by the next tick. */
static void tick_prunes_a_store_over_the_bound(void **state)
{
    fx *f = *state;
    f->c.algs = (char *)"ES256";
    assert_true(tick(f, T0));
    for (int i = 0; i < ROTATION_MAX_KEYS + 6; i++) {
        signer_keygen g;
        unsigned char *enc = NULL;
        size_t enc_len = 0;
        assert_int_equal(signer_generate(JWS_ES256, 0, &g, NULL), IDP_OK);
        assert_int_equal(kek_seal(f->k, g.kid, g.der, g.der_len, &enc, &enc_len, NULL), IDP_OK);
        store_key row = {.kid = g.kid, .alg = (char *)"ES256", .state = KEY_RETIRED,
                         .created_at = T0 - 100, .activated_at = T0 - 100, .retired_at = T0 - i,
                         .enc_private = enc, .enc_private_len = enc_len,
                         .public_jwk = g.public_jwk};
        assert_int_equal(store_key_insert(f->st, &row, NULL), IDP_OK);
        free(enc);
        signer_keygen_clear(&g);
    }
    assert_int_equal(nkeys(f->st), ROTATION_MAX_KEYS + 8);
    /* the key set still loads within the bound, with the current key */
    keyset *ks = NULL;
    assert_int_equal(keyset_load(f->st, f->k, &ks, NULL), IDP_OK);
    assert_int_equal(jwks_count(keyset_public(ks)), ROTATION_MAX_KEYS);
    alg_state s = look(f->st, "ES256");
    assert_string_equal(keyset_current_kid(ks, JWS_ES256), s.kid[KEY_CURRENT]);
    assert_non_null(jwks_find(keyset_public(ks), s.kid[KEY_NEXT]));
    keyset_unref(ks);
    assert_true(tick(f, T0 + 1));
    assert_int_equal(nkeys(f->st), ROTATION_MAX_KEYS);
    s = look(f->st, "ES256");
    assert_int_equal(s.n[KEY_CURRENT], 1);
    assert_int_equal(s.n[KEY_NEXT], 1);
    assert_false(tick(f, T0 + 1));
}

/* rotation_check: the regular key count must fit the bound; the message names the minimum. */
static void check_refuses_a_too_short_period(void **state)
{
    fx *f = *state;
    idp_error e = {0};
    f->c.algs = (char *)"ES256 RS256 PS256 EdDSA";
    f->c.jwks_max_age = 300;
    assert_int_equal(rotation_check(&f->c, NULL), IDP_OK); /* 30 days */
    f->c.rotation_period = 60;
    assert_int_equal(rotation_check(&f->c, &e), IDP_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "rotation_period: 60 s is too short"));
    /* window 3600 + 30 + 300 + 10 = 3940 s; 16 keys per alg: 13 spare retirements -> 282 s */
    assert_non_null(strstr(e.msg, "use at least 282 s"));
    f->c.rotation_period = 282;
    assert_int_equal(rotation_check(&f->c, NULL), IDP_OK);
    f->c.rotation_period = 281;
    assert_int_equal(rotation_check(&f->c, NULL), IDP_ERR_CONFIG);
    /* fewer algorithms leave room for a shorter period */
    f->c.algs = (char *)"ES256";
    assert_int_equal(rotation_check(&f->c, NULL), IDP_OK);
    f->c.rotation_period = 0;
    assert_int_equal(rotation_check(&f->c, NULL), IDP_ERR_CONFIG);
}

static char *sign(keyset *ks, jws_alg alg)
{
    idp_buf b;
    buf_init(&b, 0);
    const char *p = "{\"sub\":\"alice\"}";
    assert_int_equal(keyset_sign(ks, alg, "at+jwt", p, strlen(p), &b, NULL), IDP_OK);
    return buf_steal(&b);
}

static idp_err verify(keyset *ks, const char *tok, char kid[64])
{
    jws_verify_opts o = {.allowed_algs = JWS_ALGS_ALL, .keys = keyset_public(ks),
                         .typ = "at+jwt", .payload_json = true};
    jws_verified v = {0};
    idp_err rc = jws_verify(tok, strlen(tok), &o, &v, NULL);
    if (!rc && kid) snprintf(kid, 64, "%s", jwk_kid(v.key));
    jws_verified_clear(&v);
    return rc;
}

static void old_tokens_verify_after_rotation(void **state)
{
    fx *f = *state;
    keyset *ks1 = NULL, *ks2 = NULL, *ks3 = NULL;
    char kid[64];
    assert_true(tick(f, T0));
    assert_int_equal(keyset_load(f->st, f->k, &ks1, NULL), IDP_OK);
    char *old = sign(ks1, JWS_ES256);
    const char *old_kid = keyset_current_kid(ks1, JWS_ES256);

    assert_true(tick(f, T0 + PERIOD));
    assert_int_equal(keyset_load(f->st, f->k, &ks2, NULL), IDP_OK);
    assert_string_not_equal(keyset_current_kid(ks2, JWS_ES256), old_kid);
    assert_int_equal(verify(ks2, old, kid), IDP_OK); /* retired key still published */
    assert_string_equal(kid, old_kid);
    char *fresh = sign(ks2, JWS_ES256);
    assert_int_equal(verify(ks2, fresh, kid), IDP_OK);
    assert_string_equal(kid, keyset_current_kid(ks2, JWS_ES256));
    /* the snapshot taken before rotation already had the new current key (it was next) */
    assert_int_equal(verify(ks1, fresh, NULL), IDP_OK);

    /* once deleted, tokens of the old key no longer verify */
    assert_true(tick(f, T0 + PERIOD + MAXTTL + LEEWAY));
    assert_int_equal(keyset_load(f->st, f->k, &ks3, NULL), IDP_OK);
    assert_int_equal(verify(ks3, old, NULL), IDP_ERR_JOSE_KEY);
    assert_int_equal(verify(ks3, fresh, NULL), IDP_OK);
    free(old);
    free(fresh);
    keyset_unref(ks1);
    keyset_unref(ks2);
    keyset_unref(ks3);
}

typedef struct racer {
    fx *f;
    store *st;
    int64_t now;
    bool changed;
    idp_err rc;
} racer;

static void *race(void *p)
{
    racer *r = p;
    r->rc = rotation_tick(r->st, r->f->k, &r->f->c, r->now, &r->changed, NULL);
    return NULL;
}

/* Two processes (two handles on one file) tick at the same moment: exactly one rotation. */
static void concurrent_ticks_rotate_once(void **state)
{
    fx *f = *state;
    store *other = NULL;
    assert_int_equal(store_open(f->db, false, &other, NULL), IDP_OK);
    assert_true(tick(f, T0));
    for (int round = 0; round < 2; round++) {
        int64_t now = T0 + (round + 1) * (int64_t)PERIOD;
        racer r[2] = {{.f = f, .st = f->st, .now = now}, {.f = f, .st = other, .now = now}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        assert_int_equal(r[0].rc, IDP_OK);
        assert_int_equal(r[1].rc, IDP_OK);
        assert_true(r[0].changed != r[1].changed); /* one wins, the other sees the result */
        const char *algs[] = {"ES256", "EdDSA"};
        for (int a = 0; a < 2; a++) {
            alg_state s = look(other, algs[a]);
            assert_int_equal(s.n[KEY_CURRENT], 1);
            assert_int_equal(s.n[KEY_NEXT], 1);
            assert_int_equal(s.n[KEY_RETIRED], 1); /* the previous retired key has expired */
            assert_int_equal(s.activated[KEY_CURRENT], now);
        }
    }
    store_close(other);
}

static void alg_removed_from_config(void **state)
{
    fx *f = *state;
    assert_true(tick(f, T0));
    alg_state ed = look(f->st, "EdDSA");
    f->c.algs = (char *)"ES256";
    assert_true(tick(f, T0 + 5));
    alg_state s = look(f->st, "EdDSA");
    assert_int_equal(s.n[KEY_CURRENT], 0);
    assert_int_equal(s.n[KEY_NEXT], 0); /* never signed anything: dropped */
    assert_int_equal(s.n[KEY_RETIRED], 1); /* signed tokens: stays published until they expire */
    assert_string_equal(s.kid[KEY_RETIRED], ed.kid[KEY_CURRENT]);
    assert_true(tick(f, T0 + 5 + MAXTTL + LEEWAY));
    s = look(f->st, "EdDSA");
    assert_int_equal(s.n[KEY_RETIRED], 0);
    assert_int_equal(nkeys(f->st), 2);
}

static void bad_config(void **state)
{
    fx *f = *state;
    idp_error e = {0};
    bool changed = true;
    const char *bad[] = {"ES256 HS256", "", "   ", "none", "es256"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        f->c.algs = (char *)bad[i];
        assert_int_equal(rotation_tick(f->st, f->k, &f->c, T0, &changed, &e), IDP_ERR_CONFIG);
        assert_false(changed);
    }
    f->c.algs = (char *)"ES256";
    f->c.rotation_period = 0;
    assert_int_equal(rotation_tick(f->st, f->k, &f->c, T0, &changed, &e), IDP_ERR_CONFIG);
    assert_int_equal(nkeys(f->st), 0);
}

/* A failing step writes nothing: RSA with an invalid size fails at key generation after the
 * ES256 keys were already made. */
static void failure_rolls_back(void **state)
{
    fx *f = *state;
    idp_error e = {0};
    f->c.algs = (char *)"ES256 RS256";
    f->c.rsa_bits = 1024;
    assert_int_not_equal(rotation_tick(f->st, f->k, &f->c, T0, NULL, &e), IDP_OK);
    assert_int_equal(nkeys(f->st), 0);
}

static void rs256_keys(void **state)
{
    fx *f = *state;
    keyset *ks = NULL;
    char kid[64];
    f->c.algs = (char *)"RS256";
    f->c.rsa_bits = 2048;
    assert_true(tick(f, T0));
    alg_state s = look(f->st, "RS256");
    assert_int_equal(s.n[KEY_CURRENT], 1);
    assert_int_equal(s.n[KEY_NEXT], 1);
    assert_int_equal(keyset_load(f->st, f->k, &ks, NULL), IDP_OK);
    char *tok = sign(ks, JWS_RS256);
    assert_int_equal(verify(ks, tok, kid), IDP_OK);
    assert_string_equal(kid, s.kid[KEY_CURRENT]);
    free(tok);
    keyset_unref(ks);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(init_creates_current_and_next),
        T(rotation_when_due),
        T(rotation_waits_for_publish_ahead),
        T(operator_rotate),
        T(retired_deleted_after_tokens_expire),
        T(old_tokens_verify_after_rotation),
        T(concurrent_ticks_rotate_once),
        T(alg_removed_from_config),
        T(bad_config),
        T(failure_rolls_back),
        T(rs256_keys),
        T(retire_window_includes_jwks_max_age),
        T(forced_rotations_stay_bounded),
        T(tick_prunes_a_store_over_the_bound),
        T(check_refuses_a_too_short_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
