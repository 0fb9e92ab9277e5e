/* dispatch — the one request path between the transport and the handlers: router match, the
 * snapshots of the request (keys, clients, policy), the handler call, error rendering
 * (response_error, or response_scim_error under /scim/v2) and the per-route counters of
 * /metrics. */
#ifndef IDPD_SERVER_DISPATCH_H
#define IDPD_SERVER_DISPATCH_H

#include "http/request.h"
#include "http/response.h"

/* An http_dispatch_fn (http/server.h); ctx is the struct app of the run. */
void dispatch_request(void *ctx, http_request *rq, http_response *rs);

#endif
