/* grant_type=client_credentials (RFC 6749 §4.4): a JWT access token (RFC 9068) for the
 * authenticated client itself; scope per RFC 6749 §3.3, audience per RFC 8707. No database
 * access: everything comes from the request's snapshots. */
#include "handle/oauth/token_grant.h"

#include "core/timeutil.h"
#include "handle/app.h"
#include "jose/jws.h"
#include "proto/resource.h"
#include "proto/scope.h"
#include "proto/token_claims.h"
#include "oauth/token_mint.h"
#include "oauth/token_policy.h"

#include <string.h>

static size_t resources(const form *f, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->params[i].name, "resource") == 0 && n < cap) out[n++] = f->params[i].value;
        else if (strcmp(f->params[i].name, "resource") == 0) return cap + 1;
    return n;
}

idp_err token_client_credentials(struct app *a, const http_request *rq, const form *f,
                                 const client_entry *ce, http_response *rs, idp_error *err)
{
    if (ce->auth_method == CLIENT_AUTH_NONE)
        return IDP_FAIL(err, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT, "a public client cannot use client_credentials");
    idp_buf scope, tok, granted, claims;
    buf_init(&scope, 2 * SCOPE_MAX_LEN);
    buf_init(&tok, JWS_MAX_LEN);
    buf_init(&granted, 2 * SCOPE_MAX_LEN);
    buf_init(&claims, JWS_MAX_LEN);
    const char *req_res[RESOURCE_MAX + 1], *aud[RESOURCE_MAX];
    size_t naud = 0, nres = resources(f, req_res, RESOURCE_MAX);
    char jti[23];
    idp_err rc = scope_resolve(form_get(f, "scope"), ce->scopes, ce->nscopes, &scope, err);
    if (rc != IDP_OK) goto out;
    if (nres > RESOURCE_MAX) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_TARGET, "too many resource parameters");
        goto out;
    }
    rc = resource_select(req_res, nres, ce->audiences, ce->naudiences, a->cfg->issuer, aud, &naud, err);
    if (rc != IDP_OK) goto out;
    /* the policy grants what the client's roles hold and the audience accepts (DESIGN §7);
     * without one the registered scope stands as resolved (no copy on the hot path) */
    idp_buf *sc = &scope;
    if (rq->policy) {
        policy_subject subj = {.client_id = ce->client_id};
        rc = token_policy_apply(rq->policy, &subj, buf_cstr(&scope), aud, naud, a->cfg->issuer,
                                &granted, &claims, err);
        if (rc != IDP_OK) goto out;
        sc = &granted;
    }
    int64_t ttl = token_mint_ttl(a->cfg, ce->token_ttl);
    int64_t now = time_now();
    token_claims_new_jti(jti);
    token_claims tc = {.iss = a->cfg->issuer, .sub = ce->client_id, .aud = aud, .naud = naud,
                       .iat = now, .exp = now + ttl, .jti = jti, .client_id = ce->client_id,
                       .scope = buf_cstr(sc), .extra = claims.len ? buf_cstr(&claims) : NULL};
    rc = token_mint_access(rq->keys, token_mint_alg(a->cfg, ce->alg), &tc, &tok, err);
    if (rc != IDP_OK) goto out;
    rs->content_type = "application/json";
    token_mint_response r = {.access_token = buf_cstr(&tok), .expires_in = ttl, .scope = buf_cstr(sc)};
    rc = token_mint_respond(&r, &rs->body, err);
out:
    buf_free(&scope);
    buf_free(&tok);
    buf_free(&granted);
    buf_free(&claims);
    return rc;
}
