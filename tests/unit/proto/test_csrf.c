/* Unit tests for src/proto/csrf.c: the token is base64url(HMAC-SHA-256(key, binding)), bound to
 * both key and binding, and csrf_check refuses every altered token. */
#include "testutil.h"

#include "proto/csrf.h"

#include <string.h>

static unsigned char key[32];

static int setup(void **state)
{
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i;
    return 0;
}

static void known_answer(void **state)
{
    /* Computed independently: Python hmac.new(bytes(range(32)), msg, sha256), base64url. */
    char t[44];
    csrf_token(key, "session-1", t);
    assert_string_equal(t, "-uHw4zuFxvOMfT39LyhZyby4H9706zy16VJJ_l7UUCk");
    assert_int_equal(strlen(t), CSRF_TOKEN_LEN);
    csrf_token(key, "", t);
    assert_string_equal(t, "04tCCW2A9F-Ca0Sp1WB95ySWpBXT9KGoyI47udqNwcs");
    csrf_token(key, NULL, t); /* NULL is "" */
    assert_string_equal(t, "04tCCW2A9F-Ca0Sp1WB95ySWpBXT9KGoyI47udqNwcs");
}

static void check_accepts_own(void **state)
{
    char t[44];
    csrf_token(key, "session-1", t);
    assert_true(csrf_check(key, "session-1", t));
}

static void check_rejects(void **state)
{
    char t[44], x[64];
    csrf_token(key, "session-1", t);
    assert_false(csrf_check(key, "session-2", t)); /* another session */
    assert_false(csrf_check(key, "session-1 ", t));
    assert_false(csrf_check(key, NULL, t));
    unsigned char key2[32];
    memcpy(key2, key, 32);
    key2[31] ^= 1;
    assert_false(csrf_check(key2, "session-1", t)); /* another key */
    for (size_t i = 0; i < CSRF_TOKEN_LEN; i++) {   /* every single-character change */
        memcpy(x, t, sizeof t);
        x[i] = x[i] == 'A' ? 'B' : 'A';
        if (csrf_check(key, "session-1", x)) fail_msg("accepted change at %zu", i);
    }
    memcpy(x, t, sizeof t);
    x[CSRF_TOKEN_LEN - 1] = '\0';
    assert_false(csrf_check(key, "session-1", x)); /* truncated */
    memcpy(x, t, CSRF_TOKEN_LEN);
    memcpy(x + CSRF_TOKEN_LEN, "A", 2);
    assert_false(csrf_check(key, "session-1", x)); /* extended */
    assert_false(csrf_check(key, "session-1", NULL));
    assert_false(csrf_check(key, "session-1", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answer),
        cmocka_unit_test(check_accepts_own),
        cmocka_unit_test(check_rejects),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
