/* alg — the JWS algorithm registry (RFC 7518 §3.1, RFC 8037 §3.1): the asymmetric algorithms
 * idpd signs and verifies with, their names, the key type each needs and the EVP parameters of
 * each. HS* and "none" are not in it and can never be selected (RFC 8725 §3.1-3.2).
 *
 * Prefix jws_alg_ (the type is jws_alg, the values of the JWS "alg" header parameter). jwk.c and
 * jws.c both build on it; it includes neither. */
#ifndef IDPD_JOSE_ALG_H
#define IDPD_JOSE_ALG_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum jws_alg {
    JWS_ALG_INVALID = 0,
    JWS_ES256, /* ECDSA P-256 SHA-256, signature = r||s (RFC 7518 §3.4) */
    JWS_RS256, /* RSASSA-PKCS1-v1_5 SHA-256 */
    JWS_PS256, /* RSASSA-PSS SHA-256, MGF1 SHA-256, salt 32 */
    JWS_EDDSA, /* Ed25519 (RFC 8037) */
    JWS__ALG_COUNT
} jws_alg;

#define JWS_ALG_BIT(a) (1u << (a))
#define JWS_ALGS_ALL                                                                               \
    (JWS_ALG_BIT(JWS_ES256) | JWS_ALG_BIT(JWS_RS256) | JWS_ALG_BIT(JWS_PS256) |                    \
     JWS_ALG_BIT(JWS_EDDSA))

const char *jws_alg_name(jws_alg a);                /* "ES256"...; NULL for invalid */
jws_alg jws_alg_from_name(const char *s, size_t n); /* exact, case-sensitive; INVALID otherwise */

/* The JWK key types (RFC 7517 §4.1 "kty") of the registry's algorithms. */
typedef enum jws_alg_kty {
    JWS_ALG_KTY_NONE = 0,
    JWS_ALG_KTY_RSA,
    JWS_ALG_KTY_EC,  /* P-256 only */
    JWS_ALG_KTY_OKP, /* Ed25519 only */
} jws_alg_kty;

/* The key type alg needs; NONE for an invalid alg. */
jws_alg_kty jws_alg_kty_of(jws_alg a);
/* The key type of an OpenSSL key: RSA, EC on P-256, Ed25519; NONE for anything else. */
jws_alg_kty jws_alg_pkey_kty(EVP_PKEY *pkey);
/* True when pkey is of the type alg needs (for the raw sign/verify calls, which have no jwk). */
bool jws_alg_fits_pkey(jws_alg a, EVP_PKEY *pkey);

/* SHA-256, fetched once per process (explicit fetch: no per-call name lookup). Borrowed; NULL on
 * failure. */
const EVP_MD *jws_alg_sha256(void);
/* A new DigestSign (sign) or DigestVerify context for alg on key, with the JWA parameters
 * (SHA-256, none for EdDSA per RFC 8037 §3.1; PS256: PSS, MGF1-SHA-256, salt 32 per RFC 7518
 * §3.5). Owned; NULL on failure. */
EVP_MD_CTX *jws_alg_md_ctx(jws_alg a, EVP_PKEY *key, bool sign);

#endif
