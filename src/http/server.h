/* server — the HTTP transport of `idpd serve` (DESIGN §2): libmicrohttpd with its internal epoll
 * thread pool, the request-head checks (framing, max_body, request_header_timeout), the request
 * log and the rate-limited libmicrohttpd log. It knows nothing of routes, handlers or the
 * server's state: every request that passes the checks goes to one dispatch function, given by
 * the composition root (server/dispatch.h). */
#ifndef IDPD_HTTP_SERVER_H
#define IDPD_HTTP_SERVER_H

#include "core/err.h"
#include "core/netaddr.h"
#include "http/request.h"
#include "http/response.h"

#include <stdbool.h>
#include <stdint.h>

/* What the transport is configured with (borrowed for the whole run). */
typedef struct http_server_opts {
    const char *listen;           /* "HOST:PORT" (http/listen.h); port 0 = ephemeral */
    int threads;                  /* request threads; 0 = one per core */
    int max_connections;          /* concurrent connections in all */
    int max_connections_per_ip;   /* from one address; 0 = no limit */
    int64_t max_body;             /* request body cap in bytes (413 beyond) */
    int64_t request_header_timeout; /* s from accept (or the end of the previous request) */
    bool log_requests;            /* one JSON line per request on stderr */
    /* peers whose X-Forwarded-For is believed for rq->client_addr (netaddr_client); may be
     * NULL or empty */
    const netaddr_set *trusted_proxies;
} http_server_opts;

/* Answers one request: fills rs (response_init done; the transport sends and clears it). rq
 * carries the method, path, headers, query, body and addresses; the dispatcher fills what the
 * handlers need beyond that (rq->keys, clients, policy, param). Called on the request threads. */
typedef void (*http_dispatch_fn)(void *ctx, http_request *rq, http_response *rs);

typedef struct http_server http_server;

/* Listens on o->listen and serves every request through dispatch(ctx, ...) until
 * http_server_stop. Once listening it prints exactly one line on stdout, "idpd listening on
 * http://HOST:PORT" (the bound port, also for port 0), and flushes it. The threads it starts
 * inherit the caller's signal mask. IDP_ERR_CONFIG for a malformed listen address, IDP_ERR_IO
 * when it cannot listen. */
idp_err http_server_start(const http_server_opts *o, http_dispatch_fn dispatch, void *ctx,
                          http_server **out, idp_error *err);
/* Stops listening, waits for the request threads and frees s. Accepts NULL. */
void http_server_stop(http_server *s);

#endif
