/* jws — JWS compact serialization (RFC 7515 §7.1), sign and verify, for ES256, RS256, PS256 and
 * EdDSA. HS* and "none" are never accepted (RFC 8725 §3.1-3.2).
 *
 * Verification rules, each a distinct failure:
 *   - total length <= opts.max_len (default JWS_MAX_LEN); exactly three parts; strict base64url
 *     in every part (IDP_ERR_JOSE_FORMAT / IDP_ERR_B64 mapped to JOSE_FORMAT);
 *   - header: strict JSON object (duplicates rejected), `alg` a string in the allow-list
 *     (IDP_ERR_JOSE_ALG), `crit` present -> IDP_ERR_JOSE_CRIT (we understand no extension;
 *     also rejects b64:false, RFC 7797), `jku`/`x5u`/`jwk`/`x5c` headers are never used to find
 *     keys; `typ` checked when opts.typ is set (case-insensitive, "application/" prefix optional,
 *     RFC 7515 §4.1.9 -> IDP_ERR_JWT_TYP; absent typ fails unless opts.typ_optional);
 *   - key: by `kid` in opts.keys; with no kid, the only key that allows alg, if exactly one;
 *     the key must allow the header alg (jwk_allows) -> IDP_ERR_JOSE_KEY;
 *   - signature length exact for the alg (ES256: 64 bytes r||s, converted to DER for EVP);
 *     signature failure -> IDP_ERR_JOSE_SIGNATURE, an OpenSSL failure -> IDP_ERR_CRYPTO;
 *   - payload: strict JSON object when opts.payload_json (default for JWTs).
 * Claims (exp, aud, ...) are jwt.h's business. */
#ifndef IDPD_JOSE_JWS_H
#define IDPD_JOSE_JWS_H

#include "core/buf.h"
#include "core/err.h"
#include "jose/jwk.h"

#include <jansson.h>
#include <stdbool.h>

#define JWS_MAX_LEN (16u * 1024u)

typedef struct jws_verify_opts {
    unsigned allowed_algs;   /* bitmask of JWS_ALG_BIT(); 0 = none allowed */
    const jwks *keys;        /* borrowed */
    const char *typ;         /* expected typ ("at+jwt") or NULL to not check */
    bool typ_optional;       /* with typ: a header without typ passes too (a typ that is
                                present must still match) */
    size_t max_len;          /* 0 = JWS_MAX_LEN */
    bool payload_json;       /* parse payload as a strict JSON object */
} jws_verify_opts;

typedef struct jws_verified {
    json_t *header;          /* owned */
    json_t *payload;         /* owned; NULL unless payload_json */
    unsigned char *raw_payload; /* owned; decoded payload bytes (NUL-terminated) */
    size_t raw_payload_len;
    const jwk *key;          /* borrowed from opts.keys */
    jws_alg alg;
} jws_verified;

idp_err jws_verify(const char *token, size_t len, const jws_verify_opts *opts, jws_verified *out,
                   idp_error *err);
void jws_verified_clear(jws_verified *v); /* frees members; safe on a zeroed struct */

/* Low-level: signature over input with a private key, in JWS form (ES256 r||s, 64 bytes).
 * sig must hold JWS_MAX_SIG bytes. Used only by keys/signer.c. */
#define JWS_MAX_SIG 1024
idp_err jws_sign_raw(jws_alg alg, EVP_PKEY *priv, const void *input, size_t len,
                     unsigned char *sig, size_t *siglen, idp_error *err);
/* Low-level: verifies a JWS-form signature. IDP_ERR_JOSE_SIGNATURE when it does not verify. */
idp_err jws_verify_raw(jws_alg alg, EVP_PKEY *pub, const void *input, size_t len,
                       const unsigned char *sig, size_t siglen, idp_error *err);

/* Builds a compact JWS: header {"alg":..,"kid":..,"typ":..} (kid/typ omitted when NULL) and the
 * given payload bytes, signed with key (must be private and allow alg). Appends to out. */
idp_err jws_sign_compact(const jwk *key, jws_alg alg, const char *typ, const void *payload,
                         size_t payload_len, idp_buf *out, idp_error *err);

#endif
