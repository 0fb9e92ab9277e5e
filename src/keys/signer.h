/* signer — the custodian of private signing keys (DESIGN §2, STYLE.md habit 9): the only module
 * that holds a private jwk. Keys enter as PKCS#8 DER (decrypted from the store) or are generated
 * here; callers get signatures, sealed-ready DER for storage, and public JSON — never a private
 * key object. A signer is immutable once built and may then be shared by threads. */
#ifndef IDPD_KEYS_SIGNER_H
#define IDPD_KEYS_SIGNER_H

#include "core/buf.h"
#include "core/err.h"
#include "jose/jwk.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct signer signer;

signer *signer_new(void); /* owned (signer_free) */
void signer_free(signer *s); /* accepts NULL */

/* Adds a private key (takes its own reference). IDP_ERR_JOSE_KEY when not private,
 * IDP_ERR_CONFLICT when the kid is already present. */
idp_err signer_add(signer *s, jwk *priv, idp_error *err);
/* Imports a PKCS#8 DER private key for alg and adds it. The key's RFC 7638 thumbprint must equal
 * kid (IDP_ERR_JOSE_KEY otherwise). The caller still owns der and wipes it. */
idp_err signer_add_der(signer *s, const unsigned char *der, size_t len, jws_alg alg,
                       const char *kid, idp_error *err);
bool signer_has(const signer *s, const char *kid);

/* Appends a compact JWS with header {alg, kid, typ} signed by key kid. IDP_ERR_JOSE_KEY when
 * there is no such key, IDP_ERR_JOSE_ALG when the key does not allow alg. */
idp_err signer_sign(const signer *s, const char *kid, jws_alg alg, const char *typ,
                    const void *payload, size_t payload_len, idp_buf *out, idp_error *err);

/* A freshly generated key, as rotation stores it. All members owned; free with
 * signer_keygen_clear (which wipes der). */
typedef struct signer_keygen {
    char kid[44];          /* RFC 7638 thumbprint */
    unsigned char *der;    /* PKCS#8 private key: seal it, then clear */
    size_t der_len;
    char *public_jwk;      /* compact public JWK JSON with kid, alg and use */
} signer_keygen;

/* Generates a key for alg (RSA: rsa_bits). The private key object never leaves this module. */
idp_err signer_generate(jws_alg alg, int rsa_bits, signer_keygen *out, idp_error *err);
void signer_keygen_clear(signer_keygen *g); /* accepts NULL */

#endif
