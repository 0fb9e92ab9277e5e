/* Unit tests for src/core/netaddr: address and CIDR parsing, set membership, and the client
 * address behind trusted proxies (X-Forwarded-For walked from the right). */
#include "testutil.h"

#include "core/netaddr.h"

#include <string.h>

static const char *client(const char *trusted, const char *peer, const char *const *xff, size_t n)
{
    static char out[NETADDR_STRLEN];
    netaddr_set s;
    assert_int_equal(netaddr_set_parse(trusted, &s, NULL), IDP_OK);
    netaddr_client(&s, peer, xff, n, out);
    return out;
}

static void parse_addresses(void **state)
{
    (void)state;
    netaddr a;
    char t[NETADDR_STRLEN];
    assert_true(netaddr_parse(" 192.0.2.1 ", 11, &a));
    netaddr_format(&a, t);
    assert_string_equal(t, "192.0.2.1");
    assert_true(netaddr_parse("::ffff:192.0.2.1", 16, &a)); /* mapped -> IPv4 */
    netaddr_format(&a, t);
    assert_string_equal(t, "192.0.2.1");
    assert_true(netaddr_parse("2001:DB8:0::1", 13, &a));
    netaddr_format(&a, t);
    assert_string_equal(t, "2001:db8::1");
    const char *bad[] = {"",        " ",         "1.2.3",     "1.2.3.4:80", "[::1]",
                         "unknown", "1.2.3.4.5", "01.2.3.4x", "::1%eth0",   "1.2.3.4/8"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(netaddr_parse(bad[i], strlen(bad[i]), &a));
}

static void sets(void **state)
{
    (void)state;
    netaddr_set s;
    netaddr a;
    assert_int_equal(netaddr_set_parse("127.0.0.1, 10.0.0.0/8 fd00::/8,::1", &s, NULL), IDP_OK);
    assert_int_equal(s.n, 4);
    const char *in[] = {"127.0.0.1", "10.255.1.2", "fd12::7", "::1", "::ffff:10.0.0.1"};
    const char *out[] = {"127.0.0.2", "11.0.0.1", "fe00::1", "::2", "2001:db8::1"};
    for (size_t i = 0; i < 5; i++) {
        assert_true(netaddr_parse(in[i], strlen(in[i]), &a));
        assert_true(netaddr_set_has(&s, &a));
        assert_true(netaddr_parse(out[i], strlen(out[i]), &a));
        assert_false(netaddr_set_has(&s, &a));
    }
    assert_int_equal(netaddr_set_parse("", &s, NULL), IDP_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(netaddr_set_parse("0.0.0.0/0", &s, NULL), IDP_OK);
    assert_true(netaddr_parse("8.8.8.8", 7, &a) && netaddr_set_has(&s, &a));
    const char *bad[] = {"10.0.0.0/33",   "::/129",       "10.0.0.0/",      "10.0.0.0/a",
                         "10.0.0.0/0008", "host.example", "127.0.0.1 junk", "::ffff:10.0.0.0/95"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(netaddr_set_parse(bad[i], &s, NULL), IDP_ERR_INVALID);
    char many[64 * 12 + 16] = "";
    for (int i = 0; i < 65; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "10.0.0.%d ", i);
    assert_int_equal(netaddr_set_parse(many, &s, NULL), IDP_ERR_INVALID);
}

static void forwarded_for(void **state)
{
    (void)state;
    const char *one[] = {"203.0.113.7"};
    /* peer not trusted: the header is ignored */
    assert_string_equal(client("", "127.0.0.1", one, 1), "127.0.0.1");
    assert_string_equal(client("10.0.0.0/8", "127.0.0.1", one, 1), "127.0.0.1");
    /* trusted peer: the right-most untrusted element */
    assert_string_equal(client("127.0.0.1", "127.0.0.1", one, 1), "203.0.113.7");
    const char *chain[] = {"198.51.100.9, 203.0.113.7, 10.0.0.5"};
    assert_string_equal(client("127.0.0.1 10.0.0.0/8", "127.0.0.1", chain, 1), "203.0.113.7");
    /* a spoofed left part cannot win: the right-most untrusted address is the client */
    const char *spoof[] = {"127.0.0.1, 203.0.113.7"};
    assert_string_equal(client("127.0.0.1", "127.0.0.1", spoof, 1), "203.0.113.7");
    /* several headers are one list, in order; the last one is the proxy's */
    const char *two[] = {"192.0.2.66", "203.0.113.8"};
    assert_string_equal(client("127.0.0.1", "127.0.0.1", two, 2), "203.0.113.8");
    /* garbage stops the walk at the last trusted hop */
    const char *junk[] = {"203.0.113.7, unknown"};
    assert_string_equal(client("127.0.0.1", "127.0.0.1", junk, 1), "127.0.0.1");
    const char *junk2[] = {"not-an-ip, 10.1.1.1"};
    assert_string_equal(client("127.0.0.1 10.0.0.0/8", "127.0.0.1", junk2, 1), "10.1.1.1");
    /* all trusted: the left-most trusted hop; empty elements are skipped */
    const char *alltr[] = {" , 10.0.0.1,,10.0.0.2 ,"};
    assert_string_equal(client("127.0.0.1 10.0.0.0/8", "127.0.0.1", alltr, 1), "10.0.0.1");
    assert_string_equal(client("127.0.0.1", "127.0.0.1", NULL, 0), "127.0.0.1");
    /* IPv6 and mapped forms come out canonical */
    const char *v6[] = {"2001:DB8::0:1"};
    assert_string_equal(client("::1", "::1", v6, 1), "2001:db8::1");
    const char *mapped[] = {"::ffff:203.0.113.9"};
    assert_string_equal(client("127.0.0.1", "::ffff:127.0.0.1", mapped, 1), "203.0.113.9");
    assert_string_equal(client("127.0.0.1", "", one, 1), "");
    /* hop bound: a list of trusted addresses longer than NETADDR_XFF_HOPS ends the walk */
    char longl[NETADDR_XFF_HOPS * 12 + 32] = "203.0.113.1";
    for (int i = 0; i < NETADDR_XFF_HOPS + 2; i++)
        snprintf(longl + strlen(longl), sizeof longl - strlen(longl), ",10.0.0.%d", i);
    const char *lp[] = {longl};
    assert_string_not_equal(client("127.0.0.1 10.0.0.0/8", "127.0.0.1", lp, 1), "203.0.113.1");
}

static void throttle_unit(void **state)
{
    (void)state;
    netaddr a;
    char t[NETADDR_STRLEN + 4];
    assert_true(netaddr_parse("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 32, &a));
    netaddr_throttle_unit(&a, t);
    assert_string_equal(t, "2001:db8:1:2::/64");
    assert_true(netaddr_parse("192.0.2.77", 10, &a));
    netaddr_throttle_unit(&a, t);
    assert_string_equal(t, "192.0.2.77");
    assert_true(netaddr_parse("::ffff:192.0.2.77", 17, &a));
    netaddr_throttle_unit(&a, t);
    assert_string_equal(t, "192.0.2.77");
}

static bool lb(const char *h)
{
    return netaddr_host_loopback(h, strlen(h));
}

/* The host of a URL naming this machine (federation's allow_http_loopback). */
static void host_loopback(void **state)
{
    (void)state;
    assert_true(lb("localhost"));
    assert_true(lb("127.0.0.1"));
    assert_true(lb("127.255.3.4"));
    assert_true(lb("[::1]"));
    assert_true(lb("[0:0:0:0:0:0:0:1]"));
    assert_false(lb("LOCALHOST.")); /* exact: no other spelling */
    assert_false(lb("localhost.evil.example"));
    assert_false(lb("127.0.0.1.evil.example"));
    assert_false(lb("128.0.0.1"));
    assert_false(lb("10.0.0.1"));
    assert_false(lb("::1"));      /* IPv6 only in brackets */
    assert_false(lb("[127.0.0.1]"));
    assert_false(lb("[::2]"));
    assert_false(lb("[]"));
    assert_false(lb(""));
    assert_false(lb(" 127.0.0.1"));
    assert_false(lb("0x7f.0.0.1"));
    assert_false(lb("2130706433"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(parse_addresses), cmocka_unit_test(sets),
                                       cmocka_unit_test(forwarded_for),
                                       cmocka_unit_test(throttle_unit),
                                       cmocka_unit_test(host_loopback)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
