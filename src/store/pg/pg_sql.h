/* pg_sql — a resolved SCIM filter plan (scim/plan.h) and sortBy translated to PostgreSQL SQL
 * with bound parameters: the twin of sqlite/scim_sql.c, with the same semantics.
 *
 * Injection safety by construction, as on SQLite: the text is assembled only from constant
 * fragments of pg_sql.c and canonical attribute names from the schema tables (safe_name()),
 * never from filter text; every value is a parameter $1..$N in emission order, each with an
 * explicit cast ($n::text, $n::bigint, $n::float8).
 *
 * Mapping (T = users or groups):
 *   row fields                      -> T.<column> (active as an integer 0/1)
 *   meta.created / lastModified     -> T.created_at / T.modified_at (ms)
 *   meta.resourceType               -> the constant 'User' / 'Group'
 *   other singular attributes       -> (T.doc::jsonb #>> '{"name","familyName"}') for strings,
 *                                      store_jnum(...) for numbers, store_jbool(...) for booleans
 *                                      (1/0 as SQLite's json_extract gives them)
 *   multi-valued attributes         -> EXISTS (SELECT 1 FROM store_jarr(T.doc::jsonb #> '{..}')
 *                                      AS e(value) WHERE <condition on the element>)
 *   Group members / User groups     -> EXISTS over the memberships table
 * Strings with caseExact=false compare with ASCII-only folding, store_fold() (the function the
 * unique userName index uses: pg/migrations/0001_init.sql), the same folding as SQLite's NOCASE;
 * ordering compares bytes (COLLATE "C"), as SQLite does; eq/ne carry no COLLATE (byte equality
 * anyway), so that they match the indexes on the database's collation. co/sw/ew: LIKE ... ESCAPE '\' on folded
 * text with %, _ and \ escaped in the bound pattern, strpos()/left()/right() when caseExact.
 * `not (x)` is NOT coalesce(x, false); `ne` is IS DISTINCT FROM. */
#ifndef IDPD_STORE_PG_SQL_H
#define IDPD_STORE_PG_SQL_H

#include "core/buf.h"
#include "core/err.h"
#include "scim/plan.h"
#include "scim/schema.h"

#include <stdint.h>

typedef enum pg_sql_ptype { PG_SQL_TEXT, PG_SQL_INT, PG_SQL_REAL } pg_sql_ptype;

typedef struct pg_sql_param {
    pg_sql_ptype type;
    char *s; /* the value as text (every type), owned */
} pg_sql_param;

typedef struct pg_sql {
    const char *table;    /* "users" or "groups" (static) */
    idp_buf where;        /* boolean SQL expression; "true" without a filter */
    idp_buf order;        /* ORDER BY list (without the keyword) */
    pg_sql_param *params; /* $1..$nparams, owned */
    size_t nparams;
    size_t cap;
} pg_sql;

/* As scim_sql_build (sqlite/scim_sql.h), for PostgreSQL. Free with pg_sql_clear, also on error. */
idp_err pg_sql_build(const scim_resource_type *rt, const scim_plan *plan, const char *sort_by,
                     bool descending, pg_sql *out, idp_error *err);
void pg_sql_clear(pg_sql *s);

#endif
