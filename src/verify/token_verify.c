/* token_verify — JWT verification with one set of options (see token_verify.h). */
#include "verify/token_verify.h"

#include "core/jsonx.h"
#include "jose/jws.h"
#include "jose/jwt.h"

#include <string.h>

token_verify_opts token_verify_access(const jwks *keys, const char *issuer, int64_t leeway)
{
    return (token_verify_opts){.keys = keys,
                               .algs = JWS_ALGS_ALL,
                               .typ = "at+jwt", /* RFC 9068 §4 item 2 */
                               .issuer = issuer,
                               .leeway = leeway,
                               .require_exp = true,
                               .require_iat = true,
                               .require_jti = true,
                               .require_client_id = true};
}

idp_err token_verify(const char *tok, size_t len, const token_verify_opts *o, json_t **claims,
                     idp_error *err)
{
    *claims = NULL;
    if (!o->keys) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "no keys");
    jws_verify_opts vo = {.allowed_algs = o->algs,
                          .keys = o->keys,
                          .typ = o->typ,
                          .typ_optional = o->typ_optional,
                          .payload_json = true};
    jwt_check_opts co = {.issuer = o->issuer,
                         .audiences = o->audiences,
                         .naudiences = o->naudiences,
                         .now = o->now,
                         .leeway = o->leeway,
                         .ignore_times = o->ignore_times,
                         .require_exp = o->require_exp,
                         .require_iat = o->require_iat,
                         .require_jti = o->require_jti,
                         .require_sub = o->require_sub};
    jws_verified v;
    idp_err rc = jwt_verify(tok, len, &vo, &co, &v, err);
    if (rc != IDP_OK) return rc;
    if (o->require_client_id && !jsonx_str(v.payload, "client_id"))
        rc = IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "required claim client_id missing or not a string");
    else
        *claims = v.payload, v.payload = NULL; /* ownership moves to the caller */
    jws_verified_clear(&v);
    return rc;
}

const char *token_verify_reason(idp_err code)
{
    switch (code) {
    case IDP_ERR_JOSE_SIGNATURE:
        return "signature did not verify";
    case IDP_ERR_JWT_EXPIRED:
        return "token expired";
    case IDP_ERR_JWT_NOT_YET_VALID:
        return "token not yet valid";
    case IDP_ERR_JWT_ISSUER:
        return "issuer mismatch";
    case IDP_ERR_JWT_AUDIENCE:
        return "audience mismatch";
    case IDP_ERR_JWT_TYP:
        return "typ mismatch";
    case IDP_ERR_JOSE_ALG:
        return "algorithm not allowed";
    case IDP_ERR_JOSE_KEY:
        return "no usable key for this token";
    case IDP_ERR_JOSE_CRIT:
        return "unsupported critical header";
    case IDP_ERR_JOSE_FORMAT:
    case IDP_ERR_B64:
    case IDP_ERR_JSON:
        return "malformed token";
    case IDP_ERR_TOO_LARGE:
        return "token too large";
    case IDP_ERR_JWT_CLAIM:
        return "missing or malformed claim";
    default:
        return "verification failed";
    }
}
