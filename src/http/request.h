/* request — one HTTP request as handlers see it: plain data, no libmicrohttpd types, so handlers
 * can be unit-tested without a server. Built by server.c; everything is borrowed for the duration
 * of the handler call. */
#ifndef IDPD_HTTP_REQUEST_H
#define IDPD_HTTP_REQUEST_H

#include <stddef.h>

struct keyset;
struct client_cache;

typedef struct http_request {
    const char *method;        /* "GET", "POST", ... ("HEAD" is routed as "GET") */
    const char *path;          /* without the query string */
    const char *authorization; /* Authorization header or NULL */
    const char *content_type;  /* Content-Type header or NULL */
    char *body;                /* writable (form parsing decodes in place), NUL at body[body_len];
                                  NULL when empty */
    size_t body_len;
    /* Snapshots taken at the start of the request (snap_acquire), released after it. */
    const struct keyset *keys;          /* NULL only if no key set was ever loaded */
    const struct client_cache *clients; /* never NULL once the server runs */
} http_request;

#endif
