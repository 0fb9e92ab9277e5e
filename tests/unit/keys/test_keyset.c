/* Unit tests for src/keys/keyset.c and signer.c: snapshot loading, JWKS body, signing. */
#include "testutil.h"

#include "core/err.h"
#include "core/jsonx.h"
#include "core/snap.h"
#include "jose/jws.h"
#include "keys/kek.h"
#include "keys/keyset.h"
#include "keys/rotation.h"
#include "keys/signer.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000

typedef struct fx {
    char *dir;
    store *st;
    kek *k;
    cfg c;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    unsetenv("IDPD_MASTER_KEY");
    f->dir = tu_tmpdir();
    char p[4096];
    snprintf(p, sizeof p, "%s/idpd.db", f->dir);
    assert_int_equal(store_open(p, true, &f->st, NULL), IDP_OK);
    snprintf(p, sizeof p, "%s/master.key", f->dir);
    assert_int_equal(kek_create_file(p, NULL), IDP_OK);
    assert_int_equal(kek_load(p, &f->k, NULL), IDP_OK);
    f->c = (cfg){
        .algs = (char *)"ES256 EdDSA",
        .rsa_bits = 2048,
        .rotation_period = 30 * 86400,
        .publish_ahead = 86400,
        .max_token_ttl = 3600,
        .leeway = 30,
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

static const char *kid_of(store *st, const char *alg, key_state s, char out[64])
{
    store_key *rows = NULL;
    size_t n = 0;
    out[0] = '\0';
    assert_int_equal(store_key_list(st, &rows, &n, NULL), IDP_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].alg, alg) == 0 && rows[i].state == s)
            snprintf(out, 64, "%s", rows[i].kid);
    store_key_list_free(rows, n);
    return out;
}

static void verify_token(const keyset *ks, const char *tok, const char *want_kid)
{
    jws_verify_opts o = {.allowed_algs = JWS_ALGS_ALL, .keys = keyset_public(ks),
                         .typ = "at+jwt", .payload_json = true};
    jws_verified v = {0};
    idp_error e = {0};
    idp_err rc = jws_verify(tok, strlen(tok), &o, &v, &e);
    if (rc) fail_msg("jws_verify: %s", e.msg);
    assert_string_equal(jwk_kid(v.key), want_kid);
    assert_string_equal(jsonx_str(v.payload, "sub"), "alice");
    jws_verified_clear(&v);
}

static void jwks_body_contents(void **state)
{
    fx *f = *state;
    keyset *ks = NULL;
    assert_int_equal(rotation_tick(f->st, f->k, &f->c, T0, NULL, NULL), IDP_OK);
    assert_int_equal(keyset_load(f->st, f->k, &ks, NULL), IDP_OK);

    size_t len = 0;
    const char *body = keyset_jwks_body(ks, &len);
    assert_int_equal(len, strlen(body));
    json_t *j = NULL;
    assert_int_equal(jsonx_parse(body, len, 0, 0, true, &j, NULL), IDP_OK);
    json_t *keys = json_object_get(j, "keys");
    assert_true(json_is_array(keys));
    assert_int_equal(json_array_size(keys), 4); /* next + current for each of two algs */
    assert_null(strchr(body, ' '));             /* compact */

    const char *algs[] = {"ES256", "EdDSA"};
    for (int a = 0; a < 2; a++) {
        char cur[64], nxt[64];
        kid_of(f->st, algs[a], KEY_CURRENT, cur);
        kid_of(f->st, algs[a], KEY_NEXT, nxt);
        assert_true(cur[0] && nxt[0]);
        assert_string_not_equal(cur, nxt);
        assert_string_equal(keyset_current_kid(ks, jws_alg_from_name(algs[a], strlen(algs[a]))),
                            cur);
        int seen = 0;
        size_t i;
        json_t *key;
        json_array_foreach(keys, i, key) {
            const char *kid = jsonx_str(key, "kid");
            if (strcmp(kid, cur) == 0 || strcmp(kid, nxt) == 0) {
                seen++;
                assert_string_equal(jsonx_str(key, "alg"), algs[a]);
                assert_string_equal(jsonx_str(key, "use"), "sig");
            }
        }
        assert_int_equal(seen, 2);
    }
    /* RFC 7517 §9.2 / RFC 7518 §6: no private member ever reaches the JWKS. */
    const char *priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    size_t i;
    json_t *key;
    json_array_foreach(keys, i, key) {
        for (size_t m = 0; m < sizeof priv / sizeof *priv; m++)
            assert_null(json_object_get(key, priv[m]));
    }
    assert_int_equal(jwks_count(keyset_public(ks)), 4);
    for (size_t n = 0; n < 4; n++) assert_false(jwk_is_private(jwks_at(keyset_public(ks), n)));
    assert_null(keyset_current_kid(ks, JWS_RS256));
    assert_null(keyset_current_kid(ks, JWS_ALG_INVALID));
    json_decref(j);
    keyset_unref(ks);
}

static void sign_and_verify(void **state)
{
    fx *f = *state;
    keyset *ks = NULL;
    idp_error e = {0};
    assert_int_equal(rotation_tick(f->st, f->k, &f->c, T0, NULL, NULL), IDP_OK);
    assert_int_equal(keyset_load(f->st, f->k, &ks, NULL), IDP_OK);
    const char *payload = "{\"sub\":\"alice\"}";
    jws_alg algs[] = {JWS_ES256, JWS_EDDSA};
    for (int a = 0; a < 2; a++) {
        idp_buf b;
        buf_init(&b, 0);
        assert_int_equal(keyset_sign(ks, algs[a], "at+jwt", payload, strlen(payload), &b, NULL),
                         IDP_OK);
        verify_token(ks, b.data, keyset_current_kid(ks, algs[a]));
        buf_free(&b);
    }
    /* no current key for an alg that is not configured */
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(keyset_sign(ks, JWS_RS256, "at+jwt", payload, strlen(payload), &b, &e),
                     IDP_ERR_JOSE_KEY);
    assert_int_equal(b.len, 0);
    buf_free(&b);

    /* the keyset is a snapshot: publish, acquire, release */
    snap_slot slot;
    snap_slot_init(&slot);
    snap_publish(&slot, (snap_obj *)keyset_ref(ks));
    keyset *got = (keyset *)snap_acquire(&slot);
    assert_ptr_equal(got, ks);
    snap_release((snap_obj *)got);
    snap_slot_destroy(&slot);
    keyset_unref(ks);
    keyset_unref(NULL);
}

/* Rewrites one row through the store ops (a backend-neutral way to corrupt it). */
static void rewrite_row(store *st, const char *kid, void (*mut)(store_key *))
{
    store_key *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_key_list(st, &rows, &n, NULL), IDP_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].kid, kid) != 0) continue;
        mut(&rows[i]);
        assert_int_equal(store_key_delete(st, kid, NULL), IDP_OK);
        assert_int_equal(store_key_insert(st, &rows[i], NULL), IDP_OK);
    }
    store_key_list_free(rows, n);
}

static void flip_enc(store_key *k) { k->enc_private[k->enc_private_len / 2] ^= 1; }
static void bad_public(store_key *k)
{
    free(k->public_jwk);
    k->public_jwk = strdup("{\"kty\":\"EC\"}");
}

static void tampered_rows_fail_cleanly(void **state)
{
    fx *f = *state;
    keyset *ks = NULL;
    idp_error e = {0};
    char cur[64], nxt[64];
    assert_int_equal(rotation_tick(f->st, f->k, &f->c, T0, NULL, NULL), IDP_OK);

    /* A wrong master key cannot open the current keys. */
    char p[4096];
    snprintf(p, sizeof p, "%s/other.key", f->dir);
    kek *k2 = NULL;
    assert_int_equal(kek_create_file(p, NULL), IDP_OK);
    assert_int_equal(kek_load(p, &k2, NULL), IDP_OK);
    assert_int_equal(keyset_load(f->st, k2, &ks, &e), IDP_ERR_CRYPTO);
    assert_null(ks);
    kek_free(k2);

    /* Next keys are not decrypted: tampering one is noticed only when it becomes current. */
    kid_of(f->st, "ES256", KEY_NEXT, nxt);
    rewrite_row(f->st, nxt, flip_enc);
    assert_int_equal(keyset_load(f->st, f->k, &ks, NULL), IDP_OK);
    keyset_unref(ks);

    kid_of(f->st, "EdDSA", KEY_CURRENT, cur);
    rewrite_row(f->st, cur, flip_enc);
    assert_int_equal(keyset_load(f->st, f->k, &ks, &e), IDP_ERR_CRYPTO);
    assert_null(ks);
}

static void mismatched_public_jwk_fails(void **state)
{
    fx *f = *state;
    keyset *ks = NULL;
    idp_error e = {0};
    char nxt[64];
    assert_int_equal(rotation_tick(f->st, f->k, &f->c, T0, NULL, NULL), IDP_OK);
    kid_of(f->st, "ES256", KEY_NEXT, nxt);
    rewrite_row(f->st, nxt, bad_public);
    assert_int_not_equal(keyset_load(f->st, f->k, &ks, &e), IDP_OK);
    assert_null(ks);
}

static void empty_store(void **state)
{
    fx *f = *state;
    keyset *ks = NULL;
    idp_error e = {0};
    assert_int_equal(keyset_load(f->st, f->k, &ks, NULL), IDP_OK);
    size_t len = 0;
    assert_string_equal(keyset_jwks_body(ks, &len), "{\"keys\":[]}");
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(keyset_sign(ks, JWS_ES256, NULL, "{}", 2, &b, &e), IDP_ERR_JOSE_KEY);
    buf_free(&b);
    keyset_unref(ks);
}

static void signer_rules(void **state)
{
    (void)state;
    signer_keygen g;
    idp_error e = {0};
    assert_int_equal(signer_generate(JWS_EDDSA, 0, &g, NULL), IDP_OK);
    assert_non_null(strstr(g.public_jwk, g.kid));
    assert_null(strstr(g.public_jwk, "\"d\""));
    signer *s = signer_new();
    /* the kid must be the key's thumbprint */
    assert_int_equal(signer_add_der(s, g.der, g.der_len, JWS_EDDSA, "wrong-kid", &e),
                     IDP_ERR_JOSE_KEY);
    assert_false(signer_has(s, g.kid));
    assert_int_equal(signer_add_der(s, g.der, g.der_len, JWS_EDDSA, g.kid, NULL), IDP_OK);
    assert_int_equal(signer_add_der(s, g.der, g.der_len, JWS_EDDSA, g.kid, &e), IDP_ERR_CONFLICT);
    assert_true(signer_has(s, g.kid));
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(signer_sign(s, g.kid, JWS_ES256, NULL, "{}", 2, &b, &e), IDP_ERR_JOSE_ALG);
    assert_int_equal(signer_sign(s, "nope", JWS_EDDSA, NULL, "{}", 2, &b, &e), IDP_ERR_JOSE_KEY);
    assert_int_equal(signer_sign(s, g.kid, JWS_EDDSA, "JWT", "{}", 2, &b, NULL), IDP_OK);
    assert_true(b.len > 0);
    buf_free(&b);
    /* a public key is refused */
    json_t *pubj = NULL;
    jwk *pub = NULL;
    assert_int_equal(jsonx_parse(g.public_jwk, strlen(g.public_jwk), 0, 0, true, &pubj, NULL),
                     IDP_OK);
    assert_int_equal(jwk_from_json(pubj, &pub, NULL), IDP_OK);
    assert_int_equal(signer_add(s, pub, &e), IDP_ERR_JOSE_KEY);
    jwk_unref(pub);
    json_decref(pubj);
    /* garbage DER */
    unsigned char junk[40] = {0x30, 0x26};
    assert_int_not_equal(signer_add_der(s, junk, sizeof junk, JWS_EDDSA, g.kid, &e), IDP_OK);
    signer_free(s);
    signer_free(NULL);
    signer_keygen_clear(&g);
    signer_keygen_clear(NULL);
    assert_int_not_equal(signer_generate(JWS_ALG_INVALID, 0, &g, &e), IDP_OK);
    assert_null(g.der);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(jwks_body_contents), T(sign_and_verify), T(tampered_rows_fail_cleanly),
        T(mismatched_public_jwk_fails), T(empty_store), T(signer_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
