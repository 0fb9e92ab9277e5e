/* ui — page rendering (see ui.h). Each page is written in one pass into the caller's buffer; a
 * failed append marks the page bad and the buffer is rolled back to where it started. */
#include "ui/ui.h"

#include <stdbool.h>
#include <string.h>

int ui_escape(idp_buf *out, const char *s)
{
    if (!s) return 0;
    size_t start = out->len;
    const char *run = s;
    int r = 0;
    for (const char *p = s; r == 0; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '\0':
            break;
        default:
            continue;
        }
        r = buf_append(out, run, (size_t)(p - run)); /* the plain run before *p */
        if (r == 0 && rep) r = buf_puts(out, rep);
        if (!*p) break;
        run = p + 1;
    }
    if (r != 0) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
        return -1;
    }
    return 0;
}

typedef struct page {
    idp_buf *b;
    size_t start;
    bool bad;
} page;

static void raw(page *p, const char *s)
{
    if (!p->bad && buf_puts(p->b, s) != 0) p->bad = true;
}

static void esc(page *p, const char *s)
{
    if (!p->bad && ui_escape(p->b, s) != 0) p->bad = true;
}

static void hidden(page *p, const char *name, const char *value)
{
    if (!value) return;
    raw(p, "<input type=\"hidden\" name=\"");
    raw(p, name);
    raw(p, "\" value=\"");
    esc(p, value);
    raw(p, "\">\n");
}

/* Everything up to and including the <h1>. */
static page page_begin(idp_buf *out, const char *title, const char *h1)
{
    page p = {out, out->len, false};
    raw(&p, "<!DOCTYPE html>\n"
            "<html lang=\"en\">\n"
            "<head>\n"
            "<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n"
            "<meta name=\"robots\" content=\"noindex, nofollow\">\n"
            "<title>");
    esc(&p, title);
    raw(&p, "</title>\n"
            "<link rel=\"stylesheet\" href=\"" UI_CSS_PATH "\">\n"
            "</head>\n"
            "<body>\n"
            "<main>\n"
            "<h1>");
    esc(&p, h1);
    raw(&p, "</h1>\n");
    return p;
}

static idp_err page_end(page *p, idp_error *err)
{
    raw(p, "</main>\n</body>\n</html>\n");
    if (!p->bad) return IDP_OK;
    p->b->len = p->start;
    if (p->b->data) p->b->data[p->start] = '\0';
    return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "page larger than the buffer cap");
}

/* <form method="post" action="..."> and the csrf field. */
static void form_begin(page *p, const char *action, const char *csrf)
{
    raw(p, "<form method=\"post\" action=\"");
    esc(p, action);
    raw(p, "\">\n");
    hidden(p, "csrf", csrf);
}

idp_err ui_render_login(idp_buf *out, const ui_login *l, idp_error *err)
{
    if (!l || !l->action || !l->csrf || !l->request_id)
        return IDP_FAIL(err, IDP_ERR_INVALID, "login page needs action, csrf and request_id");
    for (size_t i = 0; i < l->nupstream; i++)
        if (!l->upstream || !l->upstream[i].label || !l->upstream[i].action)
            return IDP_FAIL(err, IDP_ERR_INVALID, "login page upstream button needs label and action");
    /* The error (if any) describes both fields, so a screen reader reads it with the field that
     * gets focus; aria-invalid marks them. */
    const char *invalid = l->error ? " aria-invalid=\"true\" aria-describedby=\"login-error\"" : "";
    page p = page_begin(out, "Sign in", "Sign in");
    if (l->client_name) {
        raw(&p, "<p class=\"lead\">to continue to <strong>");
        esc(&p, l->client_name);
        raw(&p, "</strong></p>\n");
    }
    if (l->error) {
        raw(&p, "<p class=\"alert\" id=\"login-error\" role=\"alert\">");
        esc(&p, l->error);
        raw(&p, "</p>\n");
    }
    form_begin(&p, l->action, l->csrf);
    hidden(&p, "request", l->request_id);
    raw(&p, "<div class=\"field\">\n"
            "<label for=\"username\">Username</label>\n"
            "<input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" "
            "autocapitalize=\"none\" spellcheck=\"false\" required autofocus");
    if (l->login_hint) {
        raw(&p, " value=\"");
        esc(&p, l->login_hint);
        raw(&p, "\"");
    }
    raw(&p, invalid);
    raw(&p, ">\n"
            "</div>\n"
            "<div class=\"field\">\n"
            "<label for=\"password\">Password</label>\n"
            "<input type=\"password\" id=\"password\" name=\"password\" "
            "autocomplete=\"current-password\" required");
    raw(&p, invalid);
    raw(&p, ">\n"
            "</div>\n"
            "<div class=\"actions\">\n"
            "<button type=\"submit\">Sign in</button>\n"
            "</div>\n"
            "</form>\n");
    if (l->nupstream) {
        raw(&p, "<div class=\"upstream\">\n<p class=\"divider\">or sign in with</p>\n");
        for (size_t i = 0; i < l->nupstream; i++) {
            raw(&p, "<form method=\"get\" action=\"");
            esc(&p, l->upstream[i].action);
            raw(&p, "\">\n");
            hidden(&p, "csrf", l->csrf);
            hidden(&p, "request", l->request_id);
            raw(&p, "<button type=\"submit\" class=\"secondary\">");
            esc(&p, l->upstream[i].label);
            raw(&p, "</button>\n</form>\n");
        }
        raw(&p, "</div>\n");
    }
    return page_end(&p, err);
}

idp_err ui_render_consent(idp_buf *out, const ui_consent *c, idp_error *err)
{
    if (!c || !c->action || !c->csrf || !c->request_id || !c->client_name)
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "consent page needs action, csrf, request_id and client_name");
    for (size_t i = 0; i < c->nscopes; i++)
        if (!c->scope_words || !c->scope_words[i])
            return IDP_FAIL(err, IDP_ERR_INVALID, "consent page scope line missing");
    page p = page_begin(out, "Allow access", "Allow access?");
    raw(&p, "<p><strong>");
    esc(&p, c->client_name);
    raw(&p, c->nscopes ? "</strong> is requesting:</p>\n"
                       : "</strong> wants to access your account.</p>\n");
    if (c->nscopes) {
        raw(&p, "<ul class=\"scopes\">\n");
        for (size_t i = 0; i < c->nscopes; i++) {
            raw(&p, "<li>");
            esc(&p, c->scope_words[i]);
            raw(&p, "</li>\n");
        }
        raw(&p, "</ul>\n");
    }
    if (c->user_name) {
        raw(&p, "<p class=\"muted\">Signed in as <strong>");
        esc(&p, c->user_name);
        raw(&p, "</strong>.</p>\n");
    }
    form_begin(&p, c->action, c->csrf);
    hidden(&p, "request", c->request_id);
    raw(&p, "<div class=\"actions\">\n"
            "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
            "<button type=\"submit\" name=\"decision\" value=\"deny\" "
            "class=\"secondary\">Deny</button>\n"
            "</div>\n"
            "</form>\n");
    return page_end(&p, err);
}

idp_err ui_render_error(idp_buf *out, const char *title, const char *message, idp_error *err)
{
    if (!title || !message)
        return IDP_FAIL(err, IDP_ERR_INVALID, "error page needs a title and a message");
    page p = page_begin(out, title, title);
    raw(&p, "<p class=\"alert\" role=\"alert\">");
    esc(&p, message);
    raw(&p, "</p>\n");
    return page_end(&p, err);
}

idp_err ui_render_logout(idp_buf *out, const ui_logout *l, idp_error *err)
{
    if (!l || !l->action || !l->csrf)
        return IDP_FAIL(err, IDP_ERR_INVALID, "logout page needs action and csrf");
    page p = page_begin(out, "Sign out", "Sign out?");
    if (l->client_name) {
        raw(&p, "<p><strong>");
        esc(&p, l->client_name);
        raw(&p, "</strong> asks to sign you out.</p>\n");
    }
    raw(&p, "<p>Do you want to sign out of your account on this device?</p>\n");
    form_begin(&p, l->action, l->csrf);
    hidden(&p, "state", l->state);
    hidden(&p, "post_logout_redirect_uri", l->post_logout_redirect_uri);
    hidden(&p, "id_token_hint", l->id_token_hint);
    hidden(&p, "client_id", l->client_id);
    raw(&p, "<div class=\"actions\">\n"
            "<button type=\"submit\">Sign out</button>\n"
            "</div>\n"
            "</form>\n");
    return page_end(&p, err);
}

idp_err ui_render_logged_out(idp_buf *out, idp_error *err)
{
    page p = page_begin(out, "Signed out", "Signed out");
    raw(&p, "<p>You have been signed out. You can close this window.</p>\n");
    return page_end(&p, err);
}
