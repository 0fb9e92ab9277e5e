#include "handle/signin/web.h"

#include "core/b64url.h"
#include "core/mem.h"
#include "core/rand.h"
#include "handle/app.h"
#include "http/cookie.h"
#include "http/form.h"
#include "proto/csrf.h"
#include "handle/oauth/user_tokens.h"
#include "handle/endpoints.h"
#include "proto/refresh.h"
#include "ui/ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void web_html(http_response *rs, int status, idp_buf *html)
{
    buf_reset(&rs->body);
    buf_append(&rs->body, html->data ? html->data : "", html->len);
    buf_reset(html);
    rs->status = status;
    rs->content_type = WEB_HTML_TYPE;
    rs->no_store = true;
    /* No script at all; styles only from our own stylesheet; never framed (clickjacking on the
     * login and consent forms). form-action is not restricted: after a POST the browser follows
     * our 303 to the client's redirect_uri, which Chromium checks against form-action. */
    response_header_set(rs, "Content-Security-Policy",
                        "default-src 'none'; style-src 'self'; img-src 'self'; "
                        "frame-ancestors 'none'; base-uri 'none'");
    response_header_set(rs, "X-Frame-Options", "DENY");
    response_header_set(rs, "Referrer-Policy", "no-referrer");
    response_header_set(rs, "X-Content-Type-Options", "nosniff");
}

void web_error_page(http_response *rs, idp_err code, const char *title, const char *msg)
{
    idp_buf html;
    buf_init(&html, 0);
    if (ui_render_error(&html, title, msg, NULL) != IDP_OK) {
        buf_reset(&html);
        buf_puts(&html, "<!doctype html><title>Error</title><p>Error</p>");
    }
    web_html(rs, idp_err_http_status(code), &html);
    buf_free(&html);
}

void web_redirect(http_response *rs, const char *url)
{
    rs->status = 303;
    rs->content_type = NULL;
    rs->no_store = true;
    buf_reset(&rs->body);
    response_header_set(rs, "Location", url);
    response_header_set(rs, "Referrer-Policy", "no-referrer");
}

/* Always Secure, except for a plain-http issuer on a loopback host (127.0.0.1, [::1],
 * localhost: `make run`), where browsers would not send a Secure cookie back. An http issuer on
 * any other host keeps Secure: sign-in then needs TLS in front, as it should. */
bool web_secure_cookies(const char *issuer)
{
    static const char *const loop[] = {"http://127.0.0.1", "http://[::1]", "http://localhost"};
    for (size_t i = 0; i < sizeof loop / sizeof *loop; i++) {
        size_t n = strlen(loop[i]);
        if (!strncmp(issuer, loop[i], n) && (issuer[n] == '\0' || issuer[n] == ':' || issuer[n] == '/'))
            return false;
    }
    return true;
}

static bool secure_cookies(const struct app *a)
{
    return web_secure_cookies(a->cfg->issuer);
}

void web_set_cookie(const struct app *a, http_response *rs, const char *name, const char *value,
                    int64_t max_age)
{
    char v[512];
    cookie_attrs at = {.name = name, .value = value, .path = "/", .max_age = max_age,
                       .http_only = true, .secure = secure_cookies(a),
                       .same_site = COOKIE_SAMESITE_LAX};
    if (cookie_format(v, sizeof v, &at) > 0) response_header_add(rs, "Set-Cookie", v);
}

bool web_cookie(const http_request *rq, const char *name, char *out, size_t cap)
{
    return cookie_get(request_header(rq, "Cookie"), name, out, cap);
}

static void login_binding(const char *cookie, char *out, size_t cap)
{
    snprintf(out, cap, "login:%s", cookie);
}

void web_login_csrf(const struct app *a, const http_request *rq, http_response *rs, char token[44])
{
    char c[WEB_COOKIE_MAX], b[WEB_COOKIE_MAX + 8];
    if (!web_cookie(rq, WEB_CSRF_COOKIE, c, sizeof c) || strlen(c) != 43) {
        char *t = rand_token(32);
        snprintf(c, sizeof c, "%s", t);
        free(t);
        web_set_cookie(a, rs, WEB_CSRF_COOKIE, c, 0);
    }
    login_binding(c, b, sizeof b);
    csrf_token(a->csrf_key, b, token);
}

bool web_login_csrf_ok(const struct app *a, const http_request *rq, const char *token)
{
    char c[WEB_COOKIE_MAX], b[WEB_COOKIE_MAX + 8];
    if (!token || !web_cookie(rq, WEB_CSRF_COOKIE, c, sizeof c) || strlen(c) != 43) return false;
    login_binding(c, b, sizeof b);
    return csrf_check(a->csrf_key, b, token);
}

static void session_binding(const store_session *s, char *out, size_t cap)
{
    snprintf(out, cap, "session:%s", s->sid ? s->sid : "");
}

void web_session_csrf(const struct app *a, const store_session *s, char token[44])
{
    char b[160];
    session_binding(s, b, sizeof b);
    csrf_token(a->csrf_key, b, token);
}

bool web_session_csrf_ok(const struct app *a, const store_session *s, const char *token)
{
    char b[160];
    if (!token) return false;
    session_binding(s, b, sizeof b);
    return csrf_check(a->csrf_key, b, token);
}

bool web_session_live(const store_session *s, int64_t now, int64_t idle)
{
    return now < s->expires_at && now - s->last_seen < idle;
}

idp_err web_session_load(struct app *a, const http_request *rq, int64_t now, store_session *s,
                         store_user *u, bool *found, idp_error *err)
{
    char c[WEB_COOKIE_MAX];
    unsigned char h[32];
    *found = false;
    memset(s, 0, sizeof *s);
    memset(u, 0, sizeof *u);
    if (!web_cookie(rq, WEB_SESSION_COOKIE, c, sizeof c) || strlen(c) != 43) return IDP_OK;
    opaque_hash(c, h);
    mem_wipe(c, sizeof c);
    idp_err rc = a->st->ops->session_get(a->st, h, s, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_OK;
    if (rc != IDP_OK) return rc;
    bool live = web_session_live(s, now, a->cfg->session_idle);
    if (live && (rc = user_tokens_user_live(a, s->user_id, s->user_epoch, u, &live, err)) != IDP_OK) {
        store_session_clear(s);
        store_user_clear(u);
        return rc;
    }
    if (!live) {
        a->st->ops->session_delete(a->st, h, NULL);
        store_session_clear(s);
        store_user_clear(u);
        return IDP_OK;
    }
    /* last_seen is written at most once a minute per session: no write per page view */
    if (now - s->last_seen >= 60) a->st->ops->session_touch(a->st, h, now, NULL);
    *found = true;
    return IDP_OK;
}

idp_err web_session_start(struct app *a, http_response *rs, const store_user *u, const char *amr,
                          int64_t now, store_session *out, idp_error *err)
{
    char *cookie = rand_token(32), *sid = rand_token(16);
    memset(out, 0, sizeof *out);
    opaque_hash(cookie, out->hash);
    out->sid = sid;
    out->user_id = xstrdup(u->id);
    out->user_epoch = u->token_epoch;
    out->auth_time = now;
    out->amr = xstrdup(amr);
    out->created_at = out->last_seen = now;
    out->expires_at = now + a->cfg->session_max;
    idp_err rc = a->st->ops->session_insert(a->st, out, err);
    if (rc == IDP_OK) web_set_cookie(a, rs, WEB_SESSION_COOKIE, cookie, 0);
    mem_free_secret(cookie);
    return rc;
}

const char *web_param(const http_request *rq, const struct form *f, const char *name)
{
    if (f) return form_get(f, name);
    return request_query(rq, name);
}

idp_err assets_css_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    rs->content_type = "text/css; charset=utf-8";
    rs->ext_body = ui_css;
    rs->ext_len = ui_css_len;
    response_header_set(rs, "Cache-Control", "public, max-age=86400");
    return IDP_OK;
}
