/* GET /.well-known/openid-configuration and /.well-known/oauth-authorization-server (RFC 8414
 * §2, OIDC Discovery §3): advertises only what works. Prebuilt per policy snapshot (the
 * federated grants of issue 12 are listed only when the policy's federation section allows
 * them). */
#include "handle/endpoints.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "handle/app.h"
#include "policy/policy_fed.h"
#include "policy/policy.h"
#include "proto/token_exchange.h"

#include <stdlib.h>
#include <string.h>

static json_t *auth_methods(void)
{
    return json_pack("[sss]", "client_secret_basic", "client_secret_post", "private_key_jwt");
}

/* The configured algorithms (cfg algs) as a JSON array. */
static json_t *algs(const char *list)
{
    json_t *a = json_array();
    for (const char *p = list; *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n) json_array_append_new(a, json_stringn(p, n));
        p += n;
    }
    return a;
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

/* scopes_supported: the protocol scopes and, with a policy, exactly the scopes it defines
 * (without one, the OIDC scopes whose claims idpd releases). */
static json_t *scopes(const policy *p)
{
    if (!p) return json_pack("[sssss]", "openid", "profile", "email", "groups", "offline_access");
    json_t *a = json_pack("[ss]", "openid", "offline_access");
    for (size_t i = 0; i < policy_scope_count(p); i++) {
        const char *n = policy_scope_name(p, i);
        if (strcmp(n, "openid") && strcmp(n, "offline_access")) json_array_append_new(a, json_string(n));
    }
    return a;
}

char *discovery_body(const struct app *a, const policy *p)
{
    const char *iss = a->cfg->issuer;
    json_t *d = json_object();
    json_object_set_new(d, "issuer", json_string(iss));
    json_object_set_new(d, "authorization_endpoint", endpoint(iss, "/authorize"));
    json_object_set_new(d, "token_endpoint", endpoint(iss, "/token"));
    json_object_set_new(d, "userinfo_endpoint", endpoint(iss, "/userinfo"));
    json_object_set_new(d, "end_session_endpoint", endpoint(iss, "/logout"));
    json_object_set_new(d, "jwks_uri", endpoint(iss, "/jwks.json"));
    json_object_set_new(d, "introspection_endpoint", endpoint(iss, "/introspect"));
    json_object_set_new(d, "revocation_endpoint", endpoint(iss, "/revoke"));
    json_t *grants =
        json_pack("[sss]", "authorization_code", "refresh_token", "client_credentials");
    /* the federated grants only when the policy trusts at least one issuer for them */
    if (policy_fed_any(p, false)) json_array_append_new(grants, json_string(TX_GRANT_TYPE));
    if (policy_fed_any(p, true)) json_array_append_new(grants, json_string(TX_JWT_BEARER_GRANT_TYPE));
    json_object_set_new(d, "grant_types_supported", grants);
    json_object_set_new(d, "response_types_supported", json_pack("[s]", "code"));
    json_object_set_new(d, "response_modes_supported", json_pack("[s]", "query"));
    json_object_set_new(d, "subject_types_supported", json_pack("[s]", "public"));
    json_object_set_new(d, "id_token_signing_alg_values_supported", algs(a->cfg->algs));
    json_object_set_new(d, "code_challenge_methods_supported", json_pack("[s]", "S256"));
    json_object_set_new(d, "scopes_supported", scopes(p));
    json_object_set_new(d, "claims_supported",
                        json_pack("[ssssssssssssssssssssss]", "iss", "sub", "aud", "exp", "iat",
                                  "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "sid",
                                  "name", "given_name", "family_name", "middle_name", "nickname",
                                  "preferred_username", "updated_at", "email", "email_verified",
                                  "groups"));
    json_object_set_new(d, "prompt_values_supported", json_pack("[sss]", "none", "login", "consent"));
    json_object_set_new(d, "claims_parameter_supported", json_false());
    json_object_set_new(d, "request_parameter_supported", json_false());
    json_object_set_new(d, "request_uri_parameter_supported", json_false());
    /* RFC 9207 */
    json_object_set_new(d, "authorization_response_iss_parameter_supported", json_true());
    json_object_set_new(d, "backchannel_logout_supported", json_true());
    json_object_set_new(d, "backchannel_logout_session_supported", json_true());
    json_object_set_new(d, "token_endpoint_auth_methods_supported",
                        json_pack("[ssss]", "client_secret_basic", "client_secret_post",
                                  "private_key_jwt", "none"));
    json_object_set_new(d, "token_endpoint_auth_signing_alg_values_supported", algs(a->cfg->algs));
    json_object_set_new(d, "introspection_endpoint_auth_methods_supported", auth_methods());
    json_object_set_new(d, "revocation_endpoint_auth_methods_supported", auth_methods());
    char *body = jsonx_dump(d);
    json_decref(d);
    return body;
}

idp_err discovery_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    /* the body is prebuilt with the policy snapshot; the response holds a reference to it */
    snap_obj *o = snap_acquire(&a->policy);
    const policy_snap *ps = (const policy_snap *)o;
    if (!ps || !ps->discovery) {
        snap_release(o);
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "no discovery document");
    }
    rs->hold = o;
    rs->content_type = "application/json";
    rs->ext_body = ps->discovery;
    rs->ext_len = ps->discovery_len;
    return IDP_OK;
}
