/* token_claims — the JWT access token payload (RFC 9068 §2.2), written directly as JSON. */
#ifndef IDPD_OAUTH_TOKEN_CLAIMS_H
#define IDPD_OAUTH_TOKEN_CLAIMS_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define TOKEN_JTI_BYTES 16 /* 128 random bits */

typedef struct token_claims {
    const char *iss;
    const char *sub;
    const char *const *aud; /* one item: "aud" is a string; several: an array */
    size_t naud;
    int64_t iat;            /* also nbf */
    int64_t exp;
    const char *jti;
    const char *client_id;
    const char *scope;      /* omitted when NULL or empty */
    const char *extra;      /* more members as raw JSON text, each with a leading ',' (policy
                               claims, auth_time); NULL = none */
} token_claims;

/* Appends {"iss","sub","aud","exp","iat","nbf","jti","client_id","scope"} to out.
 * IDP_ERR_INVALID when naud is 0, IDP_ERR_TOO_LARGE when out's cap is hit. */
idp_err token_claims_build(const token_claims *tc, idp_buf *out, idp_error *err);
/* A fresh jti: base64url of TOKEN_JTI_BYTES random bytes into out[23]. */
void token_claims_new_jti(char out[23]);

#endif
