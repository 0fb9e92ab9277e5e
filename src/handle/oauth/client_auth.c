#include "handle/oauth/client_auth.h"

#include "handle/app.h"
#include "http/basic.h"
#include "core/timeutil.h"
#include "proto/client_assertion.h"
#include "creds/client_secret.h"

#include <stdio.h>
#include <string.h>

static const char bad_client[] = "client authentication failed";

/* The secret is checked first (against a dummy hash for an unknown id), then the method the
 * client used against the one it registered (RFC 7591 §2 token_endpoint_auth_method; OIDC Core
 * §9: the client authenticates with its registered method): a client_secret_basic client may
 * not send its secret in the body, nor a client_secret_post one in the Authorization header. */
static idp_err verify(const struct app *a, const http_request *rq, const char *id, size_t idlen,
                      const char *secret, size_t slen, client_auth_method used,
                      const client_entry **out, idp_error *err)
{
    static const unsigned char dummy[32]; /* no secret has an all-zero MAC */
    const client_entry *ce = NULL;
    if (idlen <= CLIENT_AUTH_MAX_ID) ce = client_cache_find(rq->clients, id, idlen);
    const unsigned char *hash = ce && ce->has_secret ? ce->secret_hash : dummy;
    bool ok = client_secret_verify(a->pepper, secret, slen, hash);
    if (!ok || !ce || !ce->has_secret) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, bad_client);
    if (ce->auth_method != used)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT,
                        "the client is registered for %s (token_endpoint_auth_method)",
                        ce->auth_method == CLIENT_AUTH_SECRET_POST ? "client_secret_post"
                                                                   : "client_secret_basic");
    *out = ce;
    return IDP_OK;
}

/* private_key_jwt (RFC 7523 §2.2, OIDC Core §9): the assertion names the client (iss = sub),
 * is signed with a key of the client's registered JWK Set, is addressed to us (aud: the token
 * endpoint, the endpoint being called, or the issuer), lives at most 10 minutes and its jti is
 * used once (§3 item 7: replay is refused). */
static idp_err assertion(const struct app *a, const http_request *rq, const form *f,
                         http_response *rs, const client_entry **out, idp_error *err)
{
    const char *type = form_get(f, "client_assertion_type"), *jwt = form_get(f, "client_assertion");
    const char *post_id = form_get(f, "client_id");
    if (!type || !jwt)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "client_assertion and client_assertion_type go together");
    if (strcmp(type, CLIENT_ASSERTION_TYPE) != 0)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "unsupported client_assertion_type");
    char iss[CLIENT_ASSERTION_MAX_ID + 1];
    idp_error pe = {0};
    if (client_assertion_peek_iss(jwt, iss, &pe) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, bad_client);
    if (post_id && strcmp(post_id, iss) != 0)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, bad_client);
    const client_entry *ce = client_cache_find(rq->clients, iss, strlen(iss));
    if (!ce || ce->auth_method != CLIENT_AUTH_PRIVATE_KEY_JWT || !ce->jwks)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, bad_client);
    char token_ep[1200], this_ep[1200];
    snprintf(token_ep, sizeof token_ep, "%s/token", a->cfg->issuer);
    snprintf(this_ep, sizeof this_ep, "%s%s", a->cfg->issuer, rq->path ? rq->path : "");
    const char *auds[] = {token_ep, this_ep, a->cfg->issuer};
    client_assertion_result res;
    int64_t now = time_now();
    idp_err rc = client_assertion_verify_keys(jwt, ce->jwks, ce->client_id, auds, 3, now,
                                              a->cfg->leeway, 600, &res, err);
    if (rc != IDP_OK) return rc;
    rc = a->st->ops->assertion_jti_use(a->st, ce->client_id, res.jti, res.exp + a->cfg->leeway, err);
    if (rc == IDP_ERR_CONFLICT)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "client assertion already used (jti)");
    if (rc != IDP_OK) return rc;
    response_set_client(rs, ce->client_id, ce->id_len);
    *out = ce;
    return IDP_OK;
}

idp_err client_auth_authenticate(const struct app *a, const http_request *rq, const form *f,
                                 http_response *rs, const client_entry **out, idp_error *err)
{
    const char *post_id = form_get(f, "client_id");
    const char *post_secret = form_get(f, "client_secret");
    *out = NULL;
    if (form_get(f, "client_assertion") || form_get(f, "client_assertion_type")) {
        if (basic_is_basic(rq->authorization) || post_secret)
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                            "more than one client authentication method (RFC 6749 section 2.3)");
        return assertion(a, rq, f, rs, out, err);
    }
    if (basic_is_basic(rq->authorization)) {
        rs->www_auth_basic = true;
        if (post_secret)
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                            "more than one client authentication method (RFC 6749 section 2.3)");
        basic_creds bc;
        idp_err rc = basic_parse(rq->authorization, &bc, err);
        if (rc == IDP_OK && post_id && strcmp(post_id, bc.id) != 0)
            rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "client_id does not match the Basic credentials");
        if (rc == IDP_OK)
            rc = verify(a, rq, bc.id, bc.id_len, bc.secret, bc.secret_len, CLIENT_AUTH_SECRET_BASIC,
                        out, err);
        if (rc == IDP_OK) response_set_client(rs, bc.id, bc.id_len);
        basic_clear(&bc);
        return rc;
    }
    if (!post_id) {
        rs->www_auth_basic = true;
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "client authentication required");
    }
    if (!post_secret) {
        /* a public client (token_endpoint_auth_method none) sends only its client_id */
        size_t n = strlen(post_id);
        const client_entry *ce = n <= CLIENT_AUTH_MAX_ID ? client_cache_find(rq->clients, post_id, n) : NULL;
        if (!ce || ce->auth_method != CLIENT_AUTH_NONE)
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, bad_client);
        response_set_client(rs, post_id, n);
        *out = ce;
        return IDP_OK;
    }
    idp_err rc = verify(a, rq, post_id, strlen(post_id), post_secret, strlen(post_secret),
                        CLIENT_AUTH_SECRET_POST, out, err);
    if (rc == IDP_OK) response_set_client(rs, post_id, strlen(post_id));
    return rc;
}
