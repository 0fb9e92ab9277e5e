/* Unit tests for src/proto/client_assertion.c (RFC 7523 §3, OIDC Core §9 private_key_jwt):
 * valid ES256, RS256, PS256 and EdDSA assertions, and one negative test per rejection rule. */
#include "testutil.h"

#include "core/b64url.h"
#include "core/buf.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "proto/client_assertion.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000
#define CID "c_test"
#define TOKEN_URL "https://idp.example/token"
#define ISSUER "https://idp.example"

static const char *const auds[] = {TOKEN_URL, ISSUER};

/* Client keys (private, as the client holds them) and the public JWKS JSON registered for it. */
static jwk *es, *rs, *ps, *ed, *other;
static char *jwks_json;

static int setup(void **state)
{
    if (jwk_generate(JWS_ES256, 0, &es, NULL) || jwk_generate(JWS_RS256, 2048, &rs, NULL) ||
        jwk_generate(JWS_PS256, 2048, &ps, NULL) || jwk_generate(JWS_EDDSA, 0, &ed, NULL) ||
        jwk_generate(JWS_ES256, 0, &other, NULL))
        return -1;
    jwks *s = jwks_new();
    if (jwks_add(s, es, NULL) || jwks_add(s, rs, NULL) || jwks_add(s, ps, NULL) ||
        jwks_add(s, ed, NULL))
        return -1;
    json_t *j = jwks_to_public_json(s);
    jwks_json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    jwks_unref(s);
    return jwks_json && !strstr(jwks_json, "\"d\"") ? 0 : -1;
}

static int teardown(void **state)
{
    jwk_unref(es), jwk_unref(rs), jwk_unref(ps), jwk_unref(ed), jwk_unref(other);
    free(jwks_json);
    return 0;
}

/* Good claims; tests change or delete members. Owned. */
static json_t *claims(void)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", CID, "sub", CID, "aud", TOKEN_URL,
                     "exp", (json_int_t)(NOW + 60), "iat", (json_int_t)NOW, "jti", "jti-1");
}

/* A compact JWS of claims (consumed) signed by k with alg. Owned. */
static char *mint(const jwk *k, jws_alg alg, json_t *c)
{
    char *p = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    if (jws_sign_compact(k, alg, "JWT", p, strlen(p), &b, &e)) fail_msg("sign: %s", e.msg);
    free(p);
    return buf_steal(&b);
}

/* A JWS with a hand-written header: signed by k (or, for HS256, HMAC'd with hmac_key; or, with
 * neither, an empty signature). Owned. */
static char *mint_raw(const char *header, json_t *c, const jwk *k, jws_alg alg,
                      const char *hmac_key)
{
    char *p = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    idp_buf b;
    buf_init(&b, 0);
    b64url_encode_buf(&b, header, strlen(header));
    buf_putc(&b, '.');
    b64url_encode_buf(&b, p, strlen(p));
    unsigned char sig[JWS_MAX_SIG];
    size_t n = 0;
    if (k) {
        assert_int_equal(jws_sign_raw(alg, jwk_pkey(k), b.data, b.len, sig, &n, NULL), IDP_OK);
    } else if (hmac_key) {
        unsigned int l = 0;
        assert_non_null(HMAC(EVP_sha256(), hmac_key, (int)strlen(hmac_key), (unsigned char *)b.data,
                             b.len, sig, &l));
        n = l;
    }
    buf_putc(&b, '.');
    b64url_encode_buf(&b, sig, n);
    free(p);
    return buf_steal(&b);
}

static idp_err verify(const char *a, const char *expected, client_assertion_result *r, idp_error *e)
{
    return client_assertion_verify(a, jwks_json, expected, auds, 2, NOW, 30, 600, r, e);
}

static void expect_reject(char *a, const char *why)
{
    client_assertion_result r;
    idp_error e = {0};
    idp_err rc = verify(a, NULL, &r, &e);
    if (rc != IDP_ERR_OAUTH_INVALID_CLIENT)
        fail_msg("%s: got %s (%s)", why, idp_err_name(rc), e.msg);
    if (!strstr(e.msg, why)) fail_msg("message '%s' lacks '%s'", e.msg, why);
    assert_string_equal(r.client_id, ""); /* zeroed on failure */
    free(a);
}

static void valid_each_alg(void **state)
{
    const struct {
        jwk *k;
        jws_alg alg;
    } cases[] = {{es, JWS_ES256}, {rs, JWS_RS256}, {ps, JWS_PS256}, {ed, JWS_EDDSA}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *a = mint(cases[i].k, cases[i].alg, claims());
        client_assertion_result r;
        idp_error e = {0};
        if (verify(a, NULL, &r, &e)) fail_msg("%s rejected: %s", jws_alg_name(cases[i].alg), e.msg);
        assert_string_equal(r.client_id, CID);
        assert_string_equal(r.jti, "jti-1");
        assert_int_equal(r.exp, NOW + 60);
        assert_int_equal(r.alg, cases[i].alg);
        /* with the expected client given */
        assert_int_equal(verify(a, CID, &r, &e), IDP_OK);
        free(a);
    }
}

static void valid_variants(void **state)
{
    client_assertion_result r;
    idp_error e = {0};
    /* aud: the issuer, or an array with one accepted item */
    json_t *c = claims();
    json_object_set_new(c, "aud", json_string(ISSUER));
    char *a = mint(es, JWS_ES256, c);
    assert_int_equal(verify(a, NULL, &r, &e), IDP_OK);
    free(a);
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s, s]", "https://other.example", TOKEN_URL));
    a = mint(es, JWS_ES256, c);
    assert_int_equal(verify(a, NULL, &r, &e), IDP_OK);
    free(a);
    /* no kid: the only key fitting the alg is used; no iat; exp within leeway; exp exactly at
     * the lifetime bound */
    c = claims();
    json_object_del(c, "iat");
    json_object_set_new(c, "exp", json_integer(NOW + 600));
    a = mint_raw("{\"alg\":\"EdDSA\"}", c, ed, JWS_EDDSA, NULL);
    if (verify(a, NULL, &r, &e)) fail_msg("rejected: %s", e.msg);
    free(a);
    c = claims();
    json_object_set_new(c, "exp", json_integer(NOW - 10)); /* leeway 30 */
    a = mint(es, JWS_ES256, c);
    assert_int_equal(verify(a, NULL, &r, &e), IDP_OK);
    free(a);
    /* a parsed key set; max_lifetime 0 = the default (600) */
    jwks *ks = NULL;
    assert_int_equal(jwks_from_json(jwks_json, strlen(jwks_json), &ks, NULL), IDP_OK);
    c = claims();
    json_object_set_new(c, "exp", json_integer(NOW + 600));
    a = mint(es, JWS_ES256, c);
    assert_int_equal(client_assertion_verify_keys(a, ks, CID, auds, 2, NOW, 0, 0, &r, &e), IDP_OK);
    free(a);
    c = claims();
    json_object_set_new(c, "exp", json_integer(NOW + 601));
    a = mint(es, JWS_ES256, c);
    assert_int_equal(client_assertion_verify_keys(a, ks, CID, auds, 2, NOW, 0, 0, &r, &e),
                     IDP_ERR_OAUTH_INVALID_CLIENT);
    free(a);
    jwks_unref(ks);
}

static void rejects_claims(void **state)
{
    json_t *c;
    c = claims(), json_object_set_new(c, "aud", json_string("https://evil.example/token"));
    expect_reject(mint(es, JWS_ES256, c), "aud must be");
    c = claims(), json_object_set_new(c, "aud", json_pack("[s]", "https://idp.example/"));
    expect_reject(mint(es, JWS_ES256, c), "aud must be");
    c = claims(), json_object_set_new(c, "aud", json_pack("[s, i]", TOKEN_URL, 1));
    expect_reject(mint(es, JWS_ES256, c), "non-string");
    c = claims(), json_object_del(c, "aud");
    expect_reject(mint(es, JWS_ES256, c), "needs an aud");
    c = claims(), json_object_set_new(c, "sub", json_string("c_other"));
    expect_reject(mint(es, JWS_ES256, c), "iss and sub must both be");
    c = claims(), json_object_del(c, "sub");
    expect_reject(mint(es, JWS_ES256, c), "needs iss and sub");
    c = claims(), json_object_del(c, "iss");
    expect_reject(mint(es, JWS_ES256, c), "needs iss and sub");
    c = claims(), json_object_set_new(c, "iss", json_integer(5));
    expect_reject(mint(es, JWS_ES256, c), "iss is not a string");
    c = claims(), json_object_set_new(c, "iss", json_string("c\x01x")),
    json_object_set_new(c, "sub", json_string("c\x01x"));
    expect_reject(mint(es, JWS_ES256, c), "not a valid client_id");
    c = claims(), json_object_set_new(c, "iss", json_string("")),
    json_object_set_new(c, "sub", json_string(""));
    expect_reject(mint(es, JWS_ES256, c), "not a valid client_id");
    c = claims(), json_object_del(c, "jti");
    expect_reject(mint(es, JWS_ES256, c), "jti missing");
    c = claims(), json_object_set_new(c, "jti", json_string(""));
    expect_reject(mint(es, JWS_ES256, c), "jti must be");
    char long_jti[CLIENT_ASSERTION_MAX_JTI + 2];
    memset(long_jti, 'j', sizeof long_jti - 1);
    long_jti[sizeof long_jti - 1] = '\0';
    c = claims(), json_object_set_new(c, "jti", json_string(long_jti));
    expect_reject(mint(es, JWS_ES256, c), "jti must be");
    c = claims(), json_object_set_new(c, "exp", json_integer(NOW - 30)); /* now >= exp + leeway */
    expect_reject(mint(es, JWS_ES256, c), "expired");
    c = claims(), json_object_del(c, "exp");
    expect_reject(mint(es, JWS_ES256, c), "exp missing");
    c = claims(), json_object_set_new(c, "exp", json_string("soon"));
    expect_reject(mint(es, JWS_ES256, c), "exp is not a number");
    c = claims(), json_object_set_new(c, "exp", json_integer(NOW + 601));
    expect_reject(mint(es, JWS_ES256, c), "too far in the future");
    c = claims(), json_object_set_new(c, "exp", json_real(1e300));
    expect_reject(mint(es, JWS_ES256, c), "too far in the future");
    c = claims(), json_object_set_new(c, "nbf", json_integer(NOW + 31));
    expect_reject(mint(es, JWS_ES256, c), "not yet valid");
    c = claims(), json_object_set_new(c, "iat", json_integer(NOW + 31));
    expect_reject(mint(es, JWS_ES256, c), "not yet valid");
    /* the expected client is not the issuer */
    client_assertion_result r;
    idp_error e = {0};
    char *a = mint(es, JWS_ES256, claims());
    assert_int_equal(verify(a, "c_other", &r, &e), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_non_null(strstr(e.msg, "not the authenticating client"));
    free(a);
}

static void rejects_keys_and_algs(void **state)
{
    char hdr[256];
    /* signed by a key the client did not register (its own kid is unknown) */
    expect_reject(mint(other, JWS_ES256, claims()), "no registered client key");
    /* ... or claiming the kid of a registered key */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", jwk_kid(es));
    expect_reject(mint_raw(hdr, claims(), other, JWS_ES256, NULL), "signature did not verify");
    /* alg none, with and without a signature part */
    expect_reject(mint_raw("{\"alg\":\"none\"}", claims(), NULL, JWS_ALG_INVALID, NULL),
                  "well-formed");
    expect_reject(mint_raw("{\"alg\":\"none\"}", claims(), NULL, JWS_ALG_INVALID, "x"),
                  "alg is not allowed");
    /* HS256 keyed with the public JWKS text (key confusion) */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", jwk_kid(rs));
    expect_reject(mint_raw(hdr, claims(), NULL, JWS_ALG_INVALID, jwks_json), "alg is not allowed");
    /* alg of another key than the kid's (ES256 header, RSA key's kid) */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", jwk_kid(rs));
    expect_reject(mint_raw(hdr, claims(), es, JWS_ES256, NULL), "no registered client key");
    /* an unsupported critical header */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"x\"],\"x\":1}",
             jwk_kid(es));
    expect_reject(mint_raw(hdr, claims(), es, JWS_ES256, NULL), "critical header");
    /* a tampered payload */
    char *a = mint(es, JWS_ES256, claims());
    char *dot = strchr(a, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    client_assertion_result r;
    idp_error e = {0};
    assert_int_equal(verify(a, NULL, &r, &e), IDP_ERR_OAUTH_INVALID_CLIENT);
    free(a);
}

static void rejects_input(void **state)
{
    client_assertion_result r;
    idp_error e = {0};
    assert_int_equal(verify(NULL, NULL, &r, &e), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_non_null(strstr(e.msg, "missing"));
    assert_int_equal(verify("", NULL, &r, &e), IDP_ERR_OAUTH_INVALID_CLIENT);
    expect_reject(strdup("a.b"), "well-formed");
    expect_reject(strdup("a.b.c.d"), "well-formed");
    expect_reject(strdup("!!!.b.c"), "well-formed");
    char *big = malloc(CLIENT_ASSERTION_MAX_LEN + 2);
    memset(big, 'a', CLIENT_ASSERTION_MAX_LEN + 1);
    big[CLIENT_ASSERTION_MAX_LEN + 1] = '\0';
    expect_reject(big, "too long");
    /* no audience configured is a server fault */
    char *a = mint(es, JWS_ES256, claims());
    assert_int_equal(client_assertion_verify(a, jwks_json, NULL, auds, 0, NOW, 0, 600, &r, &e),
                     IDP_ERR_INTERNAL);
    /* bad JWKS */
    const char *bad_jwks[] = {
        NULL,
        "",
        "not json",
        "{}",
        "{\"keys\":[]}",
        "{\"keys\":{}}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", /* unknown kty skipped: empty */
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}", /* malformed */
    };
    for (size_t i = 0; i < sizeof bad_jwks / sizeof bad_jwks[0]; i++) {
        idp_err rc = client_assertion_verify(a, bad_jwks[i], NULL, auds, 2, NOW, 0, 600, &r, &e);
        if (rc != IDP_ERR_OAUTH_INVALID_CLIENT) fail_msg("JWKS %zu accepted", i);
        if (!strstr(e.msg, "JWKS") && !strstr(e.msg, "no registered public keys"))
            fail_msg("JWKS %zu: message '%s'", i, e.msg);
    }
    assert_int_equal(client_assertion_verify_keys(a, NULL, NULL, auds, 2, NOW, 0, 600, &r, &e),
                     IDP_ERR_OAUTH_INVALID_CLIENT);
    free(a);
}

static void peek_iss(void **state)
{
    char iss[CLIENT_ASSERTION_MAX_ID + 1];
    idp_error e = {0};
    char *a = mint(other, JWS_ES256, claims()); /* not verified: any key */
    assert_int_equal(client_assertion_peek_iss(a, iss, &e), IDP_OK);
    assert_string_equal(iss, CID);
    free(a);
    json_t *c = claims();
    json_object_del(c, "iss");
    a = mint(es, JWS_ES256, c);
    assert_int_equal(client_assertion_peek_iss(a, iss, &e), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_string_equal(iss, "");
    free(a);
    c = claims();
    json_object_set_new(c, "iss", json_string("a\nb"));
    a = mint(es, JWS_ES256, c);
    assert_int_equal(client_assertion_peek_iss(a, iss, &e), IDP_ERR_OAUTH_INVALID_CLIENT);
    free(a);
    const char *bad[] = {NULL,      "",        "a.b",
                         "a.b.c.d", "x.!!!.y", "x.bm90IGpzb24.y" /* "not json" */,
                         "x.WzFd.y" /* [1] */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (client_assertion_peek_iss(bad[i], iss, &e) != IDP_ERR_OAUTH_INVALID_CLIENT)
            fail_msg("peek accepted %zu", i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_each_alg), cmocka_unit_test(valid_variants),
        cmocka_unit_test(rejects_claims), cmocka_unit_test(rejects_keys_and_algs),
        cmocka_unit_test(rejects_input),  cmocka_unit_test(peek_iss),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
