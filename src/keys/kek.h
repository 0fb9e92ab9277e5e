/* kek — the master key (key encryption key) that protects private signing keys at rest and from
 * which server secrets (the client-secret pepper) are derived. 32 random bytes, stored base64url
 * in a file of mode 0600 (or given in IDPD_MASTER_KEY). Never logged. */
#ifndef IDPD_KEYS_KEK_H
#define IDPD_KEYS_KEK_H

#include "core/err.h"

#include <jansson.h>

#include <stdbool.h>
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
/* A JSON object sealed for a round trip through the browser (the sealed authorization request,
 * the pending upstream sign-in): kek_seal of its compact text under aad, as base64url. *out
 * owned. IDP_ERR_TOO_LARGE when the result would be longer than max characters; the plaintext
 * is wiped. */
idp_err kek_seal_json(const kek *k, const char *aad, const json_t *o, size_t max, char **out,
                      idp_error *err);
/* Inverse of kek_seal_json: *out is the JSON object (owned) when s is at most max characters of
 * base64url whose tag verifies under aad and whose plaintext is a strict JSON object at most
 * depth deep; false otherwise (no reason: the caller says "invalid or expired" whatever it was).
 * The plaintext is wiped. */
bool kek_open_json(const kek *k, const char *aad, const char *s, size_t max, size_t depth,
                   json_t **out);
/* HKDF-SHA-256(master, info=label) -> 32 bytes. */
idp_err kek_derive(const kek *k, const char *label, unsigned char out[32], idp_error *err);

#endif
