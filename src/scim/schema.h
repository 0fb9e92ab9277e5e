/* schema — the SCIM resource schemas idpd serves (RFC 7643 §4 User, §4.3 Enterprise User, §4.2
 * Group, §3.1 common attributes), as static tables. /Schemas and /ResourceTypes are rendered from
 * the same tables, so discovery describes exactly what is enforced. */
#ifndef IDPD_SCIM_SCHEMA_H
#define IDPD_SCIM_SCHEMA_H

#include "core/err.h"
#include "scim/filter.h"
#include "scim/urn.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>


typedef enum sa_type {
    SA_STRING, SA_BOOLEAN, SA_DECIMAL, SA_INTEGER, SA_DATETIME, SA_BINARY, SA_REFERENCE, SA_COMPLEX
} sa_type;
typedef enum sa_mutability { SA_READ_WRITE, SA_READ_ONLY, SA_IMMUTABLE, SA_WRITE_ONLY } sa_mutability;
typedef enum sa_returned { SA_RET_DEFAULT, SA_RET_ALWAYS, SA_RET_NEVER, SA_RET_REQUEST } sa_returned;
typedef enum sa_uniqueness { SA_UNIQ_NONE, SA_UNIQ_SERVER, SA_UNIQ_GLOBAL } sa_uniqueness;

typedef struct scim_attr_def {
    const char *name;
    sa_type type;
    bool multi_valued;
    bool required;
    bool case_exact;
    sa_mutability mutability;
    sa_returned returned;
    sa_uniqueness uniqueness;
    const char *description;
    const char *const *canonical_values;  /* NULL-terminated or NULL */
    const char *const *reference_types;   /* NULL-terminated or NULL */
    const struct scim_attr_def *subs;     /* SA_COMPLEX */
    size_t nsubs;
} scim_attr_def;

typedef struct scim_schema {
    const char *urn;
    const char *name;
    const char *description;
    const scim_attr_def *attrs;
    size_t nattrs;
} scim_schema;

typedef struct scim_resource_type {
    const char *name;      /* "User" */
    const char *endpoint;  /* "/Users" */
    const char *description;
    const scim_schema *core;
    const scim_schema *const *extensions; /* each optional (required: false) */
    size_t nextensions;
} scim_resource_type;

extern const scim_schema scim_schema_user;
extern const scim_schema scim_schema_enterprise_user;
extern const scim_schema scim_schema_group;
extern const scim_schema scim_schema_common; /* id, externalId, meta.{resourceType,created,lastModified,location,version} */
extern const scim_resource_type scim_rt_user;
extern const scim_resource_type scim_rt_group;

typedef struct scim_resolved {
    const scim_schema *schema;  /* owning schema (scim_schema_common for id/externalId/meta) */
    const scim_attr_def *attr;  /* top-level attribute */
    const scim_attr_def *sub;   /* sub-attribute or NULL */
} scim_resolved;

/* Resolves a path against a resource type: attribute and sub-attribute names case-insensitive
 * (RFC 7643 §2.1), URN prefix must be the core or one of the extension schemas, an attribute
 * name without URN is looked up in common, core, then extensions. A complex attribute without
 * sub-attribute in a comparison means its "value" sub-attribute (RFC 7644 §3.4.2.2 for
 * multi-valued attrs, e.g. emails co "x"); the resolver itself returns sub NULL then, and the
 * caller applies that rule. "schemas" resolves (schema = scim_schema_common) so that
 * `schemas eq "urn:..."` filters work, though it is not listed in scim_schema_common.attrs.
 * IDP_ERR_SCIM_INVALID_PATH when unknown (unknown URN, attribute or sub-attribute, or a
 * sub-attribute of a non-complex attribute). */
idp_err scim_path_resolve(const scim_resource_type *rt, const scim_attr_path *p, scim_resolved *out,
                          idp_error *err);
/* Looks up a (sub-)attribute by name in a list, case-insensitively. */
const scim_attr_def *scim_attr_find(const scim_attr_def *attrs, size_t n, const char *name);

/* RFC 7643 §7 representation of a schema / §6 of a resource type; base_url like
 * "https://idp.example.com/scim/v2" for meta.location. New references. */
json_t *scim_schema_to_json(const scim_schema *s, const char *base_url);
json_t *scim_resource_type_to_json(const scim_resource_type *rt, const char *base_url);

#endif
