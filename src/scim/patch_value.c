/* patch_value — type checks and canonical form of SCIM attribute values (RFC 7643 §2.1-§2.5),
 * shared by resource normalisation and PATCH. */
#include "scim/patch_internal.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

json_t *patch_value_get_ci(const json_t *obj, const char *key, const char **key_out)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (strcasecmp(k, key) == 0) {
            if (key_out) *key_out = k;
            return v;
        }
    }
    return NULL;
}

const scim_schema *patch_value_ext(const scim_resource_type *rt, const char *s)
{
    for (size_t i = 0; i < rt->nextensions; i++)
        if (strcasecmp(rt->extensions[i]->urn, s) == 0) return rt->extensions[i];
    return NULL;
}

const scim_attr_def *patch_value_core_attr(const scim_resource_type *rt, const char *name,
                                          const scim_schema **schema)
{
    const scim_attr_def *a = scim_attr_find(scim_schema_common.attrs, scim_schema_common.nattrs, name);
    *schema = &scim_schema_common;
    if (!a) {
        a = scim_attr_find(rt->core->attrs, rt->core->nattrs, name);
        *schema = rt->core;
    }
    return a;
}

bool patch_value_is_members(const scim_schema *s, const scim_attr_def *a)
{
    return s == &scim_schema_group && a && strcmp(a->name, "members") == 0;
}

static bool digits(const char *s, int n, int lo, int hi)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi;
}

bool patch_value_is_datetime(const char *s)
{
    /* full-date "T" partial-time time-offset: 2019-09-18T18:15:26.5788954+00:00 */
    if (strlen(s) < 20 || !digits(s, 4, 0, 9999) || s[4] != '-' || !digits(s + 5, 2, 1, 12) ||
        s[7] != '-' || !digits(s + 8, 2, 1, 31) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, 0, 23) || s[13] != ':' || !digits(s + 14, 2, 0, 59) || s[16] != ':' ||
        !digits(s + 17, 2, 0, 60))
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        const char *f = ++p;
        while (isdigit((unsigned char)*p)) p++;
        if (p == f) return false;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') return true;
    return (*p == '+' || *p == '-') && digits(p + 1, 2, 0, 23) && p[3] == ':' &&
           digits(p + 4, 2, 0, 59) && p[6] == '\0';
}

size_t patch_value_count_primary(const json_t *arr)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(arr, i, e) n += json_is_true(json_object_get(e, "primary"));
    return n;
}

static idp_err bad(idp_error *err, const scim_attr_def *def, const char *what)
{
    return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s' %s", def->name, what);
}

static idp_err value_complex(const scim_attr_def *def, const json_t *in, json_t **out,
                             idp_error *err)
{
    if (!json_is_object(in)) {
        /* Entra sends manager as a bare id: {"manager": "id"} means {"manager": {"value": "id"}}. */
        const scim_attr_def *v = scim_attr_find(def->subs, def->nsubs, "value");
        if (!v || json_is_array(in)) return bad(err, def, "must be an object");
        json_t *w = json_pack("{sO}", "value", in);
        idp_err rc = value_complex(def, w, out, err);
        json_decref(w);
        return rc;
    }
    json_t *o = json_object();
    const char *k;
    json_t *v;
    idp_err rc = IDP_OK;
    json_object_foreach((json_t *)in, k, v) {
        const scim_attr_def *sub = scim_attr_find(def->subs, def->nsubs, k);
        if (!sub || sub->mutability == SA_READ_ONLY) continue; /* RFC 7644 §3.3: ignored */
        if (json_object_get(o, sub->name)) {
            rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s.%s' given twice",
                          def->name, sub->name);
            goto out;
        }
        json_t *nv = NULL;
        rc = patch_value_attr(sub, v, false, &nv, err);
        if (rc) goto out;
        if (nv) json_object_set_new(o, sub->name, nv);
    }
    for (size_t i = 0; i < def->nsubs; i++) {
        if (def->subs[i].required && json_object_size(o) && !json_object_get(o, def->subs[i].name)) {
            rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "attribute '%s.%s' is required",
                          def->name, def->subs[i].name);
            goto out;
        }
    }
    if (json_object_size(o)) {
        *out = o;
        o = NULL;
    }
out:
    json_decref(o);
    return rc;
}

idp_err patch_value_elem(const scim_attr_def *def, const json_t *in, json_t **out,
                         idp_error *err)
{
    *out = NULL;
    if (json_is_null(in)) return IDP_OK;
    switch (def->type) {
    case SA_STRING:
    case SA_REFERENCE:
    case SA_BINARY:
    case SA_DATETIME:
        if (!json_is_string(in)) return bad(err, def, "must be a string");
        if (json_string_length(in) > PATCH_MAX_STRING) return bad(err, def, "is too long");
        if (def->type == SA_DATETIME && !patch_value_is_datetime(json_string_value(in)))
            return bad(err, def, "must be an RFC 3339 date-time");
        *out = json_copy((json_t *)in);
        return IDP_OK;
    case SA_BOOLEAN:
        if (json_is_boolean(in)) *out = json_copy((json_t *)in);
        else if (json_is_string(in) && strcasecmp(json_string_value(in), "true") == 0) *out = json_true();
        else if (json_is_string(in) && strcasecmp(json_string_value(in), "false") == 0) *out = json_false();
        else return bad(err, def, "must be a boolean");
        return IDP_OK;
    case SA_INTEGER:
        if (json_is_integer(in)) *out = json_copy((json_t *)in);
        else if (json_is_real(in) && floor(json_real_value(in)) == json_real_value(in) &&
                 fabs(json_real_value(in)) < 9.0e15)
            *out = json_integer((json_int_t)json_real_value(in));
        else return bad(err, def, "must be an integer");
        return IDP_OK;
    case SA_DECIMAL:
        if (!json_is_number(in)) return bad(err, def, "must be a number");
        *out = json_copy((json_t *)in);
        return IDP_OK;
    case SA_COMPLEX:
        return value_complex(def, in, out, err);
    }
    return bad(err, def, "has an unsupported type");
}

idp_err patch_value_attr(const scim_attr_def *def, const json_t *in, bool allow_single,
                         json_t **out, idp_error *err)
{
    *out = NULL;
    if (json_is_null(in)) return IDP_OK;
    if (!def->multi_valued) {
        if (json_is_array(in)) return bad(err, def, "is single-valued: an array is not accepted");
        return patch_value_elem(def, in, out, err);
    }
    if (!json_is_array(in) && !allow_single) return bad(err, def, "must be an array");
    size_t n = json_is_array(in) ? json_array_size(in) : 1;
    if (n > PATCH_MAX_VALUES) return bad(err, def, "has too many values");
    json_t *arr = json_array();
    idp_err rc = IDP_OK;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(in) ? json_array_get(in, i) : in;
        json_t *ne = NULL;
        if (json_is_array(e)) {
            rc = bad(err, def, "must not contain nested arrays");
            goto out;
        }
        rc = patch_value_elem(def, e, &ne, err);
        if (rc) goto out;
        if (ne) json_array_append_new(arr, ne);
    }
    if (def->type == SA_COMPLEX && patch_value_count_primary(arr) > 1) {
        rc = bad(err, def, "has more than one primary value");
        goto out;
    }
    if (json_array_size(arr)) {
        *out = arr;
        arr = NULL;
    }
out:
    json_decref(arr);
    return rc;
}
