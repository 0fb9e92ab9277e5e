/* Unit tests for src/verify/token_verify.c: the access-token profile (RFC 9068 §4), audiences,
 * the ID-token-hint options (typ optional, times ignored), the order of the checks, ownership
 * of the claims, and the failure texts. Tokens are signed here with generated keys. */
#include "testutil.h"

#include "core/buf.h"
#include "core/jsonx.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "verify/token_verify.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1700000000
#define ISS "https://idp.example"

static struct {
    jwk *ec, *ed, *other;
    jwks *set;
} fx;

static int setup(void **state)
{
    (void)state;
    if (jwk_generate(JWS_ES256, 0, &fx.ec, NULL) || jwk_generate(JWS_EDDSA, 0, &fx.ed, NULL) ||
        jwk_generate(JWS_ES256, 0, &fx.other, NULL))
        return -1;
    fx.set = jwks_new();
    jwks_add(fx.set, fx.ec, NULL);
    jwks_add(fx.set, fx.ed, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jwks_unref(fx.set);
    jwk_unref(fx.ec);
    jwk_unref(fx.ed);
    jwk_unref(fx.other);
    return 0;
}

/* A compact JWS of payload under k; owned. */
static char *sign(const jwk *k, jws_alg alg, const char *typ, const char *payload)
{
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(jws_sign_compact(k, alg, typ, payload, strlen(payload), &b, NULL), IDP_OK);
    return buf_steal(&b);
}

/* token_verify's code for payload signed by k; checks the claims contract on both outcomes. */
static idp_err run(const jwk *k, jws_alg alg, const char *typ, const char *payload,
                   const token_verify_opts *o)
{
    char *t = sign(k, alg, typ, payload);
    json_t *claims = (json_t *)1; /* overwritten on every path */
    idp_error e = {0};
    idp_err rc = token_verify(t, strlen(t), o, &claims, &e);
    if (rc == IDP_OK) {
        assert_true(json_is_object(claims));
        assert_int_equal(claims->refcount, 1); /* owned by the caller alone */
        json_decref(claims);
    } else {
        assert_null(claims);
        assert_int_equal(e.code, rc);
        assert_null(strstr(e.msg, t)); /* never the token */
    }
    free(t);
    return rc;
}

#define AT_BASE "\"iss\":\"" ISS "\",\"sub\":\"u\",\"aud\":\"api\",\"iat\":1700000000"
#define AT_GOOD "{" AT_BASE ",\"exp\":1700000300,\"jti\":\"j\",\"client_id\":\"c\"}"

static token_verify_opts access_opts(void)
{
    token_verify_opts o = token_verify_access(fx.set, ISS, 0);
    o.now = NOW;
    return o;
}

static void access_profile(void **state)
{
    (void)state;
    token_verify_opts o = access_opts();
    assert_int_equal(o.algs, JWS_ALGS_ALL);
    assert_string_equal(o.typ, "at+jwt");
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", AT_GOOD, &o), IDP_OK);
    assert_int_equal(run(fx.ed, JWS_EDDSA, "application/at+jwt", AT_GOOD, &o), IDP_OK);
    /* RFC 9068 §4: typ at+jwt, nothing else and not absent */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, AT_GOOD, &o), IDP_ERR_JWT_TYP);
    assert_int_equal(run(fx.ec, JWS_ES256, "JWT", AT_GOOD, &o), IDP_ERR_JWT_TYP);
    /* exp, iat, jti, client_id required; client_id a string */
    assert_int_equal(
        run(fx.ec, JWS_ES256, "at+jwt", "{" AT_BASE ",\"jti\":\"j\",\"client_id\":\"c\"}", &o),
        IDP_ERR_JWT_CLAIM);
    assert_int_equal(
        run(fx.ec, JWS_ES256, "at+jwt",
            "{\"iss\":\"" ISS "\",\"exp\":1700000300,\"jti\":\"j\",\"client_id\":\"c\"}", &o),
        IDP_ERR_JWT_CLAIM);
    assert_int_equal(
        run(fx.ec, JWS_ES256, "at+jwt", "{" AT_BASE ",\"exp\":1700000300,\"client_id\":\"c\"}", &o),
        IDP_ERR_JWT_CLAIM);
    assert_int_equal(
        run(fx.ec, JWS_ES256, "at+jwt", "{" AT_BASE ",\"exp\":1700000300,\"jti\":\"j\"}", &o),
        IDP_ERR_JWT_CLAIM);
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt",
                         "{" AT_BASE ",\"exp\":1700000300,\"jti\":\"j\",\"client_id\":7}", &o),
                     IDP_ERR_JWT_CLAIM);
    /* expiry on our own clock, leeway when asked for */
    const char *expired = "{" AT_BASE ",\"exp\":1699999990,\"jti\":\"j\",\"client_id\":\"c\"}";
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", expired, &o), IDP_ERR_JWT_EXPIRED);
    o.leeway = 30;
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", expired, &o), IDP_OK);
    /* another issuer's token */
    o = access_opts();
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt",
                         "{\"iss\":\"https://evil.example\",\"iat\":1700000000,\"exp\":1700000300,"
                         "\"jti\":\"j\",\"client_id\":\"c\"}",
                         &o),
                     IDP_ERR_JWT_ISSUER);
    /* keys only from the set, algs only from the list */
    assert_int_equal(run(fx.other, JWS_ES256, "at+jwt", AT_GOOD, &o), IDP_ERR_JOSE_KEY);
    o.algs = JWS_ALG_BIT(JWS_ES256);
    assert_int_equal(run(fx.ed, JWS_EDDSA, "at+jwt", AT_GOOD, &o), IDP_ERR_JOSE_ALG);
    o.algs = 0;
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", AT_GOOD, &o), IDP_ERR_JOSE_ALG);
    /* no key set at all (none loaded yet) */
    o = access_opts();
    o.keys = NULL;
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", AT_GOOD, &o), IDP_ERR_JOSE_KEY);
}

static void claims_returned(void **state)
{
    (void)state;
    token_verify_opts o = access_opts();
    char *t = sign(fx.ec, JWS_ES256, "at+jwt", AT_GOOD);
    json_t *c = NULL;
    assert_int_equal(token_verify(t, strlen(t), &o, &c, NULL), IDP_OK);
    assert_string_equal(jsonx_str(c, "client_id"), "c");
    assert_string_equal(jsonx_str(c, "sub"), "u");
    assert_int_equal(json_object_size(c), 7);
    json_decref(c);
    /* a tampered signature, and a truncated token */
    t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(token_verify(t, strlen(t), &o, &c, NULL), IDP_ERR_JOSE_SIGNATURE);
    assert_null(c);
    assert_int_equal(token_verify(t, 10, &o, &c, NULL), IDP_ERR_JOSE_FORMAT);
    assert_null(c);
    free(t);
}

static void audiences(void **state)
{
    (void)state;
    static const char *const one[] = {"api"}, *const two[] = {"x", "y"};
    token_verify_opts o = {.keys = fx.set,
                           .algs = JWS_ALGS_ALL,
                           .issuer = ISS,
                           .audiences = one,
                           .naudiences = 1,
                           .now = NOW,
                           .require_exp = true};
    const char *arr = "{\"iss\":\"" ISS "\",\"aud\":[\"y\",\"api\"],\"exp\":1700000300}";
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, AT_GOOD, &o), IDP_OK);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, arr, &o), IDP_OK);
    o.audiences = two;
    o.naudiences = 2;
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, AT_GOOD, &o), IDP_ERR_JWT_AUDIENCE);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, arr, &o), IDP_OK); /* "y" */
    /* a token without aud when one is expected */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{\"iss\":\"" ISS "\",\"exp\":1700000300}", &o),
                     IDP_ERR_JWT_CLAIM);
    /* require_exp alone: exp present */
    o.naudiences = 0;
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{\"iss\":\"" ISS "\"}", &o), IDP_ERR_JWT_CLAIM);
}

/* The options of the logout id_token_hint: typ absent or JWT, any age, sub required. */
static void id_token_hint(void **state)
{
    (void)state;
    token_verify_opts o = {.keys = fx.set,
                           .algs = JWS_ALGS_ALL,
                           .typ = "JWT",
                           .typ_optional = true,
                           .issuer = ISS,
                           .ignore_times = true,
                           .require_sub = true};
    const char *old = "{\"iss\":\"" ISS "\",\"sub\":\"u\",\"aud\":\"c\",\"exp\":1,\"iat\":1}";
    assert_int_equal(run(fx.ec, JWS_ES256, "JWT", old, &o), IDP_OK);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, old, &o), IDP_OK);
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", old, &o), IDP_ERR_JWT_TYP);
    assert_int_equal(run(fx.ec, JWS_ES256, "logout+jwt", old, &o), IDP_ERR_JWT_TYP);
    assert_int_equal(run(fx.ec, JWS_ES256, "JWT", "{\"iss\":\"" ISS "\",\"aud\":\"c\"}", &o),
                     IDP_ERR_JWT_CLAIM);
    assert_int_equal(
        run(fx.ec, JWS_ES256, "JWT", "{\"iss\":\"https://evil.example\",\"sub\":\"u\"}", &o),
        IDP_ERR_JWT_ISSUER);
    assert_int_equal(run(fx.other, JWS_ES256, "JWT", old, &o), IDP_ERR_JOSE_KEY);
}

/* Header and signature come before any claim: a forged token is never judged on its claims. */
static void check_order(void **state)
{
    (void)state;
    token_verify_opts o = access_opts();
    const char *bad = "{\"iss\":\"https://evil.example\",\"exp\":1}";
    assert_int_equal(run(fx.ec, JWS_ES256, "JWT", bad, &o), IDP_ERR_JWT_TYP);
    assert_int_equal(run(fx.other, JWS_ES256, "at+jwt", bad, &o), IDP_ERR_JOSE_KEY);
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", bad, &o), IDP_ERR_JWT_EXPIRED);
    /* client_id is checked last */
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt",
                         "{\"iss\":\"https://evil.example\",\"iat\":1700000000,\"exp\":1800000000,"
                         "\"jti\":\"j\"}",
                         &o),
                     IDP_ERR_JWT_ISSUER);
}

static void reasons(void **state)
{
    (void)state;
    assert_string_equal(token_verify_reason(IDP_ERR_JOSE_SIGNATURE), "signature did not verify");
    assert_string_equal(token_verify_reason(IDP_ERR_JWT_EXPIRED), "token expired");
    assert_string_equal(token_verify_reason(IDP_ERR_JWT_NOT_YET_VALID), "token not yet valid");
    assert_string_equal(token_verify_reason(IDP_ERR_JWT_ISSUER), "issuer mismatch");
    assert_string_equal(token_verify_reason(IDP_ERR_JWT_AUDIENCE), "audience mismatch");
    assert_string_equal(token_verify_reason(IDP_ERR_JWT_TYP), "typ mismatch");
    assert_string_equal(token_verify_reason(IDP_ERR_JOSE_ALG), "algorithm not allowed");
    assert_string_equal(token_verify_reason(IDP_ERR_JOSE_KEY), "no usable key for this token");
    assert_string_equal(token_verify_reason(IDP_ERR_JOSE_CRIT), "unsupported critical header");
    assert_string_equal(token_verify_reason(IDP_ERR_JOSE_FORMAT), "malformed token");
    assert_string_equal(token_verify_reason(IDP_ERR_B64), "malformed token");
    assert_string_equal(token_verify_reason(IDP_ERR_JSON), "malformed token");
    assert_string_equal(token_verify_reason(IDP_ERR_TOO_LARGE), "token too large");
    assert_string_equal(token_verify_reason(IDP_ERR_JWT_CLAIM), "missing or malformed claim");
    assert_string_equal(token_verify_reason(IDP_ERR_CRYPTO), "verification failed");
    assert_string_equal(token_verify_reason(IDP_OK), "verification failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(access_profile), cmocka_unit_test(claims_returned),
        cmocka_unit_test(audiences),      cmocka_unit_test(id_token_hint),
        cmocka_unit_test(check_order),    cmocka_unit_test(reasons),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
