#include "server/router.h"

#include "handle/endpoints.h"
#include "handle/scim/scim_endpoints.h"
#include "handle/ssf/ssf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const route router_routes[] = {
    {"GET", "/.well-known/openid-configuration", discovery_handle},
    {"GET", "/.well-known/oauth-authorization-server", discovery_handle},
    {"GET", "/jwks.json", jwks_handle},
    {"POST", "/token", token_handle},
    {"POST", "/introspect", introspect_handle},
    {"POST", "/revoke", revoke_handle},
    {"GET", "/healthz", health_handle},
    {"GET", "/readyz", ready_handle},
    {"GET", "/metrics", metrics_handle},
    {"GET", "/admin/v1/policy", admin_policy_get},
    {"POST", "/admin/v1/policy", admin_policy_apply},
    {"GET", "/admin/v1/policy/versions", admin_policy_versions},
    {"POST", "/admin/v1/policy/rollback", admin_policy_rollback},
    {"GET", "/admin/v1/policy/explain", admin_policy_explain},
    {"GET", "/admin/v1/clients", admin_clients_list},
    {"POST", "/admin/v1/clients", admin_client_create},
    {"GET", "/admin/v1/clients/{id}", admin_client_get},
    {"DELETE", "/admin/v1/clients/{id}", admin_client_delete},
    {"GET", "/authorize", authorize_handle},
    {"POST", "/authorize", authorize_handle},
    {"POST", "/login", login_handle},
    {"POST", "/consent", consent_handle},
    {"GET", "/federation/{name}/start", federation_start_handle},
    {"GET", "/federation/{name}/callback", federation_callback_handle},
    {"GET", "/userinfo", userinfo_handle},
    {"POST", "/userinfo", userinfo_handle},
    {"GET", "/logout", logout_handle},
    {"POST", "/logout", logout_handle},
    {"GET", "/assets/idpd.css", assets_css_handle},
    /* the revocation feed (RFC 8936 poll of RFC 8417 SETs; docs/REVOCATION_FEED.md) */
    {"POST", "/ssf/poll", ssf_poll_handle},
    /* a reverse proxy's access decision from the policy's routes: (docs/FORWARD_AUTH.md) */
    {"GET", "/forward-auth", forward_auth_handle},
    /* Envoy's HTTP ext_authz sends the check with the original request's method (the original
     * request is read from X-Forwarded-* / X-Original-* whatever the method; docs/FORWARD_AUTH.md) */
    {"POST", "/forward-auth", forward_auth_handle},
    {"PUT", "/forward-auth", forward_auth_handle},
    {"PATCH", "/forward-auth", forward_auth_handle},
    {"DELETE", "/forward-auth", forward_auth_handle},
    {"OPTIONS", "/forward-auth", forward_auth_handle},
    /* SCIM 2.0 (RFC 7644 §3.2): base ISSUER/scim/v2 */
    {"GET", "/scim/v2/Users", scim_users_list},
    {"POST", "/scim/v2/Users", scim_users_create},
    {"POST", "/scim/v2/Users/.search", scim_users_search},
    {"GET", "/scim/v2/Users/{id}", scim_users_get},
    {"PUT", "/scim/v2/Users/{id}", scim_users_replace},
    {"PATCH", "/scim/v2/Users/{id}", scim_users_patch},
    {"DELETE", "/scim/v2/Users/{id}", scim_users_delete},
    {"GET", "/scim/v2/Groups", scim_groups_list},
    {"POST", "/scim/v2/Groups", scim_groups_create},
    {"POST", "/scim/v2/Groups/.search", scim_groups_search},
    {"GET", "/scim/v2/Groups/{id}", scim_groups_get},
    {"PUT", "/scim/v2/Groups/{id}", scim_groups_replace},
    {"PATCH", "/scim/v2/Groups/{id}", scim_groups_patch},
    {"DELETE", "/scim/v2/Groups/{id}", scim_groups_delete},
    {"GET", "/scim/v2/ServiceProviderConfig", scim_discovery_spc},
    {"GET", "/scim/v2/Schemas", scim_discovery_schemas},
    {"GET", "/scim/v2/Schemas/{urn}", scim_discovery_schema},
    {"GET", "/scim/v2/ResourceTypes", scim_discovery_resource_types},
    {"GET", "/scim/v2/ResourceTypes/{name}", scim_discovery_resource_type},
};
const size_t router_nroutes = sizeof router_routes / sizeof router_routes[0];

static void allow_add(char *allow, size_t cap, const char *m)
{
    size_t l = strlen(allow);
    snprintf(allow + l, cap - l, "%s%s", l ? ", " : "", m);
}

/* Matches path against pattern; a "{...}" segment matches one non-empty segment, whose
 * position in path is returned through seg/seglen when non-NULL. */
static bool path_match(const char *pattern, const char *path, const char **seg, size_t *seglen)
{
    const char *p = pattern, *s = path;
    for (;;) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            if (!pe) return false;
            size_t n = strcspn(s, "/");
            if (n == 0) return false;
            if (seg) *seg = s;
            if (seglen) *seglen = n;
            p = pe + 1;
            s += n;
            continue;
        }
        if (*p != *s) return false;
        if (*p == '\0') return true;
        p++;
        s++;
    }
}

bool router_param(const route *r, const char *path, char *out, size_t cap)
{
    const char *seg = NULL;
    size_t n = 0;
    if (cap) out[0] = '\0';
    if (!strchr(r->path, '{') || !path_match(r->path, path, &seg, &n) || n >= cap) return false;
    memcpy(out, seg, n);
    out[n] = '\0';
    return true;
}

idp_err router_match(const route *table, size_t n, const char *method, const char *path,
                     const route **out, char *allow, size_t allowcap, idp_error *err)
{
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    bool path_known = false;
    if (allowcap) allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!path_match(table[i].path, path, NULL, NULL)) continue;
        if (strcmp(table[i].method, m) == 0) {
            *out = &table[i];
            return IDP_OK;
        }
        path_known = true;
        if (allowcap) {
            allow_add(allow, allowcap, table[i].method);
            if (strcmp(table[i].method, "GET") == 0) allow_add(allow, allowcap, "HEAD");
        }
    }
    *out = NULL;
    if (path_known) return IDP_FAIL(err, IDP_ERR_HTTP_METHOD, "method not allowed");
    return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "no such endpoint");
}
