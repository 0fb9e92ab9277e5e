#include "proto/authz_request.h"

#include "core/b64url.h"
#include "core/buf.h"
#include "core/jsonx.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "proto/pkce.h"
#include "proto/redirect_uri.h"
#include "proto/resource.h"
#include "proto/scope.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- validation ---- */

/* OIDC Core §3.1.2.1: space-separated known values; none with any other value is an error. */
static bool prompt_valid(const char *p)
{
    static const char *const known[] = {"none", "login", "consent", "select_account"};
    size_t words = 0;
    for (const char *q = p; *q;) {
        while (*q == ' ')
            q++;
        size_t n = strcspn(q, " ");
        if (!n) break;
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            if (strlen(known[i]) == n && memcmp(known[i], q, n) == 0) ok = true;
        if (!ok) return false;
        words++;
        q += n;
    }
    return !(scope_has(p, "none") && words > 1);
}

/* Are the parameters that the sealed request carries or that are compared as text valid UTF-8?
 * (client_id, redirect_uri and state are checked before, for the error page.) */
static bool params_utf8(const authz_params *p)
{
    const char *const v[] = {p->nonce,    p->login_hint, p->scope,   p->code_challenge,
                             p->resource, p->prompt,     p->max_age, p->response_type};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (v[i] && !utf8_valid(v[i])) return false;
    return true;
}

/* The description of the first rule before max_age that p breaks (*code: its error), or NULL. */
static const char *first_violation(const authz_params *p, const authz_client *c, idp_err *code)
{
    *code = IDP_ERR_OAUTH_INVALID_REQUEST;
    if (!params_utf8(p)) return "a request parameter is not valid UTF-8";
    if (p->state && strlen(p->state) > AUTHZ_REQUEST_STATE_MAX) return "state is too long";
    if (p->request) {
        *code = IDP_ERR_OIDC_REQUEST_NOT_SUPPORTED;
        return "request objects are not supported";
    }
    if (p->request_uri) {
        *code = IDP_ERR_OIDC_REQUEST_URI_NOT_SUPPORTED;
        return "request_uri is not supported";
    }
    if (!p->response_type) return "response_type is required";
    if (strcmp(p->response_type, "code") != 0) {
        *code = IDP_ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE;
        return "only response_type=code is supported";
    }
    /* OAuth 2.0 Multiple Response Type Encoding Practices §2.1: the code is returned in the
     * query only (discovery's response_modes_supported); any other mode would send the response
     * somewhere the client did not ask for, so it is an error rather than ignored */
    if (p->response_mode && strcmp(p->response_mode, "query") != 0)
        return "response_mode is not supported (only query)";
    if (!c->code_flow) {
        *code = IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT;
        return "the client may not use the authorization code flow";
    }
    if (p->nonce && strlen(p->nonce) > AUTHZ_REQUEST_STATE_MAX) return "nonce is too long";
    const char *cc = p->code_challenge, *ccm = p->code_challenge_method;
    if (ccm && strcmp(ccm, "S256") != 0)
        return "code_challenge_method must be S256 (plain is not allowed)";
    if (cc && !pkce_challenge_valid(cc)) return "code_challenge is not a valid S256 challenge";
    if (!cc && ccm) return "code_challenge_method without code_challenge";
    if (!cc && c->is_public)
        return "PKCE (code_challenge with S256) is required for public clients";
    if (p->prompt && !prompt_valid(p->prompt)) return "prompt is not valid";
    return NULL;
}

/* OIDC Core §3.1.2.1 max_age: a non-negative decimal integer (strtoll's syntax). */
static bool max_age_parse(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0 || end == s) return false;
    *out = v;
    return true;
}

idp_err authz_request_validate(const authz_params *p, const authz_client *c, const char *issuer,
                               int64_t now, authz_request *out, bool *redirect, idp_error *err)
{
    memset(out, 0, sizeof *out);
    out->max_age = -1;
    *redirect = false;
    /* 1. client, redirect_uri and state: errors for the error page, never redirected */
    if (!c)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "%s",
                        p->client_id ? "The application is not known."
                                     : "The request names no application (client_id).");
    if (!p->redirect_uri || !c->redirect_uris ||
        !redirect_uri_authz_allowed(p->redirect_uri, c->redirect_uris))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "%s",
                        p->redirect_uri ? "The redirect_uri is not registered for this application."
                                        : "The request has no redirect_uri.");
    if (p->state && !utf8_valid(p->state))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "The state parameter is not valid UTF-8.");
    out->client_id = xstrdup(c->client_id);
    out->redirect_uri = xstrdup(p->redirect_uri);
    if (p->state && strlen(p->state) <= AUTHZ_REQUEST_STATE_MAX) out->state = xstrdup(p->state);
    /* 2. everything else: errors go back to the client */
    *redirect = true;
    idp_err code = IDP_OK;
    const char *why = first_violation(p, c, &code);
    if (why) return IDP_FAIL(err, code, "%s", why);
    if (p->max_age && !max_age_parse(p->max_age, &out->max_age))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "max_age is not a non-negative integer");
    idp_buf scope;
    buf_init(&scope, 2 * SCOPE_MAX_LEN);
    idp_error se = {0};
    if (scope_resolve(p->scope, c->scopes, c->nscopes, &scope, &se) != IDP_OK) {
        buf_free(&scope);
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_SCOPE, "%s", se.msg);
    }
    if (p->resource) {
        const char *req[1] = {p->resource}, *aud[RESOURCE_MAX];
        size_t naud = 0;
        if (resource_select(req, 1, c->audiences, c->naudiences, issuer, aud, &naud, &se) !=
            IDP_OK) {
            buf_free(&scope);
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_TARGET, "%s", se.msg);
        }
        out->resource = xstrdup(p->resource);
    }
    out->scope = buf_steal(&scope);
    if (!out->scope) out->scope = xstrdup("");
    if (p->nonce) out->nonce = xstrdup(p->nonce);
    if (p->code_challenge) out->code_challenge = xstrdup(p->code_challenge);
    if (p->login_hint && strlen(p->login_hint) <= AUTHZ_REQUEST_HINT_MAX)
        out->login_hint = xstrdup(p->login_hint);
    if (p->prompt) out->prompt = xstrdup(p->prompt);
    out->expires_at = now + AUTHZ_REQUEST_TTL;
    return IDP_OK;
}

/* ---- sealing ---- */

static const char bad[] = "the sign-in request is invalid or has expired";

idp_err authz_request_seal(const kek *k, const authz_request *r, char **out, idp_error *err)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "c", r->client_id, "r", r->redirect_uri,
                          "s", r->scope ? r->scope : "", "m", (json_int_t)r->max_age, "x",
                          (json_int_t)r->expires_at);
    if (!o) return IDP_FAIL(err, IDP_ERR_INVALID, "request parameters are not valid UTF-8");
    const struct { const char *k, *v; } opt[] = {
        {"st", r->state}, {"n", r->nonce}, {"cc", r->code_challenge}, {"res", r->resource},
        {"lh", r->login_hint}, {"p", r->prompt}};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        if (!opt[i].v) continue;
        json_t *s = json_string(opt[i].v);
        if (!s) {
            json_decref(o);
            return IDP_FAIL(err, IDP_ERR_INVALID, "request parameters are not valid UTF-8");
        }
        json_object_set_new(o, opt[i].k, s);
    }
    idp_err rc = kek_seal_json(k, AUTHZ_REQUEST_AAD, o, AUTHZ_REQUEST_MAX_SEALED, out, err);
    json_decref(o);
    if (rc == IDP_ERR_TOO_LARGE)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "the authorization request is too large");
    return rc;
}

static char *dup_opt(const json_t *o, const char *key)
{
    const char *s = jsonx_str(o, key);
    return s ? xstrdup(s) : NULL;
}

idp_err authz_request_open(const kek *k, const char *s, int64_t now, authz_request *out,
                           idp_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *o = NULL;
    idp_err rc = IDP_ERR_INVALID;
    if (!kek_open_json(k, AUTHZ_REQUEST_AAD, s, AUTHZ_REQUEST_MAX_SEALED, 4, &o)) goto out;
    const char *c = jsonx_str(o, "c"), *r = jsonx_str(o, "r"), *sc = jsonx_str(o, "s");
    int64_t x = 0, m = -1;
    if (!c || !r || !sc || !jsonx_int(o, "x", &x) || !jsonx_int(o, "m", &m) || now >= x) goto out;
    out->client_id = xstrdup(c);
    out->redirect_uri = xstrdup(r);
    out->scope = xstrdup(sc);
    out->state = dup_opt(o, "st");
    out->nonce = dup_opt(o, "n");
    out->code_challenge = dup_opt(o, "cc");
    out->resource = dup_opt(o, "res");
    out->login_hint = dup_opt(o, "lh");
    out->prompt = dup_opt(o, "p");
    out->max_age = m;
    out->expires_at = x;
    rc = IDP_OK;
out:
    json_decref(o);
    if (rc != IDP_OK) return IDP_FAIL(err, rc, bad);
    return IDP_OK;
}

void authz_request_clear(authz_request *r)
{
    if (!r) return;
    free(r->client_id);
    free(r->redirect_uri);
    free(r->scope);
    free(r->state);
    free(r->nonce);
    free(r->code_challenge);
    free(r->resource);
    free(r->login_hint);
    free(r->prompt);
    memset(r, 0, sizeof *r);
}

