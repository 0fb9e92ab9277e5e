#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    int http;
    const char *oauth;
    const char *scim;
} err_table[IDP__ERR_COUNT] = {
    [IDP_OK] = {"ok", 200, NULL, NULL},
    [IDP_ERR_NOMEM] = {"nomem", 500, "server_error", NULL},
    [IDP_ERR_INTERNAL] = {"internal", 500, "server_error", NULL},
    [IDP_ERR_CRYPTO] = {"crypto", 500, "server_error", NULL},
    [IDP_ERR_IO] = {"io", 500, "server_error", NULL},
    [IDP_ERR_STORE] = {"store", 500, "server_error", NULL},
    [IDP_ERR_CONFIG] = {"config", 500, "server_error", NULL},
    [IDP_ERR_NOT_FOUND] = {"not_found", 404, "invalid_request", NULL},
    [IDP_ERR_CONFLICT] = {"conflict", 409, "invalid_request", "uniqueness"},
    [IDP_ERR_INVALID] = {"invalid", 400, "invalid_request", "invalidValue"},
    [IDP_ERR_TOO_LARGE] = {"too_large", 413, "invalid_request", "tooMany"},
    [IDP_ERR_B64] = {"b64", 400, "invalid_request", "invalidValue"},
    [IDP_ERR_JSON] = {"json", 400, "invalid_request", "invalidSyntax"},
    [IDP_ERR_JOSE_FORMAT] = {"jose_format", 400, "invalid_request", NULL},
    [IDP_ERR_JOSE_ALG] = {"jose_alg", 400, "invalid_request", NULL},
    [IDP_ERR_JOSE_KEY] = {"jose_key", 400, "invalid_request", NULL},
    [IDP_ERR_JOSE_SIGNATURE] = {"jose_signature", 400, "invalid_request", NULL},
    [IDP_ERR_JOSE_CRIT] = {"jose_crit", 400, "invalid_request", NULL},
    [IDP_ERR_JWT_CLAIM] = {"jwt_claim", 400, "invalid_request", NULL},
    [IDP_ERR_JWT_EXPIRED] = {"jwt_expired", 400, "invalid_request", NULL},
    [IDP_ERR_JWT_NOT_YET_VALID] = {"jwt_not_yet_valid", 400, "invalid_request", NULL},
    [IDP_ERR_JWT_ISSUER] = {"jwt_issuer", 400, "invalid_request", NULL},
    [IDP_ERR_JWT_AUDIENCE] = {"jwt_audience", 400, "invalid_request", NULL},
    [IDP_ERR_JWT_TYP] = {"jwt_typ", 400, "invalid_request", NULL},
    [IDP_ERR_JWT_REVOKED] = {"jwt_revoked", 400, "invalid_request", NULL},
    [IDP_ERR_OAUTH_INVALID_REQUEST] = {"invalid_request", 400, "invalid_request", NULL},
    /* RFC 6749 §5.2: invalid_client is 401 (with WWW-Authenticate when Basic was used). */
    [IDP_ERR_OAUTH_INVALID_CLIENT] = {"invalid_client", 401, "invalid_client", NULL},
    [IDP_ERR_OAUTH_INVALID_GRANT] = {"invalid_grant", 400, "invalid_grant", NULL},
    [IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT] = {"unauthorized_client", 400, "unauthorized_client", NULL},
    [IDP_ERR_OAUTH_UNSUPPORTED_GRANT_TYPE] = {"unsupported_grant_type", 400,
                                              "unsupported_grant_type", NULL},
    [IDP_ERR_OAUTH_INVALID_SCOPE] = {"invalid_scope", 400, "invalid_scope", NULL},
    [IDP_ERR_OAUTH_INVALID_TARGET] = {"invalid_target", 400, "invalid_target", NULL},
    [IDP_ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE] = {"unsupported_token_type", 400,
                                              "unsupported_token_type", NULL},
    [IDP_ERR_HTTP_METHOD] = {"method_not_allowed", 405, "invalid_request", NULL},
    [IDP_ERR_HTTP_MEDIA_TYPE] = {"unsupported_media_type", 415, "invalid_request", NULL},
    [IDP_ERR_UNAUTHORIZED] = {"unauthorized", 401, "invalid_token", NULL},
    [IDP_ERR_FORBIDDEN] = {"forbidden", 403, "insufficient_scope", NULL},
    [IDP_ERR_RATE_LIMITED] = {"rate_limited", 429, "slow_down", NULL},
    [IDP_ERR_PRECONDITION] = {"precondition_failed", 412, "invalid_request", NULL},
    [IDP_ERR_NOT_MODIFIED] = {"not_modified", 304, "invalid_request", NULL},
    /* RFC 6749 §4.1.2.1 temporarily_unavailable; RFC 9110 §15.6.4 */
    [IDP_ERR_UNAVAILABLE] = {"unavailable", 503, "temporarily_unavailable", NULL},
    [IDP_ERR_SCIM_INVALID_FILTER] = {"invalid_filter", 400, "invalid_request", "invalidFilter"},
    [IDP_ERR_SCIM_INVALID_PATH] = {"invalid_path", 400, "invalid_request", "invalidPath"},
    [IDP_ERR_SCIM_NO_TARGET] = {"no_target", 400, "invalid_request", "noTarget"},
    [IDP_ERR_SCIM_MUTABILITY] = {"mutability", 400, "invalid_request", "mutability"},
    [IDP_ERR_SCIM_INVALID_VALUE] = {"invalid_value", 400, "invalid_request", "invalidValue"},
    [IDP_ERR_SCIM_INVALID_SYNTAX] = {"invalid_syntax", 400, "invalid_request", "invalidSyntax"},
    [IDP_ERR_SCIM_TOO_MANY] = {"too_many", 400, "invalid_request", "tooMany"},
    [IDP_ERR_SCIM_SENSITIVE] = {"sensitive", 403, "invalid_request", "sensitive"},
};

idp_err idp_error_set(idp_error *e, idp_err code, const char *func, int line, const char *fmt, ...)
{
    if (!e) return code;
    e->code = code;
    e->func = func;
    e->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

static int valid(idp_err c)
{
    return (int)c >= 0 && c < IDP__ERR_COUNT && err_table[c].name;
}

const char *idp_err_name(idp_err c)
{
    return valid(c) ? err_table[c].name : "unknown";
}

int idp_err_http_status(idp_err c)
{
    return valid(c) ? err_table[c].http : 500;
}

const char *idp_err_oauth(idp_err c)
{
    return valid(c) && err_table[c].oauth ? err_table[c].oauth : "server_error";
}

const char *idp_err_scim_type(idp_err c)
{
    return valid(c) ? err_table[c].scim : NULL;
}
