/* Unit tests for the routes: section of the policy (src/policy/policy_routes.c; docs/POLICY.md
 * "Routes"): compile and the defaults, one negative test per validation rule with its line,
 * bounds, path and host normalisation (refused forms), method bits (GET implies HEAD),
 * segment-aware prefix matching and the specificity order, permissions from the token's claims,
 * explain and diff. */
#include "testutil.h"

#include "core/buf.h"
#include "policy/policy_routes.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_diags(const policy_diags *d)
{
    idp_buf b;
    buf_init(&b, 0);
    policy_diags_format(d, "t.yaml", &b);
    print_message("%s", buf_cstr(&b));
    buf_free(&b);
}

static policy *load_ok(const char *text)
{
    policy *p = NULL;
    policy_diags d = {0};
    idp_error e = {0};
    idp_err rc = policy_load(text, strlen(text), NULL, &p, &d, &e);
    if (rc != IDP_OK) print_diags(&d);
    assert_int_equal(rc, IDP_OK);
    assert_non_null(p);
    policy_diags_free(&d);
    return p;
}

static void expect_diag(const char *text, int line, const char *needle)
{
    policy *p = NULL;
    policy_diags d = {0};
    idp_error e = {0};
    assert_int_equal(policy_load(text, strlen(text), NULL, &p, &d, &e), IDP_ERR_CONFIG);
    assert_null(p);
    bool found = false;
    for (size_t i = 0; i < d.n && !found; i++)
        found = d.items[i].line == line && strstr(d.items[i].msg, needle) != NULL;
    if (!found) {
        print_diags(&d);
        fail_msg("no diagnostic at line %d containing \"%s\"", line, needle);
    }
    policy_diags_free(&d);
}

/* Lines 1-16. */
#define HEAD                                                                                       \
    "version: 1\n"                                                 /* 1 */                         \
    "claim_namespace: \"https://idpd.example/claims/\"\n"          /* 2 */                         \
    "permissions:\n"                                               /* 3 */                         \
    "  orders.read: \"\"\n"                                        /* 4 */                         \
    "  orders.write: \"\"\n"                                       /* 5 */                         \
    "roles:\n"                                                     /* 6 */                         \
    "  viewer: { permissions: [orders.read] }\n"                   /* 7 */                         \
    "  editor: { permissions: [orders.write], includes: [viewer] }\n" /* 8 */                      \
    "scopes:\n"                                                    /* 9 */                         \
    "  orders:read: { requires: [orders.read], claims: [roles] }\n" /* 10 */                       \
    "  orders:write: { requires: [orders.write] }\n"               /* 11 */                        \
    "  openid: {}\n"                                               /* 12 */                        \
    "resources:\n"                                                 /* 13 */                        \
    "  https://api.example: { scopes: [orders:read, orders:write] }\n" /* 14 */                    \
    "bindings: { groups: { Staff: [viewer] } }\n"                  /* 15 */                        \
    "routes:\n"                                                    /* 16 */

#define RULES                                                                                      \
    HEAD "  - { path: /, public: true }\n"                                         /* 17 */        \
         "  - { path: /api, scopes: [orders:read], audience: https://api.example }\n" /* 18 */     \
         "  - { path: /api/orders, methods: [POST, PUT], scopes: [orders:write] }\n" /* 19 */      \
         "  - { host: Admin.Example, path: /api, permissions: [orders.write] }\n"  /* 20 */        \
         "  - { path: /api/orders, methods: [GET], permissions: [orders.read] }\n" /* 21 */

static const policy_route *m(const policy *p, const char *meth, const char *host,
                             const char *uri)
{
    char path[POLICY_ROUTE_MAX_PATH + 1], h[POLICY_ROUTE_MAX_HOST + 1];
    assert_null(policy_route_path(uri, strlen(uri), path));
    bool hok = host && policy_route_host(host, strlen(host), h);
    return policy_route_match(p, policy_route_method(meth, strlen(meth)), hok ? h : NULL, path);
}

static void compile_and_match(void **state)
{
    (void)state;
    policy *p = load_ok(RULES);
    assert_int_equal(policy_route_count(p), 5);
    const policy_route *r = policy_route_at(p, 3);
    assert_string_equal(r->host, "admin.example");
    assert_int_equal(r->line, 20);
    assert_true(policy_route_at(p, 0)->is_public);
    assert_null(policy_route_at(p, 5));
    /* segment-aware prefix */
    assert_int_equal(m(p, "GET", NULL, "/api")->line, 18);
    assert_int_equal(m(p, "GET", NULL, "/api/")->line, 18);
    assert_int_equal(m(p, "GET", NULL, "/api/x?y=1")->line, 18);
    assert_int_equal(m(p, "GET", NULL, "/apix")->line, 17);
    assert_int_equal(m(p, "GET", NULL, "/")->line, 17);
    /* longer prefix and methods; GET implies HEAD; a method the rule does not name falls back */
    assert_int_equal(m(p, "POST", NULL, "/api/orders/7")->line, 19);
    assert_int_equal(m(p, "GET", NULL, "/api/orders")->line, 21);
    assert_int_equal(m(p, "HEAD", NULL, "/api/orders")->line, 21);
    assert_int_equal(m(p, "DELETE", NULL, "/api/orders")->line, 18);
    assert_int_equal(m(p, "BREW", NULL, "/api/orders")->line, 18);
    /* host over no host, case-insensitive, port dropped */
    assert_int_equal(m(p, "POST", "ADMIN.example:8443", "/api/orders")->line, 20);
    assert_int_equal(m(p, "POST", "other.example", "/api/orders")->line, 19);
    /* absolute-form target: the path after the authority */
    assert_int_equal(m(p, "GET", NULL, "https://x.example/api/a")->line, 18);
    policy_free(p);
}

static void no_rule_denies(void **state)
{
    (void)state;
    policy *p = load_ok(HEAD "  - { path: /api, scopes: [orders:read] }\n");
    assert_null(m(p, "GET", NULL, "/"));
    assert_null(m(p, "GET", NULL, "/apis"));
    assert_non_null(m(p, "GET", NULL, "/api/v1"));
    policy_free(p);
    /* no routes: section: nothing matches */
    p = load_ok(HEAD "  []\n");
    assert_int_equal(policy_route_count(p), 0);
    assert_null(m(p, "GET", NULL, "/"));
    policy_free(p);
}

static void path_normalisation(void **state)
{
    (void)state;
    char out[POLICY_ROUTE_MAX_PATH + 1];
    assert_null(policy_route_path("/a/%7Eb/%41", 11, out));
    assert_string_equal(out, "/a/~b/A");
    assert_null(policy_route_path("/a%2a?x#y", 9, out));
    assert_string_equal(out, "/a%2A");
    assert_null(policy_route_path("http://h:1/p", 12, out));
    assert_string_equal(out, "/p");
    static const char *const bad[] = {
        "",         "api",        "/a/../b",  "/a/./b",    "/a/..",      "/a/%2e%2E/b",
        "/a/.%2e",  "/a%2fb",     "/a%5Cb",   "/a%00",     "/a\\b",      "//a",
        "/a//b",    "/a b",       "/a\tb",    "/a%0a",     "/a%zz",      "/a%4",
        "http://h", "https://h?x", "/.",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = policy_route_path(bad[i], strlen(bad[i]), out);
        if (!why) fail_msg("accepted %s", bad[i]);
    }
    /* "..." and ".x" are ordinary segments */
    assert_null(policy_route_path("/.../.x/", 8, out));
    /* bound */
    char *big = malloc(POLICY_ROUTE_MAX_PATH + 2);
    memset(big, 'a', POLICY_ROUTE_MAX_PATH + 1);
    big[0] = '/';
    assert_non_null(policy_route_path(big, POLICY_ROUTE_MAX_PATH + 1, out));
    assert_null(policy_route_path(big, POLICY_ROUTE_MAX_PATH, out));
    free(big);
}

static void host_and_method(void **state)
{
    (void)state;
    char h[POLICY_ROUTE_MAX_HOST + 1];
    assert_true(policy_route_host("Api.Example:443", 15, h));
    assert_string_equal(h, "api.example");
    assert_true(policy_route_host("[::1]:80", 8, h));
    assert_string_equal(h, "[::1]");
    assert_false(policy_route_host("", 0, h));
    assert_false(policy_route_host("a b", 3, h));
    assert_false(policy_route_host("a:", 2, h));
    assert_false(policy_route_host("a:x", 3, h));
    assert_false(policy_route_host("a\r\nb", 4, h));
    assert_int_equal(policy_route_method("GET", 3), ROUTE_M_GET);
    assert_int_equal(policy_route_method("get", 3), ROUTE_M_OTHER);
    assert_int_equal(policy_route_method("G T", 3), 0);
    assert_int_equal(policy_route_method("", 0), 0);
}

static void validation(void **state)
{
    (void)state;
    expect_diag(HEAD "  - { path: /a, scopes: [orders:read], colour: red }\n", 17,
                "unknown key colour");
    expect_diag(HEAD "  - { scopes: [orders:read] }\n", 17, "path is required");
    expect_diag(HEAD "  - { path: api, scopes: [orders:read] }\n", 17, "must start with /");
    expect_diag(HEAD "  - { path: /a/../b, scopes: [orders:read] }\n", 17, "dot segment");
    expect_diag(HEAD "  - { path: /a/, scopes: [orders:read] }\n", 17, "must not end with /");
    expect_diag(HEAD "  - { path: \"/a?x=1\", scopes: [orders:read] }\n", 17, "query");
    expect_diag(HEAD "  - { path: /%7e, scopes: [orders:read] }\n", 17, "normal form");
    expect_diag(HEAD "  - { path: /a, scopes: [nope] }\n", 17, "nope is not a scope");
    expect_diag(HEAD "  - { path: /a, permissions: [nope] }\n", 17, "nope is not a permission");
    expect_diag(HEAD "  - { path: /a, methods: [get] }\n", 17, "case-sensitive");
    expect_diag(HEAD "  - { path: /a, methods: [GET, GET], scopes: [openid] }\n", 17,
                "listed twice");
    expect_diag(HEAD "  - { path: /a, scopes: [] }\n", 17, "must not be empty");
    expect_diag(HEAD "  - { path: /a }\n", 17, "says nothing about access");
    expect_diag(HEAD "  - { path: /a, public: true, scopes: [openid] }\n", 17,
                "public rule requires nothing");
    expect_diag(HEAD "  - { path: /a, public: yes }\n", 17, "true or false");
    expect_diag(HEAD "  - { path: /a, host: \"a.example:80\", public: true }\n", 17,
                "without a port");
    expect_diag(HEAD "  - { path: /a, audience: \"a b\" }\n", 17, "audience must be printable");
    expect_diag(HEAD "  - { path: /a, public: true }\n"
                     "  - { path: /a, scopes: [openid] }\n",
                18, "duplicates route 1");
    expect_diag(HEAD "  - { path: /a, methods: [GET], public: true }\n"
                     "  - { path: /a, methods: [HEAD, POST], scopes: [openid] }\n",
                18, "duplicates route 1");
    expect_diag(HEAD "  not-a-list\n", 17, "routes must be a list");
    /* no scope releases roles/permissions: a permission rule can never be met */
    expect_diag("version: 1\nclaim_namespace: x_\npermissions: { a: \"\" }\n"
                "routes:\n  - { path: /a, permissions: [a] }\n",
                5, "no scope releases");
    /* not an overlay section */
    expect_diag(HEAD "  - { path: /a, public: true }\nenvironments:\n  prod:\n    routes: []\n",
                20, "unknown key routes");
    /* different hosts or methods of another kind are not duplicates */
    policy *p = load_ok(HEAD "  - { path: /a, public: true }\n"
                             "  - { path: /a, host: a.example, public: true }\n"
                             "  - { path: /a, methods: [GET], scopes: [openid] }\n");
    policy_free(p);
}

static void bounds(void **state)
{
    (void)state;
    idp_buf b;
    buf_init(&b, 0);
    buf_puts(&b, HEAD);
    for (int i = 0; i <= POLICY_MAX_ROUTES; i++)
        buf_printf(&b, "  - { path: /r%d, public: true }\n", i);
    /* at the line of the list (its first item), as the other sections report */
    expect_diag(buf_cstr(&b), 17, "more than 256 rules");
    buf_reset(&b);
    buf_puts(&b, HEAD "  - { path: /a, methods: [");
    for (int i = 0; i <= POLICY_ROUTE_MAX_ITEMS; i++)
        buf_printf(&b, "%sGET", i ? ", " : "");
    buf_puts(&b, "] }\n");
    expect_diag(buf_cstr(&b), 17, "more than 32 items");
    buf_free(&b);
}

static void permissions_from_token(void **state)
{
    (void)state;
    policy *p = load_ok(RULES);
    json_t *perms = json_pack("[s]", "orders.read");
    json_t *roles = json_pack("[s]", "editor");
    json_t *bogus = json_pack("[s, i]", "nope", 3);
    assert_true(policy_route_has_perm(p, perms, NULL, "orders.read"));
    assert_false(policy_route_has_perm(p, perms, roles, "orders.write")); /* claim wins */
    assert_true(policy_route_has_perm(p, NULL, roles, "orders.read"));    /* via includes */
    assert_true(policy_route_has_perm(p, NULL, roles, "orders.write"));
    assert_false(policy_route_has_perm(p, NULL, bogus, "orders.read"));
    assert_false(policy_route_has_perm(p, NULL, NULL, "orders.read"));
    assert_false(policy_route_has_perm(p, NULL, roles, "unknown.perm"));
    json_decref(perms);
    json_decref(roles);
    json_decref(bogus);
    policy_free(p);
}

static void explain(void **state)
{
    (void)state;
    policy *p = load_ok(RULES);
    json_t *o = NULL;
    idp_error e = {0};
    assert_int_equal(
        policy_route_explain(p, "POST", "https://admin.example/api/orders", NULL, &o, &e), IDP_OK);
    const json_t *mt = json_object_get(o, "match");
    assert_int_equal(json_integer_value(json_object_get(mt, "line")), 20);
    assert_string_equal(json_string_value(json_object_get(mt, "host")), "admin.example");
    assert_string_equal(json_string_value(json_array_get(json_object_get(mt, "permissions"), 0)),
                        "orders.write");
    json_decref(o);
    assert_int_equal(policy_route_explain(p, "GET", "/api/orders", NULL, &o, &e), IDP_OK);
    mt = json_object_get(o, "match");
    assert_string_equal(json_string_value(json_object_get(mt, "methods")), "GET,HEAD");
    json_decref(o);
    assert_int_equal(policy_route_explain(p, "GET", "/a/../b", NULL, &o, &e), IDP_ERR_INVALID);
    assert_null(o);
    assert_int_equal(policy_route_explain(p, "G T", "/", NULL, &o, &e), IDP_ERR_INVALID);
    policy_free(p);
    p = load_ok(HEAD "  - { path: /api, scopes: [orders:read] }\n");
    assert_int_equal(policy_route_explain(p, "GET", "/other", NULL, &o, &e), IDP_OK);
    assert_true(json_is_null(json_object_get(o, "match")));
    assert_non_null(strstr(json_string_value(json_object_get(o, "decision")), "deny"));
    json_decref(o);
    policy_free(p);
}

static void check_claims(void **state)
{
    (void)state;
    policy *p = load_ok(RULES);
    const policy_route *api = policy_route_at(p, 1), *adm = policy_route_at(p, 3);
    const policy_route *get = policy_route_at(p, 4), *pub = policy_route_at(p, 0);
    char what = 'x';
    json_t *c = json_pack("{s:s, s:[s, s]}", "scope", "openid orders:read", "aud", "other",
                          "https://api.example");
    assert_null(policy_route_check(p, api, c, &what));
    assert_int_equal(what, 0);
    assert_null(policy_route_check(p, pub, NULL, NULL)); /* public: nothing needed */
    /* a scope is a whole word: "orders:reader" is not "orders:read" */
    json_object_set_new(c, "scope", json_string("orders:reader openid"));
    assert_non_null(policy_route_check(p, api, c, &what));
    assert_int_equal(what, 's');
    json_object_del(c, "scope");
    assert_int_equal(policy_route_check(p, api, c, &what) != NULL && what == 's', 1);
    /* audience: a string or an array member */
    json_object_set_new(c, "scope", json_string("orders:read"));
    json_object_set_new(c, "aud", json_string("https://api.example"));
    assert_null(policy_route_check(p, api, c, NULL));
    json_object_set_new(c, "aud", json_string("https://api.example/"));
    assert_non_null(policy_route_check(p, api, c, &what));
    assert_int_equal(what, 'a');
    json_object_del(c, "aud");
    assert_non_null(policy_route_check(p, api, c, &what));
    /* permissions: the namespaced claims; roles expand through includes */
    assert_non_null(policy_route_check(p, get, c, &what));
    assert_int_equal(what, 'p');
    json_object_set_new(c, "https://idpd.example/claims/roles", json_pack("[s]", "editor"));
    assert_null(policy_route_check(p, get, c, NULL));
    assert_null(policy_route_check(p, adm, c, NULL));
    json_object_set_new(c, "https://idpd.example/claims/permissions",
                        json_pack("[s]", "orders.read"));
    assert_null(policy_route_check(p, get, c, NULL));
    assert_non_null(policy_route_check(p, adm, c, &what)); /* the permissions claim wins */
    assert_int_equal(what, 'p');
    idp_buf b;
    buf_init(&b, 0);
    policy_route_scopes(policy_route_at(p, 2), &b);
    assert_string_equal(buf_cstr(&b), "orders:write");
    buf_reset(&b);
    policy_route_scopes(adm, &b);
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);
    /* explain with claims says whether they meet the rule */
    json_t *o = NULL;
    idp_error e = {0};
    assert_int_equal(policy_route_explain(p, "POST", "https://admin.example/api", c, &o, &e),
                     IDP_OK);
    assert_non_null(strstr(json_string_value(json_object_get(o, "lacks")), "permission"));
    assert_non_null(strstr(json_string_value(json_object_get(o, "decision")), "deny"));
    json_decref(o);
    assert_int_equal(policy_route_explain(p, "GET", "/api/orders", c, &o, &e), IDP_OK);
    assert_true(json_is_null(json_object_get(o, "lacks")));
    assert_non_null(strstr(json_string_value(json_object_get(o, "decision")), "allow"));
    json_decref(o);
    json_decref(c);
    policy_free(p);
}

static void diff(void **state)
{
    (void)state;
    policy *a = load_ok(RULES);
    policy *b = load_ok(HEAD "  - { path: /, public: true }\n"
                             "  - { path: /api, scopes: [orders:write], audience: "
                             "https://api.example }\n"
                             "  - { path: /new, scopes: [openid] }\n");
    idp_buf out;
    buf_init(&out, 0);
    idp_error e = {0};
    assert_int_equal(policy_diff(a, b, &out, &e), IDP_OK);
    const char *s = buf_cstr(&out);
    assert_non_null(strstr(s, "~ route /api * requires: scopes [orders:read]"));
    assert_non_null(strstr(s, "-> scopes [orders:write]"));
    assert_non_null(strstr(s, "- route /api/orders POST,PUT: scopes [orders:write]"));
    assert_non_null(strstr(s, "- route admin.example/api *"));
    assert_non_null(strstr(s, "+ route /new *: scopes [openid]"));
    assert_null(strstr(s, "route / *"));
    buf_reset(&out);
    assert_int_equal(policy_diff(a, a, &out, &e), IDP_OK);
    assert_int_equal(out.len, 0);
    buf_free(&out);
    policy_free(a);
    policy_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compile_and_match), cmocka_unit_test(no_rule_denies),
        cmocka_unit_test(path_normalisation), cmocka_unit_test(host_and_method),
        cmocka_unit_test(validation),        cmocka_unit_test(bounds),
        cmocka_unit_test(permissions_from_token), cmocka_unit_test(explain),
        cmocka_unit_test(check_claims),      cmocka_unit_test(diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
