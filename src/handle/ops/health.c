/* GET /healthz: the process is up and serving. GET /readyz: it can issue tokens. */
#include "handle/endpoints.h"

#include "handle/app.h"
#include "keys/keyset.h"
#include "core/jsonw.h"

#include <stdio.h>

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

/* GET /readyz (DESIGN §9): ready to issue tokens — the store answers and can write (the
 * background thread's last heartbeat succeeded), every snapshot (keys, clients, policy)
 * reloads, and the default algorithm has a current signing key. 503 with the first reason
 * otherwise (for load balancers; docs/SECURITY.md "Keys and reloads"). */
idp_err ready_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    int64_t gen = 0;
    char why[APP_REASON_MAX + 64] = "";
    idp_error se = {0};
    if (store_generation(a->st, &gen, &se) != IDP_OK)
        snprintf(why, sizeof why, "the store does not answer");
    else
        app_not_ready_reason(a, why, sizeof why);
    if (!why[0] && (!rq->keys ||
                    !keyset_current_kid(rq->keys, jws_alg_from_name(a->cfg->default_alg,
                                                                    strlen(a->cfg->default_alg)))))
        snprintf(why, sizeof why, "no current signing key for default_alg");
    rs->content_type = "application/json";
    rs->no_store = true;
    if (why[0]) {
        rs->status = idp_err_http_status(IDP_ERR_UNAVAILABLE);
        int bad = buf_puts(&rs->body, "{\"status\":\"unavailable\",\"reason\":");
        bad |= jsonw_str(&rs->body, why, strlen(why));
        bad |= buf_puts(&rs->body, "}");
        return bad ? IDP_FAIL(err, IDP_ERR_INTERNAL, "readyz: response too large") : IDP_OK;
    }
    rs->ext_body = ok_body;
    rs->ext_len = sizeof ok_body - 1;
    return IDP_OK;
}
