/* Unit tests for src/proto/pkce.c (RFC 7636): the Appendix B vector, the verifier and challenge
 * syntax, and each rejection of pkce_check_s256. */
#include "testutil.h"

#include "proto/pkce.h"

#include <string.h>

/* RFC 7636 Appendix B. */
static const char b_verifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char b_challenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

static void rfc7636_appendix_b(void **state)
{
    idp_error e = {0};
    assert_true(pkce_verifier_valid(b_verifier));
    assert_true(pkce_challenge_valid(b_challenge));
    assert_int_equal(pkce_check_s256(b_verifier, b_challenge, &e), IDP_OK);
}

static void mismatch_is_invalid_grant(void **state)
{
    char v[sizeof b_verifier];
    memcpy(v, b_verifier, sizeof v);
    v[0] = 'e'; /* still a well-formed verifier */
    idp_error e = {0};
    assert_int_equal(pkce_check_s256(v, b_challenge, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_non_null(strstr(e.msg, "does not match"));
    assert_null(strstr(e.msg, v)); /* the message never repeats the verifier */
    /* the challenge of another verifier */
    char c[sizeof b_challenge];
    memcpy(c, b_challenge, sizeof c);
    c[0] = 'F';
    assert_int_equal(pkce_check_s256(b_verifier, c, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    /* "plain" (challenge == verifier) is not accepted: the verifier is 43 chars but does not
     * hash to itself */
    assert_int_equal(pkce_check_s256(b_verifier, b_verifier, &e), IDP_ERR_OAUTH_INVALID_GRANT);
}

static void verifier_syntax(void **state)
{
    char v[PKCE_VERIFIER_MAX + 2];
    memset(v, 'a', sizeof v);
    v[PKCE_VERIFIER_MIN] = '\0';
    assert_true(pkce_verifier_valid(v)); /* 43 */
    v[PKCE_VERIFIER_MIN - 1] = '\0';
    assert_false(pkce_verifier_valid(v)); /* 42 */
    memset(v, 'a', sizeof v);
    v[PKCE_VERIFIER_MAX] = '\0';
    assert_true(pkce_verifier_valid(v)); /* 128 */
    v[PKCE_VERIFIER_MAX] = 'a';
    v[PKCE_VERIFIER_MAX + 1] = '\0';
    assert_false(pkce_verifier_valid(v)); /* 129 */
    assert_true(
        pkce_verifier_valid("-._~ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"));
    const char bad[] = "+/= %\x01\x80";
    memset(v, 'a', sizeof v);
    v[50] = '\0';
    for (size_t i = 0; i + 1 < sizeof bad; i++) {
        v[10] = bad[i];
        if (pkce_verifier_valid(v)) fail_msg("accepted char 0x%02x", (unsigned char)bad[i]);
    }
    assert_false(pkce_verifier_valid(NULL));
    assert_false(pkce_verifier_valid(""));
}

static void challenge_syntax(void **state)
{
    char c[64];
    assert_false(pkce_challenge_valid(NULL));
    assert_false(pkce_challenge_valid(""));
    memcpy(c, b_challenge, 42);
    c[42] = '\0';
    assert_false(pkce_challenge_valid(c)); /* 42 */
    memcpy(c, b_challenge, 43);
    c[43] = 'A';
    c[44] = '\0';
    assert_false(pkce_challenge_valid(c)); /* 44 */
    c[43] = '=';
    assert_false(pkce_challenge_valid(c)); /* padded */
    c[43] = '\0';
    c[5] = '+';
    assert_false(pkce_challenge_valid(c)); /* standard base64 alphabet */
    memcpy(c, b_challenge, 44);
    c[42] = 'N'; /* 'M' = 001100; 'N' sets one of the two unused trailing bits */
    assert_false(pkce_challenge_valid(c));
}

static void check_rejects_malformed(void **state)
{
    idp_error e = {0};
    assert_int_equal(pkce_check_s256(NULL, b_challenge, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_non_null(strstr(e.msg, "43 to 128"));
    assert_int_equal(pkce_check_s256("short", b_challenge, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_int_equal(pkce_check_s256(b_verifier, NULL, &e), IDP_ERR_OAUTH_INVALID_GRANT);
    assert_int_equal(pkce_check_s256(b_verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c", &e),
                     IDP_ERR_OAUTH_INVALID_GRANT);
    assert_non_null(strstr(e.msg, "code_challenge"));
    assert_int_equal(pkce_check_s256(b_verifier, b_challenge, NULL), IDP_OK); /* err optional */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc7636_appendix_b),      cmocka_unit_test(mismatch_is_invalid_grant),
        cmocka_unit_test(verifier_syntax),         cmocka_unit_test(challenge_syntax),
        cmocka_unit_test(check_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
