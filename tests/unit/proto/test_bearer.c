/* Unit tests for src/proto/bearer: the RFC 6750 §2.1 syntax, the three failure kinds, and the
 * length cap (a token of BEARER_MAX_TOKEN characters is accepted, one more is too large). */
#include "testutil.h"

#include "core/mem.h"
#include "proto/bearer.h"

#include <stdlib.h>
#include <string.h>

static void good_headers(void **state)
{
    (void)state;
    static const char *const good[] = {"Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        const char *t = NULL;
        size_t n = 0;
        assert_int_equal(bearer_parse(good[i], &t, &n, NULL), IDP_OK);
        assert_int_equal(n, 3);
        assert_memory_equal(t, "abc", 3);
    }
    const char *t = NULL;
    size_t n = 0;
    assert_int_equal(bearer_parse("Bearer a-b.c_d~e+f/g==", &t, &n, NULL), IDP_OK);
    assert_int_equal(n, 15);
}

static void failure_kinds(void **state)
{
    (void)state;
    const char *t = NULL;
    size_t n = 0;
    static const char *const absent[] = {
        "", "Basic abc", "Bearerabc", "Bearer\tabc", " Bearer abc", "Token abc"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        if (bearer_parse(absent[i], &t, &n, NULL) != IDP_ERR_NOT_FOUND) fail_msg("absent %zu", i);
    assert_int_equal(bearer_parse(NULL, &t, &n, NULL), IDP_ERR_NOT_FOUND);
    static const char *const malformed[] = {
        "Bearer",       "Bearer ",     "Bearer    ",  "Bearer abc def", "Bearer abc ",
        "Bearer abc\t", "Bearer =abc", "Bearer ab=c", "Bearer a\"b",    "Bearer a,b"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++)
        if (bearer_parse(malformed[i], &t, &n, NULL) != IDP_ERR_INVALID)
            fail_msg("malformed %zu (%s)", i, malformed[i]);
}

static void length_cap(void **state)
{
    (void)state;
    size_t cap = BEARER_MAX_TOKEN;
    char *h = xmalloc(7 + cap + 2);
    memcpy(h, "Bearer ", 7);
    memset(h + 7, 'a', cap + 1);
    h[7 + cap] = '\0';
    const char *t = NULL;
    size_t n = 0;
    assert_int_equal(bearer_parse(h, &t, &n, NULL), IDP_OK); /* exactly the cap */
    assert_int_equal(n, cap);
    h[7 + 1025] = '\0';
    assert_int_equal(bearer_parse(h, &t, &n, NULL), IDP_OK); /* > 1,024: the old pkey cap */
    h[7 + 1025] = 'a';
    h[7 + cap] = 'a';
    h[7 + cap + 1] = '\0';
    assert_int_equal(bearer_parse(h, &t, &n, NULL), IDP_ERR_TOO_LARGE);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_headers),
        cmocka_unit_test(failure_kinds),
        cmocka_unit_test(length_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
