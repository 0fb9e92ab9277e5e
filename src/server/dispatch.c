#include "server/dispatch.h"

#include "core/err.h"
#include "core/snap.h"
#include "handle/app.h"
#include "server/router.h"

#include <stdatomic.h>
#include <stddef.h>

#define DISPATCH_PARAM_MAX 256 /* a longer "{id}" path segment leaves the parameter empty */

void dispatch_request(void *ctx, http_request *rq, http_response *rs)
{
    struct app *a = ctx;
    const char *url = rq->path;
    idp_error e = {0};
    char allow[64], param[DISPATCH_PARAM_MAX];
    const route *rt = NULL;
    snap_obj *ks = NULL, *cc = NULL, *ps = NULL;
    idp_err rc = router_match(router_routes, router_nroutes, rq->method, url, &rt, allow,
                              sizeof allow, &e);
    if (rc == IDP_OK) {
        ks = snap_acquire(&a->keys);
        cc = snap_acquire(&a->clients);
        ps = snap_acquire(&a->policy);
        rq->keys = (const struct keyset *)ks;
        rq->clients = (const struct client_cache *)cc;
        rq->policy = ps ? ((const policy_snap *)ps)->p : NULL;
        router_param(rt, url, param, sizeof param);
        rq->param = param;
        rc = rt->fn(a, rq, rs, &e);
    } else if (rc == IDP_ERR_HTTP_METHOD) {
        response_header_set(rs, "Allow", allow);
    }
    if (rc != IDP_OK) {
        if (e.code != rc) IDP_FAIL(&e, rc, "%s", "");
        if (response_is_scim_path(url))
            response_scim_error(rs, &e);
        else
            response_error(rs, &e);
    }
    size_t row = rt ? (size_t)(rt - router_routes) : APP_METRIC_ROUTES - 1;
    if (row < APP_METRIC_ROUTES && rs->status >= 100 && rs->status < 600)
        atomic_fetch_add_explicit(&a->requests[row][rs->status / 100 - 1], 1, memory_order_relaxed);
    /* The response keeps what it borrows from a snapshot alive itself (rs->hold), so the
     * request's references end here, before the transport sends it. */
    rq->keys = NULL;
    rq->clients = NULL;
    rq->policy = NULL;
    rq->param = "";
    snap_release(ks);
    snap_release(cc);
    snap_release(ps);
}
