/* server — the HTTP server of `idpd serve` (DESIGN §2): libmicrohttpd with its internal epoll
 * thread pool, the route table of src/server/router.c, and one background thread that keeps the
 * key set and client cache snapshots current. */
#ifndef IDPD_HTTP_SERVER_H
#define IDPD_HTTP_SERVER_H

#include "core/cfg.h"
#include "core/err.h"

/* Runs the server until SIGTERM or SIGINT, then shuts down gracefully and returns IDP_OK.
 *
 * c is borrowed for the whole run and must be final: c->issuer is used as is (the caller — `idpd
 * serve` — resolves it: --issuer/config when given, else the store's meta "issuer" written by
 * `idpd init`), c->data_dir must hold idpd.db (IDP_ERR_NOT_FOUND with a clear message otherwise),
 * c->master_key_file (or env IDPD_MASTER_KEY) the master key.
 *
 * Once listening it prints exactly one line on stdout, "idpd listening on http://HOST:PORT" (the
 * bound port, also for port 0), and flushes it; then one JSON log line per request on stderr.
 * Must be called from the main thread before any other thread is started: it blocks SIGTERM and
 * SIGINT in the calling thread (inherited by the server's threads) and waits for them with
 * sigwait; the signal mask is restored before returning. */
idp_err server_run(const cfg *c, idp_error *err);

#endif
