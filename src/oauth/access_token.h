/* access_token — verification of access tokens this server issued (RFC 9068 §4), for
 * introspection and revocation. */
#ifndef IDPD_OAUTH_ACCESS_TOKEN_H
#define IDPD_OAUTH_ACCESS_TOKEN_H

#include "core/err.h"
#include "jose/jws.h"

#include <stddef.h>
#include <stdint.h>

/* Verifies tok[0..len) against keys (borrowed; every published key): alg in the allow-list (all
 * four of ours), typ "at+jwt" (RFC 9068 §4 item 2), iss == issuer, exp present and not past
 * (with leeway), nbf/iat not in the future, jti and client_id present as strings. now 0 = the
 * current time. *out as jwt_verify (jws_verified_clear). Any failure is the jose/jwt code. */
idp_err access_token_verify(const jwks *keys, const char *issuer, int64_t leeway, int64_t now,
                            const char *tok, size_t len, jws_verified *out, idp_error *err);

#endif
