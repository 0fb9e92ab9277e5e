/* Unit tests for src/proto/oidc.c: at_hash / c_hash (OIDC Core §3.1.3.6, §3.3.2.11) and the
 * consent wording of the standard scopes. */
#include "testutil.h"

#include "proto/oidc.h"

#include <string.h>

/* OIDC Core 1.0 Appendix A.4: c_hash of this code (same rule as at_hash). */
#define A4_CODE "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
#define A4_C_HASH "LDktKdoQak3Pk0cnXxCltA"

static void at_hash_sha256(void **state)
{
    const char *algs[] = {"ES256", "RS256", "PS256"};
    for (size_t i = 0; i < 3; i++) {
        char out[64];
        idp_error e = {0};
        assert_int_equal(oidc_at_hash(algs[i], A4_CODE, out, &e), IDP_OK);
        assert_string_equal(out, A4_C_HASH);
    }
}

static void at_hash_eddsa_sha512(void **state)
{
    /* base64url(left half of SHA-512("jHkWEdUXMU1BwAsC4vtUsZwnkJJmDpKd")), computed
     * independently (Python hashlib). */
    char out[64];
    idp_error e = {0};
    assert_int_equal(oidc_at_hash("EdDSA", "jHkWEdUXMU1BwAsC4vtUsZwnkJJmDpKd", out, &e), IDP_OK);
    assert_string_equal(out, "H9zEnzM64k7DkCDogIQLVQz1rS51SiHzFIHu22Sy8lQ");
    assert_int_equal(strlen(out), 43);
    assert_int_equal(oidc_at_hash("Ed25519", "jHkWEdUXMU1BwAsC4vtUsZwnkJJmDpKd", out, &e), IDP_OK);
    assert_string_equal(out, "H9zEnzM64k7DkCDogIQLVQz1rS51SiHzFIHu22Sy8lQ");
}

static void at_hash_rejects(void **state)
{
    char out[64];
    idp_error e = {0};
    const char *bad_algs[] = {"HS256", "none", "es256", "ES384", "Ed448", "", NULL};
    for (size_t i = 0; i < sizeof bad_algs / sizeof bad_algs[0]; i++) {
        memcpy(out, "junk", 5);
        if (oidc_at_hash(bad_algs[i], "tok", out, &e) != IDP_ERR_JOSE_ALG)
            fail_msg("alg %zu accepted", i);
        assert_string_equal(out, "");
    }
    assert_int_equal(oidc_at_hash("ES256", NULL, out, &e), IDP_ERR_INVALID);
    assert_int_equal(oidc_at_hash("ES256", "", out, &e), IDP_ERR_INVALID);
}

static void scope_words(void **state)
{
    assert_string_equal(oidc_scope_words("openid"), "Confirm your identity");
    assert_string_equal(oidc_scope_words("profile"), "Your name and profile details");
    assert_string_equal(oidc_scope_words("email"), "Your email address");
    assert_string_equal(oidc_scope_words("offline_access"), "Keep access while you are away");
    assert_string_equal(oidc_scope_words("groups"), "Your group memberships");
    assert_null(oidc_scope_words("api:read"));
    assert_null(oidc_scope_words("OPENID")); /* case-sensitive */
    assert_null(oidc_scope_words("openid "));
    assert_null(oidc_scope_words(""));
    assert_null(oidc_scope_words(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(at_hash_sha256),
        cmocka_unit_test(at_hash_eddsa_sha512),
        cmocka_unit_test(at_hash_rejects),
        cmocka_unit_test(scope_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
