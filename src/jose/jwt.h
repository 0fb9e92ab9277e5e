/* jwt — JWT claim checks (RFC 7519 §4.1, RFC 8725, RFC 9068 §4) on a verified payload. */
#ifndef IDPD_JOSE_JWT_H
#define IDPD_JOSE_JWT_H

#include "core/err.h"
#include "jose/jws.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct jwt_check_opts {
    const char *issuer;      /* required `iss` value, exact match; NULL = not checked */
    const char *const *audiences; /* one of them must be `aud` or one of its array items */
    size_t naudiences;       /* 0 = aud not checked (its type still is) */
    int64_t now;             /* seconds; 0 = time_now() */
    int64_t leeway;          /* seconds of clock skew allowed for exp/nbf/iat */
    bool ignore_times;       /* exp, nbf and iat not checked at all (require_exp/iat unused) */
    bool require_exp;        /* exp must be present (default for access tokens) */
    bool require_iat;
    bool require_jti;
    bool require_sub;
    int64_t max_iat_future;  /* reject iat further than now + leeway (always checked when present) */
} jwt_check_opts;

/* Checks, in this order, each with its own code:
 *   exp: number; now >= exp + leeway -> IDP_ERR_JWT_EXPIRED
 *   nbf: number; now + leeway < nbf -> IDP_ERR_JWT_NOT_YET_VALID
 *   iat: number; iat > now + leeway -> IDP_ERR_JWT_NOT_YET_VALID
 *   iss: string, == issuer -> IDP_ERR_JWT_ISSUER
 *   aud: string or array of strings, contains one of audiences -> IDP_ERR_JWT_AUDIENCE
 *   wrong JSON types of registered claims, missing required ones -> IDP_ERR_JWT_CLAIM */
idp_err jwt_check_claims(const json_t *payload, const jwt_check_opts *opts, idp_error *err);

/* jws_verify (payload_json forced) then jwt_check_claims. On success *out holds the result. */
idp_err jwt_verify(const char *token, size_t len, const jws_verify_opts *vopts,
                   const jwt_check_opts *copts, jws_verified *out, idp_error *err);

#endif
