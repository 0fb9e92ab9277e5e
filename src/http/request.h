/* request — one HTTP request as handlers see it: plain data, no libmicrohttpd types, so handlers
 * can be unit-tested without a server. Built by server.c (the transport), which fills the HTTP
 * part; the snapshot pointers and param are filled by the dispatcher (server/dispatch.c) and are
 * only forward-declared here. Everything is borrowed for the duration of the handler call. */
#ifndef IDPD_HTTP_REQUEST_H
#define IDPD_HTTP_REQUEST_H

#include <stddef.h>

struct keyset;
struct client_cache;
struct policy;

typedef enum http_lookup_kind {
    HTTP_LOOKUP_HEADER,
    HTTP_LOOKUP_QUERY,
    HTTP_LOOKUP_QUERY_REPEATED /* name ignored: the first query parameter given twice, or NULL */
} http_lookup_kind;
/* Looks up a request header (name case-insensitive) or a query parameter (percent-decoded; the
 * first when repeated), or finds a repeated query parameter. Returns a borrowed string or NULL. */
typedef const char *(*http_lookup_fn)(void *ctx, http_lookup_kind kind, const char *name);

typedef struct http_request {
    const char *method;        /* "GET", "POST", ... ("HEAD" is routed as "GET") */
    const char *path;          /* without the query string */
    const char *authorization; /* Authorization header or NULL */
    const char *content_type;  /* Content-Type header or NULL */
    char *body;                /* writable (form parsing decodes in place), NUL at body[body_len];
                                  NULL when empty */
    size_t body_len;
    /* Snapshots taken by the dispatcher before the handler (snap_acquire), released after it;
     * NULL from the transport. */
    const struct keyset *keys;          /* NULL only if no key set was ever loaded */
    const struct client_cache *clients; /* never NULL once the server runs */
    const struct policy *policy;        /* the active policy, NULL when none was activated */
    /* The segment matched by a "{name}" route segment (router_param, set by the dispatcher),
     * "" when none. */
    const char *param;
    /* The peer's IP address as text ("127.0.0.1", "::1"), "" when unknown. For per-IP login
     * throttling; behind a proxy this is the proxy. */
    const char *remote_addr;
    /* The client's address as text: remote_addr, or when remote_addr is a trusted proxy (cfg
     * trusted_proxies) the address X-Forwarded-For names (netaddr_client). "" when unknown.
     * NULL means remote_addr (requests built by tests). */
    const char *client_addr;
    /* Header and query access (server.c: libmicrohttpd; tests: their own); lookup may be NULL. */
    http_lookup_fn lookup;
    void *lookup_ctx;
} http_request;

static inline const char *request_header(const http_request *rq, const char *name)
{
    return rq->lookup ? rq->lookup(rq->lookup_ctx, HTTP_LOOKUP_HEADER, name) : NULL;
}

static inline const char *request_query(const http_request *rq, const char *name)
{
    return rq->lookup ? rq->lookup(rq->lookup_ctx, HTTP_LOOKUP_QUERY, name) : NULL;
}

/* What request_query_repeated answers instead of a name when the query has more parameters than
 * the transport checks for repeats (64): not a parameter name. */
#define HTTP_QUERY_TOO_MANY "(too many parameters)"

/* The name of the first query parameter that appears more than once (RFC 6749 §3.1: request
 * parameters MUST NOT be included more than once), HTTP_QUERY_TOO_MANY, or NULL. */
static inline const char *request_query_repeated(const http_request *rq)
{
    return rq->lookup ? rq->lookup(rq->lookup_ctx, HTTP_LOOKUP_QUERY_REPEATED, NULL) : NULL;
}

#endif
