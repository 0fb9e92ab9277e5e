/* client_auth — confidential client authentication at the token, introspection and revocation
 * endpoints (RFC 6749 §2.3.1): client_secret_basic or client_secret_post, never both, and only
 * the one the client registered (RFC 7591 §2); private_key_jwt (RFC 7523); none. Uses only
 * the client cache snapshot of the request (no database access). */
#ifndef IDPD_OAUTH_CLIENT_AUTH_H
#define IDPD_OAUTH_CLIENT_AUTH_H

#include "core/err.h"
#include "http/form.h"
#include "http/request.h"
#include "http/response.h"
#include "oauth/client_cache.h"

struct app;

#define CLIENT_AUTH_MAX_ID 256

/* On success *out borrows the entry from rq->clients and rs->client_id is set for the log.
 * Errors: credentials in both the Authorization header and the body (client_secret), or a body
 * client_id different from the Basic one -> IDP_ERR_OAUTH_INVALID_REQUEST; none, malformed,
 * unknown client, client without a secret, wrong secret -> IDP_ERR_OAUTH_INVALID_CLIENT (one
 * message for all of these, and a secret is checked against a dummy hash when the id is unknown
 * so the time taken does not reveal which ids exist); the right secret sent with the method the
 * client did not register -> IDP_ERR_OAUTH_INVALID_CLIENT naming the registered one.
 * rs->www_auth_basic is set when Basic was used or no credentials were sent (RFC 6749 §5.2,
 * RFC 9110 §15.5.2). */
idp_err client_auth_authenticate(const struct app *a, const http_request *rq, const form *f,
                                 http_response *rs, const client_entry **out, idp_error *err);

#endif
