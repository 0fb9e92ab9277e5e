/* upstream_login — the pure protocol pieces of upstream sign-in (issue 12, docs/FEDERATION.md
 * "Upstream sign-in"): idpd as an OpenID Connect relying party of a trusted issuer's `login`.
 *
 *   - the authorization request URL sent to the upstream (code flow, PKCE S256, state, nonce);
 *   - the pending sign-in, sealed (AES-256-GCM under the master key, AAD UPSTREAM_PENDING_AAD
 *     and the issuer name) into a cookie: state, nonce, code_verifier and idpd's own sealed
 *     authorization request survive the trip to the upstream without trusting the browser;
 *   - the callback's query (state, code or error, RFC 9207 iss), checked for presence and size;
 *   - the token endpoint's answer (the id_token taken out of the JSON).
 * No HTTP types, no store, no network. Thread-safe. */
#ifndef IDPD_PROTO_UPSTREAM_LOGIN_H
#define IDPD_PROTO_UPSTREAM_LOGIN_H

#include "core/buf.h"
#include "core/err.h"
#include "keys/kek.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPSTREAM_PENDING_AAD "idpd upstream sign-in v1"
#define UPSTREAM_PENDING_TTL 600  /* s: 10 minutes at the upstream */
#define UPSTREAM_PENDING_MAX 3800 /* characters of the sealed cookie value (cookies: 4096) */
#define UPSTREAM_STATE_MAX 256    /* callback state (ours are 43 characters) */
#define UPSTREAM_CODE_MAX 2048    /* callback code */
#define UPSTREAM_ERROR_MAX 256    /* callback error */
#define UPSTREAM_ISS_MAX 2048     /* callback iss */
#define UPSTREAM_TOKEN_RESPONSE_MAX (64u * 1024u)
#define UPSTREAM_ID_TOKEN_MAX (16u * 1024u) /* = FED_VERIFY_MAX_LEN */

/* Appends the upstream authorization request URL to out: endpoint with response_type=code,
 * client_id, redirect_uri, scope (scopes joined by spaces), state, nonce, code_challenge
 * (S256 of the verifier) and code_challenge_method=S256, form-encoded, after '?' or '&' (an
 * endpoint with a query keeps it). IDP_ERR_INVALID when a value is NULL/empty, the endpoint has
 * a fragment or the verifier is no RFC 7636 verifier; IDP_ERR_TOO_LARGE at out's cap. */
idp_err upstream_login_authz_url(idp_buf *out, const char *endpoint, const char *client_id,
                           const char *redirect_uri, const char *const *scopes, size_t nscopes,
                           const char *state, const char *nonce, const char *verifier,
                           idp_error *err);

/* The token request body (application/x-www-form-urlencoded): grant_type=authorization_code,
 * code, redirect_uri, code_verifier. IDP_ERR_INVALID when one is NULL/empty. */
idp_err upstream_login_token_form(idp_buf *out, const char *code, const char *redirect_uri,
                            const char *verifier, idp_error *err);

/* One pending upstream sign-in. Strings owned by the struct (upstream_login_pending_clear). */
typedef struct upstream_pending {
    char *name;     /* the issuer's name in the policy */
    char *state;    /* sent to the upstream, must come back */
    char *nonce;    /* must be in the ID token */
    char *verifier; /* PKCE code_verifier */
    char *request;  /* idpd's sealed authorization request (authz_request_seal) */
    int64_t expires_at;
} upstream_pending;

/* Seals p into base64url text (*out owned, free()). IDP_ERR_TOO_LARGE when longer than
 * UPSTREAM_PENDING_MAX (the authorization request is too large for a cookie). */
idp_err upstream_login_pending_seal(const kek *k, const upstream_pending *p, char **out, idp_error *err);
/* Opens s; IDP_ERR_INVALID when it does not decrypt under this name, is malformed or has expired
 * at now. *out owned. */
idp_err upstream_login_pending_open(const kek *k, const char *name, const char *s, int64_t now,
                              upstream_pending *out, idp_error *err);
void upstream_login_pending_clear(upstream_pending *p);
/* Whether state equals p->state (constant time in the content). False for NULL. */
bool upstream_login_pending_state_ok(const upstream_pending *p, const char *state);

/* The callback's parameters (borrowed from the query). */
typedef struct upstream_callback {
    const char *state;
    const char *code;  /* NULL when error is set */
    const char *error; /* the upstream's error code, or NULL */
    const char *iss;   /* RFC 9207, or NULL */
} upstream_callback;

/* Checks the callback parameters (each NULL when absent; empty counts as absent): state is
 * required, then error or code (error wins: RFC 6749 §4.1.2.1), each within its maximum and
 * printable ASCII without spaces (error: the RFC 6749 §4.1.2.1 character set %x20-21 / %x23-5B
 * / %x5D-7E). IDP_ERR_OAUTH_INVALID_REQUEST with a sentence for the error page otherwise. */
idp_err upstream_login_callback_parse(const char *state, const char *code, const char *error,
                                const char *iss, upstream_callback *out, idp_error *err);

/* The id_token of a token response body[0..len) (a JSON object; at most
 * UPSTREAM_TOKEN_RESPONSE_MAX bytes): *id_token owned (free()). IDP_ERR_JSON when the body is no
 * JSON object; IDP_ERR_OAUTH_INVALID_GRANT when it carries `error` (its code, when a short
 * token, in err->msg) or no id_token string of 1..UPSTREAM_ID_TOKEN_MAX bytes. */
idp_err upstream_login_token_response(const char *body, size_t len, char **id_token, idp_error *err);

#endif
