/* jwk — JSON Web Keys (RFC 7517/7518/8037) for the signature algorithms idpd supports, on
 * OpenSSL 3 EVP only. kid defaults to the RFC 7638 thumbprint.
 *
 * A jwk is reference-counted (jwk_ref/jwk_unref, atomic) and immutable once built. It may hold a
 * private key: only keys/signer.c creates or uses private jwks (the key custodian, DESIGN §2). */
#ifndef IDPD_JOSE_JWK_H
#define IDPD_JOSE_JWK_H

#include "core/buf.h"
#include "core/err.h"
#include "jose/alg.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>

typedef struct jwk jwk;

/* Parses one JWK object (public or private members). Rejects: unknown kty/crv, missing or
 * non-strict-base64url members, RSA modulus < 2048 bits, RSA e < 3 or even, EC points not on the
 * curve, `alg` not one of ours or not matching kty/crv, `use` other than "sig", key_ops without
 * "verify"/"sign". kid is kept when present, else the thumbprint is used. *out owned. */
idp_err jwk_from_json(const json_t *obj, jwk **out, idp_error *err);
/* Wraps an EVP_PKEY (takes its own reference; caller keeps theirs). alg must suit the key;
 * kid NULL = thumbprint. */
idp_err jwk_from_pkey(EVP_PKEY *pkey, jws_alg alg, const char *kid, jwk **out, idp_error *err);
/* Generates a fresh private key for alg (RSA: bits). kid = thumbprint. */
idp_err jwk_generate(jws_alg alg, int rsa_bits, jwk **out, idp_error *err);

jwk *jwk_ref(jwk *k);
void jwk_unref(jwk *k); /* accepts NULL */

const char *jwk_kid(const jwk *k);      /* borrowed */
jws_alg jwk_alg(const jwk *k);          /* the key's own alg; INVALID when the JWK had none */
bool jwk_is_private(const jwk *k);
EVP_PKEY *jwk_pkey(const jwk *k);       /* borrowed */
/* True when a signature of alg can be made/checked with this key: key type fits the alg and,
 * when the key has its own alg, it equals alg (RFC 8725 §3.1). */
bool jwk_allows(const jwk *k, jws_alg alg);

/* Public members only, plus kid, alg (when known) and "use":"sig". New reference. */
json_t *jwk_to_public_json(const jwk *k);
/* RFC 7638 thumbprint: base64url(SHA-256(canonical required members)) into out[44]. */
idp_err jwk_thumbprint(const jwk *k, char out[44], idp_error *err);

/* Private key as PKCS#8 DER (for encryption at rest) and back. *der owned; wipe after use. */
idp_err jwk_private_to_der(const jwk *k, unsigned char **der, size_t *len, idp_error *err);
idp_err jwk_private_from_der(const unsigned char *der, size_t len, jws_alg alg, jwk **out,
                             idp_error *err);

/* A set of public keys (JWKS). Reference-counted, immutable once shared. */
typedef struct jwks jwks;

/* The most keys a set holds (parsed or built): bounds what a verifier fetches and scans. The
 * server's own key set is kept within it by design (keys/rotation.h). */
#define JWKS_MAX_KEYS 64

jwks *jwks_new(void);
/* Adds a reference to k. IDP_ERR_CONFLICT when the kid is already present, IDP_ERR_TOO_LARGE
 * when the set already holds JWKS_MAX_KEYS. */
idp_err jwks_add(jwks *s, jwk *k, idp_error *err);
/* Called for each member of a JWKS document that is ignored: its index, its kid ("" when it
 * has none) and why. The strings are borrowed for the call. */
typedef void (*jwks_skip_fn)(void *ctx, size_t index, const char *kid, const char *reason);
/* Parses {"keys":[...]} (someone else's or our own). RFC 7517 §5: a member that is not usable —
 * unknown kty, a use other than "sig", missing or out-of-range parameters (e.g. an RSA modulus
 * under 2048 bits), a kid shared with another member — is ignored (reported to on_skip, may be
 * NULL) and the rest of the set is used; the result may hold no key. Fails only when the
 * document itself is malformed, has more than 256 members or more than 64 usable keys. */
idp_err jwks_from_json_report(const char *s, size_t n, jwks_skip_fn on_skip, void *ctx,
                              jwks **out, idp_error *err);
/* jwks_from_json_report without a report. */
idp_err jwks_from_json(const char *s, size_t n, jwks **out, idp_error *err);
jwks *jwks_ref(jwks *s);
void jwks_unref(jwks *s);
size_t jwks_count(const jwks *s);
const jwk *jwks_at(const jwks *s, size_t i);               /* borrowed */
const jwk *jwks_find(const jwks *s, const char *kid);      /* borrowed; NULL if absent */
/* {"keys":[...public...]} as a new reference. */
json_t *jwks_to_public_json(const jwks *s);

#endif
