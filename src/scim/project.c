/* project — attributes / excludedAttributes (RFC 7644 §3.9) and the schema's "returned" rules
 * (RFC 7643 §2.4, §7) applied to a full representation. */
#include "scim/patch.h"

#include "core/mem.h"
#include "scim/filter.h"
#include "scim/patch_internal.h"

#include <stdlib.h>
#include <string.h>

#define PROJECT_MAX_NAMES 256

typedef struct proj_sel {
    const scim_schema *schema;
    const scim_attr_def *attr; /* NULL: the whole extension `schema` */
    const scim_attr_def *sub;  /* NULL: the whole attribute */
} proj_sel;

typedef struct proj_list {
    proj_sel v[PROJECT_MAX_NAMES];
    size_t n;
    bool given; /* the parameter was present and not empty */
} proj_list;

typedef enum { MODE_WHOLE, MODE_PARTIAL } proj_mode;

/* Adds one name: an extension URN, or an attribute path without filter. Unknown attributes are
 * ignored (the service provider returns what it knows); a malformed name is invalidPath. */
static idp_err add_name(const scim_resource_type *rt, const char *s, size_t n, proj_list *l,
                        idp_error *err)
{
    char *name = xstrndup(s, n);
    scim_patch_path pp;
    scim_resolved r;
    idp_err rc = IDP_OK;
    memset(&pp, 0, sizeof pp);
    memset(&r, 0, sizeof r);
    const scim_schema *ext = patch_value_ext(rt, name);
    if (ext) {
        l->v[l->n++] = (proj_sel){ext, NULL, NULL};
    } else if (scim_patch_path_parse(name, n, &pp, NULL) != IDP_OK || pp.value_filter) {
        rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "invalid attribute name in attribute list");
    } else if (scim_path_resolve(rt, &pp.path, &r, NULL) == IDP_OK) {
        l->v[l->n++] = (proj_sel){r.schema, r.attr, r.sub};
    }
    scim_patch_path_clear(&pp);
    free(name);
    return rc;
}

static idp_err parse_list(const scim_resource_type *rt, const char *s, proj_list *l,
                          idp_error *err)
{
    l->n = 0;
    l->given = false;
    if (!s) return IDP_OK;
    if (strlen(s) > SCIM_FILTER_MAX_LEN)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "attribute list too long");
    size_t count = 0;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        size_t n = strcspn(s, ",");
        while (n && s[n - 1] == ' ') n--;
        if (n) {
            l->given = true;
            if (++count > PROJECT_MAX_NAMES)
                return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "too many names in attribute list");
            idp_err rc = add_name(rt, s, n, l, err);
            if (rc) return rc;
        }
        s += n;
        while (*s && *s != ',') s++;
    }
    return IDP_OK;
}

/* 0: not named; 1: named whole (or its extension is); 2: only sub-attributes are named. */
static int named(const proj_list *l, const scim_schema *schema, const scim_attr_def *a)
{
    int r = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!l->v[i].attr && l->v[i].schema == schema) return 1;
        if (l->v[i].attr != a) continue;
        if (!l->v[i].sub) return 1;
        r = 2;
    }
    return r;
}

static bool sub_named(const proj_list *l, const scim_attr_def *a, const scim_attr_def *sub)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].attr == a && l->v[i].sub == sub) return true;
    return false;
}

/* Whether sub-attribute key k of a is returned. attrs: the `attributes` list (given or not);
 * excl: the `excludedAttributes` list. */
static bool keep_sub(const scim_attr_def *a, const char *k, proj_mode mode, const proj_list *attrs,
                     const proj_list *excl)
{
    const scim_attr_def *sub = scim_attr_find(a->subs, a->nsubs, k);
    if (!sub) return mode == MODE_WHOLE;
    if (sub->returned == SA_RET_NEVER) return false;
    if (sub->returned == SA_RET_ALWAYS) return true;
    if (mode == MODE_PARTIAL) return sub_named(attrs, a, sub);
    if (attrs->given) return true; /* the whole attribute was asked for */
    return sub->returned != SA_RET_REQUEST && !sub_named(excl, a, sub);
}

/* A copy of a complex value (object, or array of objects) with only the returned sub-attributes. */
static json_t *filter_subs(const scim_attr_def *a, const json_t *v, proj_mode mode,
                           const proj_list *attrs, const proj_list *excl)
{
    if (json_is_array(v)) {
        json_t *arr = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            json_t *ne = filter_subs(a, e, mode, attrs, excl);
            if (ne && (!json_is_object(ne) || json_object_size(ne))) json_array_append_new(arr, ne);
            else json_decref(ne);
        }
        return arr;
    }
    if (!json_is_object(v)) return json_deep_copy(v);
    json_t *o = json_object();
    const char *k;
    json_t *sv;
    json_object_foreach((json_t *)v, k, sv)
        if (keep_sub(a, k, mode, attrs, excl)) json_object_set_new(o, k, json_deep_copy(sv));
    return o;
}

/* Projection of one top-level attribute, or NULL when it is not returned. */
static json_t *project_attr(const scim_schema *schema, const scim_attr_def *a, const json_t *v,
                            const proj_list *attrs, const proj_list *excl)
{
    if (a->returned == SA_RET_NEVER) return NULL;
    proj_mode mode = MODE_WHOLE;
    if (a->returned != SA_RET_ALWAYS) {
        if (attrs->given) {
            int how = named(attrs, schema, a);
            if (!how) return NULL;
            if (how == 2) mode = MODE_PARTIAL;
        } else if (a->returned == SA_RET_REQUEST || named(excl, schema, a) == 1) {
            return NULL;
        }
    }
    if (a->type != SA_COMPLEX) return json_deep_copy(v);
    json_t *nv = filter_subs(a, v, mode, attrs, excl);
    if ((json_is_object(nv) && !json_object_size(nv)) || (json_is_array(nv) && !json_array_size(nv))) {
        json_decref(nv);
        return NULL;
    }
    return nv;
}

/* Projects the attributes of one schema (the resource, or an extension object) into out. */
static void project_obj(const scim_resource_type *rt, const scim_schema *ext, const json_t *in,
                        json_t *out, const proj_list *attrs, const proj_list *excl)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        const scim_schema *schema = ext;
        const scim_attr_def *a = ext ? scim_attr_find(ext->attrs, ext->nattrs, k)
                                     : patch_value_core_attr(rt, k, &schema);
        const scim_schema *sub_ext = ext ? NULL : patch_value_ext(rt, k);
        json_t *nv = NULL;
        if (!ext && strcmp(k, "schemas") == 0) nv = json_deep_copy(v);
        else if (sub_ext && json_is_object(v)) {
            nv = json_object();
            project_obj(rt, sub_ext, v, nv, attrs, excl);
        } else if (a) nv = project_attr(schema, a, v, attrs, excl);
        else if (!attrs->given) nv = json_deep_copy(v); /* not in the schema: default */
        if (json_is_object(nv) && !json_object_size(nv) && strcmp(k, "schemas") != 0) {
            json_decref(nv);
            nv = NULL;
        }
        if (nv) json_object_set_new(out, k, nv);
    }
}

idp_err scim_project(const scim_resource_type *rt, const json_t *full, const char *attributes,
                     const char *excluded, json_t **out, idp_error *err)
{
    proj_list *attrs = xcalloc(1, sizeof *attrs), *excl = xcalloc(1, sizeof *excl);
    idp_err rc = parse_list(rt, attributes, attrs, err);
    *out = NULL;
    if (!rc) rc = parse_list(rt, excluded, excl, err);
    if (!rc && !json_is_object(full))
        rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "representation is not an object");
    if (!rc) {
        /* RFC 7644 §3.9: attributes overrides the default set; with both, attributes wins. */
        if (attrs->given) excl->n = 0;
        *out = json_object();
        project_obj(rt, NULL, full, *out, attrs, excl);
    }
    free(attrs);
    free(excl);
    return rc;
}
