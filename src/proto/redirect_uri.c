#include "proto/redirect_uri.h"

#include <string.h>
#include <strings.h>

/* A loopback IP redirect URI (RFC 8252 §7.3): "http://127.0.0.1" or "http://[::1]", an optional
 * ":port" (1..65535, digits only), then the end, '/' or '?'. Sets *host_end to the length of
 * scheme and host and *rest to where the text after the port starts. */
static bool loopback_ip_uri(const char *s, size_t n, size_t *host_end, size_t *rest)
{
    static const char *const prefixes[] = {"http://127.0.0.1", "http://[::1]"};
    for (size_t k = 0; k < 2; k++) {
        size_t pl = strlen(prefixes[k]);
        if (n < pl || memcmp(s, prefixes[k], pl) != 0) continue;
        size_t i = pl;
        if (i < n && s[i] == ':') {
            unsigned long port = 0;
            size_t d = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9' && i - d < 5) port = port * 10 + (unsigned long)(s[i++] - '0');
            if (i == d || port < 1 || port > 65535) return false;
        }
        if (i < n && s[i] != '/' && s[i] != '?') return false;
        *host_end = pl;
        *rest = i;
        return true;
    }
    return false;
}

/* True when uri equals reg (length l) but for the port, both being loopback IP URIs. */
static bool loopback_any_port(const char *uri, size_t n, const char *reg, size_t l)
{
    size_t uh, ur, rh, rr;
    if (!loopback_ip_uri(uri, n, &uh, &ur) || !loopback_ip_uri(reg, l, &rh, &rr)) return false;
    return uh == rh && memcmp(uri, reg, uh) == 0 && n - ur == l - rr &&
           memcmp(uri + ur, reg + rr, n - ur) == 0;
}

static bool registered_match(const char *uri, const char *registered, bool loopback_port)
{
    if (!uri || !registered) return false;
    size_t n = strlen(uri);
    if (n == 0) return false;
    for (const char *p = registered; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        const char *sp = strchr(p, ' ');
        size_t l = sp ? (size_t)(sp - p) : strlen(p);
        if (l == n && memcmp(p, uri, n) == 0) return true;
        if (loopback_port && loopback_any_port(uri, n, p, l)) return true;
        p += l;
    }
    return false;
}

bool redirect_uri_registered(const char *uri, const char *registered)
{
    return registered_match(uri, registered, false);
}

bool redirect_uri_authz_allowed(const char *uri, const char *registered)
{
    return registered_match(uri, registered, true);
}

/* ---- registration checks ------------------------------------------------------------------ */

static bool is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 §2.2-2.3: unreserved, gen-delims and sub-delims ('%' is handled by the caller). */
static bool uri_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("-._~:/?#[]@!$&'()*+,;=", c));
}

static idp_err check_chars(const char *uri, size_t n, idp_error *err)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c >= 0x7f)
            return IDP_FAIL(
                err, IDP_ERR_INVALID,
                "redirect URI must not contain whitespace, control or non-ASCII characters");
        if (c == '%') {
            if (n - i < 3 || !is_hex((unsigned char)uri[i + 1]) ||
                !is_hex((unsigned char)uri[i + 2]))
                return IDP_FAIL(err, IDP_ERR_INVALID,
                                "redirect URI has an invalid percent-encoding");
            i += 2;
        } else if (!uri_char(c)) {
            return IDP_FAIL(err, IDP_ERR_INVALID,
                            "redirect URI contains a character not allowed in a URI");
        }
    }
    return IDP_OK;
}

static bool host_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* auth[0..n) is the authority of an http(s) URI; fills the host span. */
static idp_err check_authority(const char *auth, size_t n, const char **host, size_t *hlen,
                               idp_error *err)
{
    if (memchr(auth, '@', n))
        return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI must not contain userinfo ('@')");
    size_t h = 0;
    if (n > 0 && auth[0] == '[') { /* IP-literal (RFC 3986 §3.2.2), IPv6 only */
        const char *close = memchr(auth, ']', n);
        if (!close)
            return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI has an unterminated IP literal");
        h = (size_t)(close - auth) + 1;
        for (size_t i = 1; i + 1 < h; i++)
            if (!is_hex((unsigned char)auth[i]) && auth[i] != ':' && auth[i] != '.')
                return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI has an invalid IP literal");
        if (h == 2) return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI has an empty host");
    } else {
        while (h < n && auth[h] != ':') {
            if (!host_char((unsigned char)auth[h]))
                return IDP_FAIL(err, IDP_ERR_INVALID,
                                "redirect URI host must be a DNS name or an IP address");
            h++;
        }
        if (h == 0) return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI has an empty host");
    }
    if (h < n) { /* ":" port, RFC 3986 §3.2.3 */
        size_t digits = n - h - 1;
        unsigned long port = 0;
        bool ok = auth[h] == ':' && digits >= 1 && digits <= 5;
        for (size_t i = h + 1; ok && i < n; i++) {
            ok = is_digit((unsigned char)auth[i]);
            port = port * 10 + (unsigned long)(auth[i] - '0');
        }
        if (!ok || port < 1 || port > 65535)
            return IDP_FAIL(err, IDP_ERR_INVALID,
                            "redirect URI port must be a number from 1 to 65535");
    }
    *host = auth;
    *hlen = h;
    return IDP_OK;
}

static bool is_loopback(const char *host, size_t n)
{
    static const char *const names[] = {"127.0.0.1", "[::1]", "localhost"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncasecmp(host, names[i], n) == 0) return true;
    return false;
}

idp_err redirect_uri_check_registration(const char *uri, idp_error *err)
{
    size_t n = uri ? strnlen(uri, REDIRECT_URI_MAX_LEN + 1) : 0;
    if (n == 0) return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI is empty");
    if (n > REDIRECT_URI_MAX_LEN)
        return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI is longer than %d bytes",
                        REDIRECT_URI_MAX_LEN);
    if (memchr(uri, '#', n))
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "redirect URI must not contain a fragment (RFC 6749 section 3.1.2)");
    idp_err rc = check_chars(uri, n, err);
    if (rc) return rc;
    /* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'. */
    size_t s = 0;
    while (s < n && (is_alpha((unsigned char)uri[s]) ||
                     (s > 0 && (is_digit((unsigned char)uri[s]) || strchr("+-.", uri[s])))))
        s++;
    if (s == 0 || s == n || uri[s] != ':')
        return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI must be an absolute URI with a scheme");
    bool https = s == 5 && strncasecmp(uri, "https", 5) == 0;
    bool http = s == 4 && strncasecmp(uri, "http", 4) == 0;
    if (!https && !http) {
        /* RFC 8252 §7.1: private-use schemes are reverse domain names, so they contain a '.'. */
        if (!memchr(uri, '.', s))
            return IDP_FAIL(
                err, IDP_ERR_INVALID,
                "redirect URI scheme must be https, http for a loopback host, or a private-use "
                "scheme with a '.' (RFC 8252 section 7.1)");
        if (s + 1 == n)
            return IDP_FAIL(err, IDP_ERR_INVALID,
                            "redirect URI with a private-use scheme needs a path");
        return IDP_OK;
    }
    const char *auth = uri + s + 1;
    if (strncmp(auth, "//", 2) != 0)
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "http(s) redirect URI must have an authority ('//host')");
    auth += 2;
    size_t alen = strcspn(auth, "/?");
    const char *host = NULL;
    size_t hlen = 0;
    if ((rc = check_authority(auth, alen, &host, &hlen, err))) return rc;
    /* RFC 8252 §7.3 / §8.3: plain http only where the traffic never leaves the device. */
    if (http && !is_loopback(host, hlen))
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "http redirect URIs are only allowed for loopback hosts (127.0.0.1, [::1], "
                        "localhost); use https");
    return IDP_OK;
}

/* ---- building ------------------------------------------------------------------------------ */

int redirect_uri_form_encode(idp_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s) return 0;
    size_t start = out->len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        int r;
        if (is_alpha(c) || is_digit(c) || c == '*' || c == '-' || c == '.' || c == '_') {
            r = buf_putc(out, (char)c);
        } else if (c == ' ') {
            r = buf_putc(out, '+');
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            r = buf_append(out, e, 3);
        }
        if (r != 0) {
            out->len = start;
            if (out->data) out->data[start] = '\0';
            return -1;
        }
    }
    return 0;
}

idp_err redirect_uri_build(idp_buf *out, const char *base, const char *const *kv, size_t nkv,
                           idp_error *err)
{
    if (!base) return IDP_FAIL(err, IDP_ERR_INVALID, "no redirect URI");
    if (strchr(base, '#'))
        return IDP_FAIL(err, IDP_ERR_INVALID, "redirect URI must not contain a fragment");
    for (size_t i = 0; i < nkv; i++)
        if (!kv[2 * i] || !kv[2 * i][0])
            return IDP_FAIL(err, IDP_ERR_INVALID, "empty parameter name");
    size_t start = out->len, blen = strlen(base);
    char sep = !strchr(base, '?')                                           ? '?'
               : (blen && (base[blen - 1] == '?' || base[blen - 1] == '&')) ? 0
                                                                            : '&';
    int r = buf_append(out, base, blen);
    for (size_t i = 0; r == 0 && i < nkv; i++) {
        const char *name = kv[2 * i], *value = kv[2 * i + 1];
        if (!value) continue;
        if (sep) r = buf_putc(out, sep);
        sep = '&';
        if (r == 0) r = redirect_uri_form_encode(out, name);
        if (r == 0) r = buf_putc(out, '=');
        if (r == 0) r = redirect_uri_form_encode(out, value);
    }
    if (r != 0) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "redirect URI too long");
    }
    return IDP_OK;
}
