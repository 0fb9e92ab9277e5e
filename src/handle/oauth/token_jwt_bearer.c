/* grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer (RFC 7523 §2.1): a JWT assertion of a
 * trusted upstream issuer (the policy's `federation:` section) for an access token of ours.
 * The order (docs/FEDERATION.md): fed_verify with FED_USE_ASSERTION (exp, iat and jti required,
 * exp - iat <= max_lifetime, aud naming our issuer or token endpoint), then single use of the
 * (iss, jti) pair, the issuer's jwt_bearer.clients, scope, target, policy (token_fed_issue).
 * Every failure is invalid_grant (§3.1) except a client not on the list (unauthorized_client)
 * and server faults: keys unavailable or a replay store that cannot write is 503, never a token.
 * No refresh token. */
#include "handle/oauth/token_grant.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "federation/fed_registry.h"
#include "federation/fed_verify.h"
#include "handle/app.h"
#include "handle/oauth/token_fed.h"
#include "proto/resource.h"

#include <stdlib.h>
#include <string.h>

static size_t targets(const form *f, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->params[i].name, "resource") == 0) {
            if (n == cap) return cap + 1;
            out[n++] = f->params[i].value;
        }
    return n;
}

idp_err token_jwt_bearer(struct app *a, const http_request *rq, const form *f,
                         const client_entry *ce, http_response *rs, idp_error *err)
{
    /* a public client proves nothing about who asks: these grants need client authentication */
    if (ce->auth_method == CLIENT_AUTH_NONE)
        return IDP_FAIL(err, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                        "a public client cannot use this grant");
    const char *as = form_get(f, "assertion");
    if (!as) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "assertion is required");
    const char *const repeatable[] = {"resource", NULL};
    idp_err rc = form_check_unique(f, repeatable, err);
    if (rc != IDP_OK) return rc;
    const char *tg[RESOURCE_MAX + 1];
    size_t ntg = targets(f, tg, RESOURCE_MAX);
    if (ntg > RESOURCE_MAX)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_TARGET, "too many resource parameters");
    /* the audiences an assertion may name (RFC 7523 §3 item 3): our issuer and the token
     * endpoint's URL as discovery states it */
    size_t ilen = strlen(a->cfg->issuer);
    char *tokep = xmalloc(ilen + sizeof "/token");
    memcpy(tokep, a->cfg->issuer, ilen);
    memcpy(tokep + ilen, "/token", sizeof "/token");
    const char *auds[2] = {a->cfg->issuer, tokep};
    fed_verify_in in = {.token = as,
                        .len = strlen(as),
                        .use = FED_USE_ASSERTION,
                        .policy = rq->policy,
                        .keys = fed_registry_keys,
                        .keys_ctx = a->fed,
                        .audiences = auds,
                        .naudiences = 2};
    fed_verified v = {0};
    fed_reason why = FED_ACCEPTED;
    const fed_issuer *is = NULL;
    rc = fed_verify(&in, &v, &why, err);
    free(tokep);
    if (rc != IDP_OK) {
        is = token_fed_peek_issuer(rq, as);
        goto out;
    }
    is = v.is;
    /* single use (RFC 7523 §3 item 7): a store that cannot record it answers 5xx, never a token */
    int64_t now = time_now();
    rc = a->st->ops->fed_jti_use(a->st, is->issuer, v.jti, v.exp, now - is->clock_skew_s, 0, err);
    if (rc == IDP_ERR_CONFLICT) {
        why = FED_R_REPLAY;
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "the assertion was already used");
        goto out;
    }
    if (rc != IDP_OK) {
        why = FED_R_STORE;
        goto out;
    }
    rc = token_fed_issue(a, rq, ce, &v, form_get(f, "scope"), tg, ntg, NULL, false, rs, &why, err);
out:
    token_fed_decision(a, is, TOKEN_FED_GRANT_JWT_BEARER, why, err);
    fed_verify_clear(&v);
    return rc;
}
