/* Unit tests for src/jose/jwk.c: thumbprints (RFC 7638, RFC 8037), one negative test per
 * import rule, RFC 7520 keys, Wycheproof json_web_key_test.json, JSON and DER round trips, JWKS. */
#include "testutil.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/mem.h"
#include "jose/internal.h"
#include "jose/jwk.h"
#include "jose/jws.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RFC7638_N                                                                                  \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPe" \
    "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY3" \
    "68QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM" \
    "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define EC_X "04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY"
#define EC_Y "UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"
#define EC_D "yy49oPcINGK2ps0LmtxpB6UTEOiITghHBif6wDqmJ3c"
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define ED_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"

static idp_err import(const char *s, jwk **out)
{
    json_t *o = NULL;
    *out = NULL;
    if (jsonx_parse(s, strlen(s), 0, 0, false, &o, NULL)) fail_msg("bad test JSON: %s", s);
    idp_err rc = jwk_from_json(o, out, NULL);
    json_decref(o);
    return rc;
}

static void thumbprint_rfc7638(void **state)
{
    jwk *k = NULL;
    char tp[44];
    assert_int_equal(import("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"alg\":\"RS256\","
                            "\"kid\":\"2011-04-29\"}", &k), IDP_OK);
    assert_string_equal(jwk_kid(k), "2011-04-29");
    assert_int_equal(jwk_alg(k), JWS_RS256);
    assert_int_equal(jwk_thumbprint(k, tp, NULL), IDP_OK);
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    jwk_unref(k);
    /* without kid, the thumbprint is the kid */
    assert_int_equal(import("{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"" RFC7638_N "\"}", &k), IDP_OK);
    assert_string_equal(jwk_kid(k), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    jwk_unref(k);
}

static void thumbprint_rfc8037(void **state)
{
    jwk *k = NULL;
    assert_int_equal(import("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}", &k), IDP_OK);
    assert_string_equal(jwk_kid(k), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_false(jwk_is_private(k));
    jwk_unref(k);
    assert_int_equal(import("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"d\":\"" ED_D "\"}", &k),
                     IDP_OK);
    assert_string_equal(jwk_kid(k), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_true(jwk_is_private(k));
    jwk_unref(k);
}

/* One line per rejection rule of jwk_from_json. */
static void import_rejections(void **state)
{
    static const char *const bad[] = {
        "[]",                                                          /* not an object */
        "{\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\"}",                    /* no kty */
        "{\"kty\":7,\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\"}",          /* kty type */
        "{\"kty\":\"oct\",\"k\":\"AAAA\"}",                            /* unknown kty */
        "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}", /* curve */
        "{\"kty\":\"EC\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}",      /* no crv */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"y\":\"" EC_Y "\"}",       /* no x */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\"}",       /* no y */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":1,\"y\":\"" EC_Y "\"}", /* x type */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "=\",\"y\":\"" EC_Y "\"}", /* padding */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"04N0xi21hshyvBp7I167sbE/bXqyqkAPfefdklMO7wY\",\"y\":\"" EC_Y "\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7w\",\"y\":\"" EC_Y "\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgnw\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"d\":\"" ED_D "\"}", /* d mismatch */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"alg\":\"RS256\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"alg\":\"ES384\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"alg\":\"HS256\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"alg\":[\"ES256\"]}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"use\":\"enc\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"use\":1}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"key_ops\":[\"encrypt\"]}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"key_ops\":\"verify\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"key_ops\":[\"verify\",\"verify\"]}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"kid\":5}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"kid\":\"\"}",
        "{\"kty\":\"RSA\",\"e\":\"AQAB\"}",                                             /* no n */
        "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\"}",                                    /* no e */
        "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQ\"}",                       /* e = 1 */
        "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"Ag\"}",                       /* e even */
        "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AAEAAQ\"}",                   /* leading 0 */
        "{\"kty\":\"RSA\",\"n\":\"AA" RFC7638_N "\",\"e\":\"AQAB\"}",                   /* bad b64 len */
        "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"d\":\"AQAB\"}",      /* d without CRT */
        "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"oth\":[]}",          /* multi-prime */
        "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"alg\":\"ES256\"}",   /* alg/kty */
        "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"alg\":\"RS512\"}",   /* not ours */
        "{\"kty\":\"RSA\",\"n\":\"rJBIp6T1YK-RtPyvYqFFlcucqewSAA_IReSFchE8qyiQrbARqRlXWkB2DR8j_pJQnIpYE"
        "LbQWZC5Cd0PTGAU8rMbar2AW6zpmBbi7aQf17lUBdt8XI9M9rq7FPVQ1dDdUXm1SVH_9qqWhvMPR422SbfHBEzCAtzK0"
        "ANDRo6qz78\",\"e\":\"AQAB\"}",                                                 /* 1024 bits */
        "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" ED_X "\"}",                      /* curve */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" EC_X "\",\"d\":\"" ED_D "\"}",  /* d mismatch */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}",                         /* x length */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"alg\":\"ES256\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        jwk *k = NULL;
        idp_err rc = import(bad[i], &k);
        if (rc != IDP_ERR_JOSE_KEY) fail_msg("case %zu accepted or wrong code %d: %s", i, rc, bad[i]);
        assert_null(k);
    }
    /* the same members, well-formed, are accepted */
    jwk *k = NULL;
    assert_int_equal(import("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\","
                            "\"d\":\"" EC_D "\",\"use\":\"sig\",\"key_ops\":[\"sign\",\"verify\"],\"alg\":\"ES256\"}",
                            &k), IDP_OK);
    assert_true(jwk_is_private(k));
    assert_true(jwk_allows(k, JWS_ES256));
    assert_false(jwk_allows(k, JWS_RS256));
    assert_false(jwk_allows(k, JWS_ALG_INVALID));
    jwk_unref(k);
}

static void rsa_private_crt_rules(void **state)
{
    json_t *doc = tu_load_vector_json("jose-cookbook/jwk/3_4.rsa_private_key.json");
    jwk *k = NULL;
    assert_int_equal(jwk_from_json(doc, &k, NULL), IDP_OK);
    assert_true(jwk_is_private(k));
    assert_string_equal(jwk_kid(k), "bilbo.baggins@hobbiton.example");
    jwk_unref(k);
    static const char *const crt[] = {"p", "q", "dp", "dq", "qi"};
    for (int i = 0; i < 5; i++) {
        json_t *c = json_deep_copy(doc);
        json_object_del(c, crt[i]);
        assert_int_equal(jwk_from_json(c, &k, NULL), IDP_ERR_JOSE_KEY);
        json_decref(c);
    }
    /* inconsistent CRT member: swap dp and dq */
    json_t *c = json_deep_copy(doc);
    json_object_set(c, "dp", json_object_get(doc, "dq"));
    assert_int_equal(jwk_from_json(c, &k, NULL), IDP_ERR_JOSE_KEY);
    json_decref(c);
    json_decref(doc);
}

static void rfc7520_keys(void **state)
{
    json_t *doc = tu_load_vector_json("jose-cookbook/jwk/3_1.ec_public_key.json");
    jwk *k = NULL;
    assert_int_equal(jwk_from_json(doc, &k, NULL), IDP_ERR_JOSE_KEY); /* P-521 */
    json_decref(doc);
    doc = tu_load_vector_json("jose-cookbook/jwk/3_2.ec_private_key.json");
    assert_int_equal(jwk_from_json(doc, &k, NULL), IDP_ERR_JOSE_KEY);
    json_decref(doc);
    doc = tu_load_vector_json("jose-cookbook/jwk/3_3.rsa_public_key.json");
    assert_int_equal(jwk_from_json(doc, &k, NULL), IDP_OK);
    assert_string_equal(jwk_kid(k), "bilbo.baggins@hobbiton.example");
    assert_false(jwk_is_private(k));
    /* the public export is the input minus nothing we understand */
    json_t *pub = jwk_to_public_json(k);
    assert_string_equal(jsonx_str(pub, "n"), jsonx_str(doc, "n"));
    assert_string_equal(jsonx_str(pub, "use"), "sig");
    json_decref(pub);
    jwk_unref(k);
    json_decref(doc);
    doc = tu_load_vector_json("jose-cookbook/jwk/3_5.symmetric_key_mac_computation.json");
    assert_int_equal(jwk_from_json(doc, &k, NULL), IDP_ERR_JOSE_KEY);
    json_decref(doc);
}

/* Wycheproof json_web_key_test.json: each group is a key (set) and a token. Valid cases
 * that use HS* are rejections for idpd by policy; everything else must match. */
static void wycheproof_jwk(void **state)
{
    json_t *doc = tu_load_vector_json("wycheproof/testvectors_v1/json_web_key_test.json");
    json_t *groups = json_object_get(doc, "testGroups");
    int ok = 0, rej = 0;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *grp = json_array_get(groups, g), *kj = json_object_get(grp, "public");
        if (!kj) kj = json_object_get(grp, "private");
        char *txt = jsonx_dump(kj);
        jwks *s = NULL;
        idp_err krc = jwks_from_json(txt, strlen(txt), &s, NULL);
        free(txt);
        json_t *tests = json_object_get(grp, "tests");
        for (size_t i = 0; i < json_array_size(tests); i++) {
            json_t *t = json_array_get(tests, i);
            const char *tok = jsonx_str(t, "jws");
            jws_verify_opts o = {.allowed_algs = JWS_ALGS_ALL, .keys = s};
            jws_verified v;
            idp_err rc = krc ? krc : jws_verify(tok, strlen(tok), &o, &v, NULL);
            if (!krc) jws_verified_clear(&v);
            bool hs = strncmp(tok, "eyJhbGciOiJIUz", 14) == 0; /* {"alg":"HS */
            bool want = strcmp(jsonx_str(t, "result"), "valid") == 0 && !hs;
            int64_t id = 0;
            jsonx_int(t, "tcId", &id);
            if ((rc == IDP_OK) != want)
                fail_msg("tcId %lld (%s): got %s", (long long)id, jsonx_str(t, "comment"), idp_err_name(rc));
            (rc == IDP_OK ? ok++ : rej++);
        }
        jwks_unref(s);
    }
    printf("json_web_key_test.json: %d cases, %d accepted, %d rejected\n", ok + rej, ok, rej);
    assert_int_equal(ok, 1);
    json_decref(doc);
}

static void public_json_and_der_roundtrips(void **state)
{
    const jws_alg algs[] = {JWS_ES256, JWS_RS256, JWS_PS256, JWS_EDDSA};
    for (size_t i = 0; i < 4; i++) {
        jwk *k = NULL, *pub = NULL, *back = NULL;
        assert_int_equal(jwk_generate(algs[i], 2048, &k, NULL), IDP_OK);
        assert_true(jwk_is_private(k));
        assert_int_equal(jwk_alg(k), algs[i]);
        json_t *pj = jwk_to_public_json(k);
        assert_null(json_object_get(pj, "d"));
        assert_int_equal(jwk_from_json(pj, &pub, NULL), IDP_OK);
        assert_string_equal(jwk_kid(pub), jwk_kid(k));
        assert_int_equal(jwk_alg(pub), algs[i]);
        assert_false(jwk_is_private(pub));
        unsigned char *der = NULL;
        size_t dl = 0;
        assert_int_equal(jwk_private_to_der(pub, &der, &dl, NULL), IDP_ERR_JOSE_KEY);
        assert_int_equal(jwk_private_to_der(k, &der, &dl, NULL), IDP_OK);
        assert_true(dl > 32 && der[0] == 0x30);
        assert_int_equal(jwk_private_from_der(der, dl, algs[i], &back, NULL), IDP_OK);
        assert_true(jwk_is_private(back));
        assert_string_equal(jwk_kid(back), jwk_kid(k));
        /* a signature by the re-imported key verifies with the exported public key */
        unsigned char sig[JWS_MAX_SIG];
        size_t sl = 0;
        assert_int_equal(jws_sign_raw(algs[i], jwk_pkey(back), "abc", 3, sig, &sl, NULL), IDP_OK);
        assert_int_equal(jws_verify_raw(algs[i], jwk_pkey(pub), "abc", 3, sig, sl, NULL), IDP_OK);
        /* truncated, trailing garbage, wrong alg for the key */
        jwk *bad = NULL;
        assert_int_equal(jwk_private_from_der(der, dl - 1, algs[i], &bad, NULL), IDP_ERR_JOSE_KEY);
        unsigned char *longer = malloc(dl + 1);
        memcpy(longer, der, dl);
        longer[dl] = 0;
        assert_int_equal(jwk_private_from_der(longer, dl + 1, algs[i], &bad, NULL), IDP_ERR_JOSE_KEY);
        jws_alg other = algs[i] == JWS_EDDSA ? JWS_ES256 : JWS_EDDSA;
        assert_int_equal(jwk_private_from_der(der, dl, other, &bad, NULL), IDP_ERR_JOSE_KEY);
        assert_null(bad);
        free(longer);
        mem_wipe(der, dl);
        free(der);
        json_decref(pj);
        jwk_unref(back);
        jwk_unref(pub);
        jwk_unref(k);
    }
    jwk *k = NULL;
    assert_int_equal(jwk_generate(JWS_RS256, 1024, &k, NULL), IDP_ERR_INVALID);
    assert_int_equal(jwk_generate(JWS_ALG_INVALID, 0, &k, NULL), IDP_ERR_JOSE_ALG);
    assert_int_equal(jwk_private_from_der((const unsigned char *)"\x30\x00", 2, JWS_ES256, &k, NULL),
                     IDP_ERR_JOSE_KEY);
}

static void pkey_wrapping(void **state)
{
    jwk *k = NULL, *w = NULL;
    assert_int_equal(jwk_generate(JWS_ES256, 0, &k, NULL), IDP_OK);
    assert_int_equal(jwk_from_pkey(jwk_pkey(k), JWS_ES256, "my-kid", &w, NULL), IDP_OK);
    assert_string_equal(jwk_kid(w), "my-kid");
    assert_true(jwk_is_private(w));
    jwk_unref(k); /* w keeps its own reference to the EVP_PKEY */
    assert_true(EVP_PKEY_is_a(jwk_pkey(w), "EC"));
    jwk *bad = NULL;
    assert_int_equal(jwk_from_pkey(jwk_pkey(w), JWS_RS256, NULL, &bad, NULL), IDP_ERR_JOSE_KEY);
    assert_int_equal(jwk_from_pkey(jwk_pkey(w), JWS_ES256, "", &bad, NULL), IDP_ERR_JOSE_KEY);
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    assert_int_equal(jwk_from_pkey(k1, JWS_ALG_INVALID, NULL, &bad, NULL), IDP_ERR_JOSE_KEY);
    EVP_PKEY_free(k1);
    assert_null(bad);
    assert_ptr_equal(jwk_ref(w), w);
    jwk_unref(w);
    jwk_unref(w);
    jwk_unref(NULL);
}

static void jwks_rules(void **state)
{
    const char *ok = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"kid\":\"a\"},"
                     "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"},"
                     "{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":\"skip1\"},"
                     "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\",\"kid\":\"skip2\"},"
                     "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"use\":\"enc\"},"
                     "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"alg\":\"RSA-OAEP\"}]}";
    jwks *s = NULL;
    assert_int_equal(jwks_from_json(ok, strlen(ok), &s, NULL), IDP_OK);
    assert_int_equal(jwks_count(s), 2);
    assert_non_null(jwks_find(s, "a"));
    assert_non_null(jwks_find(s, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"));
    assert_null(jwks_find(s, "skip1"));
    assert_null(jwks_at(s, 2));
    json_t *pub = jwks_to_public_json(s);
    assert_int_equal(json_array_size(json_object_get(pub, "keys")), 2);
    json_decref(pub);
    /* jwks_add refuses a duplicate kid */
    assert_int_equal(jwks_add(s, (jwk *)jwks_at(s, 0), NULL), IDP_ERR_CONFLICT);
    assert_ptr_equal(jwks_ref(s), s);
    jwks_unref(s);
    jwks_unref(s);
    jwks_unref(NULL);
    static const char *const bad[] = {
        "[]",
        "{\"keys\":{}}",
        "{\"nokeys\":[]}",
        "{\"keys\":[],\"keys\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s = NULL;
        assert_int_equal(jwks_from_json(bad[i], strlen(bad[i]), &s, NULL), IDP_ERR_JOSE_KEY);
        assert_null(s);
    }
}

typedef struct skipped {
    int n;
    char kids[8][32];
    char reasons[8][160];
} skipped;

static void note_skip(void *ctx, size_t index, const char *kid, const char *reason)
{
    skipped *k = ctx;
    if (k->n < 8) {
        snprintf(k->kids[k->n], sizeof k->kids[0], "%zu:%s", index, kid);
        snprintf(k->reasons[k->n], sizeof k->reasons[0], "%s", reason);
    }
    k->n++;
}

/* RFC 7517 §5: unusable members (out-of-range RSA modulus, a bad EC point, not an object, an
 * ambiguous kid) are ignored and reported; the rest of the set is used. */
static void jwks_skips_unusable_members(void **state)
{
    char *weak = NULL; /* a 1024-bit RSA public key */
    {
        EVP_PKEY *pk = EVP_RSA_gen(1024);
        assert_non_null(pk);
        BIGNUM *n = NULL, *e = NULL;
        assert_true(EVP_PKEY_get_bn_param(pk, "n", &n) && EVP_PKEY_get_bn_param(pk, "e", &e));
        unsigned char nb[128], eb[8];
        int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
        char *n64 = b64url_encode(nb, (size_t)nl), *e64 = b64url_encode(eb, (size_t)el);
        size_t cap = 512;
        weak = malloc(cap);
        snprintf(weak, cap, "{\"kty\":\"RSA\",\"kid\":\"weak\",\"n\":\"%s\",\"e\":\"%s\"}", n64, e64);
        free(n64);
        free(e64);
        BN_free(n);
        BN_free(e);
        EVP_PKEY_free(pk);
    }
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"keys\":[%s,"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"kid\":\"good\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"AAAA\",\"kid\":\"badpoint\"},"
             "\"notakey\","
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"kid\":\"twice\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"kid\":\"twice\"}]}",
             weak);
    free(weak);
    skipped k = {0};
    jwks *s = NULL;
    assert_int_equal(jwks_from_json_report(doc, strlen(doc), note_skip, &k, &s, NULL), IDP_OK);
    assert_int_equal(jwks_count(s), 1);
    assert_non_null(jwks_find(s, "good"));
    assert_null(jwks_find(s, "weak"));
    assert_null(jwks_find(s, "twice"));
    assert_int_equal(k.n, 5);
    assert_string_equal(k.kids[0], "0:weak");
    assert_non_null(strstr(k.reasons[0], "1024"));
    assert_string_equal(k.kids[1], "2:badpoint");
    assert_string_equal(k.kids[2], "3:");
    assert_string_equal(k.kids[3], "4:twice");
    assert_string_equal(k.kids[4], "5:twice");
    jwks_unref(s);
    /* only unusable members: an empty set, not an error */
    const char *none = "{\"keys\":[\"notakey\",{\"kty\":\"oct\",\"k\":\"AAAA\"}]}";
    assert_int_equal(jwks_from_json(none, strlen(none), &s, NULL), IDP_OK);
    assert_int_equal(jwks_count(s), 0);
    jwks_unref(s);
}

/* Context templates (internal.h): one per alg the key allows, sign ones only with a private
 * key; a copy signs/verifies like a fresh context. */
static void md_templates(void **state)
{
    jwk *rsa = NULL, *any = NULL, *pub = NULL;
    assert_int_equal(jwk_generate(JWS_RS256, 2048, &rsa, NULL), IDP_OK);
    assert_int_equal(jwk_from_pkey(jwk_pkey(rsa), JWS_ALG_INVALID, "any", &any, NULL), IDP_OK);
    json_t *pj = jwk_to_public_json(rsa);
    assert_int_equal(jwk_from_json(pj, &pub, NULL), IDP_OK);
    json_decref(pj);
    assert_non_null(jwk_md_template(rsa, JWS_RS256, false));
    assert_non_null(jwk_md_template(rsa, JWS_RS256, true));
    assert_null(jwk_md_template(rsa, JWS_PS256, false)); /* the key's own alg is RS256 */
    assert_null(jwk_md_template(rsa, JWS_ES256, false));
    assert_null(jwk_md_template(rsa, JWS_ALG_INVALID, false));
    assert_non_null(jwk_md_template(any, JWS_RS256, true));
    assert_non_null(jwk_md_template(any, JWS_PS256, true));
    assert_non_null(jwk_md_template(pub, JWS_RS256, false));
    assert_null(jwk_md_template(pub, JWS_RS256, true)); /* public key: no signing context */
    /* a copy of the sign template signs, a copy of the public verify template verifies, twice */
    for (int i = 0; i < 2; i++) {
        unsigned char sig[512];
        size_t n = sizeof sig;
        EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
        assert_int_equal(EVP_MD_CTX_copy_ex(s, jwk_md_template(any, JWS_PS256, true)), 1);
        assert_int_equal(EVP_DigestSign(s, sig, &n, (const unsigned char *)"in", 2), 1);
        assert_int_equal(n, 256);
        assert_int_equal(jws_verify_raw(JWS_PS256, jwk_pkey(pub), "in", 2, sig, n, NULL), IDP_OK);
        assert_int_equal(EVP_MD_CTX_copy_ex(v, jwk_md_template(any, JWS_PS256, false)), 1);
        assert_int_equal(EVP_DigestVerify(v, sig, n, (const unsigned char *)"in", 2), 1);
        EVP_MD_CTX_free(s);
        EVP_MD_CTX_free(v);
    }
    jwk_unref(pub);
    jwk_unref(any);
    jwk_unref(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thumbprint_rfc7638),
        cmocka_unit_test(thumbprint_rfc8037),
        cmocka_unit_test(import_rejections),
        cmocka_unit_test(rsa_private_crt_rules),
        cmocka_unit_test(rfc7520_keys),
        cmocka_unit_test(wycheproof_jwk),
        cmocka_unit_test(public_json_and_der_roundtrips),
        cmocka_unit_test(pkey_wrapping),
        cmocka_unit_test(jwks_rules),
        cmocka_unit_test(jwks_skips_unusable_members),
        cmocka_unit_test(md_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
