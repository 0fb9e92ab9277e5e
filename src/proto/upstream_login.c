/* upstream_login — pure pieces of upstream sign-in (upstream_login.h). */
#include "proto/upstream_login.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/mem.h"
#include "proto/pkce.h"
#include "proto/redirect_uri.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool nonempty(const char *s)
{
    return s && *s;
}

idp_err upstream_login_authz_url(idp_buf *out, const char *endpoint, const char *client_id,
                           const char *redirect_uri, const char *const *scopes, size_t nscopes,
                           const char *state, const char *nonce, const char *verifier,
                           idp_error *err)
{
    if (!nonempty(endpoint) || !nonempty(client_id) || !nonempty(redirect_uri) || !nscopes ||
        !scopes || !nonempty(state) || !nonempty(nonce))
        return IDP_FAIL(err, IDP_ERR_INVALID, "upstream authorization request: a value is missing");
    if (!pkce_verifier_valid(verifier))
        return IDP_FAIL(err, IDP_ERR_INVALID, "upstream authorization request: bad code_verifier");
    idp_buf scope;
    buf_init(&scope, 0);
    for (size_t i = 0; i < nscopes; i++) {
        if (!nonempty(scopes[i])) {
            buf_free(&scope);
            return IDP_FAIL(err, IDP_ERR_INVALID, "upstream authorization request: empty scope");
        }
        if (i) buf_puts(&scope, " ");
        buf_puts(&scope, scopes[i]);
    }
    unsigned char d[32];
    char challenge[PKCE_CHALLENGE_LEN + 1];
    SHA256((const unsigned char *)verifier, strlen(verifier), d);
    b64url_encode_to(challenge, d, sizeof d);
    const char *kv[] = {
        "response_type", "code",  "client_id",      client_id, "redirect_uri",
        redirect_uri,    "scope", buf_cstr(&scope), "state",   state,
        "nonce",         nonce,   "code_challenge", challenge, "code_challenge_method",
        "S256"};
    idp_err rc = redirect_uri_build(out, endpoint, kv, sizeof kv / sizeof kv[0] / 2, err);
    buf_free(&scope);
    return rc;
}

idp_err upstream_login_token_form(idp_buf *out, const char *code, const char *redirect_uri,
                            const char *verifier, idp_error *err)
{
    if (!nonempty(code) || !nonempty(redirect_uri) || !nonempty(verifier))
        return IDP_FAIL(err, IDP_ERR_INVALID, "upstream token request: a value is missing");
    const char *kv[] = {"grant_type",   "authorization_code", "code",          code,
                        "redirect_uri", redirect_uri,         "code_verifier", verifier};
    size_t start = out->len;
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i += 2) {
        if ((i && buf_puts(out, "&") != 0) || redirect_uri_form_encode(out, kv[i]) != 0 ||
            buf_puts(out, "=") != 0 || redirect_uri_form_encode(out, kv[i + 1]) != 0) {
            out->len = start;
            if (out->data) out->data[start] = '\0';
            return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "upstream token request too large");
        }
    }
    return IDP_OK;
}

/* ---- the pending sign-in ---- */

static void aad_for(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s %s", UPSTREAM_PENDING_AAD, name);
}

idp_err upstream_login_pending_seal(const kek *k, const upstream_pending *p, char **out, idp_error *err)
{
    *out = NULL;
    if (!nonempty(p->name) || strlen(p->name) > 64 || !nonempty(p->state) || !nonempty(p->nonce) ||
        !nonempty(p->verifier) || !nonempty(p->request))
        return IDP_FAIL(err, IDP_ERR_INVALID, "pending sign-in: a value is missing");
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "i", p->name, "s", p->state, "n", p->nonce, "v",
                  p->verifier, "r", p->request, "x", (json_int_t)p->expires_at);
    if (!o) return IDP_FAIL(err, IDP_ERR_INVALID, "pending sign-in: values are not UTF-8");
    char aad[128];
    aad_for(p->name, aad, sizeof aad);
    idp_err rc = kek_seal_json(k, aad, o, UPSTREAM_PENDING_MAX, out, err);
    json_decref(o);
    if (rc == IDP_ERR_TOO_LARGE)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE,
                        "the authorization request is too large for upstream sign-in");
    return rc;
}

static char *dup_str(const json_t *o, const char *key)
{
    const char *s = jsonx_str(o, key);
    return s && *s ? xstrdup(s) : NULL;
}

idp_err upstream_login_pending_open(const kek *k, const char *name, const char *s, int64_t now,
                              upstream_pending *out, idp_error *err)
{
    static const char bad[] = "the upstream sign-in is unknown or has expired";
    memset(out, 0, sizeof *out);
    if (!nonempty(name) || strlen(name) > 64 || !s) return IDP_FAIL(err, IDP_ERR_INVALID, bad);
    json_t *o = NULL;
    idp_err rc = IDP_ERR_INVALID;
    char aad[128];
    aad_for(name, aad, sizeof aad);
    if (!kek_open_json(k, aad, s, UPSTREAM_PENDING_MAX, 4, &o)) goto out;
    int64_t x = 0;
    const char *i = jsonx_str(o, "i");
    if (!i || strcmp(i, name) != 0 || !jsonx_int(o, "x", &x) || now >= x) goto out;
    out->name = xstrdup(i);
    out->state = dup_str(o, "s");
    out->nonce = dup_str(o, "n");
    out->verifier = dup_str(o, "v");
    out->request = dup_str(o, "r");
    out->expires_at = x;
    if (!out->state || !out->nonce || !out->verifier || !out->request) {
        upstream_login_pending_clear(out);
        goto out;
    }
    rc = IDP_OK;
out:
    json_decref(o);
    if (rc != IDP_OK) return IDP_FAIL(err, rc, bad);
    return IDP_OK;
}

void upstream_login_pending_clear(upstream_pending *p)
{
    if (!p) return;
    free(p->name);
    mem_free_secret(p->state);
    mem_free_secret(p->nonce);
    mem_free_secret(p->verifier);
    free(p->request);
    memset(p, 0, sizeof *p);
}

bool upstream_login_pending_state_ok(const upstream_pending *p, const char *state)
{
    if (!p || !p->state || !state) return false;
    size_t n = strlen(p->state);
    if (strlen(state) != n) return false;
    return CRYPTO_memcmp(p->state, state, n) == 0;
}

/* ---- the callback ---- */

static bool printable(const char *s, bool error_set)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (error_set) {
            if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') return false;
        } else if (*p <= 0x20 || *p > 0x7e) {
            return false;
        }
    }
    return true;
}

static const char *opt(const char *s)
{
    return s && *s ? s : NULL;
}

idp_err upstream_login_callback_parse(const char *state, const char *code, const char *error,
                                const char *iss, upstream_callback *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    state = opt(state);
    code = opt(code);
    error = opt(error);
    iss = opt(iss);
    if (!state)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "The response of the identity provider has no state.");
    if (strlen(state) > UPSTREAM_STATE_MAX || !printable(state, false))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "The response of the identity provider has an invalid state.");
    if (iss && (strlen(iss) > UPSTREAM_ISS_MAX || !printable(iss, false)))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "The response of the identity provider has an invalid iss.");
    if (error) {
        if (strlen(error) > UPSTREAM_ERROR_MAX || !printable(error, true))
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                            "The response of the identity provider has an invalid error.");
    } else if (!code) {
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "The response of the identity provider has neither code nor error.");
    } else if (strlen(code) > UPSTREAM_CODE_MAX || !printable(code, false)) {
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "The response of the identity provider has an invalid code.");
    }
    out->state = state;
    out->error = error;
    out->code = error ? NULL : code;
    out->iss = iss;
    return IDP_OK;
}

/* ---- the token response ---- */

static bool short_token(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return false;
    return n > 0 && n <= 64;
}

idp_err upstream_login_token_response(const char *body, size_t len, char **id_token, idp_error *err)
{
    *id_token = NULL;
    json_t *o = NULL;
    if (!body || len > UPSTREAM_TOKEN_RESPONSE_MAX ||
        jsonx_parse(body, len, UPSTREAM_TOKEN_RESPONSE_MAX, 8, true, &o, NULL) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_JSON, "the token response is not a JSON object");
    idp_err rc = IDP_OK;
    const char *e = jsonx_str(o, "error");
    const char *t = jsonx_str(o, "id_token");
    if (json_object_get(o, "error")) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "the token endpoint answered error %s",
                      e && short_token(e) ? e : "(not a short token)");
    } else if (!t || !*t || strlen(t) > UPSTREAM_ID_TOKEN_MAX) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT,
                      "the token response has no id_token of 1..%u bytes", UPSTREAM_ID_TOKEN_MAX);
    } else {
        *id_token = xstrdup(t);
    }
    json_decref(o);
    return rc;
}
