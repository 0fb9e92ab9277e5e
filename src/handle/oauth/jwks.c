/* GET /jwks.json (RFC 7517 §5): every published key (next, current, retired), served from the
 * body prebuilt with the key set snapshot; the response holds a reference to the snapshot. */
#include "handle/endpoints.h"

#include "handle/app.h"
#include "keys/keyset.h"

idp_err jwks_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    if (!rq->keys) return IDP_FAIL(err, IDP_ERR_INTERNAL, "no key set loaded");
    rs->hold = snap_ref((snap_obj *)rq->keys);
    rs->ext_body = keyset_jwks_body(rq->keys, &rs->ext_len);
    rs->content_type = "application/jwk-set+json";
    response_header_set(rs, "Cache-Control", a->jwks_cache_control);
    return IDP_OK;
}
