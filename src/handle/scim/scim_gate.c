/* scim_gate — what every SCIM request goes through first: provisioning-key authentication
 * (RFC 6750 §2.1 bearer, oauth/pkey.h), scope, per-key rate limit (429 + Retry-After, RFC 6585
 * §4), and the strict reading of request bodies. */
#include "handle/scim/scim_internal.h"

#include "core/jsonx.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "creds/pkey.h"
#include "core/ratelimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

idp_err scim_gate(struct app *a, const http_request *rq, http_response *rs, const char *scope,
                  char actor[SCIM_GATE_ACTOR_MAX], idp_error *err)
{
    store_pkey key = {0};
    idp_err rc =
        pkey_authenticate(a->st, a->scim_pepper, rq->authorization, scope, time_now(), &key, err);
    if (rc == IDP_ERR_UNAUTHORIZED) {
        /* one answer whatever was wrong: no hint for a guesser */
        return IDP_FAIL(err, IDP_ERR_UNAUTHORIZED, "%s", PKEY_AUTH_FAILED_MSG);
    }
    if (key.id) response_set_client(rs, key.id, strlen(key.id));
    if (rc == IDP_ERR_FORBIDDEN) {
        IDP_FAIL(err, IDP_ERR_FORBIDDEN, "this provisioning key lacks the %s scope", scope);
        goto out;
    }
    if (rc != IDP_OK) goto out;
    if (!app_pkey_rate_take(a, key.id, rs, err)) {
        rc = IDP_ERR_RATE_LIMITED;
        goto out;
    }
    snprintf(actor, SCIM_GATE_ACTOR_MAX, "pkey:%s", key.id);
out:
    store_pkey_clear(&key);
    return rc;
}

/* RFC 7644 §3.1: application/scim+json; application/json is accepted too. Parameters (charset)
 * are ignored; the media type is case-insensitive (RFC 9110 §8.3.1). */
bool scim_gate_media_type_ok(const char *ct)
{
    static const char *const ok[] = {"application/scim+json", "application/json"};
    if (!ct) return true;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0) return true;
    return false;
}

idp_err scim_gate_body_json(const http_request *rq, size_t max_len, json_t **out, idp_error *err)
{
    *out = NULL;
    if (!scim_gate_media_type_ok(rq->content_type))
        return IDP_FAIL(err, IDP_ERR_HTTP_MEDIA_TYPE,
                        "Content-Type must be application/scim+json or application/json");
    if (!rq->body || rq->body_len == 0)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "a JSON object body is required");
    idp_error e = {0};
    idp_err rc = jsonx_parse(rq->body, rq->body_len, max_len, 0, true, out, &e);
    if (rc == IDP_ERR_TOO_LARGE) return IDP_FAIL(err, rc, "request body too large");
    if (rc != IDP_OK) return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX, "%s", e.msg);
    return IDP_OK;
}
