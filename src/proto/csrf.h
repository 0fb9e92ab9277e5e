/* csrf — anti-CSRF tokens for the login, consent and logout forms (synchronizer token bound to
 * the browser session): token = base64url(HMAC-SHA-256(key, session_binding)). Stateless: the
 * form carries the token, the server recomputes it from the session it already has. The key
 * should be dedicated to this use (e.g. kek_derive(CSRF_KEY_LABEL)); the binding is a value
 * unique to the session that an attacker cannot read (e.g. the session or pre-login cookie
 * value, or its hash). Thread-safe. */
#ifndef IDPD_OAUTH_CSRF_H
#define IDPD_OAUTH_CSRF_H

#include <stdbool.h>

#define CSRF_KEY_LABEL "idpd csrf v1"
#define CSRF_TOKEN_LEN 43 /* base64url of 32 bytes, without NUL */

/* Writes the token for session_binding (NULL is treated as "", which binds to nothing: callers
 * should not do that) into out, NUL-terminated. */
void csrf_token(const unsigned char key[32], const char *session_binding, char out[44]);
/* True when token is the token of session_binding; the comparison is constant-time in the
 * content (only the length, which is public, is checked first). False for NULL. */
bool csrf_check(const unsigned char key[32], const char *session_binding, const char *token);

#endif
