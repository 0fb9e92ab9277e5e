/* Unit tests for the federation section of the policy (src/policy/policy_fed.c,
 * policy_fed_map.c; docs/POLICY.md "Federation"): the full example and the defaults, one negative
 * test per validation rule with its line, overlays, the claim mapping (only_if, map,
 * drop_unmapped, arrays, bounds, types), require, lookups (issuer byte for byte), client
 * allow-lists, evaluation with issuer bindings, explain and diff. */
#include "testutil.h"

#include "core/buf.h"
#include "jose/alg.h"
#include "policy/policy_fed.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------------- */

static void print_diags(const policy_diags *d)
{
    idp_buf b;
    buf_init(&b, 0);
    policy_diags_format(d, "t.yaml", &b);
    print_message("%s", buf_cstr(&b));
    buf_free(&b);
}

static policy *load_env(const char *text, const char *env)
{
    policy *p = NULL;
    policy_diags d = {0};
    idp_error e = {0};
    idp_err rc = policy_load(text, strlen(text), env, &p, &d, &e);
    if (rc != IDP_OK) print_diags(&d);
    assert_int_equal(rc, IDP_OK);
    assert_non_null(p);
    policy_diags_free(&d);
    return p;
}

static policy *load_ok(const char *text)
{
    return load_env(text, NULL);
}

static void expect_diag_env(const char *text, const char *env, int line, const char *needle)
{
    policy *p = NULL;
    policy_diags d = {0};
    idp_error e = {0};
    assert_int_equal(policy_load(text, strlen(text), env, &p, &d, &e), IDP_ERR_CONFIG);
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

static void expect_diag(const char *text, int line, const char *needle)
{
    expect_diag_env(text, NULL, line, needle);
}

/* Lines 1-9. */
#define HEAD                                                                                       \
    "version: 1\n"                                                                                 \
    "claim_namespace: \"https://idpd.example/claims/\"\n"                                          \
    "permissions:\n"                                                                               \
    "  p.read: \"Read things\"\n"                                                                  \
    "  p.write: \"Write things\"\n"                                                                \
    "roles:\n"                                                                                     \
    "  viewer: { permissions: [p.read] }\n"                                                        \
    "  editor: { permissions: [p.write], includes: [viewer] }\n"                                   \
    "  admin: { includes: [editor] }\n"

/* Lines 1-14: one minimal issuer; an issuer's further keys start at line 15 (6 spaces). */
#define FED                                                                                        \
    HEAD "federation:\n"                                 /* 10 */                                  \
         "  issuers:\n"                                  /* 11 */                                  \
         "    - name: partner\n"                         /* 12 */                                  \
         "      issuer: https://login.partner.example\n" /* 13 */                                  \
         "      algorithms: [RS256]\n"                   /* 14 */

/* The example of the brief / docs/POLICY.md "Federation", with typ and clock_skew. */
#define FULL                                                                                       \
    HEAD "federation:\n"                                           /* 10 */                        \
         "  issuers:\n"                                            /* 11 */                        \
         "    - name: partner\n"                                   /* 12 */                        \
         "      issuer: https://login.partner.example\n"           /* 13 */                        \
         "      jwks_uri: https://login.partner.example/keys\n"    /* 14 */                        \
         "      allow_http_loopback: false\n"                      /* 15 */                        \
         "      algorithms: [RS256, ES256]\n"                      /* 16 */                        \
         "      audiences: [https://idpd.example]\n"               /* 17 */                        \
         "      subject_claim: sub\n"                              /* 18 */                        \
         "      typ: at+jwt\n"                                     /* 19 */                        \
         "      clock_skew: 30s\n"                                 /* 20 */                        \
         "      require: {hd: corp.example}\n"                     /* 21 */                        \
         "      claims:\n"                                         /* 22 */                        \
         "        email: {from: email, only_if: email_verified}\n" /* 23 */                        \
         "        name: {from: name}\n"                            /* 24 */                        \
         "        groups: {from: groups, map: {okta-admins: admins}, drop_unmapped: true}\n"       \
         "      provision: jit\n"                                     /* 26 */                     \
         "      link_by: externalId\n"                                /* 27 */                     \
         "      jwt_bearer: {clients: [svc-a], max_lifetime: 300s}\n" /* 28 */                     \
         "      token_exchange: {clients: [gateway]}\n"               /* 29 */                     \
         "      login:\n"                                             /* 30 */                     \
         "        display_name: \"Partner SSO\"\n"                    /* 31 */                     \
         "        client_id: idpd-at-partner\n"                       /* 32 */                     \
         "        client_secret_file: /etc/idpd/partner.secret\n"     /* 33 */                     \
         "        scopes: [openid, email, profile]\n"                 /* 34 */                     \
         "      jwks: {refresh: 300s, min_refresh: 30s, max_refresh: 24h, kid_miss_cooldown: "     \
         "30s, stale_if_error: 24h, fetch_timeout: 3s}\n" /* 35 */                                 \
         "bindings:\n"                                    /* 36 */                                 \
         "  issuers:\n"                                   /* 37 */                                 \
         "    partner:\n"                                 /* 38 */                                 \
         "      groups: {admins: [admin]}\n"              /* 39 */                                 \
         "      subjects: {\"00u1abc\": [editor]}\n"      /* 40 */

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) fail_msg("bad JSON in test: %s", je.text);
    return v;
}

/* Maps upstream (JSON text) through issuer `partner` of p; returns the compact JSON text. */
static char *mapped(const policy *p, const char *upstream)
{
    const fed_issuer *is = policy_fed_by_name(p, "partner");
    assert_non_null(is);
    json_t *u = js(upstream), *out = NULL;
    idp_error e = {0};
    assert_int_equal(policy_fed_map_claims(is, u, &out, &e), IDP_OK);
    char *t = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(u);
    json_decref(out);
    return t;
}

static void expect_mapped(const policy *p, const char *upstream, const char *want)
{
    char *t = mapped(p, upstream);
    assert_string_equal(t, want);
    free(t);
}

/* ---- loading -------------------------------------------------------------------------- */

static void full_example(void **state)
{
    policy *p = load_ok(FULL);
    assert_int_equal(policy_fed_count(p), 1);
    const fed_issuer *is = policy_fed_at(p, 0);
    assert_non_null(is);
    assert_null(policy_fed_at(p, 1));
    assert_string_equal(is->name, "partner");
    assert_string_equal(is->issuer, "https://login.partner.example");
    assert_string_equal(is->jwks_uri, "https://login.partner.example/keys");
    assert_false(is->allow_http_loopback);
    assert_int_equal(is->algorithms, JWS_ALG_BIT(JWS_RS256) | JWS_ALG_BIT(JWS_ES256));
    char algs[64];
    assert_string_equal(policy_fed_algs_str(is->algorithms, algs), "ES256 RS256");
    assert_int_equal(is->naudiences, 1);
    assert_string_equal(is->audiences[0], "https://idpd.example");
    assert_string_equal(is->subject_claim, "sub");
    assert_string_equal(is->typ, "at+jwt");
    assert_int_equal(is->clock_skew_s, 30);
    assert_non_null(is->require);
    assert_string_equal(json_string_value(json_object_get(is->require, "hd")), "corp.example");
    assert_int_equal(is->nclaims, 3);
    assert_string_equal(is->claims[0].name, "email");
    assert_string_equal(is->claims[0].from, "email");
    assert_string_equal(is->claims[0].only_if, "email_verified");
    assert_null(is->claims[1].only_if);
    assert_string_equal(is->claims[2].name, "groups");
    assert_int_equal(is->claims[2].nmap, 1);
    assert_string_equal(is->claims[2].map_from[0], "okta-admins");
    assert_string_equal(is->claims[2].map_to[0], "admins");
    assert_true(is->claims[2].drop_unmapped);
    assert_int_equal(is->provision, FED_PROVISION_JIT);
    assert_true(is->link_by_external_id);
    assert_true(is->jwt_bearer);
    assert_int_equal(is->njwt_bearer_clients, 1);
    assert_string_equal(is->jwt_bearer_clients[0], "svc-a");
    assert_int_equal(is->jwt_bearer_max_lifetime_s, 300);
    assert_true(is->token_exchange);
    assert_int_equal(is->ntoken_exchange_clients, 1);
    assert_string_equal(is->token_exchange_clients[0], "gateway");
    assert_non_null(is->login);
    assert_string_equal(is->login->display_name, "Partner SSO");
    assert_string_equal(is->login->client_id, "idpd-at-partner");
    assert_string_equal(is->login->client_secret_file, "/etc/idpd/partner.secret");
    assert_int_equal(is->login->nscopes, 3);
    assert_int_equal(is->jwks.refresh_s, 300);
    assert_int_equal(is->jwks.min_refresh_s, 30);
    assert_int_equal(is->jwks.max_refresh_s, 86400);
    assert_int_equal(is->jwks.kid_miss_cooldown_s, 30);
    assert_int_equal(is->jwks.stale_if_error_s, 86400);
    assert_int_equal(is->jwks.fetch_timeout_ms, 3000);
    assert_int_equal(is->line, 12);
    assert_true(policy_fed_any(p, true));
    assert_true(policy_fed_any(p, false));
    assert_true(policy_fed_any_login(p));
    policy_free(p);
}

static void defaults(void **state)
{
    policy *p = load_ok(FED);
    const fed_issuer *is = policy_fed_by_name(p, "partner");
    assert_non_null(is);
    assert_null(is->login); /* no login: no upstream sign-in */
    assert_null(is->jwks_uri);
    assert_false(is->allow_http_loopback);
    assert_int_equal(is->algorithms, JWS_ALG_BIT(JWS_RS256));
    assert_int_equal(is->naudiences, 0);
    assert_string_equal(is->subject_claim, "sub");
    assert_null(is->typ);
    assert_int_equal(is->clock_skew_s, 60);
    assert_null(is->require);
    assert_int_equal(is->nclaims, 0);
    assert_int_equal(is->provision, FED_PROVISION_NONE);
    assert_false(is->link_by_external_id);
    assert_false(is->jwt_bearer);
    assert_int_equal(is->jwt_bearer_max_lifetime_s, 300);
    assert_false(is->token_exchange);
    assert_int_equal(is->jwks.refresh_s, 300);
    assert_int_equal(is->jwks.min_refresh_s, 30);
    assert_int_equal(is->jwks.max_refresh_s, 86400);
    assert_int_equal(is->jwks.kid_miss_cooldown_s, 30);
    assert_int_equal(is->jwks.stale_if_error_s, 86400);
    assert_int_equal(is->jwks.fetch_timeout_ms, 3000);
    assert_false(policy_fed_any(p, true));
    assert_false(policy_fed_any(p, false));
    policy_free(p);
    /* no federation section at all */
    p = load_ok(HEAD);
    assert_int_equal(policy_fed_count(p), 0);
    assert_null(policy_fed_by_name(p, "partner"));
    assert_false(policy_fed_any_login(p));
    policy_free(p);
    /* the other provisions; link_only with link_by */
    p = load_ok(FED "      provision: link_only\n      link_by: externalId\n");
    assert_int_equal(policy_fed_by_name(p, "partner")->provision, FED_PROVISION_LINK_ONLY);
    policy_free(p);
    p = load_ok(FED "      provision: none\n");
    assert_int_equal(policy_fed_by_name(p, "partner")->provision, FED_PROVISION_NONE);
    policy_free(p);
}

/* ---- validation ----------------------------------------------------------------------- */

#define ALGS(list)                                                                                 \
    HEAD "federation:\n  issuers:\n    - name: partner\n      issuer: https://a.example\n"         \
         "      algorithms: " list "\n" /* 14 */

static void rule_algorithms(void **state)
{
    expect_diag(ALGS("[RS256, none]"), 14,
                "federation issuer partner: algorithm none is refused: unsigned tokens are never "
                "accepted");
    expect_diag(ALGS("[HS256]"), 14,
                "federation issuer partner: algorithm HS256 is refused: symmetric (HMAC)");
    expect_diag(ALGS("[hs512]"), 14, "algorithm hs512 is refused");
    expect_diag(ALGS("[NONE]"), 14, "algorithm NONE is refused");
    expect_diag(ALGS("[RS384]"), 14, "unknown algorithm RS384 (expected: ES256 RS256 PS256 EdDSA)");
    expect_diag(ALGS("[es256]"), 14, "unknown algorithm es256");
    expect_diag(ALGS("[]"), 14, "algorithms must be a non-empty list");
    expect_diag(ALGS("RS256"), 14, "algorithms must be a non-empty list");
    expect_diag(ALGS("[RS256, RS256]"), 14, "algorithm RS256 listed twice");
    expect_diag(ALGS("[[RS256]]"), 14, "items must be algorithm names");
    expect_diag(HEAD
                "federation:\n  issuers:\n    - name: partner\n      issuer: https://a.example\n",
                12, "algorithms is required");
    /* a multi-line list reports the item's own line */
    expect_diag(HEAD
                "federation:\n  issuers:\n    - name: partner\n      issuer: https://a.example\n"
                "      algorithms:\n        - ES256\n        - HS256\n",
                16, "algorithm HS256 is refused");
    policy *p = load_ok(ALGS("[ES256, RS256, PS256, EdDSA]"));
    assert_int_equal(policy_fed_by_name(p, "partner")->algorithms, JWS_ALGS_ALL);
    policy_free(p);
}

#define ISS(name, issuer)                                                                          \
    "    - name: " name "\n      issuer: " issuer "\n      algorithms: [ES256]\n"

static void rule_names(void **state)
{
    const char *pre = HEAD "federation:\n  issuers:\n";
    char doc[2048];
    snprintf(doc, sizeof doc, "%s" ISS("Partner", "https://a.example"), pre);
    expect_diag(doc, 12, "federation issuer Partner: name must match [a-z0-9][a-z0-9-]*");
    snprintf(doc, sizeof doc, "%s" ISS("-x", "https://a.example"), pre);
    expect_diag(doc, 12, "name must match");
    snprintf(doc, sizeof doc, "%s" ISS("a_b", "https://a.example"), pre);
    expect_diag(doc, 12, "name must match");
    snprintf(doc, sizeof doc, "%s" ISS("\"\"", "https://a.example"), pre);
    expect_diag(doc, 12, "name must be 1 to 64 characters");
    snprintf(doc, sizeof doc, "%s" ISS("a", "https://a.example") ISS("a", "https://b.example"),
             pre);
    expect_diag(doc, 15, "federation issuer a: name already used on line 12");
    snprintf(doc, sizeof doc, "%s" ISS("a", "https://a.example") ISS("b", "https://a.example"),
             pre);
    expect_diag(doc, 16,
                "federation issuer b: issuer https://a.example already declared on line 12");
    snprintf(doc, sizeof doc, "%s    - issuer: https://a.example\n      algorithms: [ES256]\n",
             pre);
    expect_diag(doc, 12, "name is required");
    snprintf(doc, sizeof doc,
             "%s    - name: [a]\n      issuer: https://a.example\n      algorithms: [ES256]\n",
             pre);
    expect_diag(doc, 12, "name must be a string");
    /* trailing slash: a different issuer, so both may be declared */
    snprintf(doc, sizeof doc,
             "%s" ISS("a", "https://a.example") ISS("b", "https://a.example/")
                 ISS("0-9", "https://c.example"),
             pre);
    policy *p = load_ok(doc);
    assert_int_equal(policy_fed_count(p), 3);
    assert_string_equal(policy_fed_at(p, 0)->name, "0-9"); /* sorted */
    policy_free(p);
}

static void rule_issuer_url(void **state)
{
    const char *pre = HEAD "federation:\n  issuers:\n";
    char doc[2048];
    struct {
        const char *iss, *needle;
    } bad[] = {
        {"http://login.example", "issuer must be https:// (http:// only with allow_http_loopback"},
        {"login.example", "issuer must be an absolute https:// URL"},
        {"ftp://login.example", "issuer must be an absolute https:// URL"},
        {"https://", "issuer has no host"},
        {"https:///x", "issuer has no host"},
        {"https://a.example/?x=1", "issuer must not contain a query"},
        {"https://a.example/#f", "issuer must not contain a fragment"},
        {"https://u@a.example", "issuer must not contain userinfo"},
        {"https://a.example:99999", "issuer has a malformed port"},
        {"https://a.example:x", "issuer has a malformed port"},
        {"\"https://a example\"", "contains a character a URL may not hold"},
        {"[a]", "issuer must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(doc, sizeof doc, "%s" ISS("a", "%s"), pre, bad[i].iss);
        expect_diag(doc, 13, bad[i].needle);
    }
    snprintf(doc, sizeof doc, "%s    - name: a\n      algorithms: [ES256]\n", pre);
    expect_diag(doc, 12, "issuer is required");
    /* http:// with allow_http_loopback: only loopback hosts */
    const char *lb[] = {"http://127.0.0.1:8080", "http://127.9.8.7/x", "http://localhost:3000",
                        "http://[::1]:443/", "http://localhost"};
    for (size_t i = 0; i < sizeof lb / sizeof *lb; i++) {
        snprintf(doc, sizeof doc, "%s" ISS("a", "%s") "      allow_http_loopback: true\n", pre,
                 lb[i]);
        policy *p = load_ok(doc);
        assert_true(policy_fed_by_name(p, "a")->allow_http_loopback);
        policy_free(p);
    }
    const char *nlb[] = {
        "http://128.0.0.1", "http://localhost.example", "http://127.0.0",   "http://127.0.0.1.5",
        "http://[::2]",     "http://127.0.0.256",       "http://x127.0.0.1"};
    for (size_t i = 0; i < sizeof nlb / sizeof *nlb; i++) {
        snprintf(doc, sizeof doc, "%s" ISS("a", "%s") "      allow_http_loopback: true\n", pre,
                 nlb[i]);
        expect_diag(doc, 13, "is http:// but its host is not a loopback address");
    }
    snprintf(doc, sizeof doc, "%s" ISS("a", "https://a.example") "      allow_http_loopback: yes\n",
             pre);
    expect_diag(doc, 15, "allow_http_loopback must be true or false");
    /* jwks_uri: the same rule (a query is fine) */
    snprintf(doc, sizeof doc,
             "%s" ISS("a", "https://a.example") "      jwks_uri: http://a.example/k\n", pre);
    expect_diag(doc, 15, "jwks_uri must be https://");
    snprintf(doc, sizeof doc,
             "%s" ISS("a", "http://127.0.0.1") "      jwks_uri: http://a.example/k\n"
                                               "      allow_http_loopback: true\n",
             pre);
    expect_diag(doc, 15, "jwks_uri is http:// but its host is not a loopback address");
    snprintf(doc, sizeof doc,
             "%s" ISS("a", "https://a.example") "      jwks_uri: https://a.example/k#x\n", pre);
    expect_diag(doc, 15, "jwks_uri must not contain a fragment");
    snprintf(doc, sizeof doc,
             "%s" ISS("a", "https://a.example") "      jwks_uri: https://a.example/k?v=2\n", pre);
    policy *p = load_ok(doc);
    assert_string_equal(policy_fed_by_name(p, "a")->jwks_uri, "https://a.example/k?v=2");
    policy_free(p);
}

static void rule_values(void **state)
{
    expect_diag(FED "      audiences: https://idpd.example\n", 15,
                "audiences must be a list of strings");
    expect_diag(FED "      audiences: [[a]]\n", 15, "audiences: items must be strings");
    expect_diag(FED "      audiences: [a, a]\n", 15, "audiences: a listed twice");
    expect_diag(FED "      subject_claim: [sub]\n", 15, "subject_claim must be a string");
    expect_diag(FED "      subject_claim: \"\"\n", 15, "subject_claim must not be empty");
    expect_diag(FED "      typ: {a: b}\n", 15, "typ must be a string");
    expect_diag(FED "      clock_skew: soon\n", 15, "clock_skew must be a positive duration");
    expect_diag(FED "      clock_skew: 0\n", 15, "clock_skew must be a positive duration");
    expect_diag(FED "      clock_skew: 11m\n", 15, "clock_skew must be at most 600s");
    expect_diag(FED "      provision: always\n", 15, "provision must be jit, link_only or none");
    expect_diag(FED "      link_by: email\n", 15, "link_by must be externalId");
    expect_diag(FED "      colour: blue\n", 15,
                "federation issuer partner: unknown key colour (expected: name issuer");
    expect_diag(HEAD "federation:\n  issuer: []\n", 11,
                "federation: unknown key issuer (expected: issuers)");
    expect_diag(HEAD "federation: []\n", 10, "federation must be a mapping");
    expect_diag(HEAD "federation: {}\n", 10, "federation: issuers is required");
    expect_diag(HEAD "federation:\n  issuers: {}\n", 11, "federation.issuers must be a list");
    expect_diag(HEAD "federation:\n  issuers: [x]\n", 11, "each issuer must be a mapping");
    policy *p = load_ok(FED "      clock_skew: 2m\n      typ: at+jwt\n      subject_claim: oid\n");
    const fed_issuer *is = policy_fed_by_name(p, "partner");
    assert_int_equal(is->clock_skew_s, 120);
    assert_string_equal(is->typ, "at+jwt");
    assert_string_equal(is->subject_claim, "oid");
    policy_free(p);
}

static void rule_require(void **state)
{
    expect_diag(FED "      require: [hd]\n", 15, "require must be a mapping of claim: value");
    expect_diag(FED "      require: {hd: {a: b}}\n", 15,
                "require hd: the value must be a scalar (string, number, true or false)");
    expect_diag(FED "      require: {hd: [a]}\n", 15, "require hd: the value must be a scalar");
    expect_diag(FED "      require: {hd: ~}\n", 15, "require hd: the value must be a scalar");
    policy *p = load_ok(FED "      require: {hd: corp.example, email_verified: true, tier: 3, "
                            "neg: -2, v: \"1.5\"}\n");
    const json_t *r = policy_fed_by_name(p, "partner")->require;
    assert_true(json_is_string(json_object_get(r, "hd")));
    assert_true(json_is_true(json_object_get(r, "email_verified")));
    assert_int_equal(json_integer_value(json_object_get(r, "tier")), 3);
    assert_int_equal(json_integer_value(json_object_get(r, "neg")), -2);
    assert_string_equal(json_string_value(json_object_get(r, "v")), "1.5");
    policy_free(p);
}

static void rule_claims(void **state)
{
    expect_diag(FED "      claims: [email]\n", 15,
                "claims must be a mapping of output claim: rule");
    expect_diag(FED "      claims:\n        email: email\n", 16,
                "claim email must be a mapping ({from: CLAIM, ...})");
    expect_diag(FED "      claims:\n        email: {only_if: v}\n", 16,
                "claim email: from is required");
    expect_diag(FED "      claims:\n        email: {from: [a]}\n", 16,
                "claim email: from must be a claim name");
    expect_diag(FED "      claims:\n        email: {from: email, only_if: [v]}\n", 16,
                "claim email: only_if must be a claim name");
    expect_diag(FED "      claims:\n        g: {from: g, map: [a]}\n", 16,
                "claim g: map must be a mapping");
    expect_diag(FED "      claims:\n        g: {from: g, map: {a: [b]}}\n", 16,
                "claim g: map a: the value must be a string");
    expect_diag(FED "      claims:\n        g: {from: g, map: {a: b}, drop_unmapped: 1}\n", 16,
                "claim g: drop_unmapped must be true or false");
    expect_diag(FED "      claims:\n        g: {from: g, drop_unmapped: true}\n", 16,
                "claim g: drop_unmapped needs a map");
    expect_diag(FED "      claims:\n        g: {from: g, mapping: {}}\n", 16,
                "claim g: unknown key mapping (expected: from only_if map drop_unmapped)");
    /* more than 64 rules */
    idp_buf b;
    buf_init(&b, 0);
    buf_puts(&b, FED "      claims:\n");
    for (int i = 0; i < FED_MAX_CLAIM_RULES + 1; i++)
        buf_printf(&b, "        c%d: {from: c}\n", i);
    expect_diag(buf_cstr(&b), 16, "claims: more than 64 rules");
    /* more than POLICY_MAX_LIST map entries */
    buf_reset(&b);
    buf_puts(&b, FED "      claims:\n        g:\n          from: g\n          map:\n");
    for (int i = 0; i < POLICY_MAX_LIST + 1; i++)
        buf_printf(&b, "            v%d: w\n", i);
    expect_diag(buf_cstr(&b), 19, "map: more than 1024 entries");
    buf_free(&b);
}

static void rule_uses(void **state)
{
    expect_diag(FED "      jwt_bearer: true\n", 15, "jwt_bearer must be a mapping");
    expect_diag(FED "      jwt_bearer: {}\n", 15, "jwt_bearer.clients is required");
    expect_diag(FED "      jwt_bearer: {clients: []}\n", 15,
                "jwt_bearer.clients must not be empty");
    expect_diag(FED "      jwt_bearer: {clients: svc}\n", 15,
                "jwt_bearer.clients must be a list of strings");
    expect_diag(FED "      jwt_bearer: {clients: [[a]]}\n", 15,
                "jwt_bearer.clients: items must be strings");
    expect_diag(FED "      jwt_bearer: {clients: [a], max_lifetime: forever}\n", 15,
                "jwt_bearer.max_lifetime must be a positive duration");
    expect_diag(FED "      jwt_bearer: {clients: [a], lifetime: 5m}\n", 15,
                "jwt_bearer: unknown key lifetime (expected: clients max_lifetime)");
    expect_diag(FED
                "      audiences: [x]\n      token_exchange: {clients: [a], max_lifetime: 5m}\n",
                16, "token_exchange: unknown key max_lifetime (expected: clients)");
    expect_diag(FED "      token_exchange: {clients: [gateway]}\n", 15,
                "token_exchange needs audiences");
    expect_diag(FED "      audiences: []\n      token_exchange: {clients: [gateway]}\n", 16,
                "token_exchange needs audiences");
    expect_diag(FED "      audiences: [x]\n      token_exchange: {clients: []}\n", 16,
                "token_exchange.clients must not be empty");
    policy *p = load_ok(FED "      jwt_bearer: {clients: [svc-a, svc-b], max_lifetime: 10m}\n");
    assert_int_equal(policy_fed_by_name(p, "partner")->jwt_bearer_max_lifetime_s, 600);
    policy_free(p);
}

static void rule_login(void **state)
{
    expect_diag(FED "      login: yes\n", 15, "login must be a mapping");
    expect_diag(FED "      login: {client_secret_file: /s, scopes: [openid]}\n", 15,
                "login.client_id is required");
    expect_diag(FED "      login: {client_id: c, scopes: [openid]}\n", 15,
                "login.client_secret_file is required");
    expect_diag(FED "      login: {client_id: c, client_secret_file: [a], scopes: [openid]}\n", 15,
                "login.client_secret_file must be a string");
    expect_diag(FED "      login: {client_id: c, client_secret_file: /s}\n", 15,
                "login.scopes is required");
    /* a browser session needs a local user */
    expect_diag(FED "      login: {client_id: c, client_secret_file: /s, scopes: [openid]}\n", 15,
                "login needs provision: jit or link_only");
    expect_diag(FED "      provision: none\n      login: {client_id: c, client_secret_file: /s, scopes: [openid]}\n",
                16, "login needs provision: jit or link_only");
    {
        policy *lp = load_ok(FED "      provision: jit\n"
                                 "      login: {client_id: c, client_secret_file: /s, scopes: [openid]}\n");
        assert_string_equal(policy_fed_by_name(lp, "partner")->login->display_name, "partner"); /* default: the name */
        policy_free(lp);
    }
    expect_diag(FED "      login: {client_id: c, client_secret_file: /s, scopes: [email]}\n", 15,
                "login.scopes must include openid");
    expect_diag(FED "      login: {client_id: c, client_secret_file: /s, scopes: [\"a b\"]}\n", 15,
                "is not a scope-token");
    expect_diag(FED "      login: {client_id: c, client_secret_file: /s, scopes: [openid], "
                    "secret: x}\n",
                15, "login: unknown key secret");
    expect_diag(FED "      login: {client_id: [c], client_secret_file: /s, scopes: [openid]}\n", 15,
                "login.client_id must be a client_id");
}

static void rule_jwks(void **state)
{
    expect_diag(FED "      jwks: 300s\n", 15, "jwks must be a mapping of durations");
    expect_diag(FED "      jwks: {refresh: often}\n", 15,
                "jwks.refresh must be a positive duration");
    expect_diag(FED "      jwks: {min_refresh: 0s}\n", 15,
                "jwks.min_refresh must be a positive duration");
    expect_diag(FED "      jwks: {refresh: 10s}\n", 15, "min_refresh <= refresh <= max_refresh");
    expect_diag(FED "      jwks: {refresh: 2d}\n", 15, "min_refresh <= refresh <= max_refresh");
    expect_diag(FED "      jwks: {min_refresh: 10m, refresh: 5m}\n", 15,
                "min_refresh <= refresh <= max_refresh must hold (600s, 300s, 86400s)");
    expect_diag(FED "      jwks: {fetch_timeout: 10m}\n", 15,
                "jwks.fetch_timeout must be at most 300s");
    expect_diag(FED "      jwks: {ttl: 5m}\n", 15, "jwks: unknown key ttl");
    expect_diag(FED "      jwks:\n        kid_miss_cooldown: -1\n", 16,
                "jwks.kid_miss_cooldown must be a positive duration");
    policy *p = load_ok(FED "      jwks: {refresh: 1h, min_refresh: 1m, max_refresh: 1w, "
                            "kid_miss_cooldown: 10, stale_if_error: 2d, fetch_timeout: 5}\n");
    const fed_jwks_opts *j = &policy_fed_by_name(p, "partner")->jwks;
    assert_int_equal(j->refresh_s, 3600);
    assert_int_equal(j->min_refresh_s, 60);
    assert_int_equal(j->max_refresh_s, 7 * 86400);
    assert_int_equal(j->kid_miss_cooldown_s, 10);
    assert_int_equal(j->stale_if_error_s, 2 * 86400);
    assert_int_equal(j->fetch_timeout_ms, 5000);
    policy_free(p);
}

static void rule_bindings(void **state)
{
    expect_diag(FED "bindings:\n  issuers:\n    other: {groups: {a: [viewer]}}\n", 17,
                "bindings.issuers: other is not an issuer declared under federation.issuers");
    expect_diag(HEAD "bindings:\n  issuers:\n    partner: {}\n", 12,
                "bindings.issuers: partner is not an issuer declared");
    expect_diag(FED "bindings:\n  issuers:\n    partner: {groups: {a: [nope]}}\n", 17,
                "binding issuer partner group a: unknown role nope");
    expect_diag(
        FED "bindings:\n  issuers:\n    partner:\n      subjects: {\"00u1\": [viewer, viewer]}\n",
        18, "binding issuer partner subject 00u1: role viewer listed twice");
    expect_diag(FED "bindings:\n  issuers:\n    partner: {users: {a: [viewer]}}\n", 17,
                "bindings.issuers.partner: unknown key users (expected: groups subjects)");
    expect_diag(FED "bindings:\n  issuers:\n    partner: [viewer]\n", 17,
                "bindings.issuers.partner must be a mapping");
    expect_diag(FED "bindings:\n  issuers: [partner]\n", 16, "bindings.issuers must be a mapping");
    expect_diag(FED "bindings:\n  issuers:\n    partner: {groups: [viewer]}\n", 17,
                "bindings.issuers.partner.groups must be a mapping");
    expect_diag(FED "bindings:\n  issuers:\n    partner: {groups: {a: viewer}}\n", 17,
                "binding issuer partner group a must be a list");
    /* an issuer that failed validation is still known to bindings: one error, not two */
    policy *p = NULL;
    policy_diags d = {0};
    const char *t =
        FED "      provision: bad\nbindings:\n  issuers:\n    partner: {groups: {a: [viewer]}}\n";
    assert_int_equal(policy_load(t, strlen(t), NULL, &p, &d, NULL), IDP_ERR_CONFIG);
    assert_int_equal(d.n, 1);
    policy_diags_free(&d);
}

static void rule_bounds(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    buf_puts(&b, HEAD "federation:\n  issuers:\n");
    for (int i = 0; i < POLICY_MAX_ISSUERS + 1; i++)
        buf_printf(&b, "    - {name: i%d, issuer: \"https://i%d.example\", algorithms: [ES256]}\n",
                   i, i);
    expect_diag(buf_cstr(&b), 12, "federation.issuers: more than 32 issuers");
    buf_reset(&b);
    buf_puts(&b, HEAD "federation:\n  issuers:\n");
    for (int i = 0; i < POLICY_MAX_ISSUERS; i++)
        buf_printf(&b, "    - {name: i%d, issuer: \"https://i%d.example\", algorithms: [ES256]}\n",
                   i, i);
    policy *p = load_ok(buf_cstr(&b));
    assert_int_equal(policy_fed_count(p), POLICY_MAX_ISSUERS);
    policy_free(p);
    buf_free(&b);
}

/* Overlays may not change federation (nor bindings.issuers): docs/POLICY.md "Environments". */
static void env_overlays(void **state)
{
    expect_diag(FED "environments:\n  staging:\n    federation: {issuers: []}\n", 17,
                "environment staging: unknown key federation");
    expect_diag(FED "environments:\n  staging:\n    bindings:\n      issuers: {}\n", 18,
                "environment staging: bindings: unknown key issuers");
    /* an environment gets the base's federation and issuer bindings */
    policy *p = load_env(
        FULL "environments:\n  staging:\n    bindings: {groups: {Dev: [viewer]}}\n", "staging");
    assert_int_equal(policy_fed_count(p), 1);
    const char *g[] = {"admins"};
    policy_subject s = {.issuer_name = "partner", .issuer_groups = g, .nissuer_groups = 1};
    policy_grant gr = {0};
    assert_int_equal(policy_evaluate(p, &s, NULL, NULL, &gr, NULL), IDP_OK);
    assert_int_equal(gr.nroles, 3);
    policy_grant_clear(&gr);
    policy_free(p);
}

/* ---- the claim mapping ---------------------------------------------------------------- */

#define MAPDOC                                                                                     \
    FED "      claims:\n"                                                                          \
        "        email: {from: email, only_if: email_verified}\n"                                  \
        "        name: {from: name}\n"                                                             \
        "        groups: {from: groups, map: {okta-admins: admins, okta-dev: dev, x: admins}, "    \
        "drop_unmapped: true}\n"                                                                   \
        "        dept: {from: department, map: {\"Sales EMEA\": sales}}\n"                         \
        "        sub2: {from: sub}\n"                                                              \
        "        level: {from: level}\n"

static void map_only_if(void **state)
{
    policy *p = load_ok(MAPDOC);
    expect_mapped(p, "{\"email\":\"a@b.example\",\"email_verified\":true}",
                  "{\"email\":\"a@b.example\"}");
    expect_mapped(p, "{\"email\":\"a@b.example\",\"email_verified\":false}", "{}");
    expect_mapped(p, "{\"email\":\"a@b.example\"}", "{}");
    expect_mapped(p, "{\"email\":\"a@b.example\",\"email_verified\":\"true\"}", "{}");
    expect_mapped(p, "{\"email\":\"a@b.example\",\"email_verified\":1}", "{}");
    expect_mapped(p, "{\"email_verified\":true}", "{}");
    /* claims not listed are dropped; a claim may be read by a rule of another name */
    expect_mapped(p, "{\"sub\":\"u1\",\"hd\":\"corp\",\"name\":\"Ann\"}",
                  "{\"name\":\"Ann\",\"sub2\":\"u1\"}");
    policy_free(p);
}

static void map_values(void **state)
{
    policy *p = load_ok(MAPDOC);
    /* map with drop_unmapped: mapped values kept, others dropped; duplicates after mapping */
    expect_mapped(p, "{\"groups\":[\"okta-admins\",\"other\",\"x\",\"okta-dev\",\"okta-admins\"]}",
                  "{\"groups\":[\"admins\",\"dev\"]}");
    expect_mapped(p, "{\"groups\":\"okta-dev\"}", "{\"groups\":\"dev\"}");
    expect_mapped(p, "{\"groups\":\"other\"}", "{}");
    expect_mapped(p, "{\"groups\":[\"other\"]}", "{\"groups\":[]}");
    expect_mapped(p, "{\"groups\":[]}", "{\"groups\":[]}");
    /* map without drop_unmapped: unmapped values kept */
    expect_mapped(p, "{\"department\":\"Sales EMEA\"}", "{\"dept\":\"sales\"}");
    expect_mapped(p, "{\"department\":\"R&D\"}", "{\"dept\":\"R&D\"}");
    expect_mapped(p, "{\"department\":[\"R&D\",\"Sales EMEA\",\"R&D\"]}",
                  "{\"dept\":[\"R&D\",\"sales\"]}");
    /* types: scalars pass when there is no map, are dropped with one; objects and arrays of
     * non-strings are dropped */
    expect_mapped(p, "{\"level\":3,\"name\":true,\"sub\":null}",
                  "{\"level\":3,\"name\":true,\"sub2\":null}");
    expect_mapped(p, "{\"level\":1.5}", "{\"level\":1.5}");
    expect_mapped(p, "{\"department\":3,\"groups\":true}", "{}");
    expect_mapped(p, "{\"name\":{\"a\":\"b\"},\"level\":[1,2]}", "{}");
    expect_mapped(p, "{\"department\":[\"a\",1]}", "{}");
    expect_mapped(p, "{\"name\":[\"a\",[\"b\"]]}", "{}");
    expect_mapped(p, "{\"name\":[\"Ann\",\"Ann\"]}", "{\"name\":[\"Ann\"]}");
    policy_free(p);
}

static void map_bounds(void **state)
{
    policy *p = load_ok(MAPDOC);
    idp_buf b;
    buf_init(&b, 0);
    /* 256 items pass, 257 drop the claim */
    for (int n = FED_MAP_MAX_ITEMS; n <= FED_MAP_MAX_ITEMS + 1; n++) {
        buf_reset(&b);
        buf_puts(&b, "{\"name\":[");
        for (int i = 0; i < n; i++)
            buf_printf(&b, "%s\"v%d\"", i ? "," : "", i);
        buf_puts(&b, "]}");
        char *t = mapped(p, buf_cstr(&b));
        if (n == FED_MAP_MAX_ITEMS)
            assert_non_null(strstr(t, "\"v255\""));
        else
            assert_string_equal(t, "{}");
        free(t);
    }
    /* 1024 bytes pass, 1025 drop (a string, or one item of an array) */
    for (int n = FED_MAP_MAX_STRING; n <= FED_MAP_MAX_STRING + 1; n++) {
        char *s = malloc((size_t)n + 1);
        memset(s, 'a', (size_t)n);
        s[n] = '\0';
        buf_reset(&b);
        buf_printf(&b, "{\"name\":\"%s\",\"department\":[\"x\",\"%s\"]}", s, s);
        char *t = mapped(p, buf_cstr(&b));
        if (n == FED_MAP_MAX_STRING)
            assert_int_equal(strlen(t), 2 * (size_t)n + 27);
        else
            assert_string_equal(t, "{}");
        free(t);
        free(s);
    }
    /* an embedded NUL never maps nor passes */
    expect_mapped(p, "{\"groups\":\"okta-dev\\u0000x\",\"name\":\"a\\u0000b\"}", "{}");
    buf_free(&b);
    /* not an object */
    json_t *arr = js("[1]"), *out = (json_t *)(void *)&out;
    idp_error e = {0};
    assert_int_equal(policy_fed_map_claims(policy_fed_by_name(p, "partner"), arr, &out, &e),
                     IDP_ERR_INVALID);
    assert_null(out);
    json_decref(arr);
    policy_free(p);
    /* an issuer without claims maps to {} */
    p = load_ok(FED);
    expect_mapped(p, "{\"sub\":\"x\",\"email\":\"e\"}", "{}");
    policy_free(p);
}

static void require_check(void **state)
{
    policy *p = load_ok(FED "      require: {hd: corp.example, email_verified: true, tier: 3}\n");
    const fed_issuer *is = policy_fed_by_name(p, "partner");
    struct {
        const char *up;
        idp_err rc;
        const char *msg;
    } cases[] = {
        {"{\"hd\":\"corp.example\",\"email_verified\":true,\"tier\":3}", IDP_OK, NULL},
        {"{\"hd\":\"corp.example\",\"email_verified\":true}", IDP_ERR_JWT_CLAIM,
         "required claim tier is missing"},
        {"{\"hd\":\"evil.example\",\"email_verified\":true,\"tier\":3}", IDP_ERR_JWT_CLAIM,
         "claim hd does not have the required value"},
        {"{\"hd\":\"corp.example\",\"email_verified\":\"true\",\"tier\":3}", IDP_ERR_JWT_CLAIM,
         "claim email_verified does not have the required value"},
        {"{\"hd\":\"corp.example\",\"email_verified\":true,\"tier\":\"3\"}", IDP_ERR_JWT_CLAIM,
         "claim tier does not have the required value"},
        {"[]", IDP_ERR_JWT_CLAIM, "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *u = js(cases[i].up);
        idp_error e = {0};
        assert_int_equal(policy_fed_map_require(is, u, &e), cases[i].rc);
        if (cases[i].msg) {
            assert_non_null(strstr(e.msg, cases[i].msg));
            assert_null(strstr(e.msg, "evil")); /* never the value */
        }
        json_decref(u);
    }
    policy_free(p);
    p = load_ok(FED);
    json_t *u = js("{}");
    assert_int_equal(policy_fed_map_require(policy_fed_by_name(p, "partner"), u, NULL), IDP_OK);
    json_decref(u);
    policy_free(p);
}

/* ---- lookups -------------------------------------------------------------------------- */

static void lookups(void **state)
{
    policy *p =
        load_ok(HEAD "federation:\n  issuers:\n" ISS("b", "https://b.example/tenant")
                    ISS("a", "https://a.example") "      audiences: [x]\n"
                                                  "      jwt_bearer: {clients: [svc-a, svc-b]}\n"
                                                  "      token_exchange: {clients: [gateway]}\n");
    assert_int_equal(policy_fed_count(p), 2);
    const fed_issuer *a = policy_fed_by_name(p, "a"), *b = policy_fed_by_name(p, "b");
    assert_non_null(a);
    assert_non_null(b);
    assert_null(policy_fed_by_name(p, "A"));
    assert_null(policy_fed_by_name(p, NULL));
    const char *iss = "https://b.example/tenant";
    assert_ptr_equal(policy_fed_by_issuer(p, iss, strlen(iss)), b);
    assert_ptr_equal(policy_fed_by_issuer(p, "https://a.exampleXYZ", 17), a); /* by length */
    assert_null(policy_fed_by_issuer(p, "https://b.example/tenant/", 25));    /* trailing slash */
    assert_null(policy_fed_by_issuer(p, "https://a.example/", 18));
    assert_null(policy_fed_by_issuer(p, "https://A.example", 17)); /* no case folding */
    assert_null(policy_fed_by_issuer(p, "https://b.example/tenan", 23));
    assert_null(policy_fed_by_issuer(p, NULL, 0));
    /* client allow-lists: exact, per use */
    assert_true(policy_fed_client_allowed(a, true, "svc-a"));
    assert_true(policy_fed_client_allowed(a, true, "svc-b"));
    assert_false(policy_fed_client_allowed(a, true, "SVC-A"));
    assert_false(policy_fed_client_allowed(a, true, "gateway"));
    assert_true(policy_fed_client_allowed(a, false, "gateway"));
    assert_false(policy_fed_client_allowed(a, false, "svc-a"));
    assert_false(policy_fed_client_allowed(a, true, NULL));
    assert_false(policy_fed_client_allowed(b, true, "svc-a")); /* off */
    assert_false(policy_fed_client_allowed(b, false, "gateway"));
    assert_false(policy_fed_client_allowed(NULL, false, "gateway"));
    assert_true(policy_fed_any(p, true));
    assert_true(policy_fed_any(p, false));
    assert_false(policy_fed_any_login(p));
    policy_free(p);
}

/* ---- evaluation, explain, diff -------------------------------------------------------- */

#define EVALDOC                                                                                    \
    FULL "  groups: {Staff: [viewer]}\n"                                                           \
         "  clients: {gateway: [admin]}\n"                                                         \
         "scopes:\n"                                                                               \
         "  p:read: { requires: [p.read], claims: [roles] }\n"                                     \
         "  p:write: { requires: [p.write] }\n"                                                    \
         "resources:\n"                                                                            \
         "  \"https://api.example.com\": { scopes: [p:read, p:write] }\n"

static char *roles_of(const policy *p, const policy_subject *s)
{
    policy_grant g = {0};
    assert_int_equal(policy_evaluate(p, s, "p:read p:write", NULL, &g, NULL), IDP_OK);
    idp_buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < g.nroles; i++)
        buf_printf(&b, "%s%s", i ? " " : "", g.roles[i]);
    buf_puts(&b, " |");
    for (size_t i = 0; i < g.nscopes; i++)
        buf_printf(&b, " %s", g.scopes[i]);
    policy_grant_clear(&g);
    return buf_steal(&b);
}

static void expect_roles(const policy *p, const policy_subject *s, const char *want)
{
    char *r = roles_of(p, s);
    assert_string_equal(r, want);
    free(r);
}

static void eval_issuer_bindings(void **state)
{
    policy *p = load_ok(EVALDOC);
    const char *admins[] = {"admins"}, *other[] = {"okta-admins", "Admins"};
    const char *staff[] = {"Staff"};
    /* an issuer group */
    policy_subject s = {.issuer_name = "partner", .issuer_groups = admins, .nissuer_groups = 1};
    expect_roles(p, &s, "admin editor viewer | p:read p:write");
    /* upstream values that are not mapped group names, and other case: nothing */
    s = (policy_subject){.issuer_name = "partner", .issuer_groups = other, .nissuer_groups = 2};
    expect_roles(p, &s, " |");
    /* the upstream subject (exact) */
    s = (policy_subject){.issuer_name = "partner", .upstream_subject = "00u1abc"};
    expect_roles(p, &s, "editor viewer | p:read p:write");
    s = (policy_subject){.issuer_name = "partner", .upstream_subject = "00U1ABC"};
    expect_roles(p, &s, " |");
    /* a federated subject never gets the client's roles */
    s = (policy_subject){.issuer_name = "partner", .upstream_subject = "x", .client_id = "gateway"};
    expect_roles(p, &s, " |");
    /* linked local user: local bindings add up with the issuer's */
    s = (policy_subject){.user_name = "ann",
                         .groups = staff,
                         .ngroups = 1,
                         .issuer_name = "partner",
                         .upstream_subject = "nobody"};
    expect_roles(p, &s, "viewer | p:read");
    /* local SCIM groups and upstream groups stay apart */
    s = (policy_subject){.groups = admins, .ngroups = 1};
    expect_roles(p, &s, " |");
    s = (policy_subject){.issuer_name = "partner", .issuer_groups = staff, .nissuer_groups = 1};
    expect_roles(p, &s, " |");
    /* an unknown issuer adds nothing */
    s = (policy_subject){.issuer_name = "nope",
                         .issuer_groups = admins,
                         .nissuer_groups = 1,
                         .upstream_subject = "00u1abc"};
    expect_roles(p, &s, " |");
    /* without issuer_name: unchanged behaviour */
    s = (policy_subject){.client_id = "gateway"};
    expect_roles(p, &s, "admin editor viewer | p:read p:write");
    policy_free(p);
}

static void explain_issuer(void **state)
{
    policy *p = load_ok(EVALDOC);
    const char *g[] = {"admins", "admins"};
    policy_subject s = {.issuer_name = "partner",
                        .upstream_subject = "00u1abc",
                        .issuer_groups = g,
                        .nissuer_groups = 2};
    json_t *o = NULL;
    assert_int_equal(policy_explain(p, &s, "p:write", NULL, &o, NULL), IDP_OK);
    const json_t *subj = json_object_get(o, "subject");
    assert_string_equal(json_string_value(json_object_get(subj, "issuer")), "partner");
    assert_string_equal(json_string_value(json_object_get(subj, "upstream_subject")), "00u1abc");
    assert_int_equal(json_array_size(json_object_get(subj, "issuer_groups")), 2);
    const json_t *b = json_object_get(o, "bindings");
    assert_int_equal(json_array_size(b), 2); /* the group once, then the subject */
    const json_t *b0 = json_array_get(b, 0), *b1 = json_array_get(b, 1);
    assert_string_equal(json_string_value(json_object_get(b0, "kind")), "issuer_group");
    assert_string_equal(json_string_value(json_object_get(b0, "issuer")), "partner");
    assert_string_equal(json_string_value(json_object_get(b0, "name")), "admins");
    assert_int_equal(json_integer_value(json_object_get(b0, "line")), 39);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b0, "roles"), 0)),
                        "admin");
    assert_string_equal(json_string_value(json_object_get(b1, "kind")), "issuer_subject");
    assert_string_equal(json_string_value(json_object_get(b1, "name")), "00u1abc");
    assert_true(json_is_true(json_object_get(o, "granted")));
    const json_t *req = json_array_get(json_object_get(o, "requires"), 0);
    const json_t *by = json_array_get(json_object_get(req, "granted_by"), 0);
    assert_string_equal(json_string_value(json_object_get(by, "kind")), "issuer_group");
    char *txt = json_dumps(json_object_get(o, "reasons"), 0);
    assert_non_null(strstr(txt, "issuer partner group admins binds: admin"));
    assert_non_null(strstr(txt, "issuer partner subject 00u1abc binds: editor"));
    assert_non_null(
        strstr(txt, "permission p.write is held: issuer_group admins -> admin includes editor"));
    free(txt);
    json_decref(o);
    /* an unknown issuer is explained, not an error */
    s = (policy_subject){.issuer_name = "nope", .upstream_subject = "x"};
    assert_int_equal(policy_explain(p, &s, "p:read", NULL, &o, NULL), IDP_OK);
    txt = json_dumps(json_object_get(o, "reasons"), 0);
    assert_non_null(strstr(txt, "issuer nope is not declared under federation.issuers"));
    assert_non_null(strstr(txt, "no binding matches the subject"));
    free(txt);
    assert_true(json_is_false(json_object_get(o, "granted")));
    json_decref(o);
    /* a plain client subject has no issuer members */
    s = (policy_subject){.client_id = "gateway"};
    assert_int_equal(policy_explain(p, &s, "p:read", NULL, &o, NULL), IDP_OK);
    assert_null(json_object_get(json_object_get(o, "subject"), "issuer"));
    json_decref(o);
    policy_free(p);
}

static void diff_federation(void **state)
{
    policy *a = load_ok(HEAD "federation:\n  issuers:\n" ISS(
        "gone", "https://gone.example") "    - name: partner\n"
                                        "      issuer: https://login.partner.example\n"
                                        "      algorithms: [RS256]\n"
                                        "      claims: {groups: {from: groups}}\n"
                                        "bindings:\n  issuers:\n"
                                        "    partner:\n"
                                        "      groups: {admins: [admin], staff: [viewer]}\n"
                                        "      subjects: {\"00u1\": [viewer]}\n");
    policy *b = load_ok(
        HEAD
        "federation:\n  issuers:\n"
        "    - name: partner\n"
        "      issuer: https://login.partner.example\n"
        "      algorithms: [RS256, ES256]\n"
        "      clock_skew: 30s\n"
        "      claims: {groups: {from: groups, map: {a: admins}}}\n"
        "      jwt_bearer: {clients: [svc-a]}\n" ISS(
            "new",
            "https://new.example") "bindings:\n  issuers:\n"
                                   "    partner:\n"
                                   "      groups: {admins: [editor], \"Power Users\": [admin]}\n"
                                   "      subjects: {\"00u1\": [viewer]}\n"
                                   "    new: {subjects: {s1: [viewer]}}\n");
    idp_buf out;
    buf_init(&out, 0);
    assert_int_equal(policy_diff(a, b, &out, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&out),
                        "- issuer gone\n"
                        "+ issuer new https://new.example\n"
                        "~ issuer partner algorithms: [RS256] -> [ES256 RS256]\n"
                        "~ issuer partner clock_skew: 60s -> 30s\n"
                        "~ issuer partner claims: {groups: from groups} -> {groups: from groups "
                        "map {a: admins}}\n"
                        "~ issuer partner jwt_bearer: off -> clients: [svc-a] max_lifetime: 300s\n"
                        "+ binding issuer new subject s1 -> viewer\n"
                        "+ binding issuer partner group \"Power Users\" -> admin\n"
                        "- binding issuer partner group admins -> admin\n"
                        "+ binding issuer partner group admins -> editor\n"
                        "- binding issuer partner group staff -> viewer\n"
                        "~ access issuer new subject s1: +p.read\n"
                        "~ access issuer partner group \"Power Users\": +p.read +p.write\n"
                        "~ access issuer partner group staff: -p.read\n");
    buf_reset(&out);
    assert_int_equal(policy_diff(b, a, &out, NULL), IDP_OK);
    assert_non_null(strstr(buf_cstr(&out), "+ issuer gone https://gone.example\n"));
    assert_non_null(strstr(buf_cstr(&out), "- issuer new\n"));
    assert_non_null(
        strstr(buf_cstr(&out), "~ issuer partner algorithms: [ES256 RS256] -> [RS256]\n"));
    buf_reset(&out);
    assert_int_equal(policy_diff(b, b, &out, NULL), IDP_OK);
    assert_int_equal(out.len, 0);
    /* every setting is compared */
    policy *c = load_ok(FULL), *d = load_ok(FED "      audiences: [y]\n");
    buf_reset(&out);
    assert_int_equal(policy_diff(d, c, &out, NULL), IDP_OK);
    const char *fields[] = {"jwks_uri",   "algorithms", "audiences",      "typ",
                            "clock_skew", "require",    "claims",         "provision",
                            "link_by",    "jwt_bearer", "token_exchange", "login"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        char want[64];
        snprintf(want, sizeof want, "~ issuer partner %s", fields[i]);
        if (!strstr(buf_cstr(&out), want)) fail_msg("no \"%s\" in:\n%s", want, buf_cstr(&out));
    }
    assert_null(strstr(buf_cstr(&out), "~ issuer partner jwks:")); /* the defaults are equal */
    buf_free(&out);
    policy_free(a);
    policy_free(b);
    policy_free(c);
    policy_free(d);
}

/* docs/policy.example.yaml declares a federation issuer and issuer bindings. */
static void example_federation(void **state)
{
    const char *src = getenv("IDPD_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/policy.example.yaml", src ? src : ".");
    size_t len = 0;
    char *t = tu_read_file(path, &len);
    assert_non_null(t);
    policy *p = NULL;
    policy_diags d = {0};
    idp_err rc = policy_load(t, len, NULL, &p, &d, NULL);
    if (rc) print_diags(&d);
    assert_int_equal(rc, IDP_OK);
    assert_true(policy_fed_count(p) >= 1);
    const fed_issuer *is = policy_fed_by_name(p, "partner");
    assert_non_null(is);
    const char *g[] = {"admins"};
    policy_subject s = {.issuer_name = "partner", .issuer_groups = g, .nissuer_groups = 1};
    policy_grant gr = {0};
    assert_int_equal(policy_evaluate(p, &s, NULL, NULL, &gr, NULL), IDP_OK);
    assert_true(gr.nroles > 0);
    policy_grant_clear(&gr);
    policy_free(p);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_example),
        cmocka_unit_test(defaults),
        cmocka_unit_test(rule_algorithms),
        cmocka_unit_test(rule_names),
        cmocka_unit_test(rule_issuer_url),
        cmocka_unit_test(rule_values),
        cmocka_unit_test(rule_require),
        cmocka_unit_test(rule_claims),
        cmocka_unit_test(rule_uses),
        cmocka_unit_test(rule_login),
        cmocka_unit_test(rule_jwks),
        cmocka_unit_test(rule_bindings),
        cmocka_unit_test(rule_bounds),
        cmocka_unit_test(env_overlays),
        cmocka_unit_test(map_only_if),
        cmocka_unit_test(map_values),
        cmocka_unit_test(map_bounds),
        cmocka_unit_test(require_check),
        cmocka_unit_test(lookups),
        cmocka_unit_test(eval_issuer_bindings),
        cmocka_unit_test(explain_issuer),
        cmocka_unit_test(diff_federation),
        cmocka_unit_test(example_federation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
