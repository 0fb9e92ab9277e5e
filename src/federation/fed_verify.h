/* fed_verify — the one verification path for tokens other identity providers issued (issue 12,
 * docs/FEDERATION.md): subject and actor tokens of RFC 8693 token exchange, RFC 7523 JWT bearer
 * assertions, and the ID tokens of upstream sign-in. Pure: the trusted issuers come from the
 * policy (policy/policy_fed.h), the keys from a callback (the issuer's JWKS cache), the time from
 * the caller. No store, no HTTP, no network I/O of its own.
 *
 * The order is a contract (first failure wins; each has its own reason for logs and metrics):
 *   1. size cap (FED_VERIFY_MAX_LEN)                            too_large
 *   2. compact JWS only: three parts (a JWE has five)           malformed
 *      header and payload strict base64url, strict JSON objects
 *   3. alg "none" and HS* refused (RFC 8725 §3.1-3.2)           alg_refused
 *   4. the UNVERIFIED iss equals a configured issuer byte for    unknown_issuer
 *      byte, else rejected before any key lookup (so an unknown
 *      issuer never causes network I/O)
 *   5. alg in that issuer's `algorithms`                         alg_not_allowed
 *   6. keys only from that issuer's set (never jwk/jku/x5u/x5c   keys_unavailable (503),
 *      headers): by kid, or the one key fitting alg              unknown_kid
 *   7. signature                                                 bad_signature
 *   8. typ: logout+jwt, dpop+jwt, secevent+jwt never accepted;   typ
 *      an access token needs the issuer's `typ` when set; an ID
 *      token is never at+jwt (RFC 9068 §2.1, RFC 8725 §3.11)
 *   9. exp required (and iat, jti for assertions); nbf and iat   expired, not_yet_valid,
 *      not in the future beyond clock_skew; for assertions         missing_claim, lifetime
 *      exp - iat <= max_lifetime (RFC 7523 §3)
 *  10. audience: aud names one of the expected values            audience
 *  11. `require`: claims present with exactly these values       require
 *  12. the subject claim: a string of 1..255 bytes, no controls  subject
 * Replay, the client allow-list, scope, target and policy follow in the grant (that order).
 *
 * Threading: reentrant; the key callback may block up to the issuer's fetch_timeout (a kid miss,
 * see jose/jwks_cache.h). */
#ifndef IDPD_FEDERATION_FED_VERIFY_H
#define IDPD_FEDERATION_FED_VERIFY_H

#include "core/err.h"
#include "jose/jwk.h"
#include "policy/policy_fed.h"
#include "policy/policy.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FED_VERIFY_MAX_LEN (16u * 1024u) /* = JWS_MAX_LEN */
#define FED_SUBJECT_MAX 255
#define FED_JTI_MAX 256

/* What the token is presented as; decides the typ rule and the required claims. */
typedef enum fed_use {
    FED_USE_ACCESS_TOKEN = 1, /* subject/actor token of type ...:access_token */
    FED_USE_ID_TOKEN,         /* subject/actor token of type ...:id_token, or upstream sign-in */
    FED_USE_JWT,              /* subject/actor token of type ...:jwt */
    FED_USE_ASSERTION,        /* RFC 7523 §2.1 authorization grant */
} fed_use;

/* Why a token was refused: the `result` label of idpd_federation_tokens_total and the reason in
 * the log line. FED_ACCEPTED is "accepted". */
typedef enum fed_reason {
    FED_ACCEPTED = 0,
    FED_R_TOO_LARGE,
    FED_R_MALFORMED,
    FED_R_ALG_REFUSED,
    FED_R_UNKNOWN_ISSUER,
    FED_R_ALG_NOT_ALLOWED,
    FED_R_KEYS_UNAVAILABLE,
    FED_R_UNKNOWN_KID,
    FED_R_BAD_SIGNATURE,
    FED_R_TYP,
    FED_R_EXPIRED,
    FED_R_NOT_YET_VALID,
    FED_R_MISSING_CLAIM,
    FED_R_LIFETIME,
    FED_R_AUDIENCE,
    FED_R_REQUIRE,
    FED_R_SUBJECT,
    /* set by the grants and the sign-in callback, after fed_verify */
    FED_R_REPLAY,
    FED_R_CLIENT,
    FED_R_NOT_LINKED,
    FED_R_INACTIVE_USER,
    FED_R_SCOPE,
    FED_R_TARGET,
    FED_R_POLICY,
    FED_R_NONCE,
    FED_R_STORE,
    FED_R_UPSTREAM_ERROR,       /* upstream sign-in: the issuer answered an error */
    FED_R_UPSTREAM_UNAVAILABLE, /* upstream sign-in: the issuer's endpoints not reachable/known */
    FED__R_COUNT
} fed_reason;

/* "accepted", "too_large", ... (static). "unknown" out of range. */
const char *fed_verify_reason_name(fed_reason r);

/* The issuer's current key set for kid (kid NULL when the header has none): a new reference in
 * *out. IDP_ERR_UNAVAILABLE when the issuer has no usable set (never fetched, or older than
 * stale_if_error): the request is then answered 503, never accepted. */
typedef idp_err (*fed_keys_fn)(void *ctx, const fed_issuer *is, const char *kid, jwks **out,
                               idp_error *err);

typedef struct fed_verify_in {
    const char *token;
    size_t len;
    fed_use use;
    const policy *policy;     /* the trusted issuers (borrowed) */
    fed_keys_fn keys;
    void *keys_ctx;
    /* aud must name one of these; NULL/0: the use's default — ACCESS_TOKEN and JWT: the
     * issuer's `audiences`; ID_TOKEN: login.client_id (else `audiences`); ASSERTION: must be
     * given (idpd's issuer and token endpoint URL). An empty expectation fails (audience). */
    const char *const *audiences;
    size_t naudiences;
    int64_t now;              /* s; 0 = time_now() */
} fed_verify_in;

typedef struct fed_verified {
    const fed_issuer *is;    /* borrowed from the policy */
    json_t *claims;          /* the verified payload, owned */
    const char *subject;     /* borrowed from claims: the issuer's subject_claim */
    const char *jti;         /* borrowed from claims; NULL when absent */
    int64_t exp, iat;        /* iat 0 when absent */
    jws_alg alg;
    char kid[128];           /* "" when the header has none */
} fed_verified;

/* The order above as data (`idpd federation test` lists each step with pass/fail): step i fails
 * with a reason in [first, last] (the reasons are numbered in step order). */
typedef struct fed_verify_step {
    const char *name; /* "size", "compact_jws", ... */
    const char *what; /* one line for people */
    fed_reason first, last;
} fed_verify_step;
extern const fed_verify_step fed_verify_steps[];
extern const size_t fed_verify_nsteps;
/* The index in fed_verify_steps of the step that fails with r; -1 for FED_ACCEPTED or a reason
 * set after fed_verify (replay, client, ...). */
int fed_verify_step_of(fed_reason r);

/* Verifies in->token in the order above. On success *out is filled (fed_verify_clear).
 * On failure *why names the failed step, err->msg says which check (never token bytes or claim
 * values) and the code is IDP_ERR_OAUTH_INVALID_GRANT (RFC 7523 §3.1; token exchange answers
 * invalid_request per RFC 8693 §2.2.2 and maps it), IDP_ERR_UNAVAILABLE (keys_unavailable) or
 * IDP_ERR_NOMEM / IDP_ERR_CRYPTO / IDP_ERR_INTERNAL (server faults). *out is then zeroed. */
idp_err fed_verify(const fed_verify_in *in, fed_verified *out, fed_reason *why, idp_error *err);
void fed_verify_clear(fed_verified *v); /* safe on a zeroed or cleared struct */

/* The unverified iss of a compact JWS (step 2 and the payload only), so the token endpoint can
 * tell its own tokens from upstream ones before choosing a path. Copies at most cap-1 bytes;
 * false when the token is not a three-part JWS with a JSON object payload and a string iss that
 * fits. Never trust out beyond that choice. */
bool fed_verify_peek_iss(const char *token, size_t len, char *out, size_t cap);

#endif
