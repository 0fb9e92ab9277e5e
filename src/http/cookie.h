/* cookie — HTTP cookies (RFC 6265) as the login pages use them: reading one cookie from a
 * request's Cookie header, and formatting a Set-Cookie value. Plain inputs, no state,
 * thread-safe.
 *
 * Names are tokens (RFC 6265 §4.1.1 / RFC 9110 §5.6.2) and values cookie-octets
 * (%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E: no space, DQUOTE, ',', ';', '\', control or
 * non-ASCII byte), optionally wrapped in DQUOTEs. */
#ifndef IDPD_HTTP_COOKIE_H
#define IDPD_HTTP_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COOKIE_MAX_HEADER (16u * 1024u)  /* longer Cookie headers are refused */
#define COOKIE_MAX_AGE_CAP (400 * 86400) /* RFC 6265bis §5.6.2: user agents cap at 400 days */
#define COOKIE_DELETE ((int64_t)-1)      /* cookie_attrs.max_age: emit Max-Age=0 */

/* Finds the first cookie called name in a Cookie header value (RFC 6265 §5.4 / §4.2.1:
 * "a=b; c=d"; spaces and tabs around pairs, names and values are tolerated, pairs without '='
 * are skipped, names compare case-sensitively) and copies its value, without surrounding
 * DQUOTEs, NUL-terminated, into out[cap]. Returns false when the header or name is NULL, the
 * name is not a token, the header exceeds COOKIE_MAX_HEADER, the cookie is absent, or the
 * first match's value is not cookie-octets (control characters included), has an unbalanced
 * DQUOTE, or does not fit in cap - 1 bytes; later duplicates are never consulted (the first
 * match wins). An empty value is found (true, out = ""). out is "" whenever false is returned
 * (when cap > 0). */
bool cookie_get(const char *cookie_header, const char *name, char *out, size_t cap);

typedef enum cookie_samesite {
    COOKIE_SAMESITE_LAX = 0, /* the default: sent on top-level navigations (login redirects) */
    COOKIE_SAMESITE_STRICT,
    COOKIE_SAMESITE_NONE, /* requires secure */
} cookie_samesite;

typedef struct cookie_attrs {
    const char *name;  /* token; required */
    const char *value; /* cookie-octets; NULL or "" = empty value */
    const char *path;  /* NULL = "/"; must start with '/', no control char or ';' */
    int64_t max_age;   /* 0 = session cookie (no Max-Age); 1..COOKIE_MAX_AGE_CAP =
                          Max-Age in seconds; COOKIE_DELETE = "Max-Age=0" */
    bool http_only;
    bool secure;
    cookie_samesite same_site;
} cookie_attrs;

/* Writes a Set-Cookie header value (RFC 6265 §4.1) into out[cap], NUL-terminated:
 *   name=value; Path=/p[; Max-Age=n][; HttpOnly][; Secure]; SameSite=Lax|Strict|None
 * Returns the length written (without the NUL), or -1 (out then "" when cap > 0) when it does
 * not fit or an attribute is invalid: name not a token, value not cookie-octets, bad path,
 * max_age out of range, SameSite=None without Secure (browsers drop such cookies), a
 * "__Secure-" name without Secure, or a "__Host-" name without Secure or with a Path other
 * than "/" (RFC 6265bis §4.1.3). */
int cookie_format(char *out, size_t cap, const cookie_attrs *a);

#endif
