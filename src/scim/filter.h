/* filter — SCIM 2.0 attribute paths and filters (RFC 7644 §3.4.2.2, §3.5.2 PATH grammar, and the
 * ABNF of RFC 7644 Figure 1 / §3.10).
 *
 * Parsing is pure and schema-free: names are kept as written, and resolution against the schema
 * (case-insensitive attribute names, RFC 7643 §2.1) happens in scim_path_resolve (schema.h).
 * Caps: filter text <= SCIM_FILTER_MAX_LEN, nesting (parentheses, not, value paths) <=
 * SCIM_FILTER_MAX_DEPTH, <= SCIM_FILTER_MAX_NODES nodes (and/or chains are left-deep trees, so
 * the tree itself can be up to ~MAX_NODES/2 levels deep). Comparison values must be JSON
 * literals: unquoted strings (userName eq bjensen) are rejected. Every failure is IDP_ERR_INVALID with a
 * message naming the offset, and maps to scimType invalidFilter (filters) or invalidPath (paths)
 * in the caller. */
#ifndef IDPD_SCIM_FILTER_H
#define IDPD_SCIM_FILTER_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SCIM_FILTER_MAX_LEN 4096
#define SCIM_FILTER_MAX_DEPTH 16
#define SCIM_FILTER_MAX_NODES 256

/* attrPath = [URI ":"] ATTRNAME *1subAttr, e.g. "userName", "name.givenName",
 * "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value". */
typedef struct scim_attr_path {
    char *urn;  /* schema URN prefix or NULL */
    char *attr; /* attribute name as written */
    char *sub;  /* sub-attribute name or NULL */
} scim_attr_path;

typedef enum sf_kind {
    SF_COMPARE, /* path op value   (op = pr: no value) */
    SF_AND,
    SF_OR,
    SF_NOT,       /* not ( left ) */
    SF_VALUEPATH, /* path[ left ]  — left is relative to the elements of a multi-valued attr */
} sf_kind;

typedef enum sf_op { SF_EQ, SF_NE, SF_CO, SF_SW, SF_EW, SF_PR, SF_GT, SF_GE, SF_LT, SF_LE } sf_op;

typedef enum sf_vtype { SF_V_NONE, SF_V_STRING, SF_V_NUMBER, SF_V_TRUE, SF_V_FALSE, SF_V_NULL } sf_vtype;

typedef struct sf_node {
    sf_kind kind;
    scim_attr_path path;    /* SF_COMPARE, SF_VALUEPATH */
    sf_op op;               /* SF_COMPARE */
    sf_vtype vtype;         /* SF_COMPARE */
    char *str;              /* SF_V_STRING: decoded JSON string; SF_V_NUMBER: the literal */
    double num;             /* SF_V_NUMBER */
    struct sf_node *left;   /* AND/OR/NOT/VALUEPATH */
    struct sf_node *right;  /* AND/OR */
} sf_node;

/* Parses a filter; operators and logical words are case-insensitive (RFC 7644 §3.4.2.2); values
 * are JSON literals (strings with JSON escapes, numbers, true, false, null). *out owned. */
idp_err scim_filter_parse(const char *s, size_t n, sf_node **out, idp_error *err);
void scim_filter_free(sf_node *f); /* accepts NULL */

/* PATCH path (RFC 7644 §3.5.2): attrPath, or valuePath with an optional ".subAttr" after the
 * bracket: emails[type eq "work"].value. */
typedef struct scim_patch_path {
    scim_attr_path path;   /* the attribute (sub NULL when a value filter is present) */
    sf_node *value_filter; /* owned; NULL when there is no [..] */
    char *value_sub;       /* sub-attribute after the bracket, or NULL */
} scim_patch_path;

idp_err scim_patch_path_parse(const char *s, size_t n, scim_patch_path *out, idp_error *err);
void scim_patch_path_clear(scim_patch_path *p);

/* Evaluates a filter against one JSON object in memory (a multi-valued element for value paths,
 * e.g. {"type":"work","value":"a@b"}, or a small resource). Attribute names match
 * case-insensitively; string comparison is case-insensitive unless case_exact says otherwise
 * (callback may be NULL = everything case-insensitive). Used by PATCH value filters; list
 * queries are resolved into a plan (plan.h) that the store translates to its query language. */
/* Semantics (RFC 7644 §3.4.2.2; plan.h and the SQL translation in store/scim_sql.h follow the
 * same rules):
 * - a comparison on a multi-valued attribute matches when ANY element matches (so `emails ne "x"`
 *   matches when some element differs); a complex attribute without sub-attribute compares its
 *   "value" sub-attribute (emails co "x" == emails.value co "x");
 * - unassigned (missing, null, empty array; RFC 7643 §2.5): every operator is false except `ne`
 *   (nothing is "identical" to the value) — hence also `not (x eq v)` matches; `eq null` matches
 *   exactly the unassigned attributes and `ne null` the assigned ones;
 * - pr: present and non-empty ("" and [] and {} and null are not present);
 * - strings: eq/ne/co/sw/ew and ordering case-insensitive (ASCII folding) unless case_exact;
 *   gt/ge/lt/le compare chronologically when both sides are RFC 3339 date-times, else
 *   lexicographically by bytes; numbers numerically; booleans only eq/ne (ordering: false);
 * - values of different JSON types are never equal (eq false, ne true, ordering false).
 * The case_exact callback gets the path as written in the node (relative inside a value path). */
typedef bool (*scim_case_exact_fn)(const scim_attr_path *p, void *ctx);
bool scim_filter_match(const sf_node *f, const json_t *obj, scim_case_exact_fn case_exact, void *ctx);

#endif
