/* Unit tests for set_feed_request / set_feed_parse_request (src/verify/set_feed_request.c): the
 * poll request of the revocation feed (RFC 8936 §2.4) — defaults, each member's type and range,
 * our cursor form, ignored members, strict JSON and the size cap, and the round trip of what a
 * receiver writes. */
#include "testutil.h"

#include "verify/set_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static idp_err parse(const char *body, int *m, int64_t *since)
{
    idp_error e = {0};
    idp_err rc = set_feed_parse_request(body, body ? strlen(body) : 0, m, since, &e);
    if (rc) {
        assert_int_equal(e.code, rc);
        assert_true(e.msg[0] != '\0');
    }
    return rc;
}

static void defaults(void **state)
{
    (void)state;
    int m = 0;
    int64_t since = 0;
    assert_int_equal(parse("{}", &m, &since), IDP_OK);
    assert_int_equal(m, SET_FEED_DEFAULT_EVENTS);
    assert_int_equal(since, -1);
}

static void members_read(void **state)
{
    (void)state;
    int m = 0;
    int64_t since = 0;
    assert_int_equal(
        parse("{\"maxEvents\":1,\"returnImmediately\":false,\"since\":\"0\"}", &m, &since), IDP_OK);
    assert_int_equal(m, 1);
    assert_int_equal(since, 0);
    assert_int_equal(parse("{\"maxEvents\":1000,\"since\":\"9223372036854775807\"}", &m, &since),
                     IDP_OK);
    assert_int_equal(m, 1000);
    assert_true(since == INT64_MAX);
    /* ack / setErrs accepted and ignored; unknown members ignored */
    assert_int_equal(parse("{\"ack\":[\"rev-1\",\"rev-2\"],\"setErrs\":{\"rev-3\":{\"err\":\"x\"}},"
                           "\"returnImmediately\":true,\"futureMember\":[1,{\"a\":null}],"
                           "\"since\":\"42\"}",
                           &m, &since),
                     IDP_OK);
    assert_int_equal(m, SET_FEED_DEFAULT_EVENTS);
    assert_int_equal(since, 42);
    assert_int_equal(parse("{\"ack\":[],\"setErrs\":{}}", &m, &since), IDP_OK);
}

static void bad_members_refused(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        idp_err rc;
    } cases[] = {
        {"{\"maxEvents\":0}", IDP_ERR_INVALID},
        {"{\"maxEvents\":-1}", IDP_ERR_INVALID},
        {"{\"maxEvents\":1001}", IDP_ERR_INVALID},
        {"{\"maxEvents\":99999999999999999999}", IDP_ERR_JSON}, /* beyond jansson's integer */
        {"{\"maxEvents\":1.0}", IDP_ERR_INVALID},
        {"{\"maxEvents\":\"10\"}", IDP_ERR_INVALID},
        {"{\"maxEvents\":true}", IDP_ERR_INVALID},
        {"{\"maxEvents\":null}", IDP_ERR_INVALID},
        {"{\"returnImmediately\":1}", IDP_ERR_INVALID},
        {"{\"returnImmediately\":\"true\"}", IDP_ERR_INVALID},
        {"{\"ack\":\"rev-1\"}", IDP_ERR_INVALID},
        {"{\"ack\":[\"rev-1\",2]}", IDP_ERR_INVALID},
        {"{\"setErrs\":[]}", IDP_ERR_INVALID},
        {"{\"since\":5}", IDP_ERR_INVALID},
        {"{\"since\":null}", IDP_ERR_INVALID},
        {"{\"since\":\"\"}", IDP_ERR_INVALID},
        {"{\"since\":\"-1\"}", IDP_ERR_INVALID},
        {"{\"since\":\"+1\"}", IDP_ERR_INVALID},
        {"{\"since\":\"01\"}", IDP_ERR_INVALID},
        {"{\"since\":\"1 \"}", IDP_ERR_INVALID},
        {"{\"since\":\"0x10\"}", IDP_ERR_INVALID},
        {"{\"since\":\"rev-1\"}", IDP_ERR_INVALID},
        {"{\"since\":\"9223372036854775808\"}", IDP_ERR_INVALID}, /* INT64_MAX + 1 */
        {"{\"since\":\"12345678901234567890\"}", IDP_ERR_INVALID},
        {"{\"since\":\"1\\u00002\"}", IDP_ERR_JSON}, /* NUL in a string */
        /* strict JSON */
        {"{\"since\":\"1\",\"since\":\"2\"}", IDP_ERR_JSON},
        {"{\"maxEvents\":5,\"maxEvents\":5}", IDP_ERR_JSON},
        {"[]", IDP_ERR_JSON},
        {"\"since\"", IDP_ERR_JSON},
        {"{", IDP_ERR_JSON},
        {"{} {}", IDP_ERR_JSON},
        {"{\"since\":\"\xff\"}", IDP_ERR_JSON},
        {"", IDP_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int m = 7;
        int64_t since = 7;
        idp_err rc = parse(cases[i].body, &m, &since);
        if (rc != cases[i].rc) fail_msg("case %zu (%s): %d", i, cases[i].body, rc);
        /* on failure the outputs hold the defaults, never a half-read value */
        assert_int_equal(m, SET_FEED_DEFAULT_EVENTS);
        assert_int_equal(since, -1);
    }
    int m = 0;
    int64_t since = 0;
    idp_error e = {0};
    assert_int_equal(set_feed_parse_request(NULL, 0, &m, &since, &e), IDP_ERR_INVALID);
}

static void reasons_do_not_quote_input(void **state)
{
    (void)state;
    int m = 0;
    int64_t since = 0;
    idp_error e = {0};
    const char *b = "{\"since\":\"SECRET-LOOKING-VALUE\"}";
    assert_int_equal(set_feed_parse_request(b, strlen(b), &m, &since, &e), IDP_ERR_INVALID);
    assert_null(strstr(e.msg, "SECRET"));
    assert_non_null(strstr(e.msg, "since"));
}

static void size_capped(void **state)
{
    (void)state;
    /* a body just within the cap parses; one byte more is refused before parsing */
    size_t n = SET_FEED_MAX_REQUEST;
    char *b = malloc(n + 2);
    assert_non_null(b);
    const char *head = "{\"pad\":\"", *tail = "\"}";
    memcpy(b, head, strlen(head));
    memset(b + strlen(head), 'a', n - strlen(head) - strlen(tail));
    memcpy(b + n - strlen(tail), tail, strlen(tail));
    b[n] = '\0';
    int m = 0;
    int64_t since = 0;
    idp_error e = {0};
    assert_int_equal(set_feed_parse_request(b, n, &m, &since, &e), IDP_OK);
    memcpy(b + n - strlen(tail), "a\"}", 4);
    assert_int_equal(set_feed_parse_request(b, n + 1, &m, &since, &e), IDP_ERR_TOO_LARGE);
    free(b);
}

static void request_round_trip(void **state)
{
    (void)state;
    int m = 0;
    int64_t since = 0;
    char *s = set_feed_request("17", 5);
    assert_non_null(s);
    assert_int_equal(parse(s, &m, &since), IDP_OK);
    assert_int_equal(m, 5);
    assert_int_equal(since, 17);
    assert_non_null(strstr(s, "\"returnImmediately\":true"));
    free(s);
    /* no cursor: no since; max_events clamped */
    s = set_feed_request("", 0);
    assert_int_equal(parse(s, &m, &since), IDP_OK);
    assert_int_equal(m, 1);
    assert_int_equal(since, -1);
    assert_null(strstr(s, "since"));
    free(s);
    s = set_feed_request(NULL, 5000);
    assert_int_equal(parse(s, &m, &since), IDP_OK);
    assert_int_equal(m, SET_FEED_MAX_EVENTS);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(members_read),
        cmocka_unit_test(bad_members_refused),
        cmocka_unit_test(reasons_do_not_quote_input),
        cmocka_unit_test(size_capped),
        cmocka_unit_test(request_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
