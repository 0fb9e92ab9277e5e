/* GET and POST /authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 9700 §2.1): refuses a
 * repeated parameter, validates the request with authz_request_validate (errors about the client,
 * its redirect_uri or the state on an error page, never redirected: §4.1.2.1; the others
 * redirected to the client), then asks the user to sign in or continues the signed-in session. */
#include "handle/signin/authorize.h"

#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "http/form.h"
#include "http/request_form.h"
#include "handle/endpoints.h"
#include "proto/oidc.h"
#include "proto/redirect_uri.h"
#include "proto/refresh.h"
#include "proto/scope.h"
#include "handle/signin/web.h"
#include "policy/policy_fed.h"
#include "policy/policy.h"
#include "ui/ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void authorize_redirect_error(struct app *a, http_response *rs, const authz_request *r,
                              idp_err code, const char *description)
{
    idp_buf url;
    buf_init(&url, 4000);
    const char *error = idp_err_oauth(code);
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
                             idp_err why, idp_error *err)
{
    char csrf[44];
    char *sealed = NULL;
    idp_buf html;
    buf_init(&html, 0);
    idp_err rc = authz_request_seal(a->kek, r, &sealed, err);
    if (rc != IDP_OK) goto out;
    web_login_csrf(a, rq, rs, csrf);
    /* one button per upstream identity provider with `login` (issue 12, docs/FEDERATION.md) */
    ui_upstream up[AUTHZ_UPSTREAM_MAX];
    char actions[AUTHZ_UPSTREAM_MAX][96];
    size_t nup = 0;
    for (size_t i = 0; rq->policy && i < policy_fed_count(rq->policy) && nup < AUTHZ_UPSTREAM_MAX;
         i++) {
        const fed_issuer *is = policy_fed_at(rq->policy, i);
        if (!is || !is->login) continue;
        snprintf(actions[nup], sizeof actions[nup], "/federation/%s/start", is->name);
        up[nup] = (ui_upstream){
            .label = is->login->display_name ? is->login->display_name : is->name,
            .action = actions[nup]};
        nup++;
    }
    ui_login p = {.action = "/login", .csrf = csrf, .request_id = sealed,
                  .login_hint = r->login_hint, .error = error, .client_name = ce->name,
                  .upstream = nup ? up : NULL, .nupstream = nup};
    if ((rc = ui_render_login(&html, &p, err)) != IDP_OK) goto out;
    web_html(rs, idp_err_http_status(why), &html);
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
            authorize_redirect_error(a, rs, r, IDP_ERR_OIDC_CONSENT_REQUIRED,
                                     "the user has not consented");
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

static authz_params params_read(const http_request *rq, const form *f)
{
    return (authz_params){
        .client_id = opt_param(rq, f, "client_id"),
        .redirect_uri = opt_param(rq, f, "redirect_uri"),
        .state = opt_param(rq, f, "state"),
        .response_type = opt_param(rq, f, "response_type"),
        .response_mode = opt_param(rq, f, "response_mode"),
        .scope = opt_param(rq, f, "scope"),
        .nonce = opt_param(rq, f, "nonce"),
        .code_challenge = opt_param(rq, f, "code_challenge"),
        .code_challenge_method = opt_param(rq, f, "code_challenge_method"),
        .prompt = opt_param(rq, f, "prompt"),
        .max_age = opt_param(rq, f, "max_age"),
        .login_hint = opt_param(rq, f, "login_hint"),
        .resource = opt_param(rq, f, "resource"),
        .request = opt_param(rq, f, "request"),
        .request_uri = opt_param(rq, f, "request_uri"),
    };
}

static authz_client client_facts(const client_entry *ce)
{
    return (authz_client){.client_id = ce->client_id,
                          .redirect_uris = ce->redirect_uris,
                          .is_public = ce->is_public,
                          .code_flow = client_entry_has_grant(ce, "authorization_code"),
                          .scopes = ce->scopes,
                          .nscopes = ce->nscopes,
                          .audiences = ce->audiences,
                          .naudiences = ce->naudiences};
}

idp_err authorize_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    const form *fp = NULL;
    authz_request r = {0};
    store_session s = {0};
    store_user u = {0};
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
            if (strcmp(dup, HTTP_QUERY_TOO_MANY) == 0)
                snprintf(msg, sizeof msg, "The request has too many parameters.");
            else
                snprintf(msg, sizeof msg, "The request repeats the parameter %s.", name);
            web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed", msg);
            goto out;
        }
    }
    /* 1. validation (authz_request_validate): errors before the client and its redirect_uri
     * are known go to the error page, the others back to the client */
    authz_params p = params_read(rq, fp);
    const client_entry *ce =
        p.client_id ? client_cache_find(rq->clients, p.client_id, strlen(p.client_id)) : NULL;
    authz_client c = {0};
    if (ce) {
        response_set_client(rs, ce->client_id, ce->id_len);
        c = client_facts(ce);
    }
    int64_t now = time_now();
    idp_error ve = {0};
    bool redirect = false;
    if (authz_request_validate(&p, ce ? &c : NULL, a->cfg->issuer, now, &r, &redirect, &ve) !=
        IDP_OK) {
        if (redirect)
            authorize_redirect_error(a, rs, &r, ve.code, ve.msg);
        else
            web_error_page(rs, ve.code, "Sign-in failed", ve.msg);
        goto out;
    }
    /* 2. who is signed in? */
    bool found = false;
    if ((rc = web_session_load(a, rq, now, &s, &u, &found, err)) != IDP_OK) goto out;
    bool login = !found || scope_has(r.prompt, "login") ||
                 scope_has(r.prompt, "select_account") ||
                 (r.max_age == 0 || (r.max_age > 0 && now - s.auth_time > r.max_age));
    if (login) {
        if (scope_has(r.prompt, "none")) {
            authorize_redirect_error(a, rs, &r, IDP_ERR_OIDC_LOGIN_REQUIRED,
                                     "the user is not signed in");
            goto out;
        }
        /* prompt=login is satisfied by this sign-in: the sealed request no longer asks for it */
        rc = authorize_show_login(a, rq, rs, ce, &r, NULL, IDP_OK, err);
        goto out;
    }
    rc = authorize_continue(a, rq, rs, ce, &r, &s, &u, false, err);
out:
    authz_request_clear(&r);
    store_session_clear(&s);
    store_user_clear(&u);
    return rc;
}
