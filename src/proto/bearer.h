/* bearer — the credentials of an Authorization header "Bearer <token>" (RFC 6750 §2.1), one
 * parser for every bearer endpoint: UserInfo (access tokens), SCIM and admin (provisioning keys)
 * and /metrics (metrics_token).
 *
 * credentials = "Bearer" 1*SP b64token, the scheme case-insensitive (RFC 9110 §11.1), nothing
 * after the token; b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". The
 * token may be as long as the longest token this server accepts anywhere (BEARER_MAX_TOKEN, the
 * JWS size cap), whatever the endpoint: an endpoint-specific length check (a provisioning key has
 * a fixed length) belongs to that endpoint's own token parser. */
#ifndef IDPD_OAUTH_BEARER_H
#define IDPD_OAUTH_BEARER_H

#include "core/err.h"
#include "jose/jws.h"

#include <stddef.h>

#define BEARER_MAX_TOKEN JWS_MAX_LEN

/* Points *token at the token inside header (borrowed) and *n at its length. Errors:
 * IDP_ERR_NOT_FOUND — header NULL or another scheme: no bearer credentials (RFC 6750 §3.1: the
 *   challenge then carries no error code);
 * IDP_ERR_TOO_LARGE — a token longer than BEARER_MAX_TOKEN (RFC 6750 §3.1 invalid_token: no
 *   token of ours is that long);
 * IDP_ERR_INVALID — the Bearer scheme with a malformed token (empty, bad character, trailing
 *   text) (RFC 6750 §3.1 invalid_request). */
idp_err bearer_parse(const char *header, const char **token, size_t *n, idp_error *err);

#endif
