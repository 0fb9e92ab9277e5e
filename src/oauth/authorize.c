/* GET and POST /authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 9700 §2.1): validates the
 * client and the redirect_uri first (errors before that are shown on an error page, never
 * redirected: §4.1.2.1), then everything else, with errors redirected to the client. */
#include "oauth/authorize.h"

#include "core/b64url.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "http/app.h"
#include "http/form.h"
#include "http/request_form.h"
#include "oauth/endpoints.h"
#include "oauth/oidc.h"
#include "oauth/pkce.h"
#include "oauth/redirect_uri.h"
#include "oauth/refresh.h"
#include "oauth/resource.h"
#include "oauth/scope.h"
#include "oauth/web.h"
#include "policy/policy.h"
#include "ui/ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTHZ_STATE_MAX 512  /* characters of state and nonce we carry */
#define AUTHZ_HINT_MAX 256

void authorize_redirect_error(struct app *a, http_response *rs, const authz_request *r,
                              const char *error, const char *description)
{
    idp_buf url;
    buf_init(&url, 4000);
    const char *kv[] = {"error", error, "error_description", description, "state", r->state,
                        "iss", a->cfg->issuer};
    if (redirect_uri_build(&url, r->redirect_uri, kv, 4, NULL) == IDP_OK)
        web_redirect(rs, buf_cstr(&url));
    else
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed", description);
    buf_free(&url);
}

idp_err authorize_show_login(struct app *a, const http_request *rq, http_response *rs,
                             const client_entry *ce, const authz_request *r, const char *error,
                             int status, idp_error *err)
{
    char csrf[44];
    char *sealed = NULL;
    idp_buf html;
    buf_init(&html, 0);
    idp_err rc = authz_request_seal(a->kek, r, &sealed, err);
    if (rc != IDP_OK) goto out;
    web_login_csrf(a, rq, rs, csrf);
    ui_login p = {.action = "/login", .csrf = csrf, .request_id = sealed,
                  .login_hint = r->login_hint, .error = error, .client_name = ce->name};
    if ((rc = ui_render_login(&html, &p, err)) != IDP_OK) goto out;
    web_html(rs, status, &html);
out:
    free(sealed);
    buf_free(&html);
    return rc;
}

/* Does the stored consent of u for the client cover every scope of r? */
static bool consent_covers(struct app *a, const store_user *u, const authz_request *r)
{
    char *have = NULL;
    if (a->st->ops->consent_get(a->st, u->id, r->client_id, &have, NULL) != IDP_OK) return false;
    bool ok = scope_subset(r->scope, have);
    free(have);
    return ok;
}

static idp_err show_consent(struct app *a, const http_request *rq, http_response *rs,
                            const client_entry *ce,
                            const authz_request *r, const store_session *s, const store_user *u,
                            idp_error *err)
{
    char csrf[44];
    char *sealed = NULL;
    const char *words[CLIENT_CACHE_MAX_ITEMS];
    char *owned[CLIENT_CACHE_MAX_ITEMS];
    size_t n = 0, nowned = 0;
    idp_buf html;
    buf_init(&html, 0);
    idp_err rc = authz_request_seal(a->kek, r, &sealed, err);
    if (rc != IDP_OK) goto out;
    for (const char *p = r->scope; *p && n < CLIENT_CACHE_MAX_ITEMS;) {
        while (*p == ' ') p++;
        size_t l = strcspn(p, " ");
        if (l) {
            char *w = xstrndup(p, l);
            /* OIDC scopes in words; others as the policy describes them (its scope description
             * or the descriptions of the permissions it requires), else "Access to <scope>" */
            const char *d = oidc_scope_words(w);
            if (!d && rq->policy) d = policy_scope_description(rq->policy, w);
            if (d) {
                words[n++] = d;
                free(w);
            } else {
                size_t m = l + sizeof "Access to ";
                char *t = xmalloc(m);
                snprintf(t, m, "Access to %s", w);
                free(w);
                owned[nowned++] = t;
                words[n++] = t;
            }
        }
        p += l;
    }
    web_session_csrf(a, s, csrf);
    ui_consent p = {.action = "/consent", .csrf = csrf, .request_id = sealed,
                    .client_name = ce->name, .user_name = u->user_name, .scope_words = words,
                    .nscopes = n};
    if ((rc = ui_render_consent(&html, &p, err)) != IDP_OK) goto out;
    web_html(rs, 200, &html);
out:
    for (size_t i = 0; i < nowned; i++) free(owned[i]);
    free(sealed);
    buf_free(&html);
    return rc;
}

idp_err authorize_issue_code(struct app *a, http_response *rs, const authz_request *r,
                             const store_session *s, const store_user *u, idp_error *err)
{
    char *code = rand_token(32);
    store_auth_code c = {0};
    opaque_hash(code, c.hash);
    int64_t now = time_now();
    c.client_id = r->client_id;
    c.user_id = u->id;
    c.redirect_uri = r->redirect_uri;
    c.scope = r->scope;
    c.resource = r->resource;
    c.nonce = r->nonce;
    c.code_challenge = r->code_challenge;
    c.session_id = s->sid;
    c.auth_time = s->auth_time;
    c.amr = s->amr;
    c.user_epoch = u->token_epoch;
    c.created_at = now;
    c.expires_at = now + AUTHZ_CODE_TTL;
    idp_err rc = a->st->ops->code_insert(a->st, &c, err);
    if (rc == IDP_OK) rc = a->st->ops->session_add_client(a->st, s->hash, r->client_id, err);
    if (rc == IDP_OK) {
        idp_buf url;
        buf_init(&url, 4000);
        /* RFC 9207: iss in the response defends against mix-up attacks */
        const char *kv[] = {"code", code, "state", r->state, "iss", a->cfg->issuer};
        rc = redirect_uri_build(&url, r->redirect_uri, kv, 3, err);
        if (rc == IDP_OK) web_redirect(rs, buf_cstr(&url));
        buf_free(&url);
    }
    mem_free_secret(code);
    return rc;
}

idp_err authorize_continue(struct app *a, const http_request *rq, http_response *rs,
                           const client_entry *ce, const authz_request *r, const store_session *s,
                           const store_user *u, bool consent_done, idp_error *err)
{
    bool want = scope_has(r->prompt, "consent") && !consent_done;
    if (!consent_done && !want && !consent_covers(a, u, r)) want = true;
    if (want) {
        if (scope_has(r->prompt, "none")) {
            authorize_redirect_error(a, rs, r, "consent_required", "the user has not consented");
            return IDP_OK;
        }
        return show_consent(a, rq, rs, ce, r, s, u, err);
    }
    return authorize_issue_code(a, rs, r, s, u, err);
}

/* ---- the endpoint ---- */

static const char *opt_param(const http_request *rq, const form *f, const char *name)
{
    const char *v = web_param(rq, f, name);
    return v && *v ? v : NULL;
}

/* Are the parameters that the sealed request carries or that are compared as text valid UTF-8?
 * (client_id, redirect_uri and state are checked before, with an error page.) */
static bool params_utf8(const http_request *rq, const form *fp)
{
    static const char *const names[] = {"nonce", "login_hint", "scope", "code_challenge",
                                        "resource", "prompt", "max_age", "response_type"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = opt_param(rq, fp, names[i]);
        if (v && !utf8_valid(v)) return false;
    }
    return true;
}

static bool prompt_valid(const char *p)
{
    static const char *const known[] = {"none", "login", "consent", "select_account"};
    size_t words = 0;
    for (const char *q = p; *q;) {
        while (*q == ' ') q++;
        size_t n = strcspn(q, " ");
        if (!n) break;
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            if (strlen(known[i]) == n && memcmp(known[i], q, n) == 0) ok = true;
        if (!ok) return false;
        words++;
        q += n;
    }
    /* OIDC Core §3.1.2.1: none with any other value is an error */
    return !(scope_has(p, "none") && words > 1);
}

idp_err authorize_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    const form *fp = NULL;
    authz_request r = {0};
    store_session s = {0};
    store_user u = {0};
    idp_buf scope;
    buf_init(&scope, 2 * SCOPE_MAX_LEN);
    idp_err rc = IDP_OK;
    rs->no_store = true;
    if (strcmp(rq->method, "POST") == 0) {
        idp_error fe = {0};
        if (request_form(rq, &f, &fe) != IDP_OK) {
            web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed", fe.msg);
            goto out;
        }
        fp = &f;
    } else {
        /* RFC 6749 §3.1: a parameter given twice makes the request ambiguous (which client_id,
         * which redirect_uri?), so it is refused on the error page, never redirected; the form
         * parser refuses repeats in POST bodies the same way. */
        const char *dup = request_query_repeated(rq);
        if (dup) {
            char msg[160], name[65];
            size_t i = 0;
            for (; dup[i] && i < 64; i++)
                name[i] = (dup[i] > 0x20 && dup[i] < 0x7f) ? dup[i] : '?';
            name[i] = '\0';
            snprintf(msg, sizeof msg, "The request repeats the parameter %s.", name);
            web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed", msg);
            goto out;
        }
    }
    /* 1. client and redirect_uri: errors are shown here, never redirected */
    const char *cid = opt_param(rq, fp, "client_id");
    const client_entry *ce = cid ? client_cache_find(rq->clients, cid, strlen(cid)) : NULL;
    if (!ce) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed",
                       cid ? "The application is not known." : "The request names no application (client_id).");
        goto out;
    }
    response_set_client(rs, ce->client_id, ce->id_len);
    const char *ru = opt_param(rq, fp, "redirect_uri");
    if (!ru || !ce->redirect_uris || !redirect_uri_authz_allowed(ru, ce->redirect_uris)) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed",
                       ru ? "The redirect_uri is not registered for this application."
                          : "The request has no redirect_uri.");
        goto out;
    }
    r.client_id = xstrdup(ce->client_id);
    r.redirect_uri = xstrdup(ru);
    r.max_age = -1;
    const char *state = opt_param(rq, fp, "state");
    if (state && !utf8_valid(state)) {
        /* state must come back exactly as sent (RFC 6749 §4.1.2), which a redirect with a
         * re-encoded value would not do: the error page instead */
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed",
                       "The state parameter is not valid UTF-8.");
        goto out;
    }
    if (state && strlen(state) <= AUTHZ_STATE_MAX) r.state = xstrdup(state);
    /* 2. everything else: errors go back to the client */
    const char *bad = NULL, *code = "invalid_request";
    const char *rt = opt_param(rq, fp, "response_type"), *nonce = opt_param(rq, fp, "nonce");
    const char *ccm = opt_param(rq, fp, "code_challenge_method"), *cc = opt_param(rq, fp, "code_challenge");
    const char *prompt = opt_param(rq, fp, "prompt"), *max_age = opt_param(rq, fp, "max_age");
    const char *hint = opt_param(rq, fp, "login_hint"), *res = opt_param(rq, fp, "resource");
    const char *mode = opt_param(rq, fp, "response_mode");
    if (!params_utf8(rq, fp))
        bad = "a request parameter is not valid UTF-8";
    else if (state && strlen(state) > AUTHZ_STATE_MAX)
        bad = "state is too long";
    else if (opt_param(rq, fp, "request"))
        code = "request_not_supported", bad = "request objects are not supported";
    else if (opt_param(rq, fp, "request_uri"))
        code = "request_uri_not_supported", bad = "request_uri is not supported";
    else if (!rt)
        bad = "response_type is required";
    else if (strcmp(rt, "code") != 0)
        code = "unsupported_response_type", bad = "only response_type=code is supported";
    /* OAuth 2.0 Multiple Response Type Encoding Practices §2.1: the code is returned in the query
     * only (discovery's response_modes_supported); any other mode would send the response
     * somewhere the client did not ask for, so it is an error rather than ignored */
    else if (mode && strcmp(mode, "query") != 0)
        bad = "response_mode is not supported (only query)";
    else if (!client_entry_has_grant(ce, "authorization_code"))
        code = "unauthorized_client", bad = "the client may not use the authorization code flow";
    else if (nonce && strlen(nonce) > AUTHZ_STATE_MAX)
        bad = "nonce is too long";
    else if (ccm && strcmp(ccm, "S256") != 0)
        bad = "code_challenge_method must be S256 (plain is not allowed)";
    else if (cc && !pkce_challenge_valid(cc))
        bad = "code_challenge is not a valid S256 challenge";
    else if (!cc && ccm)
        bad = "code_challenge_method without code_challenge";
    else if (!cc && ce->is_public)
        bad = "PKCE (code_challenge with S256) is required for public clients";
    else if (prompt && !prompt_valid(prompt))
        bad = "prompt is not valid";
    if (bad) {
        authorize_redirect_error(a, rs, &r, code, bad);
        goto out;
    }
    if (max_age) {
        char *end = NULL;
        long long v = strtoll(max_age, &end, 10);
        if (*end || v < 0 || end == max_age) {
            authorize_redirect_error(a, rs, &r, "invalid_request", "max_age is not a non-negative integer");
            goto out;
        }
        r.max_age = v;
    }
    idp_error se = {0};
    if (scope_resolve(opt_param(rq, fp, "scope"), ce->scopes, ce->nscopes, &scope, &se) != IDP_OK) {
        authorize_redirect_error(a, rs, &r, "invalid_scope", se.msg);
        goto out;
    }
    if (res) {
        const char *req[1] = {res}, *aud[RESOURCE_MAX];
        size_t naud = 0;
        if (resource_select(req, 1, ce->audiences, ce->naudiences, a->cfg->issuer, aud, &naud, &se) != IDP_OK) {
            authorize_redirect_error(a, rs, &r, "invalid_target", se.msg);
            goto out;
        }
        r.resource = xstrdup(res);
    }
    r.scope = buf_steal(&scope);
    if (!r.scope) r.scope = xstrdup("");
    if (nonce) r.nonce = xstrdup(nonce);
    if (cc) r.code_challenge = xstrdup(cc);
    if (hint && strlen(hint) <= AUTHZ_HINT_MAX) r.login_hint = xstrdup(hint);
    if (prompt) r.prompt = xstrdup(prompt);
    int64_t now = time_now();
    r.expires_at = now + AUTHZ_REQUEST_TTL;
    /* 3. who is signed in? */
    bool found = false;
    if ((rc = web_session_load(a, rq, now, &s, &u, &found, err)) != IDP_OK) goto out;
    bool login = !found || scope_has(r.prompt, "login") ||
                 scope_has(r.prompt, "select_account") ||
                 (r.max_age == 0 || (r.max_age > 0 && now - s.auth_time > r.max_age));
    if (login) {
        if (scope_has(r.prompt, "none")) {
            authorize_redirect_error(a, rs, &r, "login_required", "the user is not signed in");
            goto out;
        }
        /* prompt=login is satisfied by this sign-in: the sealed request no longer asks for it */
        rc = authorize_show_login(a, rq, rs, ce, &r, NULL, 200, err);
        goto out;
    }
    rc = authorize_continue(a, rq, rs, ce, &r, &s, &u, false, err);
out:
    authz_request_clear(&r);
    store_session_clear(&s);
    store_user_clear(&u);
    buf_free(&scope);
    return rc;
}
