/* GET and POST /logout — the end_session_endpoint of OIDC RP-Initiated Logout 1.0: ends the
 * browser session, revokes the refresh tokens issued in it, notifies the clients of the session
 * that registered a back-channel logout URI (OIDC Back-Channel Logout 1.0), then redirects to a
 * post_logout_redirect_uri registered for the client (exact match) with state, or shows the
 * signed-out page.
 *
 * With a valid id_token_hint (ours, any age: §2) for the signed-in user the logout happens at
 * once; otherwise the user confirms on a page (CSRF-protected), so a third-party page cannot sign
 * the user out. */
#include "handle/endpoints.h"

#include "core/jsonx.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "http/cookie.h"
#include "http/request_form.h"
#include "keys/keyset.h"
#include "proto/authz_request.h"
#include "handle/oauth/backchannel.h"
#include "oauth/client_cache.h"
#include "proto/redirect_uri.h"
#include "verify/token_verify.h"
#include "handle/signin/web.h"
#include "ui/ui.h"

#include <stdlib.h>
#include <string.h>

#define LOGOUT_HINT_MAX 8192

/* Does the ID token's aud (a string, or an array, OIDC Core §2) name client_id? */
static bool aud_has(const json_t *aud, const char *client_id)
{
    if (json_is_string(aud)) return strcmp(json_string_value(aud), client_id) == 0;
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), client_id) == 0) return true;
    }
    return false;
}

/* The client the hint was issued to: azp, else a single-valued aud (OIDC Core §2). */
static const char *hint_client(const json_t *c)
{
    const char *azp = jsonx_str(c, "azp");
    if (azp) return azp;
    return jsonx_str(c, "aud");
}

/* The verified claims of an ID token we issued to a client that is still registered, or NULL.
 * RFC 8725 §3.11-3.12: the JWT must be of the kind we expect here, so the header typ must be
 * absent or "JWT" (what our ID tokens carry; access tokens are "at+jwt", logout tokens
 * "logout+jwt"), the payload must not be a logout token (no "events") and its aud must name the
 * client it was issued to, a client of the current snapshot. Signature, iss and sub are checked;
 * expiry is not (an expired ID token is still a valid hint, RP-Initiated Logout §2). */
static json_t *hint_claims(struct app *a, const http_request *rq, const char *hint)
{
    if (!hint || !rq->keys || strlen(hint) > LOGOUT_HINT_MAX) return NULL;
    token_verify_opts o = {.keys = keyset_public(rq->keys), .algs = JWS_ALGS_ALL, .typ = "JWT",
                           .typ_optional = true, .issuer = a->cfg->issuer, .ignore_times = true,
                           .require_sub = true};
    json_t *c = NULL;
    if (token_verify(hint, strlen(hint), &o, &c, NULL) != IDP_OK) return NULL;
    const char *cid = hint_client(c);
    bool ok = !json_object_get(c, "events") && cid && aud_has(json_object_get(c, "aud"), cid) &&
              client_cache_find(rq->clients, cid, strlen(cid));
    if (ok) return c;
    json_decref(c);
    return NULL;
}

static void finish(struct app *a, http_response *rs, const char *post_uri, const char *state)
{
    if (post_uri) {
        idp_buf url;
        buf_init(&url, 4000);
        const char *kv[] = {"state", state};
        if (redirect_uri_build(&url, post_uri, kv, 1, NULL) == IDP_OK) {
            web_redirect(rs, buf_cstr(&url));
            buf_free(&url);
            return;
        }
        buf_free(&url);
    }
    idp_buf html;
    buf_init(&html, 0);
    ui_render_logged_out(&html, NULL);
    web_html(rs, 200, &html);
    buf_free(&html);
}

/* Ends session s: in one transaction deletes it, revokes its refresh tokens and records the
 * audit event; only once that is committed are the back-channel notifications queued and the
 * cookie deleted. A store failure leaves everything as it was and is returned: the caller must
 * not tell the user they are signed out (RP-Initiated Logout §2; a Back-Channel Logout §2.4
 * logout token announces a session that ended, not one that did not). */
static idp_err end_session(struct app *a, const http_request *rq, http_response *rs,
                           const store_session *s, idp_error *err)
{
    int64_t now = time_now();
    size_t n = 0;
    store_audit ev = {.time_ms = time_now_ms(), .actor = "user", .action = "session.logout",
                      .target_type = "User", .target_id = s->user_id};
    idp_err rc = store_tx_begin(a->st, err);
    if (rc != IDP_OK) return rc;
    rc = a->st->ops->refresh_revoke_session(a->st, s->sid, now, &n, err);
    if (rc == IDP_OK && (rc = a->st->ops->session_delete(a->st, s->hash, err)) == IDP_ERR_NOT_FOUND)
        rc = IDP_OK; /* a concurrent logout ended it first */
    if (rc != IDP_OK || (rc = a->st->ops->audit_append(a->st, &ev, err)) != IDP_OK ||
        (rc = store_tx_commit(a->st, err)) != IDP_OK) {
        store_tx_rollback(a->st);
        return rc;
    }
    backchannel_notify(a, rq, s);
    web_set_cookie(a, rs, WEB_SESSION_COOKIE, "", COOKIE_DELETE);
    return IDP_OK;
}

idp_err logout_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    const form *fp = NULL;
    store_session s = {0};
    store_user u = {0};
    json_t *hint = NULL;
    bool found = false;
    idp_err rc = IDP_OK;
    rs->no_store = true;
    bool post = strcmp(rq->method, "POST") == 0;
    if (post) {
        idp_error fe = {0};
        if (request_form(rq, &f, &fe) != IDP_OK) {
            web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-out failed", fe.msg);
            return IDP_OK;
        }
        fp = &f;
    }
    const char *hint_s = web_param(rq, fp, "id_token_hint");
    const char *post_uri = web_param(rq, fp, "post_logout_redirect_uri");
    const char *state = web_param(rq, fp, "state"), *cid = web_param(rq, fp, "client_id");
    if (hint_s && *hint_s && !(hint = hint_claims(a, rq, hint_s))) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-out failed",
                       "The id_token_hint is not an ID token this server issued to a "
                       "registered application.");
        goto out;
    }
    const char *hc = hint ? hint_client(hint) : NULL;
    if (hc && cid && strcmp(hc, cid) != 0) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-out failed",
                       "client_id does not match the id_token_hint.");
        goto out;
    }
    if (!cid) cid = hc;
    const client_entry *ce = cid ? client_cache_find(rq->clients, cid, strlen(cid)) : NULL;
    if (post_uri && *post_uri) {
        /* §3: only a URI registered for the client, matched exactly */
        if (!ce || !ce->post_logout_redirect_uris ||
            !redirect_uri_registered(post_uri, ce->post_logout_redirect_uris)) {
            web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-out failed",
                           "The post_logout_redirect_uri is not registered for this application.");
            goto out;
        }
    } else {
        post_uri = NULL;
    }
    if (state && strlen(state) > 512) state = NULL;
    if ((rc = web_session_load(a, rq, time_now(), &s, &u, &found, err)) != IDP_OK) goto out;
    if (!found) {
        finish(a, rs, post_uri, state);
        goto out;
    }
    bool confirmed = false;
    if (post && fp && form_get(fp, "csrf")) {
        if (!web_session_csrf_ok(a, &s, form_get(fp, "csrf"))) {
            web_error_page(rs, IDP_ERR_FORBIDDEN, "Sign-out failed",
                           "The form was not sent by this site.");
            goto out;
        }
        confirmed = true;
    }
    const char *hsub = hint ? jsonx_str(hint, "sub") : NULL, *hsid = hint ? jsonx_str(hint, "sid") : NULL;
    bool same = hsub && strcmp(hsub, s.user_id) == 0 && (!hsid || strcmp(hsid, s.sid) == 0);
    if (!confirmed && !same) {
        char csrf[44];
        web_session_csrf(a, &s, csrf);
        ui_logout p = {.action = "/logout", .csrf = csrf, .client_name = ce ? ce->name : NULL,
                       .state = state, .post_logout_redirect_uri = post_uri,
                       .id_token_hint = hint ? hint_s : NULL,
                       .client_id = ce ? ce->client_id : NULL};
        idp_buf html;
        buf_init(&html, 0);
        if ((rc = ui_render_logout(&html, &p, err)) == IDP_OK) web_html(rs, 200, &html);
        buf_free(&html);
        /* the form carries client_id, so a post_logout_redirect_uri registered for it is
         * honoured after the confirmation without an id_token_hint (RP-Initiated Logout §2) */
        goto out;
    }
    idp_error se = {0};
    if (end_session(a, rq, rs, &s, &se) != IDP_OK) {
        log_msg(LOG_ERROR, "sign-out refused: %s", se.msg);
        web_error_page(rs, IDP_ERR_UNAVAILABLE, "Sign-out failed",
                       "You are still signed in: the sign-out could not be completed. Try again "
                       "in a few minutes.");
        goto out;
    }
    finish(a, rs, post_uri, state);
out:
    json_decref(hint);
    store_session_clear(&s);
    store_user_clear(&u);
    return rc;
}
