/* pkce — Proof Key for Code Exchange (RFC 7636), S256 only: "plain" is never accepted (RFC 9700
 * §2.1.1: the challenge must not leak the verifier). Plain inputs, no state, thread-safe. */
#ifndef IDPD_OAUTH_PKCE_H
#define IDPD_OAUTH_PKCE_H

#include "core/err.h"

#include <stdbool.h>

#define PKCE_VERIFIER_MIN 43
#define PKCE_VERIFIER_MAX 128
#define PKCE_CHALLENGE_LEN 43 /* base64url of a SHA-256 digest, no padding */

/* RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." /
 * "_" / "~". False for NULL. */
bool pkce_verifier_valid(const char *v);
/* RFC 7636 §4.2 S256: BASE64URL(SHA256(verifier)) is exactly 43 base64url characters (and, as
 * the encoding of 32 bytes, its last character carries no stray bits). False for NULL. */
bool pkce_challenge_valid(const char *c);
/* RFC 7636 §4.6: BASE64URL(SHA256(ASCII(verifier))) == challenge, compared in constant time.
 * IDP_ERR_OAUTH_INVALID_GRANT when the verifier is malformed or absent, the stored challenge is
 * malformed, or they do not match (the message never repeats either value). */
idp_err pkce_check_s256(const char *verifier, const char *challenge, idp_error *err);

#endif
