/* The admin API under /admin/v1 (issue "permission management" item 6): a provisioning key with
 * the `admin` scope as Bearer token (RFC 6750 §2.1), rate-limited like SCIM keys. Errors are
 * OAuth-style JSON bodies ({"error", "error_description"}) with the status of the error table.
 *
 *   GET  /admin/v1/policy                 the active version {version, sha256, environment}
 *   GET  /admin/v1/policy/versions        history, newest first
 *   POST /admin/v1/policy                 body: the YAML document -> 201 {version, changed} or
 *                                         400 {"error":"invalid_policy", "errors":[{line,message}]}
 *   POST /admin/v1/policy/rollback        body {"version": N} -> 200 {version}
 *   GET  /admin/v1/policy/explain         ?user=U|client=C&scope=S[&resource=R] -> explain JSON
 *   GET  /admin/v1/clients                every client (never a secret or its hash)
 *   POST /admin/v1/clients                body: the registration as JSON (the options of
 *                                         `idpd client create`) -> 201 with client_secret once
 *   GET  /admin/v1/clients/{id}           one client
 *   DELETE /admin/v1/clients/{id}         204
 * Every change is audited with actor "pkey:<id>". */
#include "handle/endpoints.h"

#include "core/jsonx.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "core/mem.h"
#include "core/rand.h"
#include "proto/client_reg.h"
#include "creds/client_secret.h"
#include "creds/pkey.h"
#include "oauth/policy_admin.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_ACTOR_MAX 48

/* Authenticates the admin key; fills actor ("pkey:<id>"). */
static idp_err gate(struct app *a, const http_request *rq, http_response *rs, char actor[ADMIN_ACTOR_MAX],
                    idp_error *err)
{
    store_pkey k = {0};
    rs->no_store = true;
    idp_err rc = pkey_authenticate(a->st, a->scim_pepper, rq->authorization, PKEY_SCOPE_ADMIN,
                                   time_now(), &k, err);
    if (rc == IDP_ERR_UNAUTHORIZED) response_bearer_challenge(rs, "idpd-admin", NULL);
    if (rc != IDP_OK) return rc;
    snprintf(actor, ADMIN_ACTOR_MAX, "pkey:%s", k.id);
    int64_t retry = 0;
    if (!ratelimit_take(a->scim_rl, k.id, time_now_ms(), &retry)) {
        char ra[24];
        snprintf(ra, sizeof ra, "%lld", (long long)retry);
        response_header_set(rs, "Retry-After", ra);
        store_pkey_clear(&k);
        return IDP_FAIL(err, IDP_ERR_RATE_LIMITED, "too many requests for this key");
    }
    store_pkey_clear(&k);
    return IDP_OK;
}

static idp_err send_json(http_response *rs, int status, json_t *v, idp_error *err)
{
    char *s = jsonx_dump(v);
    json_decref(v);
    if (!s) return IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot serialize the response");
    buf_reset(&rs->body);
    int bad = buf_puts(&rs->body, s);
    free(s);
    if (bad) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "response too large");
    rs->status = status;
    rs->content_type = "application/json";
    return IDP_OK;
}

static json_t *version_json(const policy *p)
{
    if (!p) return json_pack("{s:I}", "version", (json_int_t)0);
    return json_pack("{s:I, s:s, s:s?}", "version", (json_int_t)policy_version(p), "sha256",
                     policy_sha256(p), "environment", policy_environment(p));
}

idp_err admin_policy_get(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    return send_json(rs, 200, version_json(rq->policy), err);
}

idp_err admin_policy_versions(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    store_policy *rows = NULL;
    size_t n = 0;
    int64_t active = 0;
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = a->st->ops->policy_list(a->st, &rows, &n, err)) != IDP_OK ||
        (rc = a->st->ops->policy_active(a->st, &active, err)) != IDP_OK) {
        store_policy_list_free(rows, n);
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:I, s:s, s:s?, s:b}", "version",
                                             (json_int_t)rows[i].version, "sha256", rows[i].sha256,
                                             "created_at", (json_int_t)rows[i].created_at,
                                             "activated_at", (json_int_t)rows[i].activated_at,
                                             "actor", rows[i].actor ? rows[i].actor : "",
                                             "comment", rows[i].comment, "active",
                                             rows[i].version == active));
    store_policy_list_free(rows, n);
    return send_json(rs, 200, json_pack("{s:o}", "versions", arr), err);
}

idp_err admin_policy_apply(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    const char *ct = rq->content_type ? rq->content_type : "";
    if (strncmp(ct, "application/yaml", 16) && strncmp(ct, "text/yaml", 9) &&
        strncmp(ct, "application/x-yaml", 18) && strncmp(ct, "text/plain", 10))
        return IDP_FAIL(err, IDP_ERR_HTTP_MEDIA_TYPE, "the body must be the YAML document (application/yaml)");
    policy_diags d = {0};
    int64_t v = 0;
    bool same = false;
    rc = policy_admin_apply(a->st, rq->body ? rq->body : "", rq->body_len, a->cfg->policy_env, actor,
                            request_query(rq, "comment"), &v, &same, &d, err);
    if (rc == IDP_ERR_CONFIG || rc == IDP_ERR_TOO_LARGE) {
        json_t *errs = json_array();
        for (size_t i = 0; i < d.n; i++)
            json_array_append_new(errs, json_pack("{s:i, s:s}", "line", d.items[i].line, "message",
                                                  d.items[i].msg));
        policy_diags_free(&d);
        /* the OAuth-style error body of the table's row, plus the diagnostics */
        return send_json(rs, idp_err_http_status(IDP_ERR_POLICY_INVALID),
                         json_pack("{s:s, s:s, s:o}", "error",
                                   idp_err_oauth(IDP_ERR_POLICY_INVALID), "error_description",
                                   err->msg, "errors", errs),
                         err);
    }
    policy_diags_free(&d);
    if (rc != IDP_OK) return rc;
    return send_json(rs, same ? 200 : 201, json_pack("{s:I, s:b}", "version", (json_int_t)v, "changed", !same), err);
}

idp_err admin_policy_rollback(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    json_t *body = NULL;
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    int64_t v = 0;
    if (!rq->body || jsonx_parse(rq->body, rq->body_len, 4096, 4, true, &body, NULL) != IDP_OK ||
        !jsonx_int(body, "version", &v) || v <= 0) {
        json_decref(body);
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "the body must be {\"version\": N}");
    }
    json_decref(body);
    rc = policy_admin_rollback(a->st, v, a->cfg->policy_env, actor, err);
    if (rc != IDP_OK) return rc;
    return send_json(rs, 200, json_pack("{s:I}", "version", (json_int_t)v), err);
}

idp_err admin_policy_explain(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    const char *user = request_query(rq, "user"), *client = request_query(rq, "client");
    const char *scope = request_query(rq, "scope"), *resource = request_query(rq, "resource");
    if (!scope || !user == !client)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "scope and one of user or client are required");
    if (!rq->policy) return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "no policy has been applied");
    store_user u = {0};
    char **groups = NULL;
    size_t ng = 0;
    policy_subject s = {.client_id = client};
    if (user) {
        rc = a->st->ops->user_get_by_name(a->st, user, &u, err);
        if (rc == IDP_ERR_NOT_FOUND) return IDP_FAIL(err, rc, "no such user");
        if (rc == IDP_OK) rc = policy_admin_groups(a->st, u.id, &groups, &ng, err);
        s = (policy_subject){.user_name = u.user_name, .groups = (const char *const *)groups, .ngroups = ng};
    }
    json_t *out = NULL;
    if (rc == IDP_OK) rc = policy_explain(rq->policy, &s, scope, resource, &out, err);
    if (rc == IDP_OK) rc = send_json(rs, 200, out, err);
    policy_admin_groups_free(groups, ng);
    store_user_clear(&u);
    return rc;
}

static json_t *client_json(const store_client *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:b, s:I}", "client_id", r->client_id,
                          "name", r->name ? r->name : "", "grant_types",
                          r->grant_types ? r->grant_types : "", "scope", r->scope ? r->scope : "",
                          "audiences", r->audiences, "auth_method",
                          r->auth_method ? r->auth_method : "client_secret_basic", "public",
                          r->is_public, "created_at", (json_int_t)r->created_at);
    if (r->redirect_uris) json_object_set_new(o, "redirect_uris", json_string(r->redirect_uris));
    json_object_set_new(o, "introspect", json_string(r->introspect ? r->introspect : "none"));
    return o;
}

idp_err admin_clients_list(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    store_client *rows = NULL;
    size_t n = 0;
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    if ((rc = store_client_list(a->st, &rows, &n, err)) != IDP_OK) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, client_json(&rows[i]));
    store_client_list_free(rows, n);
    return send_json(rs, 200, json_pack("{s:o}", "clients", arr), err);
}

idp_err admin_client_get(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    store_client c = {0};
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    rc = store_client_get(a->st, rq->param, &c, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_FAIL(err, rc, "no such client");
    if (rc == IDP_OK) rc = send_json(rs, 200, client_json(&c), err);
    store_client_clear(&c);
    return rc;
}

idp_err admin_client_delete(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    rc = store_client_delete(a->st, rq->param, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_FAIL(err, rc, "no such client");
    if (rc != IDP_OK) return rc;
    store_audit ev = {.time_ms = time_now_ms(), .actor = actor, .action = "client.delete",
                      .target_type = "Client", .target_id = (char *)rq->param};
    a->st->ops->audit_append(a->st, &ev, NULL);
    rs->status = 204;
    rs->content_type = NULL;
    return IDP_OK;
}

/* Strings of a JSON string or array of strings into out[0..max); false on a wrong type. */
static bool strings(const json_t *v, const char **out, size_t max, size_t *n)
{
    *n = 0;
    if (!v) return true;
    if (json_is_string(v)) {
        out[(*n)++] = json_string_value(v);
        return true;
    }
    if (!json_is_array(v) || json_array_size(v) > max) return false;
    size_t i;
    const json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_string(x)) return false;
        out[(*n)++] = json_string_value(x);
    }
    return true;
}

idp_err admin_client_create(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    char actor[ADMIN_ACTOR_MAX];
    json_t *body = NULL;
    store_client row = {0};
    char *secret = NULL, *jwks = NULL, *ttl = NULL, *grants = NULL;
    idp_err rc = gate(a, rq, rs, actor, err);
    if (rc != IDP_OK) return rc;
    if (!rq->body || jsonx_parse(rq->body, rq->body_len, 0, 16, true, &body, err) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "the body must be a JSON object");
    client_reg r = {.name = jsonx_str(body, "name"), .scope = jsonx_str(body, "scope"),
                    .token_alg = jsonx_str(body, "token_alg"),
                    .auth_method = jsonx_str(body, "auth_method"),
                    .backchannel = jsonx_str(body, "backchannel_logout_uri"),
                    .introspect = jsonx_str(body, "introspect"),
                    .is_public = json_is_true(json_object_get(body, "public"))};
    const char *g[8];
    size_t ng = 0;
    bool ok = strings(json_object_get(body, "grant_types"), g, 8, &ng) &&
              strings(json_object_get(body, "audiences"), r.aud, CLIENT_REG_MAX_AUDIENCES, &r.naud) &&
              strings(json_object_get(body, "redirect_uris"), r.redirect, CLIENT_REG_MAX_URIS, &r.nredirect) &&
              strings(json_object_get(body, "post_logout_redirect_uris"), r.post_logout,
                      CLIENT_REG_MAX_URIS, &r.npost_logout);
    if (!ok) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "list members must be strings or arrays of strings");
        goto out;
    }
    const json_t *intro = json_object_get(body, "introspect");
    if (intro && !json_is_string(intro)) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                      "introspect must be none, audience or any");
        goto out;
    }
    idp_buf gb;
    buf_init(&gb, 4096);
    for (size_t i = 0; i < ng; i++) {
        if (i) buf_putc(&gb, ' ');
        buf_puts(&gb, g[i]);
    }
    grants = buf_steal(&gb);
    buf_free(&gb);
    r.grant_types = ng ? grants : NULL;
    const json_t *jw = json_object_get(body, "jwks"), *tt = json_object_get(body, "token_ttl");
    if (jw) r.jwks = jwks = jsonx_dump(jw);
    if (json_is_integer(tt)) {
        ttl = xmalloc(24);
        snprintf(ttl, 24, "%lld", (long long)json_integer_value(tt));
        r.token_ttl = ttl;
    } else if (json_is_string(tt)) {
        r.token_ttl = json_string_value(tt);
    }
    idp_error ve = {0};
    if (client_reg_build(&r, a->cfg, &row, &ve) != IDP_OK) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "%s", ve.msg);
        goto out;
    }
    char *rnd = rand_token(16);
    size_t n = strlen(rnd) + 3;
    row.client_id = xmalloc(n);
    snprintf(row.client_id, n, "c_%s", rnd);
    free(rnd);
    row.created_at = row.secret_rotated_at = time_now();
    if (client_reg_has_secret(&row)) {
        secret = client_secret_generate();
        client_secret_hash(a->pepper, secret, strlen(secret), row.secret_hash);
        row.has_secret = true;
    }
    if ((rc = store_client_insert(a->st, &row, err)) != IDP_OK) goto out;
    store_audit ev = {.time_ms = time_now_ms(), .actor = actor, .action = "client.create",
                      .target_type = "Client", .target_id = row.client_id};
    a->st->ops->audit_append(a->st, &ev, NULL);
    json_t *o = client_json(&row);
    if (secret) json_object_set_new(o, "client_secret", json_string(secret));
    rc = send_json(rs, 201, o, err);
out:
    mem_free_secret(secret);
    mem_wipe(row.secret_hash, sizeof row.secret_hash);
    store_client_clear(&row);
    free(jwks);
    free(ttl);
    free(grants);
    json_decref(body);
    return rc;
}
