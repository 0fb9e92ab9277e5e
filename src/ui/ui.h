/* ui — the server-rendered pages of end-user sign-in (login, consent, error, logout): plain
 * HTML that works without JavaScript, in English, accessible (lang, a <label for> per field,
 * autocomplete hints, autofocus on the first field, errors in role="alert" linked to the fields
 * by aria-describedby, visible focus), styled only by the stylesheet ui_css served at
 * UI_CSS_PATH (no inline style or script, so a strict Content-Security-Policy fits:
 * default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none').
 *
 * Every caller-supplied string is HTML-escaped (ui_escape), in text and attribute values alike;
 * URLs are not otherwise checked, so action URLs must come from the server, not the request.
 * Each render function APPENDS one complete document to out; on failure out is left as it was.
 * Errors: IDP_ERR_INVALID when a required field (action, csrf, ...) is NULL, IDP_ERR_TOO_LARGE
 * when out's cap is reached. Pure functions, thread-safe. The HTTP layer adds Content-Type
 * text/html; charset=utf-8, Cache-Control: no-store and the security headers. */
#ifndef IDPD_UI_UI_H
#define IDPD_UI_UI_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>

#define UI_CSS_PATH "/assets/idpd.css"

/* Appends s with & < > " ' replaced by &amp; &lt; &gt; &quot; &#39; (safe in element text and
 * in quoted attribute values). NULL appends nothing. 0, or -1 when the cap is reached (out is
 * then unchanged). */
int ui_escape(idp_buf *out, const char *s);

/* One upstream sign-in button (issue 12): a GET form to action carrying the same hidden csrf
 * and request fields as the password form, with a submit button labelled label. */
typedef struct ui_upstream {
    const char *label;  /* required (the issuer's login.display_name) */
    const char *action; /* required, e.g. "/federation/partner/start" */
} ui_upstream;

/* "Sign in": POST to action with fields username (autocomplete=username, autofocus, prefilled
 * with login_hint), password (autocomplete=current-password), hidden csrf and request; then,
 * when nupstream > 0, one button per upstream identity provider (after the password form, so
 * the password form stays the page's first form). */
typedef struct ui_login {
    const char *action;      /* form POST URL; required */
    const char *csrf;        /* hidden field "csrf"; required */
    const char *request_id;  /* hidden field "request"; required */
    const char *login_hint;  /* prefill of username, or NULL */
    const char *error;       /* e.g. wrong credentials, worded by the caller; or NULL */
    const char *client_name; /* "to continue to <client_name>", or NULL */
    const ui_upstream *upstream; /* nupstream buttons, or NULL */
    size_t nupstream;
} ui_login;
idp_err ui_render_login(idp_buf *out, const ui_login *p, idp_error *err);

/* "Allow access?": lists every scope line and POSTs csrf, request and decision=allow|deny
 * (two submit buttons named "decision"). */
typedef struct ui_consent {
    const char *action;             /* required */
    const char *csrf;               /* required */
    const char *request_id;         /* hidden field "request"; required */
    const char *client_name;        /* required */
    const char *user_name;          /* "Signed in as ...", or NULL */
    const char *const *scope_words; /* already-worded lines (see oidc_scope_words) */
    size_t nscopes;
} ui_consent;
idp_err ui_render_consent(idp_buf *out, const ui_consent *p, idp_error *err);

/* An error page: title as <title> and <h1>, message in role="alert". Both required. */
idp_err ui_render_error(idp_buf *out, const char *title, const char *message, idp_error *err);

/* "Sign out?" confirmation (RP-initiated logout) with a "Sign out" button that POSTs csrf and,
 * when not NULL, state, post_logout_redirect_uri and id_token_hint as hidden fields of the same
 * names, so the endpoint gets them back after the confirmation. */
typedef struct ui_logout {
    const char *action;                   /* required */
    const char *csrf;                     /* required */
    const char *client_name;              /* the relying party asking, or NULL */
    const char *state;                    /* or NULL */
    const char *post_logout_redirect_uri; /* or NULL */
    const char *id_token_hint;            /* or NULL */
    const char *client_id;                /* the relying party's client_id, or NULL */
} ui_logout;
idp_err ui_render_logout(idp_buf *out, const ui_logout *p, idp_error *err);

/* "Signed out" page. */
idp_err ui_render_logged_out(idp_buf *out, idp_error *err);

/* The stylesheet the pages link to (UI_CSS_PATH, text/css; charset=utf-8). Static. */
extern const char ui_css[];
extern const size_t ui_css_len; /* without the NUL */

#endif
