#include "http/router.h"

#include "oauth/endpoints.h"

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
};
const size_t router_nroutes = sizeof router_routes / sizeof router_routes[0];

static void allow_add(char *allow, size_t cap, const char *m)
{
    size_t l = strlen(allow);
    snprintf(allow + l, cap - l, "%s%s", l ? ", " : "", m);
}

idp_err router_match(const route *table, size_t n, const char *method, const char *path,
                     const route **out, char *allow, size_t allowcap, idp_error *err)
{
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    bool path_known = false;
    if (allowcap) allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i].path, path) != 0) continue;
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
