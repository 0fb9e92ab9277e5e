/* POST /introspect (RFC 7662): the caller authenticates as a client; any token that is not a
 * valid, unexpired, unrevoked access token of ours for a client that still exists is
 * {"active":false} (§2.2). The server decides per caller (§4): a client learns that a token is
 * active only when it was issued to it or its introspect right covers the token
 * (client_entry_may_introspect: a resource server whose audience the token names, or "any");
 * to everyone else it is {"active":false} as well. Refresh tokens are shown only to the client
 * they were issued to. */
#include "handle/endpoints.h"

#include "core/jsonx.h"
#include "handle/app.h"
#include "http/request_form.h"
#include "keys/keyset.h"
#include "handle/oauth/client_auth.h"
#include "oauth/client_cache.h"
#include "policy/policy.h"
#include "proto/refresh.h"
#include "verify/token_verify.h"
#include "handle/oauth/user_tokens.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

static const char inactive[] = "{\"active\":false}";

/* The RFC 7662 §2.2 members, copied from the verified claims. */
static char *active_body(const json_t *claims, const policy *pol)
{
    static const char *const names[] = {"scope", "client_id", "sub", "aud", "iss",
                                        "exp",   "iat",       "nbf", "jti"};
    json_t *o = json_object();
    json_object_set_new(o, "active", json_true());
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *v = json_object_get(claims, names[i]);
        if (v) json_object_set(o, names[i], v);
    }
    json_object_set_new(o, "token_type", json_string("Bearer"));
    /* the policy version in force now (issue "permission management" item 3) */
    if (pol) json_object_set_new(o, "policy_version", json_integer(policy_version(pol)));
    char *s = jsonx_dump(o);
    json_decref(o);
    return s;
}

/* An opaque refresh token of the calling client (RFC 7662 §2.1 allows any token type). */
static idp_err refresh_body(struct app *a, const client_entry *ce, const char *tok,
                            http_response *rs, idp_error *err)
{
    if (strlen(tok) != REFRESH_TOKEN_LEN) return IDP_OK;
    unsigned char h[32];
    opaque_hash(tok, h);
    store_refresh r = {0};
    store_user u = {0};
    idp_err rc = a->st->ops->refresh_get(a->st, h, &r, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_OK;
    if (rc != IDP_OK) return rc;
    int64_t now = time_now();
    bool live = strcmp(r.client_id, ce->client_id) == 0 && r.revoked_at == 0 && r.rotated_at == 0 &&
                now < r.expires_at;
    if (live) rc = user_tokens_user_live(a, r.user_id, r.user_epoch, &u, &live, err);
    if (rc == IDP_OK && live) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:s}", "active", 1, "scope", r.scope,
                              "client_id", r.client_id, "sub", r.user_id, "exp",
                              (json_int_t)r.expires_at, "iat", (json_int_t)r.created_at,
                              "token_type", "refresh_token");
        char *body = jsonx_dump(o);
        json_decref(o);
        if (body) {
            rs->ext_body = NULL;
            buf_puts(&rs->body, body);
            free(body);
        }
    }
    store_refresh_clear(&r);
    store_user_clear(&u);
    return rc;
}

idp_err introspect_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    const client_entry *ce = NULL;
    json_t *claims = NULL;
    idp_error verr = {0};
    rs->no_store = true; /* RFC 7662 §2.2 carries token details */
    idp_err rc = request_form(rq, &f, err);
    if (rc != IDP_OK) return rc;
    if ((rc = client_auth_authenticate(a, rq, &f, rs, &ce, err)) != IDP_OK) return rc;
    if (ce->auth_method == CLIENT_AUTH_NONE)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "public clients may not introspect");
    const char *tok = form_get(&f, "token");
    if (!tok) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "token is required");
    rs->content_type = "application/json";
    rs->ext_body = inactive;
    rs->ext_len = sizeof inactive - 1;
    /* No leeway: idpd issued the token by its own clock, so an expired token is inactive the
     * moment it expires (and its revocation entry may be pruned from then on). */
    if (!strchr(tok, '.')) return refresh_body(a, ce, tok, rs, err);
    token_verify_opts vo = token_verify_access(rq->keys ? keyset_public(rq->keys) : NULL,
                                               a->cfg->issuer, 0);
    if (token_verify(tok, strlen(tok), &vo, &claims, &verr) != IDP_OK) return IDP_OK;
    /* the caller's right first (RFC 7662 §4: to everyone else the token is inactive), then the
     * revocation rules (a deleted client, a revoked jti, an ended user) */
    if (!client_entry_may_introspect(ce, jsonx_str(claims, "client_id"), json_object_get(claims, "aud"))) {
        json_decref(claims);
        return IDP_OK;
    }
    user_tokens_state st = USER_TOKENS_CLIENT_GONE;
    bool user = false;
    int64_t epoch = 0;
    store_user u;
    rc = user_tokens_access_state(a, rq, claims, &st, &user, &epoch, &u, err);
    store_user_clear(&u);
    if (rc == IDP_OK && st == USER_TOKENS_ACTIVE) {
        char *body = active_body(claims, rq->policy);
        if (body) {
            rs->ext_body = NULL;
            buf_puts(&rs->body, body);
            free(body);
        }
    }
    json_decref(claims);
    return rc;
}
