/* patch — SCIM PATCH (RFC 7644 §3.5.2) applied to a resource document in memory, and validation
 * and normalisation of resource documents from POST/PUT (RFC 7643 §2, §4, RFC 7644 §3.3, §3.5.1).
 *
 * Tolerances for real provisioning clients (Microsoft Entra ID, Okta), all documented in
 * docs/SCIM.md: `op` in any case ("Replace", "Add"); boolean values sent as strings "True"/"False"
 * (any case); a `value` object with dotted keys when there is no path
 * ({"name.givenName": "x", "urn:...:enterprise:2.0:User:manager": "id"}); attribute names in any
 * case; single-value arrays for singular attributes are NOT accepted.
 *
 * Group membership is never rewritten through the document: member changes come out as a
 * scim_delta (scim/delta.h) so a PATCH adding one member to a 10,000-member group
 * touches one row. */
#ifndef IDPD_SCIM_PATCH_H
#define IDPD_SCIM_PATCH_H

#include "core/err.h"
#include "scim/delta.h"
#include "scim/schema.h"

#include <jansson.h>

/* Validates and normalises a full resource body (POST/PUT) for rt: `schemas` must list the core
 * schema (and any extension URN used), else invalidSyntax; unknown attributes, sub-attributes
 * and extension URNs are IGNORED (dropped; docs/SCIM.md); wrong JSON types -> invalidValue;
 * readOnly attributes (id, meta, groups, members.display) are ignored; `password` is kept in *out
 * (the caller hashes and removes it); attribute names are rewritten to their canonical case; booleans as
 * "True"/"False" strings are converted; required attributes (userName, displayName) present.
 * For a Group, `members` is removed from the returned doc and returned in *members as a
 * replace-all delta (NULL allowed when the caller does not want it). *out is a new document. */
idp_err scim_resource_normalize(const scim_resource_type *rt, const json_t *in, json_t **out,
                                scim_delta *members, idp_error *err);

/* Applies a PatchOp body ({"schemas":[SCIM_URN_PATCH],"Operations":[...]}) to doc in place
 * (doc is the stored, normalised document: for a Group without members). All operations apply
 * or none: on error doc is unchanged. Errors: invalidSyntax (malformed body), invalidPath,
 * noTarget (remove with a filter that matches nothing... RFC 7644 §3.5.2.2: a remove whose
 * path has no match is noTarget only when required), mutability (readOnly/immutable target),
 * invalidValue, invalidFilter. Member operations (path "members", "members[value eq \"id\"]",
 * or "members" inside a no-path value object) are added to *members. */
idp_err scim_patch_apply(const scim_resource_type *rt, json_t *doc, const json_t *patch_body,
                         scim_delta *members, idp_error *err);

/* Applies `attributes` / `excludedAttributes` (comma-separated attribute paths, RFC 7644 §3.9)
 * and the schema's `returned` rules (never: password; always: id, schemas, meta? -> per RFC
 * 7643 §7 id is always) to a full representation. Either list may be NULL. New reference. */
idp_err scim_project(const scim_resource_type *rt, const json_t *full, const char *attributes,
                     const char *excluded, json_t **out, idp_error *err);

#endif
