/* Unit tests for src/jose/jwt.c: one test per claim rule of jwt.h, and jwt_verify end to end. */
#include "testutil.h"

#include "core/buf.h"
#include "core/jsonx.h"
#include "jose/jwk.h"
#include "jose/jwt.h"

#include <stdio.h>
#include <string.h>

#define NOW 1700000000

static idp_err check(const char *claims, jwt_check_opts o)
{
    json_t *p = NULL;
    if (jsonx_parse(claims, strlen(claims), 0, 0, false, &p, NULL)) fail_msg("bad JSON %s", claims);
    idp_error e = {0};
    idp_err rc = jwt_check_claims(p, &o, &e);
    if (rc) assert_int_equal(e.code, rc);
    json_decref(p);
    return rc;
}

static const char *const api_aud[] = {"api"};
static const jwt_check_opts base = {.issuer = "https://idp.example", .audiences = api_aud,
                                    .naudiences = 1, .now = NOW,
                                    .require_exp = true};

#define GOOD "\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1700000300,\"iat\":1700000000"

static void valid_claims(void **state)
{
    assert_int_equal(check("{" GOOD "}", base), IDP_OK);
    assert_int_equal(check("{" GOOD ",\"nbf\":1700000000,\"jti\":\"j\",\"sub\":\"s\"}", base), IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":[\"x\",\"api\"],\"exp\":1700000300.5}",
                           base), IDP_OK);
    jwt_check_opts o = {.now = NOW}; /* nothing required, nothing configured */
    assert_int_equal(check("{}", o), IDP_OK);
    assert_int_equal(check("[]", o), IDP_ERR_JWT_CLAIM);
}

static void exp_rules(void **state)
{
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1699999999}", base),
                     IDP_ERR_JWT_EXPIRED);
    /* RFC 7519 §4.1.4: "on or after" */
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1700000000}", base),
                     IDP_ERR_JWT_EXPIRED);
    jwt_check_opts o = base;
    o.leeway = 30;
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1699999990}", o), IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1699999970}", o),
                     IDP_ERR_JWT_EXPIRED);
    /* wrong type, missing when required */
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":\"1800000000\"}", base),
                     IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":true}", base),
                     IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\"}", base), IDP_ERR_JWT_CLAIM);
}

static void nbf_iat_rules(void **state)
{
    assert_int_equal(check("{" GOOD ",\"nbf\":1700000100}", base), IDP_ERR_JWT_NOT_YET_VALID);
    assert_int_equal(check("{" GOOD ",\"nbf\":\"soon\"}", base), IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1700000300,"
                           "\"iat\":1700000100}", base), IDP_ERR_JWT_NOT_YET_VALID);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1700000300,"
                           "\"iat\":null}", base), IDP_ERR_JWT_CLAIM);
    jwt_check_opts o = base;
    o.leeway = 120;
    assert_int_equal(check("{" GOOD ",\"nbf\":1700000100}", o), IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1700000300,"
                           "\"iat\":1700000100}", o), IDP_OK);
    o.leeway = 0;
    o.max_iat_future = 200;
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1700000300,"
                           "\"iat\":1700000100}", o), IDP_OK);
    o.require_iat = true;
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1700000300}", o),
                     IDP_ERR_JWT_CLAIM);
}

static void iss_rules(void **state)
{
    assert_int_equal(check("{\"iss\":\"https://evil.example\",\"aud\":\"api\",\"exp\":1700000300}", base),
                     IDP_ERR_JWT_ISSUER);
    assert_int_equal(check("{\"iss\":\"https://IDP.example\",\"aud\":\"api\",\"exp\":1700000300}", base),
                     IDP_ERR_JWT_ISSUER);
    assert_int_equal(check("{\"iss\":[\"https://idp.example\"],\"aud\":\"api\",\"exp\":1700000300}", base),
                     IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{\"aud\":\"api\",\"exp\":1700000300}", base), IDP_ERR_JWT_CLAIM);
    jwt_check_opts o = {.now = NOW};
    assert_int_equal(check("{\"iss\":5}", o), IDP_ERR_JWT_CLAIM); /* type checked even unconfigured */
}

static void aud_rules(void **state)
{
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"other\",\"exp\":1700000300}", base),
                     IDP_ERR_JWT_AUDIENCE);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":[\"a\",\"b\"],\"exp\":1700000300}", base),
                     IDP_ERR_JWT_AUDIENCE);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":[],\"exp\":1700000300}", base),
                     IDP_ERR_JWT_AUDIENCE);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":7,\"exp\":1700000300}", base),
                     IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":{\"api\":1},\"exp\":1700000300}", base),
                     IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":[\"api\",3],\"exp\":1700000300}", base),
                     IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"exp\":1700000300}", base), IDP_ERR_JWT_CLAIM);
    /* several accepted audiences: any one of them is enough */
    static const char *const two[] = {"api", "other"};
    jwt_check_opts o = base;
    o.audiences = two;
    o.naudiences = 2;
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"other\",\"exp\":1700000300}", o),
                     IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":[\"x\",\"api\"],\"exp\":1700000300}", o),
                     IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":[\"x\",\"y\"],\"exp\":1700000300}", o),
                     IDP_ERR_JWT_AUDIENCE);
    /* none configured: not checked, but still typed */
    o.naudiences = 0;
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"x\",\"exp\":1700000300}", o), IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"exp\":1700000300}", o), IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":1,\"exp\":1700000300}", o),
                     IDP_ERR_JWT_CLAIM);
}

static void other_claims(void **state)
{
    jwt_check_opts o = base;
    o.require_jti = true;
    assert_int_equal(check("{" GOOD "}", o), IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{" GOOD ",\"jti\":1}", o), IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{" GOOD ",\"jti\":\"x\"}", o), IDP_OK);
    assert_int_equal(check("{" GOOD ",\"sub\":42}", base), IDP_ERR_JWT_CLAIM);
    o = base;
    o.require_sub = true;
    assert_int_equal(check("{" GOOD "}", o), IDP_ERR_JWT_CLAIM);
    assert_int_equal(check("{" GOOD ",\"sub\":\"s\"}", o), IDP_OK);
}

/* ignore_times: exp, nbf and iat are neither checked nor required, the rest still is. */
static void times_ignored(void **state)
{
    jwt_check_opts o = base;
    o.ignore_times = true;
    o.require_iat = true;
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1}", o), IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\"}", o), IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"nbf\":1800000000,"
                           "\"iat\":1800000000}", o), IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":\"never\"}", o),
                     IDP_OK);
    assert_int_equal(check("{\"iss\":\"https://evil.example\",\"aud\":\"api\",\"exp\":1}", o),
                     IDP_ERR_JWT_ISSUER);
    assert_int_equal(check("{\"iss\":\"https://idp.example\",\"aud\":\"x\",\"exp\":1}", o),
                     IDP_ERR_JWT_AUDIENCE);
}

/* Checks run in the documented order: exp before iss before aud. */
static void check_order(void **state)
{
    assert_int_equal(check("{\"iss\":\"bad\",\"aud\":\"bad\",\"exp\":1}", base), IDP_ERR_JWT_EXPIRED);
    assert_int_equal(check("{\"iss\":\"bad\",\"aud\":\"bad\",\"exp\":1800000000}", base), IDP_ERR_JWT_ISSUER);
}

static void jwt_verify_end_to_end(void **state)
{
    jwk *k = NULL;
    assert_int_equal(jwk_generate(JWS_ES256, 0, &k, NULL), IDP_OK);
    jwks *s = jwks_new();
    assert_int_equal(jwks_add(s, k, NULL), IDP_OK);
    const char *claims[] = {"{" GOOD ",\"sub\":\"u\"}",
                            "{\"iss\":\"https://idp.example\",\"aud\":\"api\",\"exp\":1}", "[1]"};
    idp_err want[] = {IDP_OK, IDP_ERR_JWT_EXPIRED, IDP_ERR_JOSE_FORMAT};
    for (int i = 0; i < 3; i++) {
        idp_buf b;
        buf_init(&b, 0);
        assert_int_equal(jws_sign_compact(k, JWS_ES256, "at+jwt", claims[i], strlen(claims[i]), &b, NULL),
                         IDP_OK);
        /* payload_json is forced on even when the caller leaves it off */
        jws_verify_opts vo = {.allowed_algs = JWS_ALG_BIT(JWS_ES256), .keys = s, .typ = "at+jwt"};
        jws_verified v;
        assert_int_equal(jwt_verify(b.data, b.len, &vo, &base, &v, NULL), want[i]);
        if (want[i] == IDP_OK) {
            assert_string_equal(jsonx_str(v.payload, "sub"), "u");
            assert_ptr_equal(v.key, k);
        } else {
            assert_null(v.payload);
            assert_null(v.header);
        }
        jws_verified_clear(&v);
        buf_free(&b);
    }
    jwks_unref(s);
    jwk_unref(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_claims),  cmocka_unit_test(exp_rules),   cmocka_unit_test(nbf_iat_rules),
        cmocka_unit_test(iss_rules),     cmocka_unit_test(aud_rules),   cmocka_unit_test(other_claims),
        cmocka_unit_test(times_ignored),
        cmocka_unit_test(check_order),   cmocka_unit_test(jwt_verify_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
