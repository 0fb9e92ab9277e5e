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
#include "federation/fed_verify.h"
#include "jose/jwk.h"
#include "policy/federation.h"
#include "policy/policy.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct fed_registry fed_registry;

/* st is borrowed (used from the registry's thread for the last good sets). Starts the thread. */
idp_err fed_registry_new(store *st, fed_registry **out, idp_error *err);
/* Stops the thread and frees everything. Accepts NULL. */
void fed_registry_free(fed_registry *r);

/* Makes the caches match p's issuers (p NULL: none): an issuer whose issuer URL, jwks_uri and
 * allow_http_loopback are unchanged keeps its cache (and its keys); a new one starts from the
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

/* Appends the idpd_federation_* metric families in Prometheus text format (for /metrics). */
void fed_registry_metrics(fed_registry *r, idp_buf *out);

/* The upstream endpoints from the issuer's discovery document (for upstream sign-in). Copies
 * into the caller's buffers; IDP_ERR_UNAVAILABLE when discovery has not succeeded yet. */
idp_err fed_registry_endpoints(fed_registry *r, const fed_issuer *is, char *authz, size_t authz_cap,
                               char *token, size_t token_cap, idp_error *err);

#endif
