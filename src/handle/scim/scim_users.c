/* scim_users — /scim/v2/Users (RFC 7644 §3.3 create, §3.4 retrieve and list, §3.5.1 replace,
 * §3.5.2 modify, §3.6 delete). Every write is one store transaction holding the change and its
 * audit event. The password is write-only: hashed with Argon2id, never returned, logged or
 * audited (only its name in "changed"). Deactivation (active true -> false, also Entra's
 * "False") bumps token_epoch in the same write, so tokens issued before it are dead; so does a
 * new password. */
#include "handle/scim/scim_endpoints.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "creds/pkey.h"
#include "handle/scim/scim_internal.h"
#include "scim/patch.h"
#include "scim/username.h"

#include <stdlib.h>
#include <string.h>

#define RT (&scim_rt_user)

/* The readOnly "groups" attribute (RFC 7643 §4.1.2) from the memberships. */
static idp_err groups_attr(struct app *a, const char *user_id, json_t *full, idp_error *err)
{
    store_ref *refs = NULL;
    size_t n = 0;
    idp_err rc = a->st->ops->user_groups(a->st, user_id, &refs, &n, err);
    if (rc != IDP_OK) return rc;
    json_t *arr = scim_list_refs_json(a->scim_base, "/Groups", refs, n, "direct");
    if (arr) json_object_set_new(full, "groups", arr);
    store_ref_list_free(refs, n);
    return IDP_OK;
}

/* Full representation of a stored user: its document, id, meta and (when wanted) groups. */
static idp_err user_full(struct app *a, const store_user *u, bool with_groups, json_t **out,
                         idp_error *err)
{
    json_t *doc = NULL;
    *out = NULL;
    if (jsonx_parse(u->doc, strlen(u->doc), 0, 0, true, &doc, NULL) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "stored user document is not a JSON object");
    json_object_set_new(doc, "active", json_boolean(u->active));
    char *loc = scim_render_location(a->scim_base, "/Users", u->id);
    scim_render_set_meta(doc, u->id, "User", loc, u->created_at, u->modified_at, u->version);
    free(loc);
    idp_err rc = with_groups ? groups_attr(a, u->id, doc, err) : IDP_OK;
    if (rc != IDP_OK) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return IDP_OK;
}

/* Renders u (status 200 or 201) projected by the query's attributes / excludedAttributes. */
static idp_err user_render(struct app *a, const http_request *rq, http_response *rs, int status,
                           const store_user *u, idp_error *err)
{
    const char *attrs = request_query(rq, "attributes");
    const char *excl = request_query(rq, "excludedAttributes");
    json_t *full = NULL;
    idp_err rc = user_full(a, u, scim_list_wants(attrs, excl, SCIM_URN_USER, "groups"), &full, err);
    if (rc == IDP_OK) rc = scim_render_resource(rs, status, RT, full, attrs, excl, u->version, err);
    json_decref(full);
    if (rc == IDP_OK && status == 201) {
        char *loc = scim_render_location(a->scim_base, "/Users", u->id);
        response_header_set(rs, "Location", loc);
        free(loc);
    }
    return rc;
}

/* Fills the indexed columns of u from a normalised document (userName required; active
 * defaults to true and is written back to the document as a JSON boolean). */
static idp_err columns_from_doc(json_t *doc, store_user *u, idp_error *err)
{
    const char *name = jsonx_str(doc, "userName");
    if (!name || !*name) return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "userName is required");
    idp_error ne = {0};
    if (username_check(name, &ne) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "%s", ne.msg);
    u->user_name = (char *)name;
    u->external_id = (char *)jsonx_str(doc, "externalId");
    u->active = scim_write_doc_bool(doc, "active", true);
    json_object_set_new(doc, "active", json_boolean(u->active));
    return IDP_OK;
}

static idp_err user_load(struct app *a, const char *id, store_user *out, idp_error *err)
{
    idp_err rc = a->st->ops->user_get(a->st, id, out, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_FAIL(err, rc, "no such User");
    return rc;
}

static idp_err reader_get(struct app *a, const char *id, bool want_sub, json_t **full,
                         int64_t *version, idp_error *err)
{
    store_user u = {0};
    idp_err rc = user_load(a, id, &u, err);
    if (rc == IDP_OK) rc = user_full(a, &u, want_sub, full, err);
    *version = u.version;
    store_user_clear(&u);
    return rc;
}

static idp_err reader_query(struct app *a, const store_query *q, bool want_sub, json_t *res,
                           int64_t *total, idp_error *err)
{
    store_user *rows = NULL;
    size_t n = 0;
    json_t *full = NULL;
    idp_err rc = a->st->ops->user_query(a->st, q, &rows, &n, total, err);
    for (size_t i = 0; rc == IDP_OK && i < n; i++)
        if ((rc = user_full(a, &rows[i], want_sub, &full, err)) == IDP_OK) json_array_append_new(res, full);
    store_user_list_free(rows, n);
    return rc;
}

static const scim_list_reader reader = {.rt = RT, .urn = SCIM_URN_USER, .sub_attr = "groups",
                                   .get = reader_get, .query = reader_query};

SCIM_HANDLER(scim_users_get) { return scim_list_read_get(&reader, a, rq, rs, err); }
SCIM_HANDLER(scim_users_list) { return scim_list_read_list(&reader, a, rq, rs, err); }
SCIM_HANDLER(scim_users_search) { return scim_list_read_search(&reader, a, rq, rs, err); }

SCIM_HANDLER(scim_users_create)
{
    char actor[SCIM_GATE_ACTOR_MAX], id[37];
    json_t *body = NULL, *doc = NULL;
    char *hash = NULL, *text = NULL;
    store_user u = {0}, cur = {0};
    bool tx = false;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_WRITE, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = scim_gate_body_json(rq, (size_t)a->cfg->max_body, &body, err)) != IDP_OK) goto out;
    if ((rc = scim_resource_normalize(RT, body, &doc, NULL, err)) != IDP_OK) goto out;
    if ((rc = scim_write_password_take(doc, &a->pw_params, &hash, err)) != IDP_OK) goto out;
    if ((rc = columns_from_doc(doc, &u, err)) != IDP_OK) goto out;
    rand_uuid(id);
    text = jsonx_dump(doc);
    int64_t now = time_now_ms();
    u.id = id;
    u.doc = text;
    u.password_hash = hash;
    u.version = 1;
    u.created_at = u.modified_at = now;
    if ((rc = store_tx_begin(a->st, err)) != IDP_OK) goto out;
    tx = true;
    if ((rc = a->st->ops->user_create(a->st, &u, err)) != IDP_OK) goto out;
    if ((rc = a->st->ops->user_get(a->st, id, &cur, err)) != IDP_OK) goto out;
    if ((rc = scim_write_audit(a->st, actor, "user.create", "User", id, 0, cur.version,
                         scim_write_changed(NULL, doc, hash != NULL), err)) != IDP_OK)
        goto out;
    if ((rc = store_tx_commit(a->st, err)) != IDP_OK) goto out;
    tx = false;
    rc = user_render(a, rq, rs, 201, &cur, err);
out:
    if (tx) store_tx_rollback(a->st);
    if (rc == IDP_ERR_CONFLICT) IDP_FAIL(err, rc, "userName is already taken");
    scim_write_password_wipe(body);
    json_decref(body);
    json_decref(doc);
    free(text);
    mem_free_secret(hash);
    store_user_clear(&cur);
    return rc;
}

/* The shared tail of PUT and PATCH, inside the transaction: writes doc over cur (keeping the
 * password hash unless a new one is given; the store bumps token_epoch on deactivation and on a
 * new password), audits, commits, reloads into cur. */
static idp_err user_write(struct app *a, const char *actor, const char *action, store_user *cur,
                          json_t *doc, const char *hash, idp_error *err)
{
    store_user u = {0};
    json_t *before = NULL, *changed = NULL;
    char *text = NULL, *id = NULL;
    idp_err rc = columns_from_doc(doc, &u, err);
    if (rc != IDP_OK) return rc;
    if (jsonx_parse(cur->doc, strlen(cur->doc), 0, 0, true, &before, NULL) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "stored user document is not a JSON object");
    json_object_set_new(before, "active", json_boolean(cur->active));
    text = jsonx_dump(doc);
    id = xstrdup(cur->id);
    u.id = id;
    u.doc = text;
    u.password_hash = (char *)(hash ? hash : cur->password_hash);
    /* DESIGN §5 revocation reach: deactivating and a new password (docs/SECURITY.md) kill every
     * token issued before; the store bumps token_epoch for both (store_user_epoch_next). */
    u.token_epoch = cur->token_epoch;
    u.version = cur->version + 1;
    u.created_at = cur->created_at;
    u.modified_at = time_now_ms();
    int64_t before_version = cur->version;
    if ((rc = a->st->ops->user_replace(a->st, &u, cur->version, err)) != IDP_OK) goto out;
    changed = scim_write_changed(before, doc, hash != NULL);
    store_user_clear(cur);
    if ((rc = a->st->ops->user_get(a->st, id, cur, err)) != IDP_OK) goto out;
    rc = scim_write_audit(a->st, actor, action, "User", id, before_version, cur->version, changed, err);
    changed = NULL;
out:
    json_decref(changed);
    json_decref(before);
    free(text);
    free(id);
    return rc;
}

SCIM_HANDLER(scim_users_replace)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    json_t *body = NULL, *doc = NULL;
    char *hash = NULL;
    store_user cur = {0};
    bool tx = false;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_WRITE, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = scim_gate_body_json(rq, (size_t)a->cfg->max_body, &body, err)) != IDP_OK) goto out;
    if ((rc = scim_resource_normalize(RT, body, &doc, NULL, err)) != IDP_OK) goto out;
    if ((rc = scim_write_password_take(doc, &a->pw_params, &hash, err)) != IDP_OK) goto out; /* before the lock */
    if ((rc = store_tx_begin(a->st, err)) != IDP_OK) goto out;
    tx = true;
    if ((rc = user_load(a, rq->param, &cur, err)) != IDP_OK) goto out;
    if ((rc = scim_render_check_if_match(rq, cur.version, err)) != IDP_OK) goto out;
    if ((rc = user_write(a, actor, "user.replace", &cur, doc, hash, err)) != IDP_OK) goto out;
    if ((rc = store_tx_commit(a->st, err)) != IDP_OK) goto out;
    tx = false;
    rc = user_render(a, rq, rs, 200, &cur, err);
out:
    if (tx) store_tx_rollback(a->st);
    if (rc == IDP_ERR_CONFLICT) IDP_FAIL(err, rc, "userName is already taken");
    scim_write_password_wipe(body);
    json_decref(body);
    json_decref(doc);
    mem_free_secret(hash);
    store_user_clear(&cur);
    return rc;
}

SCIM_HANDLER(scim_users_patch)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    json_t *body = NULL, *doc = NULL;
    char *hash = NULL;
    store_user cur = {0};
    scim_delta md = {0};
    bool tx = false;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_WRITE, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = scim_gate_body_json(rq, (size_t)a->cfg->max_body, &body, err)) != IDP_OK) goto out;
    if ((rc = store_tx_begin(a->st, err)) != IDP_OK) goto out;
    tx = true;
    if ((rc = user_load(a, rq->param, &cur, err)) != IDP_OK) goto out;
    if ((rc = scim_render_check_if_match(rq, cur.version, err)) != IDP_OK) goto out;
    if (jsonx_parse(cur.doc, strlen(cur.doc), 0, 0, true, &doc, NULL) != IDP_OK) {
        rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "stored user document is not a JSON object");
        goto out;
    }
    json_object_set_new(doc, "active", json_boolean(cur.active));
    if ((rc = scim_patch_apply(RT, doc, body, &md, err)) != IDP_OK) goto out;
    if ((rc = scim_write_password_take(doc, &a->pw_params, &hash, err)) != IDP_OK) goto out;
    if ((rc = user_write(a, actor, "user.patch", &cur, doc, hash, err)) != IDP_OK) goto out;
    if ((rc = store_tx_commit(a->st, err)) != IDP_OK) goto out;
    tx = false;
    rc = user_render(a, rq, rs, 200, &cur, err);
out:
    if (tx) store_tx_rollback(a->st);
    if (rc == IDP_ERR_CONFLICT) IDP_FAIL(err, rc, "userName is already taken");
    scim_write_password_wipe(body);
    json_decref(body);
    json_decref(doc);
    mem_free_secret(hash);
    scim_delta_clear(&md);
    store_user_clear(&cur);
    return rc;
}

SCIM_HANDLER(scim_users_delete)
{
    char actor[SCIM_GATE_ACTOR_MAX];
    store_user cur = {0};
    bool tx = false;
    idp_err rc = scim_gate(a, rq, rs, PKEY_SCOPE_SCIM_WRITE, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = store_tx_begin(a->st, err)) != IDP_OK) goto out;
    tx = true;
    if ((rc = user_load(a, rq->param, &cur, err)) != IDP_OK) goto out;
    if ((rc = scim_render_check_if_match(rq, cur.version, err)) != IDP_OK) goto out;
    /* the store removes the memberships in the same statement set */
    if ((rc = a->st->ops->user_delete(a->st, cur.id, cur.version, err)) != IDP_OK) goto out;
    if ((rc = scim_write_audit(a->st, actor, "user.delete", "User", cur.id, cur.version, 0, NULL, err)) !=
        IDP_OK)
        goto out;
    if ((rc = store_tx_commit(a->st, err)) != IDP_OK) goto out;
    tx = false;
    rs->status = 204;
    rs->content_type = NULL;
out:
    if (tx) store_tx_rollback(a->st);
    store_user_clear(&cur);
    return rc;
}
