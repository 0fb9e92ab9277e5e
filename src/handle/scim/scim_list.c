/* scim_list — list and search parameters (RFC 7644 §3.4.2, §3.4.3) and attribute projection
 * wishes (§3.9). Pure: no store, no server. */
#include "handle/scim/scim_internal.h"

#include "core/buf.h"
#include "core/mem.h"
#include "handle/app.h"
#include "creds/pkey.h"
#include "scim/patch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCIM_LIST_URN_SEARCH "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

void scim_list_clear(scim_list *l)
{
    if (!l) return;
    scim_plan_free(l->plan);
    free(l->sort_by);
    free(l->attributes);
    free(l->excluded);
    memset(l, 0, sizeof *l);
}

idp_err scim_list_filter(const scim_resource_type *rt, const char *text, scim_plan **out,
                         idp_error *err)
{
    *out = NULL;
    size_t n = strlen(text);
    if (n > SCIM_FILTER_MAX_LEN)
        return IDP_FAIL(err, IDP_ERR_SCIM_TOO_MANY, "filter longer than %d bytes",
                        SCIM_FILTER_MAX_LEN);
    idp_error e = {0};
    sf_node *f = NULL;
    if (scim_filter_parse(text, n, &f, &e) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_FILTER, "%s", e.msg);
    idp_err rc = scim_plan_build(rt, f, out, err);
    scim_filter_free(f);
    return rc;
}

static idp_err sort_by_check(const scim_resource_type *rt, const char *s, idp_error *err)
{
    scim_patch_path pp;
    memset(&pp, 0, sizeof pp);
    scim_resolved r;
    idp_err rc = IDP_OK;
    if (strlen(s) > SCIM_LIST_PARAM_MAX_LEN ||
        scim_patch_path_parse(s, strlen(s), &pp, NULL) != IDP_OK || pp.value_filter ||
        pp.value_sub || scim_path_resolve(rt, &pp.path, &r, NULL) != IDP_OK)
        rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "sortBy is not an attribute of %s", rt->name);
    scim_patch_path_clear(&pp);
    return rc;
}

/* Integer query value; RFC 7644 §3.4.2.4 defines them as non-negative integers but asks for
 * clamping rather than errors on out-of-range values. */
static idp_err parse_int(const char *name, const char *s, int64_t *out, idp_error *err)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10); /* ERANGE saturates: clamped below like any value */
    if (end == s || *end != '\0')
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "%s must be an integer", name);
    *out = v;
    return IDP_OK;
}

static void clamp(scim_list *l)
{
    if (l->start_index < 1) l->start_index = 1;
    if (l->count < 0) l->count = 0;
    if (l->count > SCIM_LIST_MAX_COUNT) l->count = SCIM_LIST_MAX_COUNT;
}

static char *dup_capped(const char *s, const char *name, idp_error *err, idp_err *rc)
{
    if (!s) return NULL;
    if (strlen(s) > SCIM_LIST_PARAM_MAX_LEN) {
        *rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "%s is too long", name);
        return NULL;
    }
    return xstrdup(s);
}

/* The string parameters common to GET and .search. */
static idp_err set_common(scim_list *l, const scim_resource_type *rt, const char *filter,
                          const char *sort_by, const char *order, const char *attrs,
                          const char *excl, idp_error *err)
{
    idp_err rc = IDP_OK;
    if (filter && (rc = scim_list_filter(rt, filter, &l->plan, err)) != IDP_OK) return rc;
    if (sort_by) {
        if ((rc = sort_by_check(rt, sort_by, err)) != IDP_OK) return rc;
        l->sort_by = xstrdup(sort_by);
    }
    if (order) {
        if (strcasecmp(order, "descending") == 0)
            l->descending = true;
        else if (strcasecmp(order, "ascending") != 0)
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE,
                            "sortOrder must be ascending or descending");
    }
    l->attributes = dup_capped(attrs, "attributes", err, &rc);
    if (rc != IDP_OK) return rc;
    l->excluded = dup_capped(excl, "excludedAttributes", err, &rc);
    return rc;
}

idp_err scim_list_from_query(const http_request *rq, const scim_resource_type *rt, scim_list *out,
                             idp_error *err)
{
    memset(out, 0, sizeof *out);
    out->start_index = 1;
    out->count = SCIM_LIST_DEFAULT_COUNT;
    const char *si = request_query(rq, "startIndex"), *cnt = request_query(rq, "count");
    idp_err rc = IDP_OK;
    if (si && (rc = parse_int("startIndex", si, &out->start_index, err)) != IDP_OK) goto out;
    if (cnt && (rc = parse_int("count", cnt, &out->count, err)) != IDP_OK) goto out;
    clamp(out);
    rc = set_common(out, rt, request_query(rq, "filter"), request_query(rq, "sortBy"),
                    request_query(rq, "sortOrder"), request_query(rq, "attributes"),
                    request_query(rq, "excludedAttributes"), err);
out:
    if (rc != IDP_OK) scim_list_clear(out);
    return rc;
}

/* ["a","b"] (or "a,b") -> "a,b" in b; IDP_ERR_SCIM_INVALID_SYNTAX for other types. */
static idp_err join_list(const json_t *v, const char *name, idp_buf *b, idp_error *err)
{
    if (json_is_string(v)) {
        if (buf_puts(b, json_string_value(v)) != 0) goto big;
        return IDP_OK;
    }
    if (!json_is_array(v))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "%s must be an array", name);
    size_t i;
    const json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x))
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "%s must hold strings", name);
        if ((i && buf_putc(b, ',') != 0) || buf_puts(b, json_string_value(x)) != 0) goto big;
    }
    return IDP_OK;
big:
    return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "%s is too long", name);
}

static bool has_urn(const json_t *schemas, const char *urn)
{
    size_t i;
    const json_t *x;
    json_array_foreach(schemas, i, x) if (json_is_string(x) &&
                                          strcmp(json_string_value(x), urn) == 0) return true;
    return false;
}

static const char *str_member(const json_t *body, const char *name, idp_err *rc, idp_error *err)
{
    const json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v))
        *rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "%s must be a string", name);
    return json_string_value(v);
}

static idp_err int_member(const json_t *body, const char *name, int64_t *out, idp_error *err)
{
    const json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v)) return IDP_OK;
    if (!json_is_integer(v))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "%s must be an integer", name);
    *out = (int64_t)json_integer_value(v);
    return IDP_OK;
}

idp_err scim_list_from_search(const json_t *body, const scim_resource_type *rt, scim_list *out,
                              idp_error *err)
{
    static const char *const known[] = {"schemas",    "filter", "sortBy",     "sortOrder",
                                        "startIndex", "count",  "attributes", "excludedAttributes"};
    idp_buf attrs, excl;
    buf_init(&attrs, SCIM_LIST_PARAM_MAX_LEN);
    buf_init(&excl, SCIM_LIST_PARAM_MAX_LEN);
    memset(out, 0, sizeof *out);
    out->start_index = 1;
    out->count = SCIM_LIST_DEFAULT_COUNT;
    idp_err rc = IDP_OK;
    const char *key;
    const json_t *v, *schemas = json_object_get(body, "schemas");
    json_object_foreach((json_t *)body, key, v)
    {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(known[i], key) != 0)
            i++;
        if (i == sizeof known / sizeof known[0]) {
            rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "unknown SearchRequest member");
            goto out;
        }
    }
    if (!json_is_array(schemas) || !has_urn(schemas, SCIM_LIST_URN_SEARCH)) {
        rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "schemas must list %s", SCIM_LIST_URN_SEARCH);
        goto out;
    }
    if ((rc = int_member(body, "startIndex", &out->start_index, err)) != IDP_OK) goto out;
    if ((rc = int_member(body, "count", &out->count, err)) != IDP_OK) goto out;
    clamp(out);
    if ((v = json_object_get(body, "attributes")) && (rc = join_list(v, "attributes", &attrs, err)))
        goto out;
    if ((v = json_object_get(body, "excludedAttributes")) &&
        (rc = join_list(v, "excludedAttributes", &excl, err)))
        goto out;
    const char *filter = str_member(body, "filter", &rc, err);
    const char *sort_by = str_member(body, "sortBy", &rc, err);
    const char *order = str_member(body, "sortOrder", &rc, err);
    if (rc != IDP_OK) goto out;
    rc = set_common(out, rt, filter, sort_by, order, attrs.len ? buf_cstr(&attrs) : NULL,
                    excl.len ? buf_cstr(&excl) : NULL, err);
out:
    buf_free(&attrs);
    buf_free(&excl);
    if (rc != IDP_OK) scim_list_clear(out);
    return rc;
}

/* Whether one list entry (trimmed e[0..n)) names attribute `name` of schema `urn`. */
static bool entry_names(const char *e, size_t n, const char *urn, const char *name, bool sub_ok)
{
    size_t ul = strlen(urn), nl = strlen(name);
    if (n > ul + 1 && strncasecmp(e, urn, ul) == 0 && e[ul] == ':') {
        e += ul + 1;
        n -= ul + 1;
    }
    return n >= nl && strncasecmp(e, name, nl) == 0 && (n == nl || (sub_ok && e[nl] == '.'));
}

static bool list_names(const char *list, const char *urn, const char *name, bool sub_ok)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t m = n;
        while (m && (*s == ' ' || *s == '\t'))
            s++, m--;
        while (m && (s[m - 1] == ' ' || s[m - 1] == '\t'))
            m--;
        if (m && entry_names(s, m, urn, name, sub_ok)) return true;
        p += n;
        if (*p == ',') p++;
    }
    return false;
}

bool scim_list_wants(const char *attributes, const char *excluded, const char *urn,
                     const char *name)
{
    if (attributes && *attributes) return list_names(attributes, urn, name, true);
    /* excluding only a sub-attribute (members.display) still needs the attribute */
    if (excluded && *excluded) return !list_names(excluded, urn, name, false);
    return true;
}

json_t *scim_list_refs_json(const char *base, const char *endpoint, const store_ref *refs, size_t n,
                       const char *type)
{
    if (n == 0) return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char *ref = scim_render_location(base, endpoint, refs[i].id);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s*, s:s}", "value", refs[i].id, "$ref",
                                             ref, "display", refs[i].display, "type", type));
        free(ref);
    }
    return arr;
}

idp_err scim_list_read_get(const scim_list_reader *k, struct app *a, const http_request *rq,
                      http_response *rs, idp_error *err)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    json_t *full = NULL;
    int64_t version = 0;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_READ, actor, err);
    if (rc != IDP_OK) return rc;
    const char *attrs = request_query(rq, "attributes");
    const char *excl = request_query(rq, "excludedAttributes");
    bool sub = scim_list_wants(attrs, excl, k->urn, k->sub_attr);
    if ((rc = k->get(a, rq->param, sub, &full, &version, err)) != IDP_OK) return rc;
    if (scim_render_if_none_match(rq, version)) { /* RFC 9110 §13.1.2 */
        char etag[SCIM_RENDER_ETAG_MAX];
        scim_render_etag(version, etag);
        response_header_set(rs, "ETag", etag);
        rc = IDP_FAIL(err, IDP_ERR_NOT_MODIFIED, "not modified");
    } else {
        rc = scim_render_resource(rs, 200, k->rt, full, attrs, excl, version, err);
    }
    json_decref(full);
    return rc;
}

static idp_err read_run(const scim_list_reader *k, struct app *a, http_response *rs, const scim_list *l,
                        idp_error *err)
{
    json_t *res = json_array(), *all = json_array(), *proj = NULL;
    int64_t total = 0;
    store_query q = {.rt = k->rt,
                     .plan = l->plan,
                     .sort_by = l->sort_by,
                     .descending = l->descending,
                     .start_index = l->start_index,
                     .count = l->count};
    bool sub = scim_list_wants(l->attributes, l->excluded, k->urn, k->sub_attr);
    idp_err rc = k->query(a, &q, sub, all, &total, err);
    size_t i;
    json_t *full;
    json_array_foreach(all, i, full) {
        if (rc != IDP_OK) break;
        if ((rc = scim_project(k->rt, full, l->attributes, l->excluded, &proj, err)) == IDP_OK)
            json_array_append_new(res, proj);
    }
    json_decref(all);
    if (rc != IDP_OK) {
        json_decref(res);
        return rc;
    }
    json_t *body = scim_render_list_response(res, total, l->start_index);
    rc = scim_render_json(rs, body, err);
    json_decref(body);
    return rc;
}

idp_err scim_list_read_list(const scim_list_reader *k, struct app *a, const http_request *rq,
                       http_response *rs, idp_error *err)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    scim_list l = {0};
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_READ, actor, err);
    if (rc == IDP_OK) rc = scim_list_from_query(rq, k->rt, &l, err);
    if (rc == IDP_OK) rc = read_run(k, a, rs, &l, err);
    scim_list_clear(&l);
    return rc;
}

/* POST .search (RFC 7644 §3.4.3): a query, so the read scope suffices. */
idp_err scim_list_read_search(const scim_list_reader *k, struct app *a, const http_request *rq,
                         http_response *rs, idp_error *err)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    scim_list l = {0};
    json_t *body = NULL;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_READ, actor, err);
    if (rc == IDP_OK) rc = scim_gate_body_json(rq, (size_t)a->cfg->max_body, &body, err);
    if (rc == IDP_OK) rc = scim_list_from_search(body, k->rt, &l, err);
    if (rc == IDP_OK) rc = read_run(k, a, rs, &l, err);
    json_decref(body);
    scim_list_clear(&l);
    return rc;
}
