/* scim_sql — a resolved SCIM filter plan (scim/plan.h) and sortBy (RFC 7644 §3.4.2.2,
 * §3.4.2.3) translated to SQLite SQL. Which attributes, operators and values are valid is decided
 * by the plan; this file only chooses the SQL for each location.
 *
 * Injection safety by construction: the emitted text is assembled ONLY from constant fragments
 * in this file (column names from a whitelist, operators from a table) and from canonical
 * attribute names the plan took from the schema tables (scim/schema.h), never from filter text. Every
 * value from the filter is a bound parameter, numbered ?1..?N in emission order.
 *
 * Mapping of the plan's locations (table T = users or groups):
 *   id, externalId, userName, active, displayName (Group)  -> T.<column>
 *   meta.created / meta.lastModified                       -> T.created_at / T.modified_at (ms;
 *                                                             the value is an RFC 3339 string)
 *   meta.resourceType                                      -> the constant 'User' / 'Group'
 *   other singular attributes    -> json_extract(T.doc, '$."name"."familyName"') (canonical names)
 *   multi-valued attributes      -> EXISTS (SELECT 1 FROM json_each(T.doc, '$."emails"') AS e
 *                                   WHERE <condition on the element>); a comparison on the
 *                                   attribute itself means its "value" sub-attribute
 *   Group members / User groups  -> EXISTS over the memberships table
 * * Strings with caseExact=false compare with ASCII case folding (COLLATE NOCASE, LIKE), matching
 * the NOCASE uniqueness index on userName (see migrations/sqlite/0002_scim.sql); co/sw/ew use
 * LIKE ... ESCAPE '\' with %, _ and \ escaped in the bound pattern, or instr()/substr() when
 * caseExact. `not (x)` is NOT coalesce(x, 0): a missing attribute does not match `eq`, so it
 * does match `not (eq)`. `ne` is NULL-safe (IS NOT): a missing attribute is "not equal". */
#ifndef IDPD_STORE_SCIM_SQL_H
#define IDPD_STORE_SCIM_SQL_H

#include "core/buf.h"
#include "core/err.h"
#include "scim/plan.h"
#include "scim/schema.h"

#include <stdint.h>

typedef enum scim_sql_ptype { SCIM_SQL_TEXT, SCIM_SQL_INT, SCIM_SQL_REAL } scim_sql_ptype;

typedef struct scim_sql_param {
    scim_sql_ptype type;
    char *s;   /* TEXT, owned */
    int64_t i; /* INT */
    double d;  /* REAL */
} scim_sql_param;

typedef struct scim_sql {
    const char *table;      /* "users" or "groups" (static) */
    idp_buf where;          /* boolean SQL expression; "1" without a filter */
    idp_buf order;          /* ORDER BY list (without the keyword) */
    scim_sql_param *params; /* ?1..?nparams, owned */
    size_t nparams;
    size_t cap;
} scim_sql;

/* Translates the filter plan (NULL, or a NULL root = all rows; built for rt) and the sort
 * (sort_by NULL = creation order) for rt (scim_rt_user or scim_rt_group). out is initialised
 * here; free with scim_sql_clear, also on error. Errors: IDP_ERR_SCIM_INVALID_PATH (sortBy, from
 * scim_plan_sort_key, or a multi-valued key that is not in the document), IDP_ERR_SCIM_TOO_MANY
 * (text or parameters over the caps), IDP_ERR_SCIM_INVALID_FILTER only for a plan this
 * translator cannot express. */
idp_err scim_sql_build(const scim_resource_type *rt, const scim_plan *plan, const char *sort_by,
                       bool descending, scim_sql *out, idp_error *err);
void scim_sql_clear(scim_sql *s); /* accepts NULL and a zeroed struct */

#endif
