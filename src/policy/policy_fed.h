/* federation — the `federation:` section of the policy (docs/POLICY.md "Federation", issue 12):
 * upstream token issuers whose tokens idpd accepts (RFC 7523 JWT bearer assertions, RFC 8693
 * subject tokens) or signs users in with (OpenID Connect, idpd as relying party), how their
 * claims are normalized, and (bindings.issuers) which roles their subjects and groups get.
 *
 * Pure data and pure functions: the policy never fetches a JWKS, reads a secret file or verifies
 * a signature; the server does, with these settings. Every pointer is borrowed from the policy
 * and immutable; it lives as long as the policy. */
#ifndef IDPD_POLICY_POLICY_FED_H
#define IDPD_POLICY_POLICY_FED_H

#include "core/err.h"
#include "policy/policy.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FED_MAX_CLAIM_RULES 64      /* claims: rules of one issuer */
#define FED_MAX_REQUIRE 64          /* require: entries of one issuer */
#define FED_MAP_MAX_ITEMS 256       /* an upstream array claim with more items is dropped */
#define FED_MAP_MAX_STRING 1024     /* an upstream string (or array item) longer is dropped */
#define FED_MAX_CLOCK_SKEW_S 600    /* clock_skew at most 10 minutes */
#define FED_DEFAULT_CLOCK_SKEW_S 60 /* clock_skew */
#define FED_DEFAULT_JWT_BEARER_MAX_LIFETIME_S 300

typedef enum fed_provision {
    FED_PROVISION_NONE = 0, /* no local user: sub is "<name>:<upstream sub>" */
    FED_PROVISION_JIT,      /* a local user, created and linked on first sight, reused after */
    FED_PROVISION_LINK_ONLY /* only subjects already linked (JIT earlier, or link_by), never create */
} fed_provision;

/* One claims: entry. The output claim `name` takes the upstream claim `from` (only when the
 * upstream claim only_if is JSON true, if only_if is set), string values going through map. */
typedef struct fed_claim_rule {
    const char *name, *from, *only_if; /* only_if NULL: unconditional */
    const char *const *map_from;       /* sorted (strcmp), parallel to map_to */
    const char *const *map_to;
    size_t nmap;
    bool drop_unmapped; /* a string without a map entry is dropped (needs a map) */
} fed_claim_rule;

typedef struct fed_jwks_opts {
    int64_t refresh_s, min_refresh_s, max_refresh_s, kid_miss_cooldown_s, stale_if_error_s;
    int64_t fetch_timeout_ms;
} fed_jwks_opts;

typedef struct fed_login {
    const char *display_name;                   /* default: the issuer's name */
    const char *client_id, *client_secret_file; /* the file is read by the server, never here */
    const char *const *scopes;                  /* includes openid */
    size_t nscopes;
} fed_login;

typedef struct fed_issuer {
    const char *name;     /* [a-z0-9][a-z0-9-]*, at most 64 bytes */
    const char *issuer;   /* compared byte for byte with iss */
    const char *jwks_uri; /* NULL: the jwks_uri of the issuer's discovery document */
    bool allow_http_loopback;
    unsigned algorithms; /* JWS_ALG_BIT mask (jose/alg.h); never empty */
    const char *const *audiences;
    size_t naudiences;
    const char *subject_claim; /* default "sub" */
    const char *typ;           /* required JWS typ (e.g. "at+jwt"), NULL: not checked */
    int64_t clock_skew_s;      /* default 60 */
    const json_t *require;     /* object of scalars (string, integer, true/false); NULL: none */
    const fed_claim_rule *claims;
    size_t nclaims;
    fed_provision provision; /* default NONE */
    bool link_by_external_id;
    bool jwt_bearer; /* RFC 7523 assertions accepted (jwt_bearer: present) */
    const char *const *jwt_bearer_clients;
    size_t njwt_bearer_clients;
    int64_t jwt_bearer_max_lifetime_s; /* default 300 */
    bool token_exchange;               /* RFC 8693 subject tokens accepted */
    const char *const *token_exchange_clients;
    size_t ntoken_exchange_clients;
    const fed_login *login; /* NULL: no upstream sign-in */
    fed_jwks_opts jwks;
    int line; /* of the entry in the document */
} fed_issuer;

/* Issuers in name order (strcmp). policy_fed_at: NULL when i is out of range. */
size_t policy_fed_count(const policy *p);
const fed_issuer *policy_fed_at(const policy *p, size_t i);
const fed_issuer *policy_fed_by_name(const policy *p, const char *name); /* NULL: none */
/* The issuer whose `issuer` equals iss[0..len) byte for byte (no normalization: a trailing slash
 * differs). NULL: none. */
const fed_issuer *policy_fed_by_issuer(const policy *p, const char *iss, size_t len);
/* Whether client_id (exact) may use the issuer's tokens: as RFC 7523 assertions (jwt_bearer) or
 * as RFC 8693 subject tokens (else). False when that use is off or client_id is NULL. */
bool policy_fed_client_allowed(const fed_issuer *is, bool jwt_bearer, const char *client_id);
/* Whether any issuer has jwt_bearer (else: token_exchange) on (discovery's
 * grant_types_supported). */
bool policy_fed_any(const policy *p, bool jwt_bearer);
/* Whether any issuer has login (upstream sign-in) on. */
bool policy_fed_any_login(const policy *p);
/* "ES256 RS256" for a JWS_ALG_BIT mask, in the order ES256 RS256 PS256 EdDSA; into out[64]. */
const char *policy_fed_algs_str(unsigned algs, char out[64]);

/* The claim mapping (pure). upstream is the verified payload (a JSON object); *out is a new
 * object (owned, json_decref) with only the mapped claims: for each rule, the `from` claim when
 * present (and, with only_if, only when the only_if claim is JSON true). String values and
 * arrays of strings pass through `map`: a value with a map entry is replaced, one without is
 * kept unless drop_unmapped; an array keeps its order and drops duplicates after mapping. Other
 * JSON scalars (numbers, true/false, null) pass unchanged when the rule has no map and are
 * dropped when it has one; objects and arrays holding a non-string are dropped. An array of more
 * than FED_MAP_MAX_ITEMS items or a string (or item) longer than FED_MAP_MAX_STRING bytes drops
 * the claim. Dropping is never an error. IDP_ERR_INVALID when upstream is not an object,
 * IDP_ERR_NOMEM. */
idp_err policy_fed_map_claims(const fed_issuer *is, const json_t *upstream, json_t **out,
                              idp_error *err);
/* The `require` check: IDP_OK when every required claim is present in upstream with exactly the
 * required value (json_equal), else IDP_ERR_JWT_CLAIM with the failing claim's name in err->msg
 * (never its value). */
idp_err policy_fed_map_require(const fed_issuer *is, const json_t *upstream, idp_error *err);

#endif
