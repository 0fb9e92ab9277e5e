/* redirect_uri — redirection endpoint rules (RFC 6749 §3.1.2, RFC 9700 §4.1.3, RFC 8252 §7):
 * checking a URI at client registration, matching a requested URI against the registered ones,
 * and building the redirect with response parameters. Plain inputs, no state, thread-safe. */
#ifndef IDPD_OAUTH_REDIRECT_URI_H
#define IDPD_OAUTH_REDIRECT_URI_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define REDIRECT_URI_MAX_LEN 2048

/* True when uri is, byte for byte, one of the space-separated URIs in registered (RFC 9700
 * §4.1.3: exact string comparison; no prefix, wildcard, case folding, percent-decoding, default
 * port or trailing-slash normalisation). Runs of spaces in registered are tolerated. False when
 * either is NULL or uri is empty. Used for post_logout_redirect_uri (exact, OIDC RP-Initiated
 * Logout §3). */
bool redirect_uri_registered(const char *uri, const char *registered);

/* The authorization request's redirect_uri: redirect_uri_registered, plus RFC 8252 §7.3 — for a
 * loopback IP redirect URI (http://127.0.0.1 or http://[::1]; not "localhost", §8.3) any port
 * is allowed at request time, so a native app can use an ephemeral port:
 * "http://127.0.0.1:51234/cb" matches a registered "http://127.0.0.1/cb" or
 * "http://127.0.0.1:8000/cb"; everything but the port (1..65535) must still be identical. */
bool redirect_uri_authz_allowed(const char *uri, const char *registered);

/* Validates a redirect URI given to `idpd client create --redirect-uri`. IDP_ERR_INVALID, with
 * a message naming the rule, unless all of these hold:
 *   - at most REDIRECT_URI_MAX_LEN bytes, not empty;
 *   - only URI characters (RFC 3986 §2: unreserved, reserved, and '%' followed by two hex
 *     digits): no whitespace, control, non-ASCII or other bytes;
 *   - absolute: scheme ":" with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (§3.1);
 *   - no fragment (RFC 6749 §3.1.2);
 *   - https://host[:port]..., or http:// only with the loopback hosts 127.0.0.1, [::1] or
 *     localhost (RFC 8252 §7.3, §8.3), with a non-empty host, no userinfo ("@") in the
 *     authority (RFC 3986 §3.2.1 / RFC 9700 §4.1.3 confusion) and a port of 1..65535 digits;
 *   - or a private-use scheme containing a '.' (reverse domain name, RFC 8252 §7.1), which also
 *     excludes javascript:, data:, file: and the like.
 * The scheme is classified case-insensitively (so "HTTP://evil" is still http). */
idp_err redirect_uri_check_registration(const char *uri, idp_error *err);

/* Appends base, then the parameters, to out: kv holds nkv (name, value) PAIRS, i.e. 2 * nkv
 * strings; a pair with a NULL value is skipped. Names and values are encoded with
 * redirect_uri_form_encode. The separator is '?' when base has no query, '&' when it has one
 * (RFC 6749 §3.1.2: the query component MUST be retained), nothing when base already ends in
 * '?' or '&'. IDP_ERR_INVALID when base is NULL or has a fragment, or a name is NULL or empty;
 * IDP_ERR_TOO_LARGE when out's cap is reached (out is then left as it was). */
idp_err redirect_uri_build(idp_buf *out, const char *base, const char *const *kv, size_t nkv,
                           idp_error *err);

/* application/x-www-form-urlencoded serialisation of one string (WHATWG URL, as RFC 6749
 * Appendix B uses it): ALPHA, DIGIT and "*-._" unchanged, space as '+', every other byte as %XX
 * (upper-case hex). Appends to out; 0, or -1 when the cap is reached (out then unchanged).
 * s NULL appends nothing. */
int redirect_uri_form_encode(idp_buf *out, const char *s);

#endif
