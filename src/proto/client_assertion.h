/* client_assertion — private_key_jwt client authentication (RFC 7523 §2.2 and §3, OIDC Core
 * §9, RFC 7521 §4.2): a JWT signed with one of the client's registered keys, with
 * iss = sub = client_id, aud naming this server, exp, and jti. Plain inputs (the assertion, the
 * client's JWK Set, the accepted audiences, the time), no state, thread-safe.
 *
 * Not done here: looking the client up (see client_assertion_peek_iss) and replay detection —
 * the caller MUST record result.jti until result.exp and refuse a jti it has already seen
 * (RFC 7523 §3 item 7, OIDC Core §9). The form parameters client_assertion_type (must be
 * CLIENT_ASSERTION_TYPE) and client_assertion are the endpoint's business. */
#ifndef IDPD_OAUTH_CLIENT_ASSERTION_H
#define IDPD_OAUTH_CLIENT_ASSERTION_H

#include "core/err.h"
#include "jose/jwk.h"

#include <stddef.h>
#include <stdint.h>

#define CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define CLIENT_ASSERTION_MAX_LEN (8u * 1024u) /* longer assertions are refused before parsing */
#define CLIENT_ASSERTION_MAX_ID 256           /* = CLIENT_AUTH_MAX_ID */
#define CLIENT_ASSERTION_MAX_JTI 256
#define CLIENT_ASSERTION_DEFAULT_MAX_LIFETIME 600 /* used when max_lifetime <= 0 */
/* Asymmetric algorithms only: never "none" nor HS* (a client secret is not a signing key). */
#define CLIENT_ASSERTION_ALGS                                                                      \
    (JWS_ALG_BIT(JWS_RS256) | JWS_ALG_BIT(JWS_PS256) | JWS_ALG_BIT(JWS_ES256) |                    \
     JWS_ALG_BIT(JWS_EDDSA))

typedef struct client_assertion_result {
    char client_id[CLIENT_ASSERTION_MAX_ID + 1]; /* iss (== sub) */
    char jti[CLIENT_ASSERTION_MAX_JTI + 1];      /* for replay detection */
    int64_t exp;                                 /* seconds; keep the jti at least until then */
    jws_alg alg;                                 /* the alg the assertion was signed with */
} client_assertion_result;

/* Verifies assertion against client_jwks_json ({"keys":[...]}, the client's registered public
 * keys) and fills *out (zeroed on failure). Rules, in order:
 *   - assertion present, at most CLIENT_ASSERTION_MAX_LEN bytes; JWKS parses and holds a key;
 *   - JWS signature with an alg in CLIENT_ASSERTION_ALGS by a key from the set (by kid, or the
 *     only key fitting the alg when there is no kid; never from jku/jwk/x5u/x5c headers);
 *   - exp required; now >= exp + leeway is expired; nbf and iat (when present) not after
 *     now + leeway;
 *   - exp - now <= max_lifetime (leeway not added: the caller picks the bound), so a stolen
 *     assertion is not good for long (<= 0: CLIENT_ASSERTION_DEFAULT_MAX_LIFETIME);
 *   - iss and sub present, equal, 1..CLIENT_ASSERTION_MAX_ID bytes without control characters,
 *     and equal to expected_client_id when that is not NULL;
 *   - aud (string or array of strings) contains at least one of audiences[0..naud) (the token
 *     endpoint URL and the issuer identifier; RFC 7523 §3 item 3);
 *   - jti present, 1..CLIENT_ASSERTION_MAX_JTI bytes without control characters.
 * now = 0 means time_now(). Every rejection is IDP_ERR_OAUTH_INVALID_CLIENT with a message that
 * names the rule (never a claim value); IDP_ERR_CRYPTO (OpenSSL failed) and IDP_ERR_INTERNAL
 * (naud == 0) are server faults and passed through. */
idp_err client_assertion_verify(const char *assertion, const char *client_jwks_json,
                                const char *expected_client_id, const char *const *audiences,
                                size_t naud, int64_t now, int64_t leeway, int64_t max_lifetime,
                                client_assertion_result *out, idp_error *err);

/* The same with an already parsed key set (borrowed), e.g. one kept in the client cache. */
idp_err client_assertion_verify_keys(const char *assertion, const jwks *keys,
                                     const char *expected_client_id, const char *const *audiences,
                                     size_t naud, int64_t now, int64_t leeway, int64_t max_lifetime,
                                     client_assertion_result *out, idp_error *err);

/* Reads the UNVERIFIED iss of an assertion into out (NUL-terminated), to find the client whose
 * keys then verify it with client_assertion_verify (which checks iss again). Only the payload
 * is decoded (strict base64url, strict JSON object). IDP_ERR_OAUTH_INVALID_CLIENT when the
 * assertion is absent, too long, not three parts, or has no iss string of
 * 1..CLIENT_ASSERTION_MAX_ID bytes without control characters. Never trust out beyond lookup. */
idp_err client_assertion_peek_iss(const char *assertion, char out[CLIENT_ASSERTION_MAX_ID + 1],
                                  idp_error *err);

#endif
