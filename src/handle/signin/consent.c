/* POST /consent: the signed-in user allows or denies the client's request. The decision is
 * CSRF-checked against the session; "allow" is stored per user and client (the scopes granted so
 * far) and the code is issued; "deny" returns access_denied to the client (RFC 6749 §4.1.2.1). */
#include "handle/signin/authorize.h"
#include "proto/scope.h"
#include "handle/endpoints.h"

#include "core/timeutil.h"
#include "handle/app.h"
#include "http/request_form.h"
#include "handle/signin/web.h"

#include <stdlib.h>
#include <string.h>

/* The stored consent becomes the union of what was granted before and r->scope. */
static idp_err remember(struct app *a, const store_user *u, const authz_request *r, int64_t now,
                        idp_error *err)
{
    char *have = NULL;
    idp_buf all;
    buf_init(&all, 0);
    if (a->st->ops->consent_get(a->st, u->id, r->client_id, &have, NULL) == IDP_OK && have)
        buf_puts(&all, have);
    for (const char *p = r->scope; *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n) {
            char w[256];
            if (n < sizeof w) {
                memcpy(w, p, n);
                w[n] = '\0';
                if (!scope_has(buf_cstr(&all), w)) {
                    if (all.len) buf_putc(&all, ' ');
                    buf_puts(&all, w);
                }
            }
        }
        p += n;
    }
    idp_err rc = a->st->ops->consent_set(a->st, u->id, r->client_id, buf_cstr(&all), now, err);
    free(have);
    buf_free(&all);
    return rc;
}

idp_err consent_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    idp_error fe = {0};
    authz_request r = {0};
    store_user u = {0};
    store_session s = {0};
    bool found = false;
    rs->no_store = true;
    idp_err rc = IDP_OK;
    if (request_form(rq, &f, &fe) != IDP_OK) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Consent failed", fe.msg);
        return IDP_OK;
    }
    int64_t now = time_now();
    if ((rc = web_session_load(a, rq, now, &s, &u, &found, err)) != IDP_OK) return rc;
    if (!found || !web_session_csrf_ok(a, &s, form_get(&f, "csrf"))) {
        web_error_page(rs, IDP_ERR_FORBIDDEN, "Consent failed",
                       found ? "The form was not sent by this site. Go back to the application and try again."
                             : "You are not signed in any more. Go back to the application and sign in again.");
        goto out;
    }
    if (authz_request_open(a->kek, form_get(&f, "request"), now, &r, &fe) != IDP_OK) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Consent failed",
                       "The sign-in request is invalid or has expired. Go back to the application "
                       "and sign in again.");
        goto out;
    }
    const client_entry *ce = client_cache_find(rq->clients, r.client_id, strlen(r.client_id));
    if (!ce) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Consent failed", "The application is not known.");
        goto out;
    }
    response_set_client(rs, ce->client_id, ce->id_len);
    const char *d = form_get(&f, "decision");
    if (!d || strcmp(d, "allow") != 0) {
        authorize_redirect_error(a, rs, &r, IDP_ERR_OAUTH_ACCESS_DENIED, "the user denied the request");
        goto out;
    }
    if ((rc = remember(a, &u, &r, now, err)) != IDP_OK) goto out;
    rc = authorize_continue(a, rq, rs, ce, &r, &s, &u, true, err);
out:
    authz_request_clear(&r);
    store_user_clear(&u);
    store_session_clear(&s);
    return rc;
}
