/* kek — the master key (key encryption key) that protects private signing keys at rest and from
 * which server secrets (the client-secret pepper) are derived. 32 random bytes, stored base64url
 * in a file of mode 0600 (or given in IDPD_MASTER_KEY). Never logged. */
#ifndef IDPD_KEYS_KEK_H
#define IDPD_KEYS_KEK_H

#include "core/err.h"

#include <stddef.h>

typedef struct kek kek;

/* Creates a new master key file (O_CREAT|O_EXCL, mode 0600). IDP_ERR_CONFLICT if it exists. */
idp_err kek_create_file(const char *path, idp_error *err);
/* Loads from env IDPD_MASTER_KEY if set, else from path. Refuses a file readable by group or
 * others (IDP_ERR_CONFIG), a wrong length, or bad base64url. *out owned (kek_free). */
idp_err kek_load(const char *path, kek **out, idp_error *err);
void kek_free(kek *k); /* wipes; accepts NULL */

/* AES-256-GCM: out = 0x01 || nonce(12) || ciphertext || tag(16); aad binds the blob to its use
 * (the kid). *ct owned. */
idp_err kek_seal(const kek *k, const char *aad, const unsigned char *pt, size_t n,
                 unsigned char **ct, size_t *ctlen, idp_error *err);
/* Inverse of kek_seal; IDP_ERR_CRYPTO when the tag does not verify. *pt owned; wipe after use. */
idp_err kek_open(const kek *k, const char *aad, const unsigned char *ct, size_t ctlen,
                 unsigned char **pt, size_t *ptlen, idp_error *err);
/* HKDF-SHA-256(master, info=label) -> 32 bytes. */
idp_err kek_derive(const kek *k, const char *label, unsigned char out[32], idp_error *err);

#endif
