/* token_exchange — the pure parts of the federated grants at /token (issue 12): the RFC 8693
 * §2.1 token-exchange request parameters, the `act` claim of a delegated token (RFC 8693 §4.1)
 * and the extra claims of a federated token (policy claims, mapped upstream claims, act) with
 * the registered claims protected. No HTTP types, no store, no keys: the handlers
 * (handle/oauth/token_exchange.c, token_jwt_bearer.c) verify and mint. */
#ifndef IDPD_PROTO_TOKEN_EXCHANGE_H
#define IDPD_PROTO_TOKEN_EXCHANGE_H

#include "core/buf.h"
#include "core/err.h"
#include "proto/resource.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define TX_GRANT_TYPE "urn:ietf:params:oauth:grant-type:token-exchange"
#define TX_JWT_BEARER_GRANT_TYPE "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define TX_TYPE_ACCESS_TOKEN_URN "urn:ietf:params:oauth:token-type:access_token"
#define TX_TYPE_ID_TOKEN_URN "urn:ietf:params:oauth:token-type:id_token"
#define TX_TYPE_JWT_URN "urn:ietf:params:oauth:token-type:jwt"
#define TX_ACT_MAX_DEPTH 8 /* nested act claims kept at most (deeper: the request is refused) */

/* The token types a subject or actor token may be presented as (RFC 8693 §3). */
typedef enum tx_token_type {
    TX_TYPE_NONE = 0,
    TX_TYPE_ACCESS_TOKEN,
    TX_TYPE_ID_TOKEN,
    TX_TYPE_JWT,
} tx_token_type;

/* One request parameter (the form's name/value pairs, borrowed). */
typedef struct tx_param {
    const char *name, *value;
} tx_param;

/* The parsed request. Every string is borrowed from the parameters. */
typedef struct tx_request {
    const char *subject_token;
    tx_token_type subject_type;
    const char *actor_token; /* NULL: no delegation */
    tx_token_type actor_type;
    const char *scope; /* NULL: absent */
    /* audience (RFC 8693 §2.1, logical names) then resource (RFC 8707) values, in request
     * order: the requested audiences of the issued token (resource_select decides) */
    const char *targets[RESOURCE_MAX];
    size_t ntargets;
} tx_request;

/* The token type for a token-type URN (RFC 8693 §3); TX_TYPE_NONE for any other string. */
tx_token_type token_exchange_type_parse(const char *urn);

/* Parses params[0..n) (grant_type and client authentication parameters are ignored) into *out:
 *   subject_token, subject_token_type required, each once;
 *   subject_token_type / actor_token_type one of the three types above;
 *   actor_token and actor_token_type both or neither;
 *   requested_token_type, when present, the access_token type (the only one idpd issues);
 *   scope at most once; audience and resource repeatable, at most RESOURCE_MAX together.
 * Failures: IDP_ERR_OAUTH_INVALID_REQUEST (RFC 8693 §2.2.2), too many targets
 * IDP_ERR_OAUTH_INVALID_TARGET. err->msg names the parameter, never a token. */
idp_err token_exchange_parse(const tx_param *params, size_t n, tx_request *out, idp_error *err);

/* The act claim of an issued token (RFC 8693 §4.1): {"sub": actor_sub, "iss": actor_iss} and,
 * when the subject token carries an act object (prior_act), that chain nested as "act" inside
 * it (the current actor outermost). Only sub, iss and act are kept from prior acts (§4.1:
 * other claims of a nested act are not relevant). actor_sub NULL: no new actor, the prior chain
 * (cleaned the same way) is returned, or NULL when there is none. A chain deeper than
 * TX_ACT_MAX_DEPTH, or a prior act that is not an object, fails with IDP_ERR_INVALID. *out owned.
 */
idp_err token_exchange_act(const char *actor_sub, const char *actor_iss, const json_t *prior_act,
                     json_t **out, idp_error *err);

/* True for the claim names a mapped upstream claim may never set: iss sub aud exp iat nbf jti
 * client_id scope act cnf. */
bool token_exchange_claim_reserved(const char *name);

/* Appends the extra members of a federated access token to out as raw JSON members, each with a
 * leading ',' (token_claims.extra): the mapped claims (an object or NULL; reserved names
 * dropped), then policy_claims (token_policy_apply's ",\"<ns>roles\":[..]" text, may be NULL or
 * "": it wins over a mapped claim of the same name), then act (NULL: none). IDP_ERR_INVALID when
 * policy_claims is not members text, IDP_ERR_TOO_LARGE when out's cap is hit. */
idp_err token_exchange_extra_claims(const json_t *mapped, const char *policy_claims, const json_t *act,
                        idp_buf *out, idp_error *err);

#endif
