#include "oauth/client_auth.h"

#include "http/app.h"
#include "http/basic.h"
#include "oauth/client_secret.h"

#include <string.h>

static const char bad_client[] = "client authentication failed";

static idp_err verify(const struct app *a, const http_request *rq, const char *id, size_t idlen,
                      const char *secret, size_t slen, const client_entry **out, idp_error *err)
{
    static const unsigned char dummy[32]; /* no secret has an all-zero MAC */
    const client_entry *ce = NULL;
    if (idlen <= CLIENT_AUTH_MAX_ID) ce = client_cache_find(rq->clients, id, idlen);
    const unsigned char *hash = ce && ce->has_secret ? ce->secret_hash : dummy;
    bool ok = client_secret_verify(a->pepper, secret, slen, hash);
    if (!ok || !ce || !ce->has_secret) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, bad_client);
    *out = ce;
    return IDP_OK;
}

idp_err client_auth_authenticate(const struct app *a, const http_request *rq, const form *f,
                                 http_response *rs, const client_entry **out, idp_error *err)
{
    const char *post_id = form_get(f, "client_id");
    const char *post_secret = form_get(f, "client_secret");
    *out = NULL;
    if (basic_is_basic(rq->authorization)) {
        rs->www_auth_basic = true;
        if (post_secret)
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                            "more than one client authentication method (RFC 6749 section 2.3)");
        basic_creds bc;
        idp_err rc = basic_parse(rq->authorization, &bc, err);
        if (rc == IDP_OK && post_id && strcmp(post_id, bc.id) != 0)
            rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "client_id does not match the Basic credentials");
        if (rc == IDP_OK) rc = verify(a, rq, bc.id, bc.id_len, bc.secret, bc.secret_len, out, err);
        if (rc == IDP_OK) response_set_client(rs, bc.id, bc.id_len);
        basic_clear(&bc);
        return rc;
    }
    if (!post_id) {
        rs->www_auth_basic = true;
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "client authentication required");
    }
    if (!post_secret) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, bad_client);
    idp_err rc = verify(a, rq, post_id, strlen(post_id), post_secret, strlen(post_secret), out, err);
    if (rc == IDP_OK) response_set_client(rs, post_id, strlen(post_id));
    return rc;
}
