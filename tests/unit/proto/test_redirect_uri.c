/* Unit tests for src/proto/redirect_uri.c: exact matching (RFC 9700 §4.1.3), registration rules
 * (RFC 6749 §3.1.2, RFC 8252 §7), building the redirect with form-encoded parameters. */
#include "testutil.h"

#include "proto/redirect_uri.h"

#include <stdlib.h>
#include <string.h>

static void registered_exact_match(void **state)
{
    const char *reg = "https://app.example/cb  http://127.0.0.1:8080/cb com.example.app:/oauth";
    assert_true(redirect_uri_registered("https://app.example/cb", reg));
    assert_true(redirect_uri_registered("http://127.0.0.1:8080/cb", reg));
    assert_true(redirect_uri_registered("com.example.app:/oauth", reg)); /* last item */
    const char *no[] = {
        "https://app.example/cb/",    /* trailing slash */
        "https://app.example/c",      /* prefix */
        "https://app.example/cb?x=1", /* extra query */
        "https://app.example/cb#f",   /* fragment */
        "HTTPS://app.example/cb",     /* no case folding */
        "https://APP.example/cb",
        "https://app.example:443/cb",                      /* no default-port normalisation */
        "https://app.example/%63b",                        /* no percent-decoding */
        "http://127.0.0.1:8081/cb",                        /* loopback port is exact too */
        "https://app.example/cb http://127.0.0.1:8080/cb", /* two at once */
        "https://app.example",
        " https://app.example/cb",
        "",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (redirect_uri_registered(no[i], reg)) fail_msg("matched: '%s'", no[i]);
    assert_false(redirect_uri_registered(NULL, reg));
    assert_false(redirect_uri_registered("https://app.example/cb", NULL));
    assert_false(redirect_uri_registered("https://app.example/cb", ""));
    assert_false(redirect_uri_registered("https://app.example/cb", "   "));
    assert_true(redirect_uri_registered("a.b:c", " a.b:c "));
    /* exact: the port of a loopback URI too (post_logout_redirect_uri) */
    assert_false(redirect_uri_registered("http://127.0.0.1:8081/cb", reg));
}

/* RFC 8252 §7.3: any port for loopback IP redirect URIs at the authorization request. */
static void authz_loopback_any_port(void **state)
{
    const char *reg = "http://127.0.0.1/cb http://[::1]:8000/app?x=1 http://localhost/cb https://app.example/cb";
    const char *yes[] = {
        "http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", "http://127.0.0.1:1/cb",
        "http://127.0.0.1:65535/cb", "http://[::1]/app?x=1", "http://[::1]:8000/app?x=1",
        "http://[::1]:40000/app?x=1", "https://app.example/cb",
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!redirect_uri_authz_allowed(yes[i], reg)) fail_msg("refused: '%s'", yes[i]);
    const char *no[] = {
        "http://127.0.0.1:0/cb",       /* port out of range */
        "http://127.0.0.1:65536/cb",   /* port out of range */
        "http://127.0.0.1:123456/cb",  /* too many digits */
        "http://127.0.0.1:/cb",        /* empty port */
        "http://127.0.0.1:80a/cb",     /* not digits */
        "http://127.0.0.1:5000/cb/",   /* the path must match */
        "http://127.0.0.1:5000/c",     /* no prefix */
        "http://127.0.0.1:5000/cb?x",  /* no extra query */
        "http://127.0.0.10:5000/cb",   /* another host */
        "http://127.0.0.1.evil.example/cb",
        "http://127.0.0.1@evil.example/cb",
        "https://127.0.0.1:5000/cb",   /* another scheme */
        "http://localhost:5000/cb",    /* localhost is not a loopback IP (§8.3): exact only */
        "http://[::1]:8000/app",       /* the query must match */
        "https://app.example:8443/cb", /* any port only for loopback IPs */
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (redirect_uri_authz_allowed(no[i], reg)) fail_msg("allowed: '%s'", no[i]);
    assert_false(redirect_uri_authz_allowed(NULL, reg));
    assert_false(redirect_uri_authz_allowed("http://127.0.0.1/cb", NULL));
}

static void registration_accepts(void **state)
{
    const char *ok[] = {
        "https://app.example/cb",
        "https://app.example",
        "https://app.example:8443/cb?tenant=a&x=%20y",
        "https://[2001:db8::1]/cb",
        "https://192.0.2.1/cb",
        "HTTPS://app.example/cb",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:53123/callback",
        "http://[::1]:8080/cb",
        "http://localhost:3000/cb",
        "http://LOCALHOST/cb",
        "com.example.app:/oauth2redirect/example-provider",
        "com.example.app:callback",
        "https://app.example/p;a=b/(x)!$*+,'~",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        idp_error e = {0};
        if (redirect_uri_check_registration(ok[i], &e) != IDP_OK)
            fail_msg("rejected '%s': %s", ok[i], e.msg);
    }
}

static void registration_rejects(void **state)
{
    static const struct {
        const char *uri, *why;
    } bad[] = {
        {"", "empty"},
        {"https://app.example/cb#frag", "fragment"},
        {"https://app.example/cb#", "fragment"},
        {"/cb", "absolute"},
        {"app.example/cb", "absolute"},
        {"1https://x/", "absolute"},
        {"http://app.example/cb", "loopback"},
        {"http://127.0.0.2/cb", "loopback"},
        {"http://127.0.0.1.evil.example/cb", "loopback"},
        {"http://localhost.evil.example/cb", "loopback"},
        {"http://[::2]/cb", "loopback"},
        {"javascript:alert(1)", "private-use"},
        {"data:text/html,x", "private-use"},
        {"file:///etc/passwd", "private-use"},
        {"myapp:/cb", "private-use"},
        {"com.example.app:", "path"},
        {"https://user@app.example/cb", "userinfo"},
        {"https://user:pw@app.example/cb", "userinfo"},
        {"http://127.0.0.1@evil.example/cb", "userinfo"},
        {"https:app.example/cb", "authority"},
        {"https:/app.example/cb", "authority"},
        {"https:///cb", "empty host"},
        {"https://:443/cb", "empty host"},
        {"https://[]/cb", "empty host"},
        {"https://[::1/cb", "unterminated"},
        {"https://[fe80::1%25eth0]/cb", "IP literal"},
        {"https://app.example:0/cb", "port"},
        {"https://app.example:65536/cb", "port"},
        {"https://app.example:/cb", "port"},
        {"https://app.example:80a/cb", "port"},
        {"https://app.example:123456/cb", "port"},
        {"https://app.ex%61mple/cb", "host"},
        {"https://app.example/c b", "whitespace"},
        {"https://app.example/cb\t", "whitespace"},
        {"https://app.example/cb\n", "whitespace"},
        {"https://app.example/\x7f", "whitespace"},
        {"https://app.example/caf\xc3\xa9", "non-ASCII"},
        {"https://app.example/<script>", "not allowed"},
        {"https://app.example/\"", "not allowed"},
        {"https://app.example/a\\b", "not allowed"},
        {"https://app.example/a{b}", "not allowed"},
        {"https://app.example/%zz", "percent"},
        {"https://app.example/%2", "percent"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        idp_error e = {0};
        if (redirect_uri_check_registration(bad[i].uri, &e) != IDP_ERR_INVALID)
            fail_msg("accepted: '%s'", bad[i].uri);
        if (!strstr(e.msg, bad[i].why))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].uri, e.msg, bad[i].why);
    }
    idp_error e = {0};
    assert_int_equal(redirect_uri_check_registration(NULL, &e), IDP_ERR_INVALID);
    /* length cap: 2048 accepted, 2049 refused */
    char *u = malloc(REDIRECT_URI_MAX_LEN + 2);
    memcpy(u, "https://a.example/", 18);
    memset(u + 18, 'x', REDIRECT_URI_MAX_LEN + 1 - 18);
    u[REDIRECT_URI_MAX_LEN] = '\0';
    assert_int_equal(redirect_uri_check_registration(u, &e), IDP_OK);
    u[REDIRECT_URI_MAX_LEN] = 'x';
    u[REDIRECT_URI_MAX_LEN + 1] = '\0';
    assert_int_equal(redirect_uri_check_registration(u, &e), IDP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "longer than 2048"));
    free(u);
}

static void build_appends_query(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    const char *kv[] = {"code", "abc", "state", "x y&z=1/?#\xc3\xa9~*", "iss", NULL, "scope", ""};
    assert_int_equal(redirect_uri_build(&b, "https://app.example/cb", kv, 4, &e), IDP_OK);
    assert_string_equal(
        buf_cstr(&b),
        "https://app.example/cb?code=abc&state=x+y%26z%3D1%2F%3F%23%C3%A9%7E*&scope=");
    /* RFC 6749 §3.1.2: an existing query is retained */
    buf_reset(&b);
    assert_int_equal(redirect_uri_build(&b, "https://app.example/cb?tenant=a", kv, 1, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "https://app.example/cb?tenant=a&code=abc");
    buf_reset(&b);
    assert_int_equal(redirect_uri_build(&b, "https://app.example/cb?", kv, 1, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "https://app.example/cb?code=abc");
    buf_reset(&b);
    assert_int_equal(redirect_uri_build(&b, "https://app.example/cb?a=1&", kv, 1, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "https://app.example/cb?a=1&code=abc");
    /* only NULL values: no separator at all */
    buf_reset(&b);
    const char *none[] = {"iss", NULL};
    assert_int_equal(redirect_uri_build(&b, "https://app.example/cb", none, 1, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "https://app.example/cb");
    /* appends after existing content */
    buf_reset(&b);
    buf_puts(&b, "Location: ");
    assert_int_equal(redirect_uri_build(&b, "com.example.app:/cb", kv, 1, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "Location: com.example.app:/cb?code=abc");
    buf_free(&b);
}

static void build_rejects(void **state)
{
    idp_buf b;
    buf_init(&b, 40);
    idp_error e = {0};
    const char *kv[] = {"code", "abc"};
    assert_int_equal(redirect_uri_build(&b, NULL, kv, 1, &e), IDP_ERR_INVALID);
    assert_int_equal(redirect_uri_build(&b, "https://a.example/cb#x", kv, 1, &e), IDP_ERR_INVALID);
    const char *noname[] = {NULL, "v"}, *empty[] = {"", "v"};
    assert_int_equal(redirect_uri_build(&b, "https://a.example/cb", noname, 1, &e),
                     IDP_ERR_INVALID);
    assert_int_equal(redirect_uri_build(&b, "https://a.example/cb", empty, 1, &e), IDP_ERR_INVALID);
    assert_int_equal(b.len, 0);
    /* cap: out is left as it was */
    buf_puts(&b, "keep");
    const char *big[] = {"code", "0123456789012345678901234567890123456789"};
    assert_int_equal(redirect_uri_build(&b, "https://a.example/cb", big, 1, &e), IDP_ERR_TOO_LARGE);
    assert_string_equal(buf_cstr(&b), "keep");
    buf_free(&b);
}

static void form_encode(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(redirect_uri_form_encode(&b, "AZaz09*-._ ~!'()+%&=\x01\xff"), 0);
    assert_string_equal(buf_cstr(&b), "AZaz09*-._+%7E%21%27%28%29%2B%25%26%3D%01%FF");
    buf_reset(&b);
    assert_int_equal(redirect_uri_form_encode(&b, NULL), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    buf_init(&b, 5);
    buf_puts(&b, "ab");
    assert_int_equal(redirect_uri_form_encode(&b, "\x01"), 0); /* "ab%01" = 5 */
    assert_int_equal(redirect_uri_form_encode(&b, "c"), -1);
    assert_string_equal(buf_cstr(&b), "ab%01");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registered_exact_match),
        cmocka_unit_test(authz_loopback_any_port), cmocka_unit_test(registration_accepts),
        cmocka_unit_test(registration_rejects),   cmocka_unit_test(build_appends_query),
        cmocka_unit_test(build_rejects),          cmocka_unit_test(form_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
