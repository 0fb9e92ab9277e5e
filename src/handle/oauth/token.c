/* POST /token (RFC 6749 §3.2): form body, client authentication, then the grant's own file. */
#include "handle/endpoints.h"

#include "http/request_form.h"
#include "handle/oauth/client_auth.h"
#include "handle/oauth/token_grant.h"
#include "proto/token_exchange.h"

#include <stdbool.h>
#include <string.h>

/* policy_listed: the grant is authorised by the policy, not by the client's registered
 * grant_types. The federated grants (RFC 8693 token exchange, RFC 7523 JWT bearer) are allowed
 * per trusted issuer: the issuer's `token_exchange.clients` / `jwt_bearer.clients` in the
 * policy's `federation:` section name the clients (an own-token exchange: the token's own
 * client or a listed one), and the grant checks that list after verifying the token
 * (unauthorized_client otherwise). Requiring the URN in grant_types as well would make every
 * trust decision two settings in two places that must agree. */
static const struct {
    const char *grant_type;
    token_grant_fn fn;
    bool policy_listed;
} grants[] = {
    {"client_credentials", token_client_credentials, false},
    {"authorization_code", token_authorization_code, false},
    {"refresh_token", token_refresh, false},
    {TX_GRANT_TYPE, token_exchange, true},
    {TX_JWT_BEARER_GRANT_TYPE, token_jwt_bearer, true},
};

idp_err token_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    const client_entry *ce = NULL;
    rs->no_store = true; /* RFC 6749 §5.1, also for errors (§5.2) */
    idp_err rc = request_form(rq, &f, err);
    if (rc != IDP_OK) return rc;
    if ((rc = client_auth_authenticate(a, rq, &f, rs, &ce, err)) != IDP_OK) return rc;
    const char *gt = form_get(&f, "grant_type");
    if (!gt) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "grant_type is required");
    for (size_t i = 0; i < sizeof grants / sizeof grants[0]; i++) {
        if (strcmp(gt, grants[i].grant_type) != 0) continue;
        if (!grants[i].policy_listed && !client_entry_has_grant(ce, gt))
            return IDP_FAIL(err, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                            "the client is not allowed to use this grant type");
        return grants[i].fn(a, rq, &f, ce, rs, err);
    }
    return IDP_FAIL(err, IDP_ERR_OAUTH_UNSUPPORTED_GRANT_TYPE, "unsupported grant_type");
}
