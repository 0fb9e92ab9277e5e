/* jose/internal.h — shared between jwk.c, jws.c and jwt.c only. */
#ifndef IDPD_JOSE_INTERNAL_H
#define IDPD_JOSE_INTERNAL_H

#include "jose/jwk.h"

#include <openssl/evp.h>
#include <stddef.h>

typedef enum jwk_kty { JWK_KTY_NONE = 0, JWK_KTY_RSA, JWK_KTY_EC, JWK_KTY_OKP } jwk_kty;

jwk_kty jwk_kty_of(const jwk *k);
/* Exact JWS signature length for this key: RSA modulus octets, 64 for ES256 and EdDSA. */
size_t jwk_sig_len(const jwk *k);
/* The key type an algorithm needs. */
jwk_kty jose_alg_kty(jws_alg a);
/* SHA-256, fetched once per process (explicit fetch: no per-call name lookup). NULL on failure. */
const EVP_MD *jose_md_sha256(void);

#endif
