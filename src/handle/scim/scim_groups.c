/* scim_groups — /scim/v2/Groups (RFC 7644 §3.3-§3.6, RFC 7643 §4.2). Members are never written
 * through the group document: POST and PUT give a replace-all scim_delta, PATCH gives
 * the adds and removes of its operations (RFC 7644 §3.5.2), so one member added to a large group
 * touches one row. Only User members are supported; an unknown id is invalidValue (the store
 * checks, inside the transaction). Removing users from a group bumps their token_epoch (the
 * store, in the same write). GET with excludedAttributes=members does not load members. */
#include "handle/scim/scim_endpoints.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "creds/pkey.h"
#include "handle/scim/scim_internal.h"
#include "scim/patch.h"

#include <stdlib.h>
#include <string.h>

#define RT (&scim_rt_group)

static idp_err members_attr(struct app *a, const char *group_id, json_t *full, idp_error *err)
{
    store_ref *refs = NULL;
    size_t n = 0;
    idp_err rc = a->st->ops->group_members(a->st, group_id, &refs, &n, err);
    if (rc != IDP_OK) return rc;
    json_t *arr = scim_list_refs_json(a->scim_base, "/Users", refs, n, "User");
    if (arr) json_object_set_new(full, "members", arr);
    store_ref_list_free(refs, n);
    return IDP_OK;
}

static idp_err group_full(struct app *a, const store_group *g, bool with_members, json_t **out,
                          idp_error *err)
{
    json_t *doc = NULL;
    *out = NULL;
    if (jsonx_parse(g->doc, strlen(g->doc), 0, 0, true, &doc, NULL) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "stored group document is not a JSON object");
    char *loc = scim_render_location(a->scim_base, "/Groups", g->id);
    scim_render_set_meta(doc, g->id, "Group", loc, g->created_at, g->modified_at, g->version);
    free(loc);
    idp_err rc = with_members ? members_attr(a, g->id, doc, err) : IDP_OK;
    if (rc != IDP_OK) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return IDP_OK;
}

static idp_err group_render(struct app *a, const http_request *rq, http_response *rs, int status,
                            const store_group *g, idp_error *err)
{
    const char *attrs = request_query(rq, "attributes");
    const char *excl = request_query(rq, "excludedAttributes");
    json_t *full = NULL;
    idp_err rc =
        group_full(a, g, scim_list_wants(attrs, excl, SCIM_URN_GROUP, "members"), &full, err);
    if (rc == IDP_OK) rc = scim_render_resource(rs, status, RT, full, attrs, excl, g->version, err);
    json_decref(full);
    if (rc == IDP_OK && status == 201) {
        char *loc = scim_render_location(a->scim_base, "/Groups", g->id);
        response_header_set(rs, "Location", loc);
        free(loc);
    }
    return rc;
}

static idp_err columns_from_doc(const json_t *doc, store_group *g, idp_error *err)
{
    const char *name = jsonx_str(doc, "displayName");
    if (!name || !*name)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "displayName is required");
    g->display_name = (char *)name;
    g->external_id = (char *)jsonx_str(doc, "externalId");
    return IDP_OK;
}

static idp_err group_load(struct app *a, const char *id, store_group *out, idp_error *err)
{
    idp_err rc = a->st->ops->group_get(a->st, id, out, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_FAIL(err, rc, "no such Group");
    return rc;
}

static bool delta_empty(const scim_delta *d)
{
    return !d->replace_all && d->nadd == 0 && d->nremove == 0;
}

static idp_err reader_get(struct app *a, const char *id, bool want_sub, json_t **full,
                         int64_t *version, idp_error *err)
{
    store_group g = {0};
    idp_err rc = group_load(a, id, &g, err);
    if (rc == IDP_OK) rc = group_full(a, &g, want_sub, full, err);
    *version = g.version;
    store_group_clear(&g);
    return rc;
}

static idp_err reader_query(struct app *a, const store_query *q, bool want_sub, json_t *res,
                           int64_t *total, idp_error *err)
{
    store_group *rows = NULL;
    size_t n = 0;
    json_t *full = NULL;
    idp_err rc = a->st->ops->group_query(a->st, q, &rows, &n, total, err);
    for (size_t i = 0; rc == IDP_OK && i < n; i++)
        if ((rc = group_full(a, &rows[i], want_sub, &full, err)) == IDP_OK) json_array_append_new(res, full);
    store_group_list_free(rows, n);
    return rc;
}

static const scim_list_reader reader = {.rt = RT, .urn = SCIM_URN_GROUP, .sub_attr = "members",
                                   .get = reader_get, .query = reader_query};

SCIM_HANDLER(scim_groups_get) { return scim_list_read_get(&reader, a, rq, rs, err); }
SCIM_HANDLER(scim_groups_list) { return scim_list_read_list(&reader, a, rq, rs, err); }
SCIM_HANDLER(scim_groups_search) { return scim_list_read_search(&reader, a, rq, rs, err); }

/* Audit detail for a group write: changed attributes, plus "members" when the delta does
 * anything. */
static json_t *group_changed(const json_t *before, const json_t *after, const scim_delta *d)
{
    json_t *c = scim_write_changed(before, after, false);
    if (!delta_empty(d)) json_array_append_new(c, json_string("members"));
    return c;
}

SCIM_HANDLER(scim_groups_create)
{
    char actor[SCIM_GATE_ACTOR_MAX], id[37];
    json_t *body = NULL, *doc = NULL;
    char *text = NULL;
    store_group g = {0}, cur = {0};
    scim_delta md = {0};
    bool tx = false;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_WRITE, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = scim_gate_body_json(rq, (size_t)a->cfg->max_body, &body, err)) != IDP_OK) goto out;
    if ((rc = scim_resource_normalize(RT, body, &doc, &md, err)) != IDP_OK) goto out;
    if ((rc = columns_from_doc(doc, &g, err)) != IDP_OK) goto out;
    rand_uuid(id);
    text = jsonx_dump(doc);
    g.id = id;
    g.doc = text;
    g.version = 1;
    g.created_at = g.modified_at = time_now_ms();
    if ((rc = store_tx_begin(a->st, err)) != IDP_OK) goto out;
    tx = true;
    if ((rc = a->st->ops->group_create(a->st, &g, &md, err)) != IDP_OK) goto out;
    if ((rc = a->st->ops->group_get(a->st, id, &cur, err)) != IDP_OK) goto out;
    if ((rc = scim_write_audit(a->st, actor, "group.create", "Group", id, 0, cur.version,
                         group_changed(NULL, doc, &md), err)) != IDP_OK)
        goto out;
    if ((rc = store_tx_commit(a->st, err)) != IDP_OK) goto out;
    tx = false;
    rc = group_render(a, rq, rs, 201, &cur, err);
out:
    if (tx) store_tx_rollback(a->st);
    if (rc == IDP_ERR_CONFLICT) IDP_FAIL(err, rc, "displayName is already taken");
    json_decref(body);
    json_decref(doc);
    free(text);
    scim_delta_clear(&md);
    store_group_clear(&cur);
    return rc;
}

/* The shared tail of PUT and PATCH inside the transaction: writes doc and the member delta over
 * cur, audits, reloads into cur. */
static idp_err group_write(struct app *a, const char *actor, const char *action, store_group *cur,
                           const json_t *doc, const scim_delta *md, idp_error *err)
{
    store_group g = {0};
    json_t *before = NULL, *changed = NULL;
    char *text = NULL, *id = NULL;
    idp_err rc = columns_from_doc(doc, &g, err);
    if (rc != IDP_OK) return rc;
    if (jsonx_parse(cur->doc, strlen(cur->doc), 0, 0, true, &before, NULL) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "stored group document is not a JSON object");
    text = jsonx_dump(doc);
    id = xstrdup(cur->id);
    g.id = id;
    g.doc = text;
    g.version = cur->version + 1;
    g.created_at = cur->created_at;
    g.modified_at = time_now_ms();
    int64_t before_version = cur->version;
    if ((rc = a->st->ops->group_replace(a->st, &g, md, cur->version, err)) != IDP_OK) goto out;
    changed = group_changed(before, doc, md);
    store_group_clear(cur);
    if ((rc = a->st->ops->group_get(a->st, id, cur, err)) != IDP_OK) goto out;
    rc = scim_write_audit(a->st, actor, action, "Group", id, before_version, cur->version, changed, err);
    changed = NULL;
out:
    json_decref(changed);
    json_decref(before);
    free(text);
    free(id);
    return rc;
}

SCIM_HANDLER(scim_groups_replace)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    json_t *body = NULL, *doc = NULL;
    store_group cur = {0};
    scim_delta md = {0};
    bool tx = false;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_WRITE, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = scim_gate_body_json(rq, (size_t)a->cfg->max_body, &body, err)) != IDP_OK) goto out;
    if ((rc = scim_resource_normalize(RT, body, &doc, &md, err)) != IDP_OK) goto out;
    md.replace_all =
        true; /* PUT replaces the member list, also with no "members" (RFC 7644 §3.5.1) */
    if ((rc = store_tx_begin(a->st, err)) != IDP_OK) goto out;
    tx = true;
    if ((rc = group_load(a, rq->param, &cur, err)) != IDP_OK) goto out;
    if ((rc = scim_render_check_if_match(rq, cur.version, err)) != IDP_OK) goto out;
    if ((rc = group_write(a, actor, "group.replace", &cur, doc, &md, err)) != IDP_OK) goto out;
    if ((rc = store_tx_commit(a->st, err)) != IDP_OK) goto out;
    tx = false;
    rc = group_render(a, rq, rs, 200, &cur, err);
out:
    if (tx) store_tx_rollback(a->st);
    if (rc == IDP_ERR_CONFLICT) IDP_FAIL(err, rc, "displayName is already taken");
    json_decref(body);
    json_decref(doc);
    scim_delta_clear(&md);
    store_group_clear(&cur);
    return rc;
}

SCIM_HANDLER(scim_groups_patch)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    json_t *body = NULL, *doc = NULL;
    store_group cur = {0};
    scim_delta md = {0};
    bool tx = false;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_WRITE, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = scim_gate_body_json(rq, (size_t)a->cfg->max_body, &body, err)) != IDP_OK) goto out;
    if ((rc = store_tx_begin(a->st, err)) != IDP_OK) goto out;
    tx = true;
    if ((rc = group_load(a, rq->param, &cur, err)) != IDP_OK) goto out;
    if ((rc = scim_render_check_if_match(rq, cur.version, err)) != IDP_OK) goto out;
    if (jsonx_parse(cur.doc, strlen(cur.doc), 0, 0, true, &doc, NULL) != IDP_OK) {
        rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "stored group document is not a JSON object");
        goto out;
    }
    if ((rc = scim_patch_apply(RT, doc, body, &md, err)) != IDP_OK) goto out;
    if ((rc = group_write(a, actor, "group.patch", &cur, doc, &md, err)) != IDP_OK) goto out;
    if ((rc = store_tx_commit(a->st, err)) != IDP_OK) goto out;
    tx = false;
    rc = group_render(a, rq, rs, 200, &cur, err);
    /* RFC 7644 §3.5.2: 200 with the resource, or 204; 200 is required only when "attributes" is
     * given. A big group (thousands of members, as Entra and Okta patch them one member at a
     * time) is answered 204 rather than with megabytes of members nobody reads. */
    if (!request_query(rq, "attributes") && !request_query(rq, "excludedAttributes") &&
        (rc == IDP_ERR_TOO_LARGE || (rc == IDP_OK && rs->body.len > SCIM_PATCH_BODY_MAX))) {
        if (rc == IDP_ERR_TOO_LARGE) { /* the ETag was not set */
            char etag[SCIM_RENDER_ETAG_MAX];
            scim_render_etag(cur.version, etag);
            response_header_set(rs, "ETag", etag);
        }
        buf_reset(&rs->body);
        rs->status = 204;
        rs->content_type = NULL;
        rc = IDP_OK;
    }
out:
    if (tx) store_tx_rollback(a->st);
    if (rc == IDP_ERR_CONFLICT) IDP_FAIL(err, rc, "displayName is already taken");
    json_decref(body);
    json_decref(doc);
    scim_delta_clear(&md);
    store_group_clear(&cur);
    return rc;
}

SCIM_HANDLER(scim_groups_delete)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    store_group cur = {0};
    bool tx = false;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_WRITE, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = store_tx_begin(a->st, err)) != IDP_OK) goto out;
    tx = true;
    if ((rc = group_load(a, rq->param, &cur, err)) != IDP_OK) goto out;
    if ((rc = scim_render_check_if_match(rq, cur.version, err)) != IDP_OK) goto out;
    if ((rc = a->st->ops->group_delete(a->st, cur.id, cur.version, err)) != IDP_OK) goto out;
    if ((rc = scim_write_audit(a->st, actor, "group.delete", "Group", cur.id, cur.version, 0, NULL,
                         err)) != IDP_OK)
        goto out;
    if ((rc = store_tx_commit(a->st, err)) != IDP_OK) goto out;
    tx = false;
    rs->status = 204;
    rs->content_type = NULL;
out:
    if (tx) store_tx_rollback(a->st);
    store_group_clear(&cur);
    return rc;
}
