#include "proto/client_reg.h"
#include "proto/scope.h"

#include "core/buf.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "jose/jwk.h"
#include "proto/redirect_uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1..200 printable ASCII or UTF-8 bytes, no control characters. */
static bool printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

#define MAX_SCOPES 64
#define MAX_ITEM_LEN 512

/* ---- validation of create's options --------------------------------------------------- */

/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
static bool scope_token_ok(const char *s, size_t n)
{
    if (n == 0 || n > MAX_ITEM_LEN) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch > 0x7e || ch == 0x22 || ch == 0x5c) return false;
    }
    return true;
}

/* Splits list on the separators into words, checking each with ok and rejecting duplicates;
 * appends the normalized, single-space-separated list to out. NULL or a reason. */
static const char *normalize_list(const char *list, const char *seps,
                                  bool (*ok)(const char *, size_t), size_t max_words, idp_buf *out)
{
    size_t count = 0;
    for (const char *p = list; *p;) {
        p += strspn(p, seps);
        size_t l = strcspn(p, seps);
        if (!l) break;
        if (!ok(p, l)) return "invalid value";
        for (const char *q = buf_cstr(out); *q;) { /* duplicates */
            size_t m = strcspn(q, " ");
            if (m == l && !strncmp(p, q, l)) return "listed twice";
            q += m + (q[m] == ' ');
        }
        if (++count > max_words) return "too many values";
        if ((out->len && buf_putc(out, ' ')) || buf_append(out, p, l)) return "too long";
        p += l;
    }
    return NULL;
}

static bool grant_type_ok(const char *s, size_t n)
{
    static const char *const known[] = {"client_credentials", "authorization_code", "refresh_token"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (n == strlen(known[i]) && !strncmp(s, known[i], n)) return true;
    return false;
}

/* Validated, space-joined URIs into *out (NULL when none); CLI_USAGE on a bad one. */
static idp_err uri_list(const char *opt, const char *const *uris, size_t n, char **out, idp_error *err)
{
    idp_buf b;
    buf_init(&b, 64 * 1024);
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        idp_error e = {0};
        if (redirect_uri_check_registration(uris[i], &e) != IDP_OK) {
            buf_free(&b);
            return IDP_FAIL(err, IDP_ERR_INVALID, "%s: %s", opt, e.msg);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(uris[i], uris[j])) {
                buf_free(&b);
                return IDP_FAIL(err, IDP_ERR_INVALID, "%s: listed twice", opt);
            }
        if ((i && buf_putc(&b, ' ')) || buf_puts(&b, uris[i])) {
            buf_free(&b);
            return IDP_FAIL(err, IDP_ERR_INVALID, "%s: too long", opt);
        }
    }
    if (n) *out = buf_steal(&b);
    buf_free(&b);
    return IDP_OK;
}

/* RFC 8707 §2: an absolute URI (RFC 3986 §4.3: scheme ":" hier-part, no fragment). We also
 * refuse spaces and control characters (audiences are stored space-separated). */
static const char *audience_check(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_ITEM_LEN) return "must be 1..512 characters";
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return "must be an absolute URI (scheme:...)";
    while (i < n &&
           strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.", s[i]) &&
           s[i])
        i++;
    if (i == n || s[i] != ':' || i + 1 == n) return "must be an absolute URI (scheme:...)";
    for (size_t j = 0; j < n; j++)
        if ((unsigned char)s[j] <= 0x20 || (unsigned char)s[j] >= 0x7f)
            return "must not contain spaces or non-ASCII characters";
    if (strchr(s, '#')) return "must not contain a fragment (RFC 8707 §2)";
    return NULL;
}

/* RFC 7662 §4: a resource server may be allowed to introspect the tokens meant for it (their aud
 * names one of its --audience values) or every token; a public client cannot introspect at all. */
static idp_err introspect_mode(const client_reg *a, store_client *row, idp_error *err)
{
    const char *m = a->introspect;
    if (!m || !strcmp(m, "none")) return IDP_OK;
    if (strcmp(m, "audience") != 0 && strcmp(m, "any") != 0)
        return IDP_FAIL(err, IDP_ERR_INVALID, "--introspect: none, audience or any");
    if (a->is_public)
        return IDP_FAIL(err, IDP_ERR_INVALID, "--introspect: a public client cannot introspect");
    if (!strcmp(m, "audience") && a->naud == 0)
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "--introspect audience needs at least one --audience");
    row->introspect = xstrdup(m);
    return IDP_OK;
}

/* Fills the store row from validated arguments; CLI_USAGE with a message on bad input. */
idp_err client_reg_build(const client_reg *a, const cfg *conf, store_client *row, idp_error *err)
{
    idp_buf b;
    const char *why = NULL;
    buf_init(&b, 8192);
    if (!a->name || !*a->name || strlen(a->name) > 200 ||
        !printable(a->name))
        return IDP_FAIL(err, IDP_ERR_INVALID, "--name is required (1..200 printable characters)");
    row->name = xstrdup(a->name);
    if ((why = normalize_list(a->grant_types ? a->grant_types : "client_credentials", " ,",
                              grant_type_ok, 4, &b)) != NULL ||
        !b.len) {
        buf_free(&b);
        return IDP_FAIL(err, IDP_ERR_INVALID, "--grant-types: %s (supported: client_credentials, "
                         "authorization_code, refresh_token)", why ? why : "empty");
    }
    row->grant_types = buf_steal(&b);
    bool code = scope_has(row->grant_types, "authorization_code");
    if (scope_has(row->grant_types, "refresh_token") && !code) {
        buf_free(&b);
        return IDP_FAIL(err, IDP_ERR_INVALID, "--grant-types: refresh_token needs authorization_code");
    }
    if (code && a->nredirect == 0) {
        buf_free(&b);
        return IDP_FAIL(err, IDP_ERR_INVALID, "--grant-types authorization_code needs at least one --redirect-uri");
    }
    if (!code && (a->nredirect || a->npost_logout)) {
        buf_free(&b);
        return IDP_FAIL(err, IDP_ERR_INVALID, "--redirect-uri and --post-logout-redirect-uri need --grant-types authorization_code");
    }
    if (a->is_public && scope_has(row->grant_types, "client_credentials")) {
        buf_free(&b);
        return IDP_FAIL(err, IDP_ERR_INVALID, "--public: a public client cannot use client_credentials");
    }
    idp_err ur;
    if ((ur = uri_list("--redirect-uri", a->redirect, a->nredirect, &row->redirect_uris, err)) ||
        (ur = uri_list("--post-logout-redirect-uri", a->post_logout, a->npost_logout,
                       &row->post_logout_redirect_uris, err))) {
        buf_free(&b);
        return ur;
    }
    if (a->backchannel) {
        /* OIDC Back-Channel Logout §2.2: an absolute http(s) URI, no fragment */
        idp_error e = {0};
        if (strncmp(a->backchannel, "http", 4) != 0 ||
            redirect_uri_check_registration(a->backchannel, &e) != IDP_OK) {
            buf_free(&b);
            return IDP_FAIL(err, IDP_ERR_INVALID, "--backchannel-logout-uri: %s", e.msg[0] ? e.msg : "must be an http(s) URL");
        }
        row->backchannel_logout_uri = xstrdup(a->backchannel);
    }
    if ((why = normalize_list(a->scope ? a->scope : "", " ", scope_token_ok, MAX_SCOPES, &b))) {
        buf_free(&b);
        return IDP_FAIL(err, IDP_ERR_INVALID, "--scope: %s (space-separated RFC 6749 §3.3 scope tokens)", why);
    }
    row->scope = buf_steal(&b);
    for (size_t i = 0; i < a->naud; i++) {
        if ((why = audience_check(a->aud[i])) != NULL) {
            buf_free(&b);
            return IDP_FAIL(err, IDP_ERR_INVALID, "--audience: %s", why);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(a->aud[i], a->aud[j])) {
                buf_free(&b);
                return IDP_FAIL(err, IDP_ERR_INVALID, "--audience: listed twice");
            }
        if ((i && buf_putc(&b, ' ')) || buf_puts(&b, a->aud[i])) {
            buf_free(&b);
            return IDP_FAIL(err, IDP_ERR_INVALID, "--audience: too long");
        }
    }
    row->audiences = a->naud ? buf_steal(&b) : NULL;
    buf_free(&b);
    if (a->token_alg) {
        if (jws_alg_from_name(a->token_alg, strlen(a->token_alg)) == JWS_ALG_INVALID)
            return IDP_FAIL(err, IDP_ERR_INVALID, "--token-alg: must be one of ES256 RS256 PS256 EdDSA");
        const char *algs = conf->algs;
        size_t l = strlen(a->token_alg);
        bool listed = false;
        for (const char *p = algs; *p && !listed; p += strcspn(p, " "), p += strspn(p, " "))
            listed = strcspn(p, " ") == l && !strncmp(p, a->token_alg, l);
        if (!listed)
            return IDP_FAIL(err, IDP_ERR_INVALID, "--token-alg: %s has no keys (not in the configured algs: %s)",
                             a->token_alg, algs);
        row->token_alg = xstrdup(a->token_alg);
    }
    if (a->token_ttl) {
        if (time_parse_duration(a->token_ttl, &row->token_ttl) != IDP_OK)
            return IDP_FAIL(err, IDP_ERR_INVALID, "--token-ttl: must be a positive duration (e.g. 300, 5m, 1h)");
        if (row->token_ttl > conf->max_token_ttl)
            return IDP_FAIL(err, IDP_ERR_INVALID, "--token-ttl: longer than max_token_ttl (%llds)",
                             (long long)conf->max_token_ttl);
    }
    const char *m = a->auth_method ? a->auth_method : "client_secret_basic";
    if (a->is_public) {
        if (a->auth_method || a->jwks)
            return IDP_FAIL(err, IDP_ERR_INVALID, "--public takes no --auth-method or --jwks (it has no credentials)");
        m = "none";
        row->is_public = true;
    } else if (!strcmp(m, "private_key_jwt")) {
        if (!a->jwks) return IDP_FAIL(err, IDP_ERR_INVALID, "--auth-method private_key_jwt needs --jwks FILE");
        jwks *set = NULL;
        idp_error e = {0};
        idp_err r = jwks_from_json(a->jwks, strlen(a->jwks), &set, &e);
        size_t count = set ? jwks_count(set) : 0;
        jwks_unref(set);
        if (r != IDP_OK || count == 0)
            return IDP_FAIL(err, IDP_ERR_INVALID, "--jwks: not a usable public JWK Set: %s", e.msg[0] ? e.msg : "no keys");
        if (strstr(a->jwks, "\"d\""))
            return IDP_FAIL(err, IDP_ERR_INVALID, "--jwks: contains a private key member (\"d\"); register public keys only");
        row->jwks = xstrdup(a->jwks);
    } else if (strcmp(m, "client_secret_basic") != 0 && strcmp(m, "client_secret_post") != 0) {
        return IDP_FAIL(err, IDP_ERR_INVALID, "--auth-method: client_secret_basic, client_secret_post or private_key_jwt");
    } else if (a->jwks) {
        return IDP_FAIL(err, IDP_ERR_INVALID, "--jwks is for --auth-method private_key_jwt");
    }
    row->auth_method = xstrdup(m);
    return introspect_mode(a, row, err);
}

bool client_reg_has_secret(const store_client *row)
{
    return !row->is_public && !(row->auth_method && !strcmp(row->auth_method, "private_key_jwt"));
}
