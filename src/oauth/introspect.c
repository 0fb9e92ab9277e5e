/* POST /introspect (RFC 7662): the caller authenticates as a client; any token that is not a
 * valid, unexpired, unrevoked access token of ours is {"active":false} (§2.2). */
#include "oauth/endpoints.h"

#include "core/jsonx.h"
#include "http/app.h"
#include "http/request_form.h"
#include "keys/keyset.h"
#include "oauth/access_token.h"
#include "oauth/client_auth.h"

#include <stdlib.h>
#include <string.h>

static const char inactive[] = "{\"active\":false}";

/* The RFC 7662 §2.2 members, copied from the verified claims. */
static char *active_body(const json_t *claims)
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
    char *s = jsonx_dump(o);
    json_decref(o);
    return s;
}

idp_err introspect_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    const client_entry *ce = NULL;
    jws_verified v = {0};
    idp_error verr = {0};
    rs->no_store = true; /* RFC 7662 §2.2 carries token details */
    idp_err rc = request_form(rq, &f, err);
    if (rc != IDP_OK) return rc;
    if ((rc = client_auth_authenticate(a, rq, &f, rs, &ce, err)) != IDP_OK) return rc;
    const char *tok = form_get(&f, "token");
    if (!tok) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "token is required");
    rs->content_type = "application/json";
    rs->ext_body = inactive;
    rs->ext_len = sizeof inactive - 1;
    /* No leeway: idpd issued the token by its own clock, so an expired token is inactive the
     * moment it expires (and its revocation entry may be pruned from then on). */
    if (access_token_verify(rq->keys ? keyset_public(rq->keys) : NULL, a->cfg->issuer, 0, 0,
                            tok, strlen(tok), &v, &verr) != IDP_OK)
        return IDP_OK;
    bool revoked = false;
    rc = store_jti_is_revoked(a->st, jsonx_str(v.payload, "jti"), &revoked, err);
    if (rc == IDP_OK && !revoked) {
        char *body = active_body(v.payload);
        if (body) {
            rs->ext_body = NULL;
            buf_puts(&rs->body, body);
            free(body);
        }
    }
    jws_verified_clear(&v);
    return rc;
}
