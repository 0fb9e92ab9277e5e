/* plan — see plan.h. The rules here are the storage-independent half of RFC 7644 §3.4.2.2: which
 * attributes can be compared, with which operators and values. */
#include "scim/plan.h"

#include "core/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Errors come in two classes, reported in this order: a path that does not resolve (the
 * filter names something the resource type does not have) stops the build at once; any other
 * rule (an operator, a value, depth) is recorded as `later` — the first one in document order —
 * and the walk goes on, so that an unknown path further on is still the one reported. */
typedef struct pb {
    const scim_resource_type *rt;
    bool is_user;
    idp_error *err;
    idp_err later;
    idp_error later_err;
} pb;

/* Records a rule violation (the first one wins) and lets the walk go on. */
static idp_err note(pb *b, idp_err code, const char *why)
{
    if (!b->later) b->later = IDP_FAIL(&b->later_err, code, "filter: %s", why);
    return IDP_OK;
}

static idp_err bad(pb *b, const char *why)
{
    return note(b, IDP_ERR_SCIM_INVALID_FILTER, why);
}

/* A path that does not resolve: ends the build. */
static idp_err unknown(pb *b, const char *why)
{
    return IDP_FAIL(b->err, IDP_ERR_SCIM_INVALID_FILTER, "%s", why);
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

static bool is_stringish(sa_type ty)
{
    return ty == SA_STRING || ty == SA_REFERENCE || ty == SA_BINARY || ty == SA_DATETIME;
}

static scim_plan_node *node_new(scim_plan_kind kind)
{
    scim_plan_node *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    return n;
}

static void node_free(scim_plan_node *n)
{
    if (!n) return;
    node_free(n->left);
    node_free(n->right);
    free(n->value.s);
    free(n);
}

/* The attribute fields shared by every location: names, type and case rule of attr (and sub). */
static void attr_fill(pb *b, const scim_resolved *r, const scim_attr_def *sub, scim_plan_attr *pa)
{
    memset(pa, 0, sizeof *pa);
    pa->urn = r->schema != b->rt->core && r->schema != &scim_schema_common ? r->schema->urn : NULL;
    pa->name = r->attr->name;
    pa->sub = sub ? sub->name : NULL;
    pa->type = sub ? sub->type : r->attr->type;
    pa->case_exact = sub ? sub->case_exact : r->attr->case_exact;
    pa->multi_valued = r->attr->multi_valued;
}

/* Row fields. 1 = a row field (pa->loc set), 0 = not one, -1 = not filterable. */
static int row_field(pb *b, const scim_resolved *r, scim_plan_attr *pa)
{
    const scim_attr_def *a = r->attr, *sub = r->sub;
    attr_fill(b, r, sub, pa);
    if (r->schema == &scim_schema_common) {
        if (named(a, "id"))
            pa->loc = SCIM_LOC_ID;
        else if (named(a, "externalId"))
            pa->loc = SCIM_LOC_EXTERNAL_ID;
        else if (named(a, "meta") && named(sub, "created"))
            pa->loc = SCIM_LOC_CREATED;
        else if (named(a, "meta") && named(sub, "lastModified"))
            pa->loc = SCIM_LOC_MODIFIED;
        else if (named(a, "meta") && named(sub, "resourceType")) {
            pa->loc = SCIM_LOC_RESOURCE_TYPE;
            pa->type = SA_STRING;
        } else
            return -1; /* meta.location, meta.version, meta alone, schemas */
        return 1;
    }
    if (r->schema != b->rt->core || sub) return 0;
    if (b->is_user && named(a, "userName"))
        pa->loc = SCIM_LOC_USER_NAME;
    else if (b->is_user && named(a, "active"))
        pa->loc = SCIM_LOC_ACTIVE;
    else if (!b->is_user && named(a, "displayName"))
        pa->loc = SCIM_LOC_DISPLAY_NAME;
    else
        return 0;
    return 1;
}

/* The element set of multi-valued attribute r->attr, into pa (loc SCIM_LOC_SET). */
static void set_of(pb *b, const scim_resolved *r, scim_plan_attr *pa)
{
    attr_fill(b, r, NULL, pa);
    pa->loc = SCIM_LOC_SET;
    if (r->schema == b->rt->core && b->is_user && named(r->attr, "groups"))
        pa->set = SCIM_SET_GROUPS;
    else if (r->schema == b->rt->core && !b->is_user && named(r->attr, "members"))
        pa->set = SCIM_SET_MEMBERS;
    else
        pa->set = SCIM_SET_DOC;
}

/* Turns set attribute pa (from set_of; attr its definition) into sub-attribute s of the element
 * (s NULL = the element itself). false when not filterable. */
static bool elem_of(scim_plan_attr *pa, const scim_attr_def *attr, const scim_attr_def *s)
{
    pa->type = s ? s->type : attr->type;
    pa->case_exact = s ? s->case_exact : attr->case_exact;
    pa->sub = s ? s->name : NULL;
    if (pa->set == SCIM_SET_DOC) {
        pa->loc = s ? SCIM_LOC_ELEM_SUB : SCIM_LOC_ELEM;
        return true;
    }
    if (named(s, "value")) {
        pa->loc = SCIM_LOC_REF_ID;
    } else if (named(s, "display")) {
        pa->loc = SCIM_LOC_REF_DISPLAY;
        pa->case_exact = false;
    } else if (named(s, "type")) {
        pa->loc = SCIM_LOC_REF_TYPE;
    } else {
        return false; /* $ref: computed from the base URL, not stored */
    }
    return true;
}

/* The value of comparison n on pa, checked against the attribute's type (RFC 7644 §3.4.2.2). */
static idp_err cmp_value(pb *b, const scim_plan_attr *pa, const sf_node *n, scim_plan_value *v)
{
    bool ms_time = pa->loc == SCIM_LOC_CREATED || pa->loc == SCIM_LOC_MODIFIED;
    memset(v, 0, sizeof *v);
    if (pa->type == SA_COMPLEX) return bad(b, "a complex attribute needs a sub-attribute");
    if (n->op == SF_PR) return IDP_OK;
    if (n->vtype == SF_V_NULL) {
        if (n->op != SF_EQ && n->op != SF_NE) return bad(b, "null compares with eq or ne only");
        v->kind = SCIM_PV_NULL;
        return IDP_OK;
    }
    bool str = is_stringish(pa->type) && !ms_time;
    if (n->op == SF_CO || n->op == SF_SW || n->op == SF_EW) {
        if (!str || pa->type == SA_BINARY) return bad(b, "co, sw and ew apply to strings only");
    } else if (n->op != SF_EQ && n->op != SF_NE && n->op != SF_GT && n->op != SF_GE &&
               n->op != SF_LT && n->op != SF_LE) {
        return bad(b, "unknown operator");
    } else if (n->op != SF_EQ && n->op != SF_NE &&
               (pa->type == SA_BOOLEAN || pa->type == SA_BINARY)) {
        return bad(b, "gt, ge, lt and le do not apply to booleans and binary values");
    } else if (ms_time) {
        if (n->vtype != SF_V_STRING || !scim_plan_parse_time(n->str, &v->i))
            return bad(b, "meta dates compare with an RFC 3339 date-time string");
        v->kind = SCIM_PV_INT;
        return IDP_OK;
    } else if (pa->type == SA_BOOLEAN) {
        if (n->vtype != SF_V_TRUE && n->vtype != SF_V_FALSE)
            return bad(b, "a boolean attribute compares with true or false");
        v->kind = SCIM_PV_INT;
        v->i = n->vtype == SF_V_TRUE;
        return IDP_OK;
    } else if (pa->type == SA_INTEGER || pa->type == SA_DECIMAL) {
        if (n->vtype != SF_V_NUMBER || !n->str) return bad(b, "a number attribute needs a number");
        char *end = NULL;
        long long x = strtoll(n->str, &end, 10);
        if (end && *end == '\0' && pa->type == SA_INTEGER) {
            v->kind = SCIM_PV_INT;
            v->i = (int64_t)x;
        } else {
            v->kind = SCIM_PV_REAL;
            v->d = n->num;
        }
        return IDP_OK;
    }
    if (n->vtype != SF_V_STRING || !n->str) return bad(b, "a string attribute needs a string");
    v->kind = SCIM_PV_TEXT;
    v->s = xstrdup(n->str);
    return IDP_OK;
}

static idp_err resolve(pb *b, const scim_attr_path *p, scim_resolved *r)
{
    idp_error e = {0};
    memset(r, 0, sizeof *r);
    if (scim_path_resolve(b->rt, p, r, &e) || !r->attr)
        return unknown(b, "unknown attribute in filter");
    /* Filtering on a never-returned attribute (password) would be an oracle for its value. */
    if (r->attr->returned == SA_RET_NEVER || (r->sub && r->sub->returned == SA_RET_NEVER))
        return bad(b, "attribute not filterable");
    return IDP_OK;
}

/* A comparison on a multi-valued attribute: any element matches. */
static idp_err multi_compare(pb *b, const scim_resolved *r, const sf_node *n, scim_plan_node *out)
{
    set_of(b, r, &out->attr);
    if (n->op == SF_PR && !r->sub) return IDP_OK; /* loc SCIM_LOC_SET: some element */
    const scim_attr_def *sub = r->sub ? r->sub : value_sub(r->attr);
    if (r->attr->subs && !sub) return bad(b, "a complex attribute needs a sub-attribute");
    if (!elem_of(&out->attr, r->attr, sub)) return bad(b, "attribute not filterable");
    return cmp_value(b, &out->attr, n, &out->value);
}

static idp_err compare(pb *b, const sf_node *n, scim_plan_node *out)
{
    scim_resolved r;
    idp_err rc = resolve(b, &n->path, &r);
    if (rc) return rc;
    out->op = n->op;
    int row = row_field(b, &r, &out->attr);
    if (row < 0) return bad(b, "attribute not filterable");
    if (row > 0) return cmp_value(b, &out->attr, n, &out->value);
    if (r.attr->multi_valued) return multi_compare(b, &r, n, out);
    const scim_attr_def *sub = r.sub;
    if (!sub && r.attr->type == SA_COMPLEX && n->op != SF_PR) {
        sub = value_sub(r.attr);
        if (!sub) return bad(b, "a complex attribute needs a sub-attribute");
    }
    attr_fill(b, &r, sub, &out->attr);
    out->attr.loc = SCIM_LOC_DOC;
    if (out->attr.type == SA_COMPLEX) return IDP_OK; /* `name pr`: the object is present */
    return cmp_value(b, &out->attr, n, &out->value);
}

/* A comparison inside value filter vp: its path names a sub-attribute of the element, resolved
 * as vp's path plus that sub-attribute (emails[type eq "work"] -> emails.type). */
static idp_err elem_compare(pb *b, const sf_node *vp, const scim_plan_attr *set, const sf_node *n,
                            scim_plan_node *out)
{
    if (n->path.urn || n->path.sub || !n->path.attr)
        return unknown(b, "bad attribute inside a value filter");
    scim_attr_path p = {.urn = vp->path.urn, .attr = vp->path.attr, .sub = n->path.attr};
    scim_resolved r;
    idp_error e = {0};
    if (scim_path_resolve(b->rt, &p, &r, &e) || !r.attr || !r.sub)
        return unknown(b, "unknown attribute in filter");
    out->op = n->op;
    out->attr = *set;
    if (r.sub->returned == SA_RET_NEVER || !elem_of(&out->attr, r.attr, r.sub))
        return bad(b, "attribute not filterable");
    return cmp_value(b, &out->attr, n, &out->value);
}

static idp_err node(pb *b, const sf_node *n, const sf_node *vp, const scim_plan_attr *set,
                    int depth, scim_plan_node **out);

/* attr[filter]: some element satisfies the inner filter (RFC 7644 §3.4.2.2 valuePath). */
static idp_err value_path(pb *b, const sf_node *n, int depth, scim_plan_node *out)
{
    scim_resolved r;
    idp_err rc = resolve(b, &n->path, &r);
    if (rc) return rc;
    if (r.sub || !r.attr->multi_valued || !r.attr->subs || !n->left)
        bad(b, "a value filter applies to a multi-valued complex attribute");
    set_of(b, &r, &out->attr);
    return n->left ? node(b, n->left, n, &out->attr, depth + 1, &out->left) : IDP_OK;
}

/* vp / set: the value filter n is inside and its element set (NULL at the top). */
static idp_err node(pb *b, const sf_node *n, const sf_node *vp, const scim_plan_attr *set,
                    int depth, scim_plan_node **out)
{
    static const scim_plan_kind kinds[] = {[SF_COMPARE] = SCIM_PLAN_CMP,
                                           [SF_AND] = SCIM_PLAN_AND,
                                           [SF_OR] = SCIM_PLAN_OR,
                                           [SF_NOT] = SCIM_PLAN_NOT,
                                           [SF_VALUEPATH] = SCIM_PLAN_ANY};
    if (!n) return bad(b, "empty expression");
    if (depth > SCIM_PLAN_MAX_DEPTH) note(b, IDP_ERR_SCIM_TOO_MANY, "too deep");
    if ((unsigned)n->kind >= sizeof kinds / sizeof *kinds) return bad(b, "unknown expression");
    scim_plan_node *p = *out = node_new(kinds[n->kind]);
    switch (n->kind) {
    case SF_AND:
    case SF_OR: {
        idp_err rc = node(b, n->left, vp, set, depth + 1, &p->left);
        return rc ? rc : node(b, n->right, vp, set, depth + 1, &p->right);
    }
    case SF_NOT:
        return node(b, n->left, vp, set, depth + 1, &p->left);
    case SF_COMPARE:
        return vp ? elem_compare(b, vp, set, n, p) : compare(b, n, p);
    case SF_VALUEPATH:
        if (vp) return unknown(b, "nested value filter");
        return value_path(b, n, depth, p);
    }
    return bad(b, "unknown expression");
}

idp_err scim_plan_build(const scim_resource_type *rt, const sf_node *f, scim_plan **out,
                        idp_error *err)
{
    *out = NULL;
    if (rt != &scim_rt_user && rt != &scim_rt_group)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "filter: unknown resource type");
    pb b = {.rt = rt, .is_user = rt == &scim_rt_user, .err = err};
    scim_plan *p = xcalloc(1, sizeof *p);
    p->rt = rt;
    idp_err rc = node(&b, f, NULL, NULL, 0, &p->root);
    if (!rc && b.later) {
        rc = b.later;
        if (err) *err = b.later_err;
    }
    if (rc) {
        scim_plan_free(p);
        return rc;
    }
    *out = p;
    return IDP_OK;
}

void scim_plan_free(scim_plan *p)
{
    if (!p) return;
    node_free(p->root);
    free(p);
}

static idp_err bad_sort(pb *b, const char *why)
{
    return IDP_FAIL(b->err, IDP_ERR_SCIM_INVALID_PATH, "sortBy: %s", why);
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

idp_err scim_plan_sort_key(const scim_resource_type *rt, const char *sort_by, scim_plan_attr *out,
                           idp_error *err)
{
    char buf[SCIM_PLAN_SORT_MAX];
    scim_attr_path p;
    scim_resolved r;
    idp_error e = {0};
    pb b = {.rt = rt, .is_user = rt == &scim_rt_user, .err = err};
    memset(out, 0, sizeof *out);
    if (!sort_path(sort_by, buf, sizeof buf, &p)) return bad_sort(&b, "malformed attribute path");
    if (scim_path_resolve(rt, &p, &r, &e) || !r.attr) return bad_sort(&b, "unknown attribute");
    if (r.attr->returned == SA_RET_NEVER || (r.sub && r.sub->returned == SA_RET_NEVER))
        return bad_sort(&b, "attribute not sortable");
    int row = row_field(&b, &r, out);
    if (row < 0) return bad_sort(&b, "attribute not sortable");
    if (row > 0) return IDP_OK;
    const scim_attr_def *sub = r.sub ? r.sub : value_sub(r.attr);
    if (r.attr->type == SA_COMPLEX && !sub)
        return bad_sort(&b, "a complex attribute needs a sub-attribute");
    if (r.attr->multi_valued) {
        set_of(&b, &r, out);
        if (!elem_of(out, r.attr, sub)) return bad_sort(&b, "attribute not sortable");
        return IDP_OK;
    }
    attr_fill(&b, &r, sub, out);
    out->loc = SCIM_LOC_DOC;
    return IDP_OK;
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

bool scim_plan_parse_time(const char *s, int64_t *ms)
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
