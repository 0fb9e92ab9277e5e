/* Unit tests for src/http/framing: each RFC 9112 framing rule on its own, NUL detection, and
 * the requests that must stay accepted (HTTP/1.0 without Host, one chunked coding, one length). */
#include "testutil.h"

#include "http/framing.h"

#include <string.h>

static void hdr(framing *f, const char *n, const char *v)
{
    framing_add_header(f, n, strlen(n), v, strlen(v));
}

static void accepted(void **state)
{
    (void)state;
    framing f = {0};
    hdr(&f, "host", "x");
    hdr(&f, "Content-Length", "42");
    assert_null(framing_check(&f, "HTTP/1.1"));
    framing g = {0};
    hdr(&g, "Host", "x");
    hdr(&g, "Transfer-Encoding", " Chunked ");
    assert_null(framing_check(&g, "HTTP/1.1"));
    framing h = {0}; /* HTTP/1.0 needs no Host */
    assert_null(framing_check(&h, "HTTP/1.0"));
    framing q = {0};
    hdr(&q, "Host", "x");
    framing_add_query(&q, "a", 1, "b", 1);
    framing_add_query(&q, "flag", 4, NULL, 0); /* "?flag" has no value */
    assert_null(framing_check(&q, "HTTP/1.1"));
}

static void refused(void **state)
{
    (void)state;
    static const struct {
        const char *h[3][2];
        const char *version;
    } cases[] = {
        {{{"X-A", "1"}}, "HTTP/1.1"},                 /* no Host */
        {{{"Host", "a"}, {"Host", "b"}}, "HTTP/1.0"}, /* two Hosts */
        {{{"Host", "a"}, {"Content-Length", "5"}, {"Content-Length", "40"}}, "HTTP/1.1"},
        {{{"Host", "a"}, {"Content-Length", "5"}, {"Content-Length", "5"}}, "HTTP/1.1"},
        {{{"Host", "a"}, {"Content-Length", "5, 5"}}, "HTTP/1.1"},
        {{{"Host", "a"}, {"Content-Length", "+5"}}, "HTTP/1.1"},
        {{{"Host", "a"}, {"Content-Length", ""}}, "HTTP/1.1"},
        {{{"Host", "a"}, {"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}, "HTTP/1.1"},
        {{{"Host", "a"}, {"Transfer-Encoding", "gzip, chunked"}}, "HTTP/1.1"},
        {{{"Host", "a"}, {"Transfer-Encoding", "chunked, gzip"}}, "HTTP/1.1"},
        {{{"Host", "a"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}},
         "HTTP/1.1"},
        {{{"Host", "a"}, {"Transfer-Encoding", "identity"}}, "HTTP/1.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        framing f = {0};
        for (size_t j = 0; j < 3 && cases[i].h[j][0]; j++)
            hdr(&f, cases[i].h[j][0], cases[i].h[j][1]);
        if (!framing_check(&f, cases[i].version)) fail_msg("case %zu accepted", i);
    }
}

static void nul_bytes(void **state)
{
    (void)state;
    framing f = {0};
    hdr(&f, "Host", "x");
    framing_add_query(&f, "client_id", 9, "ab\0cd", 5);
    assert_non_null(framing_check(&f, "HTTP/1.1"));
    framing g = {0};
    hdr(&g, "Host", "x");
    framing_add_query(&g, "a\0b", 3, "v", 1);
    assert_non_null(framing_check(&g, "HTTP/1.1"));
    framing h = {0};
    hdr(&h, "Host", "x");
    framing_add_header(&h, "X-A", 3, "a\0b", 3);
    assert_non_null(framing_check(&h, "HTTP/1.1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted),
        cmocka_unit_test(refused),
        cmocka_unit_test(nul_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
