/* token_fed — what the two federated grants (RFC 8693 token exchange, token_exchange.c; RFC 7523
 * JWT bearer, token_jwt_bearer.c) share after the presented token is verified: the subject
 * (fed_subject: mapping + local user by provision), scope, target and policy, the one mint of
 * the access token and the response, and the metrics/log line of every decision.
 *
 * The issued token (docs/FEDERATION.md "Token exchange and JWT bearer"): iss, sub (the local
 * user id, or "<name>:<upstream sub>" with provision none), aud, exp (never after the presented
 * token's exp), iat, nbf, jti ("<random>.<token_epoch>" for a local user, so SCIM deactivation
 * kills it at introspection), client_id (the requesting client), scope, the policy's claims, the
 * issuer's mapped claims (never a registered claim name: token_exchange_claim_reserved) and act. No refresh
 * token, ever. */
#ifndef IDPD_HANDLE_OAUTH_TOKEN_FED_H
#define IDPD_HANDLE_OAUTH_TOKEN_FED_H

#include "core/err.h"
#include "federation/fed_verify.h"
#include "http/request.h"
#include "http/response.h"
#include "oauth/client_cache.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct app;

#define TOKEN_FED_GRANT_EXCHANGE "token_exchange"
#define TOKEN_FED_GRANT_JWT_BEARER "jwt_bearer"

/* The mint of a federated or exchanged token. Strings borrowed. */
typedef struct token_fed_mint_in {
    const client_entry *ce; /* the requesting client: client_id, ttl, alg */
    const char *sub;
    bool user; /* a local user: jti "<random>.<epoch>" */
    int64_t epoch;
    const char *const *aud;
    size_t naud;
    const char *scope; /* granted */
    const char *extra; /* raw JSON members with leading ',' (token_exchange_extra_claims), or NULL */
    int64_t max_exp;   /* the presented token's exp: the issued one never outlives it */
    bool exchange;     /* RFC 8693 response (issued_token_type) */
} token_fed_mint_in;

/* Signs and writes the response. FED_R_EXPIRED (invalid_request / invalid_grant by grant) when
 * max_exp is not in the future any more (a token accepted within the clock skew). */
idp_err token_fed_mint(struct app *a, const http_request *rq, const token_fed_mint_in *in,
                       http_response *rs, fed_reason *why, idp_error *err);

/* After fed_verify accepted v (and, for jwt_bearer, the replay check): the client allow-list of
 * v->is for the grant (exchange: token_exchange.clients, else jwt_bearer.clients), the subject
 * (JIT may create the user), the scope (scope_resolve against the client's registered scopes),
 * the target (resource_select against its allowed resources), the policy (policy_evaluate for
 * fed_subject_policy) and the mint. act: the act claim (exchange only), or NULL. On failure
 * *why says which step. */
idp_err token_fed_issue(struct app *a, const http_request *rq, const client_entry *ce,
                        const fed_verified *v, const char *scope, const char *const *targets,
                        size_t ntargets, const json_t *act, bool exchange, http_response *rs,
                        fed_reason *why, idp_error *err);

/* Counts the decision (fed_registry_count) and, for a refusal, logs one line with the issuer
 * name ("(unknown)" when is is NULL), the grant and the reason (never the token). */
void token_fed_decision(struct app *a, const fed_issuer *is, const char *grant, fed_reason why,
                        const idp_error *err);

/* The trusted issuer the token's unverified iss names, or NULL (for counting a refusal by
 * issuer before fed_verify succeeds; never trusted beyond that). */
const fed_issuer *token_fed_peek_issuer(const http_request *rq, const char *tok);

#endif
