/* GET /healthz: the process is up and serving. GET /readyz: it can issue tokens. */
#include "oauth/endpoints.h"

#include "http/app.h"
#include "keys/keyset.h"

#include <string.h>

static const char ok_body[] = "{\"status\":\"ok\"}";

idp_err health_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    rs->content_type = "application/json";
    rs->ext_body = ok_body;
    rs->ext_len = sizeof ok_body - 1;
    rs->no_store = true;
    return IDP_OK;
}

/* GET /readyz (DESIGN §9): ready to issue tokens — the store answers and the default algorithm
 * has a current signing key. 503 with the reason otherwise (for load balancers). */
idp_err ready_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    int64_t gen = 0;
    const char *why = NULL;
    idp_error se = {0};
    if (store_generation(a->st, &gen, &se) != IDP_OK)
        why = "the store does not answer";
    else if (!rq->keys || !keyset_current_kid(rq->keys, jws_alg_from_name(a->cfg->default_alg,
                                                                         strlen(a->cfg->default_alg))))
        why = "no current signing key for default_alg";
    rs->content_type = "application/json";
    rs->no_store = true;
    if (why) {
        rs->status = 503;
        buf_printf(&rs->body, "{\"status\":\"unavailable\",\"reason\":\"%s\"}", why);
        return IDP_OK;
    }
    rs->ext_body = ok_body;
    rs->ext_len = sizeof ok_body - 1;
    return IDP_OK;
}
