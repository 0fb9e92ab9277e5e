/* urn — the SCIM schema and message URNs (RFC 7643 §8.7.1, RFC 7644 §3.1, §3.12), shared by
 * the schema tables and the filter evaluator (which maps a core URN prefix to the resource). */
#ifndef IDPD_SCIM_URN_H
#define IDPD_SCIM_URN_H

#define SCIM_URN_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_URN_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_URN_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_URN_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_URN_PATCH "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_URN_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"

#endif
