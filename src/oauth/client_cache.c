#include "oauth/client_cache.h"

#include "core/log.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_id(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

idp_err client_cache_split(const char *s, char **items, size_t max, size_t *n)
{
    *n = 0;
    if (!s) return IDP_OK;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        size_t l = strcspn(s, " ");
        if (*n == max) return IDP_ERR_INVALID;
        items[(*n)++] = xstrndup(s, l);
        s += l;
    }
    return IDP_OK;
}

static void entry_clear(client_entry *e)
{
    free(e->client_id);
    for (size_t i = 0; i < e->ngrants; i++) free(e->grants[i]);
    for (size_t i = 0; i < e->nscopes; i++) free(e->scopes[i]);
    for (size_t i = 0; i < e->naudiences; i++) free(e->audiences[i]);
    free(e->name);
    free(e->redirect_uris);
    free(e->post_logout_redirect_uris);
    free(e->backchannel_logout_uri);
    jwks_unref(e->jwks);
    mem_wipe(e, sizeof *e);
}

static void cache_destroy(snap_obj *o)
{
    client_cache *cc = (client_cache *)o;
    for (size_t i = 0; i < cc->n; i++) entry_clear(&cc->entries[i]);
    free(cc->entries);
    free(cc->slots);
    free(cc);
}

void client_cache_unref(client_cache *cc)
{
    if (cc) snap_unref(&cc->obj);
}

/* RFC 7517 §5: a registered key that is not usable is ignored and logged (the kid and the
 * reason only; public keys are no secret, but nothing else of the set is logged). */
static void report_skipped(void *ctx, size_t index, const char *kid, const char *reason)
{
    log_msg(LOG_WARN, "client %s: ignoring jwks member %zu (kid \"%.64s\"): %s", (const char *)ctx,
            index, kid, reason);
}

static idp_err entry_fill(client_entry *e, const store_client *r, idp_error *err)
{
    e->client_id = xstrdup(r->client_id);
    e->id_len = strlen(r->client_id);
    e->has_secret = r->has_secret;
    memcpy(e->secret_hash, r->secret_hash, sizeof e->secret_hash);
    e->token_ttl = r->token_ttl;
    if (client_cache_split(r->grant_types, e->grants, CLIENT_CACHE_MAX_ITEMS, &e->ngrants) ||
        client_cache_split(r->scope, e->scopes, CLIENT_CACHE_MAX_ITEMS, &e->nscopes) ||
        client_cache_split(r->audiences, e->audiences, CLIENT_CACHE_MAX_ITEMS, &e->naudiences))
        return IDP_FAIL(err, IDP_ERR_INVALID, "client %s: too many list items", r->client_id);
    e->name = xstrdup(r->name && r->name[0] ? r->name : r->client_id);
    e->is_public = r->is_public;
    const char *m = r->auth_method ? r->auth_method : "";
    if (r->is_public || strcmp(m, "none") == 0) {
        e->auth_method = CLIENT_AUTH_NONE;
        e->is_public = true;
    } else if (strcmp(m, "private_key_jwt") == 0) {
        e->auth_method = CLIENT_AUTH_PRIVATE_KEY_JWT;
    } else if (strcmp(m, "client_secret_post") == 0) {
        e->auth_method = CLIENT_AUTH_SECRET_POST;
    } else {
        e->auth_method = CLIENT_AUTH_SECRET_BASIC;
    }
    if (r->redirect_uris && r->redirect_uris[0]) e->redirect_uris = xstrdup(r->redirect_uris);
    if (r->post_logout_redirect_uris && r->post_logout_redirect_uris[0])
        e->post_logout_redirect_uris = xstrdup(r->post_logout_redirect_uris);
    if (r->backchannel_logout_uri && r->backchannel_logout_uri[0])
        e->backchannel_logout_uri = xstrdup(r->backchannel_logout_uri);
    if (r->jwks && r->jwks[0]) {
        idp_error je = {0};
        if (jwks_from_json_report(r->jwks, strlen(r->jwks), report_skipped, (void *)r->client_id,
                                  &e->jwks, &je) != IDP_OK)
            return IDP_FAIL(err, IDP_ERR_INVALID, "client %s: jwks: %s", r->client_id, je.msg);
    }
    if (e->auth_method == CLIENT_AUTH_PRIVATE_KEY_JWT && !e->jwks)
        return IDP_FAIL(err, IDP_ERR_INVALID, "client %s: private_key_jwt without jwks", r->client_id);
    if (!r->introspect || !r->introspect[0]) e->introspect = CLIENT_INTROSPECT_NONE;
    else if (strcmp(r->introspect, "audience") == 0) e->introspect = CLIENT_INTROSPECT_AUDIENCE;
    else if (strcmp(r->introspect, "any") == 0) e->introspect = CLIENT_INTROSPECT_ANY;
    else return IDP_FAIL(err, IDP_ERR_INVALID, "client %s: unknown introspect", r->client_id);
    if (r->token_alg && r->token_alg[0]) {
        e->alg = jws_alg_from_name(r->token_alg, strlen(r->token_alg));
        if (e->alg == JWS_ALG_INVALID)
            return IDP_FAIL(err, IDP_ERR_INVALID, "client %s: unknown token_alg", r->client_id);
    }
    return IDP_OK;
}

idp_err client_cache_build(const store_client *rows, size_t n, client_cache **out, idp_error *err)
{
    idp_err rc = IDP_OK;
    client_cache *cc = xcalloc(1, sizeof *cc);
    snap_obj_init(&cc->obj, cache_destroy);
    cc->entries = xcalloc(n ? n : 1, sizeof *cc->entries);
    cc->nslots = 8;
    while (cc->nslots < 2 * n) cc->nslots *= 2;
    cc->slots = xcalloc(cc->nslots, sizeof *cc->slots);
    for (size_t i = 0; i < n; i++) {
        client_entry *e = &cc->entries[cc->n++];
        if ((rc = entry_fill(e, &rows[i], err)) != IDP_OK) goto out;
        size_t k = (size_t)hash_id(e->client_id, e->id_len) & (cc->nslots - 1);
        while (cc->slots[k]) k = (k + 1) & (cc->nslots - 1);
        cc->slots[k] = i + 1;
    }
    *out = cc;
    cc = NULL;
out:
    client_cache_unref(cc);
    return rc;
}

const client_entry *client_cache_find(const client_cache *cc, const char *id, size_t len)
{
    if (!cc) return NULL;
    size_t k = (size_t)hash_id(id, len) & (cc->nslots - 1);
    for (; cc->slots[k]; k = (k + 1) & (cc->nslots - 1)) {
        const client_entry *e = &cc->entries[cc->slots[k] - 1];
        if (e->id_len == len && memcmp(e->client_id, id, len) == 0) return e;
    }
    return NULL;
}

bool client_entry_has_grant(const client_entry *ce, const char *grant)
{
    for (size_t i = 0; i < ce->ngrants; i++)
        if (strcmp(ce->grants[i], grant) == 0) return true;
    return false;
}

static bool is_audience(const client_entry *ce, const char *aud)
{
    for (size_t i = 0; i < ce->naudiences; i++)
        if (strcmp(ce->audiences[i], aud) == 0) return true;
    return false;
}

bool client_entry_may_introspect(const client_entry *caller, const char *client_id,
                                 const json_t *aud)
{
    if (client_id && strcmp(client_id, caller->client_id) == 0) return true;
    if (caller->introspect == CLIENT_INTROSPECT_ANY) return true;
    if (caller->introspect != CLIENT_INTROSPECT_AUDIENCE) return false;
    if (json_is_string(aud)) return is_audience(caller, json_string_value(aud));
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v) {
        if (json_is_string(v) && is_audience(caller, json_string_value(v))) return true;
    }
    return false;
}
