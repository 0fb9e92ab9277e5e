/* Unit tests for forward_auth_header_value (src/handle/forward_auth.c): the X-Auth-* header
 * values /forward-auth derives from token claims — strings as they are, arrays joined by ',',
 * CR, LF, other controls, non-ASCII bytes, '%' and (in lists) ',' percent-encoded so no claim
 * adds a header or splits a list item, and a value past FA_MAX_VALUE refused, not truncated. */
#include "testutil.h"

#include "core/buf.h"
#include "handle/endpoints.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static char *value(const char *json, bool list, bool *ok)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    idp_buf b;
    buf_init(&b, 0);
    *ok = forward_auth_header_value(v, list, &b);
    json_decref(v);
    return buf_steal(&b);
}

static void check(const char *json, bool list, const char *want)
{
    bool ok = false;
    char *s = value(json, list, &ok);
    assert_true(ok);
    assert_string_equal(s ? s : "", want);
    free(s);
}

static void plain_values(void **state)
{
    (void)state;
    check("\"0b6e2f1c-user\"", false, "0b6e2f1c-user");
    check("\"orders:read orders:write\"", false, "orders:read orders:write");
    check("[\"editor\",\"viewer\"]", true, "editor,viewer");
    check("[]", true, "");
    check("[\"a\",1,null,\"b\"]", true, "a,b"); /* non-strings are skipped */
    check("42", false, "");                     /* not a string: no value */
    check("\"a,b\"", false, "a,b");             /* a single value keeps its commas */
}

static void hostile_values(void **state)
{
    (void)state;
    check("\"admin\\r\\nX-Auth-Roles: root\"", false, "admin%0D%0AX-Auth-Roles: root");
    check("[\"Ops, Admins\",\"x\\u0001y\"]", true, "Ops%2C Admins,x%01y");
    check("\"50%\"", false, "50%25");
    check("\"caf\\u00e9\\u007f\\t\"", false, "caf%C3%A9%7F%09");
}

static void too_long_is_refused(void **state)
{
    (void)state;
    size_t n = FA_MAX_VALUE + 1;
    char *big = malloc(n + 3);
    big[0] = '"';
    memset(big + 1, 'a', n);
    strcpy(big + 1 + n, "\"");
    bool ok = true;
    char *s = value(big, false, &ok);
    assert_false(ok);
    free(s);
    big[n] = '"'; /* exactly FA_MAX_VALUE bytes */
    big[n + 1] = '\0';
    s = value(big, false, &ok);
    assert_true(ok);
    assert_int_equal(strlen(s), FA_MAX_VALUE);
    free(s);
    /* encoding counts: FA_MAX_VALUE / 3 + 1 newlines need more than FA_MAX_VALUE bytes */
    idp_buf j;
    buf_init(&j, 0);
    buf_putc(&j, '"');
    for (size_t i = 0; i < FA_MAX_VALUE / 3 + 1; i++)
        buf_puts(&j, "\\n");
    buf_putc(&j, '"');
    s = value(buf_cstr(&j), false, &ok);
    assert_false(ok);
    free(s);
    buf_free(&j);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_values),
        cmocka_unit_test(hostile_values),
        cmocka_unit_test(too_long_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
