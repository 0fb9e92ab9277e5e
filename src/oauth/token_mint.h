/* token_mint — the one minting path of every grant (client_credentials, authorization_code,
 * refresh_token): the access token's lifetime and algorithm, the signed JWT access token
 * (RFC 9068 §2) from its claims, and the RFC 6749 §5.1 token response. No HTTP types and no
 * store: the grant decides subject, audience and scope; this signs and writes.
 *
 * The ID token (OIDC Core §2) is signed through token_mint_sign too: same key selection, same
 * errors. */
#ifndef IDPD_OAUTH_TOKEN_MINT_H
#define IDPD_OAUTH_TOKEN_MINT_H

#include "core/buf.h"
#include "core/cfg.h"
#include "core/err.h"
#include "jose/alg.h"
#include "keys/keyset.h"
#include "proto/token_claims.h"

#include <stddef.h>
#include <stdint.h>

/* RFC 9068 §2.1: the "typ" header of every access token we issue. */
#define TOKEN_MINT_AT_TYP "at+jwt"

/* Access token lifetime, s: the client's token_ttl when it has one (> 0), else c->token_ttl,
 * never above c->max_token_ttl. */
int64_t token_mint_ttl(const cfg *c, int64_t client_ttl);
/* Access token algorithm: the client's registered alg, else c->default_alg. */
jws_alg token_mint_alg(const cfg *c, jws_alg client_alg);

/* Signs payload[0..len) (a JSON object) as a compact JWS with header {alg, kid, typ} under the
 * current key of ks for alg; appends the token to out. Errors: ks NULL -> IDP_ERR_INTERNAL (no
 * key set loaded); no signing key for alg (keyset_sign's IDP_ERR_JOSE_KEY) -> IDP_ERR_CONFIG
 * (the server's configuration, not the client's request); the rest as keyset_sign. */
idp_err token_mint_sign(const keyset *ks, jws_alg alg, const char *typ, const char *payload,
                        size_t len, idp_buf *out, idp_error *err);

/* The access token for tc: the claims as token_claims_build writes them (RFC 9068 §2.2) signed
 * with typ TOKEN_MINT_AT_TYP; appended to out. Errors: token_claims_build's (checked first),
 * then token_mint_sign's. */
idp_err token_mint_access(const keyset *ks, jws_alg alg, const token_claims *tc, idp_buf *out,
                          idp_error *err);

/* The members of a successful token response (RFC 6749 §5.1). Strings are borrowed. */
typedef struct token_mint_response {
    const char *access_token;  /* required */
    const char *issued_token_type; /* RFC 8693 §2.2.1; omitted when NULL */
    int64_t expires_in;        /* s */
    const char *scope;         /* the granted scope (§3.3); omitted when NULL or empty */
    const char *id_token;      /* OIDC Core §3.1.3.3; omitted when NULL or empty */
    const char *refresh_token; /* §6; omitted when NULL */
} token_mint_response;

/* Appends {"access_token":..[,"issued_token_type"],"token_type":"Bearer","expires_in":..
 * [,"scope"][,"id_token"][,"refresh_token"]} to out, in this order. IDP_ERR_INTERNAL when out's
 * cap is hit (the response of a token we could sign never is). */
idp_err token_mint_respond(const token_mint_response *r, idp_buf *out, idp_error *err);

#endif
