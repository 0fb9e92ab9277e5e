#include "oauth/access_token.h"

#include "core/jsonx.h"
#include "jose/jwt.h"

#include <string.h>

idp_err access_token_verify(const jwks *keys, const char *issuer, int64_t leeway, int64_t now,
                            const char *tok, size_t len, jws_verified *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!keys) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "no keys");
    jws_verify_opts vo = {
        .allowed_algs = JWS_ALGS_ALL, .keys = keys, .typ = "at+jwt", .payload_json = true};
    jwt_check_opts co = {.issuer = issuer, .now = now, .leeway = leeway, .require_exp = true,
                         .require_iat = true, .require_jti = true};
    idp_err rc = jwt_verify(tok, len, &vo, &co, out, err);
    if (rc != IDP_OK) {
        jws_verified_clear(out);
        return rc;
    }
    if (!jsonx_str(out->payload, "jti") || !jsonx_str(out->payload, "client_id")) {
        jws_verified_clear(out);
        return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "jti and client_id required");
    }
    return IDP_OK;
}
