/* jose/internal.h — shared between jwk.c, jwks.c and jws.c (and their unit tests) only. */
#ifndef IDPD_JOSE_INTERNAL_H
#define IDPD_JOSE_INTERNAL_H

#include "jose/jwk.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

/* Parses one JWK object as jwk_from_json does; *skip says the member is of a kind a key set
 * ignores (RFC 7517 §5: unknown kty, use other than sig) rather than malformed. */
idp_err jwk_parse(const json_t *obj, jwk **out, bool *skip, idp_error *err);

/* Exact JWS signature length for this key: RSA modulus octets, 64 for ES256 and EdDSA. */
size_t jwk_sig_len(const jwk *k);

/* The key's pre-initialised context for alg (jws_alg_md_ctx output, built once when the jwk was
 * made; sign templates only for private keys), or NULL (alg not allowed by the key, or init
 * failed: callers then init per call). Borrowed.
 * Thread safety: a jwk is shared between threads, so a template is NEVER used directly and
 * never modified after jwk_make returns; callers duplicate it with EVP_MD_CTX_copy_ex, which
 * takes it as const and only reads it (the key objects it shares with the copy are
 * reference-counted atomically and are the same ones every context made from the key's
 * EVP_PKEY shares anyway). It is freed only when the last jwk reference goes. */
const EVP_MD_CTX *jwk_md_template(const jwk *k, jws_alg alg, bool sign);

/* Strict JSON object: same contract as jsonx_parse(s, n, 0, 0, true, out, NULL) (IDP_ERR_JSON
 * on malformed input, duplicates, depth...), with a fast path for flat token-shaped objects.
 * *out owned. Implemented in jws.c. */
idp_err jws_json_parse(const char *s, size_t n, json_t **out);
/* The fast path alone (exposed for the differential test): the tree, or NULL when s is outside
 * its subset (which says nothing about validity). Owned. */
json_t *jws_json_fast(const char *s, size_t n);

#endif
