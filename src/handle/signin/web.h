/* web — what the browser-facing endpoints (authorize, login, consent, logout) share: HTML
 * responses with security headers, cookies, CSRF tokens, redirects, and the sign-in session.
 *
 * Session cookie (DESIGN §5, issue "end-user sign-in"): 256 random bits, stored only as SHA-256,
 * HttpOnly, SameSite=Lax, Secure unless the issuer is plain http on a loopback host, Path=/; idle timeout cfg session_idle, absolute cfg session_max.
 * CSRF: the login form (no session yet) uses a double-submit cookie (WEB_CSRF_COOKIE) whose
 * HMAC under app.csrf_key is the form's token; forms shown to a signed-in user bind the token
 * to the session's sid instead. */
#ifndef IDPD_OAUTH_WEB_H
#define IDPD_OAUTH_WEB_H

#include "core/buf.h"
#include "core/err.h"
#include "http/request.h"
#include "http/response.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct app;

#define WEB_SESSION_COOKIE "idpd_session"
#define WEB_CSRF_COOKIE "idpd_csrf"
#define WEB_COOKIE_MAX 128
#define WEB_HTML_TYPE "text/html; charset=utf-8"

/* Whether cookies get the Secure attribute for this issuer (false only for http on loopback). */
bool web_secure_cookies(const char *issuer);
/* Moves html into rs as a text/html page with status and the security headers (CSP, no framing,
 * no referrer, no-store). html is left empty. */
void web_html(http_response *rs, int status, idp_buf *html);
/* An HTML error page: the status of code's row in the error table, title and message shown. */
void web_error_page(http_response *rs, idp_err code, const char *title, const char *msg);
/* 303 See Other to url (RFC 9110 §15.4.4), no-store. */
void web_redirect(http_response *rs, const char *url);
/* Adds a Set-Cookie header; max_age 0 = session cookie, COOKIE_DELETE = delete. */
void web_set_cookie(const struct app *a, http_response *rs, const char *name, const char *value,
                    int64_t max_age);
/* Reads a cookie of the request into out[cap]; false when absent or malformed. */
bool web_cookie(const http_request *rq, const char *name, char *out, size_t cap);

/* Login-form CSRF: reuses the request's WEB_CSRF_COOKIE or sets a new one, and writes the
 * form token into token[44]. */
void web_login_csrf(const struct app *a, const http_request *rq, http_response *rs, char token[44]);
bool web_login_csrf_ok(const struct app *a, const http_request *rq, const char *token);
/* Session-bound CSRF token for forms shown to a signed-in user. */
void web_session_csrf(const struct app *a, const store_session *s, char token[44]);
bool web_session_csrf_ok(const struct app *a, const store_session *s, const char *token);

/* A session is live before its absolute expiry (session_max after sign-in) and while it was
 * used less than idle seconds ago (session_idle). */
bool web_session_live(const store_session *s, int64_t now, int64_t idle);
/* The request's live session and its user: *found false when there is no cookie, the session is
 * unknown, idle or past its absolute lifetime, or the user is gone, inactive or has had a
 * token_epoch change since sign-in (all of which end the session). Touches last_seen. */
idp_err web_session_load(struct app *a, const http_request *rq, int64_t now, store_session *s,
                         store_user *u, bool *found, idp_error *err);
/* Starts a session for u (sign-in with amr at now) and sets its cookie. */
idp_err web_session_start(struct app *a, http_response *rs, const store_user *u, const char *amr,
                          int64_t now, store_session *out, idp_error *err);

/* Percent-decoding-free parameter of an endpoint that takes both GET query and POST form. */
struct form;
const char *web_param(const http_request *rq, const struct form *f, const char *name);

#endif
