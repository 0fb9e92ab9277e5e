/* GET /forward-auth (issue 14, docs/FORWARD_AUTH.md): the decision a reverse proxy asks for
 * before it forwards a request (nginx auth_request, Traefik forwardAuth, Envoy ext_authz in HTTP
 * mode), answered from memory only: the request's key snapshot, the verified-token cache and the
 * node's denylist (own_token.h, verify/denylist.h), the client snapshot and the policy's
 * `routes:` (policy/policy_routes.h). No store access on this path.
 *
 * The original request: method from X-Original-Method (nginx) or X-Forwarded-Method (Traefik),
 * target from X-Original-URI or X-Forwarded-Uri, host from X-Forwarded-Host or else Host. When
 * both names of a pair are sent they must agree. The token: Authorization: Bearer (RFC 6750 §2.1).
 *
 * Answers (never 5xx for anything the request carries; nginx turns any status but 2xx, 401 and
 * 403 into a 500, so everything the client controls is one of those):
 *   400 invalid_request — the proxy sent no method or no URI (a proxy misconfiguration);
 *   403 access_denied (no WWW-Authenticate error) — no rule matches, or the path/host is one we
 *       refuse to interpret (policy_route_path / policy_route_host);
 *   200, no identity headers — a `public: true` rule (any token is ignored, not verified);
 *   401 WWW-Authenticate: Bearer error="invalid_token" — no token, a malformed, bad, expired or
 *       revoked token, a token of a deleted client or of an ended user (the denylist's receiver
 *       rule), or claims that cannot be carried in headers (see below);
 *   403 WWW-Authenticate: Bearer error="insufficient_scope"[, scope="..."] (RFC 6750 §3.1) — a
 *       valid token lacking the rule's scopes, permissions or audience;
 *   503 temporarily_unavailable + Retry-After — the denylist overflowed (DENY_UNKNOWN), or this
 *       node's tail of the revocation events has not reached the newest event for longer than
 *       FA_STALE_MS (the store cannot be read: another node may have revoked the token): we
 *       cannot tell whether the token was revoked, so we deny (fail closed) and say it is our
 *       fault, not the client's;
 *   200 with X-Auth-Subject (sub), X-Auth-Client-Id (client_id), X-Auth-Scope (the scope claim,
 *       space-separated as in the token), X-Auth-Roles (<ns>roles) and X-Auth-Groups (<ns>groups,
 *       released by a scope with `claims: [groups]`; else a plain `groups` claim),
 *       the last two comma-separated; a header is left out when the token has no such claim (the
 *       nginx example strips the client's own X-Auth-* headers, so the application sees none).
 * Header safety: in every value, bytes outside %x20-7E, '%' and (in the list headers) ',' are
 * percent-encoded (%XX, upper-case hex), so no claim can add a header or split a list item; a
 * value longer than FA_MAX_VALUE is refused (401) rather than truncated. */
#include "handle/endpoints.h"

#include "core/buf.h"
#include "core/jsonx.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "handle/oauth/own_token.h"
#include "oauth/client_cache.h"
#include "policy/policy.h"
#include "policy/policy_routes.h"
#include "proto/bearer.h"
#include "verify/denylist.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FA_REALM "idpd"
#define FA_RETRY_AFTER "5"
/* how old the denylist may be: 4 background wake-ups, at least 5 s (a slow tick is no outage) */
#define FA_STALE_MIN_MS 5000
#define FA_STALE_MS(c)                                                                             \
    ((c)->poll_interval_ms * 4 > FA_STALE_MIN_MS ? (c)->poll_interval_ms * 4 : FA_STALE_MIN_MS)

/* The response for an error code (status, JSON body from the idp_err table), with an RFC 6750
 * challenge for 401/403-bearer codes. Always IDP_OK: the answer is rendered here. */
static idp_err deny(http_response *rs, idp_err code, const char *desc)
{
    idp_error e = {.code = code, .func = __func__, .line = __LINE__};
    snprintf(e.msg, sizeof e.msg, "%s", desc);
    if (code == IDP_ERR_UNAUTHORIZED)
        response_bearer_error(rs, FA_REALM, &e);
    else
        response_error(rs, &e);
    return IDP_OK;
}

/* 403 insufficient_scope with the rule's scopes in the challenge (RFC 6750 §3: scope="..."). */
static idp_err insufficient(http_response *rs, const policy_route *r, const char *why)
{
    idp_error e = {.code = IDP_ERR_FORBIDDEN, .func = __func__, .line = __LINE__};
    snprintf(e.msg, sizeof e.msg, "%s", why);
    response_bearer_challenge(rs, FA_REALM, &e);
    idp_buf sc;
    buf_init(&sc, 0);
    policy_route_scopes(r, &sc);
    const char *s = buf_cstr(&sc);
    /* scope tokens are NQCHAR (RFC 6749 §3.3): no '"' or '\'; checked anyway */
    bool ok = *s && strlen(s) < 2048 && !strpbrk(s, "\"\\");
    if (ok) {
        char h[sizeof rs->headers[0].value];
        for (size_t i = 0; i < rs->nheaders; i++)
            if (!strcmp(rs->headers[i].name, "WWW-Authenticate")) {
                snprintf(h, sizeof h, "%.1900s, scope=\"%s\"", rs->headers[i].value, s);
                response_header_set(rs, "WWW-Authenticate", h);
            }
    }
    buf_free(&sc);
    response_error(rs, &e);
    return IDP_OK;
}

/* Appends s to out, percent-encoding what a header value must not carry (see the file
 * comment); comma too when list. False when out would exceed FA_MAX_VALUE. */
static bool put_safe(idp_buf *out, const char *s, bool list)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool enc = *p < 0x20 || *p > 0x7e || *p == '%' || (list && *p == ',');
        if (enc) {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(out, e, 3);
        } else {
            buf_putc(out, (char)*p);
        }
        if (out->len > FA_MAX_VALUE) return false;
    }
    return true;
}

bool forward_auth_header_value(const json_t *v, bool list, idp_buf *out)
{
    bool ok = true;
    if (json_is_string(v)) {
        ok = put_safe(out, json_string_value(v), list);
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        bool first = true;
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x)) continue;
            if (!first) buf_putc(out, ',');
            first = false;
            if (!(ok = put_safe(out, json_string_value(x), true))) break;
        }
    }
    return ok && out->len <= FA_MAX_VALUE;
}

/* Sets header name to claim v (forward_auth_header_value); "" is left out by the transport.
 * False when it does not fit. */
static bool set_identity(http_response *rs, const char *name, const json_t *v, bool list)
{
    idp_buf b;
    buf_init(&b, 0);
    bool ok = forward_auth_header_value(v, list, &b);
    if (ok) response_header_set(rs, name, buf_cstr(&b));
    buf_free(&b);
    return ok;
}

/* One of two header names: the first given; both given must be equal. *conflict when not. */
static const char *either(const http_request *rq, const char *n1, const char *n2, bool *conflict)
{
    const char *a = request_header(rq, n1), *b = request_header(rq, n2);
    *conflict = a && b && strcmp(a, b) != 0;
    return a ? a : b;
}

idp_err forward_auth_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    (void)err;
    rs->no_store = true;
    bool c1 = false, c2 = false;
    const char *m = either(rq, "X-Original-Method", "X-Forwarded-Method", &c1);
    const char *uri = either(rq, "X-Original-URI", "X-Forwarded-Uri", &c2);
    if (!m || !uri)
        return deny(rs, IDP_ERR_OAUTH_INVALID_REQUEST,
                    "X-Original-Method and X-Original-URI (or X-Forwarded-Method and "
                    "X-Forwarded-Uri) are required");
    if (c1 || c2)
        return deny(rs, IDP_ERR_OAUTH_INVALID_REQUEST,
                    "the X-Original-* and X-Forwarded-* headers disagree");
    unsigned mbit = policy_route_method(m, strlen(m));
    if (!mbit)
        return deny(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "the original method is not a method");
    char path[POLICY_ROUTE_MAX_PATH + 1];
    const char *why = policy_route_path(uri, strlen(uri), path);
    if (why) return deny(rs, IDP_ERR_OAUTH_ACCESS_DENIED, why);
    /* X-Forwarded-Host wins over Host: behind a proxy, Host names idpd, not the app */
    const char *h = request_header(rq, "X-Forwarded-Host");
    if (!h) h = request_header(rq, "Host");
    char host[POLICY_ROUTE_MAX_HOST + 1] = "";
    if (h && !policy_route_host(h, strlen(h), host))
        return deny(rs, IDP_ERR_OAUTH_ACCESS_DENIED, "the original host is not a host name");
    const policy *pol = rq->policy;
    const policy_route *r = pol ? policy_route_match(pol, mbit, h ? host : NULL, path) : NULL;
    if (!r) return deny(rs, IDP_ERR_OAUTH_ACCESS_DENIED, "no route rule allows this request");
    if (r->is_public) return IDP_OK; /* 200, no identity: a public rule ignores any token */

    const char *tok = NULL;
    size_t n = 0;
    idp_err prc = bearer_parse(rq->authorization, &tok, &n, NULL);
    if (prc == IDP_ERR_NOT_FOUND) return deny(rs, IDP_ERR_UNAUTHORIZED, "no access token");
    if (prc != IDP_OK) return deny(rs, IDP_ERR_UNAUTHORIZED, "malformed Bearer credentials");
    json_t *claims = NULL;
    idp_error verr = {0};
    if (own_token_verify(a, rq, tok, n, &claims, &verr) != IDP_OK)
        return deny(rs, IDP_ERR_UNAUTHORIZED, "the access token is invalid or expired");
    /* activity, from memory (own_token.h leaves it to us): the client snapshot, then the
     * denylist's receiver rule (verify/rev_event.h) for the jti and the user's epoch */
    const char *cid = jsonx_str(claims, "client_id");
    const json_t *iatj = json_object_get(claims, "iat");
    int64_t iat = json_is_integer(iatj) ? (int64_t)json_integer_value(iatj) : 0;
    if (!cid || !client_cache_find(rq->clients, cid, strlen(cid))) {
        deny(rs, IDP_ERR_UNAUTHORIZED, "the access token's client no longer exists");
        goto out;
    }
    deny_result dr = a->deny ? denylist_check(a->deny, jsonx_str(claims, "jti"),
                                              jsonx_str(claims, "sub"), iat, time_now())
                             : DENY_UNKNOWN;
    if (dr == DENY_REVOKED) {
        deny(rs, IDP_ERR_UNAUTHORIZED, "the access token was revoked");
        goto out;
    }
    int64_t synced = atomic_load_explicit(&a->deny_sync.synced_ms, memory_order_relaxed);
    bool stale = synced == 0 || time_now_ms() - synced > (int64_t)FA_STALE_MS(a->cfg);
    if (dr != DENY_OK || stale) { /* fail closed, and say it is ours (docs/FORWARD_AUTH.md) */
        response_header_set(rs, "Retry-After", FA_RETRY_AFTER);
        deny(rs, IDP_ERR_UNAVAILABLE,
             stale ? "revocation state stale" : "revocation state unknown");
        goto out;
    }
    char what = 0;
    if ((why = policy_route_check(pol, r, claims, &what))) {
        insufficient(rs, r, why);
        goto out;
    }
    char rn[256], gn[256];
    const char *ns = policy_claim_namespace(pol);
    snprintf(rn, sizeof rn, "%sroles", ns ? ns : "");
    snprintf(gn, sizeof gn, "%sgroups", ns ? ns : "");
    const json_t *groups = json_object_get(claims, gn);
    if (!groups) groups = json_object_get(claims, "groups");
    if (!set_identity(rs, "X-Auth-Subject", json_object_get(claims, "sub"), false) ||
        !set_identity(rs, "X-Auth-Client-Id", json_object_get(claims, "client_id"), false) ||
        !set_identity(rs, "X-Auth-Scope", json_object_get(claims, "scope"), false) ||
        !set_identity(rs, "X-Auth-Roles", json_object_get(claims, rn), true) ||
        !set_identity(rs, "X-Auth-Groups", groups, true)) {
        rs->nheaders = 0;
        deny(rs, IDP_ERR_UNAUTHORIZED, "the access token's claims are too large for headers");
        goto out;
    }
    response_set_client(rs, cid, strlen(cid));
out:
    json_decref(claims);
    return IDP_OK;
}
