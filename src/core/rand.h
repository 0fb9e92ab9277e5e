/* rand — cryptographically secure randomness (OpenSSL DRBG). Aborts if the DRBG fails:
 * there is no safe way to continue without randomness. */
#ifndef IDPD_CORE_RAND_H
#define IDPD_CORE_RAND_H

#include <stddef.h>

void rand_bytes(void *p, size_t n);
/* n random bytes, base64url-encoded; owned (free()). */
char *rand_token(size_t nbytes);
/* A random UUID (RFC 9562 version 4) into out[37]. */
void rand_uuid(char out[37]);

#endif
