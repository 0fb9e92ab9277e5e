/* password — user passwords with Argon2id (RFC 9106, DESIGN §5): hashing with the configured
 * parameters (cfg argon2_t, argon2_m_kib, argon2_p; 16-byte random salt, 32-byte tag, the PHC
 * encoded form), constant-time verification, and "does this stored hash use other parameters"
 * so sign-in can rehash it. Passwords are never logged; the caller wipes its copies. */
#ifndef IDPD_OAUTH_PASSWORD_H
#define IDPD_OAUTH_PASSWORD_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PASSWORD_SALT 16
#define PASSWORD_TAG 32

typedef struct password_params {
    uint32_t t;     /* iterations */
    uint32_t m_kib; /* memory in KiB */
    uint32_t p;     /* lanes */
} password_params;

/* *encoded owned (free()). IDP_ERR_CRYPTO when argon2 fails (e.g. parameters out of range). */
idp_err password_hash(const password_params *pp, const char *pw, size_t n, char **encoded,
                      idp_error *err);
/* True when pw matches the encoded Argon2id hash (false for anything malformed). */
bool password_verify(const char *encoded, const char *pw, size_t n);
/* True when encoded is not "$argon2id$v=19$m=M,t=T,p=P$..." with exactly these parameters. */
bool password_needs_rehash(const char *encoded, const password_params *pp);

#endif
