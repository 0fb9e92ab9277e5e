/* scim_endpoints — the SCIM 2.0 HTTP handlers under ISSUER/scim/v2 (RFC 7644 §3.2), one row each
 * in server/router.c, in the handle library (src/handle/meson.build). They use the transport's
 * request/response types; the SCIM logic they call (schema, filter, patch, project) is
 * the scimcore library, unit-tested without HTTP.
 *
 * Every handler authenticates a provisioning key first (scim_gate.c: 401/403/429) and renders
 * its errors as SCIM errors (response_scim_error, chosen by the dispatcher, server/dispatch.c,
 * for /scim/v2 paths).
 * The "{id}" segment of the path is rq->param. */
#ifndef IDPD_HANDLE_SCIM_ENDPOINTS_H
#define IDPD_HANDLE_SCIM_ENDPOINTS_H

#include "core/err.h"
#include "http/request.h"
#include "http/response.h"

struct app;

#define SCIM_HANDLER(name)                                                                    \
    idp_err name(struct app *a, http_request *rq, http_response *rs, idp_error *err)

/* scim_users.c: /Users, /Users/.search, /Users/{id} */
SCIM_HANDLER(scim_users_list);
SCIM_HANDLER(scim_users_search);
SCIM_HANDLER(scim_users_create);
SCIM_HANDLER(scim_users_get);
SCIM_HANDLER(scim_users_replace);
SCIM_HANDLER(scim_users_patch);
SCIM_HANDLER(scim_users_delete);

/* scim_groups.c: /Groups, /Groups/.search, /Groups/{id} */
SCIM_HANDLER(scim_groups_list);
SCIM_HANDLER(scim_groups_search);
SCIM_HANDLER(scim_groups_create);
SCIM_HANDLER(scim_groups_get);
SCIM_HANDLER(scim_groups_replace);
SCIM_HANDLER(scim_groups_patch);
SCIM_HANDLER(scim_groups_delete);

/* scim_discovery.c: RFC 7644 §4 */
SCIM_HANDLER(scim_discovery_spc);
SCIM_HANDLER(scim_discovery_schemas);
SCIM_HANDLER(scim_discovery_schema);
SCIM_HANDLER(scim_discovery_resource_types);
SCIM_HANDLER(scim_discovery_resource_type);

#endif
