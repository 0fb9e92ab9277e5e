/* refresh — opaque refresh tokens (DESIGN §5): 256 bits, stored only as SHA-256, rotated on
 * every use. The successor of a token is HMAC-SHA-256(app.refresh_key, token): a racing second
 * request with the same token inside cfg refresh_grace gets the very same successor without the
 * server keeping any plaintext; after the grace window, reuse revokes the whole family
 * (RFC 9700 §4.14.2). */
#ifndef IDPD_OAUTH_REFRESH_H
#define IDPD_OAUTH_REFRESH_H

#include "core/err.h"

#define REFRESH_TOKEN_LEN 43

/* A fresh token into out[44]. */
void refresh_new(char out[44]);
/* The successor of tok into out[44]. */
void refresh_successor(const unsigned char key[32], const char *tok, char out[44]);
/* SHA-256 of an opaque bearer secret (refresh token, authorization code, session cookie): the
 * only form in which the store keeps them. */
void opaque_hash(const char *tok, unsigned char out[32]);
/* A new family id into out[23]. */
void refresh_family_new(char out[23]);

#endif
