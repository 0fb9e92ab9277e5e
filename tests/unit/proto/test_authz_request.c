/* Unit tests for authz_request_validate (src/proto/authz_request.c): every rule of the
 * authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636, RFC 8707, RFC 9700
 * §2.1), which errors are refused on the error page and which go back to the client, the order
 * of the checks, and what the validated request holds. */
#include "testutil.h"

#include "proto/authz_request.h"

#include <stddef.h>
#include <string.h>

#define NOW 1000000

static const char challenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; /* RFC 7636 App. B */
static char *scopes[] = {"openid", "email", "api:read"};
static char *audiences[] = {"https://api.example"};

static authz_client client(void)
{
    return (authz_client){.client_id = "c_1",
                          .redirect_uris = "https://app.example/cb http://127.0.0.1/cb",
                          .code_flow = true,
                          .scopes = scopes,
                          .nscopes = 3,
                          .audiences = audiences,
                          .naudiences = 1};
}

static authz_params params(void)
{
    return (authz_params){.client_id = "c_1",
                          .redirect_uri = "https://app.example/cb",
                          .state = "st-1",
                          .response_type = "code"};
}

/* Sets the const char * member at offset field of p. */
static void set(authz_params *p, size_t field, const char *v)
{
    memcpy((char *)p + field, &v, sizeof v);
}

#define F(member) offsetof(authz_params, member)

static void minimal_request(void **state)
{
    authz_params p = params();
    p.state = NULL;
    authz_client c = client();
    authz_request r;
    bool redirect = true;
    idp_error e = {0};
    assert_int_equal(authz_request_validate(&p, &c, "https://idp", NOW, &r, &redirect, &e), IDP_OK);
    assert_string_equal(r.client_id, "c_1");
    assert_string_equal(r.redirect_uri, "https://app.example/cb");
    assert_string_equal(r.scope, "openid email api:read"); /* absent: every allowed scope */
    assert_null(r.state);
    assert_null(r.nonce);
    assert_null(r.code_challenge);
    assert_null(r.resource);
    assert_null(r.login_hint);
    assert_null(r.prompt);
    assert_int_equal(r.max_age, -1);
    assert_int_equal(r.expires_at, NOW + AUTHZ_REQUEST_TTL);
    authz_request_clear(&r);
}

static void full_request(void **state)
{
    authz_params p = params();
    p.scope = "email openid email";
    p.nonce = "n-1";
    p.code_challenge = challenge;
    p.code_challenge_method = "S256";
    p.prompt = "login consent";
    p.max_age = "0";
    p.login_hint = "alice";
    p.resource = "https://api.example";
    p.response_mode = "query";
    authz_client c = client();
    authz_request r;
    bool redirect = false;
    assert_int_equal(authz_request_validate(&p, &c, "https://idp", NOW, &r, &redirect, NULL),
                     IDP_OK);
    assert_string_equal(r.scope, "email openid");
    assert_string_equal(r.state, "st-1");
    assert_string_equal(r.nonce, "n-1");
    assert_string_equal(r.code_challenge, challenge);
    assert_string_equal(r.prompt, "login consent");
    assert_int_equal(r.max_age, 0);
    assert_string_equal(r.login_hint, "alice");
    assert_string_equal(r.resource, "https://api.example");
    authz_request_clear(&r);
    p.max_age = "3600";
    p.scope = "api:read";
    assert_int_equal(authz_request_validate(&p, &c, "https://idp", NOW, &r, &redirect, NULL),
                     IDP_OK);
    assert_string_equal(r.scope, "api:read");
    assert_int_equal(r.max_age, 3600);
    authz_request_clear(&r);
}

/* RFC 8252 §7.3: a loopback redirect URI may use any port at request time. */
static void loopback_any_port(void **state)
{
    authz_params p = params();
    p.redirect_uri = "http://127.0.0.1:51234/cb";
    authz_client c = client();
    authz_request r;
    bool redirect = false;
    assert_int_equal(authz_request_validate(&p, &c, "https://idp", NOW, &r, &redirect, NULL),
                     IDP_OK);
    assert_string_equal(r.redirect_uri, "http://127.0.0.1:51234/cb");
    authz_request_clear(&r);
}

/* A login_hint longer than AUTHZ_REQUEST_HINT_MAX is dropped, not refused. */
static void long_login_hint_dropped(void **state)
{
    char hint[AUTHZ_REQUEST_HINT_MAX + 2];
    memset(hint, 'h', sizeof hint - 1);
    hint[sizeof hint - 1] = '\0';
    authz_params p = params();
    p.login_hint = hint;
    authz_client c = client();
    authz_request r;
    bool redirect = false;
    assert_int_equal(authz_request_validate(&p, &c, "https://idp", NOW, &r, &redirect, NULL),
                     IDP_OK);
    assert_null(r.login_hint);
    authz_request_clear(&r);
    hint[AUTHZ_REQUEST_HINT_MAX] = '\0';
    assert_int_equal(authz_request_validate(&p, &c, "https://idp", NOW, &r, &redirect, NULL),
                     IDP_OK);
    assert_string_equal(r.login_hint, hint);
    authz_request_clear(&r);
}

/* Expects an error page (not redirected) with this exact text; *out empty. */
static void expect_page(const authz_params *p, const authz_client *c, const char *msg)
{
    authz_request r;
    bool redirect = true;
    idp_error e = {0};
    assert_int_equal(authz_request_validate(p, c, "https://idp", NOW, &r, &redirect, &e),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_false(redirect);
    assert_string_equal(e.msg, msg);
    assert_null(r.client_id);
    assert_null(r.redirect_uri);
    assert_null(r.state);
    authz_request_clear(&r);
}

/* RFC 6749 §4.1.2.1: without a known client and its registered redirect_uri nothing is
 * redirected; nor is a state that could not come back as sent. */
static void page_errors(void **state)
{
    authz_params p = params();
    authz_client c = client();
    p.client_id = NULL;
    expect_page(&p, NULL, "The request names no application (client_id).");
    p = params();
    expect_page(&p, NULL, "The application is not known.");
    p.redirect_uri = NULL;
    expect_page(&p, &c, "The request has no redirect_uri.");
    p.redirect_uri = "https://app.example/cb/"; /* exact match only (RFC 9700 §4.1.3) */
    expect_page(&p, &c, "The redirect_uri is not registered for this application.");
    p.redirect_uri = "http://localhost:8080/cb";
    expect_page(&p, &c, "The redirect_uri is not registered for this application.");
    c.redirect_uris = NULL;
    p = params();
    expect_page(&p, &c, "The redirect_uri is not registered for this application.");
    c = client();
    p.state = "\xff";
    expect_page(&p, &c, "The state parameter is not valid UTF-8.");
    /* page errors come before everything else */
    p.response_type = NULL;
    p.request = "eyJ";
    expect_page(&p, &c, "The state parameter is not valid UTF-8.");
}

/* Expects an error sent back to the client: code and description, *out holding what the
 * redirect needs. */
static void expect_redirect(const authz_params *p, const authz_client *c, idp_err code,
                            const char *msg)
{
    authz_request r;
    bool redirect = false;
    idp_error e = {0};
    assert_int_equal(authz_request_validate(p, c, "https://idp", NOW, &r, &redirect, &e), code);
    assert_true(redirect);
    if (strcmp(e.msg, msg) != 0) fail_msg("got \"%s\", expected \"%s\"", e.msg, msg);
    assert_string_equal(r.client_id, "c_1");
    assert_string_equal(r.redirect_uri, p->redirect_uri);
    if (p->state && strlen(p->state) <= AUTHZ_REQUEST_STATE_MAX)
        assert_string_equal(r.state, p->state);
    else
        assert_null(r.state);
    authz_request_clear(&r);
}

/* One parameter changed from a valid request, and the error it must give. */
static const struct rule {
    size_t field;
    const char *value;
    idp_err code;
    const char *msg;
} rules[] = {
    {F(request), "eyJhbGciOiJub25lIn0.e30.", IDP_ERR_OIDC_REQUEST_NOT_SUPPORTED,
     "request objects are not supported"},
    {F(request_uri), "https://app.example/r", IDP_ERR_OIDC_REQUEST_URI_NOT_SUPPORTED,
     "request_uri is not supported"},
    {F(response_type), NULL, IDP_ERR_OAUTH_INVALID_REQUEST, "response_type is required"},
    {F(response_type), "token", IDP_ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE,
     "only response_type=code is supported"},
    {F(response_type), "code id_token", IDP_ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE,
     "only response_type=code is supported"},
    {F(response_mode), "fragment", IDP_ERR_OAUTH_INVALID_REQUEST,
     "response_mode is not supported (only query)"},
    {F(response_mode), "form_post", IDP_ERR_OAUTH_INVALID_REQUEST,
     "response_mode is not supported (only query)"},
    {F(code_challenge_method), "plain", IDP_ERR_OAUTH_INVALID_REQUEST,
     "code_challenge_method must be S256 (plain is not allowed)"},
    {F(code_challenge), "short", IDP_ERR_OAUTH_INVALID_REQUEST,
     "code_challenge is not a valid S256 challenge"},
    {F(code_challenge_method), "S256", IDP_ERR_OAUTH_INVALID_REQUEST,
     "code_challenge_method without code_challenge"},
    {F(prompt), "sometimes", IDP_ERR_OAUTH_INVALID_REQUEST, "prompt is not valid"},
    {F(prompt), "none login", IDP_ERR_OAUTH_INVALID_REQUEST, "prompt is not valid"},
    {F(prompt), "login none", IDP_ERR_OAUTH_INVALID_REQUEST, "prompt is not valid"},
    {F(max_age), "-1", IDP_ERR_OAUTH_INVALID_REQUEST, "max_age is not a non-negative integer"},
    {F(max_age), "10s", IDP_ERR_OAUTH_INVALID_REQUEST, "max_age is not a non-negative integer"},
    {F(max_age), "x", IDP_ERR_OAUTH_INVALID_REQUEST, "max_age is not a non-negative integer"},
    {F(scope), "openid admin", IDP_ERR_OAUTH_INVALID_SCOPE,
     "requested scope is not allowed for this client"},
    {F(scope), "openid\"", IDP_ERR_OAUTH_INVALID_SCOPE, "malformed scope (RFC 6749 section 3.3)"},
    {F(resource), "https://other.example", IDP_ERR_OAUTH_INVALID_TARGET,
     "resource is not an audience this client may target (RFC 8707)"},
};

static void redirected_errors(void **state)
{
    authz_client c = client();
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        authz_params p = params();
        set(&p, rules[i].field, rules[i].value);
        expect_redirect(&p, &c, rules[i].code, rules[i].msg);
    }
}

/* Each parameter the sealed request carries or compares as text must be UTF-8. */
static void utf8_rule(void **state)
{
    static const size_t fields[] = {F(nonce),    F(login_hint), F(scope),   F(code_challenge),
                                    F(resource), F(prompt),     F(max_age), F(response_type)};
    authz_client c = client();
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        authz_params p = params();
        set(&p, fields[i], "a\xc3\x28");
        expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "a request parameter is not valid UTF-8");
    }
    /* compared as bytes only: not checked */
    authz_params p = params();
    p.response_mode = "\xff";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST,
                    "response_mode is not supported (only query)");
}

static void length_rules(void **state)
{
    char big[AUTHZ_REQUEST_STATE_MAX + 2];
    memset(big, 's', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    authz_client c = client();
    authz_params p = params();
    p.state = big; /* too long to carry: the error goes back without state */
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST, "state is too long");
    p = params();
    p.nonce = big;
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST, "nonce is too long");
    /* AUTHZ_REQUEST_STATE_MAX itself is fine */
    big[AUTHZ_REQUEST_STATE_MAX] = '\0';
    p.nonce = big;
    p.state = big;
    authz_request r;
    bool redirect = false;
    assert_int_equal(authz_request_validate(&p, &c, "https://idp", NOW, &r, &redirect, NULL),
                     IDP_OK);
    assert_string_equal(r.state, big);
    assert_string_equal(r.nonce, big);
    authz_request_clear(&r);
}

static void client_rules(void **state)
{
    authz_client c = client();
    authz_params p = params();
    c.code_flow = false;
    expect_redirect(&p, &c, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                    "the client may not use the authorization code flow");
    /* RFC 9700 §2.1.1: a public client must use PKCE */
    c = client();
    c.is_public = true;
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST,
                    "PKCE (code_challenge with S256) is required for public clients");
    p.code_challenge = challenge;
    authz_request r;
    bool redirect = false;
    assert_int_equal(authz_request_validate(&p, &c, "https://idp", NOW, &r, &redirect, NULL),
                     IDP_OK);
    assert_string_equal(r.code_challenge, challenge);
    authz_request_clear(&r);
    /* a client with no audience may name no resource, not even the issuer (RFC 8707 §2) */
    c = client();
    c.naudiences = 0;
    p = params();
    p.resource = "https://idp";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_TARGET,
                    "resource is not an audience this client may target (RFC 8707)");
}

/* The first broken rule is the one reported (the order documented in authz_request.h). */
static void order_of_checks(void **state)
{
    authz_client c = client();
    c.code_flow = false;
    authz_params p = params();
    p.nonce = "\xff";
    p.request = "x";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST,
                    "a request parameter is not valid UTF-8");
    p.nonce = NULL;
    expect_redirect(&p, &c, IDP_ERR_OIDC_REQUEST_NOT_SUPPORTED,
                    "request objects are not supported");
    p.request = NULL;
    p.request_uri = "x";
    expect_redirect(&p, &c, IDP_ERR_OIDC_REQUEST_URI_NOT_SUPPORTED, "request_uri is not supported");
    p.request_uri = NULL;
    p.response_type = "token";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE,
                    "only response_type=code is supported");
    p.response_type = "code";
    p.response_mode = "fragment";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST,
                    "response_mode is not supported (only query)");
    p.response_mode = NULL;
    p.prompt = "bad";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                    "the client may not use the authorization code flow");
    c = client();
    p.max_age = "x";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST, "prompt is not valid");
    p.prompt = NULL;
    p.scope = "admin";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_REQUEST, "max_age is not a non-negative integer");
    p.max_age = NULL;
    p.resource = "https://other.example";
    expect_redirect(&p, &c, IDP_ERR_OAUTH_INVALID_SCOPE,
                    "requested scope is not allowed for this client");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal_request),   cmocka_unit_test(full_request),
        cmocka_unit_test(loopback_any_port), cmocka_unit_test(long_login_hint_dropped),
        cmocka_unit_test(page_errors),       cmocka_unit_test(redirected_errors),
        cmocka_unit_test(utf8_rule),         cmocka_unit_test(length_rules),
        cmocka_unit_test(client_rules),      cmocka_unit_test(order_of_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
