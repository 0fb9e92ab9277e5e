/* Unit tests for src/core: b64url, jsonx, buf, timeutil, err, snap. */
#include "testutil.h"

#include "core/b64url.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jsonx.h"
#include "core/snap.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

static void b64url_roundtrip(void **state)
{
    unsigned char in[256];
    for (int i = 0; i < 256; i++) in[i] = (unsigned char)i;
    for (size_t n = 0; n <= sizeof in; n++) {
        char *e = b64url_encode(in, n);
        assert_int_equal(strlen(e), b64url_encoded_len(n));
        assert_null(strpbrk(e, "+/="));
        unsigned char *d = NULL;
        size_t dl = 0;
        assert_int_equal(b64url_decode(e, strlen(e), &d, &dl), IDP_OK);
        assert_int_equal(dl, n);
        assert_memory_equal(d, in, n);
        free(d);
        free(e);
    }
}

static void b64url_rfc4648_vectors(void **state)
{
    /* RFC 4648 §10, in the URL-safe alphabet without padding. */
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = b64url_encode(plain[i], strlen(plain[i]));
        assert_string_equal(e, enc[i]);
        free(e);
    }
    /* 0xfb 0xff: the two characters that differ from standard base64 */
    char *e = b64url_encode("\xfb\xff", 2);
    assert_string_equal(e, "-_8");
    free(e);
}

static void b64url_rejects(void **state)
{
    const char *bad[] = {
        "Zg==",  /* padding */
        "Zm9v\n", /* whitespace */
        "Zm 9v",
        "Zm+v",  /* standard alphabet */
        "Zm/v",
        "Z",     /* length % 4 == 1 */
        "Zh",    /* non-zero trailing bits: canonical encoding of 'f' is Zg */
        "Zm9",   /* ...of "fo" is Zm8 */
        "Zm\x00v",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        unsigned char *d = NULL;
        size_t dl = 0;
        size_t n = i == 8 ? 4 : strlen(bad[i]);
        assert_int_equal(b64url_decode(bad[i], n, &d, &dl), IDP_ERR_B64);
        assert_null(d);
    }
}

static void jsonx_strict(void **state)
{
    json_t *v = NULL;
    assert_int_equal(jsonx_parse("{\"a\":1}", 7, 0, 0, true, &v, NULL), IDP_OK);
    int64_t n = 0;
    assert_true(jsonx_int(v, "a", &n));
    assert_int_equal(n, 1);
    json_decref(v);

    idp_error e = {0};
    assert_int_equal(jsonx_parse("{\"a\":1,\"a\":2}", 13, 0, 0, true, &v, &e), IDP_ERR_JSON);
    assert_non_null(strstr(e.msg, "duplicate"));
    assert_int_equal(jsonx_parse("[1]", 3, 0, 0, true, &v, NULL), IDP_ERR_JSON);
    assert_int_equal(jsonx_parse("{\"a\":1} x", 9, 0, 0, true, &v, NULL), IDP_ERR_JSON);
    assert_int_equal(jsonx_parse("{\"a\":\"\\u0000\"}", 14, 0, 0, true, &v, NULL), IDP_ERR_JSON);
    assert_int_equal(jsonx_parse("{\"a\":\"\xff\"}", 9, 0, 0, true, &v, NULL), IDP_ERR_JSON);
    assert_int_equal(jsonx_parse("{\"a\":1}", 7, 6, 0, true, &v, NULL), IDP_ERR_TOO_LARGE);

    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_equal(jsonx_parse(deep, 200, 0, 0, false, &v, NULL), IDP_ERR_JSON);
    assert_int_equal(jsonx_parse(deep + 90, 20, 0, 0, false, &v, NULL), IDP_OK);
    json_decref(v);
    /* brackets inside strings do not count */
    const char *s = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
    assert_int_equal(jsonx_parse(s, strlen(s), 0, 0, true, &v, NULL), IDP_OK);
    json_decref(v);
}

static void buf_cap(void **state)
{
    idp_buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "12345678"), 0);
    assert_int_equal(buf_putc(&b, '9'), -1);
    assert_string_equal(buf_cstr(&b), "12345678");
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(buf_cstr(&b), "42-x");
    assert_int_equal(buf_printf(&b, "%s", "too long!"), -1);
    buf_free(&b);
}

static void durations(void **state)
{
    int64_t s = 0;
    assert_int_equal(time_parse_duration("90", &s), IDP_OK);
    assert_int_equal(s, 90);
    assert_int_equal(time_parse_duration("15m", &s), IDP_OK);
    assert_int_equal(s, 900);
    assert_int_equal(time_parse_duration("30d", &s), IDP_OK);
    assert_int_equal(s, 30 * 86400);
    assert_int_equal(time_parse_duration("2w", &s), IDP_OK);
    assert_int_equal(s, 14 * 86400);
    const char *bad[] = {"", "-1", "0", "1x", "1mm", "m", " 1", "99999999999999999999", "1000000w"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(time_parse_duration(bad[i], &s), IDP_ERR_INVALID);
    char out[21];
    time_format_rfc3339(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
}

static void err_table(void **state)
{
    assert_int_equal(idp_err_http_status(IDP_ERR_OAUTH_INVALID_CLIENT), 401);
    assert_string_equal(idp_err_oauth(IDP_ERR_OAUTH_INVALID_SCOPE), "invalid_scope");
    assert_string_equal(idp_err_oauth(IDP_ERR_STORE), "server_error");
    assert_int_equal(idp_err_http_status(IDP_ERR_STORE), 500);
    assert_string_equal(idp_err_scim_type(IDP_ERR_CONFLICT), "uniqueness");
    assert_string_not_equal(idp_err_name(IDP_ERR_JOSE_SIGNATURE), idp_err_name(IDP_ERR_CRYPTO));
    for (int c = 0; c < IDP__ERR_COUNT; c++) assert_string_not_equal(idp_err_name((idp_err)c), "unknown");
    /* front-channel errors (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6) */
    assert_string_equal(idp_err_oauth(IDP_ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE),
                        "unsupported_response_type");
    assert_string_equal(idp_err_oauth(IDP_ERR_OAUTH_ACCESS_DENIED), "access_denied");
    assert_string_equal(idp_err_oauth(IDP_ERR_OIDC_LOGIN_REQUIRED), "login_required");
    assert_string_equal(idp_err_oauth(IDP_ERR_OIDC_CONSENT_REQUIRED), "consent_required");
    assert_string_equal(idp_err_oauth(IDP_ERR_OIDC_REQUEST_NOT_SUPPORTED), "request_not_supported");
    assert_string_equal(idp_err_oauth(IDP_ERR_OIDC_REQUEST_URI_NOT_SUPPORTED),
                        "request_uri_not_supported");
    /* RFC 6750 §3.1 bearer challenges */
    assert_string_equal(idp_err_bearer(IDP_ERR_OAUTH_INVALID_REQUEST), "invalid_request");
    assert_int_equal(idp_err_http_status(IDP_ERR_OAUTH_INVALID_REQUEST), 400);
    assert_string_equal(idp_err_bearer(IDP_ERR_UNAUTHORIZED), "invalid_token");
    assert_int_equal(idp_err_http_status(IDP_ERR_UNAUTHORIZED), 401);
    assert_string_equal(idp_err_bearer(IDP_ERR_FORBIDDEN), "insufficient_scope");
    assert_int_equal(idp_err_http_status(IDP_ERR_FORBIDDEN), 403);
    assert_null(idp_err_bearer(IDP_ERR_BEARER_MISSING));
    assert_int_equal(idp_err_http_status(IDP_ERR_BEARER_MISSING), 401);
    assert_string_equal(idp_err_oauth(IDP_ERR_BEARER_MISSING), "invalid_request");
    assert_null(idp_err_bearer(IDP_ERR_STORE));
    assert_null(idp_err_bearer(IDP__ERR_COUNT));
    /* admin API, login throttling, readiness */
    assert_int_equal(idp_err_http_status(IDP_ERR_POLICY_INVALID), 400);
    assert_string_equal(idp_err_oauth(IDP_ERR_POLICY_INVALID), "invalid_policy");
    assert_int_equal(idp_err_http_status(IDP_ERR_RATE_LIMITED), 429);
    assert_int_equal(idp_err_http_status(IDP_ERR_UNAVAILABLE), 503);
    idp_error e = {0};
    assert_int_equal(IDP_FAIL(&e, IDP_ERR_INVALID, "bad %s", "thing"), IDP_ERR_INVALID);
    assert_string_equal(e.msg, "bad thing");
    assert_int_equal(e.code, IDP_ERR_INVALID);
    assert_non_null(e.func);
}

typedef struct {
    snap_obj base;
    int *destroyed;
} tsnap;

static void tsnap_destroy(snap_obj *o)
{
    tsnap *t = (tsnap *)o;
    (*t->destroyed)++;
    free(t);
}

static void snap_lifecycle(void **state)
{
    int destroyed = 0;
    snap_slot slot;
    snap_slot_init(&slot);
    assert_null(snap_acquire(&slot));
    tsnap *a = calloc(1, sizeof *a);
    a->destroyed = &destroyed;
    snap_obj_init(&a->base, tsnap_destroy);
    snap_publish(&slot, &a->base);
    snap_obj *r = snap_acquire(&slot);
    assert_ptr_equal(r, &a->base);
    tsnap *b = calloc(1, sizeof *b);
    b->destroyed = &destroyed;
    snap_obj_init(&b->base, tsnap_destroy);
    snap_publish(&slot, &b->base);
    snap_reap(&slot); /* within the grace period: a is kept */
    assert_int_equal(destroyed, 0);
    snap_release(r);
    assert_int_equal(destroyed, 0); /* the slot's retired reference still holds a */
    snap_slot_destroy(&slot);
    assert_int_equal(destroyed, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b64url_roundtrip), cmocka_unit_test(b64url_rfc4648_vectors),
        cmocka_unit_test(b64url_rejects),   cmocka_unit_test(jsonx_strict),
        cmocka_unit_test(buf_cap),          cmocka_unit_test(durations),
        cmocka_unit_test(err_table),        cmocka_unit_test(snap_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
