/* response — what a handler produces, and the ONE error renderer (STYLE.md habit 4): status and
 * OAuth `error` come from the idp_err table (idp_err_http_status / idp_err_oauth), the
 * error_description from idp_error.msg. Handlers never set an error status themselves. */
#ifndef IDPD_HTTP_RESPONSE_H
#define IDPD_HTTP_RESPONSE_H

#include "core/buf.h"
#include "core/err.h"
#include "core/snap.h"

#include <stdbool.h>
#include <stddef.h>

#define RESPONSE_MAX_HEADERS 12
#define RESPONSE_MAX_BODY (32u * 1024u * 1024u) /* a cap, not an allocation: SCIM GET of a
                                                      100,000-member group is ~15 MiB */

typedef struct response_header {
    const char *name; /* static */
    char value[4096];         /* room for a Location URL: redirect_uri (<= 2048) + code, state, iss */
} response_header;

typedef struct http_response {
    int status;               /* 200 unless an error is rendered */
    const char *content_type; /* static; NULL = no body */
    idp_buf body;             /* owned body, or ... */
    const char *ext_body;     /* ... a borrowed one (e.g. the prebuilt JWKS), kept alive by hold */
    size_t ext_len;
    snap_obj *hold;           /* owned reference released with the response; may be NULL */
    response_header headers[RESPONSE_MAX_HEADERS];
    size_t nheaders;
    bool no_store;            /* Cache-Control: no-store (+ Pragma: no-cache) */
    bool www_auth_basic;      /* on 401: WWW-Authenticate: Basic realm="idpd" (RFC 6749 §5.2) */
    char client_id[129];      /* for the request log when known; "" otherwise (truncated) */
} http_response;

void response_init(http_response *rs);
void response_clear(http_response *rs); /* frees the body and drops hold */
/* Adds a header (value truncated to fit); silently ignored past RESPONSE_MAX_HEADERS. */
void response_header_set(http_response *rs, const char *name, const char *value);
/* Adds a header even when one of that name exists (Set-Cookie); ignored past the limit. */
void response_header_add(http_response *rs, const char *name, const char *value);
/* Borrowed body pointer and length (ext_body or body). */
const char *response_body(const http_response *rs, size_t *len);
/* Records the authenticated (or claimed) client id for the log line. */
void response_set_client(http_response *rs, const char *id, size_t len);

/* Renders e as the response: status = idp_err_http_status(e->code); JSON body
 * {"error": <OAuth error or, for transport errors (404/405/413/415), the code's name>,
 *  "error_description": e->msg} (the description is omitted when empty; for 5xx it is a generic
 * text — the detail is for the log only). Sets Cache-Control: no-store. Keeps headers already set
 * (Allow for 405) and adds WWW-Authenticate on 401 when www_auth_basic is set. */
void response_error(http_response *rs, const idp_error *e);
/* Convenience: response_error with a code and a message. */
void response_error_code(http_response *rs, idp_err code, const char *msg);

/* RFC 6750 §3: sets WWW-Authenticate: Bearer realm="<realm>", followed by
 * , error="<idp_err_bearer(e->code)>", error_description="<e->msg>" when e is non-NULL and its
 * code has a bearer error in the table. e NULL: the realm alone, for endpoints that give one
 * answer whatever was wrong with the credentials (admin API, metrics, SCIM). In the description,
 * the characters §3 does not allow (", backslash, anything outside %x20-7E) become '?'. */
void response_bearer_challenge(http_response *rs, const char *realm, const idp_error *e);
/* The whole RFC 6750 §3 error response: response_bearer_challenge(rs, realm, e), then
 * response_error(rs, e) (status from the table, JSON body, no-store). */
void response_bearer_error(http_response *rs, const char *realm, const idp_error *e);

#define RESPONSE_SCIM_CONTENT_TYPE "application/scim+json; charset=utf-8"
/* The SCIM renderer beside the OAuth one, from the same table (RFC 7644 §3.12): status =
 * idp_err_http_status, body {"schemas":[Error URN],"scimType":idp_err_scim_type (omitted when
 * NULL),"detail":e->msg,"status":"NNN"} as application/scim+json. 5xx: generic detail (the real
 * one is logged). 401: the detail is always "authentication required" (no hint of what was
 * wrong) and WWW-Authenticate: Bearer realm="idpd-scim" is set (RFC 6750 §3). 304: no body.
 * Keeps headers already set (Allow, Retry-After); drops ETag and Location. */
void response_scim_error(http_response *rs, const idp_error *e);
/* True for paths under /scim/v2 (their errors use response_scim_error). */
bool response_is_scim_path(const char *path);

#endif
