/* grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693): a subject token (and
 * optionally an actor token, for delegation) for an access token of ours.
 *
 * The subject token is either
 *  - a token of a trusted upstream issuer (the policy's `federation:` section) presented as
 *    ...:access_token, ...:id_token or ...:jwt: fed_verify in its order, then the issuer's
 *    token_exchange.clients, the subject (fed_subject: mapping, local user by provision), scope,
 *    target and policy (token_fed_issue); or
 *  - one of idpd's own access tokens (its unverified iss is our issuer): verified with our keys
 *    and introspection's "active" rules (its client exists, its jti is not revoked, its user is
 *    still active with the token's epoch). The exchange then only narrows: the scope is a
 *    subset of the subject token's, the audience one the exchanging client may target, and the
 *    exchanging client must be the token's own client or listed in some issuer's
 *    token_exchange.clients (a gateway trusted for exchange). These exchanges involve no
 *    upstream issuer and are not counted in idpd_federation_tokens_total (unless the actor
 *    token is an upstream one).
 * The actor token (RFC 8693 §4.1) is verified the same way; the issued token's act is
 * {"sub": actor subject, "iss": actor issuer}, the subject token's own act nested inside.
 *
 * Errors (RFC 8693 §2.2.2): a subject or actor token that does not verify, an unknown token type
 * or a requested_token_type other than access_token is invalid_request; a client not listed is
 * unauthorized_client; scope invalid_scope; audience/resource invalid_target; upstream keys
 * unavailable 503 temporarily_unavailable. The issued token never outlives the subject token.
 * No refresh token. */
#include "handle/oauth/token_grant.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "federation/fed_registry.h"
#include "federation/fed_verify.h"
#include "handle/app.h"
#include "handle/oauth/token_fed.h"
#include "handle/oauth/user_tokens.h"
#include "jose/jws.h"
#include "keys/keyset.h"
#include "oauth/policy_admin.h"
#include "oauth/token_policy.h"
#include "proto/resource.h"
#include "proto/scope.h"
#include "proto/token_exchange.h"
#include "verify/token_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rewrites a verification failure as invalid_request (RFC 8693 §2.2.2), keeping its text. */
static idp_err invalid_request(idp_error *err, const char *what)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
    return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "%s: %s", what, msg);
}

static fed_use use_of(tx_token_type t)
{
    switch (t) {
    case TX_TYPE_ID_TOKEN:
        return FED_USE_ID_TOKEN;
    case TX_TYPE_JWT:
        return FED_USE_JWT;
    default:
        return FED_USE_ACCESS_TOKEN;
    }
}

/* Whether tok's unverified iss is our own issuer. */
static bool own_token(const struct app *a, const char *tok)
{
    char iss[1024];
    return fed_verify_peek_iss(tok, strlen(tok), iss, sizeof iss) && strcmp(iss, a->cfg->issuer) == 0;
}

/* One of our access tokens, verified and active (introspection's rules); *claims owned. */
static idp_err own_verify(struct app *a, const http_request *rq, const char *what, const char *tok,
                          tx_token_type type, json_t **claims, bool *user, int64_t *epoch,
                          idp_error *err)
{
    *claims = NULL;
    *user = false;
    *epoch = 0;
    if (type == TX_TYPE_ID_TOKEN)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "%s: idpd's own tokens are exchanged as access tokens", what);
    token_verify_opts vo =
        token_verify_access(rq->keys ? keyset_public(rq->keys) : NULL, a->cfg->issuer, 0);
    idp_error verr = {0};
    idp_err vrc = token_verify(tok, strlen(tok), &vo, claims, &verr);
    if (vrc != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "%s is not valid: %s", what,
                        token_verify_reason(vrc));
    user_tokens_state st = USER_TOKENS_CLIENT_GONE;
    store_user u;
    idp_err rc = user_tokens_access_state(a, rq, *claims, &st, user, epoch, &u, err);
    store_user_clear(&u);
    if (rc == IDP_OK && st != USER_TOKENS_ACTIVE)
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "%s is not active", what);
    if (rc != IDP_OK) {
        json_decref(*claims);
        *claims = NULL;
    }
    return rc;
}

/* The exchanging client of an own subject token: the token's client or a listed gateway. */
static bool own_client_allowed(const http_request *rq, const client_entry *ce, const char *tcid)
{
    if (tcid && strcmp(tcid, ce->client_id) == 0) return true;
    for (size_t i = 0; i < policy_fed_count(rq->policy); i++)
        if (policy_fed_client_allowed(policy_fed_at(rq->policy, i), false, ce->client_id))
            return true;
    return false;
}

/* The actor token: *act_sub / *act_iss (owned) for the act claim. *is: the upstream issuer
 * when the actor token is an upstream one (for counting), else NULL. */
static idp_err actor(struct app *a, const http_request *rq, const client_entry *ce,
                     const tx_request *tr, char **act_sub, char **act_iss, const fed_issuer **is,
                     fed_reason *why, idp_error *err)
{
    *act_sub = *act_iss = NULL;
    *is = NULL;
    if (own_token(a, tr->actor_token)) {
        json_t *c = NULL;
        bool user;
        int64_t epoch;
        idp_err rc = own_verify(a, rq, "actor_token", tr->actor_token, tr->actor_type, &c, &user,
                                &epoch, err);
        if (rc != IDP_OK) return rc;
        *act_sub = xstrdup(jsonx_str(c, "sub"));
        *act_iss = xstrdup(a->cfg->issuer);
        json_decref(c);
        return IDP_OK;
    }
    fed_verify_in in = {.token = tr->actor_token,
                        .len = strlen(tr->actor_token),
                        .use = use_of(tr->actor_type),
                        .policy = rq->policy,
                        .keys = fed_registry_keys,
                        .keys_ctx = a->fed};
    fed_verified v = {0};
    idp_err rc = fed_verify(&in, &v, why, err);
    if (rc != IDP_OK) {
        *is = token_fed_peek_issuer(rq, tr->actor_token);
        return rc == IDP_ERR_OAUTH_INVALID_GRANT ? invalid_request(err, "actor_token") : rc;
    }
    *is = v.is;
    if (!policy_fed_client_allowed(v.is, false, ce->client_id)) {
        *why = FED_R_CLIENT;
        fed_verify_clear(&v);
        return IDP_FAIL(err, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                        "the client may not use this issuer's tokens as actor tokens");
    }
    *act_sub = xstrdup(v.subject);
    *act_iss = xstrdup(v.is->issuer);
    fed_verify_clear(&v);
    return IDP_OK;
}

/* Splits a space-separated list into owned words (for scope_resolve's allowed list). */
static size_t split(const char *s, char **out, size_t cap)
{
    size_t n = 0;
    for (const char *p = s ? s : ""; *p && n < cap;) {
        while (*p == ' ')
            p++;
        size_t k = strcspn(p, " ");
        if (k) out[n++] = xstrndup(p, k);
        p += k;
    }
    return n;
}

#define OWN_SCOPES_MAX 256

/* The exchange of one of our own access tokens (claims verified and active). */
static idp_err own_exchange(struct app *a, const http_request *rq, const client_entry *ce,
                            const tx_request *tr, const json_t *claims, bool user, int64_t epoch,
                            const json_t *act, http_response *rs, idp_error *err)
{
    const char *tcid = jsonx_str(claims, "client_id"), *sub = jsonx_str(claims, "sub");
    if (!own_client_allowed(rq, ce, tcid))
        return IDP_FAIL(err, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                        "the client may not exchange another client's tokens");
    if (!sub) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "subject_token has no sub");
    char *have[OWN_SCOPES_MAX];
    size_t nhave = split(jsonx_str(claims, "scope"), have, OWN_SCOPES_MAX);
    char **groups = NULL;
    size_t ngroups = 0;
    idp_buf sc, granted, pclaims, extra;
    buf_init(&sc, 2 * SCOPE_MAX_LEN);
    buf_init(&granted, 2 * SCOPE_MAX_LEN);
    buf_init(&pclaims, JWS_MAX_LEN);
    buf_init(&extra, JWS_MAX_LEN);
    const char *aud[RESOURCE_MAX];
    size_t naud = 0;
    store_user u = {0};
    /* narrowing: never a scope the subject token does not carry */
    idp_err rc = scope_resolve(tr->scope, have, nhave, &sc, err);
    if (rc != IDP_OK) goto out;
    rc = resource_select(tr->targets, tr->ntargets, ce->audiences, ce->naudiences, a->cfg->issuer,
                         aud, &naud, err);
    if (rc != IDP_OK) goto out;
    /* the policy for the new audience, evaluated for the token's subject now: the user's
     * current groups, or the token's client; a federated subject without a local user
     * ("<name>:<sub>") keeps the narrowed scope (its issuer token is not at hand any more) */
    const char *scope = buf_cstr(&sc);
    if (rq->policy && (user || (tcid && strcmp(sub, tcid) == 0))) {
        policy_subject ps = {0};
        if (user) {
            bool live = false;
            if ((rc = user_tokens_user_live(a, sub, epoch, &u, &live, err)) != IDP_OK) goto out;
            if (!live) {
                rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "subject_token is not active");
                goto out;
            }
            if ((rc = policy_admin_groups(a->st, sub, &groups, &ngroups, err)) != IDP_OK) goto out;
            ps.user_name = u.user_name;
            ps.groups = (const char *const *)groups;
            ps.ngroups = ngroups;
        } else {
            ps.client_id = tcid;
        }
        rc = token_policy_apply(rq->policy, &ps, scope, aud, naud, a->cfg->issuer, &granted,
                                &pclaims, err);
        if (rc != IDP_OK) goto out;
        scope = buf_cstr(&granted);
    }
    if ((rc = token_exchange_extra_claims(NULL, buf_cstr(&pclaims), act, &extra, err)) != IDP_OK) goto out;
    int64_t exp = 0;
    jsonx_int(claims, "exp", &exp);
    fed_reason why = FED_ACCEPTED;
    token_fed_mint_in mi = {.ce = ce,
                            .sub = sub,
                            .user = user,
                            .epoch = epoch,
                            .aud = aud,
                            .naud = naud,
                            .scope = scope,
                            .extra = buf_cstr(&extra),
                            .max_exp = exp,
                            .exchange = true};
    rc = token_fed_mint(a, rq, &mi, rs, &why, err);
out:
    for (size_t i = 0; i < nhave; i++)
        free(have[i]);
    policy_admin_groups_free(groups, ngroups);
    store_user_clear(&u);
    buf_free(&sc);
    buf_free(&granted);
    buf_free(&pclaims);
    buf_free(&extra);
    return rc;
}

idp_err token_exchange(struct app *a, const http_request *rq, const form *f, const client_entry *ce,
                       http_response *rs, idp_error *err)
{
    /* a public client proves nothing about who asks: these grants need client authentication */
    if (ce->auth_method == CLIENT_AUTH_NONE)
        return IDP_FAIL(err, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                        "a public client cannot use this grant");
    tx_param params[FORM_MAX_PARAMS];
    for (size_t i = 0; i < f->n; i++)
        params[i] = (tx_param){f->params[i].name, f->params[i].value};
    tx_request tr;
    idp_err rc = token_exchange_parse(params, f->n, &tr, err);
    if (rc != IDP_OK) return rc;
    char *act_sub = NULL, *act_iss = NULL;
    json_t *act = NULL, *own = NULL;
    fed_verified v = {0};
    fed_reason why = FED_ACCEPTED;
    const fed_issuer *is = NULL; /* the upstream issuer the decision is counted under */
    bool upstream = false;       /* an upstream token is involved: count the decision */
    bool own_subject = own_token(a, tr.subject_token);
    bool user = false;
    int64_t epoch = 0;
    /* 1. the subject token */
    if (own_subject) {
        rc = own_verify(a, rq, "subject_token", tr.subject_token, tr.subject_type, &own, &user,
                        &epoch, err);
    } else {
        upstream = true;
        fed_verify_in in = {.token = tr.subject_token,
                            .len = strlen(tr.subject_token),
                            .use = use_of(tr.subject_type),
                            .policy = rq->policy,
                            .keys = fed_registry_keys,
                            .keys_ctx = a->fed};
        rc = fed_verify(&in, &v, &why, err);
        if (rc == IDP_OK)
            is = v.is;
        else {
            is = token_fed_peek_issuer(rq, tr.subject_token);
            /* RFC 8693 §2.2.2: an invalid subject token is invalid_request */
            if (rc == IDP_ERR_OAUTH_INVALID_GRANT) rc = invalid_request(err, "subject_token");
        }
    }
    if (rc != IDP_OK) goto out;
    /* the issuer's client allow-list before any further token is looked at */
    if (!own_subject && !policy_fed_client_allowed(v.is, false, ce->client_id)) {
        why = FED_R_CLIENT;
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                      "the client may not exchange this issuer's tokens");
        goto out;
    }
    /* 2. the actor token (delegation, RFC 8693 §1.1) */
    if (tr.actor_token) {
        const fed_issuer *ais = NULL;
        rc = actor(a, rq, ce, &tr, &act_sub, &act_iss, &ais, &why, err);
        if (ais) {
            is = ais;
            upstream = true;
        } else if (rc != IDP_OK && own_subject && !own_token(a, tr.actor_token)) {
            upstream = true; /* an unknown actor issuer: counted as "(unknown)" */
        }
        if (rc != IDP_OK) goto out;
    }
    const json_t *prior =
        own_subject ? json_object_get(own, "act") : json_object_get(v.claims, "act");
    if (act_sub || prior) {
        idp_error aerr = {0};
        if (token_exchange_act(act_sub, act_iss, prior, &act, &aerr) != IDP_OK) {
            why = FED_R_MALFORMED;
            rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "subject_token: %s", aerr.msg);
            goto out;
        }
    }
    /* 3. subject, scope, target, policy, mint */
    if (own_subject) {
        rc = own_exchange(a, rq, ce, &tr, own, user, epoch, act, rs, err);
        if (rc != IDP_OK && why == FED_ACCEPTED) why = FED_R_POLICY;
    } else {
        rc = token_fed_issue(a, rq, ce, &v, tr.scope, tr.targets, tr.ntargets, act, true, rs, &why,
                             err);
        if (rc == IDP_ERR_OAUTH_INVALID_GRANT) /* not linked, inactive user: §2.2.2 */
            rc = invalid_request(err, "subject_token");
    }
out:
    /* a refusal of ours with no reason of its own (an own actor token that is not active)
     * counts under policy */
    if (rc != IDP_OK && why == FED_ACCEPTED) why = FED_R_POLICY;
    if (upstream)
        token_fed_decision(a, is, TOKEN_FED_GRANT_EXCHANGE, rc == IDP_OK ? FED_ACCEPTED : why, err);
    free(act_sub);
    free(act_iss);
    json_decref(act);
    json_decref(own);
    fed_verify_clear(&v);
    return rc;
}
