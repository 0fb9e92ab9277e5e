/* Unit tests for src/jose/alg.c: names (exact, case-sensitive, never none or HS*), the key type
 * of each algorithm and of OpenSSL keys, and the JWA parameters of the EVP contexts. */
#include "testutil.h"

#include "jose/alg.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <string.h>

static void alg_names(void **state)
{
    (void)state;
    assert_string_equal(jws_alg_name(JWS_ES256), "ES256");
    assert_string_equal(jws_alg_name(JWS_RS256), "RS256");
    assert_string_equal(jws_alg_name(JWS_PS256), "PS256");
    assert_string_equal(jws_alg_name(JWS_EDDSA), "EdDSA");
    assert_null(jws_alg_name(JWS_ALG_INVALID));
    assert_null(jws_alg_name(JWS__ALG_COUNT));
    for (int a = JWS_ALG_INVALID + 1; a < JWS__ALG_COUNT; a++) {
        const char *n = jws_alg_name((jws_alg)a);
        assert_int_equal(jws_alg_from_name(n, strlen(n)), a);
    }
    assert_int_equal(jws_alg_from_name("PS256", 5), JWS_PS256);
    assert_int_equal(jws_alg_from_name("ps256", 5), JWS_ALG_INVALID);
    assert_int_equal(jws_alg_from_name("EDDSA", 5), JWS_ALG_INVALID);
    assert_int_equal(jws_alg_from_name("PS2560", 6), JWS_ALG_INVALID);
    assert_int_equal(jws_alg_from_name("PS25", 4), JWS_ALG_INVALID);
    assert_int_equal(jws_alg_from_name("ES256", 4), JWS_ALG_INVALID); /* length counts */
    assert_int_equal(jws_alg_from_name("none", 4), JWS_ALG_INVALID);
    assert_int_equal(jws_alg_from_name("HS256", 5), JWS_ALG_INVALID);
    assert_int_equal(jws_alg_from_name("", 0), JWS_ALG_INVALID);
    assert_int_equal(JWS_ALGS_ALL, JWS_ALG_BIT(JWS_ES256) | JWS_ALG_BIT(JWS_RS256) |
                                       JWS_ALG_BIT(JWS_PS256) | JWS_ALG_BIT(JWS_EDDSA));
    assert_false(JWS_ALGS_ALL & JWS_ALG_BIT(JWS_ALG_INVALID));
}

static void key_types(void **state)
{
    (void)state;
    assert_int_equal(jws_alg_kty_of(JWS_ES256), JWS_ALG_KTY_EC);
    assert_int_equal(jws_alg_kty_of(JWS_RS256), JWS_ALG_KTY_RSA);
    assert_int_equal(jws_alg_kty_of(JWS_PS256), JWS_ALG_KTY_RSA);
    assert_int_equal(jws_alg_kty_of(JWS_EDDSA), JWS_ALG_KTY_OKP);
    assert_int_equal(jws_alg_kty_of(JWS_ALG_INVALID), JWS_ALG_KTY_NONE);
    assert_int_equal(jws_alg_kty_of(JWS__ALG_COUNT), JWS_ALG_KTY_NONE);

    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(ec);
    assert_non_null(p384);
    assert_non_null(ed);
    assert_non_null(x);
    assert_non_null(rsa);
    assert_int_equal(jws_alg_pkey_kty(ec), JWS_ALG_KTY_EC);
    assert_int_equal(jws_alg_pkey_kty(p384), JWS_ALG_KTY_NONE); /* ES256 is P-256 only */
    assert_int_equal(jws_alg_pkey_kty(ed), JWS_ALG_KTY_OKP);
    assert_int_equal(jws_alg_pkey_kty(x), JWS_ALG_KTY_NONE); /* not a signature key */
    assert_int_equal(jws_alg_pkey_kty(rsa), JWS_ALG_KTY_RSA);

    assert_true(jws_alg_fits_pkey(JWS_ES256, ec));
    assert_false(jws_alg_fits_pkey(JWS_ES256, p384));
    assert_false(jws_alg_fits_pkey(JWS_ES256, rsa));
    assert_true(jws_alg_fits_pkey(JWS_RS256, rsa));
    assert_true(jws_alg_fits_pkey(JWS_PS256, rsa));
    assert_false(jws_alg_fits_pkey(JWS_RS256, ed));
    assert_true(jws_alg_fits_pkey(JWS_EDDSA, ed));
    assert_false(jws_alg_fits_pkey(JWS_EDDSA, x));
    assert_false(jws_alg_fits_pkey(JWS_ALG_INVALID, rsa));
    assert_false(jws_alg_fits_pkey(JWS_ES256, NULL));
    EVP_PKEY_free(ec);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(x);
    EVP_PKEY_free(rsa);
}

/* Signs with a context from jws_alg_md_ctx and verifies with EVP directly under the JWA
 * parameters, so the registry's parameters are checked against an independent set-up. */
static void sign_then_check(jws_alg alg, EVP_PKEY *key, const EVP_MD *md, bool pss)
{
    static const char msg[] = "eyJhbGciOiJ0ZXN0In0.e30";
    unsigned char sig[512];
    size_t n = sizeof sig;
    EVP_MD_CTX *s = jws_alg_md_ctx(alg, key, true);
    assert_non_null(s);
    assert_int_equal(EVP_DigestSign(s, sig, &n, (const unsigned char *)msg, sizeof msg - 1), 1);
    EVP_MD_CTX_free(s);

    EVP_MD_CTX *v = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestVerifyInit(v, &pctx, md, NULL, key), 1);
    if (pss) {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0);
    }
    assert_int_equal(EVP_DigestVerify(v, sig, n, (const unsigned char *)msg, sizeof msg - 1), 1);
    EVP_MD_CTX_free(v);

    /* and the registry's own verify context accepts it, and nothing else */
    EVP_MD_CTX *w = jws_alg_md_ctx(alg, key, false);
    assert_non_null(w);
    assert_int_equal(EVP_DigestVerify(w, sig, n, (const unsigned char *)msg, sizeof msg - 1), 1);
    EVP_MD_CTX_free(w);
    w = jws_alg_md_ctx(alg, key, false);
    assert_int_not_equal(EVP_DigestVerify(w, sig, n, (const unsigned char *)msg, sizeof msg - 2),
                         1);
    EVP_MD_CTX_free(w);
}

static void md_contexts(void **state)
{
    (void)state;
    const EVP_MD *md = jws_alg_sha256();
    assert_non_null(md);
    assert_ptr_equal(jws_alg_sha256(), md); /* fetched once */
    assert_int_equal(EVP_MD_get_size(md), 32);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    sign_then_check(JWS_ES256, ec, md, false);
    sign_then_check(JWS_RS256, rsa, md, false);
    sign_then_check(JWS_PS256, rsa, md, true);
    sign_then_check(JWS_EDDSA, ed, NULL, false); /* RFC 8037 §3.1: no pre-hash */
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alg_names),
        cmocka_unit_test(key_types),
        cmocka_unit_test(md_contexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
