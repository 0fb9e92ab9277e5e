/* Unit tests for src/proto/upstream_login.c: the upstream authorization URL (every parameter,
 * S256 of the verifier, an endpoint with a query), the token request body, the sealed pending
 * sign-in (round trip, bound to the issuer name, expiry, tampering, size cap), the callback
 * parameters (state required, error wins, size and character limits) and the token response. */
#include "testutil.h"

#include "core/b64url.h"
#include "proto/upstream_login.h"

#include <stdlib.h>
#include <string.h>

static const char *const scopes[] = {"openid", "email", "profile"};
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" /* RFC 7636 Appendix B */

static void authz_url(void **state)
{
    (void)state;
    idp_buf b;
    buf_init(&b, 4096);
    assert_int_equal(upstream_login_authz_url(&b, "https://up.example/authorize", "idpd at",
                                        "https://idp.example/federation/partner/callback", scopes,
                                        3, "st-1", "n-1", VERIFIER, NULL),
                     IDP_OK);
    assert_string_equal(
        buf_cstr(&b),
        "https://up.example/authorize?response_type=code&client_id=idpd+at"
        "&redirect_uri=https%3A%2F%2Fidp.example%2Ffederation%2Fpartner%2Fcallback"
        "&scope=openid+email+profile&state=st-1&nonce=n-1"
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256");
    buf_free(&b);
    buf_init(&b, 4096);
    assert_int_equal(upstream_login_authz_url(&b, "https://up.example/auth?tenant=a", "c", "https://r",
                                        scopes, 1, "s", "n", VERIFIER, NULL),
                     IDP_OK);
    assert_non_null(strstr(buf_cstr(&b), "https://up.example/auth?tenant=a&response_type=code&"));
    buf_free(&b);
    buf_init(&b, 4096);
    idp_error e = {0};
    assert_int_equal(upstream_login_authz_url(&b, "https://up.example/a", "c", "https://r", scopes, 1,
                                        "s", "n", "short", &e),
                     IDP_ERR_INVALID);
    assert_int_equal(upstream_login_authz_url(&b, "https://up.example/a", "c", "https://r", scopes, 0,
                                        "s", "n", VERIFIER, &e),
                     IDP_ERR_INVALID);
    assert_int_equal(upstream_login_authz_url(&b, "https://up.example/a", "c", "https://r", scopes, 1, "",
                                        "n", VERIFIER, &e),
                     IDP_ERR_INVALID);
    assert_int_equal(upstream_login_authz_url(&b, "https://up.example/a#f", "c", "https://r", scopes, 1,
                                        "s", "n", VERIFIER, &e),
                     IDP_ERR_INVALID);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void token_form(void **state)
{
    (void)state;
    idp_buf b;
    buf_init(&b, 4096);
    assert_int_equal(upstream_login_token_form(&b, "c/d+e", "https://idp/cb", VERIFIER, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&b),
                        "grant_type=authorization_code&code=c%2Fd%2Be"
                        "&redirect_uri=https%3A%2F%2Fidp%2Fcb&code_verifier=" VERIFIER);
    buf_reset(&b);
    assert_int_equal(upstream_login_token_form(&b, NULL, "https://idp/cb", VERIFIER, NULL),
                     IDP_ERR_INVALID);
    buf_free(&b);
}

static kek *test_kek(void)
{
    kek *k = NULL;
    setenv("IDPD_MASTER_KEY", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", 1);
    assert_int_equal(kek_load("/nonexistent", &k, NULL), IDP_OK);
    return k;
}

static void pending(void **state)
{
    (void)state;
    kek *k = test_kek();
    upstream_pending p = {.name = "partner",
                          .state = "st-1",
                          .nonce = "n-1",
                          .verifier = VERIFIER,
                          .request = "sealed-request",
                          .expires_at = 1000};
    char *s = NULL;
    assert_int_equal(upstream_login_pending_seal(k, &p, &s, NULL), IDP_OK);
    upstream_pending o;
    assert_int_equal(upstream_login_pending_open(k, "partner", s, 999, &o, NULL), IDP_OK);
    assert_string_equal(o.name, "partner");
    assert_string_equal(o.state, "st-1");
    assert_string_equal(o.nonce, "n-1");
    assert_string_equal(o.verifier, VERIFIER);
    assert_string_equal(o.request, "sealed-request");
    assert_int_equal(o.expires_at, 1000);
    assert_true(upstream_login_pending_state_ok(&o, "st-1"));
    assert_false(upstream_login_pending_state_ok(&o, "st-2"));
    assert_false(upstream_login_pending_state_ok(&o, "st-10"));
    assert_false(upstream_login_pending_state_ok(&o, NULL));
    upstream_login_pending_clear(&o);
    /* bound to the issuer name (AAD), expiring, tamper-evident */
    assert_int_equal(upstream_login_pending_open(k, "other", s, 999, &o, NULL), IDP_ERR_INVALID);
    assert_null(o.state);
    assert_int_equal(upstream_login_pending_open(k, "partner", s, 1000, &o, NULL), IDP_ERR_INVALID);
    s[10] = s[10] == 'A' ? 'B' : 'A';
    assert_int_equal(upstream_login_pending_open(k, "partner", s, 999, &o, NULL), IDP_ERR_INVALID);
    assert_int_equal(upstream_login_pending_open(k, "partner", "", 999, &o, NULL), IDP_ERR_INVALID);
    assert_int_equal(upstream_login_pending_open(k, "partner", NULL, 999, &o, NULL), IDP_ERR_INVALID);
    free(s);
    /* a request too large for a cookie */
    char *big = malloc(4000);
    memset(big, 'r', 3999);
    big[3999] = '\0';
    p.request = big;
    idp_error e = {0};
    assert_int_equal(upstream_login_pending_seal(k, &p, &s, &e), IDP_ERR_TOO_LARGE);
    assert_null(s);
    free(big);
    p.request = NULL;
    assert_int_equal(upstream_login_pending_seal(k, &p, &s, &e), IDP_ERR_INVALID);
    kek_free(k);
}

static void callback(void **state)
{
    (void)state;
    upstream_callback c;
    assert_int_equal(upstream_login_callback_parse("st", "co", NULL, NULL, &c, NULL), IDP_OK);
    assert_string_equal(c.state, "st");
    assert_string_equal(c.code, "co");
    assert_null(c.error);
    assert_null(c.iss);
    /* error wins over code; iss kept */
    assert_int_equal(upstream_login_callback_parse("st", "co", "access_denied", "https://up", &c, NULL),
                     IDP_OK);
    assert_null(c.code);
    assert_string_equal(c.error, "access_denied");
    assert_string_equal(c.iss, "https://up");
    /* empty counts as absent */
    assert_int_equal(upstream_login_callback_parse("st", "co", "", "", &c, NULL), IDP_OK);
    assert_null(c.error);
    assert_null(c.iss);
    idp_error e = {0};
    assert_int_equal(upstream_login_callback_parse(NULL, "co", NULL, NULL, &c, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_non_null(strstr(e.msg, "no state"));
    assert_int_equal(upstream_login_callback_parse("st", NULL, NULL, NULL, &c, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_int_equal(upstream_login_callback_parse("s t", "co", NULL, NULL, &c, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_int_equal(upstream_login_callback_parse("st", "c\x01o", NULL, NULL, &c, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_int_equal(upstream_login_callback_parse("st", NULL, "bad\"err", NULL, &c, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_int_equal(upstream_login_callback_parse("st", "co", NULL, "https://up\n", &c, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    char big[UPSTREAM_CODE_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(upstream_login_callback_parse("st", big, NULL, NULL, &c, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    big[UPSTREAM_STATE_MAX + 1] = '\0';
    assert_int_equal(upstream_login_callback_parse(big, "co", NULL, NULL, &c, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    big[UPSTREAM_STATE_MAX] = '\0';
    assert_int_equal(upstream_login_callback_parse(big, "co", NULL, NULL, &c, &e), IDP_OK);
}

#define TR(s, t, e) upstream_login_token_response((s), strlen(s), (t), (e))

static void token_response(void **state)
{
    (void)state;
    char *t = NULL;
    idp_error e = {0};
    assert_int_equal(TR("{\"access_token\":\"x\",\"id_token\":\"a.b.c\"}", &t, &e), IDP_OK);
    assert_string_equal(t, "a.b.c");
    free(t);
    assert_int_equal(TR("{\"error\":\"invalid_grant\"}", &t, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_null(t);
    assert_non_null(strstr(e.msg, "invalid_grant"));
    assert_int_equal(TR("{\"error\":\"<script>\"}", &t, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_null(strstr(e.msg, "<script>"));
    assert_int_equal(TR("{\"access_token\":\"x\"}", &t, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_int_equal(TR("{\"id_token\":7}", &t, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_int_equal(TR("{\"id_token\":\"\"}", &t, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_int_equal(TR("[\"id_token\"]", &t, &e), IDP_ERR_JSON);
    assert_int_equal(TR("not json", &t, &e), IDP_ERR_JSON);
    assert_int_equal(TR("{\"id_token\":\"a\",\"id_token\":\"b\"}", &t, &e), IDP_ERR_JSON);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authz_url), cmocka_unit_test(token_form),     cmocka_unit_test(pending),
        cmocka_unit_test(callback),  cmocka_unit_test(token_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
