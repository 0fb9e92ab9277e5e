/* fed_registry — the running server's view of its trusted upstream issuers (issue 12,
 * docs/FEDERATION.md): one JWKS cache (jose/jwks_cache.h) per issuer of the active policy, fed by
 * the one capped HTTP client (fetch/fetch.h) through the issuer's discovery document or its
 * jwks_uri, refreshed on the registry's own thread (never on a request thread: one slow upstream
 * must not hold back the server's background tasks nor another issuer), the last good set kept
 * in the store (so a restart during an upstream outage still verifies), and the counters behind
 * the idpd_federation_* metrics.
 *
 * Threading: fed_registry_keys and the counters are called from request threads; they take no
 * lock in the common case (the issuer table is a snapshot, core/snap.h). fed_registry_sync is
 * called by the server's background thread when a policy version is published. */
#ifndef IDPD_FEDERATION_FED_REGISTRY_H
#define IDPD_FEDERATION_FED_REGISTRY_H

#include "core/buf.h"
#include "core/err.h"
#include "fetch/fetch.h"
#include "federation/fed_verify.h"
#include "jose/jwk.h"
#include "jose/jwks_cache.h"
#include "policy/policy_fed.h"
#include "policy/policy.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct fed_registry fed_registry;

/* ---- the fetch path, shared by the registry's thread and `idpd federation refresh` ---- */

#define FED_URL_MAX FETCH_URL_MAX /* longest URL taken from a discovery document */
#define FED_DISCOVERY_MAX_BODY FETCH_DISCOVERY_MAX_BODY /* largest discovery document accepted */

/* What fetching an issuer's keys needs (copied out of the policy by the registry). */
typedef struct fed_upstream {
    const char *name, *issuer;
    const char *jwks_uri; /* NULL: from the discovery document */
    bool allow_http_loopback;
    long timeout_ms; /* each GET */
} fed_upstream;

/* What the discovery document said (known false until it was read and accepted). */
typedef struct fed_discovered {
    bool known;
    char jwks_uri[FED_URL_MAX + 1];
    char authz[FED_URL_MAX + 1]; /* authorization_endpoint, "" when absent */
    char token[FED_URL_MAX + 1]; /* token_endpoint, "" when absent */
} fed_discovered;

void fed_registry_upstream_of(const fed_issuer *is, fed_upstream *out); /* borrows is's strings */


/* `<issuer>/.well-known/openid-configuration` (no double slash when the issuer ends in '/').
 * Fills *out when the document is a JSON object (at most FED_DISCOVERY_MAX_BODY bytes, HTTP 200)
 * whose issuer equals u->issuer byte for byte and whose jwks_uri (and authorization_endpoint /
 * token_endpoint when present) pass fetch_url_allowed (fetch/fetch.h). IDP_ERR_IO when no response arrived,
 * IDP_ERR_INVALID otherwise, err->msg saying why. */
idp_err fed_registry_discover(const fed_upstream *u, fed_discovered *out, idp_error *err);

/* One GET of the issuer's JWKS, as jwks_cache_fetch_fn wants it: from u->jwks_uri, else from
 * d->jwks_uri, reading the discovery document first (into *d) when rediscover or !d->known.
 * No redirects, timeout u->timeout_ms, body cap body->max. Failures of discovery come back as
 * IDP_ERR_INVALID (or IDP_ERR_IO when no response), with "discovery: " in err->msg. */
idp_err fed_registry_fetch_jwks(const fed_upstream *u, fed_discovered *d, bool rediscover, idp_buf *body,
                       long *status, int64_t *max_age_s, idp_error *err);

/* One attempt now, outside any server (`idpd federation refresh`, `idpd federation test` without
 * a stored set): the same cache, fetch path and store writes as the registry's thread (the set
 * with fed_jwks_put on success, the status row after the attempt; notify: the row bumps the store
 * generation so running servers re-read the set, fed_registry_reseed). *out = the cache's status
 * after the attempt (jwks_cache_status_clear it; out->keys is the set in use). IDP_OK when the
 * fetch succeeded, else IDP_ERR_UNAVAILABLE with its reason (IDP_ERR_CONFIG: bad options). */
idp_err fed_registry_refresh_once(store *st, const fed_issuer *is, bool notify, jwks_cache_status *out,
                         idp_error *err);

/* ---- the registry ---- */

/* st is borrowed (used from the registry's thread for the last good sets). Starts the thread. */
idp_err fed_registry_new(store *st, fed_registry **out, idp_error *err);
/* Stops the thread and frees everything. Accepts NULL. */
void fed_registry_free(fed_registry *r);

/* Makes the caches match p's issuers (p NULL: none): an issuer whose name, issuer URL, jwks_uri,
 * allow_http_loopback and jwks options are unchanged keeps its cache (and its keys); a new one starts from the
 * store's last good set, if any, and is fetched at once; a removed one is dropped once no request
 * uses it. Returns at once: fetches happen on the registry's thread. */
void fed_registry_sync(fed_registry *r, const policy *p);

/* fed_keys_fn for fed_verify (ctx = the registry). */
idp_err fed_registry_keys(void *r, const fed_issuer *is, const char *kid, jwks **out,
                          idp_error *err);

/* Counts one federated token decision for idpd_federation_tokens_total{issuer,grant,result}.
 * grant: "token_exchange", "jwt_bearer" or "login". is NULL (unknown issuer) counts under the
 * label "(unknown)". */
void fed_registry_count(fed_registry *r, const fed_issuer *is, const char *grant, fed_reason why);

/* Appends the idpd_federation_* metric families in Prometheus text format (for /metrics).
 * Returns nonzero when out is full (as buf_printf). r NULL: nothing. */
int fed_registry_metrics(fed_registry *r, idp_buf *out);

/* Another process stored a newer set (`idpd federation refresh`, store generation changed):
 * every cache whose stored set (fed_jwks_get) is newer than its own takes it
 * (jwks_cache_offer). Called from the server's background thread. */
void fed_registry_reseed(fed_registry *r);

/* The current state of the named issuer's cache (jwks_cache_status_clear it). false when the
 * registry has no such issuer. */
bool fed_registry_status(fed_registry *r, const char *name, jwks_cache_status *out);

/* The upstream endpoints from the issuer's discovery document (for upstream sign-in). Copies
 * into the caller's buffers; IDP_ERR_UNAVAILABLE when discovery has not succeeded yet. */
idp_err fed_registry_endpoints(fed_registry *r, const fed_issuer *is, char *authz, size_t authz_cap,
                               char *token, size_t token_cap, idp_error *err);

#endif
