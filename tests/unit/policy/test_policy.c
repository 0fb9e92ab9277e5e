/* Unit tests for src/policy: loading docs/policy.example.yaml (and that docs/POLICY.md shows the
 * same example), one negative test per validation rule with its line number, role inclusion and
 * cycles, environment overlays, evaluation (dropped scopes, resources, user/group/client bindings,
 * case-insensitive names, claims JSON, size budget), explain and diff. */
#include "testutil.h"

#include "core/buf.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------------- */

static char *src_file(const char *rel, size_t *len)
{
    const char *src = getenv("IDPD_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    char *t = tu_read_file(path, len);
    if (!t) fail_msg("cannot read %s", path);
    return t;
}

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
    assert_int_equal(d.n, 0);
    policy_diags_free(&d);
    return p;
}

static policy *load_ok(const char *text)
{
    return load_env(text, NULL);
}

static policy *load_example(const char *env)
{
    size_t len = 0;
    char *t = src_file("docs/policy.example.yaml", &len);
    policy *p = NULL;
    policy_diags d = {0};
    idp_err rc = policy_load(t, len, env, &p, &d, NULL);
    if (rc) print_diags(&d);
    assert_int_equal(rc, IDP_OK);
    policy_diags_free(&d);
    free(t);
    return p;
}

/* Loads text expecting failure; returns the diagnostics (owned by the caller). */
static policy_diags load_fail(const char *text, const char *env, idp_err want)
{
    policy *p = (policy *)(void *)&p; /* must be reset to NULL */
    policy_diags d = {0};
    idp_error e = {0};
    assert_int_equal(policy_load(text, strlen(text), env, &p, &d, &e), want);
    assert_null(p);
    assert_true(d.n > 0);
    assert_int_equal(e.code, want);
    return d;
}

/* Asserts that loading text fails with a diagnostic at line containing needle. */
static void expect_diag_env(const char *text, const char *env, int line, const char *needle)
{
    policy_diags d = load_fail(text, env, IDP_ERR_CONFIG);
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

/* Asserts that text fails with exactly one diagnostic, at line, equal to msg. */
static void expect_only(const char *text, int line, const char *msg)
{
    policy_diags d = load_fail(text, NULL, IDP_ERR_CONFIG);
    if (d.n != 1) print_diags(&d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, line);
    assert_string_equal(d.items[0].msg, msg);
    policy_diags_free(&d);
}

/* Lines 1-5 of most test documents. */
#define HEAD                                                                                       \
    "version: 1\n"                                                                                 \
    "claim_namespace: \"https://idpd.example/claims/\"\n"                                          \
    "permissions:\n"                                                                               \
    "  p.read: \"Read things\"\n"                                                                  \
    "  p.write: \"Write things\"\n"

/* A small valid document: lines 1-16. */
#define SMALL                                                                                      \
    HEAD "roles:\n"                                                         /* 6 */                \
         "  viewer: { permissions: [p.read] }\n"                            /* 7 */                \
         "  editor: { permissions: [p.write], includes: [viewer] }\n"       /* 8 */                \
         "bindings:\n"                                                      /* 9 */                \
         "  groups: { \"Sales\": [viewer] }\n"                              /* 10 */               \
         "scopes:\n"                                                        /* 11 */               \
         "  openid: {}\n"                                                   /* 12 */               \
         "  p:read: { requires: [p.read], claims: [roles, permissions] }\n" /* 13 */               \
         "  p:write: { requires: [p.write], claims: [permissions] }\n"      /* 14 */               \
         "resources:\n"                                                     /* 15 */               \
         "  \"https://api.example.com\": { scopes: [p:read, p:write] }\n"   /* 16 */

typedef struct evalres {
    policy_grant g;
    char scopes[512], dropped[512], roles[512], perms[512], std[512];
} evalres;

static void join(char *out, size_t cap, const char **v, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? " " : "", v[i]);
    }
}

static void eval(const policy *p, const policy_subject *s, const char *req, const char *res,
                 evalres *r)
{
    idp_error e = {0};
    assert_int_equal(policy_evaluate(p, s, req, res, &r->g, &e), IDP_OK);
    join(r->scopes, sizeof r->scopes, r->g.scopes, r->g.nscopes);
    join(r->dropped, sizeof r->dropped, r->g.dropped, r->g.ndropped);
    join(r->roles, sizeof r->roles, r->g.roles, r->g.nroles);
    join(r->perms, sizeof r->perms, r->g.permissions, r->g.nperms);
    join(r->std, sizeof r->std, r->g.std_claims, r->g.nstd);
}

static policy_subject user(const char *name, const char *const *groups, size_t n)
{
    return (policy_subject){.user_name = name, .groups = groups, .ngroups = n};
}

#define ORDERS "https://api.example.com/orders"

/* ---- the example ---------------------------------------------------------------------- */

static void example_loads(void **state)
{
    policy *p = load_example(NULL);
    assert_string_equal(policy_claim_namespace(p), "https://idpd.example/claims/");
    assert_null(policy_environment(p));
    assert_int_equal(strlen(policy_sha256(p)), 64);
    assert_int_equal(policy_version(p), 0);
    policy_set_version(p, 7);
    assert_int_equal(policy_version(p), 7);
    assert_int_equal(policy_scope_count(p), 10);
    assert_string_equal(policy_scope_name(p, 0), "email"); /* sorted */
    assert_null(policy_scope_name(p, 10));
    assert_true(policy_has_scope(p, "orders:read"));
    assert_true(policy_has_scope(p, "openid"));
    assert_false(policy_has_scope(p, "orders"));
    assert_false(policy_has_scope(p, NULL));
    /* consent text: own description, else the permissions' descriptions, else none */
    assert_string_equal(policy_scope_description(p, "orders:refund"),
                        "Refund orders on your behalf");
    assert_string_equal(policy_scope_description(p, "orders:read"), "Read orders");
    assert_null(policy_scope_description(p, "openid"));
    assert_null(policy_scope_description(p, "nope"));
    policy_free(p);
    policy_free(NULL);
}

/* docs/POLICY.md shows docs/policy.example.yaml verbatim (the block after the marker). */
static void example_matches_doc(void **state)
{
    char *doc = src_file("docs/POLICY.md", NULL);
    char *ex = src_file("docs/policy.example.yaml", NULL);
    const char *m = strstr(doc, "<!-- example: docs/policy.example.yaml -->\n```yaml\n");
    assert_non_null(m);
    m = strchr(strchr(m, '\n') + 1, '\n') + 1;
    const char *end = strstr(m, "\n```\n");
    assert_non_null(end);
    size_t n = (size_t)(end - m) + 1;
    assert_int_equal(n, strlen(ex));
    assert_memory_equal(m, ex, n);
    free(doc);
    free(ex);
}

static void example_evaluate(void **state)
{
    policy *p = load_example(NULL);
    const char *g[] = {"Sales", "Finance"};
    policy_subject s = user("alice@example.com", g, 2);
    evalres r = {0};
    eval(p, &s, "openid profile orders:read orders:refund invoices:read", NULL, &r);
    assert_string_equal(r.scopes, "openid profile orders:read invoices:read");
    assert_string_equal(r.dropped, "orders:refund");
    assert_int_equal(r.g.drop_reasons[0], POLICY_DROP_NOT_HELD);
    assert_string_equal(r.roles, "accountant editor viewer");
    assert_string_equal(r.perms,
                        "invoices.issue invoices.read orders.read orders.write reports.read");
    assert_string_equal(r.std, "name given_name family_name preferred_username");
    assert_true(r.g.release_roles);
    assert_true(r.g.release_permissions);
    policy_grant_clear(&r.g);
    policy_grant_clear(&r.g); /* twice is fine */
    policy_free(p);
}

/* ---- validation: one test per rule ---------------------------------------------------- */

static void rule_malformed_yaml(void **state)
{
    expect_diag("version: 1\nroles: [a\n", 3, "malformed YAML");
    expect_diag("version: 1\n---\nversion: 1\n", 2, "only one YAML document");
}

static void rule_root_mapping(void **state)
{
    expect_only("- a\n- b\n", 1, "the policy must be a mapping (version, claim_namespace, ...)");
    policy_diags d = load_fail("", NULL, IDP_ERR_CONFIG);
    assert_int_equal(d.items[0].line, 1);
    policy_diags_free(&d);
    policy *p = NULL; /* no text at all */
    assert_int_equal(policy_load(NULL, 0, NULL, &p, &d, NULL), IDP_ERR_CONFIG);
    assert_null(p);
    assert_string_equal(d.items[0].msg,
                        "the policy must be a mapping (version, claim_namespace, ...)");
    policy_diags_free(&d);
}

static void rule_version(void **state)
{
    expect_only("claim_namespace: idpd_\n", 1, "version is required (version: 1)");
    expect_only("version: 2\nclaim_namespace: idpd_\n", 1, "version must be 1");
    expect_only("claim_namespace: idpd_\nversion: [1]\n", 2, "version must be 1");
}

static void rule_namespace(void **state)
{
    expect_only("version: 1\n", 1, "claim_namespace is required");
    expect_only("version: 1\nclaim_namespace: \"\"\n", 2, "claim_namespace must not be empty");
    expect_only("version: 1\nclaim_namespace: {}\n", 2, "claim_namespace must be a string");
    expect_diag("version: 1\nclaim_namespace: \"https://idpd.example/claims\"\n", 2,
                "must end with '/'");
    expect_diag("version: 1\nclaim_namespace: \"https:///x/\"\n", 2, "URL has no host");
    expect_diag("version: 1\nclaim_namespace: \"https://a.example/?q/\"\n", 2, "character");
    expect_diag("version: 1\nclaim_namespace: idpd\n", 2, "prefix such as idpd_");
    expect_diag("version: 1\nclaim_namespace: \"1dpd_\"\n", 2, "prefix such as idpd_");
    expect_diag("version: 1\nclaim_namespace: \"id pd_\"\n", 2, "prefix such as idpd_");
    expect_diag("version: 1\nclaim_namespace: abcdefghijklmnopqrstuvwxyzabcdefg_\n", 2,
                "at most 32");
    /* accepted forms */
    policy_free(load_ok("version: 1\nclaim_namespace: idpd_\n"));
    policy_free(load_ok("version: 1\nclaim_namespace: \"urn:idpd:\"\n"));
    policy_free(load_ok("version: 1\nclaim_namespace: \"http://localhost:8080/c/\"\n"));
}

static void rule_budget_value(void **state)
{
    expect_only(HEAD "token_size_budget: 10\n", 6,
                "token_size_budget must be an integer from 64 to 65536");
    expect_diag(HEAD "token_size_budget: 70000\n", 6, "from 64 to 65536");
    expect_diag(HEAD "token_size_budget: -1\n", 6, "from 64 to 65536");
    expect_diag(HEAD "token_size_budget: 4k\n", 6, "from 64 to 65536");
}

static void rule_unknown_top_key(void **state)
{
    expect_only(HEAD "rolez: {}\n", 6,
                "policy: unknown key rolez (expected: version claim_namespace token_size_budget "
                "permissions roles bindings scopes resources federation routes environments)");
}

static void rule_unknown_entry_key(void **state)
{
    expect_only(HEAD "roles:\n  r:\n    permisions: [p.read]\n", 8,
                "role r: unknown key permisions (expected: permissions includes description)");
    expect_diag(HEAD "scopes:\n  s: { require: [p.read] }\n", 7,
                "scope s: unknown key require (expected: requires claims description)");
    expect_diag(HEAD "bindings:\n  group: {}\n", 7,
                "bindings: unknown key group (expected: groups users clients issuers)");
    expect_diag(HEAD "scopes: {s: {}}\nresources:\n  \"https://a.example\": { scope: [s] }\n", 8,
                "resource https://a.example: unknown key scope (expected: scopes)");
    expect_diag(HEAD "scopes: {s: {}}\nresources:\n  \"https://a.example\": {}\n", 8,
                "resource https://a.example: scopes is required");
}

static void rule_wrong_types(void **state)
{
    expect_only(HEAD "roles:\n  r: [p.read]\n", 7,
                "role r must be a mapping (write {} for an empty role)");
    expect_only(HEAD "roles:\n  r: { permissions: p.read }\n", 7,
                "role r permissions must be a list, not a string");
    expect_only(HEAD "roles:\n  r: { permissions: [[p.read]] }\n", 7,
                "role r permissions: items must be permission names");
    expect_only(HEAD "roles:\n  r: { description: [x] }\n", 7,
                "role r: description must be a string");
    expect_only(HEAD "roles: [r]\n", 6, "roles must be a mapping, not a list");
    expect_only(HEAD "roles: {r: {}}\nbindings:\n  users: { bob: r }\n", 8,
                "binding user bob must be a list, not a string");
    expect_only(HEAD "bindings:\n  groups: [a]\n", 7,
                "bindings.groups must be a mapping, not a list");
    expect_only(HEAD "scopes:\n  openid:\n", 7,
                "scope openid must be a mapping (write {} for an open scope)");
    expect_only(HEAD "scopes:\n  openid: { claims: name }\n", 7,
                "claims must be a list, not a string");
    expect_only("version: 1\nclaim_namespace: idpd_\npermissions:\n  p: [x]\n", 4,
                "permission p: the value is its description, a string");
    expect_only("version: 1\nclaim_namespace: idpd_\npermissions: []\n", 3,
                "permissions must be a mapping, not a list");
    /* a permission may have no description */
    policy_free(load_ok("version: 1\nclaim_namespace: idpd_\npermissions:\n  p:\n  q: \"\"\n"));
}

static void rule_duplicate_key(void **state)
{
    expect_only(HEAD "  p.read: \"again\"\n", 6, "duplicate key p.read (first on line 4)");
    expect_only(HEAD "roles: {}\nroles: {}\n", 7, "duplicate key roles (first on line 6)");
    /* three times: two diagnostics, both naming the first */
    policy_diags d = load_fail("version: 1\nclaim_namespace: idpd_\nversion: 1\nversion: 1\n", NULL,
                               IDP_ERR_CONFIG);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.items[0].line, 3);
    assert_string_equal(d.items[1].msg, "duplicate key version (first on line 1)");
    policy_diags_free(&d);
}

static void rule_aliases(void **state)
{
    expect_diag(HEAD "roles:\n  a: &x { permissions: [p.read] }\n  b: *x\n", 8,
                "aliases are not allowed");
}

static void rule_non_scalar_key(void **state)
{
    expect_diag(HEAD "roles:\n  ? [a]\n  : {}\n", 7, "mapping keys must be scalars");
}

static void rule_unknown_permission(void **state)
{
    expect_only(HEAD "roles:\n  r: { permissions: [p.read, p.wirte] }\n", 7,
                "role r permissions: unknown permission p.wirte");
    expect_diag(HEAD "scopes:\n  s: { requires: [p.nope] }\n", 7,
                "scope s requires: unknown permission p.nope");
}

static void rule_unknown_role(void **state)
{
    expect_only(HEAD "roles:\n  r: { includes: [ghost] }\n", 7,
                "role r includes: unknown role ghost");
    expect_only(HEAD "roles: {r: {}}\nbindings:\n  groups: { Sales: [r, viewer] }\n", 8,
                "binding group Sales: unknown role viewer");
    expect_only(HEAD "bindings:\n  users: { bob@example.com: [r] }\n", 7,
                "binding user bob@example.com: unknown role r");
    expect_only(HEAD "bindings:\n  clients: { svc: [r] }\n", 7,
                "binding client svc: unknown role r");
}

static void rule_listed_twice(void **state)
{
    expect_only(HEAD "roles:\n  r: { permissions: [p.read, p.read] }\n", 7,
                "role r permissions: permission p.read listed twice");
}

static void rule_cycle_two(void **state)
{
    expect_only(HEAD "roles:\n"
                     "  a: { includes: [b] }\n" /* 7 */
                     "  b:\n"                   /* 8 */
                     "    includes:\n"          /* 9 */
                     "      - a\n",             /* 10 */
                10, "role inclusion cycle: a -> b -> a");
}

static void rule_cycle_self(void **state)
{
    expect_only(HEAD "roles:\n  a: { includes: [a] }\n", 7, "role inclusion cycle: a -> a");
}

static void rule_cycle_long(void **state)
{
    /* c is reached from a; the back edge c -> a closes a three-role cycle; d is outside it */
    expect_only(HEAD "roles:\n"
                     "  a: { includes: [b] }\n"
                     "  b: { includes: [c] }\n"
                     "  c: { includes: [d, a] }\n" /* 9 */
                     "  d: {}\n",
                9, "role inclusion cycle: a -> b -> c -> a");
    /* two independent cycles: both reported */
    policy_diags d = load_fail(HEAD "roles:\n  a: { includes: [a] }\n  b: { includes: [b] }\n",
                               NULL, IDP_ERR_CONFIG);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.items[1].msg, "role inclusion cycle: b -> b");
    policy_diags_free(&d);
}

static void rule_scope_without_resource(void **state)
{
    expect_only(HEAD "scopes:\n  openid: {}\n  p:read: { requires: [p.read] }\n", 8,
                "scope p:read requires permissions but no resource accepts it");
    /* open scopes need no resource */
    policy_free(load_ok(HEAD "scopes:\n  openid: {}\n  email: { claims: [email] }\n"));
}

static void rule_resource_unknown_scope(void **state)
{
    expect_only(HEAD "scopes: { openid: {} }\nresources:\n"
                     "  \"https://a.example\": { scopes: [openid, orders] }\n",
                8, "resource https://a.example scopes: unknown scope orders");
}

static void rule_resource_name(void **state)
{
    expect_diag(HEAD "resources:\n  \"api\": { scopes: [] }\n", 7,
                "resource api: name must be an absolute URI (RFC 8707 §2)");
    expect_diag(HEAD "resources:\n  \"https://a.example/#x\": { scopes: [] }\n", 7,
                "must not contain a fragment");
    expect_diag(HEAD "resources:\n  \"https://a.example/a b\": { scopes: [] }\n", 7,
                "contains a character");
}

static void rule_registered_claim(void **state)
{
    expect_only(HEAD "scopes:\n  s: { claims: [email, aud] }\n", 7,
                "scope s: claim aud is a registered JWT/OIDC claim the token builder sets; a "
                "scope may release only the custom claims roles, permissions and groups and OIDC "
                "standard claims");
    expect_diag(HEAD "scopes:\n  s: { claims: [sub] }\n", 7, "claim sub is a registered");
    expect_diag(HEAD "scopes:\n  s: { claims: [entitlements] }\n", 7,
                "claim entitlements is a registered");
    expect_diag(HEAD "scopes:\n  s: { claims: [client_id] }\n", 7, "claim client_id is a");
}

static void rule_unknown_claim(void **state)
{
    expect_only(HEAD "scopes:\n  s: { claims: [department] }\n", 7,
                "scope s: unknown claim department (custom claims: roles, permissions, groups; or "
                "an OIDC Core §5.1 standard claim)");
    expect_only(HEAD "scopes:\n  s: { claims: [\"https://idpd.example/claims/roles\"] }\n", 7,
                "scope s: claim https://idpd.example/claims/roles: write roles, permissions or "
                "groups without the namespace (it is added in the token)");
    expect_only(HEAD "scopes:\n  s: { claims: [email, roles, email] }\n", 7,
                "scope s: claim email listed twice");
}

static void rule_names(void **state)
{
    expect_diag("version: 1\nclaim_namespace: idpd_\npermissions:\n  \"p read\": x\n", 4,
                "permission p read: name may only contain");
    expect_diag(HEAD "roles:\n  \"r\\u00e9\": {}\n", 7, "name may only contain");
    expect_diag(HEAD "scopes:\n  \"a\\\"b\": {}\n", 7, "is not a scope-token");
    expect_diag(HEAD "roles: {r: {}}\nbindings:\n  clients: { \"svc\\u00e9\": [r] }\n", 8,
                "is not a client_id");
    expect_diag(HEAD "roles: {r: {}}\nbindings:\n  groups: { \"a\\tb\": [r] }\n", 8,
                "binding group a?b: name contains a control character");
    expect_diag(HEAD "roles: {r: {}}\nbindings:\n  groups: { \"\": [r] }\n", 8,
                "name must not be empty");
    /* non-ASCII group names are fine (and echoed intact) */
    policy_free(load_ok(HEAD "roles: {r: {}}\nbindings:\n  groups: { \"Ventes é\": [r] }\n"));
    expect_diag(HEAD "roles: {r: {}}\nbindings:\n  groups: { \"Ventes é\": [x] }\n", 8,
                "binding group Ventes é: unknown role x");
}

static void rule_case_insensitive_duplicates(void **state)
{
    expect_only(HEAD "roles: {r: {}}\nbindings:\n  users:\n    alice@example.com: [r]\n"
                     "    Alice@Example.com: [r]\n",
                10,
                "binding user Alice@Example.com: same userName as alice@example.com on line 9 "
                "(compared case-insensitively, RFC 7643)");
    expect_diag(HEAD "roles: {r: {}}\nbindings:\n  groups:\n    Sales: [r]\n    SALES: [r]\n", 10,
                "same displayName as Sales on line 9");
    /* client_ids are case-sensitive: two clients */
    policy_free(load_ok(HEAD "roles: {r: {}}\nbindings:\n  clients: { svc: [r], SVC: [r] }\n"));
}

static void rule_budget_exceeded(void **state)
{
    /* SMALL with both roles bound: roles [editor, viewer], permissions [p.read, p.write] */
    const char *doc = "version: 1\n"
                      "claim_namespace: idpd_\n"
                      "token_size_budget: 64\n"
                      "permissions: { p.read: a, p.write: b }\n"
                      "roles:\n"
                      "  viewer: { permissions: [p.read] }\n"
                      "  editor: { permissions: [p.write], includes: [viewer] }\n"
                      "bindings:\n"
                      "  groups: { Sales: [viewer] }\n"
                      "  clients: { svc: [editor] }\n"
                      "scopes:\n"
                      "  s: { requires: [p.read], claims: [roles, permissions] }\n"
                      "resources: { \"https://a.example\": { scopes: [s] } }\n";
    /* ,"idpd_roles":["editor","viewer"],"idpd_permissions":["p.read","p.write"] = 73 bytes */
    expect_only(doc, 3,
                "token size budget exceeded: the largest role set (2 roles, 2 permissions "
                "reachable from the bindings) needs 73 bytes of custom claims, token_size_budget "
                "is 64");
    /* the same with a budget of 73 loads, and the claims of the largest subject fit exactly */
    char *ok = strdup(doc);
    memcpy(strstr(ok, "64\n"), "73", 2);
    policy *p = load_ok(ok);
    policy_subject c = {.client_id = "svc"};
    evalres r = {0};
    eval(p, &c, "s", NULL, &r);
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(policy_claims_json(p, &r.g, &b, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&b),
                        ",\"idpd_roles\":[\"editor\",\"viewer\"],\"idpd_permissions\":[\"p.read\","
                        "\"p.write\"]");
    assert_int_equal(b.len, 73);
    buf_free(&b);
    policy_grant_clear(&r.g);
    policy_free(p);
    free(ok);
    /* no scope releases permissions: only the roles claim counts (33 bytes) */
    char *ro = strdup(doc);
    memcpy(strstr(ro, "[roles, permissions]"), "[roles]             ", 20);
    policy_free(load_ok(ro));
    free(ro);
}

/* claims: [groups] releases <ns>groups: the subject's groups that bindings.groups names (as the
 * policy spells them, sorted, once each), never its other groups; the budget counts every bound
 * group; diff and explain show it. */
static void release_groups(void **state)
{
    const char *doc = "version: 1\n"
                      "claim_namespace: idpd_\n"
                      "permissions: { p.read: a }\n"
                      "roles: { viewer: { permissions: [p.read] } }\n"
                      "bindings:\n"
                      "  groups: { Sales: [viewer], \"Ventes \\u00e9\": [viewer], Ops: [viewer] }\n"
                      "  clients: { svc: [viewer] }\n"
                      "scopes:\n"
                      "  s: { requires: [p.read], claims: [roles, groups] }\n"
                      "  t: { requires: [p.read] }\n"
                      "resources: { \"https://a.example\": { scopes: [s, t] } }\n";
    policy *p = load_ok(doc);
    const char *const gs[] = {"unbound", "SALES", "Ventes \u00e9", "sales"};
    policy_subject u = user("ann@example.com", gs, 4);
    evalres r = {0};
    eval(p, &u, "s", NULL, &r);
    assert_true(r.g.release_groups);
    assert_int_equal(r.g.ngroups, 2);
    assert_string_equal(r.g.groups[0], "Sales"); /* the policy's spelling, once */
    assert_string_equal(r.g.groups[1], "Ventes \u00e9");
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(policy_claims_json(p, &r.g, &b, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&b),
                        ",\"idpd_roles\":[\"viewer\"],\"idpd_groups\":[\"Sales\",\"Ventes \u00e9\"]");
    buf_free(&b);
    policy_grant_clear(&r.g);
    /* a scope that does not release groups: no claim; a client: an empty list */
    eval(p, &u, "t", NULL, &r);
    assert_false(r.g.release_groups);
    policy_grant_clear(&r.g);
    policy_subject c = {.client_id = "svc"};
    eval(p, &c, "s", NULL, &r);
    assert_int_equal(r.g.ngroups, 0);
    buf_init(&b, 0);
    assert_int_equal(policy_claims_json(p, &r.g, &b, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&b), ",\"idpd_roles\":[\"viewer\"],\"idpd_groups\":[]");
    buf_free(&b);
    policy_grant_clear(&r.g);
    /* diff shows the release */
    char *t = strdup(doc);
    memcpy(strstr(t, "[roles, groups]"), "[roles]        ", 15);
    policy *q = load_ok(t);
    idp_buf d;
    buf_init(&d, 0);
    assert_int_equal(policy_diff(q, p, &d, NULL), IDP_OK);
    assert_non_null(strstr(buf_cstr(&d), "~ scope s claims: [roles] -> [roles groups]"));
    buf_free(&d);
    policy_free(q);
    free(t);
    policy_free(p);
    /* the budget counts every bound group: ,"idpd_roles":["viewer"],"idpd_groups":["Sales",
     * "Ventes é","Ops"] is 66 bytes */
    char *small = malloc(strlen(doc) + 32);
    snprintf(small, strlen(doc) + 32, "token_size_budget: 64\n%s", doc);
    expect_only(small, 1,
                "token size budget exceeded: the largest role set (1 roles, 1 permissions "
                "reachable from the bindings, every bound group) needs 66 bytes of custom claims, "
                "token_size_budget is 64");
    free(small);
}

/* The default budget (4096) is applied when token_size_budget is absent. */
static void rule_budget_default(void **state)
{
    idp_buf doc;
    buf_init(&doc, 0);
    buf_puts(&doc, "version: 1\nclaim_namespace: idpd_\npermissions:\n");
    for (int i = 0; i < 300; i++)
        buf_printf(&doc, "  perm.number.%03d: x\n", i);
    buf_puts(&doc, "roles:\n  big:\n    permissions: [");
    for (int i = 0; i < 300; i++)
        buf_printf(&doc, "%sperm.number.%03d", i ? ", " : "", i);
    buf_puts(&doc, "]\nbindings: { groups: { G: [big] } }\n"
                   "scopes: { s: { requires: [perm.number.000], claims: [permissions] } }\n"
                   "resources: { \"https://a.example\": { scopes: [s] } }\n");
    /* 300 names of 15 bytes, quoted and separated: 5400 bytes, over 4096 */
    expect_diag(buf_cstr(&doc), 1, "token_size_budget is 4096");
    buf_free(&doc);
}

static void rule_size_caps(void **state)
{
    /* larger than 1 MiB */
    size_t n = POLICY_MAX_BYTES + 1;
    char *big = malloc(n + 1);
    memset(big, '#', n);
    big[n] = '\0';
    policy *p = NULL;
    policy_diags d = {0};
    idp_error e = {0};
    assert_int_equal(policy_load(big, n, NULL, &p, &d, &e), IDP_ERR_TOO_LARGE);
    assert_null(p);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 0);
    assert_string_equal(d.items[0].msg, "larger than 1048576 bytes");
    policy_diags_free(&d);
    free(big);
    /* nesting */
    idp_buf b;
    buf_init(&b, 0);
    buf_puts(&b, "version: 1\nx: ");
    for (int i = 0; i < 40; i++)
        buf_putc(&b, '[');
    for (int i = 0; i < 40; i++)
        buf_putc(&b, ']');
    buf_putc(&b, '\n');
    expect_diag(buf_cstr(&b), 2, "nested deeper than 12 levels");
    /* list items */
    buf_reset(&b);
    buf_puts(&b, HEAD "roles:\n  r:\n    permissions: [");
    for (int i = 0; i <= POLICY_MAX_LIST; i++)
        buf_printf(&b, "%sp.read", i ? "," : "");
    buf_puts(&b, "]\n");
    expect_only(buf_cstr(&b), 8, "role r permissions: more than 1024 items");
    /* roles */
    buf_reset(&b);
    buf_puts(&b, HEAD "roles:\n");
    for (int i = 0; i <= POLICY_MAX_ROLES; i++)
        buf_printf(&b, "  r%d: {}\n", i);
    expect_only(buf_cstr(&b), 7, "more than 1024 roles");
    /* nodes */
    buf_reset(&b);
    buf_puts(&b, "x: [");
    for (int i = 0; i < POLICY_MAX_NODES; i++)
        buf_puts(&b, "1,");
    buf_puts(&b, "1]\n");
    expect_diag(buf_cstr(&b), 1, "more than 100000 YAML nodes");
    buf_free(&b);
}

/* Every error is reported, in line order, each with its line. */
static void all_errors_collected(void **state)
{
    const char *doc = "version: 3\n"                                 /* 1 */
                      "claim_namespace: idpd_\n"                     /* 2 */
                      "permissions: { a: x }\n"                      /* 3 */
                      "roles:\n"                                     /* 4 */
                      "  r1: { permissions: [b], includes: [r2] }\n" /* 5 */
                      "  r2: { includes: [r1] }\n"                   /* 6 */
                      "bindings: { groups: { G: [r3] } }\n"          /* 7 */
                      "scopes: { s: { requires: [a] } }\n";          /* 8 */
    policy_diags d = load_fail(doc, NULL, IDP_ERR_CONFIG);
    static const struct {
        int line;
        const char *msg;
    } want[] = {
        {1, "version must be 1"},
        {5, "role r1 permissions: unknown permission b"},
        {6, "role inclusion cycle: r1 -> r2 -> r1"},
        {7, "binding group G: unknown role r3"},
        {8, "scope s requires permissions but no resource accepts it"},
    };
    if (d.n != 5) print_diags(&d);
    assert_int_equal(d.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(d.items[i].line, want[i].line);
        assert_string_equal(d.items[i].msg, want[i].msg);
    }
    idp_buf b;
    buf_init(&b, 0);
    policy_diags_format(&d, "p.yaml", &b);
    assert_non_null(strstr(buf_cstr(&b), "p.yaml:1: version must be 1\np.yaml:5: role r1"));
    buf_free(&b);
    policy_diags_free(&d);
    /* err carries a summary */
    idp_error e = {0};
    policy *p = NULL;
    assert_int_equal(policy_load(doc, strlen(doc), NULL, &p, NULL, &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "policy invalid: 5 errors; first: line 1: version must be 1");
}

static void too_many_errors(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    buf_puts(&b, HEAD "roles:\n");
    for (int i = 0; i < 150; i++)
        buf_printf(&b, "  r%d: { includes: [x] }\n", i);
    policy_diags d = load_fail(buf_cstr(&b), NULL, IDP_ERR_CONFIG);
    assert_int_equal(d.n, POLICY_MAX_DIAGS + 1);
    assert_int_equal(d.items[POLICY_MAX_DIAGS].line, 0);
    assert_string_equal(d.items[POLICY_MAX_DIAGS].msg,
                        "too many errors; only the first 100 are reported");
    for (size_t i = 1; i < POLICY_MAX_DIAGS; i++)
        assert_true(d.items[i].line >= d.items[i - 1].line);
    policy_diags_free(&d);
    buf_free(&b);
}

/* ---- environments --------------------------------------------------------------------- */

static void env_overlay(void **state)
{
    policy *base = load_example(NULL), *st = load_example("staging"),
           *prod = load_example("production");
    assert_string_equal(policy_environment(st), "staging");
    assert_string_equal(policy_sha256(st), policy_sha256(base)); /* same document */
    const char *dev[] = {"Developers"};
    policy_subject s = user("dev@example.com", dev, 1);
    evalres r = {0};
    eval(base, &s, "orders:write", NULL, &r);
    assert_string_equal(r.scopes, "");
    assert_string_equal(r.roles, "");
    policy_grant_clear(&r.g);
    eval(st, &s, "orders:write", NULL, &r); /* staging adds the Developers binding */
    assert_string_equal(r.scopes, "orders:write");
    assert_string_equal(r.roles, "editor viewer");
    policy_grant_clear(&r.g);
    eval(prod, &s, "orders:write", NULL, &r);
    assert_string_equal(r.scopes, "");
    policy_grant_clear(&r.g);
    /* replaced binding */
    const char *sl[] = {"support leads"};
    s = user("x", sl, 1);
    eval(st, &s, "invoices:issue", NULL, &r);
    assert_string_equal(r.roles, "accountant editor support-lead viewer");
    policy_grant_clear(&r.g);
    /* removed client binding, added resource */
    policy_subject c = {.client_id = "svc-reporting"};
    eval(base, &c, "orders:read", NULL, &r);
    assert_string_equal(r.scopes, "orders:read");
    policy_grant_clear(&r.g);
    eval(st, &c, "orders:read", NULL, &r);
    assert_string_equal(r.scopes, "");
    policy_grant_clear(&r.g);
    s = user("alice@example.com", NULL, 0);
    eval(st, &s, "orders:read", "https://api.staging.example.com/orders", &r);
    assert_string_equal(r.scopes, "orders:read");
    policy_grant_clear(&r.g);
    eval(base, &s, "orders:read", "https://api.staging.example.com/orders", &r);
    assert_string_equal(r.scopes, "");
    policy_grant_clear(&r.g);
    policy_free(base);
    policy_free(st);
    policy_free(prod);
}

static void env_unknown(void **state)
{
    size_t len = 0;
    char *t = src_file("docs/policy.example.yaml", &len);
    policy *p = NULL;
    policy_diags d = {0};
    assert_int_equal(policy_load(t, len, "prod", &p, &d, NULL), IDP_ERR_CONFIG);
    assert_null(p);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].msg, "unknown environment prod (defined: staging, production)");
    assert_true(d.items[0].line > 0);
    policy_diags_free(&d);
    free(t);
    /* no environments at all */
    policy_diags d2 = load_fail(SMALL, "staging", IDP_ERR_CONFIG);
    assert_int_equal(d2.n, 1);
    assert_int_equal(d2.items[0].line, 0);
    assert_string_equal(d2.items[0].msg, "unknown environment staging (defined: none)");
    policy_diags_free(&d2);
}

static void env_rules(void **state)
{
    /* an overlay may change only bindings, roles, scopes, resources */
    expect_only(SMALL "environments:\n  dev:\n    permissions: {}\n", 19,
                "environment dev: unknown key permissions (an overlay may change: bindings roles "
                "scopes resources)");
    expect_only(SMALL "environments:\n  dev:\n    roles: [a]\n", 19,
                "environment dev: roles must be a mapping of entries");
    expect_only(SMALL "environments:\n  dev:\n    bindings: { teams: {} }\n", 19,
                "environment dev: bindings: unknown key teams (expected: groups users clients)");
    expect_only(SMALL "environments:\n  dev: [a]\n", 18, "environment dev must be a mapping");
    expect_only(SMALL "environments: [dev]\n", 17,
                "environments must be a mapping of name: overlay");
    expect_only(SMALL "environments:\n  \"de v\": {}\n", 18,
                "environment de v: name may only contain letters, digits and _ . -");
    /* two spellings of one base entry in one overlay */
    expect_only(
        SMALL "environments:\n  dev:\n    bindings:\n      groups: { sales: ~, SALES: [editor] }\n",
        20,
        "environment dev: binding group SALES: same name as on line 20 (compared "
        "case-insensitively)");
    /* removing what is not there */
    expect_only(SMALL "environments:\n  dev:\n    bindings: { users: { bob: ~ } }\n", 19,
                "environment dev: binding user bob: nothing to remove");
    /* an error the overlay introduces is reported with the environment's name, even when
     * another environment is loaded */
    expect_diag_env(SMALL "environments:\n  dev:\n    roles: { viewer: { includes: [editor] } }\n"
                          "  prod: {}\n",
                    "prod", 19,
                    "environment dev: role inclusion cycle: editor -> viewer -> editor");
    /* an overlay entry replaced with a bad value: its line is the overlay's */
    expect_only(SMALL "environments:\n  dev:\n    scopes:\n      p:read: { requires: [nope] }\n",
                20, "environment dev: scope p:read requires: unknown permission nope");
    /* a base error is reported once, not once more per environment */
    policy_diags d = load_fail(HEAD "roles: { r: { includes: [x] } }\n"
                                    "environments: { a: {}, b: {} }\n",
                               NULL, IDP_ERR_CONFIG);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].msg, "role r includes: unknown role x");
    policy_diags_free(&d);
    /* removing a scope that a resource names breaks that environment */
    expect_diag(SMALL "environments:\n  dev:\n    scopes: { p:write: ~ }\n", 16,
                "environment dev: resource https://api.example.com scopes: unknown scope p:write");
}

static void env_remove_and_case(void **state)
{
    /* a null entry removes, and userName keys of overlays match case-insensitively */
    policy *p = load_env(SMALL "  # users\n" /* 17 */
                               "environments:\n"
                               "  dev:\n"
                               "    bindings:\n"
                               "      groups: { SALES: ~, Devs: [editor] }\n",
                         "dev");
    const char *g[] = {"Sales", "devs"};
    policy_subject s = user("u", g, 2);
    evalres r = {0};
    eval(p, &s, "p:read p:write", NULL, &r);
    assert_string_equal(r.roles, "editor viewer");
    policy_grant_clear(&r.g);
    s.ngroups = 1; /* Sales alone: removed in dev */
    eval(p, &s, "p:read", NULL, &r);
    assert_string_equal(r.roles, "");
    assert_string_equal(r.dropped, "p:read");
    policy_grant_clear(&r.g);
    policy_free(p);
}

/* ---- evaluation ----------------------------------------------------------------------- */

static void eval_role_inclusion(void **state)
{
    policy *p = load_example(NULL);
    const char *g[] = {"IdP Admins"};
    policy_subject s = user("root@example.com", g, 1);
    evalres r = {0};
    eval(p, &s, "orders:refund invoices:issue reports:read", NULL, &r);
    /* admin -> support-lead -> editor -> viewer, and admin -> accountant */
    assert_string_equal(r.roles, "accountant admin editor support-lead viewer");
    assert_string_equal(r.perms, "invoices.issue invoices.read orders.read orders.refund "
                                 "orders.write reports.read");
    assert_string_equal(r.scopes, "orders:refund invoices:issue reports:read");
    policy_grant_clear(&r.g);
    policy_free(p);
}

static void eval_dropped(void **state)
{
    policy *p = load_example(NULL);
    const char *g[] = {"Sales"};
    policy_subject s = user("bob@example.com", g, 1);
    evalres r = {0};
    eval(p, &s, "openid orders:write nope orders:read orders:read nope email", NULL, &r);
    assert_string_equal(r.scopes, "openid orders:read email");
    assert_string_equal(r.dropped, "orders:write nope");
    assert_int_equal(r.g.drop_reasons[0], POLICY_DROP_NOT_HELD);
    assert_int_equal(r.g.drop_reasons[1], POLICY_DROP_UNKNOWN);
    assert_string_equal(r.std, "email email_verified");
    assert_true(r.g.release_roles);
    policy_grant_clear(&r.g);
    /* nothing requested: nothing granted, but roles are still computed */
    eval(p, &s, NULL, NULL, &r);
    assert_int_equal(r.g.nscopes + r.g.ndropped, 0);
    assert_string_equal(r.roles, "viewer");
    assert_false(r.g.release_roles);
    policy_grant_clear(&r.g);
    eval(p, &s, "", NULL, &r);
    assert_int_equal(r.g.nscopes, 0);
    policy_grant_clear(&r.g);
    policy_free(p);
}

static void eval_bad_scope_syntax(void **state)
{
    policy *p = load_example(NULL);
    policy_subject s = user("bob", NULL, 0);
    policy_grant g = {0};
    idp_error e = {0};
    static const char *const bad[] = {" openid", "openid ",     "openid  email", "a\"b",
                                      "a\\b",    "caf\xc3\xa9", "a\tb"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(policy_evaluate(p, &s, bad[i], NULL, &g, &e), IDP_ERR_OAUTH_INVALID_SCOPE);
        assert_int_equal(g.nscopes, 0);
        policy_grant_clear(&g);
    }
    char *big = malloc(POLICY_MAX_REQUEST + 2);
    memset(big, 'a', POLICY_MAX_REQUEST + 1);
    big[POLICY_MAX_REQUEST + 1] = '\0';
    assert_int_equal(policy_evaluate(p, &s, big, NULL, &g, &e), IDP_ERR_OAUTH_INVALID_SCOPE);
    assert_string_equal(e.msg, "scope too long");
    big[POLICY_MAX_REQUEST] = '\0'; /* exactly the cap: fine (and unknown) */
    assert_int_equal(policy_evaluate(p, &s, big, NULL, &g, &e), IDP_OK);
    assert_int_equal(g.ndropped, 1);
    policy_grant_clear(&g);
    free(big);
    policy_free(p);
}

static void eval_resource(void **state)
{
    policy *p = load_example(NULL);
    const char *g[] = {"IdP Admins"};
    policy_subject s = user("root", g, 1);
    evalres r = {0};
    const char *req = "openid orders:read orders:write invoices:read reports:read";
    eval(p, &s, req, ORDERS, &r);
    assert_string_equal(r.scopes, "orders:read orders:write");
    assert_string_equal(r.dropped, "openid invoices:read reports:read");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(r.g.drop_reasons[i], POLICY_DROP_RESOURCE);
    policy_grant_clear(&r.g);
    eval(p, &s, req, "https://api.example.com/billing", &r);
    assert_string_equal(r.scopes, "orders:read invoices:read");
    policy_grant_clear(&r.g);
    /* a resource the policy does not declare accepts nothing */
    eval(p, &s, req, "https://unknown.example.com", &r);
    assert_string_equal(r.scopes, "");
    assert_int_equal(r.g.ndropped, 5);
    policy_grant_clear(&r.g);
    /* resource names are exact */
    eval(p, &s, "orders:read", ORDERS "/", &r);
    assert_string_equal(r.scopes, "");
    policy_grant_clear(&r.g);
    /* no resource: no filtering */
    eval(p, &s, req, NULL, &r);
    assert_string_equal(r.scopes, req);
    policy_grant_clear(&r.g);
    policy_free(p);
}

static void eval_client(void **state)
{
    policy *p = load_example(NULL);
    policy_subject c = {.client_id = "svc-billing"};
    evalres r = {0};
    eval(p, &c, "invoices:issue orders:write", "https://api.example.com/billing", &r);
    assert_string_equal(r.scopes, "invoices:issue");
    assert_string_equal(r.dropped, "orders:write");
    assert_string_equal(r.roles, "accountant viewer");
    assert_false(r.g.release_roles);
    assert_true(r.g.release_permissions);
    policy_grant_clear(&r.g);
    /* client_ids are case-sensitive */
    c.client_id = "SVC-BILLING";
    eval(p, &c, "invoices:issue", NULL, &r);
    assert_string_equal(r.scopes, "");
    assert_string_equal(r.roles, "");
    policy_grant_clear(&r.g);
    /* a user never borrows the client's roles */
    policy_subject u = {.user_name = "nobody@example.com", .client_id = "svc-billing"};
    eval(p, &u, "invoices:issue", NULL, &r);
    assert_string_equal(r.scopes, "");
    assert_string_equal(r.roles, "");
    policy_grant_clear(&r.g);
    /* unknown client, no subject at all */
    policy_subject none = {0};
    eval(p, &none, "openid orders:read", NULL, &r);
    assert_string_equal(r.scopes, "openid");
    policy_grant_clear(&r.g);
    policy_free(p);
}

static void eval_user_case_insensitive(void **state)
{
    policy *p = load_example(NULL);
    policy_subject s = user("ALICE@Example.COM", NULL, 0);
    evalres r = {0};
    eval(p, &s, "orders:write", NULL, &r);
    assert_string_equal(r.scopes, "orders:write");
    assert_string_equal(r.roles, "editor viewer");
    policy_grant_clear(&r.g);
    /* group displayName too; unknown and NULL group entries are ignored */
    const char *g[] = {"order desk", NULL, "Nope", "FINANCE"};
    s = user(NULL, g, 4);
    eval(p, &s, "orders:write invoices:issue", NULL, &r);
    assert_string_equal(r.scopes, "orders:write invoices:issue");
    policy_grant_clear(&r.g);
    /* a longer name than any binding can hold does not match */
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    s = user(longname, NULL, 0);
    eval(p, &s, "orders:read", NULL, &r);
    assert_string_equal(r.scopes, "");
    policy_grant_clear(&r.g);
    policy_free(p);
}

static void eval_claims_json(void **state)
{
    policy *p = load_example(NULL);
    policy_subject s = user("alice@example.com", NULL, 0);
    evalres r = {0};
    idp_buf b;
    buf_init(&b, 0);
    eval(p, &s, "orders:read", NULL, &r);
    assert_int_equal(policy_claims_json(p, &r.g, &b, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&b), ",\"https://idpd.example/claims/roles\":[\"editor\","
                                      "\"viewer\"],\"https://idpd.example/claims/permissions\":"
                                      "[\"orders.read\",\"orders.write\"]");
    /* valid JSON once wrapped, with no un-namespaced roles claim */
    char *obj = malloc(b.len + 16);
    snprintf(obj, b.len + 16, "{\"sub\":\"x\"%s}", buf_cstr(&b));
    json_t *j = json_loads(obj, 0, NULL);
    assert_non_null(j);
    assert_null(json_object_get(j, "roles"));
    assert_int_equal(json_array_size(json_object_get(j, "https://idpd.example/claims/roles")), 2);
    json_decref(j);
    free(obj);
    policy_grant_clear(&r.g);
    /* a scope releasing no custom claim: nothing appended */
    buf_reset(&b);
    eval(p, &s, "openid email", NULL, &r);
    assert_int_equal(policy_claims_json(p, &r.g, &b, NULL), IDP_OK);
    assert_int_equal(b.len, 0);
    policy_grant_clear(&r.g);
    /* released but empty: an empty array */
    s = user("nobody", NULL, 0);
    eval(p, &s, "orders:read", NULL, &r);
    assert_int_equal(r.g.nscopes, 0);
    r.g.release_roles = true;
    assert_int_equal(policy_claims_json(p, &r.g, &b, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&b), ",\"https://idpd.example/claims/roles\":[]");
    policy_grant_clear(&r.g);
    /* the buffer cap is honoured and leaves the buffer as it was */
    idp_buf small;
    buf_init(&small, 20);
    buf_puts(&small, "{");
    s = user("alice@example.com", NULL, 0);
    eval(p, &s, "orders:read", NULL, &r);
    idp_error e = {0};
    assert_int_equal(policy_claims_json(p, &r.g, &small, &e), IDP_ERR_TOO_LARGE);
    assert_string_equal(buf_cstr(&small), "{");
    policy_grant_clear(&r.g);
    buf_free(&small);
    /* the scope claim */
    eval(p, &s, "openid orders:read", NULL, &r);
    buf_reset(&b);
    assert_int_equal(policy_grant_scope(&r.g, &b, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&b), "openid orders:read");
    policy_grant_clear(&r.g);
    buf_free(&b);
    policy_free(p);
}

static void eval_prefix_namespace(void **state)
{
    policy *p = load_ok("version: 1\nclaim_namespace: idpd_\npermissions: { a: x }\n"
                        "roles: { r: { permissions: [a] } }\n"
                        "bindings: { users: { u: [r] } }\n"
                        "scopes: { s: { requires: [a], claims: [roles] } }\n"
                        "resources: { \"https://a.example\": { scopes: [s] } }\n");
    assert_string_equal(policy_claim_namespace(p), "idpd_");
    policy_subject s = user("U", NULL, 0);
    evalres r = {0};
    eval(p, &s, "s", NULL, &r);
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(policy_claims_json(p, &r.g, &b, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&b), ",\"idpd_roles\":[\"r\"]");
    buf_free(&b);
    policy_grant_clear(&r.g);
    policy_free(p);
}

/* ---- explain -------------------------------------------------------------------------- */

static const char *jpath_str(const json_t *o, const char *a, size_t i, const char *b)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(o, a), i), b));
}

static bool reasons_have(const json_t *o, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "reasons"), i, v)
    {
        if (!strcmp(json_string_value(v), s)) return true;
    }
    char *d = json_dumps(json_object_get(o, "reasons"), JSON_INDENT(2));
    print_message("reasons: %s\n", d);
    free(d);
    return false;
}

static void explain_granted(void **state)
{
    policy *p = load_example(NULL);
    policy_set_version(p, 12);
    const char *g[] = {"Support Leads"};
    policy_subject s = user("lead@example.com", g, 1);
    json_t *o = NULL;
    assert_int_equal(policy_explain(p, &s, "orders:read", ORDERS, &o, NULL), IDP_OK);
    assert_true(json_is_true(json_object_get(o, "granted")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "policy"), "version")),
                     12);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "policy"), "sha256")),
                        policy_sha256(p));
    assert_string_equal(jpath_str(o, "bindings", 0, "kind"), "group");
    assert_string_equal(jpath_str(o, "bindings", 0, "name"), "Support Leads");
    json_t *req = json_array_get(json_object_get(o, "requires"), 0);
    assert_string_equal(json_string_value(json_object_get(req, "permission")), "orders.read");
    assert_true(json_is_true(json_object_get(req, "held")));
    json_t *path = json_object_get(json_array_get(json_object_get(req, "granted_by"), 0), "path");
    char *ps = json_dumps(path, JSON_COMPACT);
    assert_string_equal(ps, "[\"support-lead\",\"editor\",\"viewer\"]");
    free(ps);
    assert_true(reasons_have(o, "permission orders.read is held: group Support Leads -> "
                                "support-lead includes editor includes viewer"));
    assert_true(reasons_have(o, "resource " ORDERS " accepts scope orders:read"));
    char want[200];
    snprintf(want, sizeof want, "granted under policy version 12, sha256 %.12s", policy_sha256(p));
    assert_true(reasons_have(o, want));
    json_decref(o);
    policy_free(p);
}

static void explain_denied(void **state)
{
    policy *p = load_example("staging");
    const char *g[] = {"Sales"};
    policy_subject s = user("bob@example.com", g, 1);
    json_t *o = NULL;
    assert_int_equal(policy_explain(p, &s, "orders:write", "https://reports.example.com", &o, NULL),
                     IDP_OK);
    assert_true(json_is_false(json_object_get(o, "granted")));
    assert_true(json_is_null(json_object_get(json_object_get(o, "policy"), "version")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "policy"), "environment")), "staging");
    json_t *req = json_array_get(json_object_get(o, "requires"), 0);
    assert_true(json_is_false(json_object_get(req, "held")));
    char *w = json_dumps(json_object_get(req, "roles_with_permission"), JSON_COMPACT);
    assert_string_equal(w, "[\"admin\",\"editor\",\"support-lead\"]");
    free(w);
    assert_true(reasons_have(o, "permission orders.write is missing: no role of the subject "
                                "grants it; roles that do: admin, editor, support-lead"));
    assert_true(reasons_have(o, "resource https://reports.example.com does not accept scope "
                                "orders:write (it accepts: reports:read)"));
    assert_true(json_is_false(json_object_get(o, "resource_accepts")));
    json_decref(o);
    /* unknown scope, unknown resource, no binding */
    s = user("nobody", NULL, 0);
    assert_int_equal(policy_explain(p, &s, "nope", "https://x.example", &o, NULL), IDP_OK);
    assert_true(json_is_false(json_object_get(o, "known_scope")));
    assert_true(reasons_have(o, "no binding matches the subject, so it holds no role"));
    assert_true(reasons_have(o, "scope nope is not defined in the policy"));
    assert_true(reasons_have(o, "resource https://x.example is not declared in the policy, so it "
                                "accepts no scope"));
    json_decref(o);
    /* open scope, client subject */
    policy_subject c = {.client_id = "svc-billing"};
    assert_int_equal(policy_explain(p, &c, "openid", NULL, &o, NULL), IDP_OK);
    assert_true(json_is_true(json_object_get(o, "granted")));
    assert_true(reasons_have(o, "scope openid requires no permission"));
    assert_string_equal(jpath_str(o, "bindings", 0, "kind"), "client");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "subject"), "client_id")),
        "svc-billing");
    json_decref(o);
    policy_free(p);
}

/* ---- diff ----------------------------------------------------------------------------- */

static void diff_lines(void **state)
{
    policy *a = load_ok(SMALL);
    policy *b = load_ok("version: 1\n"
                        "claim_namespace: \"https://idpd.example/claims/\"\n"
                        "token_size_budget: 8192\n"
                        "permissions:\n"
                        "  p.read: \"Read all things\"\n"
                        "  p.write: \"Write things\"\n"
                        "  p.admin: \"Administer\"\n"
                        "roles:\n"
                        "  viewer: { permissions: [p.read] }\n"
                        "  editor: { permissions: [p.write, p.admin] }\n"
                        "  owner: { includes: [editor] }\n"
                        "bindings:\n"
                        "  groups: { \"Sales\": [editor], \"Sales Team\": [viewer] }\n"
                        "scopes:\n"
                        "  p:read: { requires: [p.read, p.write], claims: [roles] }\n"
                        "  p:write: { requires: [p.write], claims: [permissions] }\n"
                        "  email: { claims: [email] }\n"
                        "resources:\n"
                        "  \"https://api.example.com\": { scopes: [p:read] }\n"
                        "  \"https://b.example.com\": { scopes: [p:write] }\n");
    idp_buf out;
    buf_init(&out, 0);
    assert_int_equal(policy_diff(a, b, &out, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&out),
                        "~ token_size_budget: 4096 -> 8192\n"
                        "+ permission p.admin Administer\n"
                        "~ permission p.read description: \"Read things\" -> \"Read all things\"\n"
                        "~ role editor permissions: [p.write] -> [p.admin p.write]\n"
                        "~ role editor includes: [viewer] -> []\n"
                        "+ role owner permissions: [] includes: [editor]\n"
                        "- binding group Sales -> viewer\n"
                        "+ binding group Sales -> editor\n"
                        "+ binding group \"Sales Team\" -> viewer\n"
                        "+ scope email requires: [] claims: [email]\n"
                        "- scope openid\n"
                        "~ scope p:read requires: [p.read] -> [p.read p.write]\n"
                        "~ scope p:read claims: [roles permissions] -> [roles]\n"
                        "~ resource https://api.example.com scopes: [p:read p:write] -> [p:read]\n"
                        "+ resource https://b.example.com scopes: [p:write]\n"
                        "~ access group Sales: +p.admin -p.read +p.write\n"
                        "~ access group \"Sales Team\": +p.read\n");
    /* the reverse, and a policy against itself */
    buf_reset(&out);
    assert_int_equal(policy_diff(b, a, &out, NULL), IDP_OK);
    assert_non_null(strstr(buf_cstr(&out), "- role owner\n"));
    assert_non_null(strstr(buf_cstr(&out), "- binding group \"Sales Team\" -> viewer\n"));
    assert_non_null(strstr(buf_cstr(&out), "~ access group \"Sales Team\": -p.read\n"));
    buf_reset(&out);
    assert_int_equal(policy_diff(a, a, &out, NULL), IDP_OK);
    assert_int_equal(out.len, 0);
    buf_free(&out);
    policy_free(a);
    policy_free(b);
}

static void diff_environments(void **state)
{
    policy *a = load_example(NULL), *b = load_example("staging");
    idp_buf out;
    buf_init(&out, 0);
    assert_int_equal(policy_diff(a, b, &out, NULL), IDP_OK);
    assert_string_equal(buf_cstr(&out),
                        "+ binding group Developers -> editor\n"
                        "+ binding group \"Support Leads\" -> accountant\n"
                        "- binding client svc-reporting -> viewer\n"
                        "+ resource https://api.staging.example.com/orders scopes: [orders:read "
                        "orders:write]\n"
                        "~ access group Developers: +orders.read +orders.write\n"
                        "~ access group \"Support Leads\": +invoices.issue +invoices.read "
                        "+reports.read\n"
                        "~ access client svc-reporting: -orders.read\n");
    /* the cap is honoured */
    idp_buf tiny;
    buf_init(&tiny, 16);
    idp_error e = {0};
    assert_int_equal(policy_diff(a, b, &tiny, &e), IDP_ERR_TOO_LARGE);
    buf_free(&tiny);
    buf_free(&out);
    policy_free(a);
    policy_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_loads),
        cmocka_unit_test(example_matches_doc),
        cmocka_unit_test(example_evaluate),
        cmocka_unit_test(rule_malformed_yaml),
        cmocka_unit_test(rule_root_mapping),
        cmocka_unit_test(rule_version),
        cmocka_unit_test(rule_namespace),
        cmocka_unit_test(rule_budget_value),
        cmocka_unit_test(rule_unknown_top_key),
        cmocka_unit_test(rule_unknown_entry_key),
        cmocka_unit_test(rule_wrong_types),
        cmocka_unit_test(rule_duplicate_key),
        cmocka_unit_test(rule_aliases),
        cmocka_unit_test(rule_non_scalar_key),
        cmocka_unit_test(rule_unknown_permission),
        cmocka_unit_test(rule_unknown_role),
        cmocka_unit_test(rule_listed_twice),
        cmocka_unit_test(rule_cycle_two),
        cmocka_unit_test(rule_cycle_self),
        cmocka_unit_test(rule_cycle_long),
        cmocka_unit_test(rule_scope_without_resource),
        cmocka_unit_test(rule_resource_unknown_scope),
        cmocka_unit_test(rule_resource_name),
        cmocka_unit_test(rule_registered_claim),
        cmocka_unit_test(rule_unknown_claim),
        cmocka_unit_test(rule_names),
        cmocka_unit_test(rule_case_insensitive_duplicates),
        cmocka_unit_test(rule_budget_exceeded),
        cmocka_unit_test(release_groups),
        cmocka_unit_test(rule_budget_default),
        cmocka_unit_test(rule_size_caps),
        cmocka_unit_test(all_errors_collected),
        cmocka_unit_test(too_many_errors),
        cmocka_unit_test(env_overlay),
        cmocka_unit_test(env_unknown),
        cmocka_unit_test(env_rules),
        cmocka_unit_test(env_remove_and_case),
        cmocka_unit_test(eval_role_inclusion),
        cmocka_unit_test(eval_dropped),
        cmocka_unit_test(eval_bad_scope_syntax),
        cmocka_unit_test(eval_resource),
        cmocka_unit_test(eval_client),
        cmocka_unit_test(eval_user_case_insensitive),
        cmocka_unit_test(eval_claims_json),
        cmocka_unit_test(eval_prefix_namespace),
        cmocka_unit_test(explain_granted),
        cmocka_unit_test(explain_denied),
        cmocka_unit_test(diff_lines),
        cmocka_unit_test(diff_environments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
