/* scim_sql — SCIM filter / sortBy -> SQLite SQL with bound parameters. See scim_sql.h for the
 * mapping. Every string appended to the output below is either a constant of this file or a
 * canonical attribute name from the schema tables that passed safe_name(). */
#include "store/sqlite/scim_sql.h"

#include "core/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_SQL_MAX (64u * 1024u) /* generated text cap */
#define SQ_EXPR_MAX 384          /* one operand expression */
#define SQ_MAX_PARAMS 1024

/* An SQL operand: a fixed expression plus what the schema says about its values. */
typedef struct operand {
    char expr[SQ_EXPR_MAX];
    sa_type type;
    bool case_exact;
    bool ms_time; /* integer ms column compared with RFC 3339 values */
} operand;

typedef struct tr {
    scim_sql *o;
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

/* Appends a parameter and its placeholder ("?N"). Takes ownership of s (TEXT). */
static idp_err emit_param(tr *t, scim_sql_ptype type, char *s, int64_t i, double d)
{
    scim_sql *o = t->o;
    if (o->nparams == SQ_MAX_PARAMS) {
        free(s);
        return IDP_FAIL(t->err, IDP_ERR_SCIM_TOO_MANY, "filter: too many values");
    }
    if (o->nparams == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->params = xrealloc(o->params, o->cap * sizeof *o->params);
    }
    o->params[o->nparams++] = (scim_sql_param){.type = type, .s = s, .i = i, .d = d};
    char ph[24];
    snprintf(ph, sizeof ph, "?%zu", o->nparams);
    return emit(t, ph);
}

/* The placeholder of the last parameter again (for expressions that use a value twice). */
static idp_err emit_last(tr *t)
{
    char ph[24];
    snprintf(ph, sizeof ph, "?%zu", t->o->nparams);
    return emit(t, ph);
}

/* Schema names go into JSON paths inside SQL string literals: allow only what the tables use. */
static bool safe_name(const char *s)
{
    if (!s || !*s) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("$_:.-", *s)) return false;
    return true;
}

static const char *cat(char *out, size_t n, const char *a, const char *b)
{
    size_t la = strlen(out);
    if (snprintf(out + la, n - la, "%s%s", a, b ? b : "") >= (int)(n - la)) return NULL;
    return out;
}

/* Appends '."name"' to a JSON path under construction. */
static bool jp_add(char *out, size_t n, const char *name)
{
    if (!safe_name(name)) return false;
    return cat(out, n, ".\"", name) && cat(out, n, "\"", NULL);
}

/* The JSON path of attribute name (and sub, may be NULL) within T.doc: $."name"."sub" for core
 * attributes, $."urn"."name"."sub" for extensions (urn not NULL). */
static bool json_path(char *out, size_t n, const char *urn, const char *name, const char *sub)
{
    out[0] = '\0';
    if (!cat(out, n, "$", NULL)) return false;
    if (urn && !jp_add(out, n, urn)) return false;
    return jp_add(out, n, name) && (!sub || jp_add(out, n, sub));
}

static bool set_expr(operand *o, const char *a, const char *b, const char *c)
{
    int k = snprintf(o->expr, sizeof o->expr, "%s%s%s", a, b ? b : "", c ? c : "");
    return k > 0 && (size_t)k < sizeof o->expr;
}

/* The SQL expression of a resolved location (plan.h). false when not filterable. */
static bool operand_of(tr *t, const scim_plan_attr *pa, operand *o)
{
    static const char *const cols[] = {
        [SCIM_LOC_ID] = ".id",
        [SCIM_LOC_EXTERNAL_ID] = ".external_id",
        [SCIM_LOC_USER_NAME] = ".user_name",
        [SCIM_LOC_ACTIVE] = ".active",
        [SCIM_LOC_DISPLAY_NAME] = ".display_name",
        [SCIM_LOC_CREATED] = ".created_at",
        [SCIM_LOC_MODIFIED] = ".modified_at",
    };
    const char *T = t->o->table;
    bool mem = pa->set == SCIM_SET_MEMBERS;
    memset(o, 0, sizeof *o);
    o->type = pa->type;
    o->case_exact = pa->case_exact;
    o->ms_time = pa->loc == SCIM_LOC_CREATED || pa->loc == SCIM_LOC_MODIFIED;
    switch (pa->loc) {
    case SCIM_LOC_ID:
    case SCIM_LOC_EXTERNAL_ID:
    case SCIM_LOC_USER_NAME:
    case SCIM_LOC_ACTIVE:
    case SCIM_LOC_DISPLAY_NAME:
    case SCIM_LOC_CREATED:
    case SCIM_LOC_MODIFIED:
        return set_expr(o, T, cols[pa->loc], NULL);
    case SCIM_LOC_RESOURCE_TYPE:
        return set_expr(o, t->is_user ? "'User'" : "'Group'", NULL, NULL);
    case SCIM_LOC_DOC: {
        char p[SQ_EXPR_MAX], head[32];
        snprintf(head, sizeof head, "json_extract(%s.doc, '", T);
        return json_path(p, sizeof p, pa->urn, pa->name, pa->sub) && set_expr(o, head, p, "')");
    }
    case SCIM_LOC_ELEM:
        return set_expr(o, "e.value", NULL, NULL);
    case SCIM_LOC_ELEM_SUB: {
        char p[SQ_EXPR_MAX] = "$";
        return jp_add(p, sizeof p, pa->sub) && set_expr(o, "json_extract(e.value, '", p, "')");
    }
    case SCIM_LOC_REF_ID:
        return set_expr(o, mem ? "m.user_id" : "m.group_id", NULL, NULL);
    case SCIM_LOC_REF_DISPLAY:
        return set_expr(o, mem ? "u.user_name" : "g.display_name", NULL, NULL);
    case SCIM_LOC_REF_TYPE:
        return set_expr(o, mem ? "'User'" : "'direct'", NULL, NULL);
    case SCIM_LOC_SET:
        break;
    }
    return false;
}

/* ---- comparisons ---------------------------------------------------------------------------- */

static bool is_stringish(sa_type ty)
{
    return ty == SA_STRING || ty == SA_REFERENCE || ty == SA_BINARY || ty == SA_DATETIME;
}

/* LIKE pattern for co/sw/ew with the wildcards of the value escaped (ESCAPE '\'). Owned. */
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

static const char *const sq_relop[] = {
    [SF_EQ] = " = ",  [SF_NE] = " IS NOT ", [SF_GT] = " > ",
    [SF_GE] = " >= ", [SF_LT] = " < ",      [SF_LE] = " <= ",
};

/* co / sw / ew on a string operand. */
static idp_err emit_substring(tr *t, const operand *o, const scim_plan_node *n)
{
    idp_err rc;
    const char *v = n->value.s;
    if (!o->case_exact) {
        if ((rc = emit(t, "(")) || (rc = emit(t, o->expr)) || (rc = emit(t, " LIKE "))) return rc;
        if ((rc = emit_param(t, SCIM_SQL_TEXT, like_pattern(v, n->op), 0, 0))) return rc;
        return emit(t, " ESCAPE '\\')");
    }
    if (n->op == SF_CO) {
        if ((rc = emit(t, "(instr(")) || (rc = emit(t, o->expr)) || (rc = emit(t, ", "))) return rc;
        if ((rc = emit_param(t, SCIM_SQL_TEXT, xstrdup(v), 0, 0))) return rc;
        return emit(t, ") > 0)");
    }
    /* sw: substr(x, 1, length(?)) = ?;  ew: (length(?) = 0 OR substr(x, -length(?)) = ?) */
    if ((rc = emit(t, n->op == SF_SW ? "(substr(" : "(length("))) return rc;
    if (n->op == SF_SW) {
        if ((rc = emit(t, o->expr)) || (rc = emit(t, ", 1, length("))) return rc;
        if ((rc = emit_param(t, SCIM_SQL_TEXT, xstrdup(v), 0, 0))) return rc;
    } else {
        if ((rc = emit_param(t, SCIM_SQL_TEXT, xstrdup(v), 0, 0))) return rc;
        if ((rc = emit(t, ") = 0 OR substr(")) || (rc = emit(t, o->expr)) ||
            (rc = emit(t, ", -length(")) || (rc = emit_last(t)))
            return rc;
    }
    if ((rc = emit(t, ")) = ")) || (rc = emit_last(t))) return rc;
    return emit(t, ")");
}

/* Binds the comparison value, already converted by the plan. */
static idp_err emit_value(tr *t, const scim_plan_value *v)
{
    switch (v->kind) {
    case SCIM_PV_TEXT:
        return emit_param(t, SCIM_SQL_TEXT, xstrdup(v->s), 0, 0);
    case SCIM_PV_INT:
        return emit_param(t, SCIM_SQL_INT, NULL, v->i, 0);
    case SCIM_PV_REAL:
        return emit_param(t, SCIM_SQL_REAL, NULL, 0, v->d);
    case SCIM_PV_NONE:
    case SCIM_PV_NULL:
        break;
    }
    return bad(t, "a comparison needs a value");
}

/* operand <op> value; the plan has checked operator and value against the attribute's type. */
static idp_err emit_cmp(tr *t, const operand *o, const scim_plan_node *n)
{
    idp_err rc;
    if (n->op == SF_PR) {
        if ((rc = emit(t, "(")) || (rc = emit(t, o->expr)) || (rc = emit(t, " IS NOT NULL AND ")) ||
            (rc = emit(t, o->expr)) || (rc = emit(t, " <> '')")))
            return rc;
        return IDP_OK;
    }
    if (n->value.kind == SCIM_PV_NULL) {
        if ((rc = emit(t, "(")) || (rc = emit(t, o->expr))) return rc;
        return emit(t, n->op == SF_EQ ? " IS NULL)" : " IS NOT NULL)");
    }
    if (n->op == SF_CO || n->op == SF_SW || n->op == SF_EW) return emit_substring(t, o, n);
    if ((unsigned)n->op >= sizeof sq_relop / sizeof *sq_relop || !sq_relop[n->op])
        return bad(t, "unknown operator");
    bool str = is_stringish(o->type) && !o->ms_time;
    if ((rc = emit(t, "(")) || (rc = emit(t, o->expr)) || (rc = emit(t, sq_relop[n->op])) ||
        (rc = emit_value(t, &n->value)))
        return rc;
    return emit(t, str && !o->case_exact ? " COLLATE NOCASE)" : ")");
}

/* ---- multi-valued attributes and the tree ---------------------------------------------------- */

static idp_err node(tr *t, const scim_plan_node *n, bool in_elem);

/* EXISTS (SELECT 1 FROM <elements> WHERE <correlation> AND ( ... emitted by the caller ... )) */
static idp_err emit_exists_open(tr *t, const scim_plan_attr *pa)
{
    idp_err rc;
    const char *T = t->o->table;
    if (pa->set == SCIM_SET_DOC) {
        char path[SQ_EXPR_MAX];
        if (!json_path(path, sizeof path, pa->urn, pa->name, NULL))
            return bad(t, "attribute not filterable");
        if ((rc = emit(t, "EXISTS (SELECT 1 FROM json_each(")) || (rc = emit(t, T)) ||
            (rc = emit(t, ".doc, '")) || (rc = emit(t, path)) || (rc = emit(t, "') AS e WHERE (")))
            return rc;
        return IDP_OK;
    }
    if (pa->set == SCIM_SET_MEMBERS)
        return emit(t, "EXISTS (SELECT 1 FROM memberships AS m JOIN users AS u ON u.id = m.user_id "
                       "WHERE m.group_id = groups.id AND (");
    return emit(t, "EXISTS (SELECT 1 FROM memberships AS m JOIN groups AS g ON g.id = m.group_id "
                   "WHERE m.user_id = users.id AND (");
}

/* Unicode characters in s (UTF-8). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* `emails[.value] co|sw|ew "x"` on Users: the candidates come from the trigram index over the
 * email values (migrations/sqlite/0005_emails_trigram.sql); the exact comparison that follows
 * decides. A trigram query needs 3 characters: shorter values get no prefilter. */
static idp_err emails_prefilter(tr *t, const scim_plan_node *n, bool *used)
{
    const scim_plan_attr *pa = &n->attr;
    *used = false;
    if (!t->is_user || pa->set != SCIM_SET_DOC || pa->urn || strcmp(pa->name, "emails") != 0 ||
        !pa->sub || strcmp(pa->sub, "value") != 0 ||
        (n->op != SF_CO && n->op != SF_SW && n->op != SF_EW) || n->value.kind != SCIM_PV_TEXT ||
        utf8_chars(n->value.s) < 3)
        return IDP_OK;
    /* an FTS5 phrase: the value in double quotes, inner quotes doubled */
    size_t len = strlen(n->value.s);
    char *phrase = xmalloc(2 * len + 3), *w = phrase;
    *w++ = '"';
    for (const char *c = n->value.s; *c; c++) {
        if (*c == '"') *w++ = '"';
        *w++ = *c;
    }
    *w++ = '"';
    *w = '\0';
    idp_err rc;
    if ((rc = emit(t, "(users.id IN (SELECT ue.user_id FROM user_emails_trgm JOIN user_emails AS ue "
                      "ON ue.id = user_emails_trgm.rowid WHERE user_emails_trgm MATCH ")) ||
        (rc = emit_param(t, SCIM_SQL_TEXT, phrase, 0, 0)) || (rc = emit(t, ") AND ")))
        return rc;
    *used = true;
    return IDP_OK;
}

/* A comparison on a multi-valued attribute: true when any element matches. */
static idp_err multi_compare(tr *t, const scim_plan_node *n)
{
    const scim_plan_attr *pa = &n->attr;
    operand o;
    idp_err rc;
    if (pa->loc == SCIM_LOC_SET) { /* pr on the attribute: at least one element */
        if (pa->set == SCIM_SET_DOC) {
            char path[SQ_EXPR_MAX];
            if (!json_path(path, sizeof path, pa->urn, pa->name, NULL))
                return bad(t, "attribute not filterable");
            if ((rc = emit(t, "(coalesce(json_array_length(")) || (rc = emit(t, t->o->table)) ||
                (rc = emit(t, ".doc, '")) || (rc = emit(t, path)))
                return rc;
            return emit(t, "'), 0) > 0)");
        }
        return emit(t, pa->set == SCIM_SET_MEMBERS
                           ? "EXISTS (SELECT 1 FROM memberships AS m WHERE m.group_id = groups.id)"
                           : "EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = users.id)");
    }
    if (!operand_of(t, pa, &o)) return bad(t, "attribute not filterable");
    bool pre = false;
    if ((rc = emails_prefilter(t, n, &pre))) return rc;
    if ((rc = emit_exists_open(t, pa)) || (rc = emit_cmp(t, &o, n))) return rc;
    return emit(t, pre ? ")))" : "))");
}

/* A comparison; in_elem: inside a value filter, on the current element. */
static idp_err compare(tr *t, const scim_plan_node *n, bool in_elem)
{
    operand o;
    if (n->attr.set != SCIM_SET_NONE && !in_elem) return multi_compare(t, n);
    if (n->attr.loc == SCIM_LOC_DOC && n->attr.type == SA_COMPLEX) { /* `name pr` */
        idp_err rc;
        if (!operand_of(t, &n->attr, &o)) return bad(t, "attribute not filterable");
        if ((rc = emit(t, "(")) || (rc = emit(t, o.expr))) return rc;
        return emit(t, " IS NOT NULL)");
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
        return emit(t, ", 0))");
    case SCIM_PLAN_CMP:
        return compare(t, n, in_elem);
    case SCIM_PLAN_ANY: /* attr[filter]: some element satisfies the inner filter */
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

/* The sort key expression (RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary
 * value, or the first one). nullable: the key may be unassigned. */
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
    char path[SQ_EXPR_MAX], head[SQ_EXPR_MAX + 64];
    if (pa.set != SCIM_SET_DOC || !operand_of(t, &pa, &eo) ||
        !json_path(path, sizeof path, pa.urn, pa.name, NULL))
        return bad_sort(t, "attribute not sortable");
    snprintf(head, sizeof head, "(SELECT %s FROM json_each(%s.doc, '", eo.expr, t->o->table);
    memset(o, 0, sizeof *o);
    o->type = pa.type;
    o->case_exact = pa.case_exact;
    if (!set_expr(o, head, path, NULL) ||
        !cat(o->expr, sizeof o->expr,
             "') AS e ORDER BY coalesce(json_extract(e.value, "
             "'$.\"primary\"'), 0) DESC LIMIT 1)",
             NULL))
        return bad_sort(t, "attribute path too long");
    return IDP_OK;
}

/* ORDER BY: the key, then the rowid (creation order) in the same direction as a tie-break so
 * pages are stable; an index on the key serves both. */
static idp_err build_order(tr *t, const char *sort_by, bool desc)
{
    operand o;
    bool nullable = false;
    const char *T = t->o->table, *dir = desc ? " DESC" : " ASC";
    idp_buf *b = &t->o->order;
    if (!sort_by) {
        buf_printf(b, "%s.created_at%s, %s.rowid%s", T, dir, T, dir);
        return IDP_OK;
    }
    idp_err rc = sort_key(t, sort_by, &o, &nullable);
    if (rc) return rc;
    bool nocase = is_stringish(o.type) && !o.case_exact && !o.ms_time;
    /* Unassigned values sort last in both directions. */
    if (buf_printf(b, "%s%s%s%s, %s.rowid%s", o.expr, nocase ? " COLLATE NOCASE" : "", dir,
                   nullable ? " NULLS LAST" : "", T, dir) != 0)
        return bad_sort(t, "too long");
    return IDP_OK;
}

/* ---- entry points --------------------------------------------------------------------------- */

idp_err scim_sql_build(const scim_resource_type *rt, const scim_plan *plan, const char *sort_by,
                       bool descending, scim_sql *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->where, SQ_SQL_MAX);
    buf_init(&out->order, SQ_SQL_MAX);
    if ((rt != &scim_rt_user && rt != &scim_rt_group) || (plan && plan->rt != rt))
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "filter: unknown resource type");
    tr t = {.o = out, .rt = rt, .is_user = rt == &scim_rt_user, .err = err};
    out->table = t.is_user ? "users" : "groups";
    idp_err rc = plan && plan->root ? node(&t, plan->root, false) : emit(&t, "1");
    if (!rc) rc = build_order(&t, sort_by, descending);
    return rc;
}

void scim_sql_clear(scim_sql *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nparams; i++)
        free(s->params[i].s);
    free(s->params);
    buf_free(&s->where);
    buf_free(&s->order);
    memset(s, 0, sizeof *s);
}
