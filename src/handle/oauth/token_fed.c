#include "handle/oauth/token_fed.h"

#include "core/log.h"
#include "core/timeutil.h"
#include "federation/fed_registry.h"
#include "federation/fed_subject.h"
#include "handle/app.h"
#include "handle/oauth/user_tokens.h"
#include "jose/jws.h"
#include "oauth/token_mint.h"
#include "oauth/token_policy.h"
#include "proto/resource.h"
#include "proto/scope.h"
#include "proto/token_claims.h"
#include "proto/token_exchange.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const fed_issuer *token_fed_peek_issuer(const http_request *rq, const char *tok)
{
    char iss[1024];
    if (!tok || !rq->policy || !fed_verify_peek_iss(tok, strlen(tok), iss, sizeof iss)) return NULL;
    return policy_fed_by_issuer(rq->policy, iss, strlen(iss));
}

void token_fed_decision(struct app *a, const fed_issuer *is, const char *grant, fed_reason why,
                        const idp_error *err)
{
    fed_registry_count(a->fed, is, grant, why);
    if (why == FED_ACCEPTED) return;
    log_msg(LOG_INFO, "federated %s refused: issuer %s, reason %s: %s", grant,
            is ? is->name : "(unknown)", fed_verify_reason_name(why), err ? err->msg : "");
}

idp_err token_fed_mint(struct app *a, const http_request *rq, const token_fed_mint_in *in,
                       http_response *rs, fed_reason *why, idp_error *err)
{
    int64_t ttl = token_mint_ttl(a->cfg, in->ce->token_ttl);
    int64_t now = time_now();
    int64_t exp = now + ttl;
    if (in->max_exp > 0 && in->max_exp < exp) exp = in->max_exp;
    if (exp <= now) {
        *why = FED_R_EXPIRED;
        return IDP_FAIL(err,
                        in->exchange ? IDP_ERR_OAUTH_INVALID_REQUEST : IDP_ERR_OAUTH_INVALID_GRANT,
                        "the presented token has expired");
    }
    char rnd[23], jti[USER_JTI_MAX];
    token_claims_new_jti(rnd);
    if (in->user)
        snprintf(jti, sizeof jti, "%s.%" PRId64, rnd, in->epoch);
    else
        snprintf(jti, sizeof jti, "%s", rnd);
    idp_buf tok;
    buf_init(&tok, JWS_MAX_LEN);
    token_claims tc = {.iss = a->cfg->issuer,
                       .sub = in->sub,
                       .aud = in->aud,
                       .naud = in->naud,
                       .iat = now,
                       .exp = exp,
                       .jti = jti,
                       .client_id = in->ce->client_id,
                       .scope = in->scope,
                       .extra = in->extra && in->extra[0] ? in->extra : NULL};
    idp_err rc = token_mint_access(rq->keys, token_mint_alg(a->cfg, in->ce->alg), &tc, &tok, err);
    if (rc == IDP_OK) {
        rs->content_type = "application/json";
        rs->no_store = true;
        token_mint_response r = {.access_token = buf_cstr(&tok),
                                 .issued_token_type =
                                     in->exchange ? TX_TYPE_ACCESS_TOKEN_URN : NULL,
                                 .expires_in = exp - now,
                                 .scope = in->scope};
        rc = token_mint_respond(&r, &rs->body, err);
    }
    if (rc != IDP_OK) *why = FED_R_STORE; /* a server fault: never a token */
    buf_free(&tok);
    return rc;
}

idp_err token_fed_issue(struct app *a, const http_request *rq, const client_entry *ce,
                        const fed_verified *v, const char *scope, const char *const *targets,
                        size_t ntargets, const json_t *act, bool exchange, http_response *rs,
                        fed_reason *why, idp_error *err)
{
    /* the client allow-list of this issuer: these grants are authorised by the policy */
    if (!policy_fed_client_allowed(v->is, !exchange, ce->client_id)) {
        *why = FED_R_CLIENT;
        return IDP_FAIL(err, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                        "the client may not use this issuer's tokens for this grant");
    }
    fed_subject s = {0};
    idp_buf sc, granted, pclaims, extra;
    buf_init(&sc, 2 * SCOPE_MAX_LEN);
    buf_init(&granted, 2 * SCOPE_MAX_LEN);
    buf_init(&pclaims, JWS_MAX_LEN);
    buf_init(&extra, JWS_MAX_LEN);
    const char *aud[RESOURCE_MAX];
    size_t naud = 0;
    idp_err rc = fed_subject_resolve(a->st, v, true, &s, why, err);
    if (rc != IDP_OK) goto out;
    *why = FED_R_SCOPE;
    if ((rc = scope_resolve(scope, ce->scopes, ce->nscopes, &sc, err)) != IDP_OK) goto out;
    *why = FED_R_TARGET;
    rc = resource_select(targets, ntargets, ce->audiences, ce->naudiences, a->cfg->issuer, aud,
                         &naud, err);
    if (rc != IDP_OK) goto out;
    *why = FED_R_POLICY;
    policy_subject ps = fed_subject_policy(&s, v);
    rc = token_policy_apply(rq->policy, &ps, buf_cstr(&sc), aud, naud, a->cfg->issuer, &granted,
                            &pclaims, err);
    if (rc != IDP_OK) goto out;
    if ((rc = token_exchange_extra_claims(s.mapped, buf_cstr(&pclaims), act, &extra, err)) != IDP_OK) goto out;
    *why = FED_ACCEPTED;
    token_fed_mint_in mi = {.ce = ce,
                            .sub = s.sub,
                            .user = s.local,
                            .epoch = s.local ? s.user.token_epoch : 0,
                            .aud = aud,
                            .naud = naud,
                            .scope = buf_cstr(&granted),
                            .extra = buf_cstr(&extra),
                            .max_exp = v->exp,
                            .exchange = exchange};
    rc = token_fed_mint(a, rq, &mi, rs, why, err);
out:
    fed_subject_clear(&s);
    buf_free(&sc);
    buf_free(&granted);
    buf_free(&pclaims);
    buf_free(&extra);
    return rc;
}
