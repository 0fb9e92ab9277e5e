/* scim_sql — SCIM filter / sortBy -> SQLite SQL with bound parameters. See scim_sql.h for the
 * mapping. Every string appended to the output below is either a constant of this file or a
 * canonical attribute name from the schema tables that passed safe_name(). */
#include "store/scim_sql.h"

#include "core/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SQ_SQL_MAX (64u * 1024u) /* generated text cap */
#define SQ_EXPR_MAX 384          /* one operand expression */
#define SQ_MAX_PARAMS 1024
#define SQ_MAX_DEPTH 64 /* the parser caps at SCIM_FILTER_MAX_DEPTH; hand-built trees too */
#define SQ_SORT_MAX 512

/* An SQL operand: a fixed expression plus what the schema says about its values. */
typedef struct operand {
    char expr[SQ_EXPR_MAX];
    sa_type type;
    bool case_exact;
    bool ms_time; /* integer ms column compared with RFC 3339 values */
} operand;

/* The elements a value filter or a multi-valued comparison ranges over. */
typedef enum elem_kind { EL_JSON, EL_MEMBERS, EL_GROUPS } elem_kind;
typedef struct elem {
    elem_kind kind;
    const scim_attr_def *attr; /* the multi-valued attribute */
    char path[SQ_EXPR_MAX];    /* EL_JSON: its JSON path */
} elem;

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

/* The JSON path of attribute a (and sub, may be NULL) of schema s within T.doc:
 * $."attr"."sub" for core attributes, $."urn"."attr"."sub" for extensions. */
static bool json_path(tr *t, char *out, size_t n, const scim_schema *s, const scim_attr_def *a,
                      const scim_attr_def *sub)
{
    out[0] = '\0';
    if (!cat(out, n, "$", NULL)) return false;
    if (s != t->rt->core && s != &scim_schema_common && !jp_add(out, n, s->urn)) return false;
    return jp_add(out, n, a->name) && (!sub || jp_add(out, n, sub->name));
}

static bool set_expr(operand *o, const char *a, const char *b, const char *c)
{
    int k = snprintf(o->expr, sizeof o->expr, "%s%s%s", a, b ? b : "", c ? c : "");
    return k > 0 && (size_t)k < sizeof o->expr;
}

static bool named(const scim_attr_def *a, const char *name)
{
    return a && strcasecmp(a->name, name) == 0;
}

/* Sub-attribute used when a comparison names a complex attribute alone (RFC 7644 §3.4.2.2). */
static const scim_attr_def *value_sub(const scim_attr_def *a)
{
    return a->subs ? scim_attr_find(a->subs, a->nsubs, "value") : NULL;
}

/* Columns of the resource table. 1 = mapped into *o, 0 = not a column, -1 = not filterable. */
static int column_of(tr *t, const scim_resolved *r, operand *o)
{
    const char *T = t->o->table;
    const scim_attr_def *a = r->attr, *sub = r->sub;
    const char *col = NULL;
    memset(o, 0, sizeof *o);
    o->type = sub ? sub->type : a->type;
    o->case_exact = sub ? sub->case_exact : a->case_exact;
    if (r->schema == &scim_schema_common) {
        if (named(a, "id"))
            col = ".id";
        else if (named(a, "externalId"))
            col = ".external_id";
        else if (named(a, "meta") && named(sub, "created"))
            col = ".created_at";
        else if (named(a, "meta") && named(sub, "lastModified"))
            col = ".modified_at";
        else if (named(a, "meta") && named(sub, "resourceType")) {
            o->type = SA_STRING;
            return set_expr(o, t->is_user ? "'User'" : "'Group'", NULL, NULL) ? 1 : -1;
        } else
            return -1; /* meta.location, meta.version, meta alone */
        o->ms_time = named(a, "meta");
    } else if (r->schema == t->rt->core && !sub) {
        if (t->is_user && named(a, "userName"))
            col = ".user_name";
        else if (t->is_user && named(a, "active"))
            col = ".active";
        else if (!t->is_user && named(a, "displayName"))
            col = ".display_name";
    }
    if (!col) return 0;
    return set_expr(o, T, col, NULL) ? 1 : -1;
}

/* Operand for sub-attribute s of the current element. false when not filterable. */
static bool elem_operand(const elem *el, const scim_attr_def *s, operand *o)
{
    memset(o, 0, sizeof *o);
    o->type = s ? s->type : el->attr->type;
    o->case_exact = s ? s->case_exact : el->attr->case_exact;
    if (el->kind == EL_JSON) {
        if (!s) return set_expr(o, "e.value", NULL, NULL);
        char p[SQ_EXPR_MAX] = "$";
        return jp_add(p, sizeof p, s->name) && set_expr(o, "json_extract(e.value, '", p, "')");
    }
    bool mem = el->kind == EL_MEMBERS;
    if (named(s, "value")) return set_expr(o, mem ? "m.user_id" : "m.group_id", NULL, NULL);
    if (named(s, "display")) {
        o->case_exact = false;
        return set_expr(o, mem ? "u.user_name" : "g.display_name", NULL, NULL);
    }
    if (named(s, "type")) return set_expr(o, mem ? "'User'" : "'direct'", NULL, NULL);
    return false; /* $ref: computed from the base URL, not stored */
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
static idp_err emit_substring(tr *t, const operand *o, const sf_node *n)
{
    idp_err rc;
    if (!o->case_exact) {
        if ((rc = emit(t, "(")) || (rc = emit(t, o->expr)) || (rc = emit(t, " LIKE "))) return rc;
        if ((rc = emit_param(t, SCIM_SQL_TEXT, like_pattern(n->str, n->op), 0, 0))) return rc;
        return emit(t, " ESCAPE '\\')");
    }
    if (n->op == SF_CO) {
        if ((rc = emit(t, "(instr(")) || (rc = emit(t, o->expr)) || (rc = emit(t, ", "))) return rc;
        if ((rc = emit_param(t, SCIM_SQL_TEXT, xstrdup(n->str), 0, 0))) return rc;
        return emit(t, ") > 0)");
    }
    /* sw: substr(x, 1, length(?)) = ?;  ew: (length(?) = 0 OR substr(x, -length(?)) = ?) */
    if ((rc = emit(t, n->op == SF_SW ? "(substr(" : "(length("))) return rc;
    if (n->op == SF_SW) {
        if ((rc = emit(t, o->expr)) || (rc = emit(t, ", 1, length("))) return rc;
        if ((rc = emit_param(t, SCIM_SQL_TEXT, xstrdup(n->str), 0, 0))) return rc;
    } else {
        if ((rc = emit_param(t, SCIM_SQL_TEXT, xstrdup(n->str), 0, 0))) return rc;
        if ((rc = emit(t, ") = 0 OR substr(")) || (rc = emit(t, o->expr)) ||
            (rc = emit(t, ", -length(")) || (rc = emit_last(t)))
            return rc;
    }
    if ((rc = emit(t, ")) = ")) || (rc = emit_last(t))) return rc;
    return emit(t, ")");
}

/* Binds the comparison value of n for operand o after checking its JSON type. */
static idp_err emit_value(tr *t, const operand *o, const sf_node *n)
{
    if (o->ms_time) {
        int64_t ms = 0;
        if (n->vtype != SF_V_STRING || !scim_sql_parse_time(n->str, &ms))
            return bad(t, "meta dates compare with an RFC 3339 date-time string");
        return emit_param(t, SCIM_SQL_INT, NULL, ms, 0);
    }
    switch (o->type) {
    case SA_BOOLEAN:
        if (n->vtype != SF_V_TRUE && n->vtype != SF_V_FALSE)
            return bad(t, "a boolean attribute compares with true or false");
        return emit_param(t, SCIM_SQL_INT, NULL, n->vtype == SF_V_TRUE, 0);
    case SA_INTEGER:
    case SA_DECIMAL: {
        if (n->vtype != SF_V_NUMBER || !n->str) return bad(t, "a number attribute needs a number");
        char *end = NULL;
        long long v = strtoll(n->str, &end, 10);
        if (end && *end == '\0' && o->type == SA_INTEGER)
            return emit_param(t, SCIM_SQL_INT, NULL, (int64_t)v, 0);
        return emit_param(t, SCIM_SQL_REAL, NULL, 0, n->num);
    }
    default:
        if (n->vtype != SF_V_STRING || !n->str) return bad(t, "a string attribute needs a string");
        return emit_param(t, SCIM_SQL_TEXT, xstrdup(n->str), 0, 0);
    }
}

/* operand <op> value, following the attribute's type (RFC 7644 §3.4.2.2). */
static idp_err emit_cmp(tr *t, const operand *o, const sf_node *n)
{
    idp_err rc;
    if (o->type == SA_COMPLEX) return bad(t, "a complex attribute needs a sub-attribute");
    if (n->op == SF_PR) {
        if ((rc = emit(t, "(")) || (rc = emit(t, o->expr)) || (rc = emit(t, " IS NOT NULL AND ")) ||
            (rc = emit(t, o->expr)) || (rc = emit(t, " <> '')")))
            return rc;
        return IDP_OK;
    }
    if (n->vtype == SF_V_NULL) {
        if (n->op != SF_EQ && n->op != SF_NE) return bad(t, "null compares with eq or ne only");
        if ((rc = emit(t, "(")) || (rc = emit(t, o->expr))) return rc;
        return emit(t, n->op == SF_EQ ? " IS NULL)" : " IS NOT NULL)");
    }
    bool str = is_stringish(o->type) && !o->ms_time;
    if (n->op == SF_CO || n->op == SF_SW || n->op == SF_EW) {
        if (!str || o->type == SA_BINARY) return bad(t, "co, sw and ew apply to strings only");
        if (n->vtype != SF_V_STRING || !n->str) return bad(t, "a string attribute needs a string");
        return emit_substring(t, o, n);
    }
    if ((unsigned)n->op >= sizeof sq_relop / sizeof *sq_relop || !sq_relop[n->op])
        return bad(t, "unknown operator");
    if (n->op != SF_EQ && n->op != SF_NE && (o->type == SA_BOOLEAN || o->type == SA_BINARY))
        return bad(t, "gt, ge, lt and le do not apply to booleans and binary values");
    if ((rc = emit(t, "(")) || (rc = emit(t, o->expr)) || (rc = emit(t, sq_relop[n->op])) ||
        (rc = emit_value(t, o, n)))
        return rc;
    return emit(t, str && !o->case_exact ? " COLLATE NOCASE)" : ")");
}

/* ---- multi-valued attributes and the tree ---------------------------------------------------- */

static idp_err node(tr *t, const sf_node *n, const elem *el, int depth);

/* EXISTS (SELECT 1 FROM <elements> WHERE <correlation> AND ( ... emitted by the caller ... )) */
static idp_err emit_exists_open(tr *t, const elem *el)
{
    idp_err rc;
    const char *T = t->o->table;
    if (el->kind == EL_JSON) {
        if ((rc = emit(t, "EXISTS (SELECT 1 FROM json_each(")) || (rc = emit(t, T)) ||
            (rc = emit(t, ".doc, '")) || (rc = emit(t, el->path)) ||
            (rc = emit(t, "') AS e WHERE (")))
            return rc;
        return IDP_OK;
    }
    if (el->kind == EL_MEMBERS)
        return emit(t, "EXISTS (SELECT 1 FROM memberships AS m JOIN users AS u ON u.id = m.user_id "
                       "WHERE m.group_id = groups.id AND (");
    return emit(t, "EXISTS (SELECT 1 FROM memberships AS m JOIN groups AS g ON g.id = m.group_id "
                   "WHERE m.user_id = users.id AND (");
}

/* The element set of multi-valued attribute r->attr. */
static idp_err elem_of(tr *t, const scim_resolved *r, elem *el)
{
    memset(el, 0, sizeof *el);
    el->attr = r->attr;
    if (r->schema == t->rt->core && t->is_user && named(r->attr, "groups"))
        el->kind = EL_GROUPS;
    else if (r->schema == t->rt->core && !t->is_user && named(r->attr, "members"))
        el->kind = EL_MEMBERS;
    else if (!json_path(t, el->path, sizeof el->path, r->schema, r->attr, NULL))
        return bad(t, "attribute not filterable");
    return IDP_OK;
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
static idp_err emails_prefilter(tr *t, const scim_resolved *r, const scim_attr_def *sub,
                                const sf_node *n, bool *used)
{
    *used = false;
    if (!t->is_user || r->schema != t->rt->core || !named(r->attr, "emails") || !sub ||
        !named(sub, "value") || (n->op != SF_CO && n->op != SF_SW && n->op != SF_EW) || !n->str ||
        utf8_chars(n->str) < 3)
        return IDP_OK;
    /* an FTS5 phrase: the value in double quotes, inner quotes doubled */
    size_t len = strlen(n->str);
    char *phrase = xmalloc(2 * len + 3), *w = phrase;
    *w++ = '"';
    for (const char *c = n->str; *c; c++) {
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
static idp_err multi_compare(tr *t, const scim_resolved *r, const sf_node *n)
{
    elem el;
    operand o;
    idp_err rc = elem_of(t, r, &el);
    if (rc) return rc;
    if (n->op == SF_PR && !r->sub) {
        if (el.kind == EL_JSON) {
            if ((rc = emit(t, "(coalesce(json_array_length(")) || (rc = emit(t, t->o->table)) ||
                (rc = emit(t, ".doc, '")) || (rc = emit(t, el.path)))
                return rc;
            return emit(t, "'), 0) > 0)");
        }
        return emit(t, el.kind == EL_MEMBERS
                           ? "EXISTS (SELECT 1 FROM memberships AS m WHERE m.group_id = groups.id)"
                           : "EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = users.id)");
    }
    const scim_attr_def *sub = r->sub ? r->sub : value_sub(r->attr);
    if (r->attr->subs && !sub) return bad(t, "a complex attribute needs a sub-attribute");
    if (!elem_operand(&el, sub, &o)) return bad(t, "attribute not filterable");
    bool pre = false;
    if ((rc = emails_prefilter(t, r, sub, n, &pre))) return rc;
    if ((rc = emit_exists_open(t, &el)) || (rc = emit_cmp(t, &o, n))) return rc;
    return emit(t, pre ? ")))" : "))");
}

/* A comparison inside a value filter: its path names a sub-attribute of the element. */
static idp_err elem_compare(tr *t, const elem *el, const sf_node *n)
{
    operand o;
    const scim_attr_def *a = el->attr;
    if (n->path.urn || n->path.sub || !n->path.attr || !a->subs)
        return bad(t, "a value filter names sub-attributes of its attribute");
    const scim_attr_def *s = scim_attr_find(a->subs, a->nsubs, n->path.attr);
    if (!s) return bad(t, "unknown sub-attribute in a value filter");
    if (s->returned == SA_RET_NEVER || !elem_operand(el, s, &o))
        return bad(t, "attribute not filterable");
    return emit_cmp(t, &o, n);
}

static idp_err resolve(tr *t, const scim_attr_path *p, scim_resolved *r)
{
    idp_error e = {0};
    memset(r, 0, sizeof *r);
    if (scim_path_resolve(t->rt, p, r, &e) || !r->attr) return bad(t, "unknown attribute");
    /* Filtering on a never-returned attribute (password) would be an oracle for its value. */
    if (r->attr->returned == SA_RET_NEVER || (r->sub && r->sub->returned == SA_RET_NEVER))
        return bad(t, "attribute not filterable");
    return IDP_OK;
}

static idp_err compare(tr *t, const sf_node *n)
{
    scim_resolved r;
    operand o;
    idp_err rc = resolve(t, &n->path, &r);
    if (rc) return rc;
    int col = column_of(t, &r, &o);
    if (col < 0) return bad(t, "attribute not filterable");
    if (col > 0) return emit_cmp(t, &o, n);
    if (r.attr->multi_valued) return multi_compare(t, &r, n);
    const scim_attr_def *sub = r.sub;
    if (!sub && r.attr->type == SA_COMPLEX && n->op != SF_PR) {
        sub = value_sub(r.attr);
        if (!sub) return bad(t, "a complex attribute needs a sub-attribute");
    }
    char p[SQ_EXPR_MAX];
    memset(&o, 0, sizeof o);
    if (!json_path(t, p, sizeof p, r.schema, r.attr, sub))
        return bad(t, "attribute not filterable");
    const char *T = t->o->table;
    char head[32];
    snprintf(head, sizeof head, "json_extract(%s.doc, '", T);
    if (!set_expr(&o, head, p, "')")) return bad(t, "attribute path too long");
    o.type = sub ? sub->type : r.attr->type;
    o.case_exact = sub ? sub->case_exact : r.attr->case_exact;
    if (o.type == SA_COMPLEX) { /* `name pr`: the object is present */
        if ((rc = emit(t, "(")) || (rc = emit(t, o.expr))) return rc;
        return emit(t, " IS NOT NULL)");
    }
    return emit_cmp(t, &o, n);
}

/* attr[filter]: some element satisfies the inner filter (RFC 7644 §3.4.2.2 valuePath). */
static idp_err value_path(tr *t, const sf_node *n, int depth)
{
    scim_resolved r;
    elem el;
    idp_err rc = resolve(t, &n->path, &r);
    if (rc) return rc;
    if (r.sub || !r.attr->multi_valued || !r.attr->subs || !n->left)
        return bad(t, "a value filter applies to a multi-valued complex attribute");
    if ((rc = elem_of(t, &r, &el)) || (rc = emit_exists_open(t, &el)) ||
        (rc = node(t, n->left, &el, depth + 1)))
        return rc;
    return emit(t, "))");
}

static idp_err node(tr *t, const sf_node *n, const elem *el, int depth)
{
    idp_err rc;
    if (!n) return bad(t, "empty expression");
    if (depth > SQ_MAX_DEPTH) return IDP_FAIL(t->err, IDP_ERR_SCIM_TOO_MANY, "filter: too deep");
    switch (n->kind) {
    case SF_AND:
    case SF_OR:
        if ((rc = emit(t, "(")) || (rc = node(t, n->left, el, depth + 1)) ||
            (rc = emit(t, n->kind == SF_AND ? " AND " : " OR ")) ||
            (rc = node(t, n->right, el, depth + 1)))
            return rc;
        return emit(t, ")");
    case SF_NOT:
        if ((rc = emit(t, "(NOT coalesce(")) || (rc = node(t, n->left, el, depth + 1))) return rc;
        return emit(t, ", 0))");
    case SF_COMPARE:
        return el ? elem_compare(t, el, n) : compare(t, n);
    case SF_VALUEPATH:
        if (el) return bad(t, "value filters do not nest");
        return value_path(t, n, depth);
    }
    return bad(t, "unknown expression");
}

/* ---- sortBy --------------------------------------------------------------------------------- */

static idp_err bad_sort(tr *t, const char *why)
{
    return IDP_FAIL(t->err, IDP_ERR_SCIM_INVALID_PATH, "sortBy: %s", why);
}

/* Splits "[urn:]attr[.sub]" (the URN ends at the last ':') into p; the strings point into buf. */
static bool sort_path(const char *s, char *buf, size_t n, scim_attr_path *p)
{
    memset(p, 0, sizeof *p);
    if (!s || !*s || strlen(s) >= n) return false;
    memcpy(buf, s, strlen(s) + 1);
    char *rest = buf, *colon = strrchr(buf, ':');
    if (colon) {
        *colon = '\0';
        p->urn = buf;
        rest = colon + 1;
    }
    char *dot = strchr(rest, '.');
    if (dot) {
        *dot = '\0';
        p->sub = dot + 1;
    }
    p->attr = rest;
    return *rest && (!dot || *p->sub);
}

/* The sort key expression of a path (RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its
 * primary value, or the first one). */
static idp_err sort_key(tr *t, const char *sort_by, operand *o, bool *nullable)
{
    char buf[SQ_SORT_MAX];
    scim_attr_path p;
    scim_resolved r;
    idp_error e = {0};
    *nullable = true;
    if (!sort_path(sort_by, buf, sizeof buf, &p)) return bad_sort(t, "malformed attribute path");
    if (scim_path_resolve(t->rt, &p, &r, &e) || !r.attr) return bad_sort(t, "unknown attribute");
    if (r.attr->returned == SA_RET_NEVER || (r.sub && r.sub->returned == SA_RET_NEVER))
        return bad_sort(t, "attribute not sortable");
    int col = column_of(t, &r, o);
    if (col < 0) return bad_sort(t, "attribute not sortable");
    if (col > 0) {
        *nullable = named(r.attr, "externalId");
        return IDP_OK;
    }
    const scim_attr_def *sub = r.sub ? r.sub : value_sub(r.attr);
    if (r.attr->type == SA_COMPLEX && !sub)
        return bad_sort(t, "a complex attribute needs a sub-attribute");
    const char *T = t->o->table;
    char jp[SQ_EXPR_MAX], head[SQ_EXPR_MAX + 64];
    if (r.attr->multi_valued) {
        elem el;
        operand eo;
        if (elem_of(t, &r, &el) || el.kind != EL_JSON || !elem_operand(&el, sub, &eo))
            return bad_sort(t, "attribute not sortable");
        snprintf(head, sizeof head, "(SELECT %s FROM json_each(%s.doc, '", eo.expr, T);
        if (!set_expr(o, head, el.path, NULL) ||
            !cat(o->expr, sizeof o->expr,
                 "') AS e ORDER BY coalesce(json_extract(e.value, "
                 "'$.\"primary\"'), 0) DESC LIMIT 1)",
                 NULL))
            return bad_sort(t, "attribute path too long");
    } else {
        snprintf(head, sizeof head, "json_extract(%s.doc, '", T);
        if (!json_path(t, jp, sizeof jp, r.schema, r.attr, sub) || !set_expr(o, head, jp, "')"))
            return bad_sort(t, "attribute path too long");
    }
    o->type = sub ? sub->type : r.attr->type;
    o->case_exact = sub ? sub->case_exact : r.attr->case_exact;
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

idp_err scim_sql_build(const scim_resource_type *rt, const sf_node *f, const char *sort_by,
                       bool descending, scim_sql *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->where, SQ_SQL_MAX);
    buf_init(&out->order, SQ_SQL_MAX);
    if (rt != &scim_rt_user && rt != &scim_rt_group)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "filter: unknown resource type");
    tr t = {.o = out, .rt = rt, .is_user = rt == &scim_rt_user, .err = err};
    out->table = t.is_user ? "users" : "groups";
    idp_err rc = f ? node(&t, f, NULL, 0) : emit(&t, "1");
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

/* n decimal digits at *p, advanced. */
static bool digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p)) return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

/* RFC 3339 §5.6 date-time; fractions beyond ms are truncated. */
bool scim_sql_parse_time(const char *s, int64_t *ms)
{
    int Y, M, D, h, m, sec, frac = 0, oh = 0, om = 0, sign = 0;
    const char *p = s;
    if (!s || !digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) || *p++ != '-' ||
        !digits(&p, 2, &D) || (*p != 'T' && *p != 't') || !*p++ || !digits(&p, 2, &h) ||
        *p++ != ':' || !digits(&p, 2, &m) || *p++ != ':' || !digits(&p, 2, &sec))
        return false;
    if (*p == '.') {
        p++;
        int nd = 0;
        for (; isdigit((unsigned char)*p); p++, nd++)
            if (nd < 3) frac = frac * 10 + (*p - '0');
        if (nd == 0) return false;
        for (; nd < 3; nd++)
            frac *= 10;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
    } else
        return false;
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return false;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t tt = timegm(&tm);
    if (tm.tm_mday != D && sec != 60) return false; /* 31 February and the like */
    *ms = ((int64_t)tt - (int64_t)sign * (oh * 3600 + om * 60)) * 1000 + frac;
    return true;
}
