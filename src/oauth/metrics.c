/* GET /metrics: Prometheus text exposition format 0.0.4 — what the running server has in force:
 * the active policy version and document hash (issue "permission management" item 3), the number
 * of published signing keys and of clients, whether each snapshot reloads and the store writes
 * (the same facts as /readyz). No secret and no personal data. */
#include "oauth/endpoints.h"

#include "http/app.h"
#include "keys/keyset.h"
#include "oauth/client_cache.h"
#include "http/router.h"
#include "policy/policy.h"

#include <stdatomic.h>

#include <inttypes.h>

idp_err metrics_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
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
    bad |= buf_puts(&rs->body, "# HELP idpd_http_requests_total Requests answered, by route and status class.\n"
                               "# TYPE idpd_http_requests_total counter\n");
    for (size_t r = 0; r < APP_METRIC_ROUTES; r++) {
        bool unmatched = r == APP_METRIC_ROUTES - 1;
        if (!unmatched && r >= router_nroutes) continue;
        for (int k = 0; k < 5; k++) {
            uint64_t n = atomic_load_explicit(&a->requests[r][k], memory_order_relaxed);
            if (!n) continue;
            bad |= buf_printf(&rs->body,
                              "idpd_http_requests_total{method=\"%s\",route=\"%s\",code=\"%dxx\"} %" PRIu64 "\n",
                              unmatched ? "" : router_routes[r].method,
                              unmatched ? "(none)" : router_routes[r].path, k + 1, n);
        }
    }
    if (bad) return IDP_FAIL(err, IDP_ERR_INTERNAL, "metrics too large");
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    rs->no_store = true;
    return IDP_OK;
}
