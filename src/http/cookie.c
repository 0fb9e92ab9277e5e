#include "http/cookie.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* RFC 9110 §5.6.2 tchar. */
static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool token_valid(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!tchar((unsigned char)s[i])) return false;
    return true;
}

/* RFC 6265 §4.1.1 cookie-octet. */
static bool cookie_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static bool octets_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!cookie_octet((unsigned char)s[i])) return false;
    return true;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims spaces and tabs around s[0..*n). */
static const char *trim(const char *s, size_t *n)
{
    while (*n && ows(*s))
        s++, (*n)--;
    while (*n && ows(s[*n - 1]))
        (*n)--;
    return s;
}

bool cookie_get(const char *cookie_header, const char *name, char *out, size_t cap)
{
    if (out && cap) out[0] = '\0';
    if (!cookie_header || !name || !out || cap == 0) return false;
    size_t nlen = strlen(name), hlen = strnlen(cookie_header, COOKIE_MAX_HEADER + 1);
    if (!token_valid(name, nlen) || hlen > COOKIE_MAX_HEADER) return false;
    const char *p = cookie_header, *end = cookie_header + hlen;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        size_t plen = semi ? (size_t)(semi - p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', plen);
        const char *next = semi ? semi + 1 : end;
        if (!eq) {
            p = next;
            continue;
        }
        size_t kn = (size_t)(eq - p), vn = plen - kn - 1;
        const char *k = trim(p, &kn), *v = trim(eq + 1, &vn);
        if (kn != nlen || memcmp(k, name, nlen) != 0) {
            p = next;
            continue;
        }
        /* First match wins (RFC 6265 §5.4 sends the longest path first; we never use a later
         * one, so a second cookie of the same name cannot be smuggled in after ours). */
        if (vn >= 1 && v[0] == '"') {
            if (vn < 2 || v[vn - 1] != '"') return false;
            v++, vn -= 2;
        }
        if (!octets_valid(v, vn) || vn >= cap) return false;
        memcpy(out, v, vn);
        out[vn] = '\0';
        return true;
    }
    return false;
}

static bool path_valid(const char *p)
{
    if (p[0] != '/') return false;
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == ';') return false; /* RFC 6265 §4.1.1 av-octet */
    }
    return true;
}

static bool attrs_valid(const cookie_attrs *a, const char *value, const char *path)
{
    if (!a->name || !token_valid(a->name, strlen(a->name))) return false;
    if (!octets_valid(value, strlen(value)) || !path_valid(path)) return false;
    if (a->max_age != 0 && a->max_age != COOKIE_DELETE &&
        (a->max_age < 1 || a->max_age > COOKIE_MAX_AGE_CAP))
        return false;
    if (a->same_site != COOKIE_SAMESITE_LAX && a->same_site != COOKIE_SAMESITE_STRICT &&
        a->same_site != COOKIE_SAMESITE_NONE)
        return false;
    if (a->same_site == COOKIE_SAMESITE_NONE && !a->secure) return false;
    /* RFC 6265bis §4.1.3 cookie name prefixes: the user agent enforces them, so a cookie that
     * breaks them would silently never be stored. */
    if (strncmp(a->name, "__Secure-", 9) == 0 && !a->secure) return false;
    if (strncmp(a->name, "__Host-", 7) == 0 && (!a->secure || strcmp(path, "/") != 0)) return false;
    return true;
}

int cookie_format(char *out, size_t cap, const cookie_attrs *a)
{
    if (!out || cap == 0) return -1;
    out[0] = '\0';
    if (!a) return -1;
    const char *value = a->value ? a->value : "", *path = a->path ? a->path : "/";
    if (!attrs_valid(a, value, path)) return -1;
    static const char *const samesite[] = {"Lax", "Strict", "None"};
    char age[40] = "";
    if (a->max_age == COOKIE_DELETE)
        snprintf(age, sizeof age, "; Max-Age=0");
    else if (a->max_age > 0)
        snprintf(age, sizeof age, "; Max-Age=%" PRId64, a->max_age);
    int n = snprintf(out, cap, "%s=%s; Path=%s%s%s%s; SameSite=%s", a->name, value, path, age,
                     a->http_only ? "; HttpOnly" : "", a->secure ? "; Secure" : "",
                     samesite[a->same_site]);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return -1;
    }
    return n;
}
