/* GET /metrics: Prometheus text exposition format 0.0.4 — what the running server has in force:
 * the active policy version and document hash (issue "permission management" item 3), the number
 * of published signing keys and of clients, whether each snapshot reloads and the store writes
 * (the same facts as /readyz), and the revocation state of this node (denylist size, overflow, the
 * events applied). No secret and no personal data. With cfg metrics_token set, only
 * for "Authorization: Bearer <metrics_token>" (RFC 6750 §2.1), compared in constant time;
 * otherwise 401 with a Bearer challenge (RFC 6750 §3). */
#include "handle/endpoints.h"

#include "core/mem.h"
#include "handle/app.h"
#include "federation/fed_registry.h"
#include "proto/bearer.h"
#include "proto/refresh.h"
#include "keys/keyset.h"
#include "oauth/client_cache.h"
#include "policy/policy.h"
#include "verify/denylist.h"

#include <stdatomic.h>

#include <inttypes.h>
#include <openssl/crypto.h>
#include <string.h>

/* The revocation state this node holds (handle/ssf/deny_sync.c tails the store's events). */
static int deny_metrics(struct app *a, idp_buf *b)
{
    size_t njti = 0, nsub = 0;
    if (a->deny) denylist_size(a->deny, &njti, &nsub);
    return buf_printf(b,
                      "# HELP idpd_revocation_events_applied_total Revocation events applied to "
                      "this node's denylist.\n"
                      "# TYPE idpd_revocation_events_applied_total counter\n"
                      "idpd_revocation_events_applied_total %" PRIu64 "\n"
                      "# HELP idpd_denylist_entries Revoked tokens and users in this node's "
                      "denylist.\n"
                      "# TYPE idpd_denylist_entries gauge\n"
                      "idpd_denylist_entries{kind=\"jti\"} %zu\n"
                      "idpd_denylist_entries{kind=\"subject\"} %zu\n"
                      "# HELP idpd_denylist_overflow 1 while the denylist is full (every token "
                      "is refused: fail closed).\n"
                      "# TYPE idpd_denylist_overflow gauge\n"
                      "idpd_denylist_overflow %d\n"
                      "# HELP idpd_denylist_synced_timestamp_seconds When this node last read "
                      "every revocation event of the store (0: never).\n"
                      "# TYPE idpd_denylist_synced_timestamp_seconds gauge\n"
                      "idpd_denylist_synced_timestamp_seconds %" PRId64 "\n",
                      atomic_load_explicit(&a->deny_sync.applied, memory_order_relaxed), njti,
                      nsub, a->deny && denylist_overflowed(a->deny) ? 1 : 0,
                      atomic_load(&a->deny_sync.synced_ms) / 1000);
}

/* The request carries the configured token. Both sides are hashed first so the comparison
 * takes the same time whatever the length or content of the guess. */
static bool metrics_authorized(const char *want, const char *authorization)
{
    const char *tok = NULL;
    size_t n = 0;
    if (bearer_parse(authorization, &tok, &n, NULL) != IDP_OK) return false;
    char *got = xstrndup(tok, n);
    unsigned char h1[32], h2[32];
    opaque_hash(got, h1);
    opaque_hash(want, h2);
    bool ok = CRYPTO_memcmp(h1, h2, sizeof h1) == 0;
    mem_free_secret(got);
    mem_wipe(h1, sizeof h1);
    mem_wipe(h2, sizeof h2);
    return ok;
}

idp_err metrics_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    if (a->cfg->metrics_token && !metrics_authorized(a->cfg->metrics_token, rq->authorization)) {
        response_bearer_challenge(rs, "idpd-metrics", NULL);
        return IDP_FAIL(err, IDP_ERR_UNAUTHORIZED, "metrics_token required");
    }
    const policy *p = rq->policy;
    int bad = 0;
    bad |= buf_printf(&rs->body,
                      "# HELP idpd_policy_version Version of the active policy (0 = none).\n"
                      "# TYPE idpd_policy_version gauge\n"
                      "idpd_policy_version %" PRId64 "\n",
                      p ? policy_version(p) : (int64_t)0);
    if (p)
        bad |= buf_printf(&rs->body,
                          "# HELP idpd_policy_info The active policy document.\n"
                          "# TYPE idpd_policy_info gauge\n"
                          "idpd_policy_info{version=\"%" PRId64 "\",sha256=\"%s\",environment=\"%s\"} 1\n",
                          policy_version(p), policy_sha256(p),
                          policy_environment(p) ? policy_environment(p) : "");
    size_t nkeys = rq->keys ? jwks_count(keyset_public(rq->keys)) : 0;
    bad |= buf_printf(&rs->body,
                      "# HELP idpd_published_keys Keys in the JWKS (next, current, retired).\n"
                      "# TYPE idpd_published_keys gauge\n"
                      "idpd_published_keys %zu\n"
                      "# HELP idpd_clients Registered OAuth clients.\n"
                      "# TYPE idpd_clients gauge\n"
                      "idpd_clients %zu\n",
                      nkeys, rq->clients ? rq->clients->n : (size_t)0);
    bad |= buf_puts(&rs->body,
                    "# HELP idpd_reload_ok 1 when the last reload of the snapshot succeeded, 0 "
                    "while it fails (the previous snapshot stays in use).\n"
                    "# TYPE idpd_reload_ok gauge\n");
    for (int s = 0; s < APP__SNAP_COUNT; s++)
        bad |= buf_printf(&rs->body, "idpd_reload_ok{snapshot=\"%s\"} %d\n", app_snap_names[s],
                          atomic_load(&a->reload[s].ok) ? 1 : 0);
    bad |= buf_puts(&rs->body, "# HELP idpd_reload_failures_total Failed snapshot reloads.\n"
                               "# TYPE idpd_reload_failures_total counter\n");
    for (int s = 0; s < APP__SNAP_COUNT; s++)
        bad |= buf_printf(&rs->body, "idpd_reload_failures_total{snapshot=\"%s\"} %" PRIu64 "\n",
                          app_snap_names[s], atomic_load(&a->reload[s].failures));
    bad |= buf_printf(&rs->body,
                      "# HELP idpd_store_writable 1 when the last heartbeat write to the store "
                      "succeeded.\n"
                      "# TYPE idpd_store_writable gauge\n"
                      "idpd_store_writable %d\n",
                      atomic_load(&a->store_writable) ? 1 : 0);
    bad |= buf_printf(&rs->body,
                      "# HELP idpd_login_throttled_total Sign-in attempts refused by back-off.\n"
                      "# TYPE idpd_login_throttled_total counter\n"
                      "idpd_login_throttled_total %" PRIu64 "\n",
                      atomic_load_explicit(&a->login_throttled, memory_order_relaxed));
    bad |= buf_puts(&rs->body, "# HELP idpd_http_requests_total Requests answered, by route and status class.\n"
                               "# TYPE idpd_http_requests_total counter\n");
    for (size_t r = 0; r < APP_METRIC_ROUTES; r++) {
        bool unmatched = r == APP_METRIC_ROUTES - 1;
        if (!unmatched && r >= a->nroutes) continue;
        for (int k = 0; k < 5; k++) {
            uint64_t n = atomic_load_explicit(&a->requests[r][k], memory_order_relaxed);
            if (!n) continue;
            bad |= buf_printf(&rs->body,
                              "idpd_http_requests_total{method=\"%s\",route=\"%s\",code=\"%dxx\"} %" PRIu64 "\n",
                              unmatched ? "" : a->routes[r].method,
                              unmatched ? "(none)" : a->routes[r].path, k + 1, n);
        }
    }
    bad |= deny_metrics(a, &rs->body);
    bad |= fed_registry_metrics(a->fed, &rs->body);
    if (bad) return IDP_FAIL(err, IDP_ERR_INTERNAL, "metrics too large");
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    rs->no_store = true;
    return IDP_OK;
}
