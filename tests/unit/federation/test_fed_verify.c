/* Unit tests for src/federation/fed_verify.c: every step of the validation order with its reason,
 * that the first failure wins, that an unknown issuer never reaches the key callback, that keys
 * come only from the issuer's set, and what a success hands back. Tokens are signed here. */
#include "testutil.h"

#include "core/b64url.h"
#include "core/buf.h"
#include "federation/fed_verify.h"
#include "jose/jwk.h"
#include "jose/jws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000
#define UP "https://login.partner.example"

static const char doc[] =
    "version: 1\n"
    "claim_namespace: idpd_\n"
    "permissions: {p.read: Read}\n"
    "roles: {viewer: {permissions: [p.read]}}\n"
    "federation:\n"
    "  issuers:\n"
    "    - name: partner\n"
    "      issuer: " UP "\n"
    "      jwks_uri: " UP "/keys\n"
    "      algorithms: [ES256]\n"
    "      audiences: [https://idpd.example]\n"
    "      require: {hd: corp.example}\n"
    "      typ: at+jwt\n"
    "      jwt_bearer: {clients: [svc-a], max_lifetime: 300s}\n"
    "      provision: jit\n"
    "      login: {client_id: idpd-at-partner, client_secret_file: /nonexistent, scopes: [openid]}\n"
    "    - name: ci\n"
    "      issuer: https://ci.example\n"
    "      jwks_uri: https://ci.example/keys\n"
    "      algorithms: [EdDSA]\n"
    "      audiences: [https://idpd.example]\n"
    "      subject_claim: repo\n";

static struct {
    policy *p;
    jwk *ec, *ed, *stranger;
    jwks *set;      /* partner's published keys: ec and ed (ed does not fit ES256) */
    int key_calls;  /* how often the key callback ran */
    idp_err key_rc; /* what it answers */
} fx;

static idp_err keys_cb(void *ctx, const fed_issuer *is, const char *kid, jwks **out, idp_error *err)
{
    (void)ctx;
    (void)kid;
    fx.key_calls++;
    *out = NULL;
    if (fx.key_rc != IDP_OK) return IDP_FAIL(err, fx.key_rc, "keys of %s unavailable", is->name);
    *out = jwks_ref(fx.set);
    return IDP_OK;
}

static int setup(void **state)
{
    (void)state;
    idp_error e = {0};
    if (policy_load(doc, strlen(doc), NULL, &fx.p, NULL, &e) != IDP_OK) {
        fprintf(stderr, "policy: %s\n", e.msg);
        return -1;
    }
    if (jwk_generate(JWS_ES256, 0, &fx.ec, NULL) || jwk_generate(JWS_EDDSA, 0, &fx.ed, NULL) ||
        jwk_generate(JWS_ES256, 0, &fx.stranger, NULL))
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
    jwk_unref(fx.stranger);
    policy_free(fx.p);
    return 0;
}

static char *sign(const jwk *k, jws_alg alg, const char *typ, const char *payload)
{
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(jws_sign_compact(k, alg, typ, payload, strlen(payload), &b, NULL), IDP_OK);
    return buf_steal(&b);
}

/* A hand-made compact JWS with the given header (signature bytes are garbage). */
static char *forge(const char *header, const char *payload)
{
    idp_buf b;
    buf_init(&b, 0);
    b64url_encode_buf(&b, header, strlen(header));
    buf_append(&b, ".", 1);
    b64url_encode_buf(&b, payload, strlen(payload));
    buf_append(&b, ".AAAA", 5);
    return buf_steal(&b);
}

static fed_reason run_tok(const char *t, fed_use use, idp_err *rcp)
{
    fed_verify_in in = {.token = t, .len = strlen(t), .use = use, .policy = fx.p, .keys = keys_cb,
                        .now = NOW};
    const char *assertion_aud[] = {"https://idpd.example", "https://idpd.example/token"};
    if (use == FED_USE_ASSERTION) in.audiences = assertion_aud, in.naudiences = 2;
    fed_verified v;
    fed_reason why = (fed_reason)-1;
    idp_error e = {0};
    idp_err rc = fed_verify(&in, &v, &why, &e);
    if (rc == IDP_OK) {
        assert_int_equal(why, FED_ACCEPTED);
        assert_non_null(v.is);
        assert_non_null(v.subject);
        fed_verify_clear(&v);
    } else {
        assert_null(v.claims);
        assert_int_equal(e.code, rc);
        if (*t) assert_null(strstr(e.msg, t)); /* never the token */
        assert_true(why != FED_ACCEPTED);
    }
    if (rcp) *rcp = rc;
    return why;
}

static fed_reason run(const jwk *k, jws_alg alg, const char *typ, const char *payload, fed_use use)
{
    char *t = sign(k, alg, typ, payload);
    fed_reason r = run_tok(t, use, NULL);
    free(t);
    return r;
}

#define BASE "\"iss\":\"" UP "\",\"sub\":\"00u1abc\",\"aud\":\"https://idpd.example\",\"hd\":\"corp.example\""
#define GOOD "{" BASE ",\"iat\":1700000000,\"exp\":1700000300}"

static void accepts_and_hands_back(void **state)
{
    (void)state;
    char *t = sign(fx.ec, JWS_ES256, "at+jwt", "{" BASE ",\"iat\":1700000000,\"exp\":1700000300,\"jti\":\"j1\"}");
    fed_verify_in in = {.token = t, .len = strlen(t), .use = FED_USE_ACCESS_TOKEN, .policy = fx.p,
                        .keys = keys_cb, .now = NOW};
    fed_verified v;
    fed_reason why;
    idp_error e = {0};
    assert_int_equal(fed_verify(&in, &v, &why, &e), IDP_OK);
    assert_string_equal(v.is->name, "partner");
    assert_string_equal(v.subject, "00u1abc");
    assert_string_equal(v.jti, "j1");
    assert_int_equal(v.exp, 1700000300);
    assert_int_equal(v.iat, 1700000000);
    assert_int_equal(v.alg, JWS_ES256);
    assert_string_equal(v.kid, jwk_kid(fx.ec));
    assert_string_equal(json_string_value(json_object_get(v.claims, "hd")), "corp.example");
    fed_verify_clear(&v);
    assert_null(v.claims);
    free(t);
    assert_string_equal(fed_verify_reason_name(FED_ACCEPTED), "accepted");
    assert_string_equal(fed_verify_reason_name(FED_R_UNKNOWN_ISSUER), "unknown_issuer");
    assert_string_equal(fed_verify_reason_name(FED__R_COUNT), "unknown");
}

static void size_and_format(void **state)
{
    (void)state;
    fx.key_calls = 0;
    char *big = malloc(FED_VERIFY_MAX_LEN + 2);
    memset(big, 'a', FED_VERIFY_MAX_LEN + 1);
    big[FED_VERIFY_MAX_LEN + 1] = '\0';
    assert_int_equal(run_tok(big, FED_USE_JWT, NULL), FED_R_TOO_LARGE);
    free(big);
    assert_int_equal(run_tok("", FED_USE_JWT, NULL), FED_R_MALFORMED);
    assert_int_equal(run_tok("a.b", FED_USE_JWT, NULL), FED_R_MALFORMED);
    assert_int_equal(run_tok("a.b.c.d.e", FED_USE_JWT, NULL), FED_R_MALFORMED); /* JWE */
    assert_int_equal(run_tok("e30.e30.", FED_USE_JWT, NULL), FED_R_MALFORMED);  /* no alg */
    assert_int_equal(run_tok("!!.e30.AA", FED_USE_JWT, NULL), FED_R_MALFORMED);
    assert_int_equal(fx.key_calls, 0);
}

static void alg_none_and_hmac_refused_first(void **state)
{
    (void)state;
    fx.key_calls = 0;
    char *t = forge("{\"alg\":\"none\"}", GOOD);
    assert_int_equal(run_tok(t, FED_USE_JWT, NULL), FED_R_ALG_REFUSED);
    free(t);
    t = forge("{\"alg\":\"HS256\"}", GOOD);
    assert_int_equal(run_tok(t, FED_USE_JWT, NULL), FED_R_ALG_REFUSED);
    free(t);
    /* refused before the issuer is even looked at */
    t = forge("{\"alg\":\"hs512\"}", "{\"iss\":\"https://unknown.example\"}");
    assert_int_equal(run_tok(t, FED_USE_JWT, NULL), FED_R_ALG_REFUSED);
    free(t);
    assert_int_equal(fx.key_calls, 0);
}

static void unknown_issuer_no_key_lookup(void **state)
{
    (void)state;
    fx.key_calls = 0;
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", "{\"iss\":\"https://evil.example\",\"exp\":1700000300}",
                         FED_USE_JWT), FED_R_UNKNOWN_ISSUER);
    /* byte for byte: a trailing slash, another case, a missing iss */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{\"iss\":\"" UP "/\"}", FED_USE_JWT), FED_R_UNKNOWN_ISSUER);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{\"iss\":\"https://LOGIN.partner.example\"}", FED_USE_JWT),
                     FED_R_UNKNOWN_ISSUER);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{\"sub\":\"x\"}", FED_USE_JWT), FED_R_UNKNOWN_ISSUER);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{\"iss\":7}", FED_USE_JWT), FED_R_UNKNOWN_ISSUER);
    assert_int_equal(fx.key_calls, 0);
}

static void alg_per_issuer(void **state)
{
    (void)state;
    fx.key_calls = 0;
    /* partner allows ES256 only */
    assert_int_equal(run(fx.ed, JWS_EDDSA, "at+jwt", GOOD, FED_USE_ACCESS_TOKEN), FED_R_ALG_NOT_ALLOWED);
    char *t = forge("{\"alg\":\"RS512\"}", GOOD);
    assert_int_equal(run_tok(t, FED_USE_JWT, NULL), FED_R_ALG_NOT_ALLOWED);
    free(t);
    assert_int_equal(fx.key_calls, 0);
}

static void keys_unavailable_is_503(void **state)
{
    (void)state;
    fx.key_rc = IDP_ERR_UNAVAILABLE;
    char *t = sign(fx.ec, JWS_ES256, "at+jwt", GOOD);
    idp_err rc;
    assert_int_equal(run_tok(t, FED_USE_ACCESS_TOKEN, &rc), FED_R_KEYS_UNAVAILABLE);
    assert_int_equal(rc, IDP_ERR_UNAVAILABLE);
    free(t);
    fx.key_rc = IDP_OK;
}

static void keys_only_from_the_set(void **state)
{
    (void)state;
    /* signed by a key the issuer never published: the kid is unknown */
    assert_int_equal(run(fx.stranger, JWS_ES256, "at+jwt", GOOD, FED_USE_ACCESS_TOKEN), FED_R_UNKNOWN_KID);
    /* a jwk header carrying the stranger's key changes nothing */
    json_t *pub = jwk_to_public_json(fx.stranger);
    char *pj = json_dumps(pub, JSON_COMPACT);
    char hdr[2048];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"jwk\":%s}", pj);
    char *t = forge(hdr, GOOD);
    assert_int_equal(run_tok(t, FED_USE_ACCESS_TOKEN, NULL), FED_R_BAD_SIGNATURE);
    free(t);
    free(pj);
    json_decref(pub);
    /* the right kid, a wrong signature */
    char *good = sign(fx.ec, JWS_ES256, "at+jwt", GOOD);
    size_t n = strlen(good);
    good[n - 2] = good[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(run_tok(good, FED_USE_ACCESS_TOKEN, NULL), FED_R_BAD_SIGNATURE);
    free(good);
}

static void typ_rules(void **state)
{
    (void)state;
    /* the issuer requires at+jwt for access tokens */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, GOOD, FED_USE_ACCESS_TOKEN), FED_R_TYP);
    assert_int_equal(run(fx.ec, JWS_ES256, "JWT", GOOD, FED_USE_ACCESS_TOKEN), FED_R_TYP);
    assert_int_equal(run(fx.ec, JWS_ES256, "application/at+jwt", GOOD, FED_USE_ACCESS_TOKEN), FED_ACCEPTED);
    /* never another kind of JWT, whatever the use */
    static const char *const foreign[] = {"logout+jwt", "dpop+jwt", "secevent+jwt", "application/Logout+JWT"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(run(fx.ec, JWS_ES256, foreign[i], GOOD, FED_USE_JWT), FED_R_TYP);
        assert_int_equal(run(fx.ec, JWS_ES256, foreign[i], GOOD, FED_USE_ACCESS_TOKEN), FED_R_TYP);
    }
    /* an ID token is never an access token */
    char idt[512];
    snprintf(idt, sizeof idt, "{\"iss\":\"" UP "\",\"sub\":\"s\",\"aud\":\"idpd-at-partner\","
                              "\"hd\":\"corp.example\",\"exp\":1700000300}");
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", idt, FED_USE_ID_TOKEN), FED_R_TYP);
    assert_int_equal(run(fx.ec, JWS_ES256, "JWT", idt, FED_USE_ID_TOKEN), FED_ACCEPTED);
    /* jwt use: typ optional */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, GOOD, FED_USE_JWT), FED_ACCEPTED);
}

static void times(void **state)
{
    (void)state;
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" BASE "}", FED_USE_JWT), FED_R_MISSING_CLAIM);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" BASE ",\"exp\":\"soon\"}", FED_USE_JWT), FED_R_MISSING_CLAIM);
    /* default clock_skew 60 s */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" BASE ",\"exp\":1699999900}", FED_USE_JWT), FED_R_EXPIRED);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" BASE ",\"exp\":1699999970}", FED_USE_JWT), FED_ACCEPTED);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" BASE ",\"exp\":1700000300,\"nbf\":1700000100}", FED_USE_JWT),
                     FED_R_NOT_YET_VALID);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" BASE ",\"exp\":1700000300,\"iat\":1700000100}", FED_USE_JWT),
                     FED_R_NOT_YET_VALID);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" BASE ",\"exp\":1700000300,\"nbf\":1700000030}", FED_USE_JWT),
                     FED_ACCEPTED);
}

#define ABASE "\"iss\":\"" UP "\",\"sub\":\"00u1abc\",\"aud\":\"https://idpd.example/token\",\"hd\":\"corp.example\""

static void assertions(void **state)
{
    (void)state;
    /* exp, iat and jti required */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" ABASE ",\"exp\":1700000300,\"jti\":\"a\"}", FED_USE_ASSERTION),
                     FED_R_MISSING_CLAIM);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{" ABASE ",\"exp\":1700000300,\"iat\":1700000000}",
                         FED_USE_ASSERTION), FED_R_MISSING_CLAIM);
    assert_int_equal(run(fx.ec, JWS_ES256, NULL,
                         "{" ABASE ",\"exp\":1700000300,\"iat\":1700000000,\"jti\":\"a\"}", FED_USE_ASSERTION),
                     FED_ACCEPTED);
    /* exp - iat <= max_lifetime (300 s) */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL,
                         "{" ABASE ",\"exp\":1700000301,\"iat\":1700000000,\"jti\":\"a\"}", FED_USE_ASSERTION),
                     FED_R_LIFETIME);
    /* the audience must be idpd (issuer or token endpoint), not the issuer's own list alone */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL,
                         "{\"iss\":\"" UP "\",\"sub\":\"s\",\"aud\":\"https://other.example\",\"hd\":\"corp.example\","
                         "\"exp\":1700000300,\"iat\":1700000000,\"jti\":\"a\"}", FED_USE_ASSERTION),
                     FED_R_AUDIENCE);
    /* jti with a control character */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL,
                         "{" ABASE ",\"exp\":1700000300,\"iat\":1700000000,\"jti\":\"a\\nb\"}", FED_USE_ASSERTION),
                     FED_R_MISSING_CLAIM);
}

static void audience(void **state)
{
    (void)state;
    const char *foreign = "{\"iss\":\"" UP "\",\"sub\":\"s\",\"aud\":\"https://api.other\",\"hd\":\"corp.example\","
                          "\"exp\":1700000300}";
    assert_int_equal(run(fx.ec, JWS_ES256, "at+jwt", foreign, FED_USE_ACCESS_TOKEN), FED_R_AUDIENCE);
    /* an ID token must have been issued to idpd's client at that issuer */
    const char *idt_foreign = "{\"iss\":\"" UP "\",\"sub\":\"s\",\"aud\":\"someone-else\",\"hd\":\"corp.example\","
                              "\"exp\":1700000300}";
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, idt_foreign, FED_USE_ID_TOKEN), FED_R_AUDIENCE);
    const char *idt_ours = "{\"iss\":\"" UP "\",\"sub\":\"s\",\"aud\":[\"x\",\"idpd-at-partner\"],"
                           "\"hd\":\"corp.example\",\"exp\":1700000300}";
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, idt_ours, FED_USE_ID_TOKEN), FED_ACCEPTED);
    /* aud absent */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, "{\"iss\":\"" UP "\",\"sub\":\"s\",\"hd\":\"corp.example\","
                                                 "\"exp\":1700000300}", FED_USE_JWT), FED_R_AUDIENCE);
}

static void require_and_subject(void **state)
{
    (void)state;
    const char *nohd = "{\"iss\":\"" UP "\",\"sub\":\"s\",\"aud\":\"https://idpd.example\",\"exp\":1700000300}";
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, nohd, FED_USE_JWT), FED_R_REQUIRE);
    const char *wronghd = "{\"iss\":\"" UP "\",\"sub\":\"s\",\"aud\":\"https://idpd.example\","
                          "\"hd\":\"evil.example\",\"exp\":1700000300}";
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, wronghd, FED_USE_JWT), FED_R_REQUIRE);
    const char *nosub = "{\"iss\":\"" UP "\",\"aud\":\"https://idpd.example\",\"hd\":\"corp.example\","
                        "\"exp\":1700000300}";
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, nosub, FED_USE_JWT), FED_R_SUBJECT);
    const char *numsub = "{\"iss\":\"" UP "\",\"sub\":12,\"aud\":\"https://idpd.example\",\"hd\":\"corp.example\","
                         "\"exp\":1700000300}";
    /* sub is a registered claim: jwt_check_claims (step 9) refuses its type first */
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, numsub, FED_USE_JWT), FED_R_MISSING_CLAIM);
    /* with another subject_claim, a sub of any type is not the subject */
    const char *ci = "{\"iss\":\"https://ci.example\",\"aud\":\"https://idpd.example\",\"exp\":1700000300,"
                     "\"repo\":[\"x\"]}";
    assert_int_equal(run(fx.ed, JWS_EDDSA, NULL, ci, FED_USE_JWT), FED_R_SUBJECT);
}

/* the first failure wins: an expired token with a foreign audience and no hd is "expired" */
static void first_failure_wins(void **state)
{
    (void)state;
    const char *p = "{\"iss\":\"" UP "\",\"aud\":\"nope\",\"exp\":1600000000}";
    assert_int_equal(run(fx.ec, JWS_ES256, NULL, p, FED_USE_JWT), FED_R_EXPIRED);
    assert_int_equal(run(fx.stranger, JWS_ES256, "logout+jwt", p, FED_USE_JWT), FED_R_UNKNOWN_KID);
    assert_int_equal(run(fx.ec, JWS_ES256, "logout+jwt", p, FED_USE_JWT), FED_R_TYP);
}

static void peek_iss(void **state)
{
    (void)state;
    char *t = sign(fx.ec, JWS_ES256, NULL, GOOD);
    char iss[64];
    assert_true(fed_verify_peek_iss(t, strlen(t), iss, sizeof iss));
    assert_string_equal(iss, UP);
    assert_false(fed_verify_peek_iss(t, strlen(t), iss, 10)); /* does not fit */
    assert_false(fed_verify_peek_iss("a.b", 3, iss, sizeof iss));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_and_hands_back),
        cmocka_unit_test(size_and_format),
        cmocka_unit_test(alg_none_and_hmac_refused_first),
        cmocka_unit_test(unknown_issuer_no_key_lookup),
        cmocka_unit_test(alg_per_issuer),
        cmocka_unit_test(keys_unavailable_is_503),
        cmocka_unit_test(keys_only_from_the_set),
        cmocka_unit_test(typ_rules),
        cmocka_unit_test(times),
        cmocka_unit_test(assertions),
        cmocka_unit_test(audience),
        cmocka_unit_test(require_and_subject),
        cmocka_unit_test(first_failure_wins),
        cmocka_unit_test(peek_iss),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
