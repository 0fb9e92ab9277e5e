/* GET /healthz: the process is up and serving. */
#include "oauth/endpoints.h"

static const char ok_body[] = "{\"status\":\"ok\"}";

idp_err health_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    rs->content_type = "application/json";
    rs->ext_body = ok_body;
    rs->ext_len = sizeof ok_body - 1;
    rs->no_store = true;
    return IDP_OK;
}
