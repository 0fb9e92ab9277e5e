/* Unit tests for src/ui: HTML escaping of every caller-supplied field, the accessibility
 * scaffolding (lang, labels, autocomplete, autofocus, role="alert" + aria-describedby), the
 * hidden csrf/request fields, consent lines, logout fields, well-formed nesting, caps. */
#include "testutil.h"

#include "ui/ui.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define INJ "<script>\"'&"
#define INJ_ESC "&lt;script&gt;&quot;&#39;&amp;"

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void has(const char *html, const char *needle)
{
    if (!strstr(html, needle)) fail_msg("missing: %s\n---\n%s", needle, html);
}

static void lacks(const char *html, const char *needle)
{
    if (strstr(html, needle)) fail_msg("unexpected: %s\n---\n%s", needle, html);
}

/* Elements nest properly (void elements aside), the document is complete, and nothing inline
 * (style/script) or unescaped slipped in. Attribute values never contain '<' or '>' since they
 * are escaped, so a scan for tags is exact here. */
static void well_formed(const char *html)
{
    static const char *const voids[] = {"meta", "link", "input", "br", "!DOCTYPE"};
    char stack[32][16];
    size_t depth = 0;
    assert_true(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0);
    for (const char *p = strchr(html, '<'); p; p = strchr(p + 1, '<')) {
        bool close = p[1] == '/';
        const char *n = p + 1 + close;
        size_t len = strcspn(n, " >");
        assert_true(len > 0 && len < 16);
        bool v = false;
        for (size_t i = 0; i < sizeof voids / sizeof voids[0]; i++)
            v |= strlen(voids[i]) == len && strncmp(n, voids[i], len) == 0;
        if (v) continue;
        if (!close) {
            assert_true(depth < 32);
            memcpy(stack[depth], n, len);
            stack[depth++][len] = '\0';
        } else {
            if (depth == 0 || strlen(stack[depth - 1]) != len ||
                strncmp(stack[depth - 1], n, len) != 0)
                fail_msg("mismatched </%.*s>\n%s", (int)len, n, html);
            depth--;
        }
    }
    assert_int_equal(depth, 0);
    lacks(html, "<script");
    lacks(html, "<style");
    lacks(html, "style=");
    lacks(html, "onclick");
    has(html, "<meta charset=\"utf-8\">");
    has(html, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    has(html, "<meta name=\"referrer\" content=\"no-referrer\">");
    has(html, "<link rel=\"stylesheet\" href=\"/assets/idpd.css\">");
    assert_int_equal(count(html, "<h1>"), 1);
    assert_int_equal(count(html, "<main>"), 1);
}

static void escape(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(ui_escape(&b, "a" INJ "b"), 0);
    assert_string_equal(buf_cstr(&b), "a" INJ_ESC "b");
    assert_int_equal(ui_escape(&b, NULL), 0);
    assert_int_equal(ui_escape(&b, ""), 0);
    buf_reset(&b);
    assert_int_equal(ui_escape(&b, "plain caf\xc3\xa9"), 0);
    assert_string_equal(buf_cstr(&b), "plain caf\xc3\xa9");
    buf_free(&b);
    /* cap: rolled back */
    buf_init(&b, 8);
    buf_puts(&b, "ab");
    assert_int_equal(ui_escape(&b, "x<y"), 0); /* "abx&lt;y" = 8 */
    assert_int_equal(ui_escape(&b, "&"), -1);
    assert_string_equal(buf_cstr(&b), "abx&lt;y");
    buf_free(&b);
}

static void login_page(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    ui_login l = {.action = "/login", .csrf = "CSRF123", .request_id = "REQ456"};
    assert_int_equal(ui_render_login(&b, &l, &e), IDP_OK);
    const char *h = buf_cstr(&b);
    well_formed(h);
    has(h, "<title>Sign in</title>");
    has(h, "<form method=\"post\" action=\"/login\">");
    has(h, "<input type=\"hidden\" name=\"csrf\" value=\"CSRF123\">");
    has(h, "<input type=\"hidden\" name=\"request\" value=\"REQ456\">");
    has(h, "<label for=\"username\">");
    has(h, "<label for=\"password\">");
    has(h, "id=\"username\" name=\"username\" autocomplete=\"username\"");
    has(h, "id=\"password\" name=\"password\" autocomplete=\"current-password\"");
    has(h, "type=\"password\"");
    assert_int_equal(count(h, "autofocus"), 1);
    assert_true(strstr(h, "autofocus") < strstr(h, "id=\"password\"")); /* on the first field */
    assert_true(strstr(h, "id=\"username\"") < strstr(h, "id=\"password\"")); /* focus order */
    assert_true(strstr(h, "id=\"password\"") <
                strstr(h, "<button type=\"submit\">Sign in</button>"));
    lacks(h, "role=\"alert\"");
    lacks(h, "aria-describedby");
    lacks(h, "aria-invalid");
    lacks(h, "value=\"\""); /* no empty prefill */
    lacks(h, "continue to");
    lacks(h, "class=\"upstream\""); /* no upstream identity provider: no buttons */
    buf_free(&b);
}

/* Upstream sign-in buttons: one GET form each, after the password form, carrying csrf and
 * request, labels escaped. */
static void login_upstream_buttons(void **state)
{
    (void)state;
    idp_buf b;
    buf_init(&b, 0);
    ui_upstream up[] = {{.label = "Partner SSO", .action = "/federation/partner/start"},
                        {.label = "A&B <SSO>", .action = "/federation/ab/start"}};
    ui_login l = {.action = "/login", .csrf = "CSRF123", .request_id = "REQ456", .upstream = up,
                  .nupstream = 2};
    assert_int_equal(ui_render_login(&b, &l, NULL), IDP_OK);
    const char *h = buf_cstr(&b);
    well_formed(h);
    has(h, "<form method=\"get\" action=\"/federation/partner/start\">");
    has(h, "<form method=\"get\" action=\"/federation/ab/start\">");
    has(h, ">Partner SSO</button>");
    has(h, ">A&amp;B &lt;SSO&gt;</button>");
    assert_int_equal(count(h, "name=\"request\" value=\"REQ456\""), 3);
    assert_int_equal(count(h, "name=\"csrf\" value=\"CSRF123\""), 3);
    assert_true(strstr(h, "action=\"/login\"") < strstr(h, "/federation/partner/start"));
    buf_reset(&b);
    up[1].label = NULL;
    assert_int_equal(ui_render_login(&b, &l, NULL), IDP_ERR_INVALID);
    buf_free(&b);
}

static void login_error_and_escaping(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    ui_login l = {.action = "/a" INJ,
                  .csrf = "c" INJ,
                  .request_id = "r" INJ,
                  .login_hint = "h" INJ,
                  .error = "e" INJ,
                  .client_name = "n" INJ};
    assert_int_equal(ui_render_login(&b, &l, &e), IDP_OK);
    const char *h = buf_cstr(&b);
    well_formed(h);
    lacks(h, INJ);
    has(h, "action=\"/a" INJ_ESC "\"");
    has(h, "name=\"csrf\" value=\"c" INJ_ESC "\"");
    has(h, "name=\"request\" value=\"r" INJ_ESC "\"");
    has(h, " value=\"h" INJ_ESC "\"");
    has(h, "<p class=\"alert\" id=\"login-error\" role=\"alert\">e" INJ_ESC "</p>");
    has(h, "to continue to <strong>n" INJ_ESC "</strong>");
    /* the error describes both fields */
    assert_int_equal(count(h, "aria-describedby=\"login-error\""), 2);
    assert_int_equal(count(h, "aria-invalid=\"true\""), 2);
    /* the alert comes before the form in reading order */
    assert_true(strstr(h, "role=\"alert\"") < strstr(h, "<form"));
    buf_free(&b);
}

static void consent_page(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    const char *lines[] = {"Confirm your identity", "Your email address", ("Access to api" INJ)};
    ui_consent c = {.action = "/consent",
                    .csrf = "C1",
                    .request_id = "R1",
                    .client_name = "App" INJ,
                    .user_name = "alice" INJ,
                    .scope_words = lines,
                    .nscopes = 3};
    assert_int_equal(ui_render_consent(&b, &c, &e), IDP_OK);
    const char *h = buf_cstr(&b);
    well_formed(h);
    lacks(h, INJ);
    has(h, "<li>Confirm your identity</li>");
    has(h, "<li>Your email address</li>");
    has(h, "<li>Access to api" INJ_ESC "</li>");
    assert_int_equal(count(h, "<li>"), 3);
    has(h, "<strong>App" INJ_ESC "</strong>");
    has(h, "alice" INJ_ESC);
    has(h, "<input type=\"hidden\" name=\"csrf\" value=\"C1\">");
    has(h, "<input type=\"hidden\" name=\"request\" value=\"R1\">");
    has(h, "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>");
    has(h, "name=\"decision\" value=\"deny\"");
    /* no scopes: no empty list */
    buf_reset(&b);
    c.nscopes = 0;
    c.scope_words = NULL;
    c.user_name = NULL;
    assert_int_equal(ui_render_consent(&b, &c, &e), IDP_OK);
    well_formed(buf_cstr(&b));
    lacks(buf_cstr(&b), "<ul");
    lacks(buf_cstr(&b), "Signed in as");
    /* a missing line */
    buf_reset(&b);
    const char *holes[] = {"a", NULL};
    c.scope_words = holes;
    c.nscopes = 2;
    assert_int_equal(ui_render_consent(&b, &c, &e), IDP_ERR_INVALID);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void error_page(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    assert_int_equal(ui_render_error(&b, "Bad" INJ, "Msg" INJ, &e), IDP_OK);
    const char *h = buf_cstr(&b);
    well_formed(h);
    lacks(h, INJ);
    has(h, "<title>Bad" INJ_ESC "</title>");
    has(h, "<h1>Bad" INJ_ESC "</h1>");
    has(h, "<p class=\"alert\" role=\"alert\">Msg" INJ_ESC "</p>");
    buf_reset(&b);
    assert_int_equal(ui_render_error(&b, NULL, "m", &e), IDP_ERR_INVALID);
    assert_int_equal(ui_render_error(&b, "t", NULL, &e), IDP_ERR_INVALID);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void logout_pages(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    ui_logout l = {.action = "/logout",
                   .csrf = "C" INJ,
                   .client_name = "App" INJ,
                   .state = "s" INJ,
                   .post_logout_redirect_uri = "https://app.example/bye?x=1&y=2",
                   .id_token_hint = "eyJ.x.y"};
    assert_int_equal(ui_render_logout(&b, &l, &e), IDP_OK);
    const char *h = buf_cstr(&b);
    well_formed(h);
    lacks(h, INJ);
    has(h, "<h1>Sign out?</h1>");
    has(h, "<form method=\"post\" action=\"/logout\">");
    has(h, "name=\"csrf\" value=\"C" INJ_ESC "\"");
    has(h, "name=\"state\" value=\"s" INJ_ESC "\"");
    has(h, "name=\"post_logout_redirect_uri\" value=\"https://app.example/bye?x=1&amp;y=2\"");
    has(h, "name=\"id_token_hint\" value=\"eyJ.x.y\"");
    has(h, "<strong>App" INJ_ESC "</strong>");
    has(h, "<button type=\"submit\">Sign out</button>");
    buf_reset(&b);
    ui_logout bare = {.action = "/logout", .csrf = "C"};
    assert_int_equal(ui_render_logout(&b, &bare, &e), IDP_OK);
    h = buf_cstr(&b);
    well_formed(h);
    lacks(h, "name=\"state\"");
    lacks(h, "post_logout_redirect_uri");
    lacks(h, "id_token_hint");
    lacks(h, "<strong>");
    buf_reset(&b);
    assert_int_equal(ui_render_logged_out(&b, &e), IDP_OK);
    well_formed(buf_cstr(&b));
    has(buf_cstr(&b), "<title>Signed out</title>");
    buf_free(&b);
}

static void required_fields_and_cap(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    ui_login l = {.action = "/login", .csrf = "c", .request_id = "r"};
    ui_login l1 = l, l2 = l, l3 = l;
    l1.action = NULL, l2.csrf = NULL, l3.request_id = NULL;
    assert_int_equal(ui_render_login(&b, &l1, &e), IDP_ERR_INVALID);
    assert_int_equal(ui_render_login(&b, &l2, &e), IDP_ERR_INVALID);
    assert_int_equal(ui_render_login(&b, &l3, &e), IDP_ERR_INVALID);
    assert_int_equal(ui_render_login(&b, NULL, &e), IDP_ERR_INVALID);
    ui_consent c = {.action = "/c", .csrf = "c", .request_id = "r", .client_name = NULL};
    assert_int_equal(ui_render_consent(&b, &c, &e), IDP_ERR_INVALID);
    ui_logout o = {.action = "/o", .csrf = NULL};
    assert_int_equal(ui_render_logout(&b, &o, &e), IDP_ERR_INVALID);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    /* too small: TOO_LARGE and the buffer is as it was */
    buf_init(&b, 300);
    buf_puts(&b, "prefix");
    assert_int_equal(ui_render_login(&b, &l, &e), IDP_ERR_TOO_LARGE);
    assert_string_equal(buf_cstr(&b), "prefix");
    assert_int_equal(ui_render_logged_out(&b, &e), IDP_ERR_TOO_LARGE);
    assert_string_equal(buf_cstr(&b), "prefix");
    buf_free(&b);
}

static void stylesheet(void **state)
{
    assert_int_equal(ui_css_len, strlen(ui_css));
    assert_true(ui_css_len > 100);
    assert_non_null(strstr(ui_css, ":focus-visible"));
    assert_null(strstr(ui_css, "url(")); /* no external resources */
    assert_null(strstr(ui_css, "@import"));
    /* every '{' closed */
    assert_int_equal(count(ui_css, "{"), count(ui_css, "}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escape),
        cmocka_unit_test(login_page),
        cmocka_unit_test(login_error_and_escaping), cmocka_unit_test(login_upstream_buttons),
        cmocka_unit_test(consent_page),
        cmocka_unit_test(error_page),
        cmocka_unit_test(logout_pages),
        cmocka_unit_test(required_fields_and_cap),
        cmocka_unit_test(stylesheet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
