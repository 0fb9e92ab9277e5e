/* client_secret — generation and verification of client secrets (DESIGN §5): 256 bits of
 * entropy, stored as HMAC-SHA-256 under a server pepper derived from the master key
 * (kek_derive(CLIENT_SECRET_PEPPER_LABEL)), compared in constant time. */
#ifndef IDPD_OAUTH_CLIENT_SECRET_H
#define IDPD_OAUTH_CLIENT_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define CLIENT_SECRET_PEPPER_LABEL "idpd client-secret pepper v1"
#define CLIENT_SECRET_MAX_LEN 512

/* A new secret: base64url of 32 random bytes (43 characters). Owned; free with mem_free_secret. */
char *client_secret_generate(void);
void client_secret_hash(const unsigned char pepper[32], const char *secret, size_t n,
                        unsigned char out[32]);
/* Constant-time in the secret's content (CRYPTO_memcmp on the MACs). */
bool client_secret_verify(const unsigned char pepper[32], const char *secret, size_t n,
                          const unsigned char hash[32]);

#endif
