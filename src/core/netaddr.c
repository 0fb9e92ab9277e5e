/* netaddr — see netaddr.h. */
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool netaddr_parse(const char *s, size_t n, netaddr *out)
{
    char buf[NETADDR_STRLEN + 1];
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    netaddr a = {0};
    if (inet_pton(AF_INET, buf, a.a) == 1) {
        *out = a;
        return true;
    }
    if (inet_pton(AF_INET6, buf, a.a) != 1) return false;
    a.v6 = 1;
    if (memcmp(a.a, v4mapped, sizeof v4mapped) == 0) {
        memmove(a.a, a.a + 12, 4);
        memset(a.a + 4, 0, 12);
        a.v6 = 0;
    }
    *out = a;
    return true;
}

void netaddr_format(const netaddr *a, char out[NETADDR_STRLEN])
{
    if (!inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->a, out, NETADDR_STRLEN)) out[0] = '\0';
}

void netaddr_throttle_unit(const netaddr *a, char out[NETADDR_STRLEN + 4])
{
    netaddr m = *a;
    if (!m.v6) {
        netaddr_format(&m, out);
        return;
    }
    memset(m.a + 8, 0, 8);
    netaddr_format(&m, out);
    size_t n = strlen(out);
    memcpy(out + n, "/64", 4);
}

/* One "ADDR" or "ADDR/BITS" entry of n bytes. */
static bool parse_net(const char *s, size_t n, netaddr_net *out)
{
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    netaddr_net e = {0};
    if (!netaddr_parse(s, an, &e.addr)) return false;
    int max = e.addr.v6 ? 128 : 32;
    e.bits = max;
    if (slash) {
        const char *d = slash + 1;
        size_t dn = n - an - 1;
        if (dn == 0 || dn > 3) return false;
        int v = 0;
        for (size_t i = 0; i < dn; i++) {
            if (d[i] < '0' || d[i] > '9') return false;
            v = v * 10 + (d[i] - '0');
        }
        if (v > max) return false;
        /* an IPv4-mapped prefix (::ffff:10.0.0.0/104) names the IPv4 network */
        if (!e.addr.v6 && memchr(s, ':', an)) {
            if (v < 96) return false;
            v -= 96;
        }
        e.bits = v;
    }
    *out = e;
    return true;
}

idp_err netaddr_set_parse(const char *list, netaddr_set *out, idp_error *err)
{
    netaddr_set tmp = {0}, *s = &tmp;
    const char *p = list ? list : "";
    size_t idx = 0;
    idp_err rc = IDP_OK;
    for (;;) {
        p += strspn(p, " ,\t");
        if (!*p) break;
        size_t n = strcspn(p, " ,\t");
        idx++;
        if (s->n == NETADDR_SET_MAX) {
            rc = IDP_FAIL(err, IDP_ERR_INVALID, "more than %d addresses", NETADDR_SET_MAX);
            break;
        }
        if (!parse_net(p, n, &s->e[s->n])) {
            rc = IDP_FAIL(err, IDP_ERR_INVALID, "entry %zu is not an IP address or CIDR prefix",
                          idx);
            break;
        }
        s->n++;
        p += n;
    }
    if (rc == IDP_OK) *out = tmp;
    return rc;
}

static bool net_has(const netaddr_net *e, const netaddr *a)
{
    if (e->addr.v6 != a->v6) return false;
    int full = e->bits / 8, rest = e->bits % 8;
    if (memcmp(e->addr.a, a->a, (size_t)full) != 0) return false;
    if (!rest) return true;
    unsigned char m = (unsigned char)(0xff << (8 - rest));
    return (e->addr.a[full] & m) == (a->a[full] & m);
}

bool netaddr_set_has(const netaddr_set *s, const netaddr *a)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (net_has(&s->e[i], a)) return true;
    return false;
}

void netaddr_client(const netaddr_set *trusted, const char *peer, const char *const *xff,
                    size_t nxff, char out[NETADDR_STRLEN])
{
    netaddr hop;
    out[0] = '\0';
    if (!peer || !netaddr_parse(peer, strlen(peer), &hop)) return;
    netaddr_format(&hop, out);
    if (!netaddr_set_has(trusted, &hop)) return; /* the peer is the client */
    size_t walked = 0;
    for (size_t h = nxff; h-- > 0;) {
        const char *v = xff[h];
        if (!v) continue;
        size_t end = strlen(v);
        for (;;) { /* elements of this header value, right to left */
            size_t start = end;
            while (start > 0 && v[start - 1] != ',')
                start--;
            const char *el = v + start;
            size_t n = end - start;
            size_t sp = 0;
            while (sp < n && (el[sp] == ' ' || el[sp] == '\t'))
                sp++;
            if (sp < n) { /* empty list elements are skipped (RFC 9110 §5.6.1) */
                netaddr x;
                if (++walked > NETADDR_XFF_HOPS || !netaddr_parse(el, n, &x)) return;
                netaddr_format(&x, out);
                if (!netaddr_set_has(trusted, &x)) return;
            }
            if (start == 0) break;
            end = start - 1;
        }
    }
}

bool netaddr_host_loopback(const char *h, size_t n)
{
    static const unsigned char v6_loopback[16] = {[15] = 1};
    if (n == 9 && strncmp(h, "localhost", 9) == 0) return true;
    bool bracket = n >= 2 && h[0] == '[' && h[n - 1] == ']';
    if (bracket) h++, n -= 2;
    netaddr a;
    if (n == 0 || memchr(h, ' ', n) || memchr(h, '\t', n) || !netaddr_parse(h, n, &a)) return false;
    if (a.v6 != bracket) return false; /* an IPv6 address needs its brackets, IPv4 none */
    return a.v6 ? memcmp(a.a, v6_loopback, 16) == 0 : a.a[0] == 127;
}
