/* endpoints — the HTTP handlers of the OAuth endpoints (one file each, one row each in
 * server/router.c), in the handle library (src/handle/meson.build). They take the state as
 * handle/app.h shows it and the transport's request/response types; the protocol logic they call (src/proto: scope, resource,
 * token_claims, token_verify; src/oauth: client_cache, token_mint) is unit-tested without HTTP. */
#ifndef IDPD_OAUTH_ENDPOINTS_H
#define IDPD_OAUTH_ENDPOINTS_H

#include "core/buf.h"
#include "core/err.h"
#include "http/request.h"
#include "http/response.h"

#include <jansson.h>
#include <stdbool.h>

struct app;

idp_err discovery_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err jwks_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err token_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err introspect_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err revoke_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err health_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err ready_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
/* End-user sign-in (authorize.c, login.c, consent.c, userinfo.c, logout.c, web.c). */
idp_err authorize_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
/* Before the server starts its threads: the Argon2id parameters of the dummy hash a sign-in
 * with an unknown account is verified against (login.c). */
struct password_params;
void login_configure(const struct password_params *pp);
idp_err login_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err consent_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
/* Upstream sign-in (signin/federation.c, docs/FEDERATION.md): GET /federation/{name}/start and
 * GET /federation/{name}/callback. */
idp_err federation_start_handle(struct app *a, http_request *rq, http_response *rs,
                                idp_error *err);
idp_err federation_callback_handle(struct app *a, http_request *rq, http_response *rs,
                                   idp_error *err);
/* GET /forward-auth (forward_auth.c, docs/FORWARD_AUTH.md): a reverse proxy's access decision.
 * forward_auth_header_value: the value of an X-Auth-* header for claim v (a string, or an array
 * of strings joined by ','; anything else ""), appended to out with the bytes outside %x20-7E,
 * '%' and, when list (and in every array item), ',' percent-encoded (%XX); false when it would be
 * longer than FA_MAX_VALUE (the header is then refused, never truncated). Pure. */
#define FA_MAX_VALUE 4000
idp_err forward_auth_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
bool forward_auth_header_value(const json_t *v, bool list, idp_buf *out);
idp_err userinfo_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err logout_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
/* Admin API (admin.c). */
idp_err admin_policy_get(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err admin_policy_versions(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err admin_policy_apply(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err admin_policy_rollback(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err admin_policy_explain(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err admin_clients_list(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err admin_client_create(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err admin_client_get(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err admin_client_delete(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err metrics_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);
idp_err assets_css_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);

/* The discovery document for a->cfg and the policy p (may be NULL: scopes_supported then lists
 * the OIDC scopes), prebuilt with each policy snapshot (discovery.c). Owned; NULL when the
 * issuer is not valid UTF-8. */
struct policy;
char *discovery_body(const struct app *a, const struct policy *p);

#endif
