/* patch_internal — helpers shared by scim_resource_normalize, scim_patch_apply (patch.c) and
 * scim_project (project.c): value type checks and canonicalisation (patch_value.c) and the
 * member set that turns member operations into a scim_delta (patch_members.c). */
#ifndef IDPD_SCIM_PATCH_INTERNAL_H
#define IDPD_SCIM_PATCH_INTERNAL_H

#include "core/err.h"
#include "scim/delta.h"
#include "scim/schema.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PATCH_MAX_OPERATIONS 1000
#define PATCH_MAX_VALUES 100000   /* elements of one multi-valued value (members of big groups) */
#define PATCH_MAX_ATTR_VALUES 1000 /* elements of any other multi-valued attribute */
#define PATCH_MAX_STRING 65536    /* bytes of one string value */
#define PATCH_MAX_MEMBER_ID 256   /* bytes of one member id */

/* Normalises the value of attribute def (RFC 7643 §2.3 types): canonical sub-attribute names,
 * "True"/"False" strings for booleans, a bare scalar for a complex attribute with a "value"
 * sub-attribute wrapped as {"value": x}, null / empty arrays / empty objects = unassigned
 * (RFC 7643 §2.5) -> *out NULL. Unknown and readOnly sub-attributes are dropped. A multi-valued
 * attribute needs an array (a single element is wrapped when allow_single), a singular one
 * must not be an array; at most one element with primary true (RFC 7643 §2.4).
 * Errors: IDP_ERR_SCIM_INVALID_VALUE naming the attribute. *out owned. */
idp_err patch_value_attr(const scim_attr_def *def, const json_t *in, bool allow_single,
                         json_t **out, idp_error *err);
/* One element of def (or the value of a singular def). */
idp_err patch_value_elem(const scim_attr_def *def, const json_t *in, json_t **out,
                         idp_error *err);
/* Number of elements of arr with "primary": true. */
size_t patch_value_count_primary(const json_t *arr);
/* Case-insensitive member lookup (borrowed; NULL when absent); *key_out gets the key as written. */
json_t *patch_value_get_ci(const json_t *obj, const char *key, const char **key_out);
/* The extension schema of rt whose URN equals s (case-insensitive), or NULL. */
const scim_schema *patch_value_ext(const scim_resource_type *rt, const char *s);
/* Top-level attribute name of the common or core schema of rt (case-insensitive), or NULL;
 * *schema gets the owning schema. */
const scim_attr_def *patch_value_core_attr(const scim_resource_type *rt, const char *name,
                                          const scim_schema **schema);
/* True for the Group "members" attribute (applied as a scim_delta). */
bool patch_value_is_members(const scim_schema *s, const scim_attr_def *a);
/* RFC 3339 §5.6 date-time (fractional seconds of any length; "Z" or numeric offset). */
bool patch_value_is_datetime(const char *s);

/* Member changes of one request, deduplicated in O(1) per id; the emitted delta has disjoint
 * add and remove lists, so the store may apply them in any order. */
typedef struct patch_members patch_members;
patch_members *patch_members_new(void);
void patch_members_free(patch_members *pm); /* accepts NULL */
/* Adds/removes the ids of member values as sent (array, or one element): {"value": id} objects
 * or bare id strings, read without building normalised copies (10,000 members stay cheap).
 * invalidValue when a value is not a string, too long, or names a Group member; too many ->
 * invalidValue. */
idp_err patch_members_add_values(patch_members *pm, const json_t *values, idp_error *err);
idp_err patch_members_remove_values(patch_members *pm, const json_t *values, idp_error *err);
idp_err patch_members_remove(patch_members *pm, const char *id, idp_error *err);
void patch_members_replace_all(patch_members *pm);
/* Appends the result to *out (clearing it first when the set replaces all members). */
void patch_members_emit(const patch_members *pm, scim_delta *out);

#endif
