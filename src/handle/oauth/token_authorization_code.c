/* grant_type=authorization_code (RFC 6749 §4.1.3, OIDC Core §3.1.3, RFC 7636 §4.6, RFC 9700
 * §4.5): the code is single-use, 60 s, bound to the client, the redirect_uri and the PKCE
 * verifier. Presenting a used code again revokes what it yielded (the refresh family and the
 * access token's jti, RFC 6749 §4.1.2). */
#include "handle/oauth/token_grant.h"
#include "proto/scope.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "proto/authz_request.h"
#include "proto/pkce.h"
#include "proto/refresh.h"
#include "handle/oauth/user_tokens.h"

#include <string.h>

static const char bad_code[] = "the authorization code is invalid, expired or was already used";

idp_err token_authorization_code(struct app *a, const http_request *rq, const form *f,
                                 const client_entry *ce, http_response *rs, idp_error *err)
{
    const char *code = form_get(f, "code"), *ru = form_get(f, "redirect_uri");
    const char *verifier = form_get(f, "code_verifier");
    if (!code) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "code is required");
    if (verifier && !pkce_verifier_valid(verifier))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "code_verifier is malformed (RFC 7636 section 4.1)");
    store_auth_code c = {0};
    store_user u = {0};
    bool replayed = false;
    unsigned char h[32];
    opaque_hash(code, h);
    int64_t now = time_now();
    idp_err rc = a->st->ops->code_consume(a->st, h, now, &c, &replayed, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, bad_code);
    if (rc != IDP_OK) return rc;
    if (replayed) {
        /* RFC 6749 §4.1.2: SHOULD revoke all tokens previously issued based on that code */
        if (c.family_id) a->st->ops->refresh_revoke_family(a->st, c.family_id, now, NULL);
        if (c.access_jti) store_jti_revoke(a->st, c.access_jti, c.access_exp, NULL);
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, bad_code);
        goto out;
    }
    if (now >= c.expires_at || strcmp(c.client_id, ce->client_id) != 0) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, bad_code);
        goto out;
    }
    if (!ru || strcmp(ru, c.redirect_uri) != 0) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "redirect_uri does not match the authorization request");
        goto out;
    }
    if (c.code_challenge) {
        if (!verifier) {
            rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "code_verifier is required (PKCE)");
            goto out;
        }
        if ((rc = pkce_check_s256(verifier, c.code_challenge, err)) != IDP_OK) goto out;
    } else if (verifier) {
        /* RFC 9700 §2.1.1: a verifier without a challenge in the request is refused (PKCE
         * downgrade) */
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "code_verifier sent but the authorization request had no code_challenge");
        goto out;
    }
    bool live = false;
    if ((rc = user_tokens_user_live(a, c.user_id, c.user_epoch, &u, &live, err)) != IDP_OK) goto out;
    if (!live) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "the user can no longer sign in");
        goto out;
    }
    char refresh[44] = "", family[23] = "";
    bool offline = scope_has(c.scope, "offline_access") && client_entry_has_grant(ce, "refresh_token");
    if (offline) {
        store_refresh r = {0};
        refresh_new(refresh);
        refresh_family_new(family);
        opaque_hash(refresh, r.hash);
        r.family_id = family;
        r.client_id = ce->client_id;
        r.user_id = u.id;
        r.scope = c.scope;
        r.resource = c.resource;
        r.session_id = c.session_id;
        r.auth_time = c.auth_time;
        r.amr = c.amr;
        r.nonce = NULL;
        r.user_epoch = u.token_epoch;
        r.created_at = now;
        r.expires_at = now + a->cfg->refresh_ttl;
        if ((rc = a->st->ops->refresh_insert(a->st, &r, err)) != IDP_OK) goto out;
    }
    user_grant g = {.ce = ce, .u = &u, .scope = c.scope, .resource = c.resource, .nonce = c.nonce,
                    .auth_time = c.auth_time, .amr = c.amr, .sid = c.session_id,
                    .refresh = offline ? refresh : NULL};
    char jti[USER_JTI_MAX];
    int64_t exp = 0;
    rc = user_tokens_respond(a, rq, &g, rs, jti, &exp, err);
    if (rc == IDP_OK) a->st->ops->code_set_issued(a->st, h, offline ? family : NULL, jti, exp, NULL);
    mem_wipe(refresh, sizeof refresh);
out:
    store_auth_code_clear(&c);
    store_user_clear(&u);
    return rc;
}
