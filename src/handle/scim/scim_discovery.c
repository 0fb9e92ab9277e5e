/* scim_discovery — RFC 7644 §4 service provider configuration endpoints, rendered from the same
 * schema tables that are enforced (scim/schema.h). Like every SCIM request they need a
 * provisioning key (scim:read). */
#include "handle/scim/scim_endpoints.h"

#include "handle/app.h"
#include "creds/pkey.h"
#include "handle/scim/scim_internal.h"

#include <stdlib.h>
#include <string.h>

static const scim_schema *const schemas[] = {&scim_schema_user, &scim_schema_enterprise_user,
                                             &scim_schema_group};
static const scim_resource_type *const rtypes[] = {&scim_rt_user, &scim_rt_group};
#define NSCHEMAS (sizeof schemas / sizeof schemas[0])
#define NRTYPES (sizeof rtypes / sizeof rtypes[0])

static idp_err send(http_response *rs, json_t *v, idp_error *err)
{
    idp_err rc = scim_render_json(rs, v, err);
    json_decref(v);
    return rc;
}

/* RFC 7643 §5 */
SCIM_HANDLER(scim_discovery_spc)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_READ, actor, err);
    if (rc != IDP_OK) return rc;
    char *loc = scim_render_location(a->scim_base, "", "ServiceProviderConfig");
    json_t *v =
        json_pack("{s:[s], s:s, s:{s:b}, s:{s:b, s:i}, s:{s:b}, s:{s:b}, s:{s:b},"
                  " s:[{s:s, s:s, s:s, s:b}], s:{s:s, s:s}}",
                  "schemas", "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
                  "documentationUri", "https://datatracker.ietf.org/doc/html/rfc7644", "patch",
                  "supported", 1, "filter", "supported", 1, "maxResults", SCIM_LIST_MAX_COUNT,
                  "changePassword", "supported", 0, "sort", "supported", 1, "etag", "supported", 1,
                  "authenticationSchemes", "type", "oauthbearertoken", "name", "Provisioning key",
                  "description", "Authorization: Bearer idpd_pk_... (idpd provisioning-key create)",
                  "primary", 1, "meta", "resourceType", "ServiceProviderConfig", "location", loc);
    free(loc);
    json_object_set_new(
        v, "bulk",
        json_pack("{s:b, s:i, s:i}", "supported", 0, "maxOperations", 0, "maxPayloadSize", 0));
    return send(rs, v, err);
}

SCIM_HANDLER(scim_discovery_schemas)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_READ, actor, err);
    if (rc != IDP_OK) return rc;
    json_t *res = json_array();
    for (size_t i = 0; i < NSCHEMAS; i++)
        json_array_append_new(res, scim_schema_to_json(schemas[i], a->scim_base));
    return send(rs, scim_render_list_response(res, (int64_t)NSCHEMAS, 1), err);
}

SCIM_HANDLER(scim_discovery_schema)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_READ, actor, err);
    if (rc != IDP_OK) return rc;
    for (size_t i = 0; i < NSCHEMAS; i++)
        if (strcmp(schemas[i]->urn, rq->param) == 0)
            return send(rs, scim_schema_to_json(schemas[i], a->scim_base), err);
    return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "no such schema");
}

SCIM_HANDLER(scim_discovery_resource_types)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_READ, actor, err);
    if (rc != IDP_OK) return rc;
    json_t *res = json_array();
    for (size_t i = 0; i < NRTYPES; i++)
        json_array_append_new(res, scim_resource_type_to_json(rtypes[i], a->scim_base));
    return send(rs, scim_render_list_response(res, (int64_t)NRTYPES, 1), err);
}

SCIM_HANDLER(scim_discovery_resource_type)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_READ, actor, err);
    if (rc != IDP_OK) return rc;
    for (size_t i = 0; i < NRTYPES; i++)
        if (strcmp(rtypes[i]->name, rq->param) == 0)
            return send(rs, scim_resource_type_to_json(rtypes[i], a->scim_base), err);
    return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "no such resource type");
}
