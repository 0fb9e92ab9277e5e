/* token_verify — the one verification path for the JWTs idpd accepts as bearer or hint:
 * access tokens at introspection (RFC 7662), revocation (RFC 7009) and UserInfo (OIDC Core
 * §5.3), the id_token_hint of logout (RP-Initiated Logout §2) and `idpd verify` (a resource
 * server's check, RFC 9068 §4). Depends on core and jose only (no HTTP types, no store), so the
 * resource-server verifier can be built from the same code.
 *
 * One call, in this order, stopping at the first failure with its own code:
 *   keys present (IDP_ERR_JOSE_KEY); jws_verify: length, format, alg in the allow-list, crit,
 *   typ, key by kid from the caller's set only, signature (jws.h's codes); jwt_check_claims:
 *   exp/nbf/iat with leeway unless ignore_times, iss, aud, sub, jti (jwt.h's codes); then
 *   client_id a string when required (IDP_ERR_JWT_CLAIM).
 * The code alone says what failed (token_verify_reason); err->msg adds which check, never token
 * bytes. */
#ifndef IDPD_VERIFY_TOKEN_VERIFY_H
#define IDPD_VERIFY_TOKEN_VERIFY_H

#include "core/err.h"
#include "jose/jwk.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct token_verify_opts {
    const jwks *keys;   /* borrowed; the only keys tried (RFC 8725 §3.10); NULL fails */
    unsigned algs;      /* JWS_ALG_BIT() allow-list (RFC 8725 §3.1); 0 = none */
    const char *typ;    /* required typ header (RFC 7515 §4.1.9 comparison); NULL = any */
    bool typ_optional;  /* with typ: a header without typ passes too */
    const char *issuer; /* required iss, exact; NULL = not checked */
    const char *const *audiences; /* aud must name one of them (RFC 7519 §4.1.3) */
    size_t naudiences;            /* 0 = aud not checked */
    int64_t leeway;               /* s of clock skew for exp/nbf/iat */
    int64_t now;                  /* s; 0 = the current time */
    bool ignore_times;            /* exp/nbf/iat not checked (an expired ID token is a hint) */
    bool require_exp;
    bool require_iat;
    bool require_jti;
    bool require_sub;
    bool require_client_id; /* RFC 9068 §2.2 */
} token_verify_opts;

/* The profile of the access tokens this server issues (RFC 9068 §2, §4): any of our algs, typ
 * at+jwt, iss == issuer, exp, iat, jti and client_id required, no audience check (each endpoint
 * decides what the audience means to it). keys and issuer are borrowed. */
token_verify_opts token_verify_access(const jwks *keys, const char *issuer, int64_t leeway);

/* Verifies tok[0..len) under o. On success *claims is the verified payload (owned,
 * json_decref); on failure *claims is NULL and the code is the first check that failed. */
idp_err token_verify(const char *tok, size_t len, const token_verify_opts *o, json_t **claims,
                     idp_error *err);

/* A short human text for a token_verify failure code ("token expired", "audience mismatch",
 * ...); "verification failed" for codes token_verify does not return. Static. */
const char *token_verify_reason(idp_err code);

#endif
