/* token_grant — one function per grant type of the token endpoint (RFC 6749 §4), one row each in
 * token.c's grant table. A grant runs after client authentication and the grant_type checks. */
#ifndef IDPD_OAUTH_TOKEN_GRANT_H
#define IDPD_OAUTH_TOKEN_GRANT_H

#include "core/err.h"
#include "http/form.h"
#include "http/request.h"
#include "http/response.h"
#include "oauth/client_cache.h"

struct app;

typedef idp_err (*token_grant_fn)(struct app *a, const http_request *rq, const form *f,
                                  const client_entry *ce, http_response *rs, idp_error *err);

/* RFC 6749 §4.4 (token_client_credentials.c). */
idp_err token_client_credentials(struct app *a, const http_request *rq, const form *f,
                                 const client_entry *ce, http_response *rs, idp_error *err);

/* RFC 6749 §4.1.3 (token_authorization_code.c). */
idp_err token_authorization_code(struct app *a, const http_request *rq, const form *f,
                                 const client_entry *ce, http_response *rs, idp_error *err);
/* RFC 6749 §6 (token_refresh.c). */
idp_err token_refresh(struct app *a, const http_request *rq, const form *f,
                      const client_entry *ce, http_response *rs, idp_error *err);

/* RFC 8693 token exchange (token_exchange.c) and RFC 7523 JWT bearer (token_jwt_bearer.c):
 * authorised by the policy's federation issuer lists, not by the client's grant_types. */
idp_err token_exchange(struct app *a, const http_request *rq, const form *f,
                       const client_entry *ce, http_response *rs, idp_error *err);
idp_err token_jwt_bearer(struct app *a, const http_request *rq, const form *f,
                         const client_entry *ce, http_response *rs, idp_error *err);

#endif
