/* Unit tests for src/http without a server: route matching, the one error renderer, listen
 * addresses, request_form, and client authentication (oauth/client_auth.c) on a client cache. */
#include "testutil.h"

#include "core/jsonx.h"
#include "server/app.h"
#include "http/listen.h"
#include "http/request_form.h"
#include "http/response.h"
#include "server/router.h"
#include "handle/oauth/client_auth.h"
#include "creds/client_secret.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void router_lookup(void **state)
{
    const route *r = NULL;
    char allow[64];
    idp_error e = {0};
    assert_int_equal(router_match(router_routes, router_nroutes, "POST", "/token", &r, allow,
                                  sizeof allow, &e), IDP_OK);
    assert_string_equal(r->path, "/token");
    assert_int_equal(router_match(router_routes, router_nroutes, "HEAD", "/jwks.json", &r, allow,
                                  sizeof allow, &e), IDP_OK);
    assert_string_equal(r->method, "GET");
    assert_int_equal(router_match(router_routes, router_nroutes, "GET", "/token", &r, allow,
                                  sizeof allow, &e), IDP_ERR_HTTP_METHOD);
    assert_null(r);
    assert_string_equal(allow, "POST");
    assert_int_equal(router_match(router_routes, router_nroutes, "POST", "/jwks.json", &r, allow,
                                  sizeof allow, &e), IDP_ERR_HTTP_METHOD);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(router_match(router_routes, router_nroutes, "GET", "/nope", &r, allow,
                                  sizeof allow, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(router_match(router_routes, router_nroutes, "GET", "/token/", &r, allow,
                                  sizeof allow, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(router_match(router_routes, router_nroutes, "GET", "/JWKS.JSON", &r, allow,
                                  sizeof allow, &e), IDP_ERR_NOT_FOUND);
}

static json_t *render(idp_err code, const char *msg, bool basic, http_response *rs)
{
    response_init(rs);
    rs->www_auth_basic = basic;
    response_error_code(rs, code, msg);
    size_t n;
    const char *body = response_body(rs, &n);
    json_t *j = NULL;
    idp_error e = {0};
    assert_int_equal(jsonx_parse(body, n, 0, 0, true, &j, &e), IDP_OK);
    assert_string_equal(rs->content_type, "application/json");
    assert_true(rs->no_store);
    return j;
}

static const char *header(const http_response *rs, const char *name)
{
    for (size_t i = 0; i < rs->nheaders; i++)
        if (strcmp(rs->headers[i].name, name) == 0) return rs->headers[i].value;
    return NULL;
}

static void error_rendering(void **state)
{
    static const struct {
        idp_err code;
        int status;
        const char *error;
    } cases[] = {
        {IDP_ERR_OAUTH_INVALID_REQUEST, 400, "invalid_request"},
        {IDP_ERR_OAUTH_INVALID_CLIENT, 401, "invalid_client"},
        {IDP_ERR_OAUTH_INVALID_GRANT, 400, "invalid_grant"},
        {IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT, 400, "unauthorized_client"},
        {IDP_ERR_OAUTH_UNSUPPORTED_GRANT_TYPE, 400, "unsupported_grant_type"},
        {IDP_ERR_OAUTH_INVALID_SCOPE, 400, "invalid_scope"},
        {IDP_ERR_OAUTH_INVALID_TARGET, 400, "invalid_target"},
        {IDP_ERR_NOT_FOUND, 404, "not_found"},
        {IDP_ERR_HTTP_METHOD, 405, "method_not_allowed"},
        {IDP_ERR_TOO_LARGE, 413, "too_large"},
        {IDP_ERR_HTTP_MEDIA_TYPE, 415, "unsupported_media_type"},
        {IDP_ERR_STORE, 500, "server_error"},
        {IDP_ERR_INTERNAL, 500, "server_error"},
        {IDP_ERR_CONFIG, 500, "server_error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_response rs;
        json_t *j = render(cases[i].code, "some detail", false, &rs);
        assert_int_equal(rs.status, cases[i].status);
        assert_string_equal(jsonx_str(j, "error"), cases[i].error);
        /* 5xx: the detail is for the log only */
        assert_string_equal(jsonx_str(j, "error_description"),
                            cases[i].status >= 500 ? "internal server error" : "some detail");
        assert_null(header(&rs, "WWW-Authenticate"));
        json_decref(j);
        response_clear(&rs);
    }
    http_response rs;
    json_t *j = render(IDP_ERR_OAUTH_INVALID_CLIENT, "x", true, &rs);
    assert_string_equal(header(&rs, "WWW-Authenticate"), "Basic realm=\"idpd\"");
    json_decref(j);
    response_clear(&rs);
    /* empty message: no error_description; quotes in messages stay valid JSON */
    j = render(IDP_ERR_NOT_FOUND, "", false, &rs);
    assert_null(json_object_get(j, "error_description"));
    json_decref(j);
    response_clear(&rs);
    j = render(IDP_ERR_OAUTH_INVALID_REQUEST, "a \"quoted\" \\ thing", false, &rs);
    assert_string_equal(jsonx_str(j, "error_description"), "a \"quoted\" \\ thing");
    json_decref(j);
    response_clear(&rs);
    /* IDP_OK is never rendered as a success by mistake */
    j = render(IDP_OK, "", false, &rs);
    assert_int_equal(rs.status, 500);
    json_decref(j);
    response_clear(&rs);
}

/* RFC 6750 §3: the bearer challenge and error response, from the error table. */
static void bearer_challenges(void **state)
{
    static const struct {
        idp_err code;
        const char *msg;
        int status;
        const char *header, *body;
    } cases[] = {
        {IDP_ERR_BEARER_MISSING, "", 401, "Bearer realm=\"idpd\"",
         "{\"error\":\"invalid_request\"}"},
        {IDP_ERR_UNAUTHORIZED, "the access token's client no longer exists", 401,
         "Bearer realm=\"idpd\", error=\"invalid_token\", error_description=\"the access token's "
         "client no longer exists\"",
         "{\"error\":\"invalid_token\",\"error_description\":\"the access token's client no longer "
         "exists\"}"},
        {IDP_ERR_OAUTH_INVALID_REQUEST, "malformed Bearer credentials", 400,
         "Bearer realm=\"idpd\", error=\"invalid_request\", error_description=\"malformed Bearer "
         "credentials\"",
         "{\"error\":\"invalid_request\",\"error_description\":\"malformed Bearer credentials\"}"},
        {IDP_ERR_FORBIDDEN, "no openid", 403,
         "Bearer realm=\"idpd\", error=\"insufficient_scope\", error_description=\"no openid\"",
         "{\"error\":\"insufficient_scope\",\"error_description\":\"no openid\"}"},
        /* §3: the description's quoted-string has no '"', backslash or non-ASCII */
        {IDP_ERR_UNAUTHORIZED, "a \"b\" \\ \xc3\xa9", 401,
         "Bearer realm=\"idpd\", error=\"invalid_token\", error_description=\"a ?b? ? ??\"", NULL},
        /* not a bearer failure: the realm alone */
        {IDP_ERR_STORE, "db down", 500, "Bearer realm=\"idpd\"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_response rs;
        response_init(&rs);
        idp_error e = {.code = cases[i].code};
        snprintf(e.msg, sizeof e.msg, "%s", cases[i].msg);
        response_bearer_error(&rs, "idpd", &e);
        assert_int_equal(rs.status, cases[i].status);
        assert_string_equal(header(&rs, "WWW-Authenticate"), cases[i].header);
        assert_string_equal(rs.content_type, "application/json");
        assert_true(rs.no_store);
        if (cases[i].body) {
            size_t n;
            const char *b = response_body(&rs, &n);
            assert_int_equal(n, strlen(cases[i].body));
            assert_memory_equal(b, cases[i].body, n);
        }
        response_clear(&rs);
    }
    /* without an error: the realm alone (admin, metrics, SCIM give one answer) */
    http_response rs;
    response_init(&rs);
    response_bearer_challenge(&rs, "idpd-admin", NULL);
    assert_string_equal(header(&rs, "WWW-Authenticate"), "Bearer realm=\"idpd-admin\"");
    assert_int_equal(rs.status, 200); /* the challenge alone sets no status */
    response_clear(&rs);
    /* SCIM: 401 carries the idpd-scim challenge */
    response_init(&rs);
    idp_error e = {.code = IDP_ERR_UNAUTHORIZED};
    response_scim_error(&rs, &e);
    assert_string_equal(header(&rs, "WWW-Authenticate"), "Bearer realm=\"idpd-scim\"");
    response_clear(&rs);
}

static void listen_addresses(void **state)
{
    listen_addr la;
    idp_error e = {0};
    assert_int_equal(listen_parse("127.0.0.1:8080", &la, &e), IDP_OK);
    assert_int_equal(la.family, AF_INET);
    assert_int_equal(la.port, 8080);
    assert_string_equal(la.host, "127.0.0.1");
    assert_int_equal(ntohs(((struct sockaddr_in *)&la.ss)->sin_port), 8080);
    assert_int_equal(listen_parse("0.0.0.0:0", &la, &e), IDP_OK);
    assert_int_equal(la.port, 0);
    assert_int_equal(listen_parse("localhost:1", &la, &e), IDP_OK);
    assert_string_equal(la.host, "127.0.0.1");
    assert_int_equal(listen_parse("[::1]:443", &la, &e), IDP_OK);
    assert_int_equal(la.family, AF_INET6);
    assert_string_equal(la.host, "::1");
    assert_int_equal(la.port, 443);
    const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536",
                         "127.0.0.1:-1", "127.0.0.1:80x", ":80", "example.com:80", "[::1]80",
                         "[::1:80", "[]:80", "[1.2.3.4]:80", "::1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (listen_parse(bad[i], &la, &e) == IDP_OK) fail_msg("accepted: %s", bad[i]);
        assert_int_equal(e.code, IDP_ERR_CONFIG);
    }
    assert_int_equal(listen_parse(NULL, &la, &e), IDP_ERR_CONFIG);
}

static void request_form_checks(void **state)
{
    char body[] = "grant_type=client_credentials&resource=a&resource=b";
    http_request rq = {.method = "POST", .path = "/token", .body = body, .body_len = strlen(body),
                       .content_type = "application/x-www-form-urlencoded; charset=UTF-8"};
    form f;
    idp_error e = {0};
    assert_int_equal(request_form(&rq, &f, &e), IDP_OK);
    assert_int_equal(form_count(&f, "resource"), 2);
    char body2[] = "grant_type=a&grant_type=b";
    rq.body = body2;
    rq.body_len = strlen(body2);
    assert_int_equal(request_form(&rq, &f, &e), IDP_ERR_OAUTH_INVALID_REQUEST);
    rq.content_type = "application/json";
    assert_int_equal(request_form(&rq, &f, &e), IDP_ERR_OAUTH_INVALID_REQUEST);
    rq.content_type = NULL;
    assert_int_equal(request_form(&rq, &f, &e), IDP_ERR_OAUTH_INVALID_REQUEST);
}

/* ---- client authentication on a cache ---- */

typedef struct auth_fixture {
    struct app app;
    cfg c;
    client_cache *cc;
} auth_fixture;

static int auth_setup(void **state)
{
    auth_fixture *fx = calloc(1, sizeof *fx);
    memset(fx->app.pepper, 7, 32);
    fx->app.cfg = &fx->c;
    store_client rows[3] = {{.client_id = "c1", .has_secret = true, .grant_types = "client_credentials",
                             .scope = "a"},
                            {.client_id = "nosecret", .has_secret = false},
                            {.client_id = "p1", .has_secret = true, .grant_types = "client_credentials",
                             .scope = "a", .auth_method = "client_secret_post"}};
    client_secret_hash(fx->app.pepper, "s3cret", 6, rows[0].secret_hash);
    client_secret_hash(fx->app.pepper, "s3cret", 6, rows[2].secret_hash);
    idp_error e = {0};
    assert_int_equal(client_cache_build(rows, 3, &fx->cc, &e), IDP_OK);
    *state = fx;
    return 0;
}

static int auth_teardown(void **state)
{
    auth_fixture *fx = *state;
    client_cache_unref(fx->cc);
    free(fx);
    return 0;
}

static idp_err auth(auth_fixture *fx, const char *authz, const char *body_s, http_response *rs,
                    const client_entry **ce)
{
    char body[256];
    snprintf(body, sizeof body, "%s", body_s);
    http_request rq = {.method = "POST", .path = "/token", .authorization = authz, .body = body,
                       .body_len = strlen(body), .clients = fx->cc,
                       .content_type = "application/x-www-form-urlencoded"};
    form f;
    idp_error e = {0};
    response_init(rs);
    assert_int_equal(request_form(&rq, &f, &e), IDP_OK);
    idp_err rc = client_auth_authenticate(&fx->app, &rq, &f, rs, ce, &e);
    if (rc != IDP_OK) assert_int_equal(e.code, rc);
    return rc;
}

static void client_auth_methods(void **state)
{
    auth_fixture *fx = *state;
    http_response rs;
    const client_entry *ce = NULL;
    /* Basic "c1:s3cret" */
    assert_int_equal(auth(fx, "Basic YzE6czNjcmV0", "grant_type=x", &rs, &ce), IDP_OK);
    assert_string_equal(ce->client_id, "c1");
    assert_string_equal(rs.client_id, "c1");
    /* Basic with a matching client_id in the body is fine */
    assert_int_equal(auth(fx, "Basic YzE6czNjcmV0", "client_id=c1", &rs, &ce), IDP_OK);
    /* client_secret_post, by a client registered for it */
    assert_int_equal(auth(fx, NULL, "client_id=p1&client_secret=s3cret", &rs, &ce), IDP_OK);
    assert_string_equal(rs.client_id, "p1");
    assert_false(rs.www_auth_basic);
    /* a non-Basic Authorization header is not client authentication */
    assert_int_equal(auth(fx, "Bearer x", "client_id=p1&client_secret=s3cret", &rs, &ce), IDP_OK);
    /* only the registered method (RFC 7591 §2): c1 is client_secret_basic, p1 _post */
    assert_int_equal(auth(fx, NULL, "client_id=c1&client_secret=s3cret", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_int_equal(auth(fx, "Basic cDE6czNjcmV0", "", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_true(rs.www_auth_basic);
}

static void client_auth_failures(void **state)
{
    auth_fixture *fx = *state;
    http_response rs;
    const client_entry *ce = NULL;
    /* both methods at once */
    assert_int_equal(auth(fx, "Basic YzE6czNjcmV0", "client_id=c1&client_secret=s3cret", &rs, &ce),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_int_equal(auth(fx, "Basic YzE6czNjcmV0", "client_secret=s3cret", &rs, &ce),
                     IDP_ERR_OAUTH_INVALID_REQUEST);
    /* body client_id differs from Basic */
    assert_int_equal(auth(fx, "Basic YzE6czNjcmV0", "client_id=c2", &rs, &ce), IDP_ERR_OAUTH_INVALID_REQUEST);
    /* wrong secret (Basic "c1:wrong"): 401 with WWW-Authenticate */
    assert_int_equal(auth(fx, "Basic YzE6d3Jvbmc=", "", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_true(rs.www_auth_basic);
    assert_string_equal(rs.client_id, "");
    /* unknown client (Basic "zz:s3cret") */
    assert_int_equal(auth(fx, "Basic eno6czNjcmV0", "", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    /* malformed Basic */
    assert_int_equal(auth(fx, "Basic !!!!", "", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    /* post: wrong secret, missing secret, client without a secret, empty secret */
    assert_int_equal(auth(fx, NULL, "client_id=c1&client_secret=nope", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_false(rs.www_auth_basic);
    assert_int_equal(auth(fx, NULL, "client_id=c1", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_int_equal(auth(fx, NULL, "client_id=nosecret&client_secret=x", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_int_equal(auth(fx, "Basic bm9zZWNyZXQ6", "", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    /* nothing at all */
    assert_int_equal(auth(fx, NULL, "grant_type=x", &rs, &ce), IDP_ERR_OAUTH_INVALID_CLIENT);
    assert_true(rs.www_auth_basic);
    assert_null(ce);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(router_lookup),
        cmocka_unit_test(error_rendering),
        cmocka_unit_test(bearer_challenges),
        cmocka_unit_test(listen_addresses),
        cmocka_unit_test(request_form_checks),
        cmocka_unit_test_setup_teardown(client_auth_methods, auth_setup, auth_teardown),
        cmocka_unit_test_setup_teardown(client_auth_failures, auth_setup, auth_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
