/* authz_request — a validated authorization request (OIDC Core §3.1.2.1) carried through the
 * login and consent pages without server-side state: the request is sealed with AES-256-GCM under
 * the master key (keys/kek.h, AAD AUTHZ_REQUEST_AAD) and travels as a hidden form field. Sealing
 * makes it tamper-proof and opaque (the browser cannot change redirect_uri, scope or the PKCE
 * challenge), and any node of a cluster can open it. It expires AUTHZ_REQUEST_TTL seconds after
 * /authorize. */
#ifndef IDPD_OAUTH_AUTHZ_REQUEST_H
#define IDPD_OAUTH_AUTHZ_REQUEST_H

#include "core/err.h"
#include "keys/kek.h"

#include <stdint.h>

#define AUTHZ_REQUEST_AAD "idpd authorization request v1"
#define AUTHZ_REQUEST_TTL 900       /* 15 minutes to sign in */
#define AUTHZ_REQUEST_MAX_SEALED 16384 /* characters of the sealed form */

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

/* *out: base64url text (owned, free()). */
idp_err authz_request_seal(const kek *k, const authz_request *r, char **out, idp_error *err);
/* Opens s; IDP_ERR_INVALID ("the sign-in request is invalid or has expired") when it does not
 * decrypt, is malformed or expired at now. *out owned (authz_request_clear). */
idp_err authz_request_open(const kek *k, const char *s, int64_t now, authz_request *out,
                           idp_error *err);
void authz_request_clear(authz_request *r);

#endif
