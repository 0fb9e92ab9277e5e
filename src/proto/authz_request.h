/* authz_request — the authorization request (OIDC Core §3.1.2.1): its validation from the
 * parameters of /authorize (a pure function: plain strings in, no HTTP types, no store), and the
 * validated request carried through the login and consent pages without server-side state.
 *
 * Sealing: the request is sealed with AES-256-GCM under
 * the master key (keys/kek.h, AAD AUTHZ_REQUEST_AAD) and travels as a hidden form field. Sealing
 * makes it tamper-proof and opaque (the browser cannot change redirect_uri, scope or the PKCE
 * challenge), and any node of a cluster can open it. It expires AUTHZ_REQUEST_TTL seconds after
 * /authorize. */
#ifndef IDPD_OAUTH_AUTHZ_REQUEST_H
#define IDPD_OAUTH_AUTHZ_REQUEST_H

#include "core/err.h"
#include "keys/kek.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTHZ_REQUEST_AAD "idpd authorization request v1"
#define AUTHZ_REQUEST_TTL 900       /* 15 minutes to sign in */
#define AUTHZ_REQUEST_MAX_SEALED 16384 /* characters of the sealed form */
#define AUTHZ_REQUEST_STATE_MAX 512    /* characters of state and nonce carried */
#define AUTHZ_REQUEST_HINT_MAX 256     /* a longer login_hint is dropped, not refused */

typedef struct authz_request {
    char *client_id;
    char *redirect_uri;
    char *scope;          /* granted scope, space-separated */
    char *state;          /* or NULL */
    char *nonce;          /* or NULL */
    char *code_challenge; /* S256, or NULL */
    char *resource;       /* RFC 8707, or NULL */
    char *login_hint;     /* or NULL */
    char *prompt;         /* space-separated prompt values, or NULL */
    int64_t max_age;      /* -1 = none */
    int64_t expires_at;   /* s */
} authz_request;

/* The parameters of an authorization request as sent (GET query or POST form): each NULL when
 * absent or empty. Borrowed. */
typedef struct authz_params {
    const char *client_id, *redirect_uri, *state;
    const char *response_type, *response_mode, *scope, *nonce, *code_challenge,
        *code_challenge_method, *prompt, *max_age, *login_hint, *resource;
    const char *request, *request_uri; /* only their presence counts */
} authz_params;

/* What a client registered (borrowed, e.g. from its client_cache entry). */
typedef struct authz_client {
    const char *client_id;
    const char *redirect_uris; /* space-separated; NULL = none */
    bool is_public;            /* PKCE required (RFC 9700 §2.1.1) */
    bool code_flow;            /* it may use the authorization_code grant */
    char *const *scopes;       /* the scopes it may be granted */
    size_t nscopes;
    char *const *audiences; /* the resources it may target (RFC 8707) */
    size_t naudiences;
} authz_client;

/* Validates the request p of client c (NULL: p->client_id is absent or names no client) at now;
 * issuer is the audience when the client has none (resource_select). Pure, thread-safe.
 *
 * IDP_OK: *out is the validated request (owned, authz_request_clear), expiring at now +
 * AUTHZ_REQUEST_TTL, with the granted scope (scope_resolve: absent = every allowed scope),
 * max_age (-1 when absent), and login_hint only when at most AUTHZ_REQUEST_HINT_MAX bytes.
 *
 * Otherwise err holds the code (whose row in the error table gives the OAuth `error`) and the
 * description, and *redirect says whether the error may be sent to the redirect_uri (RFC 6749
 * §4.1.2.1). The checks, in this order:
 *   not redirected (*out empty; the description is a sentence for the error page), all
 *   IDP_ERR_OAUTH_INVALID_REQUEST: no client_id; an unknown client; no redirect_uri, or one
 *   that redirect_uri_authz_allowed does not find among c->redirect_uris; a state that is not
 *   UTF-8 (it must come back exactly as sent, RFC 6749 §4.1.2);
 *   redirected (*out holds client_id, redirect_uri, and state when at most
 *   AUTHZ_REQUEST_STATE_MAX bytes): nonce, login_hint, scope, code_challenge, resource, prompt,
 *   max_age or response_type not UTF-8; state too long; request or request_uri present
 *   (IDP_ERR_OIDC_REQUEST_NOT_SUPPORTED, IDP_ERR_OIDC_REQUEST_URI_NOT_SUPPORTED); no
 *   response_type; one other than "code" (IDP_ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE); a
 *   response_mode other than "query" (Multiple Response Type Encoding Practices §2.1); a client
 *   without the code flow (IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT); nonce longer than
 *   AUTHZ_REQUEST_STATE_MAX; code_challenge_method other than S256 (RFC 9700 §2.1.1); a
 *   code_challenge that is no S256 challenge; a method without a challenge; a public client
 *   without a challenge; a prompt with an unknown value or with none beside another value (OIDC
 *   Core §3.1.2.1); max_age not a non-negative integer; a scope not allowed
 *   (IDP_ERR_OAUTH_INVALID_SCOPE); a resource not allowed (IDP_ERR_OAUTH_INVALID_TARGET). The
 *   others are IDP_ERR_OAUTH_INVALID_REQUEST. */
idp_err authz_request_validate(const authz_params *p, const authz_client *c, const char *issuer,
                               int64_t now, authz_request *out, bool *redirect, idp_error *err);

/* *out: base64url text (owned, free()). */
idp_err authz_request_seal(const kek *k, const authz_request *r, char **out, idp_error *err);
/* Opens s; IDP_ERR_INVALID ("the sign-in request is invalid or has expired") when it does not
 * decrypt, is malformed or expired at now. *out owned (authz_request_clear). */
idp_err authz_request_open(const kek *k, const char *s, int64_t now, authz_request *out,
                           idp_error *err);
void authz_request_clear(authz_request *r);

#endif
