/* patch — resource normalisation (POST/PUT) and SCIM PATCH (RFC 7644 §3.5.2). PATCH works on a
 * deep copy of the document and swaps it in only when every operation succeeded. */
#include "scim/patch.h"

#include "core/buf.h"
#include "core/mem.h"
#include "scim/filter.h"
#include "scim/patch_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { OP_ADD, OP_REPLACE, OP_REMOVE } patch_kind;

typedef struct patch_target {
    const scim_schema *schema;
    const scim_attr_def *attr;
    const scim_attr_def *sub; /* dotted or after the bracket; NULL for the whole attribute */
    const sf_node *filter;    /* value filter, or NULL */
    bool from_object;         /* a key of a no-path value object (lenient on readOnly) */
} patch_target;

typedef struct patch_ctx {
    const scim_resource_type *rt;
    json_t *doc;       /* the working copy */
    patch_members *pm; /* member changes (Group) */
} patch_ctx;

/* ---- shared by normalisation and PATCH ---- */

/* Rebuilds "schemas" (core URN, then each extension with data) and drops empty extensions. */
static void fix_schemas(const scim_resource_type *rt, json_t *doc)
{
    json_t *s = json_array();
    json_array_append_new(s, json_string(rt->core->urn));
    for (size_t i = 0; i < rt->nextensions; i++) {
        const char *urn = rt->extensions[i]->urn;
        json_t *e = json_object_get(doc, urn);
        if (json_is_object(e) && json_object_size(e)) json_array_append_new(s, json_string(urn));
        else if (e) json_object_del(doc, urn);
    }
    json_object_set_new(doc, "schemas", s);
}

/* RFC 7643 §2.2 "required": userName (User), displayName (Group). */
static idp_err check_required(const scim_resource_type *rt, const json_t *doc, idp_error *err)
{
    for (size_t i = 0; i < rt->core->nattrs; i++) {
        const scim_attr_def *a = &rt->core->attrs[i];
        if (a->required && a->mutability != SA_READ_ONLY && !json_object_get(doc, a->name))
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s' is required", a->name);
    }
    return IDP_OK;
}

/* ---- normalisation ---- */

static bool schemas_has(const json_t *schemas, const char *urn)
{
    size_t i;
    json_t *s;
    json_array_foreach(schemas, i, s)
        if (json_is_string(s) && strcasecmp(json_string_value(s), urn) == 0) return true;
    return false;
}

/* Normalises the attributes of one schema from in into out (unknown and readOnly ignored). */
static idp_err norm_attrs(const scim_resource_type *rt, const scim_schema *ext, const json_t *in,
                          json_t *out, patch_members *pm, idp_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        const scim_schema *schema = ext;
        const scim_attr_def *a = ext ? scim_attr_find(ext->attrs, ext->nattrs, k)
                                     : patch_value_core_attr(rt, k, &schema);
        if (!a || a->mutability == SA_READ_ONLY) continue; /* RFC 7644 §3.3 */
        if (json_object_get(out, a->name))
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s' given twice", a->name);
        json_t *nv = NULL;
        idp_err rc;
        if (patch_value_is_members(schema, a)) {
            if (!json_is_array(v) && !json_is_null(v))
                return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute 'members' must be an array");
            if ((rc = patch_members_add_values(pm, v, err))) return rc;
            continue;
        }
        if ((rc = patch_value_attr(a, v, false, &nv, err))) return rc;
        if (a->multi_valued && json_array_size(nv) > PATCH_MAX_ATTR_VALUES) {
            json_decref(nv);
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s' has too many values", a->name);
        } else if (nv) {
            json_object_set_new(out, a->name, nv);
        }
    }
    return IDP_OK;
}

idp_err scim_resource_normalize(const scim_resource_type *rt, const json_t *in, json_t **out,
                                scim_delta *members, idp_error *err)
{
    json_t *doc = json_object();
    patch_members *pm = patch_members_new();
    idp_err rc = IDP_OK;
    *out = NULL;
    if (!json_is_object(in)) {
        rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "resource must be a JSON object");
        goto out;
    }
    const json_t *schemas = patch_value_get_ci(in, "schemas", NULL);
    if (!json_is_array(schemas) || !schemas_has(schemas, rt->core->urn)) {
        rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "'schemas' must list %s", rt->core->urn);
        goto out;
    }
    json_object_set_new(doc, "schemas", json_array()); /* first key; filled by fix_schemas */
    patch_members_replace_all(pm);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        const scim_schema *ext = patch_value_ext(rt, k);
        if (!ext || json_is_null(v)) continue;
        if (!json_is_object(v) || !schemas_has(schemas, ext->urn)) {
            rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE,
                          "extension %s must be an object listed in 'schemas'", ext->urn);
            goto out;
        }
        json_t *eo = json_object();
        json_object_set_new(doc, ext->urn, eo);
        if ((rc = norm_attrs(rt, ext, v, eo, pm, err))) goto out;
    }
    if ((rc = norm_attrs(rt, NULL, in, doc, pm, err))) goto out;
    if ((rc = check_required(rt, doc, err))) goto out;
    fix_schemas(rt, doc);
    if (members && rt == &scim_rt_group) patch_members_emit(pm, members);
    *out = doc;
    doc = NULL;
out:
    json_decref(doc);
    patch_members_free(pm);
    return rc;
}

/* ---- PATCH: helpers ---- */

typedef struct case_ctx {
    const scim_attr_def *attr;
} case_ctx;

/* Value filters compare sub-attributes of one element; caseExact per the schema. */
static bool elem_case_exact(const scim_attr_path *p, void *ctx)
{
    const scim_attr_def *a = ((const case_ctx *)ctx)->attr;
    const scim_attr_def *s = p->attr ? scim_attr_find(a->subs, a->nsubs, p->attr) : NULL;
    return s && s->case_exact;
}

/* The object holding the attributes of schema: the document, or its extension object. */
static json_t *container(patch_ctx *c, const scim_schema *schema, bool create)
{
    if (schema == c->rt->core || schema == &scim_schema_common) return c->doc;
    json_t *o = json_object_get(c->doc, schema->urn);
    if (!json_is_object(o) && create) {
        o = json_object();
        json_object_set_new(c->doc, schema->urn, o);
    }
    return json_is_object(o) ? o : NULL;
}

/* For add/replace with a filter that matched nothing: a filter made only of `sub eq literal`
 * joined by `and` describes the element to create (Entra: emails[type eq "work"].value). */
static bool eq_template(const scim_attr_def *a, const sf_node *f, json_t *tpl)
{
    if (f->kind == SF_AND) return eq_template(a, f->left, tpl) && eq_template(a, f->right, tpl);
    if (f->kind != SF_COMPARE || f->op != SF_EQ || f->path.urn || f->path.sub) return false;
    const scim_attr_def *s = scim_attr_find(a->subs, a->nsubs, f->path.attr);
    if (!s || s->mutability == SA_READ_ONLY) return false;
    json_t *v = NULL;
    switch (f->vtype) {
    case SF_V_STRING: v = json_string(f->str); break;
    case SF_V_TRUE: v = json_true(); break;
    case SF_V_FALSE: v = json_false(); break;
    case SF_V_NUMBER: v = json_real(f->num); break;
    default: return false;
    }
    json_object_set_new(tpl, s->name, v);
    return true;
}

/* RFC 7644 §3.5.2: setting primary true on a value sets it false on the others. touched are
 * the elements this operation wrote. More than one primary among them -> invalidValue. */
static idp_err fix_primary(const scim_attr_def *a, json_t *arr, json_t **touched, size_t nt,
                           idp_error *err)
{
    size_t np = 0;
    for (size_t i = 0; i < nt; i++) np += json_is_true(json_object_get(touched[i], "primary"));
    if (np > 1)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s' has more than one primary value",
                        a->name);
    if (np == 0) return patch_value_count_primary(arr) > 1
                            ? IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE,
                                       "attribute '%s' has more than one primary value", a->name)
                            : IDP_OK;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        bool mine = false;
        for (size_t j = 0; j < nt && !mine; j++) mine = touched[j] == e;
        if (!mine && json_is_true(json_object_get(e, "primary")))
            json_object_set_new(e, "primary", json_false());
    }
    return IDP_OK;
}

/* RFC 7643 §2.2 / RFC 7644 §3.5.2: readOnly never; immutable only added when unset. */
static idp_err check_mutability(const patch_target *t, patch_kind kind, const json_t *cur,
                                idp_error *err)
{
    const scim_attr_def *d[2] = {t->attr, t->sub};
    for (int i = 0; i < 2; i++) {
        if (!d[i]) continue;
        if (d[i]->mutability == SA_READ_ONLY)
            return IDP_FAIL(err, IDP_ERR_SCIM_MUTABILITY, "attribute '%s' is readOnly", d[i]->name);
        if (d[i]->mutability == SA_IMMUTABLE && (kind != OP_ADD || cur))
            return IDP_FAIL(err, IDP_ERR_SCIM_MUTABILITY, "attribute '%s' is immutable", d[i]->name);
    }
    return IDP_OK;
}

/* ---- PATCH: operations on one target ---- */

/* Whole attribute: add appends to multi-valued attributes (equal values are not repeated) and
 * merges sub-attributes into a complex one; replace sets (RFC 7644 §3.5.2.1, §3.5.2.3). */
static idp_err op_whole(patch_kind kind, const patch_target *t, json_t *box, const json_t *value,
                        idp_error *err)
{
    const scim_attr_def *a = t->attr;
    json_t *cur = json_object_get(box, a->name), *nv = NULL, **touched = NULL;
    size_t nt = 0;
    idp_err rc = kind == OP_REMOVE ? IDP_OK : patch_value_attr(a, value, true, &nv, err);
    if (rc) goto out;
    if (!nv) {
        if (kind != OP_ADD) json_object_del(box, a->name);
        goto out;
    }
    if (a->multi_valued && json_array_size(nv) > PATCH_MAX_ATTR_VALUES) {
        rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s' has too many values", a->name);
        goto out;
    }
    if (!a->multi_valued) {
        if (a->type == SA_COMPLEX && json_is_object(cur)) json_object_update(cur, nv);
        else json_object_set(box, a->name, nv);
        goto out;
    }
    if (kind == OP_REPLACE || !json_is_array(cur)) {
        json_object_set(box, a->name, nv);
        cur = nv;
    }
    touched = xcalloc(json_array_size(nv), sizeof *touched);
    for (size_t i = 0; i < json_array_size(nv); i++) {
        json_t *e = json_array_get(nv, i);
        if (cur != nv) {
            bool dup = false;
            for (size_t j = 0; j < json_array_size(cur) && !dup; j++)
                dup = json_equal(json_array_get(cur, j), e);
            if (dup) continue;
            if (json_array_size(cur) >= PATCH_MAX_ATTR_VALUES) {
                rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s' has too many values", a->name);
                goto out;
            }
            json_array_append(cur, e);
        }
        touched[nt++] = e;
    }
    if (a->type == SA_COMPLEX) rc = fix_primary(a, cur, touched, nt, err);
out:
    free(touched);
    json_decref(nv);
    return rc;
}

/* Sub-attribute of a singular complex attribute (name.givenName). */
static idp_err op_sub(patch_kind kind, const patch_target *t, json_t *box, const json_t *value,
                      idp_error *err)
{
    json_t *cur = json_object_get(box, t->attr->name), *nv = NULL;
    idp_err rc = kind == OP_REMOVE ? IDP_OK : patch_value_attr(t->sub, value, true, &nv, err);
    if (rc) return rc;
    if (!nv) {
        if (!json_is_object(cur)) return IDP_OK;
        json_object_del(cur, t->sub->name);
        if (!json_object_size(cur)) json_object_del(box, t->attr->name);
        return IDP_OK;
    }
    if (!json_is_object(cur)) {
        cur = json_object();
        json_object_set_new(box, t->attr->name, cur);
    }
    json_object_set_new(cur, t->sub->name, nv);
    return IDP_OK;
}

/* Applies the operation to one matching element; false when the element is to be dropped. */
static bool elem_apply(patch_kind kind, const patch_target *t, json_t **e, json_t *nv)
{
    if (kind == OP_REMOVE || !nv) {
        if (!t->sub) return false;
        json_object_del(*e, t->sub->name);
        return json_object_size(*e) > 0;
    }
    if (t->sub) json_object_set_new(*e, t->sub->name, json_deep_copy(nv));
    else if (kind == OP_ADD) json_object_update(*e, nv);
    else *e = nv; /* replaced by the new element (caller copies) */
    return true;
}

/* Elements of a multi-valued complex attribute selected by a value filter (or all of them, for
 * emails.type without a filter). No match: remove is a no-op, add/replace create the element
 * an eq-only filter describes, otherwise noTarget (RFC 7644 §3.5.2.3). */
static idp_err op_elems(patch_kind kind, const patch_target *t, json_t *box, const json_t *value,
                        idp_error *err)
{
    const scim_attr_def *a = t->attr;
    case_ctx cc = {a};
    json_t *cur = json_object_get(box, a->name), *nv = NULL, *keep = json_array(), **touched = NULL;
    size_t n = json_array_size(cur), nt = 0, matched = 0;
    idp_err rc = IDP_OK;
    if (kind != OP_REMOVE)
        rc = t->sub ? patch_value_attr(t->sub, value, true, &nv, err) : patch_value_elem(a, value, &nv, err);
    if (rc) goto out;
    touched = xcalloc(n + 1, sizeof *touched);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(cur, i);
        if (t->filter && !scim_filter_match(t->filter, e, elem_case_exact, &cc)) {
            json_array_append(keep, e);
            continue;
        }
        matched++;
        json_t *ne = e;
        if (!elem_apply(kind, t, &ne, nv)) continue;
        if (ne != e) ne = json_deep_copy(ne);
        else json_incref(ne);
        json_array_append_new(keep, ne);
        if (kind != OP_REMOVE) touched[nt++] = ne;
    }
    if (!matched && kind != OP_REMOVE && nv) {
        json_t *tpl = json_object();
        if (t->filter && !eq_template(a, t->filter, tpl)) {
            json_decref(tpl);
            rc = IDP_FAIL(err, IDP_ERR_SCIM_NO_TARGET, "no value of '%s' matches the filter", a->name);
            goto out;
        }
        if (t->sub) json_object_set(tpl, t->sub->name, nv);
        else json_object_update(tpl, nv);
        json_array_append_new(keep, tpl);
        touched[nt++] = tpl;
    }
    if (json_array_size(keep)) json_object_set(box, a->name, keep);
    else json_object_del(box, a->name);
    rc = fix_primary(a, keep, touched, nt, err);
out:
    free(touched);
    json_decref(nv);
    json_decref(keep);
    return rc;
}

/* members[value eq "id"] (or several joined by `or`): the ids to remove. */
static idp_err members_filter_remove(patch_members *pm, const sf_node *f, idp_error *err)
{
    if (f->kind == SF_OR) {
        idp_err rc = members_filter_remove(pm, f->left, err);
        return rc ? rc : members_filter_remove(pm, f->right, err);
    }
    if (f->kind != SF_COMPARE || f->op != SF_EQ || f->vtype != SF_V_STRING || f->path.urn ||
        f->path.sub || strcasecmp(f->path.attr, "value") != 0)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_FILTER,
                        "a members filter must be value eq \"id\" (joined by or)");
    return patch_members_remove(pm, f->str, err);
}

/* Group members become a scim_delta; the document never holds them. */
static idp_err op_members(patch_ctx *c, patch_kind kind, const patch_target *t,
                          const json_t *value, idp_error *err)
{
    if (t->sub)
        return IDP_FAIL(err, IDP_ERR_SCIM_MUTABILITY,
                        "member values are immutable: add or remove whole members");
    if (t->filter) {
        if (kind != OP_REMOVE)
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_FILTER,
                            "a filter on members is supported with remove only");
        return members_filter_remove(c->pm, t->filter, err);
    }
    if (json_is_object(value) || (json_is_array(value) && json_array_size(value)) ||
        json_is_string(value)) {
        if (kind == OP_REMOVE) return patch_members_remove_values(c->pm, value, err);
        if (kind == OP_REPLACE) patch_members_replace_all(c->pm);
        return patch_members_add_values(c->pm, value, err);
    }
    if (value && !json_is_null(value) && !json_is_array(value))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "members must be an array of members");
    /* remove/replace with no value (or [] / null): no members left; add of nothing: no-op. */
    if (kind != OP_ADD) patch_members_replace_all(c->pm);
    return IDP_OK;
}

static idp_err apply_target(patch_ctx *c, patch_kind kind, const patch_target *t,
                            const json_t *value, idp_error *err)
{
    if (kind != OP_REMOVE && !value)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "%s needs a value",
                        kind == OP_ADD ? "add" : "replace");
    if (patch_value_is_members(t->schema, t->attr)) return op_members(c, kind, t, value, err);
    if (kind == OP_ADD && json_is_null(value)) return IDP_OK;
    /* A no-path value object is a partial resource: readOnly attributes are ignored as in a
     * POST/PUT body (RFC 7644 §3.3); with an explicit path they are an error. */
    if (t->from_object && t->attr->mutability == SA_READ_ONLY) return IDP_OK;
    json_t *box = container(c, t->schema, kind != OP_REMOVE);
    json_t *cur = box ? json_object_get(box, t->attr->name) : NULL;
    idp_err rc = check_mutability(t, kind, cur, err);
    if (rc || !box) return rc;
    if (t->filter || (t->sub && t->attr->multi_valued)) return op_elems(kind, t, box, value, err);
    if (t->sub) return op_sub(kind, t, box, value, err);
    return op_whole(kind, t, box, value, err);
}

/* ---- PATCH: paths, value objects, operations ---- */

/* One operation on a path. from_object: the path is a key of a no-path value object, where
 * unknown attributes are ignored like in a POST/PUT body. */
static idp_err apply_path(patch_ctx *c, patch_kind kind, const char *path, const json_t *value,
                          bool from_object, idp_error *err)
{
    scim_patch_path pp;
    scim_resolved r;
    patch_target t = {.from_object = from_object};
    idp_error pe = {0};
    idp_err rc = IDP_OK;
    memset(&pp, 0, sizeof pp);
    memset(&r, 0, sizeof r);
    if (scim_patch_path_parse(path, strlen(path), &pp, &pe) != IDP_OK) {
        if (!from_object) rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "invalid path: %s", pe.msg);
        goto out;
    }
    if (scim_path_resolve(c->rt, &pp.path, &r, NULL) != IDP_OK) {
        if (!from_object) rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "unknown attribute in path");
        goto out;
    }
    t.schema = r.schema;
    t.attr = r.attr;
    t.sub = r.sub;
    t.filter = pp.value_filter;
    if (pp.value_sub) {
        t.sub = t.sub || !t.filter ? NULL : scim_attr_find(t.attr->subs, t.attr->nsubs, pp.value_sub);
        if (!t.sub) {
            rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "unknown sub-attribute in path");
            goto out;
        }
    }
    if ((t.filter && (!t.attr->multi_valued || t.attr->type != SA_COMPLEX)) ||
        (t.sub && t.attr->type != SA_COMPLEX)) {
        rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "a value filter needs a multi-valued complex attribute");
        goto out;
    }
    rc = apply_target(c, kind, &t, value, err);
out:
    scim_patch_path_clear(&pp);
    return rc;
}

/* {"urn:...:enterprise:2.0:User": {"department": "x"}} inside a no-path value. */
static idp_err apply_ext_object(patch_ctx *c, patch_kind kind, const scim_schema *ext,
                                const json_t *v, idp_error *err)
{
    if (json_is_null(v)) {
        if (kind == OP_REPLACE) json_object_del(c->doc, ext->urn);
        return IDP_OK;
    }
    if (!json_is_object(v))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "extension %s must be an object", ext->urn);
    idp_buf b;
    buf_init(&b, SCIM_FILTER_MAX_LEN);
    idp_err rc = IDP_OK;
    const char *k;
    json_t *sv;
    json_object_foreach((json_t *)v, k, sv) {
        buf_reset(&b);
        if (buf_printf(&b, "%s:%s", ext->urn, k) != 0) continue; /* too long: unknown */
        if ((rc = apply_path(c, kind, buf_cstr(&b), sv, true, err))) break;
    }
    buf_free(&b);
    return rc;
}

/* add/replace without a path: every member of the value object is an attribute, possibly
 * dotted ("name.givenName") or URN-qualified (Entra), RFC 7644 §3.5.2.1 / §3.5.2.3. */
static idp_err apply_object(patch_ctx *c, patch_kind kind, const json_t *value, idp_error *err)
{
    if (!json_is_object(value))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "without a path, value must be an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)value, k, v) {
        if (strcasecmp(k, "schemas") == 0) continue;
        const scim_schema *ext = patch_value_ext(c->rt, k);
        idp_err rc = ext ? apply_ext_object(c, kind, ext, v, err) : apply_path(c, kind, k, v, true, err);
        if (rc) return rc;
    }
    return IDP_OK;
}

static idp_err apply_op(patch_ctx *c, const json_t *op, idp_error *err)
{
    if (!json_is_object(op))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "an operation must be an object");
    const char *name = json_string_value(patch_value_get_ci(op, "op", NULL));
    patch_kind kind;
    if (name && strcasecmp(name, "add") == 0) kind = OP_ADD; /* Entra: "Add", "Replace" */
    else if (name && strcasecmp(name, "replace") == 0) kind = OP_REPLACE;
    else if (name && strcasecmp(name, "remove") == 0) kind = OP_REMOVE;
    else return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "op must be add, replace or remove");
    const json_t *path = patch_value_get_ci(op, "path", NULL);
    const json_t *value = patch_value_get_ci(op, "value", NULL);
    if (path && !json_is_null(path) && !json_is_string(path))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "path must be a string");
    const char *p = json_string_value(path);
    if (p && *p) return apply_path(c, kind, p, value, false, err);
    if (kind == OP_REMOVE) /* RFC 7644 §3.5.2.2 */
        return IDP_FAIL(err, IDP_ERR_SCIM_NO_TARGET, "remove needs a path");
    if (!value) return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "operation needs a value");
    return apply_object(c, kind, value, err);
}

static idp_err check_body(const json_t *body, const json_t **ops, idp_error *err)
{
    if (!json_is_object(body))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "PATCH body must be a JSON object");
    const json_t *schemas = patch_value_get_ci(body, "schemas", NULL);
    if (!json_is_array(schemas) || !schemas_has(schemas, SCIM_URN_PATCH))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "'schemas' must list %s", SCIM_URN_PATCH);
    *ops = patch_value_get_ci(body, "Operations", NULL);
    if (!json_is_array(*ops) || json_array_size(*ops) == 0)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "'Operations' must be a non-empty array");
    if (json_array_size(*ops) > PATCH_MAX_OPERATIONS)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "more than %d operations",
                        PATCH_MAX_OPERATIONS);
    return IDP_OK;
}

idp_err scim_patch_apply(const scim_resource_type *rt, json_t *doc, const json_t *patch_body,
                         scim_delta *members, idp_error *err)
{
    const json_t *ops = NULL;
    patch_ctx c = {rt, NULL, NULL};
    idp_err rc = check_body(patch_body, &ops, err);
    if (rc) return rc;
    if (!json_is_object(doc)) return IDP_FAIL(err, IDP_ERR_INTERNAL, "stored document is not an object");
    c.doc = json_deep_copy(doc);
    c.pm = patch_members_new();
    for (size_t i = 0; i < json_array_size(ops); i++) {
        if ((rc = apply_op(&c, json_array_get(ops, i), err))) {
            if (err) { /* name the failing operation; the message stays client-safe */
                char m[sizeof err->msg];
                memcpy(m, err->msg, sizeof m);
                snprintf(err->msg, sizeof err->msg, "Operations[%zu]: %.200s", i, m);
            }
            goto out;
        }
    }
    if ((rc = check_required(rt, c.doc, err))) goto out;
    fix_schemas(rt, c.doc);
    json_object_clear(doc); /* all operations succeeded: swap the new state in */
    json_object_update(doc, c.doc);
    if (members) patch_members_emit(c.pm, members);
out:
    json_decref(c.doc);
    patch_members_free(c.pm);
    return rc;
}
