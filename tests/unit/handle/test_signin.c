/* Unit tests for the stateless parts of end-user sign-in: the sealed authorization request
 * (proto/authz_request), refresh token successors (proto/refresh), the user token jti epoch,
 * back-channel logout claims, the client cache's sign-in fields and token_policy. No HTTP, no database. */
#include "testutil.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "keys/kek.h"
#include "proto/authz_request.h"
#include "proto/scope.h"
#include "handle/oauth/backchannel.h"
#include "oauth/client_cache.h"
#include "proto/refresh.h"
#include "oauth/token_policy.h"
#include "handle/oauth/user_tokens.h"
#include "handle/signin/web.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kek *test_kek(void)
{
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/master.key", dir);
    kek *k = NULL;
    unsetenv("IDPD_MASTER_KEY");
    assert_int_equal(kek_create_file(path, NULL), IDP_OK);
    assert_int_equal(kek_load(path, &k, NULL), IDP_OK);
    tu_rmtree(dir);
    free(dir);
    return k;
}

static void authz_round_trip(void **state)
{
    kek *k = test_kek();
    authz_request r = {.client_id = "c_1", .redirect_uri = "https://app/cb", .scope = "openid email",
                       .state = "s\"<>", .nonce = "n", .code_challenge = "abc", .max_age = 30,
                       .expires_at = 1000};
    char *sealed = NULL;
    assert_int_equal(authz_request_seal(k, &r, &sealed, NULL), IDP_OK);
    assert_null(strstr(sealed, "openid")); /* opaque */
    authz_request o;
    assert_int_equal(authz_request_open(k, sealed, 999, &o, NULL), IDP_OK);
    assert_string_equal(o.client_id, "c_1");
    assert_string_equal(o.redirect_uri, "https://app/cb");
    assert_string_equal(o.scope, "openid email");
    assert_string_equal(o.state, "s\"<>");
    assert_string_equal(o.nonce, "n");
    assert_string_equal(o.code_challenge, "abc");
    assert_null(o.resource);
    assert_null(o.prompt);
    assert_int_equal(o.max_age, 30);
    authz_request_clear(&o);
    /* expired */
    idp_error e = {0};
    assert_int_equal(authz_request_open(k, sealed, 1000, &o, &e), IDP_ERR_INVALID);
    assert_null(o.client_id);
    /* tampered: every position flipped in turn fails the GCM tag */
    size_t n = strlen(sealed);
    for (size_t i = 0; i < n; i += 7) {
        char *t = strdup(sealed);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(authz_request_open(k, t, 1, &o, NULL), IDP_ERR_INVALID);
        free(t);
    }
    /* another master key cannot open it */
    kek *k2 = test_kek();
    assert_int_equal(authz_request_open(k2, sealed, 1, &o, NULL), IDP_ERR_INVALID);
    /* garbage, empty, NULL, oversize */
    assert_int_equal(authz_request_open(k, "", 1, &o, NULL), IDP_ERR_INVALID);
    assert_int_equal(authz_request_open(k, NULL, 1, &o, NULL), IDP_ERR_INVALID);
    assert_int_equal(authz_request_open(k, "!!!", 1, &o, NULL), IDP_ERR_INVALID);
    char *big = malloc(AUTHZ_REQUEST_MAX_SEALED + 2);
    memset(big, 'A', AUTHZ_REQUEST_MAX_SEALED + 1);
    big[AUTHZ_REQUEST_MAX_SEALED + 1] = '\0';
    assert_int_equal(authz_request_open(k, big, 1, &o, NULL), IDP_ERR_INVALID);
    free(big);
    free(sealed);
    kek_free(k);
    kek_free(k2);
}

static void authz_words(void **state)
{
    assert_true(scope_has("openid email", "email"));
    assert_true(scope_has("  openid   email ", "openid"));
    assert_false(scope_has("openid email", "mail"));
    assert_false(scope_has("openid emails", "email"));
    assert_false(scope_has(NULL, "x"));
    assert_false(scope_has("x", ""));
    assert_true(scope_subset("openid  email", "email openid profile"));
    assert_true(scope_subset("", "openid"));
    assert_true(scope_subset(NULL, NULL));
    assert_false(scope_subset("openid mail", "openid email"));
    assert_false(scope_subset("a", NULL));
}

static void refresh_successors(void **state)
{
    unsigned char k1[32] = {1}, k2[32] = {2};
    char t[44], a[44], b[44], c[44];
    refresh_new(t);
    assert_int_equal(strlen(t), REFRESH_TOKEN_LEN);
    refresh_successor(k1, t, a);
    refresh_successor(k1, t, b);
    assert_string_equal(a, b); /* a racing duplicate gets the same successor */
    assert_int_equal(strlen(a), REFRESH_TOKEN_LEN);
    assert_string_not_equal(a, t);
    refresh_successor(k2, t, c);
    assert_string_not_equal(a, c); /* keyed */
    refresh_successor(k1, a, c);
    assert_string_not_equal(a, c); /* the chain moves on */
    unsigned char h1[32], h2[32];
    opaque_hash(a, h1);
    opaque_hash(b, h2);
    assert_memory_equal(h1, h2, 32);
    char f1[23], f2[23];
    refresh_family_new(f1);
    refresh_family_new(f2);
    assert_string_not_equal(f1, f2);
}

static void logout_claims(void **state)
{
    char *s = backchannel_claims("https://id.example", "c_1", "user-1", "sid-1", 1000);
    json_t *c = NULL;
    assert_int_equal(jsonx_parse(s, strlen(s), 0, 0, true, &c, NULL), IDP_OK);
    assert_string_equal(jsonx_str(c, "iss"), "https://id.example");
    assert_string_equal(jsonx_str(c, "aud"), "c_1");
    assert_string_equal(jsonx_str(c, "sub"), "user-1");
    assert_string_equal(jsonx_str(c, "sid"), "sid-1");
    int64_t v = 0;
    assert_true(jsonx_int(c, "iat", &v) && v == 1000);
    assert_true(jsonx_int(c, "exp", &v) && v == 1000 + BACKCHANNEL_TOKEN_TTL);
    assert_non_null(jsonx_str(c, "jti"));
    assert_null(json_object_get(c, "nonce")); /* §2.4: MUST NOT */
    json_t *ev = json_object_get(json_object_get(c, "events"), "http://schemas.openid.net/event/backchannel-logout");
    assert_true(json_is_object(ev) && json_object_size(ev) == 0);
    json_decref(c);
    free(s);
}

static void cache_signin_fields(void **state)
{
    store_client rows[3] = {
        {.client_id = "web", .name = "Web", .grant_types = "authorization_code refresh_token",
         .redirect_uris = "https://a/cb https://b/cb", .post_logout_redirect_uris = "https://a/bye",
         .backchannel_logout_uri = "https://a/bc", .auth_method = "client_secret_basic",
         .has_secret = true},
        {.client_id = "spa", .grant_types = "authorization_code", .redirect_uris = "https://s/cb",
         .is_public = true, .auth_method = "none"},
        {.client_id = "pkj", .grant_types = "authorization_code", .redirect_uris = "https://p/cb",
         .auth_method = "private_key_jwt",
         .jwks = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
                 "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}"},
    };
    client_cache *cc = NULL;
    idp_error e = {0};
    assert_int_equal(client_cache_build(rows, 3, &cc, &e), IDP_OK);
    const client_entry *w = client_cache_find(cc, "web", 3), *s = client_cache_find(cc, "spa", 3),
                       *p = client_cache_find(cc, "pkj", 3);
    assert_string_equal(w->name, "Web");
    assert_int_equal(w->auth_method, CLIENT_AUTH_SECRET_BASIC);
    assert_false(w->is_public);
    assert_string_equal(w->redirect_uris, "https://a/cb https://b/cb");
    assert_string_equal(w->backchannel_logout_uri, "https://a/bc");
    assert_string_equal(s->name, "spa"); /* no name: the id */
    assert_int_equal(s->auth_method, CLIENT_AUTH_NONE);
    assert_true(s->is_public);
    assert_null(s->post_logout_redirect_uris);
    assert_int_equal(p->auth_method, CLIENT_AUTH_PRIVATE_KEY_JWT);
    assert_non_null(p->jwks);
    client_cache_unref(cc);
    /* private_key_jwt without a usable JWKS fails the build, naming the client */
    store_client bad = {.client_id = "bad", .auth_method = "private_key_jwt", .jwks = "{\"keys\":"};
    assert_int_equal(client_cache_build(&bad, 1, &cc, &e), IDP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "bad"));
    store_client none = {.client_id = "nokeys", .auth_method = "private_key_jwt"};
    assert_int_equal(client_cache_build(&none, 1, &cc, &e), IDP_ERR_INVALID);
}

/* ---- token_policy: what the active policy lets a token carry ---- */

static const char tp_doc[] =
    "version: 1\n"
    "claim_namespace: \"https://idpd.test/\"\n"
    "permissions: {p.read: \"\", p.write: \"\"}\n"
    "roles:\n"
    "  reader: {permissions: [p.read]}\n"
    "  writer: {permissions: [p.write], includes: [reader]}\n"
    "bindings:\n"
    "  clients: {svc: [reader]}\n"
    "  groups: {Writers: [writer]}\n"
    "scopes:\n"
    "  profile: {}\n"
    "  r: {requires: [p.read], claims: [roles]}\n"
    "  w: {requires: [p.write], claims: [roles, permissions]}\n"
    "resources:\n"
    "  \"https://api.test\": {scopes: [r]}\n"
    "  \"https://w.test\": {scopes: [w]}\n";

static void token_policy_rules(void **state)
{
    idp_buf sc, cl;
    buf_init(&sc, 0);
    buf_init(&cl, 0);
    idp_error e = {0};
    const char *iss = "https://id.test";
    const char *aud_iss[] = {iss}, *aud_api[] = {"https://api.test"}, *aud_other[] = {"https://other.test"};
    policy_subject svc = {.client_id = "svc"};
    /* no policy: unchanged, no claims */
    assert_int_equal(token_policy_apply(NULL, &svc, "r w x", aud_iss, 1, iss, &sc, &cl, &e), IDP_OK);
    assert_string_equal(buf_cstr(&sc), "r w x");
    assert_int_equal(cl.len, 0);
    policy *p = NULL;
    assert_int_equal(policy_load(tp_doc, strlen(tp_doc), NULL, &p, NULL, &e), IDP_OK);
    /* client: holds r, not w; unknown x dropped; openid/offline_access pass through */
    buf_reset(&sc);
    assert_int_equal(token_policy_apply(p, &svc, "openid r w x offline_access", aud_iss, 1, iss, &sc, &cl, &e), IDP_OK);
    assert_string_equal(buf_cstr(&sc), "openid r offline_access");
    assert_string_equal(buf_cstr(&cl), ",\"https://idpd.test/roles\":[\"reader\"]");
    /* a user in Writers: r and w; the client's own binding is not lent */
    const char *groups[] = {"writers"};
    policy_subject u = {.user_name = "bob", .groups = groups, .ngroups = 1, .client_id = "svc"};
    buf_reset(&sc);
    buf_reset(&cl);
    assert_int_equal(token_policy_apply(p, &u, "r w", aud_iss, 1, iss, &sc, &cl, &e), IDP_OK);
    assert_string_equal(buf_cstr(&sc), "r w");
    assert_non_null(strstr(buf_cstr(&cl), "\"https://idpd.test/permissions\":[\"p.read\",\"p.write\"]"));
    /* a resource accepts only r; an undeclared resource accepts nothing (but openid passes) */
    buf_reset(&sc);
    assert_int_equal(token_policy_apply(p, &u, "openid r w", aud_api, 1, iss, &sc, &cl, &e), IDP_OK);
    assert_string_equal(buf_cstr(&sc), "openid r");
    buf_reset(&sc);
    assert_int_equal(token_policy_apply(p, &u, "openid r w", aud_other, 1, iss, &sc, &cl, &e), IDP_OK);
    assert_string_equal(buf_cstr(&sc), "openid");
    /* several audiences: granted only what every one accepts */
    const char *both[] = {"https://api.test", "https://other.test"};
    buf_reset(&sc);
    assert_int_equal(token_policy_apply(p, &u, "r", both, 2, iss, &sc, &cl, &e), IDP_OK);
    assert_string_equal(buf_cstr(&sc), "");
    /* nobody: no roles, open scope only */
    policy_subject nobody = {.client_id = "other"};
    buf_reset(&sc);
    buf_reset(&cl);
    assert_int_equal(token_policy_apply(p, &nobody, "profile r", aud_iss, 1, iss, &sc, &cl, &e), IDP_OK);
    assert_string_equal(buf_cstr(&sc), "profile");
    assert_int_equal(cl.len, 0);
    policy_free(p);
    buf_free(&sc);
    buf_free(&cl);
}

static void session_timeouts(void **state)
{
    store_session s = {.created_at = 1000, .last_seen = 1000, .expires_at = 1000 + 43200};
    assert_true(web_session_live(&s, 1000, 3600));
    assert_true(web_session_live(&s, 1000 + 3599, 3600));
    assert_false(web_session_live(&s, 1000 + 3600, 3600)); /* idle */
    s.last_seen = 1000 + 40000;                             /* used recently ... */
    assert_true(web_session_live(&s, 1000 + 43199, 3600));
    assert_false(web_session_live(&s, 1000 + 43200, 3600)); /* ... but past its absolute end */
}

static void secure_cookie_rule(void **state)
{
    assert_false(web_secure_cookies("http://127.0.0.1:8080"));
    assert_false(web_secure_cookies("http://127.0.0.1"));
    assert_false(web_secure_cookies("http://[::1]:8080"));
    assert_false(web_secure_cookies("http://localhost:3000/idp"));
    assert_true(web_secure_cookies("https://id.example.com"));
    assert_true(web_secure_cookies("http://id.internal:8080"));      /* plain http elsewhere: Secure */
    assert_true(web_secure_cookies("http://127.0.0.1.evil.example")); /* not loopback */
    assert_true(web_secure_cookies("http://localhostx"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authz_round_trip), cmocka_unit_test(authz_words),
        cmocka_unit_test(refresh_successors), 
        cmocka_unit_test(logout_claims), cmocka_unit_test(cache_signin_fields),
        cmocka_unit_test(token_policy_rules), cmocka_unit_test(secure_cookie_rule),
        cmocka_unit_test(session_timeouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
