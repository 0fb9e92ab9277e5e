/* Unit tests for src/http/cookie.c (RFC 6265): reading one cookie from a Cookie header and
 * formatting Set-Cookie values, one negative test per rejection rule. */
#include "testutil.h"

#include "http/cookie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void get_finds(void **state)
{
    char out[64];
    const char *h = "a=1; sid=abc-DEF_123; c=\"quoted\";d=; e = spaced ;\tf=tab";
    assert_true(cookie_get(h, "a", out, sizeof out));
    assert_string_equal(out, "1");
    assert_true(cookie_get(h, "sid", out, sizeof out));
    assert_string_equal(out, "abc-DEF_123");
    assert_true(cookie_get(h, "c", out, sizeof out));
    assert_string_equal(out, "quoted"); /* DQUOTEs removed */
    assert_true(cookie_get(h, "d", out, sizeof out));
    assert_string_equal(out, ""); /* present, empty */
    assert_true(cookie_get(h, "e", out, sizeof out));
    assert_string_equal(out, "spaced");
    assert_true(cookie_get(h, "f", out, sizeof out));
    assert_string_equal(out, "tab");
    /* no space after ';', a pair without '=' skipped, '=' inside the value kept */
    assert_true(cookie_get("flag;x=1;y=a=b", "y", out, sizeof out));
    assert_string_equal(out, "a=b");
    assert_true(cookie_get("x=\"\"", "x", out, sizeof out));
    assert_string_equal(out, "");
}

static void get_first_match_wins(void **state)
{
    char out[16];
    assert_true(cookie_get("sid=first; sid=second", "sid", out, sizeof out));
    assert_string_equal(out, "first");
    /* an invalid first value is not skipped in favour of a later one */
    assert_false(cookie_get("sid=a b; sid=good", "sid", out, sizeof out));
    assert_string_equal(out, "");
}

static void get_misses(void **state)
{
    char out[8] = "junk";
    assert_false(cookie_get("a=1; b=2", "c", out, sizeof out));
    assert_string_equal(out, "");
    assert_false(cookie_get("A=1", "a", out, sizeof out));   /* case-sensitive names */
    assert_false(cookie_get("xa=1", "a", out, sizeof out));  /* no suffix match */
    assert_false(cookie_get("a1=1", "a", out, sizeof out));  /* no prefix match */
    assert_false(cookie_get("b=a=1", "a", out, sizeof out)); /* not in a value */
    assert_false(cookie_get("", "a", out, sizeof out));
    assert_false(cookie_get(NULL, "a", out, sizeof out));
    assert_false(cookie_get("a=1", NULL, out, sizeof out));
    assert_false(cookie_get("a=1", "", out, sizeof out));
    assert_false(cookie_get("a b=1", "a b", out, sizeof out)); /* name not a token */
    assert_false(cookie_get("a=1", "a", out, 0));
}

static void get_rejects_values(void **state)
{
    char out[8];
    const char *bad[] = {
        "a=x\x01y",   "a=x\x7fy", "a=\"x", "a=x\"", "a=\"",
        "a=\"x\"y\"", "a=x\\y",   "a=x,y", "a=x y", "a=caf\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cookie_get(bad[i], "a", out, sizeof out)) fail_msg("accepted: '%s'", bad[i]);
    /* does not fit: 7 bytes fit in out[8], 8 do not */
    assert_true(cookie_get("a=1234567", "a", out, sizeof out));
    assert_string_equal(out, "1234567");
    assert_false(cookie_get("a=12345678", "a", out, sizeof out));
    assert_string_equal(out, "");
    /* header cap */
    char *h = malloc(COOKIE_MAX_HEADER + 2);
    memset(h, 'x', COOKIE_MAX_HEADER + 1);
    memcpy(h, "a=1; b=", 7);
    h[COOKIE_MAX_HEADER] = '\0';
    assert_true(cookie_get(h, "a", out, sizeof out));
    h[COOKIE_MAX_HEADER] = 'x';
    h[COOKIE_MAX_HEADER + 1] = '\0';
    assert_false(cookie_get(h, "a", out, sizeof out));
    free(h);
}

static void format_session_and_persistent(void **state)
{
    char out[256];
    cookie_attrs a = {.name = "idpd_session", .value = "abc", .http_only = true, .secure = true};
    int n = cookie_format(out, sizeof out, &a);
    assert_string_equal(out, "idpd_session=abc; Path=/; HttpOnly; Secure; SameSite=Lax");
    assert_int_equal(n, (int)strlen(out));
    a.max_age = 3600;
    a.path = "/login";
    a.same_site = COOKIE_SAMESITE_STRICT;
    a.http_only = false;
    cookie_format(out, sizeof out, &a);
    assert_string_equal(out,
                        "idpd_session=abc; Path=/login; Max-Age=3600; Secure; SameSite=Strict");
    a.max_age = COOKIE_DELETE;
    a.value = NULL;
    a.path = NULL;
    a.same_site = COOKIE_SAMESITE_NONE;
    cookie_format(out, sizeof out, &a);
    assert_string_equal(out, "idpd_session=; Path=/; Max-Age=0; Secure; SameSite=None");
    cookie_attrs plain = {.name = "x", .value = "1"};
    cookie_format(out, sizeof out, &plain);
    assert_string_equal(out, "x=1; Path=/; SameSite=Lax");
    cookie_attrs host = {.name = "__Host-sid",
                         .value = "v",
                         .secure = true,
                         .http_only = true,
                         .max_age = COOKIE_MAX_AGE_CAP};
    assert_true(cookie_format(out, sizeof out, &host) > 0);
    assert_string_equal(out,
                        "__Host-sid=v; Path=/; Max-Age=34560000; HttpOnly; Secure; SameSite=Lax");
    /* round trip through cookie_get */
    char v[32];
    assert_true(cookie_get("__Host-sid=v", "__Host-sid", v, sizeof v));
    assert_string_equal(v, "v");
}

static void format_rejects(void **state)
{
    char out[128];
    const cookie_attrs ok = {.name = "sid", .value = "v", .secure = true};
    assert_true(cookie_format(out, sizeof out, &ok) > 0);
    cookie_attrs a;
#define REJECT(field_assignment)                                                                   \
    do {                                                                                           \
        a = ok;                                                                                    \
        field_assignment;                                                                          \
        snprintf(out, sizeof out, "junk");                                                         \
        if (cookie_format(out, sizeof out, &a) != -1) fail_msg("accepted: %s", #field_assignment); \
        assert_string_equal(out, "");                                                              \
    } while (0)
    REJECT(a.name = NULL);
    REJECT(a.name = "");
    REJECT(a.name = "s id");
    REJECT(a.name = "s;id");
    REJECT(a.name = "s=id");
    REJECT(a.name = "s\x01id");
    REJECT(a.name = "s(id)");
    REJECT(a.value = "a b");
    REJECT(a.value = "a;b");
    REJECT(a.value = "a,b");
    REJECT(a.value = "a\"b");
    REJECT(a.value = "a\\b");
    REJECT(a.value = "a\nb");
    REJECT(a.value = "caf\xc3\xa9");
    REJECT(a.path = "login");
    REJECT(a.path = "/a;b");
    REJECT(a.path = "/a\nb");
    REJECT(a.path = "");
    REJECT(a.max_age = -2);
    REJECT(a.max_age = COOKIE_MAX_AGE_CAP + 1);
    REJECT(a.same_site = (cookie_samesite)7);
    REJECT((a.same_site = COOKIE_SAMESITE_NONE, a.secure = false));
    REJECT((a.name = "__Secure-sid", a.secure = false));
    REJECT((a.name = "__Host-sid", a.secure = false));
    REJECT((a.name = "__Host-sid", a.path = "/login"));
#undef REJECT
    /* does not fit */
    char small[20];
    assert_int_equal(cookie_format(small, sizeof small, &ok), -1);
    assert_string_equal(small, "");
    assert_int_equal(cookie_format(out, sizeof out, NULL), -1);
    assert_int_equal(cookie_format(out, 0, &ok), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_finds),
        cmocka_unit_test(get_first_match_wins),
        cmocka_unit_test(get_misses),
        cmocka_unit_test(get_rejects_values),
        cmocka_unit_test(format_session_and_persistent),
        cmocka_unit_test(format_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
