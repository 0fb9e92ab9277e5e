/* GET /federation/{name}/start and GET /federation/{name}/callback: upstream sign-in (issue 12,
 * docs/FEDERATION.md "Upstream sign-in"), idpd as an OpenID Connect relying party of a trusted
 * issuer with `login`.
 *
 * start: the login page's button carries the login CSRF token and idpd's sealed authorization
 * request (as the password form does). A fresh state, nonce and PKCE code_verifier go, with the
 * sealed request, into a sealed cookie (proto/upstream_login.h: AES-256-GCM under the master
 * key, bound to the issuer name, 10 minutes, Path=/federation/), and the browser is sent to the
 * upstream's authorization_endpoint (from its discovery document, fed_registry_endpoints).
 *
 * callback: the state must equal the cookie's and is used once (fed_jti_use under
 * "urn:idpd:upstream-login:<name>", pruned by oidc_prune); RFC 9207 iss, when present, must be
 * the issuer; an upstream error goes back to the client as access_denied; else the code is
 * exchanged at the token_endpoint with client_secret_basic (the secret read from
 * login.client_secret_file at each use), the ID token verified (fed_verify FED_USE_ID_TOKEN:
 * signature, iss, aud = client_id, exp, algorithm) and its nonce checked, the local user
 * resolved (fed_subject_resolve, create: jit or link_only; provision none has no local user and
 * is refused), and the browser session started (amr "ext") to continue the original request
 * exactly as the password login does. Every decision is counted (fed_registry_count, grant
 * "login") and every rejection logged with its reason. */
#include "handle/signin/authorize.h"
#include "handle/endpoints.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "federation/fed_registry.h"
#include "federation/fed_subject.h"
#include "federation/fed_verify.h"
#include "fetch/fetch.h"
#include "handle/app.h"
#include "handle/signin/web.h"
#include "http/cookie.h"
#include "policy/policy_fed.h"
#include "proto/upstream_login.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FED_COOKIE "idpd_fed"
#define FED_COOKIE_PATH "/federation/"
#define FED_SECRET_MAX 4096
#define FED_AMR "ext" /* RFC 8176 registers no value for federated sign-in */
#define TITLE "Sign-in failed"

static void page(http_response *rs, int status, const char *msg)
{
    web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, TITLE, msg);
    rs->status = status;
}

static void set_pending_cookie(const struct app *a, http_response *rs, const char *value,
                               int64_t max_age)
{
    char v[UPSTREAM_PENDING_MAX + 256];
    cookie_attrs at = {.name = FED_COOKIE,
                       .value = value,
                       .path = FED_COOKIE_PATH,
                       .max_age = max_age,
                       .http_only = true,
                       .secure = web_secure_cookies(a->cfg->issuer),
                       .same_site = COOKIE_SAMESITE_LAX};
    if (cookie_format(v, sizeof v, &at) > 0) response_header_add(rs, "Set-Cookie", v);
}

/* The issuer of the route, or NULL after a 404 page. */
static const fed_issuer *route_issuer(const http_request *rq, http_response *rs)
{
    const fed_issuer *is =
        rq->policy && rq->param ? policy_fed_by_name(rq->policy, rq->param) : NULL;
    if (!is || !is->login) {
        web_error_page(rs, IDP_ERR_NOT_FOUND, TITLE, "This sign-in provider is not known.");
        return NULL;
    }
    return is;
}

static bool query_repeated(const http_request *rq, http_response *rs)
{
    if (!request_query_repeated(rq)) return false;
    page(rs, 400, "The request repeats a parameter.");
    return true;
}

static void redirect_uri_of(const struct app *a, const fed_issuer *is, char *out, size_t cap)
{
    snprintf(out, cap, "%s/federation/%s/callback", a->cfg->issuer, is->name);
}

idp_err federation_start_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    (void)err;
    rs->no_store = true;
    const fed_issuer *is = route_issuer(rq, rs);
    if (!is || query_repeated(rq, rs)) return IDP_OK;
    const char *csrf = request_query(rq, "csrf"), *req = request_query(rq, "request");
    if (!req || !*req || strlen(req) > AUTHZ_REQUEST_MAX_SEALED || !csrf || strlen(csrf) > 64) {
        page(rs, 400,
             "The sign-in request is missing or too large. Go back to the application "
             "and sign in again.");
        return IDP_OK;
    }
    if (!web_login_csrf_ok(a, rq, csrf)) {
        web_error_page(rs, IDP_ERR_FORBIDDEN, TITLE,
                       "The sign-in form has expired or was not sent by this site. Go back to the "
                       "application and sign in again.");
        return IDP_OK;
    }
    int64_t now = time_now();
    authz_request r = {0};
    if (authz_request_open(a->kek, req, now, &r, NULL) != IDP_OK) {
        page(rs, 400,
             "The sign-in request is invalid or has expired. Go back to the application "
             "and sign in again.");
        return IDP_OK;
    }
    authz_request_clear(&r);
    /* `policy check` refuses login with provision none: a browser session needs a local user */
    char authz[FED_URL_MAX + 1], token[FED_URL_MAX + 1];
    idp_error ee = {0};
    if (fed_registry_endpoints(a->fed, is, authz, sizeof authz, token, sizeof token, &ee) !=
        IDP_OK) {
        log_msg(LOG_WARN, "upstream sign-in with %s unavailable: %s", is->name, ee.msg);
        web_error_page(rs, IDP_ERR_UNAVAILABLE, TITLE,
                       "Sign-in with this provider is temporarily unavailable. Try again in a "
                       "minute, or sign in with a password.");
        response_header_set(rs, "Retry-After", "30");
        return IDP_OK;
    }
    char *state = rand_token(32), *nonce = rand_token(32), *verifier = rand_token(32);
    char redirect_uri[FED_URL_MAX + 1];
    redirect_uri_of(a, is, redirect_uri, sizeof redirect_uri);
    upstream_pending p = {.name = (char *)is->name,
                          .state = state,
                          .nonce = nonce,
                          .verifier = verifier,
                          .request = (char *)req,
                          .expires_at = now + UPSTREAM_PENDING_TTL};
    char *sealed = NULL;
    idp_buf url;
    buf_init(&url, 8192);
    idp_error se = {0};
    idp_err rc = upstream_login_pending_seal(a->kek, &p, &sealed, &se);
    if (rc == IDP_OK)
        rc = upstream_login_authz_url(&url, authz, is->login->client_id, redirect_uri, is->login->scopes,
                                is->login->nscopes, state, nonce, verifier, &se);
    if (rc == IDP_ERR_TOO_LARGE) {
        page(rs, 400, "The sign-in request is too large for this sign-in provider.");
    } else if (rc != IDP_OK) {
        log_msg(LOG_ERROR, "upstream sign-in with %s: %s", is->name, se.msg);
        web_error_page(rs, IDP_ERR_INTERNAL, TITLE, "Sign-in failed. Try again later.");
    } else {
        set_pending_cookie(a, rs, sealed, UPSTREAM_PENDING_TTL);
        web_redirect(rs, buf_cstr(&url));
    }
    buf_free(&url);
    free(sealed);
    mem_free_secret(state);
    mem_free_secret(nonce);
    mem_free_secret(verifier);
    return IDP_OK;
}

/* ---- the callback ---- */

/* Counts the decision and logs a rejection with its reason. */
static void decide(struct app *a, const fed_issuer *is, fed_reason why, const char *detail)
{
    fed_registry_count(a->fed, is, "login", why);
    if (why != FED_ACCEPTED)
        log_msg(LOG_WARN, "upstream sign-in with %s refused: %s%s%s", is ? is->name : "(unknown)",
                fed_verify_reason_name(why), detail && *detail ? ": " : "", detail ? detail : "");
}

/* The client secret from login.client_secret_file (read at each use, so a rotated file needs no
 * restart): the first line, trailing whitespace removed. NULL (and an operator message in the
 * log, never the content) when missing, unreadable, empty or too large. Owned (mem_free_secret). */
static char *read_secret(const fed_issuer *is)
{
    const char *path = is->login->client_secret_file;
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_msg(LOG_ERROR,
                "upstream sign-in with %s: cannot read login.client_secret_file %s: %s (the file "
                "must exist and be readable by idpd)",
                is->name, path, strerror(errno));
        return NULL;
    }
    char *buf = xmalloc(FED_SECRET_MAX + 2);
    size_t n = fread(buf, 1, FED_SECRET_MAX + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    buf[n] = '\0';
    if (!bad && n <= FED_SECRET_MAX) {
        buf[strcspn(buf, "\r\n")] = '\0';
        n = strlen(buf);
        while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
            buf[--n] = '\0';
    }
    if (bad || n == 0 || n > FED_SECRET_MAX) {
        log_msg(LOG_ERROR,
                "upstream sign-in with %s: login.client_secret_file %s is %s (it must hold the "
                "client secret on its first line, at most %d bytes)",
                is->name, path,
                bad      ? "unreadable"
                : n == 0 ? "empty"
                         : "too large",
                FED_SECRET_MAX);
        mem_wipe(buf, FED_SECRET_MAX + 2);
        free(buf);
        return NULL;
    }
    return buf;
}

/* Exchanges code at the token endpoint; *id_token owned. On failure a 502/503 page is set and
 * false returned. */
static bool exchange_code(struct app *a, http_response *rs, const fed_issuer *is,
                          const char *token_endpoint, const char *code, const char *redirect_uri,
                          const char *verifier, char **id_token)
{
    *id_token = NULL;
    char *secret = read_secret(is);
    if (!secret) {
        decide(a, is, FED_R_CLIENT, "login.client_secret_file cannot be used (see above)");
        web_error_page(rs, IDP_ERR_INTERNAL, TITLE,
                       "Sign-in with this provider is not set up correctly. The administrator "
                       "has been told in the server log.");
        return false;
    }
    char *basic = fetch_basic_auth(is->login->client_id, secret);
    mem_free_secret(secret);
    idp_buf form, body;
    buf_init(&form, 8192);
    buf_init(&body, UPSTREAM_TOKEN_RESPONSE_MAX);
    bool ok = false;
    idp_error e = {0};
    fetch_resp fr = {0};
    fetch_opts o = {.timeout_ms = is->jwks.fetch_timeout_ms > 0 ? is->jwks.fetch_timeout_ms : 3000,
                    .allow_http = is->allow_http_loopback,
                    .user_agent = "idpd",
                    .authorization = basic};
    if (!basic || upstream_login_token_form(&form, code, redirect_uri, verifier, &e) != IDP_OK) {
        decide(a, is, FED_R_MALFORMED, "the token request could not be built");
        page(rs, 400, "The response of the identity provider is invalid.");
        goto out;
    }
    idp_err rc = fetch_post_form(token_endpoint, buf_cstr(&form), &o, &body, &fr, &e);
    if (rc == IDP_ERR_IO && (strstr(e.msg, "timed out") || strstr(e.msg, "imeout"))) {
        decide(a, is, FED_R_UPSTREAM_UNAVAILABLE, "the token endpoint timed out");
        page(rs, 503, "The identity provider did not answer in time. Try again in a minute.");
        response_header_set(rs, "Retry-After", "30");
        goto out;
    }
    if (rc != IDP_OK || fr.status != 200) {
        char d[300];
        if (rc != IDP_OK)
            snprintf(d, sizeof d, "token endpoint: %s", e.msg);
        else
            snprintf(d, sizeof d, "token endpoint answered HTTP %ld", fr.status);
        if (rc == IDP_OK) {
            idp_error te = {0};
            char *t = NULL;
            if (upstream_login_token_response(buf_cstr(&body), body.len, &t, &te) != IDP_OK &&
                te.code == IDP_ERR_OAUTH_INVALID_GRANT) {
                size_t l = strlen(d);
                snprintf(d + l, sizeof d - l, " (%s)", te.msg);
            }
            free(t);
        }
        decide(a, is, rc != IDP_OK ? FED_R_UPSTREAM_UNAVAILABLE : FED_R_UPSTREAM_ERROR, d);
        page(rs, 502, "The identity provider refused or failed the sign-in. Try again later.");
        goto out;
    }
    if (upstream_login_token_response(buf_cstr(&body), body.len, id_token, &e) != IDP_OK) {
        decide(a, is, FED_R_MALFORMED, e.msg);
        page(rs, 502, "The identity provider sent an invalid answer. Try again later.");
        goto out;
    }
    ok = true;
out:
    if (basic) mem_free_secret(basic);
    mem_wipe(form.data, form.len);
    buf_free(&form);
    buf_free(&body);
    return ok;
}

/* The single use of the state: "urn:idpd:upstream-login:<name>" and SHA-256 of the state. */
static idp_err state_use(struct app *a, const fed_issuer *is, const upstream_pending *p,
                         int64_t now)
{
    char iss[128], jti[64];
    unsigned char d[32];
    snprintf(iss, sizeof iss, "urn:idpd:upstream-login:%s", is->name);
    SHA256((const unsigned char *)p->state, strlen(p->state), d);
    b64url_encode_to(jti, d, sizeof d);
    return a->st->ops->fed_jti_use(a->st, iss, jti, p->expires_at, now, 0, NULL);
}

static void audit_login(struct app *a, const store_user *u, const fed_issuer *is)
{
    char actor[64], detail[160];
    snprintf(actor, sizeof actor, "user:%s", u->id);
    snprintf(detail, sizeof detail, "{\"method\":\"upstream\",\"issuer\":\"%s\"}", is->name);
    store_audit ev = {.time_ms = time_now_ms(),
                      .actor = actor,
                      .action = "login.success",
                      .target_type = "User",
                      .target_id = u->id,
                      .detail = detail};
    a->st->ops->audit_append(a->st, &ev, NULL);
}

idp_err federation_callback_handle(struct app *a, http_request *rq, http_response *rs,
                                   idp_error *err)
{
    rs->no_store = true;
    const fed_issuer *is = route_issuer(rq, rs);
    if (!is) {
        decide(a, NULL, FED_R_UNKNOWN_ISSUER, "no issuer with login by the callback's name");
        return IDP_OK;
    }
    if (query_repeated(rq, rs)) {
        decide(a, is, FED_R_MALFORMED, "a repeated callback parameter");
        return IDP_OK;
    }
    upstream_callback cb;
    idp_error pe = {0};
    if (upstream_login_callback_parse(request_query(rq, "state"), request_query(rq, "code"),
                                request_query(rq, "error"), request_query(rq, "iss"), &cb,
                                &pe) != IDP_OK) {
        decide(a, is, FED_R_MALFORMED, pe.msg);
        page(rs, 400, pe.msg);
        return IDP_OK;
    }
    int64_t now = time_now();
    upstream_pending p = {0};
    authz_request r = {0};
    store_session s = {0};
    fed_verified v = {0};
    fed_subject subj = {0};
    char *id_token = NULL;
    idp_err rc = IDP_OK;
    char cookie[UPSTREAM_PENDING_MAX + 1];
    if (!web_cookie(rq, FED_COOKIE, cookie, sizeof cookie) ||
        upstream_login_pending_open(a->kek, is->name, cookie, now, &p, NULL) != IDP_OK ||
        !upstream_login_pending_state_ok(&p, cb.state)) {
        decide(a, is, FED_R_MALFORMED, "state unknown, expired or from another browser");
        page(rs, 400,
             "This sign-in is unknown or has expired. Go back to the application and "
             "sign in again.");
        goto out;
    }
    /* from here on the pending sign-in is spent, whatever happens */
    set_pending_cookie(a, rs, "", COOKIE_DELETE);
    idp_err ur = state_use(a, is, &p, now);
    if (ur == IDP_ERR_CONFLICT) {
        decide(a, is, FED_R_REPLAY, "the state was used before");
        page(rs, 400,
             "This sign-in was already used. Go back to the application and sign in "
             "again.");
        goto out;
    }
    if (ur != IDP_OK) {
        decide(a, is, FED_R_STORE, "the state's single use could not be recorded");
        page(rs, 503, "Sign-in is temporarily unavailable. Try again in a few minutes.");
        response_header_set(rs, "Retry-After", "60");
        goto out;
    }
    /* RFC 9207 §2.4: an iss that is not the issuer's is a mix-up */
    if (cb.iss && strcmp(cb.iss, is->issuer) != 0) {
        decide(a, is, FED_R_UNKNOWN_ISSUER, "the authorization response's iss is another issuer");
        page(rs, 400, "The response came from another identity provider than expected.");
        goto out;
    }
    if (authz_request_open(a->kek, p.request, now, &r, NULL) != IDP_OK) {
        decide(a, is, FED_R_EXPIRED, "idpd's authorization request has expired");
        page(rs, 400,
             "The sign-in request has expired. Go back to the application and sign in "
             "again.");
        goto out;
    }
    const client_entry *ce = client_cache_find(rq->clients, r.client_id, strlen(r.client_id));
    if (!ce) {
        decide(a, is, FED_R_CLIENT, "the application is not known any more");
        page(rs, 400, "The application is not known.");
        goto out;
    }
    response_set_client(rs, ce->client_id, ce->id_len);
    if (cb.error) {
        char d[UPSTREAM_ERROR_MAX + 40];
        snprintf(d, sizeof d, "the upstream answered error=%s", cb.error);
        decide(a, is, FED_R_UPSTREAM_ERROR, d);
        authorize_redirect_error(a, rs, &r, IDP_ERR_OAUTH_ACCESS_DENIED,
                                 "the upstream identity provider did not sign the user in");
        goto out;
    }
    char authz[FED_URL_MAX + 1], token[FED_URL_MAX + 1], redirect_uri[FED_URL_MAX + 1];
    idp_error ee = {0};
    if (fed_registry_endpoints(a->fed, is, authz, sizeof authz, token, sizeof token, &ee) !=
        IDP_OK) {
        decide(a, is, FED_R_UPSTREAM_UNAVAILABLE, ee.msg);
        page(rs, 503,
             "Sign-in with this provider is temporarily unavailable. Try again in a "
             "minute.");
        response_header_set(rs, "Retry-After", "30");
        goto out;
    }
    redirect_uri_of(a, is, redirect_uri, sizeof redirect_uri);
    if (!exchange_code(a, rs, is, token, cb.code, redirect_uri, p.verifier, &id_token)) goto out;
    /* the ID token: fed_verify's order (signature, iss, aud = login.client_id, exp, alg) */
    fed_verify_in vin = {.token = id_token,
                         .len = strlen(id_token),
                         .use = FED_USE_ID_TOKEN,
                         .policy = rq->policy,
                         .keys = fed_registry_keys,
                         .keys_ctx = a->fed,
                         .now = now};
    fed_reason why = FED_ACCEPTED;
    idp_error ve = {0};
    idp_err vr = fed_verify(&vin, &v, &why, &ve);
    if (vr == IDP_OK && v.is != is) {
        vr = IDP_ERR_OAUTH_INVALID_GRANT;
        why = FED_R_UNKNOWN_ISSUER;
        snprintf(ve.msg, sizeof ve.msg, "the ID token is from another issuer");
    }
    if (vr != IDP_OK) {
        decide(a, is, why, ve.msg);
        if (vr == IDP_ERR_UNAVAILABLE) {
            page(rs, 503, "The identity provider's keys are unavailable. Try again in a minute.");
            response_header_set(rs, "Retry-After", "30");
        } else {
            page(rs, 400, "The identity provider's answer could not be verified.");
        }
        goto out;
    }
    const char *nonce = jsonx_str(v.claims, "nonce");
    if (!nonce || strlen(nonce) != strlen(p.nonce) ||
        CRYPTO_memcmp(nonce, p.nonce, strlen(p.nonce)) != 0) {
        decide(a, is, FED_R_NONCE, "the ID token's nonce is not the one sent");
        page(rs, 400, "The identity provider's answer could not be verified.");
        goto out;
    }
    idp_error re = {0};
    idp_err sr = fed_subject_resolve(a->st, &v, true, &subj, &why, &re);
    if (sr == IDP_OK && !subj.local) {
        sr = IDP_ERR_OAUTH_INVALID_GRANT;
        why = FED_R_NOT_LINKED;
        snprintf(re.msg, sizeof re.msg, "no local user");
    }
    if (sr != IDP_OK) {
        decide(a, is, why, re.msg);
        if (why == FED_R_NOT_LINKED)
            web_error_page(rs, IDP_ERR_FORBIDDEN, TITLE,
                           "Your account at this provider is not linked to an account here. Ask "
                           "the administrator to link it.");
        else if (why == FED_R_INACTIVE_USER)
            web_error_page(rs, IDP_ERR_FORBIDDEN, TITLE, "This account is disabled.");
        else {
            page(rs, 503, "Sign-in is temporarily unavailable. Try again in a few minutes.");
            response_header_set(rs, "Retry-After", "60");
        }
        goto out;
    }
    if (web_session_start(a, rs, &subj.user, FED_AMR, now, &s, NULL) != IDP_OK) {
        decide(a, is, FED_R_STORE, "the session could not be written");
        page(rs, 503, "Sign-in is temporarily unavailable. Try again in a few minutes.");
        response_header_set(rs, "Retry-After", "60");
        goto out;
    }
    decide(a, is, FED_ACCEPTED, NULL);
    audit_login(a, &subj.user, is);
    rc = authorize_continue(a, rq, rs, ce, &r, &s, &subj.user, false, err);
out:
    if (id_token) mem_free_secret(id_token);
    fed_subject_clear(&subj);
    fed_verify_clear(&v);
    store_session_clear(&s);
    authz_request_clear(&r);
    upstream_login_pending_clear(&p);
    mem_wipe(cookie, sizeof cookie);
    return rc;
}
