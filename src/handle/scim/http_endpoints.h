/* http_endpoints — the SCIM 2.0 HTTP handlers under ISSUER/scim/v2 (RFC 7644 §3.2), one row each
 * in server/router.c. They are compiled into the http library (src/http/meson.build) because they
 * use its request/response types; the SCIM logic they call (schema, filter, patch, project) is
 * the scimcore library, unit-tested without HTTP.
 *
 * Every handler authenticates a provisioning key first (http_gate.c: 401/403/429) and renders
 * its errors as SCIM errors (response_scim_error, chosen by server.c for /scim/v2 paths).
 * The "{id}" segment of the path is rq->param. */
#ifndef IDPD_SCIM_HTTP_ENDPOINTS_H
#define IDPD_SCIM_HTTP_ENDPOINTS_H

#include "core/err.h"
#include "http/request.h"
#include "http/response.h"

struct app;

#define HTTP_SCIM_HANDLER(name)                                                                    \
    idp_err name(struct app *a, http_request *rq, http_response *rs, idp_error *err)

/* http_users.c: /Users, /Users/.search, /Users/{id} */
HTTP_SCIM_HANDLER(http_users_list);
HTTP_SCIM_HANDLER(http_users_search);
HTTP_SCIM_HANDLER(http_users_create);
HTTP_SCIM_HANDLER(http_users_get);
HTTP_SCIM_HANDLER(http_users_replace);
HTTP_SCIM_HANDLER(http_users_patch);
HTTP_SCIM_HANDLER(http_users_delete);

/* http_groups.c: /Groups, /Groups/.search, /Groups/{id} */
HTTP_SCIM_HANDLER(http_groups_list);
HTTP_SCIM_HANDLER(http_groups_search);
HTTP_SCIM_HANDLER(http_groups_create);
HTTP_SCIM_HANDLER(http_groups_get);
HTTP_SCIM_HANDLER(http_groups_replace);
HTTP_SCIM_HANDLER(http_groups_patch);
HTTP_SCIM_HANDLER(http_groups_delete);

/* http_discovery.c: RFC 7644 §4 */
HTTP_SCIM_HANDLER(http_discovery_spc);
HTTP_SCIM_HANDLER(http_discovery_schemas);
HTTP_SCIM_HANDLER(http_discovery_schema);
HTTP_SCIM_HANDLER(http_discovery_resource_types);
HTTP_SCIM_HANDLER(http_discovery_resource_type);

#endif
