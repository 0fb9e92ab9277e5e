/* authorize — the steps of the authorization code flow that the authorize, login and consent
 * endpoints share (OIDC Core §3.1.2): once the request is validated (authz_request) and the user
 * is known, ask for consent when needed, then issue the code and redirect back to the client. */
#ifndef IDPD_OAUTH_AUTHORIZE_H
#define IDPD_OAUTH_AUTHORIZE_H

#include "core/err.h"
#include "http/request.h"
#include "http/response.h"
#include "proto/authz_request.h"
#include "oauth/client_cache.h"
#include "store/store.h"

struct app;

#define AUTHZ_CODE_TTL 60 /* s, single use (issue "end-user sign-in" item 3) */
#define AUTHZ_UPSTREAM_MAX 32 /* upstream sign-in buttons on the login page (= POLICY_MAX_ISSUERS) */

/* Redirects to r->redirect_uri with error = idp_err_oauth(code) (and error_description, state,
 * iss) — RFC 6749 §4.1.2.1, RFC 9207. Only for a client and redirect_uri already validated. */
void authorize_redirect_error(struct app *a, http_response *rs, const authz_request *r,
                              idp_err code, const char *description);
/* Renders the login page for r (sealed again into the form), with one button per upstream
 * identity provider of the active policy with `login` and an optional error line; the
 * status is that of why's row in the error table (IDP_OK: 200; IDP_ERR_RATE_LIMITED: 429). */
idp_err authorize_show_login(struct app *a, const http_request *rq, http_response *rs,
                             const client_entry *ce, const authz_request *r, const char *error,
                             idp_err why, idp_error *err);
/* The signed-in user s/u continues r: consent page when the client has no stored consent
 * covering r->scope (or prompt=consent and consent_done is false), else the code redirect. */
idp_err authorize_continue(struct app *a, const http_request *rq, http_response *rs,
                           const client_entry *ce, const authz_request *r, const store_session *s,
                           const store_user *u, bool consent_done, idp_error *err);
/* Issues the code for r and redirects (RFC 6749 §4.1.2). */
idp_err authorize_issue_code(struct app *a, http_response *rs, const authz_request *r,
                             const store_session *s, const store_user *u, idp_error *err);

#endif
