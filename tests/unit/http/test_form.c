/* Unit tests for src/http/form.c and src/http/basic.c: every rejection rule. */
#include "testutil.h"

#include "core/buf.h"
#include "http/basic.h"
#include "http/form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a copy of s (form_parse needs a writable buffer with room for the NUL). */
static idp_err parse(const char *s, form *f, char **keep)
{
    size_t n = strlen(s);
    *keep = malloc(n + 1);
    memcpy(*keep, s, n + 1);
    idp_error e = {0};
    idp_err rc = form_parse(f, *keep, n, &e);
    if (rc != IDP_OK) {
        assert_int_equal(e.code, IDP_ERR_OAUTH_INVALID_REQUEST);
        assert_true(e.msg[0] != '\0');
    }
    return rc;
}

static void form_basic_decoding(void **state)
{
    form f;
    char *d;
    assert_int_equal(parse("grant_type=client_credentials&scope=a+b%20c&x=%2B%26%3d", &f, &d), IDP_OK);
    assert_int_equal(f.n, 3);
    assert_string_equal(form_get(&f, "grant_type"), "client_credentials");
    assert_string_equal(form_get(&f, "scope"), "a b c");
    assert_string_equal(form_get(&f, "x"), "+&=");
    assert_int_equal(f.params[2].value_len, 3);
    assert_null(form_get(&f, "missing"));
    free(d);
    /* names are decoded too; UTF-8 passes through */
    assert_int_equal(parse("a%5Fb=%C3%A9", &f, &d), IDP_OK);
    assert_string_equal(form_get(&f, "a_b"), "\xc3\xa9");
    free(d);
    /* '=' inside a value is data */
    assert_int_equal(parse("a=b=c", &f, &d), IDP_OK);
    assert_string_equal(form_get(&f, "a"), "b=c");
    free(d);
}

static void form_empty_values_omitted(void **state)
{
    form f;
    char *d;
    /* RFC 6749 §3.1: a parameter without a value is treated as omitted */
    assert_int_equal(parse("scope=&grant_type=x&flag", &f, &d), IDP_OK);
    assert_int_equal(f.n, 1);
    assert_null(form_get(&f, "scope"));
    assert_null(form_get(&f, "flag"));
    free(d);
    assert_int_equal(form_parse(&f, NULL, 0, NULL), IDP_OK);
    assert_int_equal(f.n, 0);
}

static void form_rejects(void **state)
{
    const char *bad[] = {
        "a=%",       /* truncated escape */
        "a=%4",      /* truncated escape */
        "a=%zz",     /* not hex */
        "a=%4g",
        "a=%00",     /* decoded NUL */
        "a%00=1",    /* NUL in a name */
        "=x",        /* empty name */
        "%=x",       /* bad escape in a name */
        "a=1&&b=2",  /* empty segment */
        "&a=1",      /* leading '&' */
        "a=1&",      /* trailing '&' */
        "&",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        form f;
        char *d;
        if (parse(bad[i], &f, &d) == IDP_OK) fail_msg("accepted: %s", bad[i]);
        assert_int_equal(f.n, 0);
        free(d);
    }
}

static void form_limits(void **state)
{
    form f;
    char *d;
    idp_buf b;
    buf_init(&b, 0);
    for (int i = 0; i < FORM_MAX_PARAMS; i++) buf_printf(&b, "%sp%d=v", i ? "&" : "", i);
    assert_int_equal(parse(buf_cstr(&b), &f, &d), IDP_OK);
    assert_int_equal(f.n, FORM_MAX_PARAMS);
    free(d);
    buf_puts(&b, "&one=more");
    assert_int_not_equal(parse(buf_cstr(&b), &f, &d), IDP_OK);
    free(d);
    /* name length cap, counted after decoding */
    buf_reset(&b);
    for (int i = 0; i < FORM_MAX_NAME; i++) buf_putc(&b, 'n');
    buf_puts(&b, "=v");
    assert_int_equal(parse(buf_cstr(&b), &f, &d), IDP_OK);
    free(d);
    buf_reset(&b);
    for (int i = 0; i <= FORM_MAX_NAME; i++) buf_putc(&b, 'n');
    buf_puts(&b, "=v");
    assert_int_not_equal(parse(buf_cstr(&b), &f, &d), IDP_OK);
    free(d);
    /* value length cap */
    buf_reset(&b);
    buf_puts(&b, "v=");
    for (unsigned i = 0; i <= FORM_MAX_VALUE; i++) buf_putc(&b, 'x');
    assert_int_not_equal(parse(buf_cstr(&b), &f, &d), IDP_OK);
    free(d);
    buf_reset(&b);
    buf_puts(&b, "v=");
    for (unsigned i = 0; i < FORM_MAX_VALUE; i++) buf_puts(&b, i % 2 ? "x" : "%41");
    assert_int_equal(parse(buf_cstr(&b), &f, &d), IDP_OK); /* decoded length is what counts */
    free(d);
    buf_free(&b);
}

static void form_repeats(void **state)
{
    static const char *const rep[] = {"resource", NULL};
    form f;
    char *d;
    idp_error e = {0};
    assert_int_equal(parse("resource=a&scope=x&resource=b", &f, &d), IDP_OK);
    assert_int_equal(form_count(&f, "resource"), 2);
    assert_int_equal(form_check_unique(&f, rep, &e), IDP_OK);
    free(d);
    assert_int_equal(parse("scope=x&grant_type=y&scope=z", &f, &d), IDP_OK);
    assert_int_equal(form_check_unique(&f, rep, &e), IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_int_equal(form_check_unique(&f, NULL, &e), IDP_ERR_OAUTH_INVALID_REQUEST);
    free(d);
    /* an empty repeat is omitted, so it is not a repeat */
    assert_int_equal(parse("scope=x&scope=", &f, &d), IDP_OK);
    assert_int_equal(form_check_unique(&f, rep, &e), IDP_OK);
    free(d);
}

static void form_content_type(void **state)
{
    assert_true(form_content_type_ok("application/x-www-form-urlencoded"));
    assert_true(form_content_type_ok("Application/X-WWW-Form-Urlencoded"));
    assert_true(form_content_type_ok("application/x-www-form-urlencoded; charset=UTF-8"));
    assert_true(form_content_type_ok("application/x-www-form-urlencoded;charset=utf-8"));
    assert_true(form_content_type_ok("application/x-www-form-urlencoded ;charset=utf-8"));
    assert_false(form_content_type_ok(NULL));
    assert_false(form_content_type_ok(""));
    assert_false(form_content_type_ok("application/json"));
    assert_false(form_content_type_ok("multipart/form-data; boundary=x"));
    assert_false(form_content_type_ok("application/x-www-form-urlencodedx"));
    assert_false(form_content_type_ok("application/x-www-form"));
    assert_false(form_content_type_ok("text/plain"));
}

static char *b64(const char *s)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    char *o = malloc(n / 3 * 4 + 8), *p = o;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = u[i] << 16 | (i + 1 < n ? u[i + 1] << 8 : 0) | (i + 2 < n ? u[i + 2] : 0);
        *p++ = al[v >> 18];
        *p++ = al[v >> 12 & 63];
        *p++ = i + 1 < n ? al[v >> 6 & 63] : '=';
        *p++ = i + 2 < n ? al[v & 63] : '=';
    }
    *p = '\0';
    return o;
}

static idp_err basic_of(const char *plain, basic_creds *c)
{
    char *e = b64(plain);
    char hdr[512];
    snprintf(hdr, sizeof hdr, "Basic %s", e);
    free(e);
    idp_error err = {0};
    idp_err rc = basic_parse(hdr, c, &err);
    if (rc != IDP_OK) assert_int_equal(err.code, IDP_ERR_OAUTH_INVALID_CLIENT);
    return rc;
}

static void basic_accepts(void **state)
{
    basic_creds c;
    assert_int_equal(basic_of("client:secret", &c), IDP_OK);
    assert_string_equal(c.id, "client");
    assert_int_equal(c.id_len, 6);
    assert_string_equal(c.secret, "secret");
    assert_int_equal(c.secret_len, 6);
    basic_clear(&c);
    /* RFC 6749 §2.3.1: both halves are form-urlencoded; the first ':' splits */
    assert_int_equal(basic_of("my%3Aclient:p%40ss+word:x%2B", &c), IDP_OK);
    assert_string_equal(c.id, "my:client");
    assert_string_equal(c.secret, "p@ss word:x+");
    basic_clear(&c);
    /* empty secret is syntactically fine (the verifier rejects it) */
    assert_int_equal(basic_of("client:", &c), IDP_OK);
    assert_int_equal(c.secret_len, 0);
    basic_clear(&c);
    /* scheme is case-insensitive (RFC 7235 §2.1) */
    idp_error err;
    assert_int_equal(basic_parse("bASIC Y2xpZW50OnNlY3JldA==", &c, &err), IDP_OK);
    assert_string_equal(c.id, "client");
    basic_clear(&c);
    assert_true(basic_is_basic("Basic x"));
    assert_false(basic_is_basic("Bearer x"));
    assert_false(basic_is_basic("Basicx"));
    assert_false(basic_is_basic(NULL));
}

static void basic_rejects(void **state)
{
    basic_creds c;
    idp_error err;
    const char *bad[] = {
        "Bearer Y2xpZW50OnNlY3JldA==",
        "Basic",
        "Basic ",
        "Basic  Y2xpZW50OnNlY3JldA==",   /* two spaces */
        "Basic Y2xpZW50OnNlY3JldA",     /* padding missing */
        "Basic Y2xpZW50OnNlY3JldA=",    /* wrong padding */
        "Basic Y2xpZW50OnNlY3JldA==\n", /* trailing whitespace */
        "Basic Y2xp ZW50OnNlY3JldA==",  /* inner whitespace */
        "Basic Y2xpZW50OnNlY3JldB==",   /* non-zero trailing bits */
        "Basic Y2xpZW50OnNlY3JldA=A",   /* data after padding */
        "Basic Y2xpZW50-nNlY3JldA==",   /* base64url alphabet */
        "Basic Y2xpZW50_nNlY3JldA==",
        "Basic =Y2xpZW50OnNlY3JldA=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (basic_parse(bad[i], &c, &err) == IDP_OK) fail_msg("accepted: %s", bad[i]);
        assert_int_equal(err.code, IDP_ERR_OAUTH_INVALID_CLIENT);
    }
    assert_int_not_equal(basic_of("nocolon", &c), IDP_OK);     /* RFC 7617 §2 */
    assert_int_not_equal(basic_of(":secret", &c), IDP_OK);     /* empty id */
    assert_int_not_equal(basic_of("cl%zzient:secret", &c), IDP_OK); /* bad escape in id */
    assert_int_not_equal(basic_of("client:se%", &c), IDP_OK);  /* bad escape in secret */
    assert_int_not_equal(basic_of("client:a%00b", &c), IDP_OK); /* NUL in secret */
    /* over-long header */
    char *big = malloc(BASIC_MAX_HEADER + 16);
    memcpy(big, "Basic ", 6);
    memset(big + 6, 'A', BASIC_MAX_HEADER + 4);
    big[BASIC_MAX_HEADER + 10] = '\0';
    assert_int_equal(basic_parse(big, &c, &err), IDP_ERR_OAUTH_INVALID_CLIENT);
    free(big);
}

static void basic_b64_strict(void **state)
{
    unsigned char out[16];
    size_t n;
    assert_int_equal(basic_b64_decode("", 0, out, sizeof out, &n), IDP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(basic_b64_decode("Zg==", 4, out, sizeof out, &n), IDP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(basic_b64_decode("Zm8=", 4, out, sizeof out, &n), IDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(basic_b64_decode("+/+/", 4, out, sizeof out, &n), IDP_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
    assert_int_equal(basic_b64_decode("Zh==", 4, out, sizeof out, &n), IDP_ERR_B64);
    assert_int_equal(basic_b64_decode("Zm9=", 4, out, sizeof out, &n), IDP_ERR_B64);
    assert_int_equal(basic_b64_decode("Zg=", 3, out, sizeof out, &n), IDP_ERR_B64);
    assert_int_equal(basic_b64_decode("Z===", 4, out, sizeof out, &n), IDP_ERR_B64);
    assert_int_equal(basic_b64_decode("Zg==Zg==", 8, out, sizeof out, &n), IDP_ERR_B64);
    assert_int_equal(basic_b64_decode("Zm9vYmFy", 8, out, 5, &n), IDP_ERR_B64); /* capacity */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(form_basic_decoding),
        cmocka_unit_test(form_empty_values_omitted),
        cmocka_unit_test(form_rejects),
        cmocka_unit_test(form_limits),
        cmocka_unit_test(form_repeats),
        cmocka_unit_test(form_content_type),
        cmocka_unit_test(basic_accepts),
        cmocka_unit_test(basic_rejects),
        cmocka_unit_test(basic_b64_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
