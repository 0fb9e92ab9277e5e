/* Unit tests for the oauth protocol logic: scope (RFC 6749 §3.3), resource/audience selection
 * (RFC 8707), token claims (RFC 9068 §2.2), client cache, jsonw. No HTTP, no database. */
#include "testutil.h"

#include "core/jsonx.h"
#include "oauth/client_cache.h"
#include "core/jsonw.h"
#include "proto/resource.h"
#include "proto/scope.h"
#include "proto/token_claims.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *allowed[] = {"api:read", "api:write", "openid"};

static idp_err scope(const char *req, idp_buf *out, idp_error *e)
{
    return scope_resolve(req, allowed, 3, out, e);
}

static void scope_default_and_subset(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    assert_int_equal(scope(NULL, &b, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "api:read api:write openid");
    assert_int_equal(scope("api:write", &b, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "api:write");
    assert_int_equal(scope("openid api:read", &b, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "openid api:read"); /* request order */
    assert_int_equal(scope("api:read api:read openid api:read", &b, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "api:read openid"); /* duplicates collapse */
    /* a client without scopes gets an empty scope by default */
    assert_int_equal(scope_resolve(NULL, NULL, 0, &b, &e), IDP_OK);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void scope_rejects(void **state)
{
    const char *bad[] = {
        "admin",            /* not the client's */
        "api:read admin",   /* one of them not the client's */
        "api",              /* prefix of a scope is not the scope */
        "API:READ",         /* case-sensitive */
        "",                 /* empty */
        " api:read",        /* empty token (leading space) */
        "api:read ",        /* trailing space */
        "api:read  openid", /* double space */
        "api:read\topenid", /* not SP */
        "a\"b",             /* outside scope-token chars */
        "a\\b",
        "caf\xc3\xa9",
    };
    idp_buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        idp_error e = {0};
        if (scope(bad[i], &b, &e) != IDP_ERR_OAUTH_INVALID_SCOPE) fail_msg("accepted: '%s'", bad[i]);
        assert_true(e.msg[0] != '\0');
    }
    char *longs = malloc(SCOPE_MAX_LEN + 2);
    memset(longs, 'a', SCOPE_MAX_LEN + 1);
    longs[SCOPE_MAX_LEN + 1] = '\0';
    char *big[] = {longs};
    idp_error e = {0};
    assert_int_equal(scope_resolve(longs, big, 1, &b, &e), IDP_ERR_OAUTH_INVALID_SCOPE);
    free(longs);
    buf_free(&b);
    assert_true(scope_token_valid("!#[]~", 5));
    assert_false(scope_token_valid("", 0));
    assert_false(scope_token_valid("a b", 3));
}

static void resource_selection(void **state)
{
    char *aud[] = {"https://api.example", "https://other.example"};
    const char *out[RESOURCE_MAX];
    size_t n = 0;
    idp_error e = {0};
    /* none requested: the client's first audience */
    assert_int_equal(resource_select(NULL, 0, aud, 2, "https://iss", out, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "https://api.example");
    /* none requested, no audiences: the issuer */
    assert_int_equal(resource_select(NULL, 0, NULL, 0, "https://iss", out, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "https://iss");
    /* requested: exactly those, duplicates collapsed */
    const char *req[] = {"https://other.example", "https://api.example", "https://other.example"};
    assert_int_equal(resource_select(req, 3, aud, 2, "https://iss", out, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0], "https://other.example");
    assert_string_equal(out[1], "https://api.example");
    /* a resource the client may not target */
    const char *bad[] = {"https://api.example", "https://evil.example"};
    assert_int_equal(resource_select(bad, 2, aud, 2, "https://iss", out, &n, &e),
                     IDP_ERR_OAUTH_INVALID_TARGET);
    const char *pre[] = {"https://api.example/"}; /* exact match only */
    assert_int_equal(resource_select(pre, 1, aud, 2, "https://iss", out, &n, &e),
                     IDP_ERR_OAUTH_INVALID_TARGET);
    /* the issuer is not a resource the client may ask for unless it is an audience */
    const char *iss[] = {"https://iss"};
    assert_int_equal(resource_select(iss, 1, NULL, 0, "https://iss", out, &n, &e),
                     IDP_ERR_OAUTH_INVALID_TARGET);
    const char *many[RESOURCE_MAX + 1];
    for (size_t i = 0; i <= RESOURCE_MAX; i++) many[i] = "https://api.example";
    assert_int_equal(resource_select(many, RESOURCE_MAX + 1, aud, 2, "https://iss", out, &n, &e),
                     IDP_ERR_OAUTH_INVALID_TARGET);
}

static json_t *claims_json(const token_claims *tc)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    assert_int_equal(token_claims_build(tc, &b, &e), IDP_OK);
    json_t *j = NULL;
    assert_int_equal(jsonx_parse(b.data, b.len, 0, 0, true, &j, &e), IDP_OK);
    buf_free(&b);
    return j;
}

static void token_claims_shape(void **state)
{
    const char *one[] = {"https://api.example"};
    char jti[23];
    token_claims_new_jti(jti);
    assert_int_equal(strlen(jti), 22);
    token_claims tc = {.iss = "https://iss", .sub = "c1", .aud = one, .naud = 1, .iat = 1000,
                       .exp = 1300, .jti = jti, .client_id = "c1", .scope = "a b"};
    json_t *j = claims_json(&tc);
    assert_string_equal(jsonx_str(j, "iss"), "https://iss");
    assert_string_equal(jsonx_str(j, "sub"), "c1");
    assert_string_equal(jsonx_str(j, "aud"), "https://api.example"); /* a string when one */
    assert_string_equal(jsonx_str(j, "client_id"), "c1");
    assert_string_equal(jsonx_str(j, "scope"), "a b");
    assert_string_equal(jsonx_str(j, "jti"), jti);
    int64_t v;
    assert_true(jsonx_int(j, "exp", &v) && v == 1300);
    assert_true(jsonx_int(j, "iat", &v) && v == 1000);
    assert_true(jsonx_int(j, "nbf", &v) && v == 1000);
    assert_int_equal(json_object_size(j), 9);
    json_decref(j);
    /* several audiences: an array; empty scope: omitted; escaping */
    const char *two[] = {"https://a", "https://b\"c"};
    tc.aud = two;
    tc.naud = 2;
    tc.scope = "";
    tc.sub = tc.client_id = "we\\ird\n";
    j = claims_json(&tc);
    json_t *aud = json_object_get(j, "aud");
    assert_true(json_is_array(aud));
    assert_int_equal(json_array_size(aud), 2);
    assert_string_equal(json_string_value(json_array_get(aud, 1)), "https://b\"c");
    assert_null(json_object_get(j, "scope"));
    assert_string_equal(jsonx_str(j, "sub"), "we\\ird\n");
    json_decref(j);
    /* no audience is a bug */
    idp_buf b;
    buf_init(&b, 0);
    tc.naud = 0;
    idp_error e = {0};
    assert_int_equal(token_claims_build(&tc, &b, &e), IDP_ERR_INVALID);
    buf_free(&b);
    /* two jtis differ */
    char jti2[23];
    token_claims_new_jti(jti2);
    assert_string_not_equal(jti, jti2);
}

static void jsonw_escapes(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(jsonw_str(&b, "a\"b\\c\x01\x1f\n", 8), 0);
    assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\u0001\\u001f\\u000a\"");
    buf_free(&b);
    buf_init(&b, 4);
    assert_int_equal(jsonw_str(&b, "toolong", 7), -1); /* cap */
    buf_free(&b);
}

static void client_cache_lookup(void **state)
{
    store_client rows[3];
    memset(rows, 0, sizeof rows);
    char ids[3][8] = {"alpha", "beta", "gamma"};
    for (int i = 0; i < 3; i++) {
        rows[i].client_id = ids[i];
        rows[i].has_secret = i != 2;
        memset(rows[i].secret_hash, i + 1, 32);
        rows[i].grant_types = "client_credentials";
        rows[i].scope = "  a   b ";
        rows[i].audiences = i == 0 ? "https://x https://y" : NULL;
    }
    rows[1].token_alg = "EdDSA";
    rows[1].token_ttl = 60;
    client_cache *cc = NULL;
    idp_error e = {0};
    assert_int_equal(client_cache_build(rows, 3, &cc, &e), IDP_OK);
    const client_entry *a = client_cache_find(cc, "alpha", 5);
    assert_non_null(a);
    assert_int_equal(a->nscopes, 2);
    assert_string_equal(a->scopes[1], "b");
    assert_int_equal(a->naudiences, 2);
    assert_string_equal(a->audiences[0], "https://x");
    assert_true(client_entry_has_grant(a, "client_credentials"));
    assert_false(client_entry_has_grant(a, "password"));
    assert_int_equal(a->alg, JWS_ALG_INVALID);
    const client_entry *b = client_cache_find(cc, "beta", 4);
    assert_non_null(b);
    assert_int_equal(b->alg, JWS_EDDSA);
    assert_int_equal(b->token_ttl, 60);
    assert_false(client_cache_find(cc, "gamma", 5)->has_secret);
    assert_null(client_cache_find(cc, "alph", 4));
    assert_null(client_cache_find(cc, "alphaa", 6));
    assert_null(client_cache_find(NULL, "alpha", 5));
    client_cache_unref(cc);
    /* unknown token_alg fails the build */
    rows[1].token_alg = "HS256";
    assert_int_equal(client_cache_build(rows, 3, &cc, &e), IDP_ERR_INVALID);
    /* an empty cache works */
    assert_int_equal(client_cache_build(NULL, 0, &cc, &e), IDP_OK);
    assert_null(client_cache_find(cc, "alpha", 5));
    client_cache_unref(cc);
}

static void client_cache_many(void **state)
{
    enum { N = 500 };
    store_client *rows = calloc(N, sizeof *rows);
    char (*ids)[16] = calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], 16, "client-%d", i);
        rows[i].client_id = ids[i];
    }
    client_cache *cc = NULL;
    idp_error e = {0};
    assert_int_equal(client_cache_build(rows, N, &cc, &e), IDP_OK);
    for (int i = 0; i < N; i++) {
        const client_entry *ce = client_cache_find(cc, ids[i], strlen(ids[i]));
        assert_non_null(ce);
        assert_string_equal(ce->client_id, ids[i]);
    }
    client_cache_unref(cc);
    free(rows);
    free(ids);
}

/* RFC 7662 §4: who may learn that a token is active (client_entry_may_introspect). */
static void client_cache_introspect_right(void **state)
{
    store_client rows[3];
    memset(rows, 0, sizeof rows);
    char ids[3][8] = {"own", "rs", "all"};
    for (int i = 0; i < 3; i++) {
        rows[i].client_id = ids[i];
        rows[i].grant_types = "client_credentials";
        rows[i].scope = "";
    }
    rows[1].audiences = "https://api https://b";
    rows[1].introspect = "audience";
    rows[2].introspect = "any";
    client_cache *cc = NULL;
    idp_error e = {0};
    assert_int_equal(client_cache_build(rows, 3, &cc, &e), IDP_OK);
    const client_entry *own = client_cache_find(cc, "own", 3), *rs = client_cache_find(cc, "rs", 2),
                       *all = client_cache_find(cc, "all", 3);
    json_t *api = json_string("https://api"), *other = json_string("https://other");
    json_t *arr = json_pack("[s,s]", "https://other", "https://b"), *num = json_integer(1);
    assert_true(client_entry_may_introspect(own, "own", other));   /* issued to it */
    assert_false(client_entry_may_introspect(own, "rs", api));     /* none: others never */
    assert_false(client_entry_may_introspect(own, NULL, NULL));
    assert_true(client_entry_may_introspect(rs, "own", api));      /* its audience */
    assert_true(client_entry_may_introspect(rs, "own", arr));      /* one of several */
    assert_false(client_entry_may_introspect(rs, "own", other));
    assert_false(client_entry_may_introspect(rs, "own", num));
    assert_false(client_entry_may_introspect(rs, "own", NULL));
    assert_true(client_entry_may_introspect(all, "own", NULL));    /* any */
    json_decref(api);
    json_decref(other);
    json_decref(arr);
    json_decref(num);
    client_cache_unref(cc);
    rows[2].introspect = "everyone"; /* not a mode: the build fails */
    assert_int_equal(client_cache_build(rows, 3, &cc, &e), IDP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scope_default_and_subset),
        cmocka_unit_test(scope_rejects),
        cmocka_unit_test(resource_selection),
        cmocka_unit_test(token_claims_shape),
        cmocka_unit_test(jsonw_escapes),
        cmocka_unit_test(client_cache_lookup),
        cmocka_unit_test(client_cache_many),
        cmocka_unit_test(client_cache_introspect_right),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
