/* plan — a SCIM filter (RFC 7644 §3.4.2.2) resolved against a resource type: every attribute
 * path looked up once in the schema tables (schema.h), every rule that does not depend on a
 * storage dialect checked once, the comparison values converted to their stored form. A store
 * backend translates the plan to its query language without touching the schema or the filter
 * text (store/scim_sql.h for SQLite).
 *
 * Where a value lives follows the logical data model (DESIGN §4): a few attributes are fields of
 * the resource row (id, externalId, userName, active, displayName, meta.created,
 * meta.lastModified), meta.resourceType is a constant, group membership is its own relation, and
 * everything else is a path in the resource's JSON document (core attributes at the top,
 * extension attributes under their schema URN, RFC 7643 §3.3).
 *
 * Semantics the backend implements are those of scim_filter_match (filter.h): a comparison on a
 * multi-valued attribute matches when any element matches, unassigned values match only `ne`,
 * `not` of an unassigned comparison matches, strings fold ASCII case unless case_exact. */
#ifndef IDPD_SCIM_PLAN_H
#define IDPD_SCIM_PLAN_H

#include "core/err.h"
#include "scim/filter.h"
#include "scim/schema.h"

#include <stdbool.h>
#include <stdint.h>

/* Nesting cap; the parser's SCIM_FILTER_MAX_DEPTH is lower, this one bounds hand-built trees. */
#define SCIM_PLAN_MAX_DEPTH 64
#define SCIM_PLAN_SORT_MAX 512 /* longest sortBy path */

/* Where a compared value lives. */
typedef enum scim_plan_loc {
    SCIM_LOC_DOC, /* singular value in the document: urn / name / sub */
    SCIM_LOC_ID,  /* row fields */
    SCIM_LOC_EXTERNAL_ID,
    SCIM_LOC_USER_NAME,
    SCIM_LOC_ACTIVE,
    SCIM_LOC_DISPLAY_NAME,
    SCIM_LOC_CREATED,       /* ms since the epoch; the value is SCIM_PV_INT ms */
    SCIM_LOC_MODIFIED,      /* ditto */
    SCIM_LOC_RESOURCE_TYPE, /* the constant rt->name */
    /* the elements of a multi-valued attribute (set != SCIM_SET_NONE): */
    SCIM_LOC_SET,         /* the attribute as a whole: only `pr` (at least one element) */
    SCIM_LOC_ELEM,        /* a document element itself (multi-valued simple attribute) */
    SCIM_LOC_ELEM_SUB,    /* sub-attribute `sub` of a document element */
    SCIM_LOC_REF_ID,      /* membership: the id of the other side ("value") */
    SCIM_LOC_REF_DISPLAY, /* membership: the other side's userName / displayName ("display") */
    SCIM_LOC_REF_TYPE,    /* membership: the constant "User" (members) or "direct" (groups) */
} scim_plan_loc;

/* The elements a multi-valued comparison or a value filter ranges over. */
typedef enum scim_plan_set {
    SCIM_SET_NONE,
    SCIM_SET_DOC,     /* a JSON array in the document at urn / name */
    SCIM_SET_MEMBERS, /* Group "members": the users in the group */
    SCIM_SET_GROUPS,  /* User "groups": the groups the user is in */
} scim_plan_set;

/* A resolved attribute. Names are the canonical ones of the schema tables (static), never the
 * text of the filter. */
typedef struct scim_plan_attr {
    scim_plan_loc loc;
    scim_plan_set set; /* SCIM_SET_NONE for singular values */
    const char *urn;   /* extension schema URN of a document path or set, NULL for core */
    const char *name;  /* top-level attribute */
    const char *sub;   /* sub-attribute (document path, element sub-attribute) or NULL */
    sa_type type;      /* of the compared value */
    bool case_exact;   /* strings: compare bytes exactly instead of folding ASCII case */
    bool multi_valued; /* the top-level attribute is multi-valued */
} scim_plan_attr;

typedef enum scim_plan_vkind {
    SCIM_PV_NONE, /* pr */
    SCIM_PV_NULL, /* eq null / ne null */
    SCIM_PV_TEXT,
    SCIM_PV_INT, /* integers, booleans (0/1), SCIM_LOC_CREATED/MODIFIED times (ms) */
    SCIM_PV_REAL,
} scim_plan_vkind;

typedef struct scim_plan_value {
    scim_plan_vkind kind;
    char *s;   /* TEXT, owned */
    int64_t i; /* INT */
    double d;  /* REAL */
} scim_plan_value;

typedef enum scim_plan_kind {
    SCIM_PLAN_CMP, /* attr op value; attr.set != NONE outside SCIM_PLAN_ANY: any element matches */
    SCIM_PLAN_AND,
    SCIM_PLAN_OR,
    SCIM_PLAN_NOT,
    SCIM_PLAN_ANY, /* value filter attr[left]: some element of attr.set satisfies left, whose
                    * comparisons are on that element (loc ELEM_SUB / REF_*) */
} scim_plan_kind;

typedef struct scim_plan_node {
    scim_plan_kind kind;
    scim_plan_attr attr;          /* CMP, ANY */
    sf_op op;                     /* CMP; co/sw/ew only with TEXT values */
    scim_plan_value value;        /* CMP */
    struct scim_plan_node *left;  /* AND, OR, NOT, ANY */
    struct scim_plan_node *right; /* AND, OR */
} scim_plan_node;

typedef struct scim_plan {
    const scim_resource_type *rt; /* scim_rt_user or scim_rt_group */
    scim_plan_node *root;
} scim_plan;

/* Resolves filter f for rt (scim_rt_user or scim_rt_group). *out owned (scim_plan_free); it does
 * not borrow from f. Errors: IDP_ERR_SCIM_INVALID_FILTER (unknown attribute, a never-returned
 * attribute such as password — filtering on it would be an oracle for its value —, an attribute
 * that is not stored (meta.location, meta.version, $ref, schemas), an operator not valid for the
 * attribute's type, a value of the wrong type, a malformed RFC 3339 date-time, a value filter on
 * anything but a multi-valued complex attribute or nested in another),
 * IDP_ERR_SCIM_TOO_MANY (deeper than SCIM_PLAN_MAX_DEPTH). A path that does not resolve, or a
 * value filter nested in another or naming anything but a plain sub-attribute, is reported
 * before any other error anywhere in f; otherwise the first violation in document order. The
 * walk visits every node of f (the parser's caps bound it). */
idp_err scim_plan_build(const scim_resource_type *rt, const sf_node *f, scim_plan **out,
                        idp_error *err);
void scim_plan_free(scim_plan *p); /* accepts NULL */

/* The key of sortBy (RFC 7644 §3.4.2.3), "[urn:]attr[.sub]", for rt: a row field, a singular
 * document value (a complex attribute alone means its "value"), or for a multi-valued
 * attribute its elements' value (set != SCIM_SET_NONE, loc ELEM / ELEM_SUB / REF_*): the store
 * sorts by the primary element, else the first. Errors: IDP_ERR_SCIM_INVALID_PATH (malformed,
 * unknown, never returned, not stored, a complex attribute without a "value"). */
idp_err scim_plan_sort_key(const scim_resource_type *rt, const char *sort_by, scim_plan_attr *out,
                           idp_error *err);

/* RFC 3339 §5.6 date-time ("2024-05-01T12:00:00.123Z", "...+02:00") -> ms since the epoch;
 * fractions beyond ms are truncated. Returns false when malformed. */
bool scim_plan_parse_time(const char *s, int64_t *ms);

#endif
