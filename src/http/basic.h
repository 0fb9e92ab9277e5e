/* basic — HTTP Basic credentials (RFC 7617) as OAuth client authentication uses them
 * (RFC 6749 §2.3.1): base64 of "client_id:client_secret" where both halves were
 * application/x-www-form-urlencoded before encoding and are decoded here.
 *
 * Strict: scheme "Basic" (case-insensitive, RFC 7235 §2.1) then exactly one space and a token68
 * in the standard base64 alphabet with padding (RFC 4648 §4; base64url is not accepted), length a
 * multiple of 4, no whitespace, no non-zero trailing bits; the decoded text must contain ':'
 * (the first one splits, RFC 7617 §2), the id must not be empty, and both halves must be valid
 * form-urlencoding without NUL. Every rejection is IDP_ERR_OAUTH_INVALID_CLIENT. */
#ifndef IDPD_HTTP_BASIC_H
#define IDPD_HTTP_BASIC_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define BASIC_MAX_HEADER 2048 /* longest accepted Authorization value */

typedef struct basic_creds {
    const char *id;     /* point into buf; NUL-terminated */
    size_t id_len;
    const char *secret; /* point into buf; may be empty */
    size_t secret_len;
    char buf[BASIC_MAX_HEADER];
} basic_creds;

/* True when the header uses the Basic scheme (whatever follows). */
bool basic_is_basic(const char *authorization);
/* Parses an Authorization header value into *out. Wipe *out with basic_clear after use. */
idp_err basic_parse(const char *authorization, basic_creds *out, idp_error *err);
void basic_clear(basic_creds *c);
/* Strict standard base64 with padding: decodes s[0..n) into out (capacity >= n / 4 * 3).
 * IDP_ERR_B64 on any deviation. */
idp_err basic_b64_decode(const char *s, size_t n, unsigned char *out, size_t outcap, size_t *outlen);

#endif
