#include "proto/token_exchange.h"

#include "core/jsonx.h"

#include <stdlib.h>
#include <string.h>

tx_token_type token_exchange_type_parse(const char *urn)
{
    if (!urn) return TX_TYPE_NONE;
    if (strcmp(urn, TX_TYPE_ACCESS_TOKEN_URN) == 0) return TX_TYPE_ACCESS_TOKEN;
    if (strcmp(urn, TX_TYPE_ID_TOKEN_URN) == 0) return TX_TYPE_ID_TOKEN;
    if (strcmp(urn, TX_TYPE_JWT_URN) == 0) return TX_TYPE_JWT;
    return TX_TYPE_NONE;
}

/* The single-valued parameters this grant reads. */
static const char *const single[] = {"subject_token",    "subject_token_type",   "actor_token",
                                     "actor_token_type", "requested_token_type", "scope"};

idp_err token_exchange_parse(const tx_param *params, size_t n, tx_request *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    const char *v[sizeof single / sizeof single[0]] = {0};
    for (size_t i = 0; i < n; i++) {
        const char *name = params[i].name, *value = params[i].value;
        if (!name || !value) continue;
        if (strcmp(name, "audience") == 0 || strcmp(name, "resource") == 0) {
            if (out->ntargets == RESOURCE_MAX)
                return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_TARGET,
                                "too many audience and resource parameters");
            out->targets[out->ntargets++] = value;
            continue;
        }
        for (size_t k = 0; k < sizeof single / sizeof single[0]; k++) {
            if (strcmp(name, single[k]) != 0) continue;
            if (v[k])
                return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "%s given more than once",
                                single[k]);
            v[k] = value;
        }
    }
    const char *st = v[0], *stt = v[1], *at = v[2], *att = v[3], *rtt = v[4];
    if (!st) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "subject_token is required");
    if (!stt) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "subject_token_type is required");
    if ((out->subject_type = token_exchange_type_parse(stt)) == TX_TYPE_NONE)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "unsupported subject_token_type");
    if (!at != !att)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "actor_token and actor_token_type go together");
    if (att && (out->actor_type = token_exchange_type_parse(att)) == TX_TYPE_NONE)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "unsupported actor_token_type");
    if (rtt && strcmp(rtt, TX_TYPE_ACCESS_TOKEN_URN) != 0)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "requested_token_type: only access tokens are issued");
    out->subject_token = st;
    out->actor_token = at;
    out->scope = v[5];
    return IDP_OK;
}

/* {"sub","iss"[,"act"]} from a prior act object, cleaned; depth counts the levels above. */
static idp_err clean_act(const json_t *a, int depth, json_t **out, idp_error *err)
{
    *out = NULL;
    if (!json_is_object(a)) return IDP_FAIL(err, IDP_ERR_INVALID, "act is not an object");
    if (depth >= TX_ACT_MAX_DEPTH) return IDP_FAIL(err, IDP_ERR_INVALID, "act nested too deeply");
    json_t *o = json_object();
    const json_t *sub = json_object_get(a, "sub"), *iss = json_object_get(a, "iss");
    if (json_is_string(sub)) json_object_set(o, "sub", (json_t *)sub);
    if (json_is_string(iss)) json_object_set(o, "iss", (json_t *)iss);
    const json_t *inner = json_object_get(a, "act");
    if (inner) {
        json_t *c = NULL;
        idp_err rc = clean_act(inner, depth + 1, &c, err);
        if (rc != IDP_OK) {
            json_decref(o);
            return rc;
        }
        json_object_set_new(o, "act", c);
    }
    *out = o;
    return IDP_OK;
}

idp_err token_exchange_act(const char *actor_sub, const char *actor_iss, const json_t *prior_act,
                     json_t **out, idp_error *err)
{
    *out = NULL;
    json_t *prior = NULL;
    if (prior_act) {
        idp_err rc = clean_act(prior_act, actor_sub ? 1 : 0, &prior, err);
        if (rc != IDP_OK) return rc;
    }
    if (!actor_sub) {
        *out = prior;
        return IDP_OK;
    }
    json_t *o = json_object();
    json_object_set_new(o, "sub", json_string(actor_sub));
    if (actor_iss) json_object_set_new(o, "iss", json_string(actor_iss));
    if (prior) json_object_set_new(o, "act", prior);
    *out = o;
    return IDP_OK;
}

bool token_exchange_claim_reserved(const char *name)
{
    static const char *const reserved[] = {"iss", "sub",       "aud",   "exp", "iat", "nbf",
                                           "jti", "client_id", "scope", "act", "cnf"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(name, reserved[i]) == 0) return true;
    return false;
}

idp_err token_exchange_extra_claims(const json_t *mapped, const char *policy_claims, const json_t *act,
                        idp_buf *out, idp_error *err)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    if (json_is_object(mapped)) json_object_foreach((json_t *)mapped, k, v)
        {
            if (!token_exchange_claim_reserved(k)) json_object_set(o, k, v);
        }
    if (policy_claims && policy_claims[0]) {
        size_t n = strlen(policy_claims);
        if (policy_claims[0] != ',') {
            json_decref(o);
            return IDP_FAIL(err, IDP_ERR_INVALID, "policy claims are not JSON members");
        }
        char *txt = malloc(n + 2);
        if (!txt) {
            json_decref(o);
            return IDP_FAIL(err, IDP_ERR_NOMEM, "out of memory");
        }
        txt[0] = '{';
        memcpy(txt + 1, policy_claims + 1, n - 1);
        txt[n] = '}';
        txt[n + 1] = '\0';
        json_t *pc = json_loads(txt, JSON_REJECT_DUPLICATES, NULL);
        free(txt);
        if (!json_is_object(pc)) {
            json_decref(pc);
            json_decref(o);
            return IDP_FAIL(err, IDP_ERR_INVALID, "policy claims are not JSON members");
        }
        json_object_update(o, pc); /* the policy wins */
        json_decref(pc);
    }
    if (act) json_object_set(o, "act", (json_t *)act);
    idp_err rc = IDP_OK;
    if (json_object_size(o) > 0) {
        char *s = jsonx_dump(o);
        if (!s)
            rc = IDP_FAIL(err, IDP_ERR_NOMEM, "cannot serialize the claims");
        else {
            size_t n = strlen(s); /* "{...}" */
            if (buf_putc(out, ',') || buf_append(out, s + 1, n - 2))
                rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "token claims too large");
            free(s);
        }
    }
    json_decref(o);
    return rc;
}
