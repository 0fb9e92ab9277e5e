/* POST /revoke (RFC 7009): the caller authenticates; an access token issued to that caller has
 * its jti deny-listed until its exp. Invalid or unknown tokens also get 200 (§2.2). */
#include "handle/endpoints.h"

#include "core/jsonx.h"
#include "handle/app.h"
#include "http/request_form.h"
#include "keys/keyset.h"
#include "handle/oauth/client_auth.h"
#include "proto/refresh.h"
#include "verify/token_verify.h"
#include "core/timeutil.h"

#include <string.h>

idp_err revoke_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    const client_entry *ce = NULL;
    json_t *claims = NULL;
    idp_error verr = {0};
    rs->no_store = true;
    idp_err rc = request_form(rq, &f, err);
    if (rc != IDP_OK) return rc;
    if ((rc = client_auth_authenticate(a, rq, &f, rs, &ce, err)) != IDP_OK) return rc;
    const char *tok = form_get(&f, "token");
    if (!tok) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "token is required");
    if (strlen(tok) == REFRESH_TOKEN_LEN && !strchr(tok, '.')) {
        /* a refresh token: its whole family is revoked (RFC 7009 §2.1), if it is the caller's */
        unsigned char h[32];
        store_refresh r = {0};
        opaque_hash(tok, h);
        rc = a->st->ops->refresh_get(a->st, h, &r, err);
        if (rc == IDP_ERR_NOT_FOUND) return IDP_OK;
        if (rc == IDP_OK && strcmp(r.client_id, ce->client_id) == 0)
            rc = a->st->ops->refresh_revoke_family(a->st, r.family_id, time_now(), err);
        store_refresh_clear(&r);
        return rc;
    }
    token_verify_opts vo = token_verify_access(rq->keys ? keyset_public(rq->keys) : NULL,
                                               a->cfg->issuer, a->cfg->leeway);
    if (token_verify(tok, strlen(tok), &vo, &claims, &verr) != IDP_OK)
        return IDP_OK; /* §2.2: invalid tokens do not cause an error */
    int64_t exp = 0;
    const char *cid = jsonx_str(claims, "client_id");
    /* §2.1: the server verifies the token was issued to the client making the request; a token of
     * another client is left alone, with the same 200 answer. */
    if (cid && strcmp(cid, ce->client_id) == 0 && jsonx_int(claims, "exp", &exp))
        rc = store_jti_revoke(a->st, jsonx_str(claims, "jti"), exp, err);
    json_decref(claims);
    return rc;
}
