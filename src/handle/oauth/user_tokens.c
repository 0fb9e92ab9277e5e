#include "handle/oauth/user_tokens.h"
#include "proto/scope.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "jose/jws.h"
#include "proto/authz_request.h"
#include "proto/oidc.h"
#include "proto/resource.h"
#include "proto/token_claims.h"
#include "oauth/token_mint.h"
#include "oauth/policy_admin.h"
#include "oauth/token_policy.h"
#include "verify/denylist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

idp_err user_tokens_user_live(struct app *a, const char *user_id, int64_t epoch, store_user *u,
                              bool *live, idp_error *err)
{
    *live = false;
    memset(u, 0, sizeof *u);
    if (!user_id) return IDP_OK;
    idp_err rc = a->st->ops->user_get(a->st, user_id, u, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_OK;
    if (rc == IDP_OK) *live = u->active && u->token_epoch == epoch;
    return rc;
}

idp_err user_tokens_access_state(struct app *a, const http_request *rq, const json_t *claims,
                                 user_tokens_state *state, bool *is_user, int64_t *epoch,
                                 store_user *u, idp_error *err)
{
    memset(u, 0, sizeof *u);
    *is_user = false;
    *epoch = 0;
    *state = USER_TOKENS_CLIENT_GONE;
    const char *tcid = jsonx_str(claims, "client_id"), *jti = jsonx_str(claims, "jti");
    if (!tcid || !client_cache_find(rq->clients, tcid, strlen(tcid))) return IDP_OK;
    bool revoked = false;
    idp_err rc = store_jti_is_revoked(a->st, jti, &revoked, err);
    if (rc != IDP_OK) return rc;
    *state = USER_TOKENS_REVOKED;
    if (revoked) return IDP_OK;
    *state = USER_TOKENS_ACTIVE;
    if (!denylist_jti_epoch(jti, epoch)) return IDP_OK; /* a client's token: no user */
    *is_user = true;
    bool live = false;
    if ((rc = user_tokens_user_live(a, jsonx_str(claims, "sub"), *epoch, u, &live, err)) != IDP_OK)
        return rc;
    if (!live) *state = USER_TOKENS_USER_ENDED;
    return IDP_OK;
}

int user_tokens_id_alg(const struct app *a)
{
    if (scope_has(a->cfg->algs, "RS256")) return JWS_RS256;
    return token_mint_alg(a->cfg, JWS_ALG_INVALID);
}

static const json_t *primary(const json_t *doc, const char *attr)
{
    const json_t *arr = json_object_get(doc, attr), *first = NULL;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        if (!first) first = v;
        if (json_is_true(json_object_get(v, "primary"))) return v;
    }
    return first;
}

static void copy_str(json_t *claims, const char *claim, const json_t *obj, const char *key)
{
    const char *s = jsonx_str(obj, key);
    if (s && *s) json_object_set_new(claims, claim, json_string(s));
}

void user_tokens_claims(struct app *a, const store_user *u, const char *scope, json_t *claims)
{
    json_t *doc = NULL;
    if (jsonx_parse(u->doc, strlen(u->doc), 0, 0, true, &doc, NULL) != IDP_OK) doc = json_object();
    if (scope_has(scope, "profile")) {
        const json_t *name = json_object_get(doc, "name");
        copy_str(claims, "name", name, "formatted");
        if (!json_object_get(claims, "name")) copy_str(claims, "name", doc, "displayName");
        copy_str(claims, "given_name", name, "givenName");
        copy_str(claims, "family_name", name, "familyName");
        copy_str(claims, "middle_name", name, "middleName");
        copy_str(claims, "nickname", doc, "nickName");
        copy_str(claims, "profile", doc, "profileUrl");
        copy_str(claims, "locale", doc, "locale");
        copy_str(claims, "zoneinfo", doc, "timezone");
        json_object_set_new(claims, "preferred_username", json_string(u->user_name));
        json_object_set_new(claims, "updated_at", json_integer(u->modified_at / 1000));
    }
    if (scope_has(scope, "email")) {
        const json_t *e = primary(doc, "emails");
        /* SCIM says nothing about verification: email_verified is false, never assumed. */
        if (jsonx_str(e, "value")) {
            copy_str(claims, "email", e, "value");
            json_object_set_new(claims, "email_verified", json_false());
        }
    }
    if (scope_has(scope, "phone")) {
        const json_t *p = primary(doc, "phoneNumbers");
        if (jsonx_str(p, "value")) {
            copy_str(claims, "phone_number", p, "value");
            json_object_set_new(claims, "phone_number_verified", json_false());
        }
    }
    if (scope_has(scope, "groups")) {
        store_ref *g = NULL;
        size_t n = 0;
        json_t *arr = json_array();
        if (a->st->ops->user_groups(a->st, u->id, &g, &n, NULL) == IDP_OK)
            for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_string(g[i].display));
        store_ref_list_free(g, n);
        json_object_set_new(claims, "groups", arr);
    }
    json_decref(doc);
}

static idp_err id_token(struct app *a, const http_request *rq, const user_grant *g,
                        const char *scope, const char *custom, const char *access, int64_t now,
                        int64_t ttl, idp_buf *out, idp_error *err)
{
    jws_alg alg = (jws_alg)user_tokens_id_alg(a);
    char at_hash[64];
    idp_err rc = oidc_at_hash(jws_alg_name(alg), access, at_hash, err);
    if (rc != IDP_OK) return rc;
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "iss", a->cfg->issuer, "sub",
                          g->u->id, "aud", g->ce->client_id, "exp", (json_int_t)(now + ttl), "iat",
                          (json_int_t)now, "auth_time", (json_int_t)g->auth_time, "azp",
                          g->ce->client_id, "at_hash", at_hash);
    if (g->nonce) json_object_set_new(c, "nonce", json_string(g->nonce));
    if (g->sid) json_object_set_new(c, "sid", json_string(g->sid));
    /* acr: one class per way of signing in (OIDC Core §2): password, or upstream sign-in (amr
     * "ext", docs/FEDERATION.md); amr per RFC 8176 */
    bool ext = false;
    for (const char *p = g->amr ? g->amr : ""; *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n == 3 && !strncmp(p, "ext", 3)) ext = true;
        p += n;
    }
    json_object_set_new(c, "acr",
                        json_string(ext ? "urn:idpd:acr:federated" : "urn:idpd:acr:password"));
    json_t *amr = json_array();
    for (const char *p = g->amr ? g->amr : "pwd"; *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n) json_array_append_new(amr, json_stringn(p, n));
        p += n;
    }
    json_object_set_new(c, "amr", amr);
    user_tokens_claims(a, g->u, scope, c);
    if (custom && custom[0] == ',') { /* the policy's namespaced claims, as in the access token */
        size_t n = strlen(custom);
        char *o = xmalloc(n + 2);
        o[0] = '{';
        memcpy(o + 1, custom + 1, n - 1);
        o[n] = '}';
        o[n + 1] = '\0';
        json_t *x = json_loads(o, 0, NULL);
        if (x) json_object_update(c, x);
        json_decref(x);
        free(o);
    }
    char *payload = jsonx_dump(c);
    json_decref(c);
    if (!payload) return IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot serialize the ID token");
    rc = token_mint_sign(rq->keys, alg, "JWT", payload, strlen(payload), out, err);
    free(payload);
    return rc;
}

idp_err user_tokens_respond(struct app *a, const http_request *rq, const user_grant *g,
                            http_response *rs, char jti_out[USER_JTI_MAX], int64_t *exp_out,
                            idp_error *err)
{
    idp_buf at, idt, granted, custom;
    buf_init(&at, JWS_MAX_LEN);
    buf_init(&idt, JWS_MAX_LEN);
    buf_init(&granted, 8192);
    buf_init(&custom, JWS_MAX_LEN);
    char **groups = NULL;
    size_t ngroups = 0;
    const char *req[1] = {g->resource}, *aud[RESOURCE_MAX];
    size_t naud = 0;
    idp_err rc = resource_select(req, g->resource ? 1 : 0, g->ce->audiences, g->ce->naudiences,
                                 a->cfg->issuer, aud, &naud, err);
    if (rc != IDP_OK) goto out;
    /* the policy, evaluated now: the user's current groups and roles (DESIGN §7) */
    if (rq->policy) {
        if ((rc = policy_admin_groups(a->st, g->u->id, &groups, &ngroups, err)) != IDP_OK) goto out;
    }
    policy_subject subj = {.user_name = g->u->user_name, .groups = (const char *const *)groups,
                           .ngroups = ngroups};
    if ((rc = token_policy_apply(rq->policy, &subj, g->scope, aud, naud, a->cfg->issuer, &granted,
                                 &custom, err)) != IDP_OK)
        goto out;
    const char *scope = buf_cstr(&granted);
    int64_t ttl = token_mint_ttl(a->cfg, g->ce->token_ttl);
    int64_t now = time_now();
    char rnd[23];
    token_claims_new_jti(rnd);
    snprintf(jti_out, USER_JTI_MAX, "%s.%" PRId64, rnd, g->u->token_epoch);
    *exp_out = now + ttl;
    idp_buf extra;
    buf_init(&extra, JWS_MAX_LEN);
    buf_printf(&extra, ",\"auth_time\":%" PRId64 "%s", g->auth_time, buf_cstr(&custom));
    token_claims tc = {.iss = a->cfg->issuer, .sub = g->u->id, .aud = aud, .naud = naud,
                       .iat = now, .exp = now + ttl, .jti = jti_out, .client_id = g->ce->client_id,
                       .scope = scope, .extra = buf_cstr(&extra)};
    rc = token_mint_access(rq->keys, token_mint_alg(a->cfg, g->ce->alg), &tc, &at, err);
    buf_free(&extra);
    if (rc != IDP_OK) goto out;
    if (scope_has(scope, "openid") &&
        (rc = id_token(a, rq, g, scope, buf_cstr(&custom), buf_cstr(&at), now, ttl, &idt, err)) != IDP_OK)
        goto out;
    rs->content_type = "application/json";
    rs->no_store = true;
    token_mint_response r = {.access_token = buf_cstr(&at), .expires_in = ttl, .scope = scope,
                             .id_token = buf_cstr(&idt), .refresh_token = g->refresh};
    rc = token_mint_respond(&r, &rs->body, err);
out:
    buf_free(&at);
    buf_free(&idt);
    buf_free(&granted);
    buf_free(&custom);
    policy_admin_groups_free(groups, ngroups);
    return rc;
}
