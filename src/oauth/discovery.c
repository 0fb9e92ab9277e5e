/* GET /.well-known/openid-configuration and /.well-known/oauth-authorization-server (RFC 8414
 * §2, OIDC Discovery §3): advertises only what works. Prebuilt once at start. */
#include "oauth/endpoints.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "http/app.h"

#include <stdlib.h>
#include <string.h>

static json_t *auth_methods(void)
{
    return json_pack("[ss]", "client_secret_basic", "client_secret_post");
}

static json_t *endpoint(const char *iss, const char *path)
{
    size_t n = strlen(iss) + strlen(path) + 1;
    char *s = xmalloc(n);
    memcpy(s, iss, strlen(iss));
    memcpy(s + strlen(iss), path, strlen(path) + 1);
    json_t *v = json_string(s);
    free(s);
    return v;
}

idp_err discovery_build(struct app *a, idp_error *err)
{
    const char *iss = a->cfg->issuer;
    json_t *d = json_object();
    json_object_set_new(d, "issuer", json_string(iss));
    json_object_set_new(d, "token_endpoint", endpoint(iss, "/token"));
    json_object_set_new(d, "jwks_uri", endpoint(iss, "/jwks.json"));
    json_object_set_new(d, "introspection_endpoint", endpoint(iss, "/introspect"));
    json_object_set_new(d, "revocation_endpoint", endpoint(iss, "/revoke"));
    json_object_set_new(d, "grant_types_supported", json_pack("[s]", "client_credentials"));
    json_object_set_new(d, "token_endpoint_auth_methods_supported", auth_methods());
    json_object_set_new(d, "introspection_endpoint_auth_methods_supported", auth_methods());
    json_object_set_new(d, "revocation_endpoint_auth_methods_supported", auth_methods());
    char *body = jsonx_dump(d);
    json_decref(d);
    if (!body) return IDP_FAIL(err, IDP_ERR_CONFIG, "issuer is not valid UTF-8");
    free(a->discovery_body);
    a->discovery_body = body;
    a->discovery_len = strlen(body);
    return IDP_OK;
}

idp_err discovery_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    rs->content_type = "application/json";
    rs->ext_body = a->discovery_body;
    rs->ext_len = a->discovery_len;
    return IDP_OK;
}
