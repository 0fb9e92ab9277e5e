/* router — the route table: one row per endpoint {method, path, handler} (STYLE.md habit 16).
 * A new endpoint is one handler file plus one row in router.c.
 *
 * A path is matched literally, except that a segment written "{name}" matches any one non-empty
 * segment (no '/'): "/scim/v2/Users/{id}". At most one such segment per row; router_param
 * extracts it. Rows are tried in order, so a literal row ("/scim/v2/Users/.search") listed before
 * a parameter row wins for its method. */
#ifndef IDPD_HTTP_ROUTER_H
#define IDPD_HTTP_ROUTER_H

#include "core/err.h"
#include "http/request.h"
#include "http/response.h"

#include <stdbool.h>
#include <stddef.h>

struct app;

/* A handler fills rs on success; on failure it returns the code (with err filled) and the server
 * renders it with response_error. It may set rs fields (client_id, www_auth_basic, no_store)
 * before failing. */
typedef idp_err (*route_fn)(struct app *a, http_request *rq, http_response *rs, idp_error *err);

typedef struct route {
    const char *method;
    const char *path;
    route_fn fn;
} route;

extern const route router_routes[];
extern const size_t router_nroutes;

/* Finds the row for method+path ("HEAD" matches "GET" rows). IDP_ERR_NOT_FOUND for an unknown
 * path; IDP_ERR_HTTP_METHOD when the path exists with other methods, with allow filled
 * ("GET, HEAD" / "POST") for the Allow header (RFC 9110 §15.5.6). */
idp_err router_match(const route *table, size_t n, const char *method, const char *path,
                     const route **out, char *allow, size_t allowcap, idp_error *err);

/* The segment of path matched by the "{name}" segment of r->path, copied NUL-terminated into
 * out[cap]. Returns false when the row has no parameter, the path does not match it, or the
 * segment does not fit (out is then ""). */
bool router_param(const route *r, const char *path, char *out, size_t cap);

#endif
