/* Unit tests for src/federation/fed_registry.c without a network: which URLs may be fetched
 * (https, http only to loopback hosts with allow_http_loopback), the registry's table across
 * policy syncs (an unchanged issuer keeps its cache, a changed one gets a new one, a removed one
 * is gone), the token counters (unknown issuers under "(unknown)", bounded labels), the metric
 * families, and the fed_verify step table the CLI prints. */
#include "testutil.h"

#include "core/buf.h"
#include "federation/fed_registry.h"
#include "fetch/fetch.h"
#include "federation/fed_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jwks_uri on a port nothing listens on: every fetch fails at once (connection refused). */
#define DOC(extra)                                                                                \
    "version: 1\n"                                                                                \
    "claim_namespace: idpd_\n"                                                                    \
    "permissions: {p.read: Read}\n"                                                               \
    "roles: {viewer: {permissions: [p.read]}}\n"                                                  \
    "federation:\n"                                                                               \
    "  issuers:\n"                                                                                \
    "    - name: a\n"                                                                             \
    "      issuer: http://127.0.0.1:9/a\n"                                                        \
    "      jwks_uri: http://127.0.0.1:9/a/keys\n"                                                 \
    "      allow_http_loopback: true\n"                                                           \
    "      algorithms: [ES256]\n"                                                                 \
    "      audiences: [https://idpd.example]\n" extra

static policy *load(const char *doc)
{
    policy *p = NULL;
    idp_error e = {0};
    if (policy_load(doc, strlen(doc), NULL, &p, NULL, &e) != IDP_OK) {
        fprintf(stderr, "policy: %s\n", e.msg);
        return NULL;
    }
    return p;
}

static void t_url_allowed(void **state)
{
    (void)state;
    idp_error e = {0};
    assert_int_equal(fetch_url_allowed("https://login.example/keys", false, &e), IDP_OK);
    assert_int_equal(fetch_url_allowed("https://login.example:8443/k?x=1", false, &e), IDP_OK);
    assert_int_equal(fetch_url_allowed("http://127.0.0.1:8080/keys", true, &e), IDP_OK);
    assert_int_equal(fetch_url_allowed("http://127.1.2.3/keys", true, &e), IDP_OK);
    assert_int_equal(fetch_url_allowed("http://[::1]:80/keys", true, &e), IDP_OK);
    assert_int_equal(fetch_url_allowed("http://localhost/keys", true, &e), IDP_OK);
    /* http without the flag, or to a host that is not loopback */
    assert_int_equal(fetch_url_allowed("http://127.0.0.1/keys", false, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("http://login.example/keys", true, &e), IDP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "not a loopback"));
    assert_int_equal(fetch_url_allowed("http://127.0.0.1.evil.example/", true, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("http://localhost.evil.example/", true, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("http://128.0.0.1/", true, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("http://[::2]/", true, &e), IDP_ERR_INVALID);
    /* other schemes, userinfo, fragments, controls, length */
    assert_int_equal(fetch_url_allowed("file:///etc/passwd", true, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("ftp://login.example/", true, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("https://u:p@login.example/", false, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("http://127.0.0.1@evil.example/", true, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("https://login.example/#f", false, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("https://login.example/\n", false, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("https:///keys", false, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed("", false, &e), IDP_ERR_INVALID);
    assert_int_equal(fetch_url_allowed(NULL, false, &e), IDP_ERR_INVALID);
    char *big = malloc(FETCH_URL_MAX + 2);
    memcpy(big, "https://a.example/", 18);
    memset(big + 18, 'x', FETCH_URL_MAX + 1 - 18);
    big[FETCH_URL_MAX + 1] = '\0';
    assert_int_equal(fetch_url_allowed(big, false, &e), IDP_ERR_INVALID);
    big[FETCH_URL_MAX] = '\0';
    assert_int_equal(fetch_url_allowed(big, false, &e), IDP_OK);
    free(big);
}

static bool has_line(const char *text, const char *line)
{
    const char *p = strstr(text, line);
    return p && (p == text || p[-1] == '\n');
}

static void t_registry(void **state)
{
    (void)state;
    policy *p1 = load(DOC("")), *p2 = load(DOC("      clock_skew: 30s\n"));
    policy *p3 = load(DOC("      jwks: {refresh: 600s, max_refresh: 1h}\n"));
    assert_non_null(p1);
    assert_non_null(p2);
    assert_non_null(p3);
    fed_registry *r = NULL;
    idp_error e = {0};
    assert_int_equal(fed_registry_new(NULL, &r, &e), IDP_OK);
    const fed_issuer *a1 = policy_fed_by_name(p1, "a");
    /* before sync: no cache, 503 */
    jwks *set = NULL;
    assert_int_equal(fed_registry_keys(r, a1, NULL, &set, &e), IDP_ERR_UNAVAILABLE);
    assert_null(set);
    char authz[64], tok[64];
    assert_int_equal(fed_registry_endpoints(r, a1, authz, sizeof authz, tok, sizeof tok, &e),
                     IDP_ERR_UNAVAILABLE);
    fed_registry_sync(r, p1);
    /* the fetch fails (nothing listens): no usable set, never acceptance */
    assert_int_equal(fed_registry_keys(r, a1, "k1", &set, &e), IDP_ERR_UNAVAILABLE);
    assert_null(set);
    jwks_cache_status s;
    assert_true(fed_registry_status(r, "a", &s));
    assert_true(s.fetches[JWKS_FETCH_NETWORK] >= 1);
    uint64_t before = s.fetches[JWKS_FETCH_NETWORK];
    jwks_cache_status_clear(&s);
    assert_false(fed_registry_status(r, "b", &s));

    /* counters: known issuer, unknown issuer, out-of-range input ignored */
    fed_registry_count(r, a1, "jwt_bearer", FED_ACCEPTED);
    fed_registry_count(r, a1, "jwt_bearer", FED_ACCEPTED);
    fed_registry_count(r, a1, "token_exchange", FED_R_AUDIENCE);
    fed_registry_count(r, NULL, "login", FED_R_UNKNOWN_ISSUER);
    fed_registry_count(r, a1, "password", FED_ACCEPTED);
    fed_registry_count(r, a1, "login", FED__R_COUNT);
    idp_buf m;
    buf_init(&m, 0);
    assert_int_equal(fed_registry_metrics(r, &m), 0);
    const char *t = buf_cstr(&m);
    assert_true(has_line(t, "# TYPE idpd_federation_jwks_fetch_total counter\n"));
    assert_true(has_line(t, "# TYPE idpd_federation_jwks_age_seconds gauge\n"));
    assert_true(has_line(t, "# TYPE idpd_federation_tokens_total counter\n"));
    assert_true(has_line(t, "idpd_federation_jwks_age_seconds{issuer=\"a\"} -1.000\n"));
    assert_true(has_line(t, "idpd_federation_jwks_fetch_total{issuer=\"a\",result=\"ok\"} 0\n"));
    assert_true(has_line(
        t, "idpd_federation_tokens_total{issuer=\"a\",grant=\"jwt_bearer\",result=\"accepted\"} 2\n"));
    assert_true(has_line(t, "idpd_federation_tokens_total{issuer=\"a\",grant=\"token_exchange\","
                            "result=\"audience\"} 1\n"));
    assert_true(has_line(t, "idpd_federation_tokens_total{issuer=\"(unknown)\",grant=\"login\","
                            "result=\"unknown_issuer\"} 1\n"));
    assert_null(strstr(t, "password"));
    assert_int_equal(strstr(t, "grant=\"login\",result=\"accepted\"") == NULL, 1);
    buf_free(&m);

    /* a policy change that leaves the issuer's fetch settings alone keeps its cache (and its
     * counters); one that changes its jwks options starts a new cache */
    fed_registry_sync(r, p2);
    assert_true(fed_registry_status(r, "a", &s));
    assert_true(s.fetches[JWKS_FETCH_NETWORK] >= before);
    jwks_cache_status_clear(&s);
    buf_init(&m, 0);
    fed_registry_metrics(r, &m);
    assert_true(has_line(buf_cstr(&m), "idpd_federation_tokens_total{issuer=\"a\",grant="
                                       "\"jwt_bearer\",result=\"accepted\"} 2\n"));
    buf_free(&m);
    fed_registry_sync(r, p3);
    buf_init(&m, 0);
    fed_registry_metrics(r, &m);
    assert_null(strstr(buf_cstr(&m), "grant=\"jwt_bearer\",result=\"accepted\"} 2"));
    buf_free(&m);
    /* removed: the issuer is gone from the table and from the metrics */
    fed_registry_sync(r, NULL);
    assert_false(fed_registry_status(r, "a", &s));
    buf_init(&m, 0);
    fed_registry_metrics(r, &m);
    assert_null(strstr(buf_cstr(&m), "issuer=\"a\""));
    buf_free(&m);
    fed_registry_free(r);
    fed_registry_free(NULL);
    assert_int_equal(fed_registry_metrics(NULL, &m), 0);
    policy_free(p1);
    policy_free(p2);
    policy_free(p3);
}

static void t_steps(void **state)
{
    (void)state;
    /* the table covers every fed_verify reason once, in order */
    assert_int_equal(fed_verify_nsteps, 12);
    fed_reason next = FED_R_TOO_LARGE;
    for (size_t i = 0; i < fed_verify_nsteps; i++) {
        assert_int_equal(fed_verify_steps[i].first, next);
        assert_true(fed_verify_steps[i].last >= fed_verify_steps[i].first);
        next = fed_verify_steps[i].last + 1;
    }
    assert_int_equal(next, FED_R_REPLAY);
    assert_int_equal(fed_verify_step_of(FED_ACCEPTED), -1);
    assert_int_equal(fed_verify_step_of(FED_R_REPLAY), -1);
    assert_int_equal(fed_verify_step_of(FED_R_UNKNOWN_KID), 5);
    assert_int_equal(fed_verify_step_of(FED_R_LIFETIME), 8);
    assert_string_equal(fed_verify_steps[fed_verify_step_of(FED_R_SUBJECT)].name, "subject");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_url_allowed),
        cmocka_unit_test(t_registry),
        cmocka_unit_test(t_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
