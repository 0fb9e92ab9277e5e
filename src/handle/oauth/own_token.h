/* own_token — the one check of an access token of ours (RFC 9068) that every endpoint taking
 * our own access tokens shares: POST /introspect (RFC 7662), /userinfo (OIDC Core §5.3), the
 * own-token path of token exchange (RFC 8693) and GET /forward-auth. It puts the verified-token
 * cache (verify/verify_cache.h, a->vcache) in front of token_verify, so a token seen again pays
 * one SHA-256 and a table lookup instead of a signature check (issue 14).
 *
 * What own_token_verify checks, on a hit exactly as on a miss:
 *   - the strict path of token_verify_access (verify/token_verify.h) with leeway 0: length
 *     (<= JWS_MAX_LEN), compact form, alg in our allow-list, no crit, typ at+jwt (RFC 9068 §4),
 *     the key by kid from this request's key snapshot only, the signature, iss == our issuer,
 *     exp (required; inactive from the second of exp on, RFC 7519 §4.1.4: idpd issued it by its
 *     own clock, so no skew is allowed), nbf, iat not in the future, jti and client_id present;
 *   - a cached answer is given only while now < exp and while the kid that verified it is still
 *     published in rq->keys (a key removed from the JWKS ends its cached tokens at once; idpd's
 *     kids are RFC 7638 thumbprints, so a kid names one key). A token whose header has no kid,
 *     or a non-integer exp, is verified every time and never cached.
 * What it does NOT check — the caller must, on every request, hit or miss:
 *   - activity: its client still exists, its jti not revoked, its user live at the token_epoch
 *     (user_tokens_access_state in user_tokens.h) — revocation is never cached;
 *   - audience and scope: what the token may be used for is each endpoint's rule (RFC 9068 §4
 *     item 3, RFC 7662 §4).
 * Thread safety: any request thread (the cache is sharded and locked inside). */
#ifndef IDPD_HANDLE_OAUTH_OWN_TOKEN_H
#define IDPD_HANDLE_OAUTH_OWN_TOKEN_H

#include "core/err.h"
#include "http/request.h"

#include <jansson.h>
#include <stddef.h>

struct app;

/* Verifies tok[0..len) as above. On success *claims is a new reference to the verified payload
 * (json_decref it); the object may be shared with the cache and other threads, so it must not
 * be modified. On failure *claims is NULL and the code is token_verify's (token_verify_reason
 * gives a text without token bytes); err gets which check failed. */
idp_err own_token_verify(struct app *a, const http_request *rq, const char *tok, size_t len,
                         json_t **claims, idp_error *err);

#endif
