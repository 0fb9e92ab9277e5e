/* err — the one error convention of idpd (STYLE.md habit 4).
 *
 * Fallible functions return an idp_err (0 = success) and fill an optional idp_error with the
 * code, the function and line that failed, and a message. The message is safe to show to a
 * client as an error_description: it never contains a secret, a token or key material.
 * One table (err.c) maps each code to its HTTP status, OAuth `error` and SCIM `scimType`;
 * handlers never invent status codes. */
#ifndef IDPD_CORE_ERR_H
#define IDPD_CORE_ERR_H

#include <stddef.h>

typedef enum idp_err {
    IDP_OK = 0,
    /* infrastructure */
    IDP_ERR_NOMEM,
    IDP_ERR_INTERNAL,     /* an impossible state: a bug */
    IDP_ERR_CRYPTO,       /* OpenSSL failed (not: a signature did not verify) */
    IDP_ERR_IO,           /* file system */
    IDP_ERR_STORE,        /* database failure */
    IDP_ERR_CONFIG,       /* configuration invalid */
    /* generic input */
    IDP_ERR_NOT_FOUND,
    IDP_ERR_CONFLICT,     /* already exists */
    IDP_ERR_INVALID,      /* malformed or out-of-range input */
    IDP_ERR_TOO_LARGE,    /* input larger than its cap */
    IDP_ERR_B64,          /* not strict base64url */
    IDP_ERR_JSON,         /* not JSON, duplicate member, too deep */
    /* JOSE / JWT */
    IDP_ERR_JOSE_FORMAT,    /* compact serialization or header malformed */
    IDP_ERR_JOSE_ALG,       /* alg not allowed, unknown, or not matching the key */
    IDP_ERR_JOSE_KEY,       /* no key for kid, unusable or too weak key, bad JWK */
    IDP_ERR_JOSE_SIGNATURE, /* signature did not verify */
    IDP_ERR_JOSE_CRIT,      /* unsupported critical header */
    IDP_ERR_JWT_CLAIM,      /* claim missing or of the wrong type */
    IDP_ERR_JWT_EXPIRED,
    IDP_ERR_JWT_NOT_YET_VALID,
    IDP_ERR_JWT_ISSUER,
    IDP_ERR_JWT_AUDIENCE,
    IDP_ERR_JWT_TYP,
    IDP_ERR_JWT_REVOKED,
    /* OAuth 2.0 (RFC 6749 §5.2, RFC 8707, RFC 7009) */
    IDP_ERR_OAUTH_INVALID_REQUEST,
    IDP_ERR_OAUTH_INVALID_CLIENT,
    IDP_ERR_OAUTH_INVALID_GRANT,
    IDP_ERR_OAUTH_UNAUTHORIZED_CLIENT,
    IDP_ERR_OAUTH_UNSUPPORTED_GRANT_TYPE,
    IDP_ERR_OAUTH_INVALID_SCOPE,
    IDP_ERR_OAUTH_INVALID_TARGET,
    IDP_ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE,
    /* HTTP */
    IDP_ERR_HTTP_METHOD,      /* 405 */
    IDP_ERR_HTTP_MEDIA_TYPE,  /* 415 */
    IDP_ERR_UNAUTHORIZED,     /* 401 without OAuth semantics (e.g. admin/SCIM bearer) */
    IDP_ERR_FORBIDDEN,        /* 403 */
    IDP_ERR_RATE_LIMITED,     /* 429 (Retry-After set by the caller) */
    IDP_ERR_PRECONDITION,     /* 412: If-Match / If-None-Match did not hold */
    IDP_ERR_NOT_MODIFIED,     /* 304 */
    IDP_ERR_UNAVAILABLE,      /* 503: a write the answer depends on could not be made */
    /* SCIM (RFC 7644 §3.12 scimType), all 400 */
    IDP_ERR_SCIM_INVALID_FILTER,
    IDP_ERR_SCIM_INVALID_PATH,
    IDP_ERR_SCIM_NO_TARGET,
    IDP_ERR_SCIM_MUTABILITY,
    IDP_ERR_SCIM_INVALID_VALUE,
    IDP_ERR_SCIM_INVALID_SYNTAX,
    IDP_ERR_SCIM_TOO_MANY,
    IDP_ERR_SCIM_SENSITIVE,
    IDP__ERR_COUNT
} idp_err;

typedef struct idp_error {
    idp_err code;
    const char *func; /* static string */
    int line;
    char msg[240]; /* client-safe description; never a secret */
} idp_error;

/* Records code/func/line/message in *e (when e is non-NULL) and returns code. */
idp_err idp_error_set(idp_error *e, idp_err code, const char *func, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define IDP_FAIL(e, code, ...) idp_error_set((e), (code), __func__, __LINE__, __VA_ARGS__)

const char *idp_err_name(idp_err code);       /* "IDP_ERR_JOSE_SIGNATURE" -> "jose_signature" */
int idp_err_http_status(idp_err code);        /* 400, 401, 404, 500, ... */
const char *idp_err_oauth(idp_err code);      /* "invalid_request", "invalid_client", ... */
const char *idp_err_scim_type(idp_err code);  /* "invalidValue", "uniqueness", ... or NULL */

#endif
