#include "oauth/authz_request.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/mem.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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
    char *pt = jsonx_dump(o);
    json_decref(o);
    if (!pt) return IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot serialize the request");
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    idp_err rc = kek_seal(k, AUTHZ_REQUEST_AAD, (const unsigned char *)pt, strlen(pt), &ct, &ctlen, err);
    mem_free_secret(pt);
    if (rc != IDP_OK) return rc;
    *out = b64url_encode(ct, ctlen);
    free(ct);
    if (strlen(*out) > AUTHZ_REQUEST_MAX_SEALED) {
        free(*out);
        *out = NULL;
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "the authorization request is too large");
    }
    return IDP_OK;
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
    if (!s) return IDP_FAIL(err, IDP_ERR_INVALID, bad);
    size_t n = strlen(s);
    if (n == 0 || n > AUTHZ_REQUEST_MAX_SEALED) return IDP_FAIL(err, IDP_ERR_INVALID, bad);
    unsigned char *ct = xmalloc(b64url_decoded_max(n) + 1), *pt = NULL;
    size_t ctlen = 0, ptlen = 0;
    json_t *o = NULL;
    idp_err rc = IDP_ERR_INVALID;
    if (b64url_decode_to(s, n, ct, b64url_decoded_max(n) + 1, &ctlen) != IDP_OK) goto out;
    if (kek_open(k, AUTHZ_REQUEST_AAD, ct, ctlen, &pt, &ptlen, NULL) != IDP_OK) goto out;
    if (jsonx_parse((const char *)pt, ptlen, 0, 4, true, &o, NULL) != IDP_OK) goto out;
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
    if (pt) {
        mem_wipe(pt, ptlen);
        free(pt);
    }
    free(ct);
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

