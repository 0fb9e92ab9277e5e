#include "proto/scope.h"

#include <string.h>

bool scope_token_valid(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
    }
    return true;
}

static bool in_list(const char *s, size_t n, char *const *list, size_t nlist)
{
    for (size_t i = 0; i < nlist; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0) return true;
    return false;
}

/* True when token s[0..n) already occurs in the space-separated out. */
static bool already(const idp_buf *out, const char *s, size_t n)
{
    const char *p = out->data;
    size_t left = out->len;
    while (p && left) {
        const char *sp = memchr(p, ' ', left);
        size_t l = sp ? (size_t)(sp - p) : left;
        if (l == n && memcmp(p, s, n) == 0) return true;
        if (!sp) break;
        left -= l + 1;
        p = sp + 1;
    }
    return false;
}

static int add(idp_buf *out, const char *s, size_t n)
{
    if (out->len && buf_putc(out, ' ') != 0) return -1;
    return buf_append(out, s, n);
}

idp_err scope_resolve(const char *requested, char *const *allowed, size_t nallowed, idp_buf *out,
                      idp_error *err)
{
    buf_reset(out);
    if (!requested) {
        for (size_t i = 0; i < nallowed; i++)
            if (!already(out, allowed[i], strlen(allowed[i])) &&
                add(out, allowed[i], strlen(allowed[i])) != 0)
                return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "scope too long");
        return IDP_OK;
    }
    size_t len = strlen(requested);
    if (len > SCOPE_MAX_LEN) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_SCOPE, "scope too long");
    const char *p = requested, *end = requested + len;
    for (;;) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        size_t n = sp ? (size_t)(sp - p) : (size_t)(end - p);
        if (!scope_token_valid(p, n))
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_SCOPE, "malformed scope (RFC 6749 section 3.3)");
        if (!in_list(p, n, allowed, nallowed))
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_SCOPE, "requested scope is not allowed for this client");
        if (!already(out, p, n) && add(out, p, n) != 0)
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_SCOPE, "scope too long");
        if (!sp) break;
        p = sp + 1;
    }
    return IDP_OK;
}

bool scope_has(const char *list, const char *word)
{
    if (!list || !word) return false;
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        p += strspn(p, " ");
        size_t l = strcspn(p, " ");
        if (l == n && n && !memcmp(p, word, n)) return true;
        p += l;
    }
    return false;
}

bool scope_subset(const char *want, const char *have)
{
    for (const char *p = want ? want : ""; *p;) {
        p += strspn(p, " ");
        size_t l = strcspn(p, " ");
        bool found = false;
        for (const char *q = have ? have : ""; *q && !found && l;) {
            q += strspn(q, " ");
            size_t m = strcspn(q, " ");
            found = m == l && !memcmp(p, q, l);
            q += m;
        }
        if (l && !found) return false;
        p += l;
    }
    return true;
}
