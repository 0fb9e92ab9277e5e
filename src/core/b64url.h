/* b64url — strict base64url (RFC 4648 §5) as JOSE uses it (RFC 7515 §2): no padding, no
 * whitespace, no characters outside the URL-safe alphabet, and no non-zero trailing bits
 * (so every byte string has exactly one accepted encoding). */
#ifndef IDPD_CORE_B64URL_H
#define IDPD_CORE_B64URL_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>

size_t b64url_encoded_len(size_t n);  /* without NUL */
size_t b64url_decoded_max(size_t n);  /* upper bound for n encoded characters */
/* Writes the encoding of p[0..n) to out (which must hold b64url_encoded_len(n)+1 bytes), NUL-terminated. */
void b64url_encode_to(char *out, const void *p, size_t n);
/* Returns an owned NUL-terminated string (free()). */
char *b64url_encode(const void *p, size_t n);
/* Appends the encoding to b; -1 when the cap is exceeded. */
int b64url_encode_buf(idp_buf *b, const void *p, size_t n);
/* Decodes s[0..n) into out (capacity outcap >= b64url_decoded_max(n)); *outlen receives the
 * length. IDP_ERR_B64 on any deviation from strict base64url. */
idp_err b64url_decode_to(const char *s, size_t n, unsigned char *out, size_t outcap, size_t *outlen);
/* Same, allocating: *out is owned by the caller (free()), with a NUL after the data. */
idp_err b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen);

#endif
