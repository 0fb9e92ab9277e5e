/* pg_sql — SCIM filter / sortBy -> PostgreSQL SQL with bound parameters. See pg_sql.h for the
 * mapping. Every string appended to the output below is either a constant of this file or a
 * canonical attribute name from the schema tables that passed safe_name(). */
#include "store/pg/pg_sql.h"

#include "core/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PQ_SQL_MAX (64u * 1024u)
#define PQ_EXPR_MAX 640
#define PQ_MAX_PARAMS 1024

typedef struct operand {
    char expr[PQ_EXPR_MAX];
    sa_type type;
    bool case_exact;
    bool ms_time;
    bool text; /* a text expression (folding, LIKE, `<> ''` apply) */
} operand;

typedef struct tr {
    pg_sql *o;
    const scim_resource_type *rt;
    bool is_user;
    idp_error *err;
} tr;

static idp_err bad(tr *t, const char *why)
{
    return IDP_FAIL(t->err, IDP_ERR_SCIM_INVALID_FILTER, "filter: %s", why);
}

static idp_err emit(tr *t, const char *s)
{
    if (buf_puts(&t->o->where, s) != 0)
        return IDP_FAIL(t->err, IDP_ERR_SCIM_TOO_MANY, "filter: too complex");
    return IDP_OK;
}

static const char *const pq_cast[] = {
    [PG_SQL_TEXT] = "::text", [PG_SQL_INT] = "::bigint", [PG_SQL_REAL] = "::float8"};

/* Appends a parameter and its placeholder ("$N::type"). Takes ownership of s. */
static idp_err emit_param(tr *t, pg_sql_ptype type, char *s)
{
    pg_sql *o = t->o;
    if (o->nparams == PQ_MAX_PARAMS) {
        free(s);
        return IDP_FAIL(t->err, IDP_ERR_SCIM_TOO_MANY, "filter: too many values");
    }
    if (o->nparams == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->params = xrealloc(o->params, o->cap * sizeof *o->params);
    }
    o->params[o->nparams++] = (pg_sql_param){.type = type, .s = s};
    char ph[32];
    snprintf(ph, sizeof ph, "$%zu%s", o->nparams, pq_cast[type]);
    return emit(t, ph);
}

static idp_err emit_text(tr *t, const char *v)
{
    return emit_param(t, PG_SQL_TEXT, xstrdup(v));
}

/* The placeholder of the last parameter again. */
static idp_err emit_last(tr *t)
{
    char ph[32];
    snprintf(ph, sizeof ph, "$%zu%s", t->o->nparams, pq_cast[t->o->params[t->o->nparams - 1].type]);
    return emit(t, ph);
}

static bool safe_name(const char *s)
{
    if (!s || !*s) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("$_:.-", *s)) return false;
    return true;
}

static bool cat(char *out, size_t n, const char *a)
{
    size_t la = strlen(out);
    return snprintf(out + la, n - la, "%s", a) < (int)(n - la);
}

/* A text[] literal of the path: '{"urn","name","sub"}' (names checked by safe_name). */
static bool path_lit(char *out, size_t n, const char *urn, const char *name, const char *sub)
{
    const char *parts[3] = {urn, name, sub};
    bool first = true;
    out[0] = '\0';
    if (!cat(out, n, "'{")) return false;
    for (int i = 0; i < 3; i++) {
        if (!parts[i]) continue;
        if (!safe_name(parts[i])) return false;
        if ((!first && !cat(out, n, ",")) || !cat(out, n, "\"") || !cat(out, n, parts[i]) ||
            !cat(out, n, "\""))
            return false;
        first = false;
    }
    return !first && cat(out, n, "}'");
}

static bool set_expr(operand *o, const char *a, const char *b, const char *c, const char *d)
{
    int k = snprintf(o->expr, sizeof o->expr, "%s%s%s%s", a, b ? b : "", c ? c : "", d ? d : "");
    return k > 0 && (size_t)k < sizeof o->expr;
}

static bool is_stringish(sa_type ty)
{
    return ty == SA_STRING || ty == SA_REFERENCE || ty == SA_BINARY || ty == SA_DATETIME;
}

/* The value at path (a text[] literal, or NULL for the value itself) within the jsonb J, typed
 * as the schema says: text for strings, store_jnum for numbers, store_jbool for booleans, jsonb
 * for complex values. */
static bool json_operand(operand *o, const char *J, const char *path)
{
    char at[PQ_EXPR_MAX];
    if (path)
        snprintf(at, sizeof at, "(%s #> %s)", J, path);
    else
        snprintf(at, sizeof at, "%s", J);
    if (is_stringish(o->type)) {
        o->text = true;
        return path ? set_expr(o, "(", J, " #>> ", path) && cat(o->expr, sizeof o->expr, ")")
                    : set_expr(o, "(", J, " #>> '{}')", NULL);
    }
    if (o->type == SA_BOOLEAN) return set_expr(o, "store_jbool(", at, ")", NULL);
    if (o->type == SA_INTEGER || o->type == SA_DECIMAL)
        return set_expr(o, "store_jnum(", at, ")", NULL);
    return set_expr(o, at, NULL, NULL, NULL);
}

static bool operand_of(tr *t, const scim_plan_attr *pa, operand *o)
{
    static const char *const cols[] = {
        [SCIM_LOC_ID] = ".id",
        [SCIM_LOC_EXTERNAL_ID] = ".external_id",
        [SCIM_LOC_USER_NAME] = ".user_name",
        [SCIM_LOC_DISPLAY_NAME] = ".display_name",
        [SCIM_LOC_CREATED] = ".created_at",
        [SCIM_LOC_MODIFIED] = ".modified_at",
    };
    const char *T = t->o->table;
    bool mem = pa->set == SCIM_SET_MEMBERS;
    char p[PQ_EXPR_MAX], J[64];
    memset(o, 0, sizeof *o);
    o->type = pa->type;
    o->case_exact = pa->case_exact;
    o->ms_time = pa->loc == SCIM_LOC_CREATED || pa->loc == SCIM_LOC_MODIFIED;
    switch (pa->loc) {
    case SCIM_LOC_ID:
    case SCIM_LOC_EXTERNAL_ID:
    case SCIM_LOC_USER_NAME:
    case SCIM_LOC_DISPLAY_NAME:
        o->text = true;
        return set_expr(o, T, cols[pa->loc], NULL, NULL);
    case SCIM_LOC_CREATED:
    case SCIM_LOC_MODIFIED:
        return set_expr(o, T, cols[pa->loc], NULL, NULL);
    case SCIM_LOC_ACTIVE:
        return set_expr(o, "(", T, ".active::int)", NULL);
    case SCIM_LOC_RESOURCE_TYPE:
        o->text = true;
        return set_expr(o, t->is_user ? "'User'::text" : "'Group'::text", NULL, NULL, NULL);
    case SCIM_LOC_DOC:
        snprintf(J, sizeof J, "%s.doc::jsonb", T);
        return path_lit(p, sizeof p, pa->urn, pa->name, pa->sub) && json_operand(o, J, p);
    case SCIM_LOC_ELEM:
        return json_operand(o, "e.value", NULL);
    case SCIM_LOC_ELEM_SUB:
        return path_lit(p, sizeof p, NULL, pa->sub, NULL) && json_operand(o, "e.value", p);
    case SCIM_LOC_REF_ID:
        o->text = true;
        return set_expr(o, mem ? "m.user_id" : "m.group_id", NULL, NULL, NULL);
    case SCIM_LOC_REF_DISPLAY:
        o->text = true;
        return set_expr(o, mem ? "u.user_name" : "g.display_name", NULL, NULL, NULL);
    case SCIM_LOC_REF_TYPE:
        o->text = true;
        return set_expr(o, mem ? "'User'::text" : "'direct'::text", NULL, NULL, NULL);
    case SCIM_LOC_SET:
        break;
    }
    return false;
}

/* ---- comparisons ---------------------------------------------------------------------------- */

static char *like_pattern(const char *v, sf_op op)
{
    size_t n = strlen(v);
    char *p = xmalloc(2 * n + 3), *w = p;
    if (op != SF_SW) *w++ = '%';
    for (; *v; v++) {
        if (*v == '%' || *v == '_' || *v == '\\') *w++ = '\\';
        *w++ = *v;
    }
    if (op != SF_EW) *w++ = '%';
    *w = '\0';
    return p;
}

static const char *const pq_relop[] = {
    [SF_EQ] = " = ", [SF_NE] = " IS DISTINCT FROM ",
    [SF_GT] = " > ", [SF_GE] = " >= ",
    [SF_LT] = " < ", [SF_LE] = " <= ",
};

static idp_err emit_substring(tr *t, const operand *o, const scim_plan_node *n)
{
    idp_err rc;
    const char *v = n->value.s;
    if (!o->text) return bad(t, "substring operator on a value that is not a string");
    if (!o->case_exact) {
        if ((rc = emit(t, "(store_fold(")) || (rc = emit(t, o->expr)) ||
            (rc = emit(t, ") LIKE store_fold(")))
            return rc;
        if ((rc = emit_param(t, PG_SQL_TEXT, like_pattern(v, n->op)))) return rc;
        return emit(t, ") ESCAPE '\\')");
    }
    if (n->op == SF_CO) {
        if ((rc = emit(t, "(strpos(")) || (rc = emit(t, o->expr)) || (rc = emit(t, ", ")) ||
            (rc = emit_text(t, v)))
            return rc;
        return emit(t, ") > 0)");
    }
    /* sw: left(x, length(v)) = v; ew: (length(v) = 0 OR right(x, length(v)) = v) */
    if (n->op == SF_SW) {
        if ((rc = emit(t, "(left(")) || (rc = emit(t, o->expr)) || (rc = emit(t, ", length(")) ||
            (rc = emit_text(t, v)))
            return rc;
    } else {
        if ((rc = emit(t, "(length(")) || (rc = emit_text(t, v)) ||
            (rc = emit(t, ") = 0 OR right(")) || (rc = emit(t, o->expr)) ||
            (rc = emit(t, ", length(")) || (rc = emit_last(t)))
            return rc;
    }
    if ((rc = emit(t, ")) = ")) || (rc = emit_last(t))) return rc;
    return emit(t, ")");
}

static idp_err emit_value(tr *t, const scim_plan_value *v)
{
    char num[48];
    switch (v->kind) {
    case SCIM_PV_TEXT:
        return emit_text(t, v->s);
    case SCIM_PV_INT:
        snprintf(num, sizeof num, "%lld", (long long)v->i);
        return emit_param(t, PG_SQL_INT, xstrdup(num));
    case SCIM_PV_REAL:
        snprintf(num, sizeof num, "%.17g", v->d);
        return emit_param(t, PG_SQL_REAL, xstrdup(num));
    case SCIM_PV_NONE:
    case SCIM_PV_NULL:
        break;
    }
    return bad(t, "a comparison needs a value");
}

static idp_err emit_cmp(tr *t, const operand *o, const scim_plan_node *n)
{
    idp_err rc;
    if (n->op == SF_PR) {
        if ((rc = emit(t, "(")) || (rc = emit(t, o->expr)) || (rc = emit(t, " IS NOT NULL")))
            return rc;
        if (o->text &&
            ((rc = emit(t, " AND ")) || (rc = emit(t, o->expr)) || (rc = emit(t, " <> ''"))))
            return rc;
        return emit(t, ")");
    }
    if (n->value.kind == SCIM_PV_NULL) {
        if ((rc = emit(t, "(")) || (rc = emit(t, o->expr))) return rc;
        return emit(t, n->op == SF_EQ ? " IS NULL)" : " IS NOT NULL)");
    }
    if (n->op == SF_CO || n->op == SF_SW || n->op == SF_EW) return emit_substring(t, o, n);
    if ((unsigned)n->op >= sizeof pq_relop / sizeof *pq_relop || !pq_relop[n->op])
        return bad(t, "unknown operator");
    bool fold = o->text && !o->ms_time && !o->case_exact;
    /* Ordering compares bytes (COLLATE "C", as SQLite). Equality needs no collation: under a
     * deterministic collation (every database default is one) text equality is byte equality.
     * And it must not have one: `expr COLLATE "C" = ...` does not match an index on expr (the
     * database's collation), so `userName eq` would scan every user instead of using
     * users_user_name (test_store_pg filter_plans_use_indexes). */
    bool collate = o->text && n->op != SF_EQ && n->op != SF_NE;
    if (n->value.kind == SCIM_PV_TEXT && !o->text)
        return bad(t, "a text value for a non-text value");
    if ((rc = emit(t, fold ? "(store_fold(" : "(")) || (rc = emit(t, o->expr)) ||
        (rc = emit(t, fold ? ")" : "")) || (rc = emit(t, collate ? " COLLATE \"C\"" : "")) ||
        (rc = emit(t, pq_relop[n->op])) || (rc = emit(t, fold ? "store_fold(" : "")) ||
        (rc = emit_value(t, &n->value)))
        return rc;
    return emit(t, fold ? "))" : ")");
}

/* ---- multi-valued attributes and the tree ---------------------------------------------------- */

static idp_err node(tr *t, const scim_plan_node *n, bool in_elem);

static idp_err emit_exists_open(tr *t, const scim_plan_attr *pa)
{
    idp_err rc;
    const char *T = t->o->table;
    if (pa->set == SCIM_SET_DOC) {
        char path[PQ_EXPR_MAX];
        if (!path_lit(path, sizeof path, pa->urn, pa->name, NULL))
            return bad(t, "attribute not filterable");
        if ((rc = emit(t, "EXISTS (SELECT 1 FROM store_jarr(")) || (rc = emit(t, T)) ||
            (rc = emit(t, ".doc::jsonb #> ")) || (rc = emit(t, path)) ||
            (rc = emit(t, ") AS e(value) WHERE (")))
            return rc;
        return IDP_OK;
    }
    if (pa->set == SCIM_SET_MEMBERS)
        return emit(t, "EXISTS (SELECT 1 FROM memberships AS m JOIN users AS u ON u.id = m.user_id "
                       "WHERE m.group_id = groups.id AND (");
    return emit(t, "EXISTS (SELECT 1 FROM memberships AS m JOIN groups AS g ON g.id = m.group_id "
                   "WHERE m.user_id = users.id AND (");
}

static idp_err multi_compare(tr *t, const scim_plan_node *n)
{
    const scim_plan_attr *pa = &n->attr;
    operand o;
    idp_err rc;
    if (pa->loc == SCIM_LOC_SET) {
        if (pa->set == SCIM_SET_DOC) {
            char path[PQ_EXPR_MAX];
            if (!path_lit(path, sizeof path, pa->urn, pa->name, NULL))
                return bad(t, "attribute not filterable");
            if ((rc = emit(t, "EXISTS (SELECT 1 FROM store_jarr(")) ||
                (rc = emit(t, t->o->table)) || (rc = emit(t, ".doc::jsonb #> ")) ||
                (rc = emit(t, path)))
                return rc;
            return emit(t, "))");
        }
        return emit(t, pa->set == SCIM_SET_MEMBERS
                           ? "EXISTS (SELECT 1 FROM memberships AS m WHERE m.group_id = groups.id)"
                           : "EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = users.id)");
    }
    if (!operand_of(t, pa, &o)) return bad(t, "attribute not filterable");
    if ((rc = emit_exists_open(t, pa)) || (rc = emit_cmp(t, &o, n))) return rc;
    return emit(t, "))");
}

static idp_err compare(tr *t, const scim_plan_node *n, bool in_elem)
{
    operand o;
    if (n->attr.set != SCIM_SET_NONE && !in_elem) return multi_compare(t, n);
    if (n->attr.loc == SCIM_LOC_DOC && n->attr.type == SA_COMPLEX) { /* `name pr` */
        idp_err rc;
        if (!operand_of(t, &n->attr, &o)) return bad(t, "attribute not filterable");
        if ((rc = emit(t, "(")) || (rc = emit(t, o.expr)) ||
            (rc = emit(t, " IS NOT NULL AND jsonb_typeof(")) || (rc = emit(t, o.expr)))
            return rc;
        return emit(t, ") <> 'null')");
    }
    if (!operand_of(t, &n->attr, &o)) return bad(t, "attribute not filterable");
    return emit_cmp(t, &o, n);
}

static idp_err node(tr *t, const scim_plan_node *n, bool in_elem)
{
    idp_err rc;
    if (!n) return bad(t, "empty expression");
    switch (n->kind) {
    case SCIM_PLAN_AND:
    case SCIM_PLAN_OR:
        if ((rc = emit(t, "(")) || (rc = node(t, n->left, in_elem)) ||
            (rc = emit(t, n->kind == SCIM_PLAN_AND ? " AND " : " OR ")) ||
            (rc = node(t, n->right, in_elem)))
            return rc;
        return emit(t, ")");
    case SCIM_PLAN_NOT:
        if ((rc = emit(t, "(NOT coalesce(")) || (rc = node(t, n->left, in_elem))) return rc;
        return emit(t, ", false))");
    case SCIM_PLAN_CMP:
        return compare(t, n, in_elem);
    case SCIM_PLAN_ANY:
        if (in_elem) return bad(t, "value filters do not nest");
        if ((rc = emit_exists_open(t, &n->attr)) || (rc = node(t, n->left, true))) return rc;
        return emit(t, "))");
    }
    return bad(t, "unknown expression");
}

/* ---- sortBy --------------------------------------------------------------------------------- */

static idp_err bad_sort(tr *t, const char *why)
{
    return IDP_FAIL(t->err, IDP_ERR_SCIM_INVALID_PATH, "sortBy: %s", why);
}

static idp_err sort_key(tr *t, const char *sort_by, operand *o, bool *nullable)
{
    scim_plan_attr pa;
    idp_err rc = scim_plan_sort_key(t->rt, sort_by, &pa, t->err);
    if (rc) return rc;
    *nullable = true;
    if (pa.set == SCIM_SET_NONE) {
        if (!operand_of(t, &pa, o)) return bad_sort(t, "attribute path too long");
        *nullable = pa.loc == SCIM_LOC_DOC || pa.loc == SCIM_LOC_EXTERNAL_ID;
        return IDP_OK;
    }
    operand eo;
    char path[PQ_EXPR_MAX], head[PQ_EXPR_MAX + 64];
    if (pa.set != SCIM_SET_DOC || !operand_of(t, &pa, &eo) ||
        !path_lit(path, sizeof path, pa.urn, pa.name, NULL))
        return bad_sort(t, "attribute not sortable");
    /* the primary element, else the first (RFC 7644 §3.4.2.3) */
    snprintf(head, sizeof head, "(SELECT %s FROM store_jarr_ord(%s.doc::jsonb #> ", eo.expr,
             t->o->table);
    memset(o, 0, sizeof *o);
    o->type = pa.type;
    o->case_exact = pa.case_exact;
    o->text = eo.text;
    if (!set_expr(o, head, path, NULL, NULL) ||
        !cat(o->expr, sizeof o->expr,
             ") AS e(value, ord) ORDER BY coalesce(e.value -> 'primary' = 'true'::jsonb, false) "
             "DESC, e.ord LIMIT 1)"))
        return bad_sort(t, "attribute path too long");
    return IDP_OK;
}

/* ORDER BY: the key, then the insertion order (rid) in the same direction as a tie-break. */
static idp_err build_order(tr *t, const char *sort_by, bool desc)
{
    operand o;
    bool nullable = false;
    const char *T = t->o->table, *dir = desc ? " DESC" : " ASC";
    idp_buf *b = &t->o->order;
    if (!sort_by) {
        buf_printf(b, "%s.created_at%s, %s.rid%s", T, dir, T, dir);
        return IDP_OK;
    }
    idp_err rc = sort_key(t, sort_by, &o, &nullable);
    if (rc) return rc;
    bool nocase = o.text && !o.case_exact && !o.ms_time;
    if (buf_printf(b, "%s%s%s%s%s%s, %s.rid%s", nocase ? "store_fold(" : "", o.expr,
                   nocase ? ")" : "", o.text ? " COLLATE \"C\"" : "", dir,
                   nullable ? " NULLS LAST" : "", T, dir) != 0)
        return bad_sort(t, "too long");
    return IDP_OK;
}

/* ---- entry points --------------------------------------------------------------------------- */

idp_err pg_sql_build(const scim_resource_type *rt, const scim_plan *plan, const char *sort_by,
                     bool descending, pg_sql *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->where, PQ_SQL_MAX);
    buf_init(&out->order, PQ_SQL_MAX);
    if ((rt != &scim_rt_user && rt != &scim_rt_group) || (plan && plan->rt != rt))
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "filter: unknown resource type");
    tr t = {.o = out, .rt = rt, .is_user = rt == &scim_rt_user, .err = err};
    out->table = t.is_user ? "users" : "groups";
    idp_err rc = plan && plan->root ? node(&t, plan->root, false) : emit(&t, "true");
    if (!rc) rc = build_order(&t, sort_by, descending);
    return rc;
}

void pg_sql_clear(pg_sql *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nparams; i++)
        free(s->params[i].s);
    free(s->params);
    buf_free(&s->where);
    buf_free(&s->order);
    memset(s, 0, sizeof *s);
}
