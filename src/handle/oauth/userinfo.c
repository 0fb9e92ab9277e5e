/* GET and POST /userinfo (OIDC Core §5.3): a Bearer access token of ours (RFC 6750 §2.1) with
 * the openid scope, issued to a client that still exists, for a user who is still active with
 * the token_epoch it was issued under; answers the user's claims released by the token's scope.
 * Errors are RFC 6750 §3 challenges. */
#include "handle/endpoints.h"
#include "proto/scope.h"

#include "core/jsonx.h"
#include "handle/app.h"
#include "keys/keyset.h"
#include "proto/authz_request.h"
#include "proto/bearer.h"
#include "oauth/client_cache.h"
#include "verify/token_verify.h"
#include "handle/oauth/user_tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An RFC 6750 §3 error response (realm "idpd"): the status, the challenge's error and the JSON
 * body's error all come from code's row of the error table; desc is the error_description. */
static idp_err challenge(http_response *rs, idp_err code, const char *desc)
{
    idp_error e = {.code = code, .func = __func__, .line = __LINE__};
    snprintf(e.msg, sizeof e.msg, "%s", desc);
    response_bearer_error(rs, "idpd", &e);
    return IDP_OK;
}

idp_err userinfo_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    const char *tok = NULL;
    size_t n = 0;
    rs->no_store = true;
    idp_err prc = bearer_parse(rq->authorization, &tok, &n, NULL);
    /* §3.1: no error code when no credentials */
    if (prc == IDP_ERR_NOT_FOUND) return challenge(rs, IDP_ERR_BEARER_MISSING, "");
    if (prc == IDP_ERR_TOO_LARGE) /* longer than any token we issue */
        return challenge(rs, IDP_ERR_UNAUTHORIZED, "the access token is invalid or expired");
    if (prc != IDP_OK)
        return challenge(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "malformed Bearer credentials");
    char *t = strndup(tok, n);
    json_t *claims = NULL;
    idp_error verr = {0};
    store_user u = {0};
    idp_err rc = IDP_OK;
    token_verify_opts vo = token_verify_access(rq->keys ? keyset_public(rq->keys) : NULL,
                                               a->cfg->issuer, 0);
    if (token_verify(t, n, &vo, &claims, &verr) != IDP_OK) {
        challenge(rs, IDP_ERR_UNAUTHORIZED, "the access token is invalid or expired");
        goto out;
    }
    user_tokens_state st = USER_TOKENS_CLIENT_GONE;
    bool user = false;
    int64_t epoch = 0;
    const char *scope = jsonx_str(claims, "scope");
    if ((rc = user_tokens_access_state(a, rq, claims, &st, &user, &epoch, &u, err)) != IDP_OK) goto out;
    if (st == USER_TOKENS_CLIENT_GONE) {
        challenge(rs, IDP_ERR_UNAUTHORIZED, "the access token's client no longer exists");
        goto out;
    }
    if (st == USER_TOKENS_REVOKED || !user) {
        challenge(rs, IDP_ERR_UNAUTHORIZED,
                  st == USER_TOKENS_REVOKED ? "the access token was revoked" : "the access token is not a user's");
        goto out;
    }
    if (!scope_has(scope, "openid")) {
        challenge(rs, IDP_ERR_FORBIDDEN, "the access token lacks the openid scope");
        goto out;
    }
    if (st == USER_TOKENS_USER_ENDED) {
        challenge(rs, IDP_ERR_UNAUTHORIZED, "the user's access has ended");
        goto out;
    }
    json_t *c = json_pack("{s:s}", "sub", u.id);
    user_tokens_claims(a, &u, scope, c);
    char *body = jsonx_dump(c);
    json_decref(c);
    rs->content_type = "application/json";
    buf_puts(&rs->body, body ? body : "{}");
    free(body);
out:
    free(t);
    json_decref(claims);
    store_user_clear(&u);
    return rc;
}
